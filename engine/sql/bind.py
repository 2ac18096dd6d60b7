"""The binder: resolves the names of an expression against a scope, type-checks it with
FeatureBase's rules (engine/sql/typecheck.py) and compiles it into a function of a row.

Every expression position — select list, WHERE (what is not lowered onto bitmaps),
HAVING, ORDER BY, GROUP BY, aggregate and function arguments, INSERT values, BULK
TRANSFORM — goes through `Binder.bind`, so a statement is refused before anything runs
when its types do not fit, wherever the expression is.

Values: int (INT, ID), Decimal at the type's scale (DECIMAL), float (FLOAT), str, bool,
an aware UTC datetime (TIMESTAMP), a list of members (sets), None (NULL). NULL in gives
NULL out; a condition with a NULL operand is NULL (unknown).
"""
from __future__ import annotations

import datetime as _dt
import math
import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from typing import Any, Callable, Optional

from engine.errors import ColumnNotFoundError, EngineError, NotSupportedError, QueryExecutionError, TypeMismatchError
from engine.results import rfc3339
from engine.schema import FieldDef, parse_timestamp
from engine.sql import ast, functions
from engine.sql import typecheck as tc
from engine.sql.typecheck import BOOL, INT, STRING, TIMESTAMP, VOID, T
from engine.sql.types import MAX_SECONDS, MIN_SECONDS, datetime_of_seconds

Row = tuple[Any, ...]
Fn = Callable[[Row], Any]

INT_MIN, INT_MAX = -(2**63), 2**64 - 1      # integer results (int64, and the uint64 ids)


@dataclass(eq=False)
class Col:
    """A column of a scope: what a name resolves to."""

    name: str
    type: T
    tables: tuple[str, ...] = ()        # the qualifiers that name it (alias, table name)
    table: Any = None                   # context.Table it is read from (None: computed)
    fd: Optional[FieldDef] = None       # its field (None with a table: the _id column)
    flatten: bool = False               # a set column read member by member (WITH flatten)

    @property
    def is_id(self) -> bool:
        return self.table is not None and self.fd is None


class Scope:
    """The columns an expression may name, in row order (a column's slot is its position)."""

    def __init__(self, cols: list[Col], outer: Optional["Scope"] = None) -> None:
        self.cols = cols
        self.outer = outer

    def find(self, ref: ast.Column) -> Optional[int]:
        hits = [i for i, c in enumerate(self.cols)
                if c.name == ref.name and (ref.table is None or ref.table in c.tables)]
        if len(hits) > 1:
            raise TypeMismatchError(f"column reference '{_ref_text(ref)}' is ambiguous")
        return hits[0] if hits else None

    def has_table(self, name: str) -> bool:
        return any(name in c.tables for c in self.cols)


def _ref_text(ref: ast.Column) -> str:
    return f"{ref.table}.{ref.name}" if ref.table else ref.name


AGGREGATES = ("COUNT", "SUM", "AVG", "MIN", "MAX", "PERCENTILE", "CORR", "VAR", "STDDEV")   # (aggregates.py)


@dataclass(eq=False)
class BExpr:
    """A bound expression: its type, its function of a row, and where it came from."""

    type: T
    fn: Fn
    ast: Any
    slot: Optional[int] = None          # a plain column reference: the row slot it reads
    col: Optional[Col] = None           # … and the column
    const: bool = False                 # reads no row: fn(()) is its value
    literal: bool = False               # written as a literal (timestamp strings convert)


class Subqueries:
    """How a binder runs the subqueries it meets (the planner provides this)."""

    def scalar(self, select: ast.Select, outer: Scope) -> tuple[T, Callable[[], Any]]:
        raise NotSupportedError("subqueries are not supported here")

    def column(self, select: ast.Select, outer: Scope) -> tuple[T, Callable[[], tuple[frozenset[Any], bool]]]:
        raise NotSupportedError("subqueries are not supported here")

    def exists(self, select: ast.Select, outer: Scope) -> Callable[[], bool]:
        raise NotSupportedError("subqueries are not supported here")


@dataclass
class Binder:
    scope: Scope
    subqueries: Subqueries = field(default_factory=Subqueries)
    # After GROUP BY / aggregation: expressions (group keys and aggregate calls) that are
    # slots of the grouped row; any other column reference is an error.
    grouped: Optional[dict[Any, int]] = None
    grouped_types: Optional[dict[Any, T]] = None
    grouped_cols: Optional[dict[Col, int]] = None   # key columns, however they are written
    params: Optional[list[T]] = None    # BULK TRANSFORM: the type of @0, @1, …
    where: str = "the select list"      # for messages: where aggregates are refused
    allow_empty_set: bool = False       # INSERT values: [] is an empty set

    # --- entry points -------------------------------------------------------------------------

    def bind(self, e: Any) -> BExpr:
        if self.grouped is not None and e in self.grouped:
            slot = self.grouped[e]
            t = self.grouped_types[e] if self.grouped_types else VOID
            return BExpr(t, _slot(slot), e, slot=slot)
        method = getattr(self, "_" + type(e).__name__, None)
        if method is None:
            raise NotSupportedError(f"{type(e).__name__} is not supported here")
        return method(e)

    def condition(self, e: Any) -> BExpr:
        """A WHERE/HAVING/ON/FILTER condition: a BOOL expression."""
        b = self.bind(e)
        if b.type.kind not in ("bool", "void"):
            raise TypeMismatchError(f"boolean expression expected, got {b.type.upper} ({ast.to_sql(e)})")
        return b

    # --- leaves ---------------------------------------------------------------------------------

    def _Literal(self, e: ast.Literal) -> BExpr:
        k, v = e.kind, e.value
        if k == "int":
            return _const(INT, v, e)
        if k == "decimal":
            return _const(tc.DECIMAL(max(-int(v.as_tuple().exponent), 0)), v, e)
        if k in ("string", "hex"):
            return _const(STRING, v, e)
        if k == "bool":
            return _const(BOOL, v, e)
        if k == "null":
            return _const(VOID, None, e)
        if k == "set":
            return self._set_literal(e)
        if k == "tuple":
            return self._tuple_literal(e)
        raise NotSupportedError(f"literal {k} is not supported")

    def _set_literal(self, e: ast.Literal) -> BExpr:
        members = [self.bind(m) for m in e.value]
        if not members:
            if self.allow_empty_set:
                return BExpr(tc.T("emptyset"), lambda row: [], e, const=True, literal=True)
            raise TypeMismatchError("set literal must contain at least one member")
        kinds = {m.type.kind for m in members}
        if kinds <= {"int", "id"}:
            t = tc.IDSET
        elif kinds == {"string"}:
            t = tc.STRINGSET
        else:
            raise TypeMismatchError("set literal must contain ints or strings")
        fns = [m.fn for m in members]
        if all(m.const for m in members):
            value = list(dict.fromkeys(f(()) for f in fns))
            return BExpr(t, lambda row: list(value), e, const=True, literal=True)
        return BExpr(t, lambda row: list(dict.fromkeys(f(row) for f in fns)), e)

    def _tuple_literal(self, e: ast.Literal) -> BExpr:
        """{time, members}: the value of a time-quantum set in INSERT."""
        if not self.allow_empty_set:
            raise TypeMismatchError("a tuple literal is a value for INSERT into an IDSETQ or STRINGSETQ column")
        when, members = (self.bind(x) for x in e.value)
        if when.type.kind not in ("timestamp", "string", "int", "void"):
            raise TypeMismatchError(f"a time-quantum tuple starts with a timestamp, got {when.type.upper}")
        if not (tc.is_set(members.type) or members.type.kind in ("emptyset", "void")):
            raise TypeMismatchError(f"a time-quantum tuple ends with a set, got {members.type.upper}")
        wf, mf = when.fn, members.fn
        return BExpr(tc.T("tuple"), lambda row: (wf(row), mf(row)), e)

    def _Column(self, e: ast.Column) -> BExpr:
        if self.grouped is not None:
            slot = self.scope.find(e)
            col = self.scope.cols[slot] if slot is not None else None
            if col is not None and self.grouped_cols and col in self.grouped_cols:
                g = self.grouped_cols[col]
                return BExpr(col.type, _slot(g), e, slot=g)
            if slot is None:
                self.grouped = None
                try:
                    self._Column(e)                  # reports the unknown column
                finally:
                    self.grouped = {}
            raise TypeMismatchError(f"column '{_ref_text(e)}' must appear in GROUP BY or in an aggregate")
        slot = self.scope.find(e)
        if slot is None:
            if e.table is not None and not self.scope.has_table(e.table):
                outer = self.scope.outer
                if outer is not None and outer.has_table(e.table):
                    raise NotSupportedError("correlated subqueries (a subquery naming a column of the outer query)"
                                            " are not supported")
                raise ColumnNotFoundError(f"table or alias '{e.table}' not found")
            outer = self.scope.outer
            if outer is not None and outer.find(e) is not None:
                raise NotSupportedError("correlated subqueries (a subquery naming a column of the outer query) "
                                        "are not supported")
            raise ColumnNotFoundError(f"column '{_ref_text(e)}' not found")
        col = self.scope.cols[slot]
        return BExpr(col.type, _slot(slot), e, slot=slot, col=col)

    def _Param(self, e: ast.Param) -> BExpr:
        if self.params is None or not 0 <= e.index < len(self.params):
            raise TypeMismatchError(f"@{e.index} does not name a MAP entry")
        return BExpr(self.params[e.index], _slot(e.index), e, slot=e.index)

    def _CurrentTime(self, e: ast.CurrentTime) -> BExpr:
        CLOCK_READ.set(True)
        value = functions.today() if e.date else functions.now()
        return _const(TIMESTAMP, value, e)

    # --- operators ------------------------------------------------------------------------------

    def _BinOp(self, e: ast.BinOp) -> BExpr:
        acc = self.bind(e.operands[0])
        for op, operand in zip(e.ops, e.operands[1:]):
            acc = self._binary(op, acc, self.bind(operand), e)
        return acc

    def _binary(self, op: str, a: BExpr, b: BExpr, e: Any) -> BExpr:
        if op == "||":
            t = tc.concat_type(a.type, b.type)
            return _fold(t, _concat, (a, b), e)
        if op in ("&", "|", "<<", ">>"):
            t = tc.bitwise_type(op, a.type, b.type)
            return _fold(t, _bitwise(op), (a, b), e)
        t = tc.arithmetic_type(op, a.type, b.type)
        return _fold(t, _arithmetic(op, t), (a, b), e)

    def _Neg(self, e: ast.Neg) -> BExpr:
        a = self.bind(e.expr)
        t = tc.negate_type("-", a.type)
        return _fold(t, lambda v: _int_checked(-v) if isinstance(v, int) else -v, (a,), e)

    def _BitNot(self, e: ast.BitNot) -> BExpr:
        a = self.bind(e.expr)
        t = tc.bitwise_type("!", a.type)
        return _fold(t, lambda v: ~v, (a,), e)

    def _Compare(self, e: ast.Compare) -> BExpr:
        a, b = self.bind(e.left), self.bind(e.right)
        a, b = _coerce_pair(a, b)
        tc.compare_type(e.op, a.type, b.type)
        return _fold(BOOL, _comparison(e.op, a.type, b.type), (a, b), e)

    def _IsNull(self, e: ast.IsNull) -> BExpr:
        a = self.bind(e.expr)
        f, neg = a.fn, e.negated
        return BExpr(BOOL, lambda row: (f(row) is None) != neg, e, const=a.const)

    def _Between(self, e: ast.Between) -> BExpr:
        x, lo, hi = self.bind(e.expr), self.bind(e.lo), self.bind(e.hi)
        x, lo = _coerce_pair(x, lo)
        x, hi = _coerce_pair(x, hi)
        tc.between_type(x.type, lo.type, hi.type)
        le_lo = _comparison("<=", lo.type, x.type)
        le_hi = _comparison("<=", x.type, hi.type)
        neg = e.negated

        def between(v: Any, a: Any, b: Any) -> Any:
            return (le_lo(a, v) and le_hi(v, b)) != neg

        return _fold(BOOL, between, (x, lo, hi), e)

    def _InList(self, e: ast.InList) -> BExpr:
        x = self.bind(e.expr)
        items = []
        for i in e.items:
            b = self.bind(i)
            x2, b = _coerce_pair(x, b)
            items.append(b)
        tc.in_type(x.type, [i.type for i in items])
        norm = _normaliser(x.type)
        neg = e.negated
        if all(i.const for i in items):
            values = [i.fn(()) for i in items]
            has_null = any(v is None for v in values)
            wanted = frozenset(norm(v) for v in values if v is not None)
            xf = x.fn

            def in_const(row: Row) -> Any:
                v = xf(row)
                if v is None:
                    return None
                if norm(v) in wanted:
                    return not neg
                return None if has_null else neg

            return BExpr(BOOL, in_const, e, const=x.const)
        fns = [i.fn for i in items]
        xf = x.fn

        def in_list(row: Row) -> Any:
            v = xf(row)
            if v is None:
                return None
            vals = [f(row) for f in fns]
            if norm(v) in {norm(w) for w in vals if w is not None}:
                return not neg
            return None if None in vals else neg

        return BExpr(BOOL, in_list, e)

    def _InSelect(self, e: ast.InSelect) -> BExpr:
        x = self.bind(e.expr)
        t, values = self.subqueries.column(e.select, self.scope)
        if not tc.comparable(x.type, t):
            raise tc.not_equatable(x.type, t)
        norm = _normaliser(x.type)
        xf, neg = x.fn, e.negated

        def in_select(row: Row) -> Any:
            v = xf(row)
            wanted, has_null = values()
            if not wanted and not has_null:
                return neg                      # IN of no rows is false, even for NULL
            if v is None:
                return None
            if norm(v) in wanted:
                return not neg
            return None if has_null else neg

        return BExpr(BOOL, in_select, e)

    def _Exists(self, e: ast.Exists) -> BExpr:
        answer = self.subqueries.exists(e.select, self.scope)
        return BExpr(BOOL, lambda row: answer(), e)

    def _Subquery(self, e: ast.Subquery) -> BExpr:
        t, value = self.subqueries.scalar(e.select, self.scope)
        return BExpr(t, lambda row: value(), e)

    def _Like(self, e: ast.Like) -> BExpr:
        a, p = self.bind(e.expr), self.bind(e.pattern)
        tc.like_type("NOT LIKE" if e.negated else "LIKE", a.type, p.type)
        neg = e.negated
        if p.const:
            pattern = p.fn(())
            if pattern is None:
                return _const(BOOL, None, e)
            rx = like_regex(pattern)
            return _fold(BOOL, lambda v: (rx.fullmatch(v) is not None) != neg, (a,), e)
        return _fold(BOOL, lambda v, pat: (like_regex(pat).fullmatch(v) is not None) != neg, (a, p), e)

    def _And(self, e: ast.And) -> BExpr:
        terms = [self.condition(t) for t in e.terms]
        fns = [t.fn for t in terms]

        def and_(row: Row) -> Any:
            values = [f(row) for f in fns]          # all evaluated: errors surface
            if False in values:
                return False
            return None if None in values else True

        return BExpr(BOOL, and_, e, const=all(t.const for t in terms))

    def _Or(self, e: ast.Or) -> BExpr:
        terms = [self.condition(t) for t in e.terms]
        fns = [t.fn for t in terms]

        def or_(row: Row) -> Any:
            values = [f(row) for f in fns]
            if True in values:
                return True
            return None if None in values else False

        return BExpr(BOOL, or_, e, const=all(t.const for t in terms))

    def _Not(self, e: ast.Not) -> BExpr:
        a = self.bind(e.expr)
        tc.logical_type("NOT", a.type)
        f = a.fn
        return BExpr(BOOL, lambda row: None if (v := f(row)) is None else not v, e, const=a.const)

    def _Case(self, e: ast.Case) -> BExpr:
        results = [self.bind(then) for _, then in e.whens] + ([self.bind(e.default)] if e.default is not None else [])
        t = tc.common_type([r.type for r in results])
        conv = [_converter(r.type, t) for r in results]
        thens = [(c, r.fn) for c, r in zip(conv, results)]
        default = thens[-1] if e.default is not None else None
        if e.operand is None:
            conds = [self.condition(w).fn for w, _ in e.whens]
            pairs = list(zip(conds, thens))

            def searched(row: Row) -> Any:
                for cond, (c, then) in pairs:
                    if cond(row) is True:
                        return c(then(row))
                return default[0](default[1](row)) if default is not None else None

            return BExpr(t, searched, e)
        subject = self.bind(e.operand)
        whens = []
        for w, _ in e.whens:
            wb = self.bind(w)
            s2, wb = _coerce_pair(subject, wb)
            if not tc.comparable(subject.type, wb.type):
                raise tc.not_equatable(subject.type, wb.type)
            whens.append(wb.fn)
        eq = _comparison("=", subject.type, subject.type)
        sf = subject.fn
        pairs2 = list(zip(whens, thens))

        def simple(row: Row) -> Any:
            v = sf(row)
            if v is not None:
                for w, (c, then) in pairs2:
                    x = w(row)
                    if x is not None and eq(v, x):
                        return c(then(row))
            return default[0](default[1](row)) if default is not None else None

        return BExpr(t, simple, e)

    def _Cast(self, e: ast.Cast) -> BExpr:
        a = self.bind(e.expr)
        target = tc.type_named(e.type.name, e.type.arg)
        tc.cast_type(a.type, target)
        conv = cast_function(a.type, target)
        return _fold(target, conv, (a,), e)

    # --- functions ------------------------------------------------------------------------------

    def _Func(self, e: ast.Func) -> BExpr:
        if e.name in AGGREGATES:
            if self.grouped is not None:
                raise TypeMismatchError(f"aggregate {e.name}() is not computed for this query")
            raise TypeMismatchError(f"aggregate {e.name}() is not allowed in {self.where}")
        if e.filter is not None:
            raise TypeMismatchError(f"FILTER applies to aggregates, not to {e.name}()")
        if e.star or e.distinct:
            raise TypeMismatchError(f"{e.name}() is not an aggregate: * and DISTINCT are not allowed")
        if e.name == "COALESCE":
            return self._coalesce(e)
        if e.name == "ABS":
            return self._abs(e)
        if e.name == "RANGEQ":
            raise TypeMismatchError("RANGEQ is a condition of WHERE on an IDSETQ or STRINGSETQ column")
        if e.name not in functions.SCALARS:
            raise NotSupportedError(f"function {e.name} is not supported")
        fn = functions.check_arity(e.name, len(e.args))
        args = [self.bind(a) for a in e.args]
        kinds = fn.params + (fn.params[-1],) * (len(args) - len(fn.params))
        convs = []
        set_type: Optional[T] = None
        for i, (kind, a) in enumerate(zip(kinds, args)):
            convs.append(_param_converter(e.name, kind, a, set_type))
            if kind == "set":
                set_type = a.type
        impl, name = fn.impl, e.name
        pairs = list(zip(convs, (a.fn for a in args)))

        def call(row: Row) -> Any:
            values = []
            for conv, f in pairs:
                v = f(row)
                if v is None:
                    return None
                values.append(conv(v))
            return guarded(name, impl, values)

        out = BExpr(fn.result, call, e, const=all(a.const for a in args) and name not in _VOLATILE)
        return _folded(out)

    def _coalesce(self, e: ast.Func) -> BExpr:
        if not e.args:
            raise TypeMismatchError("'COALESCE': count of formal parameters (1 or more) does not match count of "
                                    "actual parameters (0)")
        args = [self.bind(a) for a in e.args]
        t = tc.common_type([a.type for a in args])
        pairs = [(_converter(a.type, t), a.fn) for a in args]

        def coalesce(row: Row) -> Any:
            for conv, f in pairs:
                v = f(row)
                if v is not None:
                    return conv(v)
            return None

        return _folded(BExpr(t, coalesce, e, const=all(a.const for a in args)))

    def _abs(self, e: ast.Func) -> BExpr:
        if len(e.args) != 1:
            raise TypeMismatchError(f"'ABS': count of formal parameters (1) does not match count of actual "
                                    f"parameters ({len(e.args)})")
        a = self.bind(e.args[0])
        if not (tc.is_numeric(a.type) or a.type.kind == "void"):
            raise TypeMismatchError(f"ABS: numeric expression expected, got {a.type.upper}")
        t = INT if a.type.kind in ("id", "void") else a.type
        return _fold(t, abs, (a,), e)


# --- helpers for bound expressions ---------------------------------------------------------------

# Set when a binder binds CURRENT_TIMESTAMP or CURRENT_DATE: a plan holding the moment's
# value is never reused (engine/sql/plan_cache.py).
CLOCK_READ: ContextVar[bool] = ContextVar("sql_clock_read", default=False)

_VOLATILE = ()     # functions whose value may change between calls (none: CURRENT_* bind once)


def _slot(i: int) -> Fn:
    return lambda row: row[i]


def _const(t: T, value: Any, e: Any) -> BExpr:
    return BExpr(t, lambda row: value, e, const=True, literal=isinstance(e, ast.Literal))


def _folded(b: BExpr) -> BExpr:
    """A constant expression evaluated now (errors in it surface at planning)."""
    if not b.const:
        return b
    value = b.fn(())
    return BExpr(b.type, lambda row: value, b.ast, const=True)


def _fold(t: T, op: Callable[..., Any], args: tuple[BExpr, ...], e: Any) -> BExpr:
    """An operator over its operands' values with NULL propagation, folded when every
    operand is constant."""
    if len(args) == 1:
        (a,) = args
        fa = a.fn

        def unary(row: Row) -> Any:
            v = fa(row)
            return None if v is None else op(v)

        b = BExpr(t, unary, e, const=a.const)
    elif len(args) == 2:
        fa, fb = args[0].fn, args[1].fn

        def binary(row: Row) -> Any:
            x = fa(row)
            if x is None:
                return None
            y = fb(row)
            return None if y is None else op(x, y)

        b = BExpr(t, binary, e, const=args[0].const and args[1].const)
    else:
        fns = [a.fn for a in args]

        def nary(row: Row) -> Any:
            vals = [f(row) for f in fns]
            return None if None in vals else op(*vals)

        b = BExpr(t, nary, e, const=all(a.const for a in args))
    return _folded(b)


def _coerce_pair(a: BExpr, b: BExpr) -> tuple[BExpr, BExpr]:
    """A string or integer literal compared with a TIMESTAMP becomes a timestamp (FeatureBase
    converts string literals; an integer literal is Unix seconds, as roarbase reads it in
    WHERE and INSERT)."""
    if a.type.kind == "timestamp" and b.literal and b.type.kind in ("string", "int"):
        return a, timestamp_literal(b)
    if b.type.kind == "timestamp" and a.literal and a.type.kind in ("string", "int"):
        return timestamp_literal(a), b
    return a, b


def timestamp_literal(b: BExpr) -> BExpr:
    v = b.fn(())
    try:
        t = datetime_of_seconds(v) if isinstance(v, int) else parse_timestamp(v)
    except EngineError:
        raise TypeMismatchError(f"unable to convert {v!r} to type 'timestamp'") from None
    return BExpr(TIMESTAMP, lambda row: t, b.ast, const=True, literal=True)


def _int_checked(v: int) -> int:
    if not INT_MIN <= v <= INT_MAX:
        raise QueryExecutionError(f"integer result {v} is out of the 64-bit range", name="VALUE_OUT_OF_RANGE")
    return v


def _divide_by_zero() -> QueryExecutionError:
    return QueryExecutionError("division by zero", name="DIVIDE_BY_ZERO")


def _arithmetic(op: str, t: T) -> Callable[[Any, Any], Any]:
    if t.kind in ("int", "id"):
        def ints(a: int, b: int) -> int:
            if op == "+":
                return _int_checked(a + b)
            if op == "-":
                return _int_checked(a - b)
            if op == "*":
                return _int_checked(a * b)
            if b == 0:
                raise _divide_by_zero()
            q = abs(a) // abs(b)             # Go: truncated toward zero, remainder takes a's sign
            if op == "/":
                return _int_checked(q if (a >= 0) == (b >= 0) else -q)
            r = abs(a) - q * abs(b)
            return r if a >= 0 else -r
        return ints
    if t.kind == "float":
        def floats(a: Any, b: Any) -> float:
            x, y = float(a), float(b)
            if op in ("/", "%") and y == 0:
                raise _divide_by_zero()
            v = x + y if op == "+" else x - y if op == "-" else x * y if op == "*" else \
                x / y if op == "/" else math.fmod(x, y)
            if not math.isfinite(v):
                raise QueryExecutionError(f"float result of {op} is out of range", name="VALUE_OUT_OF_RANGE")
            return v
        return floats
    unit = Decimal(1).scaleb(-t.scale)

    def decimals(a: Any, b: Any) -> Decimal:
        x, y = Decimal(a), Decimal(b)
        if op == "/" and y == 0:
            raise _divide_by_zero()
        with localcontext() as ctx:
            ctx.prec = max(60, _digits(x) + _digits(y) + t.scale + 4)
            v = x + y if op == "+" else x - y if op == "-" else x * y if op == "*" else x / y
            return v.quantize(unit, rounding=ROUND_HALF_EVEN)
    return decimals


def _digits(d: Decimal) -> int:
    return len(d.as_tuple().digits) + max(int(d.as_tuple().exponent), 0) if d.is_finite() else 1


def _bitwise(op: str) -> Callable[[int, int], int]:
    def bits(a: int, b: int) -> int:
        if op == "&":
            return a & b
        if op == "|":
            return a | b
        if not 0 <= b <= 63:
            raise QueryExecutionError(f"shift count {b} is outside 0..63", name="VALUE_OUT_OF_RANGE")
        if op == ">>":
            return a >> b
        v = (a << b) & (2**64 - 1)           # int64 two's complement, as FeatureBase computes
        return v - 2**64 if v >= 2**63 else v
    return bits


def _concat(a: str, b: str) -> str:
    functions.check_length(len(a) + len(b), "the result of ||")
    return a + b


def _normaliser(t: T) -> Callable[[Any], Any]:
    """Values made comparable as keys: a set by its members (order ignored)."""
    if tc.is_set(t):
        return lambda v: frozenset(v) if isinstance(v, list) else v
    return lambda v: v


def _comparison(op: str, ta: T, tb: T) -> Callable[[Any, Any], bool]:
    if tc.is_set(ta) or tc.is_set(tb):
        def sets(a: Any, b: Any) -> bool:
            eq = frozenset(a) == frozenset(b)
            return eq if op == "=" else not eq
        return sets
    return {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}[op]


def comparison(op: str, ta: T, tb: T) -> Callable[[Any, Any], bool]:
    return _comparison(op, ta, tb)


_LIKE_CACHE: dict[str, Any] = {}


def like_regex(pattern: str) -> Any:
    """LIKE's pattern as a regular expression: % any run, _ one character, the rest literal."""
    rx = _LIKE_CACHE.get(pattern)
    if rx is None:
        rx = re.compile("".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern),
                        re.DOTALL)
        if len(_LIKE_CACHE) > 256:
            _LIKE_CACHE.clear()
        _LIKE_CACHE[pattern] = rx
    return rx


def guarded(name: str, impl: Callable[..., Any], values: list[Any]) -> Any:
    """Call a function's implementation; anything it raises that is not one of the engine's
    errors becomes a typed error (a function never lets a Python exception out)."""
    try:
        return impl(*values)
    except EngineError:
        raise
    except (ArithmeticError, ValueError, OverflowError, IndexError, KeyError, TypeError, UnicodeError) as exc:
        raise QueryExecutionError(f"{name}: invalid argument ({exc})", name="INVALID_ARGUMENT") from None


def _param_converter(name: str, kind: str, a: BExpr, set_type: Optional[T]) -> Callable[[Any], Any]:
    """Check an argument's type against a parameter kind; the function applied to its
    (non-NULL) value at run time."""
    t = a.type

    def fail(expected: str) -> TypeMismatchError:
        return TypeMismatchError(f"{name}: {expected} expression expected (an expression of type "
                                 f"'{t.upper}' cannot be passed to a parameter of type '{kind}')")

    ident = _identity
    if kind == "any" or t.kind == "void":
        if kind == "set" and t.kind == "void":
            raise TypeMismatchError(f"{name}: set expression expected")
        if kind == "member" and t.kind == "void" and set_type is not None:
            raise tc.not_equatable(set_type, t)
        return ident
    if kind == "string":
        if t.kind != "string":
            raise fail("string")
        return ident
    if kind == "int":
        if not tc.is_integer(t):
            raise fail("integer")
        return ident
    if kind == "number":
        if not tc.is_numeric(t):
            raise fail("numeric")
        return ident
    if kind == "timestamp":
        if t.kind == "timestamp":
            return ident
        if t.kind in ("string", "int"):
            if a.literal:           # a literal that is no time is refused before running
                timestamp_literal(a)
            return lambda v: functions.to_timestamp_value(v, name)
        raise fail("timestamp")
    if kind == "set":
        if not tc.is_set(t):
            raise TypeMismatchError(f"{name}: set expression expected")
        if set_type is not None and tc.element_of(t) != tc.element_of(set_type):
            raise tc.not_equatable(tc.element_of(set_type), tc.element_of(t))
        return ident
    if kind == "member":
        assert set_type is not None
        element = tc.element_of(set_type)
        if tc.is_set(t) or not (t.kind == element.kind or (element.kind == "id" and t.kind == "int")):
            raise tc.not_equatable(set_type, t)
        return ident
    raise AssertionError(kind)


def _identity(v: Any) -> Any:
    return v


def _converter(source: T, target: T) -> Callable[[Any], Any]:
    """A value of `source` as a value of an assignable `target` (CASE / COALESCE branches)."""
    if target.kind == "decimal" and source.kind != "void":
        unit = Decimal(1).scaleb(-target.scale)
        return lambda v: Decimal(v).quantize(unit)
    if target.kind == "float" and source.kind in ("int", "id", "decimal"):
        return float
    if target.kind == "timestamp" and source.kind == "string":
        return lambda v: functions.to_timestamp_value(v)
    return _identity


# --- CAST ----------------------------------------------------------------------------------------

def _cast_error(v: Any, target: T) -> TypeMismatchError:
    return TypeMismatchError(f"'{v}' cannot be cast to '{target.upper}'")


_INT_TEXT = re.compile(r"\s*[+-]?[0-9]+\s*")
_TRUE = ("1", "t", "true")
_FALSE = ("0", "f", "false")


def cast_function(source: T, target: T) -> Callable[[Any], Any]:
    """The conversion CAST(x AS target) applies to a non-NULL value of `source` (the pair
    is allowed: typecheck.can_cast)."""
    s, k = source.kind, target.kind
    if k == s and k != "decimal":
        return _identity
    if k in ("int", "id"):
        def to_int(v: Any) -> int:
            if isinstance(v, bool):
                return int(v)
            if isinstance(v, _dt.datetime):
                return _seconds(v)
            if isinstance(v, str):
                if not _INT_TEXT.fullmatch(v) or len(v) > 40:
                    raise _cast_error(v, target)
                v = int(v)
            elif isinstance(v, float):
                if not math.isfinite(v):
                    raise _cast_error(v, target)
                v = int(v)
            if (k == "id" and v < 0) or not INT_MIN <= v <= INT_MAX:
                raise _cast_error(v, target)
            return v
        return to_int
    if k == "bool":
        def to_bool(v: Any) -> bool:
            if isinstance(v, str):
                low = v.strip().lower()
                if low in _TRUE:
                    return True
                if low in _FALSE:
                    return False
                raise _cast_error(v, target)
            return v != 0
        return to_bool
    if k == "decimal":
        unit = Decimal(1).scaleb(-target.scale)

        def to_decimal(v: Any) -> Decimal:
            try:
                d = Decimal(v.strip()) if isinstance(v, str) else Decimal(repr(v)) if isinstance(v, float) \
                    else Decimal(v)
                if not d.is_finite() or d.adjusted() > 18:
                    raise _cast_error(v, target)
                with localcontext() as ctx:
                    ctx.prec = 60
                    return d.quantize(unit, rounding=ROUND_HALF_EVEN)
            except (InvalidOperation, ValueError):
                raise _cast_error(v, target) from None
        return to_decimal
    if k == "float":
        def to_float(v: Any) -> float:
            try:
                f = float(v.strip()) if isinstance(v, str) else float(v)
            except (ValueError, OverflowError):
                raise _cast_error(v, target) from None
            if not math.isfinite(f):
                raise _cast_error(v, target)
            return f
        return to_float
    if k == "string":
        if s in ("idset", "idsetq"):
            return functions.set_text
        if s in ("stringset", "stringsetq"):
            return lambda v: "[" + ",".join('"' + m.replace("\\", "\\\\").replace('"', '\\"') + '"' for m in v) \
                + "]"
        if s == "bool":
            return lambda v: "true" if v else "false"
        if s == "timestamp":
            return rfc3339
        if s == "decimal":
            return lambda v: format(v, "f")
        if s == "float":
            return repr
        return str
    if k == "timestamp":
        def to_timestamp(v: Any) -> _dt.datetime:
            if isinstance(v, int):
                if not MIN_SECONDS <= v <= MAX_SECONDS:
                    raise _cast_error(v, target)
                return datetime_of_seconds(v)
            try:
                return parse_timestamp(v)
            except EngineError:
                raise _cast_error(v, target) from None
        return to_timestamp
    # set to its own kind (IDSETQ → IDSET …)
    return _identity


def _seconds(t: _dt.datetime) -> int:
    """Unix seconds of a timestamp, rounded down."""
    d = t - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
    return d.days * 86400 + d.seconds


def value_as(t: T, v: Any) -> Any:
    """A Python value as a value of type t (for results computed outside the binder: a
    decimal at its scale)."""
    if v is None:
        return None
    if t.kind == "decimal":
        return Decimal(v).quantize(Decimal(1).scaleb(-t.scale), rounding=ROUND_HALF_EVEN)
    if t.kind == "float":
        return float(v)
    return v

