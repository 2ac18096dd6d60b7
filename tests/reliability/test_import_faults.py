"""Imports under injected faults, in process, with the storage tests' FaultIO under the whole
data dir (engine directories, restore points): an error or a crash at every step.

- ENOSPC at every write, EIO at every fsync: the import fails with error_data.reverted =
  true and the target answers every question exactly as before (or, for a fault the engine
  absorbs after a durable commit, the import completes and answers as fully merged);
- a fault that never clears (the disk stays full): the revert fails too and the database
  is FROZEN, saying why, and stays FROZEN after a restart;
- a crash at every mutating step (kill -9: everything written survives; power loss: only
  what was fsynced — meta.db is SQLite's own, synchronous=FULL): after a restart the
  target answers either exactly as before or exactly as fully merged, never in between.

Batches are made tiny (4 entities, 1 row) so the merge commits many times.
"""
from __future__ import annotations

import os
import shutil

import pytest

import import_testlib as T
from faultio import FaultIO, SimulatedCrash, materialize
from rel_common import report
from server.service import restore_points, transfers
from server.service.errors import ServiceError


@pytest.fixture
def world(scratch, monkeypatch):
    monkeypatch.setattr(transfers, "ENTITY_BATCH", 4)
    monkeypatch.setattr(transfers, "ROW_BATCH", 1)
    base = str(scratch / "base")
    os.makedirs(base)
    doc = T.prepare(base)
    before, after = T.reference(base, doc)
    assert before != after
    return base, doc, before, after


def _run(base: str, work: str, doc: str, **faults) -> tuple[FaultIO, object, object]:
    """Import on a copy with faults armed once the service is open; returns (fio, ctx,
    outcome: the ImportResult or the exception)."""
    shutil.copytree(os.path.join(base, "data"), work)
    fio = FaultIO(work)
    ctx = T.open_ctx(work, fsync=True, fileio=fio)
    root = T.root_of(ctx)
    db = T.databases.get_database_by_name(ctx, root, T.TARGET)
    for name, value in faults.items():
        if name == "full_at_write":
            value += fio.writes
        elif name in ("eio_at_fsync",):
            value += fio.fsyncs
        elif name == "crash_at":
            value += fio.mutating
        setattr(fio, name, value)
    try:
        outcome: object = transfers.import_database(ctx, root, db.id, doc)
    except (ServiceError, SimulatedCrash) as exc:
        outcome = exc
    return fio, ctx, outcome


def _baseline(base: str, scratch, doc: str) -> tuple[int, int, int]:
    """Mutating ops, writes and fsyncs of the import alone (the service's opening excluded)."""
    work = str(scratch / "baseline")
    shutil.copytree(os.path.join(base, "data"), work)
    fio = FaultIO(work)
    ctx = T.open_ctx(work, fsync=True, fileio=fio)
    root = T.root_of(ctx)
    db = T.databases.get_database_by_name(ctx, root, T.TARGET)
    m, w, f = fio.mutating, fio.writes, fio.fsyncs
    transfers.import_database(ctx, root, db.id, doc)
    out = (fio.mutating - m, fio.writes - w, fio.fsyncs - f)
    ctx.close()
    shutil.rmtree(work)
    return out


def _answers(ctx) -> str:
    return T.answers(ctx, T.root_of(ctx))


@pytest.mark.parametrize("fault", ["enospc", "eio"])
def test_an_error_at_every_step_reverts_to_the_state_before(world, scratch, fault):
    base, doc, before, after = world
    _, writes, fsyncs = _baseline(base, scratch, doc)
    points = writes if fault == "enospc" else fsyncs
    reverted = completed = 0
    for k in range(1, points + 1):
        work = str(scratch / f"{fault}{k}")
        faults = {"full_at_write": k, "sticky": False} if fault == "enospc" else {"eio_at_fsync": k}
        fio, ctx, outcome = _run(base, work, doc, **faults)
        try:
            assert fio.faults_injected, k
            if isinstance(outcome, ServiceError):
                assert outcome.details.get("reverted") is True, (k, outcome)
                assert outcome.code in ("StorageFull", "ServiceUnavailable", "InternalServerError"), (k, outcome)
                assert _answers(ctx) == before, k
                assert not restore_points.leftovers(ctx), k
                reverted += 1
            else:
                assert _answers(ctx) == after, k
                completed += 1
        finally:
            ctx.close()
            shutil.rmtree(work)
    print(report(f"import-{fault}", fault_points=points, reverted=reverted, completed_anyway=completed))
    assert reverted >= points // 2


def test_a_failing_revert_freezes_the_database(world, scratch):
    base, doc, before, _after = world
    _, writes, _ = _baseline(base, scratch, doc)
    work = str(scratch / "frozen")
    fio, ctx, outcome = _run(base, work, doc, full_at_write=writes // 2, sticky=True)   # the disk stays full
    try:
        assert isinstance(outcome, ServiceError) and outcome.details.get("reverted") is False
        assert outcome.details.get("frozen") is True
        db = T.databases.get_database_by_name(ctx, T.root_of(ctx), T.TARGET)
        assert db.state == "FROZEN" and db.warnings == ["database_frozen"]
        assert "restoring the state before it failed too" in db.state_reason and "disk full" in db.state_reason
        assert restore_points.complete(ctx, db.id)             # kept for the operator
    finally:
        fio.clear_faults()
        ctx.close()
    ctx = T.open_ctx(work, fsync=True)                           # a restart does not thaw it
    try:
        root = T.root_of(ctx)
        db = T.databases.get_database_by_name(ctx, root, T.TARGET)
        assert db.state == "FROZEN"
        with pytest.raises(ServiceError) as info:
            T.query.sql(ctx, root, db.id, "SELECT COUNT(*) FROM t")
        assert info.value.code == "IncorrectState"
        T.databases.delete_database(ctx, root, db.id, wait=True)  # FROZEN can only be deleted
        assert not restore_points.leftovers(ctx)
    finally:
        ctx.close()


def _abandon(ctx, fio: FaultIO) -> None:
    """The process 'died': release what the test process holds without any I/O."""
    fio.close_all()
    ctx.store.close()
    os.close(ctx._lock_fd)
    if ctx._background is not None:
        ctx._background.shutdown(wait=True)


def _crash_image(fio: FaultIO, work: str, dest: str, mode: str) -> None:
    """What the directory holds after the crash: FaultIO's model for the engine's files
    (mode "keep" = kill -9, "drop" = power loss), SQLite's own files as they are."""
    if mode == "keep":
        shutil.copytree(work, dest)
        return
    materialize(fio.crash_image(mode), dest)
    for name in os.listdir(work):
        if name.startswith("meta.db"):
            shutil.copy2(os.path.join(work, name), os.path.join(dest, name))


@pytest.mark.parametrize("mode, stride", [("keep", 1), ("drop", 5),
                                          pytest.param("drop", 1, marks=pytest.mark.slow, id="drop-every")])
def test_a_crash_at_any_step_leaves_it_unchanged_or_fully_merged(world, scratch, mode, stride):
    base, doc, before, after = world
    ops, _, _ = _baseline(base, scratch, doc)
    unchanged = merged = 0
    for k in range(1, ops + 1, stride):
        work = str(scratch / f"crash{k}")
        fio, ctx, outcome = _run(base, work, doc, crash_at=k)
        assert isinstance(outcome, SimulatedCrash), (k, outcome)
        _abandon(ctx, fio)
        image = str(scratch / f"image{k}")
        _crash_image(fio, work, image, mode)
        ctx = T.open_ctx(image, fsync=True)                      # the restart: recover()
        try:
            got = _answers(ctx)
            assert got in (before, after), k
            unchanged += got == before
            merged += got == after
            assert not restore_points.leftovers(ctx), k
        finally:
            ctx.close()
            shutil.rmtree(work)
            shutil.rmtree(image)
    print(report("import-crash", mode=mode, crash_points=len(range(1, ops + 1, stride)), unchanged=unchanged,
                 merged=merged))
    assert unchanged and merged
