"""Shard placement: which worker holds each (index, shard).

Jump consistent hash (Lamping & Veach, 2014) maps a shard to one of N workers so that
going from N to N + 1 workers moves only ~1/(N + 1) of the shards, all to the new one.
The coordinator records every shard's owner when the shard first receives data, in a
table it persists (placement.json on the shared storage) before routing any write: the
table, not the hash, is the authority, so a later change of the worker list (a rebalance)
can move shards one by one by rewriting entries.
"""
from __future__ import annotations

import hashlib
import os
import threading
from typing import Optional

from engine.errors import DataCorruptedError, InvalidParameterError
from engine.storage import files
from engine.storage.fileio import FileIO

_MASK64 = (1 << 64) - 1
PLACEMENT_FILE = "placement.json"


def jump_hash(key: int, buckets: int) -> int:
    """The bucket in [0, buckets) of a 64-bit key (the published algorithm)."""
    if buckets <= 0:
        raise InvalidParameterError("jump_hash needs at least one bucket")
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & _MASK64
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


def shard_key(index: str, shard: int) -> int:
    """A 64-bit key of (index, shard), stable across processes and Python versions
    (Python's hash() of a str is salted per process)."""
    digest = hashlib.blake2b(f"{index}\x00{shard}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class PlacementTable:
    """workers (names, in order) and owner of every placed (index, shard).

    Thread-safe. `owner()` places an unplaced shard by jump hash over the current workers
    and persists the table before returning (when the table has a path). `epoch` counts
    the changes that move shards or change the worker list: a worker that sees a newer
    epoch in a message re-reads the table (ShardWorker._sync)."""

    def __init__(self, workers: list[str], *, path: Optional[str] = None, fileio: Optional[FileIO] = None,
                 fsync: bool = True) -> None:
        if not workers:
            raise InvalidParameterError("a cluster needs at least one worker")
        if len(set(workers)) != len(workers):
            raise InvalidParameterError(f"worker names repeat: {workers}")
        self.workers = list(workers)
        self.path = path
        self.fileio = fileio or FileIO()
        self.fsync = fsync
        self._owners: dict[str, dict[int, str]] = {}
        self.epoch = 0
        self._lock = threading.Lock()

    @classmethod
    def load_or_create(cls, path: str, workers: list[str], *, fileio: Optional[FileIO] = None,
                       fsync: bool = True) -> "PlacementTable":
        """The table persisted at `path`, or a new one over `workers`. An existing table
        keeps its own worker list: shards stay where they are."""
        fio = fileio or FileIO()
        if not fio.exists(path):
            table = cls(workers, path=path, fileio=fio, fsync=fsync)
            table._save()
            return table
        doc = files.decode_doc(fio.read_file(path), path)
        try:
            table = cls(list(doc["workers"]), path=path, fileio=fio, fsync=fsync)
            table._owners = {ix: {int(s): w for s, w in shards.items()} for ix, shards in doc["owners"].items()}
            table.epoch = int(doc.get("epoch", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataCorruptedError(f"placement table is not readable: {exc}", path, 0) from None
        unknown = {w for shards in table._owners.values() for w in shards.values()} - set(table.workers)
        if unknown:
            raise DataCorruptedError(f"placement table names workers it does not list: {sorted(unknown)}", path, 0)
        return table

    def _save(self) -> None:
        if self.path is None:
            return
        doc = {"version": 1, "epoch": self.epoch, "workers": self.workers,
               "owners": {ix: {str(s): w for s, w in sorted(shards.items())}
                          for ix, shards in sorted(self._owners.items())}}
        self.fileio.makedirs(os.path.dirname(self.path) or ".")
        self.fileio.write_atomic(self.path, files.encode_doc(doc), fsync=self.fsync)

    def owner(self, index: str, shard: int) -> str:
        """The worker holding (index, shard); an unplaced shard is placed (and persisted)."""
        got = self._owners.get(index, {}).get(shard)
        if got is not None:
            return got
        with self._lock:
            got = self._owners.get(index, {}).get(shard)
            if got is None:
                got = self.workers[jump_hash(shard_key(index, shard), len(self.workers))]
                owners = {**self._owners, index: {**self._owners.get(index, {}), shard: got}}
                prev, self._owners = self._owners, owners
                try:
                    self._save()
                except BaseException:
                    self._owners = prev
                    raise
            return got

    def placed(self, index: str) -> dict[int, str]:
        """shard → worker of every placed shard of `index` (a copy)."""
        return dict(self._owners.get(index, {}))

    def shards_of(self, worker: str) -> dict[str, list[int]]:
        """index → shards `worker` holds."""
        out: dict[str, list[int]] = {}
        for ix, shards in self._owners.items():
            mine = sorted(s for s, w in shards.items() if w == worker)
            if mine:
                out[ix] = mine
        return out

    def shard_counts(self) -> dict[str, int]:
        """worker → how many shards it holds, over every index (0 for an idle worker)."""
        counts = dict.fromkeys(self.workers, 0)
        for shards in self._owners.values():
            for w in shards.values():
                counts[w] = counts.get(w, 0) + 1
        return counts

    def _change(self, workers: list[str], owners: dict[str, dict[int, str]]) -> None:
        """Make (workers, owners) the table at the next epoch, durably (or not at all)."""
        prev = (self.workers, self._owners, self.epoch)
        self.workers, self._owners, self.epoch = workers, owners, self.epoch + 1
        try:
            self._save()
        except BaseException:
            self.workers, self._owners, self.epoch = prev
            raise

    def add_worker(self, name: str) -> None:
        with self._lock:
            if name in self.workers:
                raise InvalidParameterError(f"worker {name} is already in the cluster")
            self._change(self.workers + [name], self._owners)

    def remove_worker(self, name: str) -> None:
        """Drop a worker that holds no shard any more."""
        with self._lock:
            held = self.shards_of(name)
            if held:
                raise InvalidParameterError(f"worker {name} still holds shards: {held}")
            if name not in self.workers or len(self.workers) == 1:
                raise InvalidParameterError(f"cannot remove worker {name} from {self.workers}")
            self._change([w for w in self.workers if w != name], self._owners)

    def move(self, index: str, shard: int, worker: str) -> None:
        """Record that (index, shard) now belongs to `worker`."""
        with self._lock:
            if worker not in self.workers:
                raise InvalidParameterError(f"unknown worker {worker}")
            self._change(self.workers, {**self._owners, index: {**self._owners.get(index, {}), shard: worker}})

    def hashed_owner(self, index: str, shard: int, workers: Optional[list[str]] = None) -> str:
        """Where jump hash puts (index, shard) over `workers` (default: the table's)."""
        ws = self.workers if workers is None else workers
        return ws[jump_hash(shard_key(index, shard), len(ws))]

    def drop_index(self, index: str) -> None:
        with self._lock:
            if index in self._owners:
                self._owners = {ix: s for ix, s in self._owners.items() if ix != index}
                self._save()

    def to_dict(self) -> dict[str, object]:
        return {"epoch": self.epoch, "workers": list(self.workers),
                "owners": {ix: dict(sorted(s.items())) for ix, s in sorted(self._owners.items())}}


def owner_by_hash(index: str, shard: int, workers: int) -> int:
    """The default placement of (index, shard) over `workers` workers (their position)."""
    return jump_hash(shard_key(index, shard), workers)
