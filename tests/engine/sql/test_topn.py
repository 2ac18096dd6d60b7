"""The TopN shape of SELECT (GROUP BY one column — a set column member by member, WITH
(flatten(c)) — COUNT(*), ORDER BY COUNT(*) DESC [, the column], LIMIT) runs as the engine's
TopN: every answer, ties included, must be the one the general GROUP BY path gives (run
here with the shortcut switched off)."""
from __future__ import annotations

import random

import pytest

from engine.sql import planner

KEYS = ["a", "b", "c", "d", "e", "f", "g"]


@pytest.fixture(scope="module")
def tdb(tmp_path_factory):
    import engine

    db = engine.open(str(tmp_path_factory.mktemp("topn") / "data"), fsync=False)
    db.sql("CREATE TABLE t (_id ID, s STRING, m ID, ss STRINGSET, ids IDSET, n INT)")
    rng = random.Random(7)
    # keys written in an order unlike their sort order, so row ids and keys disagree
    db.sql("INSERT INTO t (_id, s, ss) VALUES (0, 'g', ['f', 'e']), (1, 'c', ['g'])")
    rows = []
    for i in range(2, 400):
        s = rng.choice(KEYS + [None] * 2)
        m = rng.choice([None, 1, 2, 3, 5, 8, 13])
        ss = rng.sample(KEYS, rng.randint(0, 3))
        ids = rng.sample([1, 2, 3, 4, 5, 6], rng.randint(0, 2))
        rows.append(f"({i}, {'NULL' if s is None else repr(s)}, {'NULL' if m is None else m}, "
                    f"{ss if ss else 'NULL'}, {ids if ids else 'NULL'}, {rng.randint(0, 9)})")
    db.sql("INSERT INTO t (_id, s, m, ss, ids, n) VALUES " + ", ".join(rows))
    yield db
    db.close()


def _both(db, text, monkeypatch):
    calls = []
    real = planner.Planner._topn

    def spy(self, *args):
        res = real(self, *args)
        calls.append(res is not None)
        return res

    monkeypatch.setattr(planner.Planner, "_topn", spy)
    fast = db.sql(text)
    monkeypatch.setattr(planner.Planner, "_topn", lambda self, *args: None)
    slow = db.sql(text)
    return calls == [True], fast, slow


SHAPES = [
    "SELECT {c}, COUNT(*) FROM t {hint} GROUP BY {c} ORDER BY COUNT(*) DESC, {c} LIMIT {n}",
    "SELECT {c}, COUNT(*) AS count FROM t {hint} GROUP BY {c} ORDER BY count DESC, {c} ASC LIMIT {n}",
    "SELECT COUNT(*) AS k, {c} AS v FROM t {hint} WHERE n > 3 GROUP BY v ORDER BY k DESC, v LIMIT {n}",
    "SELECT {c}, COUNT(*) FROM t {hint} WHERE n < 5 OR {c} IS NULL GROUP BY {c} ORDER BY 2 DESC, 1 LIMIT {n} "
    "OFFSET 2",
    "SELECT TOP({n}) {c}, COUNT(*), COUNT(*) FROM t {hint} GROUP BY 1 ORDER BY COUNT(*) DESC, {c}",
]


def _hint(column):
    return f"WITH (flatten({column}))" if column in ("ss", "ids") else ""


@pytest.mark.parametrize("column", ["s", "m", "ss", "ids"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("n", [1, 3, 20])
def test_topn_matches_group_by(tdb, column, shape, n, monkeypatch):
    used, fast, slow = _both(tdb, shape.format(c=column, n=n, hint=_hint(column)), monkeypatch)
    assert used
    assert fast.schema == slow.schema
    assert fast.rows == slow.rows


@pytest.mark.parametrize("column", ["m", "ids"])
def test_topn_without_a_tie_break_on_id_columns(tdb, column, monkeypatch):
    used, fast, slow = _both(tdb, f"SELECT {column}, COUNT(*) FROM t {_hint(column)} GROUP BY {column} "
                                  "ORDER BY COUNT(*) DESC LIMIT 4", monkeypatch)
    assert used and fast.rows == slow.rows


@pytest.mark.parametrize("text", [
    "SELECT s, COUNT(*) FROM t GROUP BY s ORDER BY COUNT(*) DESC LIMIT 3",       # string ties: row-id order
    "SELECT s, COUNT(*) FROM t GROUP BY s ORDER BY COUNT(*) LIMIT 3",
    "SELECT s, COUNT(*) FROM t GROUP BY s ORDER BY COUNT(*) DESC, s DESC LIMIT 3",
    "SELECT s, COUNT(*) FROM t GROUP BY s ORDER BY COUNT(*) DESC, s",             # no LIMIT
    "SELECT s, COUNT(*) FROM t GROUP BY s HAVING COUNT(*) > 1 ORDER BY COUNT(*) DESC, s LIMIT 3",
    "SELECT s, COUNT(*), SUM(n) FROM t GROUP BY s ORDER BY COUNT(*) DESC, s LIMIT 3",
    "SELECT s, COUNT(s) FROM t GROUP BY s ORDER BY COUNT(s) DESC, s LIMIT 3",
    "SELECT n, COUNT(*) FROM t GROUP BY n ORDER BY COUNT(*) DESC, n LIMIT 3",        # BSI column
    "SELECT s, m, COUNT(*) FROM t GROUP BY s, m ORDER BY COUNT(*) DESC, s LIMIT 3",
    "SELECT ss, COUNT(*) FROM t GROUP BY ss ORDER BY COUNT(*) DESC, ss LIMIT 3",  # whole sets: no TopN
])
def test_other_shapes_keep_the_group_by_path(tdb, text, monkeypatch):
    used, fast, slow = _both(tdb, text, monkeypatch)
    assert not used
    assert fast.rows == slow.rows


def test_topn_hand_checked(tmp_path):
    import engine

    with engine.open(str(tmp_path / "d"), fsync=False) as db:
        db.sql("CREATE TABLE h (_id ID, s STRING, ss STRINGSET)")
        # s: z ×2, a ×2, NULL ×2, m ×1; ss: x ×2, y ×2, w ×1
        db.sql("INSERT INTO h (_id, s, ss) VALUES (1, 'z', ['y']), (2, 'z', ['x']), (3, 'a', ['x', 'y']), "
               "(4, 'a', NULL), (5, NULL, ['w']), (6, NULL, NULL), (7, 'm', NULL)")
        q = "SELECT s, COUNT(*) FROM h GROUP BY s ORDER BY COUNT(*) DESC, s LIMIT 3"
        assert db.sql(q).rows == [(None, 2), ("a", 2), ("z", 2)]
        q = "SELECT ss, COUNT(*) FROM h WITH (flatten(ss)) GROUP BY ss ORDER BY COUNT(*) DESC, ss LIMIT 2 OFFSET 1"
        assert db.sql(q).rows == [(["y"], 2), (["w"], 1)]
        q = "SELECT ss, COUNT(*) FROM h GROUP BY ss ORDER BY COUNT(*) DESC, ss LIMIT 2"
        assert db.sql(q).rows == [(None, 3), (["w"], 1)]        # whole sets: NULL ×3, then ties by set
        q = "SELECT s, COUNT(*) FROM h WHERE _id > 2 GROUP BY s ORDER BY COUNT(*) DESC, s LIMIT 5"
        assert db.sql(q).rows == [(None, 2), ("a", 2), ("m", 1)]
