"""The benchmark harness end to end at N = 10,000, and its answers against brute force.

Speed is never asserted here; what must hold is that every peer gives the same answer,
that the answer is right (a plain-Python oracle over records.parquet, sharing no code with
the peers or their normalisers), and that the generator is deterministic.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from datetime import date, timezone
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from bench import run
from bench.gen import FIELDS, HOBBIES, generate, read_schema
from bench.peers import PEERS
from bench.queries import Answer, Query, build_queries

N = 10_000


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data")
    generate(N, path)
    return path


@pytest.fixture(scope="module")
def chunked_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small chunks, so the multi-chunk path (as at 10M+) is what the oracle checks."""
    path = tmp_path_factory.mktemp("chunked")
    generate(N, path, chunk=4096)
    return path


def _files(path: Path) -> dict[str, str]:
    return {p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


def _top(counts: Counter[Any], n: int) -> Answer:
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n])


def _epoch(row: dict[str, Any]) -> int:
    return int(row["last_seen"].replace(tzinfo=timezone.utc).timestamp())


def _oracle(query: Query, rows: list[dict[str, Any]]) -> Answer:
    """The query's canonical answer by brute force over record dicts."""
    p = query.params

    def count(predicate: Callable[[dict[str, Any]], bool]) -> int:
        return sum(1 for r in rows if predicate(r))

    match query.name:
        case "count_row":
            return count(lambda r: p["hobby"] in r["hobbies"])
        case "count_intersect3":
            return count(lambda r: p["hobby"] in r["hobbies"]
                         and r["education"] == p["education"] and r["active"])
        case "count_union5":
            return count(lambda r: any(h in r["hobbies"] for h in p["hobbies"]))
        case "count_difference":
            return count(lambda r: p["hobby"] in r["hobbies"] and p["tag"] not in r["tags"])
        case "count_not":
            return count(lambda r: p["hobby"] not in r["hobbies"])
        case "count_int_range":
            return count(lambda r: p["age_min"] <= r["age"] <= p["age_max"]
                         and r["income"] is not None and r["income"] > p["income_gt"])
        case "count_time_range":
            return count(lambda r: p["from"] <= _epoch(r) < p["to"]
                         and r["region"] == p["region"])
        case "topn":
            return _top(Counter(h for r in rows for h in r["hobbies"]), p["n"])
        case "topn_filtered":
            return _top(Counter(h for r in rows if r["region"] == p["region"] and r["active"]
                                for h in r["hobbies"]), p["n"])
        case "groupby_2":
            return tuple(sorted(Counter((r["education"], r["region"]) for r in rows).items()))
        case "groupby_filtered":
            return tuple(sorted(Counter((r["education"], h) for r in rows
                                        if r["age"] > p["age_gt"] for h in r["hobbies"]).items()))
        case "sum_filtered":
            incomes = [r["income"] for r in rows
                       if r["education"] == p["education"] and r["income"] is not None]
            return (sum(incomes), len(incomes))
        case "minmax_filtered":
            incomes = [r["income"] for r in rows if p["tag"] in r["tags"]
                       and r["income"] is not None]
            return (min(incomes), max(incomes)) if incomes else (None, None)
        case "distinct_filtered":
            return len({r["income"] for r in rows if p["hobby"] in r["hobbies"]
                        and r["income"] is not None})
    raise AssertionError(f"no oracle for {query.name}")


def test_run_writes_a_report_when_peers_agree(data_dir: Path, tmp_path: Path) -> None:
    code = run.main(["--n", str(N), "--rounds", "2", "--data-dir", str(data_dir),
                     "--out", str(tmp_path)])
    assert code == 0
    stem = f"{date.today().isoformat()}-n{N}"
    report = (tmp_path / f"{stem}.md").read_text()
    assert (tmp_path / f"{stem}.png").stat().st_size > 0
    assert f"]({stem}.png)" in report
    for query in build_queries(read_schema(data_dir)):
        assert f"| {query.number} | {query.name} |" in report
    assert "- machine: " in report and "RSS after load" in report


def test_run_fails_loudly_when_a_peer_is_wrong(data_dir: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    class OffByOne:
        name = "off-by-one"

        def __init__(self) -> None:
            self._floor = PEERS["floor"]()

        def load(self, path: Path) -> Any:
            return self._floor.load(path)

        def run(self, query: Query) -> Answer:
            answer = self._floor.run(query)
            return answer + 1 if query.name == "count_not" else answer  # type: ignore[operator]

        def close(self) -> None:
            self._floor.close()

    monkeypatch.setitem(PEERS, "off-by-one", OffByOne)
    code = run.main(["--n", str(N), "--rounds", "1", "--peers", "duckdb,off-by-one",
                     "--data-dir", str(data_dir), "--out", str(tmp_path), "--no-memory"])
    assert code == 1
    err = capsys.readouterr().err
    assert "count_not: duckdb and off-by-one disagree" in err
    assert not list(tmp_path.iterdir())


def test_peers_agree_with_brute_force(chunked_dir: Path) -> None:
    rows = pq.read_table(chunked_dir / "records.parquet").to_pylist()
    assert [r["id"] for r in rows] == list(range(N))
    peers = [PEERS[name]() for name in ("duckdb", "polars", "clickhouse", "floor")]
    try:
        for peer in peers:
            peer.load(chunked_dir)
        for query in build_queries(read_schema(chunked_dir)):
            expected = _oracle(query, rows)
            for peer in peers:
                assert peer.run(query) == expected, (query.name, peer.name)
    finally:
        for peer in peers:
            peer.close()


def test_schema_ranks_keys_by_popularity(chunked_dir: Path) -> None:
    schema = read_schema(chunked_dir)
    rows = pq.read_table(chunked_dir / "records.parquet").to_pylist()
    counts = Counter(h for r in rows for h in r["hobbies"])
    ranked = schema["params"]["H"]
    assert sorted(ranked) == HOBBIES
    assert ranked == sorted(HOBBIES, key=lambda h: (-counts[h], h))
    assert schema["n"] == N and set(schema["fields"]) == set(FIELDS)
    assert schema["edges"]["hobbies"] == sum(counts.values())
    assert all(len(set(r["hobbies"])) == len(r["hobbies"]) <= 5 for r in rows)
    for field, edges in schema["edges"].items():
        assert pq.read_metadata(chunked_dir / "edges" / f"{field}.parquet").num_rows == edges


def test_generator_is_deterministic(tmp_path: Path) -> None:
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(N, first, seed=7)
    generate(N, second, seed=7)
    generate(N, other, seed=8)
    assert _files(first) == _files(second)
    assert _files(first)["records.parquet"] != _files(other)["records.parquet"]

    written = (first / "records.parquet").stat().st_mtime_ns
    generate(N, first, seed=7)  # a matching dataset is left alone
    assert (first / "records.parquet").stat().st_mtime_ns == written
