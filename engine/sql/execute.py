"""Run SQL text: parse, then execute each statement in order against the holder."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Optional

from engine.errors import NotSupportedError
from engine.sql import ast, ddl, dml
from engine.sql.parser import parse
from engine.sql.result import SqlResult
from engine.sql.select import run_select
from engine.sql.where import Where


def run_sql(holder: Any, text: str, *, timeout: Optional[float] = None,
            cancel: Optional[threading.Event] = None) -> list[SqlResult]:
    """One SqlResult per ';'-separated statement; `timeout` covers the whole text."""
    deadline = None if timeout is None else time.monotonic() + timeout
    return [execute(holder, stmt, deadline=deadline, cancel=cancel) for stmt in parse(text)]


def execute(holder: Any, stmt: ast.Statement, *, deadline: Optional[float] = None,
            cancel: Optional[threading.Event] = None) -> SqlResult:
    if isinstance(stmt, ast.Select):
        index = ddl.table(holder, stmt.table) if stmt.table is not None and not stmt.unsupported else None
        return run_select(holder, index, stmt, deadline=deadline, cancel=cancel)
    if isinstance(stmt, ast.Insert):
        return dml.insert(holder, stmt)
    if isinstance(stmt, ast.BulkInsert):
        return dml.bulk_insert(holder, stmt)
    if isinstance(stmt, ast.Delete):
        return dml.delete(holder, stmt)
    if isinstance(stmt, ast.CreateTable):
        return ddl.create_table(holder, stmt)
    if isinstance(stmt, ast.AlterAdd):
        return ddl.alter_add(holder, stmt)
    if isinstance(stmt, ast.AlterDrop):
        return ddl.alter_drop(holder, stmt)
    if isinstance(stmt, ast.DropTable):
        return ddl.drop_table(holder, stmt)
    if isinstance(stmt, ast.ShowTables):
        return ddl.show_tables(holder)
    if isinstance(stmt, ast.ShowColumns):
        return ddl.show_columns(holder, stmt)
    if isinstance(stmt, ast.ShowCreate):
        return ddl.show_create(holder, stmt)
    if isinstance(stmt, ast.Explain):
        return explain(holder, stmt.statement)
    raise NotSupportedError(f"{type(stmt).__name__} is not supported")


@dataclass(frozen=True)
class RecordScan:
    """EXPLAIN's stand-in for a WHERE leaf that SELECT evaluates record by record."""

    condition: str


def explain(holder: Any, stmt: ast.Statement) -> SqlResult:
    """The plan a statement lowers to, one line per step (nothing is executed)."""
    lines: list[str] = []
    if isinstance(stmt, ast.Select):
        if stmt.unsupported:
            raise NotSupportedError(f"{stmt.unsupported} are not supported")
        if stmt.table is None:
            text = "constant row (no FROM)"
            return SqlResult.of_rows([("plan", "string")], [(text,)], plan=text)
        idx = ddl.table(holder, stmt.table)
        where = Where(idx, lambda cond, negate: RecordScan(("NOT " if negate else "") + type(cond).__name__))
        filt = where.lower(stmt.where) if stmt.where is not None else where.existence()
        lines.append(f"table {idx.name}")
        lines.append(f"filter {_describe(filt)}")
        if stmt.group_by:
            lines.append("GroupBy " + ", ".join(getattr(g, "name", "?") for g in stmt.group_by))
        if stmt.order_by:
            lines.append("order by " + ", ".join(("desc " if d else "asc ") + getattr(e, "name", "expr")
                                                for e, d in stmt.order_by))
        if stmt.limit is not None or stmt.top is not None:
            lines.append(f"limit {stmt.top if stmt.top is not None else stmt.limit} offset {stmt.offset}")
    elif isinstance(stmt, ast.Delete):
        idx = ddl.table(holder, stmt.table)
        where = Where(idx)
        filt = where.lower(stmt.where) if stmt.where is not None else where.existence()
        lines += [f"Delete from {idx.name}", f"filter {_describe(filt)}"]
    else:
        lines.append(type(stmt).__name__)
    text = "\n".join(lines)
    return SqlResult.of_rows([("plan", "string")], [(line,) for line in lines], plan=text)


def _describe(node: Any) -> str:
    name = type(node).__name__.rstrip("_")
    kids = getattr(node, "children", None)
    if kids is not None:
        return f"{name}(" + ", ".join(_describe(k) for k in kids) + ")"
    fields = {k: v for k, v in vars(node).items()} if hasattr(node, "__dict__") else {}
    inner = ", ".join(f"{k}={v!r}" for k, v in fields.items())
    return f"{name}({inner})"
