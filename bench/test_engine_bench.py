"""pytest-benchmark suite of the engine's building blocks: bulk ingest and each of the 14
workload queries through the Python API, PQL text and SQL text.

Like bench/test_ops_bench.py it lives under bench/, so the default `pytest` run never
collects it. Save a baseline before a change and compare after:

    .venv/bin/python -m pytest bench/test_engine_bench.py --benchmark-autosave
    .venv/bin/python -m pytest bench/test_engine_bench.py --benchmark-compare
    ROARBASE_BENCH_N=1000000 .venv/bin/python -m pytest bench/test_engine_bench.py -k workload

N defaults to 100,000 records (the benchmark dataset of bench.gen, generated once).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pyarrow.parquet as pq
import pytest

import engine
from bench.gen import default_dir, generate
from bench.peers.roarbase_peer import INDEX, RoarbaseAPIPeer, RoarbasePQLPeer, RoarbaseSQLPeer, _field_options
from bench.queries import build_queries

N = int(os.environ.get("ROARBASE_BENCH_N", "100000"))
pytestmark = pytest.mark.benchmark(max_time=0.5, min_rounds=5, disable_gc=True, warmup=True)


@pytest.fixture(scope="module")
def data() -> Path:
    out = default_dir(N)
    generate(N, out)
    return out


@pytest.fixture(scope="module")
def schema(data: Path) -> dict[str, Any]:
    from bench.gen import read_schema

    return read_schema(data)


@pytest.fixture(scope="module")
def loaded(data: Path) -> Iterator[dict[str, Any]]:
    peers = {"api": RoarbaseAPIPeer(), "pql": RoarbasePQLPeer(), "sql": RoarbaseSQLPeer()}
    api = peers["api"]
    api.load(data)
    # the text front doors share the API peer's database: one load, three ways in
    for p in (peers["pql"], peers["sql"]):
        p._db = api._db
    yield peers
    for p in (peers["pql"], peers["sql"]):
        p._db = None
    api.close()


QUERY_NAMES = ["count_row", "count_intersect3", "count_union5", "count_difference", "count_not",
               "count_int_range", "count_time_range", "topn", "topn_filtered", "groupby_2",
               "groupby_filtered", "sum_filtered", "minmax_filtered", "distinct_filtered"]


@pytest.mark.parametrize("door", ["api", "pql", "sql"])
@pytest.mark.parametrize("name", QUERY_NAMES)
def test_workload(benchmark: Any, loaded: dict[str, Any], schema: dict[str, Any], name: str, door: str) -> None:
    query = next(q for q in build_queries(schema) if q.name == name)
    peer = loaded[door]
    expected = loaded["api"].run(query)
    benchmark.group = f"workload {name}"
    assert benchmark(peer.run, query) == expected


@pytest.mark.parametrize("field", ["hobbies", "education", "age", "income", "last_seen"])
def test_ingest(benchmark: Any, data: Path, schema: dict[str, Any], field: str) -> None:
    """One field's edges into a fresh durable data directory (import_values, fsync on)."""
    spec = schema["fields"][field]
    table = pq.read_table(data / "edges" / f"{field}.parquet", read_dictionary=["value"] if spec.get("keys") else None)
    cols = table["record_id"].to_numpy()
    values: Any = table["value"] if spec.get("keys") else table["value"].to_numpy()
    benchmark.group = "ingest"
    dirs: list[str] = []

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        d = tempfile.mkdtemp(prefix="roarbase-bench-ingest-")
        dirs.append(d)
        db = engine.open(d)
        idx = db.create_index(INDEX)
        idx.create_field(field, **_field_options(spec))
        return (db, idx), {}

    def run(db: Any, idx: Any) -> None:
        idx.import_values(field, cols, values)
        db.close()

    try:
        benchmark.pedantic(run, setup=setup, rounds=5, iterations=1)
    finally:
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
