"""The PERFORMANCE.md targets that bench.run can judge, evaluated from one run's results.

Targets concern roarbase's peers ("roarbase-api", "roarbase-pql", "roarbase-sql"); any
target whose peers are absent from the run is "n/a". They are defined at 10M and 50M
records: at smaller N the verdicts are indicative only. Not judged here: the gRPC round
trip and concurrency targets and the bitmap-core micro-benchmarks (other harnesses).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bench.measure import Results, geomean
from bench.memory import MemoryStats

API, PQL, SQL = "roarbase-api", "roarbase-pql", "roarbase-sql"
DUCKDB, FLOOR = "duckdb", "floor"
# The systems a Python shop would pick instead: roarbase must take ≤ 0.5× the fastest's time.
OTHERS = ("duckdb", "polars", "clickhouse")
TARGET_N = (10_000_000, 50_000_000)

# Queries where C-level many-row kernels must beat the floor by 2x (PERFORMANCE.md).
MANY_ROW_KERNELS = frozenset({"count_int_range", "count_time_range", "topn_filtered",
                              "groupby_2", "groupby_filtered", "distinct_filtered"})

Status = Literal["PASS", "FAIL", "n/a"]

# Per-query target columns of the report, in order.
PER_QUERY = ("≤ 0.5× fastest peer", "vs floor", "PQL ≤ 1.2×API", "SQL ≤ 1.2×API")


@dataclass(frozen=True)
class Verdict:
    """One target judged: PASS/FAIL with the measured figure, or n/a with why."""

    target: str
    status: Status
    detail: str


def _judge(target: str, value: float | None, limit: float, what: str, *,
           at_least: bool = False) -> Verdict:
    """PASS when value <= limit (>= with at_least)."""
    if value is None:
        return Verdict(target, "n/a", "not measured")
    ok = value >= limit if at_least else value <= limit
    status: Status = "PASS" if ok else "FAIL"
    return Verdict(target, status, f"{what} = {value:.3g} ({'min' if at_least else 'max'} "
                                   f"{limit:.3g})")


def _absent(target: str, results: Results, *peers: str) -> Verdict | None:
    missing = [p for p in peers if p not in results.peers]
    return Verdict(target, "n/a", f"no {', '.join(missing)} peer") if missing else None


def query_verdicts(results: Results, query: str) -> list[Verdict]:
    """The per-query targets, in PER_QUERY order."""
    return [_vs_duckdb(results, query), _vs_floor(results, query),
            _front_door(results, query, PQL, PER_QUERY[2]),
            _front_door(results, query, SQL, PER_QUERY[3])]


def _vs_duckdb(results: Results, query: str) -> Verdict:
    """≤ 0.5× the time of the fastest of DuckDB, Polars and ClickHouse (PERFORMANCE.md)."""
    target = PER_QUERY[0]
    if API not in results.peers or not any(p in results.peers for p in OTHERS):
        return Verdict(target, "n/a", "needs roarbase-api and one of " + ", ".join(OTHERS))
    return _judge(target, results.ratio_to_fastest(query, API, OTHERS), 0.5,
                  f"api/{results.fastest(query, OTHERS)}")


def _vs_floor(results: Results, query: str) -> Verdict:
    target = PER_QUERY[1]
    absent = _absent(target, results, API, FLOOR)
    if absent:
        return absent
    if query in MANY_ROW_KERNELS:
        return _judge(target, results.ratio(query, API, FLOOR), 0.5, "api/floor")
    if DUCKDB not in results.peers:
        return Verdict(target, "n/a", "needs duckdb to know whether the floor wins")
    floor_vs_duckdb = results.ratio(query, FLOOR, DUCKDB)
    if floor_vs_duckdb is None or floor_vs_duckdb >= 1:
        return Verdict(target, "n/a", "the floor does not beat DuckDB here")
    return _judge(target, results.ratio(query, API, FLOOR, scale=1.2, offset_ms=0.03), 1.0,
                  "api/(1.2×floor + 0.03 ms)")


def _front_door(results: Results, query: str, door: str, target: str) -> Verdict:
    return _absent(target, results, door, API) or _judge(
        target, results.ratio(query, door, API, scale=1.2, offset_ms=0.2), 1.0,
        f"{door.removeprefix('roarbase-')}/(1.2×api + 0.2 ms)")


def overall_verdicts(results: Results, memory: Mapping[str, MemoryStats]) -> list[Verdict]:
    """The whole-run targets: geometric mean, ingest and memory."""
    verdicts = []
    target = "geomean over the 14: api ≥ 50× faster than DuckDB"
    verdicts.append(_absent(target, results, API, DUCKDB) or _judge(
        target, geomean([results.ratio(q.name, API, DUCKDB) for q in results.queries]),
        1 / 50, "geomean api/duckdb"))

    target = "ingest: api load time ≤ DuckDB's"
    absent = _absent(target, results, API, DUCKDB)
    verdicts.append(absent or _judge(
        target, results.loads[API].seconds / results.loads[DUCKDB].seconds, 1.0,
        "api/duckdb load time"))

    target = "ingest: ≥ 15M edges/s"
    verdicts.append(_absent(target, results, API) or _judge(
        target, results.loads[API].items / results.loads[API].seconds, 15e6, "api edges/s",
        at_least=True))

    target = "ingest: peak RSS ≤ 2× final RSS"
    verdicts.append(_absent(target, results, API) or _judge(
        target, memory[API].peak_rss / memory[API].final_rss if API in memory else None,
        2.0, "api peak/final RSS"))

    target = "memory after load ≤ 0.5× DuckDB's RSS"
    both = API in memory and DUCKDB in memory
    verdicts.append(_absent(target, results, API, DUCKDB) or _judge(
        target, memory[API].final_rss / memory[DUCKDB].final_rss if both else None,
        0.5, "api/duckdb final RSS"))
    return verdicts
