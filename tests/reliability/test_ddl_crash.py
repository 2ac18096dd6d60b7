"""Power loss at every I/O step of create_index and drop_index (issue 14, finding 5).

An index is built under `.creating-<name>` and renamed into place; a drop renames it to
`.dropped-<name>` before removing it. For every crash point and crash image: the database
opens with no failed index, the index is either absent or complete (empty after a create;
every committed bit after a drop that did not finish), `engine.check` finds no error, no
scratch directory survives the reopen, and the other index is untouched.
"""
from __future__ import annotations

import os
import random

import pytest

import engine
from faultio import FaultIO, SimulatedCrash, image_digest, materialize
from rel_common import EMPTY_DUMP, dump_holder, fresh_dir, report, seed_for

pytestmark = pytest.mark.reliability
MODES = ("drop", "torn", "metakept", "keep")


def _setup(root: str) -> None:
    with engine.open(root) as db:
        db.create_index("keep").create_field("f")
        db.index("keep").set(1, "f", 1)
        gone = db.create_index("gone")
        gone.create_field("g", keys=True)
        gone.import_values("g", list(range(50)), [f"v{i % 3}" for i in range(50)])


def _ddl(root: str, io: FaultIO) -> None:
    db = engine.open(root, fileio=io)
    db.drop_index("gone")
    db.create_index("new", keys=True).create_field("h")
    db.close()


def test_crash_at_every_io_step_of_create_and_drop(scratch):
    seed = seed_for("ddl")
    rng = random.Random(seed)
    base = fresh_dir(str(scratch / "base"))
    _setup(base)
    with engine.open(base) as db:
        keep, gone = dump_holder(db, "keep"), dump_holder(db, "gone")
    ref_root = fresh_dir(str(scratch / "work"))
    materialize(FaultIO(base).crash_image("keep"), ref_root)
    ref = FaultIO(ref_root)
    _ddl(ref_root, ref)
    total = ref.mutating

    images = 0
    problems: list[str] = []
    outcomes = {"gone-kept": 0, "gone-dropped": 0, "new-absent": 0, "new-present": 0}
    for k in range(1, total + 1):
        work = fresh_dir(str(scratch / "work"))
        materialize(FaultIO(base).crash_image("keep"), work)
        io = FaultIO(work, crash_at=k)
        with pytest.raises(SimulatedCrash):
            _ddl(work, io)
        seen: set[str] = set()
        for mode in MODES:
            image = io.crash_image(mode, rng)
            digest = image_digest(image)
            if digest in seen:
                continue
            seen.add(digest)
            images += 1
            where = f"crash before op {k}/{total}, image {mode}, seed {seed}"
            d = fresh_dir(str(scratch / "img"))
            materialize(image, d)
            rep = engine.check(d)
            if not rep.ok:
                problems.append(f"{where}: check: {rep.findings}")
            with engine.open(d) as db:
                names = sorted(i.name for i in db.indexes())
                if db.failed_indexes():
                    problems.append(f"{where}: failed indexes {db.failed_indexes()}")
                if dump_holder(db, "keep") != keep:
                    problems.append(f"{where}: index 'keep' changed")
                g = dump_holder(db, "gone")
                if "gone" in names and g != gone:
                    problems.append(f"{where}: 'gone' half dropped")
                outcomes["gone-kept" if "gone" in names else "gone-dropped"] += 1
                if "new" in names and dump_holder(db, "new") != EMPTY_DUMP:
                    problems.append(f"{where}: 'new' is not empty")
                outcomes["new-present" if "new" in names else "new-absent"] += 1
                if "new" in names:                            # usable
                    new = db.index("new")
                    if "h" not in new.definition.fields:
                        new.create_field("h")
                    new.set("r1", "h", 3)
            leftovers = [n for n in os.listdir(d) if n.startswith(".")]
            if leftovers:
                problems.append(f"{where}: scratch directories left after open: {leftovers}")
    problems_n = len(problems)
    summary = report("DDL-crash", seed=seed, crash_points=total, crash_images=images, violations=problems_n,
                     outcomes=outcomes)
    assert not problems, summary + "\n" + "\n".join(problems[:10])
    assert outcomes["gone-kept"] and outcomes["gone-dropped"] and outcomes["new-absent"] \
        and outcomes["new-present"], summary
