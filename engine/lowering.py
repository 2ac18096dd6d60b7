"""Value lowering shared by PQL (engine/pql/lower.py) and SQL (engine/sql/lower.py).

How one field compared with one value becomes a bitmap plan node (engine/plan.py): NULL
tests, BSI comparisons and ranges over stored integers, float comparisons (±0 equal, over
the order-preserving encoding), row equality over a field's views. Each front end checks
its own syntax and types and turns values into stored integers or row ids its way, then
calls these, so the two languages cannot drift apart on what a comparison selects.

Operators are SQL's spelling (`=`, `!=`, `<`, `<=`, `>`, `>=`); PQL's `==` is accepted.
"""
from __future__ import annotations

from typing import Any, Optional

from engine import plan as P
from engine.schema import STANDARD_VIEW, FieldDef

STANDARD = (STANDARD_VIEW,)


def _op(op: str) -> str:
    return "=" if op == "==" else op


def not_null(fd: FieldDef, views: tuple[str, ...] = STANDARD) -> P.RowNode:
    """Records with a value in fd (a set field: with at least one member in `views`)."""
    if fd.options.is_bsi:
        return P.BsiNotNull(fd.id)
    return P.AnyRow(fd.id, views)


def is_null(fd: FieldDef, views: tuple[str, ...] = STANDARD) -> P.RowNode:
    """Records (of an index that tracks existence) without a value in fd."""
    return P.Difference((P.Existence(), not_null(fd, views)))


def bsi_compare(fd: FieldDef, op: str, stored: int) -> P.RowNode:
    """Records whose BSI value (as stored) satisfies `value op stored`; `!=` leaves out the
    records without a value."""
    op = _op(op)
    if op == "=":
        return P.BsiRange(fd.id, stored, stored)
    if op == "!=":
        return P.Difference((P.BsiNotNull(fd.id), P.BsiRange(fd.id, stored, stored)))
    lo, hi = {"<": (None, stored - 1), "<=": (None, stored), ">": (stored + 1, None),
              ">=": (stored, None)}[op]
    return P.BsiRange(fd.id, lo, hi)


def bsi_between(fd: FieldDef, lo: int, hi: int, negate: bool = False) -> P.RowNode:
    """Records whose stored value is in [lo, hi] (NOT: a value outside it)."""
    rng: P.RowNode = P.BsiRange(fd.id, lo, hi) if lo <= hi else P.Empty()
    return P.Difference((P.BsiNotNull(fd.id), rng)) if negate else rng


def float_compare(fd: FieldDef, op: str, value: Any) -> P.RowNode:
    """A comparison on a float field: ±0 compare equal, NaN is no value
    (FieldOptions.float_range). Raises the EngineError of a value the field cannot compare
    with; the caller words it."""
    op = _op(op)
    if op == "!=":
        return P.Difference((P.BsiNotNull(fd.id), float_compare(fd, "=", value)))
    bounds = fd.options.float_range("==" if op == "=" else op, value)
    if bounds is None:
        return P.Empty()
    if bounds == (None, None):
        return P.BsiNotNull(fd.id)
    return P.BsiRange(fd.id, *bounds)


def float_between(fd: FieldDef, lo: Any, hi: Any, lo_strict: bool = False, hi_strict: bool = False,
                  negate: bool = False) -> P.RowNode:
    rng: P.RowNode = P.Intersect((float_compare(fd, ">" if lo_strict else ">=", lo),
                                  float_compare(fd, "<" if hi_strict else "<=", hi)))
    return P.Difference((P.BsiNotNull(fd.id), rng)) if negate else rng


def row_equals(fd: FieldDef, row: Optional[int], views: tuple[str, ...] = STANDARD,
               negate: bool = False) -> P.RowNode:
    """Records with row `row` of fd (None: a value the field has never held); NOT: the
    records with some other row."""
    hit: P.RowNode = P.Empty() if row is None else P.RowOf(fd.id, row, views)
    if not negate:
        return hit
    return P.Difference((P.AnyRow(fd.id, views), hit))
