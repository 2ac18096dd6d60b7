"""How each query's time grows with N: several bench.run reports side by side.

    python -m bench.scaling bench/results/2026-12-04-n1000000.md bench/results/2026-12-05-n10000000.md \
        bench/results/2026-12-05-n50000000.md --out bench/results/scaling-2026-12-05

reads each report's "Per query" table (median ms per peer), and writes OUT.md (per query
and peer: the time at each N and the growth factor between consecutive Ns, where linear
growth is the ratio of the Ns) and OUT.png (one log-log panel per query, a line per peer).
Reports are the only input, so runs made on different days can be compared; their
machine load differs, so read growth factors to about ±30 %.
"""
from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path

Times = dict[str, dict[str, float]]   # query → peer → median ms

_TITLE = re.compile(r"^# Benchmark at N = ([\d,]+)")


def _ms(cell: str) -> float | None:
    """A time cell's ms; None for a peer without one ("skipped (warm-up 88.4 s)", "n/a", "")."""
    try:
        return float(cell.replace(",", ""))
    except ValueError:
        return None


def read_report(text: str) -> tuple[int, Times]:
    """N and the per-peer median ms of every query in a bench.run report."""
    title = _TITLE.search(text.splitlines()[0]) if text else None
    if title is None:
        raise ValueError("not a bench.run report (no '# Benchmark at N = …' title)")
    n = int(title.group(1).replace(",", ""))
    lines = text.splitlines()
    start = lines.index("## Per query")
    header_at = next(i for i in range(start, len(lines)) if lines[i].startswith("| # |"))
    header = [c.strip() for c in lines[header_at].strip("|").split("|")]
    peers = {i: h[:-3] for i, h in enumerate(header) if h.endswith(" ms")}
    times: Times = {}
    for line in lines[header_at + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        if not cells[0]:            # the geometric-mean row
            continue
        times[cells[1]] = {peer: ms for i, peer in peers.items() if (ms := _ms(cells[i])) is not None}
    return n, times


def growth_table(runs: Sequence[tuple[int, Times]]) -> list[str]:
    """Markdown: per query and peer, ms at each N and the factor from one N to the next."""
    runs = sorted(runs, key=lambda r: r[0])
    ns = [n for n, _ in runs]
    peers = sorted({p for _, t in runs for q in t.values() for p in q})
    head = ["query", "peer", *(f"{n:,} ms" for n in ns),
            *(f"×{ns[i + 1] // ns[i]} N: time ×" for i in range(len(ns) - 1))]
    out = ["| " + " | ".join(head) + " |", "| " + " | ".join(["---", "---"] + ["---:"] * (len(head) - 2)) + " |"]
    for query in runs[0][1]:
        for peer in peers:
            ms = [t.get(query, {}).get(peer) for _, t in runs]
            if all(m is None for m in ms):
                continue
            factors = [f"{b / a:.2f}" if a and b else "" for a, b in zip(ms, ms[1:])]
            out.append("| " + " | ".join([query, peer, *(f"{m:.3g}" if m is not None else "" for m in ms),
                                          *factors]) + " |")
    return out


def render_chart(runs: Sequence[tuple[int, Times]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = sorted(runs, key=lambda r: r[0])
    queries = list(runs[0][1])
    peers = sorted({p for _, t in runs for q in t.values() for p in q})
    cols = 4
    fig, axes = plt.subplots((len(queries) + cols - 1) // cols, cols, figsize=(16, 13), squeeze=False)
    for ax, query in zip(axes.flat, queries):
        for peer in peers:
            pts = [(n, t[query][peer]) for n, t in runs if peer in t.get(query, {})]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=peer)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(query, fontsize=10)
        ax.set_xlabel("records")
        ax.set_ylabel("ms")
    for ax in list(axes.flat)[len(queries):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reports", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True, help="path without extension for OUT.md and OUT.png")
    args = ap.parse_args(argv)
    runs = [read_report(p.read_text()) for p in args.reports]
    lines = [f"# How query time grows with N ({', '.join(f'{n:,}' for n, _ in sorted(runs, key=lambda r: r[0]))})",
             "", "Median ms per peer from these reports: " + ", ".join(f"`{p}`" for p in args.reports) + ".",
             "Linear growth is a factor equal to the ratio of the Ns.", "",
             f"![time vs N, log-log]({args.out.name}.png)", "", *growth_table(runs), ""]
    args.out.with_suffix(".md").write_text("\n".join(lines))
    render_chart(runs, args.out.with_suffix(".png"))
    print(f"wrote {args.out.with_suffix('.md')} and .png")


if __name__ == "__main__":
    main()
