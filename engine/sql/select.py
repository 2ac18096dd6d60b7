"""SELECT: lowered onto the plan IR and run by the same executor as PQL.

WHERE becomes one row node (engine.sql.where). Then, by shape:
- aggregates without GROUP BY → Count / Sum / MinMax / Percentile / CountDistinct calls;
- GROUP BY (and DISTINCT) → the GroupBy call (a record counts once per set member), with
  other aggregates computed per group on the group's records, SQL-style: COUNT(*) is never
  changed by SUM, and SUM over a group without values is NULL;
- plain projections → record ids from the filter (LIMIT pushed down when there is no
  ORDER BY) and their values fetched in batches of 1024.
"""
from __future__ import annotations

import datetime as _dt
import threading
from decimal import Decimal
from typing import Any, Iterator, Optional

import numpy as np

from engine import plan as P
from engine.errors import ColumnNotFoundError, NotSupportedError, TypeMismatchError
from engine.executor import Executor
from engine.groupby import group_counts
from engine.schema import STANDARD_VIEW, FieldDef
from engine.sql import ast
from engine.sql.expr import condition, evaluate
from engine.sql.result import BATCH_ROWS, SqlResult
from engine.sql.types import sql_type_of
from engine.sql.where import ID_COLUMN, Where
from ext import FrozenBitmap

AGGREGATES = ("COUNT", "SUM", "AVG", "MIN", "MAX", "PERCENTILE")


def run_select(holder: Any, index: Any, stmt: ast.Select, *, deadline: Optional[float] = None,
               cancel: Optional[threading.Event] = None) -> SqlResult:
    if stmt.unsupported or index is None:
        raise NotSupportedError(f"{stmt.unsupported} are not supported")
    if stmt.top is not None and stmt.limit is not None:
        raise TypeMismatchError("TOP and LIMIT cannot be used together")
    sel = _Select(holder, index, stmt, deadline, cancel)
    return sel.run()


def _aggregates_in(e: Any, out: list[ast.Func]) -> None:
    if isinstance(e, ast.Func) and e.name in AGGREGATES:
        if e not in out:
            out.append(e)
        return
    for sub in ast.children(e):
        _aggregates_in(sub, out)


class _Select:
    def __init__(self, holder: Any, index: Any, stmt: ast.Select, deadline: Optional[float],
                 cancel: Optional[threading.Event]) -> None:
        self.holder = holder
        self.index = index
        self.stmt = stmt
        self.where = Where(index)
        self.ex = Executor(index, index.snapshot(), holder=holder, deadline=deadline, cancel=cancel)
        self.items = self._expand(stmt.items)
        self.limit = stmt.top if stmt.top is not None else stmt.limit

    def _expand(self, items: tuple[ast.SelectItem, ...]) -> list[ast.SelectItem]:
        out: list[ast.SelectItem] = []
        for it in items:
            if it.expr is None:
                out.append(ast.SelectItem(ast.Column(ID_COLUMN), None))
                out.extend(ast.SelectItem(ast.Column(name), None) for name in self.index.definition.fields)
            else:
                out.append(it)
        return out

    def filter(self) -> P.RowNode:
        if self.stmt.where is None:
            return self.where.existence()
        return self.where.lower(self.stmt.where)

    def run(self) -> SqlResult:
        aggs: list[ast.Func] = []
        for it in self.items:
            _aggregates_in(it.expr, aggs)
        if self.stmt.having is not None:
            _aggregates_in(self.stmt.having, aggs)
        for e, _ in self.stmt.order_by:
            _aggregates_in(e, aggs)
        if self.stmt.group_by or (self.stmt.distinct and not aggs):
            return self._grouped(aggs)
        if aggs:
            if self.stmt.having is not None:
                raise TypeMismatchError("HAVING needs GROUP BY")
            return self._aggregate_row(aggs)
        return self._projection()

    # --- names and types -----------------------------------------------------------------------

    def name_of(self, it: ast.SelectItem) -> str:
        if it.alias:
            return it.alias
        if isinstance(it.expr, ast.Column):
            return it.expr.name
        return ""                         # FeatureBase leaves unaliased expressions unnamed

    def fd(self, col: ast.Column) -> Optional[FieldDef]:
        return self.where.field(col)

    def type_of(self, e: ast.Expr, sample: Any = None) -> str:
        if isinstance(e, ast.Column):
            fd = self.fd(e)
            if fd is None:
                return "string" if self.index.definition.options.keys else "id"
            return sql_type_of(fd.options)
        if isinstance(e, ast.Func) and e.name in AGGREGATES:
            if e.name == "COUNT":
                return "int"
            if e.name == "AVG":
                return "decimal(4)"
            if e.args and isinstance(e.args[0], ast.Column):
                return self.type_of(e.args[0])
        if isinstance(e, ast.Cast):
            t = e.type
            return f"decimal({t.arg or 0})" if t.name == "DECIMAL" else t.name.lower()
        return _type_of_value(sample)

    # --- aggregates -----------------------------------------------------------------------------

    def aggregate(self, f: ast.Func, filt: P.RowNode) -> Any:
        name = f.name
        if name == "COUNT":
            if f.star:
                return self.ex.run(P.Count(filt))
            col = self._agg_column(f)
            fd = self.fd(col)
            if f.distinct and fd is not None:
                return self.ex.run(P.CountDistinct(filt, fd.id))
            if fd is None:
                return self.ex.run(P.Count(filt))
            return self.ex.run(P.Count(P.Intersect((filt, self.where.not_null(col)))))
        col = self._agg_column(f)
        fd = self.fd(col)
        if fd is None:
            raise TypeMismatchError(f"_id cannot be aggregated with {name}")
        opts = fd.options
        if name in ("SUM", "AVG"):
            if opts.type not in ("int", "decimal"):
                raise TypeMismatchError(f"{name} needs an int or decimal column; {fd.name} is {sql_type_of(opts)}")
            vc = self.ex.run(P.Sum(filt, fd.id))
            if vc["count"] == 0:
                return None
            total = vc["decimalValue"] if opts.type == "decimal" else vc["value"]
            if name == "SUM":
                return total
            return (Decimal(total) / vc["count"]).quantize(Decimal("0.0001"))
        if name in ("MIN", "MAX"):
            if opts.is_bsi:
                vc = self.ex.run(P.MinMax(filt, fd.id, name == "MAX"))
                return _valcount_value(vc, opts.type) if vc["count"] else None
            if opts.type in ("mutex", "bool"):
                counts = self.ex._row_counts(fd.id, (STANDARD_VIEW,), filt)
                present = [r for r, c in counts.items() if c]
                if not present:
                    return None
                values = [self._row_value(fd, r) for r in present]
                return max(values) if name == "MAX" else min(values)
            raise TypeMismatchError(f"{name} is not defined for {sql_type_of(opts)} column {fd.name}")
        if name == "PERCENTILE":
            if len(f.args) != 2 or not isinstance(f.args[1], ast.Literal) or f.args[1].kind not in ("int", "decimal"):
                raise TypeMismatchError("PERCENTILE takes a column and a literal nth (0-100)")
            if opts.type not in ("int", "decimal"):
                raise TypeMismatchError("PERCENTILE needs an int or decimal column")
            nth = f.args[1].value
            if not 0 <= nth <= 100:
                raise TypeMismatchError("PERCENTILE's nth must be between 0 and 100")
            vc = self.ex.run(P.Percentile(filt, fd.id, nth))
            return None if vc is None else _valcount_value(vc, opts.type)
        raise NotSupportedError(f"aggregate {name} is not supported")

    def _agg_column(self, f: ast.Func) -> ast.Column:
        if not f.args or not isinstance(f.args[0], ast.Column):
            raise NotSupportedError(f"{f.name} takes a column")
        if f.args[0].table is not None:
            raise NotSupportedError("qualified column names (joins) are not supported")
        return f.args[0]

    def _row_value(self, fd: FieldDef, row: int) -> Any:
        if fd.options.type == "bool":
            return bool(row)
        if fd.options.keys:
            return self.index.row_keys(fd).key(row)
        return row

    def _aggregate_row(self, aggs: list[ast.Func]) -> SqlResult:
        filt = self.filter()
        env: dict[Any, Any] = {f: self.aggregate(f, filt) for f in aggs}
        for it in self.items:
            if isinstance(it.expr, ast.Column):
                raise TypeMismatchError(f"column {it.expr.name} must be in GROUP BY or inside an aggregate")
        row = tuple(evaluate(it.expr, env) for it in self.items)  # type: ignore[arg-type]
        schema = [(self.name_of(it), self.type_of(it.expr, v)) for it, v in zip(self.items, row)]  # type: ignore[arg-type]
        rows = [row][self.stmt.offset:]
        if self.limit is not None:
            rows = rows[:self.limit]
        return SqlResult.of_rows(schema, rows)

    # --- GROUP BY / DISTINCT --------------------------------------------------------------------------

    def _grouped(self, aggs: list[ast.Func]) -> SqlResult:
        keys = list(self.stmt.group_by) if self.stmt.group_by else [it.expr for it in self.items]
        cols: list[ast.Column] = []
        for k in keys:
            k = self._resolve_alias(k)
            if not isinstance(k, ast.Column):
                raise NotSupportedError("GROUP BY supports columns only")
            cols.append(k)
        fds = []
        for c in cols:
            fd = self.fd(c)
            if fd is None:
                raise NotSupportedError("GROUP BY _id is not supported")
            if fd.options.type == "decimal":
                raise NotSupportedError(f"GROUP BY a decimal column ({fd.name}) is not supported")
            fds.append(fd)
        filt = self.filter()
        need_nodes = any(not (f.name == "COUNT" and f.star) for f in aggs)
        # Without WHERE every row's records are the group's records: no filter to apply
        # (each write marks its record as existing, so rows never leave existence).
        call = P.GroupBy(tuple(P.RowsCall(fd.id) for fd in fds), filt if self.stmt.where is not None else None)
        children, merged = group_counts(self.ex, call)
        labels = [self._labels(fd, child.ids) for fd, child in zip(fds, children)]
        out_groups: list[tuple[tuple[Any, ...], int, Optional[P.RowNode]]] = []
        for key in sorted(merged):
            values = tuple(lab[k] for lab, k in zip(labels, key))
            node = P.Intersect((filt,) + tuple(child.node(k) for child, k in zip(children, key))) \
                if need_nodes else None
            out_groups.append((values, merged[key][0], node))
        if len(fds) == 1 and fds[0].options.type not in ("set", "time"):
            # SQL keeps a NULL group (FeatureBase's GroupBy has none); set columns are
            # flattened, so a record without members contributes no row, as with UNNEST.
            null_node = P.Difference((filt, self.where.not_null(cols[0])))
            n = self.ex.run(P.Count(null_node))
            if n:
                out_groups.append(((None,), n, null_node))
        names = {c.name: i for i, c in enumerate(cols)}
        rows_env = []
        for values, count, node in out_groups:
            env: dict[Any, Any] = {}
            for c, v in zip(cols, values):
                env[c.name] = v
            for f in aggs:
                env[f] = count if (f.name == "COUNT" and f.star) else self.aggregate(f, node)  # type: ignore[arg-type]
            rows_env.append(env)
        for it in self.items:
            if isinstance(it.expr, ast.Column) and it.expr.name not in names and \
                    (it.alias is None or it.alias not in names):
                raise TypeMismatchError(f"column {it.expr.name} must be in GROUP BY or inside an aggregate")
        return self._finish(rows_env)

    def _resolve_alias(self, e: ast.Expr) -> ast.Expr:
        if isinstance(e, ast.Column):
            for it in self.items:
                if it.alias == e.name and it.expr is not None and not (
                        isinstance(e, ast.Column) and e.name in self.index.definition.fields):
                    return it.expr
        if isinstance(e, ast.Literal) and e.kind == "int" and 1 <= e.value <= len(self.items):
            return self.items[e.value - 1].expr  # type: ignore[return-value]
        return e

    def _labels(self, fd: FieldDef, ids: list[int]) -> list[Any]:
        """SQL values of a GROUP BY column's candidate rows (ids, or stored BSI values)."""
        opts = fd.options
        if opts.is_bsi:
            return [opts.from_stored(v) for v in ids] if opts.type != "int" else list(ids)
        if opts.keys:
            return self.index.row_keys(fd).keys_for(ids)
        if opts.type == "bool":
            return [bool(i) for i in ids]
        return list(ids)

    # --- projections -----------------------------------------------------------------------------

    def _projection(self) -> SqlResult:
        filt = self.filter()
        needed: list[str] = []
        for it in self.items:
            _columns_in(it.expr, needed)
        order_cols: list[str] = []
        for e, _ in self.stmt.order_by:
            _columns_in(self._resolve_alias(e), order_cols)
        for name in needed + order_cols:
            if name != ID_COLUMN and name not in self.index.definition.fields:
                if not any(it.alias == name for it in self.items):
                    raise ColumnNotFoundError(f"column '{name}' not found in table {self.index.name}")
        fetch = [n for n in dict.fromkeys(needed + order_cols)
                 if n == ID_COLUMN or n in self.index.definition.fields]
        schema_probe = [(self.name_of(it), it.expr) for it in self.items]
        if self.stmt.order_by or self.stmt.distinct:
            ids = self.ex.full_row(filt).to_numpy()
            envs = [env for batch in self._fetch_batches(ids, fetch) for env in batch]
            return self._finish(envs)
        limited = self.limit is not None or self.stmt.offset
        full = self.ex.full_row(P.Limit(filt, self.limit, self.stmt.offset) if limited else filt)
        ids = full.to_numpy()

        batches = (
            [tuple(evaluate(e, env) for _, e in schema_probe) for env in envs]  # type: ignore[arg-type]
            for envs in self._fetch_batches(ids, fetch))
        # The first batch is computed now (it types expression columns); the rest stream.
        first = next(batches, [])
        sample = first[0] if first else (None,) * len(schema_probe)
        schema = [(name, self.type_of(e, v)) for (name, e), v in zip(schema_probe, sample)]  # type: ignore[arg-type]

        def produce() -> Iterator[list[tuple[Any, ...]]]:
            if first:
                yield first
            yield from batches

        return SqlResult(schema, produce)

    def _fetch_batches(self, ids: np.ndarray, names: list[str]) -> Iterator[list[dict[str, Any]]]:
        """Environments (column name → value) for the records, BATCH_ROWS at a time."""
        keyed = self.index.definition.options.keys
        for start in range(0, len(ids), BATCH_ROWS):
            chunk = ids[start:start + BATCH_ROWS]
            cols = chunk.tolist()
            envs: list[dict[str, Any]] = [{} for _ in cols]
            if ID_COLUMN in names:
                idv = self.index.column_keys.keys_for(cols) if keyed else cols
                for env, v in zip(envs, idv):
                    env[ID_COLUMN] = v
            wanted = FrozenBitmap(chunk)
            pos = {c: i for i, c in enumerate(cols)}
            for name in names:
                if name == ID_COLUMN:
                    continue
                fd = self.index.definition.fields[name]
                values = self._values(fd, wanted, pos, len(cols))
                for env, v in zip(envs, values):
                    env[name] = v
            yield envs

    def _values(self, fd: FieldDef, wanted: FrozenBitmap, pos: dict[int, int], n: int) -> list[Any]:
        opts = fd.options
        if opts.is_bsi:
            out: list[Any] = [None] * n
            vcols, vals = self.ex.bsi_columns_values(fd.id, P.ConstRow(tuple(wanted.to_numpy().tolist()), False))
            for c, v in zip(vcols.tolist(), vals.tolist()):
                out[pos[c]] = opts.from_stored(int(v) + opts.base)
            return out
        multi = opts.type in ("set", "time")
        out = [[] if multi else None for _ in range(n)]
        views = tuple(self.ex.state.views(fd.id)) if opts.type == "time" else (STANDARD_VIEW,)
        km = self.index.row_keys(fd) if opts.keys else None
        for r in self.ex.rows_list(P.RowsCall(fd.id, views)):
            members = self.ex.full_row(P.RowOf(fd.id, r, views)) & wanted
            if not members:
                continue
            label: Any = km.key(r) if km is not None else (bool(r) if opts.type == "bool" else r)
            for c in members.to_numpy().tolist():
                if multi:
                    out[pos[c]].append(label)
                else:
                    out[pos[c]] = label
        if multi:
            return [v if v else None for v in out]
        return out

    # --- HAVING / ORDER BY / LIMIT ----------------------------------------------------------------

    def _finish(self, envs: list[dict[Any, Any]]) -> SqlResult:
        for env in envs:
            for it in self.items:
                if it.alias and it.expr is not None:
                    env.setdefault(it.alias, evaluate(it.expr, env))
        if self.stmt.having is not None:
            envs = [env for env in envs if condition(self.stmt.having, env) is True]
        getters = [_getter(it.expr) for it in self.items]
        rows = [(env, tuple(g(env) for g in getters)) for env in envs]
        if self.stmt.distinct:
            seen: set[Any] = set()
            uniq = []
            for env, row in rows:
                key = tuple(tuple(v) if isinstance(v, list) else v for v in row)
                if key not in seen:
                    seen.add(key)
                    uniq.append((env, row))
            rows = uniq
        for e, desc in reversed(self.stmt.order_by):
            target = self._order_expr(e)
            if isinstance(target, int):
                rows.sort(key=lambda er: _sort_key(er[1][target]), reverse=desc)
            else:
                get = _getter(target)
                rows.sort(key=lambda er: _sort_key(get(er[0])), reverse=desc)
        out = [row for _, row in rows][self.stmt.offset:]
        if self.limit is not None:
            out = out[:self.limit]
        sample = out[0] if out else (None,) * len(self.items)
        schema = [(self.name_of(it), self.type_of(it.expr, v)) for it, v in zip(self.items, sample)]  # type: ignore[arg-type]
        return SqlResult.of_rows(schema, out)

    def _order_expr(self, e: ast.Expr) -> Any:
        if isinstance(e, ast.Literal) and e.kind == "int":
            if not 1 <= e.value <= len(self.items):
                raise TypeMismatchError(f"ORDER BY position {e.value} is out of range")
            return e.value - 1
        if isinstance(e, ast.Column):
            fd = self.index.definition.fields.get(e.name)
            if fd is not None and fd.options.type in ("set", "time") and not self.stmt.group_by:
                raise TypeMismatchError(f"cannot ORDER BY set column {e.name}")
        return e


def _getter(e: Any) -> Any:
    """A fast reader of e's value from a row environment (plain columns and aggregates are
    looked up directly; anything else is evaluated)."""
    if isinstance(e, ast.Column) and e.table is None:
        name = e.name
        return lambda env: env[name] if name in env else evaluate(e, env)
    return lambda env: env[e] if e in env else evaluate(e, env)


def _columns_in(e: Any, out: list[str]) -> None:
    if isinstance(e, ast.Column):
        if e.table is not None:
            raise NotSupportedError("qualified column names (joins) are not supported")
        out.append(e.name)
        return
    if isinstance(e, ast.Unsupported):
        raise NotSupportedError(f"{e.what} are not supported")
    for sub in ast.children(e):
        _columns_in(sub, out)


def _valcount_value(vc: dict[str, Any], kind: str) -> Any:
    if kind == "decimal":
        return vc["decimalValue"]
    if kind == "timestamp":
        from engine.schema import parse_timestamp

        return parse_timestamp(vc["timestampValue"])
    return vc["value"]


def _sort_key(v: Any) -> tuple[int, Any]:
    """NULLs sort first ascending (last descending), as in FeatureBase."""
    if v is None:
        return (0, 0)
    if isinstance(v, list):
        return (1, tuple(v))
    return (1, v)


def _type_of_value(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, Decimal):
        return f"decimal({max(-v.as_tuple().exponent, 0)})"  # type: ignore[operator]
    if isinstance(v, float):
        return "decimal(6)"
    if isinstance(v, _dt.datetime):
        return "timestamp"
    if isinstance(v, list):
        return "stringset" if v and isinstance(v[0], str) else "idset"
    return "string"



