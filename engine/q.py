"""Build queries in Python, without PQL text: the same calls, as function calls.

    from engine import q
    db.run("seg", q.Count(q.Intersect(q.Row(hobbies="chess"), q.Row(q.between("age", 30, 40)))))
    db.run("seg", q.TopN("hobbies", q.Row(active=True), n=10))

Each builder returns the syntax tree the PQL parser would have produced for the same text,
so both front doors share lowering, validation and execution; only parsing is skipped.
Any call name works (q.GroupBy, q.Rows, q.Sum, …): positional arguments are row calls or
values, keyword arguments are name=value.
"""
from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Any

from engine.errors import InvalidValueError
from engine.pql import ast


def _value(v: Any) -> Any:
    if isinstance(v, (ast.Call, ast.Bare, ast.Timestamp, ast.ListValue)):
        return v
    if v is None:
        return ast.Bare("null")
    if isinstance(v, bool):
        return ast.Bare("true" if v else "false")
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return Decimal(repr(v))
    if isinstance(v, Decimal):
        return v
    if isinstance(v, str):
        return v
    if isinstance(v, _dt.datetime):
        t = v if v.tzinfo else v.replace(tzinfo=_dt.timezone.utc)
        return t.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(v, (list, tuple)):
        return ast.ListValue(tuple(_value(i) for i in v))
    raise InvalidValueError(f"cannot use {v!r} in a query")


def call(name: str, *args: Any, **kwargs: Any) -> ast.Call:
    """A call with positional arguments (row calls, conditions or values) and keywords."""
    out: list[ast.Arg] = []
    for a in args:
        out.append(a if isinstance(a, (ast.Condition, ast.Between)) else ast.Positional(_value(a)))
    for k, v in kwargs.items():
        out.append(ast.Keyword(k.replace("__", "-"), _value(v)))
    return ast.Call(name, tuple(out))


def cond(field: str, op: str, value: Any) -> ast.Condition:
    """field OP value, OP one of == != < <= > >= (for Row)."""
    if op not in ("==", "!=", "<", "<=", ">", ">="):
        raise InvalidValueError(f"unknown comparison {op!r}")
    return ast.Condition(field, op, _value(value))


def between(field: str, lo: Any, hi: Any, lo_inclusive: bool = True, hi_inclusive: bool = True) -> ast.Between:
    """lo <= field <= hi (each end inclusive unless told otherwise), for Row."""
    return ast.Between(field, _value(lo), "<=" if lo_inclusive else "<", _value(hi), "<=" if hi_inclusive else "<")


def __getattr__(name: str) -> Any:
    if name[:1].isupper():
        return lambda *args, **kwargs: call(name, *args, **kwargs)
    raise AttributeError(name)
