"""bench.scaling reads bench.run reports and computes growth factors from them."""
from pathlib import Path

import pytest

from bench.scaling import growth_table, main, read_report

REPORT = Path(__file__).resolve().parents[2] / "bench" / "results" / "2026-12-04-n1000000.md"


def _report(n: int, rows: dict[str, tuple[str, str]]) -> str:
    body = "\n".join(f"| {i} | {q} | x | {a} | {b} | 0.5 |" for i, (q, (a, b)) in enumerate(rows.items(), 1))
    return (f"# Benchmark at N = {n:,} (2026-12-05)\n\n## Per query\n\ntext\n\n"
            "| # | query | answer | duckdb ms | roarbase-api ms | roarbase-api / duckdb |\n"
            "| --- | --- | --- | ---: | ---: | ---: |\n"
            f"{body}\n|  | **geometric mean** |  | 1 | 1 | 1 |\n\n## Load and memory\n")


def test_reads_a_real_report() -> None:
    n, times = read_report(REPORT.read_text())
    assert n == 1_000_000
    assert len(times) == 14
    assert times["count_row"]["duckdb"] == 9.60
    assert times["count_union5"]["polars"] == 948
    assert times["groupby_filtered"]["roarbase-sql"] == 19.7
    assert "roarbase-api / duckdb" not in times["count_row"]    # ratio columns are not peers


def test_growth_factors() -> None:
    small = read_report(_report(1_000_000, {"count_row": ("2", "0.1"), "topn": ("4,000", "n/a")}))
    big = read_report(_report(10_000_000, {"count_row": ("20", "0.3"), "topn": ("skipped (warm-up 88.4 s)", "1")}))
    rows = growth_table([big, small])        # any order: sorted by N
    assert rows[0].startswith("| query | peer | 1,000,000 ms | 10,000,000 ms | ×10 N: time × |")
    assert "| count_row | duckdb | 2 | 20 | 10.00 |" in rows
    assert "| count_row | roarbase-api | 0.1 | 0.3 | 3.00 |" in rows
    assert "| topn | roarbase-api |  | 1 |  |" in rows          # absent at 1M: no factor
    assert "| topn | duckdb | 4e+03 |  |  |" in rows            # skipped at 10M: no time, no factor


def test_refuses_what_is_not_a_report(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a bench.run report"):
        read_report("# Something else\n")


def test_writes_table_and_chart(tmp_path: Path) -> None:
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    a.write_text(_report(1_000_000, {"count_row": ("2", "0.1")}))
    b.write_text(_report(10_000_000, {"count_row": ("20", "0.3")}))
    main([str(a), str(b), "--out", str(tmp_path / "scaling")])
    assert "| count_row | duckdb | 2 | 20 | 10.00 |" in (tmp_path / "scaling.md").read_text()
    assert (tmp_path / "scaling.png").stat().st_size > 1000
