"""The Holder: a data directory holding indexes (FeatureBase's holder).

Each index lives in its own sub-directory and recovers independently: if one index's files
are damaged, opening the holder still succeeds, that index raises DataCorruptedError when
used, and the others keep working.
"""
from __future__ import annotations

import contextlib
import os
import threading
from typing import Any, Iterator

from engine.errors import (
    ClosedError,
    DataCorruptedError,
    DirectoryInUseError,
    EngineError,
    StorageFullError,
    IndexExistsError,
    IndexNotFoundError,
    InvalidNameError,
    StorageFailedError,
    WritesBlockedError,
)
from engine.executor import LOCAL
from engine.groupby import DEFAULT_MAX_GROUPS
from engine.index import Index
from engine.pql.ast import Query
from engine.query import run_pql, run_query
from engine.results import Result
from engine.shardexec import ShardExecutor
from engine.schema import IndexDef, IndexOptions, check_meta, check_name
from engine.storage.fileio import FileIO
from engine.storage.wal import FULL_ERRNOS

DEFAULT_CHECKPOINT_BYTES = 64 << 20
CREATING = ".creating-"      # scratch directory of a create_index in progress
DROPPED = ".dropped-"        # an index being removed by drop_index


class Holder:
    """An open data directory. Use engine.open(path) rather than constructing this."""

    def __init__(self, path: str, *, fsync: bool = True, fileio: FileIO | None = None,
                 checkpoint_bytes: int = DEFAULT_CHECKPOINT_BYTES, max_groups: int = DEFAULT_MAX_GROUPS,
                 shard_executor: ShardExecutor | None = None, cluster: Any = None) -> None:
        self.path = os.path.abspath(path)
        self.fsync = fsync
        self.max_groups = max_groups
        # A coordinator (engine/cluster/coordinator.Cluster): records live on its workers,
        # this directory keeps the schema and keys. None: an ordinary embedded database.
        self.cluster = cluster
        # Where queries' per-shard work runs (engine/shardexec.py): this process by default.
        self.shard_executor: ShardExecutor = shard_executor or cluster or LOCAL
        self.fileio = fileio or FileIO()
        self.checkpoint_bytes = checkpoint_bytes
        self._indexes: dict[str, Index] = {}
        self._failed: dict[str, Exception] = {}
        self._closed = False
        # Held by create_index/drop_index (one at a time) and by whatever needs every index
        # to stand still (snapshots, consistent read views); taken before any index's lock.
        self._ddl = threading.RLock()
        # Set by block_writes(): (reason, the one thread still allowed to write or None).
        self._barrier: tuple[str, int | None] | None = None
        # engine/sql's per-database state: the views document ("views"), kept plans ("plans")
        self.sql_cache: dict[str, Any] = {}
        self.fileio.makedirs(self.path)
        try:
            self._lock_file = self.fileio.lock(os.path.join(self.path, "LOCK"))
        except OSError as exc:
            raise DirectoryInUseError(f"data directory {self.path} is in use by another process") from exc
        for name in self.fileio.listdir(self.path):
            ipath = os.path.join(self.path, name)
            if not self.fileio.isdir(ipath):
                continue
            if name.startswith((CREATING, DROPPED)):
                # An interrupted create (never acknowledged) or drop (acknowledged once
                # the rename was durable): the engine's own scratch, finished here.
                self.fileio.rmtree(ipath)
                continue
            if not is_index_name(name):
                continue                  # not an index (e.g. lost+found): never touched
            if not self.fileio.exists(os.path.join(ipath, "SCHEMA")):
                # Recovery never deletes what it does not understand: the index is not
                # opened, its files stay as they are, and the others keep working.
                self._failed[name] = DataCorruptedError(
                    f"index {name} has no SCHEMA file: it is not opened and nothing in it was changed "
                    f"(restore the file, or drop the index)", os.path.join(ipath, "SCHEMA"), 0)
                continue
            try:
                self._indexes[name] = Index.open(self, ipath)
            except DataCorruptedError as exc:
                self._failed[name] = exc

    def __enter__(self) -> "Holder":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("the database is closed")

    def create_index(self, name: str, *, meta: dict[str, Any] | None = None, **options: Any) -> Index:
        """Create an index (a table). Options: keys (records addressed by string keys),
        track_existence (default True), description; `meta` is opaque JSON kept with the
        schema (schema.check_meta)."""
        self._check_open()
        check_name(name, "index")
        opts = IndexOptions.make(**options)
        meta = check_meta(meta, "index")
        with self._ddl:
            self.check_writes_allowed()
            if name in self._indexes or name in self._failed:
                raise IndexExistsError(f"index {name} already exists")
            idx = self._create(name, opts, meta)
            self._indexes = {**self._indexes, name: idx}     # copy on write: readers list it
            return idx

    def adopt_index(self, definition: IndexDef) -> Index:
        """Create an index with exactly this definition, field ids included (a cluster
        shard store takes the coordinator's schema; engine/cluster/worker.py)."""
        self._check_open()
        with self._ddl:
            if definition.name in self._indexes or definition.name in self._failed:
                raise IndexExistsError(f"index {definition.name} already exists")
            idx = self._create(definition.name, definition.options, definition.meta, definition)
            self._indexes = {**self._indexes, definition.name: idx}
            return idx

    def _create(self, name: str, opts: IndexOptions, meta: dict[str, Any],
                definition: IndexDef | None = None) -> Index:
        # Built under a scratch name, then renamed into place: a crash leaves either no
        # index or a complete empty one, never a directory recovery has to guess about.
        scratch = os.path.join(self.path, CREATING + name)
        try:
            self.fileio.rmtree(scratch)
            Index.create(self, scratch, definition or IndexDef(name, opts, meta=meta)).close(checkpoint=False)
            self.fileio.rename(scratch, os.path.join(self.path, name))
            if self.fsync:
                self.fileio.fsync_dir(self.path)
            idx = Index.open(self, os.path.join(self.path, name))
        except OSError as exc:
            # Nothing was acknowledged: remove the scratch directory (the next open removes
            # it too) and report a typed error.
            self._remove_quietly(scratch)
            if exc.errno in FULL_ERRNOS:
                raise StorageFullError(f"disk full while creating index {name}: {exc.strerror or exc}") from exc
            raise StorageFailedError(f"creating index {name} failed: {exc}") from exc
        except EngineError:
            self._remove_quietly(scratch)
            raise
        return idx

    def _remove_quietly(self, path: str) -> None:
        try:
            self.fileio.rmtree(path)
        except OSError:
            pass

    def index(self, name: str) -> Index:
        self._check_open()
        idx = self._indexes.get(name)
        if idx is None:
            if name in self._failed:
                raise self._failed[name]
            raise IndexNotFoundError(f"index {name} not found")
        return idx

    def indexes(self) -> list[Index]:
        self._check_open()
        indexes = self._indexes          # one copy-on-write table, read once
        return [indexes[n] for n in sorted(indexes)]

    def failed_indexes(self) -> dict[str, Exception]:
        """Indexes that could not be opened, with the reason (e.g. DataCorruptedError)."""
        return dict(self._failed)

    def drop_index(self, name: str) -> None:
        self._check_open()
        with self._ddl:
            self.check_writes_allowed()
            idx = self._indexes.get(name)
            if idx is None and name not in self._failed:
                raise IndexNotFoundError(f"index {name} not found")
            if self.cluster is not None:
                self.cluster.drop_index(name)         # the workers' shards first: never left behind
            self._indexes = {n: i for n, i in self._indexes.items() if n != name}
            self._failed = {n: e for n, e in self._failed.items() if n != name}
            self._drop(name, idx)

    def _drop(self, name: str, idx: Index | None) -> None:
        if idx is not None:
            idx.close(checkpoint=False)
        # Renaming the directory aside makes the drop atomic; a crash before the removal
        # finishes leaves a scratch directory that the next open removes.
        trash = os.path.join(self.path, DROPPED + name)
        self.fileio.rmtree(trash)
        self.fileio.rename(os.path.join(self.path, name), trash)
        if self.fsync:
            self.fileio.fsync_dir(self.path)
        self.fileio.rmtree(trash)

    def query(self, index: str, pql: str, *, timeout: float | None = None,
              cancel: threading.Event | None = None) -> list[Any]:
        """Run a PQL request against an index; one result per call, in FeatureBase's
        JSON shapes (see docs/pql.md): pql()'s results as to_json() gives them."""
        self._check_open()
        # A loop, not a comprehension: on Python 3.11 a comprehension is one more function
        # call, a measurable share of a one-call request such as a Count.
        out = []
        for r in run_pql(self, index, pql, timeout=timeout, cancel=cancel):
            out.append(r.to_json())
        return out

    def pql(self, index: str, pql: str | Query, *, timeout: float | None = None,
            cancel: threading.Event | None = None) -> list[Result]:
        """Run a PQL request (text, or as engine.parse_pql parsed it) against an index; one
        typed result per call (engine.results: Count, RowResult, ValCount, …, each with
        to_json()). Writes in the request commit atomically. `timeout` (seconds) and
        `cancel` (set it from another thread) stop a read between shards with
        QueryCancelledError."""
        self._check_open()
        if isinstance(pql, Query):
            return run_query(self, index, pql, timeout=timeout, cancel=cancel)
        return run_pql(self, index, pql, timeout=timeout, cancel=cancel)

    def run(self, index: str, *calls: Any, timeout: float | None = None) -> list[Any]:
        """Run calls built with engine.q (no PQL text to parse); same results as query()."""
        self._check_open()
        return [r.to_json() for r in run_query(self, index, Query(tuple(calls)), timeout=timeout)]

    def sql(self, text: str) -> Any:
        """Run SQL (docs/sql.md); returns the last statement's SqlResult (.schema, .rows,
        .batches(), .rows_affected). Use sql_all for every statement's result."""
        results = self.sql_all(text)
        if not results:
            from engine.sql.result import SqlResult

            return SqlResult.of_rows([], [])
        return results[-1]

    def sql_all(self, text: str | tuple[Any, ...], *, timeout: float | None = None,
                cancel: threading.Event | None = None) -> list[Any]:
        """One SqlResult per ';'-separated statement, run in order. `timeout` (seconds, for
        the whole text) and `cancel` stop a SELECT between shards with QueryCancelledError;
        a write statement, once started, finishes (it commits atomically)."""
        from engine.sql.execute import run_sql

        self._check_open()
        return run_sql(self, text, timeout=timeout, cancel=cancel)

    def checkpoint(self) -> None:
        for idx in self.indexes():
            idx.checkpoint()

    # --- holding writes, snapshots -------------------------------------------------------

    @contextlib.contextmanager
    def block_writes(self, reason: str, *, allow_current_thread: bool = False) -> Iterator[None]:
        """Refuse every write (WritesBlockedError, code IncorrectState) while the block is
        held; reads go on. A write that was already committing when the block began has
        finished by the time this returns (every index lock is taken once), so what the
        caller reads or snapshots next is final. With allow_current_thread, the calling
        thread keeps writing (an import applying its own changes)."""
        self._check_open()
        with self._ddl:
            if self._barrier is not None:
                raise WritesBlockedError(f"writes are already held off: {self._barrier[0]}")
            self._barrier = (reason, threading.get_ident() if allow_current_thread else None)
        try:
            with self._all_locks():
                pass
            yield
        finally:
            with self._ddl:
                self._barrier = None

    def check_writes_allowed(self) -> None:
        """Raise WritesBlockedError inside a block_writes() block (except for its owner)."""
        barrier = self._barrier
        if barrier is not None and barrier[1] != threading.get_ident():
            raise WritesBlockedError(f"writes are held off: {barrier[0]}")

    @contextlib.contextmanager
    def _all_locks(self) -> Iterator[list[Index]]:
        """The schema lock and every index's writer lock (in name order), so no commit,
        checkpoint or schema change runs while the body does."""
        with self._ddl, contextlib.ExitStack() as stack:
            indexes = self.indexes()
            for idx in indexes:
                stack.enter_context(idx._lock)
            yield indexes

    def read_view(self) -> dict[str, tuple[Index, IndexDef, Any]]:
        """A consistent cut across indexes: name -> (index, a copy of its definition, its
        committed state), all taken at one instant (no commit in between). The states are
        immutable; record and row keys they use are never reassigned, so reading keys
        through the live index stays correct however long the view is used."""
        self._check_open()
        with self._all_locks() as indexes:
            return {idx.name: (idx, IndexDef.from_dict(idx.definition.to_dict()), idx.snapshot())
                    for idx in indexes}

    def snapshot(self, dest: str) -> Any:
        """A consistent, copy-on-write copy of the whole data directory at `dest` (which
        must not exist; same file system): immutable files are hard-linked, write-ahead
        logs copied up to their last commit. Writers pause only while the links are made
        (see engine.snapshots). Returns a SnapshotInfo."""
        from engine import snapshots

        self._check_open()
        return snapshots.take(self, dest)

    def close(self, checkpoint: bool = True) -> None:
        """Close every index. checkpoint=False skips the final checkpoint (the directory is
        about to be replaced: a restore); the logs keep every acknowledged commit."""
        if self._closed:
            return
        errors = []
        for idx in self._indexes.values():
            try:
                idx.close(checkpoint=checkpoint)
            except Exception as exc:  # close the others anyway, then report
                errors.append(exc)
        self._closed = True
        self.fileio.close(self._lock_file)
        if self.cluster is not None:
            self.cluster.close()
        if errors:
            raise errors[0]


def is_index_name(name: str) -> bool:
    try:
        check_name(name, "index")
    except InvalidNameError:
        return False
    return True
