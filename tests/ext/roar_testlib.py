"""Shared helpers for the ext/_roaring tests: the implementation under test, the pyroaring
oracles, hypothesis settings and value strategies that hit the roaring boundaries.

(Named roar_testlib, not helpers/conftest, because tests/ has no __init__.py and module
basenames must be unique across the whole tests tree.)
"""
from __future__ import annotations

import math
import os
import random
from collections.abc import Sequence

import numpy as np
import pyroaring
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

IMPL = os.environ.get("ROARBASE_EXT_IMPL", "ext")
if IMPL != "pyroaring-shim":
    from ext import BaseBitmap, Bitmap, CorruptDataError, FrozenBitmap
else:  # only to validate the tests themselves, see roar_shim.py: stands in for ext's types
    from roar_shim import BaseBitmap, Bitmap, CorruptDataError, FrozenBitmap  # type: ignore[assignment]  # noqa: F401

U16 = 1 << 16
U32 = 1 << 32
U48 = 1 << 48
U64 = 1 << 64
MAX32 = U32 - 1
MAX64 = U64 - 1

EXAMPLES = int(os.environ.get("ROARBASE_EXT_EXAMPLES", "40"))


def hsettings(max_examples: int | None = None, **kw) -> settings:
    return settings(
        max_examples=max_examples if max_examples is not None else EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.large_base_example],
        **kw,
    )


SETTINGS = hsettings()

# ----------------------------------------------------------------------------- oracles
# (id, pyroaring class, largest value the oracle can hold)
ORACLES = [("bm32", pyroaring.BitMap, MAX32), ("bm64", pyroaring.BitMap64, MAX64)]
ORACLE_IDS = [o[0] for o in ORACLES]
FROZEN_ORACLE = {pyroaring.BitMap: pyroaring.FrozenBitMap, pyroaring.BitMap64: pyroaring.FrozenBitMap64}

# ----------------------------------------------------------------------------- strategies
_BOUNDARIES = [
    0, 1, 2, U16 - 2, U16 - 1, U16, U16 + 1, 2 * U16 - 1, 2 * U16, 2**31 - 1, 2**31,
    U32 - 2, U32 - 1, U32, U32 + 1, U32 + U16, U48 - 1, U48, U48 + 1, 2**63 - 1, 2**63,
    U64 - U16, U64 - 2, U64 - 1,
]
# chunk keys (value >> 16) at the interesting places: first, the chunks around 2**32 and
# 2**48 (i.e. the 32-bit "bucket" edges of the 64-bit format) and the very last chunk.
_CHUNK_KEYS = [0, 1, 2, U16 - 1, U16, U16 + 1, U32 - 1, U32, U48 - 1]


def boundaries(maxv: int) -> list[int]:
    return [b for b in _BOUNDARIES if b <= maxv]


def chunk_keys(maxv: int):
    top = maxv >> 16
    return st.one_of(st.sampled_from([k for k in _CHUNK_KEYS if k <= top]), st.integers(0, top))


def _near(base: int, deltas: list[int], maxv: int) -> list[int]:
    return [min(max(base + d, 0), maxv) for d in deltas]


def _chunk_values(key: int, n: int, pattern: str, seed: int) -> list[int]:
    base = key << 16
    lows: Sequence[int]
    if pattern == "stride2":  # never run-compressible: stays an array / bitset
        lows = range(0, 2 * n, 2) if 2 * n <= U16 else range(0, n)
    elif pattern == "block":  # one run
        lows = range(U16 - n, U16)
    else:
        lows = random.Random(seed).sample(range(U16), n)
    return [base + lo for lo in lows]


def value_part(maxv: int):
    b = boundaries(maxv)
    ck = chunk_keys(maxv)
    run_len = st.one_of(st.integers(1, 70), st.sampled_from([4095, 4096, 4097, U16 - 1, U16, U16 + 1]),
                        st.integers(1, 70_000))
    run_offset = st.one_of(st.sampled_from([0, 1, U16 - 1, U16 - 4096]), st.integers(0, U16 - 1))
    return st.one_of(
        st.lists(st.sampled_from(b), max_size=8),
        st.lists(st.integers(0, maxv), max_size=16),
        st.builds(lambda base, ds: _near(base, ds, maxv), st.sampled_from(b),
                  st.lists(st.integers(-3, 3), max_size=6)),
        # sparse values inside one chunk
        st.builds(lambda k, lows: [(k << 16) + lo for lo in lows], ck,
                  st.lists(st.integers(0, U16 - 1), max_size=40)),
        # a dense run, possibly crossing chunk boundaries
        st.builds(lambda k, off, n: list(range((k << 16) + off, min((k << 16) + off + n, maxv + 1))),
                  ck, run_offset, run_len),
        # a full container
        ck.map(lambda k: list(range(k << 16, (k + 1) << 16))),
        # the array/bitset threshold
        st.builds(_chunk_values, ck, st.sampled_from([4095, 4096, 4097, 5000]),
                  st.sampled_from(["stride2", "random", "block"]), st.integers(0, 2**32)),
    )


def value_lists(maxv: int = MAX64, max_parts: int = 4):
    """Lists of ints in [0, maxv] (unsorted, possibly with duplicates)."""
    def flatten(parts):
        out = [v for p in parts for v in p]
        return out
    return st.lists(value_part(maxv), max_size=max_parts).map(flatten)


def small_value_lists(maxv: int = MAX64):
    """Cheaper lists (no full containers / long runs) for tests combining many bitmaps."""
    b = boundaries(maxv)
    ck = chunk_keys(maxv)
    part = st.one_of(
        st.lists(st.sampled_from(b), max_size=8),
        st.lists(st.integers(0, maxv), max_size=12),
        st.builds(lambda k, lows: [(k << 16) + lo for lo in lows], ck,
                  st.lists(st.integers(0, U16 - 1), max_size=30)),
        st.builds(lambda k, off, n: list(range((k << 16) + off, min((k << 16) + off + n, maxv + 1))),
                  ck, st.integers(0, U16 - 1), st.integers(1, 5000)),
    )
    return st.lists(part, max_size=3).map(lambda ps: [v for p in ps for v in p])


def query_points(draw, values, maxv: int, n: int = 12) -> list[int]:
    """Points to query: boundaries, members, members +- 1, chunk edges, random."""
    pts = {0, maxv}
    pts.update(draw(st.lists(st.sampled_from(boundaries(maxv)), max_size=4)))
    pts.update(draw(st.lists(st.integers(0, maxv), max_size=4)))
    if values:
        vs = sorted(set(values))
        picks = draw(st.lists(st.sampled_from(vs), max_size=n))
        for v in picks + [vs[0], vs[-1]]:
            for x in (v - 1, v, v + 1, (v >> 16) << 16, ((v >> 16) << 16) + U16 - 1,
                      ((v >> 16) << 16) + U16):
                if 0 <= x <= maxv:
                    pts.add(x)
    return sorted(pts)


def ranges(maxv: int, max_len: int = 200_000, allow_reversed: bool = False):
    """(start, end) pairs with end <= maxv (so pyroaring can take them) and bounded length."""
    b = boundaries(maxv)
    ck = chunk_keys(maxv)
    starts = st.one_of(
        st.sampled_from(b),
        st.builds(lambda k, d: min(max((k << 16) + d, 0), maxv), ck, st.sampled_from([-1, 0, 1, U16 - 1, U16])),
        st.integers(0, maxv),
    )
    lengths = st.one_of(st.sampled_from([0, 1, 2, 4095, 4096, 4097, U16 - 1, U16, U16 + 1]),
                        st.integers(0, max_len))

    @st.composite
    def _r(draw):
        s = draw(starts)
        n = draw(lengths)
        if draw(st.booleans()):  # end at a boundary instead
            e = draw(st.sampled_from(b))
            if e < s or e - s > max_len:
                e = min(s + n, maxv)
        else:
            e = min(s + n, maxv)
        if allow_reversed and draw(st.integers(0, 9)) == 0 and s > 0:
            return s, s - draw(st.sampled_from([1, 1, 2, 4096])) if s >= 4096 else s - 1  # start > end
        return s, e
    return _r()


# ----------------------------------------------------------------------------- assertions
def contents(x) -> list[int]:
    return list(x)


def assert_same(bm, expected, what: str = "") -> None:
    """bm (the ext bitmap) has exactly the values of `expected` (pyroaring bitmap or iterable)."""
    exp = sorted(set(expected)) if not isinstance(expected, (pyroaring.AbstractBitMap,
                                                             pyroaring.AbstractBitMap64)) else list(expected)
    got = list(bm)
    assert len(bm) == len(exp), f"{what}: len {len(bm)} != {len(exp)}"
    if got != exp:
        gs, es = set(got), set(exp)
        raise AssertionError(
            f"{what}: contents differ; missing={sorted(es - gs)[:10]} extra={sorted(gs - es)[:10]} "
            f"sorted={got == sorted(got)}")


def same_float(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)


STAT_KEYS = ("cardinality", "n_containers", "n_array_containers", "n_bitset_containers",
             "n_run_containers", "min_value", "max_value")


def assert_stats_match(ext_stats: dict, py_stats: dict, nonempty: bool, what: str = "") -> None:
    for k in STAT_KEYS:
        assert k in ext_stats, f"{what}: get_statistics() lacks {k!r}: {sorted(ext_stats)}"
    keys = [k for k in py_stats if k in ext_stats and k != "sum_value"]
    if not nonempty:
        keys = [k for k in keys if k not in ("min_value", "max_value")]
    diff = {k: (ext_stats[k], py_stats[k]) for k in keys if ext_stats[k] != py_stats[k]}
    assert not diff, f"{what}: get_statistics differs (ext, pyroaring): {diff}"


def np_uint64(values) -> np.ndarray:
    return np.array(list(values), dtype=np.uint64)


def outcome(fn):
    """('ok', result) or ('raise', exception type)."""
    try:
        return ("ok", fn())
    except Exception as exc:  # the type is what we compare
        return ("raise", type(exc))


def assert_same_outcome(fn_ext, fn_ref, what: str = "") -> object:
    """Run both; they must return equal results or raise the same exception type
    (the ext exception may be a subclass of pyroaring's)."""
    got, exp = outcome(fn_ext), outcome(fn_ref)
    if exp[0] == "raise":
        assert got[0] == "raise" and issubclass(got[1], exp[1]), \
            f"{what}: pyroaring raises {exp[1].__name__}, ext gave {got}"
    else:
        assert got == exp, f"{what}: ext {got} != pyroaring {exp}"
    return got[1]


def kinds(stats: dict) -> dict:
    return {k: stats[k] for k in ("n_containers", "n_array_containers", "n_bitset_containers",
                                  "n_run_containers", "cardinality")}


def check_kinds_if_canonical(bm, ref) -> bool:
    """After run_optimize() on both: if pyroaring's container kinds equal those of a
    pyroaring bitmap freshly built from the same values (i.e. pyroaring's result is the
    deterministic one), ext's kinds must equal them too. Returns whether it compared."""
    bm.run_optimize()
    ref.run_optimize()
    fresh = type(ref)(list(ref))  # built from values, not copied (a copy keeps the kinds)
    fresh.run_optimize()
    if kinds(ref.get_statistics()) != kinds(fresh.get_statistics()):
        return False
    assert kinds(bm.get_statistics()) == kinds(ref.get_statistics()), \
        f"container kinds after run_optimize: ext {kinds(bm.get_statistics())} " \
        f"!= pyroaring {kinds(ref.get_statistics())}"
    return True
