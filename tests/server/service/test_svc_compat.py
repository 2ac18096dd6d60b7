"""compat: the FeatureBase-compatible `POST /sql` database — who runs it, where, and that the
anonymous loopback caller gets backend's rights only; query deadlines and cancellation."""
import threading

import pytest

import engine

from engine import executor
from server import policy
from server.service import compat, databases as dbs, query, tokens
from server.service.errors import Forbidden, RequestTimeout, ResourceNotFound
from svc_testlib import member, other_org


def test_anonymous_caller_gets_the_default_database_created_once(svc, root):
    out = compat.sql(svc, None, "CREATE TABLE t (_id ID, a INT)", database_name="default")
    assert out.writes
    compat.sql(svc, None, "INSERT INTO t (_id, a) VALUES (1, 5), (2, 7)", database_name="default")
    assert compat.sql(svc, None, "SELECT SUM(a) FROM t", database_name="default").last.rows == [(12,)]
    live = [d for d in dbs.list_databases(svc, root).resources if d.name == "default"]
    assert len(live) == 1 and live[0].state == dbs.RUNNING and live[0].org_id == root.org_id
    # the same data through the ordinary path of the owning org
    assert query.sql(svc, root, live[0].id, "SELECT COUNT(*) FROM t").last.rows == [(2,)]


def test_anonymous_caller_acts_as_backend(svc):
    p = tokens.owner_principal(svc, acting_as=policy.BACKEND)
    assert p.role == policy.BACKEND and not policy.allowed(p, "DatabaseService.CreateDatabase")
    assert not policy.allowed(p, "AccountService.CreateAccount")
    assert tokens.owner_principal(svc).role == policy.ROOT


def test_authenticated_caller_runs_in_its_own_org(svc, root):
    other = other_org(svc)
    compat.sql(svc, other.root, "CREATE TABLE mine (_id ID, a INT)", database_name="default")
    compat.sql(svc, None, "CREATE TABLE theirs (_id ID, a INT)", database_name="default")
    def names(p):
        return sorted(r[0] for r in compat.sql(svc, p, "SHOW TABLES", database_name="default").last.rows)
    assert names(other.root) == ["mine"]
    assert names(None) == names(root) == ["theirs"]


def test_caller_who_may_not_create_gets_not_found(svc, root):
    backend = member(svc, root, "backend")
    with pytest.raises(ResourceNotFound):
        compat.sql(svc, backend, "SHOW TABLES", database_name="compat")
    dbs.create_database(svc, root, name="compat")
    assert compat.sql(svc, backend, "SHOW TABLES", database_name="compat").last.rows == []


def test_frontend_cannot_write_on_the_compat_path(svc, root):
    compat.sql(svc, root, "CREATE TABLE t (_id ID, a INT)", database_name="default")
    front = member(svc, root, "frontend")
    with pytest.raises(Forbidden):
        compat.sql(svc, front, "INSERT INTO t (_id, a) VALUES (1, 1)", database_name="default")
    assert compat.sql(svc, front, "SELECT COUNT(*) FROM t", database_name="default").last.rows == [(0,)]


def test_token_scoped_to_a_database_runs_there(svc, root):
    d = dbs.create_database(svc, root, name="scoped")
    query.sql(svc, root, d.id, "CREATE TABLE only_here (_id ID)")
    scoped = tokens.verify_access_token(svc, tokens.login(svc, email="root@example.com", password="root-password-1",
                                                      database=d.id).token)
    rows = compat.sql(svc, scoped, "SHOW TABLES", database_name="default").last.rows
    assert [r[0] for r in rows] == ["only_here"]


@pytest.fixture
def wide(svc, root):
    """A table whose rows span 40 shards, and a per-shard delay."""
    d = dbs.create_database(svc, root, name="wide")
    query.sql(svc, root, d.id, "CREATE TABLE w (_id ID, a INT)")
    values = ", ".join(f"({k << 20}, {k})" for k in range(40))
    query.sql(svc, root, d.id, f"INSERT INTO w (_id, a) VALUES {values}")
    executor.shard_hook = lambda shard: threading.Event().wait(0.02)
    yield d
    executor.shard_hook = None


def test_caller_timeout_stops_sql_and_pql(svc, root, wide):
    with pytest.raises(RequestTimeout):
        query.sql(svc, root, wide.id, "SELECT COUNT(*) FROM w WHERE a > 3", timeout=0.1).last.rows
    with pytest.raises(RequestTimeout):
        query.pql(svc, root, wide.id, table="w", statement="Count(Row(a > 3))", timeout=0.1)
    executor.shard_hook = None
    assert query.pql(svc, root, wide.id, table="w", statement="Count(Row(a > 3))", timeout=5).results == [engine.Count(36)]


def test_cancel_event_stops_a_query(svc, root, wide):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(RequestTimeout):
        query.pql(svc, root, wide.id, table="w", statement="Count(All())", cancel=cancel)
    with pytest.raises(RequestTimeout):
        query.sql(svc, root, wide.id, "SELECT COUNT(*) FROM w", cancel=cancel).last.rows
