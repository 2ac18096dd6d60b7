"""Statements before they run: parse SQL or PQL text once, and ask what it will do.

A server parses a request to decide who may send it (a writing statement needs a write
role, a BULK INSERT from a server file needs the configured directory) before it runs;
these are the facade's entry points for that, so callers need neither the parsers nor
the syntax trees' classes.
"""
from __future__ import annotations

from typing import Any, Sequence, Union

from engine.pql import ast as pql_ast
from engine.pql.parser import MAX_QUERY_BYTES, parse as _parse_pql
from engine.sql import ast as sql_ast
from engine.sql.parser import parse as _parse_sql

# PQL calls that change data. engine.query counts them against MAX_WRITES; anything else
# reads.
PQL_WRITE_CALLS = frozenset({"Set", "SetBit", "Clear", "ClearRow", "Store", "Delete"})

SqlStatements = tuple[Any, ...]
PqlQuery = pql_ast.Query

__all__ = ["MAX_QUERY_BYTES", "PQL_WRITE_CALLS", "parse_sql", "parse_pql", "sql_writes", "pql_writes",
           "sql_file_inputs"]


def parse_sql(text: str) -> SqlStatements:
    """The ';'-separated statements of SQL text. Raises QuerySyntaxError (with line and
    column) or QueryLimitError (longer than MAX_QUERY_BYTES)."""
    return _parse_sql(text)


def parse_pql(text: str) -> PqlQuery:
    """A PQL request: its top-level calls. Raises as parse_sql does."""
    return _parse_pql(text)


def sql_writes(statements: Sequence[Any]) -> bool:
    """Whether any statement writes. Only the statement kinds known to read (SELECT, SHOW,
    EXPLAIN) are reads: a kind added later counts as a write (fail closed)."""
    return any(not isinstance(s, sql_ast.READS) for s in statements)


def _call_writes(call: pql_ast.Call) -> bool:
    if call.name in PQL_WRITE_CALLS:
        return True
    return any(isinstance(a, (pql_ast.Positional, pql_ast.Keyword)) and isinstance(a.value, pql_ast.Call)
               and _call_writes(a.value) for a in call.args)


def pql_writes(query: Union[PqlQuery, Sequence[pql_ast.Call]]) -> bool:
    """Whether a request writes: a write call anywhere, nested ones included."""
    calls = query.calls if isinstance(query, pql_ast.Query) else query
    return any(_call_writes(c) for c in calls)


def sql_file_inputs(statements: Sequence[Any]) -> list[str]:
    """The server files the statements read: BULK INSERT ... INPUT 'FILE' sources (a
    BULK INSERT without INPUT reads a file unless its data is inline)."""
    return [s.source for s in statements if isinstance(s, sql_ast.BulkInsert)
            and s.options.get("input", "STREAM" if s.inline else "FILE") == "FILE"]
