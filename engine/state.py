"""Immutable committed state: what a reader's snapshot holds.

Holder → index → field → view → fragment (one per field, view and shard of 2**20 records).
A fragment maps row ids to FrozenBitmaps of absolute record ids within its shard. A commit
never changes a published object: it copies the dicts along the paths it touches and swaps
the index's state reference, so a reader that took a snapshot keeps one consistent state
for as long as it likes, holding no lock.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping, TypeVar

import numpy as np

from ext import BaseBitmap, Bitmap, FrozenBitmap, intersect_counts

SHARD_BITS = 20
SHARD_WIDTH = 1 << SHARD_BITS
EMPTY = FrozenBitmap()
# A fragment with more rows than this answers "the values of these records" from its
# record-ordered copy (Fragment.values_of) rather than by intersecting every row.
FEW_ROWS = 64
_B = TypeVar("_B", bound=BaseBitmap)        # split_by_shard's parts are of the kind it is given


def shard_of(column: int) -> int:
    return column >> SHARD_BITS


def split_by_shard(bm: _B) -> Iterator[tuple[int, _B]]:
    """(shard, the part of bm in that shard), for each shard bm touches."""
    if not bm:
        return
    shard = bm.min() >> SHARD_BITS
    last = bm.max() >> SHARD_BITS
    if shard == last:               # the common case: no slice (a copy) needed
        yield shard, bm
        return
    while True:
        lo = shard << SHARD_BITS
        yield shard, bm.slice(lo, lo + SHARD_WIDTH)
        if shard == last:
            return
        shard = bm.next_set_bit(lo + SHARD_WIDTH) >> SHARD_BITS


class Fragment:
    """The rows of one (field, view, shard). Immutable once published."""

    __slots__ = ("rows", "_ranked", "_listed", "_by_column", "_any", "_ids")

    def __init__(self, rows: dict[int, FrozenBitmap]) -> None:
        self.rows = rows
        self._ranked: list[tuple[int, int]] | None = None
        self._listed: tuple[list[int], list[FrozenBitmap]] | None = None
        self._by_column: tuple[np.ndarray, np.ndarray] | None = None
        self._any: FrozenBitmap | None = None
        self._ids: np.ndarray | None = None

    def row(self, row_id: int) -> FrozenBitmap:
        return self.rows.get(row_id, EMPTY)

    def listed(self) -> tuple[list[int], list[FrozenBitmap]]:
        """(row ids, their bitmaps) as two aligned lists, built once per version: the
        many-row kernels (intersect_counts) take lists, and a field with many rows would
        otherwise pay a Python loop over them on every call."""
        if self._listed is None:
            self._listed = (list(self.rows), list(self.rows.values()))
        return self._listed

    def row_ids(self) -> np.ndarray:
        """listed()'s row ids as a uint64 array, built once per version."""
        if self._ids is None:
            self._ids = np.array(self.listed()[0], dtype=np.uint64)
        return self._ids

    def any_row(self) -> FrozenBitmap:
        """The records holding any row (a field's "has a value"), built once per version:
        a field with a row per user would otherwise union them all on every NOT NULL."""
        if self._any is None:
            bitmaps = [b for b in self.rows.values() if b]
            self._any = EMPTY if not bitmaps else bitmaps[0] if len(bitmaps) == 1 else \
                FrozenBitmap.union(*bitmaps)
        return self._any

    def values_of(self, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(records, rows): every (record, row) bit of this fragment whose record is in
        `cols` (sorted uint64), ordered by record then row — the values of a page of
        records. Served from a record-ordered copy of the bits built once per version, so
        a page costs a binary search whatever the number of rows (a field with a row per
        record reads a 10-record page as fast as one with ten rows)."""
        if self._by_column is None:
            ids, bitmaps = self.listed()
            arrays = [b.to_numpy() for b in bitmaps]
            cols_all = np.concatenate(arrays) if arrays else np.empty(0, np.uint64)
            rows_all = np.repeat(np.array(ids, dtype=np.uint64), [len(a) for a in arrays]) if arrays \
                else np.empty(0, np.uint64)
            order = np.argsort(cols_all, kind="stable")
            self._by_column = (cols_all[order], rows_all[order])
        by_col, rows = self._by_column
        lo = np.searchsorted(by_col, cols, side="left")
        counts = np.searchsorted(by_col, cols, side="right") - lo
        total = int(counts.sum())
        # positions lo[i] .. lo[i] + counts[i] - 1 of every record, without a Python loop
        starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
        picks = starts + np.arange(total)
        return by_col[picks], rows[picks]

    def rows_holding(self, cols: BaseBitmap) -> list[tuple[int, FrozenBitmap]]:
        """(row id, row & cols) for every row holding any of `cols` (records of this
        shard): the values of a page of records, one C pass over the rows."""
        ids, bitmaps = self.listed()
        if not ids or not cols:
            return []
        counts = intersect_counts(bitmaps, cols)
        return [(ids[i], bitmaps[i] & cols) for i in counts.nonzero()[0].tolist()]

    def ranked(self) -> list[tuple[int, int]]:
        """(row, count) by count descending then row ascending; computed once per version
        (the fragment is immutable, so the cache never goes stale)."""
        if self._ranked is None:
            self._ranked = sorted(((r, len(b)) for r, b in self.rows.items()), key=lambda rc: (-rc[1], rc[0]))
        return self._ranked

    def with_changes(self, changes: Mapping[int, tuple[BaseBitmap | None, BaseBitmap | None]]) -> "Fragment":
        """A new fragment with row := (row - remove) | add for each changed row."""
        rows = dict(self.rows)
        for row_id, (add, remove) in changes.items():
            old = rows.get(row_id)
            if old is None:
                new = add if add else None
            else:
                new = old
                if remove:
                    new = new - remove
                if add:
                    new = new | add
            if new:
                rows[row_id] = new if isinstance(new, FrozenBitmap) else new.freeze()
            else:
                rows.pop(row_id, None)
        return Fragment(rows)


# views: view name -> shard -> Fragment
FieldData = Mapping[str, Mapping[int, Fragment]]


@dataclass(frozen=True)
class IndexState:
    """One committed version of an index's data."""

    seq: int                                   # last log sequence number applied
    fields: Mapping[int, FieldData]            # field id -> views

    def fragment(self, field_id: int, view: str, shard: int) -> Fragment | None:
        views = self.fields.get(field_id)
        if views is None:
            return None
        shards = views.get(view)
        return None if shards is None else shards.get(shard)

    def views(self, field_id: int) -> Mapping[str, Mapping[int, Fragment]]:
        return self.fields.get(field_id, {})

    def shards(self) -> list[int]:
        """Every shard holding any data in this index, ascending (computed once per state)."""
        cached = self.__dict__.get("_shards")
        if cached is None:
            seen: set[int] = set()
            for views in self.fields.values():
                for shards in views.values():
                    seen.update(shards)
            cached = sorted(seen)
            object.__setattr__(self, "_shards", cached)
        return cached

    def row(self, field_id: int, view: str, row_id: int) -> Bitmap:
        """A whole row across shards, as a new Bitmap."""
        parts = [frag.rows[row_id] for frag in self.fields.get(field_id, {}).get(view, {}).values()
                 if row_id in frag.rows]
        if not parts:
            return Bitmap()
        return Bitmap.union(Bitmap(), *parts) if len(parts) > 1 else Bitmap(parts[0])

    def values_in(self, field_id: int, views: tuple[str, ...], cols: FrozenBitmap) -> tuple[np.ndarray, np.ndarray]:
        """(records, rows): the (record, row) bits of a row field for the records `cols`,
        across `views` (a bit several views hold is listed once), ordered by record then
        row. Costs a binary search per record in a fragment of many rows (values_of) and
        one C pass in a fragment of few: not a pass over every row of the field."""
        found_c: list[np.ndarray] = []
        found_r: list[np.ndarray] = []
        by_view = self.fields.get(field_id, {})
        for shard, part in split_by_shard(cols):
            wanted: np.ndarray | None = None
            for view in views:
                frag = by_view.get(view, {}).get(shard)
                if frag is None:
                    continue
                if len(frag.rows) > FEW_ROWS:
                    if wanted is None:
                        wanted = part.to_numpy()
                    c, r = frag.values_of(wanted)
                    found_c.append(c)
                    found_r.append(r)
                    continue
                for row, hit in frag.rows_holding(part):
                    found_c.append(hit.to_numpy())
                    found_r.append(np.full(len(hit), row, dtype=np.uint64))
        if not found_c:
            return np.empty(0, np.uint64), np.empty(0, np.uint64)
        c, r = np.concatenate(found_c), np.concatenate(found_r)
        order = np.lexsort((r, c))
        c, r = c[order], r[order]
        if len(views) > 1 and len(c) > 1:
            keep = np.ones(len(c), dtype=bool)
            keep[1:] = (c[1:] != c[:-1]) | (r[1:] != r[:-1])
            c, r = c[keep], r[keep]
        return c, r

    def row_ids(self, field_id: int, view: str) -> list[int]:
        ids: set[int] = set()
        for frag in self.fields.get(field_id, {}).get(view, {}).values():
            ids.update(frag.rows)
        return sorted(ids)
