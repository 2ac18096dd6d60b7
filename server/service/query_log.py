"""Recent queries: the last queries this server ran, running ones included, with their
durations and outcome — what `GET /v2/queries` lists and the console's server panel shows
(FeatureBase serves the same idea as /queries and /query-history).

Kept in memory, a bounded ring for the whole process (HISTORY_SIZE records): a view for
watching a server, not an audit log — a restart empties it. Statements are cut to
STATEMENT_CHARS. Both faces record here, since query.sql and query.pql do; query.list_queries reads it.

A record starts `running` and is finished once: `ok`, `cancelled` (the caller went away
or stopped it), or `error` with the unified error code (a deadline passed is the error
`RequestTimeout`). A SQL SELECT's rows are produced while the answer is read, so its
record finishes when the rows have been read (query.SqlAnswer), not when planning ends.
"""
from __future__ import annotations

import collections
import dataclasses
import itertools
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Optional

HISTORY_SIZE = 512
STATEMENT_CHARS = 2000

RUNNING, OK, CANCELLED, ERROR = "running", "ok", "cancelled", "error"


@dataclass
class QueryRecord:
    """One query. `duration` (seconds) is None while it runs; `error_code` is set for
    `error` (the unified code: BadRequest, QueryExecutionError, RequestTimeout, ...)."""

    seq: int
    org_id: str
    database_id: str
    account_id: str
    language: str
    table: Optional[str]
    statement: str
    started_at: float
    started: float  # perf_counter at the start, for the duration
    status: str = RUNNING
    duration: Optional[float] = None
    error_code: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        """The record as the API shows it; a running one reports the time so far as
        `elapsed_ms`."""
        out: dict[str, Any] = {
            "id": str(self.seq), "database_id": self.database_id, "account_id": self.account_id,
            "language": self.language, "table": self.table, "statement": self.statement,
            "started_at": _rfc3339_ms(self.started_at), "status": self.status, "error_code": self.error_code,
            "duration_ms": None if self.duration is None else round(self.duration * 1000, 3),
        }
        if self.duration is None:
            out["elapsed_ms"] = round((time.perf_counter() - self.started) * 1000, 3)
        return out


class QueryLog:
    """The ring of recent queries; thread-safe (queries run on worker threads)."""

    def __init__(self, size: int = HISTORY_SIZE, *, clock: Callable[[], float] = time.time) -> None:
        self._records: collections.deque[QueryRecord] = collections.deque(maxlen=size)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._clock = clock

    def begin(self, org_id: str, account_id: str, database_id: str, language: str, statement: str,
              table: Optional[str] = None) -> QueryRecord:
        text = statement if len(statement) <= STATEMENT_CHARS else statement[:STATEMENT_CHARS - 1] + "…"
        with self._lock:
            record = QueryRecord(next(self._seq), org_id, database_id, account_id, language,
                                 table, text, self._clock(), time.perf_counter())
            self._records.append(record)
        return record

    def finish(self, record: QueryRecord, error: Optional[BaseException] = None, *,
               cancelled: bool = False) -> None:
        """Close a record (the first call wins): ok, cancelled, or error with `error`'s
        code."""
        with self._lock:
            if record.status != RUNNING:
                return
            record.duration = time.perf_counter() - record.started
            if cancelled:
                record.status = CANCELLED
            elif error is not None:
                record.status = ERROR
                record.error_code = str(getattr(error, "code", None) or "InternalServerError")
            else:
                record.status = OK

    def recent(self, org_id: str, *, database_id: Optional[str] = None, before: Optional[int] = None,
               limit: int) -> list[QueryRecord]:
        """Up to `limit` records of an org, newest first, with seq < before: copies, taken
        under the lock, so a record never shows half of its finishing."""
        with self._lock:
            out = []
            for record in reversed(self._records):
                if record.org_id != org_id or (before is not None and record.seq >= before):
                    continue
                if database_id is not None and record.database_id != database_id:
                    continue
                out.append(dataclasses.replace(record))
                if len(out) == limit:
                    break
            return out


def _rfc3339_ms(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
