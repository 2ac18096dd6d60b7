"""Snapshots and restores under injected faults (engine/snapshots.py), with the FaultIO of
the storage tests: a crash (process kill: everything written survives; power loss: only
what was fsynced) or an I/O error at every mutating step.

Promises checked:
- taking a snapshot never changes the database, and a crash leaves either no complete
  snapshot (read_info refuses it) or a complete, correct one;
- an error while taking one is a typed StorageFull/StorageFailed error, the partial copy is
  gone and the database keeps working;
- a crash at any step of a restore is finished by restoring again from the same snapshot.
"""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

import engine
from engine import snapshots
from faultio import FaultIO, SimulatedCrash, materialize
from rel_common import dump_index, report


def _build(path: str) -> dict:
    db = engine.open(path, fsync=True)
    try:
        t = db.create_index("t", keys=True)
        t.create_field("tags", "set", keys=True)
        t.create_field("n", "int", min=0, max=1000)
        t.import_values("tags", [f"k{i}" for i in range(40)], [f"v{i % 4}" for i in range(40)])
        t.import_values("n", [f"k{i}" for i in range(40)], np.arange(40))
        u = db.create_index("u")
        u.create_field("f", "set")
        u.set(3, "f", 1)
        return _dump(db)
    finally:
        db.close()


def _dump(db: engine.Holder) -> dict:
    return {idx.name: dump_index(idx) for idx in db.indexes()}


def _open_dump(path: str) -> dict:
    db = engine.open(path, fsync=False)
    try:
        return _dump(db)
    finally:
        db.close()


def _count_ops(root: str, action) -> int:
    fio = FaultIO(root)
    action(fio)
    return fio.mutating


@pytest.mark.parametrize("mode", ["keep", "drop"])
def test_crash_at_every_step_of_taking_a_snapshot(scratch, mode):
    base = str(scratch / "base")
    expected = _build(os.path.join(base, "data"))

    def take(fio: FaultIO, root: str) -> None:
        db = engine.open(os.path.join(root, "data"), fsync=True, fileio=fio)
        try:
            db.snapshot(os.path.join(root, "snap"))
        finally:
            if not fio.crashed:
                db.close()

    work = str(scratch / "count")
    shutil.copytree(base, work)
    total = _count_ops(work, lambda fio: take(fio, work))
    complete = 0
    for k in range(1, total + 1):
        root = str(scratch / f"run{k}")
        shutil.copytree(base, root)
        fio = FaultIO(root, crash_at=k)
        with pytest.raises(SimulatedCrash):
            take(fio, root)
        image = str(scratch / f"image{k}")
        materialize(fio.crash_image(mode), image)
        assert _open_dump(os.path.join(image, "data")) == expected, k
        snap = os.path.join(image, "snap")
        try:
            snapshots.read_info(snap)
        except engine.DataCorruptedError:
            pass                                   # incomplete: never restored
        else:
            complete += 1
            assert _open_dump(snap) == expected, k
        shutil.rmtree(root)
        shutil.rmtree(image)
    print(report("snapshot-crash", mode=mode, crash_points=total, complete_snapshots=complete))
    assert total > 10


def test_an_error_at_every_write_while_taking_a_snapshot(scratch):
    base = str(scratch / "base")
    expected = _build(os.path.join(base, "data"))
    work = str(scratch / "count")
    shutil.copytree(base, work)
    fio = FaultIO(work)
    db = engine.open(os.path.join(work, "data"), fsync=True, fileio=fio)
    before = fio.writes
    db.snapshot(os.path.join(work, "snap"))
    writes = fio.writes - before
    db.close()
    assert writes > 0
    for k in range(1, writes + 1):
        root = str(scratch / f"w{k}")
        shutil.copytree(base, root)
        fio = FaultIO(root)
        db = engine.open(os.path.join(root, "data"), fsync=True, fileio=fio)
        fio.full_at_write = fio.writes + k
        fio.sticky = False
        with pytest.raises(engine.StorageFullError):
            db.snapshot(os.path.join(root, "snap"))
        assert not os.path.exists(os.path.join(root, "snap"))
        assert not os.path.exists(os.path.join(root, "snap" + snapshots.TMP_SUFFIX))
        assert _dump(db) == expected
        db.index("u").set(4, "f", 1)               # still writable
        db.snapshot(os.path.join(root, "snap"))  # and a retry succeeds
        db.close()
        shutil.rmtree(root)
    print(report("snapshot-enospc", write_points=writes))


@pytest.mark.parametrize("mode", ["keep", "drop"])
def test_a_crash_at_every_step_of_a_restore_is_finished_by_restoring_again(scratch, mode):
    base = str(scratch / "base")
    data = os.path.join(base, "data")
    expected = _build(data)
    db = engine.open(data, fsync=True)
    db.snapshot(os.path.join(base, "snap"))
    db.index("t").set("k1", "tags", "changed")
    db.drop_index("u")
    db.create_index("w")
    db.close()

    def restore(fio: FaultIO, root: str) -> None:
        engine.restore_snapshot(os.path.join(root, "snap"), os.path.join(root, "data"), fileio=fio, fsync=True)

    work = str(scratch / "count")
    shutil.copytree(base, work)
    total = _count_ops(work, lambda fio: restore(fio, work))
    for k in range(1, total + 1):
        root = str(scratch / f"run{k}")
        shutil.copytree(base, root)
        fio = FaultIO(root, crash_at=k)
        with pytest.raises(SimulatedCrash):
            restore(fio, root)
        image = str(scratch / f"image{k}")
        materialize(fio.crash_image(mode), image)
        engine.restore_snapshot(os.path.join(image, "snap"), os.path.join(image, "data"), fsync=False)
        assert _open_dump(os.path.join(image, "data")) == expected, k
        assert sorted(os.listdir(image)) == ["data", "snap"], k
        shutil.rmtree(root)
        shutil.rmtree(image)
    print(report("restore-crash", mode=mode, crash_points=total))
    assert total > 10
