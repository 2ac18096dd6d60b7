"""WHERE conditions over one table → a row node of the plan IR, with SQL's three-valued
logic. Lowering only reads the schema and the snapshot the statement runs on; it never
runs a query.

NOT is pushed down to the leaves (De Morgan), and a negated leaf keeps only records whose
value is known: NOT (a = 5) is a != 5, which, like every comparison, never matches a NULL.
Set columns are never NULL for the set functions in WHERE: a record without members has the
empty set, so NOT SETCONTAINS(s, 'x') includes it (FeatureBase's Not(Row(…))).

A leaf that does not compare a column with a constant (two columns, an expression, a
function of a column) becomes a HostFilter: evaluated record by record, in each shard, on
the records the rest of the condition leaves. A leaf over a subquery becomes a Deferred
node: the subquery runs when the statement does, once.
"""
from __future__ import annotations

import datetime as _dt
import math
from decimal import Decimal, localcontext
from typing import Any, Callable, Optional

from engine import lowering
from engine import plan as P
from engine.arrays import sorted_unique
from engine.errors import EngineError, NotSupportedError, TypeMismatchError
from engine.schema import STANDARD_VIEW, TIME_UNITS, FieldDef, parse_timestamp
from engine.sql import ast
from engine.sql import typecheck as tc
from engine.sql.bind import BExpr, Binder, Col, Scope, Subqueries
from engine.sql.fetch import fetch
from engine.sql.typecheck import T
from engine.sql.types import datetime_of_seconds, sql_type_of
from engine.timeviews import views_for_range
from ext import FrozenBitmap

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}
_NEGATE = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
SET_TYPES = ("set", "time")
_SET_FUNCS = ("SETCONTAINS", "SETCONTAINSANY", "SETCONTAINSALL", "SETEXCLUDES")


class Lowerer:
    """Lowers conditions for one table (a context.Table) whose columns are `cols`."""

    def __init__(self, table: Any, cols: list[Col], subqueries: Optional[Subqueries] = None,
                 outer: Optional[Scope] = None) -> None:
        self.table = table
        self.cols = cols
        self.scope = Scope(cols, outer)
        self.subqueries = subqueries or Subqueries()

    # --- entry points -----------------------------------------------------------------------------

    def existence(self) -> P.RowNode:
        if not self.table.index.definition.options.track_existence:
            raise NotSupportedError(f"table {self.table.name} does not track existence")
        return P.Existence()

    def lower(self, e: Any, negate: bool = False) -> P.RowNode:
        if isinstance(e, ast.And):
            return self._and(e.terms, negate)
        if isinstance(e, ast.Or):
            kids = tuple(self.lower(t, negate) for t in e.terms)
            return P.Intersect(kids) if negate else P.Union_(kids)
        if isinstance(e, ast.Not):
            return self.lower(e.expr, not negate)
        node = self._leaf(e, negate)
        if node is None:
            return self.residual(self.existence(), e, not negate)
        return node

    def _and(self, terms: tuple[Any, ...], negate: bool) -> P.RowNode:
        if negate:                                       # NOT (a AND b) = NOT a OR NOT b
            return P.Union_(tuple(self.lower(t, True) for t in terms))
        nodes, rest = [], []
        for t in terms:
            if isinstance(t, (ast.And, ast.Or, ast.Not)):
                nodes.append(self.lower(t))
                continue
            n = self._leaf(t, False)
            if n is None:
                rest.append(t)
            else:
                nodes.append(n)
        if rest:
            # the record-by-record leaves run only on the records the others leave
            base = nodes[0] if len(nodes) == 1 else P.Intersect(tuple(nodes)) if nodes else self.existence()
            cond = rest[0] if len(rest) == 1 else ast.And(tuple(rest))
            return self.residual(base, cond, True)
        return nodes[0] if len(nodes) == 1 else P.Intersect(tuple(nodes))

    def residual(self, within: P.RowNode, cond: Any, want: bool) -> P.RowNode:
        """The records of `within` for which `cond` is `want` (unknown is neither),
        evaluated on each record's values."""
        names: list[ast.Column] = []
        _columns_in(cond, names)
        needed: list[Col] = []
        for ref in names:
            slot = self.scope.find(ref)
            if slot is not None and self.cols[slot] not in needed:
                needed.append(self.cols[slot])
        bound = Binder(Scope(needed, self.scope.outer), self.subqueries, where="WHERE").condition(cond)
        fds = [c.fd for c in needed]
        test_fn, table = bound.fn, self.table

        def test(ex: Any, shard: int, records: FrozenBitmap) -> FrozenBitmap:
            ids = records.to_numpy()
            keep: list[int] = []
            for start in range(0, len(ids), 1024):
                ex.check_deadline()
                chunk = ids[start:start + 1024]
                values = fetch(table, fds, chunk)
                for i, c in enumerate(chunk.tolist()):
                    if test_fn(tuple(v[i] for v in values)) is want:
                        keep.append(c)
            return FrozenBitmap(keep)

        label = ("" if want else "NOT ") + ast.to_sql(cond)
        return P.HostFilter(within, test, label)

    def not_null(self, col: Col) -> P.RowNode:
        fd = col.fd
        if fd is None:
            return self.existence()
        return lowering.not_null(fd, self._all_views(fd))

    # --- leaves ---------------------------------------------------------------------------------

    def _binder(self) -> Binder:
        return Binder(self.scope, self.subqueries, where="WHERE")

    def _col(self, e: Any) -> Optional[Col]:
        if isinstance(e, ast.Column):
            slot = self.scope.find(e)
            if slot is not None:
                return self.cols[slot]
        return None

    def _const(self, e: Any) -> Optional[BExpr]:
        """e as a constant (a literal or an expression without columns), or None."""
        if type(e) is ast.Literal and e.kind != "tuple":
            return _LITERALS.bind(e)
        if isinstance(e, (ast.Literal, ast.Neg, ast.BinOp, ast.Cast, ast.Func, ast.CurrentTime, ast.Case)):
            if _has_columns(e):
                return None
            try:
                b = Binder(Scope([]), where="WHERE").bind(e)
            except NotSupportedError:
                return None
            return b if b.const else None
        return None

    def _leaf(self, e: Any, negate: bool) -> Optional[P.RowNode]:
        """A bitmap node for a leaf, or None when it must be evaluated record by record."""
        if isinstance(e, ast.Compare):
            return self._compare_leaf(e, negate)
        if isinstance(e, ast.IsNull):
            col = self._col(e.expr)
            if col is None:
                return None
            not_null = self.not_null(col)
            return not_null if (e.negated != negate) else P.Difference((self.existence(), not_null))
        if isinstance(e, ast.Between):
            col = self._col(e.expr)
            lo, hi = self._const(e.lo), self._const(e.hi)
            if col is None or lo is None or hi is None:
                return None
            return self._between(col, lo, hi, e.negated != negate)
        if isinstance(e, ast.InList):
            col = self._col(e.expr)
            items = [self._const(i) for i in e.items]
            if col is None or any(i is None for i in items):
                return None
            return self._in(col, items, e.negated != negate)  # type: ignore[arg-type]
        if isinstance(e, ast.InSelect):
            col = self._col(e.expr)
            if col is None:
                return None
            return self._in_select(col, e, e.negated != negate)
        if isinstance(e, ast.Exists):
            answer = self.subqueries.exists(e.select, self.scope)
            existence = self.existence()
            return P.Deferred(lambda ex: existence if answer() != negate else P.Empty(),
                              ("NOT " if negate else "") + "EXISTS (subquery)")
        if isinstance(e, ast.Like):
            col, pat = self._col(e.expr), self._const(e.pattern)
            if col is None or pat is None or col.fd is None or not col.fd.options.keys or \
                    col.fd.options.type != "mutex":
                return None
            return self._like(col, pat, e.negated != negate)
        if isinstance(e, ast.Func) and e.name in _SET_FUNCS + ("RANGEQ",):
            return self._func(e, negate)
        if isinstance(e, ast.Literal) and e.kind in ("bool", "null"):
            if e.kind == "null":
                return P.Empty()
            return self.existence() if e.value != negate else P.Empty()
        if isinstance(e, ast.Column):
            col = self._col(e)
            if col is None:
                self._binder().bind(e)               # reports the unknown column
                return None
            if col.type.kind != "bool":
                raise TypeMismatchError(f"boolean expression expected, got {col.type.upper} ({col.name})")
            return self._equals(col, True, negate)
        return None

    def _compare_leaf(self, e: ast.Compare, negate: bool) -> Optional[P.RowNode]:
        left, right, op = e.left, e.right, e.op
        if self._col(left) is None and self._col(right) is not None:
            left, right, op = right, left, _FLIP[op]
        col = self._col(left)
        if col is None:
            return None
        if isinstance(right, ast.Subquery):
            t, value = self.subqueries.scalar(right.select, self.scope)
            self._check_compare(op, col, t, None)
            op2 = _NEGATE[op] if negate else op
            return P.Deferred(lambda ex: self.compare(col, op2, value(), t),
                              f"{col.name} {op2} (subquery)")
        c = self._const(right)
        if c is None:
            return None
        value = c.fn(())
        self._check_compare(op, col, c.type, value)
        return self.compare(col, _NEGATE[op] if negate else op, value, c.type)

    def _check_compare(self, op: str, col: Col, t: T, value: Any) -> None:
        if col.type.kind == "timestamp" and t.kind in ("string", "int"):
            return                                   # a time literal (checked when converted)
        tc.compare_type(op, col.type, t)

    # --- comparisons ------------------------------------------------------------------------------

    def compare(self, col: Col, op: str, value: Any, t: T) -> P.RowNode:
        """Records whose `col` satisfies `col op value` (value a Python value of type t)."""
        if value is None:
            return P.Empty()                         # any comparison with NULL is unknown
        if col.type.kind in ("int", "id") and isinstance(value, (Decimal, float)):
            # an integer column against a fraction: = matches nothing, != every value, and
            # the ranges round inward
            if value != int(value):
                if op == "=":
                    return P.Empty()
                if op == "!=":
                    return self.not_null(col)
                op, value = ("<=", math.floor(value)) if op in ("<", "<=") else (">=", math.ceil(value))
            else:
                value = int(value)
        fd = col.fd
        if fd is None:
            return self._id_compare(op, value)
        opts = fd.options
        if opts.type == "float":
            return self._float_compare(fd, op, value)
        if opts.is_bsi:
            return lowering.bsi_compare(fd, op, self.stored(fd, value))
        if opts.type in SET_TYPES:
            if op not in ("=", "!="):
                raise TypeMismatchError(f"operator '{op}' incompatible with type '{col.type.upper}'")
            return self._set_equals(col, value, op == "!=")
        if op == "=":
            return self._equals(col, value, False)
        if op == "!=":
            return self._equals(col, value, True)
        if opts.keys or opts.type == "bool":
            raise TypeMismatchError(f"operator '{op}' incompatible with type '{col.type.upper}'")
        v = _int_of(value, fd.name)                 # ID columns: compare row ids
        lo, hi = {"<": (None, v - 1), "<=": (None, v), ">": (v + 1, None), ">=": (v, None)}[op]
        if hi is not None and hi < 0:
            return P.Empty()
        return P.RowSet(fd.id, (STANDARD_VIEW,), None, lo, hi)

    def _float_compare(self, fd: FieldDef, op: str, value: Any) -> P.RowNode:
        try:
            return lowering.float_compare(fd, op, value)
        except EngineError as exc:
            raise TypeMismatchError(f"column {fd.name}: {exc.message}") from None

    def _equals(self, col: Col, value: Any, negate: bool) -> P.RowNode:
        fd = col.fd
        assert fd is not None
        return lowering.row_equals(fd, self.row_id(fd, value), self._all_views(fd), negate)

    def _set_equals(self, col: Col, value: Any, negate: bool) -> P.RowNode:
        """A set column = a set literal: records whose members are exactly those."""
        fd = col.fd
        assert fd is not None
        views = self._all_views(fd)
        rows = [self.row_id(fd, m) for m in (list(value) if isinstance(value, (list, tuple)) else [value])]
        hit: P.RowNode
        if not rows or any(r is None for r in rows):
            hit = P.Empty()
        else:
            has_all = P.Intersect(tuple(P.RowOf(fd.id, r, views) for r in rows))  # type: ignore[arg-type]
            others = P.RowSet(fd.id, views, frozenset(rows), exclude=True)  # type: ignore[arg-type]
            hit = P.Difference((has_all, others))
        if not negate:
            return hit
        return P.Difference((P.AnyRow(fd.id, views), hit))

    def row_id(self, fd: FieldDef, value: Any) -> Optional[int]:
        opts = fd.options
        if opts.type == "bool":
            if not isinstance(value, bool):
                raise TypeMismatchError(f"column {fd.name} is bool: compare with true or false")
            return int(value)
        if opts.keys:
            if not isinstance(value, str):
                raise TypeMismatchError(f"column {fd.name} is {sql_type_of(opts)}: compare with a string")
            return self.table.index.row_keys(fd).id(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeMismatchError(f"column {fd.name} is {sql_type_of(opts)}: compare with an integer")
        return value if value >= 0 else None

    def _column_id(self, value: Any) -> Optional[int]:
        """The record an _id value names; None when there is none."""
        if self.table.keyed:
            if not isinstance(value, str):
                raise TypeMismatchError(f"types 'STRING' and '{_type_name(value)}' are not equatable")
            return self.table.index.column_keys.id(value)
        v = _int_of(value, "_id")
        return v if v >= 0 else None

    def _id_compare(self, op: str, value: Any) -> P.RowNode:
        if op in ("=", "!="):
            c = self._column_id(value)
            hit: P.RowNode = P.Empty() if c is None else P.ConstRow((c,), True)
            return hit if op == "=" else P.Difference((self.existence(), hit))
        if self.table.keyed:
            raise TypeMismatchError(f"operator '{op}' incompatible with type 'STRING'")
        v = _int_of(value, "_id")
        lo, hi = {"<": (0, v - 1), "<=": (0, v), ">": (v + 1, None), ">=": (v, None)}[op]
        return self.id_range(max(lo, 0), hi)

    def id_range(self, lo: int, hi: Optional[int]) -> P.RowNode:
        if hi is not None and hi < lo:
            return P.Empty()
        self.existence()
        return P.IdRange(lo, hi)

    def _between(self, col: Col, lo_b: BExpr, hi_b: BExpr, neg: bool) -> P.RowNode:
        lo, hi = lo_b.fn(()), hi_b.fn(())
        fd = col.fd
        for b in (lo_b, hi_b):
            if not (col.type.kind == "timestamp" and b.type.kind in ("string", "int")):
                tc.between_type(col.type, b.type, b.type)
        if col.type.kind not in ("int", "id", "timestamp", "decimal", "float"):
            raise TypeMismatchError(f"operator 'BETWEEN' incompatible with type '{col.type.upper}'")
        if lo is None or hi is None:
            return P.Empty()
        if col.type.kind in ("int", "id"):
            lo, hi = _ceil(lo), _floor(hi)
        if fd is None:
            if self.table.keyed:
                raise TypeMismatchError("operator 'BETWEEN' incompatible with type 'STRING'")
            lo_i, hi_i = _int_of(lo, "_id"), _int_of(hi, "_id")
            rng = self.id_range(max(lo_i, 0), hi_i) if hi_i >= 0 else P.Empty()
            return P.Difference((self.existence(), rng)) if neg else rng
        if not fd.options.is_bsi:                    # an ID column: a range of row ids
            lo_i, hi_i = _int_of(lo, fd.name), _int_of(hi, fd.name)
            rng = P.RowSet(fd.id, (STANDARD_VIEW,), None, lo_i, hi_i) if lo_i <= hi_i and hi_i >= 0 else P.Empty()
            return P.Difference((P.AnyRow(fd.id), rng)) if neg else rng
        if fd.options.type == "float":
            try:
                return lowering.float_between(fd, lo, hi, negate=neg)
            except EngineError as exc:
                raise TypeMismatchError(f"column {fd.name}: {exc.message}") from None
        if fd.options.type == "int":
            lo, hi = _ceil(lo), _floor(hi)
        return lowering.bsi_between(fd, self.stored(fd, lo), self.stored(fd, hi), neg)

    def _in(self, col: Col, items: list[BExpr], neg: bool) -> P.RowNode:
        types = [i.type for i in items]
        for t in types:
            if not (col.type.kind == "timestamp" and t.kind in ("string", "int")):
                tc.in_type(col.type, [t])
        values = [i.fn(()) for i in items]
        if neg and any(v is None for v in values):
            return P.Empty()                         # x NOT IN (…, NULL) is never true
        return self.in_values(col, [v for v in values if v is not None], neg)

    def in_values(self, col: Col, values: list[Any], neg: bool) -> P.RowNode:
        """Records whose col is one of values (NOT: has a value and none of them)."""
        fd = col.fd
        if col.type.kind in ("int", "id"):           # a fraction is no integer
            values = [int(v) if isinstance(v, (Decimal, float)) else v for v in values
                      if not isinstance(v, (Decimal, float)) or v == int(v)]
        distinct = list(dict.fromkeys(_hashable(v) for v in values))
        hit: P.RowNode
        if fd is None:
            ids = sorted({c for c in (self._column_id(v) for v in distinct) if c is not None})
            hit = P.ConstRow(tuple(ids), True) if ids else P.Empty()
        elif fd.options.type == "float":
            parts = [self._float_compare(fd, "=", v) for v in distinct]
            hit = P.Union_(tuple(parts)) if len(parts) > 1 else parts[0] if parts else P.Empty()
        elif fd.options.is_bsi:
            stored = sorted({self.stored(fd, v) for v in distinct})
            hit = P.BsiIn(fd.id, tuple(stored)) if stored else P.Empty()
        elif fd.options.type in SET_TYPES:
            parts = [self._set_equals(col, v, False) for v in distinct]
            hit = P.Union_(tuple(parts)) if len(parts) > 1 else parts[0] if parts else P.Empty()
        else:
            rows = {r for r in (self.row_id(fd, v) for v in distinct) if r is not None}
            hit = P.RowSet(fd.id, self._all_views(fd), frozenset(rows)) if rows else P.Empty()
        if not neg:
            return hit
        return P.Difference((self.not_null(col), hit))

    def in_ids(self, col: Col, ids: Any, keys: Optional[list[str]] = None) -> P.RowNode:
        """Records whose col names one of the records `ids` (a numpy array of record ids) of
        another table — its `keys` when that table is keyed: the filter a semi-join puts on
        this table. Built without a per-value Python pass where the column allows."""
        fd = col.fd
        if keys is not None:
            if fd is None:
                found = self.table.index.column_keys
            elif fd.options.keys:
                found = self.table.index.row_keys(fd)
            else:
                return self.in_values(col, keys, False)
            rows = [r for r in map(found.id, keys) if r is not None]
            if fd is None:
                return P.ConstRow(tuple(sorted(rows)), True) if rows else P.Empty()
            return P.RowSet(fd.id, self._all_views(fd), frozenset(rows)) if rows else P.Empty()
        if not len(ids):
            return P.Empty()
        if fd is None:
            return P.ConstRow(tuple(ids.tolist()), True)
        if fd.options.type == "int":               # stored = the id (an int field's value)
            return P.BsiIn(fd.id, tuple(sorted_unique(ids).tolist()))
        if fd.options.type == "mutex" and not fd.options.keys:
            return P.RowSet(fd.id, self._all_views(fd), frozenset(ids.tolist()))
        return self.in_values(col, ids.tolist(), False)

    def _in_select(self, col: Col, e: ast.InSelect, neg: bool) -> P.RowNode:
        t, values = self.subqueries.column(e.select, self.scope)
        if not (col.type.kind == "timestamp" and t.kind == "string") and not tc.comparable(col.type, t):
            raise tc.not_equatable(col.type, t)

        def resolve(ex: Any) -> P.RowNode:
            wanted, has_null = values()
            if not wanted and not has_null:     # IN of no rows is false, even for NULL x
                return self.existence() if neg else P.Empty()
            if neg and has_null:
                return P.Empty()
            vals = list(wanted)
            if col.type.kind == "timestamp":
                vals = [parse_timestamp(v) if isinstance(v, str) else v for v in vals]
            if tc.is_set(col.type):
                vals = [list(v) for v in vals]
            return self.in_values(col, vals, neg)

        return P.Deferred(resolve, f"{col.name} {'NOT ' if neg else ''}IN (subquery)")

    def _like(self, col: Col, pat: BExpr, neg: bool) -> P.RowNode:
        fd = col.fd
        assert fd is not None
        tc.like_type("LIKE", col.type, pat.type)
        pattern = pat.fn(())
        if pattern is None:
            return P.Empty()
        ids = self.table.index.row_keys(fd).like(pattern)
        hit: P.RowNode = P.RowSet(fd.id, (STANDARD_VIEW,), frozenset(ids)) if ids else P.Empty()
        if neg:
            return P.Difference((P.AnyRow(fd.id), hit))
        return hit

    def _func(self, f: ast.Func, negate: bool) -> Optional[P.RowNode]:
        name = f.name
        if name == "RANGEQ":
            return self._rangeq(f, negate)
        col = self._col(f.args[0]) if f.args else None
        consts = [self._const(a) for a in f.args[1:]]
        if col is None or len(f.args) != 2 or any(c is None for c in consts) or col.fd is None:
            return None
        if not _plain_set_args(name, col.type, consts[0].type):   # type: ignore[union-attr]
            self._binder().condition(f)              # the argument checks of the function
        value = consts[0].fn(())  # type: ignore[union-attr]
        if name == "SETEXCLUDES":
            name, negate = "SETCONTAINS", not negate
        if value is None:
            return P.Empty()
        if name == "SETCONTAINS":
            node = self._equals(col, value, False)
        else:
            parts = tuple(self._equals(col, m, False) for m in value)
            node = P.Union_(parts) if name == "SETCONTAINSANY" else P.Intersect(parts)
        return P.Difference((self.existence(), node)) if negate else node

    def _rangeq(self, f: ast.Func, negate: bool) -> P.RowNode:
        if len(f.args) != 3:
            raise TypeMismatchError("RANGEQ takes a column, a start and an end")
        col = self._col(f.args[0])
        if col is None:
            if isinstance(f.args[0], ast.Column):
                self._binder().bind(f.args[0])
            raise TypeMismatchError("RANGEQ needs an IDSETQ or STRINGSETQ column")
        fd = col.fd
        if fd is None or fd.options.type != "time":
            raise TypeMismatchError("RANGEQ needs an IDSETQ or STRINGSETQ column")
        bounds = [self._const(a) for a in f.args[1:]]
        if any(b is None for b in bounds):
            raise TypeMismatchError("RANGEQ's bounds are timestamp literals (or NULL)")
        lo, hi = (b.fn(()) for b in bounds)  # type: ignore[union-attr]
        if lo is None and hi is None:
            raise TypeMismatchError("RANGEQ needs at least one bound")
        existing = sorted(v for v in self.table.state.views(fd.id) if v != STANDARD_VIEW)
        views = views_for_range(fd.options.time_quantum, _time(lo), _time(hi), existing)
        node = P.AnyRow(fd.id, tuple(views)) if views else P.Empty()
        return P.Difference((self.existence(), node)) if negate else node

    # --- values -----------------------------------------------------------------------------------

    def _all_views(self, fd: FieldDef) -> tuple[str, ...]:
        if fd.options.type == "time" and fd.options.no_standard_view:
            return tuple(self.table.state.views(fd.id)) or (STANDARD_VIEW,)
        return (STANDARD_VIEW,)

    def stored(self, fd: FieldDef, value: Any) -> int:
        """A value as the BSI's stored integer, exactly (bounds past the column's range too)."""
        opts = fd.options
        if opts.type == "timestamp":
            if isinstance(value, int) and not isinstance(value, bool):
                # SQL ints are Unix seconds: converted exactly, so a bound past year 9999 still
                # compares (it matches nothing, or everything) instead of overflowing a datetime.
                return (value - opts.epoch) * TIME_UNITS[opts.time_unit]
            if isinstance(value, str):
                value = _time(value)
            if not isinstance(value, _dt.datetime):
                raise TypeMismatchError(f"types 'TIMESTAMP' and '{_type_name(value)}' are not equatable")
        elif isinstance(value, bool) or not isinstance(value, (int, Decimal, float)):
            raise TypeMismatchError(f"types '{sql_type_of(opts).upper()}' and '{_type_name(value)}' are not "
                                    f"equatable")
        try:
            with localcontext() as ctx:
                # exact scaling of a literal with many digits (the default 28 would trap)
                ctx.prec = max(ctx.prec, _digits(value) + opts.scale + 2)
                return opts.to_stored(value)
        except EngineError as exc:
            raise TypeMismatchError(f"column {fd.name}: {exc.message}") from None


_LITERALS = Binder(Scope([]), where="WHERE")      # binds literals (it keeps no state for them)


def _plain_set_args(name: str, col: T, arg: T) -> bool:
    """The common shape of a set function in WHERE, whose argument checks pass: a set
    column and a member (SETCONTAINS, SETEXCLUDES) or a set (ANY, ALL) of its kind."""
    if not tc.is_set(col):
        return False
    element = tc.element_of(col)
    if name in ("SETCONTAINS", "SETEXCLUDES"):
        return arg.kind == element.kind or (element.kind == "id" and arg.kind == "int")
    return tc.is_set(arg) and tc.element_of(arg) == element


def _columns_in(e: Any, out: list[ast.Column]) -> None:
    if isinstance(e, ast.Column):
        out.append(e)
        return
    for sub in ast.children(e):
        _columns_in(sub, out)


def _has_columns(e: Any) -> bool:
    if isinstance(e, (ast.Column, ast.Param)):
        return True
    if isinstance(e, (ast.Subquery, ast.InSelect, ast.Exists)):
        return True
    return any(_has_columns(c) for c in ast.children(e))


def _hashable(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def _digits(v: Any) -> int:
    """Digits of a number's integer part and fraction (what scaling it exactly needs)."""
    if isinstance(v, Decimal):
        t = v.as_tuple()
        return len(t.digits) + max(int(t.exponent), 0)
    return len(str(v))


def _ceil(v: Any) -> Any:
    return math.ceil(v) if isinstance(v, (Decimal, float)) else v


def _floor(v: Any) -> Any:
    return math.floor(v) if isinstance(v, (Decimal, float)) else v


def _int_of(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeMismatchError(f"column {name} is an id: compare with an integer")
    return value


def _type_name(v: Any) -> str:
    if isinstance(v, bool):
        return "BOOL"
    if isinstance(v, int):
        return "INT"
    if isinstance(v, Decimal):
        return "DECIMAL"
    if isinstance(v, float):
        return "FLOAT"
    if isinstance(v, _dt.datetime):
        return "TIMESTAMP"
    if isinstance(v, (list, tuple)):
        return "SET"
    return "STRING"


def _time(v: Any) -> Optional[_dt.datetime]:
    if v is None:
        return None
    if isinstance(v, _dt.datetime):
        return v
    try:
        if isinstance(v, int) and not isinstance(v, bool):
            return datetime_of_seconds(v)
        return parse_timestamp(v)
    except EngineError as exc:
        raise TypeMismatchError(exc.message) from None


Resolver = Callable[[Any], P.RowNode]
