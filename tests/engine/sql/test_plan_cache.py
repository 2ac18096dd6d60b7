"""A repeated SELECT reuses its plan (engine/sql/plan_cache.py) only while what the plan was
built from is unchanged: every answer here is checked against a plan made afresh (the cache
emptied) or against values worked out by hand, after each kind of change."""
from __future__ import annotations

import datetime as _dt
import threading

import pytest

import engine
from engine.errors import TableNotFoundError
from engine.sql import functions, plan_cache
from engine.sql import planner as planner_module


@pytest.fixture
def pdb(open_db):
    db = open_db()
    db.sql("CREATE TABLE t (_id ID, s STRING, n INT, tags STRINGSET)")
    db.sql("INSERT INTO t VALUES (1, 'a', 10, ['x']), (2, 'b', 20, ['y']), (3, 'a', 30, ['x', 'y'])")
    db.sql("CREATE TABLE u (_id STRING, k INT)")
    db.sql("INSERT INTO u VALUES ('p', 10), ('q', 30)")
    return db


@pytest.fixture
def plans(monkeypatch):
    """How many times the planner ran."""
    count = [0]
    real = planner_module.Planner.select

    def select(self, *args, **kw):
        if self.depth == 0:
            count[0] += 1
        return real(self, *args, **kw)

    monkeypatch.setattr(planner_module.Planner, "select", select)
    return count


def _fresh(db, sql):
    """The answer of a plan made now (the cache emptied first)."""
    db.sql_cache.pop("plans", None)
    return db.sql(sql).rows


def test_a_repeated_statement_is_planned_once(pdb, plans):
    q = "SELECT COUNT(*) FROM t WHERE SETCONTAINS(tags, 'x')"
    assert [pdb.sql(q).rows for _ in range(5)] == [[(2,)]] * 5
    assert plans[0] == 1


@pytest.mark.parametrize("change,query,want", [
    ("INSERT INTO t VALUES (4, 'a', 40, ['z'])", "SELECT COUNT(*) FROM t WHERE s = 'a'", [(3,)]),
    # a key that did not exist when the statement was first planned
    ("INSERT INTO t VALUES (5, 'new', 1, ['x'])", "SELECT _id FROM t WHERE s = 'new'", [(5,)]),
    ("DELETE FROM t WHERE n > 15", "SELECT SUM(n) FROM t", [(10,)]),
    # "has a value" of a STRING column is the union of its rows, kept per fragment version
    ("INSERT INTO t (_id, s) VALUES (6, 'z')", "SELECT COUNT(*) FROM t WHERE s IS NOT NULL", [(4,)]),
    ("INSERT INTO t (_id, s) VALUES (1, NULL)", "SELECT COUNT(*) FROM t WHERE s IS NOT NULL", [(2,)]),
    ("ALTER TABLE t ADD m INT", "SELECT * FROM t WHERE _id = 1", [(1, "a", 10, ["x"], None)]),
    ("ALTER TABLE t DROP n", "SELECT * FROM t WHERE _id = 2", [(2, "b", ["y"])]),
    ("INSERT INTO u VALUES ('r', 20)", "SELECT COUNT(*) FROM t WHERE n IN (SELECT k FROM u)", [(3,)]),
])
def test_a_change_is_seen_by_the_next_run(pdb, change, query, want):
    pdb.sql(query).rows
    pdb.sql(query).rows                                   # now from the cache
    pdb.sql(change)
    assert pdb.sql(query).rows == want
    assert _fresh(pdb, query) == want


def test_a_table_dropped_and_made_again(pdb):
    q = "SELECT COUNT(*) FROM u"
    assert pdb.sql(q).rows == [(2,)]
    pdb.sql("DROP TABLE u")
    with pytest.raises(TableNotFoundError):
        pdb.sql(q)
    pdb.sql("CREATE TABLE u (_id STRING, k INT)")
    assert pdb.sql(q).rows == [(0,)]


def test_a_view_altered(pdb):
    pdb.sql("CREATE VIEW v AS SELECT _id, n FROM t WHERE n > 15")
    q = "SELECT SUM(n) FROM v"
    assert pdb.sql(q).rows == [(50,)]
    assert pdb.sql(q).rows == [(50,)]
    pdb.sql("ALTER VIEW v AS SELECT _id, n FROM t WHERE n < 15")
    assert pdb.sql(q).rows == [(10,)]
    pdb.sql("DROP VIEW v")
    with pytest.raises(TableNotFoundError):
        pdb.sql(q)


def test_current_timestamp_is_bound_at_every_run(pdb, monkeypatch, plans):
    moments = iter([_dt.datetime(2030, 1, 1, tzinfo=_dt.timezone.utc),
                    _dt.datetime(2031, 1, 1, tzinfo=_dt.timezone.utc)])
    monkeypatch.setattr(functions, "now", lambda: next(moments))
    q = "SELECT DATETIMEPART('yy', CURRENT_TIMESTAMP) FROM t WHERE _id = 1"
    assert pdb.sql(q).rows == [(2030,)]
    assert pdb.sql(q).rows == [(2031,)]
    assert plans[0] == 2


def test_a_reused_plan_runs_under_the_new_statement_deadline(pdb):
    q = "SELECT _id, s FROM t WHERE n > 5"
    assert len(pdb.sql(q).rows) == 3
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(engine.QueryCancelledError):
        pdb.sql_all(q, cancel=cancel)[0].rows
    assert len(pdb.sql(q).rows) == 3                      # and the next run is not cancelled


def test_results_open_at_once_do_not_share_a_plan(pdb, plans):
    q = "SELECT _id FROM t ORDER BY _id"
    pdb.sql(q).rows
    first = pdb.sql(q)                                    # its plan is checked out, not read yet
    pdb.sql("INSERT INTO t VALUES (9, 'c', 90, [])")
    second = pdb.sql(q)
    assert first.rows == [(1,), (2,), (3,)]               # the snapshot it started on
    assert second.rows == [(1,), (2,), (3,), (9,)]
    assert plans[0] == 2


def test_a_result_not_read_to_the_end_gives_its_plan_up(pdb, plans):
    # more than one batch of rows: a result of one short batch is read when it is made
    pdb.sql("CREATE TABLE big (_id ID, n INT)")
    pdb.sql("INSERT INTO big VALUES " + ", ".join(f"({i}, {i})" for i in range(1, 1501)))
    q = "SELECT _id FROM big"
    pdb.sql(q)                                            # never read: planned, never kept
    pdb.sql(q).rows                                       # planned again, read: kept
    pdb.sql(q).rows                                       # reused
    assert plans[0] == 2


def test_a_short_result_is_read_when_made_and_its_plan_kept(pdb, plans):
    q = "SELECT _id FROM t"
    first = pdb.sql(q)
    assert not first.pending                              # one short batch: already read
    pdb.sql(q).rows
    assert plans[0] == 1


def test_failed_runs_are_not_kept(pdb, plans):
    q = "SELECT n / (n - 10) FROM t ORDER BY _id"        # division by zero on record 1
    for _ in range(2):
        with pytest.raises(engine.EngineError):
            pdb.sql(q).rows
    assert plans[0] == 2


def test_the_cache_is_bounded(pdb):
    for i in range(plan_cache.MAX_PLANS + 10):
        pdb.sql(f"SELECT COUNT(*) FROM t WHERE n > {i}").rows
    assert len(pdb.sql_cache["plans"]) == plan_cache.MAX_PLANS
    assert all(t.ex is None for p in pdb.sql_cache["plans"].values() for t in p.ctx.tables().values())
