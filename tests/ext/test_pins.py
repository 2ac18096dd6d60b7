"""A Bitmap that a GIL-free kernel is reading cannot change (bitmap.pxi's pins).

A mutation checks the pins, then changes the bitmap. Any Python code between the two
(a value's __index__, the iteration of the values of __init__) lets another thread pin
the bitmap in between; the change must still be refused, else a kernel would read
containers freed or moved under it. Each test pins the bitmap at exactly that point:
the other thread runs intersect_counts over it, whose Interrupt check blocks (holding
the pins, without the GIL) until the test lets it go — no timing involved.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Iterator

import numpy as np
import pytest

from ext import Bitmap, Interrupt, intersect_counts

MANY = np.arange(300, dtype=np.uint64) << np.uint64(16)     # 300 containers: the kernel polls


class _Reader:
    """intersect_counts([bm], bm) in a thread, held inside its first poll."""

    def __init__(self, bm: Bitmap) -> None:
        self.bm = bm
        self.pinned = threading.Event()
        self.release = threading.Event()
        self.result: Any = None
        self.thread = threading.Thread(target=self._run)

    def _check(self) -> None:
        self.pinned.set()
        assert self.release.wait(30)

    def _run(self) -> None:
        self.result = intersect_counts([self.bm], self.bm, stop=Interrupt(check=self._check))

    def start(self) -> None:
        self.thread.start()
        assert self.pinned.wait(30)

    def finish(self) -> list[int]:
        self.release.set()
        self.thread.join(30)
        return [int(x) for x in self.result]


class _PinsOnIndex:
    """An integer whose __index__ lets a reader pin `bm` first."""

    def __init__(self, reader: _Reader, value: int) -> None:
        self.reader, self.value = reader, value

    def __index__(self) -> int:
        self.reader.start()
        return self.value


def _pinning_values(reader: _Reader, values: list[int]) -> Iterator[int]:
    reader.start()
    yield from values


@pytest.mark.parametrize("mutate", [
    lambda bm, r: bm.discard(_PinsOnIndex(r, 0)),
    lambda bm, r: bm.remove(_PinsOnIndex(r, 1 << 16)),
    lambda bm, r: bm.add_range(_PinsOnIndex(r, 5), 9),
    lambda bm, r: bm.remove_range(0, _PinsOnIndex(r, 1 << 20)),
    lambda bm, r: bm.flip_inplace(0, _PinsOnIndex(r, 3)),
    lambda bm, r: bm.__init__(_pinning_values(r, [1, 2, 3])),
], ids=["discard", "remove", "add_range", "remove_range", "flip_inplace", "init"])
def test_a_bitmap_pinned_during_the_mutation_is_not_changed(mutate: Callable[[Bitmap, _Reader], None]) -> None:
    bm = Bitmap(MANY)
    reader = _Reader(bm)
    try:
        with pytest.raises(RuntimeError, match="being read by another thread"):
            mutate(bm, reader)
    finally:
        counts = reader.finish()
    assert counts == [300]                      # the kernel read the bitmap as it was
    assert bm == Bitmap(MANY)
    bm.discard(0)                                # unpinned again: changes go through
    assert len(bm) == 299
