"""DuckDB in-process, 2 threads, records.parquet loaded into a table with ENUM key columns.

The SQL is DuckDB's dialect of each query, in the fastest natural form we found: set
membership is `list_contains` with the literal cast to the column's ENUM (an uncast
literal makes DuckDB cast the whole list column to VARCHAR[]), five-way membership is an
OR of those (list_has_any was 3-7x slower), and set-field TopN/GroupBy unnest the list.
ENUM values are declared in ascending key order, so ORDER BY on a key orders like strings.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from bench.gen import EDUCATION, read_schema
from bench.peers import LoadStats
from bench.queries import Answer, Query, groupby_answer, minmax_answer, sum_answer, topn_answer

THREADS = 2

# ENUM type per keyed column; the list columns hold arrays of it.
_ENUMS = {"hobbies": "hobby_key", "tags": "tag_key", "education": "education_key",
          "region": "region_key"}


def _key(field: str, key: str) -> str:
    return f"'{key}'::{_ENUMS[field]}"


def _has(field: str, key: str) -> str:
    return f"list_contains({field}, {_key(field, key)})"


def _ts(epoch: int) -> str:
    return f"TIMESTAMP '{datetime.fromtimestamp(epoch, timezone.utc):%Y-%m-%d %H:%M:%S}'"


_COUNT = "SELECT count(*) FROM seg WHERE "
_TOPN = ("SELECT h, count(*) AS c FROM (SELECT unnest(hobbies) AS h FROM seg{where}) "
         "GROUP BY h ORDER BY c DESC, h LIMIT {n}")

# Query name → SQL built from the query's parameters.
_SQL: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "count_row": lambda p: _COUNT + _has("hobbies", p["hobby"]),
    "count_intersect3": lambda p: _COUNT + f"{_has('hobbies', p['hobby'])} AND "
    f"education = {_key('education', p['education'])} AND active = {p['active']}",
    "count_union5": lambda p: _COUNT + " OR ".join(_has("hobbies", h) for h in p["hobbies"]),
    "count_difference": lambda p: _COUNT + f"{_has('hobbies', p['hobby'])} AND "
    f"NOT {_has('tags', p['tag'])}",
    "count_not": lambda p: _COUNT + f"NOT {_has('hobbies', p['hobby'])}",
    "count_int_range": lambda p: _COUNT + f"age BETWEEN {p['age_min']} AND {p['age_max']} "
    f"AND income > {p['income_gt']}",
    "count_time_range": lambda p: _COUNT + f"last_seen >= {_ts(p['from'])} AND "
    f"last_seen < {_ts(p['to'])} AND region = {_key('region', p['region'])}",
    "topn": lambda p: _TOPN.format(where="", n=p["n"]),
    "topn_filtered": lambda p: _TOPN.format(
        where=f" WHERE region = {_key('region', p['region'])} AND active = {p['active']}",
        n=p["n"]),
    "groupby_2": lambda p: "SELECT education, region, count(*) FROM seg "
    "GROUP BY education, region",
    "groupby_filtered": lambda p: "SELECT education, h, count(*) FROM (SELECT education, "
    f"unnest(hobbies) AS h FROM seg WHERE age > {p['age_gt']}) GROUP BY education, h",
    "sum_filtered": lambda p: "SELECT sum(income), count(income) FROM seg "
    f"WHERE education = {_key('education', p['education'])}",
    "minmax_filtered": lambda p: "SELECT min(income), max(income) FROM seg "
    f"WHERE {_has('tags', p['tag'])}",
    "distinct_filtered": lambda p: "SELECT count(DISTINCT income) FROM seg "
    f"WHERE {_has('hobbies', p['hobby'])}",
}


def _normalise(query: Query, rows: list[tuple[Any, ...]]) -> Answer:
    if query.kind in ("count", "distinct"):
        return int(rows[0][0])
    if query.kind == "topn":
        return topn_answer(rows, query.params["n"])
    if query.kind == "groupby":
        return groupby_answer(((a, b), c) for a, b, c in rows)
    if query.kind == "sum":
        return sum_answer(*rows[0])
    return minmax_answer(*rows[0])


class DuckDBPeer:
    """DuckDB over an in-memory table; each query is one SQL statement."""

    name = "duckdb"

    def __init__(self) -> None:
        self._con: duckdb.DuckDBPyConnection | None = None

    def load(self, data_dir: Path) -> LoadStats:
        """Create the ENUM types and the table from records.parquet."""
        started = time.perf_counter()
        params = read_schema(data_dir)["params"]
        keys = {"hobbies": params["H"], "tags": params["T"], "region": params["R"],
                "education": EDUCATION}
        con = duckdb.connect(":memory:", config={"threads": THREADS})
        for field, enum in _ENUMS.items():
            values = ", ".join(f"'{k}'" for k in sorted(keys[field]))
            con.execute(f"CREATE TYPE {enum} AS ENUM ({values})")
        records = (Path(data_dir) / "records.parquet").as_posix()
        con.execute(
            "CREATE TABLE seg AS SELECT id, "
            f"hobbies::{_ENUMS['hobbies']}[] AS hobbies, "
            f"education::{_ENUMS['education']} AS education, "
            f"region::{_ENUMS['region']} AS region, "
            "active, age, income, score, last_seen, "
            f"tags::{_ENUMS['tags']}[] AS tags "
            f"FROM read_parquet('{records}')")
        seconds = time.perf_counter() - started
        counted = con.execute("SELECT count(*) FROM seg").fetchone()
        used = con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()
        assert counted is not None and used is not None  # aggregates always yield a row
        rows, memory = counted[0], used[0]
        self._con = con
        return LoadStats(seconds, rows, "rows", {"memory_usage": f"{memory / 2**20:.1f} MiB"})

    @staticmethod
    def sql(query: Query) -> str:
        """The DuckDB statement this peer runs for `query`."""
        return _SQL[query.name](query.params)

    def run(self, query: Query) -> Answer:
        """Execute the query's statement and normalise its rows."""
        assert self._con is not None, "load() first"
        return _normalise(query, self._con.execute(self.sql(query)).fetchall())

    def close(self) -> None:
        """Close the connection (frees the in-memory database)."""
        if self._con is not None:
            self._con.close()
            self._con = None
