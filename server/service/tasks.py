"""Background tasks of a database: writes sent with wait_for_completion=false, and source
imports and exports (tracked tasks: progress figures in `details`, cancel). Each task is a row of meta.db (status RUNNING -> COMPLETED | FAILED, progress,
the error envelope when it failed), read back through CM's
`GET /v1/tasks/{name}/recents/` shape: {task_id, name, start_time, status, progress}.

Tasks run on the context's background pool, one at a time per server (they are writes to
indexes that serialise anyway). A task that a stopped server left RUNNING is marked
FAILED at the next start ("interrupted"): its payload lived in memory only, so it is never
silently half-reported as done.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional

from engine import EngineError
from server import policy
from server.service.principal import Principal
from server.error_table import ServerError
from server.service.errors import envelope
from server.service import databases
from server.service.common import dumps, loads, new_id, page_offset
from server.service.context import ServiceContext
from server.service.errors import InvalidParameter, ResourceNotFound, Unauthorized

logger = logging.getLogger("roarbase.tasks")

RUNNING, COMPLETED, FAILED = "RUNNING", "COMPLETED", "FAILED"
LIST_TASKS = "TaskService.ListTasks"
GET_TASK = "TaskService.GetTask"
WATCH_TASK = "TaskService.WatchTask"
MAX_AMT = 64


@dataclass(frozen=True)
class Task:
    id: str
    database_id: str
    name: str
    status: str
    progress: str
    error: Optional[dict[str, Any]]
    start_time: float
    end_time: Optional[float]
    details: Optional[dict[str, Any]] = None
    cancel_requested: bool = False

    def to_dict(self) -> dict[str, Any]:
        """CM's background-task shape, plus end_time, the error envelope when FAILED and
        a tracked task's figures (`details`)."""
        out: dict[str, Any] = {"task_id": self.id, "name": self.name, "start_time": int(self.start_time),
                               "status": self.status, "progress": self.progress}
        if self.end_time is not None:
            out["end_time"] = int(self.end_time)
        if self.error is not None:
            out["error"] = self.error
        if self.details is not None:
            out["details"] = self.details
        if self.cancel_requested:
            out["cancel_requested"] = True
        return out


def _task(row: Any) -> Task:
    return Task(row["id"], row["database_id"], row["name"], row["status"], row["progress"],
                loads(row["error"]) if row["error"] else None, row["start_time"], row["end_time"],
                loads(row["details"]) if row["details"] else None, bool(row["cancel_requested"]))


def start(ctx: ServiceContext, principal: Principal, database_id: str, name: str, job: Callable[[], Any]) -> Task:
    """Record a RUNNING task and run `job` in the background; its outcome is recorded."""
    task_id, now = new_id(), ctx.now()
    ctx.store.execute("INSERT INTO tasks (id, org_id, database_id, name, status, created_by, start_time)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (task_id, principal.org_id, database_id, name, RUNNING, principal.account_id, now))

    def run() -> None:
        try:
            job()
        except Exception as exc:  # every failure is recorded on the task, none is lost
            if isinstance(exc, (ServerError, EngineError)):
                logger.info("task %s (%s) failed: %s", task_id, name, exc)
            else:
                logger.exception("task %s (%s) failed", task_id, name)
            finish(ctx, task_id, FAILED, error=envelope(exc))
        else:
            finish(ctx, task_id, COMPLETED, progress="done")

    ctx.background().submit(run)
    return get(ctx, task_id)


def finish(ctx: ServiceContext, task_id: str, status: str, *, progress: str = "",
           error: Optional[dict[str, Any]] = None, details: Optional[dict[str, Any]] = None) -> None:
    ctx.store.execute("UPDATE tasks SET status = ?, progress = ?, error = ?, end_time = ?,"
                      " details = COALESCE(?, details) WHERE id = ?",
                      (status, progress, dumps(error) if error is not None else None, ctx.now(),
                       dumps(details) if details is not None else None, task_id))
    ctx.notify()   # wakes watchers (gRPC WatchTask), as database state changes do


class Tracker:
    """What a tracked task's job is handed: its id, progress reports and its cancel flag."""

    def __init__(self, ctx: ServiceContext, task_id: str, cancel: threading.Event) -> None:
        self.ctx, self.task_id, self.cancel = ctx, task_id, cancel

    def report(self, progress: str, details: dict[str, Any]) -> None:
        """Record the task's progress text and figures (visible while it runs)."""
        self.ctx.store.execute("UPDATE tasks SET progress = ?, details = ? WHERE id = ?",
                               (progress, dumps(details), self.task_id))
        self.ctx.notify()   # a watcher (gRPC WatchTask) sees the progress

    @property
    def cancelled(self) -> bool:
        return self.cancel.is_set()


def start_tracked(ctx: ServiceContext, principal: Principal, database_id: str, name: str,
                  job: Callable[[Tracker], tuple[str, dict[str, Any]]], *, source_id: Optional[str] = None,
                  details: Optional[dict[str, Any]] = None) -> Task:
    """Record a RUNNING task and run `job(tracker)` on the import pool. The job returns
    (final progress text, final details) or raises; a ServerError it raises may carry the
    figures reached so far as `exc.details_so_far`. cancel() sets tracker.cancel."""
    task_id, now = new_id(), ctx.now()
    cancel = threading.Event()
    ctx.store.execute("INSERT INTO tasks (id, org_id, database_id, name, status, created_by, start_time, source_id,"
                      " details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (task_id, principal.org_id, database_id, name, RUNNING, principal.account_id, now, source_id,
                       dumps(details) if details is not None else None))
    ctx.task_cancels[task_id] = cancel

    def run() -> None:
        try:
            progress, final = job(Tracker(ctx, task_id, cancel))
        except Exception as exc:  # every failure is recorded on the task, none is lost
            if isinstance(exc, (ServerError, EngineError)):
                logger.info("task %s (%s) failed: %s", task_id, name, exc)
            else:
                logger.exception("task %s (%s) failed", task_id, name)
            finish(ctx, task_id, FAILED, progress=getattr(exc, "progress_so_far", "failed"), error=envelope(exc),
                   details=getattr(exc, "details_so_far", None))
        else:
            finish(ctx, task_id, COMPLETED, progress=progress, details=final)
        finally:
            ctx.task_cancels.pop(task_id, None)

    ctx.imports().submit(run)
    return get(ctx, task_id)


def cancel(ctx: ServiceContext, task_id: str) -> bool:
    """Ask a running tracked task to stop (it stops between batches). Returns whether it
    was running."""
    cur = ctx.store.execute("UPDATE tasks SET cancel_requested = 1 WHERE id = ? AND status = ?", (task_id, RUNNING))
    event = ctx.task_cancels.get(task_id)
    if event is not None:
        event.set()
    return bool(cur.rowcount)


def get(ctx: ServiceContext, task_id: str) -> Task:
    return _task(ctx.store.one("SELECT * FROM tasks WHERE id = ?", (task_id,)))


def get_task(ctx: ServiceContext, principal: Optional[Principal], task_id: Any, *, watch: bool = False) -> Task:
    """A task of the caller's org (and, for a database-scoped token, its database).
    `watch`: the read is one step of a WatchTask (its own policy row). Raises
    ResourceNotFound otherwise."""
    if watch:
        policy.check(principal, WATCH_TASK)
    else:
        policy.check(principal, GET_TASK)
    assert principal is not None
    row = ctx.store.one("SELECT * FROM tasks WHERE id = ? AND org_id = ?",
                        (task_id if isinstance(task_id, str) else "", principal.org_id))
    if row is None or (principal.database_id is not None and row["database_id"] != principal.database_id):
        raise ResourceNotFound("task not found", name="TASK_NOT_FOUND", data={"type": "task", "key": str(task_id)[:64]})
    return _task(row)


@policy.checked(LIST_TASKS)
def recents(ctx: ServiceContext, principal: Principal, name: str, *, page: int = 1, amt: int = 50,
            database: Optional[str] = None) -> tuple[list[Task], bool]:
    """The caller's database's tasks of one name, newest first: (page of tasks, has_next)."""
    ref = principal.database_id or database
    if ref is None:
        raise Unauthorized("this token selects no database: log in with db_id or db_name",
                           name="NO_DATABASE_SELECTED")
    database_id = databases.load(ctx, principal, ref).id
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise InvalidParameter("page must be a positive integer", name="WRONG_DATA_TYPE", data={"key": "page"})
    if isinstance(amt, bool) or not isinstance(amt, int) or not 1 <= amt <= MAX_AMT:
        raise InvalidParameter(f"amt must be an integer from 1 to {MAX_AMT}", name="WRONG_DATA_TYPE",
                               data={"key": "amt"})
    offset = page_offset(page, amt)
    if offset is None:
        return [], False
    rows = ctx.store.all("SELECT * FROM tasks WHERE database_id = ? AND name = ? ORDER BY start_time DESC, id"
                         " LIMIT ? OFFSET ?", (database_id, name, amt + 1, offset))
    return [_task(r) for r in rows[:amt]], len(rows) > amt


def recover(ctx: ServiceContext) -> int:
    """At start: tasks a stopped server left RUNNING are FAILED (their work lived in its
    memory). Returns how many."""
    cur = ctx.store.execute("UPDATE tasks SET status = ?, progress = ?, end_time = ? WHERE status = ?",
                            (FAILED, "interrupted by a server restart", ctx.now(), RUNNING))
    return int(cur.rowcount)
