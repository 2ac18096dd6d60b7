"""The executor seam (engine/shardexec.py, engine/shardtasks.py) and shard placement.

- Every shard task's combine is exact and order-free: splitting a query's shards into any
  groups, pre-reducing each group and combining the groups in any order gives the answer
  of one pass over all shards (what a worker's pre-reduction relies on).
- Scope: which shards a task visits.
- The default executor is the in-process one, and embedded use never imports Ray.
- Jump consistent hash and the persisted placement table.
"""
from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest

import engine
from engine import plan as P
from engine.cluster.placement import PlacementTable, jump_hash, shard_key
from engine.executor import LOCAL, Executor
from engine.groupby import GroupByTask
from engine.shardexec import Scope, point
from engine.shardtasks import (BsiExtremeTask, BsiSumTask, BsiValuesTask, CountTask, RowCountsTask, RowIdsTask,
                               RowTask)

SHARD = 1 << 20


@pytest.fixture
def six_shards(db):
    rng = np.random.default_rng(11)
    idx = db.create_index("t")
    idx.create_field("s")
    idx.create_field("m", "mutex")
    idx.create_field("v", "int", min=-1000, max=1000)
    cols = np.concatenate([s * SHARD + rng.choice(5000, 400, replace=False) for s in range(6)]).astype(np.uint64)
    idx.import_values("s", cols, rng.integers(0, 9, len(cols)))
    idx.import_values("m", cols, rng.integers(0, 4, len(cols)))
    idx.import_values("v", cols, rng.integers(-1000, 1001, len(cols)))
    return idx


def _tasks(idx):
    fid = {f.name: f.definition.id for f in idx.fields()}
    s3 = P.RowOf(fid["s"], 3)
    return [
        CountTask(s3),
        RowTask(P.Union_((s3, P.RowOf(fid["m"], 1)))),
        RowCountsTask(fid["s"], ("standard",), P.RowOf(fid["m"], 2)),
        BsiSumTask(fid["v"], s3),
        BsiExtremeTask(fid["v"], None, True),
        BsiExtremeTask(fid["v"], s3, False),
        BsiValuesTask(fid["v"], P.RowOf(fid["m"], 0)),
        RowIdsTask(fid["s"], ("standard",)),
        GroupByTask(((fid["m"], ("standard",), False, (0, 1, 2, 3)), (fid["s"], ("standard",), False, tuple(range(9)))),
                    None, None, True, 10_000),
        GroupByTask(((fid["s"], ("standard",), False, tuple(range(9))),), s3,
                    P.Aggregate("sum", fid["v"]), False, 10_000),
        GroupByTask(((fid["m"], ("standard",), False, (0, 1, 2, 3)),), None,
                    P.Aggregate("count_distinct", fid["s"]), False, 10_000),
    ]


def _canon(x):
    if isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], np.ndarray):
        return (x[0].tolist(), x[1].tolist())
    if isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], dict):       # GroupBy partial
        return (_canon(x[0]), None if x[1] is None else x[1].tolist())
    if isinstance(x, dict):
        return sorted((k, _canon(v)) for k, v in x.items())
    if isinstance(x, list):
        return [_canon(v) for v in x]
    if isinstance(x, set):
        return sorted(x)
    if hasattr(x, "to_numpy"):
        return x.to_numpy().tolist()
    return x


def test_every_combine_is_exact_in_any_grouping_and_order(six_shards):
    idx = six_shards
    state = idx.snapshot()
    ex = Executor(idx, state, backend=LOCAL)
    rng = random.Random(5)
    for task in _tasks(idx):
        whole = _canon(LOCAL.run(ex, task))
        assert whole not in (0, [], None, ([], [])), task          # the data makes every answer non-trivial
        for _ in range(6):
            shards = state.shards()[:]
            rng.shuffle(shards)
            cuts = sorted(rng.sample(range(1, len(shards)), rng.randint(0, 3)))
            groups = [shards[a:b] for a, b in zip([0] + cuts, cuts + [len(shards)])]
            parts = [LOCAL.run(ex, task, Scope(frozenset(g), frozenset(g))) for g in groups] + \
                [task.combine([])]                                   # a worker holding none of the shards
            rng.shuffle(parts)
            assert _canon(task.combine(parts)) == whole, task


def test_scope_visits():
    data = [0, 2, 5]
    assert Scope().shards(data) == [0, 2, 5]
    assert Scope(frozenset({2, 9})).shards(data) == [2]
    assert Scope().widen([7]).shards(data) == [0, 2, 5, 7]
    assert Scope().restrict([5, 7]).widen([8]).shards(data) == [5, 8]
    assert point(9).shards(data) == [9]           # a point read visits its shard, data or not


def test_default_executor_is_in_process(db):
    assert db.shard_executor is LOCAL
    idx = db.create_index("x")
    assert Executor(idx, idx.snapshot()).backend is LOCAL


def test_embedded_use_never_imports_ray(tmp_path):
    code = (
        "import sys, engine\n"
        f"db = engine.open({str(tmp_path / 'd')!r}, fsync=False)\n"
        "ix = db.create_index('i'); ix.create_field('f')\n"
        "ix.set(3, 'f', 1); ix.set((1 << 20) + 1, 'f', 1)\n"
        "assert db.query('i', 'Count(Row(f=1))') == [2]\n"
        "assert db.sql('SELECT COUNT(*) FROM i').rows == [(2,)]\n"
        "db.close()\n"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- placement ------------------------------------------------------------------------------------

def test_jump_hash_is_balanced_and_moves_only_to_the_new_bucket():
    keys = [shard_key("t", s) for s in range(4000)]
    for n in (1, 2, 3, 5, 8):
        got = [jump_hash(k, n) for k in keys]
        assert set(got) == set(range(n))
        counts = np.bincount(got, minlength=n)
        assert counts.min() > len(keys) / n * 0.85 and counts.max() < len(keys) / n * 1.15
        bigger = [jump_hash(k, n + 1) for k in keys]
        moved = [(a, b) for a, b in zip(got, bigger) if a != b]
        assert all(b == n for _, b in moved)                     # only to the new bucket
        assert abs(len(moved) - len(keys) / (n + 1)) < len(keys) * 0.04
    with pytest.raises(engine.InvalidParameterError):
        jump_hash(1, 0)


def test_shard_key_is_stable_across_processes():
    out = subprocess.run([sys.executable, "-c", "from engine.cluster.placement import shard_key; "
                          "print(shard_key('people', 3))"], capture_output=True, text=True, check=True)
    assert int(out.stdout) == shard_key("people", 3)
    assert shard_key("people", 3) != shard_key("people", 4) != shard_key("peoplf", 3)


def test_placement_table_persists_owners(tmp_path):
    path = str(tmp_path / "placement.json")
    t = PlacementTable.load_or_create(path, ["w0", "w1", "w2"], fsync=False)
    owners = {s: t.owner("a", s) for s in range(30)}
    assert set(owners.values()) == {"w0", "w1", "w2"}
    # Reloaded with another worker list: the table's own list and owners win.
    t2 = PlacementTable.load_or_create(path, ["x"], fsync=False)
    assert t2.workers == ["w0", "w1", "w2"] and t2.placed("a") == owners
    assert t2.shards_of("w1")["a"] == sorted(s for s, w in owners.items() if w == "w1")
    t2.drop_index("a")
    assert PlacementTable.load_or_create(path, ["x"], fsync=False).placed("a") == {}


def test_damaged_placement_table_is_reported(tmp_path):
    path = tmp_path / "placement.json"
    PlacementTable.load_or_create(str(path), ["w0"], fsync=False).owner("a", 1)
    data = bytearray(path.read_bytes())
    data[20] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(engine.DataCorruptedError):
        PlacementTable.load_or_create(str(path), ["w0"], fsync=False)
