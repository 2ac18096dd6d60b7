"""The recent-queries log (server.service.query_log) and query.list_queries: every query
that reaches a database is recorded from start to finish with its outcome — ok, error with
its code, cancelled — a lazy SELECT when its rows have been read; lists are the org's own,
newest first, paged, optionally one database's; the ring is bounded."""
from __future__ import annotations

import threading

import pytest

from engine import executor
from server.service import databases, query
from server.service.errors import InvalidParameter, ResourceNotFound, ServiceError
from server.service.query_log import STATEMENT_CHARS, QueryLog
from svc_testlib import member, other_org, root_of, start


@pytest.fixture
def env(tmp_path):
    ctx = start(tmp_path / "data")
    root = root_of(ctx)
    db = databases.create_database(ctx, root, name="sales")
    query.sql(ctx, root, db.id, "CREATE TABLE t (_id ID, n INT, s STRING)")
    query.sql(ctx, root, db.id, "INSERT INTO t (_id, n, s) VALUES (1, 10, 'a'), (2, 20, 'b'), (3000000, 30, 'c')")
    yield ctx, root, db
    ctx.close()


def _latest(ctx, root, **kw):
    return query.list_queries(ctx, root, **kw).resources[0]


def test_queries_are_recorded_with_their_outcome(env):
    ctx, root, db = env
    query.pql(ctx, root, db.id, table="t", statement="Count(Row(n > 15))")
    rec = _latest(ctx, root)
    assert (rec.language, rec.table, rec.statement, rec.status, rec.error_code) == (
        "pql", "t", "Count(Row(n > 15))", "ok", None)
    assert rec.duration is not None and rec.duration >= 0 and rec.account_id == root.account_id

    for text, code in (("SELEKT 1", "BadRequest"), ("SELECT nope FROM t", "QueryExecutionError")):
        with pytest.raises(ServiceError):
            query.sql(ctx, root, db.id, text)
        rec = _latest(ctx, root)
        assert (rec.statement, rec.status, rec.error_code) == (text, "error", code)

    # a frontend's write is refused, and the refusal is what was recorded
    frontend = member(ctx, root, "frontend")
    with pytest.raises(ServiceError):
        query.sql(ctx, frontend, db.id, "INSERT INTO t (_id, n) VALUES (9, 9)")
    assert (_latest(ctx, root).status, _latest(ctx, root).error_code) == ("error", "Unauthorized")


def test_a_select_is_finished_when_its_rows_are_read(env):
    ctx, root, db = env
    answer = query.sql(ctx, root, db.id, "SELECT _id, n FROM t WHERE n > 5")
    rec = _latest(ctx, root)
    assert rec.status == "running" and rec.duration is None and "elapsed_ms" in rec.to_dict()
    rows = [r for batch in answer.batches() for r in batch]
    assert len(rows) == 3
    rec = _latest(ctx, root)
    assert rec.status == "ok" and rec.to_dict()["duration_ms"] >= 0 and "elapsed_ms" not in rec.to_dict()

    # an aggregate is computed up front: finished when query.sql returns
    query.sql(ctx, root, db.id, "SELECT COUNT(*) FROM t")
    assert _latest(ctx, root).status == "ok"

    # a reader that stops early (a client gone) leaves it cancelled
    answer = query.sql(ctx, root, db.id, "SELECT _id FROM t")
    batches = answer.batches()
    next(batches)
    batches.close()
    assert _latest(ctx, root).status == "cancelled"


def test_a_cancelled_query_is_recorded_as_cancelled(env, monkeypatch):
    ctx, root, db = env
    cancel = threading.Event()
    entered = threading.Event()

    def hold(shard):  # the first shard waits for the cancel; the next check stops the query
        entered.set()
        assert cancel.wait(10)

    monkeypatch.setattr(executor, "shard_hook", hold)
    result: list[BaseException] = []

    def run():
        try:
            query.pql(ctx, root, db.id, table="t", statement="Count(All()) Count(All())", cancel=cancel)
        except BaseException as exc:  # handed to the test thread
            result.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert entered.wait(10)
    assert _latest(ctx, root).status == "running"
    cancel.set()
    worker.join(10)
    assert result and getattr(result[0], "code", None) == "RequestTimeout"
    rec = _latest(ctx, root)
    assert rec.status == "cancelled" and rec.error_code is None and rec.duration > 0


def test_lists_are_per_org_newest_first_paged_and_per_database(env):
    ctx, root, db = env
    other_db = databases.create_database(ctx, root, name="other")
    query.sql(ctx, root, other_db.id, "CREATE TABLE u (_id ID, n INT)")
    for i in range(5):
        query.pql(ctx, root, db.id, table="t", statement=f"Count(Row(n > {i}))")
    page1 = query.list_queries(ctx, root, database_id=db.id, limit=3)
    page2 = query.list_queries(ctx, root, database_id=db.id, limit=3, next_token=page1.next)
    assert [r.statement for r in page1.resources] == [f"Count(Row(n > {i}))" for i in (4, 3, 2)]
    assert [r.statement for r in page2.resources][:2] == ["Count(Row(n > 1))", "Count(Row(n > 0))"]
    assert all(r.database_id == db.id for r in page1.resources + page2.resources)
    assert query.list_queries(ctx, root, limit=1).resources[0].statement == "Count(Row(n > 4))"
    assert any(r.database_id == other_db.id for r in query.list_queries(ctx, root, limit=64).resources)

    # another org sees none of it, and cannot name this org's database
    other = other_org(ctx)
    assert query.list_queries(ctx, other.root).resources == []
    with pytest.raises(ResourceNotFound):
        query.list_queries(ctx, other.root, database_id=db.id)
    for token in ("nope", "9" * 5000, "١٢"):   # not digits; too long for a sequence number; not ASCII
        with pytest.raises(InvalidParameter) as info:
            query.list_queries(ctx, root, next_token=token)
        assert info.value.name == "INVALID_PAGE_TOKEN"

    # a token scoped to a database sees that database's queries only
    scoped = member(ctx, root, "backend", database=other_db.id)
    assert {r.database_id for r in query.list_queries(ctx, scoped, limit=64).resources} == {other_db.id}


def test_the_ring_is_bounded_and_statements_are_cut():
    log = QueryLog(size=3)
    records = [log.begin("org", "acct", "db", "sql", f"SELECT {i}") for i in range(5)]
    for r in records:
        log.finish(r)
    assert [r.statement for r in log.recent("org", limit=10)] == ["SELECT 4", "SELECT 3", "SELECT 2"]
    long = log.begin("org", "acct", "db", "sql", "x" * (STATEMENT_CHARS * 2))
    assert len(long.statement) == STATEMENT_CHARS and long.statement.endswith("…")
    log.finish(long, cancelled=True)
    log.finish(long)  # the first finish wins
    assert log.recent("org", limit=1)[0].status == "cancelled"
    assert log.recent("other-org", limit=10) == []


def test_started_at_comes_from_the_service_clock():
    log = QueryLog(clock=lambda: 1_800_000_000.25)
    rec = log.begin("org", "acct", "db", "pql", "Count(All())", "t")
    assert rec.to_dict()["started_at"] == "2027-01-15T08:00:00.250Z"
    log.finish(rec)
    assert rec.to_dict()["duration_ms"] >= 0
