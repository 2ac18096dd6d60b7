"""The metadata store: SQLite (stdlib sqlite3) in `<data_dir>/meta.db`, schema versioned.

One connection shared by the service's threads behind a re-entrant lock: metadata calls are
short, and serialising them keeps every read-check-write (a name taken? a token already
rotated?) atomic without retry loops. WAL journal with synchronous=FULL: a committed change
survives power loss, like the engine's acknowledged writes (config.fsync=False: NORMAL,
which survives a process kill, as the engine's fsync=False does).
"""
from __future__ import annotations

import errno
import sqlite3
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, NoReturn, Optional, Sequence

from server.service.errors import DataCorrupted, IncorrectState, InternalServerError, StorageFull
from server.service.migrations import MIGRATIONS, Migration


_SQLITE_MAGIC = b"SQLite format 3\x00"
_SQLITE_FULL, _SQLITE_CORRUPT, _SQLITE_NOTADB = 13, 11, 26
_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def header_problem(path: str) -> Optional[str]:
    """What is wrong with meta.db's 100-byte header, or None (also for a missing or empty
    file: a new store). Checks what SQLite's own integrity_check does not: the magic, a
    power-of-two page size, and the read/write format versions (a byte other than 1 or 2
    there makes SQLite open the file read-only, or not at all)."""
    try:
        with open(path, "rb") as f:
            head = f.read(100)
    except FileNotFoundError:
        return None
    if not head:
        return None
    if len(head) < 100 or not head.startswith(_SQLITE_MAGIC):
        return "not an SQLite database (bad header)"
    page = int.from_bytes(head[16:18], "big")
    if page != 1 and (page < 512 or page > 32768 or page & (page - 1)):
        return f"bad page size {page} in the header"
    if head[18] not in (1, 2) or head[19] not in (1, 2):
        return f"bad file format versions {head[18]}/{head[19]} in the header (SQLite writes 1 or 2)"
    return None


def _raise_typed(exc: BaseException, path: str) -> NoReturn:
    """Raise the typed error for a failure of the store's file: a full disk is StorageFull
    (HTTP 507, retry later), a corrupt file DataCorrupted; anything else as it was."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary == _SQLITE_FULL or (isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS):
        raise StorageFull("the disk holding the metadata store is full; nothing was changed",
                          name="STORAGE_FULL") from exc
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        raise DataCorrupted(f"{path} is corrupted: {exc}", name="META_CORRUPTED", data={"file": "meta.db"}) from exc
    raise exc


class MetaStore:
    """An open meta.db. Use `transaction()` for anything that writes more than one row.

    Opening checks the file (header, then `PRAGMA quick_check`) and raises DataCorrupted
    rather than serving from a damaged store; at run time a full disk raises StorageFull
    and a corruption found by SQLite DataCorrupted."""

    def __init__(self, path: str, *, clock: Callable[[], float] = time.time, fsync: bool = True) -> None:
        self.path = path
        self.clock = clock
        problem = header_problem(path)
        if problem is not None:
            raise DataCorrupted(f"{path}: {problem}", name="META_CORRUPTED", data={"file": "meta.db"})
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30.0)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._depth = 0
        # Bumped by every committed write: caches of what meta.db says (verified tokens)
        # stay valid only while it is unchanged.
        self.generation = 0
        synchronous = "FULL" if fsync else "NORMAL"  # NORMAL in WAL mode: safe against a process kill
        try:
            for pragma in ("PRAGMA foreign_keys = ON", "PRAGMA journal_mode = WAL",
                           f"PRAGMA synchronous = {synchronous}"):
                self._conn.execute(pragma)
            problems = [str(r[0]) for r in self._conn.execute("PRAGMA quick_check(8)") if r[0] != "ok"]
        except sqlite3.Error as exc:
            self._conn.close()
            _raise_typed(exc, path)
        if problems:
            self._conn.close()
            raise DataCorrupted(f"{path} fails its integrity check: {problems[0]}", name="META_CORRUPTED",
                                data={"file": "meta.db", "problems": problems})

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
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                _raise_typed(exc, self.path)
            self._depth = 1
            try:
                yield self
                self._conn.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL)
                    self._conn.execute("ROLLBACK")
                if isinstance(exc, (sqlite3.Error, OSError)):
                    _raise_typed(exc, self.path)
                raise
            finally:
                self._depth = 0
                self.generation += 1

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            try:
                return self._conn.execute(sql, params)
            except (sqlite3.Error, OSError) as exc:
                _raise_typed(exc, self.path)
            finally:
                if not sql.lstrip()[:6].upper() == "SELECT":
                    self.generation += 1

    def one(self, sql: str, params: Sequence[Any] = ()) -> Optional[sqlite3.Row]:
        with self._lock:
            try:
                row: Optional[sqlite3.Row] = self._conn.execute(sql, params).fetchone()
            except (sqlite3.Error, OSError) as exc:
                _raise_typed(exc, self.path)
            return row

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return list(self._conn.execute(sql, params).fetchall())
            except (sqlite3.Error, OSError) as exc:
                _raise_typed(exc, self.path)

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
