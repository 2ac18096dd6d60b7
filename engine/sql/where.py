"""WHERE clauses → plan row nodes, with SQL's three-valued logic.

NOT is pushed down to the leaves (De Morgan), and a negated leaf keeps only records whose
value is known: NOT (a = 5) is a != 5, which, like every comparison, never matches a NULL.
Set columns are never NULL for SETCONTAINS: a record without members has the empty set, so
NOT SETCONTAINS(s, 'x') includes it.
"""
from __future__ import annotations

import datetime as _dt
from decimal import Decimal, localcontext
from typing import Any, Callable, Optional

from engine import plan as P
from engine.errors import ColumnNotFoundError, EngineError, NotSupportedError, TypeMismatchError
from engine.executor import Executor
from engine.schema import STANDARD_VIEW, TIME_UNITS, FieldDef, parse_timestamp
from engine.sql import ast
from engine.sql.types import datetime_of_seconds, sql_type_of
from engine.timeviews import views_for_range

ID_COLUMN = "_id"
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}
_NEGATE = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
SET_TYPES = ("set", "time")
MANY_RANGES = 64       # an IN list with more runs of values than this is matched to the values held


class Where:
    """Lowers predicates for one table (index)."""

    def __init__(self, index: Any, scan: Optional[Callable[[ast.Expr, bool], P.RowNode]] = None) -> None:
        self.index = index
        # Evaluates a condition record by record (SELECT's WHERE over expressions, functions,
        # column-to-column comparisons); None: only conditions on a column and literals.
        self.scan = scan

    def field(self, col: ast.Column) -> Optional[FieldDef]:
        """The column's field definition; None for _id."""
        if col.name == ID_COLUMN:
            return None
        fd = self.index.definition.fields.get(col.name)
        if fd is None:
            raise ColumnNotFoundError(f"column '{col.name}' not found in table {self.index.name}")
        return fd

    def existence(self) -> P.RowNode:
        if not self.index.definition.options.track_existence:
            raise NotSupportedError(f"table {self.index.name} does not track existence")
        return P.Existence()

    def lower(self, e: ast.Expr, negate: bool = False) -> P.RowNode:
        if isinstance(e, ast.And):
            kids = tuple(self.lower(t, negate) for t in e.terms)
            return P.Union_(kids) if negate else P.Intersect(kids)
        if isinstance(e, ast.Or):
            kids = tuple(self.lower(t, negate) for t in e.terms)
            return P.Intersect(kids) if negate else P.Union_(kids)
        if isinstance(e, ast.Not):
            return self.lower(e.expr, not negate)
        if self.scan is not None and not _bitmap_leaf(e):
            return self.scan(e, negate)
        if isinstance(e, ast.Compare):
            return self._compare(e, negate)
        if isinstance(e, ast.IsNull):
            col = _column(e.expr, "IS NULL")
            not_null = self.not_null(col)
            is_null = P.Difference((self.existence(), not_null))
            return not_null if (e.negated != negate) else is_null
        if isinstance(e, ast.Between):
            return self._between(e, negate)
        if isinstance(e, ast.InList):
            return self._in(e, negate)
        if isinstance(e, ast.Like):
            return self._like(e, negate)
        if isinstance(e, ast.Func):
            return self._func(e, negate)
        if isinstance(e, ast.Literal) and e.kind == "bool":
            return self.existence() if e.value != negate else P.Empty()
        if isinstance(e, ast.Column):
            fd = self.field(e)
            if fd is None or fd.options.type != "bool":
                raise TypeMismatchError(f"column {e.name} is not a boolean condition")
            return self._equals(fd, e, True, negate)
        if isinstance(e, ast.Unsupported):
            raise NotSupportedError(f"{e.what} are not supported")
        raise TypeMismatchError(f"not a condition: {_show(e)}")

    # --- leaves -------------------------------------------------------------------------------

    def not_null(self, col: ast.Column) -> P.RowNode:
        fd = self.field(col)
        if fd is None:
            return self.existence()
        if fd.options.is_bsi:
            return P.BsiNotNull(fd.id)
        return P.AnyRow(fd.id, self._all_views(fd))

    def _all_views(self, fd: FieldDef) -> tuple[str, ...]:
        if fd.options.type == "time" and fd.options.no_standard_view:
            return tuple(self.index.snapshot().views(fd.id)) or (STANDARD_VIEW,)
        return (STANDARD_VIEW,)

    def _compare(self, e: ast.Compare, negate: bool) -> P.RowNode:
        left, right, op = e.left, e.right, e.op
        if not isinstance(left, ast.Column) and isinstance(right, ast.Column):
            left, right, op = right, left, _FLIP[op]
        col = _column(left, op)
        lit = _literal(right, op)
        if negate:
            op = _NEGATE[op]
        fd = self.field(col)
        if lit.kind == "null":
            return P.Empty()                       # any comparison with NULL is unknown
        if fd is None:
            return self._id_compare(op, lit)
        if fd.options.type == "float":
            return self.float_compare(fd, op, lit)
        if fd.options.is_bsi:
            v = self.stored(fd, lit)
            return {"=": P.BsiRange(fd.id, v, v), "<": P.BsiRange(fd.id, None, v - 1),
                    "<=": P.BsiRange(fd.id, None, v), ">": P.BsiRange(fd.id, v + 1, None),
                    ">=": P.BsiRange(fd.id, v, None),
                    "!=": P.Difference((P.BsiNotNull(fd.id), P.BsiRange(fd.id, v, v)))}[op]
        if fd.options.type in SET_TYPES:
            raise TypeMismatchError(f"column {fd.name} is a set: use SETCONTAINS({fd.name}, …)")
        if op == "=":
            return self._equals(fd, col, lit.value, False)
        if op == "!=":
            return self._equals(fd, col, lit.value, True)
        if fd.options.keys or fd.options.type == "bool":
            raise TypeMismatchError(f"{op} is not defined for {self._sql_type(fd)} column {fd.name}")
        # ID columns (unkeyed mutex): compare row ids
        v = _int_of(lit, fd.name)
        ids = [r for r in self.index.snapshot().row_ids(fd.id, STANDARD_VIEW)
               if {"<": r < v, "<=": r <= v, ">": r > v, ">=": r >= v}[op]]
        return P.Union_(tuple(P.RowOf(fd.id, r) for r in ids)) if ids else P.Empty()

    def float_compare(self, fd: FieldDef, op: str, lit: ast.Literal) -> P.RowNode:
        """A float column against a literal: exact on the stored encoding, ±0 equal."""
        value = _plain(lit)
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            raise TypeMismatchError(f"column {fd.name} is {self._sql_type(fd)}: cannot compare with {_show(lit)}")
        if op == "!=":
            return P.Difference((P.BsiNotNull(fd.id), self.float_compare(fd, "=", lit)))
        bounds = fd.options.float_range("==" if op == "=" else op, value)
        if bounds is None:
            return P.Empty()
        return P.BsiNotNull(fd.id) if bounds == (None, None) else P.BsiRange(fd.id, *bounds)

    def _equals(self, fd: FieldDef, col: ast.Column, value: Any, negate: bool) -> P.RowNode:
        row = self.row_id(fd, value)
        hit: P.RowNode = P.Empty() if row is None else P.RowOf(fd.id, row, self._all_views(fd))
        if not negate:
            return hit
        return P.Difference((P.AnyRow(fd.id, self._all_views(fd)), hit))

    def row_id(self, fd: FieldDef, value: Any) -> Optional[int]:
        opts = fd.options
        if opts.type == "bool":
            if not isinstance(value, bool):
                raise TypeMismatchError(f"column {fd.name} is bool: compare with true or false")
            return int(value)
        if opts.keys:
            if not isinstance(value, str):
                raise TypeMismatchError(f"column {fd.name} is {self._sql_type(fd)}: compare with a string")
            return self.index.row_keys(fd).id(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeMismatchError(f"column {fd.name} is {self._sql_type(fd)}: compare with an integer")
        return value if value >= 0 else None

    def _column_id(self, lit: ast.Literal) -> Optional[int]:
        """The record (column) id an _id literal names; None when there is none."""
        if self.index.definition.options.keys:
            if not isinstance(lit.value, str):
                raise TypeMismatchError("_id is a string in this table")
            return self.index.column_keys.id(lit.value)
        v = _int_of(lit, ID_COLUMN)
        return v if v >= 0 else None

    def _id_compare(self, op: str, lit: ast.Literal) -> P.RowNode:
        if op in ("=", "!="):
            c = self._column_id(lit)
            hit: P.RowNode = P.Empty() if c is None else P.ConstRow((c,), True)
            return hit if op == "=" else P.Difference((self.existence(), hit))
        if self.index.definition.options.keys:
            raise TypeMismatchError(f"{op} is not defined for a string _id")
        v = _int_of(lit, ID_COLUMN)
        lo, hi = {"<": (0, v - 1), "<=": (0, v), ">": (v + 1, None), ">=": (v, None)}[op]
        return self.id_range(max(lo, 0), hi)

    def id_range(self, lo: int, hi: Optional[int]) -> P.RowNode:
        if hi is not None and hi < lo:
            return P.Empty()
        self.existence()
        return P.IdRange(lo, hi)

    def _between(self, e: ast.Between, negate: bool) -> P.RowNode:
        col = _column(e.expr, "BETWEEN")
        lo_lit, hi_lit = _literal(e.lo, "BETWEEN"), _literal(e.hi, "BETWEEN")
        neg = e.negated != negate
        fd = self.field(col)
        if lo_lit.kind == "null" or hi_lit.kind == "null":
            return P.Empty()
        if fd is None:
            if self.index.definition.options.keys:
                raise TypeMismatchError("BETWEEN is not defined for a string _id")
            lo, hi = _int_of(lo_lit, ID_COLUMN), _int_of(hi_lit, ID_COLUMN)
            rng = self.id_range(max(lo, 0), hi) if hi >= 0 else P.Empty()
            return P.Difference((self.existence(), rng)) if neg else rng
        if not fd.options.is_bsi:
            raise TypeMismatchError(f"BETWEEN needs an int, decimal, timestamp or id column; {fd.name} is "
                                    f"{self._sql_type(fd)}")
        if fd.options.type == "float":
            rng = P.Intersect((self.float_compare(fd, ">=", lo_lit), self.float_compare(fd, "<=", hi_lit)))
            return P.Difference((P.BsiNotNull(fd.id), rng)) if neg else rng
        lo, hi = self.stored(fd, lo_lit), self.stored(fd, hi_lit)
        rng = P.BsiRange(fd.id, lo, hi) if lo <= hi else P.Empty()
        return P.Difference((P.BsiNotNull(fd.id), rng)) if neg else rng

    def _in(self, e: ast.InList, negate: bool) -> P.RowNode:
        col = _column(e.expr, "IN")
        neg = e.negated != negate
        lits = [_literal(i, "IN") for i in e.items]
        if neg and any(lit.kind == "null" for lit in lits):
            return P.Empty()                   # x NOT IN (…, NULL) is never true
        # each distinct value once: a long list costs one pass, not a plan node per item
        distinct = list({(lit.kind, lit.value): lit for lit in lits if lit.kind != "null"}.values())
        fd = self.field(col)
        hit: P.RowNode
        if fd is None:
            ids = sorted({c for c in (self._column_id(lit) for lit in distinct) if c is not None})
            hit = P.ConstRow(tuple(ids), True) if ids else P.Empty()
        elif fd.options.type == "float":
            parts = [self.float_compare(fd, "=", lit) for lit in distinct]
            hit = P.Union_(tuple(parts)) if len(parts) > 1 else parts[0] if parts else P.Empty()
        elif fd is not None and fd.options.is_bsi:
            hit = self._bsi_in(fd, {self.stored(fd, lit) for lit in distinct})
        else:
            if len(distinct) > MANY_RANGES and fd is not None and not fd.options.keys and \
                    fd.options.type == "mutex":
                rows = set(self.index.snapshot().row_ids(fd.id, STANDARD_VIEW))
                for lit in distinct:
                    self.row_id(fd, lit.value)          # type-check every item
                distinct = [lit for lit in distinct if lit.value in rows]
            parts = [self._compare(ast.Compare("=", col, lit), False) for lit in distinct]
            parts = [p for p in parts if not isinstance(p, P.Empty)]
            hit = P.Union_(tuple(parts)) if len(parts) > 1 else parts[0] if parts else P.Empty()
        if not neg:
            return hit
        return P.Difference((self.not_null(col), hit))

    def _bsi_in(self, fd: FieldDef, wanted: set[int]) -> P.RowNode:
        """Records whose stored value is in `wanted`: one BSI range per run of consecutive
        values; with many runs, one per run of the values the column holds (read once, from
        the index's current snapshot, as the ID column comparisons do)."""
        ranges: list[tuple[int, int]] = []
        for v in sorted(wanted):
            ranges.append((ranges.pop()[0], v) if ranges and ranges[-1][1] == v - 1 else (v, v))
        if len(ranges) > MANY_RANGES:
            present = Executor(self.index, self.index.snapshot()).distinct_values(P.Distinct(None, fd.id))
            ranges, extend = [], False
            for v in present:                   # a run of held values has no other held value inside
                if v in wanted:
                    ranges.append((ranges.pop()[0], v) if extend else (v, v))
                extend = v in wanted
        nodes = tuple(P.BsiRange(fd.id, lo, hi) for lo, hi in ranges)
        return P.Empty() if not nodes else nodes[0] if len(nodes) == 1 else P.Union_(nodes)

    def _like(self, e: ast.Like, negate: bool) -> P.RowNode:
        col = _column(e.expr, "LIKE")
        pat = _literal(e.pattern, "LIKE")
        fd = self.field(col)
        if fd is None or not fd.options.keys or fd.options.type != "mutex" or pat.kind != "string":
            raise TypeMismatchError("LIKE needs a string column and a string pattern")
        ids = self.index.row_keys(fd).like(pat.value)
        hit: P.RowNode = P.Union_(tuple(P.RowOf(fd.id, i) for i in ids)) if ids else P.Empty()
        if e.negated != negate:
            return P.Difference((P.AnyRow(fd.id), hit))
        return hit

    def _func(self, f: ast.Func, negate: bool) -> P.RowNode:
        name = f.name
        if name == "SETEXCLUDES":           # NOT SETCONTAINS (function-setexcludes.md)
            return self._func(ast.Func("SETCONTAINS", f.args), not negate)
        if name in ("SETCONTAINS", "SETCONTAINSANY", "SETCONTAINSALL"):
            if len(f.args) != 2:
                raise TypeMismatchError(f"{name} takes a set column and a value")
            col = _column(f.args[0], name)
            fd = self.field(col)
            if fd is None or fd.options.type not in SET_TYPES:
                raise TypeMismatchError(f"{name} needs a set column")
            lit = _literal(f.args[1], name)
            if name == "SETCONTAINS":
                node = self._equals(fd, col, _plain(lit), False)
            else:
                if lit.kind != "set":
                    raise TypeMismatchError(f"{name} needs a set literal such as ['a', 'b']")
                parts = tuple(self._equals(fd, col, _plain(_literal(i, name)), False) for i in lit.value)
                if not parts:
                    node = P.Empty() if name == "SETCONTAINSANY" else self.existence()
                else:
                    node = P.Union_(parts) if name == "SETCONTAINSANY" else P.Intersect(parts)
            return P.Difference((self.existence(), node)) if negate else node
        if name == "RANGEQ":
            if len(f.args) != 3:
                raise TypeMismatchError("RANGEQ takes a column, a start and an end")
            col = _column(f.args[0], name)
            fd = self.field(col)
            if fd is None or fd.options.type != "time":
                raise TypeMismatchError("RANGEQ needs an IDSETQ or STRINGSETQ column")
            lo, hi = _literal(f.args[1], name), _literal(f.args[2], name)
            if lo.kind == "null" and hi.kind == "null":
                raise TypeMismatchError("RANGEQ needs at least one bound")
            existing = sorted(v for v in self.index.snapshot().views(fd.id) if v != STANDARD_VIEW)
            views = views_for_range(fd.options.time_quantum, _time(lo), _time(hi), existing)
            node = P.AnyRow(fd.id, tuple(views)) if views else P.Empty()
            return P.Difference((self.existence(), node)) if negate else node
        raise TypeMismatchError(f"{name}() is not a condition")

    # --- values ---------------------------------------------------------------------------------

    def stored(self, fd: FieldDef, lit: ast.Literal) -> int:
        value = _plain(lit)
        if fd.options.type == "timestamp" and isinstance(value, int) and not isinstance(value, bool):
            # SQL ints are Unix seconds: converted exactly, so a bound past year 9999 still
            # compares (it matches nothing, or everything) instead of overflowing a datetime.
            return (value - fd.options.epoch) * TIME_UNITS[fd.options.time_unit]
        if fd.options.type in ("int", "decimal") and not isinstance(value, (int, Decimal)) or \
                isinstance(value, bool):
            raise TypeMismatchError(f"column {fd.name} is {self._sql_type(fd)}: cannot compare with {_show(lit)}")
        try:
            with localcontext() as ctx:
                # exact scaling of a literal with many digits (the default 28 would trap)
                ctx.prec = max(ctx.prec, _digits(value) + fd.options.scale + 2)
                return fd.options.to_stored(value)
        except EngineError as exc:
            raise TypeMismatchError(f"column {fd.name}: {exc.message}") from None

    def _sql_type(self, fd: FieldDef) -> str:
        return sql_type_of(fd.options)


def _bitmap_leaf(e: ast.Expr) -> bool:
    """Whether a condition leaf lowers onto bitmaps: a column against literals, the set
    functions, RANGEQ, a bool column or literal (the rest is evaluated record by record)."""
    def col(x: Any) -> bool:
        return isinstance(x, ast.Column)

    def lit(x: Any) -> bool:
        return isinstance(x, ast.Literal)

    if isinstance(e, ast.Compare):
        return (col(e.left) and lit(e.right)) or (lit(e.left) and col(e.right))
    if isinstance(e, ast.IsNull):
        return col(e.expr)
    if isinstance(e, ast.Between):
        return col(e.expr) and lit(e.lo) and lit(e.hi)
    if isinstance(e, ast.InList):
        return col(e.expr) and all(map(lit, e.items))
    if isinstance(e, ast.Like):
        return col(e.expr) and lit(e.pattern)
    if isinstance(e, ast.Func):
        return e.name in ("SETCONTAINS", "SETCONTAINSANY", "SETCONTAINSALL", "SETEXCLUDES", "RANGEQ")
    return col(e) or lit(e) or isinstance(e, ast.Unsupported)


def _column(e: ast.Expr, what: str) -> ast.Column:
    if not isinstance(e, ast.Column):
        raise TypeMismatchError(f"{what} needs a column, got {_show(e)}")
    if e.table is not None:
        raise NotSupportedError("qualified column names (joins) are not supported")
    return e


def _literal(e: ast.Expr, what: str) -> ast.Literal:
    if isinstance(e, ast.Neg) and isinstance(e.expr, ast.Literal) and e.expr.kind in ("int", "decimal"):
        return ast.Literal(e.expr.value.copy_negate() if e.expr.kind == "decimal" else -e.expr.value, e.expr.kind)
    if isinstance(e, ast.Unsupported):
        raise NotSupportedError(f"{e.what} are not supported")
    if not isinstance(e, ast.Literal):
        raise NotSupportedError(f"{what}: only literal values can be compared with a column, got {_show(e)}")
    return e


def _plain(lit: ast.Literal) -> Any:
    return lit.value


def _digits(v: Any) -> int:
    """Digits of a number's integer part and fraction (what scaling it exactly needs)."""
    if isinstance(v, Decimal):
        t = v.as_tuple()
        return len(t.digits) + max(int(t.exponent), 0)
    return len(str(v))


def _int_of(lit: ast.Literal, name: str) -> int:
    if lit.kind != "int":
        raise TypeMismatchError(f"column {name} is an id: compare with an integer")
    return int(lit.value)


def _time(lit: ast.Literal) -> Optional[_dt.datetime]:
    if lit.kind == "null":
        return None
    try:
        if lit.kind == "int":
            return datetime_of_seconds(lit.value)
        return parse_timestamp(lit.value)
    except EngineError as exc:
        raise TypeMismatchError(exc.message) from None


def _show(e: Any) -> str:
    if isinstance(e, ast.Literal):
        return repr(e.value)
    if isinstance(e, ast.Column):
        return e.name
    if isinstance(e, ast.Func):
        return f"{e.name}(…)"
    return type(e).__name__
