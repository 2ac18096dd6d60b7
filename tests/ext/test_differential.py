"""Differential tests: ext.Bitmap against pyroaring.BitMap (values < 2**32) and
pyroaring.BitMap64 (values up to 2**64-1), plus hand-computed expectations where pyroaring
has no equivalent (slice, shift) or differs by design (64-bit shift of 32-bit values)."""
from __future__ import annotations

import bisect
import functools
import itertools
import operator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from roar_testlib import (
    MAX32,
    MAX64,
    ORACLE_IDS,
    ORACLES,
    SETTINGS,
    U16,
    U32,
    U48,
    U64,
    Bitmap,
    FrozenBitmap,
    assert_same,
    assert_same_outcome,
    assert_stats_match,
    check_kinds_if_canonical,
    hsettings,
    kinds,
    query_points,
    ranges,
    same_float,
    small_value_lists,
    value_lists,
)

ORACLE = pytest.mark.parametrize("oracle", ORACLES, ids=ORACLE_IDS)


# ----------------------------------------------------------------------------- construction
@ORACLE
@SETTINGS
@given(data=st.data())
def test_construction_from_iterables(oracle, data):
    _, C, maxv = oracle
    values = data.draw(value_lists(maxv), label="values")
    ref = C(values)
    assert_same(Bitmap(values), ref, "list")
    assert_same(Bitmap(iter(values)), ref, "iterator")
    assert_same(Bitmap(set(values)), ref, "set")
    assert_same(Bitmap(tuple(reversed(values))), ref, "reversed tuple")
    assert_same(Bitmap(np.array(values, dtype=np.uint64)), ref, "uint64 ndarray")
    if maxv == MAX32:
        assert_same(Bitmap(np.array(values, dtype=np.uint32)), ref, "uint32 ndarray")
    fb = FrozenBitmap(values)
    assert isinstance(fb, FrozenBitmap)
    assert_same(fb, ref, "FrozenBitmap")
    assert_same(Bitmap(fb), ref, "Bitmap(FrozenBitmap)")
    assert_same(Bitmap(Bitmap(values)), ref, "Bitmap(Bitmap)")
    assert bool(Bitmap(values)) == bool(ref)
    assert_same(Bitmap(), [], "Bitmap()")
    assert_same(Bitmap(None), [], "Bitmap(None)")


@ORACLE
@SETTINGS
@given(data=st.data())
def test_construction_from_range(oracle, data):
    _, C, maxv = oracle
    start, stop = data.draw(ranges(maxv, allow_reversed=True), label="range")
    step = data.draw(st.sampled_from([1, 1, 2, 3, 7, 4096, U16 - 1, U16, U16 + 1]), label="step")
    r = range(start, stop, step)
    bm = Bitmap(r)
    # (pyroaring.BitMap(range) with a step mis-handles ranges near 2**32: give it a list)
    ref = C(r) if step == 1 else C(list(r))
    assert_same(bm, ref, f"Bitmap({r})")
    assert_same(bm, list(r), f"Bitmap({r}) vs python")
    # same values, same constructor => the same containers (both run_optimize)
    assert_stats_match(bm.get_statistics(), ref.get_statistics(), len(ref) > 0, f"stats of {r}")


# ----------------------------------------------------------------------------- mutation
@ORACLE
@SETTINGS
@given(data=st.data())
def test_add_discard_remove(oracle, data):
    _, C, maxv = oracle
    values = data.draw(value_lists(maxv, max_parts=3), label="values")
    pts = query_points(data.draw, values, maxv)
    ops = data.draw(st.lists(st.tuples(st.sampled_from(["add", "discard", "remove", "add_checked"]),
                                       st.sampled_from(pts)), max_size=40), label="ops")
    bm, ref = Bitmap(values), C(values)
    for name, v in ops:
        assert_same_outcome(lambda: getattr(bm, name)(v), lambda: getattr(ref, name)(v), f"{name}({v})")
        assert (v in bm) == (v in ref), f"after {name}({v})"
        assert len(bm) == len(ref), f"len after {name}({v})"
    assert_same(bm, ref, "after ops")
    check_kinds_if_canonical(bm, ref)


@ORACLE
@SETTINGS
@given(data=st.data())
def test_update(oracle, data):
    _, C, maxv = oracle
    a = data.draw(value_lists(maxv, max_parts=2), label="a")
    b = data.draw(value_lists(maxv, max_parts=2), label="b")
    c = data.draw(small_value_lists(maxv), label="c")
    bm, ref = Bitmap(a), C(a)
    bm.update(b, np.array(c, dtype=np.uint64), range(0, 0))
    ref.update(b, c)
    assert_same(bm, ref, "update(list, ndarray, range)")
    bm.update(Bitmap(c))  # an ext bitmap is an iterable too
    assert_same(bm, ref, "update(Bitmap)")
    bm.update()
    assert_same(bm, ref, "update()")


RANGE_OPS = ["add_range", "remove_range", "flip_inplace"]


@ORACLE
@SETTINGS
@given(data=st.data())
def test_range_mutations(oracle, data):
    _, C, maxv = oracle
    values = data.draw(value_lists(maxv, max_parts=3), label="values")
    ops = data.draw(st.lists(st.tuples(st.sampled_from(RANGE_OPS), ranges(maxv, allow_reversed=True)),
                             min_size=1, max_size=5), label="ops")
    bm, ref = Bitmap(values), C(values)
    for name, (s, e) in ops:
        getattr(bm, name)(s, e)
        getattr(ref, name)(s, e)
        assert len(bm) == len(ref), f"len after {name}({s}, {e})"
    assert_same(bm, ref, f"after {ops}")
    check_kinds_if_canonical(bm, ref)


@ORACLE
@SETTINGS
@given(data=st.data())
def test_flip_returns_new(oracle, data):
    _, C, maxv = oracle
    values = data.draw(value_lists(maxv, max_parts=3), label="values")
    s, e = data.draw(ranges(maxv, allow_reversed=True), label="range")
    for cls in (Bitmap, FrozenBitmap):
        bm = cls(values)
        flipped = bm.flip(s, e)
        assert type(flipped) is cls
        assert_same(flipped, C(values).flip(s, e), f"{cls.__name__}.flip({s}, {e})")
        assert_same(bm, C(values), "flip() must not modify its operand")
    # hand-computed: symmetric difference with the range, for non-empty ranges
    if s < e:
        exp = set(values) ^ set(range(s, e))
        assert_same(Bitmap(values).flip(s, e), exp, "flip vs python")


# ----------------------------------------------------------------------------- queries
@ORACLE
@SETTINGS
@given(data=st.data())
def test_point_queries(oracle, data):
    _, C, maxv = oracle
    values = data.draw(value_lists(maxv), label="values")
    bm, ref = Bitmap(values), C(values)
    pts = query_points(data.draw, values, maxv)
    for p in pts:
        assert (p in bm) == (p in ref), f"{p} in"
        assert bm.rank(p) == ref.rank(p), f"rank({p})"
        assert_same_outcome(lambda: bm.next_set_bit(p), lambda: ref.next_set_bit(p), f"next_set_bit({p})")
        got = list(itertools.islice(bm.iter_equal_or_larger(p), 100))
        assert got == list(itertools.islice(ref.iter_equal_or_larger(p), 100)), f"iter_equal_or_larger({p})"
    p = data.draw(st.sampled_from(pts), label="full iter point")
    assert list(bm.iter_equal_or_larger(p)) == list(ref.iter_equal_or_larger(p)), \
        f"full iter_equal_or_larger({p})"


@ORACLE
@SETTINGS
@given(data=st.data())
def test_range_queries(oracle, data):
    _, C, maxv = oracle
    values = data.draw(value_lists(maxv), label="values")
    bm, ref = Bitmap(values), C(values)
    rs = data.draw(st.lists(ranges(maxv), min_size=1, max_size=6), label="ranges")
    # ranges that exactly cover members (so contains_range can be True for non-trivial ranges)
    if values:
        vs = sorted(set(values))
        i = data.draw(st.integers(0, len(vs) - 1))
        j = data.draw(st.integers(i, min(len(vs) - 1, i + 70_000)))
        rs += [(vs[i], min(vs[j] + 1, maxv)), (vs[i], min(vs[i] + 1, maxv)), (vs[i], vs[j])]
    # hand-computed expectations: pyroaring.BitMap64.contains_range is wrong when the range
    # ends inside a missing container (BitMap64(range(65536)) + [131072] "contains" [0, 65537))
    vs = sorted(set(values))
    for s, e in rs:
        count = max(bisect.bisect_left(vs, e) - bisect.bisect_left(vs, s), 0)
        assert bm.range_cardinality(s, e) == count, f"range_cardinality({s}, {e})"
        assert bm.range_cardinality(s, e) == ref.range_cardinality(s, e), f"range_cardinality({s}, {e})"
        assert bm.contains_range(s, e) == (e <= s or count == e - s), f"contains_range({s}, {e})"


@ORACLE
@SETTINGS
@given(data=st.data())
def test_min_max_len_iteration(oracle, data):
    _, C, maxv = oracle
    values = data.draw(value_lists(maxv), label="values")
    for cls in (Bitmap, FrozenBitmap):
        bm, ref = cls(values), C(values)
        assert len(bm) == len(ref)
        assert bool(bm) == bool(ref)
        assert_same_outcome(bm.min, ref.min, "min()")
        assert_same_outcome(bm.max, ref.max, "max()")
        assert list(bm) == list(ref)
        assert list(reversed(bm)) == list(reversed(ref))
        arr = bm.to_numpy()
        assert isinstance(arr, np.ndarray) and arr.dtype == np.uint64 and arr.ndim == 1
        assert arr.tolist() == list(ref)
        assert list(bm.to_array()) == list(ref)


@ORACLE
@SETTINGS
@given(data=st.data())
def test_select_and_index(oracle, data):
    _, C, maxv = oracle
    values = data.draw(value_lists(maxv), label="values")
    bm, ref = Bitmap(values), C(values)
    n = len(ref)
    idxs = {0, 1, n - 1, n, n + 1, -1, -2, -n, -n - 1, 4095, 4096, 65535, 65536}
    idxs.update(data.draw(st.lists(st.integers(-n - 2, n + 2), max_size=10), label="idxs"))
    for i in sorted(idxs):
        assert_same_outcome(lambda: bm[i], lambda: ref[i], f"bm[{i}] (len {n})")
        if i >= 0:
            assert_same_outcome(lambda: bm.select(i), lambda: ref[i], f"select({i}) (len {n})")
    # select is the inverse of rank
    for i in data.draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=5)) if n else []:
        v = bm.select(i)
        assert bm.rank(v) == i + 1


@ORACLE
@SETTINGS
@given(data=st.data())
def test_positional_slice(oracle, data):
    _, C, maxv = oracle
    values = data.draw(value_lists(maxv), label="values")
    n = len(set(values))
    bound = st.one_of(st.none(), st.integers(-n - 3, n + 3))
    sl = slice(data.draw(bound, label="start"), data.draw(bound, label="stop"),
               data.draw(st.sampled_from([None, 1, 2, 3, 7, 4096, -1, -2, -3]), label="step"))
    expected = sorted(set(values))[sl]
    for cls in (Bitmap, FrozenBitmap):
        bm = cls(values)
        got = bm[sl]
        assert type(got) is cls, f"{cls.__name__}[{sl}] returned {type(got).__name__}"
        assert_same(got, expected, f"[{sl}]")
        assert_same(bm, C(values), "slicing must not modify the bitmap")
    with pytest.raises(ValueError):
        Bitmap(values)[::0]


@ORACLE
@SETTINGS
@given(data=st.data())
def test_slice_method(oracle, data):
    _, C, maxv = oracle
    values = data.draw(value_lists(maxv), label="values")
    pts = query_points(data.draw, values, maxv) + [U64]
    start = data.draw(st.sampled_from(pts), label="start")
    stop = data.draw(st.one_of(st.sampled_from(pts), st.integers(0, U64)), label="stop")
    expected = [v for v in sorted(set(values)) if start <= v < stop]
    for cls in (Bitmap, FrozenBitmap):
        bm = cls(values)
        got = bm.slice(start, stop)
        assert type(got) is cls
        assert_same(got, expected, f"slice({start}, {stop})")
        assert_same(bm, C(values), "slice() must not modify the bitmap")


SHIFTS = [0, 1, -1, 2, U16 - 1, U16, -U16, U32 - 1, U32, -U32, U48, -U48, 2**63, -(2**63),
          MAX64, -MAX64, MAX64 - 1]


@ORACLE
@SETTINGS
@given(data=st.data())
def test_shift(oracle, data):
    _, C, maxv = oracle
    values = data.draw(value_lists(maxv), label="values")
    n = data.draw(st.one_of(st.sampled_from(SHIFTS), st.integers(-MAX64, MAX64),
                            st.integers(-U32, U32)), label="offset")
    s = set(values)
    expected = [v + n for v in s if 0 <= v + n < U64]
    for cls in (Bitmap, FrozenBitmap):
        bm = cls(values)
        got = bm.shift(n)
        assert type(got) is cls
        assert_same(got, expected, f"shift({n})")
        assert_same(bm, s, "shift() must not modify the bitmap")
    if maxv == MAX64 and -(2**63) <= n < 2**63:  # pyroaring's BitMap64.shift takes a C long
        assert_same(Bitmap(values).shift(n), C(values).shift(n), f"shift({n}) vs BitMap64")


# ----------------------------------------------------------------------------- set algebra
BINOPS = [("&", operator.and_, operator.iand, "intersection"),
          ("|", operator.or_, operator.ior, "union"),
          ("^", operator.xor, operator.ixor, "symmetric_difference"),
          ("-", operator.sub, operator.isub, "difference")]
UPDATES = {"&": "intersection_update", "^": "symmetric_difference_update", "-": "difference_update",
           "|": "update"}


def _related_pair(data, maxv, big=True):
    strat = value_lists(maxv, max_parts=3) if big else small_value_lists(maxv)
    a = data.draw(strat, label="a")
    b = data.draw(strat, label="b")
    mode = data.draw(st.sampled_from(["indep", "sub", "super", "equal", "overlap"]), label="mode")
    if mode == "sub":
        a = [v for i, v in enumerate(b) if i % 3]
    elif mode == "super":
        a = b + a
    elif mode == "equal":
        a = list(reversed(b))
    elif mode == "overlap":
        a = a + b[: len(b) // 2]
    return a, b


@ORACLE
@SETTINGS
@given(data=st.data())
def test_binary_operators(oracle, data):
    _, C, maxv = oracle
    av, bv = _related_pair(data, maxv)
    a, b, ra, rb = Bitmap(av), Bitmap(bv), C(av), C(bv)
    for sym, op, iop, name in BINOPS:
        exp = op(ra, rb)
        got = op(a, b)
        assert type(got) is Bitmap
        assert_same(got, exp, f"a {sym} b")
        assert_same(getattr(a, name)(b), exp, f"a.{name}(b)")
        # in place: same object, right operand untouched
        x = a.copy()
        x0 = x
        x = iop(x, b)
        assert x is x0, f"{sym}= must return self"
        assert_same(x, exp, f"a {sym}= b")
        y = a.copy()
        getattr(y, UPDATES[sym])(b)
        assert_same(y, exp, f"a.{UPDATES[sym]}(b)")
        # mixing mutable and frozen operands: the result has the left operand's type
        fa, fb = FrozenBitmap(av), FrozenBitmap(bv)
        assert type(op(fa, b)) is FrozenBitmap and type(op(a, fb)) is Bitmap
        assert_same(op(fa, fb), exp, f"frozen {sym} frozen")
        assert_same(op(a, fb), exp, f"bitmap {sym} frozen")
        z = a.copy()
        z = iop(z, fb)
        assert_same(z, exp, f"a {sym}= frozen")
    assert_same(a, ra, "left operand modified")
    assert_same(b, rb, "right operand modified")
    check_kinds_if_canonical(a & b, ra & rb)
    check_kinds_if_canonical(a ^ b, ra ^ rb)


@ORACLE
@SETTINGS
@given(data=st.data())
def test_self_aliasing(oracle, data):
    """x op= x with the very same object on both sides."""
    _, C, maxv = oracle
    av = data.draw(value_lists(maxv, max_parts=3), label="a")
    s = set(av)
    for sym, op, iop, name in BINOPS:
        x = Bitmap(av)
        assert_same(op(x, x), {"&": s, "|": s, "^": set(), "-": set()}[sym], f"x {sym} x")
        x = iop(x, x)
        assert_same(x, {"&": s, "|": s, "^": set(), "-": set()}[sym], f"x {sym}= x")


@ORACLE
@SETTINGS
@given(data=st.data())
def test_nary(oracle, data):
    _, C, maxv = oracle
    lists = data.draw(st.lists(small_value_lists(maxv), min_size=1, max_size=5), label="lists")
    if len(lists) >= 2 and data.draw(st.booleans()):  # give the intersection something to find
        common = data.draw(small_value_lists(maxv))
        lists = [lst + common for lst in lists]
    sets = [set(v) for v in lists]
    bms = [Bitmap(v) for v in lists]
    union = set().union(*sets)
    inter = functools.reduce(operator.and_, sets)
    diff = functools.reduce(operator.sub, sets)
    got = Bitmap.union(*bms)
    assert type(got) is Bitmap
    assert_same(got, union, f"Bitmap.union(*{len(bms)})")
    assert_same(Bitmap.intersection(*bms), inter, f"Bitmap.intersection(*{len(bms)})")
    assert_same(bms[0].union(*bms[1:]), union, "bms[0].union(*rest)")
    assert_same(bms[0].intersection(*bms[1:]), inter, "bms[0].intersection(*rest)")
    assert_same(bms[0].difference(*bms[1:]), diff, "bms[0].difference(*rest)")
    for bm, s in zip(bms, sets):
        assert_same(bm, s, "n-ary op modified an operand")
    x = bms[0].copy()
    x.intersection_update(*bms[1:])
    assert_same(x, inter, "intersection_update(*rest)")
    x = bms[0].copy()
    x.difference_update(*bms[1:])
    assert_same(x, diff, "difference_update(*rest)")
    fz = [FrozenBitmap(v) for v in lists]
    assert_same(FrozenBitmap.union(*fz), union, "FrozenBitmap.union")
    assert type(FrozenBitmap.union(*fz)) is FrozenBitmap
    # pyroaring agrees
    refs = [C(v) for v in lists]
    assert_same(Bitmap.union(*bms), C.union(*refs), "union vs pyroaring")
    assert_same(Bitmap.intersection(*bms), C.intersection(*refs), "intersection vs pyroaring")


@ORACLE
@SETTINGS
@given(data=st.data())
def test_cardinalities_and_relations(oracle, data):
    _, C, maxv = oracle
    av, bv = _related_pair(data, maxv)
    a, b, ra, rb = Bitmap(av), Bitmap(bv), C(av), C(bv)
    fb = FrozenBitmap(bv)
    for other in (b, fb):
        for name in ("intersection_cardinality", "union_cardinality", "difference_cardinality",
                     "symmetric_difference_cardinality", "isdisjoint", "intersect", "issubset",
                     "issuperset"):
            assert getattr(a, name)(other) == getattr(ra, name)(rb), name
            assert getattr(other, name)(a) == getattr(rb, name)(ra), f"{name} (swapped)"
        assert same_float(a.jaccard_index(other), ra.jaccard_index(rb)), \
            f"jaccard_index {a.jaccard_index(other)} != {ra.jaccard_index(rb)}"
        for sym, op in (("<=", operator.le), ("<", operator.lt), (">=", operator.ge),
                        (">", operator.gt), ("==", operator.eq), ("!=", operator.ne)):
            assert op(a, other) == op(ra, rb), f"a {sym} b"
            assert op(other, a) == op(rb, ra), f"b {sym} a"
    assert (a == FrozenBitmap(av)) and not (a != FrozenBitmap(av))
    assert a == a.copy()


# ----------------------------------------------------------------------------- copy / freeze
@ORACLE
@SETTINGS
@given(data=st.data())
def test_copy_is_independent(oracle, data):
    _, C, maxv = oracle
    values = data.draw(value_lists(maxv, max_parts=3), label="values")
    extra = data.draw(st.lists(st.integers(0, maxv), min_size=1, max_size=5), label="extra")
    s = set(values)
    bm = Bitmap(values)
    c = bm.copy()
    assert type(c) is Bitmap and c is not bm and c == bm
    mirror = set(s)
    c.update(extra)
    mirror |= set(extra)
    if values:
        c.discard(values[0])
        mirror.discard(values[0])
        lo = min(s)
        c.remove_range(lo, min(lo + 1000, U64))
        mirror -= set(range(lo, min(lo + 1000, U64)))
    assert_same(bm, s, "original changed through its copy")
    bm.add_range(0, 5000)
    bm.update(extra)
    assert_same(c, mirror, "copy changed through the original")
    f = FrozenBitmap(values)
    fc = f.copy()
    assert type(fc) is FrozenBitmap and fc == f


@ORACLE
@SETTINGS
@given(data=st.data())
def test_freeze_and_hash(oracle, data):
    _, C, maxv = oracle
    values = data.draw(value_lists(maxv, max_parts=3), label="values")
    extra = data.draw(st.integers(0, maxv), label="extra")
    s = set(values)
    bm = Bitmap(values)
    f = bm.freeze()
    assert isinstance(f, FrozenBitmap) and not isinstance(f, Bitmap)
    assert f == bm and f == FrozenBitmap(values)
    # equal content => equal hash, however the bitmaps were built
    built = Bitmap()
    for v in reversed(values):
        built.add(v)
    f2 = built.freeze()
    f3 = FrozenBitmap(np.array(sorted(s), dtype=np.uint64))
    f4 = FrozenBitmap(values).copy()
    assert hash(f) == hash(f2) == hash(f3) == hash(f4) == hash(FrozenBitmap(values))
    assert {f: 1}[f3] == 1
    # the frozen bitmap does not follow later changes to its source
    bm.add(extra)
    bm.remove_range(0, 100)
    assert_same(f, s, "freeze() result changed with its source")
    with pytest.raises(TypeError):
        hash(bm)
    assert_frozen_immutable(f, s)


MUTATORS = [("add", (5,)), ("add_checked", (5,)), ("discard", (5,)), ("remove", (5,)), ("pop", ()),
            ("clear", ()), ("update", ([1, 2],)), ("add_range", (0, 10)), ("remove_range", (0, 10)),
            ("flip_inplace", (0, 10)), ("intersection_update", (None,)),
            ("difference_update", (None,)), ("symmetric_difference_update", (None,)),
            ("run_optimize", ()), ("shrink_to_fit", ())]


def assert_frozen_immutable(f, s):
    other = FrozenBitmap([1, 5, U32, MAX64])
    for name, args in MUTATORS:
        args = tuple(other if a is None else a for a in args)
        try:
            meth = getattr(f, name)
        except AttributeError:
            continue
        if name in ("run_optimize", "shrink_to_fit"):
            meth()  # harmless representation changes are allowed, content must not change
            continue
        with pytest.raises((AttributeError, TypeError)):
            meth(*args)
    g = f
    for iop in (operator.iand, operator.ior, operator.ixor, operator.isub):
        g = iop(f, other)
        assert_same(f, s, f"{iop.__name__} modified a FrozenBitmap")
    assert isinstance(g, FrozenBitmap)
    assert_same(f, s, "a FrozenBitmap was modified")


# ----------------------------------------------------------------------------- statistics
@ORACLE
@SETTINGS
@given(data=st.data())
def test_statistics_same_iterable(oracle, data):
    _, C, maxv = oracle
    values = data.draw(value_lists(maxv), label="values")
    bm, ref = Bitmap(values), C(values)
    assert_stats_match(bm.get_statistics(), ref.get_statistics(), bool(values), "constructed")
    assert bm.run_optimize() == ref.run_optimize()
    assert_stats_match(bm.get_statistics(), ref.get_statistics(), bool(values), "run_optimize")
    st_ = bm.get_statistics()
    assert st_["n_containers"] == st_["n_array_containers"] + st_["n_bitset_containers"] + \
        st_["n_run_containers"]
    assert st_["cardinality"] == len(set(values))
    mem = bm.get_memory_size()
    assert isinstance(mem, int) and mem >= 0
    if values:
        assert mem > 0
        assert st_["min_value"] == min(values) and st_["max_value"] == max(values)
    assert_same(bm, ref, "after run_optimize")
    bm.shrink_to_fit()
    assert_same(bm, ref, "after shrink_to_fit")


@ORACLE
@hsettings(max_examples=max(10, SETTINGS.max_examples // 2))
@given(data=st.data())
def test_container_kind_transitions(oracle, data):
    """Grow an array into a bitset by adds and shrink it back by discards / remove_range;
    compare container kinds with pyroaring (after run_optimize on both) at every step
    around the 4096-value threshold."""
    _, C, maxv = oracle
    key = data.draw(st.sampled_from([k for k in (0, 1, U16 - 1, U16, U32, U48 - 1) if k <= maxv >> 16]))
    base = key << 16
    other = data.draw(small_value_lists(maxv), label="other containers")
    start = [base + 2 * i for i in range(4090)]  # stride 2: runs never win
    bm, ref = Bitmap(start + other), C(start + other)

    def both(name, s, e):
        """ext gets [s, e) as is (e may be 2**64); pyroaring cannot take 2**64 as an end."""
        getattr(bm, name)(s, e)
        getattr(ref, name)(s, min(e, MAX64))
        if e == U64:
            (ref.add if name == "add_range" else ref.discard)(MAX64)

    def check(what):
        bm.run_optimize()
        ref.run_optimize()
        assert kinds(bm.get_statistics()) == kinds(ref.get_statistics()), what
        assert len(bm) == len(ref), what

    check("start")
    for i in range(4090, 4100):  # crosses 4096 -> 4097: array becomes a bitset
        bm.add(base + 2 * i)
        ref.add(base + 2 * i)
        check(f"after add #{i}")
    for i in range(4099, 4088, -1):  # and back
        bm.discard(base + 2 * i)
        ref.discard(base + 2 * i)
        check(f"after discard #{i}")
    for i in range(4089, 4100):
        bm.add(base + 2 * i)
        ref.add(base + 2 * i)
    check("regrown")
    both("remove_range", base + 2 * 4090, base + U16)  # one remove_range crossing the threshold
    check("remove_range shrink")
    # runs: fill the chunk densely, then punch holes until runs lose to array / bitset
    both("add_range", base, base + U16)
    check("full chunk")
    for step in (4096, 1024, 64, 16, 3):
        for v in range(base + 1, base + U16, step):
            bm.discard(v)
            ref.discard(v)
        check(f"holes every {step}")
    both("remove_range", base, base + U16 - 100)
    check("tail only")
    assert_same(bm, ref, "final")


# ----------------------------------------------------------------------------- large values
def test_large_ranges_vs_bitmap64():
    import pyroaring

    cases = [(0, 1 << 24), (U32 - (1 << 20), U32 + (1 << 20)), (U48 - 5, U48 + (1 << 22)),
             (MAX64 - (1 << 22), MAX64)]
    bm, ref = Bitmap(), pyroaring.BitMap64()
    for s, e in cases:
        bm.add_range(s, e)
        ref.add_range(s, e)
    assert len(bm) == len(ref)
    assert bm.min() == ref.min() and bm.max() == ref.max()
    bm.run_optimize()
    ref.run_optimize()
    for s, e in cases:
        for v in (s - 1, s, s + 1, e - 1, e, (s + e) // 2):
            if 0 <= v <= MAX64:
                assert (v in bm) == (v in ref), v
                assert bm.rank(v) == ref.rank(v), v
        assert bm.range_cardinality(s, e) == e - s
        assert bm.contains_range(s, e)
    for i in (0, 1 << 23, (1 << 24) + 7, len(ref) - 1):
        assert bm[i] == ref[i]
    assert_stats_match(bm.get_statistics(), ref.get_statistics(), True, "large ranges")
    bm.flip_inplace(U32, U32 + (1 << 21))
    ref.flip_inplace(U32, U32 + (1 << 21))
    assert len(bm) == len(ref)
    bm.run_optimize()
    ref.run_optimize()
    assert_stats_match(bm.get_statistics(), ref.get_statistics(), True, "after flip")
    assert bm.serialize() == ref.serialize()


def test_range_ops_ending_at_2_64():
    """[start, 2**64) is the only way to reach 2**64-1 with a range: it must work."""
    bm = Bitmap()
    bm.add_range(MAX64 - 9, U64)
    assert_same(bm, range(MAX64 - 9, U64))
    assert bm.max() == MAX64 and bm.contains_range(MAX64 - 9, U64)
    assert bm.range_cardinality(0, U64) == 10
    bm.remove_range(MAX64 - 4, U64)
    assert_same(bm, range(MAX64 - 9, MAX64 - 4))
    bm.flip_inplace(MAX64 - 1, U64)
    assert_same(bm, list(range(MAX64 - 9, MAX64 - 4)) + [MAX64 - 1, MAX64])
    assert_same(Bitmap(range(MAX64 - 3, U64)), [MAX64 - 3, MAX64 - 2, MAX64 - 1, MAX64])
    assert_same(Bitmap([MAX64, 3]).slice(3, U64), [3, MAX64])
