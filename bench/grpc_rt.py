"""gRPC round trip: what a query costs through a real server, against the in-process call.

    python -m bench.grpc_rt [--n 1000000] [--rounds 5] [--seconds 1.0] [--clients 4] [--out bench/results/grpc.md]

Starts `python -m server.cli serve` on loopback with the generated dataset (bench/gen.py,
N records) in a database, and measures two PQL queries: a no-op (Count of a row that does
not exist: parse, auth, admission and the wire, next to no engine work) and the workload's
count_intersect3. Each is run three ways, back to back in every round with the order
rotated: the in-process call (engine.open on a copy of the server's database directory,
holder.query, no server), one client process, and `--clients` client processes at once.
Clients are processes, each with its own channel, calling Pql back to back for `--seconds`;
with the GIL, client threads would measure the client's interpreter. Per round: p50/p99 of
the call latencies and the throughput (calls / wall time from the first start to the last
end); the report gives the median over rounds of each, and of the per-round ratio of N-client
to one-client throughput. Targets (PERFORMANCE.md): no-op p50 < 1 ms; 4 clients ≥ 1.6× one
client's throughput on 2 cores. Writes the report to --out and prints it.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable

import engine
from bench.gen import default_dir, generate
from bench.peers.grpc_peer import HEALTH_CHECK, BenchServer, client_worker
from bench.peers.roarbase_peer import INDEX
from bench.queries import build_queries
from bench.report import _cpu_model

NOOP = 'Count(Row(hobbies="__no_such_hobby__"))'
NOOP_TARGET_MS = 1.0
SCALING_TARGET = 1.6
DEFAULT_OUT = Path("bench") / "results" / "grpc.md"


@dataclass
class Batch:
    """One run of one query one way: every call's latency (s) and the wall time it took."""

    latencies: list[float]
    wall: float

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall if self.wall > 0 else 0.0

    def pct(self, q: float) -> float:
        lat = sorted(self.latencies)
        return lat[min(len(lat) - 1, int(q * len(lat)))]


@dataclass
class Cell:
    """The rounds of one (query, way)."""

    batches: list[Batch] = field(default_factory=list)

    def median(self, fn: Callable[[Batch], float]) -> float:
        return statistics.median(fn(b) for b in self.batches)


class Clients:
    """Client processes (spawned: the parent holds grpc and engine threads, fork is unsafe)."""

    def __init__(self, count: int, target: str, token: str) -> None:
        ctx = mp.get_context("spawn")
        self.conns = []
        self.procs = []
        for _ in range(count):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=client_worker, args=(child, target, token), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    def run(self, k: int, statement: str, database: str, seconds: float) -> tuple[Batch, list[Any]]:
        """k clients at once for `seconds`; their answers (first result of each)."""
        start_at = time.time() + 0.05
        for conn in self.conns[:k]:
            conn.send((statement, INDEX, database, start_at, seconds))
        replies = [conn.recv() for conn in self.conns[:k]]
        latencies = [x for r in replies for x in r[0]]
        wall = max(r[3] for r in replies) - min(r[2] for r in replies)
        return Batch(latencies, wall), [r[1] for r in replies]

    def close(self) -> None:
        for conn in self.conns:
            conn.send(None)
        for proc in self.procs:
            proc.join(10)
        for conn in self.conns:
            conn.close()


def in_process(holder: Any, statement: str, seconds: float) -> tuple[Batch, Any]:
    latencies = []
    clock = time.perf_counter
    began = clock()
    end = began + seconds
    answer = None
    while True:
        t0 = clock()
        answer = holder.query(INDEX, statement)
        t1 = clock()
        latencies.append(t1 - t0)
        if t1 >= end:
            break
    return Batch(latencies, clock() - began), answer


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.3f}" if ms < 10 else f"{ms:.1f}"


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def measure(n: int, rounds: int, seconds: float, clients: int, work_dir: str,
            dataset: Path | None = None) -> dict[str, Any]:
    """Run the whole measurement (generating the dataset into `dataset`, default
    bench/data/n<N>, unless it is there); returns what the report shows."""
    dataset = dataset or default_dir(n)
    schema = generate(n, dataset)
    queries = {"health check": HEALTH_CHECK, "no-op": NOOP,
               "count_intersect3": next(q.pql for q in build_queries(schema) if q.name == "count_intersect3")}
    server = BenchServer(dataset, os.path.join(work_dir, "server"))
    copy = os.path.join(work_dir, "in-process")
    shutil.copytree(server.engine_dir, copy)       # closed by now: a consistent copy
    server.start()
    pool = holder = None
    try:
        holder = engine.open(copy, fsync=False)
        pool = Clients(clients, server.target, server.token)
        ways: dict[str, Callable[[str, float], tuple[Batch, list[Any]]]] = {
            "in-process": lambda q, secs: _listed(in_process(holder, q, secs)),
            "1 client": lambda q, secs: pool.run(1, q, server.database_id, secs),
            f"{clients} clients": lambda q, secs: pool.run(clients, q, server.database_id, secs),
        }
        names = list(ways)

        def applies(text: str, way: str) -> bool:    # the health check has no in-process form
            return text != HEALTH_CHECK or way != "in-process"

        for q in queries.values():                    # warm-up: connections, caches, parsers
            for way, fn in ways.items():
                if applies(q, way):
                    fn(q, min(seconds, 0.2))
        cells = {(qn, w): Cell() for qn, q in queries.items() for w in ways if applies(q, w)}
        for r in range(rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for qname, text in queries.items():
                seen = []
                for way in filter(lambda w: applies(text, w), order):
                    batch, answers = ways[way](text, seconds)
                    cells[(qname, way)].batches.append(batch)
                    seen.extend(answers)
                if any(a != seen[0] for a in seen):
                    raise AssertionError(f"{qname}: the ways disagree: {seen}")
        return {"n": n, "rounds": rounds, "seconds": seconds, "clients": clients, "queries": queries,
                "ways": names, "cells": cells, "edges": server.edges, "load_seconds": server.load_seconds,
                "loadavg": os.getloadavg()}
    finally:
        if pool is not None:
            pool.close()
        if holder is not None:
            holder.close()
        status = server.stop()
        if status != 0:
            raise RuntimeError(f"the server exited with status {status}")


def _listed(result: tuple[Batch, Any]) -> tuple[Batch, list[Any]]:
    return result[0], [result[1]]


def report(m: dict[str, Any]) -> str:
    cells, ways, k = m["cells"], m["ways"], m["clients"]
    many = ways[2]
    lines = [
        "# gRPC round trip",
        "",
        f"Written by `python -m bench.grpc_rt --n {m['n']} --rounds {m['rounds']} --seconds {m['seconds']}"
        f" --clients {k}` on {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.",
        "",
        "| query | way | p50 ms | p99 ms | calls/s | × in-process p50 |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for qname in m["queries"]:
        inproc = cells.get((qname, "in-process"))
        base = inproc.median(lambda b: b.pct(0.5)) if inproc is not None else None
        for way in ways:
            c = cells.get((qname, way))
            if c is None:
                continue
            p50 = c.median(lambda b: b.pct(0.5))
            lines.append(f"| {qname} | {way} | {_ms(p50)} | {_ms(c.median(lambda b: b.pct(0.99)))} |"
                         f" {c.median(lambda b: b.throughput):,.0f} | {f'{p50 / base:,.1f}' if base else '—'} |")
    lines += ["", "| target | measured | verdict |", "| --- | --- | --- |"]
    noop = cells[("no-op", "1 client")].median(lambda b: b.pct(0.5)) * 1e3
    lines.append(f"| no-op round trip p50 < {NOOP_TARGET_MS:g} ms (1 client) | {noop:.3f} ms |"
                 f" {'PASS' if noop < NOOP_TARGET_MS else 'FAIL'} |")
    for qname in ("no-op", "count_intersect3"):
        ratios = [a.throughput / b.throughput for a, b in zip(cells[(qname, many)].batches,
                                                              cells[(qname, "1 client")].batches)]
        ratio = statistics.median(ratios)
        lines.append(f"| {qname}: {k} clients ≥ {SCALING_TARGET:g}× one client's calls/s | {ratio:.2f}× |"
                     f" {'PASS' if ratio >= SCALING_TARGET else 'FAIL'} |")
    lines += [
        "",
        "## Method",
        "",
        f"- Data: bench/gen.py, N = {m['n']:,} records ({m['edges']:,} edges), imported into database"
        f" `bench`, table `{INDEX}`, before the server starts ({m['load_seconds']:.1f} s).",
        "- Server: `python -m server.cli serve` on 127.0.0.1 with free ports and default settings, except"
        " the per-org rate limit, raised out of the way (ROARBASE_RATE_PER_ORG).",
        f"- Queries: no-op `{m['queries']['no-op']}`; count_intersect3"
        f" `{m['queries']['count_intersect3']}`; health check: `grpc.health.v1.Health/Check` on the same"
        " server (no credentials, no service call: the floor of the transport, grpc.aio and both"
        " Python sides).",
        "- in-process: `holder.query` on a copy of the server's database directory, in this process.",
        f"- clients: separate processes (spawned), one `server.client.Client` (one channel) each,"
        f" calling `Pql` back to back for {m['seconds']} s per batch; the bearer token is verified"
        " on every call, as in production.",
        f"- {m['rounds']} rounds; in every round each query runs each way once, the order of the ways"
        " rotating by round. Figures are medians over rounds of per-round p50, p99 and calls/s; the"
        " ratio is the median of per-round ratios. All answers are checked equal.",
        "- calls/s of the in-process way is one thread calling back to back; of the client ways, all"
        " calls over the wall time from the first client's start to the last one's end.",
        "",
        "## Machine",
        "",
        f"- {os.cpu_count()} cores, {_cpu_model()} ({platform.machine()}, {platform.system()} {platform.release()});"
        f" load average at start {m['loadavg'][0]:.2f} / {m['loadavg'][1]:.2f} / {m['loadavg'][2]:.2f}"
        " (shared machine: others' jobs run too)",
        f"- Python {platform.python_version()}, grpcio {_package('grpcio')}, protobuf {_package('protobuf')}",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.grpc_rt", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="records in the dataset (default 1,000,000)")
    parser.add_argument("--data", type=Path, help="dataset directory (default bench/data/n<N>)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each batch")
    parser.add_argument("--clients", type=int, default=4, help="clients of the concurrent way")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="roarbase-grpc-rt-") as work:
        text = report(measure(args.n, args.rounds, args.seconds, args.clients, work, args.data))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
