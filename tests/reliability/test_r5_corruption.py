"""R5: corrupted files (RELIABILITY.md §4).

A data directory holds index `a` (a set field, a keyed field, an int field; two commits
checkpointed into fragments, key maps and MANIFEST, then three more commits only in the
log) and index `b`. Each case copies it, then flips one random bit or overwrites 16 random
bytes in one of: a/SCHEMA, a/MANIFEST, a .frag file, a .keys file, the log header, or a
log frame that has a later good frame after it. Then it opens the directory, reads
everything in `a`, reads `b`, and runs engine.check.

Pass rule: opening the directory succeeds; using `a` raises engine.DataCorruptedError
carrying the damaged file's path and a byte offset (at open or at the first read), every
time it is used; never a wrong answer, never another exception; `b` answers exactly as
before; engine.check reports an error naming the damaged file.

Damage confined to the *last* log frame is, by the documented recovery policy, a torn
tail: `test_r5_last_frame_damage_is_a_torn_tail` checks the state is the previous commit.
A middle frame's 4-byte length field is covered by its own test.
"""
from __future__ import annotations

import os
import random
import shutil
import struct
import tempfile
from typing import Callable

import numpy as np
import pytest

import engine
from rel_common import dump_holder, env_figures, fresh_dir, report, seed_for

pytestmark = pytest.mark.reliability

PER_TARGET = 6          # mutations per (target, kind) in the quick size
_FRAME = struct.Struct("<IQI")
_WAL_HEADER = 20


def _frames(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each frame in a log file."""
    out, pos = [], _WAL_HEADER
    while pos + _FRAME.size <= len(data):
        length = _FRAME.unpack_from(data, pos)[0]
        out.append((pos, pos + _FRAME.size + length))
        pos += _FRAME.size + length
    assert pos == len(data)
    return out


@pytest.fixture(scope="module")
def template(scratch_root):
    """The undamaged directory (copied while the process is live, so three commits are
    still only in the log), the expected dumps, and the byte ranges to damage."""
    base = tempfile.mkdtemp(prefix="r5-", dir=scratch_root)
    live = fresh_dir(os.path.join(base, "live"))
    rng = np.random.default_rng(5)
    db = engine.open(live)
    a = db.create_index("a")
    a.create_field("f")
    a.create_field("k", keys=True)
    a.create_field("n", "int", min=-1000, max=1000)
    b = db.create_index("b")
    b.create_field("g")
    b.import_values("g", rng.choice(2**21, 300, replace=False), rng.integers(0, 5, 300))
    cols = rng.choice(2**21, 400, replace=False)
    a.import_values("f", cols, rng.integers(0, 4, 400))
    a.import_values("k", cols[:100], [f"k{i % 7}" for i in range(100)])
    db.checkpoint()                                  # fragments, key maps, MANIFEST
    a.import_values("n", cols[:200], rng.integers(-1000, 1000, 200))       # frame 1 in the log
    a.import_values("f", cols[200:], np.full(200, 9))                      # frame 2
    state_prev = dump_holder(db, "a")
    a.import_values("k", cols[300:], [f"new{i % 5}" for i in range(100)])  # frame 3 (last)
    b.import_values("g", [7, 8, 9], [1, 1, 1])
    state_a, state_b = dump_holder(db, "a"), dump_holder(db, "b")
    values_a = {int(c): a.field("n").value(int(c)) for c in cols[:200]}
    tpl = os.path.join(base, "tpl")
    shutil.copytree(live, tpl)
    db.close()

    ia = os.path.join(tpl, "a")
    (wal_name,) = [n for n in os.listdir(ia) if n.startswith("wal-")]
    wal = os.path.join(ia, wal_name)
    with open(wal, "rb") as f:
        frames = _frames(f.read())
    assert len(frames) == 3
    frags = sorted(os.path.join(r, n) for r, _d, ns in os.walk(os.path.join(ia, "frag")) for n in ns
                   if n.endswith(".frag"))
    keys = sorted(os.path.join(ia, "keys", n) for n in os.listdir(os.path.join(ia, "keys")))
    assert frags and keys
    return {"tpl": tpl, "base": base, "state_a": state_a, "state_b": state_b, "state_prev": state_prev,
            "values_a": values_a, "wal": wal, "frames": frames, "frags": frags, "keys": keys}


def _mutate(path: str, lo: int, hi: int, kind: str, rng: random.Random,
            avoid: tuple[int, int] | None = None) -> int:
    """Damage bytes [lo, hi) of path (a bit flip or 16 random bytes); returns the offset."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
    hi = min(hi, len(data))
    width = 1 if kind == "bitflip" else min(16, hi - lo)
    while True:
        off = rng.randrange(lo, hi - width + 1)
        if avoid and off < avoid[1] and off + width > avoid[0]:
            continue
        if kind == "bitflip":
            data[off] ^= 1 << rng.randrange(8)
            break
        new = bytes(rng.getrandbits(8) for _ in range(width))
        if new != bytes(data[off:off + width]):
            data[off:off + width] = new
            break
    with open(path, "wb") as f:
        f.write(data)
    return off


def _read_everything(db: engine.Holder, t: dict) -> dict:  # type: ignore[type-arg]
    """Open `a` and run reads over all of it: the dump, every row, every BSI value."""
    idx = db.index("a")
    got = dump_holder(db, "a")
    for fld in idx.fields():
        if fld.type == "int":
            for c in t["values_a"]:
                got.setdefault("values", {})[c] = fld.value(c)
        else:
            for r in fld.rows():
                fld.row(r)
    return got


def _run_case(t: dict, case: str, target: str, damaged: str, outcome: dict) -> str | None:  # type: ignore[type-arg]
    """Open, read, check. Returns a problem description or None; fills outcome."""
    try:
        db = engine.open(case)
    except Exception as exc:
        return f"opening the directory raised {exc!r} (other indexes must stay available)"
    try:
        point, err = None, None
        for attempt in range(2):
            try:
                got = _read_everything(db, t)
            except engine.DataCorruptedError as exc:
                err = exc
                if point is None:
                    point = "open" if "a" in db.failed_indexes() else "read"
                continue
            except Exception as exc:
                return f"reading raised {type(exc).__name__} instead of DataCorruptedError: {exc!r}"
            expected = dict(t["state_a"], values=t["values_a"])
            if got != expected:
                outcome["silent_wrong"] = True
                return f"silent wrong answer (attempt {attempt + 1})"
            if point is not None:
                return "a read succeeded after DataCorruptedError was raised"
            outcome["undetected"] = True
            return "damage not detected (the answer happened to be right)"
        outcome["point"] = point
        assert err is not None
        if os.path.realpath(err.path) != os.path.realpath(damaged) or not isinstance(err.offset, int) or err.offset < 0:
            return f"DataCorruptedError names {err.path!r} at {err.offset!r}, expected {damaged!r}"
        if dump_holder(db, "b") != t["state_b"]:
            return "index b changed or stopped answering"
    finally:
        db.close()
    rep = engine.check(case)
    named = [f for f in rep.findings if f.severity == "error" and os.path.realpath(f.path) == os.path.realpath(damaged)]
    if rep.ok or not named:
        return f"engine.check did not report an error naming {damaged}: {[str(f) for f in rep.findings]}"
    outcome["check"] = True
    return None


def _case_dir(t: dict, name: str) -> tuple[str, Callable[[str], str]]:  # type: ignore[type-arg]
    case = os.path.join(t["base"], name)
    if os.path.exists(case):
        shutil.rmtree(case)
    shutil.copytree(t["tpl"], case)
    return case, (lambda p: os.path.join(case, os.path.relpath(p, t["tpl"])))


def test_r5_corruption_detected(template):
    t = template
    seed = seed_for("r5")
    rng = random.Random(seed)
    frames = t["frames"]
    targets = {
        "SCHEMA": lambda: (os.path.join(t["tpl"], "a", "SCHEMA"), 0, None, None),
        "MANIFEST": lambda: (os.path.join(t["tpl"], "a", "MANIFEST"), 0, None, None),
        "frag": lambda: (rng.choice(t["frags"]), 0, None, None),
        "keys": lambda: (rng.choice(t["keys"]), 0, None, None),
        "wal_header": lambda: (t["wal"], 0, _WAL_HEADER, None),
        # a frame with a later good frame; its length field has its own test below
        "wal_frame": lambda: (t["wal"], *_pick_frame(rng, frames[:-1])),
    }
    problems: list[str] = []
    injected = detected = silent = crashes = checked = 0
    points: dict[str, int] = {"open": 0, "read": 0}
    for target, pick in targets.items():
        for kind in ("bitflip", "overwrite16"):
            for i in range(PER_TARGET):
                src, lo, hi, avoid = pick()
                case, mapped = _case_dir(t, "case")
                damaged = mapped(src)
                off = _mutate(damaged, lo, hi if hi is not None else os.path.getsize(damaged), kind, rng, avoid)
                injected += 1
                outcome: dict = {}  # type: ignore[type-arg]
                problem = _run_case(t, case, target, damaged, outcome)
                if outcome.get("point"):
                    detected += 1
                    points[outcome["point"]] += 1
                if outcome.get("check"):
                    checked += 1
                if outcome.get("silent_wrong"):
                    silent += 1
                if problem and "raised" in problem:
                    crashes += 1
                if problem:
                    problems.append(f"{target} {kind} #{i} at byte {off} of {os.path.relpath(damaged, case)} "
                                    f"(seed {seed}): {problem}")
    summary = report("R5", seed=seed, mutations_injected=injected, detected_pct=100.0 * detected / injected,
                     silent_wrong_answers=silent, crashes=crashes, detection_point=points,
                     check_named_file_pct=100.0 * checked / injected, env=env_figures(t["base"]))
    assert not problems, summary + "\n" + "\n".join(problems[:20])
    assert detected == injected == checked, summary


def _pick_frame(rng: random.Random, frames: list[tuple[int, int]]) -> tuple[int, int, tuple[int, int]]:
    start, end = rng.choice(frames)
    return start, end, (start, start + 4)        # avoid the length field (tested separately)


def test_r5_wal_length_field(template):
    t = template
    seed = seed_for("r5")
    rng = random.Random(seed)
    problems: list[str] = []
    cases = 0
    for start, _end in t["frames"][:-1]:
        for bit in rng.sample(range(32), 4):
            case, mapped = _case_dir(t, "lenfield")
            damaged = mapped(t["wal"])
            with open(damaged, "r+b") as f:
                f.seek(start + bit // 8)
                byte = f.read(1)[0]
                f.seek(start + bit // 8)
                f.write(bytes([byte ^ (1 << (bit % 8))]))
            cases += 1
            problem = _run_case(t, case, "wal_length", damaged, {})
            if problem:
                problems.append(f"length field of the frame at byte {start}, bit {bit} (seed {seed}): {problem}")
    summary = report("R5-wal-length-field", seed=seed, cases=cases, failures=len(problems))
    assert not problems, summary + "\n" + "\n".join(problems[:10])


def test_r5_last_frame_damage_is_a_torn_tail(template):
    t = template
    seed = seed_for("r5")
    rng = random.Random(seed)
    start, end = t["frames"][-1]
    problems: list[str] = []
    cases = equal_prev = 0
    for kind in ("bitflip", "overwrite16"):
        for i in range(PER_TARGET):
            case, mapped = _case_dir(t, "last")
            damaged = mapped(t["wal"])
            off = _mutate(damaged, start, end, kind, rng)
            cases += 1
            where = f"{kind} #{i} at byte {off} of the last frame {start}..{end} (seed {seed})"
            rep = engine.check(case)
            if not rep.ok or not any(f.severity == "warning" and os.path.realpath(f.path) == os.path.realpath(damaged)
                                     for f in rep.findings):
                problems.append(f"{where}: check should warn of a torn tail only: {[str(f) for f in rep.findings]}")
            try:
                with engine.open(case) as db:
                    if db.failed_indexes():
                        problems.append(f"{where}: index failed: {db.failed_indexes()!r}")
                    elif dump_holder(db, "a") != t["state_prev"]:
                        problems.append(f"{where}: state is not the previous commit's")
                    elif dump_holder(db, "b") != t["state_b"]:
                        problems.append(f"{where}: index b changed")
                    else:
                        equal_prev += 1
            except Exception as exc:
                problems.append(f"{where}: {exc!r}")
    summary = report("R5-last-frame", seed=seed, cases=cases, state_equals_previous_commit=equal_prev)
    assert not problems, summary + "\n" + "\n".join(problems[:10])
