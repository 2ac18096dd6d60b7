"""Bitmap-core micro-benchmarks: ext.Bitmap against pyroaring, interleaved in one process.

`python -m bench.ops [--quick] [--filter SUBSTR] [--rounds N] [--out PATH]`

Every op of the matrix (PERFORMANCE.md, "Targets", the "Bitmap core (ext/)" bullet) runs on
both libraries over the same values: and/or/xor/andnot and their *_cardinality forms over
bitset, array, run and mixed container pairs; construction and update; serialize and
deserialize; iteration and export; point queries; single-value and range mutation; n-ary
union. 32-bit data is compared with pyroaring.BitMap, values above 2**32 with BitMap64.

Before any timing, each op's answers are compared (values, lengths, bytes); a mismatch
aborts the run (exit 1) with both answers shown. The inputs' serialize() bytes are compared
with pyroaring's too, and reported per input.

Timing: for each op, rounds alternate ours / pyroaring (the order swaps every round); one
measurement is time.perf_counter_ns around an inner loop calibrated to take >= ~2 ms, with
the cyclic GC paused. The ratio ours/pyroaring is taken per round; the report gives the
median ratio and the median per-call times. A full run writes bench/results/ops.md (a
--quick or --filter run only prints, unless --out is given).
"""
from __future__ import annotations

import argparse
import array
import datetime as _dt
import gc
import math
import os
import platform
import statistics
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import pyroaring
from pyroaring import BitMap, BitMap64

from ext import BaseBitmap, Bitmap

PEERS = ("ours", "pyroaring")
PASS_RATIO = 1.5
TARGET_NS = 2_000_000          # an inner loop takes at least this long
ROUNDS = 41                    # rounds per op (fewer for slow ops, see CASE_BUDGET_S)
MIN_ROUNDS = 7
CASE_BUDGET_S = 3.0            # timed seconds per op, both peers together
CHUNK = 1 << 16
SEED = 20_251_122
DEFAULT_OUT = Path("bench") / "results" / "ops.md"


class AnswerMismatch(Exception):
    """The two libraries disagreed on an op's answer."""


# --- data ---------------------------------------------------------------------------------

def _bernoulli(rng: np.random.Generator, lo: int, hi: int, p: float) -> np.ndarray:
    """Each value of [lo, hi) independently with probability p (random: no runs)."""
    return (lo + np.flatnonzero(rng.random(hi - lo) < p)).astype(np.uint64)


def _runs(rng: np.random.Generator, lo: int, hi: int, mean_run: float,
          mean_gap: float) -> np.ndarray:
    """Runs of geometric length separated by geometric gaps, inside [lo, hi)."""
    n = int((hi - lo) / (mean_run + mean_gap) * 1.3) + 4
    lens = rng.geometric(1.0 / mean_run, n)
    gaps = rng.geometric(1.0 / mean_gap, n)
    starts = lo + np.cumsum(gaps + np.concatenate(([0], lens[:-1])))
    ends = np.minimum(starts + lens, hi)
    keep = starts < hi
    delta = np.zeros(hi - lo + 1, np.int32)
    delta[starts[keep] - lo] += 1
    delta[ends[keep] - lo] -= 1
    return (lo + np.flatnonzero(np.cumsum(delta[:-1]) > 0)).astype(np.uint64)


def _mixed(rng: np.random.Generator, nchunks: int, base: int = 0) -> np.ndarray:
    """A realistic row: per 64K chunk absent (15%), sparse array (35%), random bitset
    (25%) or clustered runs (25%), with varied densities."""
    parts = [np.empty(0, np.uint64)]
    for k in range(nchunks):
        lo = base + k * CHUNK
        hi = lo + CHUNK
        r = rng.random()
        if r < 0.15:
            continue
        if r < 0.50:
            parts.append(_bernoulli(rng, lo, hi, 10 ** rng.uniform(-3.3, -1.2)))
        elif r < 0.75:
            parts.append(_bernoulli(rng, lo, hi, rng.uniform(0.07, 0.16)))
        else:
            m = 10 ** rng.uniform(0.7, 2.5)
            parts.append(_runs(rng, lo, hi, m, m * rng.uniform(2, 8)))
    return np.concatenate(parts)


@dataclass
class Data:
    """Sorted unique uint64 value arrays, by input name, plus a few query helpers."""

    values: dict[str, np.ndarray]
    extra: dict[str, Any] = field(default_factory=dict)


def make_data(seed: int = SEED) -> Data:
    rng = np.random.default_rng(seed)
    u24 = 1 << 24
    v: dict[str, np.ndarray] = {}
    # Pairs over the same 256 chunks (2**24), ~1M values each, one container kind each.
    v["bitset_a"] = _bernoulli(rng, 0, u24, 5500 / CHUNK)
    v["bitset_b"] = _bernoulli(rng, 0, u24, 5500 / CHUNK)
    v["array_a"] = _bernoulli(rng, 0, u24, 3700 / CHUNK)
    v["array_b"] = _bernoulli(rng, 0, u24, 3700 / CHUNK)
    # 1%-dense arrays (~655 values a chunk): two of them fit one array container, the range
    # where a union or xor is a merge rather than a bitset pass (PERFORMANCE.md's matrix).
    v["sparse_a"] = _bernoulli(rng, 0, u24, 0.01)
    v["sparse_b"] = _bernoulli(rng, 0, u24, 0.01)
    v["run_a"] = _runs(rng, 0, u24, 60, 900)
    v["run_b"] = _runs(rng, 0, u24, 60, 900)
    # Realistic rows: 256 chunks of mixed kinds, keys only partly shared.
    v["mixed_a"] = _mixed(rng, 256)
    v["mixed_b"] = _mixed(rng, 256)
    # ~1k values over 2**20: per-call overhead.
    v["small_a"] = _bernoulli(rng, 0, 1 << 20, 1000 / (1 << 20))
    v["small_b"] = _bernoulli(rng, 0, 1 << 20, 1000 / (1 << 20))
    # Above 2**32, two high-32-bit buckets (pyroaring.BitMap64).
    v["u64_a"] = np.concatenate([_mixed(rng, 48, 5 << 32), _mixed(rng, 48, 9 << 32)])
    v["u64_b"] = np.concatenate([_mixed(rng, 48, 5 << 32), _mixed(rng, 48, 9 << 32)])
    for i in range(10):
        v[f"union10_{i}"] = _mixed(rng, 64)
        v[f"union10s_{i}"] = _bernoulli(rng, 0, 1 << 20, 1000 / (1 << 20))
    extra: dict[str, Any] = {}
    # Values to add with update(): 100k random, unsorted, some already present.
    extra["update_vals"] = rng.integers(0, u24, 100_000, dtype=np.uint64).astype(np.uint32)
    for name in ("mixed_a", "small_a"):
        vals = v[name]
        hi = int(vals[-1]) + 1
        members = rng.choice(vals, 500).tolist()
        others = rng.integers(0, hi, 500).tolist()
        extra[f"{name}.queries"] = [int(x) for x in rng.permutation(members + others)]
        extra[f"{name}.indices"] = rng.integers(0, len(vals), 1000).tolist()
        fresh = np.setdiff1d(rng.integers(0, hi, 3000, dtype=np.uint64), vals)
        extra[f"{name}.absent"] = [int(x) for x in rng.permutation(fresh)[:1000]]
    return Data(v, extra)


def _pyroaring_of(values: np.ndarray) -> BitMap | BitMap64:
    if values.size and int(values[-1]) >= 1 << 32:
        return BitMap64(array.array("Q", values.astype(np.uint64).tobytes()))
    return BitMap(array.array("I", values.astype(np.uint32).tobytes()))


@dataclass
class Built:
    """The same inputs as ext.Bitmap and as pyroaring bitmaps (constructors run-optimise)."""

    ours: dict[str, Bitmap]
    pr: dict[str, BitMap | BitMap64]


def build(data: Data) -> Built:
    ours = {k: Bitmap(v) for k, v in data.values.items()}
    pr = {k: _pyroaring_of(v) for k, v in data.values.items()}
    for k in ours:
        ours[k].run_optimize()
        pr[k].run_optimize()
        if not same(norm(ours[k]), norm(pr[k])) or not same(norm(ours[k]), data.values[k]):
            raise AnswerMismatch(f"input {k}: the two libraries hold different values")
    return Built(ours, pr)


# --- answers ------------------------------------------------------------------------------

def norm(x: Any) -> Any:
    """A library-neutral form of an answer: bitmaps and arrays become uint64 ndarrays."""
    if isinstance(x, BaseBitmap):
        return x.to_numpy()
    if isinstance(x, (pyroaring.AbstractBitMap, pyroaring.AbstractBitMap64)):
        return np.asarray(x.to_array(), dtype=np.uint64)
    if isinstance(x, array.array):
        return np.asarray(x, dtype=np.uint64)
    if isinstance(x, np.ndarray):
        return x.astype(np.uint64)
    if isinstance(x, tuple):
        return tuple(norm(y) for y in x)
    if isinstance(x, list) and x and all(isinstance(y, int) for y in x[:4]):
        return np.asarray(x, dtype=np.uint64)
    return x


def same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
                and a.shape == b.shape and bool(np.array_equal(a, b)))
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _shown(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"ndarray(len={x.size}, head={x[:8].tolist()}, tail={x[-4:].tolist()})"
    if isinstance(x, tuple):
        return "(" + ", ".join(_shown(y) for y in x) + ")"
    text = repr(x)
    return text if len(text) < 300 else text[:300] + "…"


# Helpers the verification expressions call (they see both libraries' objects alike).
def _after_ranges(bm: Any, lo: int, hi: int) -> tuple:
    bm.add_range(lo, hi)
    mid = norm(bm)
    bm.remove_range(lo, hi)
    return mid, norm(bm)


def _after_add_discard(bm: Any, values: list[int]) -> tuple:
    for v in values:
        bm.add(v)
    mid = norm(bm)
    for v in values:
        bm.discard(v)
    return mid, norm(bm)


def _cross_deserialize(bm: Any, other_cls: Any, other_bytes: bytes) -> tuple:
    """(this library reading the other's bytes, the other reading ours): both as values."""
    return norm(type(bm).deserialize(other_bytes)), norm(other_cls.deserialize(bm.serialize()))


# --- cases --------------------------------------------------------------------------------

@dataclass
class Side:
    """One library's half of a case."""

    stmt: str                                   # timed; may span lines
    ns: dict[str, Any]
    check: str | None = None                    # expression for the answer (default: stmt)
    fresh: Callable[[], Any] | None = None      # a new state `x` per call (built untimed)


@dataclass
class Case:
    op: str
    input: str
    sides: dict[str, Side]
    compare: Callable[[Any, Any], bool] | None = None   # default: same(norm(a), norm(b))

    @property
    def key(self) -> str:
        return f"{self.op} | {self.input}"

    @property
    def slug(self) -> str:
        text = f"{self.op}-{self.input}"
        return "".join(c if c.isalnum() else "_" for c in text).strip("_")


_BINOPS = (
    ("and", "a & b"),
    ("or", "a | b"),
    ("xor", "a ^ b"),
    ("andnot", "a - b"),
    ("and_card", "a.intersection_cardinality(b)"),
    ("or_card", "a.union_cardinality(b)"),
    ("xor_card", "a.symmetric_difference_cardinality(b)"),
    ("andnot_card", "a.difference_cardinality(b)"),
)

PAIRS = (
    ("bitset x bitset", "bitset_a", "bitset_b"),
    ("array x array", "array_a", "array_b"),
    ("array x array (1% dense)", "sparse_a", "sparse_b"),
    ("array x bitset", "array_a", "bitset_b"),
    ("run x run", "run_a", "run_b"),
    ("run x bitset", "run_a", "bitset_b"),
    ("run x array", "run_a", "array_b"),
    ("mixed x mixed (1M)", "mixed_a", "mixed_b"),
    ("small array x array (1k)", "small_a", "small_b"),
    ("u64 mixed x mixed (BitMap64)", "u64_a", "u64_b"),
)

SERIAL_INPUTS = (
    ("bitset", "bitset_a"), ("array", "array_a"), ("run", "run_a"),
    ("mixed (1M)", "mixed_a"), ("small (1k)", "small_a"), ("u64 (BitMap64)", "u64_a"),
)


def _both(stmt: str, ours_ns: dict[str, Any], pr_ns: dict[str, Any], *,
          pr_stmt: str | None = None, check: str | None = None,
          pr_check: str | None = None, fresh: tuple | None = None) -> dict[str, Side]:
    return {
        "ours": Side(stmt, ours_ns, check, fresh[0] if fresh else None),
        "pyroaring": Side(pr_stmt or stmt, pr_ns, pr_check or check,
                          fresh[1] if fresh else None),
    }


def _cls(bm: Any) -> Any:
    return type(bm)


def build_cases(data: Data, built: Built) -> list[Case]:
    O, P, X = built.ours, built.pr, data.extra
    cases: list[Case] = []

    # Set algebra over container pairs.
    for label, an, bn in PAIRS:
        for op, stmt in _BINOPS:
            cases.append(Case(op, label, _both(stmt, {"a": O[an], "b": O[bn]},
                                               {"a": P[an], "b": P[bn]})))

    # Construction (the constructors run-optimise, as pyroaring's does).
    mixed = data.values["mixed_a"]
    small = data.values["small_a"]
    srt = mixed.astype(np.uint32)
    uns = np.random.default_rng(SEED + 1).permutation(srt)
    for label, vals, pr_vals in (
        ("sorted u32 ndarray", srt, srt),
        ("unsorted u32 ndarray", uns, uns),
        ("list", srt.tolist(), srt.tolist()),
        ("sorted u32 (pr: array.array)", srt, array.array("I", srt.tobytes())),
        ("unsorted u32 (pr: array.array)", uns, array.array("I", uns.tobytes())),
    ):
        cases.append(Case(f"construct {label}", "mixed (1M)", _both(
            "Bitmap(v)", {"Bitmap": Bitmap, "v": vals},
            {"Bitmap": BitMap, "v": pr_vals})))
    s32 = small.astype(np.uint32)
    for label, vals in (("sorted u32 ndarray", s32), ("list", s32.tolist())):
        cases.append(Case(f"construct {label}", "small (1k)", _both(
            "Bitmap(v)", {"Bitmap": Bitmap, "v": vals}, {"Bitmap": BitMap, "v": vals})))
    u64 = data.values["u64_a"]
    cases.append(Case("construct sorted u64 (pr: array.array)", "u64 (BitMap64)", _both(
        "Bitmap(v)", {"Bitmap": Bitmap, "v": u64},
        {"Bitmap": BitMap64, "v": array.array("Q", u64.tobytes())})))

    # update() into an existing bitmap (a fresh copy per call, copied outside the timer).
    upd = X["update_vals"]
    base_o, base_p = O["mixed_a"], P["mixed_a"]
    for label, pr_vals in (("u32 ndarray", upd), ("u32 (pr: array.array)",
                                                  array.array("I", upd.tobytes()))):
        cases.append(Case(f"update 100k {label}", "mixed (1M)", _both(
            "x.update(v)", {"v": upd}, {"v": pr_vals}, check="x",
            fresh=(base_o.copy, base_p.copy))))

    # Serialisation.
    for label, name in SERIAL_INPUTS:
        o, p = O[name], P[name]
        cases.append(Case("serialize", label, _both(
            "a.serialize()", {"a": o, "_x": _cross_deserialize, "_c": _cls(p),
                              "_b": p.serialize()},
            {"a": p, "_x": _cross_deserialize, "_c": _cls(o), "_b": o.serialize()},
            check="_x(a, _c, _b)")))
        cases.append(Case("deserialize", label, _both(
            "C.deserialize(s)", {"C": Bitmap, "s": o.serialize()},
            {"C": _cls(p), "s": p.serialize()})))

    # Iteration and export.
    for label, name in (("mixed (1M)", "mixed_a"), ("small (1k)", "small_a")):
        o, p = O[name], P[name]
        cases.append(Case("list(bm)", label, _both("list(a)", {"a": o}, {"a": p})))
        cases.append(Case("for v in bm", label, _both(
            "for _v in a:\n    pass", {"a": o}, {"a": p}, check="list(a)")))
    for label, name in (("mixed (1M)", "mixed_a"), ("small (1k)", "small_a"),
                        ("u64 (BitMap64)", "u64_a")):
        cases.append(Case("to_numpy / to_array", label, _both(
            "a.to_numpy()", {"a": O[name]}, {"a": P[name]}, pr_stmt="a.to_array()")))

    # Point queries: loops of 1000 calls.
    for label, name in (("mixed (1M)", "mixed_a"), ("small (1k)", "small_a")):
        o, p = O[name], P[name]
        q, idx = X[f"{name}.queries"], X[f"{name}.indices"]
        r = range(1000)
        cases.append(Case("contains x1000", label, _both(
            "for v in q:\n    v in a", {"a": o, "q": q}, {"a": p, "q": q},
            check="[v in a for v in q]")))
        cases.append(Case("rank x1000", label, _both(
            "for v in q:\n    a.rank(v)", {"a": o, "q": q}, {"a": p, "q": q},
            check="[a.rank(v) for v in q]")))
        cases.append(Case("select x1000", label, _both(
            "for i in idx:\n    a.select(i)", {"a": o, "idx": idx}, {"a": p, "idx": idx},
            pr_stmt="for i in idx:\n    a[i]",
            check="[a.select(i) for i in idx]", pr_check="[a[i] for i in idx]")))
        cases.append(Case("len x1000", label, _both(
            "for _ in r:\n    len(a)", {"a": o, "r": r}, {"a": p, "r": r}, check="len(a)")))
        cases.append(Case("min+max x1000", label, _both(
            "for _ in r:\n    a.min()\n    a.max()", {"a": o, "r": r}, {"a": p, "r": r},
            check="(a.min(), a.max())")))

    # Mutation that restores the state, so one bitmap (a private copy) serves every call.
    for label, name in (("mixed (1M)", "mixed_a"), ("small (1k)", "small_a")):
        new = X[f"{name}.absent"]
        cases.append(Case("add+discard x1000", label, _both(
            "for v in new:\n    a.add(v)\nfor v in new:\n    a.discard(v)",
            {"a": O[name].copy(), "new": new, "_h": _after_add_discard},
            {"a": P[name].copy(), "new": new, "_h": _after_add_discard},
            check="_h(a, new)")))
    top = int(mixed[-1])
    for label, lo, hi in (("narrow 1k in 1 chunk", 70 * CHUNK + 1000, 70 * CHUNK + 2000),
                          ("wide 4.3 chunks", 100 * CHUNK + 777, 104 * CHUNK + 20_000)):
        assert hi < top
        o, p = O["mixed_a"].copy(), P["mixed_a"].copy()
        o.remove_range(lo, hi)      # the range starts empty: add then remove restores it
        p.remove_range(lo, hi)
        cases.append(Case("add_range+remove_range", f"mixed (1M), {label}", _both(
            "a.add_range(lo, hi)\na.remove_range(lo, hi)",
            {"a": o, "lo": lo, "hi": hi, "_h": _after_ranges},
            {"a": p, "lo": lo, "hi": hi, "_h": _after_ranges},
            check="_h(a, lo, hi)")))

    # n-ary union.
    for label, prefix in (("10 x mixed (~330k each)", "union10_"),
                          ("10 x small (1k each)", "union10s_")):
        ob = [O[f"{prefix}{i}"] for i in range(10)]
        pb = [P[f"{prefix}{i}"] for i in range(10)]
        cases.append(Case("union(*10)", label, _both(
            "C.union(*bms)", {"C": Bitmap, "bms": ob}, {"C": BitMap, "bms": pb})))
    return cases


QUICK_INPUTS = ("mixed", "small", "u64")


def is_quick(case: Case) -> bool:
    """The --quick subset: every op, but only on the mixed, small and u64 inputs."""
    text = case.input
    if not any(text.startswith(p) or p in text for p in QUICK_INPUTS):
        return False
    return "array.array" not in case.op or "construct sorted u32" in case.op


# --- timing -------------------------------------------------------------------------------

_TEMPLATE = """
def _inner(_n, _ns, _timer=_timer, _repeat=_repeat):
{setup}
    _t0 = _timer()
    for _ in _repeat(None, _n):
{stmt}
    return _timer() - _t0

def _inner_states(_states, _ns, _timer=_timer):
{setup}
    _t0 = _timer()
    for x in _states:
{stmt}
    return _timer() - _t0
"""


@dataclass
class Loop:
    """A compiled inner loop for one side of a case."""

    side: Side
    inner: Callable[..., int]

    def run(self, n: int) -> int:
        """Nanoseconds for n calls, GC paused; fresh states are built before the clock."""
        states = [self.side.fresh() for _ in range(n)] if self.side.fresh else None
        enabled = gc.isenabled()
        gc.disable()
        try:
            if states is not None:
                return self.inner(states, self.side.ns)
            return self.inner(n, self.side.ns)
        finally:
            if enabled:
                gc.enable()


def compile_loop(side: Side) -> Loop:
    setup = "\n".join(f"    {k} = _ns[{k!r}]" for k in side.ns) or "    pass"
    code = _TEMPLATE.format(setup=setup, stmt=textwrap.indent(side.stmt, " " * 8))
    g: dict[str, Any] = {"_timer": time.perf_counter_ns, "_repeat": repeat}
    exec(compile(code, "<bench.ops loop>", "exec"), g)
    return Loop(side, g["_inner_states"] if side.fresh else g["_inner"])


_ONCE = """
def _make(_ns):
{setup}
    def _once({arg}):
{stmt}
    return _once
"""


def compile_once(side: Side) -> Callable[..., None]:
    """One call of the side's statement as a function: no arguments, or the fresh state
    `x` for fresh-state cases (what pytest-benchmark times)."""
    setup = "\n".join(f"    {k} = _ns[{k!r}]" for k in side.ns) or "    pass"
    code = _ONCE.format(setup=setup, arg="x" if side.fresh else "",
                        stmt=textwrap.indent(side.stmt, " " * 8))
    g: dict[str, Any] = {}
    exec(compile(code, "<bench.ops once>", "exec"), g)
    return g["_make"](side.ns)


def answer(side: Side) -> Any:
    """One call's answer (the state after the call for fresh-state cases), normalised."""
    ns = dict(side.ns)
    if side.fresh is not None:
        ns["x"] = side.fresh()
        exec(compile(side.stmt, "<bench.ops stmt>", "exec"), ns)
        return norm(eval(side.check or "x", ns))
    # A timed statement without a value (a loop) has a check expression recomputing it.
    return norm(eval(side.check or side.stmt, ns))


def verify(case: Case) -> None:
    got = {p: answer(case.sides[p]) for p in PEERS}
    if not same(got["ours"], got["pyroaring"]):
        raise AnswerMismatch(
            f"answers differ for {case.key}:\n  ours:      {_shown(got['ours'])}\n"
            f"  pyroaring: {_shown(got['pyroaring'])}")


def calibrate(loop: Loop, target_ns: int) -> tuple[int, int]:
    """(calls per measurement, ns of one such measurement) with the loop >= target_ns."""
    n = 1
    while True:
        t = loop.run(n)
        if t >= target_ns or n >= 1 << 24:
            return n, t
        n = min(n * 10, max(n + 1, math.ceil(n * target_ns * 1.25 / max(t, 1))))


@dataclass
class Result:
    case: Case
    n: dict[str, int]
    times_ns: dict[str, list[float]]     # per-call ns, per round
    ratios: list[float]

    def median_us(self, peer: str) -> float:
        return statistics.median(self.times_ns[peer]) / 1e3

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def passed(self) -> bool:
        return self.ratio <= PASS_RATIO


def measure(case: Case, rounds: int, target_ns: int, budget_s: float) -> Result:
    loops = {p: compile_loop(case.sides[p]) for p in PEERS}
    n, est = {}, 0
    for p in PEERS:
        n[p], t = calibrate(loops[p], target_ns)
        est += t
    rounds = max(MIN_ROUNDS, min(rounds, int(budget_s * 1e9 / max(est, 1))))
    times: dict[str, list[float]] = {p: [] for p in PEERS}
    for r in range(rounds):
        for p in (PEERS if r % 2 == 0 else PEERS[::-1]):
            times[p].append(loops[p].run(n[p]) / n[p])
    ratios = [o / q for o, q in zip(times["ours"], times["pyroaring"])]
    return Result(case, n, times, ratios)


# --- report -------------------------------------------------------------------------------

def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_lines() -> list[str]:
    return [
        f"- machine: {os.cpu_count()} cores, {_cpu_model()} ({platform.machine()}, "
        f"{platform.system()} {platform.release()})",
        f"- python {platform.python_version()}, pyroaring {pyroaring.__version__}, "
        f"numpy {np.__version__}",
        f"- date: {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
    ]


def _kinds(bm: Any) -> str:
    s = bm.get_statistics()
    return (f"{s['n_containers']} ({s['n_array_containers']} array, "
            f"{s['n_bitset_containers']} bitset, {s['n_run_containers']} run)")


def input_rows(built: Built) -> list[tuple[str, int, str, bool, bool]]:
    """Per input: values, containers by kind, kinds agree, serialize() bytes identical."""
    rows = []
    for name in sorted(k for k in built.ours if not k.startswith("union10")):
        o, p = built.ours[name], built.pr[name]
        rows.append((name, len(o), _kinds(o), _kinds(o) == _kinds(p),
                     o.serialize() == p.serialize()))
    for prefix in ("union10_", "union10s_"):
        names = [k for k in built.ours if k.startswith(prefix)]
        os_ = [built.ours[k] for k in names]
        ps = [built.pr[k] for k in names]
        kinds = [_kinds(o) for o in os_]
        rows.append((f"{prefix}0..9", sum(len(o) for o in os_),
                     f"{sum(o.get_statistics()['n_containers'] for o in os_)} in all",
                     kinds == [_kinds(p) for p in ps],
                     all(o.serialize() == p.serialize() for o, p in zip(os_, ps))))
    return rows


def _fmt_us(us: float) -> str:
    if us >= 100:
        return f"{us:,.0f}"
    if us >= 1:
        return f"{us:.2f}"
    return f"{us:.3f}"


def table_lines(results: list[Result]) -> list[str]:
    lines = ["| op | input | ours µs | pyroaring µs | ratio | ≤1.5? |",
             "|---|---|---:|---:|---:|:---:|"]
    for r in results:
        lines.append(f"| {r.case.op} | {r.case.input} | {_fmt_us(r.median_us('ours'))} | "
                     f"{_fmt_us(r.median_us('pyroaring'))} | {r.ratio:.2f} | "
                     f"{'PASS' if r.passed else 'FAIL'} |")
    return lines


def summary_lines(results: list[Result]) -> list[str]:
    if not results:
        return ["no op selected"]
    passed = sum(r.passed for r in results)
    gm = math.exp(sum(math.log(r.ratio) for r in results) / len(results))
    worst = sorted(results, key=lambda r: r.ratio, reverse=True)[:5]
    lines = [f"- passing (ratio ≤ {PASS_RATIO}): {passed} / {len(results)}",
             f"- geometric mean of ratios (ours / pyroaring): {gm:.2f}",
             "- worst 5:"]
    lines += [f"  - {r.case.key}: {r.ratio:.2f}" for r in worst]
    return lines


def write_report(path: Path, results: list[Result], inputs: list, args: argparse.Namespace,
                 elapsed_s: float) -> None:
    lines = ["# Bitmap core micro-benchmarks: ext.Bitmap vs pyroaring", ""]
    lines += machine_lines()
    lines += [
        f"- command: `python -m bench.ops{' --quick' if args.quick else ''}"
        f"{' --filter ' + repr(args.filter) if args.filter else ''}`; "
        f"run time {elapsed_s:.0f} s",
        f"- method: one process; per op up to {args.rounds} rounds (at least {MIN_ROUNDS}; "
        f"fewer when an op is slow, ~{CASE_BUDGET_S} s of timing per op; this run used "
        f"{min(len(r.ratios) for r in results)}–{max(len(r.ratios) for r in results)}), "
        "alternating "
        "ours / pyroaring with the order swapped each round; each measurement is "
        f"time.perf_counter_ns around an inner loop of >= {args.target_ms} ms, GC paused. "
        "Times are median per-call µs; ratio = median of per-round ours/pyroaring ratios. "
        "Answers (values, lengths, bytes) were verified equal before timing.",
        "- data: seeded (bench/ops.py `make_data`); pairs span 256 chunks of 2**24, ~1M "
        "values per bitmap; 'small' is ~1k values over 2**20; u64 inputs sit at 5·2**32 "
        "and 9·2**32 and are compared with pyroaring.BitMap64. 'x1000' ops time a Python "
        "loop of 1000 calls. Rows marked '(pr: array.array)' give pyroaring its fastest "
        "input path (its constructor iterates an ndarray element by element).",
        "",
        "## Inputs and serialization",
        "",
        "| input | values | containers (ours) | same kinds as pyroaring | serialize() bytes identical |",
        "|---|---:|---|:---:|:---:|",
    ]
    for name, n, kinds, same_kinds, same_bytes in inputs:
        lines.append(f"| {name} | {n:,} | {kinds} | {'yes' if same_kinds else 'no'} | "
                     f"{'yes' if same_bytes else 'no'} |")
    lines += ["", "## Results", ""] + table_lines(results)
    lines += ["", "## Summary", ""] + summary_lines(results) + [""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


# --- main ---------------------------------------------------------------------------------

def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ops", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="a fast subset (mixed/small/u64 inputs) with fewer rounds")
    ap.add_argument("--filter", default="", metavar="SUBSTR",
                    help="only ops whose 'op | input' contains SUBSTR (case-insensitive)")
    ap.add_argument("--rounds", type=int, default=None, help=f"rounds per op (default {ROUNDS})")
    ap.add_argument("--target-ms", type=float, default=None,
                    help="minimum inner-loop time per measurement (default 2)")
    ap.add_argument("--out", type=Path, default=None,
                    help=f"report path (default {DEFAULT_OUT} for a full run, none otherwise)")
    args = ap.parse_args(argv)
    args.rounds = args.rounds or (MIN_ROUNDS if args.quick else ROUNDS)
    args.target_ms = args.target_ms or (1.0 if args.quick else TARGET_NS / 1e6)
    out = args.out or (None if args.quick or args.filter else DEFAULT_OUT)

    started = time.perf_counter()
    _log("generating data and building both libraries' bitmaps …")
    data = make_data()
    built = build(data)
    cases = build_cases(data, built)
    if args.quick:
        cases = [c for c in cases if is_quick(c)]
    if args.filter:
        cases = [c for c in cases if args.filter.lower() in c.key.lower()]
    if not cases:
        _log(f"no op matches {args.filter!r}")
        return 2
    _log(f"verifying {len(cases)} ops …")
    try:
        for c in cases:
            verify(c)
    except AnswerMismatch as exc:
        _log(f"ABORT: {exc}")
        return 1
    inputs = input_rows(built)
    _log(f"timing {len(cases)} ops ({args.rounds} rounds max, {args.target_ms} ms loops) …")
    results = []
    budget = CASE_BUDGET_S / (5 if args.quick else 1)
    for i, c in enumerate(cases, 1):
        gc.collect()
        r = measure(c, args.rounds, int(args.target_ms * 1e6), budget)
        results.append(r)
        _log(f"[{i:3}/{len(cases)}] {c.key}: {r.median_us('ours'):.2f} µs vs "
             f"{r.median_us('pyroaring'):.2f} µs  ratio {r.ratio:.2f} "
             f"({len(r.ratios)} rounds)")
    elapsed = time.perf_counter() - started
    print()
    print("\n".join(machine_lines()))
    print()
    print("| input | values | containers (ours) | same kinds | serialize bytes identical |")
    for name, n, kinds, same_kinds, same_bytes in inputs:
        print(f"| {name} | {n:,} | {kinds} | {'yes' if same_kinds else 'no'} | "
              f"{'yes' if same_bytes else 'no'} |")
    print()
    print("\n".join(table_lines(results)))
    print()
    print("\n".join(summary_lines(results)))
    if out is not None:
        write_report(out, results, inputs, args, elapsed)
        _log(f"wrote {out} ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
