"""INSERT / REPLACE, DELETE and BULK INSERT.

Scalar columns (ID, STRING, BOOL, INT, DECIMAL, TIMESTAMP) are replaced and a NULL clears
them. Set columns: INSERT adds members, REPLACE makes the set exactly the given members
(FeatureBase leaves this undefined; docs/sql.md states ours). A statement — or, for BULK
INSERT, each batch — commits atomically.
"""
from __future__ import annotations

import csv
import io as _io
import json
import os
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator, Optional

from engine import plan as P
from engine.errors import ColumnNotFoundError, EngineError, InvalidValueError, NotSupportedError, TypeMismatchError
from engine.ingest import _import_field
from engine.schema import FieldDef, parse_timestamp
from engine.sql import ast
from engine.sql import typecheck as tc
from engine.sql.bind import Binder, Scope, cast_function
from engine.sql.context import Context, Table
from engine.sql.ddl import table
from engine.sql.lower import Lowerer
from engine.sql.result import SqlResult
from engine.sql.types import unix_seconds
from engine.state import SHARD_BITS
from engine.txn import Transaction
from ext import FrozenBitmap

ID_COLUMN = "_id"

DEFAULT_BATCH = 1000


def _columns(idx: Any, names: tuple[str, ...]) -> list[Optional[FieldDef]]:
    if ID_COLUMN not in names:
        raise TypeMismatchError("INSERT needs the _id column")
    if len(set(names)) != len(names):
        raise TypeMismatchError("a column is listed twice")
    out: list[Optional[FieldDef]] = []
    for n in names:
        if n == ID_COLUMN:
            out.append(None)
            continue
        fd = idx.definition.fields.get(n)
        if fd is None:
            raise ColumnNotFoundError(f"column '{n}' not found in table {idx.name}")
        out.append(fd)
    return out


def insert(holder: Any, s: ast.Insert) -> SqlResult:
    idx = table(holder, s.table)
    names = s.columns or (ID_COLUMN,) + tuple(idx.definition.fields)
    fds = _columns(idx, names)
    if len(names) < 2:
        raise TypeMismatchError("INSERT needs _id and at least one other column")
    rows = []
    binder = Binder(Scope([]), allow_empty_set=True, where="VALUES")
    for values in s.rows:
        if len(values) != len(names):
            raise TypeMismatchError(f"{len(names)} columns but {len(values)} values")
        rows.append([binder.bind(v).fn(()) for v in values])
    with idx.transaction() as tx:
        for row in rows:
            col = row[fds.index(None)]
            if col is None:
                raise TypeMismatchError("_id cannot be NULL")
            if isinstance(col, str):
                _text(col)
            for fd, value in zip(fds, row):
                if fd is not None:
                    _write_value(tx, fd, col, value, replace=s.replace)
            tx._exists(tx.column_id(col, create=True))
    return SqlResult.of_rows([], [], rows_affected=len(rows))


def _write_value(tx: Transaction, fd: FieldDef, col: Any, value: Any, replace: bool) -> None:
    opts = fd.options
    if opts.is_bsi:
        if value is None:
            tx.clear(col, fd)
        else:
            tx.set(col, fd, _bsi_value(fd, value))
        return
    if opts.type in ("mutex", "bool"):
        if value is None:
            _clear_record(tx, fd, col)
        else:
            tx.set(col, fd, _scalar_value(fd, value))
        return
    # set / time columns
    timestamp = None
    if isinstance(value, tuple):                 # {timestamp, [members]} for IDSETQ/STRINGSETQ
        timestamp, value = value
        if opts.type != "time":
            raise TypeMismatchError(f"column {fd.name} has no time quantum: a timestamp is not allowed")
    if replace or value is None:
        _clear_record(tx, fd, col)
    if value is None:
        return
    members = value if isinstance(value, list) else [value]
    for m in members:
        tx.set(col, fd, _scalar_value(fd, m), timestamp)


def _clear_record(tx: Transaction, fd: FieldDef, col: Any) -> None:
    c = tx.column_id(col, create=False)
    if c is None:
        return
    one = FrozenBitmap([c])
    for view in tx.views_of(fd.id):
        for row in tx.row_ids_in_shard(fd.id, view, c >> SHARD_BITS):
            if tx.contains(fd.id, view, row, c):
                tx.remove(fd.id, view, row, one)


def _scalar_value(fd: FieldDef, v: Any) -> Any:
    if fd.options.type == "bool":
        if not isinstance(v, bool):
            raise TypeMismatchError(f"column {fd.name} is bool, got {v!r}")
        return v
    if fd.options.keys:
        if not isinstance(v, str):
            raise TypeMismatchError(f"column {fd.name} holds strings, got {v!r}")
        return _text(v)
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeMismatchError(f"column {fd.name} holds ids, got {v!r}")
    return v


def _text(v: str) -> str:
    """v, if it can be stored (UTF-8): a lone surrogate cannot."""
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidValueError(f"string {v!r} is not valid Unicode (a lone surrogate)") from None
    return v


def _bsi_value(fd: FieldDef, v: Any) -> Any:
    t = fd.options.type
    if isinstance(v, bool):
        raise TypeMismatchError(f"column {fd.name} is {t}, got {v!r}")
    if t == "int" and not isinstance(v, int):
        raise TypeMismatchError(f"column {fd.name} is int, got {v!r}")
    if t == "decimal" and not isinstance(v, (int, Decimal, float)):
        raise TypeMismatchError(f"column {fd.name} is decimal, got {v!r}")
    if t == "timestamp" and isinstance(v, (Decimal, float)):
        raise TypeMismatchError(f"column {fd.name} is a timestamp, got {v!r}")
    if t == "timestamp" and isinstance(v, int):
        return unix_seconds(v)
    return v


def delete_plan(holder: Any, s: ast.Delete, ctx: Context, state: Any = None) -> tuple[Table, P.RowNode]:
    """The table and the records a DELETE removes (as a row node over `state`, by default
    the committed snapshot)."""
    from engine.sql.planner import Planner, table_cols

    idx = table(holder, s.table)
    t = Table(ctx, idx, state)
    lowerer = Lowerer(t, table_cols(t, (s.table,)), Planner(ctx))
    node = lowerer.lower(s.where) if s.where is not None else lowerer.existence()
    return t, node


def delete(holder: Any, s: ast.Delete, ctx: Context) -> SqlResult:
    idx = table(holder, s.table)
    with idx.transaction() as tx:
        from engine.query import _provisional

        t, node = delete_plan(holder, s, ctx, _provisional(tx))
        cols = t.ex.full_row(node)
        n = len(cols)
        if n:
            tx.delete(cols.freeze())
    return SqlResult.of_rows([], [], rows_affected=n)


# --- BULK INSERT -------------------------------------------------------------------------------

def bulk_insert(holder: Any, s: ast.BulkInsert) -> SqlResult:
    idx = table(holder, s.table)
    fds = _columns(idx, s.columns)
    opts = s.options
    fmt = opts.get("format")
    if fmt not in ("CSV", "NDJSON", "PARQUET"):
        raise TypeMismatchError("BULK INSERT needs FORMAT 'CSV', 'NDJSON' or 'PARQUET'")
    source = opts.get("input", "STREAM" if s.inline else "FILE")
    if source == "URL":
        raise NotSupportedError("INPUT 'URL' is not supported (roarbase reads files and inline data)")
    if source not in ("FILE", "STREAM"):
        raise TypeMismatchError("INPUT must be 'FILE' or 'STREAM'")
    if s.transform:
        if len(s.transform) != len(s.columns):
            raise TypeMismatchError(f"{len(s.columns)} columns but {len(s.transform)} TRANSFORM expressions")
    elif len(s.maps) != len(s.columns):
        raise TypeMismatchError(f"{len(s.columns)} columns but {len(s.maps)} MAP entries (add a TRANSFORM)")
    batch_size = opts.get("batchsize", DEFAULT_BATCH) or DEFAULT_BATCH
    limit = opts.get("rowslimit")
    allow_missing = bool(opts.get("allow_missing_values"))
    records = _records(fmt, s, source, bool(opts.get("header_row")))
    transform = []
    if s.transform:
        binder = Binder(Scope([]), params=[_map_type(t) for _, t in s.maps], allow_empty_set=True,
                        where="TRANSFORM")
        transform = [binder.bind(e).fn for e in s.transform]
    total = 0
    batch: list[list[Any]] = []
    for raw in records:
        if limit is not None and total + len(batch) >= limit:
            break
        mapped = [_map_value(raw, src, t, allow_missing) for src, t in s.maps]
        if transform:
            row = tuple(mapped)
            mapped = [f(row) for f in transform]
        batch.append(mapped)
        if len(batch) >= batch_size:
            total += _import_batch(idx, fds, batch, s.replace)
            batch = []
    if batch:
        total += _import_batch(idx, fds, batch, s.replace)
    return SqlResult.of_rows([], [], rows_affected=total)


def _records(fmt: str, s: ast.BulkInsert, source: str, header: bool) -> Iterator[Any]:
    if fmt == "PARQUET":
        if source != "FILE":
            raise NotSupportedError("PARQUET input must be a FILE")
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise NotSupportedError("PARQUET needs pyarrow (pip install pyarrow)") from None
        import pyarrow as pa

        try:
            table_ = pq.read_table(_path(s.source))
        except pa.ArrowException as exc:
            raise TypeMismatchError(f"cannot read {s.source!r} as Parquet: {exc}") from None
        names = table_.column_names
        for row in table_.to_pylist():
            yield [row[n] for n in names] + [row]
        return
    text = _read_text(s.source) if source == "FILE" else s.source
    if fmt == "CSV":
        reader = csv.reader(_io.StringIO(text))
        for i, row in enumerate(reader):
            if i == 0 and header:
                continue
            if row:
                yield row
        return
    for n, line in enumerate(text.splitlines()):
        if line.strip():
            try:
                yield json.loads(line)
            except ValueError:
                raise TypeMismatchError(f"NDJSON line {n + 1} is not JSON") from None


def _path(p: str) -> str:
    if not os.path.isfile(p):
        raise TypeMismatchError(f"file {p!r} not found")
    return p


def _read_text(p: str) -> str:
    try:
        with open(_path(p), encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError as exc:
        raise TypeMismatchError(f"file {p!r} is not UTF-8 text (byte {exc.start})") from None


_JSONPATH = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\['([^']*)'\]")


def _map_value(raw: Any, src: Any, t: ast.TypeName, allow_missing: bool) -> Any:
    try:
        if isinstance(raw, dict):                       # NDJSON: src is a JSONPath
            if not isinstance(src, str) or not src.startswith("$"):
                raise TypeMismatchError("NDJSON MAP entries are JSONPath strings such as '$.name'")
            v: Any = raw
            for m in _JSONPATH.finditer(src[1:]):
                key = m.group(1) or m.group(3)
                v = v[key] if key is not None else v[int(m.group(2))]
        else:
            if isinstance(src, str):
                raise TypeMismatchError("CSV and PARQUET MAP entries are column positions")
            v = raw[src]
    except (KeyError, IndexError, TypeError):
        if allow_missing:
            return None
        raise TypeMismatchError(f"missing value for MAP entry {src!r} (use ALLOW_MISSING_VALUES)") from None
    return _convert(v, t)


def _map_type(t: ast.TypeName) -> tc.T:
    try:
        return tc.type_named(t.name, t.arg)
    except TypeMismatchError:
        raise TypeMismatchError(f"unknown MAP type {t.name}") from None


def _convert(v: Any, t: ast.TypeName) -> Any:
    if v is None or v == "":
        return None
    name = t.name
    try:
        if name in ("IDSET", "STRINGSET"):
            items = v if isinstance(v, list) else [i for i in str(v).split("|") if i != ""]
            return [int(i) if name == "IDSET" else str(i) for i in items]
        if name == "DECIMAL":
            return Decimal(str(v))
        if name == "TIMESTAMP":
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return unix_seconds(int(v))
            return parse_timestamp(str(v))
        target = _map_type(t)
        if isinstance(v, (dict, list)):
            raise ValueError(v)
        source = tc.STRING if isinstance(v, str) else tc.BOOL if isinstance(v, bool) else \
            tc.INT if isinstance(v, int) else tc.FLOAT if isinstance(v, float) else tc.STRING
        if not tc.can_cast(source, target):
            raise ValueError(v)
        return cast_function(source, target)(v)
    except (ValueError, OverflowError, InvalidOperation, EngineError):
        raise TypeMismatchError(f"cannot read {v!r} as {name}") from None


def _import_batch(idx: Any, fds: list[Optional[FieldDef]], rows: list[list[Any]], replace: bool) -> int:
    id_pos = fds.index(None)
    cols = [r[id_pos] for r in rows]
    if any(c is None for c in cols):
        raise TypeMismatchError("_id cannot be NULL")
    for c in cols:
        if isinstance(c, str):
            _text(c)
    with idx.transaction() as tx:
        for j, fd in enumerate(fds):
            if fd is None:
                continue
            values = [r[j] for r in rows]
            if fd.options.keys:
                for v in values:
                    for m in (v if isinstance(v, list) else [v]):
                        if isinstance(m, str):
                            _text(m)
            if fd.options.type in ("set", "time"):
                if replace:
                    for c in cols:
                        _clear_record(tx, fd, c)
                flat_cols, flat_vals = [], []
                for c, v in zip(cols, values):
                    for m in (v if isinstance(v, list) else [] if v is None else [v]):
                        flat_cols.append(c)
                        flat_vals.append(m)
                if flat_cols:
                    _import_field(tx, fd, flat_cols, flat_vals, None, False, None)
                continue
            present = [(c, v) for c, v in zip(cols, values) if v is not None]
            for c, v in zip(cols, values):
                if v is None:
                    if fd.options.is_bsi:
                        tx.clear(c, fd)
                    else:
                        _clear_record(tx, fd, c)
            if present:
                _import_field(tx, fd, [c for c, _ in present], [v for _, v in present], None, False, None)
        for c in cols:
            tx._exists(tx.column_id(c, create=True))
    return len(rows)

