"""SQL column types ↔ engine field types (FeatureBase SQL3's mapping)."""
from __future__ import annotations

from typing import Any

import datetime as _dt

from engine.errors import InvalidOptionError, InvalidValueError, TypeMismatchError
from engine.results import rfc3339
from engine.schema import UNIX_EPOCH, FieldOptions
from engine.sql import ast

# Unix seconds a datetime can hold (years 1 to 9999): integer timestamps outside are refused.
MIN_SECONDS = int((_dt.datetime(1, 1, 1, tzinfo=_dt.timezone.utc) - UNIX_EPOCH).total_seconds())
MAX_SECONDS = int((_dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=_dt.timezone.utc) - UNIX_EPOCH).total_seconds())

# SQL type -> (engine field type, keys)
_FIELD_OF = {"ID": ("mutex", False), "STRING": ("mutex", True), "IDSET": ("set", False),
             "STRINGSET": ("set", True), "IDSETQ": ("time", False), "STRINGSETQ": ("time", True),
             "INT": ("int", False), "DECIMAL": ("decimal", False), "BOOL": ("bool", False),
             "TIMESTAMP": ("timestamp", False), "FLOAT": ("float", False)}
_ALIASES = {"INTEGER": "INT", "BIGINT": "INT", "BOOLEAN": "BOOL", "VARCHAR": "STRING", "TEXT": "STRING"}


def sql_type_of(opts: FieldOptions) -> str:
    """The SQL type name of an engine field (lower case, as FeatureBase reports it)."""
    t = opts.type
    if t == "mutex":
        return "string" if opts.keys else "id"
    if t == "set":
        return "stringset" if opts.keys else "idset"
    if t == "time":
        return "stringsetq" if opts.keys else "idsetq"
    if t == "decimal":
        return f"decimal({opts.scale})"
    return t


def field_options(col: ast.ColumnDef) -> dict[str, Any]:
    """create_field keyword arguments for a column definition with its constraints."""
    tname = _ALIASES.get(col.type.name, col.type.name)
    if tname not in _FIELD_OF:
        raise TypeMismatchError(f"unknown column type {col.type.name} for column {col.name}")
    ftype, keys = _FIELD_OF[tname]
    opts: dict[str, Any] = {"type": ftype}
    if keys:
        opts["keys"] = True
    if ftype == "decimal":
        if col.type.arg is None:
            raise TypeMismatchError(f"column {col.name}: DECIMAL needs a scale, e.g. DECIMAL(2)")
        opts["scale"] = col.type.arg
    elif col.type.arg is not None:
        raise TypeMismatchError(f"column {col.name}: {tname} takes no size")
    words = list(col.words)
    i = 0

    def value() -> Any:
        nonlocal i
        if i >= len(words):
            raise InvalidOptionError(f"column {col.name}: constraint {words[i - 1]} needs a value")
        v = words[i]
        i += 1
        return v[1] if isinstance(v, tuple) else v

    while i < len(words):
        w = words[i]
        i += 1
        if not isinstance(w, str):
            raise InvalidOptionError(f"column {col.name}: unexpected {w!r} in constraints")
        if w in ("MIN", "MAX"):
            opts[w.lower()] = value()
        elif w == "CACHETYPE":
            kind = value()
            opts["cache_type"] = str(kind).lower()
            if i < len(words) and words[i] == "SIZE":
                i += 1
                opts["cache_size"] = value()
        elif w == "TIMEUNIT":
            opts["time_unit"] = value()
        elif w == "EPOCH":
            opts["epoch"] = value()
        elif w == "TIMEQUANTUM":
            opts["time_quantum"] = value()
        elif w == "TTL":
            opts["ttl"] = value()
        elif w == "BITS":
            opts["bits"] = value()
        else:
            raise InvalidOptionError(f"column {col.name}: unknown constraint {w}")
    return opts


def column_ddl(name: str, opts: FieldOptions) -> str:
    """A column definition that recreates the field (SHOW CREATE TABLE)."""
    parts = [name, sql_type_of(opts)]
    if opts.is_bsi:
        if opts.type not in ("timestamp", "float") and (opts.min != -(2**63) or opts.max != 2**63 - 1):
            parts += ["min", str(opts.from_stored(opts.min)), "max", str(opts.from_stored(opts.max))]
        if opts.type == "timestamp":
            parts += ["timeunit", f"'{opts.time_unit}'"]
            if opts.epoch:
                parts += ["epoch", f"'{rfc3339(UNIX_EPOCH + _dt.timedelta(seconds=opts.epoch))}'"]
    if opts.type in ("set", "mutex") and (opts.cache_type != "ranked" or opts.cache_size != 50000):
        parts += ["cachetype", opts.cache_type, "size", str(opts.cache_size)]
    if opts.type == "float" and opts.bits != 64:
        parts += ["bits", str(opts.bits)]
    if opts.type == "time":
        parts += ["timequantum", f"'{opts.time_quantum}'"]
        if opts.ttl:
            parts += ["ttl", f"'{opts.ttl}s'"]
    return " ".join(parts)


def unix_seconds(v: int) -> int:
    """v, an integer timestamp (Unix seconds), if a datetime can hold it."""
    if not MIN_SECONDS <= v <= MAX_SECONDS:
        raise InvalidValueError(f"timestamp {v} (Unix seconds) is outside the years 1 to 9999")
    return v


def datetime_of_seconds(v: int) -> _dt.datetime:
    return UNIX_EPOCH + _dt.timedelta(seconds=unix_seconds(v))
