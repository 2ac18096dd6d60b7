"""Reading the values of records: the columns a statement needs, for the records of one
shard at a time (a batch never spans shards, so each field is read from one fragment)."""
from __future__ import annotations

from typing import Any, Iterator, Optional

import numpy as np

from engine import plan as P
from engine.schema import STANDARD_VIEW, FieldDef
from engine.state import SHARD_BITS, SHARD_WIDTH
from ext import FrozenBitmap

BATCH_ROWS = 1024


def shard_batches(ids: np.ndarray, size: int = BATCH_ROWS) -> Iterator[np.ndarray]:
    """Sorted record ids in batches of at most `size`, each within one shard."""
    if not len(ids):
        return
    shards = ids >> SHARD_BITS
    cuts = np.flatnonzero(np.diff(shards)) + 1
    for part in np.split(ids, cuts):
        for i in range(0, len(part), size):
            yield part[i:i + size]


def record_ids(table: Any, cols: list[int]) -> list[Any]:
    """The _id values of records: ids, or keys on a keyed table."""
    return table.index.column_keys.keys_for(cols) if table.keyed else cols


def fetch(table: Any, fds: list[Optional[FieldDef]], ids: np.ndarray) -> list[list[Any]]:
    """The values of columns `fds` (None: _id) for records `ids` (sorted, one shard): one
    list per column, aligned with ids. A set without members is None (NULL)."""
    cols = ids.tolist()
    if not cols:
        return [[] for _ in fds]
    shard = cols[0] >> SHARD_BITS
    pos = {c: i for i, c in enumerate(cols)}
    wanted = FrozenBitmap(ids)
    out: list[list[Any]] = []
    id_values: Optional[list[Any]] = None
    for fd in fds:
        if fd is None:
            if id_values is None:
                id_values = record_ids(table, cols)
            out.append(id_values)
        elif fd.options.is_bsi:
            out.append(_bsi_values(table, fd, wanted, pos, len(cols)))
        else:
            out.append(_row_values(table, fd, wanted, pos, len(cols), shard))
    return out


def _bsi_values(table: Any, fd: FieldDef, wanted: FrozenBitmap, pos: dict[int, int], n: int) -> list[Any]:
    from engine.shardtasks import signed
    from ext import bsi_values

    opts = fd.options
    out: list[Any] = [None] * n
    shard = int(wanted.min()) >> SHARD_BITS
    pl = table.ex.planes(fd.id, shard)
    if pl.exists is None:
        return out
    vcols, neg, mag = bsi_values(pl.exists, pl.sign, pl.bits, wanted)
    base = opts.base
    for c, v in zip(vcols.tolist(), signed(neg, mag).tolist()):
        out[pos[c]] = opts.from_stored(int(v) + base)
    return out


def _row_values(table: Any, fd: FieldDef, wanted: FrozenBitmap, pos: dict[int, int], n: int,
                shard: int) -> list[Any]:
    opts = fd.options
    multi = opts.type in ("set", "time")
    views = tuple(table.state.views(fd.id)) if opts.type == "time" else (STANDARD_VIEW,)
    km = table.index.row_keys(fd) if opts.keys else None
    out: list[Any] = [None] * n
    seen: dict[int, list[int]] = {}
    for view in views:
        frag = table.state.fragment(fd.id, view, shard)
        if frag is None:
            continue
        for r, bm in frag.rows.items():
            members = bm & wanted
            if members:
                seen.setdefault(r, []).extend(members.to_numpy().tolist())
    if not seen:
        return out
    rows = sorted(seen)
    labels: list[Any] = km.keys_for(rows) if km is not None else [bool(r) for r in rows] \
        if opts.type == "bool" else rows
    for r, label in zip(rows, labels):
        for c in dict.fromkeys(seen[r]) if multi and len(views) > 1 else seen[r]:
            i = pos[c]
            if multi:
                cur = out[i]
                if cur is None:
                    out[i] = [label]
                else:
                    cur.append(label)
            else:
                out[i] = label
    return out


def shard_of(node_records: FrozenBitmap) -> int:
    return int(node_records.min()) // SHARD_WIDTH


def const_row(cols: list[int]) -> P.RowNode:
    return P.ConstRow(tuple(cols), False) if cols else P.Empty()
