"""Side-by-side runner: every peer on the same data, in one process, interleaved.

`python -m bench.run --n 1000000 [--rounds 5] [--peers duckdb,floor]` generates the data
if missing, loads every peer, runs one warm-up per query and peer (those answers must be
identical across peers, else exit 1 with both shown), then the timed rounds, then loads
each peer alone in a fresh process for its memory, and writes
bench/results/<date>-n<N>.md and .png.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from bench.gen import DEFAULT_SEED, default_dir, generate
from bench.measure import AnswerMismatch, Results, measure, warm_up
from bench.memory import MemoryStats, measure_memory
from bench.peers import PEERS, Peer
from bench.queries import build_queries
from bench.report import write_report

DEFAULT_PEERS = ("duckdb", "polars", "clickhouse", "floor", "roarbase-api", "roarbase-pql", "roarbase-sql")
RESULTS_DIR = Path("bench") / "results"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _peer_names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in PEERS]
    if unknown or not names or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"peers must be distinct names among {', '.join(sorted(PEERS))}; got {text!r}")
    return names


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.run",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="records (default 1M)")
    parser.add_argument("--rounds", type=_at_least_one, default=5,
                        help="timed rounds (default 5; use at least 5 for numbers you quote)")
    parser.add_argument("--peers", type=_peer_names, default=list(DEFAULT_PEERS),
                        help=f"comma-separated, among {', '.join(sorted(PEERS))}")
    parser.add_argument("--max-seconds-per-query", type=float, default=20.0,
                        help="a peer whose warm-up of a query takes longer is not timed on "
                             "it in the rounds (default 20)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--data-dir", type=Path, help="dataset dir (default bench/data/n<N>)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where reports go")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the fresh-process RSS measurement")
    return parser


def _time_peers(peers: list[Peer], results: Results, data_dir: Path) -> list[str]:
    """Load, warm up and measure; return the answer disagreements (empty when none)."""
    for peer in peers:
        _log(f"loading {peer.name} …")
        results.loads[peer.name] = peer.load(data_dir)
        _log(f"  {results.loads[peer.name].seconds:.2f} s")
    _log("warm-up (answers compared) …")
    mismatches = warm_up(peers, results)
    if not mismatches:
        measure(peers, results, progress=_log)
    return mismatches


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 on success, 1 when peers disagree on an answer."""
    args = _parser().parse_args(argv)
    data_dir = args.data_dir or default_dir(args.n)
    started = time.perf_counter()
    schema = generate(args.n, data_dir, args.seed)
    _log(f"data {data_dir} ready ({time.perf_counter() - started:.1f} s)")

    results = Results(n=args.n, peers=args.peers, queries=build_queries(schema),
                      rounds=args.rounds, max_seconds=args.max_seconds_per_query)
    peers = [PEERS[name]() for name in args.peers]
    try:
        mismatches = _time_peers(peers, results, data_dir)
    except AnswerMismatch as exc:
        mismatches = [str(exc)]
    finally:
        for peer in peers:
            peer.close()
    if mismatches:
        _log(f"\nFAIL: {len(mismatches)} answer mismatch(es) — no report written\n")
        for message in mismatches:
            _log(message + "\n")
        return 1

    memory: dict[str, MemoryStats] = {}
    if not args.no_memory:
        for name in args.peers:
            _log(f"memory of {name} in a fresh process …")
            memory[name] = measure_memory(name, data_dir)
    argv_text = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "-m", "bench.run", *argv_text])
    report = write_report(results, memory, args.out, command)
    print(report.read_text())
    _log(f"wrote {report} ({time.perf_counter() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
