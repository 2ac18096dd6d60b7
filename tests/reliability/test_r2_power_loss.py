"""R2: simulated power loss at every I/O step (RELIABILITY.md §4).

A fixed workload (create index and fields, three commits, the first of which passes
checkpoint_bytes and so runs a checkpoint, then close — which checkpoints again) runs
against FaultIO once to record the operation trace and the oracle state after each commit.
Then for k = 1..total mutating operations it runs again, "loses power" before op k, and
reopens every distinct crash image (unsynced writes dropped / last one torn at a 512-byte
boundary / zero-filled / everything kept, with directory operations undone or kept) with
the plain FileIO in a fresh directory.

Pass rule: the recovered state equals the oracle after commit j for some j >= the last
commit whose log fsync completed before op k; opening never fails; engine.check finds no
error in any crash image; and a commit made after recovery survives another reopen.
"""
from __future__ import annotations

import os
import random
import time

import numpy as np
import pytest

import engine
from faultio import FaultIO, SimulatedCrash, image_digest, materialize
from rel_common import EMPTY_DUMP, dump_holder, env_figures, fresh_dir, report, seed_for

pytestmark = pytest.mark.reliability

CKPT = 6000           # bytes: commit 1's frame (~7 KB) passes it, so commit 1 checkpoints
MODES = ("drop", "torn", "metakept", "keep")


def workload(root: str, io: FaultIO, commit_hook) -> None:  # type: ignore[no-untyped-def]
    """Deterministic: the same operations in the same order on every run."""
    rng = np.random.default_rng(20260101)
    cols = rng.choice(2**21, 1500, replace=False).astype(np.uint64)      # two shards
    rows1 = rng.integers(0, 3, 1500)
    rows3 = rng.integers(0, 3, 700)
    db = engine.open(root, fileio=io, checkpoint_bytes=CKPT)
    idx = db.create_index("i")
    idx.create_field("f")
    idx.create_field("tag", keys=True)

    commit_hook(1, "start", db)
    idx.import_values("f", cols, rows1)
    commit_hook(1, "done", db)

    commit_hook(2, "start", db)
    fd = idx.field("tag").definition
    with idx.transaction() as tx:
        for c in cols[:300].tolist():
            tx.set(c, fd, ("red", "green", "blue")[c % 3])
    commit_hook(2, "done", db)

    commit_hook(3, "start", db)
    idx.import_values("f", cols[:700], rows3, clear=True)
    commit_hook(3, "done", db)
    db.close()


def _trace(io: FaultIO, root: str) -> list[tuple[str, str]]:
    return [(o.kind, os.path.relpath(o.path, root)) for o in io.mutating_ops()]


def _sweep(scratch, modes: tuple[str, ...], name: str) -> tuple[str, list[str], int, int]:
    seed = seed_for("r2")
    rng = random.Random(seed)

    # --- reference run: trace, oracle after each commit, and each commit's log fsync --------
    ref_root = fresh_dir(str(scratch / "work"))   # same path as the crash runs: same hash order
    ref = FaultIO(ref_root)
    oracle = {0: EMPTY_DUMP}
    start_op: dict[int, int] = {}

    def record(j, phase, db):  # type: ignore[no-untyped-def]
        if phase == "start":
            start_op[j] = ref.mutating
        else:
            oracle[j] = dump_holder(db, "i")

    workload(ref_root, ref, record)
    total = ref.mutating
    trace = _trace(ref, ref_root)
    assert ref.model_matches_disk() == [], "FaultIO's model disagrees with the real directory"
    fsync_op = {}
    for j, s in start_op.items():
        fsync_op[j] = next(o.mut for o in ref.mutating_ops()
                           if o.mut > s and o.kind == "fsync" and os.path.basename(o.path).startswith("wal-"))
    assert len({repr(oracle[j]) for j in oracle}) == 4, "the oracle states must differ"
    with engine.open(ref_root) as db:
        assert dump_holder(db, "i") == oracle[3]

    explored = images = matching = violations = open_errors = check_errors = resumed = 0
    by_commit = {j: 0 for j in oracle}
    problems: list[str] = []
    max_open = 0.0
    t_start = time.perf_counter()
    for k in range(1, total + 1):
        work = fresh_dir(str(scratch / "work"))
        io = FaultIO(work, crash_at=k)
        try:
            workload(work, io, lambda *a: None)
        except SimulatedCrash:
            pass
        else:  # pragma: no cover - the crash point lies inside the workload
            raise AssertionError(f"no crash at op {k} of {total}")
        assert _trace(io, work) == trace[:k - 1], f"op trace diverged before op {k} (seed {seed})"
        explored += 1
        j_min = max([j for j, f in fsync_op.items() if f < k], default=0)
        seen: set[str] = set()
        for mode in modes:
            image = io.crash_image(mode, rng)
            digest = image_digest(image)
            if digest in seen:
                continue
            seen.add(digest)
            images += 1
            where = f"crash before op {k} ({trace[k - 1][0]} {trace[k - 1][1]}), image {mode}, seed {seed}"
            d = fresh_dir(str(scratch / "img"))
            materialize(image, d)
            rep = engine.check(d)
            if not rep.ok:
                check_errors += 1
                problems.append(f"{where}: check found errors in a crash image: {rep.findings}")
            t0 = time.perf_counter()
            try:
                db = engine.open(d, checkpoint_bytes=CKPT)
            except Exception as exc:  # any failure to open is the finding
                open_errors += 1
                problems.append(f"{where}: open failed: {exc!r}")
                continue
            max_open = max(max_open, time.perf_counter() - t0)
            try:
                if db.failed_indexes():
                    open_errors += 1
                    problems.append(f"{where}: index failed to open: {db.failed_indexes()!r}")
                    continue
                got = dump_holder(db, "i")
                match = [j for j, o in oracle.items() if o == got]
                if not match:
                    violations += 1
                    problems.append(f"{where}: state equals no commit boundary")
                    continue
                j = match[-1]
                by_commit[j] += 1
                if j < j_min:
                    violations += 1
                    problems.append(f"{where}: state of commit {j} but commit {j_min}'s fsync had completed")
                    continue
                matching += 1
                # Writes resume after recovery and survive another reopen.
                idx = db.index("i") if "i" in [x.name for x in db.indexes()] else None
                if idx is not None and "f" in idx.definition.fields:
                    idx.import_values("f", [3_000_001, 3_000_002], [9, 9])
                    after = dump_holder(db, "i")
                    db.close()
                    with engine.open(d, checkpoint_bytes=CKPT) as db2:
                        if dump_holder(db2, "i") != after:
                            violations += 1
                            problems.append(f"{where}: a commit made after recovery was lost on reopen")
                        else:
                            resumed += 1
            finally:
                db.close()

    summary = report(name, seed=seed, modes="/".join(modes), crash_points=explored, crash_images=images,
                     recoveries_matching_a_commit=matching, violations=violations,
                     open_errors=open_errors, check_errors=check_errors,
                     resumed_after_recovery=resumed, state_histogram=by_commit,
                     reopen_max_ms=max_open * 1000, elapsed_s=time.perf_counter() - t_start,
                     env=env_figures(str(scratch)))
    return summary, problems, matching, images


def test_r2_power_loss_at_every_io_step(scratch):
    summary, problems, matching, images = _sweep(scratch, MODES, "R2")
    assert not problems, summary + "\n" + "\n".join(problems[:20])
    assert matching == images, summary


def test_r2_power_loss_zero_filled_tail(scratch):
    summary, problems, matching, images = _sweep(scratch, ("zerofill",), "R2-zerofill")
    assert not problems, summary + "\n" + "\n".join(problems[:20])
    assert matching == images, summary
