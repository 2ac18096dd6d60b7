"""A cluster worker: holds many shards and answers the coordinator's messages.

Each (index, shard) the placement table gives this worker is a *shard store*: an ordinary
engine data directory on the shared storage, `<root>/shards/<index>/<shard>/`, holding one
index with the coordinator's schema (same field ids) minus key translation (keys stay at
the coordinator: workers see record and row ids only). Its WAL, snapshots, fsync and
recovery are the engine's own, so a worker restarted anywhere that reaches `<root>` reopens
its shards and has every acknowledged write. The store's LOCK (flock) keeps a second
process from opening a shard another one holds. With an s3:// root (engine/cluster/
storage.py) the same directories live in a node-local cache whose fsyncs upload to the
bucket, and each store is rebuilt from the bucket before it is opened.

Messages (plain picklable values; ShardWorker.handle returns ("ok", value) or
("err", exception) so any transport carries errors the same way):
  run      one shard task over this worker's shards of an index, pre-reduced
  write    write ops on one shard, in one transaction (atomic and durable per shard)
  describe the shards holding data and each field's views (the coordinator's catalog)
  release  close a shard that moves to another worker
  sync     re-read the placement table (open shards moved here, close shards moved away)
  drop     forget an index (close and delete its stores)
  status   name, process, shards held, when they were loaded
Every message naming an index carries the fingerprint of the schema it was planned
against; a worker that has not seen that schema answers SchemaNeeded and the coordinator
sends it again with the schema document. run, write and describe also carry the placement
table's epoch: a worker behind it syncs first.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import threading
import time
from typing import Any, Optional


from engine.errors import DirectoryInUseError, EngineError, InvalidParameterError, StorageFailedError
from engine.executor import LOCAL, Executor
from engine.holder import Holder
from engine.index import Index
from engine.schema import FieldDef, IndexDef
from engine.shardexec import Scope, ShardTask
from engine.state import IndexState
from engine.cluster import storage
from engine.cluster.placement import PLACEMENT_FILE, PlacementTable
from ext import FrozenBitmap

LOCK_WAIT_SECONDS = 10.0    # how long a shard store waits for its previous owner's lock


class SchemaNeeded(EngineError):
    """The worker does not have the schema the message was planned against."""

    name = "SCHEMA_NEEDED"


def schema_fingerprint(doc: dict[str, Any]) -> str:
    return hashlib.blake2b(json.dumps(doc, sort_keys=True).encode(), digest_size=12).hexdigest()


def store_definition(doc: dict[str, Any]) -> IndexDef:
    """The coordinator's schema as a shard store holds it: the same fields and ids, with
    key translation off (a store sees ids only)."""
    d = IndexDef.from_dict(doc)
    fields = {n: dataclasses.replace(fd, options=dataclasses.replace(fd.options, keys=False))
              for n, fd in d.fields.items()}
    return dataclasses.replace(d, options=dataclasses.replace(d.options, keys=False), fields=fields)


class ShardWorker:
    def __init__(self, name: str, root: str, *, fsync: bool = True) -> None:
        self.name = name
        self.root, self.fileio = storage.open_root(root, name)
        self.object_root = storage.is_object_root(root)
        # On an object store nothing is durable that no fsync uploaded: always on there.
        self.fsync = fsync or storage.is_object_root(root)
        self.started = time.time()
        self._lock = threading.RLock()          # store opening/creation and schema changes
        self._schemas: dict[str, tuple[str, IndexDef]] = {}
        self._stores: dict[str, dict[int, Holder]] = {}
        self._adopted: dict[tuple[str, int], str] = {}   # (index, shard) → schema fingerprint it has
        self.load_seconds = 0.0
        self.epoch = -1
        t0 = time.perf_counter()
        self._sync()
        self.load_seconds = time.perf_counter() - t0

    # --- stores ----------------------------------------------------------------------------------

    def _store_path(self, index: str, shard: int) -> str:
        return os.path.join(self.root, "shards", index, f"{shard:010d}")

    def _sync(self, epoch: Optional[int] = None) -> None:
        """Hold exactly the shards the placement table gives this worker: open the ones
        missing (a restarted worker gets its shards back here, before answering anything;
        a shard moved here is opened), close the ones moved away. Runs at start and when a
        message carries a newer table epoch than the one last read."""
        if epoch is not None and epoch <= self.epoch:
            return
        with self._lock:
            if epoch is not None and epoch <= self.epoch:
                return
            path = os.path.join(self.root, PLACEMENT_FILE)
            self.fileio.refresh(path)
            if not self.fileio.exists(path):
                return
            table = PlacementTable.load_or_create(path, [self.name], fileio=self.fileio, fsync=self.fsync)
            owned = table.shards_of(self.name)
            for index, held in list(self._stores.items()):
                for shard in [s for s in held if s not in owned.get(index, ())]:
                    self._release(index, shard)
            for index, shards in owned.items():
                for shard in shards:
                    if shard in self._stores.get(index, {}):
                        continue
                    self.fileio.refresh(self._store_path(index, shard))
                    if self.fileio.isdir(os.path.join(self._store_path(index, shard), index)):
                        self._open_store(index, shard, refreshed=True)
            self.epoch = table.epoch

    def _release(self, index: str, shard: int) -> None:
        holder = self._stores.get(index, {}).get(shard)
        if holder is None:
            return
        self._stores = {**self._stores, index: {s: h for s, h in self._stores[index].items() if s != shard}}
        self._adopted.pop((index, shard), None)
        holder.close()          # checkpoint, close the log, release the store's lock

    def _open_store(self, index: str, shard: int, refreshed: bool = False) -> Holder:
        path = self._store_path(index, shard)
        if not refreshed:
            self.fileio.refresh(path)      # an object store's copy into the local cache
        h = self._holder(path)
        # copy on write: messages run concurrently (a threaded actor) and iterate these
        self._stores = {**self._stores, index: {**self._stores.get(index, {}), shard: h}}
        return h

    def _holder(self, path: str) -> Holder:
        """Open a shard store, waiting up to LOCK_WAIT_SECONDS for its previous owner to let
        go: a shard moved off a worker that is being stopped (its node removed, its process
        killed) stays locked until that process has exited."""
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                return Holder(path, fsync=self.fsync, fileio=self.fileio)
            except DirectoryInUseError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    def _store(self, index: str, shard: int, create: bool) -> Optional[Index]:
        """The shard's store, on the schema of the current message (created when `create`
        and missing; None when it does not exist)."""
        holder = self._stores.get(index, {}).get(shard)
        fingerprint, want = self._schemas[index]
        if holder is not None and self._adopted.get((index, shard)) == fingerprint:
            return holder.index(index)
        with self._lock:
            if holder is None:
                if not create and not self.fileio.isdir(os.path.join(self._store_path(index, shard), index)):
                    return None
                holder = self._stores.get(index, {}).get(shard) or self._open_store(index, shard)
            if not _has(holder, index):
                if not create:
                    return None
                holder.adopt_index(want)
            idx = holder.index(index)
            if idx.definition != want:
                idx.adopt_definition(want)
            self._adopted[(index, shard)] = fingerprint
            return idx

    def _schema(self, index: str, fingerprint: str, doc: Optional[dict[str, Any]]) -> None:
        known = self._schemas.get(index)
        if known is not None and known[0] == fingerprint:
            return
        if doc is None:
            raise SchemaNeeded(f"worker {self.name} has no schema {fingerprint} for index {index}")
        if schema_fingerprint(doc) != fingerprint:
            raise InvalidParameterError("schema document does not match its fingerprint")
        with self._lock:
            self._schemas[index] = (fingerprint, store_definition(doc))

    def _state(self, index: str) -> IndexState:
        """One IndexState over every store of the index this worker holds (each store's
        current snapshot; fragments are shared, nothing is copied)."""
        fields: dict[int, dict[str, dict[int, Any]]] = {}
        for shard in sorted(self._stores.get(index, {})):
            idx = self._store(index, shard, create=False)
            if idx is None:
                continue
            for fid, views in idx.snapshot().fields.items():
                f = fields.setdefault(fid, {})
                for view, frags in views.items():
                    f.setdefault(view, {}).update(frags)
        return IndexState(0, fields)

    # --- messages --------------------------------------------------------------------------------

    def handle(self, method: str, *args: Any) -> tuple[str, Any]:
        """Dispatch one message; errors travel back as values."""
        try:
            return "ok", getattr(self, "do_" + method)(*args)
        except Exception as exc:    # every error, typed or not, goes back to the coordinator
            return "err", exc

    def do_run(self, index: str, fingerprint: str, doc: Optional[dict[str, Any]], task: ShardTask,
               scope: Scope, global_rows: dict[Any, FrozenBitmap], remaining: Optional[float], epoch: int) -> Any:
        self._sync(epoch)
        self._schema(index, fingerprint, doc)
        deadline = None if remaining is None else time.monotonic() + remaining
        ex = Executor(_SchemaOnly(self._schemas[index][1]), self._state(index), deadline=deadline, backend=LOCAL,
                      global_rows=global_rows)
        return LOCAL.run(ex, task, scope)

    def do_write(self, index: str, fingerprint: str, doc: Optional[dict[str, Any]], shard: int,
                 ops: list[tuple[Any, ...]], epoch: int) -> tuple[list[Any], dict[int, list[str]]]:
        """Apply ops to one shard in one transaction (imports commit one each). Returns
        each op's result and, for the fields written, the views the shard now has."""
        self._sync(epoch)
        self._schema(index, fingerprint, doc)
        idx = self._store(index, shard, create=True)
        assert idx is not None
        out: list[Any] = []
        touched: set[int] = set()
        from engine.ingest import import_values

        simple = [op for op in ops if op[0] != "import"]
        if simple:
            with idx.transaction() as tx:
                for op in simple:
                    out.append(_apply(idx, tx, op, shard))
                    if op[0] != "delete":
                        touched.add(op[2] if op[0] in ("set", "clear") else op[1])
        for op in ops:
            if op[0] == "import":
                _, fid, cols, values, timestamps, clear = op
                fd = _fd(idx, fid)
                out.append(import_values(idx, fd, cols, values, timestamps=timestamps, clear=clear))
                touched.add(fid)
        snap = idx.snapshot()
        return out, {fid: sorted(snap.views(fid)) for fid in touched}

    def do_describe(self, index: str, epoch: int) -> dict[str, Any]:
        """Each field's views in this worker's shards of `index` (the coordinator's catalog)."""
        self._sync(epoch)
        views: dict[int, set[str]] = {}
        stores = self._stores.get(index, {})
        for shard in sorted(stores):
            holder = stores[shard]
            if not _has(holder, index):
                continue
            for fid, vs in holder.index(index).snapshot().fields.items():
                views.setdefault(fid, set()).update(vs)
        return {"views": {fid: sorted(v) for fid, v in views.items()}}

    def do_drop(self, index: str) -> None:
        with self._lock:
            stores = self._stores.get(index, {})
            self._stores = {ix: s for ix, s in self._stores.items() if ix != index}
            for holder in stores.values():
                holder.close(checkpoint=False)    # deleted next: a checkpoint could only race the delete
            self._schemas.pop(index, None)
            self._adopted = {k: v for k, v in self._adopted.items() if k[0] != index}
            tree = os.path.join(self.root, "shards", index)
            if self.object_root:
                # Every object of the index, this worker's stores or not: a leftover would
                # come back if an index of the same name were created again.
                self.fileio.rmtree(tree)
            else:   # every worker removes the shared tree at once: losing the race is fine
                shutil.rmtree(tree, ignore_errors=True)

    def do_release(self, index: str, shard: int) -> None:
        """Close a shard that is moving to another worker (its log and snapshots stay on
        the shared storage for the new owner)."""
        with self._lock:
            self._release(index, shard)

    def do_sync(self, epoch: int) -> int:
        self._sync(epoch)
        return self.epoch

    def do_status(self) -> dict[str, Any]:
        return {"name": self.name, "pid": os.getpid(), "started": self.started, "epoch": self.epoch,
                "load_seconds": self.load_seconds,
                "shards": {ix: sorted(s) for ix, s in self._stores.items() if s}}

    def do_ping(self) -> str:
        return self.name

    def close(self) -> None:
        with self._lock:
            errors = []
            for stores in self._stores.values():
                for holder in stores.values():
                    try:
                        holder.close()
                    except EngineError as exc:
                        errors.append(exc)
            self._stores = {}
            if errors:
                raise StorageFailedError(f"worker {self.name}: {len(errors)} shard stores failed to close: {errors[0]}")


def _has(holder: Holder, index: str) -> bool:
    return any(ix.name == index for ix in holder.indexes())


class _SchemaOnly:
    """What a worker's Executor needs of an index: its name and fields (the data comes
    from the stores' merged state)."""

    holder = None

    def __init__(self, definition: IndexDef) -> None:
        self.definition = definition
        self.name = definition.name
        self._by_id = {fd.id: fd for fd in definition.fields.values()}

    def fields_by_id(self) -> dict[int, FieldDef]:
        return self._by_id


def _fd(idx: Index, fid: int) -> FieldDef:
    fd = idx.fields_by_id().get(fid)
    if fd is None:
        from engine.errors import FieldNotFoundError

        raise FieldNotFoundError(f"field {fid} is no longer in index {idx.name}")
    return fd


def _apply(idx: Index, tx: Any, op: tuple[Any, ...], shard: int) -> Any:
    kind = op[0]
    if kind == "set":
        _, col, fid, value, ts = op
        return tx.set(col, _fd(idx, fid), value, ts)
    if kind == "clear":
        _, col, fid, value = op
        return tx.clear(col, _fd(idx, fid), value)
    if kind == "clear_row":
        _, fid, row = op
        return tx.clear_row(_fd(idx, fid), row)
    if kind == "store":
        _, fid, row, cols = op
        return tx.store(_fd(idx, fid), row, cols)
    if kind == "delete":
        _, cols = op
        return tx.delete(cols)
    raise InvalidParameterError(f"unknown write op {kind!r}")

