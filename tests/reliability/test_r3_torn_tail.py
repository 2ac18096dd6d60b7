"""R3: torn write-ahead-log tail (RELIABILITY.md §4).

Commit A, then commit B (one frame of several KB, with new keys). Cut the log at every
512-byte offset inside B's frame (plus a few offsets inside its 16-byte header and the
last byte), and for each cut also append garbage variants: random bytes, zeros up to B's
old end (size durable, data not), and a forged frame header with a huge length. Reopen.

Pass rule: opening raises nothing and the index opens; the state equals the state after
A (keys allocated by B gone too); the log is truncated back to A's end; engine.check
reports no error (a torn-tail warning at most); and a commit made after recovery lands in
a well-formed log (a copy taken before close reopens with A + that commit).
"""
from __future__ import annotations

import os
import random
import shutil
import struct
import time

import numpy as np
import pytest

import engine
from rel_common import dump_holder, env_figures, fresh_dir, report, seed_for

pytestmark = pytest.mark.reliability


def _wal(index_dir: str) -> str:
    (name,) = [n for n in os.listdir(index_dir) if n.startswith("wal-")]
    return os.path.join(index_dir, name)


def test_r3_torn_tail(scratch):
    seed = seed_for("r3")
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)

    tpl = fresh_dir(str(scratch / "tpl"))
    db = engine.open(tpl)
    idx = db.create_index("t")
    idx.create_field("f")
    idx.create_field("k", keys=True)
    idx.import_values("f", nrng.choice(2**20, 500, replace=False), nrng.integers(0, 4, 500))        # A
    idx.import_values("k", [1, 2, 3], ["a", "b", "a"])
    wal = _wal(os.path.join(tpl, "t"))
    a_end = os.path.getsize(wal)
    state_a = dump_holder(db, "t")
    cols_b = nrng.choice(2**21, 1500, replace=False)
    keys_b = np.array([f"key-{i % 13}" for i in range(1500)], dtype=object)
    idx.import_records(cols_b, {"f": nrng.integers(0, 4, 1500), "k": keys_b})                       # B
    b_end = os.path.getsize(wal)
    state_b = dump_holder(db, "t")
    assert b_end - a_end > 4096, f"B's frame should span several KB, got {b_end - a_end} bytes"
    assert state_a != state_b
    src = fresh_dir(str(scratch / "src"))
    shutil.rmtree(src)
    shutil.copytree(tpl, src)              # the files as the live process left them (all fsynced)
    db.close()
    with open(os.path.join(src, "t", os.path.basename(wal)), "rb") as f:
        full = f.read()
    assert len(full) == b_end
    b_seq = struct.unpack_from("<IQI", full, a_end)[1]

    offsets = sorted({a_end, a_end + 1, a_end + 8, a_end + 15, b_end - 1}
                     | {o for o in range(a_end, b_end) if o % 512 == 0})
    cases: list[tuple[str, int, bytes]] = []
    for o in offsets:
        cases.append(("cut", o, b""))
        cases.append(("garbage", o, bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4096)))))
        cases.append(("zeros", o, bytes(b_end - o)))
        cases.append(("forged", o, struct.pack("<IQI", 0x7FFF_FFFF, b_seq, rng.getrandbits(32))
                      + bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))))

    problems: list[str] = []
    equal_a = truncated_back = resumed = 0
    reopen_times: list[float] = []
    state_ac = None
    for kind, off, tail in cases:
        where = f"{kind} at offset {off} (B spans {a_end}..{b_end}), seed {seed}"
        case = str(scratch / "case")
        if os.path.exists(case):
            shutil.rmtree(case)
        shutil.copytree(src, case)
        cwal = os.path.join(case, "t", os.path.basename(wal))
        with open(cwal, "wb") as f:
            f.write(full[:off] + tail)
        rep = engine.check(case)
        if not rep.ok:
            problems.append(f"{where}: check reported errors: {[str(x) for x in rep.findings]}")
        t0 = time.perf_counter()
        try:
            db = engine.open(case)
        except Exception as exc:
            problems.append(f"{where}: open raised {exc!r}")
            continue
        reopen_times.append(time.perf_counter() - t0)
        try:
            if db.failed_indexes():
                problems.append(f"{where}: index failed to open: {db.failed_indexes()!r}")
                continue
            got = dump_holder(db, "t")
            if got != state_a:
                problems.append(f"{where}: state is {'B' if got == state_b else 'neither A nor B'}, expected A")
                continue
            equal_a += 1
            size = os.path.getsize(cwal)
            if size != a_end:
                problems.append(f"{where}: log not truncated back: {size} bytes, expected {a_end}")
                continue
            truncated_back += 1
            db.index("t").import_values("f", [5_000_000, 5_000_001], [7, 7])                      # C
            after = dump_holder(db, "t")
            if state_ac is None:
                state_ac = after
            elif after != state_ac:
                problems.append(f"{where}: commit after recovery gives a different state")
                continue
            copy = str(scratch / "copy")
            if os.path.exists(copy):
                shutil.rmtree(copy)
            shutil.copytree(case, copy)    # before close, so C is still only in the log
        finally:
            db.close()
        rep = engine.check(copy)
        if rep.findings:
            problems.append(f"{where}: log after recovery + commit is not clean: {[str(x) for x in rep.findings]}")
            continue
        with engine.open(copy) as db2:
            if dump_holder(db2, "t") != state_ac:
                problems.append(f"{where}: the commit made after recovery was lost on reopen")
                continue
        resumed += 1

    # Control: the whole of B, followed by garbage, is B (a torn append after B).
    case = str(scratch / "case")
    shutil.rmtree(case)
    shutil.copytree(src, case)
    with open(os.path.join(case, "t", os.path.basename(wal)), "ab") as f:
        f.write(bytes(rng.getrandbits(8) for _ in range(700)))
    with engine.open(case) as db:
        control_b = dump_holder(db, "t") == state_b

    n = len(cases)
    summary = report("R3", seed=seed, b_frame_bytes=b_end - a_end, offsets_tried=len(offsets), cases=n,
                     equal_to_a_pct=100.0 * equal_a / n, truncated_back=truncated_back,
                     resumed_after_recovery=resumed, reopen_max_ms=max(reopen_times, default=0) * 1000,
                     control_b_plus_garbage_is_b=control_b, env=env_figures(str(scratch)))
    assert not problems, summary + "\n" + "\n".join(problems[:20])
    assert equal_a == truncated_back == resumed == n and control_b, summary
