"""Bit-sliced integers on plain pyroaring: how the floor stores int, decimal and timestamp.

A value v is stored as v - base (base = the column's smallest value, so every offset is
non-negative) in one BitMap per bit of the offset, plus a not-null BitMap. Every operation
is O(bits) whole-bitmap operations, the textbook way (O'Neil & Quass bit-sliced
comparison; Sum from per-slice popcounts) — no per-record Python loop, no caches.
"""
from __future__ import annotations

import array

import numpy as np
from pyroaring import BitMap


def bitmap_from(ids: np.ndarray) -> BitMap:
    """A BitMap of record ids; goes through array('I'), pyroaring's fast bulk path."""
    return BitMap(array.array("I", ids.astype(np.uint32, copy=False).tobytes()))


def ids_of(bitmap: BitMap) -> np.ndarray:
    """The members of a BitMap as a uint32 numpy array (a view, no copy)."""
    return np.frombuffer(bitmap.to_array(), dtype=np.uint32)


class BSI:
    """One bit-sliced integer column over record ids."""

    def __init__(self, ids: np.ndarray, values: np.ndarray) -> None:
        """Slice `values` (int64, one per record id in `ids`; absent ids are null)."""
        self.base = int(values.min()) if values.size else 0
        self.depth = int(values.max() - self.base).bit_length() if values.size else 0
        if self.depth > 32:
            raise ValueError(f"{self.depth}-bit offsets: slices are built from uint32")
        offsets = (values - self.base).astype(np.uint32)
        self.not_null = bitmap_from(ids)
        self.slices = [bitmap_from(ids[(offsets & np.uint32(1 << i)).astype(bool)])
                       for i in range(self.depth)]

    def greater(self, value: int, *, or_equal: bool = False) -> BitMap:
        """Records whose value is > value (>= with or_equal); nulls never match."""
        c = value - self.base - (1 if or_equal else 0)  # v >= x  ⟺  v > x - 1
        if c < 0:
            return self.not_null.copy()
        if c >= (1 << self.depth) - 1:
            return BitMap()
        above, equal = BitMap(), self.not_null
        for i in reversed(range(self.depth)):
            s = self.slices[i]
            if c >> i & 1:
                equal = equal & s
            else:
                above |= equal & s
                equal = equal - s
            if not equal:
                break
        return above

    def less(self, value: int, *, or_equal: bool = False) -> BitMap:
        """Records whose value is < value (<= with or_equal); nulls never match."""
        c = value - self.base + (1 if or_equal else 0)  # v <= x  ⟺  v < x + 1
        if c <= 0:
            return BitMap()
        if c >= 1 << self.depth:
            return self.not_null.copy()
        below, equal = BitMap(), self.not_null
        for i in reversed(range(self.depth)):
            s = self.slices[i]
            if c >> i & 1:
                below |= equal - s
                equal = equal & s
            else:
                equal = equal - s
            if not equal:
                break
        return below

    def between(self, lo: int, hi: int) -> BitMap:
        """Records with lo <= value <= hi."""
        return self.greater(lo, or_equal=True) & self.less(hi, or_equal=True)

    def sum(self, filter: BitMap) -> tuple[int, int]:
        """(sum, count) over the filtered records that have a value."""
        count = self.not_null.intersection_cardinality(filter)
        total = sum(s.intersection_cardinality(filter) << i for i, s in enumerate(self.slices))
        return total + self.base * count, count

    def min(self, filter: BitMap) -> int | None:
        """Smallest value among filtered records, walking slices from the top bit."""
        candidates = filter & self.not_null
        if not candidates:
            return None
        offset = 0
        for i in reversed(range(self.depth)):
            zeros = candidates - self.slices[i]
            if zeros:
                candidates = zeros
            else:
                offset |= 1 << i
        return self.base + offset

    def max(self, filter: BitMap) -> int | None:
        """Largest value among filtered records, walking slices from the top bit."""
        candidates = filter & self.not_null
        if not candidates:
            return None
        offset = 0
        for i in reversed(range(self.depth)):
            ones = candidates & self.slices[i]
            if ones:
                candidates = ones
                offset |= 1 << i
        return self.base + offset

    def distinct_count(self, filter: BitMap) -> int:
        """Number of distinct values among filtered records.

        Walking distinct values through bitmaps costs O(distinct × bits) operations, far too
        many for income; instead decode each filtered record's offset from the slices (one
        slice ∩ filter per bit, scattered into a numpy array indexed by record id) and
        count the distinct offsets with a BitMap of them.
        """
        selected = filter & self.not_null
        if not selected:
            return 0
        offsets = np.zeros(selected.max() + 1, dtype=np.uint32)
        for i, s in enumerate(self.slices):
            offsets[ids_of(s & selected)] |= np.uint32(1 << i)
        return len(bitmap_from(offsets[ids_of(selected)]))
