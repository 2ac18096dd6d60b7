"""server/client.py: the Python gRPC client against a real server, its result decoding
(the inverse of server/grpc_values.py) and its retry rules."""
import datetime as dt
import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import grpc
import pytest

import engine
import serverlib
from server import cli
from server import client as client_mod
from server import grpc_values
from server.client import Client
from server.error_table import ServerError
from server.pb.roarbase.v1 import database_pb2, query_pb2

_names = itertools.count(1)

PQL_CALLS = [
    'Count(Row(tags="red"))', 'Row(tags="red")', "Row(n > 1)", 'TopN(tags, n=2)', "Sum(field=n)",
    "Min(field=n)", "Max(field=price)", "Min(field=seen)", "Sum(Row(tags=\"nope\"), field=n)",
    "GroupBy(Rows(tags))", "GroupBy(Rows(tags), aggregate=Sum(field=n))", "GroupBy(Rows(n))",
    "GroupBy(Rows(seen))", "Rows(tags)", "Rows(kind)", "Distinct(field=n)", "Distinct(field=price)",
    "Extract(All(), Rows(tags), Rows(n), Rows(price), Rows(seen), Rows(ok), Rows(kind))",
    'Set(9, tags="blue")', 'IncludesColumn(Row(tags="red"), column=1)', "MinRow(field=tags)",
    "Count(Distinct(field=n))", "TopK(tags, k=2)", "Percentile(field=n, nth=50)",
]


def _name(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


@pytest.fixture(scope="module")
def db(server: serverlib.ServerProcess) -> Iterator[tuple[Client, str]]:
    with Client(server.grpc_target, timeout=20) as c:
        c.login(server.root_email, server.root_password)
        created = c.create_database(_name("cdb"))
        assert c.wait_running(created.id).database_status == database_pb2.DATABASE_STATE_RUNNING
        c.sql("CREATE TABLE t (_id ID, tags STRINGSET, n INT, price DECIMAL(2), seen TIMESTAMP, ok BOOL,"
              " kind IDSET)", database=created.id)
        c.sql("INSERT INTO t (_id, tags, n, price, seen, ok, kind) VALUES"
              " (1, ['red', 'green'], 3, 1.25, '2024-01-02T03:04:05Z', true, [4, 5]),"
              " (2, ['red'], -2, NULL, NULL, false, [5]), (3, NULL, 10, 99.99, '2023-06-01', NULL, NULL)",
              database=created.id)
        yield c, created.id


def test_login_and_databases(server: serverlib.ServerProcess, db: tuple[Client, str]) -> None:
    c, ident = db
    assert c.get_org().id == server.org_id
    name = c.get_database(ident).name
    assert c.database_id(name) == ident
    assert c.database_id(ident.upper()) == ident
    assert ident in [d.id for d in c.list_databases()]
    spare = c.create_database(_name("spare"))
    renamed = c.update_database(spare.id, description="changed")
    assert renamed.description == "changed"
    assert c.delete_database(spare.id).database_status == database_pb2.DATABASE_STATE_DELETING
    with pytest.raises(ServerError) as info:
        c.database_id("no-such-db")
    assert info.value.code == "ResourceNotFound"


def test_sql_rows_types_and_stream(db: tuple[Client, str]) -> None:
    c, ident = db
    res = c.sql("SELECT _id, tags, n, price, seen, ok FROM t ORDER BY _id", database=ident)
    assert res.columns == ["_id", "tags", "n", "price", "seen", "ok"]
    assert res.schema[3] == ("price", "decimal(2)")
    assert res.rows == [
        (1, ["red", "green"], 3, Decimal("1.25"), dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), True),
        (2, ["red"], -2, None, None, False),
        (3, None, 10, Decimal("99.99"), dt.datetime(2023, 6, 1, tzinfo=dt.timezone.utc), None),
    ]
    assert c.sql("INSERT INTO t (_id, n) VALUES (7, 1)", database=ident).rows_affected == 1
    c.sql("CREATE TABLE many (_id ID, v INT)", database=ident)
    c.sql("BULK INSERT INTO many (_id, v) MAP (0 ID, 1 INT) FROM x'" + "\n".join(f"{i},{i}" for i in range(3000))
          + "' WITH FORMAT 'CSV' BATCHSIZE 5000", database=ident)
    stream = c.sql_stream("SELECT _id, v FROM many", database=ident)
    assert stream.schema == [("_id", "id"), ("v", "int")]
    sizes = [len(b) for b in stream.batches()]
    assert sum(sizes) == 3000 and len(sizes) > 1 and stream.done


def test_pql_results_match_the_engine_in_process(db: tuple[Client, str], tmp_path: Path) -> None:
    c, ident = db
    remote = [c.pql(q, table="t", database=ident)[0] for q in PQL_CALLS[:8]]
    with engine.open(str(tmp_path / "e"), fsync=False) as h:
        h.sql("CREATE TABLE t (_id ID, tags STRINGSET, n INT, price DECIMAL(2), seen TIMESTAMP, ok BOOL, kind IDSET)")
        h.sql("INSERT INTO t (_id, tags, n, price, seen, ok, kind) VALUES"
              " (1, ['red', 'green'], 3, 1.25, '2024-01-02T03:04:05Z', true, [4, 5]),"
              " (2, ['red'], -2, NULL, NULL, false, [5]), (3, NULL, 10, 99.99, '2023-06-01', NULL, NULL),"
              " (7, NULL, 1, NULL, NULL, NULL, NULL)")
        assert remote == [h.query("t", q)[0] for q in PQL_CALLS[:8]]


def test_pql_result_decoding_inverts_grpc_values(tmp_path: Path) -> None:
    with engine.open(str(tmp_path / "e"), fsync=False) as h:
        h.sql("CREATE TABLE t (_id ID, tags STRINGSET, n INT, price DECIMAL(2), seen TIMESTAMP, ok BOOL, kind IDSET)")
        h.sql("INSERT INTO t (_id, tags, n, price, seen, ok, kind) VALUES"
              " (1, ['red', 'green'], 3, 1.25, '2024-01-02T03:04:05Z', true, [4, 5]),"
              " (2, ['red'], -2, NULL, NULL, false, [5]), (3, NULL, 10, 99.99, '2023-06-01', NULL, NULL)")
        h.sql("CREATE TABLE k (_id STRING, tags STRINGSET)")
        h.sql("INSERT INTO k (_id, tags) VALUES ('a', ['x']), ('b', ['x', 'y'])")
        cases = [(q, h.pql("t", q)[0]) for q in PQL_CALLS]
        cases += [(q, h.pql("k", q)[0]) for q in ('Row(tags="x")', "Extract(All(), Rows(tags))", "TopN(tags)")]
    for text, result in cases:
        packed = grpc_values.pql_result(result)
        wire = query_pb2.PqlResult.FromString(packed.SerializeToString())
        assert client_mod.pql_result(wire) == result.to_json(), text
        assert (wire.WhichOneof("result") or "nil") == result.kind, text


def test_cli_prints_local_and_remote_results_alike(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI tabulates by result kind: the engine's class locally, the PqlResult member
    remotely; both print the same, empty lists included (their kind is not in their shape)."""
    with engine.open(str(tmp_path / "e"), fsync=False) as h:
        h.sql("CREATE TABLE t (_id ID, tags STRINGSET, n INT, price DECIMAL(2), seen TIMESTAMP, ok BOOL, kind IDSET)")
        h.sql("INSERT INTO t (_id, tags, n, price, seen, ok, kind) VALUES"
              " (1, ['red', 'green'], 3, 1.25, '2024-01-02T03:04:05Z', true, [4, 5]), (2, ['red'], -2, NULL, NULL,"
              " false, [5])")
        empty = ['TopN(tags, Row(tags="nope"))', 'GroupBy(Rows(tags), filter=Row(tags="nope"))',
                 'Distinct(Row(tags="nope"), field=seen)', 'Percentile(Row(tags="nope"), field=n, nth=50)']
        typed = [r for q in PQL_CALLS + empty for r in h.pql("t", q)]
    wires = [query_pb2.PqlResult.FromString(grpc_values.pql_result(r).SerializeToString()) for r in typed]
    local = [(r.kind, r.to_json()) for r in typed]
    remote = [(w.WhichOneof("result") or "nil", client_mod.pql_result(w)) for w in wires]
    for fmt in cli.FORMATS:
        cli._print_pql(local, fmt)
        printed_local = capsys.readouterr().out
        cli._print_pql(remote, fmt)
        assert capsys.readouterr().out == printed_local, fmt
    cli._print_pql(local[-4:-1], "table")
    assert capsys.readouterr().out.split() == ["value"] + ["-----", "value"] * 2 + ["-----"]


def test_typed_errors(server: serverlib.ServerProcess, db: tuple[Client, str]) -> None:
    c, ident = db
    with Client(server.grpc_target) as anon:
        with pytest.raises(ServerError) as info:
            anon.login(server.root_email, "wrong-password")
        assert info.value.code == "Unauthorized"
        with pytest.raises(ServerError) as info:
            anon.list_databases()
        assert info.value.code == "MissingAuthenticationToken"
    with pytest.raises(ServerError) as info:
        c.pql("Count(All(", table="t", database=ident)
    assert info.value.code == "BadRequest" and info.value.details["line"] == 1
    with pytest.raises(ServerError) as info:
        c.sql("SELECT * FROM t", database="00000000-0000-4000-8000-000000000000")
    assert info.value.code == "ResourceNotFound"


class _DeadlineExceeded(grpc.RpcError):
    """What grpcio raises when a call's deadline passes (no roarbase metadata)."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.DEADLINE_EXCEEDED

    def details(self) -> str:
        return "Deadline Exceeded"

    def trailing_metadata(self) -> Any:
        return ()


def test_a_passed_deadline_is_request_timeout_and_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's mapping of a deadline, made deterministic (issue 14 #20): a 1 us
    deadline against a live server fired only sometimes — grpcio lets a sub-millisecond
    deadline through when the answer is quick. The server side of deadlines, with a query
    that really outlasts its deadline, is tests/server/grpc/test_grpc_deadlines.py."""
    calls: list[Any] = []

    class Stub:
        def Pql(self, request: Any, **kwargs: Any) -> Any:  # the proto's name
            calls.append(kwargs["timeout"])
            raise _DeadlineExceeded()

    monkeypatch.setattr(client_mod.time, "sleep", lambda s: None)
    c = Client("127.0.0.1:1", retries=3)
    c._stubs["QueryService"] = Stub()
    try:
        with pytest.raises(ServerError) as info:
            c.pql("Count(All())", table="t", database="x", timeout=0.25)
    finally:
        c.close()
    assert info.value.code == "RequestTimeout"
    assert calls == [0.25]   # the caller's deadline was passed on, and a deadline is never retried


def test_frontend_role_gets_permission_denied(server: serverlib.ServerProcess, db: tuple[Client, str]) -> None:
    from server.pb.roarbase.v1 import account_pb2

    c, ident = db
    email = f"{_name('front')}@example.com"
    c.call("AccountService", "CreateAccount", account_pb2.CreateAccountRequest(
        email=email, password="front-password-1", role="frontend"))
    with Client(server.grpc_target) as f:
        f.login(email, "front-password-1")
        with pytest.raises(ServerError) as info:
            f.create_database(_name("nope"))
    assert info.value.code == "Unauthorized" and info.value.forbidden


def test_items_and_users_workflow(server: serverlib.ServerProcess, db: tuple[Client, str]) -> None:
    """The data plane through the client: properties, typed entities as dicts, bulk writes
    in chunks, a filtered scan resumed from its cursor, a background write, a frontend
    token that reads only its own end user, and the errors as ServerError."""
    from server.pb.roarbase.v1 import account_pb2, task_pb2

    c, _ = db
    ident = c.create_database(_name("items"), user_id_type="bytes8").id
    c.create_property("price", "float32", database=ident)
    c.create_property("tags", "unicode16", repeated=True, database=ident)
    c.create_property("age", "uint8", kind="user", database=ident)
    assert [(p.property_name, p.repeated) for p in c.list_properties(database=ident)] == \
        [("price", False), ("tags", True)]
    assert c.get_property("PRICE", database=ident).value_type == "float32"
    big = (1 << 64) - 1
    c.put_entity({"item_id": big, "price": 9.99, "tags": ["a"]}, database=ident)
    assert c.get_entity(big, database=ident) == {"item_id": big, "price": 9.99, "tags": ["a"]}
    assert (c.patch_entity({"item_id": big, "price": None}, database=ident).modified,
            c.get_entity(big, database=ident)) == (True, {"item_id": big, "tags": ["a"]})
    got = c.bulk_write(([{"item_id": k * 10 + j, "price": float(j)} for j in range(1, 11)] for k in range(4)),
                       database=ident)
    assert (got.chunks, got.entities) == (4, 40)
    with pytest.raises(ServerError) as info:
        c.bulk_write([[{"item_id": 500}], [{"item_id": 501}, {"item_id": 501}]], database=ident)
    assert (info.value.name, info.value.details["committed_chunks"]) == ("DUPLICATED_ITEM_ID", 1)
    filters = [{"property_name": "price", "op": "gte", "value": 5.5}, ("tags", "notin", ["zz"])]
    pages = list(c.scan(filters=filters, page_size=7, database=ident))
    found = [e["item_id"] for p in pages for e in p.entities]
    assert found == [k * 10 + j for k in range(4) for j in range(6, 11)]
    rest = next(c.scan(filters=filters, page_size=7, cursor=pages[0].next_cursor, max_pages=1, database=ident))
    assert rest == pages[1]
    assert c.list_entities([11, 999, 12], properties=["price"], database=ident) == \
        [{"item_id": 11, "price": 1.0}, {"item_id": 12, "price": 2.0}]
    assert c.delete_entities([11, 12, 999], database=ident) == 2
    c.delete_entity(13, database=ident)
    task = c.put_entities([{"user_id": b"\x01\x02", "age": 30}, {"user_id": b"\x03", "age": 40}], kind="user",
                          wait=False, database=ident)
    assert task is not None and c.wait_task(task.task_id).status == task_pb2.TASK_STATUS_COMPLETED
    assert [t.task_id for t in c.list_tasks("users_put", database=ident).tasks] == [task.task_id]
    assert c.get_entity(b"\x01\x02", kind="user", database=ident) == {"user_id": b"\x01\x02", "age": 30}
    assert c.patch_entities([{"user_id": b"\x03", "age": 41}], kind="user", database=ident) is None
    email = f"{_name('front')}@example.com"
    c.call("AccountService", "CreateAccount", account_pb2.CreateAccountRequest(
        email=email, password="front-password-1", role="frontend"))
    with Client(server.grpc_target) as f:
        f.login(email, "front-password-1", database=ident, frontend_user_id="AQI")   # base64url of b"\x01\x02"
        assert f.get_entity("~me", kind="user") == {"user_id": b"\x01\x02", "age": 30}
        assert f.list_entities([b"\x03", b"\x01\x02"], kind="user") == [{"user_id": b"\x01\x02", "age": 30}]
        with pytest.raises(ServerError) as info:
            f.get_entity(b"\x03", kind="user")
        assert (info.value.code, info.value.name) == ("ResourceNotFound", "USER_NOT_FOUND")
    with pytest.raises(ServerError) as info:
        c.get_entity(13, database=ident)
    assert (info.value.code, info.value.name) == ("ResourceNotFound", "ITEM_NOT_FOUND")
    c.delete_property("tags", database=ident)
    with pytest.raises(ServerError) as info:
        c.put_entity({"item_id": 1, "tags": ["x"]}, database=ident)
    assert (info.value.code, info.value.name) == ("InvalidParameter", "WRONG_DATA_TYPE")
    with pytest.raises(ValueError):
        c.put_entity({"price": 1.0}, database=ident)


class _Unavailable(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return "connection refused"

    def trailing_metadata(self) -> Any:
        return ()


class _FlakyStub:
    """Fails every call with UNAVAILABLE `failures` times, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[str] = []

    def __getattr__(self, method: str) -> Any:
        def call(request: Any, **kwargs: Any) -> Any:
            self.calls.append(method)
            if len(self.calls) <= self.failures:
                raise _Unavailable()
            if method == "Sql":
                return iter([query_pb2.SqlResponse(header=query_pb2.SqlSchema()),
                             query_pb2.SqlResponse(stats=query_pb2.SqlStats())])
            if method == "Pql":
                return query_pb2.PqlResponse(results=[query_pb2.PqlResult(count=4)])
            return database_pb2.Database(id="x")
        return call


def _flaky(monkeypatch: pytest.MonkeyPatch, service: str, failures: int) -> tuple[Client, _FlakyStub]:
    monkeypatch.setattr(client_mod.time, "sleep", lambda s: None)
    c = Client("127.0.0.1:1", retries=2)
    stub = _FlakyStub(failures)
    c._stubs[service] = stub
    return c, stub


@pytest.mark.parametrize("service, call, retried", [
    ("QueryService", lambda c: c.pql("Count(All())", table="t"), True),
    ("QueryService", lambda c: c.sql("SELECT COUNT(*) FROM t"), True),
    ("DatabaseService", lambda c: c.get_database("x"), True),
    ("QueryService", lambda c: c.pql('Set(1, f="a")', table="t"), False),
    ("QueryService", lambda c: c.pql('Count(Union(Row(f=1), Clear(1, f=2)))', table="t"), False),
    ("QueryService", lambda c: c.sql("INSERT INTO t (_id, n) VALUES (1, 2)"), False),
    ("QueryService", lambda c: c.sql("SELEC nonsense"), False),
    ("DatabaseService", lambda c: c.create_database("x"), False),
    ("DatabaseService", lambda c: c.delete_database("x"), False),
])
def test_retries_only_reads_after_unavailable(monkeypatch: pytest.MonkeyPatch, service: str, call: Any,
                                              retried: bool) -> None:
    c, stub = _flaky(monkeypatch, service, failures=1)
    with c:
        if retried:
            call(c)
            assert len(stub.calls) == 2
        else:
            with pytest.raises(ServerError) as info:
                call(c)
            assert info.value.code == "ServiceUnavailable" and len(stub.calls) == 1


@pytest.mark.parametrize("text", [
    "SELECT * FROM t", "select count(*) from t where a > 1", "SHOW TABLES", "SHOW COLUMNS FROM t", "DESCRIBE t",
    "EXPLAIN SELECT * FROM t", "SELECT * FROM t; SELECT COUNT(*) FROM t", "-- DELETE FROM t\nSELECT 1",
    "SELECT 'x; DELETE FROM t' FROM t", 'SELECT "a;b" FROM t; DELETE FROM t', "INSERT INTO t (_id, a) VALUES (1, 2)",
    "REPLACE INTO t (_id, a) VALUES (1, 2)", "DELETE FROM t WHERE _id = 1", "CREATE TABLE t2 (_id ID, a INT)",
    "ALTER TABLE t ADD COLUMN b INT", "DROP TABLE t", "SELECT * FROM t; DELETE FROM t",
    "BULK INSERT INTO t (_id, a) MAP (0 ID, 1 INT) FROM x'1,2' WITH FORMAT 'CSV' INPUT 'STREAM'",
])
def test_the_client_tells_sql_reads_as_the_engine_does(text: str) -> None:
    assert client_mod._reads_sql(text) is not engine.sql_writes(engine.parse_sql(text))


@pytest.mark.parametrize("text", [
    "Count(All())", "Row(f=1)", "TopN(f, n=3)", 'Row(f="Set(1, f=2)")', "Row(f=Set)", "# Set(1, f=2)\nCount(All())",
    "Set(1, f=2)", "SetBit(1, f=2)", "Clear (1, f=2)", "ClearRow(f=2)", "Store(Row(f=1), g=2)", "Delete(Row(f=1))",
    "Count(Row(f=1)) Set(2, f=1)", "Options(Set(1, f=2), shards=[0])", "Count(Union(Row(f=1), Clear(1, f=2)))",
])
def test_the_client_tells_pql_reads_as_the_engine_does(text: str) -> None:
    assert client_mod._reads_pql(text) is not engine.pql_writes(engine.parse_pql(text))


def test_the_client_knows_the_engines_write_calls() -> None:
    assert client_mod.PQL_WRITE_CALLS == engine.PQL_WRITE_CALLS


def test_retries_give_up_after_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    c, stub = _flaky(monkeypatch, "QueryService", failures=10)
    with c, pytest.raises(ServerError) as info:
        c.pql("Count(All())", table="t")
    assert info.value.code == "ServiceUnavailable" and len(stub.calls) == 3


def test_a_closed_client_refuses_calls() -> None:
    with Client("127.0.0.1:1") as c:
        pass
    with pytest.raises(ValueError):
        c.get_database("x")
