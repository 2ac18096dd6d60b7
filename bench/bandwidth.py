"""BSI ranges and sums against the memory bandwidth of the same machine, in the same run.

    python -m bench.bandwidth --n 10000000 [--rounds 7] [--out bench/results/bandwidth-n10000000.md]

PERFORMANCE.md's target: a BSI range or sum at 10M takes at most 2x the time it takes
to stream the bit slices it reads from memory. Per round (interleaved, medians): a numpy
copy of 256 MiB gives the machine's copy bandwidth (bytes read + bytes written per
second, STREAM's convention), then roarbase's Python API runs each BSI query. The bytes a
query reads are the roaring containers of its slices (every bit plane, the not-null row)
and of its filter row, as serialised by the floor peer's pyroaring bitmaps (the same
container layout roarbase holds in memory). Stream time = those bytes / bandwidth.
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.gen import default_dir, generate, read_schema
from bench.measure import timed
from bench.peers.floor import FloorPeer
from bench.peers.roarbase_peer import RoarbaseAPIPeer
from bench.queries import Query, build_queries

COPY_BYTES = 256 << 20
# The BSI queries of the workload and what each reads: (BSI fields, (keyed field, param)).
READS: dict[str, tuple[tuple[str, ...], tuple[str, str] | None]] = {
    "count_int_range": (("age", "income"), None),
    "count_time_range": (("last_seen",), ("region", "region")),
    "sum_filtered": (("income",), ("education", "education")),
    "minmax_filtered": (("income",), ("tags", "tag")),
}


def copy_bandwidth(src: np.ndarray, dst: np.ndarray) -> float:
    """Bytes per second of one numpy copy (read + write)."""
    started = time.perf_counter()
    np.copyto(dst, src)
    return 2 * src.nbytes / (time.perf_counter() - started)


def slice_bytes(floor: FloorPeer, query: Query) -> int:
    fields, filt = READS[query.name]
    total = 0
    for f in fields:
        bsi = floor.bsi(f)
        total += len(bsi.not_null.serialize()) + sum(len(s.serialize()) for s in bsi.slices)
    if filt is not None:
        field, param = filt
        total += len(floor.row(field, query.params[param]).serialize())
    return total


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    data = args.data_dir or default_dir(args.n)
    generate(args.n, data)                               # kept when it already matches
    queries = [q for q in build_queries(read_schema(data)) if q.name in READS]
    floor, api = FloorPeer(), RoarbaseAPIPeer()
    floor.load(data)
    api.load(data)
    sizes = {q.name: slice_bytes(floor, q) for q in queries}
    for q in queries:                                     # same answers, and a warm-up
        if floor.run(q) != api.run(q):
            raise SystemExit(f"{q.name}: floor and roarbase-api disagree")
    floor.close()
    src = np.ones(COPY_BYTES // 8, dtype=np.uint64)
    dst = np.empty_like(src)
    copy_bandwidth(src, dst)
    bandwidth: list[float] = []
    times: dict[str, list[float]] = {q.name: [] for q in queries}
    for _ in range(args.rounds):
        bandwidth.append(copy_bandwidth(src, dst))
        for q in queries:
            times[q.name].append(timed(lambda: api.run(q))[1])
    api.close()
    bw = statistics.median(bandwidth)
    lines = [f"# BSI queries against memory bandwidth (N = {args.n:,})", "",
             f"Copy bandwidth (numpy, 256 MiB, read + write): median {bw / 1e9:.2f} GB/s over {args.rounds} "
             f"rounds (range {min(bandwidth) / 1e9:.2f}–{max(bandwidth) / 1e9:.2f}).", "",
             "| query | slices + filter read (MiB) | stream ms | roarbase-api ms | api / stream | ≤ 2× |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    for q in queries:
        stream_ms = sizes[q.name] / bw * 1e3
        api_ms = statistics.median(times[q.name])
        ratio = api_ms / stream_ms
        lines.append(f"| {q.name} | {sizes[q.name] / 2**20:.1f} | {stream_ms:.3g} | {api_ms:.3g} | {ratio:.2f} | "
                     f"{'PASS' if ratio <= 2 else 'FAIL'} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
