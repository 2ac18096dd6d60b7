"""Helpers for the engine tests: opening/reopening holders and reading an index's whole
state independently of the engine's own read helpers.

`dump_index` returns every non-empty row of every (field, view, shard) as Python sets;
`bsi_stored` / `bsi_values` decode BSI bit planes following engine/storage/format.md
(row 0 = not null, row 1 = sign, row 2 + i = bit i of |stored - base|).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

import engine

SHARD = 1 << 20
EXISTS_FIELD_ID = 0
BSI_VIEW = "bsi"


class DbFactory:
    def __init__(self, default_path: Path) -> None:
        self.default_path = Path(default_path)
        self.opened: list[engine.Holder] = []

    def __call__(self, path: Any = None, **config: Any) -> engine.Holder:
        config.setdefault("fsync", False)
        holder = engine.open(str(path or self.default_path), **config)
        self.opened.append(holder)
        return holder

    def reopen(self, db: engine.Holder, **config: Any) -> engine.Holder:
        db.close()
        config.setdefault("fsync", db.fsync)
        config.setdefault("checkpoint_bytes", db.checkpoint_bytes)
        return self(db.path, **config)

    def close_all(self) -> None:
        errors = []
        for holder in reversed(self.opened):
            try:
                holder.close()
            except Exception as exc:  # pragma: no cover - reported after closing the rest
                errors.append(exc)
        if errors:
            raise errors[0]


def bits(bm: Any) -> set[int]:
    """A bitmap (or anything iterable of ints) as a Python set."""
    return {int(x) for x in bm}


def field_ids(idx: engine.Index) -> dict[int, str]:
    names = {EXISTS_FIELD_ID: "_exists"}
    names.update({f.definition.id: f.name for f in idx.fields()})
    return names


def dump_index(idx: engine.Index) -> dict[tuple[str, str, int, int], frozenset[int]]:
    """{(field name, view, shard, row id): records} for every non-empty row."""
    snap = idx.snapshot()
    names = field_ids(idx)
    out: dict[tuple[str, str, int, int], frozenset[int]] = {}
    for fid, views in snap.fields.items():
        name = names.get(fid, f"<dropped field {fid}>")
        for view, shards in views.items():
            for shard, frag in shards.items():
                for row, bm in frag.rows.items():
                    cols = frozenset(bits(bm))
                    if cols:
                        assert all(c >> 20 == shard for c in cols), (name, view, shard, row)
                        out[(name, view, shard, row)] = cols
    return out


def dump_keys(idx: engine.Index) -> dict[str, dict[str, int]]:
    out = {"_columns": dict(idx.column_keys.items())}
    for f in idx.fields():
        if f.options.keys:
            out[f.name] = dict(idx.row_keys(f.definition).items())
    return out


def dump_schema(idx: engine.Index) -> dict[str, Any]:
    return {"options": idx.definition.options,
            "fields": {f.name: (f.definition.id, f.options) for f in idx.fields()}}


def dump_values(idx: engine.Index) -> dict[str, dict[Any, Any]]:
    """Every BSI field's value for every record holding one, read through Field.value
    (records named by key on a keyed index)."""
    out: dict[str, dict[Any, Any]] = {}
    keyed = idx.definition.options.keys
    for f in idx.fields():
        if f.type not in ("int", "decimal", "timestamp"):
            continue
        vals = {}
        for c in bits(idx.snapshot().row(f.definition.id, BSI_VIEW, 0)):
            col = idx.column_keys.key(c) if keyed else c
            vals[col] = f.value(col)
        out[f.name] = vals
    return out


def dump_holder(db: engine.Holder) -> dict[str, Any]:
    return {i.name: {"schema": dump_schema(i), "rows": dump_index(i), "keys": dump_keys(i),
                     "values": dump_values(i)} for i in db.indexes()}


def exists(idx: engine.Index) -> set[int]:
    return bits(idx.snapshot().row(EXISTS_FIELD_ID, "standard", 0))


def views_with_data(idx: engine.Index, field: str) -> set[str]:
    fid = idx.field(field).definition.id
    return {v for v, shards in idx.snapshot().views(fid).items()
            if any(frag.rows for frag in shards.values())}


def bsi_stored(idx: engine.Index, field: str, col: int) -> int | None:
    """The stored integer (base included) of one record, decoded from the bit planes."""
    f = idx.field(field)
    fid = f.definition.id
    snap = idx.snapshot()
    frag = snap.fragment(fid, BSI_VIEW, col >> 20)
    if frag is None or col not in frag.row(0):
        return None
    mag = sum(1 << (r - 2) for r, bm in frag.rows.items() if r >= 2 and col in bm)
    if col in frag.row(1):
        mag = -mag
    return mag + f.options.base


def bsi_values(idx: engine.Index, field: str) -> dict[int, int]:
    """{record id: stored integer (base included)} for a whole BSI field, vectorised."""
    f = idx.field(field)
    fid = f.definition.id
    snap = idx.snapshot()
    notnull = snap.row(fid, BSI_VIEW, 0).to_numpy().astype(np.uint64)
    mag = np.zeros(len(notnull), dtype=object)
    for r in snap.row_ids(fid, BSI_VIEW):
        if r < 2:
            continue
        plane = snap.row(fid, BSI_VIEW, r).to_numpy().astype(np.uint64)
        hit = np.isin(notnull, plane, assume_unique=True)
        mag[hit] += 1 << (r - 2)
    sign = np.isin(notnull, snap.row(fid, BSI_VIEW, 1).to_numpy().astype(np.uint64), assume_unique=True)
    base = f.options.base
    return {int(c): (-int(m) if s else int(m)) + base for c, m, s in zip(notnull, mag, sign)}


def copy_data_dir(src: str, dst: str) -> str:
    """Copy a (possibly open) data directory, as a crash would leave it: only what the
    process had written to the OS. The LOCK file is left behind."""
    import shutil

    shutil.copytree(src, dst, ignore=lambda d, names: ["LOCK"] if os.path.samefile(d, src) else [])
    return dst
