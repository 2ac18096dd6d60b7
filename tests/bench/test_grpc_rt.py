"""bench.grpc_rt end to end at a toy size, so it keeps running; speed is not asserted."""
from pathlib import Path

from bench import grpc_rt


def test_grpc_round_trip_benchmark_runs(tmp_path: Path) -> None:
    out = tmp_path / "grpc.md"
    assert grpc_rt.main(["--n", "1000", "--rounds", "2", "--seconds", "0.1", "--clients", "2",
                         "--data", str(tmp_path / "data"), "--out", str(out)]) == 0
    text = out.read_text()
    for way in ("in-process", "1 client", "2 clients"):
        assert f"| no-op | {way} |" in text and f"| count_intersect3 | {way} |" in text
    assert "no-op round trip p50 < 1 ms" in text and "2 clients ≥ 1.6×" in text
    assert "## Method" in text and "## Machine" in text
