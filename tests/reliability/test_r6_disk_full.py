"""R6: disk full (RELIABILITY.md §4).

Sweep: a fixed workload (create index and fields, six commits with checkpoint_bytes small
enough that two checkpoints run, then close) runs once to count its writes; then for every
k the disk becomes full at the k-th write (ENOSPC, or EFBIG for every third k; half the
bytes land first for odd k, as a short write does) and stays full until the test clears it.

Pass rule, for every k: the operation that hits the full disk raises StorageFullError and
no other exception; reads still answer and the state is all-or-nothing (the state before
the operation, or after it when only the checkpoint that followed a durable commit failed);
a retry while the disk is still full raises StorageFullError again; once space is back the
same Holder (no reopen) retries the operation and runs the rest of the workload; the final
state equals the oracle, also after reopening with the plain FileIO, and engine.check finds
no error.

Real cap: a child process with RLIMIT_FSIZE set just above its log size and SIGXFSZ ignored
imports batches until the kernel refuses (EFBIG): that import raises StorageFullError; after
raising the limit again the next imports succeed without reopening; the parent reopens and
finds exactly the acknowledged batches.
"""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
from typing import Any, Callable

import numpy as np
import pytest

import engine
from childenv import child_env
from faultio import FaultIO
from rel_common import dump_holder, env_figures, fresh_dir, report, seed_for

pytestmark = pytest.mark.reliability

CKPT = 5000


def _ops() -> list[tuple[str, Callable[[Any], Any]]]:
    rng = np.random.default_rng(66)
    cols = [rng.choice(2**21, 700, replace=False) for _ in range(6)]
    rows = [rng.integers(0, 4, 700) for _ in range(6)]

    def imp(i: int) -> Callable[[Any], Any]:
        return lambda db: db.index("d").import_values("f", cols[i], rows[i])

    def keyed(db: Any) -> None:
        idx = db.index("d")
        fd = idx.field("k").definition
        with idx.transaction() as tx:
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
    """Run the workload once: the oracle after each operation, and for each write (1-based
    k - 1) its class: "log" for a commit's log append, "other" for SCHEMA, fragments, key
    maps, MANIFEST and the log headers written by create_index."""
    fresh_dir(root)
    ref = FaultIO(root)
    db = engine.open(root, fileio=ref, checkpoint_bytes=CKPT)
    oracle = [dump_holder(db, "d")]
    classes: list[str] = []
    for i, (_name, op) in enumerate(_ops()):
        n0 = len(ref.ops)
        op(db)
        oracle.append(dump_holder(db, "d"))
        for o in ref.ops[n0:]:
            if o.kind == "write":
                classes.append("log" if os.path.basename(o.path).startswith("wal-") and i >= 3 else "other")
    db.close()
    checkpoints = sum(1 for o in ref.mutating_ops() if o.kind == "rename" and o.detail.endswith("MANIFEST"))
    assert checkpoints >= 3, f"the workload should run at least three checkpoints, saw {checkpoints}"
    assert len(classes) == ref.writes
    return oracle, classes


def _sweep(scratch, which: str, name: str) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    seed = seed_for("r6")
    ops = _ops()
    root = str(scratch / "work")
    oracle, classes = _reference(root)
    points = [k for k in range(1, len(classes) + 1) if classes[k - 1] == which]

    problems: list[str] = []
    clean = absorbed = resumed = lost = unexpected = 0
    leaked: set[str] = set()
    for k in points:
        fresh_dir(root)
        err = errno.EFBIG if k % 3 == 0 else errno.ENOSPC
        io = FaultIO(root, full_at_write=k, full_errno=err, sticky=True, partial=k % 2 == 1)
        db = engine.open(root, fileio=io, checkpoint_bytes=CKPT)
        where = f"write {k} ({errno.errorcode[err]}{', partial' if k % 2 else ''}), seed {seed}"
        failed = False
        ok = True
        try:
            for i, (opname, op) in enumerate(ops):
                try:
                    op(db)
                    continue
                except engine.StorageFullError:
                    pass
                except BaseException as exc:
                    unexpected += 1
                    problems.append(f"{where}: {opname} raised {type(exc).__name__}, not StorageFullError: {exc!r}")
                    ok = False
                    break
                failed = True
                clean += 1
                now = dump_holder(db, "d")
                if now != oracle[i] and now != oracle[i + 1]:
                    # all or nothing; "after" when only the checkpoint after a durable commit failed
                    lost += 1
                    problems.append(f"{where}: after {opname} failed the state is neither before nor after it")
                    ok = False
                    break
                try:
                    op(db)
                    problems.append(f"{where}: retry of {opname} succeeded while the disk was still full")
                    ok = False
                except engine.StorageFullError:
                    pass
                except BaseException as exc:
                    unexpected += 1
                    problems.append(f"{where}: retry of {opname} while full raised {exc!r}")
                    ok = False
                    break
                io.clear_faults()
                try:
                    op(db)                        # space is back: same Holder, no reopen
                except BaseException as exc:
                    problems.append(f"{where}: {opname} still fails after the fault cleared: {exc!r}")
                    ok = False
                    break
                if dump_holder(db, "d") != oracle[i + 1]:
                    problems.append(f"{where}: after retrying {opname} the state differs from the oracle")
                    ok = False
                    break
            if ok and dump_holder(db, "d") != oracle[-1]:
                problems.append(f"{where}: final state differs from the oracle")
                ok = False
            if ok and not failed:
                absorbed += 1                     # no error surfaced, and nothing was lost
        finally:
            io.clear_faults()
            try:
                db.close()
            except BaseException as exc:
                problems.append(f"{where}: close raised {exc!r}")
                ok = False
            leaked.update(os.path.relpath(p, root) for p in io.open_handles())
            io.close_all()
        rep = engine.check(root)
        if not rep.ok:
            problems.append(f"{where}: check: {[str(f) for f in rep.findings]}")
            ok = False
        with engine.open(root) as db2:
            if dump_holder(db2, "d") != oracle[-1]:
                lost += 1
                problems.append(f"{where}: after reopen the state differs from the oracle")
                ok = False
        if ok:
            resumed += 1

    summary = report(name, seed=seed, writes_in_workload=len(classes), fault_points=len(points),
                     clean_errors=clean, absorbed=absorbed, unexpected_exceptions=unexpected, data_loss=lost,
                     resumed_without_restart=f"{resumed}/{len(points)}",
                     leaked_fds_after_close=len(leaked), env=env_figures(str(scratch)))
    if leaked:
        problems.append(f"{name}: file handles left open after close: {sorted(leaked)}")
    assert points, summary
    if resumed != len(points) and not problems:  # pragma: no cover - defensive
        problems.append("not every fault point resumed")
    return summary, problems


def test_r6_enospc_sweep_log_appends(scratch):
    """ENOSPC/EFBIG at every write of a commit's log append (and the new log header a
    checkpoint writes after a durable commit)."""
    summary, problems = _sweep(scratch, "log", "R6")
    assert not problems, summary + "\n" + "\n".join(problems[:20])


def test_r6_enospc_sweep_schema_and_checkpoint(scratch):
    """ENOSPC/EFBIG at every other write: SCHEMA, fragments, key maps, MANIFEST."""
    summary, problems = _sweep(scratch, "other", "R6-other-writes")
    assert not problems, summary + "\n" + "\n".join(problems[:20])


_CHILD = textwrap.dedent("""
    import json, resource, signal, sys
    import numpy as np
    import engine

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    path = sys.argv[1]
    db = engine.open(path)
    idx = db.create_index("cap")
    idx.create_field("f")
    log = [n for n in __import__("os").listdir(path + "/cap") if n.startswith("wal-")][0]
    wal = path + "/cap/" + log
    size = __import__("os").path.getsize(wal)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 40_000, hard))
    out = {"acked": [], "failed": None, "error": None, "retry_while_capped": None, "resumed": []}

    def batch(b):
        cols = np.arange(b * 4000, (b + 1) * 4000, 3, dtype=np.uint64)
        idx.import_values("f", cols, np.full(len(cols), b % 5))

    b = 0
    while b < 200:
        try:
            batch(b)
        except engine.StorageFullError as exc:
            out["failed"] = b
            out["error"] = str(exc)
            break
        except Exception as exc:
            out["failed"] = b
            out["error"] = "UNEXPECTED " + type(exc).__name__ + ": " + str(exc)
            break
        out["acked"].append(b)
        b += 1
    out["wal_size_at_failure"] = __import__("os").path.getsize(wal)
    try:
        batch(b)
        out["retry_while_capped"] = "ok"
    except Exception as exc:
        out["retry_while_capped"] = type(exc).__name__
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))    # space is back
    for b2 in (b, b + 1, b + 2):
        try:
            batch(b2)
            out["resumed"].append(b2)
        except Exception as exc:
            out["resumed_error"] = repr(exc)
            break
    db.close()
    print(json.dumps(out))
""")


def test_r6_real_file_size_cap(tmp_path):
    data = str(tmp_path / "data")
    proc = subprocess.run([sys.executable, "-c", _CHILD, data], env=child_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    acked = out["acked"] + out["resumed"]
    with engine.open(data) as db:
        f = db.index("cap").field("f")
        present = {b for b in range(out["failed"] + 3) if (b * 4000) in f.row(b % 5)}
        full_ok = all(len(f.row(b % 5).slice(b * 4000, (b + 1) * 4000)) == len(range(b * 4000, (b + 1) * 4000, 3))
                      for b in acked)
    summary = report("R6-rlimit", batches_acked_before_cap=len(out["acked"]), failed_batch=out["failed"],
                     error=repr((out["error"] or "").rsplit(": ", 1)[-1]), retry_while_capped=out["retry_while_capped"],
                     resumed_batches=len(out["resumed"]), wal_bytes_at_failure=out["wal_size_at_failure"],
                     env=env_figures(str(tmp_path)))
    assert out["failed"] is not None and out["error"] and not out["error"].startswith("UNEXPECTED"), summary
    assert "File too large" in out["error"] or "EFBIG" in out["error"] or "too large" in out["error"].lower(), summary
    assert out["retry_while_capped"] == "StorageFullError", summary
    assert len(out["resumed"]) == 3, summary + f" {out.get('resumed_error')}"
    assert present == set(acked) and full_ok, summary + f" present={sorted(present)} acked={acked}"


def test_r6_failed_log_header_leaves_nothing_behind(scratch):
    def setup(root: str, io: FaultIO) -> engine.Holder:
        db = engine.open(root, fileio=io, checkpoint_bytes=1)        # every commit checkpoints
        db.create_index("i").create_field("f")
        return db

    ref = FaultIO(str(scratch / "ref"))
    db = setup(str(scratch / "ref"), ref)
    w0 = ref.writes
    db.index("i").import_values("f", [1], [1])
    writes = [o for o in ref.ops if o.kind == "write"]
    k = 1 + next(n for n, o in enumerate(writes) if n >= w0 and os.path.basename(o.path) == "wal-0000000000000002.log")
    db.close()

    d = str(scratch / "a")
    io = FaultIO(d, full_at_write=k, sticky=False)
    db = setup(d, io)
    # The commit is durable before its checkpoint starts, so the checkpoint's ENOSPC on the
    # new log header is recorded on the index instead of failing the acknowledged import.
    db.index("i").import_values("f", [1], [1])
    assert isinstance(db.index("i").last_checkpoint_error, engine.StorageFullError)
    db.index("i").import_values("f", [2], [1])        # space is back
    db.close()
    leaked = io.open_handles()
    io.close_all()
    logs = sorted(n for n in os.listdir(os.path.join(d, "i")) if n.startswith("wal-"))
    with engine.open(d) as db2:
        rows = list(db2.index("i").field("f").row(1))
    summary = report("R6-header-failure-leftovers", leaked_fds=len(leaked), log_files_after_close=logs, rows=rows)
    assert rows == [1, 2], summary
    assert not leaked and len(logs) == 1, summary
