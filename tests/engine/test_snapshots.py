"""engine.snapshots: consistent copy-on-write snapshots of a data directory, restoring them,
and Holder.block_writes / read_view (engine/snapshots.py, engine/holder.py).

Expectations: a snapshot opened as a data directory holds exactly the committed state at
the moment it was taken (compared bit for bit with engine_testlib.dump_holder taken at that
moment), whatever the database does afterwards; restore() makes the directory exactly that
again and leaves the snapshot reusable.
"""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest

import engine
from engine import snapshots
from engine_testlib import dump_holder


def _populate(db: engine.Holder, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    seg = db.create_index("seg")
    seg.create_field("tags", "set", keys=True)
    seg.create_field("region", "mutex", keys=True)
    seg.create_field("active", "bool")
    seg.create_field("age", "int", min=-5, max=200)
    seg.create_field("score", "decimal", scale=2)
    seg.create_field("seen", "timestamp", time_unit="ms")
    seg.create_field("ratio", "float", bits=32)
    seg.create_field("visits", "time", time_quantum="YMD")
    cols = np.arange(1, 3000, dtype=np.uint64) * 7
    seg.import_values("tags", np.repeat(cols, 2), [f"t{i % 13}" for i in range(len(cols) * 2)])
    seg.import_values("region", cols, [f"r{i % 5}" for i in range(len(cols))])
    seg.import_values("active", cols, rng.random(len(cols)) < 0.5)
    seg.import_values("age", cols, rng.integers(-5, 200, len(cols)))
    seg.import_values("score", cols, rng.integers(0, 100000, len(cols)) / 100)
    seg.import_values("ratio", cols, rng.random(len(cols)).astype(np.float32))
    seg.set(7, "seen", "2024-05-06T07:08:09.123Z")
    seg.set(14, "visits", 3, timestamp="2023-02-03T04:00:00Z")
    seg.set(2**21 + 5, "tags", "far")           # a second shard
    people = db.create_index("people", keys=True, meta={"entity": {"kind": "demo"}})
    people.create_field("name", "mutex", keys=True, meta={"property": "Name"})
    people.set("alice", "name", "Alice")
    people.set("bob", "name", "Bob")


def test_snapshot_is_the_state_at_that_instant(open_db, tmp_path):
    db = open_db(checkpoint_bytes=4096)          # small: later writes checkpoint (rewrite files)
    _populate(db)
    before = dump_holder(db)
    info = db.snapshot(str(tmp_path / "snap"))
    assert set(info.indexes) == {"seg", "people"} and info.files > 0 and info.linked_bytes > 0

    # Everything a live database does afterwards: writes, checkpoints, a dropped field, a
    # dropped index, a new index.
    seg = db.index("seg")
    seg.import_values("age", np.arange(1, 3000, dtype=np.uint64) * 7, np.full(2999, 42))
    seg.set(999_999, "tags", "late")
    seg.drop_field("ratio")
    db.checkpoint()
    db.drop_index("people")
    db.create_index("later").create_field("x", "set")
    assert dump_holder(db) != before

    snap = open_db(str(tmp_path / "snap"))
    assert dump_holder(snap) == before
    assert snap.index("people").definition.meta == {"entity": {"kind": "demo"}}
    assert snap.index("people").field("name").meta == {"property": "Name"}
    assert engine.check(str(tmp_path / "snap")).ok


def test_restore_puts_the_directory_back_and_the_snapshot_stays_reusable(open_db, tmp_path):
    db = open_db(checkpoint_bytes=4096)
    _populate(db)
    before = dump_holder(db)
    db.snapshot(str(tmp_path / "snap"))
    db.index("seg").set(5, "tags", "after")
    db.drop_index("people")
    db.create_index("new")
    db.checkpoint()
    path = db.path
    db.close()
    for _ in range(2):                           # restoring twice gives the same result
        engine.restore_snapshot(str(tmp_path / "snap"), path, fsync=False)
        again = open_db(path)
        assert dump_holder(again) == before
        again.index("seg").set(6, "tags", "written after the restore")   # the restored dir is live
        again.close()
    assert not os.path.exists(path + snapshots.RESTORING_SUFFIX)
    assert not os.path.exists(path + snapshots.OLD_SUFFIX)
    # The snapshot itself never saw those writes.
    assert dump_holder(open_db(str(tmp_path / "snap"))) == before


def test_restore_refuses_an_incomplete_snapshot(tmp_path):
    (tmp_path / "half").mkdir()
    with pytest.raises(engine.DataCorruptedError, match="not a complete snapshot"):
        engine.restore_snapshot(str(tmp_path / "half"), str(tmp_path / "data"))
    assert not (tmp_path / "data").exists()


def test_snapshot_destination_must_not_exist(open_db, tmp_path):
    db = open_db()
    (tmp_path / "taken").mkdir()
    with pytest.raises(engine.InvalidParameterError):
        db.snapshot(str(tmp_path / "taken"))


def test_snapshot_copies_logs_only_up_to_the_last_commit(open_db, tmp_path):
    db = open_db()
    idx = db.create_index("t")
    idx.create_field("f", "set")
    for i in range(50):
        idx.set(i, "f", i % 3)
    wal = idx._wal
    with open(wal.path, "ab") as f:              # bytes past the last frame (a torn append)
        f.write(b"\x07" * 100)
    info = db.snapshot(str(tmp_path / "snap"))
    copied = [n for n in os.listdir(tmp_path / "snap" / "t") if n.startswith("wal-")]
    assert len(copied) == 1 and os.path.getsize(tmp_path / "snap" / "t" / copied[0]) == wal.size
    assert info.copied_bytes >= wal.size
    assert dump_holder(open_db(str(tmp_path / "snap")))["t"]["rows"] == dump_holder(db)["t"]["rows"]


def test_snapshot_across_indexes_is_one_instant_while_a_writer_runs(open_db, tmp_path):
    """A writer commits record k to index a, then to index b. Any instant has
    count(b) <= count(a) <= count(b) + 1; a snapshot copied index by index while commits
    go on could show b ahead of a."""
    db = open_db(checkpoint_bytes=8192)
    for name in ("a", "b"):
        db.create_index(name).create_field("f", "set")
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        k = 0
        try:
            while not stop.is_set():
                db.index("a").set(k, "f", 1)
                db.index("b").set(k, "f", 1)
                k += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    try:
        seen = []
        for i in range(15):
            path = str(tmp_path / f"snap{i}")
            db.snapshot(path)
            snap = engine.open(path, fsync=False)
            try:
                a, b = (snap.query(n, "Count(Row(f=1))")[0] for n in ("a", "b"))
            finally:
                snap.close()
            seen.append((a, b))
            assert b <= a <= b + 1, seen
    finally:
        stop.set()
        t.join()
    assert not errors
    assert seen[-1][0] > 0


def test_block_writes_refuses_others_lets_the_owner_write_and_reads_go_on(open_db):
    db = open_db()
    idx = db.create_index("t")
    idx.create_field("f", "set")
    idx.set(1, "f", 1)
    outcome: dict[str, object] = {}

    def other_thread() -> None:
        for what, call in (("set", lambda: idx.set(2, "f", 1)), ("field", lambda: idx.create_field("g", "set")),
                           ("index", lambda: db.create_index("u")), ("drop", lambda: db.drop_index("t"))):
            try:
                call()
                outcome[what] = "written"
            except engine.WritesBlockedError as exc:
                outcome[what] = exc.code
        outcome["read"] = db.query("t", "Count(Row(f=1))")[0]

    with db.block_writes("export in progress", allow_current_thread=True):
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
        idx.set(3, "f", 1)                       # the owner still writes
        with pytest.raises(engine.WritesBlockedError, match="already held"):
            with db.block_writes("another"):
                pass
    assert outcome == {"set": "IncorrectState", "field": "IncorrectState", "index": "IncorrectState",
                       "drop": "IncorrectState", "read": 1}
    idx.set(4, "f", 1)                           # released
    assert db.query("t", "Row(f=1)")[0]["columns"] == [1, 3, 4]


def test_block_writes_waits_for_a_commit_already_in_progress(open_db):
    db = open_db()
    idx = db.create_index("t")
    idx.create_field("f", "set")
    inside, release = threading.Event(), threading.Event()
    blocked_seq: list[int] = []

    def slow_writer() -> None:
        with idx.transaction() as tx:
            tx.set(1, idx.definition.fields["f"], 7)
            inside.set()
            release.wait(30)

    def blocker() -> None:
        with db.block_writes("snapshot"):
            blocked_seq.append(idx.snapshot().seq)

    w = threading.Thread(target=slow_writer)
    w.start()
    assert inside.wait(30)
    b = threading.Thread(target=blocker)
    b.start()
    while db._barrier is None:                   # the block is raised, now waiting for the writer
        b.join(0.001)
    assert not blocked_seq
    release.set()
    w.join()
    b.join()
    assert blocked_seq == [idx.snapshot().seq] and idx.snapshot().seq >= 1   # it saw the commit


def test_read_view_is_consistent_and_immutable(open_db):
    db = open_db()
    _populate(db)
    view = db.read_view()
    seg, definition, state = view["seg"]
    count = db.query("seg", "Count(All())")[0]
    seg.set(123_456, "tags", "new")
    seg.create_field("added", "set")
    assert "added" not in definition.fields
    exists = sum(len(f.row(0)) for f in state.views(0)["standard"].values())
    assert exists == count


def test_snapshot_keeps_an_unopenable_index_as_found(open_db, tmp_path):
    db = open_db()
    _populate(db)
    path = db.path
    db.close()
    schema = os.path.join(path, "people", "SCHEMA")
    with open(schema, "rb") as f:
        raw = bytearray(f.read())
    raw[20] ^= 0xFF
    with open(schema, "wb") as f:
        f.write(bytes(raw))
    db = open_db(path)
    assert "people" in db.failed_indexes()
    info = db.snapshot(str(tmp_path / "snap"))
    assert info.failed == ["people"]
    assert (tmp_path / "snap" / "people" / "SCHEMA").read_bytes() == bytes(raw)
