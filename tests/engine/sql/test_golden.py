"""Golden files: every SQL statement, clause, operator and function, one case per
statement, answers worked out by hand from sql_fixture.py and the FeatureBase semantics
reference (format: golden_format.py).
"""
from __future__ import annotations

import re
from typing import Any

import pytest

import engine
from engine import errors as engine_errors

from .golden_format import Case, GoldenFile, all_files, canon_rows

_FILES = all_files()
_PARAMS = []
for _gf in _FILES:
    for _i, _case in enumerate(_gf.cases):
        marks = [pytest.mark.xfail(strict=True, reason=_case.xfail)] if _case.xfail else []
        _PARAMS.append(pytest.param(_gf, _i, id=_case.id, marks=marks))


def _run(db: engine.Holder, case: Case, data_dir: Any) -> tuple[str, Any]:
    sql = case.sql.replace("{data}", str(data_dir))
    try:
        res = db.sql(sql)
        return "ok", (res.schema, res.rows, res.rows_affected)
    except Exception as exc:  # anything else than an EngineError is checked (and fails) below
        return "error", exc


def _check(case: Case, outcome: tuple[str, Any]) -> None:
    kind, value = outcome
    where = f"\n  {case.id}: {case.sql}"
    if case.error is not None:
        assert kind == "error", f"{where}\n  returned {value!r}, expected error {case.error}"
        expected_type = getattr(engine_errors, case.error)
        assert isinstance(value, expected_type), \
            f"{where}\n  raised {type(value).__name__}: {value}, expected {case.error}"
        if case.error_pos is not None:
            got = (getattr(value, "line", None), getattr(value, "column", None))
            assert got == case.error_pos, f"{where}\n  error at {got}, expected {case.error_pos}: {value}"
        return
    if kind == "error":
        raise value
    schema, rows, affected = value
    if case.ok:
        assert (schema, rows) == ([], []), f"{where}\n  expected no result, got {schema} {rows}"
    if case.affected is not None:
        assert affected == case.affected, f"{where}\n  rows_affected {affected}, expected {case.affected}"
    if case.columns is not None:
        assert [tuple(c) for c in schema] == case.columns, f"{where}\n  schema {schema}\n  expected {case.columns}"
        got = canon_rows(rows, case.ordered)
        want = canon_rows(case.rows, case.ordered)
        assert got == want, f"{where}\n  got:      {rows}\n  expected: {case.rows}"


_SESSIONS: dict[str, list[tuple[str, Any]]] = {}


def _session_outcomes(gf: GoldenFile, fresh_sql_db, data_dir) -> list[tuple[str, Any]]:
    """A sequential file runs once, in order, on a private copy; each case then checks its
    own recorded outcome (so selecting one case with -k still replays the ones above it)."""
    if gf.name not in _SESSIONS:
        db = fresh_sql_db()
        try:
            _SESSIONS[gf.name] = [_run(db, c, data_dir) for c in gf.cases]
        finally:
            db.close()
    return _SESSIONS[gf.name]


@pytest.mark.parametrize("gf,i", _PARAMS)
def test_golden(gf, i, sql_db, fresh_sql_db, sql_data_dir):
    case = gf.cases[i]
    if gf.sequential:
        _check(case, _session_outcomes(gf, fresh_sql_db, sql_data_dir)[i])
    else:
        _check(case, _run(sql_db, case, sql_data_dir))


def _golden_text() -> str:
    return "\n".join(c.sql for gf in _FILES for c in gf.cases).upper()


@pytest.mark.parametrize("needle", [
    # statements
    "CREATE TABLE ", "CREATE TABLE IF NOT EXISTS", "ALTER TABLE", " ADD COLUMN ", " DROP COLUMN ", "DROP TABLE ",
    "DROP TABLE IF EXISTS", "SHOW TABLES", "SHOW COLUMNS FROM", "SHOW CREATE TABLE", "INSERT INTO", "REPLACE INTO",
    "BULK INSERT", "BULK REPLACE", "DELETE FROM", "EXPLAIN ", "SELECT DISTINCT", "TOP(", "WITH (FLATTEN(",
    " WHERE ", " GROUP BY ", " HAVING ", " ORDER BY ", " LIMIT ", " OFFSET ",
    # column types and constraints
    " ID", " STRING", " IDSET", " STRINGSET", " IDSETQ", " STRINGSETQ", " INT", " DECIMAL(", " BOOL",
    " TIMESTAMP", " MIN ", " MAX ", " CACHETYPE ", " SIZE ", " TIMEUNIT ", " EPOCH ", " TIMEQUANTUM ", " TTL ",
    " COMMENT ", " KEYPARTITIONS ",
    # BULK options
    " MAP (", " TRANSFORM (", "FORMAT 'CSV'", "FORMAT 'NDJSON'", "FORMAT 'PARQUET'", "INPUT 'FILE'",
    "INPUT 'STREAM'", " HEADER_ROW", " BATCHSIZE ", " ROWSLIMIT ", " ALLOW_MISSING_VALUES", "FROM X'",
    # predicates
    " = ", " != ", " <> ", " < ", " <= ", " > ", " >= ", " AND ", " OR ", "NOT ", " BETWEEN ", " NOT BETWEEN ",
    " IN (", " NOT IN (", " LIKE ", " NOT LIKE ", " IS NULL", " IS NOT NULL", "SETCONTAINS(", "SETCONTAINSANY(",
    "SETCONTAINSALL(", "RANGEQ(",
    # aggregates and functions
    "COUNT(*)", "COUNT(NAME)", "COUNT(DISTINCT ", "SUM(", "AVG(", "MIN(", "MAX(", "PERCENTILE(", "CAST(",
    " + ", " - ", " * ", " / ", " % ", " || ", "UPPER(", "LOWER(", "LEN(", "REVERSE(", "TRIM(", "LTRIM(",
    "RTRIM(", "ABS(", "COALESCE(",
    # not supported
    " JOIN ", "(SELECT ",
])
def test_every_statement_and_function_has_a_golden_case(needle):
    """The issue's list of statements, types, options, predicates and functions: each
    appears in at least one golden case."""
    assert needle in _golden_text(), f"no golden case uses {needle!r}"


def test_every_group_by_column_kind_is_covered():
    """GROUP BY over id, string, bool, int, timestamp and set columns."""
    text = _golden_text()
    for col in ("TEAM", "NAME", "ACTIVE", "AGE", "BORN", "TAGS", "CODES", "VISITS"):
        assert re.search(rf"GROUP BY {col}\b", text), col
