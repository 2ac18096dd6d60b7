"""Aggregates: their types, their row-by-row accumulators, and — when the argument is a
plain column of the table scanned — their answer from the bitmaps (engine calls).

COUNT(*), COUNT(x), COUNT(DISTINCT x), SUM, AVG (DECIMAL(4)), MIN, MAX, PERCENTILE(x, nth)
(FeatureBase's bisection), CORR(x, y), VAR(x) (population variance) and STDDEV(x), each
DECIMAL(6); any of them with FILTER (WHERE …). NULLs are skipped; over no values SUM, AVG,
MIN, MAX, PERCENTILE, CORR, VAR, STDDEV are NULL and COUNT is 0. A set argument counts its
members for COUNT(DISTINCT …) and its records for COUNT(…).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from typing import Any, Optional

import numpy as np

from engine import plan as P
from engine.errors import NotSupportedError, TypeMismatchError
from engine.results import ZERO_TIME, ValCount
from engine.schema import STANDARD_VIEW, parse_timestamp
from engine.sql import ast
from engine.sql import typecheck as tc
from engine.sql.bind import AGGREGATES, BExpr, Binder, Col
from engine.sql.typecheck import FLOAT, INT, T

_ARITY = {"COUNT": (1, 1), "SUM": (1, 1), "AVG": (1, 1), "MIN": (1, 1), "MAX": (1, 1), "PERCENTILE": (2, 2),
          "CORR": (2, 2), "VAR": (1, 1), "STDDEV": (1, 1)}
_ORDERED = ("int", "id", "decimal", "float", "timestamp", "string", "bool")
AVG_SCALE, STAT_SCALE = 4, 6


@dataclass(eq=False)
class Agg:
    """A bound aggregate call."""

    call: ast.Func
    name: str
    type: T
    args: list[BExpr]                   # bound against the input rows
    filter: Optional[BExpr] = None      # FILTER (WHERE …) against the input rows
    nth: Any = None                     # PERCENTILE's nth

    @property
    def distinct(self) -> bool:
        return self.call.distinct

    @property
    def star(self) -> bool:
        return self.call.star

    def column(self, i: int = 0) -> Optional[Col]:
        """The input column argument i reads, when it is a plain column."""
        return self.args[i].col if i < len(self.args) else None


def is_aggregate(e: Any) -> bool:
    return isinstance(e, ast.Func) and e.name in AGGREGATES


def aggregates_in(e: Any, out: list[ast.Func]) -> None:
    """The aggregate calls in e (not inside another aggregate, not inside a subquery)."""
    if is_aggregate(e):
        if e not in out:
            out.append(e)
        return
    for sub in ast.children(e):
        aggregates_in(sub, out)


def bind_aggregate(f: ast.Func, binder: Binder) -> Agg:
    """Type-check an aggregate call and bind its arguments (and FILTER) to the input rows."""
    name = f.name
    lo, hi = _ARITY[name]
    n = 0 if f.star else len(f.args)
    if f.star and name != "COUNT":
        raise TypeMismatchError(f"{name}(*) is not an aggregate: only COUNT(*)")
    if not f.star and not lo <= n <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise TypeMismatchError(f"'{name}': count of formal parameters ({want}) does not match count of actual "
                                f"parameters ({n})")
    for a in f.args:
        inner: list[ast.Func] = []
        aggregates_in(a, inner)
        if inner:
            raise TypeMismatchError(f"aggregate {inner[0].name}() cannot be inside aggregate {name}()")
    args = [binder.bind(a) for a in f.args]
    filt = None
    if f.filter is not None:
        filt = binder.condition(f.filter)
    t = INT
    nth = None
    if name == "COUNT":
        t = INT
    else:
        x = args[0]
        col = x.col
        if col is not None and col.is_id:
            raise TypeMismatchError(f"_id cannot be aggregated with {name}")
        k = x.type.kind
        if name in ("SUM", "AVG"):
            if k not in ("int", "decimal", "float", "void"):
                raise TypeMismatchError(f"{name}: integer, decimal or float expression expected, got {x.type.upper}")
            t = x.type if name == "SUM" else FLOAT if k == "float" else tc.DECIMAL(AVG_SCALE)
            if t.kind == "void":
                t = INT
        elif name in ("MIN", "MAX"):
            if k not in _ORDERED and k != "void":
                raise TypeMismatchError(f"{name} is not defined for {x.type.upper}")
            t = x.type
        elif name == "PERCENTILE":
            if f.distinct:
                raise NotSupportedError("PERCENTILE(DISTINCT …) is not supported")
            if k not in ("int", "decimal", "timestamp", "float"):
                raise TypeMismatchError(f"PERCENTILE: integer, decimal or timestamp expression expected, got "
                                        f"{x.type.upper}")
            if not args[1].const or args[1].type.kind not in ("int", "decimal"):
                raise TypeMismatchError("PERCENTILE's nth is a number literal (0 to 100)")
            nth = args[1].fn(())
            if not 0 <= nth <= 100:
                raise TypeMismatchError("PERCENTILE's nth must be between 0 and 100")
            t = x.type
        else:                                       # CORR, VAR, STDDEV
            if f.distinct:
                raise NotSupportedError(f"{name}(DISTINCT …) is not supported")
            for arg in args:
                if not tc.is_numeric(arg.type) and arg.type.kind != "void":
                    raise TypeMismatchError(f"{name}: numeric expression expected, got {arg.type.upper}")
            t = tc.DECIMAL(STAT_SCALE)
    return Agg(f, name, t, args, filt, nth)


# --- row by row ----------------------------------------------------------------------------------

class Accumulator:
    """One group's state of one aggregate, fed input rows. `add` returns the bytes the
    state grew by (values kept for DISTINCT, PERCENTILE, CORR, VAR, STDDEV)."""

    __slots__ = ("agg", "n", "total", "best", "values")

    def __init__(self, agg: Agg) -> None:
        self.agg = agg
        self.n = 0
        self.total: Any = 0
        self.best: Any = None
        self.values: Any = set() if agg.distinct else []

    def add(self, row: tuple[Any, ...]) -> int:
        agg = self.agg
        if agg.filter is not None and agg.filter.fn(row) is not True:
            return 0
        if agg.star:
            self.n += 1
            return 0
        v = agg.args[0].fn(row)
        if v is None:
            return 0
        name = agg.name
        if agg.distinct:
            before = len(self.values)
            if isinstance(v, list):
                self.values.update(v)
            else:
                self.values.add(v)
            return 48 * (len(self.values) - before)
        if name == "COUNT":
            self.n += 1
        elif name in ("SUM", "AVG"):
            self.total += v
            self.n += 1
        elif name == "MIN":
            if self.best is None or v < self.best:
                self.best = v
        elif name == "MAX":
            if self.best is None or v > self.best:
                self.best = v
        elif name == "CORR":
            w = agg.args[1].fn(row)
            if w is not None:
                self.values.append((v, w))
                return 64
        else:
            self.values.append(v)
            return 40
        return 0

    def result(self) -> Any:
        agg, name = self.agg, self.agg.name
        if name == "COUNT":
            return len(self.values) if agg.distinct else self.n
        if agg.distinct:
            values = list(self.values)
            if not values:
                return None
            if name == "SUM":
                return _typed(agg.type, sum(values))
            if name == "AVG":
                return average(sum(values), len(values), agg.type)
            return min(values) if name == "MIN" else max(values)
        if name in ("SUM", "AVG"):
            if not self.n:
                return None
            return _typed(agg.type, self.total) if name == "SUM" else average(self.total, self.n, agg.type)
        if name in ("MIN", "MAX"):
            return self.best
        if not self.values:
            return None
        if name == "PERCENTILE":
            return percentile_of_values(self.values, agg.nth, agg.type)
        if name == "CORR":
            return correlation([x for x, _ in self.values], [y for _, y in self.values])
        return variance(self.values, name == "STDDEV")


def _typed(t: T, v: Any) -> Any:
    if t.kind == "decimal":
        return Decimal(v).quantize(Decimal(1).scaleb(-t.scale))
    if t.kind == "float":
        return float(v)
    return v


def average(total: Any, count: int, t: T) -> Any:
    if t.kind == "float":
        return float(total) / count
    with localcontext() as ctx:
        ctx.prec = 60
        return (Decimal(total) / count).quantize(Decimal(1).scaleb(-AVG_SCALE), rounding=ROUND_HALF_EVEN)


def _decimal6(x: Fraction) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 60
        return (Decimal(x.numerator) / Decimal(x.denominator)).quantize(Decimal(1).scaleb(-STAT_SCALE),
                                                                        rounding=ROUND_HALF_EVEN)


def variance(values: list[Any], root: bool) -> Optional[Decimal]:
    """Population variance (or its square root) of numbers, exactly, at scale 6."""
    xs = [Fraction(v) for v in values]
    n = len(xs)
    total = sum(xs, Fraction(0))
    var = (n * sum((x * x for x in xs), Fraction(0)) - total * total) / (n * n)
    if not root:
        return _decimal6(var)
    with localcontext() as ctx:
        ctx.prec = 60
        d = (Decimal(var.numerator) / Decimal(var.denominator)).sqrt()
        return d.quantize(Decimal(1).scaleb(-STAT_SCALE), rounding=ROUND_HALF_EVEN)


def correlation(xs_in: list[Any], ys_in: list[Any]) -> Optional[Decimal]:
    """Pearson's correlation of pairs; NULL with fewer than two pairs or a constant side."""
    n = len(xs_in)
    if n < 2:
        return None
    xs, ys = [Fraction(v) for v in xs_in], [Fraction(v) for v in ys_in]
    sx, sy = sum(xs, Fraction(0)), sum(ys, Fraction(0))
    sxx = n * sum((x * x for x in xs), Fraction(0)) - sx * sx
    syy = n * sum((y * y for y in ys), Fraction(0)) - sy * sy
    sxy = n * sum((x * y for x, y in zip(xs, ys)), Fraction(0)) - sx * sy
    if sxx == 0 or syy == 0:
        return None
    with localcontext() as ctx:
        ctx.prec = 60
        num = Decimal(sxy.numerator) / Decimal(sxy.denominator)
        den = (Decimal(sxx.numerator) / Decimal(sxx.denominator) * Decimal(syy.numerator)
               / Decimal(syy.denominator)).sqrt()
        return (num / den).quantize(Decimal(1).scaleb(-STAT_SCALE), rounding=ROUND_HALF_EVEN)


def percentile_ints(vals: list[int], nth: Any) -> int:
    """FeatureBase's Percentile over integers: L = ⌊N·nth/100⌋, G = ⌊N·(100−nth)/100⌋,
    MAX when G = 0, MIN when L = 0, else a bisection of the value range with Go's
    truncating midpoint (the answer need not be one of the values)."""
    n = len(vals)
    d = Decimal(nth)
    lo_k = int(Decimal(n) * d / 100)
    hi_k = int(Decimal(n) * (100 - d) / 100)
    vmin, vmax = min(vals), max(vals)
    if hi_k == 0:
        return vmax
    if lo_k == 0:
        return vmin
    arr = np.array(vals, dtype=object)
    lo, hi = vmin, vmax
    while True:
        mid = _go_div(lo, 2) + _go_div(hi, 2) + _go_div(_go_rem(lo, 2) + _go_rem(hi, 2), 2)
        below = int((arr < mid).sum())
        above = int((arr > mid).sum())
        if below > lo_k:
            hi = mid - 1
        elif above > hi_k:
            lo = mid + 1
        else:
            return mid
        if lo > hi:
            return mid


def percentile_of_values(values: list[Any], nth: Any, t: T) -> Any:
    """PERCENTILE of SQL values: decimals at their scale, timestamps in microseconds."""
    if t.kind == "decimal":
        unit = 10 ** t.scale
        return Decimal(percentile_ints([int(Decimal(v) * unit) for v in values], nth)).scaleb(-t.scale)
    if t.kind == "timestamp":
        epoch = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
        micros = [(v - epoch) // _dt.timedelta(microseconds=1) for v in values]
        return epoch + _dt.timedelta(microseconds=percentile_ints(micros, nth))
    if t.kind == "float":
        return float(sorted(values)[min(len(values) - 1, int(len(values) * Decimal(nth) / 100))])
    return percentile_ints(values, nth)


def _go_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _go_rem(a: int, b: int) -> int:
    return a - b * _go_div(a, b)


# --- from the bitmaps ----------------------------------------------------------------------------

def pushable(agg: Agg) -> bool:
    """Whether the aggregate reads only plain columns of the scanned table (computed from
    the bitmaps, without reading records one by one)."""
    if agg.star:
        return True
    cols = [agg.column(i) for i in range(2 if agg.name == "CORR" else 1)]
    if any(c is None or c.table is None for c in cols):
        return False
    c = cols[0]
    assert c is not None
    if c.fd is None:
        return agg.name == "COUNT"
    opts = c.fd.options
    if agg.name == "COUNT":
        return True
    if agg.name in ("MIN", "MAX"):
        return opts.is_bsi or opts.type in ("mutex", "bool")
    if agg.name == "PERCENTILE":
        return opts.type in ("int", "decimal", "timestamp")
    return opts.is_bsi and all(x is not None and x.fd is not None and x.fd.options.is_bsi for x in cols)


def from_bitmaps(agg: Agg, table: Any, filt: P.RowNode, lowerer: Any) -> Any:
    """The aggregate over the records of `filt` (a pushable aggregate; FILTER already in
    `filt`)."""
    ex = table.ex
    name = agg.name
    if agg.star:
        return ex.run(P.Count(filt)).n
    col = agg.column()
    assert col is not None
    fd = col.fd
    if name == "COUNT":
        if fd is None:
            return ex.run(P.Count(filt)).n
        if agg.distinct:
            return ex.run(P.CountDistinct(filt, fd.id)).n
        return ex.run(P.Count(P.Intersect((filt, lowerer.not_null(col))))).n
    assert fd is not None
    opts = fd.options
    if name in ("SUM", "AVG"):
        if agg.distinct:
            values = [opts.from_stored(v) for v in ex.distinct_values(P.Distinct(filt, fd.id))]
            total, count = sum(values), len(values)
        else:
            vc = ex.run(P.Sum(filt, fd.id))
            total, count = valcount_value(vc, opts.type), vc.count
        if count == 0:
            return None
        return _typed(agg.type, total) if name == "SUM" else average(total, count, agg.type)
    if name in ("MIN", "MAX"):
        if opts.is_bsi:
            vc = ex.run(P.MinMax(filt, fd.id, name == "MAX"))
            return valcount_value(vc, opts.type) if vc.count else None
        counts = ex._row_counts(fd.id, (STANDARD_VIEW,), filt)
        present = [r for r, c in counts.items() if c]
        if not present:
            return None
        values = [row_value(table, fd, r) for r in present]
        return max(values) if name == "MAX" else min(values)
    if name == "PERCENTILE":
        vc = ex.run(P.Percentile(filt, fd.id, agg.nth))
        return valcount_value(vc, opts.type) if isinstance(vc, ValCount) else None
    # CORR / VAR / STDDEV: the values of the records, from the bit planes
    cols, vals = ex.bsi_columns_values(fd.id, filt)
    xs = _decoded(opts, vals)
    if name == "CORR":
        col2 = agg.column(1)
        assert col2 is not None and col2.fd is not None
        cols2, vals2 = ex.bsi_columns_values(col2.fd.id, filt)
        common, i1, i2 = np.intersect1d(cols, cols2, assume_unique=True, return_indices=True)
        ys = _decoded(col2.fd.options, vals2)
        return correlation([xs[i] for i in i1.tolist()], [ys[i] for i in i2.tolist()])
    if not xs:
        return None
    return variance(xs, name == "STDDEV")


def _decoded(opts: Any, vals: np.ndarray) -> list[Any]:
    base = opts.base
    return [opts.from_stored(int(v) + base) for v in vals.tolist()]


def valcount_value(vc: ValCount, kind: str) -> Any:
    """The SQL value of a ValCount over a field of type `kind` (its JSON form's default
    when it holds none)."""
    v = vc.value
    if kind == "decimal":
        return None if v is None else Decimal(v)
    if kind == "timestamp":
        return parse_timestamp(ZERO_TIME if v is None else v)
    if kind == "float":
        return 0.0 if v is None else float(v)
    return 0 if v is None else int(v)


def row_value(table: Any, fd: Any, row: int) -> Any:
    """The SQL value of row id `row` of a set/mutex/bool field."""
    if fd.options.type == "bool":
        return bool(row)
    if fd.options.keys:
        return table.index.row_keys(fd).key(row)
    return row
