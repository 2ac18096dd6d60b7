"""QueryService over gRPC: the SQL stream's order and its typed values, PQL result shapes,
PqlStream, write refusal for frontend, and the query errors. Every expected value is worked
out by hand from the rows inserted in `data` below."""
from __future__ import annotations

from dataclasses import dataclass

import grpc
import pytest

from grpc_testlib import TIMEOUT, Client, expect, md, plain, unique
from server.pb.roarbase.v1 import database_pb2, query_pb2

SC = grpc.StatusCode
U63, U64 = 1 << 63, (1 << 64) - 1
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1

# _id above 2**63, the int64 extremes, NULLs, negative decimals, set columns.
CREATE = "CREATE TABLE t (_id ID, n INT, d DECIMAL(2), ts TIMESTAMP, s STRING, ss STRINGSET, i IDSET, b BOOL)"
INSERT = ("INSERT INTO t (_id, n, d, ts, s, ss, i, b) VALUES "
          "(1, -5, 12.50, '2020-01-01T00:00:00Z', 'x', ['a','b'], [1,2], true), "
          "(1048576, 7, 0.01, '2021-06-15T12:30:00Z', 'y', ['b'], [3], false), "
          f"({U63}, {I64_MIN}, -1.75, NULL, NULL, NULL, NULL, NULL), "
          f"({U64}, {I64_MAX}, NULL, '1999-12-31T23:59:59Z', 'z', ['c'], NULL, true)")
NULL = ("null", None)


def T(text: str) -> tuple[str, str]:
    return ("timestamp", text)


def L(*items: tuple[str, object]) -> tuple[str, list[tuple[str, object]]]:
    return ("list", list(items))


ROWS = [
    [("uint", 1), ("int", -5), ("decimal", (1250, 2)), T("2020-01-01T00:00:00Z"), ("text", "x"),
     L(("text", "a"), ("text", "b")), L(("uint", 1), ("uint", 2)), ("bool", True)],
    [("uint", 1048576), ("int", 7), ("decimal", (1, 2)), T("2021-06-15T12:30:00Z"), ("text", "y"),
     L(("text", "b")), L(("uint", 3)), ("bool", False)],
    [("uint", U63), ("int", I64_MIN), ("decimal", (-175, 2)), NULL, NULL, NULL, NULL, NULL],
    [("uint", U64), ("int", I64_MAX), NULL, T("1999-12-31T23:59:59Z"), ("text", "z"), L(("text", "c")), NULL,
     ("bool", True)],
]


@dataclass
class Data:
    c: Client
    db: str
    frontend: str
    backend: str


@pytest.fixture(scope="module")
def data(grpc_client: Client) -> Data:
    c = grpc_client
    db = c.databases.CreateDatabase(database_pb2.CreateDatabaseRequest(name=unique("q")), metadata=md(c.root)).id
    c.sql(c.root, db, CREATE)
    stats = c.sql(c.root, db, INSERT)[-1].stats
    assert stats.rows_affected == 4
    return Data(c, db, c.member("frontend")[0], c.member("backend")[0])


def test_sql_stream_is_header_batches_stats(data: Data) -> None:
    stream = data.c.sql(data.c.root, data.db, "SELECT _id, n, d, ts, s, ss, i, b FROM t")
    kinds = [m.WhichOneof("kind") for m in stream]
    assert kinds[0] == "header" and kinds[-1] == "stats" and set(kinds[1:-1]) == {"rows"}
    fields = [(f.name, f.type, f.base_type) for f in stream[0].header.fields]
    assert fields == [("_id", "id", "id"), ("n", "int", "int"), ("d", "decimal(2)", "decimal"),
                      ("ts", "timestamp", "timestamp"), ("s", "string", "string"),
                      ("ss", "stringset", "stringset"), ("i", "idset", "idset"), ("b", "bool", "bool")]
    assert plain(stream[0].header.fields[2].type_info["scale"]) == ("int", 2)
    assert not stream[0].header.fields[0].type_info
    rows = [[plain(v) for v in r.values] for m in stream[1:-1] for r in m.rows.rows]
    assert rows == ROWS
    stats = stream[-1].stats
    assert (stats.row_count, stats.HasField("rows_affected"), stats.query_plan) == (4, False, "")
    assert stats.execution_time_us > 0


def test_sql_aggregates_and_order(data: Data) -> None:
    got = data.c.rows(data.c.root, data.db,
                      "SELECT count(*), sum(d), min(ts), max(d) FROM t WHERE _id < 2000000")
    assert got == [[("int", 2), ("decimal", (1251, 2)), T("2020-01-01T00:00:00Z"), ("decimal", (1250, 2))]]
    ordered = data.c.rows(data.c.root, data.db, "SELECT _id FROM t ORDER BY n DESC")
    assert ordered == [[("uint", U64)], [("uint", 1048576)], [("uint", 1)], [("uint", U63)]]
    assert data.c.rows(data.c.root, data.db, "SELECT _id FROM t WHERE n > 1000000") == [[("uint", U64)]]


def test_sql_statements_without_rows(data: Data) -> None:
    c = data.c
    stream = c.sql(c.root, data.db, f"CREATE TABLE {unique('empty').replace('-', '_')} (_id ID, v INT)")
    assert [m.WhichOneof("kind") for m in stream] == ["header", "stats"]
    assert not stream[0].header.fields and stream[1].stats.row_count == 0
    plan = c.sql(c.root, data.db, "EXPLAIN SELECT _id FROM t")
    assert plan[-1].stats.query_plan and plan[0].header.fields[0].name == "plan"


def test_sql_many_rows_arrive_in_several_batches(data: Data) -> None:
    c = data.c
    c.sql(c.root, data.db, "CREATE TABLE many (_id ID, v INT)")
    n = 2500  # more than one engine batch (1024 rows)
    stats = c.sql(c.root, data.db, "INSERT INTO many (_id, v) VALUES " +
                  ", ".join(f"({k * 1000}, {-k})" for k in range(n)))[-1].stats
    assert stats.rows_affected == n
    stream = c.sql(c.root, data.db, "SELECT _id, v FROM many")
    batches = [m.rows for m in stream if m.HasField("rows")]
    assert len(batches) >= 3 and stream[-1].stats.row_count == n
    rows = [[plain(v) for v in r.values] for b in batches for r in b.rows]
    assert rows == [[("uint", k * 1000), ("int", -k)] for k in range(n)]


def test_sql_errors(data: Data) -> None:
    c = data.c
    f = expect(c.sql, c.root, data.db, "SELECT (", status=SC.INVALID_ARGUMENT, code="BadRequest",
               name="QUERY_SYNTAX_ERROR")
    assert (f.error.details["line"], f.error.details["column"]) == (1, 9)
    expect(c.sql, c.root, data.db, "SELECT zz FROM t", status=SC.INVALID_ARGUMENT, code="QueryExecutionError",
           name="COLUMN_NOT_FOUND")
    expect(c.sql, c.root, data.db, "SELECT * FROM nope", status=SC.INVALID_ARGUMENT, code="QueryExecutionError",
           name="TABLE_NOT_FOUND")
    expect(c.sql, c.root, data.db, "  ", status=SC.INVALID_ARGUMENT, code="MissingParameter")
    expect(c.sql, c.root, "0b4fc3c4-0000-4000-8000-000000000000", "SHOW TABLES", status=SC.NOT_FOUND,
           code="ResourceNotFound")
    expect(c.sql, c.root, "", "SHOW TABLES", status=SC.INVALID_ARGUMENT, code="MissingParameter")


# -- PQL ---------------------------------------------------------------------------------

def _pairs(r: query_pb2.PqlResult) -> list[tuple[int, str, int]]:
    return [(p.id, p.key, p.count) for p in r.pairs.pairs]


def test_pql_result_shapes(data: Data) -> None:
    c = data.c
    statement = ("Count(All()) Row(ss=a) TopN(ss) GroupBy(Rows(ss)) GroupBy(Rows(i), aggregate=Sum(field=n)) "
                 "Sum(field=n) Sum(field=d) Min(field=n) Max(field=n) Min(field=ts) Max(field=d) Rows(ss) "
                 "Distinct(field=ts) MinRow(field=i) Min(field=n, filter=Row(i=99))")
    r = c.pql(data.frontend, data.db, "t", statement)
    assert len(r) == 15
    assert r[0].WhichOneof("result") == "count" and r[0].count == 4
    assert (list(r[1].row.columns), list(r[1].row.keys)) == ([1], [])
    assert _pairs(r[2]) == [(0, "b", 2), (0, "a", 1), (0, "c", 1)]
    assert [([g.field for g in gc.group], [g.row_key for g in gc.group], gc.count) for gc in r[3].group_counts.groups] \
        == [(["ss"], ["a"], 1), (["ss"], ["b"], 2), (["ss"], ["c"], 1)]
    assert [(gc.group[0].row_id, gc.count, plain(gc.sum), gc.HasField("aggregate"))
            for gc in r[4].group_counts.groups] == [(1, 1, ("int", -5), False), (2, 1, ("int", -5), False),
                                                      (3, 1, ("int", 7), False)]
    # -5 + 7 + (-2**63) + (2**63 - 1) = 1, over 4 records.
    assert (plain(r[5].val_count.value), r[5].val_count.count) == (("int", 1), 4)
    assert (plain(r[6].val_count.value), r[6].val_count.count) == (("decimal", (1076, 2)), 3)
    assert (plain(r[7].val_count.value), r[7].val_count.count) == (("int", I64_MIN), 1)
    assert (plain(r[8].val_count.value), r[8].val_count.count) == (("int", I64_MAX), 1)
    assert plain(r[9].val_count.value) == T("1999-12-31T23:59:59Z")
    assert plain(r[10].val_count.value) == ("decimal", (1250, 2))
    assert (list(r[11].row_identifiers.rows), list(r[11].row_identifiers.keys)) == ([], ["a", "b", "c"])
    assert [plain(v) for v in r[12].values.values] == [T("1999-12-31T23:59:59Z"), T("2020-01-01T00:00:00Z"),
                                                       T("2021-06-15T12:30:00Z")]
    assert (r[13].pair.id, r[13].pair.key, r[13].pair.count) == (1, "", 1)
    assert (plain(r[14].val_count.value), r[14].val_count.count) == (NULL, 0)


def test_pql_more_shapes(data: Data) -> None:
    c = data.c
    r = c.pql(data.frontend, data.db, "t", "Distinct(field=n) Extract(Row(i=3), Rows(n), Rows(ss), Rows(d), Rows(ts)) "
              "TopN(ss, Row(i=99)) GroupBy(Rows(ss), filter=Row(i=99)) Options(TopN(ss, Row(i=99)), shards=[0]) "
              "IncludesColumn(All(), column=1)")
    # Magnitudes of the negatives, ascending: 2**63 (of -2**63) only fits a uint64.
    assert [plain(v) for v in r[0].signed_row.neg] == [("int", 5), ("uint", U63)]
    assert [plain(v) for v in r[0].signed_row.pos] == [("int", 7), ("int", I64_MAX)]
    table = r[1].extracted_table
    assert [(f.name, f.type) for f in table.fields] == [("n", "int64"), ("ss", "[]string"), ("d", "decimal"),
                                                         ("ts", "timestamp")]
    assert [(plain(col.column), [plain(v) for v in col.rows]) for col in table.columns] == [
        (("uint", 1048576), [("int", 7), L(("text", "b")), ("decimal", (1, 2)), T("2021-06-15T12:30:00Z")])]
    # Empty lists keep the shape their call gives (TopN: pairs, GroupBy: groups).
    assert [x.WhichOneof("result") for x in r[2:5]] == ["pairs", "group_counts", "pairs"]
    assert r[5].WhichOneof("result") == "changed" and r[5].changed


def test_pql_writes_and_stream(data: Data) -> None:
    c = data.c
    changed = c.pql(data.backend, data.db, "t", "Set(7, i=9) Count(Row(i=9)) Clear(7, i=9) Count(Row(i=9))")
    assert [x.WhichOneof("result") for x in changed] == ["changed", "count", "changed", "count"]
    assert (changed[0].changed, changed[1].count, changed[2].changed, changed[3].count) == (True, 1, True, 0)

    statement = "Count(All()) TopN(ss) Row(i=1)"
    whole = c.pql(data.frontend, data.db, "t", statement)
    stream = list(c.queries.PqlStream(query_pb2.PqlRequest(database_id=data.db, table="t", statement=statement),
                                      metadata=md(data.frontend), timeout=TIMEOUT))
    assert [m.WhichOneof("kind") for m in stream] == ["result"] * 3 + ["stats"]
    assert [(m.result.call_index, m.result.last) for m in stream[:-1]] == [(0, True), (1, True), (2, True)]
    assert [m.result.result for m in stream[:-1]] == whole
    assert stream[-1].stats.execution_time_us > 0


def test_pql_errors(data: Data) -> None:
    c = data.c
    expect(c.pql, c.root, data.db, "nope", "Count(All())", status=SC.NOT_FOUND, code="ResourceNotFound")
    expect(c.pql, c.root, data.db, "t", "Count(", status=SC.INVALID_ARGUMENT, code="BadRequest")
    expect(c.pql, c.root, data.db, "", "Count(All())", status=SC.INVALID_ARGUMENT, code="MissingParameter")
    expect(c.pql, c.root, data.db, "t", "Row(zz=1)", status=SC.INVALID_ARGUMENT, code="QueryExecutionError")


# -- frontend never writes -----------------------------------------------------------------

def test_frontend_never_writes(data: Data) -> None:
    c, fe = data.c, data.frontend
    before = c.rows(c.root, data.db, "SELECT count(*) FROM t")
    tables = c.rows(c.root, data.db, "SHOW TABLES")
    assert c.rows(fe, data.db, "SELECT count(*) FROM t") == before  # reads are allowed
    for text in ("INSERT INTO t (_id, n) VALUES (99, 1)", "DELETE FROM t WHERE _id = 1",
                 "CREATE TABLE fe_made (_id ID)", "DROP TABLE t"):
        expect(c.sql, fe, data.db, text, status=SC.PERMISSION_DENIED, code="Unauthorized")
    for statement in ("Set(99, i=1)", "Clear(1, i=1)", "Count(All()) Set(99, i=1)", "Delete(Row(i=1))"):
        expect(c.pql, fe, data.db, "t", statement, status=SC.PERMISSION_DENIED, code="Unauthorized")
        expect(lambda: list(c.queries.PqlStream(query_pb2.PqlRequest(database_id=data.db, table="t",
                                                                     statement=statement), metadata=md(fe))),
               status=SC.PERMISSION_DENIED, code="Unauthorized")
    assert c.rows(c.root, data.db, "SELECT count(*) FROM t") == before
    assert c.rows(c.root, data.db, "SHOW TABLES") == tables
    assert c.pql(c.root, data.db, "t", "Count(Row(i=1))")[0].count == 1
