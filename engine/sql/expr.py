"""Evaluate scalar SQL expressions on result rows: arithmetic, CAST, string functions and
the comparisons HAVING uses. NULL propagates (None in, None out); conditions with a NULL
operand are unknown (None), which filters treat as false.
"""
from __future__ import annotations

import datetime as _dt
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from engine.errors import EngineError, NotSupportedError, TypeMismatchError
from engine.schema import parse_timestamp
from engine.sql import ast, functions

Env = Mapping[Any, Any]          # column name / alias / aggregate expression -> value


def _num(v: Any, what: str) -> Any:
    if isinstance(v, bool) or not isinstance(v, (int, Decimal, float)):
        raise TypeMismatchError(f"{what} needs numbers, got {v!r}")
    return v


def _arith(op: str, a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if op == "||":
        return f"{a}{b}"
    a, b = _num(a, op), _num(b, op)
    if isinstance(a, float) or isinstance(b, float):
        a, b = float(a), float(b)
    elif isinstance(a, Decimal) or isinstance(b, Decimal):
        a, b = Decimal(a), Decimal(b)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        return None                      # division by zero is NULL (as in FeatureBase)
    if op == "/":
        if isinstance(a, int) and isinstance(b, int):
            q = abs(a) // abs(b)         # integer division truncates toward zero
            return q if (a >= 0) == (b >= 0) else -q
        return a / b
    if isinstance(a, int) and isinstance(b, int):
        r = abs(a) % abs(b)
        return r if a >= 0 else -r
    return a % b


def cast(v: Any, t: ast.TypeName) -> Any:
    if v is None:
        return None
    name = t.name
    try:
        if name in ("INT", "INTEGER", "BIGINT", "ID"):
            if isinstance(v, str):
                d = Decimal(v.strip())
                if not d.is_finite() or d.adjusted() > 18:      # beyond int64: refuse, cheaply
                    raise ValueError(v)
                return int(d)
            if isinstance(v, _dt.datetime):
                return int(v.timestamp())
            return int(v)
        if name == "DECIMAL":
            scale = t.arg if t.arg is not None else 0
            d = Decimal(str(v)) if not isinstance(v, Decimal) else v
            return d.quantize(Decimal(1).scaleb(-scale))
        if name in ("STRING", "VARCHAR", "TEXT"):
            if isinstance(v, bool):
                return "true" if v else "false"
            if isinstance(v, _dt.datetime):
                from engine.results import rfc3339

                return rfc3339(v)
            return str(v)
        if name in ("BOOL", "BOOLEAN"):
            if isinstance(v, str):
                if v.lower() in ("true", "1"):
                    return True
                if v.lower() in ("false", "0"):
                    return False
                raise ValueError(v)
            return bool(v)
        if name == "TIMESTAMP":
            if isinstance(v, int) and not isinstance(v, bool):
                return _dt.datetime.fromtimestamp(v, tz=_dt.timezone.utc)
            return parse_timestamp(v)
    except (ValueError, TypeError, InvalidOperation, OverflowError, EngineError):
        raise TypeMismatchError(f"cannot CAST {v!r} AS {name}") from None
    raise TypeMismatchError(f"cannot CAST to {name}")


def evaluate(e: ast.Expr, env: Env) -> Any:
    """The value of e for one result row."""
    if e in env:
        return env[e]
    if isinstance(e, ast.Literal):
        if e.kind == "set":
            return [evaluate(i, env) for i in e.value]
        if e.kind == "tuple":                # {timestamp, [members]} for IDSETQ/STRINGSETQ
            return tuple(evaluate(i, env) for i in e.value)
        return e.value
    if isinstance(e, ast.Column):
        if e.name in env:
            return env[e.name]
        raise TypeMismatchError(f"column {e.name} is not available here")
    if isinstance(e, ast.BinOp):
        acc = evaluate(e.operands[0], env)
        for op, operand in zip(e.ops, e.operands[1:]):
            acc = _arith(op, acc, evaluate(operand, env))
        return acc
    if isinstance(e, ast.Neg):
        v = evaluate(e.expr, env)
        return None if v is None else -_num(v, "-")
    if isinstance(e, ast.Cast):
        return cast(evaluate(e.expr, env), e.type)
    if isinstance(e, ast.Func):
        if e.name in functions.SCALARS:
            if e.distinct or e.star:
                raise TypeMismatchError(f"{e.name} is not an aggregate")
            functions.check_arity(e.name, len(e.args))
            return functions.call(e.name, [evaluate(a, env) for a in e.args])
        if e.name == "ABS" and len(e.args) == 1:
            v = evaluate(e.args[0], env)
            return None if v is None else abs(_num(v, "ABS"))
        if e.name == "COALESCE":
            for a in e.args:
                v = evaluate(a, env)
                if v is not None:
                    return v
            return None
        raise NotSupportedError(f"function {e.name} is not supported here")
    if isinstance(e, ast.Case):
        return _case(e, env)
    if isinstance(e, ast.CurrentTime):
        return functions.today() if e.date else functions.now()
    if isinstance(e, (ast.Compare, ast.And, ast.Or, ast.Not, ast.IsNull, ast.Between, ast.InList, ast.Like)):
        return condition(e, env)
    if isinstance(e, ast.Unsupported):
        raise NotSupportedError(f"{e.what} are not supported")
    raise NotSupportedError(f"cannot evaluate {type(e).__name__}")


def _case(e: ast.Case, env: Env) -> Any:
    """The THEN of the first WHEN that is true (simple form: equal to the operand), else the
    ELSE value (NULL without one). A NULL operand or WHEN never matches."""
    subject = evaluate(e.operand, env) if e.operand is not None else None
    for when, then in e.whens:
        if e.operand is None:
            hit = condition(when, env) is True
        else:
            w = evaluate(when, env)
            hit = subject is not None and w is not None and _compare("=", subject, w)
        if hit:
            return evaluate(then, env)
    return evaluate(e.default, env) if e.default is not None else None


def _compare(op: str, a: Any, b: Any) -> bool:
    if isinstance(a, _dt.datetime) and isinstance(b, (str, int)) and not isinstance(b, bool):
        b = functions.to_timestamp_value(b)          # a timestamp compares with a timestamp literal
    elif isinstance(b, _dt.datetime) and isinstance(a, (str, int)) and not isinstance(a, bool):
        a = functions.to_timestamp_value(a)
    try:
        return {"=": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    except TypeError:
        raise TypeMismatchError(f"cannot compare {functions.type_name(a)} {a!r} with "
                                f"{functions.type_name(b)} {b!r}") from None


def condition(e: ast.Expr, env: Env) -> Any:
    """True, False or None (unknown) — three-valued logic."""
    if isinstance(e, (ast.And, ast.Or)):
        values = [condition(t, env) for t in e.terms]        # all evaluated: type errors surface
        decisive = isinstance(e, ast.Or)                     # True decides OR, False decides AND
        if decisive in values:
            return decisive
        return None if None in values else not decisive
    if isinstance(e, ast.Not):
        v = condition(e.expr, env)
        return None if v is None else not v
    if isinstance(e, ast.Compare):
        a, b = evaluate(e.left, env), evaluate(e.right, env)
        if a is None or b is None:
            return None
        return _compare(e.op, a, b)
    if isinstance(e, ast.IsNull):
        return (evaluate(e.expr, env) is None) != e.negated
    if isinstance(e, ast.Between):
        v, lo, hi = evaluate(e.expr, env), evaluate(e.lo, env), evaluate(e.hi, env)
        if v is None or lo is None or hi is None:
            return None
        return (_compare("<=", lo, v) and _compare("<=", v, hi)) != e.negated
    if isinstance(e, ast.InList):
        v = evaluate(e.expr, env)
        if v is None:
            return None
        return (v in [evaluate(i, env) for i in e.items]) != e.negated
    if isinstance(e, ast.Like):
        import re

        v, p = evaluate(e.expr, env), evaluate(e.pattern, env)
        if v is None or p is None:
            return None
        rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(p))
        return (re.fullmatch(rx, str(v), re.DOTALL) is not None) != e.negated
    v = evaluate(e, env)
    if v is None or isinstance(v, bool):
        return v
    raise TypeMismatchError("not a condition")
