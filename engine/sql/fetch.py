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
            out.append(_row_values(table, fd, wanted, pos, len(cols)))
    return out


def _bsi_values(table: Any, fd: FieldDef, wanted: FrozenBitmap, pos: dict[int, int], n: int) -> list[Any]:
    opts = fd.options
    out: list[Any] = [None] * n
    vcols, vals = table.ex.bsi_values_in(fd.id, wanted, int(wanted.min()) >> SHARD_BITS)
    base = opts.base
    for c, v in zip(vcols.tolist(), vals.tolist()):
        out[pos[c]] = opts.from_stored(int(v) + base)
    return out


def _row_values(table: Any, fd: FieldDef, wanted: FrozenBitmap, pos: dict[int, int], n: int) -> list[Any]:
    opts = fd.options
    multi = opts.type in ("set", "time")
    views = tuple(table.state.views(fd.id)) if opts.type == "time" else (STANDARD_VIEW,)
    out: list[Any] = [None] * n
    # (record, row) pairs by record then row, each once (through the workers in a cluster)
    cols, rows = table.ex.values_in(fd.id, views, wanted)
    if not len(cols):
        return out
    distinct = np.unique(rows).tolist()
    km = table.index.row_keys(fd) if opts.keys else None
    labels: list[Any] = km.keys_for(distinct) if km is not None else [bool(r) for r in distinct] \
        if opts.type == "bool" else distinct
    label_of = dict(zip(distinct, labels))
    for c, r in zip(cols.tolist(), rows.tolist()):
        i = pos[c]
        if multi:
            cur = out[i]
            if cur is None:
                out[i] = [label_of[r]]
            else:
                cur.append(label_of[r])
        else:
            out[i] = label_of[r]
    return out


def shard_of(node_records: FrozenBitmap) -> int:
    return int(node_records.min()) // SHARD_WIDTH


def const_row(cols: list[int]) -> P.RowNode:
    return P.ConstRow(tuple(cols), False) if cols else P.Empty()
