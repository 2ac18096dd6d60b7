"""Memory of one loaded peer, measured in a fresh subprocess so peers cannot share pages.

`python -m bench.memory --peer floor --data bench/data/n1000000` imports the peer, loads
the data dir and prints one JSON object: RSS after imports (baseline), peak RSS of the
process (so it includes the baseline) and RSS after load. Before that last reading the
probe runs the GC, returns Arrow's cached free blocks and the C heap's free pages
(malloc_trim) to the OS, so every peer is judged on what it keeps, not on the scratch
space its Parquet reader or its import left behind.
"""
from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
import pyarrow as pa

from bench.peers import PEERS

_REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class MemoryStats:
    """RSS in bytes of a process that loaded one peer, and that load's wall time."""

    baseline_rss: int
    peak_rss: int
    final_rss: int
    load_seconds: float


def measure_memory(peer: str, data_dir: Path) -> MemoryStats:
    """Load `peer` over `data_dir` in a fresh interpreter and report its RSS.

    Raises:
        subprocess.CalledProcessError: the probe failed (its stderr is in the exception).
    """
    done = subprocess.run(
        [sys.executable, "-m", "bench.memory", "--peer", peer, "--data",
         str(Path(data_dir).resolve())],
        cwd=_REPO, check=True, capture_output=True, text=True)
    return MemoryStats(**json.loads(done.stdout))


def _peak_rss() -> int:
    # VmHWM is the peak of this address space. ru_maxrss would not do: Linux carries it
    # across exec, so it starts at the parent's RSS when subprocess forks (or vforks).
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:  # not Linux: ru_maxrss is the best there is
        status = ""
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, else KiB


def _release_c_heap() -> None:
    """Return the C heap's free pages to the OS (glibc's malloc_trim), for every peer
    alike: like Arrow's pool above, freed load-time scratch is not data a peer keeps."""
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _probe(peer_name: str, data_dir: Path) -> MemoryStats:
    peer = PEERS[peer_name]()  # imports the peer's libraries before the baseline
    process = psutil.Process()
    baseline = process.memory_info().rss
    started = time.perf_counter()
    peer.load(data_dir)
    seconds = time.perf_counter() - started
    gc.collect()
    pa.default_memory_pool().release_unused()
    _release_c_heap()
    final = process.memory_info().rss
    return MemoryStats(baseline, _peak_rss(), final, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--peer", required=True, choices=sorted(PEERS))
    parser.add_argument("--data", required=True, type=Path)
    args = parser.parse_args(argv)
    print(json.dumps(asdict(_probe(args.peer, args.data))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
