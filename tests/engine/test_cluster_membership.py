"""Membership changes on a loopback cluster: adding a worker moves to it the shards jump
hash now gives it (and only those), removing one moves its shards to the others, queries
running meanwhile never see a shard missing, and a move cut short (the new owner not told)
is finished by the table epoch every message carries."""
from __future__ import annotations

import threading

import numpy as np

from cluster_testlib import open_loopback_cluster

SHARD = 1 << 20
QUERIES = ['Count(Row(f=1))', 'TopN(f)', 'Sum(field=v)', 'GroupBy(Rows(f))', 'Count(All())']


def _load(db, shards=12):
    ix = db.create_index("t")
    ix.create_field("f")
    ix.create_field("v", "int", min=0, max=1000)
    rng = np.random.default_rng(5)
    cols = np.concatenate([s * SHARD + rng.choice(2000, 100, replace=False) for s in range(shards)]).astype(np.uint64)
    ix.import_values("f", cols, rng.integers(0, 5, len(cols)))
    ix.import_values("v", cols, rng.integers(0, 1000, len(cols)))
    return ix


def _answers(db):
    return [db.query("t", q) for q in QUERIES]


def _held(db):
    return {w: rep["shards"].get("t", []) for w, rep in db.cluster.status()["workers"].items()}


def _consistent(db):
    placed = db.cluster.table.placed("t")
    held = _held(db)
    assert held == {w: sorted(s for s, o in placed.items() if o == w) for w in db.cluster.table.workers}


def test_add_then_remove_a_worker(tmp_path, open_db):
    local = open_db(tmp_path / "local")
    _load(local)
    db = open_loopback_cluster(tmp_path, workers=2)
    try:
        _load(db)
        expected = _answers(local)
        before = db.cluster.table.placed("t")
        moved = db.cluster.add_worker("w2")
        after = db.cluster.table.placed("t")
        assert moved and all(after[s] == "w2" for _, s in moved)
        assert all(after[s] == before[s] for s in before if ("t", s) not in moved)   # nothing else moves
        _consistent(db)
        assert _answers(db) == expected
        for d in (db, local):                                    # writes follow the new owners
            d.query("t", " ".join(f"Set({s * SHARD + 5000}, f=9)" for s in range(12)))
        expected = _answers(local)
        assert _answers(db) == expected
        db.cluster.transport.restart("w2")
        assert _answers(db) == expected

        moved = db.cluster.remove_worker("w0")
        assert "w0" not in db.cluster.table.workers and "w0" not in db.cluster.transport.workers()
        assert all(o != "w0" for o in db.cluster.table.placed("t").values())
        _consistent(db)
        assert _answers(db) == expected
    finally:
        db.close()


def test_queries_during_a_rebalance_never_miss_a_shard(tmp_path, open_db):
    local = open_db(tmp_path / "local")
    _load(local, shards=16)
    expected = _answers(local)
    db = open_loopback_cluster(tmp_path, workers=2)
    _load(db, shards=16)
    done = threading.Event()
    seen: list[bool] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            while not done.is_set() or len(seen) < 3:
                seen.append(_answers(db) == expected)
        except BaseException as exc:       # reported below
            errors.append(exc)

    t = threading.Thread(target=ask)
    t.start()
    try:
        db.cluster.add_worker("w2")
        db.cluster.add_worker("w3")
    finally:
        done.set()
        t.join()
    try:
        assert not errors and seen and all(seen), (errors, seen.count(False))
        assert db.cluster.moves >= 4
        _consistent(db)
    finally:
        db.close()


def test_a_move_cut_short_is_finished_by_the_next_message(tmp_path, open_db):
    """The coordinator died after recording the new owner but before telling it: the new
    owner opens the shard when a message with the newer table epoch reaches it."""
    local = open_db(tmp_path / "local")
    _load(local, shards=4)
    db = open_loopback_cluster(tmp_path, workers=2)
    try:
        _load(db, shards=4)
        cl = db.cluster
        shard, old = next(iter(cl.table.placed("t").items()))
        new = next(w for w in cl.table.workers if w != old)
        cl.transport.call_many([(old, "release", ("t", shard))])
        cl.table.move("t", shard, new)                     # ... and no "sync" to the new owner
        assert _answers(db) == _answers(local)
        _consistent(db)
    finally:
        db.close()
