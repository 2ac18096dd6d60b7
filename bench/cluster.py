"""Coordination overhead of the cluster executor: the same queries in-process, through the
loopback cluster (coordinator + workers in this process, every message pickled) and on a
Ray cluster (ray.cluster_utils: a head and two worker nodes on 127.0.0.1, one worker actor
per worker node), p50/p99 per query; throughput with 1 and 4 client threads on Ray; and
the time a killed worker takes to come back with its shards.

`python -m bench.cluster [--n 8388608] [--rounds 5] [--reps 40] [--out PATH]`

Every answer is checked equal across the three ways before timing. Rounds rotate the order
of the ways; figures are medians over rounds of each round's p50 / p99.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gc
import logging
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")   # every Ray address on 127.0.0.1

import numpy as np

import engine

QUERIES = {
    "Count": "Count(Row(tag=3))",
    "Count∩": "Count(Intersect(Row(tag=3), Row(region=5)))",
    "TopN": "TopN(tag, n=10)",
    "GroupBy": "GroupBy(Rows(region), Rows(tag), limit=10)",
}


def load(db: Any, n: int, seed: int = 7) -> float:
    t0 = time.perf_counter()
    ix = db.create_index("seg")
    ix.create_field("tag", "set")
    ix.create_field("region", "mutex")
    ix.create_field("age", "int", min=0, max=150)
    rng = np.random.default_rng(seed)
    step = 1 << 20
    for lo in range(0, n, step):
        cols = np.arange(lo, min(n, lo + step), dtype=np.uint64)
        ix.import_values("tag", cols, rng.integers(0, 100, len(cols)))
        ix.import_values("region", cols, rng.integers(0, 20, len(cols)))
        ix.import_values("age", cols, rng.integers(18, 90, len(cols)))
    return time.perf_counter() - t0


def timed_ms(fn: Callable[[], Any]) -> float:
    gc.disable()
    try:
        t = time.perf_counter_ns()
        fn()
        return (time.perf_counter_ns() - t) / 1e6
    finally:
        gc.enable()


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def throughput(db: Any, query: str, clients: int, seconds: float) -> float:
    stop = time.perf_counter() + seconds
    counts = [0] * clients

    def loop(i: int) -> None:
        while time.perf_counter() < stop:
            db.query("seg", query)
            counts[i] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=8 << 20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("bench") / "results" /
                    f"cluster-{_dt.date.today().isoformat()}.md")
    args = ap.parse_args(argv)

    import ray
    from ray.cluster_utils import Cluster as RayLocalCluster

    from engine import Cluster, LoopbackTransport, RayTransport

    tmp = tempfile.mkdtemp(prefix="roarbase-bench-cluster-")
    node: dict[str, Any] = {"num_cpus": 1, "object_store_memory": 100 << 20}
    rc = RayLocalCluster(initialize_head=True, head_node_args={**node, "num_cpus": 0, "include_dashboard": False})
    for _ in range(2):
        rc.add_node(**node)
    ray.init(address=rc.address, namespace="roarbase-bench", logging_level=logging.ERROR, log_to_driver=False)
    ways: dict[str, Any] = {}
    loads: dict[str, float] = {}
    ray_transport = None
    try:
        ways["in-process"] = engine.open(os.path.join(tmp, "local"), fsync=False)
        lt = LoopbackTransport(os.path.join(tmp, "lb-shared"), ["w0", "w1"], fsync=False)
        ways["loopback 2w"] = engine.open(os.path.join(tmp, "lb"), fsync=False,
                                          cluster=Cluster(lt, os.path.join(tmp, "lb-shared"), fsync=False))
        ray_transport = RayTransport(os.path.join(tmp, "ray-shared"), ["bench-w0", "bench-w1"], fsync=False)
        ways["ray 2w"] = engine.open(os.path.join(tmp, "ray"), fsync=False,
                                     cluster=Cluster(ray_transport, os.path.join(tmp, "ray-shared"), fsync=False))
        for name, db in ways.items():
            loads[name] = load(db, args.n)
            print(f"loaded {name}: {loads[name]:.1f} s", file=sys.stderr)
        for q in QUERIES.values():
            answers = {name: db.query("seg", q) for name, db in ways.items()}
            if len({repr(a) for a in answers.values()}) != 1:
                print(f"answers differ for {q}: {answers}", file=sys.stderr)
                return 1
        names = list(ways)
        p50: dict[tuple[str, str], list[float]] = {}
        p99: dict[tuple[str, str], list[float]] = {}
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for qn, q in QUERIES.items():
                for name in order:
                    db = ways[name]
                    db.query("seg", q)
                    ts = [timed_ms(lambda: db.query("seg", q)) for _ in range(args.reps)]
                    p50.setdefault((qn, name), []).append(pct(ts, 50))
                    p99.setdefault((qn, name), []).append(pct(ts, 99))
        tput = {(c, qn): throughput(ways["ray 2w"], QUERIES[qn], c, args.seconds)
                for c in (1, 4) for qn in ("Count", "GroupBy")}
        tput_local = {(c, qn): throughput(ways["in-process"], QUERIES[qn], c, args.seconds)
                      for c in (1, 4) for qn in ("Count", "GroupBy")}
        writes: dict[tuple[str, int], float] = {}
        for name in ("in-process", "ray 2w"):
            db = ways[name]
            for batch in (1, 100):
                n_req = max(1, 200 // batch)
                base = args.n + (1 << 21) + batch * 1000
                t0 = time.perf_counter()
                for r in range(n_req):
                    db.query("seg", " ".join(f"Set({base + ((r * batch + i) % 8) * (1 << 20) + r * batch + i}, tag=7)"
                                             for i in range(batch)))
                writes[(name, batch)] = n_req * batch / (time.perf_counter() - t0)
        recover = []
        db = ways["ray 2w"]
        expected = db.query("seg", QUERIES["Count"])
        for k in range(args.kills):
            victim = f"bench-w{k % 2}"
            pid = ray_transport.pids()[victim]
            t0 = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            got = db.query("seg", QUERIES["Count"])        # waits for Ray's restart and the reload
            first = time.perf_counter() - t0
            assert got == expected, (got, expected)
            load_s = db.cluster.status()["workers"][victim]["load_seconds"]
            recover.append((first, load_s))
    finally:
        for db in ways.values():
            db.close()
        if ray_transport is not None:
            ray_transport.stop_workers()
        ray.shutdown()
        rc.shutdown()

    med = statistics.median
    lines = [f"# Cluster coordination overhead ({_dt.date.today().isoformat()})", "",
             f"Written by `python -m bench.cluster --n {args.n} --rounds {args.rounds} --reps {args.reps}` "
             f"on {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC; load average at the end "
             f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.", "",
             f"Data: {args.n:,} records on {(args.n + (1 << 20) - 1) >> 20} shards (tag: set, 100 rows; region: "
             f"mutex, 20 rows; age: int). Load times: " +
             ", ".join(f"{k} {v:.1f} s" for k, v in loads.items()) + ".", "",
             "| query | way | p50 ms | p99 ms | p50 − in-process ms |", "| --- | --- | ---: | ---: | ---: |"]
    for qn, q in QUERIES.items():
        base = med(p50[(qn, "in-process")])
        for name in names:
            a, b = med(p50[(qn, name)]), med(p99[(qn, name)])
            lines.append(f"| {qn} `{q}` | {name} | {a:.3f} | {b:.3f} | {a - base:+.3f} |")
    lines += ["", "| query | clients | in-process calls/s | ray 2w calls/s |", "| --- | ---: | ---: | ---: |"]
    for qn in ("Count", "GroupBy"):
        for c in (1, 4):
            lines.append(f"| {qn} | {c} | {tput_local[(c, qn)]:,.0f} | {tput[(c, qn)]:,.0f} |")
    lines += ["", "| writes | in-process Sets/s | ray 2w Sets/s |", "| --- | ---: | ---: |"]
    for batch in (1, 100):
        lines.append(f"| {batch} Set per request | {writes[('in-process', batch)]:,.0f} | "
                     f"{writes[('ray 2w', batch)]:,.0f} |")
    lines += ["", "| kill | first answer after SIGKILL, s | shard reload in the new process, ms |",
              "| --- | ---: | ---: |"]
    for i, (first, load_s) in enumerate(recover):
        lines.append(f"| {i + 1} | {first:.2f} | {load_s * 1000:.0f} |")
    lines += ["", "## Method", "",
              "- Ray: `ray.cluster_utils.Cluster`, head node with 0 CPUs (the driver and the coordinator) and two "
              "worker nodes with 1 CPU each, all on 127.0.0.1; one worker actor per worker node (RayTransport, "
              "num_cpus=1, SPREAD). fsync off everywhere (the figures are coordination, not disk).",
              "- loopback: the same coordinator and worker code with the workers in this process; every message "
              "and answer is pickled and unpickled (the serialisation share of the overhead).",
              "- Each round runs every query `reps` times per way (after one warm-up call), the order of the ways "
              "rotating by round; p50/p99 are per round, the table shows their medians over rounds.",
              "- Throughput: 1 or 4 threads of this process calling `db.query` back to back for "
              f"{args.seconds:g} s.",
              "- Writes: requests of 1 or 100 `Set` calls over 8 new shards (one client; fsync off), 200 Sets "
              "per way; on the cluster a request's consecutive Sets go out as one message per shard.",
              "- Recovery: SIGKILL of a worker actor's process, then one Count: its latency includes Ray noticing "
              "the death, starting a new process, the worker reopening its shards from the shared directory "
              "(the right column, as the worker reports it) and the retried call.",
              "- No Ray compiled graphs: each fan-out is one actor call per worker (`ray.get` on all)."]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
