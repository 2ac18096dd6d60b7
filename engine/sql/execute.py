"""Run SQL text: parse, then plan and execute each statement in order against the holder."""
from __future__ import annotations

import itertools
import threading
import time
from typing import Any, Callable, Iterator, Optional

from engine.errors import NotSupportedError
from engine.sql import ast, ddl, dml, plan_cache, views
from engine.sql.bind import CLOCK_READ
from engine.sql.context import Context
from engine.sql.parser import parse
from engine.sql.plan import describe_row, explain_lines
from engine.sql.planner import Planner
from engine.sql.result import BATCH_ROWS, SqlResult
from engine.sql.run import rows


def run_sql(holder: Any, text: str | tuple[ast.Statement, ...], *, timeout: Optional[float] = None,
            cancel: Optional[threading.Event] = None) -> list[SqlResult]:
    """One SqlResult per ';'-separated statement (of the text, or as engine.parse_sql
    parsed it); `timeout` covers them all."""
    deadline = None if timeout is None else time.monotonic() + timeout
    statements = text if isinstance(text, tuple) else parse(text)
    return [execute(holder, stmt, deadline=deadline, cancel=cancel) for stmt in statements]


def execute(holder: Any, stmt: ast.Statement, *, deadline: Optional[float] = None,
            cancel: Optional[threading.Event] = None) -> SqlResult:
    if isinstance(stmt, ast.Select):
        return select(holder, stmt, deadline=deadline, cancel=cancel)
    if isinstance(stmt, ast.Insert):
        return dml.insert(holder, stmt)
    if isinstance(stmt, ast.BulkInsert):
        return dml.bulk_insert(holder, stmt)
    if isinstance(stmt, ast.Delete):
        return dml.delete(holder, stmt, Context(holder, deadline, cancel))
    if isinstance(stmt, ast.CreateTable):
        return ddl.create_table(holder, stmt)
    if isinstance(stmt, ast.AlterAdd):
        return ddl.alter_add(holder, stmt)
    if isinstance(stmt, ast.AlterDrop):
        return ddl.alter_drop(holder, stmt)
    if isinstance(stmt, ast.DropTable):
        return ddl.drop_table(holder, stmt)
    if isinstance(stmt, ast.CreateView):
        Planner(Context(holder)).select(stmt.select)          # the view must plan now
        views.create(holder, stmt.name, stmt.select, if_not_exists=stmt.if_not_exists, replace=stmt.replace)
        return SqlResult.of_rows([], [], rows_affected=0)
    if isinstance(stmt, ast.DropView):
        views.drop(holder, stmt.name, if_exists=stmt.if_exists)
        return SqlResult.of_rows([], [], rows_affected=0)
    if isinstance(stmt, ast.ShowTables):
        return ddl.show_tables(holder)
    if isinstance(stmt, ast.ShowColumns):
        return ddl.show_columns(holder, stmt)
    if isinstance(stmt, ast.ShowCreate):
        return ddl.show_create(holder, stmt)
    if isinstance(stmt, ast.ShowViews):
        return ddl.show_views(holder)
    if isinstance(stmt, ast.ShowDatabases):
        return ddl.show_databases(holder)
    if isinstance(stmt, ast.Explain):
        return explain(holder, stmt.statement)
    raise NotSupportedError(f"{type(stmt).__name__} is not supported")


def select(holder: Any, stmt: ast.Select, *, deadline: Optional[float] = None,
           cancel: Optional[threading.Event] = None) -> SqlResult:
    """Plan (or reuse the plan of the same statement over the same data), then run: the
    first batch now (so an error in it is raised here), the rest as the result is read."""
    kept = plan_cache.take(holder, stmt)
    if kept is not None:
        kept.ctx.rearm(deadline, cancel)
        return _run(kept.node, kept.ctx, kept.schema, lambda: plan_cache.give(holder, kept))
    ctx = Context(holder, deadline, cancel)
    views_now = views.views_version(holder)          # before planning reads any view
    token = CLOCK_READ.set(False)
    try:
        node = Planner(ctx).select(stmt)
        reusable = not CLOCK_READ.get()
    finally:
        CLOCK_READ.reset(token)
    schema = [(c.name, _type_name(c.type)) for c in node.cols]
    if not reusable:
        return _run(node, ctx, schema, lambda: None)
    plan = plan_cache.CachedPlan(stmt, ctx, node, schema, views_now)
    return _run(node, ctx, schema, lambda: plan_cache.give(holder, plan))


def _run(node: Any, ctx: Context, schema: list[tuple[str, str]], done: Callable[[], None]) -> SqlResult:
    batches = rows(node, ctx)
    first = next(batches, None)
    if first is None or len(first) < BATCH_ROWS:
        # a short first batch is usually the only one (an aggregate, a LIMIT): finish now,
        # so the statement is done when it returns
        second = next(batches, None)
        if second is None:
            done()
            return SqlResult.of_rows(schema, first or [])
        batches = itertools.chain([second], batches)

    def produce() -> Iterator[list[tuple[Any, ...]]]:
        if first is not None:
            yield first
            yield from batches
        done()                      # read to the end: the plan may run again

    return SqlResult(schema, produce)


def _type_name(t: Any) -> str:
    return "string" if t.kind == "void" else str(t)


def explain(holder: Any, stmt: ast.Statement) -> SqlResult:
    """The plan a statement runs, one line per operator (nothing is executed)."""
    ctx = Context(holder)
    if isinstance(stmt, ast.Select):
        lines = explain_lines(Planner(ctx).select(stmt))
    elif isinstance(stmt, ast.Delete):
        table, node = dml.delete_plan(holder, stmt, ctx)
        lines = [f"Delete from {table.name}", f"  records {describe_row(node, table)}"]
    else:
        lines = [type(stmt).__name__]
    text = "\n".join(lines)
    return SqlResult.of_rows([("plan", "string")], [(line,) for line in lines], plan=text)
