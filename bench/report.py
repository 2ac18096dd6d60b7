"""The result file of a run: a Markdown report and a log-scale ratio chart beside it."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import psutil

from bench.measure import Results, geomean
from bench.memory import MemoryStats
from bench.queries import Answer, Query
from bench.targets import API, DUCKDB, FLOOR, OTHERS, PER_QUERY, TARGET_N, overall_verdicts, query_verdicts

_PACKAGES = ("duckdb", "polars", "chdb", "pyroaring", "numpy", "pyarrow")


def _num(x: float | None) -> str:
    """Three significant figures, thousands separated; '—' when missing."""
    if x is None:
        return "—"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}" if x < 1 else f"{x:.{2 if x < 10 else 1}f}"


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def _cpu_model() -> str:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux
        cpuinfo = ""
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _commit() -> str:
    try:
        done = subprocess.run(["git", "describe", "--always", "--dirty"], check=True,
                              capture_output=True, text=True, cwd=Path(__file__).parent)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _ratio_columns(results: Results) -> list[tuple[str, str]]:
    """(peer, base) pairs reported: every peer against DuckDB and against the floor."""
    return [(p, base) for base in (DUCKDB, FLOOR) if base in results.peers
            for p in results.peers if p != base]


def _chart_base(results: Results) -> str:
    """The peer the chart divides by: DuckDB when present, else the floor, else the first."""
    return next((b for b in (DUCKDB, FLOOR) if b in results.peers), results.peers[0])


def _answer_summary(query: Query, answer: Answer) -> str:
    if isinstance(answer, int):
        return f"{answer:,}"
    if query.kind in ("topn", "groupby"):
        return f"{len(answer):,} {'keys' if query.kind == 'topn' else 'groups'}"
    return ", ".join("null" if v is None else f"{v:,}" for v in answer)


def _table(header: list[str], rows: list[list[str]], left: frozenset[int]) -> list[str]:
    """A Markdown table; columns whose index is in `left` align left, the rest right."""
    align = ["---" if i in left else "---:" for i in range(len(header))]
    return ["| " + " | ".join(r) + " |" for r in (header, align, *rows)]


def _query_table(results: Results) -> list[str]:
    ratios = _ratio_columns(results)
    others = [p for p in OTHERS if p in results.peers]
    fastest = bool(others) and API in results.peers
    header = (["#", "query", "answer"] + [f"{p} ms" for p in results.peers]
              + (["fastest peer", "api / fastest"] if fastest else [])
              + [f"{p} / {b}" for p, b in ratios] + list(PER_QUERY))
    rows = []
    for q in results.queries:
        answer = next(iter(results.answers[q.name].values()))
        cells = [str(q.number), q.name, _answer_summary(q, answer)]
        for p in results.peers:
            median = results.median_ms(q.name, p)
            cells.append(_num(median) if median is not None else
                         f"skipped (warm-up {results.warmup_ms[q.name][p] / 1000:.1f} s)")
        if fastest:
            cells += [results.fastest(q.name, OTHERS) or "—",
                      _num(results.ratio_to_fastest(q.name, API, OTHERS))]
        cells += [_num(results.ratio(q.name, p, b)) for p, b in ratios]
        cells += [v.status for v in query_verdicts(results, q.name)]
        rows.append(cells)
    names = [q.name for q in results.queries]
    rows.append(["", "**geometric mean**", ""]
                + [_num(geomean([results.median_ms(n, p) for n in names])) for p in results.peers]
                + (["", _num(geomean([results.ratio_to_fastest(n, API, OTHERS) for n in names]))]
                   if fastest else [])
                + [_num(geomean([results.ratio(n, p, b) for n in names])) for p, b in ratios]
                + [""] * len(PER_QUERY))
    return _table(header, rows, left=frozenset({0, 1, 2}))


def _load_table(results: Results, memory: Mapping[str, MemoryStats]) -> list[str]:
    header = ["peer", "load s (shared run)", "ingested", "per s", "details",
              "load s (fresh process)", "RSS after imports", "peak RSS", "RSS after load",
              "peak / after load"]
    rows = []
    for p in results.peers:
        load = results.loads[p]
        mem = memory.get(p)
        cells = [p, f"{load.seconds:.2f}", f"{load.items:,} {load.item_unit}",
                 f"{load.items / load.seconds / 1e6:.2f}M",
                 "; ".join(f"{k} {v}" for k, v in load.details.items())]
        if mem is None:
            cells += ["—"] * 5
        else:
            cells += [f"{mem.load_seconds:.2f}", _mib(mem.baseline_rss), _mib(mem.peak_rss),
                      _mib(mem.final_rss), f"{mem.peak_rss / mem.final_rss:.2f}"]
        rows.append(cells)
    return _table(header, rows, left=frozenset({0, 4}))


def render(results: Results, memory: Mapping[str, MemoryStats], command: str,
           chart_name: str) -> str:
    """The Markdown report of one run."""
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    versions = ", ".join([f"python {platform.python_version()}"]
                         + [f"{p} {_version(p)}" for p in _PACKAGES])
    indicative = "" if results.n in TARGET_N else (
        f" Targets are defined at N = {' and '.join(f'{n:,}' for n in TARGET_N)}; "
        f"at N = {results.n:,} the verdicts are indicative only.")
    lines = [
        f"# Benchmark at N = {results.n:,} ({date.today().isoformat()})",
        "",
        f"- command: `{command}`",
        f"- machine: {cores} cores ({usable} usable), {_cpu_model()}, "
        f"{_mib(psutil.virtual_memory().total)} RAM, {platform.platform()}; "
        f"1-min load average {results.load_average:.2f} at start, "
        f"{os.getloadavg()[0]:.2f} at end",
        f"- versions: {versions}; commit {_commit()}",
        f"- N = {results.n:,} records; {results.rounds} rounds after one warm-up per query "
        f"and peer; peers (loaded together in one process): {', '.join(results.peers)}",
        "",
        "## Per query",
        "",
        f"Median ms over the rounds per peer. A ratio `a / b` is the median over rounds of "
        f"a's time ÷ b's time in the same round (below 1: a is faster). The answer column "
        f"is the warm-up answer, identical for every peer. Target columns judge "
        f"roarbase's peers (n/a when absent).{indicative}",
        "",
        *_query_table(results),
        "",
        f"![per-query time ÷ {_chart_base(results)} time, log scale]({chart_name})",
        "",
        "## Load and memory",
        "",
        "Load s (shared run) is the load in the benchmark process; the RSS columns come "
        "from loading each peer alone in a fresh process (peak RSS includes the baseline).",
        "",
        *_load_table(results, memory),
        "",
        "## Whole-run targets",
        "",
        *[f"- {v.status}: {v.target} — {v.detail}" for v in overall_verdicts(results, memory)],
        "",
    ]
    return "\n".join(lines)


def render_chart(results: Results, path: Path) -> None:
    """Bar chart of each peer's per-query time ÷ the chart base's, log scale."""
    import matplotlib
    matplotlib.use("Agg")  # files only; never a display
    import matplotlib.pyplot as plt

    base = _chart_base(results)
    peers = [p for p in results.peers if p != base]
    names = [q.name for q in results.queries]
    fig, ax = plt.subplots(figsize=(12, 5))
    width = 0.8 / max(len(peers), 1)
    for i, peer in enumerate(peers):
        ratios = [results.ratio(n, peer, base) for n in names]
        xs = [j + (i - (len(peers) - 1) / 2) * width for j in range(len(names))]
        ax.bar([x for x, r in zip(xs, ratios) if r], [r for r in ratios if r], width,
               label=f"{peer} / {base}")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)), names, rotation=40, ha="right")
    ax.set_ylabel(f"time ÷ {base} time (median of rounds; below 1 = faster)")
    ax.set_title(f"N = {results.n:,}, {results.rounds} rounds")
    if peers:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(results: Results, memory: Mapping[str, MemoryStats], out_dir: Path,
                 command: str | None = None) -> Path:
    """Write <date>-n<N>.md and its .png chart into out_dir; return the .md path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{date.today().isoformat()}-n{results.n}"
    render_chart(results, out_dir / f"{stem}.png")
    md = out_dir / f"{stem}.md"
    md.write_text(render(results, memory, command or " ".join(sys.argv), f"{stem}.png"))
    return md
