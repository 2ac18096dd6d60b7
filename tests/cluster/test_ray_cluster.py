"""roarbase on a Ray cluster (head + 2 worker nodes on 127.0.0.1): the same answers as the
embedded engine, and a worker actor killed with SIGKILL during queries and writes gives no
wrong answer and loses no acknowledged write (Ray restarts it; it reloads its shards from
the shared storage)."""
from __future__ import annotations

import os
import random
import signal
import threading

import numpy as np
import pytest

pytestmark = [pytest.mark.cluster,
              pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::ResourceWarning")]

SHARD = 1 << 20
QUERIES = [
    'Count(Row(tag="t1"))', 'TopN(tag, n=4)', 'GroupBy(Rows(color), Rows(tag))', 'Sum(field=age)',
    'Max(field=age)', 'Min(Row(color="red"), field=age)', 'Count(Row(age > 40))', 'Rows(tag)',
    'Distinct(field=color)', 'Count(Row(seen=1, from="2023-02-01", to="2023-03-01"))',
    'Count(Union(Row(tag="t2"), Row(color="blue")))', 'Count(Not(Row(color="blue")))',
    'Extract(Limit(All(), limit=4), Rows(color), Rows(age))', 'Percentile(field=age, nth=75)',
    'Count(Shift(Row(tag="t3"), n=1048576))', 'IncludesColumn(Row(tag="t9"), column=7)',
]
SQL = ["SELECT COUNT(*) FROM p", "SELECT color, COUNT(*), SUM(age) FROM p GROUP BY color",
       "SELECT tag, COUNT(*) FROM p WITH (flatten(tag)) GROUP BY tag", "SELECT MIN(age), AVG(age) FROM p WHERE age > 9",
       "SELECT _id, age FROM p WHERE age IS NOT NULL ORDER BY age DESC, _id LIMIT 5", "SELECT DISTINCT color FROM p"]


def _load(db, seed=0):
    ix = db.create_index("p")
    ix.create_field("tag", "set", keys=True)
    ix.create_field("color", "mutex", keys=True)
    ix.create_field("age", "int", min=0, max=150)
    ix.create_field("seen", "time", time_quantum="YMD")
    rng = np.random.default_rng(seed)
    cols = np.concatenate([s * SHARD + rng.choice(4000, 400, replace=False) for s in range(6)]).astype(np.uint64)
    n = len(cols)
    ix.import_values("tag", cols, [f"t{v}" for v in rng.integers(0, 8, n)])
    ix.import_values("color", cols, rng.choice(["red", "green", "blue"], n).tolist())
    ix.import_values("age", cols, rng.integers(0, 100, n))
    ix.import_values("seen", cols[:600], np.ones(600, np.uint64),
                     timestamps=np.datetime64("2023-01-01") + rng.integers(0, 120, 600).astype("timedelta64[D]"))
    db.query("p", 'Set(7, tag="t9") Clear(7, tag="t0") Store(Row(color="green"), tag="t8") Delete(Row(age < 2))')
    return ix


def _answers(db):
    return [db.query("p", q) for q in QUERIES] + \
        [sorted(map(repr, db.sql(s).rows)) if "ORDER" not in s else db.sql(s).rows for s in SQL]


def test_same_answers_as_embedded(ray_db, open_embedded):
    r = ray_db(2)
    local = open_embedded()
    _load(r.db)
    _load(local)
    assert _answers(r.db) == _answers(local)
    status = r.db.cluster.status()
    held = {w: rep["shards"].get("p", []) for w, rep in status["workers"].items()}
    assert sorted(s for shards in held.values() for s in shards) == list(range(6))
    pids = r.transport.pids()
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()


def test_killed_worker_gives_no_wrong_answer_and_loses_no_acknowledged_write(ray_db, open_embedded):
    """Writes (one record each, spread over six shards) and checking reads alternate; at a
    fixed step a thread SIGKILLs a worker actor's process while the loop goes on. Every
    read must match the model of the acknowledged writes at that moment; after the loop,
    every acknowledged write is there and the killed worker came back as a new process."""
    r = ray_db(2)
    _load(r.db, seed=1)
    ix = r.db.index("p")
    base = r.db.query("p", 'Count(Row(tag="k"))')[0]
    assert base == 0
    victim = r.db.cluster.table.owner("p", 0)
    old_pid = r.transport.pids()[victim]
    rng = random.Random(3)
    acked: list[int] = []
    killer = None
    for step in range(60):
        col = rng.randrange(6) * SHARD + 10_000 + step
        ix.set(col, "tag", "k")              # acknowledged (a retried write may say "no change")
        acked.append(col)
        if step == 20:
            killer = threading.Thread(target=os.kill, args=(old_pid, signal.SIGKILL))
            killer.start()
        got = r.db.query("p", 'Count(Row(tag="k")) Row(tag="k")')
        assert got[0] == len(acked)
        assert got[1]["columns"] == sorted(acked)
    killer.join()
    assert r.transport.pids()[victim] != old_pid           # Ray restarted it
    assert r.db.query("p", 'Row(tag="k")')[0]["columns"] == sorted(acked)
    status = r.db.cluster.status()["workers"][victim]
    assert status["shards"].get("p")                        # it reloaded its shards


def test_adding_and_removing_a_worker_on_ray(ray_db, open_embedded):
    r = ray_db(2)
    local = open_embedded()
    _load(r.db, seed=2)
    _load(local, seed=2)
    expected = _answers(local)
    cl = r.db.cluster
    moved = cl.add_worker(f"{r.tag}-w2")
    assert moved and all(cl.table.placed("p")[s] == f"{r.tag}-w2" for _, s in moved)
    assert _answers(r.db) == expected
    had = [("p", s) for s in cl.table.shards_of(f"{r.tag}-w0").get("p", [])]
    gone = cl.remove_worker(f"{r.tag}-w0")
    assert gone == had and all(o != f"{r.tag}-w0" for o in cl.table.placed("p").values())
    assert _answers(r.db) == expected
    held = {w: rep["shards"].get("p", []) for w, rep in cl.status()["workers"].items()}
    assert sorted(s for v in held.values() for s in v) == list(range(6))
