"""db.sql / db.sql_all and SqlResult (schema, rows, batches, rows_affected, to_dict),
EXPLAIN, error objects and docs/sql.md's error table, SHOW CREATE TABLE round trips,
persistence across reopen, and what cannot be written as a golden case (a hang needs a
subprocess).
"""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from childenv import child_env

from engine import errors as E
from engine.sql.result import BATCH_ROWS

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs" / "sql.md"


# --- results ------------------------------------------------------------------------------------

def _big_table(db, n: int) -> None:
    db.sql("CREATE TABLE big (_id ID, v INT, s STRING)")
    data = "\n".join(f"{i},{i % 7},k{i % 3}" for i in range(n))
    res = db.sql(f"BULK INSERT INTO big (_id, v, s) MAP (0 ID, 1 INT, 2 STRING) FROM x'{data}' "
                 "WITH FORMAT 'CSV' INPUT 'STREAM' BATCHSIZE 1000")
    assert res.rows_affected == n


def test_projection_streams_in_batches(open_db):
    db = open_db()
    n = 2 * BATCH_ROWS + 452
    _big_table(db, n)
    res = db.sql("SELECT _id, v FROM big WHERE v >= 0")
    assert res.schema == [("_id", "id"), ("v", "int")]
    batches = list(res.batches())
    assert [len(b) for b in batches] == [BATCH_ROWS, BATCH_ROWS, 452]
    assert [r for b in batches for r in b] == [(i, i % 7) for i in range(n)]
    assert res.rows_affected is None
    assert res.columns == ["_id", "v"]
    again = db.sql("SELECT _id, v FROM big WHERE v >= 0")
    assert again.rows == [(i, i % 7) for i in range(n)]
    assert again.rows == [(i, i % 7) for i in range(n)]          # .rows is kept


def test_rows_after_batches_is_complete(open_db):
    db = open_db()
    _big_table(db, 2500)
    res = db.sql("SELECT _id FROM big")
    assert sum(len(b) for b in res.batches()) == 2500
    assert len(res.rows) == 2500


def test_grouped_result_batches_and_to_dict(open_db):
    db = open_db()
    _big_table(db, 3000)
    res = db.sql("SELECT s, COUNT(*) AS n FROM big GROUP BY s ORDER BY s")
    # 3000 records, i % 3 → 1000 each.
    assert res.rows == [("k0", 1000), ("k1", 1000), ("k2", 1000)]
    assert [len(b) for b in res.batches()] == [3]
    assert res.to_dict() == {"schema": {"fields": [{"name": "s", "type": "string"}, {"name": "n", "type": "int"}]},
                             "data": [["k0", 1000], ["k1", 1000], ["k2", 1000]]}


def test_write_results_count_rows(sql_db, fresh_sql_db):
    db = fresh_sql_db()
    res = db.sql("INSERT INTO people (_id, age) VALUES (100, 1), (101, 2)")
    assert (res.schema, res.rows, res.rows_affected) == ([], [], 2)
    assert res.to_dict() == {"schema": {"fields": []}, "data": [], "rows-affected": 2}
    assert db.sql("DELETE FROM people WHERE age < 3").rows_affected == 2
    assert db.sql("CREATE TABLE z (_id ID, x INT)").rows_affected == 0


def test_sql_all_returns_every_statement(sql_db):
    results = sql_db.sql_all("SELECT COUNT(*) FROM people; SHOW TABLES; SELECT _id FROM cities WHERE _id = 'la'")
    assert [r.rows for r in results] == [
        [(8,)],
        [("cities", "cities", "", "", None, True, ""), ("empty", "empty", "", "", None, False, ""),
         ("people", "people", "", "", None, False, "the SQL fixture")],
        [("la",)],
    ]


def test_empty_text(sql_db):
    assert sql_db.sql_all("") == []
    res = sql_db.sql("  -- nothing\n")
    assert (res.schema, res.rows, res.rows_affected) == ([], [], None)


def test_statements_run_in_order_and_stop_at_the_first_error(fresh_sql_db):
    db = fresh_sql_db()
    with pytest.raises(E.ColumnNotFoundError):
        db.sql("INSERT INTO people (_id, age) VALUES (200, 1); SELECT nope FROM people; "
               "INSERT INTO people (_id, age) VALUES (201, 1)")
    assert db.sql("SELECT _id FROM people WHERE _id BETWEEN 200 AND 300").rows == [(200,)]


def test_value_types(sql_db):
    row = sql_db.sql("SELECT _id, name, tags, age, score, active, born, codes FROM people WHERE _id = 1").rows[0]
    assert [type(v).__name__ for v in row] == ["int", "str", "list", "int", "Decimal", "bool", "datetime", "list"]
    assert row[4] == Decimal("9.25") and row[4].as_tuple().exponent == -2
    assert row[6].utcoffset().total_seconds() == 0 and row[6].year == 2000


def test_text_must_be_a_string(sql_db):
    with pytest.raises(E.QuerySyntaxError):
        sql_db.sql(b"SELECT 1")  # type: ignore[arg-type]


def test_closed_database(open_db):
    db = open_db()
    db.close()
    with pytest.raises(E.ClosedError):
        db.sql("SHOW TABLES")


# --- EXPLAIN -------------------------------------------------------------------------------------------

def test_explain_select_lists_the_plan(sql_db):
    res = sql_db.sql("EXPLAIN SELECT team, COUNT(*) FROM people WHERE age > 30 AND SETCONTAINS(tags, 'red') "
                     "GROUP BY team ORDER BY team DESC LIMIT 2 OFFSET 1")
    assert res.schema == [("plan", "string")]
    lines = [r[0] for r in res.rows]
    assert lines == [
        "Limit 2 offset 1",
        "  Sort team DESC",
        "    Project team, COUNT(*)",
        "      BitmapGroupBy people by [team] aggregates [COUNT(*)] where "
        "(31 <= age (stored) and tags[row 1])",
    ]
    assert res.plan == "\n".join(lines)


@pytest.mark.parametrize("text, ops", [
    ("SELECT name, COUNT(*) FROM people p WHERE age > 20 AND UPPER(name) != 'X' GROUP BY name "
     "HAVING COUNT(*) > 0 ORDER BY 2 DESC LIMIT 3", ["Limit", "Sort", "Project", "Filter", "BitmapGroupBy"]),
    ("SELECT UPPER(name), SUM(age + 1) FROM people WHERE age > 20 GROUP BY UPPER(name) ORDER BY 1",
     ["Sort", "Project", "Aggregate", "Scan"]),
    ("SELECT p.name, c.state FROM people p JOIN cities c ON p.name = c._id",
     ["Project", "LookupJoin", "Scan"]),
    ("SELECT p.name, c.state FROM people p JOIN cities c ON p.name = c.state",
     ["Project", "HashJoin", "Scan", "Scan"]),
])
def test_explain_prints_the_plan_that_runs(sql_db, monkeypatch, text, ops):
    """Every operator EXPLAIN prints is one the statement runs, and the other way round."""
    from engine.sql import execute, run

    explained = [r[0].strip().split(" ")[0] for r in sql_db.sql("EXPLAIN " + text).rows]
    ran: list[str] = []
    real = run.rows

    def spy(node, ctx):
        ran.append(type(node).__name__)
        return real(node, ctx)

    monkeypatch.setattr(run, "rows", spy)
    monkeypatch.setattr(execute, "rows", spy)
    sql_db.sql(text).rows
    assert explained == ran == ops, (explained, ran)


def test_explain_runs_nothing(fresh_sql_db):
    db = fresh_sql_db()
    lines = [r[0] for r in db.sql("EXPLAIN DELETE FROM people WHERE _id = 1").rows]
    assert lines == ["Delete from people", "  records _id in 1 records"]
    assert db.sql("EXPLAIN INSERT INTO people (_id, age) VALUES (500, 1)").rows == [("Insert",)]
    assert db.sql("EXPLAIN CREATE TABLE newt (_id ID, x INT)").rows == [("CreateTable",)]
    assert db.sql("EXPLAIN DROP TABLE cities").rows == [("DropTable",)]
    assert db.sql("SELECT COUNT(*) FROM people").rows == [(8,)]
    assert [r[0] for r in db.sql("SHOW TABLES").rows] == ["cities", "empty", "people"]


# --- errors ------------------------------------------------------------------------------------------

def test_syntax_error_carries_position_and_expected_tokens(sql_db):
    with pytest.raises(E.QuerySyntaxError) as info:
        sql_db.sql("SELECT _id\nFROM people\nWHERE age > >")
    err = info.value
    assert (err.line, err.column) == (3, 13)
    d = err.to_dict()
    assert d["code"] == "BadRequest" and d["name"] == "QUERY_SYNTAX_ERROR"
    assert (d["line"], d["column"]) == (3, 13) and "INT" in d["expected"]
    assert "line 3, column 13" in d["message"]


def test_nesting_and_size_limits(sql_db):
    with pytest.raises(E.QueryLimitError):
        sql_db.sql("SELECT " + "(" * 100 + "1" + ")" * 100 + " FROM people")
    with pytest.raises(E.QueryLimitError):
        sql_db.sql("SELECT _id FROM people WHERE name = '" + "x" * (1 << 20) + "'")


def _documented_errors() -> dict[str, tuple[str, str]]:
    """docs/sql.md's error table: | `ClassName` | `code` | `NAME` | … |"""
    rows = re.findall(r"^\|\s*`(\w+)`\s*\|\s*`(\w+)`\s*\|\s*`(\w+)`\s*\|", DOCS.read_text(encoding="utf-8"), re.M)
    return {cls: (code, name) for cls, code, name in rows}


def test_docs_error_table_matches_the_engine():
    documented = _documented_errors()
    assert len(documented) >= 15, "docs/sql.md has no error table"
    for cls_name, (code, name) in documented.items():
        cls = getattr(E, cls_name)
        assert (cls.code, cls.name) == (code, name), cls_name


def test_docs_error_table_names_every_error_sql_raises():
    """The golden files' expected errors all appear in the docs' table."""
    from .golden_format import all_files

    used = {c.error for gf in all_files() for c in gf.cases if c.error}
    documented = _documented_errors()
    # Base classes a golden case may name (a subclass is fine): they are documented too.
    assert used <= set(documented), sorted(used - set(documented))


# --- SHOW CREATE TABLE round trip, persistence ---------------------------------------------------------

def _columns(db, table):
    return [(n, t, d.replace(f"{table}", "T")) for n, t, d in db.sql(f"SHOW COLUMNS FROM {table}").rows]


@pytest.mark.parametrize("table", ["people", "cities", "empty"])
def test_show_create_table_recreates_the_table(fresh_sql_db, table):
    db = fresh_sql_db()
    ddl = db.sql(f"SHOW CREATE TABLE {table}").rows[0][0]
    copy = ddl.replace(f"create table {table} (", "create table copy1 (", 1)
    db.sql(copy)
    assert db.sql("SHOW COLUMNS FROM copy1").rows == db.sql(f"SHOW COLUMNS FROM {table}").rows
    assert db.sql("SHOW CREATE TABLE copy1").rows[0][0] == copy


def test_tables_and_values_survive_reopen(open_db, tmp_path):
    db = open_db(tmp_path / "reopen")
    db.sql_all("CREATE TABLE r (_id STRING, n INT MIN -5 MAX 5, d DECIMAL(3), ts TIMESTAMP TIMEUNIT 'ms', "
               "ss STRINGSET, q IDSETQ TIMEQUANTUM 'YM') COMMENT 'kept';"
               "INSERT INTO r (_id, n, d, ts, ss, q) "
               "VALUES ('a', -5, 1.5, '2021-02-03T04:05:06.789Z', ['x', 'y'], [7])")
    before = (db.sql("SHOW CREATE TABLE r").rows, db.sql("SELECT * FROM r").rows)
    db = open_db.reopen(db)
    assert (db.sql("SHOW CREATE TABLE r").rows, db.sql("SELECT * FROM r").rows) == before
    assert before[1] == [("a", -5, Decimal("1.500"), before[1][0][3], ["x", "y"], [7])]
    assert before[1][0][3].isoformat() == "2021-02-03T04:05:06.789000+00:00"


# --- a hang: needs its own process ------------------------------------------------------------------------
# SELECT … WHERE <BSI comparison> LIMIT n without ORDER BY used to deadlock once the table had
# as many shards as the executor has threads (the Limit was evaluated inside the shard pool);
# found by this suite, fixed with PQL's nested-shard-work deadlock (commit c73c2c4). A hang
# cannot be caught in-process, hence the subprocess.

_HANG_SCRIPT = textwrap.dedent("""
    import os, tempfile
    import engine
    db = engine.open(tempfile.mkdtemp(), fsync=False)
    db.sql("CREATE TABLE t (_id ID, v INT)")
    shards = (os.cpu_count() or 2) + 1
    db.sql("INSERT INTO t (_id, v) VALUES " + ", ".join(f"({k << 20}, {k + 1})" for k in range(shards)))
    print(db.sql("SELECT _id FROM t WHERE v > 0 LIMIT 2").rows, flush=True)
""")


def test_limit_over_a_bsi_filter_does_not_hang():
    try:
        out = subprocess.run([sys.executable, "-c", _HANG_SCRIPT], env=child_env(), capture_output=True, text=True,
                             timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail("SELECT _id FROM t WHERE v > 0 LIMIT 2 did not finish in 15 s")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[(0,), (1048576,)]"
