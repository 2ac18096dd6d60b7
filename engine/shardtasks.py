"""The shard tasks: every piece of per-shard work a query does, with its exact combine.

Each task's shard() runs where the shard is (this process, or a worker holding it) and
reads rows through the Executor it is given; combine() is associative and order-free, so
a worker can pre-reduce its own shards and the coordinator combines the workers' partials
into the same answer the in-process engine gives. (GroupBy's task lives in groupby.py.)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from engine import plan as P
from engine.shardexec import ShardTask
from engine.state import SHARD_BITS, SHARD_WIDTH
from ext import Bitmap, FrozenBitmap, bsi_extreme, bsi_sum, bsi_values, intersect_counts

_NO_COLS = np.empty(0, np.uint64)
_NO_VALS = np.empty(0, np.int64)


def heavy(node: Any) -> bool:
    """Worth a thread per shard: the work is in GIL-free kernels (BSI ranges) or large."""
    if isinstance(node, (P.BsiRange, P.BsiIn, P.DistinctRow, P.UnionRows)):
        return True
    for child in getattr(node, "children", ()):
        if heavy(child):
            return True
    inner = getattr(node, "child", None)
    return inner is not None and heavy(inner)


@dataclass(slots=True)
class CountTask(ShardTask):
    """len(row) summed over shards."""

    row: P.RowNode

    @property
    def parallel(self) -> bool:  # type: ignore[override]
        return heavy(self.row)

    def shard(self, ex: Any, shard: int) -> int:
        return ex.count(self.row, shard)

    def combine(self, parts: list[int]) -> int:
        return sum(parts)


@dataclass(slots=True)
class RowTask(ShardTask):
    """The whole row: the union of every shard's part (a Bitmap)."""

    row: P.RowNode

    @property
    def parallel(self) -> bool:  # type: ignore[override]
        return heavy(self.row)

    def shard(self, ex: Any, shard: int) -> Any:
        return ex.row(self.row, shard)

    def combine(self, parts: list[Any]) -> Bitmap:
        return Bitmap.union(Bitmap(), *parts) if parts else Bitmap()


@dataclass(slots=True)
class RowCountsTask(ShardTask):
    """Each row's records (∩ filter) counted, per row id: TopN, Distinct, Min/Max rows."""

    field: int
    views: tuple[str, ...]
    filter: Optional[P.RowNode]
    ids: Optional[tuple[int, ...]] = None

    def shard(self, ex: Any, shard: int) -> dict[int, int]:
        f = ex.filter_row(self.filter, shard)
        if f is not None and not f:
            return {}
        if len(self.views) == 1:
            frag = ex.state.fragment(self.field, self.views[0], shard)
            if frag is None:
                return {}
            if self.ids is None:
                keys, bitmaps = frag.listed()
            else:
                keys = [i for i in self.ids if i in frag.rows]
                bitmaps = [frag.rows[k] for k in keys]
            return dict(zip(keys, intersect_counts(bitmaps, f, ex.interrupt).tolist()))
        merged: dict[int, list[Any]] = {}
        for v in self.views:
            frag = ex.state.fragment(self.field, v, shard)
            if frag is not None:
                for r, bm in frag.rows.items():
                    if self.ids is None or r in self.ids:
                        merged.setdefault(r, []).append(bm)
        keys = list(merged)
        unions = [bms[0] if len(bms) == 1 else FrozenBitmap.union(*bms) for bms in merged.values()]
        return dict(zip(keys, intersect_counts(unions, f, ex.interrupt).tolist()))

    def combine(self, parts: list[dict[int, int]]) -> dict[int, int]:
        parts = [p for p in parts if p]
        if not parts:
            return {}
        totals = dict(parts[0])
        for p in parts[1:]:
            for k, c in p.items():
                totals[k] = totals.get(k, 0) + c
        return totals


@dataclass(slots=True)
class BsiSumTask(ShardTask):
    """(records with a value, sum of stored − base) of a BSI field's filtered records."""

    field: int
    filter: Optional[P.RowNode]

    def shard(self, ex: Any, shard: int) -> tuple[int, int]:
        pl = ex.planes(self.field, shard)
        if pl.exists is None:
            return 0, 0
        f = ex.filter_row(self.filter, shard)
        if f is not None and not f:
            return 0, 0
        return bsi_sum(pl.exists, pl.sign, pl.bits, f)

    def combine(self, parts: list[tuple[int, int]]) -> tuple[int, int]:
        return sum(c for c, _ in parts), sum(s for _, s in parts)


@dataclass(slots=True)
class BsiExtremeTask(ShardTask):
    """(the min or max stored − base value, how many records hold it), or None."""

    field: int
    filter: Optional[P.RowNode]
    want_max: bool

    def shard(self, ex: Any, shard: int) -> Optional[tuple[int, int]]:
        pl = ex.planes(self.field, shard)
        if pl.exists is None:
            return None
        f = ex.filter_row(self.filter, shard)
        if f is not None and not f:
            return None
        return bsi_extreme(pl.exists, pl.sign, pl.bits, f, self.want_max)

    def combine(self, parts: list[Optional[tuple[int, int]]]) -> Optional[tuple[int, int]]:
        best: Optional[tuple[int, int]] = None
        for p in parts:
            if p is None:
                continue
            if best is None or (p[0] > best[0] if self.want_max else p[0] < best[0]):
                best = p
            elif p[0] == best[0]:
                best = (best[0], best[1] + p[1])
        return best


@dataclass(slots=True)
class BsiValuesTask(ShardTask):
    """(records, stored − base values) of a BSI field's filtered records, by record id.
    Values are int64, or Python ints (object arrays) when a field's range needs them."""

    field: int
    filter: Optional[P.RowNode]

    def shard(self, ex: Any, shard: int) -> tuple[np.ndarray, np.ndarray]:
        pl = ex.planes(self.field, shard)
        if pl.exists is None:
            return _NO_COLS, _NO_VALS
        cols, neg, mag = bsi_values(pl.exists, pl.sign, pl.bits, ex.filter_row(self.filter, shard))
        return cols, signed(neg, mag)

    def combine(self, parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        parts = [p for p in parts if len(p[0])]
        if not parts:
            return _NO_COLS, _NO_VALS
        if len(parts) == 1:
            return parts[0]
        cols = np.concatenate([p[0] for p in parts])
        vals = np.concatenate([p[1] for p in parts])
        if np.any(cols[1:] < cols[:-1]):
            # workers' partials interleave (a worker holds shards 0 and 2, another 1)
            order = np.argsort(cols, kind="stable")
            cols, vals = cols[order], vals[order]
        return cols, vals


@dataclass(slots=True)
class RowIdsTask(ShardTask):
    """Ids of the rows of a set-like field that hold any record (or record `column`)."""

    field: int
    views: tuple[str, ...]
    column: Optional[int] = None

    parallel = False

    def shard(self, ex: Any, shard: int) -> set[int]:
        ids: set[int] = set()
        for v in self.views:
            frag = ex.state.fragment(self.field, v, shard)
            if frag is None:
                continue
            if self.column is None:
                ids.update(frag.rows)
            else:
                ids.update(r for r, bm in frag.rows.items() if self.column in bm)
        return ids

    def combine(self, parts: list[set[int]]) -> set[int]:
        return set().union(*parts) if parts else set()


@dataclass(slots=True)
class ValuesInTask(ShardTask):
    """(records, rows): the (record, row) bits of a row field for the records `cols`
    (IndexState.values_in, shard by shard), ordered by record then row."""

    field: int
    views: tuple[str, ...]
    cols: FrozenBitmap

    parallel = False

    def shard(self, ex: Any, shard: int) -> tuple[np.ndarray, np.ndarray]:
        lo = shard << SHARD_BITS
        return ex.state.values_in(self.field, self.views, self.cols.slice(lo, lo + SHARD_WIDTH))

    def combine(self, parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        parts = [p for p in parts if len(p[0])]
        if not parts:
            return _NO_COLS, _NO_COLS
        if len(parts) == 1:
            return parts[0]
        c = np.concatenate([p[0] for p in parts])
        r = np.concatenate([p[1] for p in parts])
        order = np.lexsort((r, c))          # shards hold disjoint records: nothing repeats
        return c[order], r[order]


def signed(neg: np.ndarray, mag: np.ndarray) -> np.ndarray:
    """Signed values from bsi_values' (negative flags, magnitudes)."""
    if len(mag) and mag.max() > np.uint64(2**63 - 1):
        return np.array([-int(m) if n else int(m) for n, m in zip(neg.tolist(), mag.tolist())], dtype=object)
    vals = mag.astype(np.int64)
    vals[neg] = -vals[neg]
    return vals
