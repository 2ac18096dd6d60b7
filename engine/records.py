"""Read every record of an index, field by field, in bounded batches — exactly.

`iter_records` walks one committed state (Holder.read_view or Index.snapshot) shard by
shard, `batch` records at a time, and gives each record's value of every field in the
engine's own terms, nothing rounded or reformatted:

    int, decimal, timestamp, float   the stored integer (FieldOptions.to_stored's result:
                                     scaled decimal, units since the field's epoch, the
                                     order-preserving float bits), base included
    bool                             True / False
    mutex                            the row id, or its key on a keyed field
    set                              list of row ids / keys, in row-id order
    time                             {view suffix: list of rows/keys}: "standard" for the
                                     standard view, "2023", "202301", ... for quantum views

None means no value. Records are those of the existence row when the index tracks
existence, else every record holding any value. Memory is one batch of records plus the
fragments the state already holds; the per-value work is C passes (bsi_values,
intersect_counts) and one Python assignment per value.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from engine.executor import Planes
from engine.schema import BSI_VIEW, INT64_MAX, INT64_MIN, STANDARD_VIEW, FieldDef, IndexDef
from engine.state import SHARD_WIDTH, IndexState
from engine.txn import EXISTS_ID
from ext import Bitmap, FrozenBitmap, bsi_values

DEFAULT_BATCH = 1 << 16
_TIME_PREFIX = STANDARD_VIEW + "_"


@dataclass
class RecordBatch:
    """Up to `batch` records in ascending record-id order."""

    ids: np.ndarray                      # uint64 record ids
    keys: Optional[list[Optional[str]]]  # record keys (keyed index), aligned with ids
    columns: dict[str, list[Any]]        # field name -> one value (or None) per record

    def __len__(self) -> int:
        return len(self.ids)


def count_records(definition: IndexDef, state: IndexState) -> int:
    """How many records iter_records would give."""
    total = 0
    for shard in state.shards():
        rows = _records_of_shard(definition, state, shard)
        total += len(rows)
    return total


def iter_records(index: Any, definition: IndexDef, state: IndexState, *,
                 fields: Optional[Sequence[str]] = None, batch: int = DEFAULT_BATCH) -> Iterator[RecordBatch]:
    """Every record of `state` with its values (see the module docstring). `index` is the
    live Index (for key lookups: keys are never reassigned, so the live maps answer for
    any older state); `definition` the schema the state was read with; `fields` limits
    the columns (default every field, in definition order)."""
    fds = [definition.fields[n] for n in (fields if fields is not None else definition.fields)]
    keyed = definition.options.keys
    for shard in state.shards():
        records = _records_of_shard(definition, state, shard)
        if not records:
            continue
        lo = shard * SHARD_WIDTH
        start = lo
        end = lo + SHARD_WIDTH
        while start < end:
            part = records.slice(start, end)
            if not part:
                break
            chunk = part[0:batch].freeze() if len(part) > batch else part
            ids = chunk.to_numpy()
            start = int(ids[-1]) + 1
            keys = index.column_keys.keys_for(ids.tolist()) if keyed else None
            columns = {fd.name: _column(index, fd, state, shard, chunk, ids) for fd in fds}
            yield RecordBatch(ids, keys, columns)


def _records_of_shard(definition: IndexDef, state: IndexState, shard: int) -> FrozenBitmap:
    if definition.options.track_existence:
        frag = state.fragment(EXISTS_ID, STANDARD_VIEW, shard)
        return frag.row(0) if frag is not None else FrozenBitmap()
    parts = []
    for fid, views in state.fields.items():
        if fid == EXISTS_ID:
            continue
        for view, shards in views.items():
            frag = shards.get(shard)
            if frag is None:
                continue
            if view == BSI_VIEW:
                parts.append(frag.row(0))
            else:
                parts.extend(frag.rows.values())
    parts = [p for p in parts if p]
    if not parts:
        return FrozenBitmap()
    return Bitmap.union(Bitmap(), *parts).freeze()


def _column(index: Any, fd: FieldDef, state: IndexState, shard: int, chunk: FrozenBitmap,
            ids: np.ndarray) -> list[Any]:
    out: list[Any] = [None] * len(ids)
    opts = fd.options
    if opts.is_bsi:
        frag = state.fragment(fd.id, BSI_VIEW, shard)
        if frag is None:
            return out
        pl = Planes(frag.rows)
        if pl.exists is None:
            return out
        cols, neg, mag = bsi_values(pl.exists, pl.sign, pl.bits, chunk)
        if not len(cols):
            return out
        pos = np.searchsorted(ids, cols).tolist()
        signed = mag.astype(np.int64)          # |offset| <= 2**63: the cast wraps -2**63 right
        negative = neg.astype(bool)
        signed[negative] = -signed[negative]
        base = opts.base
        if opts.min >= INT64_MIN and opts.max <= INT64_MAX:
            values = (signed + np.int64(base)).tolist() if base else signed.tolist()
        else:                                  # an int field reaching past 2**63 - 1
            values = [v + base for v in signed.tolist()]
        for p, v in zip(pos, values):
            out[p] = v
        return out
    km = index.row_keys(fd) if opts.keys else None
    if opts.type == "time":
        for view, shards in state.views(fd.id).items():
            frag = shards.get(shard)
            if frag is None:
                continue
            label = "standard" if view == STANDARD_VIEW else view[len(_TIME_PREFIX):]
            for row, hit in frag.rows_holding(chunk):
                value: Any = km.key(row) if km is not None else row
                for p in np.searchsorted(ids, hit.to_numpy()).tolist():
                    cell = out[p]
                    if cell is None:
                        cell = out[p] = {}
                    cell.setdefault(label, []).append(value)
        for cell in out:
            if cell is not None:
                for label in cell:
                    cell[label].sort(key=_row_order(km))
        return out
    frag = state.fragment(fd.id, STANDARD_VIEW, shard)
    if frag is None:
        return out
    hits = sorted(frag.rows_holding(chunk))
    if opts.type == "set":
        for row, hit in hits:
            value = km.key(row) if km is not None else row
            for p in np.searchsorted(ids, hit.to_numpy()).tolist():
                cell = out[p]
                if cell is None:
                    out[p] = [value]
                else:
                    cell.append(value)
        return out
    for row, hit in hits:                        # mutex, bool: one row per record
        value = bool(row) if opts.type == "bool" else (km.key(row) if km is not None else row)
        for p in np.searchsorted(ids, hit.to_numpy()).tolist():
            out[p] = value
    return out


def _row_order(km: Any) -> Any:
    if km is None:
        return lambda v: v
    return lambda key: km.id(key)
