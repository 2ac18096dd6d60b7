"""Array x array union and symmetric difference at every kernel level (portable C, SSSE3,
AVX2/SSE4.1 block merges), against Python sets: the sizes around the 8-lane blocks, equal
and disjoint inputs, extremes of the 16-bit range, and random interleavings up to the
array limit (4096 values per container)."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ext import Bitmap
from ext import _roaring

# what this CPU offers (_simd_level is private: not in the stub)
LEVELS = sorted({_roaring._simd_level(level) for level in range(4)})  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def restore_level():
    best = _roaring._simd_level(3)
    yield
    _roaring._simd_level(best)


def _check(a: set[int], b: set[int], high: int = 0) -> None:
    base = high << 16
    A, B = Bitmap(sorted(base + x for x in a)), Bitmap(sorted(base + x for x in b))
    assert list(A | B) == sorted(base + x for x in a | b)
    assert list(A ^ B) == sorted(base + x for x in a ^ b)
    assert len(A | B) == len(a | b) and len(A ^ B) == len(a ^ b)


@pytest.mark.parametrize("level", LEVELS)
def test_edges(level):
    _roaring._simd_level(level)
    for na in (0, 1, 7, 8, 9, 15, 16, 17, 31, 64):
        for nb in (0, 1, 7, 8, 9, 16, 33):
            rng = random.Random(na * 100 + nb)
            pool = list(range(0, 200))
            _check(set(rng.sample(pool, min(na, 200))), set(rng.sample(pool, min(nb, 200))))
    _check(set(range(100)), set(range(100)))                     # every value twice
    _check(set(range(100)), set(range(100, 200)))                # disjoint, no interleave
    _check(set(range(100, 200)), set(range(100)))
    _check(set(range(0, 4000, 2)), set(range(1, 4000, 2)))       # perfect interleave
    _check({0, 1, 65534, 65535} | set(range(10, 30)), {0, 65535} | set(range(20, 40)), high=7)
    _check(set(range(65535 - 2047, 65536)), set(range(65535 - 4000, 65535 - 1000, 2)))


@pytest.mark.parametrize("level", LEVELS)
@given(a=st.sets(st.integers(0, 65535), max_size=2100), b=st.sets(st.integers(0, 65535), max_size=2100),
       shared=st.sets(st.integers(0, 65535), max_size=300))
@settings(max_examples=60, deadline=None)
def test_random_arrays(level, a, b, shared):
    _roaring._simd_level(level)
    _check(a | shared, b | shared)


@pytest.mark.parametrize("level", LEVELS)
def test_many_containers(level):
    _roaring._simd_level(level)
    rng = random.Random(level)
    span = 1 << 22
    a = set(rng.sample(range(span), 40_000))
    b = set(rng.sample(range(span), 40_000)) | set(rng.sample(sorted(a), 5000))
    A, B = Bitmap(sorted(a)), Bitmap(sorted(b))
    assert list(A | B) == sorted(a | b)
    assert list(A ^ B) == sorted(a ^ b)
    assert (A | B).serialize() == Bitmap(sorted(a | b)).serialize()
