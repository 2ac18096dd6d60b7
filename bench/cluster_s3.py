"""What shards on an S3-compatible object store cost against a shared directory: write
throughput (one Set per request, and 100 Sets per request) and the time a restarted
worker takes to get one shard back, on a loopback cluster of two workers (coordinator and
workers in this process) with fsync on. The object store is moto's server in its own
process on 127.0.0.1 (no network latency: a real S3 adds its round trips, ~10-30 ms a
PUT within a region, to every commit).

`python -m bench.cluster_s3 [--sets 300] [--batches 30] [--records 500000] [--out PATH]`

Recovery is timed three ways for the object store: the worker's cache deleted first (a
new node: everything downloaded), the cache kept (a restart on the same node: files
checked against the objects' MD5s, nothing downloaded), and, for both kinds of storage,
before and after a checkpoint (log replay against snapshot files).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import numpy as np

import engine

SHARD = 1 << 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("moto's server did not start")


def _run(root: str, base: Path, args: argparse.Namespace, cache: str | None) -> dict[str, Any]:
    transport = engine.LoopbackTransport(root, ["w0", "w1"], fsync=True)
    db = engine.open(str(base / "coord"), fsync=True, cluster=engine.Cluster(transport, root))
    out: dict[str, Any] = {}
    try:
        ix = db.create_index("b")
        ix.create_field("f")
        ix.import_values("f", np.arange(0, args.records, dtype=np.uint64), np.arange(args.records) % 50)
        db.query("b", f"Set({SHARD + 1}, f=1)")                  # shard 1 too, then warm up
        t0 = time.perf_counter()
        for i in range(args.sets):
            db.query("b", f"Set({(i % 2) * SHARD + 600_000 + i}, f=2)")
        out["single"] = args.sets / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for b in range(args.batches):
            db.query("b", " ".join(f"Set({(i % 2) * SHARD + 700_000 + b * 100 + i}, f=3)" for i in range(100)))
        out["batch"] = args.batches * 100 / (time.perf_counter() - t0)
        expected = db.query("b", "Count(Row(f=2)) Count(Row(f=3)) Count(All())")
        owner = db.cluster.table.owner("b", 0)

        def restart(cold: bool) -> float:
            if cold and cache is not None:
                shutil.rmtree(cache, ignore_errors=True)
            worker = transport.restart(owner)
            assert db.query("b", "Count(Row(f=2)) Count(Row(f=3)) Count(All())") == expected
            return float(worker.load_seconds)

        for phase in ("log", "snapshot"):
            if phase == "snapshot":
                transport.worker(owner).close()                       # checkpoint: snapshot files
                transport.restart(owner)
            out[f"{phase}-warm"] = statistics.median(restart(False) for _ in range(args.reps))
            if cache is not None:
                out[f"{phase}-cold"] = statistics.median(restart(True) for _ in range(args.reps))
    finally:
        db.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", type=int, default=300)
    ap.add_argument("--batches", type=int, default=30)
    ap.add_argument("--records", type=int, default=500_000, help="records imported into shard 0 first")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    proc, endpoint = _start_moto()
    base = Path(tempfile.mkdtemp(prefix="rb-s3bench-"))
    try:
        os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                           "AWS_DEFAULT_REGION": "us-east-1", "ROARBASE_RAY_S3_CACHE": str(base / "cache")})
        client = boto3.session.Session().client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="bench")
        put_ms = []
        for i in range(100):                 # the store's own latency, for scale
            t0 = time.perf_counter()
            client.put_object(Bucket="bench", Key=f"probe/{i}", Body=b"x" * 100)
            put_ms.append((time.perf_counter() - t0) * 1000)
        shared = _run(str(base / "shared"), base / "a", args, None)
        s3 = _run(f"s3://bench/db?endpoint={endpoint}", base / "b", args, str(base / "cache"))
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(base, ignore_errors=True)
    load = os.getloadavg()
    ms = 1000
    lines = [
        f"# Cluster shards on an object store vs a shared directory ({_dt.date.today()})", "",
        f"`python -m bench.cluster_s3 --sets {args.sets} --batches {args.batches} --records {args.records}` — "
        f"loopback cluster, 2 workers, fsync on; moto's S3 server in its own process on 127.0.0.1; "
        f"{os.cpu_count()} cores, load average {load[0]:.1f}. Recovery: one shard of {args.records:,} records "
        f"plus {args.sets // 2 + args.batches * 50 + 1} logged Sets, median of {args.reps} restarts. "
        f"A 100-byte PUT to this moto takes {statistics.median(put_ms):.1f} ms (p50 of 100).", "",
        "| | shared directory | s3:// (moto) |", "| --- | ---: | ---: |",
        f"| Sets/s, one per request | {shared['single']:,.0f} | {s3['single']:,.0f} |",
        f"| Sets/s, 100 per request | {shared['batch']:,.0f} | {s3['batch']:,.0f} |",
        f"| recovery, log replay, cache kept | {shared['log-warm'] * ms:.0f} ms | {s3['log-warm'] * ms:.0f} ms |",
        f"| recovery, log replay, new node (empty cache) | — | {s3['log-cold'] * ms:.0f} ms |",
        f"| recovery after a checkpoint, cache kept | {shared['snapshot-warm'] * ms:.0f} ms | "
        f"{s3['snapshot-warm'] * ms:.0f} ms |",
        f"| recovery after a checkpoint, new node (empty cache) | — | {s3['snapshot-cold'] * ms:.0f} ms |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
