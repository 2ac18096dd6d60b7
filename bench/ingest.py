"""`make bench-ingest N=…`: bulk ingest of the benchmark dataset, side by side.

Each peer loads the generated data dir in a fresh process (bench.memory): roarbase
imports the edges files into a durable data directory (fsync on), DuckDB loads
records.parquet, the floor builds its BitMaps. Reported: wall time, edges/s, ratio to
DuckDB's time, peak and final RSS, against the ingest targets of PERFORMANCE.md.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
from pathlib import Path

from bench.gen import default_dir, generate
from bench.memory import measure_memory

_REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--peers", default="duckdb,floor,roarbase-api")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    data = default_dir(args.n)
    schema = generate(args.n, data)
    edges = sum(schema["edges"].values())
    peers = args.peers.split(",")
    stats = {}
    for name in peers:
        print(f"loading {name} in a fresh process …", flush=True)
        stats[name] = measure_memory(name, data)
    mib = 2**20
    lines = [f"# Bulk ingest at N = {args.n:,} ({edges:,} edges)", "",
             f"{_dt.date.today().isoformat()}, {os.cpu_count()} cores; each peer in a fresh process.", "",
             "| peer | load s | edges/s | ÷ DuckDB time | peak RSS MiB | RSS after load MiB | peak ÷ final |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    duck = stats.get("duckdb")
    for name, st in stats.items():
        ratio = f"{st.load_seconds / duck.load_seconds:.2f}" if duck else "n/a"
        lines.append(f"| {name} | {st.load_seconds:.2f} | {edges / st.load_seconds / 1e6:.2f}M | {ratio} | "
                     f"{st.peak_rss / mib:.0f} | {st.final_rss / mib:.0f} | {st.peak_rss / st.final_rss:.2f} |")
    rb = stats.get("roarbase-api")
    if rb and duck:
        lines += ["", "Targets (PERFORMANCE.md):", "",
                  _verdict("load time ≤ DuckDB's", rb.load_seconds <= duck.load_seconds,
                           f"{rb.load_seconds / duck.load_seconds:.2f}×"),
                  _verdict("≥ 15M edges/s", edges / rb.load_seconds >= 15e6, f"{edges / rb.load_seconds / 1e6:.2f}M/s"),
                  _verdict("peak RSS ≤ 2× final RSS", rb.peak_rss <= 2 * rb.final_rss,
                           f"{rb.peak_rss / rb.final_rss:.2f}×"),
                  _verdict("final RSS ≤ 0.5× DuckDB's", rb.final_rss <= 0.5 * duck.final_rss,
                           f"{rb.final_rss / duck.final_rss:.2f}×")]
    text = "\n".join(lines) + "\n"
    out = args.out or _REPO / "bench" / "results" / f"ingest-{_dt.date.today().isoformat()}-n{args.n}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    print(f"wrote {out}")
    return 0


def _verdict(what: str, ok: bool, got: str) -> str:
    return f"- {'PASS' if ok else 'FAIL'}: {what} — {got}"


if __name__ == "__main__":
    sys.exit(main())
