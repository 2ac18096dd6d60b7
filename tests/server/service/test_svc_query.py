"""query: SQL and PQL through the engine, write classification, the write-role check before
anything runs, database states, limits, errors by unified code, file inputs."""
import engine
import engine.query
import pytest

from server.service import databases as dbs
from server.service import query
from server.service.config import Limits
from server.service.errors import (
    BadRequest,
    Forbidden,
    IncorrectState,
    MissingParameter,
    PayloadTooLarge,
    QueryExecutionError,
    ResourceNotFound,
)
from svc_testlib import member, other_org, root_of, start


@pytest.fixture
def db(svc, root):
    d = dbs.create_database(svc, root, name="seg")
    query.sql(svc, root, d.id, "CREATE TABLE people (_id ID, name STRING, tags STRINGSET, age INT MIN 0 MAX 150)")
    query.sql(svc, root, d.id, "INSERT INTO people (_id, name, tags, age) VALUES"
                               " (1, 'ann', ['go', 'chess'], 34), (2, 'bo', ['go'], 51), (3, 'cy', ['chess'], 19)")
    return d


@pytest.mark.parametrize("text,writes", [
    ("SELECT * FROM t", False),
    ("SELECT COUNT(*) FROM t WHERE a > 1", False),
    ("SHOW TABLES", False),
    ("SHOW COLUMNS FROM t", False),
    ("SHOW CREATE TABLE t", False),
    ("EXPLAIN SELECT * FROM t", False),
    ("INSERT INTO t (_id, a) VALUES (1, 2)", True),
    ("REPLACE INTO t (_id, a) VALUES (1, 2)", True),
    ("DELETE FROM t WHERE _id = 1", True),
    ("CREATE TABLE t2 (_id ID, a INT)", True),
    ("ALTER TABLE t ADD COLUMN b INT", True),
    ("ALTER TABLE t DROP COLUMN b", True),
    ("DROP TABLE t", True),
    ("BULK INSERT INTO t (_id, a) MAP (0 ID, 1 INT) FROM x'1,2' WITH FORMAT 'CSV' INPUT 'STREAM'", True),
    ("SELECT * FROM t; DELETE FROM t", True),
    ("SELECT * FROM t; SELECT COUNT(*) FROM t", False),
])
def test_sql_classification(text, writes):
    assert query.sql_writes(text) is writes


@pytest.mark.parametrize("text,writes", [
    ("Count(All())", False),
    ("Row(f=1)", False),
    ("TopN(f, n=3)", False),
    ("Set(1, f=2)", True),
    ("SetBit(1, f=2)", True),
    ("Clear(1, f=2)", True),
    ("ClearRow(f=2)", True),
    ("Store(Row(f=1), g=2)", True),
    ("Delete(Row(f=1))", True),
    ("Count(Row(f=1)) Set(2, f=1)", True),
    ("Options(Set(1, f=2), shards=[0])", True),  # nested writes count
    ("Count(Union(Row(f=1), Row(f=2)))", False),
])
def test_pql_classification(text, writes):
    assert query.pql_writes(text) is writes


def test_pql_write_names_cover_the_engines():
    assert all(query.pql_writes(f"{name}(f=1)") for name in engine.query._WRITE_NAMES)


def test_classification_of_bad_text():
    with pytest.raises(BadRequest) as e:
        query.sql_writes("SELEKT nothing")
    assert e.value.name == "QUERY_SYNTAX_ERROR" and e.value.data["line"] == 1
    with pytest.raises(BadRequest):
        query.pql_writes("Count(")


def test_sql_read_and_write(svc, root, db):
    ans = query.sql(svc, root, db.id, "SELECT COUNT(*) FROM people WHERE age > 30")
    assert not ans.writes and ans.last.rows == [(2,)] and ans.execution_time >= 0
    out = ans.to_dict()
    assert out["data"] == [[2]] and isinstance(out["execution-time"], int) and "rows-affected" not in out
    ins = query.sql(svc, root, db.id, "INSERT INTO people (_id, name, age) VALUES (4, 'di', 70)")
    assert ins.writes and ins.rows_affected == 1 and ins.to_dict()["rows-affected"] == 1
    batches = list(query.sql(svc, root, db.id, "SELECT _id FROM people ORDER BY _id").batches())
    assert [r for b in batches for r in b] == [(1,), (2,), (3,), (4,)]
    multi = query.sql(svc, root, db.id, "SELECT COUNT(*) FROM people; SELECT COUNT(*) FROM people WHERE age < 20")
    assert len(multi.results) == 2 and multi.last.rows == [(1,)]


def test_pql_read_and_write(svc, root, db):
    ans = query.pql(svc, root, db.id, table="people", statement='Count(Row(tags="go"))')
    assert ans.results == [engine.Count(2)] and not ans.writes and ans.to_dict() == {"results": [2]}
    w = query.pql(svc, root, db.id, table="people", statement='Set(9, tags="go") Count(Row(tags="go"))')
    assert w.writes and w.results == [engine.Bool(True), engine.Count(3)]


@pytest.mark.parametrize("role", ["root", "manager", "backend", "frontend"])
def test_reads_are_open_to_every_role(svc, root, db, role):
    p = member(svc, root, role)
    assert query.sql(svc, p, db.id, "SELECT COUNT(*) FROM people").last.rows == [(3,)]
    assert query.pql(svc, p, db.id, table="people", statement="Count(All())").results == [engine.Count(3)]


@pytest.mark.parametrize("statement", [
    "INSERT INTO people (_id, age) VALUES (7, 1)",
    "DELETE FROM people WHERE _id = 1",
    "DROP TABLE people",
    "CREATE TABLE evil (_id ID)",
    "SELECT COUNT(*) FROM people; DELETE FROM people",
])
def test_frontend_cannot_write_through_sql_and_nothing_changes(svc, root, db, statement):
    fe = member(svc, root, "frontend")
    with pytest.raises(Forbidden) as e:
        query.sql(svc, fe, db.id, statement)
    assert e.value.forbidden
    assert query.sql(svc, root, db.id, "SELECT COUNT(*) FROM people").last.rows == [(3,)]
    assert [r[0] for r in query.sql(svc, root, db.id, "SHOW TABLES").last.rows] == ["people"]


@pytest.mark.parametrize("statement", ['Set(7, tags="x")', 'Clear(1, tags="go")', 'ClearRow(tags="go")',
                                       'Store(Row(tags="go"), tags="copy")', 'Delete(Row(tags="go"))',
                                       'Count(All()) Set(7, tags="x")'])
def test_frontend_cannot_write_through_pql_and_nothing_changes(svc, root, db, statement):
    fe = member(svc, root, "frontend")
    with pytest.raises(Forbidden):
        query.pql(svc, fe, db.id, table="people", statement=statement)
    assert query.pql(svc, root, db.id, table="people", statement='Count(Row(tags="go"))').results == [engine.Count(2)]
    assert query.pql(svc, root, db.id, table="people", statement="Count(All())").results == [engine.Count(3)]


def test_states_gate_queries(svc, root, db):
    dbs.set_state(svc, db.id, dbs.BACKUP)
    assert query.sql(svc, root, db.id, "SELECT COUNT(*) FROM people").last.rows == [(3,)]  # reads during export
    with pytest.raises(IncorrectState) as e:
        query.sql(svc, root, db.id, "INSERT INTO people (_id, age) VALUES (8, 1)")
    assert e.value.name == "DATABASE_NOT_RUNNING" and e.value.data["state"] == "BACKUP"
    with pytest.raises(IncorrectState):
        query.pql(svc, root, db.id, table="people", statement='Set(8, tags="x")')
    dbs.set_state(svc, db.id, dbs.RUNNING)
    dbs.set_state(svc, db.id, dbs.RESTORING)
    with pytest.raises(IncorrectState):
        query.sql(svc, root, db.id, "SELECT COUNT(*) FROM people")
    with pytest.raises(IncorrectState):
        query.pql(svc, root, db.id, table="people", statement="Count(All())")
    dbs.set_state(svc, db.id, dbs.RUNNING)
    dbs.delete_database(svc, root, db.id)
    with pytest.raises(IncorrectState):
        query.sql(svc, root, db.id, "SELECT COUNT(*) FROM people")
    dbs.deprovision_database(svc, db.id)
    with pytest.raises(IncorrectState):
        query.sql(svc, root, db.id, "SELECT COUNT(*) FROM people")


def test_creating_database_is_not_queryable(svc, root):
    d = dbs.create_database(svc, root, name="pending", provision=False)
    with pytest.raises(IncorrectState):
        query.sql(svc, root, d.id, "SHOW TABLES")


def test_other_orgs_database_is_not_found(svc, root, db):
    other = other_org(svc)
    for call in (lambda: query.sql(svc, other.root, db.id, "SELECT COUNT(*) FROM people"),
                 lambda: query.sql(svc, other.root, db.id, "DROP TABLE people"),
                 lambda: query.pql(svc, other.root, db.id, table="people", statement="Count(All())"),
                 lambda: query.sql(svc, root, "00000000-0000-4000-8000-000000000000", "SHOW TABLES")):
        with pytest.raises(ResourceNotFound) as e:
            call()
        assert e.value.name == "DB_NOT_FOUND"


def test_engine_errors_keep_their_unified_codes(svc, root, db):
    with pytest.raises(BadRequest) as e:
        query.sql(svc, root, db.id, "SELEKT 1")
    assert e.value.name == "QUERY_SYNTAX_ERROR"
    with pytest.raises(QueryExecutionError):
        query.sql(svc, root, db.id, "SELECT nope FROM people")
    with pytest.raises(QueryExecutionError) as e:
        query.sql(svc, root, db.id, "SELECT * FROM missing")
    assert e.value.name == "TABLE_NOT_FOUND"
    with pytest.raises(ResourceNotFound) as e:
        query.pql(svc, root, db.id, table="missing", statement="Count(All())")
    assert e.value.name == "INDEX_NOT_FOUND"
    with pytest.raises(BadRequest):
        query.pql(svc, root, db.id, table="people", statement="Count(")
    with pytest.raises(QueryExecutionError):
        query.pql(svc, root, db.id, table="people", statement="Count(Row(nofield=1))")


def test_missing_text(svc, root, db):
    with pytest.raises(MissingParameter):
        query.sql(svc, root, db.id, "   ")
    with pytest.raises(MissingParameter):
        query.pql(svc, root, db.id, table="people", statement="")
    with pytest.raises(MissingParameter):
        query.pql(svc, root, db.id, table="", statement="Count(All())")


def test_query_size_limit_from_config(tmp_path, clock):
    ctx = start(tmp_path / "data", clock, limits=Limits(max_query_bytes=64))
    try:
        root = root_of(ctx)
        d = dbs.create_database(ctx, root, name="a")
        query.sql(ctx, root, d.id, "CREATE TABLE t (_id ID, n INT)")
        long_sql = "SELECT COUNT(*) FROM t WHERE n > 1" + " AND n > 1" * 5
        with pytest.raises(PayloadTooLarge) as e:
            query.sql(ctx, root, d.id, long_sql)
        assert e.value.data["limit"] == 64
        with pytest.raises(PayloadTooLarge):
            query.pql(ctx, root, d.id, table="t", statement="Count(All())" * 10)
    finally:
        ctx.close()


def test_bulk_insert_from_a_server_file_is_refused(svc, root, db, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("99,leak\n")
    text = f"BULK INSERT INTO people (_id, name) MAP (0 ID, 1 STRING) FROM '{secret}' WITH FORMAT 'CSV' INPUT 'FILE'"
    with pytest.raises(Forbidden) as e:
        query.sql(svc, root, db.id, text)
    assert e.value.name == "FILE_INPUT_REFUSED"
    assert query.sql(svc, root, db.id, "SELECT COUNT(*) FROM people").last.rows == [(3,)]
    inline = ("BULK INSERT INTO people (_id, name) MAP (0 ID, 1 STRING) FROM x'5,ed\n6,flo' WITH FORMAT 'CSV'"
              " INPUT 'STREAM'")
    assert query.sql(svc, root, db.id, inline).rows_affected == 2


def test_bulk_insert_inside_the_configured_directory(tmp_path, clock):
    allowed = tmp_path / "imports"
    allowed.mkdir()
    (allowed / "ok.csv").write_text("1,7\n2,8\n")
    (tmp_path / "outside.csv").write_text("3,9\n")
    ctx = start(tmp_path / "data", clock, sql_file_dir=str(allowed))
    try:
        root = root_of(ctx)
        d = dbs.create_database(ctx, root, name="a")
        query.sql(ctx, root, d.id, "CREATE TABLE t (_id ID, n INT)")
        tmpl = "BULK INSERT INTO t (_id, n) MAP (0 ID, 1 INT) FROM '{}' WITH FORMAT 'CSV' INPUT 'FILE'"
        assert query.sql(ctx, root, d.id, tmpl.format(allowed / "ok.csv")).rows_affected == 2
        for path in (tmp_path / "outside.csv", allowed / ".." / "outside.csv", "ok.csv"):
            with pytest.raises(Forbidden):
                query.sql(ctx, root, d.id, tmpl.format(path))
    finally:
        ctx.close()
