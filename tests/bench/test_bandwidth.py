"""bench.bandwidth: what each BSI query reads, sized from the floor's bitmaps."""
from pathlib import Path

import pytest

from bench.bandwidth import READS, main, slice_bytes
from bench.gen import generate, read_schema
from bench.peers.floor import FloorPeer
from bench.queries import build_queries


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bw") / "n20000"
    generate(20_000, out)
    return out


def test_slice_bytes_count_every_plane_and_the_filter(small: Path) -> None:
    floor = FloorPeer()
    floor.load(small)
    queries = {q.name: q for q in build_queries(read_schema(small)) if q.name in READS}
    assert set(queries) == set(READS)
    income = floor.bsi("income")
    income_bytes = len(income.not_null.serialize()) + sum(len(s.serialize()) for s in income.slices)
    q = queries["sum_filtered"]
    edu = floor.row("education", q.params["education"])
    assert len(edu) > 0 and len(income.slices) >= 17       # values up to 1,000,000
    assert slice_bytes(floor, q) == income_bytes + len(edu.serialize())
    age = floor.bsi("age")
    assert slice_bytes(floor, queries["count_int_range"]) == income_bytes + len(age.not_null.serialize()) + sum(
        len(s.serialize()) for s in age.slices)


def test_report(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "bw.md"
    main(["--n", "20000", "--data-dir", str(small), "--rounds", "2", "--out", str(out)])
    text = out.read_text()
    for name in READS:
        assert f"| {name} |" in text
    assert "GB/s" in text
