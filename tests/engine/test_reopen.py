"""Durability: close + reopen, and a crash (the directory copied while the holder is still
open, so nothing on close ran) both give back exactly the committed state — every row of
every field, view and shard, every BSI value, every key assignment and the schema."""
from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pytest

import engine
from engine_testlib import SHARD, copy_data_dir, dump_holder, dump_index, exists

UTC = dt.timezone.utc


def populate(db: engine.Holder, seed: int = 0, rounds: int = 3) -> None:
    """Arbitrary writes of every kind into two indexes (one keyed), over several shards."""
    rng = np.random.default_rng(seed)
    if not db.indexes():
        p = db.create_index("plain")
        p.create_field("s", "set")
        p.create_field("m", "mutex", keys=True)
        p.create_field("b", "bool")
        p.create_field("n", "int", min=-1000, max=1000)
        p.create_field("big", "int")
        p.create_field("pos", "int", min=10, max=10**6)
        p.create_field("neg", "int", min=-10**6, max=-10)
        p.create_field("d", "decimal", scale=3)
        p.create_field("t", "timestamp", time_unit="ms", epoch="2000-01-01T00:00:00Z")
        p.create_field("q", "time", time_quantum="YMDH")
        p.create_field("nsv", "time", time_quantum="MD", no_standard_view=True)
        p.create_field("gone", "set")
        k = db.create_index("keyed", keys=True)
        k.create_field("tags", "set", keys=True)
        k.create_field("age", "int")
        k.create_field("ok", "bool")
        k.create_field("seen", "time", time_quantum="YM", keys=True)
        db.create_index("noexist", track_existence=False).create_field("s", "set")
    p, k, ne = db.index("plain"), db.index("keyed"), db.index("noexist")
    has_gone = "gone" in [f.name for f in p.fields()]
    for r in range(rounds):
        cols = [int(c) for c in rng.choice(np.concatenate([np.arange(20), SHARD + np.arange(10),
                                                            3 * SHARD + np.arange(10)]), 25)]
        for c in cols[:10]:
            p.set(c, "s", int(rng.integers(0, 5)))
            p.set(c, "m", f"m{int(rng.integers(0, 4))}")
            p.set(c, "b", bool(rng.integers(0, 2)))
            p.set(c, "n", int(rng.integers(-1000, 1001)))
            p.set(c, "big", int(rng.integers(-(2**62), 2**62)))
            p.set(c, "pos", int(rng.integers(10, 10**6)))
            p.set(c, "neg", int(rng.integers(-(10**6), -9)))
            p.set(c, "d", f"{rng.normal() * 100:.4f}")
            p.set(c, "t", dt.datetime(1999, 1, 1, tzinfo=UTC) + dt.timedelta(seconds=float(rng.uniform(0, 3e8))))
            p.set(c, "q", int(rng.integers(0, 3)), timestamp=dt.datetime(2020 + r, 1 + c % 12, 1 + c % 28, c % 24))
            p.set(c, "nsv", 1, timestamp=f"2023-0{1 + r}-1{c % 10}")
            if has_gone:
                p.set(c, "gone", 1)
        p.import_values("s", np.array(cols, dtype=np.uint64), rng.integers(0, 5, len(cols)))
        p.import_values("m", cols, [f"m{i}" for i in rng.integers(0, 6, len(cols))])
        p.import_values("n", np.array(cols), rng.integers(-1000, 1001, len(cols)))
        hours = rng.integers(0, 5000, len(cols)).astype("timedelta64[h]")
        p.import_values("q", cols, rng.integers(0, 3, len(cols)), timestamps=np.datetime64("2021-06-01T00") + hours)
        p.clear(cols[0], "s", 0)
        p.clear(cols[1], "n")
        p.clear(cols[2], "q", 1)
        p.clear_row("s", 4)
        p.store("s", 9, cols[3:6])
        p.delete([cols[6], cols[7]])
        p.import_values("s", cols[8:12], [1, 2, 3, 0], clear=True)
        keys = [f"user{int(i)}" for i in rng.integers(0, 30, 12)]
        k.import_values("tags", keys, [f"tag{int(i)}" for i in rng.integers(0, 5, 12)])
        k.import_values("age", keys, [None if i % 4 == 0 else int(i) - 50 for i in rng.integers(0, 100, 12)])
        k.import_records(keys[:6], {"ok": [True, False, None, True, True, False],
                                    "seen": ["x", "y", "x", None, "z", "y"]})
        k.set(keys[0], "seen", f"w{r}", timestamp=f"202{r}-05-05")
        k.delete(keys[1])
        k.clear(keys[2], "tags", "tag1")
        ne.set(cols[0], "s", r)
        ne.import_values("s", cols[:5], [r + 1] * 5)
        ne.delete(cols[1])
    if has_gone:
        p.drop_field("gone")


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        for part in ("schema", "keys", "values", "rows"):
            assert a[name][part] == b[name][part], (name, part)


@pytest.mark.parametrize("checkpoint_bytes, fsync", [(64 << 20, False), (4096, False), (64 << 20, True)],
                         ids=["default", "small-checkpoints", "fsync"])
def test_close_and_reopen_identical(open_db, checkpoint_bytes, fsync):
    db = open_db(checkpoint_bytes=checkpoint_bytes, fsync=fsync)
    populate(db, seed=1, rounds=1 if fsync else 3)
    before = dump_holder(db)
    assert before["plain"]["rows"] and before["keyed"]["keys"]["_columns"]
    db = open_db.reopen(db)
    assert_same(dump_holder(db), before)
    assert engine.check(db.path).ok
    # keep writing after recovery, reopen again
    populate(db, seed=2, rounds=1)
    before = dump_holder(db)
    db = open_db.reopen(db)
    assert_same(dump_holder(db), before)
    db = open_db.reopen(db)                      # a reopen with nothing new changes nothing
    assert_same(dump_holder(db), before)


@pytest.mark.parametrize("checkpoint_bytes", [64 << 20, 4096, 256], ids=["log-only", "4k", "every-commit"])
def test_crash_without_close_recovers_committed_state(open_db, tmp_path, checkpoint_bytes):
    db = open_db(checkpoint_bytes=checkpoint_bytes)
    populate(db, seed=3)
    live = dump_holder(db)
    crashed = copy_data_dir(db.path, str(tmp_path / "crash1"))
    assert engine.check(crashed).ok
    copy = open_db(crashed)
    assert_same(dump_holder(copy), live)
    # the recovered copy is a working database: write to both, compare again
    populate(db, seed=4, rounds=1)
    populate(copy, seed=4, rounds=1)
    assert_same(dump_holder(copy), dump_holder(db))
    # crash again, after an explicit checkpoint and more writes in the new log
    db.checkpoint()
    populate(db, seed=5, rounds=1)
    live = dump_holder(db)
    crashed2 = copy_data_dir(db.path, str(tmp_path / "crash2"))
    assert_same(dump_holder(open_db(crashed2)), live)


def test_small_checkpoints_happen_mid_stream(open_db):
    db = open_db(checkpoint_bytes=4096)
    idx = db.create_index("i")
    idx.create_field("s", "set")
    for i in range(300):
        idx.set(i * 3001, "s", i % 7)
    ipath = os.path.join(db.path, "i")
    assert os.path.exists(os.path.join(ipath, "MANIFEST"))
    assert any(n.endswith(".frag") for _r, _d, files in os.walk(os.path.join(ipath, "frag")) for n in files)
    logs = [n for n in os.listdir(ipath) if n.startswith("wal-")]
    assert len(logs) == 1 and logs[0] != f"wal-{1:016x}.log"
    before = dump_index(idx)
    want = {r: {i * 3001 for i in range(300) if i % 7 == r} for r in range(7)}
    assert {r: set(idx.field("s").row(r)) for r in range(7)} == want
    db = open_db.reopen(db)
    assert dump_index(db.index("i")) == before
    assert {r: set(db.index("i").field("s").row(r)) for r in range(7)} == want


def test_reopen_keeps_schema_and_options(open_db):
    db = open_db()
    idx = db.create_index("i", keys=True, track_existence=False, description="hello")
    specs = {
        "s": ("set", {"keys": True, "cache_type": "lru", "cache_size": 7}),
        "n": ("int", {"min": -5, "max": 5}),
        "d": ("decimal", {"scale": 4, "min": "-1.5", "max": "2.25"}),
        "t": ("timestamp", {"time_unit": "us", "epoch": "2001-02-03T04:05:06Z"}),
        "q": ("time", {"time_quantum": "MDH", "ttl": "30d", "no_standard_view": True}),
        "b": ("bool", {}),
    }
    for name, (typ, opts) in specs.items():
        idx.create_field(name, typ, **opts)
    before = {f.name: (f.definition.id, f.options) for f in idx.fields()}
    db = open_db.reopen(db)
    idx = db.index("i")
    assert (idx.definition.options.keys, idx.definition.options.track_existence,
            idx.definition.options.description) == (True, False, "hello")
    assert {f.name: (f.definition.id, f.options) for f in idx.fields()} == before
    # field ids are never reused
    idx.drop_field("b")
    assert idx.create_field("b2", "bool").definition.id == max(i for i, _ in before.values()) + 1


def test_reopen_after_drops(open_db):
    db = open_db()
    populate(db, seed=6, rounds=1)
    db.drop_index("noexist")
    db.index("plain").drop_field("s")
    db.index("plain").create_field("s", "int")
    db.index("plain").set(5, "s", -1)
    before = dump_holder(db)
    db = open_db.reopen(db)
    assert_same(dump_holder(db), before)
    assert [i.name for i in db.indexes()] == ["keyed", "plain"]
    assert db.index("plain").field("s").value(5) == -1


def test_crash_after_drop_and_recreate(open_db, tmp_path):
    """Log frames of a dropped field (same name, old id) must not leak into its successor."""
    db = open_db(checkpoint_bytes=1 << 20)
    idx = db.create_index("i", keys=True)
    idx.create_field("f", "set", keys=True)
    idx.set("a", "f", "old1")
    db.checkpoint()
    idx.set("b", "f", "old2")
    idx.drop_field("f")
    f = idx.create_field("f", "set", keys=True)
    idx.set("c", "f", "new")
    live = dump_holder(db)
    assert live["i"]["keys"]["f"] == {"new": 1}
    copy = open_db(copy_data_dir(db.path, str(tmp_path / "crash")))
    assert_same(dump_holder(copy), live)
    assert copy.index("i").field("f").rows() == ["new"]
    assert f.rows() == ["new"]


def test_reopen_after_failed_writes(open_db):
    """Rejected writes leave nothing in the log: the reopened state is the committed one."""
    db = open_db()
    idx = db.create_index("k", keys=True)
    idx.create_field("n", "int", max=10)
    idx.create_field("s", "set", keys=True)
    idx.set("a", "n", 1)
    for bad in (lambda: idx.set("b", "n", 11), lambda: idx.import_values("n", ["c", "d"], [1, 99]),
                lambda: idx.import_records(["e"], {"s": ["x"], "n": [100]})):
        with pytest.raises(engine.ValueOutOfRangeError):
            bad()
    idx.set("f", "s", "y")
    before = dump_holder(db)
    assert before["k"]["keys"] == {"_columns": {"a": 0, "f": 1}, "s": {"y": 1}}
    db = open_db.reopen(db)
    assert_same(dump_holder(db), before)


def test_large_values_and_many_shards_survive_reopen(open_db, tmp_path):
    db = open_db(checkpoint_bytes=1 << 16)
    idx = db.create_index("i")
    idx.create_field("n", "int")
    idx.create_field("s", "set")
    rng = np.random.default_rng(9)
    cols = np.unique(rng.integers(0, 40 * SHARD, 5000, dtype=np.uint64))
    idx.import_values("n", cols, rng.integers(-(2**63), 2**63 - 1, len(cols), dtype=np.int64))
    idx.import_values("s", cols, rng.integers(0, 3, len(cols)))
    idx.set(2**40, "s", 1)                       # a record id beyond 2**32
    idx.set(2**40 + 1, "n", -(2**63))
    live = dump_holder(db)
    crashed = copy_data_dir(db.path, str(tmp_path / "crash"))
    assert_same(dump_holder(open_db(crashed)), live)
    db = open_db.reopen(db)
    assert_same(dump_holder(db), live)
    assert exists(db.index("i")) >= {2**40, 2**40 + 1}


def test_check_on_healthy_directories(open_db, tmp_path):
    db = open_db(checkpoint_bytes=4096)
    assert engine.check(db.path).ok
    populate(db, seed=7, rounds=1)
    report = engine.check(db.path)               # while open: log frames not yet checkpointed
    assert report.ok and report.findings == [] and report.files_checked > 0
    db.close()
    report = engine.check(db.path)
    assert report.ok and report.findings == []
    n_files = sum(len(f) for _r, _d, f in os.walk(db.path))
    assert report.files_checked == n_files - 1   # every file but LOCK
