"""Interleaved timing of loaded peers: warm-up with answer comparison, then rotated rounds.

The machine is shared and noisy, so nothing here trusts an absolute time from another
run: every round runs every query on every peer back to back, the peer order rotates
each round, and a ratio between two peers is the median of their per-round ratios.
"""
from __future__ import annotations

import gc
import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.peers import LoadStats, Peer
from bench.queries import Answer, Query, describe_mismatch


class AnswerMismatch(Exception):
    """Peers disagreed on an answer, or a peer changed its answer between runs."""


def timed(run: Callable[[], Answer]) -> tuple[Answer, float]:
    """(answer, milliseconds) of one call, with the cyclic GC paused as timeit does."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        started = time.perf_counter_ns()
        answer = run()
        elapsed = time.perf_counter_ns() - started
    finally:
        if enabled:
            gc.enable()
    return answer, elapsed / 1e6


@dataclass
class Results:
    """Everything one run measured, keyed by query name and peer name."""

    n: int
    peers: list[str]
    queries: list[Query]
    rounds: int
    max_seconds: float
    # 1-minute load average when the run started: other work on a shared machine skews
    # a 2-thread peer more than a 1-thread one, so the report states it.
    load_average: float = field(default_factory=lambda: os.getloadavg()[0])
    loads: dict[str, LoadStats] = field(default_factory=dict)
    answers: dict[str, dict[str, Answer]] = field(default_factory=dict)
    warmup_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    # times[query][peer][round] in ms; None where the peer was skipped that round.
    times: dict[str, dict[str, list[float | None]]] = field(default_factory=dict)

    def skipped(self, query: str, peer: str) -> bool:
        """Whether the peer's warm-up on the query exceeded the time budget."""
        return self.warmup_ms[query][peer] > self.max_seconds * 1000

    def median_ms(self, query: str, peer: str) -> float | None:
        """Median time of the peer on the query over the rounds; None if skipped."""
        samples = [t for t in self.times[query][peer] if t is not None]
        return statistics.median(samples) if samples else None

    def ratio(self, query: str, peer: str, base: str,
              scale: float = 1.0, offset_ms: float = 0.0) -> float | None:
        """Median over rounds of peer_time / (scale × base_time + offset_ms)."""
        pairs = zip(self.times[query][peer], self.times[query][base])
        ratios = [t / (scale * b + offset_ms) for t, b in pairs
                  if t is not None and b is not None and scale * b + offset_ms > 0]
        return statistics.median(ratios) if ratios else None


    def fastest(self, query: str, candidates: Sequence[str]) -> str | None:
        """The candidate peer (of those in the run and timed) with the lowest median."""
        timed = [(m, c) for c in candidates if c in self.peers
                 for m in [self.median_ms(query, c)] if m is not None]
        return min(timed)[1] if timed else None

    def ratio_to_fastest(self, query: str, peer: str, candidates: Sequence[str]) -> float | None:
        """Median over rounds of peer_time / (the fastest candidate's time in that round)."""
        present = [c for c in candidates if c in self.peers]
        if not present:
            return None
        ratios = []
        for i, t in enumerate(self.times[query][peer]):
            others = [o for c in present if (o := self.times[query][c][i]) is not None]
            if t is not None and others and min(others) > 0:
                ratios.append(t / min(others))
        return statistics.median(ratios) if ratios else None


def geomean(values: Sequence[float | None]) -> float | None:
    """Geometric mean of the values, None if any is missing (a partial mean misleads)."""
    if not values or any(v is None or v <= 0 for v in values):
        return None
    return math.exp(sum(math.log(v) for v in values if v is not None) / len(values))


def _shown(answer: Answer, limit: int = 2000) -> str:
    text = repr(answer)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} chars)"


def warm_up(peers: Sequence[Peer], results: Results) -> list[str]:
    """Run each query once on each peer; record answers; return the disagreements."""
    mismatches = []
    for query in results.queries:
        answers = results.answers.setdefault(query.name, {})
        warm = results.warmup_ms.setdefault(query.name, {})
        for peer in peers:
            answers[peer.name], warm[peer.name] = timed(lambda: peer.run(query))
        reference, first = peers[0].name, answers[peers[0].name]
        for name, answer in answers.items():
            if answer != first:
                mismatches.append(
                    f"{query.number} {query.name}: {reference} and {name} disagree — "
                    f"{describe_mismatch(first, answer)}\n"
                    f"  {reference}: {_shown(first)}\n  {name}: {_shown(answer)}")
    return mismatches


def measure(peers: Sequence[Peer], results: Results,
            progress: Callable[[str], None] = lambda _: None) -> None:
    """Time every query on every peer for results.rounds rounds, rotating peer order.

    Raises:
        AnswerMismatch: a peer answered differently than in its warm-up.
    """
    for query in results.queries:
        results.times[query.name] = {p.name: [] for p in peers}
    for r in range(results.rounds):
        order = list(peers[r % len(peers):]) + list(peers[:r % len(peers)])
        for query in results.queries:
            for peer in order:
                samples = results.times[query.name][peer.name]
                if results.skipped(query.name, peer.name):
                    samples.append(None)
                    continue
                answer, ms = timed(lambda: peer.run(query))
                if answer != results.answers[query.name][peer.name]:
                    raise AnswerMismatch(
                        f"{query.name}: {peer.name} changed its answer in round {r + 1}: "
                        f"{describe_mismatch(results.answers[query.name][peer.name], answer)}")
                samples.append(ms)
        progress(f"round {r + 1}/{results.rounds} done")
