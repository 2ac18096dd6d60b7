"""An import killed with SIGKILL at random points leaves the database, after a restart,
either exactly as before the import or exactly as fully merged — never in between.

Each run copies the world (import_testlib: a target database and a document that adds
properties, a table, columns, entities and rows in many small batches) and starts
import_child.py, which kills itself with a real SIGKILL just before a mutating file
operation picked uniformly over the whole import (restore point, merge, commit point,
clean-up). The parent then opens the data dir as a restarting server does (recover()) and
compares a battery of answers with both references. Quick size: 20 runs; `-m slow` runs
100 (ROARBASE_KILL9_RUNS overrides; seeds are printed and replayable with
ROARBASE_KILL9_SEED).
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys

import pytest

import import_testlib as T
from childenv import child_env
from rel_common import report, seed_for
from server.service import restore_points

HERE = os.path.dirname(os.path.abspath(__file__))
CHILD = os.path.join(HERE, "import_child.py")


def _child(data: str, doc: str, kill_at: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, CHILD, data, doc, str(kill_at)], env=child_env(), capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("runs", [pytest.param(20, id="quick"), pytest.param(100, id="full", marks=pytest.mark.slow)])
def test_sigkill_at_random_points(tmp_path, runs):
    runs = int(os.environ.get("ROARBASE_KILL9_RUNS", runs))
    rng = random.Random(seed_for("kill9"))
    base = str(tmp_path / "base")
    os.makedirs(base)
    doc = T.prepare(base, fsync=False, items=40)
    before, after = T.reference(base, doc, fsync=False)
    dry = str(tmp_path / "dry")
    shutil.copytree(os.path.join(base, "data"), dry)
    done = _child(dry, doc, 0)
    assert done.returncode == 0, done.stderr
    ops = int(done.stdout.split()[-1])
    assert ops > 30
    outcomes = {"unchanged": 0, "merged": 0}
    killed = 0
    for run in range(runs):
        kill_at = rng.randint(1, ops)
        data = str(tmp_path / f"run{run}")
        shutil.copytree(os.path.join(base, "data"), data)
        proc = _child(data, doc, kill_at)
        assert proc.returncode == -signal.SIGKILL, (kill_at, proc.returncode, proc.stderr[-2000:])
        killed += 1
        ctx = T.open_ctx(data, fsync=False)                 # the restart
        try:
            got = T.answers(ctx, T.root_of(ctx))
            assert got in (before, after), f"kill at op {kill_at} of {ops}: neither unchanged nor fully merged"
            outcomes["unchanged" if got == before else "merged"] += 1
            assert not restore_points.leftovers(ctx)
            db = T.databases.get_database_by_name(ctx, T.root_of(ctx), T.TARGET)
            assert db.state == "RUNNING"
        finally:
            ctx.close()
        shutil.rmtree(data)
    print(report("import-kill9", runs=runs, killed=killed, ops_per_import=ops, **outcomes))
    assert killed == runs
