"""R10: snapshot consistency under concurrent writes (RELIABILITY.md §4).

Invariant: every record is in 0 or all 10 of rows 1..10 of set field f. Two writer threads
run transactions that keep it (`with idx.transaction() as tx:` setting, or clearing, one
to five records in all ten rows via tx.set / tx.clear); checkpoint_bytes is small so
checkpoints run under the readers too. Four reader threads take `idx.snapshot()` and check
the invariant on it (union of the ten rows == their intersection), then read the same
snapshot again and require the same answer (a snapshot never moves). Readers run alone
first (idle latency), then with the writers. Quick size: ~5 s, full size (slow): ~60 s (ROARBASE_R10_SECONDS).

Pass rule: zero violations, zero unstable snapshots, no thread error; the final state keeps
the invariant and survives close + reopen unchanged.
"""
from __future__ import annotations

import os
import random
import threading
import time

import numpy as np
import pytest

import engine
from engine.storage.fileio import FileIO
from rel_common import dump_holder, env_figures, pct, report, seed_for

pytestmark = pytest.mark.reliability

ROWS = range(1, 11)
RECORDS = 5000


class _CountingIO(FileIO):
    """The plain FileIO, counting checkpoints (each ends by renaming MANIFEST into place)."""

    checkpoints = 0

    def rename(self, src: str, dst: str) -> None:
        super().rename(src, dst)
        if os.path.basename(dst) == "MANIFEST":
            self.checkpoints += 1


@pytest.mark.parametrize("seconds", [pytest.param(5, id="quick"), pytest.param(60, id="full", marks=pytest.mark.slow)])
def test_r10_snapshot_consistency(tmp_path, seconds):
    seed = seed_for("r10")
    seconds = float(os.environ.get("ROARBASE_R10_SECONDS", seconds))
    idle_seconds = min(0.6, seconds / 8)
    data = str(tmp_path / "data")
    fio = _CountingIO()
    db = engine.open(data, fileio=fio, checkpoint_bytes=256 << 10)
    idx = db.create_index("s")
    idx.create_field("f")
    fd = idx.field("f").definition
    start = np.arange(0, RECORDS, 2, dtype=np.uint64)
    idx.import_values("f", np.tile(start, 10), np.repeat(np.arange(1, 11), len(start)))

    stop_writers = threading.Event()
    stop_readers = threading.Event()
    writers_on = threading.Event()
    lock = threading.Lock()
    errors: list[str] = []
    stats = {"writes": 0, "reads": 0, "violations": 0, "unstable": 0}
    lat_idle: list[float] = []
    lat_busy: list[float] = []

    def check(st) -> tuple[int, int]:  # type: ignore[no-untyped-def]
        rows = [st.row(fd.id, "standard", r) for r in ROWS]
        union = rows[0].union(*rows[1:])
        inter = rows[0].intersection(*rows[1:])
        return len(union), len(inter)

    def reader() -> None:
        try:
            while not stop_readers.is_set():
                busy = writers_on.is_set()
                t0 = time.perf_counter()
                st = idx.snapshot()
                u, i = check(st)
                dt = time.perf_counter() - t0
                time.sleep(0)                             # let a writer commit in between
                again = check(st)
                with lock:
                    stats["reads"] += 1
                    (lat_busy if busy else lat_idle).append(dt)
                    if u != i:
                        stats["violations"] += 1
                        if stats["violations"] <= 5:
                            errors.append(f"violation at seq {st.seq}: union {u} != intersection {i}")
                    if again != (u, i):
                        stats["unstable"] += 1
                        if stats["unstable"] <= 5:
                            errors.append(f"snapshot seq {st.seq} changed under the reader: {(u, i)} -> {again}")
        except BaseException as exc:
            errors.append(f"reader: {exc!r}")

    def writer(wid: int) -> None:
        rng = random.Random(seed * 10 + wid)
        try:
            writers_on.wait()
            while not stop_writers.is_set():
                cols = [rng.randrange(RECORDS) for _ in range(rng.choice((1, 1, 1, 5)))]
                setting = rng.random() < 0.6
                with idx.transaction() as tx:
                    for c in cols:
                        for r in ROWS:
                            if setting:
                                tx.set(c, fd, r)
                            else:
                                tx.clear(c, fd, r)
                with lock:
                    stats["writes"] += 1
        except BaseException as exc:
            errors.append(f"writer {wid}: {exc!r}")

    readers = [threading.Thread(target=reader, name=f"r10-reader-{i}") for i in range(4)]
    writers = [threading.Thread(target=writer, args=(i,), name=f"r10-writer-{i}") for i in range(2)]
    for t in readers + writers:
        t.start()
    try:
        time.sleep(idle_seconds)
        seq0 = idx.snapshot().seq
        t_busy = time.perf_counter()
        writers_on.set()
        time.sleep(seconds - idle_seconds)
    finally:
        writers_on.set()
        stop_writers.set()
        for t in writers:
            t.join(timeout=60)
        busy_elapsed = time.perf_counter() - t_busy
        stop_readers.set()
        for t in readers:
            t.join(timeout=60)
    final_seq = idx.snapshot().seq
    u, i = check(idx.snapshot())
    final = dump_holder(db, "s")
    db.close()
    with engine.open(data) as db2:
        reopened = dump_holder(db2, "s")
        u2, i2 = check(db2.index("s").snapshot())

    summary = report("R10", seed=seed, seconds=seconds, reads=stats["reads"], write_txns=stats["writes"],
                     violations=stats["violations"], unstable_snapshots=stats["unstable"],
                     read_ms_idle_p50=pct(lat_idle, 50) * 1000, read_ms_idle_p99=pct(lat_idle, 99) * 1000,
                     read_ms_p50=pct(lat_busy, 50) * 1000, read_ms_p99=pct(lat_busy, 99) * 1000,
                     writer_commits_per_s=stats["writes"] / max(busy_elapsed, 1e-9),
                     commits_seen=final_seq - seq0, checkpoints=fio.checkpoints, records_in_all_rows=i,
                     env=env_figures(data))
    assert not errors, summary + "\n" + "\n".join(errors[:10])
    assert stats["violations"] == 0 and stats["unstable"] == 0, summary
    assert stats["writes"] > 0 and lat_busy and lat_idle, summary
    assert u == i and u2 == i2, summary + " (final state breaks the invariant)"
    assert reopened == final, summary + " (state changed across close + reopen)"
