"""R7: fsync failure (RELIABILITY.md §4, PostgreSQL's fsyncgate).

A fixed workload (create index and fields, six commits, checkpoints forced by a small
checkpoint_bytes) runs once to count its fsyncs (file and directory); then for every k the
k-th fsync raises EIO. As on Linux, the failed fsync makes nothing durable: FaultIO's model
keeps the old durable bytes while the real file keeps the written ones.

Pass rule, for every k: the operation raises StorageFailedError (not acknowledged, nothing
else raised); reads still answer the last acknowledged state; every later write raises
StorageFailedError without touching the disk (no write, and no retry of the fsync); after
close, the power-loss image taken at the failure reopens to exactly the last commit whose
log fsync succeeded, and the real directory (where the kernel kept the pages) reopens to
that commit or the one that failed, nothing in between.
"""
from __future__ import annotations

import os
import shutil
from typing import Any, Callable

import numpy as np
import pytest

import engine
from faultio import FaultIO, materialize
from rel_common import dump_holder, env_figures, fresh_dir, report, seed_for

pytestmark = pytest.mark.reliability

CKPT = 5000


def _ops() -> list[tuple[str, Callable[[Any], Any]]]:
    rng = np.random.default_rng(77)
    cols = [rng.choice(2**21, 700, replace=False) for _ in range(6)]
    rows = [rng.integers(0, 4, 700) for _ in range(6)]

    def imp(i: int) -> Callable[[Any], Any]:
        return lambda db: db.index("d").import_values("f", cols[i], rows[i])

    def keyed(db: Any) -> None:
        idx = db.index("d")
        with idx.transaction() as tx:          # a read-only index refuses before the field lookup
            fd = idx.field("k").definition
            for c in cols[0][:200].tolist():
                tx.set(c, fd, f"v{c % 11}")

    return [
        ("create_index", lambda db: db.create_index("d")),
        ("create_field f", lambda db: db.index("d").create_field("f")),
        ("create_field k", lambda db: db.index("d").create_field("k", keys=True)),
        ("import 0", imp(0)),
        ("import 1", imp(1)),
        ("keyed set", keyed),
        ("import 2", imp(2)),
        ("clear", lambda db: db.index("d").import_values("f", cols[1][:300], rows[1][:300], clear=True)),
        ("import 3", imp(3)),
    ]


def _reference(root: str) -> tuple[list[dict], list[str]]:  # type: ignore[type-arg]
    """The oracle after each operation, and each fsync's class: "log" for the fsync of a
    commit's log append, "other" for everything else (SCHEMA, create_index's log header,
    fragments, key maps, MANIFEST, a checkpoint's new log header, directories)."""
    fresh_dir(root)
    ref = FaultIO(root)
    db = engine.open(root, fileio=ref, checkpoint_bytes=CKPT)
    oracle = [dump_holder(db, "d")]
    classes: list[str] = []
    for i, (_name, op) in enumerate(_ops()):
        n0 = len(ref.ops)
        op(db)
        oracle.append(dump_holder(db, "d"))
        first_log_fsync = True
        for o in ref.ops[n0:]:
            if o.kind in ("fsync", "fsync_dir"):
                is_log = o.kind == "fsync" and os.path.basename(o.path).startswith("wal-") and i >= 3
                classes.append("log" if is_log and first_log_fsync else "other")
                first_log_fsync = first_log_fsync and not is_log
    db.close()
    assert len(classes) == ref.fsyncs
    return oracle, classes


def _sweep(scratch, which: str, name: str) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    seed = seed_for("r7")
    ops = _ops()
    root = str(scratch / "work")
    oracle, classes = _reference(root)
    points = [k for k in range(1, len(classes) + 1) if classes[k - 1] == which]

    problems: list[str] = []
    failed_ok = acks_after = retried = reopen_ok = real_ok = 0
    for k in points:
        fresh_dir(root)
        io = FaultIO(root, eio_at_fsync=k)
        db = engine.open(root, fileio=io, checkpoint_bytes=CKPT)
        where = f"fsync {k} (seed {seed})"
        fail_i = None
        image = None
        acked_after = False
        try:
            for i, (opname, op) in enumerate(ops):
                try:
                    op(db)
                    continue
                except engine.StorageFailedError:
                    pass
                except BaseException as exc:
                    problems.append(f"{where}: {opname} raised {type(exc).__name__}, not StorageFailedError: {exc!r}")
                    break
                fail_i = i
                where += f" in {opname}: {io.faults_injected[0].kind} {os.path.relpath(io.faults_injected[0].path, root)}"
                image = io.crash_image("drop")           # power loss right after the failed fsync
                n_fail = len(io.ops)
                now = dump_holder(db, "d")
                if now != oracle[i] and not (which == "other" and now == oracle[i + 1]):
                    problems.append(f"{where}: reads after the failure do not show the last acknowledged state")
                # Every later write is refused, without I/O.
                for later_name, later in ops[i:]:
                    if later_name.startswith("create_index"):
                        continue
                    try:
                        later(db)
                        acks_after += 1
                        problems.append(f"{where}: {later_name} was acknowledged after the fsync failure")
                        acked_after = True
                    except engine.StorageFailedError:
                        pass
                    except engine.IndexNotFoundError:
                        if opname != "create_index":        # a failed create_index leaves no index
                            problems.append(f"{where}: {later_name} after the failure: index not found")
                    except BaseException as exc:
                        problems.append(f"{where}: {later_name} after the failure raised {exc!r}")
                touched = [o for o in io.ops[n_fail:] if o.kind in ("write", "fsync", "fsync_dir", "rename", "truncate")]
                if touched:
                    retried += 1
                    problems.append(f"{where}: I/O after the fsync failure: "
                                    f"{[(o.kind, os.path.relpath(o.path, root)) for o in touched[:4]]}")
                break
            else:
                # The failure came after the last commit was acknowledged (in its
                # checkpoint): closing the database must report it.
                try:
                    db.close()
                    problems.append(f"{where}: no operation reported the failed fsync")
                except engine.StorageFailedError:
                    pass
        finally:
            try:
                db.close()
            except BaseException as exc:
                problems.append(f"{where}: close raised {exc!r}")
            io.close_all()
        if fail_i is None or image is None:
            continue
        failed_ok += 1
        # fsyncgate model: the failed fsync made nothing durable, then the power went.
        img = fresh_dir(str(scratch / "img"))
        materialize(image, img)
        with engine.open(img) as db2:
            got = dump_holder(db2, "d")
        if got == oracle[fail_i] or (which == "other" and got == oracle[fail_i + 1]):
            reopen_ok += 1
        else:
            problems.append(f"{where}: the power-loss image reopens to a state other than the last good commit")
        # The real directory: the kernel kept the pages, so the failed commit may be there.
        with engine.open(root) as db3:
            got = dump_holder(db3, "d")
        if got in (oracle[fail_i], oracle[fail_i + 1]):
            real_ok += 1
        elif not acked_after:              # (already reported) writes acknowledged after the failure
            problems.append(f"{where}: the real directory reopens to a partial state")

    summary = report(name, seed=seed, fsyncs_in_workload=len(classes), fault_points=len(points),
                     storage_failed_raised=failed_ok, acks_after_fsync_failure=acks_after,
                     io_after_failure=retried, power_loss_image_equals_oracle=f"{reopen_ok}/{len(points)}",
                     real_dir_all_or_nothing=f"{real_ok}/{len(points)}", env=env_figures(str(scratch)))
    assert points, summary
    return summary, problems


def test_r7_fsync_failure_on_commit(scratch):
    """EIO at the fsync of every commit's log append."""
    summary, problems = _sweep(scratch, "log", "R7")
    assert not problems, summary + "\n" + "\n".join(problems[:20])


def test_r7_fsync_failure_elsewhere(scratch):
    """EIO at every other fsync: schema, checkpoint files, directories, log headers."""
    summary, problems = _sweep(scratch, "other", "R7-other-fsyncs")
    assert not problems, summary + "\n" + "\n".join(problems[:20])


def test_r7_failed_log_header_fsync_then_kill(scratch):
    """The data loss that test_r7_fsync_failure_elsewhere's findings lead to, step by step."""
    def setup(root: str, io: FaultIO) -> engine.Holder:
        db = engine.open(root, fileio=io, checkpoint_bytes=1)        # every commit checkpoints
        db.create_index("i").create_field("f")
        return db

    # Which fsync is the checkpoint's new log header? Count it in a reference run.
    ref = FaultIO(str(scratch / "ref"))
    db = setup(str(scratch / "ref"), ref)
    n0 = ref.fsyncs
    db.index("i").import_values("f", [1], [1])
    syncs = [o for o in ref.ops if o.kind in ("fsync", "fsync_dir")]
    k = 1 + next(n for n, o in enumerate(syncs) if n >= n0 and o.kind == "fsync"
                 and os.path.basename(o.path) == "wal-0000000000000002.log")
    db.close()

    d = str(scratch / "a")
    io = FaultIO(d, eio_at_fsync=k)
    db = setup(d, io)
    idx = db.index("i")
    idx.import_values("f", [1], [1])               # durable; the fsync of its checkpoint's new log header fails
    assert isinstance(idx.last_checkpoint_error, engine.StorageFailedError)
    with pytest.raises(engine.StorageFailedError):  # fsyncgate: no more writes until reopened
        idx.import_values("f", [2], [1])
    d2 = str(scratch / "b")
    materialize(io.crash_image("keep"), d2)        # what kill -9 leaves
    db.close()                                     # closing a read-only index does not write
    db2 = engine.open(d2)
    assert list(db2.index("i").field("f").row(1)) == [1]
    db2.index("i").import_values("f", [3], [1])    # acknowledged after recovery
    d3 = str(scratch / "c")
    shutil.copytree(d2, d3)                        # killed again (the page cache survives)
    db2.close()
    with engine.open(d3) as db3:
        got = list(db3.index("i").field("f").row(1))
    report("R7-header-fsync-then-kill", recovered=got, expected=[1, 3])
    assert got == [1, 3], f"acknowledged commit lost: {got}"
