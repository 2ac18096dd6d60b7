"""The roarbase export document (API.md §3.6, version "1"): its header, how every value is
written so that it reads back exactly, and how a document is read and checked.

Two forms carry the same content:

- JSON: one object, the header's keys plus the big arrays `items`, `users` and, per SQL
  table, `rows`;
- NDJSON: the header (no big arrays) on the first line, then one record per line:
  `{"kind": "item", "item": {...}}`, `{"kind": "user", "user": {...}}`,
  `{"kind": "row", "table": "<name>", "values": [_id, v1, ...]}` (aligned with the table's
  columns).

Either may be gzip-compressed. The header:

    {"format": "roarbase.export", "version": "1", "exported_at": RFC 3339,
     "database": {name, description, item_id_type, user_id_type, session_id_type, metadata},
     "items_properties": [{property_name, value_type, repeated}],
     "users_properties": [{property_name, value_type, repeated, indexed}],
     "sql_tables": [{name, keys, track_existence, description, meta,
                     columns: [{"name": "_id", "type": "id"|"string"},
                               {name, type, options, meta}, ...]}],
     "connections": [{connection, credentials: {name: "***"}, metadata}],   (never a secret)
     "sources": [{connection, name, resource, resource_params, connection_table_params,
                  connection_table_metadata}],                              (as a PATCH sets them)
     "counts": {"items": n, "users": n, "rows": {table: n}}}

`sql_tables` holds every engine table except the two entity tables, with its schema as
the engine keeps it (field options and meta, index meta), so tables other services add
(ratings, interactions) round-trip without code of their own.

Values (exact): ids are JSON integers (uint64 included) or strings; int columns JSON
integers; decimal columns strings with exactly `scale` fractional digits; timestamp
columns integers counting the column's `time_unit` since the Unix epoch; float columns
JSON numbers written as the shortest text that reads back as the same float of the
column's width (bit-exact, -0.0 included); bool, id/string, idset/stringset as JSON; time
(quantum) columns `{"standard": [...], "2023": [...], "202301": [...]}` — the members of
each view. Entities use the /v1 shapes (API.md §3.4) with the same rules.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import gzip
import io
import itertools
import json
import math
import re
import zlib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO, Callable, Iterator, Optional

import numpy as np
import orjson

from engine import (
    CACHE_TYPES,
    FIELD_TYPES,
    FLOAT_BITS,
    INT64_MAX,
    INT64_MIN,
    PROPERTY_NAME_RE,
    QUANTUM_ORDER,
    RESERVED_PROPERTY_NAMES as RESERVED,
    TIME_UNITS,
    UINT64_MAX,
    FieldDef,
    FieldOptions,
    ValueType,
    WrongDataType,
    check_meta,
    check_name,
    float_decode,
    float_encode,
    float_encode_array,
    sql_type_of,
    time_label_ok,
)
from engine.errors import EngineError
from server.service.errors import InvalidParameter, ServiceError

FORMAT = "roarbase.export"
VERSION = "1"
ID_COLUMN = "_id"
MAX_PROBLEMS = 20
KINDS = ("item", "user")
HEADER_KEYS = frozenset({"format", "version", "exported_at", "database", "items_properties", "users_properties",
                         "sql_tables", "connections", "sources", "counts"})
BIG_ARRAYS = frozenset({"items", "users"})
DATABASE_KEYS = frozenset({"name", "description", "item_id_type", "user_id_type", "session_id_type", "metadata"})
GZIP_MAGIC = b"\x1f\x8b"
_DIGITS = re.compile(r"-?\d+\Z")


# --- problems ---------------------------------------------------------------------------------

@dataclass
class Problem:
    where: str
    message: str
    name: str = "INVALID_EXPORT_DOCUMENT"

    def to_dict(self) -> dict[str, str]:
        return {"where": self.where, "message": self.message, "name": self.name}


class Problems:
    """The first MAX_PROBLEMS problems of a document; `raise_if_any` turns them into one
    InvalidParameter (400, WrongData) whose name is the first problem's and whose
    error_data.problems lists them all."""

    def __init__(self) -> None:
        self.items: list[Problem] = []
        self.total = 0

    def add(self, where: str, message: str, name: str = "INVALID_EXPORT_DOCUMENT") -> None:
        self.total += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(Problem(where, message[:300], name))

    @property
    def full(self) -> bool:
        return len(self.items) >= MAX_PROBLEMS

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        first = self.items[0]
        more = f" (and {self.total - 1} more)" if self.total > 1 else ""
        raise InvalidParameter(f"the export document was not imported, nothing changed: {first.where}: "
                               f"{first.message}{more}", name=first.name,
                               data={"problems": [p.to_dict() for p in self.items], "problem_count": self.total})


class DocumentError(ServiceError):
    """A document that cannot be read at all (not JSON, not a roarbase export)."""

    code = "InvalidBody"
    name = "INVALID_EXPORT_DOCUMENT"


# --- columns ----------------------------------------------------------------------------------

@dataclass
class Column:
    name: str
    options: FieldOptions
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def sql_type(self) -> str:
        return sql_type_of(self.options)

    def to_dict(self) -> dict[str, Any]:
        """name, SQL type, the engine options that differ from the defaults, meta."""
        options = {k: v for k, v in self.options.to_dict().items() if k == "type" or v != _DEFAULT_OPTIONS[k]}
        out: dict[str, Any] = {"name": self.name, "type": self.sql_type, "options": options}
        if self.meta:
            out["meta"] = self.meta
        return out


@dataclass
class Table:
    name: str
    keys: bool
    track_existence: bool
    description: str
    meta: dict[str, Any]
    columns: list[Column]

    def header(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "keys": self.keys, "track_existence": self.track_existence,
                               "description": self.description,
                               "columns": [{"name": ID_COLUMN, "type": "string" if self.keys else "id"},
                                           *(c.to_dict() for c in self.columns)]}
        if self.meta:
            out["meta"] = self.meta
        return out


def column_from_field(fd: FieldDef) -> Column:
    return Column(fd.name, fd.options, dict(fd.meta))


_DEFAULT_OPTIONS = FieldOptions().to_dict()
_OPTION_TYPES = {name: type(value) for name, value in _DEFAULT_OPTIONS.items()}


def parse_options(raw: Any) -> FieldOptions:
    """Engine field options from a document, checked as strictly as FieldOptions.make
    checks user options. Raises ValueError with the reason."""
    if not isinstance(raw, dict):
        raise ValueError("options must be an object")
    unknown = sorted(set(raw) - set(_OPTION_TYPES))
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r}")
    for key, value in raw.items():
        want = _OPTION_TYPES[key]
        if (want is int and (isinstance(value, bool) or not isinstance(value, int))) or \
                (want is not int and not isinstance(value, want)):
            raise ValueError(f"option {key} must be {want.__name__}")
    opts = FieldOptions.from_dict({**FieldOptions().to_dict(), **raw})
    t = opts.type
    if t not in FIELD_TYPES:
        raise ValueError(f"unknown field type {t!r}")
    if opts.cache_type not in CACHE_TYPES or not 0 <= opts.cache_size < 2**31:
        raise ValueError("bad cache options")
    if opts.keys and t not in ("set", "mutex", "time"):
        raise ValueError(f"a {t} field has no keys")
    if t in ("int", "decimal", "timestamp"):
        top = UINT64_MAX if t == "int" else INT64_MAX
        if not INT64_MIN <= opts.min <= opts.max <= top or opts.max - opts.min > UINT64_MAX:
            raise ValueError("bad min/max")
    if t == "float":
        if opts.bits not in FLOAT_BITS:
            raise ValueError("float bits must be 16, 32 or 64")
        expected = FieldOptions.make("float", bits=opts.bits)
        if (opts.min, opts.max) != (expected.min, expected.max):
            raise ValueError("a float field's min/max are fixed by its width")
    if not 0 <= opts.scale <= 19 or (t != "decimal" and opts.scale):
        raise ValueError("bad scale")
    if opts.time_unit not in TIME_UNITS or opts.time_unit == "µs":
        raise ValueError("bad time_unit")
    if t == "time":
        positions = [QUANTUM_ORDER.find(c) for c in opts.time_quantum]
        if not opts.time_quantum or -1 in positions or positions != sorted(set(positions)):
            raise ValueError("a time field needs time_quantum, an ordered subset of YMDH")
    elif opts.time_quantum or opts.no_standard_view:
        raise ValueError(f"time options on a {t} field")
    if opts.ttl < 0:
        raise ValueError("bad ttl")
    return opts


def same_values(a: FieldOptions, b: FieldOptions) -> bool:
    """Whether values of a column with options `a` mean the same in one with options `b`
    (ranges may differ: values are checked against the target's)."""
    return (a.type, a.keys, a.scale, a.time_unit, a.time_quantum, a.no_standard_view, a.bits) == \
        (b.type, b.keys, b.scale, b.time_unit, b.time_quantum, b.no_standard_view, b.bits)


# --- values: engine (stored) <-> document ---------------------------------------------------------

class Slow(Exception):
    """A fast column check could not vouch for a value: check the records one by one."""


def _types(values: Any) -> set[type]:
    return set(map(type, values))


_NONE = type(None)
_FLOAT_BITS: dict[int, type[np.floating[Any]]] = {16: np.float16, 32: np.float32, 64: np.float64}


def fast_column(fd: FieldDef) -> Callable[[tuple[Any, ...]], list[Any]]:
    """A whole column of document values -> engine values, checked with C-speed passes
    (map/set/min/max) for the common cases; raises Slow for anything else (from_document
    then decides and explains). Text is trusted to be free of lone surrogates and NUL (the
    caller checks the raw batch)."""
    opts = fd.options
    t, lo, hi = opts.type, opts.min, opts.max

    def ints(col: tuple[Any, ...], lo: int, hi: int) -> list[Any]:
        kinds = _types(col)
        if not kinds <= {int, _NONE}:
            raise Slow
        if int in kinds:
            vals = [v for v in col if v is not None] if _NONE in kinds else col
            if min(vals) < lo or max(vals) > hi:
                raise Slow
        return list(col)

    if t == "int":
        return lambda col: ints(col, lo, hi)
    if t == "timestamp":
        shift = opts.epoch * TIME_UNITS[opts.time_unit]

        def stamps(col: tuple[Any, ...]) -> list[Any]:
            ints(col, lo + shift, hi + shift)
            return [None if v is None else v - shift for v in col] if shift else list(col)
        return stamps
    if t == "decimal":
        rx = re.compile(rf"-?[0-9]+\.[0-9]{{{opts.scale}}}\Z" if opts.scale else r"-?[0-9]+\Z")

        def decimals(col: tuple[Any, ...]) -> list[Any]:
            if not _types(col) <= {str, _NONE}:
                raise Slow
            match = rx.match
            out = [None if v is None else (int(v.replace(".", "")) if match(v) else None) for v in col]
            if sum(v is None for v in out) != sum(v is None for v in col):
                raise Slow
            vals = [v for v in out if v is not None]
            if vals and (min(vals) < lo or max(vals) > hi):
                raise Slow
            return out
        return decimals
    if t == "float":
        bits = opts.bits

        def floats(col: tuple[Any, ...]) -> list[Any]:
            kinds = _types(col)
            if not kinds <= {float, int, _NONE}:
                raise Slow
            idx = [i for i, v in enumerate(col) if v is not None] if _NONE in kinds else range(len(col))
            if not len(idx):
                return list(col)
            try:
                arr = np.array([col[i] for i in idx], dtype=np.float64)
                enc = float_encode_array(arr, bits).tolist()
            except (OverflowError, EngineError):
                raise Slow from None
            out: list[Any] = [None] * len(col)
            for i, e in zip(idx, enc):
                out[i] = e
            return out
        return floats
    if t == "bool":
        def bools(col: tuple[Any, ...]) -> list[Any]:
            if not _types(col) <= {bool, _NONE}:
                raise Slow
            return list(col)
        return bools
    if t in ("mutex", "set"):
        def members_ok(values: Any) -> bool:
            if opts.keys:
                return _types(values) <= {str}
            if not _types(values) <= {int}:
                return False
            return not values or (min(values) >= 0 and max(values) <= UINT64_MAX)

        if t == "mutex":
            def scalars(col: tuple[Any, ...]) -> list[Any]:
                if not members_ok([v for v in col if v is not None]):
                    raise Slow
                return list(col)
            return scalars

        def lists(col: tuple[Any, ...]) -> list[Any]:
            present = [v for v in col if v is not None]
            if not _types(present) <= {list} or not members_ok(list(itertools.chain.from_iterable(present))):
                raise Slow
            return list(col)
        return lists

    def time_values(col: tuple[Any, ...]) -> list[Any]:
        if any(v is not None for v in col):
            raise Slow
        return list(col)
    return time_values


def to_document(opts: FieldOptions) -> Optional[Callable[[Any], Any]]:
    """engine.records value -> document value, for a column (None: the value as it is)."""
    t = opts.type
    if t == "decimal":
        scale = opts.scale
        if not scale:
            return None
        unit = 10**scale

        def dec(v: int) -> str:
            q, r = divmod(-v if v < 0 else v, unit)
            return f"{'-' if v < 0 else ''}{q}.{r:0{scale}d}"
        return dec
    if t == "timestamp":
        shift = opts.epoch * TIME_UNITS[opts.time_unit]
        return (lambda v: v + shift) if shift else None
    if t == "float":
        bits = opts.bits
        return lambda v: float_decode(v, bits)
    return None


class WrongValue(ValueError):
    pass


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, Decimal) and v == v.to_integral_value() and v.is_finite() and "E" not in str(v).upper() \
                and "." not in str(v):
            return int(v)
        raise WrongValue(f"expected an integer, got {_show(v)}")
    return v


def _show(v: Any) -> str:
    text = json.dumps(v, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _member(opts: FieldOptions, v: Any) -> Any:
    if opts.keys:
        if not isinstance(v, str):
            raise WrongValue(f"expected a string, got {_show(v)}")
        _text(v)
        return v
    n = _int(v)
    if not 0 <= n <= UINT64_MAX:
        raise WrongValue(f"{n} is not an unsigned 64-bit row id")
    return n


def _text(v: str) -> str:
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise WrongValue("text holds a lone surrogate") from None
    if "\x00" in v:
        raise WrongValue("text holds a NUL character")
    return v


def from_document(fd: FieldDef) -> Callable[[Any], Any]:
    """document value -> engine.records value for the target's field `fd` (checked against
    its options and range). Raises WrongValue. null stays None."""
    opts = fd.options
    t = opts.type
    lo, hi = opts.min, opts.max

    def ranged(stored: int, shown: Any) -> int:
        if not lo <= stored <= hi:
            raise WrongValue(f"{shown} is outside the column's range")
        return stored

    if t == "int":
        return lambda v: None if v is None else ranged(_int(v), v)
    if t == "decimal":
        scale = opts.scale

        def dec(v: Any) -> Any:
            if v is None:
                return None
            if isinstance(v, bool) or not isinstance(v, (str, int, Decimal, float)):
                raise WrongValue(f"expected a decimal string, got {_show(v)}")
            try:
                d = Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
            except InvalidOperation:
                raise WrongValue(f"not a decimal: {_show(v)}") from None
            if not d.is_finite():
                raise WrongValue(f"not a finite decimal: {_show(v)}")
            scaled = d.scaleb(scale)
            if scaled != scaled.to_integral_value():
                raise WrongValue(f"{v} has more than {scale} fractional digits")
            return ranged(int(scaled), v)
        return dec
    if t == "timestamp":
        shift = opts.epoch * TIME_UNITS[opts.time_unit]
        return lambda v: None if v is None else ranged(_int(v) - shift, v)
    if t == "float":
        bits = opts.bits

        def flt(v: Any) -> Any:
            if v is None:
                return None
            if isinstance(v, bool) or not isinstance(v, (int, float, Decimal)):
                raise WrongValue(f"expected a number, got {_show(v)}")
            try:
                x = float(v)
            except OverflowError:
                x = math.inf
            with np.errstate(over="ignore"):
                narrow = float(_FLOAT_BITS[bits](x))
            if not math.isfinite(narrow):
                raise WrongValue(f"{_show(v)} is not a finite float{bits}")
            return float_encode(narrow, bits)
        return flt
    if t == "bool":
        def boolean(v: Any) -> Any:
            if v is not None and not isinstance(v, bool):
                raise WrongValue(f"expected true or false, got {_show(v)}")
            return v
        return boolean
    if t == "mutex":
        return lambda v: None if v is None else _member(opts, v)
    if t == "set":
        def members(v: Any) -> Any:
            if v is None:
                return None
            if not isinstance(v, list):
                raise WrongValue(f"expected a list, got {_show(v)}")
            return [_member(opts, m) for m in v]
        return members

    def views(v: Any) -> Any:                                   # time
        if v is None:
            return None
        if not isinstance(v, dict):
            raise WrongValue(f"expected {{view: members}}, got {_show(v)}")
        out = {}
        for label, ms in v.items():
            if not time_label_ok(fd, label):
                raise WrongValue(f"the column has no view {label!r}")
            if not isinstance(ms, list):
                raise WrongValue(f"view {label}: expected a list, got {_show(ms)}")
            out[label] = [_member(opts, m) for m in ms]
        return out
    return views


def record_id(keys: bool) -> Callable[[Any], Any]:
    if keys:
        def key(v: Any) -> str:
            if not isinstance(v, str) or not v:
                raise WrongValue(f"_id must be a non-empty string, got {_show(v)}")
            return _text(v)
        return key

    def ident(v: Any) -> int:
        n = _int(v)
        if not 0 <= n <= UINT64_MAX:
            raise WrongValue(f"_id {n} is not an unsigned 64-bit integer")
        return n
    return ident


# --- the header ------------------------------------------------------------------------------------

def check_properties(raw: Any, kind: str, problems: Problems) -> list[tuple[str, ValueType, bool]]:
    """(name, value type, indexed) of each declared property, checked."""
    where = f"{kind}s_properties"
    out: list[tuple[str, ValueType, bool]] = []
    if raw is None:
        return out
    if not isinstance(raw, list):
        problems.add(where, "must be a list")
        return out
    seen: set[str] = set()
    for i, p in enumerate(raw):
        w = f"{where}[{i}]"
        allowed = {"property_name", "value_type", "repeated"} | ({"indexed"} if kind == "user" else set())
        if not isinstance(p, dict) or set(p) - allowed or "property_name" not in p or "value_type" not in p:
            problems.add(w, f"must be an object with {', '.join(sorted(allowed))}")
            continue
        name = p["property_name"]
        if not isinstance(name, str) or not PROPERTY_NAME_RE.match(name) or name.lower() in RESERVED:
            problems.add(w, f"bad property name {_show(name)}", "WRONG_DATA_TYPE")
            continue
        if name.lower() in seen:
            problems.add(w, f"property {name} is declared twice", f"DUPLICATED_{kind.upper()}_PROPERTY")
            continue
        seen.add(name.lower())
        repeated, indexed = p.get("repeated", False), p.get("indexed", False)
        if not isinstance(repeated, bool) or not isinstance(indexed, bool):
            problems.add(w, "repeated and indexed are true or false", "WRONG_DATA_TYPE")
            continue
        try:
            vt = ValueType.parse(p["value_type"], repeated)
        except WrongDataType as exc:
            problems.add(w, exc.message, "WRONG_DATA_TYPE")
            continue
        out.append((name, vt, indexed))
    return out


def check_table(raw: Any, where: str, problems: Problems) -> Optional[Table]:
    if not isinstance(raw, dict):
        problems.add(where, "must be an object")
        return None
    unknown = set(raw) - {"name", "keys", "track_existence", "description", "meta", "columns", "rows"}
    if unknown:
        problems.add(where, f"unknown key {sorted(unknown)[0]!r}")
        return None
    try:
        name = check_name(raw.get("name"), "table")
        meta = check_meta(raw.get("meta"), "table")
    except EngineError as exc:
        problems.add(where, exc.message)
        return None
    keys, track, description = raw.get("keys", False), raw.get("track_existence", True), raw.get("description", "")
    if not isinstance(keys, bool) or not isinstance(track, bool) or not isinstance(description, str):
        problems.add(where, "keys and track_existence are true or false, description text")
        return None
    cols = raw.get("columns")
    if not isinstance(cols, list) or not cols or not isinstance(cols[0], dict) or \
            cols[0] != {"name": ID_COLUMN, "type": "string" if keys else "id"}:
        problems.add(where, f"columns must start with {{\"name\": \"_id\", \"type\": \"{'string' if keys else 'id'}\"}}")
        return None
    columns: list[Column] = []
    names: set[str] = set()
    for j, c in enumerate(cols[1:], start=1):
        w = f"{where}.columns[{j}]"
        if not isinstance(c, dict) or set(c) - {"name", "type", "options", "meta"}:
            problems.add(w, "must be an object with name, type, options and meta")
            continue
        try:
            cname = check_name(c.get("name"), "column")
            cmeta = check_meta(c.get("meta"), "column")
            opts = parse_options(c.get("options"))
        except (EngineError, ValueError) as exc:
            problems.add(w, exc.message if isinstance(exc, EngineError) else str(exc))
            continue
        if cname in names:
            problems.add(w, f"column {cname} is listed twice")
            continue
        if c.get("type") != sql_type_of(opts):
            problems.add(w, f"type {_show(c.get('type'))} does not match the options ({sql_type_of(opts)})")
            continue
        names.add(cname)
        columns.append(Column(cname, opts, cmeta))
    return Table(name, keys, track, description, meta, columns)


# --- writing ----------------------------------------------------------------------------------------

def rfc3339_now(now: float) -> str:
    return _dt.datetime.fromtimestamp(now, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
dumps: Callable[[Any], str] = _ENCODER.encode


def fast_dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON of engine values, fast (orjson): floats as the shortest text that
    reads back as the same double (-0.0 kept), integers over the whole int64/uint64 range."""
    return orjson.dumps(obj)


class Sink:
    """Collects pieces (text or UTF-8 bytes) and hands out byte chunks of about `chunk`
    bytes, gzip compressed when asked (a whole gzip member, readable by gzip.open)."""

    def __init__(self, *, gzip_level: Optional[int], chunk: int = 1 << 20) -> None:
        self.chunk = chunk
        self._parts: list[bytes] = []
        self._size = 0
        self._z = zlib.compressobj(gzip_level, zlib.DEFLATED, 31) if gzip_level is not None else None
        self.raw_bytes = 0

    def write(self, piece: str | bytes) -> Optional[bytes]:
        data = piece.encode("utf-8") if isinstance(piece, str) else piece
        self._parts.append(data)
        self._size += len(data)
        if self._size >= self.chunk:
            return self.flush()
        return None

    def flush(self) -> bytes:
        data = b"".join(self._parts)
        self._parts, self._size = [], 0
        self.raw_bytes += len(data)
        return self._z.compress(data) if self._z is not None else data

    def finish(self) -> bytes:
        data = self.flush()
        if self._z is not None:
            data += self._z.flush()
        return data


# --- reading ---------------------------------------------------------------------------------------

@contextlib.contextmanager
def reading() -> Iterator[None]:
    """Turn what a damaged document raises while it is read — bytes that are not UTF-8, a
    gzip stream damaged or cut short — into DocumentError (400, nothing changed)."""
    try:
        yield
    except UnicodeDecodeError:
        raise DocumentError("the document is not valid UTF-8 text") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DocumentError(f"the document's gzip stream is damaged or cut short: {exc}") from None


def open_binary(path: str) -> BinaryIO:
    """The document's bytes, gunzipped when it is gzip."""
    with open(path, "rb") as f:
        head = f.read(2)
    if head == GZIP_MAGIC:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def sniff(path: str) -> str:
    """"ndjson", "json" or "pieces" (a Pieces envelope), from the first bytes of the
    (gunzipped) document. Raises DocumentError for anything else."""
    import ijson

    with reading(), open_binary(path) as f:
        try:
            head = f.read(1 << 16)
        except (OSError, EOFError, zlib.error) as exc:
            raise DocumentError(f"the document is not readable gzip: {exc}") from None
        stripped = head.lstrip()
        if not stripped.startswith(b"{"):
            raise DocumentError("the document is not a JSON object (nor gzip of one)")
        f.seek(0)
        try:
            for prefix, event, value in ijson.parse(f, multiple_values=True):
                if prefix == "" and event == "map_key":
                    if value in PIECES_KEYS:
                        return "pieces"
                    break
                if prefix == "" and event == "end_map":
                    break
        except ijson.JSONError as exc:
            raise DocumentError(f"the document is not well-formed JSON: {exc}") from None
    newline = head.find(b"\n", len(head) - len(stripped))
    if newline != -1:
        try:
            first = json.loads(head[:newline])
        except ValueError:
            first = None
        if isinstance(first, dict) and not (set(first) & BIG_ARRAYS) and \
                not any(isinstance(t, dict) and "rows" in t for t in first.get("sql_tables") or ()):
            return "ndjson"
    return "json"


# The 15 required list fields of the Pieces ExportedDatabase, and its other keys
# (reference/pieces-client.md §4).
PIECES_LISTS = ("analyses", "applications", "assets", "codeAnalyses", "files", "formatMetrics", "formats",
                "fragments", "imageAnalyses", "models", "ocrAnalyses", "persons", "sensitives", "tags", "websites")
PIECES_KEYS = frozenset(PIECES_LISTS) | {"values", "version", "schema", "activities", "anchorPoints", "anchors",
                                         "annotations", "conversationMessages", "conversations", "hints", "ranges",
                                         "relationships", "workstreamEvents", "workstreamPatternEngineSources",
                                         "workstreamSummaries", "messageValues", "workstreamEventValues"}


_DECODER = json.JSONDecoder(parse_constant=lambda name: _reject_constant(name))
# Escapes that decode to a lone surrogate or NUL, which text values may not hold: a batch
# whose raw text has one is checked value by value.
SUSPECT_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F][0-9a-fA-F]{2}|0000)")


def iter_ndjson(path: str, *, skip_header: bool = True,
                batch: int = 4096) -> Iterator[tuple[list[tuple[int, Any, str]], bool]]:
    """Batches of (line number, decoded JSON value, the line) of the non-blank lines, and
    whether the batch's raw text holds an escape that decodes to a lone surrogate or NUL
    (its strings then need checking one by one). Each batch is decoded in one C call
    (orjson: an integer past 64 bits comes back as a float — re-read a line with `exact`
    wherever that matters)."""
    with reading(), io.TextIOWrapper(open_binary(path), encoding="utf-8", newline="\n") as text:
        numbers: list[int] = []
        lines: list[str] = []
        for n, line in enumerate(text, start=1):
            if (n == 1 and skip_header) or not line.strip():
                continue
            numbers.append(n)
            lines.append(line)
            if len(lines) >= batch:
                yield _decode_batch(numbers, lines)
                numbers, lines = [], []
        if lines:
            yield _decode_batch(numbers, lines)


def _decode_batch(numbers: list[int], lines: list[str]) -> tuple[list[tuple[int, Any, str]], bool]:
    joined = ",".join(lines)
    try:
        values = orjson.loads("[" + joined + "]")
        if len(values) != len(lines):
            raise ValueError("a line holds more than one value")
    except ValueError:
        values = [exact(n, line) for n, line in zip(numbers, lines)]       # finds the line at fault
    return list(zip(numbers, values, lines)), SUSPECT_ESCAPE.search(joined) is not None


def exact(number: int, line: str) -> Any:
    """A line decoded by the standard library: integers of any size stay integers (orjson
    reads one past 64 bits as a float), so the record-by-record check sees what was
    written. Raises DocumentError naming the line."""
    try:
        return _DECODER.decode(line)
    except ValueError as exc:
        raise DocumentError(f"line {number} is not one JSON value: {exc}") from None


def read_ndjson_header(path: str) -> dict[str, Any]:
    with reading(), io.TextIOWrapper(open_binary(path), encoding="utf-8", newline="\n") as text:
        line = text.readline()
    try:
        header = json.loads(line, parse_constant=_reject_constant)
    except ValueError as exc:
        raise DocumentError(f"the first line is not a JSON header: {exc}") from None
    if not isinstance(header, dict):
        raise DocumentError("the first line must be the header object")
    return header


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_to_ndjson(src: str, dest: BinaryIO) -> None:
    """Rewrite a JSON-form document as NDJSON, streaming: the header keeps every key but
    the big arrays; items, users and each table's rows become lines (in that order). The
    arrays may come in any order, before or after the keys that describe them.

    Passes over the file, each with ijson's C parser and bounded memory: the structure
    (header values, each table's header and row count, every array checked to be a list;
    one cheap Python step per event), then the records, built in C and written by
    orjson — items, users, and the rows of every table in document order."""
    import ijson

    with reading():
        try:
            with open_binary(src) as f:
                header, counts = _structure(ijson.basic_parse(f))
            dest.write(_line(header))
            for kind in KINDS:
                if counts[kind]:
                    with open_binary(src) as f:
                        _write_lines(dest, ('{"kind":"' + kind + '","' + kind + '":').encode(),
                                     ijson.items(f, kind + "s.item"))
            if any(counts["rows"]):
                with open_binary(src) as f:
                    rows = ijson.items(f, "sql_tables.item.rows.item")
                    for position, (table, n) in enumerate(zip(header["sql_tables"], counts["rows"])):
                        name = table.get("name")
                        prefix = ('{"kind":"row","table":' + dumps(name) if isinstance(name, str) else
                                  '{"kind":"row","table":null,"table_index":' + str(position)) + ',"values":'
                        _write_lines(dest, prefix.encode(), itertools.islice(rows, n))
        except ijson.JSONError as exc:
            raise DocumentError(f"the document is not well-formed JSON: {exc}") from None


def _structure(events: Iterator[tuple[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the header, {"item": n, "user": n, "rows": [n per table]}) from basic_parse events."""
    event, _ = next(events, (None, None))
    if event != "start_map":
        raise DocumentError("the document must be one JSON object")
    header: dict[str, Any] = {}
    counts: dict[str, Any] = {"item": 0, "user": 0, "rows": []}
    for event, key in events:
        if event == "end_map":
            return header, counts
        if key in BIG_ARRAYS:
            counts[key[:-1]] += _count(events, key)
        elif key == "sql_tables":
            if "sql_tables" in header:
                raise DocumentError("sql_tables is given twice")
            header["sql_tables"], counts["rows"] = _table_headers(events)
        else:
            header[key] = _plain(_value(events))
    raise DocumentError("the document ends early")


def _count(events: Iterator[tuple[str, Any]], what: str) -> int:
    """Skip a list (or null), counting its elements."""
    event, _ = next(events, (None, None))
    if event == "null":
        return 0
    if event != "start_array":
        raise DocumentError(f"{what} must be a list")
    n = depth = 0
    for event, _ in events:
        if event == "start_map" or event == "start_array":
            if depth == 0:
                n += 1
            depth += 1
        elif event == "end_map" or event == "end_array":
            if depth == 0:
                return n
            depth -= 1
        elif depth == 0:
            n += 1
    raise DocumentError(f"{what} ends early")


def _table_headers(events: Iterator[tuple[str, Any]]) -> tuple[list[dict[str, Any]], list[int]]:
    event, _ = next(events, (None, None))
    if event != "start_array":
        raise DocumentError("sql_tables must be a list")
    tables: list[dict[str, Any]] = []
    counts: list[int] = []
    for event, _ in events:
        if event == "end_array":
            return tables, counts
        if event != "start_map":
            raise DocumentError("each sql_tables entry must be an object")
        table: dict[str, Any] = {}
        rows = 0
        for event, key in events:
            if event == "end_map":
                break
            if key == "rows":
                rows += _count(events, "rows")
            else:
                table[key] = _plain(_value(events))
        tables.append(table)
        counts.append(rows)
    raise DocumentError("sql_tables ends early")


def _value(events: Iterator[tuple[str, Any]]) -> Any:
    """Build the JSON value whose first event comes next."""
    import ijson

    builder = ijson.ObjectBuilder()
    depth = 0
    for event, value in events:
        builder.event(event, value)
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
        if depth == 0:
            return builder.value
    raise DocumentError("the document ends early")


def _write_lines(dest: BinaryIO, prefix: bytes, values: Iterator[Any]) -> None:
    """prefix + value + "}\n" per value, in blocks. orjson writes them (ijson's Decimals —
    numbers with a fraction or exponent — as the float they spell); what it cannot write
    (an integer past 64 bits, a lone surrogate) takes the standard library's way."""
    block: list[bytes] = []
    for v in values:
        try:
            text = orjson.dumps(v, default=_float)
        except orjson.JSONEncodeError:
            text = _ASCII.encode(_plain(v)).encode("ascii")
        block.append(prefix + text + b"}\n")
        if len(block) >= 4096:
            dest.write(b"".join(block))
            block = []
    dest.write(b"".join(block))


def _float(v: Any) -> float:
    if isinstance(v, Decimal):
        x = float(v)
        if math.isfinite(x):
            return x
    raise TypeError


# Escapes non-ASCII, so a lone surrogate reaches the line as \\udXXX text for the record
# check to refuse (raw, it could not be encoded as UTF-8).
_ASCII = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False)


def _line(obj: Any) -> bytes:
    return (_ASCII.encode(_plain(obj)) + "\n").encode("ascii")


def _plain(v: Any) -> Any:
    """ijson's Decimals back to JSON numbers: a number with a fraction or exponent is the
    float it spells (exact: a shortest-repr float reads back as itself)."""
    if isinstance(v, Decimal):
        if v == v.to_integral_value() and "." not in str(v) and "E" not in str(v).upper():
            return int(v)
        if not math.isfinite(float(v)):
            raise DocumentError(f"the number {str(v)[:40]} is beyond a 64-bit float's range")
        return float(v)
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


__all__ = ["FORMAT", "VERSION", "Problems", "DocumentError", "Column", "Table", "column_from_field",
           "parse_options", "same_values", "to_document", "from_document", "record_id", "WrongValue",
           "check_properties", "check_table", "Sink", "sniff", "iter_ndjson", "read_ndjson_header",
           "json_to_ndjson", "open_binary", "reading", "dumps", "PIECES_LISTS", "PIECES_KEYS", "rfc3339_now"]
