"""Queries: SQL text or PQL ({statement, table}) against a database, through its engine.

A query operation is a read for the policy table; the statement is classified after
parsing and a writing one (SQL INSERT/REPLACE/BULK INSERT/DELETE/CREATE/ALTER/DROP; PQL
Set/SetBit/Clear/ClearRow/Store/Delete, at any depth) needs a write role — checked before
anything runs, so a refused write changes nothing. Only RUNNING databases answer (BACKUP
answers reads); otherwise IncorrectState.

BULK INSERT ... INPUT 'FILE' reads a file on the server: refused unless
config.sql_file_dir is set and the path is absolute and inside it.

Every query that reaches a database is recorded in ctx.queries (server.service.query_log)
from start to finish; list_queries reads those records back for the org.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

import engine
from engine import SqlResult
from server import error_text, policy, telemetry
from server.service.principal import Principal
from server.service import databases
from server.service.common import Page, page_limit
from server.service.context import ServiceContext
from server.service.errors import Forbidden, InvalidParameter, MissingParameter, PayloadTooLarge, from_engine
from server.service.query_log import QueryLog, QueryRecord

SQL_METHOD, PQL_METHOD, LIST_METHOD = "QueryService.Sql", "QueryService.Pql", "QueryService.ListQueries"


@dataclass
class SqlAnswer:
    """One SqlResult per ';'-separated statement. Rows are produced as batches are read:
    iterate `batches()` (engine errors surface as service errors there too); the query's
    record in the recent-queries log is finished once they have been read."""

    results: list[SqlResult]
    writes: bool
    execution_time: float
    warnings: list[str] = field(default_factory=list)
    log: Optional[QueryLog] = field(default=None, repr=False)
    record: Optional[QueryRecord] = field(default=None, repr=False)
    cancel: Optional[threading.Event] = field(default=None, repr=False)

    def _done(self, error: Optional[BaseException] = None, *, cancelled: bool = False) -> None:
        if self.log is not None and self.record is not None:
            self.log.finish(self.record, error, cancelled=cancelled or _cancelled(self.cancel))

    @property
    def last(self) -> SqlResult:
        return self.results[-1] if self.results else SqlResult.of_rows([], [])

    @property
    def rows_affected(self) -> Optional[int]:
        counts = [r.rows_affected for r in self.results if r.rows_affected is not None]
        return sum(counts) if counts else None

    def batches(self) -> Iterator[list[tuple[Any, ...]]]:
        """The last statement's rows, in batches (the streaming RPC's messages)."""
        try:
            yield from self.last.batches()
        except engine.EngineError as exc:
            self._done(exc)
            raise from_engine(exc) from exc
        except GeneratorExit:  # the reader stopped early (a client gone)
            self._done(cancelled=True)
            raise
        self._done()

    def to_dict(self) -> dict[str, Any]:
        """FB's /sql response for the last statement, with execution-time (microseconds)."""
        try:
            out = self.last.to_dict()
        except engine.EngineError as exc:
            self._done(exc)
            raise from_engine(exc) from exc
        self._done()
        if self.rows_affected is not None:
            out["rows-affected"] = self.rows_affected
        warnings = [*self.warnings, *out.get("warnings", [])]
        if warnings:
            out["warnings"] = warnings
        out["execution-time"] = int(self.execution_time * 1e6)
        return out


@dataclass
class PqlAnswer:
    """One typed result per top-level call (engine.Result); to_dict is FB's JSON answer."""

    results: list[engine.Result]
    writes: bool
    execution_time: float

    def to_dict(self) -> dict[str, Any]:
        return {"results": [r.to_json() for r in self.results]}


def _parse_sql(text: str) -> tuple[Any, ...]:
    try:
        return engine.parse_sql(text)
    except engine.EngineError as exc:
        error_text.improve(exc, text)
        raise from_engine(exc) from exc


def _parse_pql(text: str) -> engine.PqlQuery:
    try:
        return engine.parse_pql(text)
    except engine.EngineError as exc:
        error_text.improve(exc, text)
        raise from_engine(exc) from exc


def sql_writes(text: str) -> bool:
    """Whether SQL text writes (any of its statements). Raises BadRequest if it does not
    parse."""
    return engine.sql_writes(_parse_sql(text))


def pql_writes(text: str) -> bool:
    """Whether a PQL request writes (a write call anywhere, nested ones included). Raises
    BadRequest if it does not parse."""
    return engine.pql_writes(_parse_pql(text))


def _check_text(ctx: ServiceContext, text: Any, what: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise MissingParameter(f"{what} is required", data={"key": what})
    limit = ctx.config.limits.max_query_bytes
    if len(text.encode("utf-8", "surrogatepass")) > limit:
        raise PayloadTooLarge(f"the {what} is longer than {limit} bytes", name="QUERY_TOO_LARGE",
                              data={"key": what, "limit": limit})
    return text


def _check_file_inputs(ctx: ServiceContext, statements: tuple[Any, ...]) -> None:
    allowed = ctx.config.sql_file_dir
    for source in engine.sql_file_inputs(statements):
        if "\x00" in source:
            raise InvalidParameter("a file path cannot contain a NUL byte", name="INVALID_PATH",
                                   data={"key": "source"})
        root = os.path.realpath(allowed) if allowed else None
        path = os.path.realpath(source) if os.path.isabs(source) else None
        if root is None or path is None or os.path.commonpath([root, path]) != root:
            raise Forbidden("BULK INSERT from a server file is allowed only for absolute paths inside the"
                            " configured sql_file_dir; send the data inline (x'...') instead",
                            name="FILE_INPUT_REFUSED")


def _open(ctx: ServiceContext, principal: Principal, db: databases.Database, method: str, writes: bool
          ) -> engine.Holder:
    if writes:
        policy.check(principal, method, writes=True)
    databases.check_queryable(db, writes=writes)
    try:
        return databases.engine_for(ctx, db)
    except engine.EngineError as exc:
        raise from_engine(exc) from exc


def _timeout(ctx: ServiceContext, timeout: Optional[float]) -> float:
    """The configured query deadline, shortened to the caller's own (a gRPC deadline)."""
    limit = ctx.config.limits.query_timeout_seconds
    return limit if timeout is None else max(0.0, min(limit, timeout))


@policy.checked(SQL_METHOD)
def sql(ctx: ServiceContext, principal: Principal, database_id: str, text: Any, *,
        timeout: Optional[float] = None, cancel: Optional[threading.Event] = None) -> SqlAnswer:
    """Run SQL text (one or more ';'-separated statements) against a database, with the
    configured query deadline (or the caller's `timeout` when shorter); `cancel` stops a
    SELECT between shards (the client went away). Rows stream lazily under the same deadline.

    Raises:
        MissingAuthenticationToken / Forbidden: policy (a writing statement needs R M B).
        MissingParameter: empty text. PayloadTooLarge: longer than limits.max_query_bytes.
        BadRequest: syntax. ResourceNotFound: the database (or a table).
        IncorrectState: the database is not RUNNING (BACKUP: reads only).
        QueryExecutionError and the other engine errors, by their unified code.
    """
    text = _check_text(ctx, text, "sql")
    db = databases.load(ctx, principal, database_id)
    record = ctx.queries.begin(principal.org_id, principal.account_id, db.id, "sql", text)
    try:
        statements = _parse_sql(text)
        writes = engine.sql_writes(statements)
        holder = _open(ctx, principal, db, SQL_METHOD, writes)
        _check_file_inputs(ctx, statements)
        started = time.perf_counter()
        try:
            results = holder.sql_all(statements, timeout=_timeout(ctx, timeout), cancel=cancel)
        except engine.EngineError as exc:
            error_text.improve(exc, text, holder)
            raise from_engine(exc) from exc
    except Exception as exc:
        ctx.queries.finish(record, exc, cancelled=_cancelled(cancel))
        raise
    answer = SqlAnswer(results, writes, time.perf_counter() - started, log=ctx.queries, record=record, cancel=cancel)
    telemetry.query_done("sql", writes, answer.execution_time, text, db.id, threshold=ctx.config.slow_query_seconds,
                         rows=answer.rows_affected)
    if not answer.last.pending:
        answer._done()
    return answer


@policy.checked(PQL_METHOD)
def pql(ctx: ServiceContext, principal: Principal, database_id: str, *, table: Any,
        statement: Any, timeout: Optional[float] = None, cancel: Optional[threading.Event] = None) -> PqlAnswer:
    """Run a PQL request ({statement, table}) against a table of a database, with the
    configured query deadline (or the caller's `timeout` when shorter; `cancel` as for
    `sql`). Raises as `sql` does; an unknown table is ResourceNotFound, a deadline passed
    RequestTimeout."""
    text = _check_text(ctx, statement, "statement")
    if not isinstance(table, str) or not table:
        raise MissingParameter("table is required", data={"key": "table"})
    db = databases.load(ctx, principal, database_id)
    record = ctx.queries.begin(principal.org_id, principal.account_id, db.id, "pql", text, table)
    try:
        parsed = _parse_pql(text)
        writes = engine.pql_writes(parsed)
        holder = _open(ctx, principal, db, PQL_METHOD, writes)
        started = time.perf_counter()
        try:
            results = holder.pql(table, parsed, timeout=_timeout(ctx, timeout), cancel=cancel)
        except engine.EngineError as exc:
            error_text.improve(exc, text, holder)
            raise from_engine(exc) from exc
    except Exception as exc:
        ctx.queries.finish(record, exc, cancelled=_cancelled(cancel))
        raise
    ctx.queries.finish(record)
    answer = PqlAnswer(results, writes, time.perf_counter() - started)
    telemetry.query_done("pql", writes, answer.execution_time, text, db.id, threshold=ctx.config.slow_query_seconds)
    return answer


def _cancelled(cancel: Optional[threading.Event]) -> bool:
    """Whether the caller stopped the query (went away, or its own deadline passed)."""
    return cancel is not None and cancel.is_set()


@policy.checked(LIST_METHOD)
def list_queries(ctx: ServiceContext, principal: Principal, *, database_id: Optional[str] = None,
                 limit: Optional[int] = None, next_token: Optional[str] = None) -> Page[QueryRecord]:
    """The org's recent queries (server.service.query_log), running ones included, newest
    first, one page at a time. `database_id` keeps one database's; a token scoped to a
    database sees that database's only.

    Raises:
        MissingAuthenticationToken / Forbidden: policy (root, manager, backend).
        InvalidParameter: a malformed page token. ResourceNotFound: the database (another
        org's id alike).
    """
    db_id = databases.load(ctx, principal, database_id).id if database_id else principal.database_id
    before = None
    if next_token:
        if not (next_token.isascii() and next_token.isdigit() and len(next_token) <= 19):
            raise InvalidParameter("invalid page token", name="INVALID_PAGE_TOKEN", data={"key": "next"})
        before = int(next_token)
    n = page_limit(ctx, limit)
    records = ctx.queries.recent(principal.org_id, database_id=db_id, before=before, limit=n + 1)
    if len(records) <= n:
        return Page(records)
    return Page(records[:n], str(records[n - 1].seq))
