"""ServiceContext: what every service call is handed — config, clock, metadata store, and the
engine data directories that are open.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator, Optional

import engine
from engine import FileIO, Holder
from server.service.config import ServiceConfig
from server.service.errors import IncorrectState, ServiceUnavailable
from server.service.query_log import QueryLog
from server.service.store import MetaStore

Clock = Callable[[], float]


class ServiceContext:
    """One running service over one data dir. Build it with bootstrap.open_service().

    Holds the data dir's lock for its lifetime: a second server on the same directory is
    refused instead of sharing meta.db and the engines' files behind each other's back.
    """

    def __init__(self, config: ServiceConfig, *, clock: Clock = time.time, fileio: Optional[FileIO] = None) -> None:
        self.config = config
        self.clock = clock
        # The file layer of every engine directory and restore point (tests inject faults).
        self.fileio: FileIO = fileio or FileIO()
        os.makedirs(config.databases_dir, exist_ok=True)
        self._lock_fd = os.open(os.path.join(config.data_dir, "server.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            raise ServiceUnavailable(f"data directory {config.data_dir} is in use by another server",
                                     name="DATA_DIR_IN_USE") from None
        try:
            self.store = MetaStore(config.meta_path, clock=clock, fsync=config.fsync)
        except BaseException:  # a damaged meta.db: refuse to serve, and free the dir
            os.close(self._lock_fd)
            raise
        self._engines: dict[str, Holder] = {}
        self._retired: set[str] = set()
        self._offline: dict[str, str] = {}      # database id -> why its directory is off limits
        self._engines_lock = threading.Lock()
        # Notified, with `version` bumped, after every database state change and every
        # finished background task (WatchDatabase and WatchTask wait on it; the counter
        # means a change between a read and a wait is never missed).
        self.changed = threading.Condition()
        self.version = 0
        # Verified access tokens: token -> (store generation, exp, Principal); see
        # tokens.verify_access_token.
        self.token_cache: dict[str, tuple[int, int, Any]] = {}
        # Limits the serving process enforces beyond config.limits (rate, concurrency), set by
        # server.runtime so that service properties report them too.
        self.server_limits: dict[str, Any] = {}
        # The recent queries of every org (GET /v2/queries, the console's server panel).
        self.queries = QueryLog(clock=clock)
        # Set once by bootstrap on the first start: the generated root credentials.
        self.bootstrap: Optional[Any] = None
        self._background: Optional[ThreadPoolExecutor] = None
        self._imports: Optional[ThreadPoolExecutor] = None
        # Cancel events of running tracked tasks (service.tasks.start_tracked), by task id.
        self.task_cancels: dict[str, threading.Event] = {}
        self._closed = False

    def background(self) -> ThreadPoolExecutor:
        """The pool background tasks run on (service.tasks): one thread, made on first use."""
        with self._engines_lock:
            if self._background is None:
                self._background = ThreadPoolExecutor(1, thread_name_prefix="roarbase-task")
            return self._background

    def imports(self) -> ThreadPoolExecutor:
        """The pool source imports and exports run on (service.imports): one thread of its
        own, so a long import never delays the background writes of background()."""
        with self._engines_lock:
            if self._imports is None:
                self._imports = ThreadPoolExecutor(1, thread_name_prefix="roarbase-import")
            return self._imports

    def now(self) -> float:
        """Unix seconds from the injected clock (tests move it)."""
        return float(self.clock())

    def engine_path(self, database_id: str) -> str:
        """A database's engine directory; database_id is a server-made canonical UUID."""
        return os.path.join(self.config.databases_dir, database_id)

    def engine(self, database_id: str) -> Holder:
        """The open engine of a database, opened on first use.

        Raises IncorrectState once the database was retired (it is being deleted): a query
        that passed its state check just before must not re-create the directory.
        """
        with self._engines_lock:
            if database_id in self._retired:
                raise IncorrectState("the database is being deleted", name="DATABASE_DELETING",
                                     data={"type": "database", "key": database_id})
            if database_id in self._offline:
                raise IncorrectState(f"the database is {self._offline[database_id]}", name="DATABASE_OFFLINE",
                                     data={"type": "database", "key": database_id})
            holder = self._engines.get(database_id)
            if holder is None:
                holder = self._open_engine(database_id)
                self._engines[database_id] = holder
            return holder

    def _open_engine(self, database_id: str) -> Holder:
        if self.config.ray_address is None:
            return engine.open(self.engine_path(database_id), fsync=self.config.fsync, fileio=self.fileio)
        # Records on the Ray cluster: this directory keeps the database's schema and keys,
        # <cluster_root>/<id> its shards (a directory or an s3:// bucket prefix); the worker
        # actors are the database's own.
        root = engine.cluster_root(self.config.cluster_root, database_id, s3_endpoint=self.config.ray_s3_endpoint)
        return engine.open_on_ray(self.engine_path(database_id), root,
                           address=self.config.ray_address, workers=self.config.ray_workers,
                           prefix=database_id[:8] + "-", fsync=self.config.fsync,
                           per_node=self.config.ray_workers_per_node, poll_seconds=self.config.ray_poll_seconds,
                           grace=self.config.ray_node_grace)

    def close_engine(self, database_id: str, *, retire: bool = False, checkpoint: bool = True) -> None:
        """Close a database's engine; `retire` also refuses to open it again (deletion);
        checkpoint=False skips the final checkpoint (the directory is about to be replaced)."""
        with self._engines_lock:
            holder = self._engines.pop(database_id, None)
            if retire:
                self._retired.add(database_id)
        if holder is not None:
            holder.close(checkpoint=checkpoint)

    @contextlib.contextmanager
    def offline(self, database_id: str, reason: str) -> Iterator[str]:
        """Close a database's engine (without a final checkpoint) and refuse to open it
        (IncorrectState) until the block ends, so the directory can be replaced (a
        restore). Yields the directory's path."""
        with self._engines_lock:
            if database_id in self._offline:
                raise IncorrectState(f"the database is {self._offline[database_id]}", name="DATABASE_OFFLINE",
                                     data={"type": "database", "key": database_id})
            self._offline[database_id] = reason
        try:
            try:
                self.close_engine(database_id, checkpoint=False)
            except engine.EngineError:
                pass     # a failed close (e.g. a storage error) leaves nothing to flush: the logs hold it all
            yield self.engine_path(database_id)
        finally:
            with self._engines_lock:
                self._offline.pop(database_id, None)

    def open_engines(self) -> list[str]:
        with self._engines_lock:
            return sorted(self._engines)

    def open_clusters(self) -> dict[str, Any]:
        """database id → its cluster (engine.Cluster), for the open databases on Ray."""
        with self._engines_lock:
            holders = dict(self._engines)
        return {db: h.cluster for db, h in sorted(holders.items()) if getattr(h, "cluster", None) is not None}

    def notify(self) -> None:
        with self.changed:
            self.version += 1
            self.changed.notify_all()

    def close(self) -> None:
        """Close every engine, the store and release the data dir."""
        if self._closed:
            return
        self._closed = True
        for event in list(self.task_cancels.values()):
            event.set()                            # a running import stops at its next batch
        if self._imports is not None:      # queued imports stay RUNNING: recover() fails them
            self._imports.shutdown(wait=True, cancel_futures=True)
        if self._background is not None:
            self._background.shutdown(wait=True)   # a running task finishes its commit
        with self._engines_lock:
            holders, self._engines = list(self._engines.values()), {}
        errors = []
        for holder in holders:
            try:
                holder.close()
            except Exception as exc:  # close the others, the store and the lock anyway
                errors.append(exc)
        self.store.close()
        os.close(self._lock_fd)
        if errors:
            raise errors[0]

    def __enter__(self) -> "ServiceContext":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
