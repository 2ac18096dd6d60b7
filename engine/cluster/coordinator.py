"""The coordinator: a Holder whose shards live on cluster workers.

`engine.open(path, cluster=Cluster(transport, root))` opens a data directory that keeps
what stays single-node — the schema, key translation (record and row keys) — and sends
everything that touches records to the workers:

- reads: every shard task of a query goes to each worker holding shards of the index, once
  per task, with the global rows it needs; each worker pre-reduces its shards and the
  coordinator combines the workers' partials (ShardTask.combine: exact, order-free);
- writes: keys are translated (and made durable) here, then each write goes to the
  worker owning its shard (placement table), which commits it to that shard's log before
  answering. A write is acknowledged only after every shard it touched answered.

Membership: add_worker / remove_worker move shards between workers (the storage is shared:
the old owner closes a shard, the table records the new owner, the new owner opens it),
with no fan-out in between.

Routed writes: Set/Clear/ClearRow/Store/Delete (PQL and the Index methods) and
import_values. Anything else that would change records (SQL INSERT/DELETE, multi-field
record imports, the entities layer) is refused with ClusterUnsupportedError before
anything is written. Atomicity is per shard: a request or import spanning shards can be
half applied if it fails partway; every routed write is idempotent, so retrying it is safe.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any, Iterator, Optional, cast

import numpy as np

from engine import plan as P
from engine.errors import (ClusterUnsupportedError, EngineError, InvalidParameterError, InvalidValueError,
                           LastWorkerError, WorkerExistsError, WorkerNotFoundError, WorkerUnavailableError)
from engine.cluster import storage
from engine.cluster.placement import PLACEMENT_FILE, PlacementTable, owner_by_hash
from engine.cluster.transport import Transport
from engine.cluster.worker import SchemaNeeded, schema_fingerprint
from engine.schema import FieldDef
from engine.shardexec import Scope, ShardExecutor, ShardTask
from engine.shardtasks import RowIdsTask, RowTask
from engine.state import SHARD_BITS, split_by_shard
from ext import Bitmap, FrozenBitmap

Op = tuple[Any, ...]
RECOVER_WAIT_SECONDS = 10.0     # how long a fan-out that met a lost worker waits for its shards to move


class _Catalog:
    """What the coordinator knows of an index's data without asking: each field's views
    (time fields' quantum views), which lowering needs. (Its shards are the placement
    table's.)"""

    def __init__(self) -> None:
        self.views: dict[int, set[str]] = {}

    def add(self, views: dict[int, list[str]]) -> None:
        for fid, vs in views.items():
            self.views.setdefault(fid, set()).update(vs)


class ClusterState:
    """Index.snapshot() of a cluster index: shards and views from the catalog, rows read
    through the workers; fragments are not here, and asking for one is refused (a code
    path that reads fragments directly has not been routed)."""

    seq = 0

    def __init__(self, cluster: "Cluster", index: Any) -> None:
        self._cluster = cluster
        self._index = index
        self._catalog = cluster.catalog(index.name)

    def shards(self) -> list[int]:
        return sorted(self._cluster.table.placed(self._index.name))

    def views(self, field_id: int) -> dict[str, dict[int, Any]]:
        return {v: {} for v in sorted(self._catalog.views.get(field_id, ()))}

    def row_ids(self, field_id: int, view: str) -> list[int]:
        from engine.executor import Executor

        ex = Executor(self._index, self, backend=self._cluster)   # type: ignore[arg-type]
        return sorted(ex.run_task(RowIdsTask(field_id, (view,))))

    def row(self, field_id: int, view: str, row_id: int) -> Bitmap:
        from engine.executor import Executor

        ex = Executor(self._index, self, backend=self._cluster)   # type: ignore[arg-type]
        return ex.run_task(RowTask(P.RowOf(field_id, row_id, (view,))))

    def fragment(self, field_id: int, view: str, shard: int) -> Any:
        raise ClusterUnsupportedError(f"index {self._index.name}: fragments live on the cluster workers "
                                      f"(this operation is not available in cluster mode)")

    @property
    def fields(self) -> Any:
        return self.fragment(0, "", 0)

    def __getattr__(self, name: str) -> Any:
        # Any other IndexState read (values_in, …) needs fragments: refused, typed.
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.fragment(0, "", 0)


class _SharedExclusive:
    """Many fan-outs at once, or one shard move alone: a query never runs while a shard
    is between its old owner closing it and its new owner opening it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared = 0
        self._exclusive = False

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            while self._exclusive:
                self._cond.wait()
            self._shared += 1
        try:
            yield
        finally:
            with self._cond:
                self._shared -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            while self._exclusive:
                self._cond.wait()
            self._exclusive = True          # new fan-outs wait from here on
            while self._shared:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


class Cluster(ShardExecutor):
    """The coordinator's side of a cluster; pass it to engine.open(path, cluster=...).

    Args:
        transport: how workers are reached (LoopbackTransport, RayTransport).
        root: the shared storage every worker reaches (placement table, shard stores): a
            shared directory or an s3://bucket/prefix URL (engine/cluster/storage.py).
        fsync: make the placement table's writes durable (workers fsync their own logs).
    """

    def __init__(self, transport: Transport, root: str, *, fsync: bool = True, check_workers: bool = True) -> None:
        self.transport = transport
        self.root = storage.normalize(root)
        try:       # a shared directory, or an s3:// bucket through a local cache (storage.py)
            local, fio = storage.open_root(root, "coordinator")
            fio.refresh(os.path.join(local, PLACEMENT_FILE))
            self.table = PlacementTable.load_or_create(os.path.join(local, PLACEMENT_FILE), transport.workers(),
                                                       fileio=fio, fsync=fsync)
        except EngineError:
            transport.close()
            raise
        if check_workers and self.missing_workers():
            transport.close()          # the cluster owns its transport, even when refusing it
            raise InvalidParameterError(f"the placement table in {self.root} has shards on workers "
                                        f"{self.missing_workers()} that this transport does not start (fewer "
                                        f"workers than before: move their shards off with remove_worker first)")
        self._catalogs: dict[str, _Catalog] = {}
        self._schemas: dict[str, tuple[Any, str, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._moves = _SharedExclusive()
        self.fanouts = 0            # task fan-outs sent (for status and tests)
        self.moves = 0              # shards moved by add_worker / remove_worker / rebalance
        self._membership = threading.RLock()     # one membership change at a time
        self.watcher: Optional[Any] = None       # a MembershipWatcher (automatic membership), stopped by close()

    # --- messages ----------------------------------------------------------------------------

    def _schema(self, index: Any) -> tuple[str, dict[str, Any]]:
        definition = index.definition
        got = self._schemas.get(index.name)
        if got is None or got[0] is not definition:
            doc = definition.to_dict()
            got = (definition, schema_fingerprint(doc), doc)
            self._schemas[index.name] = got
        return got[1], got[2]

    def _call(self, calls: list[tuple[str, str, tuple[Any, ...]]], doc: Optional[dict[str, Any]]
              ) -> list[tuple[str, Any]]:
        """Envelopes of every call; a worker that lacks the schema (the 3rd argument of
        run/write) gets the call again with the schema document."""
        replies = self.transport.call_many(calls)
        again = [i for i, (kind, val) in enumerate(replies) if kind == "err" and isinstance(val, SchemaNeeded)]
        if again and doc is not None:
            retry = []
            for i in again:
                name, method, args = calls[i]
                retry.append((name, method, args[:2] + (doc,) + args[3:]))
            for i, reply in zip(again, self.transport.call_many(retry)):
                replies[i] = reply
        return replies

    @staticmethod
    def _values(replies: list[tuple[str, Any]]) -> list[Any]:
        for kind, val in replies:
            if kind == "err":
                raise val
        return [val for _, val in replies]

    # --- reads ---------------------------------------------------------------------------------

    def run(self, ex: Any, task: ShardTask, scope: Optional[Scope] = None) -> Any:
        scope = scope or ex.scope
        name = ex.index.name
        placed = self.table.placed(name)
        workers = self.table.workers
        extra: dict[str, set[int]] = {}
        for s in scope.extra:
            w = placed.get(s) or workers[owner_by_hash(name, s, len(workers))]
            extra.setdefault(w, set()).add(s)
        targets = {w for s, w in placed.items() if scope.only is None or s in scope.only} | set(extra)
        if not targets:
            return task.combine([])
        fingerprint, doc = self._schema(ex.index)
        ex.check_deadline()
        remaining = None if ex.deadline is None else ex.deadline - time.monotonic()
        globals_ = ex.global_rows()
        parts = None
        epoch = self.table.epoch
        try:
            with self._moves.shared():
                if self.table.placed(name) == placed:       # else a shard moved while we planned
                    calls = [(w, "run", (name, fingerprint, None, task,
                                         Scope(scope.only, frozenset(extra.get(w, ()))), globals_, remaining,
                                         self.table.epoch))
                             for w in sorted(targets)]
                    self.fanouts += 1
                    parts = self._values(self._call(calls, doc))
        except WorkerUnavailableError as exc:
            if not self._recover(exc, epoch):
                raise
        if parts is None:
            return self.run(ex, task, scope)            # plan again (outside the shared hold)
        ex.check_deadline()
        return task.combine(parts)

    def catalog(self, index: str) -> _Catalog:
        cat = self._catalogs.get(index)
        if cat is None:
            with self._lock:
                cat = self._catalogs.get(index)
                if cat is None:
                    cat = _Catalog()
                    calls = [(w, "describe", (index, self.table.epoch)) for w in self.table.workers]
                    for got in self._values(self.transport.call_many(calls)):
                        cat.add(got["views"])
                    self._catalogs[index] = cat
        return cat

    def state(self, index: Any) -> ClusterState:
        return ClusterState(self, index)

    # --- writes --------------------------------------------------------------------------------

    def _write(self, index: Any, ops: dict[int, list[Op]]) -> dict[int, list[Any]]:
        """Send each shard's ops to its owner (placing new shards first); the results per
        shard. Raises the first error after recording what the other shards committed."""
        if not ops:
            return {}
        name = index.name
        fingerprint, doc = self._schema(index)
        shards = sorted(ops)
        epoch = self.table.epoch
        try:
            with self._moves.shared():
                calls = [(self.table.owner(name, s), "write", (name, fingerprint, None, s, ops[s], self.table.epoch))
                         for s in shards]
                replies = self._call(calls, doc)
        except WorkerUnavailableError as exc:
            if not self._recover(exc, epoch):
                raise
            return self._write(index, ops)          # idempotent: the shards of the lost node have moved
        cat = self.catalog(name)
        out: dict[int, list[Any]] = {}
        for s, (kind, val) in zip(shards, replies):
            if kind == "ok":
                results, views = val
                cat.add(views)
                out[s] = results
        self._values(replies)
        return out

    @staticmethod
    def _value(tx: Any, fd: FieldDef, value: Any, create: bool) -> Any:
        """A value as a shard store takes it (ids for keyed fields), validated here so a
        bad one creates no key; None: a key that does not exist (create=False)."""
        if fd.options.is_bsi:
            if value is None:
                raise InvalidValueError(f"use clear() to null field {fd.name}")
            fd.options.stored_in_range(value)
            return value
        row = tx.row_id(fd, value, create)
        if row is None or fd.options.type == "bool":
            return row if row is None else value
        return row

    def set_clear_many(self, index: Any, nodes: list[Any]) -> list[bool]:
        """Many PQL Set/Clear calls (plan.SetValue / ClearValue), in order: every value
        checked and every key made first (nothing is sent if one is bad; the error has the
        failing call's position as `batch_index`), then one message per shard holding
        that shard's writes in call order."""
        placed: list[Optional[tuple[int, int]]] = []           # (shard, position in its ops)
        ops: dict[int, list[Op]] = {}
        with index.transaction() as tx:
            for i, node in enumerate(nodes):
                try:
                    fd = index._fd(node.field)
                    if isinstance(node, P.SetValue):
                        if node.timestamp is not None and fd.options.type != "time":
                            raise InvalidValueError(f"field {fd.name} is not a time field: timestamps are not "
                                                    f"allowed")
                        if not fd.options.is_bsi:
                            tx.views_for_write(fd, node.timestamp)
                        v = self._value(tx, fd, node.value, create=True)
                        op: Op = ("set", tx.column_id(node.column, create=True), fd.id, v, node.timestamp)
                    else:
                        col = tx.column_id(node.column, create=False)
                        v = None if fd.options.is_bsi else self._value(tx, fd, node.value, create=False)
                        if col is None or (v is None and not fd.options.is_bsi):
                            placed.append(None)                 # nothing to clear
                            continue
                        op = ("clear", col, fd.id, v)
                except EngineError as exc:
                    exc.batch_index = i                         # type: ignore[attr-defined]
                    raise
                shard_ops = ops.setdefault(op[1] >> SHARD_BITS, [])
                placed.append((op[1] >> SHARD_BITS, len(shard_ops)))
                shard_ops.append(op)
        got = self._write(index, ops)
        return [False if p is None else got[p[0]][p[1]] for p in placed]

    def set(self, index: Any, column: Any, fd: FieldDef, value: Any, timestamp: Any = None) -> bool:
        if timestamp is not None and fd.options.type != "time":
            raise InvalidValueError(f"field {fd.name} is not a time field: timestamps are not allowed")
        # Keys only (a failure inside rolls them back): durable before any worker sees the ids.
        with index.transaction() as tx:
            if not fd.options.is_bsi:
                tx.views_for_write(fd, timestamp)  # validates the timestamp
            v = self._value(tx, fd, value, create=True)
            col = tx.column_id(column, create=True)
        return self._write(index, {col >> SHARD_BITS: [("set", col, fd.id, v, timestamp)]})[col >> SHARD_BITS][0]

    def clear(self, index: Any, column: Any, fd: FieldDef, value: Any = None) -> bool:
        with index.transaction() as tx:
            col = tx.column_id(column, create=False)
            v = None if fd.options.is_bsi else self._value(tx, fd, value, create=False)
        if col is None or (v is None and not fd.options.is_bsi):
            return False
        return self._write(index, {col >> SHARD_BITS: [("clear", col, fd.id, v)]})[col >> SHARD_BITS][0]

    def clear_row(self, index: Any, fd: FieldDef, value: Any) -> bool:
        if fd.options.is_bsi:
            raise InvalidValueError(f"ClearRow is not supported on {fd.options.type} field {fd.name}")
        with index.transaction() as tx:
            v = self._value(tx, fd, value, create=False)
        if v is None:
            return False
        got = self._write(index, {s: [("clear_row", fd.id, v)] for s in self.table.placed(index.name)})
        return any(r[0] for r in got.values())

    def store(self, index: Any, fd: FieldDef, value: Any, cols: FrozenBitmap) -> bool:
        if fd.options.is_bsi:
            raise InvalidValueError(f"Store is not supported on {fd.options.type} field {fd.name}")
        with index.transaction() as tx:
            v = self._value(tx, fd, value, create=True)
        parts = dict(split_by_shard(FrozenBitmap(cols)))
        shards = set(self.table.placed(index.name)) | set(parts)
        self._write(index, {s: [("store", fd.id, v, parts.get(s, FrozenBitmap()))] for s in shards})
        return True

    def delete(self, index: Any, cols: FrozenBitmap) -> bool:
        placed = self.table.placed(index.name)
        got = self._write(index, {s: [("delete", part)] for s, part in split_by_shard(FrozenBitmap(cols))
                                  if s in placed})
        return any(r[0] for r in got.values())

    def import_values(self, index: Any, fd: FieldDef, columns: Any, values: Any, *, timestamps: Any = None,
                      clear: bool = False) -> int:
        """engine.ingest.import_values, routed: validated and translated here, each shard's
        part imported by its owner (atomic per shard)."""
        from engine.ingest import _MISSING, _as_array, _column_ids, _row_ids, _stored_values
        from engine.txn import check_value_range

        opts = fd.options
        vals: Optional[np.ndarray]
        with index.transaction() as tx:
            if values is not None and not (opts.is_bsi and clear):
                vals, present = _as_array(values)
                if opts.is_bsi:
                    kept = vals if present is None else vals[present]
                    check_value_range(fd, _stored_values(fd, kept))
            cols = _column_ids(tx, columns, create=not clear)
            if opts.is_bsi and clear:
                vals = None
            else:
                if values is None:
                    raise InvalidValueError("values are required")
                assert vals is not None                 # values given and not a BSI clear: read above
                if len(vals) != len(cols):
                    raise InvalidValueError(f"{len(cols)} columns but {len(vals)} values")
                if present is not None:
                    cols, vals = cols[present], vals[present]
                    if timestamps is not None:
                        timestamps = _as_array(timestamps)[0][present]
                if opts.keys:
                    vals = _row_ids(tx, fd, vals, create=not clear)
        keep = cols != _MISSING
        if vals is not None and opts.keys:
            keep &= vals != _MISSING
        if not keep.all():
            cols = cols[keep]
            vals = None if vals is None else vals[keep]
            if timestamps is not None:
                timestamps = np.asarray(timestamps)[keep]
        shard_of = cols >> np.uint64(20)
        order = np.argsort(shard_of, kind="stable")        # keeps each record's last value last
        bounds = np.flatnonzero(np.diff(shard_of[order])) + 1
        ops: dict[int, list[Op]] = {}
        for idx in np.split(order, bounds) if len(order) else []:
            s = int(shard_of[idx[0]])
            ts = None if timestamps is None else np.asarray(timestamps)[idx]
            ops[s] = [("import", fd.id, cols[idx], None if vals is None else vals[idx], ts, clear)]
        return sum(r[0] for r in self._write(index, ops).values())

    def write_call(self, index: Any, node: Any, ex: Any) -> bool:
        """One lowered PQL write call (plan.WRITE_CALLS)."""
        if isinstance(node, P.SetValue):
            return self.set(index, node.column, index._fd(node.field), node.value, node.timestamp)
        if isinstance(node, P.ClearValue):
            return self.clear(index, node.column, index._fd(node.field), node.value)
        if isinstance(node, P.ClearRow):
            return self.clear_row(index, index._fd(node.field), node.value)
        if isinstance(node, P.Store):
            return self.store(index, index._fd(node.field), node.value, FrozenBitmap(ex.full_row(node.row)))
        assert isinstance(node, P.Delete)
        return self.delete(index, FrozenBitmap(ex.full_row(node.row)))

    def refuse(self, what: str) -> ClusterUnsupportedError:
        return ClusterUnsupportedError(f"{what} is not available while the data lives on cluster workers "
                                       f"(see docs/cluster.md for the routed writes)")

    # --- administration ------------------------------------------------------------------------

    # --- membership ---------------------------------------------------------------------------

    def _move(self, index: str, shard: int, to: str, *, lost: bool = False) -> None:
        """Move one shard: its owner closes it (log and snapshots stay on the shared
        storage), the table records the new owner (durably), the new owner opens it.
        Fan-outs wait for the few milliseconds this takes and then use the new owner.
        lost: the owner's node is gone — if it cannot be reached the move goes on
        without it (everything it acknowledged is in the shard's log)."""
        with self._moves.exclusive():
            old = self.table.placed(index).get(shard)
            if old == to:
                return
            if old is not None and old in self.transport.workers():
                try:
                    self._values(self.transport.call_many([(old, "release", (index, shard))]))
                except WorkerUnavailableError:
                    if not lost:
                        raise
            self.table.move(index, shard, to)
            self._values(self.transport.call_many([(to, "sync", (self.table.epoch,))]))
        self.moves += 1

    def _recover(self, exc: WorkerUnavailableError, epoch: int) -> bool:
        """After a worker did not answer: with automatic membership, move the shards of
        the workers known lost and of those whose node Ray has declared dead. True (ask
        again) once shards have moved since the fan-out was planned at `epoch` — by this
        call or by the watcher meanwhile. A worker killed with its node is first reported
        gone, and only later unschedulable or its node dead, so this waits up to
        RECOVER_WAIT_SECONDS for that."""
        if self.watcher is None:
            return False
        deadline = time.monotonic() + RECOVER_WAIT_SECONDS
        while True:
            if self.watcher.recover(exc.lost) or self.table.epoch != epoch:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def _check_member(self, name: str) -> None:
        if name not in self.table.workers:
            raise WorkerNotFoundError(f"no worker {name} in this cluster (workers: {', '.join(self.table.workers)})")

    def add_worker(self, name: str, *, node: Optional[str] = None) -> list[tuple[str, int]]:
        """Add a worker (on Ray: pinned to `node` when given) and move to it the shards
        jump hash now gives it (about 1/N of them, none between old workers); queries
        keep answering between moves. Returns the (table, shard) pairs moved."""
        with self._membership:
            if name in self.table.workers:
                raise WorkerExistsError(f"worker {name} is already in the cluster")
            self.transport.add_worker(name, node=node)
            with self._moves.exclusive():
                self.table.add_worker(name)
                self._values(self.transport.call_many([(name, "sync", (self.table.epoch,))]))
            moved = []
            for index in self._indexes():
                for shard, owner in sorted(self.table.placed(index).items()):
                    if self.table.hashed_owner(index, shard) == name and owner != name:
                        self._move(index, shard, name)
                        moved.append((index, shard))
            return moved

    def remove_worker(self, name: str, *, lost: bool = False) -> list[tuple[str, int]]:
        """Move every shard of `name` to the remaining workers (jump hash over them),
        then drop it from the table and stop it. Returns the (table, shard) pairs moved.
        lost: its node is gone (see _move). Raises WorkerNotFoundError for an unknown
        worker, LastWorkerError for the only one."""
        with self._membership:
            self._check_member(name)
            rest = [w for w in self.table.workers if w != name]
            if not rest:
                raise LastWorkerError(f"worker {name} is the cluster's last: add another before removing it")
            moved = []
            for index, shards in sorted(self.table.shards_of(name).items()):
                for shard in shards:
                    self._move(index, shard, self.table.hashed_owner(index, shard, rest), lost=lost)
                    moved.append((index, shard))
            with self._moves.exclusive():
                self.table.remove_worker(name)
            try:
                self.transport.remove_worker(name)
            except WorkerUnavailableError:
                if not lost:
                    raise
            return moved

    def rebalance(self) -> list[tuple[str, int]]:
        """Even out each table's shards over the workers (counts differ by at most one),
        moving as few as that needs: from the most loaded worker to the least, one at a
        time. (Removing a worker leaves the others' shards where they are, which can
        leave a table uneven.) Returns the (table, shard) pairs moved."""
        with self._membership:
            moved = []
            for index in self._indexes():
                while True:
                    held: dict[str, list[int]] = {w: [] for w in self.table.workers}
                    for shard, owner in self.table.placed(index).items():
                        held.setdefault(owner, []).append(shard)
                    most = max(held, key=lambda w: (len(held[w]), w))
                    least = min(held, key=lambda w: (len(held[w]), w))
                    if len(held[most]) - len(held[least]) <= 1:
                        break
                    shard = max(held[most])
                    self._move(index, shard, least)
                    moved.append((index, shard))
            return moved

    def _indexes(self) -> list[str]:
        return sorted(cast(dict[str, dict[int, str]], self.table.to_dict()["owners"]))

    def drop_index(self, name: str) -> None:
        self._values(self.transport.call_many([(w, "drop", (name,)) for w in self.table.workers]))
        self.table.drop_index(name)
        with self._lock:
            self._catalogs.pop(name, None)
            self._schemas.pop(name, None)

    def status(self) -> dict[str, Any]:
        """The placement table and each worker's own report (or its error)."""
        replies = self.transport.call_many([(w, "status", ()) for w in self.table.workers])
        return {"root": self.root, "placement": self.table.to_dict(),
                "workers": {w: (val if kind == "ok" else {"error": f"{type(val).__name__}: {val}"})
                            for w, (kind, val) in zip(self.table.workers, replies)}}

    def missing_workers(self) -> list[str]:
        """Workers the placement table lists that the transport does not reach."""
        return sorted(set(self.table.workers) - set(self.transport.workers()))

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        self.transport.close()

