"""Cluster writes, durability and administration on a loopback cluster (in-process workers,
every message pickled): writes routed to each shard's owner, a killed-and-restarted worker
recovering its shards from the shared storage with every acknowledged write, a reopened
coordinator rebuilding its catalog, schema changes reaching the workers, and the writes
that are not routed refused before anything is written. Every answer is compared with an
embedded database that received the same writes."""
from __future__ import annotations

import os

import numpy as np
import pytest

import engine
from cluster_testlib import open_loopback_cluster

SHARD = 1 << 20
QUERIES = [
    'Count(Row(tag="t1"))', 'TopN(tag, n=4)', 'GroupBy(Rows(color), Rows(tag))', 'Sum(field=age)',
    'Max(field=age)', 'Min(Row(color="red"), field=age)', 'Count(Row(age > 40))', 'Rows(tag)',
    'Distinct(field=color)', 'Count(Row(seen=1, from="2023-02-01", to="2023-03-01"))',
    'Count(Row(seen=1))', 'Count(All())', 'Row(tag="t9")', 'Extract(Limit(All(), limit=5), Rows(color), Rows(age))',
    'Percentile(field=age, nth=50)', 'Count(Not(Row(color="blue")))',
]


def _schema(db):
    ix = db.create_index("p")
    ix.create_field("tag", "set", keys=True)
    ix.create_field("color", "mutex", keys=True)
    ix.create_field("age", "int", min=0, max=150)
    ix.create_field("seen", "time", time_quantum="YMD")
    return ix


def _load(db, seed=0):
    ix = db.index("p")
    rng = np.random.default_rng(seed)
    cols = np.concatenate([s * SHARD + rng.choice(3000, 300, replace=False) for s in range(6)]).astype(np.uint64)
    n = len(cols)
    ix.import_values("tag", cols, [f"t{v}" for v in rng.integers(0, 8, n)])
    ix.import_values("color", cols, rng.choice(["red", "green", "blue"], n).tolist())
    ix.import_values("age", cols, rng.integers(0, 100, n))
    ix.import_values("seen", cols[:500], np.ones(500, np.uint64),
                     timestamps=np.datetime64("2023-01-01") + rng.integers(0, 120, 500).astype("timedelta64[D]"))
    db.query("p", 'Set(7, tag="t9") Set(5242880, color="red") Clear(7, tag="t0") ClearRow(tag="t7") '
                  'Store(Row(color="green"), tag="t8") Delete(Row(age < 3))')


def _answers(db):
    return [db.query("p", q) for q in QUERIES] + \
        [db.sql("SELECT color, COUNT(*), SUM(age) FROM p GROUP BY color").rows]


@pytest.fixture
def pair(tmp_path, open_db):
    local = open_db(tmp_path / "local")
    cluster = open_loopback_cluster(tmp_path, workers=3)
    for db in (local, cluster):
        _schema(db)
        _load(db)
    yield local, cluster
    cluster.close()


def test_routed_writes_answer_as_embedded(pair):
    local, cluster = pair
    assert _answers(cluster) == _answers(local)
    placed = cluster.cluster.table.placed("p")
    assert sorted(placed) == list(range(6)) and len(set(placed.values())) >= 2
    status = cluster.cluster.status()
    for w, report in status["workers"].items():
        assert report["shards"].get("p", []) == sorted(s for s, o in placed.items() if o == w)


def test_a_restarted_worker_recovers_every_acknowledged_write(pair):
    local, cluster = pair
    transport = cluster.cluster.transport
    before = _answers(local)
    for name in transport.workers():
        transport.restart(name)                    # its logs are all it has (no checkpoint)
        assert _answers(cluster) == before
    # writes after a restart land and survive the next one
    for db in (local, cluster):
        db.query("p", 'Set(1048577, tag="t5") Set(9, age=120)')
        db.index("p").import_values("age", [3 * SHARD + 1, 4 * SHARD + 2], [11, 12])
    owner = cluster.cluster.table.owner("p", 3)
    transport.restart(owner)
    assert _answers(cluster) == _answers(local)


def test_a_reopened_coordinator_rebuilds_its_catalog(tmp_path, open_db):
    local = open_db(tmp_path / "local")
    cluster = open_loopback_cluster(tmp_path, workers=2)
    for db in (local, cluster):
        _schema(db)
        _load(db, seed=4)
    cluster.close()
    again = open_loopback_cluster(tmp_path, workers=2)
    try:
        assert _answers(again) == _answers(local)          # time views known again (describe)
    finally:
        again.close()


def test_schema_changes_reach_the_workers(pair):
    local, cluster = pair
    for db in (local, cluster):
        ix = db.index("p")
        ix.create_field("score", "int", min=-5, max=5)
        ix.import_values("score", [1, SHARD + 1, 5 * SHARD], [-5, 0, 5])
        ix.drop_field("tag")
        ix.create_field("tag", "set")                      # same name, new id: starts empty
        ix.set(2 * SHARD, "tag", 3)
    for q in ["Sum(field=score)", "TopN(tag)", "Count(All())", "Rows(tag)"]:
        assert cluster.query("p", q) == local.query("p", q), q
    cluster.drop_index("p")
    assert not os.path.exists(os.path.join(cluster.cluster.root, "shards", "p"))
    _schema(cluster)
    assert cluster.query("p", "Count(All())") == [0]


def test_writes_that_are_not_routed_are_refused_before_anything_changes(pair):
    _local, cluster = pair
    before = _answers(cluster)
    ix = cluster.index("p")
    with pytest.raises(engine.ClusterUnsupportedError):
        cluster.sql("INSERT INTO p (_id, age) VALUES (11, 5)")
    with pytest.raises(engine.ClusterUnsupportedError):
        ix.import_records([1, 2], {"age": [1, 2]})
    with pytest.raises(engine.ClusterUnsupportedError):
        ix.field("age").value(7)
    with pytest.raises(engine.ClusterUnsupportedError):         # any unrouted read of fragments
        ix.snapshot().values_in(1, ("standard",), None)
    # a bad value anywhere in an import stops it before any shard is written
    with pytest.raises(engine.ValueOutOfRangeError):
        ix.import_values("age", [1, SHARD + 1, 2 * SHARD + 1], [1, 2, 999])
    with pytest.raises(engine.QueryExecutionError):
        cluster.query("p", 'Set(1, age=200)')
    with pytest.raises(engine.InvalidValueError):
        ix.set(1, "seen", 1, timestamp="not a time")
    assert _answers(cluster) == before
    assert ix.column_keys is not None


def test_keyed_records_and_point_reads(tmp_path, open_db):
    local = open_db(tmp_path / "local")
    cluster = open_loopback_cluster(tmp_path, workers=3)
    try:
        for db in (local, cluster):
            ix = db.create_index("k", keys=True)
            ix.create_field("f", "set", keys=True)
            ix.create_field("v", "decimal", scale=2)
            ix.import_values("f", [f"r{i}" for i in range(2000)], [f"x{i % 5}" for i in range(2000)])
            ix.import_values("v", [f"r{i}" for i in range(0, 2000, 3)], [i / 4 for i in range(0, 2000, 3)])
            db.query("k", 'Clear("r3", f="x3") Set("new", f="x9")')
        for q in ['FieldValue(field=v, column="r9")', 'FieldValue(field=v, column="nope")',
                  'IncludesColumn(Row(f="x1"), column="r6")', 'IncludesColumn(Row(f="x1"), column="r1")',
                  'Row(f="x9")', 'Sum(field=v)', 'TopN(f)', 'Count(Row(f="x3"))']:
            assert cluster.query("k", q) == local.query("k", q), q
        assert cluster.index("k").field("f").rows() == local.index("k").field("f").rows()
        assert cluster.index("k").field("f").row("x2") == local.index("k").field("f").row("x2")
    finally:
        cluster.close()


def test_a_worker_list_without_the_tables_workers_is_refused(tmp_path):
    db = open_loopback_cluster(tmp_path, workers=3)
    ix = db.create_index("p")
    ix.create_field("f")
    ix.import_values("f", [s * SHARD for s in range(8)], [1] * 8)
    db.close()
    with pytest.raises(engine.InvalidParameterError, match="fewer workers than before"):
        open_loopback_cluster(tmp_path, workers=2, coordinator="coord2")


def test_a_shift_into_a_shard_emptied_by_deletes(tmp_path, open_db):
    """Shard 1 is placed but, after a Delete and a reopen (the checkpoint keeps no empty
    fragment), holds nothing; a Shift moves records into it. The coordinator's shard list
    (the placement table) still names shard 1, so the workers must be told to visit it."""
    local = open_db(tmp_path / "local")
    cluster = open_loopback_cluster(tmp_path, workers=2)
    for db in (local, cluster):
        ix = db.create_index("s")
        ix.create_field("f")
        ix.import_values("f", [5, SHARD + 5], [1, 2])
        db.query("s", "Delete(Row(f=2))")
    cluster.close()
    local = open_db.reopen(local)
    cluster = open_loopback_cluster(tmp_path, workers=2)
    try:
        assert 1 in cluster.cluster.table.placed("s") and local.index("s").snapshot().shards() == [0]
        for q in ["Count(Shift(Row(f=1), n=1048576))", "Shift(Row(f=1), n=1048576)",
                  "Count(Intersect(Shift(Row(f=1), n=1048576), ConstRow(columns=[1048581])))"]:
            assert cluster.query("s", q) == local.query("s", q), q
    finally:
        cluster.close()


def test_a_request_of_many_writes_answers_as_embedded(pair):
    """Consecutive Set/Clear calls go out as one message per shard, in call order; reads in
    between see the writes before them; the per-call results are the embedded ones."""
    local, cluster = pair
    text = " ".join(
        [f'Set({s * SHARD + 11}, tag="t{s}") Set({s * SHARD + 11}, color="red")' for s in range(6)] +
        ['Set(1048577, color="blue") Set(1048577, color="green") Clear(1048577, color="green")',
         'Count(Row(color="red"))', 'Set(9, age=77) Clear(5242880, tag="t9") Clear(12345, tag="nope")',
         'Set(13, seen=1, 2023-03-05T00:00) Count(Row(seen=1, from="2023-03-05", to="2023-03-06")) Max(field=age)'])
    assert cluster.query("p", text) == local.query("p", text)
    assert _answers(cluster) == _answers(local)


def test_a_bad_write_in_a_batch_stops_it_at_that_call_before_anything_is_sent(pair):
    _local, cluster = pair
    before = _answers(cluster)
    with pytest.raises(engine.QueryExecutionError) as e:
        cluster.query("p", 'Set(1, tag="new")\nSet(2, age=999) Set(3, tag="x")')
    assert (e.value.line, e.value.column) == (2, 1)
    assert _answers(cluster) == before
    assert cluster.index("p").row_keys(cluster.index("p").field("tag").definition).id("new") is None
