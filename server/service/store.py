"""The metadata store: SQLite (stdlib sqlite3) in `<data_dir>/meta.db`, schema versioned.

One connection shared by the service's threads behind a re-entrant lock: metadata calls are
short, and serialising them keeps every read-check-write (a name taken? a token already
rotated?) atomic without retry loops. WAL journal with synchronous=FULL: a committed change
survives power loss, like the engine's acknowledged writes (config.fsync=False: NORMAL,
which survives a process kill, as the engine's fsync=False does).
"""
from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, Sequence

from server.service.errors import IncorrectState, InternalServerError
from server.service.migrations import MIGRATIONS, Migration


class MetaStore:
    """An open meta.db. Use `transaction()` for anything that writes more than one row."""

    def __init__(self, path: str, *, clock: Callable[[], float] = time.time, fsync: bool = True) -> None:
        self.path = path
        self.clock = clock
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30.0)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._depth = 0
        # Bumped by every committed write: caches of what meta.db says (verified tokens)
        # stay valid only while it is unchanged.
        self.generation = 0
        synchronous = "FULL" if fsync else "NORMAL"  # NORMAL in WAL mode: safe against a process kill
        for pragma in ("PRAGMA foreign_keys = ON", "PRAGMA journal_mode = WAL", f"PRAGMA synchronous = {synchronous}"):
            self._conn.execute(pragma)

    @contextmanager
    def transaction(self) -> Iterator["MetaStore"]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception. Re-entrant: an inner
        block joins the outer transaction."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0
                self.generation += 1

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            try:
                return self._conn.execute(sql, params)
            finally:
                if not sql.lstrip()[:6].upper() == "SELECT":
                    self.generation += 1

    def one(self, sql: str, params: Sequence[Any] = ()) -> Optional[sqlite3.Row]:
        with self._lock:
            row: Optional[sqlite3.Row] = self._conn.execute(sql, params).fetchone()
            return row

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._conn.execute(sql, params).fetchall())

    def version(self) -> int:
        """The schema version (0 for an empty file)."""
        with self._lock:
            exists = self._conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
            if not exists:
                return 0
            row = self._conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            return int(row[0] or 0)

    def migrate(self, migrations: Sequence[Migration] = MIGRATIONS, *, target: Optional[int] = None) -> int:
        """Apply, in order, every migration newer than the file; returns the new version.

        Each migration and its schema_version row commit together, so a failure leaves the
        file at the previous version. A file newer than this server is refused, never
        touched. `target` stops early (tests build every older version this way).
        """
        versions = [m.version for m in migrations]
        if versions != list(range(1, len(migrations) + 1)):
            raise InternalServerError(f"migrations must be numbered 1..n in order, got {versions}")
        with self._lock:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)")
            current = self.version()
            if current > len(migrations):
                raise IncorrectState(
                    f"{self.path} has schema version {current}, newer than this server's {len(migrations)}",
                    name="SCHEMA_TOO_NEW")
            last = len(migrations) if target is None else target
            for m in migrations[current:last]:
                with self.transaction():
                    m.apply(self._conn)
                    self._conn.execute("INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                                       (m.version, m.name, self.clock()))
            return self.version()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
