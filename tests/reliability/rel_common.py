"""Shared pieces of the reliability tests: seeds, state dumps, summary lines."""
from __future__ import annotations

import os
import random
import shutil
import statistics
from typing import Any

import engine


def seed_for(name: str) -> int:
    """ROARBASE_<NAME>_SEED, else ROARBASE_REL_SEED, else a fresh random seed (printed)."""
    for var in (f"ROARBASE_{name.upper()}_SEED", "ROARBASE_REL_SEED"):
        if os.environ.get(var):
            return int(os.environ[var])
    return random.SystemRandom().randrange(1, 2**31)


def fs_type(path: str) -> str:
    """File system type of the mount holding path (tmpfs hides fsync cost and ordering)."""
    path = os.path.realpath(path)
    best, kind = "", "?"
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and (path == parts[1] or path.startswith(parts[1].rstrip("/") + "/")) \
                        and len(parts[1]) >= len(best):
                    best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


def env_figures(path: str, fsync: bool = True) -> str:
    return f"fs={fs_type(path)} fsync={'on' if fsync else 'off'} cores={os.cpu_count()}"


def report(name: str, **figures: Any) -> str:
    """Print and return the one summary line `name: key=value …` (RELIABILITY.md §4 notes)."""
    line = name + ": " + " ".join(v if k == "env" else f"{k}={_fmt(v)}" for k, v in figures.items())
    print("\n" + line, flush=True)
    return line


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return "{" + ",".join(f"{k}:{_fmt(x)}" for k, x in v.items()) + "}"
    return str(v)


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def dump_index(idx: engine.Index) -> dict[str, Any]:
    """Every bit and key of an index's committed state, as plain comparable data."""
    st = idx.snapshot()
    names = {0: "_exists"} | {fd.id: name for name, fd in idx.definition.fields.items()}
    data: dict[str, list[int]] = {}
    for fid, views in st.fields.items():
        fname = names.get(fid, f"#{fid}")
        for view, shards in views.items():
            for _shard, frag in shards.items():
                for row, bm in frag.rows.items():
                    data.setdefault(f"{fname}/{view}/{row}", []).extend(bm.to_numpy().tolist())
    keys: dict[str, list[tuple[str, int]]] = {}
    for name, fd in idx.definition.fields.items():
        if fd.options.keys:
            km = idx.row_keys(fd)
            if len(km):
                keys[name] = sorted(km.items())
    if idx.definition.options.keys and len(idx.column_keys):
        keys["<records>"] = sorted(idx.column_keys.items())
    return {"data": {k: tuple(sorted(v)) for k, v in sorted(data.items())}, "keys": keys}


EMPTY_DUMP: dict[str, Any] = {"data": {}, "keys": {}}


def dump_holder(db: engine.Holder, name: str) -> dict[str, Any]:
    """The dump of index `name`, or the empty dump when the index does not exist."""
    try:
        idx = db.index(name)
    except engine.IndexNotFoundError:
        return EMPTY_DUMP
    return dump_index(idx)


def fresh_dir(path: str) -> str:
    if os.path.exists(path):
        shutil.rmtree(path)
    os.makedirs(path)
    return path


def wal_bytes(index_dir: str) -> int:
    if not os.path.isdir(index_dir):
        return 0
    return sum(os.path.getsize(os.path.join(index_dir, n)) for n in os.listdir(index_dir)
               if n.startswith("wal-") and n.endswith(".log"))
