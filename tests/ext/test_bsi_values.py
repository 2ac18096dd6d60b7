"""bsi_values (the bit planes of a BSI field decoded to one value per record) against a
numpy oracle: the planes are built from known values, the kernel must give them back.

The cases cover both ways a word of 64 records is decoded — a word whose 64 records all
have a value (decoded together, eight records and eight planes at a time) and a partial
one (bit by bit) — and their mixtures within a container, several containers, a filter that
turns full words partial, signs, planes without a container where others have one, no
planes, and values up to 64 bits."""
from __future__ import annotations

import numpy as np
import pytest

from ext import FrozenBitmap, bsi_values

SHARD = 1 << 20


def _encode(cols: np.ndarray, vals: list[int],
            depth: int) -> tuple[FrozenBitmap, FrozenBitmap, list[FrozenBitmap | None]]:
    """exists, sign and planes of (cols, vals): magnitude bits in planes, sign apart."""
    mags = [abs(v) for v in vals]
    planes: list[FrozenBitmap | None] = [FrozenBitmap([int(c) for c, m in zip(cols, mags) if (m >> p) & 1])
                                         for p in range(depth)]
    sign = FrozenBitmap([int(c) for c, v in zip(cols, vals) if v < 0])
    return FrozenBitmap(cols), sign, planes


def _check(cols: np.ndarray, vals: list[int], depth: int, filt: np.ndarray | None = None) -> None:
    exists, sign, planes = _encode(cols, vals, depth)
    got_cols, got_neg, got_mag = bsi_values(exists, sign, planes, None if filt is None else FrozenBitmap(filt))
    want = dict(zip(cols.tolist(), vals))
    keep = sorted(want) if filt is None else sorted(set(want) & set(filt.tolist()))
    assert got_cols.tolist() == keep
    assert [(-m if n else m) for n, m in zip(got_neg.tolist(), got_mag.tolist())] == [want[c] for c in keep]


@pytest.mark.parametrize("seed", range(6))
def test_full_and_partial_words(seed):
    rng = np.random.default_rng(seed)
    # runs of whole words (all 64 records present), partial words and gaps, in two containers
    # of one shard and one container of the next
    parts = [np.arange(0, 640), np.arange(700, 1000, 3), np.arange(65536 + 64, 65536 + 64 * 40),
             rng.choice(np.arange(65536 * 3, 65536 * 4), 500, replace=False), np.arange(SHARD, SHARD + 4096)]
    cols = np.unique(np.concatenate(parts)).astype(np.uint64)
    depth = int(rng.integers(1, 24))
    vals = [int(v) for v in rng.integers(-(1 << depth) + 1, 1 << depth, len(cols))]
    _check(cols, vals, depth)


def test_a_filter_makes_full_words_partial():
    rng = np.random.default_rng(11)
    cols = np.arange(0, 64 * 50, dtype=np.uint64)
    vals = [int(v) for v in rng.integers(0, 1 << 17, len(cols))]
    filt = np.sort(rng.choice(np.arange(64 * 60), 900, replace=False)).astype(np.uint64)
    _check(cols, vals, 17, filt)
    _check(cols, vals, 17, np.arange(64 * 10, 64 * 20, dtype=np.uint64))     # whole words kept


@pytest.mark.parametrize("depth", [0, 1, 7, 8, 9, 16, 33, 63, 64])
def test_depths(depth):
    rng = np.random.default_rng(depth)
    cols = np.arange(0, 64 * 8, dtype=np.uint64)
    vals = [int(rng.integers(0, 1 << 62)) << 2 | int(rng.integers(0, 4)) for _ in cols] if depth else [0] * len(cols)
    vals = [v & ((1 << depth) - 1) for v in vals]
    _check(cols, vals, depth)
    assert max(vals) < (1 << depth) or depth == 0


def test_planes_missing_a_container():
    # values below 2^8 in the first container, large ones in the second: the high planes
    # have no container for the first
    cols = np.arange(0, 65536 + 64 * 4, dtype=np.uint64)
    vals = [int(c % 200) if c < 65536 else int(c) * 1000 for c in cols]
    _check(cols, vals, 27)


def test_no_records():
    assert [a.tolist() for a in bsi_values(None, None, [])] == [[], [], []]
    exists, sign, planes = _encode(np.arange(64, dtype=np.uint64), list(range(64)), 6)
    got = bsi_values(exists, sign, planes, FrozenBitmap([5000]))
    assert [a.tolist() for a in got] == [[], [], []]


def test_more_than_64_planes_refused():
    exists, sign, planes = _encode(np.arange(64, dtype=np.uint64), list(range(64)), 6)
    with pytest.raises(ValueError):
        bsi_values(exists, sign, planes + [planes[0]] * 59)
