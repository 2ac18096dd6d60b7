"""R4: a crash at every I/O step of a checkpoint (RELIABILITY.md §4).

A fixed workload builds two indexes (integer records over three shards with set, keyed and
int fields; string record keys), checkpoints once (so there are snapshot files to replace),
then commits changes of every kind a checkpoint handles: fragments rewritten, a fragment
that becomes empty (its file goes), new row keys and record keys, BSI planes. Then the
checkpoint under test runs, against FaultIO: for every mutating operation k of that
checkpoint (fragment and key-map writes, fsyncs, directory fsyncs, the new log, MANIFEST's
temp file and rename, removal of replaced files and of the old log) the power fails before
op k, and every distinct crash image (unsynced writes dropped / the last torn at 512 bytes
/ directory operations kept / everything kept) is reopened with the plain FileIO.

Pass rule for every image: `engine.check` finds no error; the database opens with no failed
index; the state equals the last commit (every commit was acknowledged before the
checkpoint began); a second checkpoint succeeds and leaves exactly the files its MANIFEST
names (check: no finding at all); a reopen after it gives the same state again.

Quick size (default suite): the workload below. Full size (`-m slow`): a bigger workload
with more shards and fields, so more crash points.
"""
from __future__ import annotations

import os
import random
import time

import numpy as np
import pytest

import engine
from faultio import FaultIO, SimulatedCrash, image_digest, materialize
from rel_common import dump_holder, env_figures, fresh_dir, report, seed_for

pytestmark = pytest.mark.reliability

MODES = ("drop", "torn", "metakept", "keep")
SHARD = 1 << 20
INDEXES = ("i", "r")


def workload(root: str, io: FaultIO, marks: dict[str, int], shards: int) -> None:
    """Deterministic: the same operations in the same order on every run. Records the
    mutating-op count where the checkpoint under test starts (marks["start"])."""
    rng = np.random.default_rng(4)
    cols = np.concatenate([s * SHARD + rng.choice(SHARD, 400, replace=False) for s in range(shards)])
    cols = np.sort(cols).astype(np.uint64)
    db = engine.open(root, fileio=io, checkpoint_bytes=1 << 30)
    i = db.create_index("i")
    i.create_field("f")
    i.create_field("k", keys=True)
    i.create_field("n", "int", min=-1000, max=1000)
    i.create_field("e")
    r = db.create_index("r", keys=True)
    r.create_field("t", keys=True)
    i.import_values("f", cols, rng.integers(0, 4, len(cols)))
    i.import_values("k", cols[::3], [f"k{x % 5}" for x in range(len(cols[::3]))])
    i.import_values("n", cols[::2], rng.integers(-1000, 1001, len(cols[::2])))
    i.import_values("e", cols[cols >= SHARD][:50], [7] * 50)          # only in shard 1
    r.import_values("t", [f"rec{x}" for x in range(60)], [f"t{x % 4}" for x in range(60)])
    db.checkpoint()                                                    # files to replace

    i.import_values("f", cols[::9], rng.integers(0, 4, len(cols[::9])), clear=True)     # every shard
    i.import_values("f", cols[::13], [9] * len(cols[::13]))
    i.clear_row("e", 7)                                                # a fragment becomes empty
    i.import_values("k", cols[1:40:3], [f"new{x}" for x in range(len(cols[1:40:3]))])
    i.import_values("n", cols[::11], rng.integers(-1000, 1001, len(cols[::11])))
    r.import_values("t", [f"rec{x}" for x in range(50, 90)], [f"u{x % 3}" for x in range(40)])
    marks["start"] = io.mutating
    db.checkpoint()                                                    # the checkpoint under test
    marks["end"] = io.mutating
    db.close()


def _state(db: engine.Holder) -> dict:
    return {name: dump_holder(db, name) for name in INDEXES}


def _sweep(scratch, shards: int, name: str) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    seed = seed_for("r4")
    rng = random.Random(seed)
    ref_root = fresh_dir(str(scratch / "work"))
    ref = FaultIO(ref_root)
    marks: dict[str, int] = {}
    workload(ref_root, ref, marks, shards)
    with engine.open(ref_root) as db:
        oracle = _state(db)
    assert all(oracle[n]["data"] for n in INDEXES)
    points = list(range(marks["start"] + 1, marks["end"] + 1))
    kinds = {}
    for o in ref.mutating_ops():
        if o.mut in points:
            kinds[o.kind] = kinds.get(o.kind, 0) + 1

    images = mismatches = open_errors = check_errors = second_ok = 0
    problems: list[str] = []
    t0 = time.perf_counter()
    for k in points:
        work = fresh_dir(str(scratch / "work"))
        io = FaultIO(work, crash_at=k)
        with pytest.raises(SimulatedCrash):
            workload(work, io, {}, shards)
        op = ref.mutating_ops()[k - 1]
        seen: set[str] = set()
        for mode in MODES:
            image = io.crash_image(mode, rng)
            digest = image_digest(image)
            if digest in seen:
                continue
            seen.add(digest)
            images += 1
            where = f"crash before op {k} ({op.kind} {os.path.relpath(op.path, ref_root)}), image {mode}, seed {seed}"
            d = fresh_dir(str(scratch / "img"))
            materialize(image, d)
            rep = engine.check(d)
            if not rep.ok:
                check_errors += 1
                problems.append(f"{where}: check: {[str(f) for f in rep.findings if f.severity == 'error']}")
            try:
                db = engine.open(d)
            except Exception as exc:  # any failure to open is the finding
                open_errors += 1
                problems.append(f"{where}: open failed: {exc!r}")
                continue
            try:
                if db.failed_indexes():
                    open_errors += 1
                    problems.append(f"{where}: failed indexes {db.failed_indexes()}")
                    continue
                if _state(db) != oracle:
                    mismatches += 1
                    problems.append(f"{where}: state differs from the last commit")
                    continue
                db.checkpoint()
            finally:
                db.close()
            rep = engine.check(d)
            with engine.open(d) as db:
                again = _state(db)
            if rep.findings:
                problems.append(f"{where}: after a second checkpoint: {[str(f) for f in rep.findings]}")
            elif again != oracle:
                mismatches += 1
                problems.append(f"{where}: state differs after the second checkpoint")
            else:
                second_ok += 1
    summary = report(name, seed=seed, crash_points=len(points), crash_images=images, mismatches=mismatches,
                     open_errors=open_errors, check_errors=check_errors,
                     second_checkpoint_ok=f"{second_ok}/{images}", ops=kinds,
                     elapsed_s=time.perf_counter() - t0, env=env_figures(str(scratch)))
    return summary, problems


def test_r4_crash_at_every_io_step_of_a_checkpoint(scratch):
    summary, problems = _sweep(scratch, 2, "R4")
    assert not problems, summary + "\n" + "\n".join(problems[:20])


@pytest.mark.slow
def test_r4_crash_at_every_io_step_of_a_checkpoint_full(scratch):
    summary, problems = _sweep(scratch, 6, "R4-full")
    assert not problems, summary + "\n" + "\n".join(problems[:20])
