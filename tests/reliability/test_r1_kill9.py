"""R1: kill -9 during bulk import (RELIABILITY.md §4; no server yet, so the child process
imports through the engine directly).

Each run starts r1_child.py on the same data directory; it imports batches of unique record
ids (each batch one import_records commit over a set field and a keyed field) and prints
`ack b` after each returns. The parent SIGKILLs it at a random moment (uniform 0.2–3 s after it reports
the directory open, i.e. while it imports), reopens the directory in-process
and checks every batch seen so far. Quick size: 5 runs, full size (slow): 40 (ROARBASE_R1_RUNS to change).

Pass rule: every acknowledged batch is fully present in both fields; every batch that began
but was not acknowledged is fully present or fully absent; nothing else is present; the
index opens without error each time.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import engine
from childenv import child_env
from rel_common import env_figures, median, report, seed_for, wal_bytes

pytestmark = pytest.mark.reliability

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH = 2000
CKPT = 1 << 20


def _present(db: engine.Holder, batches: set[int]) -> tuple[dict[int, tuple[int, int]], int, int]:
    """Per batch: (records in f, records in k); plus the total records in f and in k."""
    idx = db.index("imp")
    st = idx.snapshot()
    fid_f, fid_k = idx.field("f").definition.id, idx.field("k").definition.id
    all_f = np.concatenate([st.row(fid_f, "standard", r).to_numpy() for r in range(7)] or [np.empty(0, np.uint64)])
    km = idx.row_keys(idx.field("k").definition)
    all_k = np.concatenate([st.row(fid_k, "standard", rid).to_numpy() for _key, rid in km.items()]
                           or [np.empty(0, np.uint64)])
    f_counts = np.bincount((all_f // BATCH).astype(np.int64)) if len(all_f) else np.zeros(0, np.int64)
    k_counts = np.bincount((all_k // BATCH).astype(np.int64)) if len(all_k) else np.zeros(0, np.int64)

    def cnt(arr: np.ndarray, b: int) -> int:
        return int(arr[b]) if b < len(arr) else 0

    return {b: (cnt(f_counts, b), cnt(k_counts, b)) for b in batches}, len(all_f), len(all_k)


@pytest.mark.parametrize("runs", [pytest.param(5, id="quick"), pytest.param(40, id="full", marks=pytest.mark.slow)])
def test_r1_kill9_during_import(tmp_path, runs):
    seed = seed_for("r1")
    rng = random.Random(seed)
    runs = int(os.environ.get("ROARBASE_R1_RUNS", runs))
    data = str(tmp_path / "data")
    acked: set[int] = set()
    begun: set[int] = set()
    next_batch = 0
    problems: list[str] = []
    lost_rows = partial = 0
    recovery: list[float] = []
    replayed: list[int] = []
    acked_per_run: list[int] = []
    for run in range(runs):
        delay = rng.uniform(0.2, 3.0)
        err_path = str(tmp_path / f"child-{run}.err")
        with open(err_path, "w") as err_file:
            proc = subprocess.Popen([sys.executable, os.path.join(HERE, "r1_child.py"), data,
                                     str(next_batch), str(BATCH), str(CKPT)],
                                    env=child_env(), stdout=subprocess.PIPE, stderr=err_file, text=True)
        lines: list[str] = []
        ready = threading.Event()

        def pump(stream=proc.stdout, lines=lines, ready=ready) -> None:  # type: ignore[no-untyped-def]
            for line in stream:
                lines.append(line.strip())
                if line.startswith("ready"):
                    ready.set()
            ready.set()                           # EOF: the child died or exited

        reader = threading.Thread(target=pump, name=f"r1-stdout-{run}")
        reader.start()
        if not ready.wait(timeout=60):
            problems.append(f"run {run}: the child did not open the data directory within 60 s")
        time.sleep(delay)                         # importing: kill at a random moment
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        reader.join(timeout=30)
        proc.stdout.close()
        if proc.returncode != -signal.SIGKILL:
            with open(err_path) as fh:
                problems.append(f"run {run}: the child exited by itself ({proc.returncode}): {fh.read()[-2000:]}")
            break
        for line in lines:
            if line.startswith("begin "):
                begun.add(int(line.split()[1]))
            elif line.startswith("ack "):
                acked.add(int(line.split()[1]))
        acked_per_run.append(sum(1 for line in lines if line.startswith("ack ")))
        if begun:
            next_batch = max(begun) + 1

        wal = wal_bytes(os.path.join(data, "imp"))
        t0 = time.perf_counter()
        try:
            db = engine.open(data, checkpoint_bytes=CKPT)
        except Exception as exc:
            problems.append(f"run {run} (kill after {delay:.2f}s): reopen raised {exc!r}")
            break
        try:
            if "imp" in db.failed_indexes():
                problems.append(f"run {run}: the index failed to open: {db.failed_indexes()['imp']!r}")
                break
            if not os.path.isdir(os.path.join(data, "imp")) or not [i for i in db.indexes() if i.name == "imp"]:
                continue                          # killed before the index was created
            idx = db.index("imp")
            if "k" not in idx.definition.fields:
                continue
            recovery.append(time.perf_counter() - t0)
            replayed.append(wal)
            counts, total_f, total_k = _present(db, begun | acked)
            expected_f = expected_k = 0
            for b, (nf, nk) in sorted(counts.items()):
                full = nf == BATCH and nk == BATCH
                empty = nf == 0 and nk == 0
                if b in acked and not full:
                    lost_rows += 2 * BATCH - nf - nk
                    problems.append(f"run {run}: acknowledged batch {b} has {nf}/{BATCH} records in f, {nk} in k")
                elif not full and not empty:
                    partial += 1
                    problems.append(f"run {run}: batch {b} (not acknowledged) is partial: f {nf}, k {nk}")
                expected_f += nf
                expected_k += nk
            if (total_f, total_k) != (expected_f, expected_k):
                problems.append(f"run {run}: records outside every batch: f {total_f} vs {expected_f}, "
                                f"k {total_k} vs {expected_k}")
        finally:
            db.close()                            # checkpoints; the next child starts from a short log
        if problems:
            break

    summary = report("R1", seed=seed, runs=runs, batches_acked=len(acked), batches_begun=len(begun),
                     lost_acked_rows=lost_rows, partial_batches=partial, acked_per_run="/".join(map(str, acked_per_run)),
                     recovery_ms_p50=median(recovery) * 1000, recovery_ms_max=max(recovery, default=0) * 1000,
                     wal_bytes_replayed_max=max(replayed, default=0), wal_bytes_replayed_total=sum(replayed),
                     env=env_figures(str(tmp_path)))
    assert not problems, summary + "\n" + "\n".join(problems[:20])
    assert acked, summary + " (no batch was acknowledged in any run)"
