"""bsi_planes (whole columns bit-sliced into exists, sign and magnitude planes) against a
plain-Python oracle. Records come in two ways the kernel slices them — 64 consecutive
records filling one word (transposed together) and anything else (bit by bit) — so the
cases mix dense aligned runs, runs that start or end mid-word, sparse records, several
containers and shards, records near 2^64, INT64_MIN and min_depth."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ext import bsi_planes

I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1


def _oracle(cols: list[int], offs: list[int], min_depth: int) -> tuple[list[int], list[int], list[list[int]]]:
    mags = [abs(o) for o in offs]
    depth = max([min_depth] + [m.bit_length() for m in mags])
    planes = [[c for c, m in zip(cols, mags) if (m >> p) & 1] for p in range(depth)]
    return cols, [c for c, o in zip(cols, offs) if o < 0], planes


def _check(cols: list[int], offs: list[int], min_depth: int = 0) -> None:
    exists, sign, planes = bsi_planes(np.array(cols, dtype=np.uint64), np.array(offs, dtype=np.int64), min_depth)
    want_cols, want_sign, want_planes = _oracle(cols, offs, min_depth)
    assert list(exists) == want_cols
    assert list(sign) == want_sign
    assert [list(p) for p in planes] == want_planes


@st.composite
def columns(draw: st.DrawFn) -> list[int]:
    """Strictly increasing record ids: a mix of dense runs (often word-aligned, often one
    past or short of a word) and single records, in one or a few containers."""
    base = draw(st.sampled_from([0, 1 << 16, 5 << 20, (1 << 64) - (1 << 17)]))
    ids: set[int] = set()
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            start = base + draw(st.integers(0, 1 << 17)) // 64 * 64 + draw(st.sampled_from([0, 0, 1, 63]))
            length = draw(st.sampled_from([64, 128, 63, 65, 200, 1000]))
            ids.update(range(start, start + length))
        else:
            ids.add(base + draw(st.integers(0, 1 << 17)))
    return sorted(i for i in ids if i < 1 << 64)


offsets = st.one_of(st.integers(-1000, 1000), st.integers(I64_MIN, I64_MAX),
                    st.sampled_from([0, 1, -1, I64_MIN, I64_MAX]))


@settings(max_examples=150, deadline=None)
@given(data=st.data(), cols=columns(), min_depth=st.sampled_from([0, 0, 3, 64]))
def test_planes_match_the_oracle(data: st.DataObject, cols: list[int], min_depth: int) -> None:
    offs = data.draw(st.lists(offsets, min_size=len(cols), max_size=len(cols)))
    _check(cols, offs, min_depth)


@pytest.mark.parametrize("seed", range(4))
def test_a_dense_shard_with_every_value_width(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 1 << 17                                   # two whole containers, every word full
    cols = list(range(3 << 20, (3 << 20) + n))
    width = [1, 7, 20, 40, 63][seed % 5]
    offs = [int(x) for x in rng.integers(-(1 << width), 1 << width, n)]
    offs[:3] = [I64_MIN + 1, 0, -(1 << width)]
    _check(cols, offs)


@pytest.mark.parametrize("density", [0.9, 0.3, 0.1])
def test_partly_filled_words(density: float) -> None:
    """Words with some records missing (a nullable column): transposed from 8 records a
    word, bit by bit below that."""
    rng = np.random.default_rng(int(density * 10))
    cols = [int(c) for c in np.flatnonzero(rng.random(1 << 17) < density)]
    offs = [int(x) for x in rng.integers(-(1 << 30), 1 << 30, len(cols))]
    _check(cols, offs)


def test_empty_and_refusals() -> None:
    _check([], [])
    _check([], [], 5)
    with pytest.raises(ValueError, match="strictly increasing"):
        bsi_planes(np.array([2, 2], dtype=np.uint64), np.array([1, 1], dtype=np.int64))
    with pytest.raises(ValueError, match="same length"):
        bsi_planes(np.array([1, 2], dtype=np.uint64), np.array([1], dtype=np.int64))
