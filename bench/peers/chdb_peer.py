"""ClickHouse in-process (chdb), 2 threads: records.parquet loaded into a MergeTree table
ordered by id, keyed columns as LowCardinality(String) (arrays of them for set fields),
each query one ClickHouse SQL statement read back as JSONCompact.

The session lives in a temporary directory removed by close(); `max_threads = 2` on every
query, like DuckDB's and Polars' thread counts.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from chdb import session as chs

from bench.peers import LoadStats
from bench.queries import Answer, Query, groupby_answer, minmax_answer, sum_answer, topn_answer

THREADS = 2
_SETTINGS = f" SETTINGS max_threads = {THREADS}"


def _q(key: str) -> str:
    return "'" + key.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _has(field: str, key: str) -> str:
    return f"has({field}, {_q(key)})"


_COUNT = "SELECT count() FROM seg WHERE "
_TOPN = ("SELECT h, count() AS c FROM seg ARRAY JOIN hobbies AS h{where} "
         "GROUP BY h ORDER BY c DESC, h LIMIT {n}")

_SQL: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "count_row": lambda p: _COUNT + _has("hobbies", p["hobby"]),
    "count_intersect3": lambda p: _COUNT + f"{_has('hobbies', p['hobby'])} AND education = {_q(p['education'])} "
    f"AND active = {str(p['active']).lower()}",
    "count_union5": lambda p: _COUNT + " OR ".join(_has("hobbies", h) for h in p["hobbies"]),
    "count_difference": lambda p: _COUNT + f"{_has('hobbies', p['hobby'])} AND NOT {_has('tags', p['tag'])}",
    "count_not": lambda p: _COUNT + f"NOT {_has('hobbies', p['hobby'])}",
    "count_int_range": lambda p: _COUNT + f"age BETWEEN {p['age_min']} AND {p['age_max']} "
    f"AND income > {p['income_gt']}",
    "count_time_range": lambda p: _COUNT + f"last_seen >= toDateTime64({p['from']}, 3, 'UTC') AND "
    f"last_seen < toDateTime64({p['to']}, 3, 'UTC') AND region = {_q(p['region'])}",
    "topn": lambda p: _TOPN.format(where="", n=p["n"]),
    "topn_filtered": lambda p: _TOPN.format(
        where=f" WHERE region = {_q(p['region'])} AND active = {str(p['active']).lower()}", n=p["n"]),
    "groupby_2": lambda p: "SELECT education, region, count() FROM seg GROUP BY education, region",
    "groupby_filtered": lambda p: "SELECT education, h, count() FROM seg ARRAY JOIN hobbies AS h "
    f"WHERE age > {p['age_gt']} GROUP BY education, h",
    "sum_filtered": lambda p: "SELECT sum(income), count(income) FROM seg "
    f"WHERE education = {_q(p['education'])}",
    "minmax_filtered": lambda p: f"SELECT min(income), max(income) FROM seg WHERE {_has('tags', p['tag'])}",
    "distinct_filtered": lambda p: "SELECT uniqExact(income) FROM seg "
    f"WHERE {_has('hobbies', p['hobby'])} AND income IS NOT NULL",
}


def _normalise(query: Query, rows: list[list[Any]]) -> Answer:
    if query.kind in ("count", "distinct"):
        return int(rows[0][0])
    if query.kind == "topn":
        return topn_answer(((k, int(c)) for k, c in rows), query.params["n"])
    if query.kind == "groupby":
        return groupby_answer(((a, b), int(c)) for a, b, c in rows)
    if query.kind == "sum":
        total, count = rows[0]
        return sum_answer(int(total) if total is not None else None, int(count))
    lo, hi = rows[0]
    return minmax_answer(None if lo is None else int(lo), None if hi is None else int(hi))


class ChdbPeer:
    """ClickHouse (chdb) over a MergeTree table; each query one statement."""

    name = "clickhouse"

    def __init__(self) -> None:
        self._dir: str | None = None
        self._sess: Any = None

    def load(self, data_dir: Path) -> LoadStats:
        started = time.perf_counter()
        self._dir = tempfile.mkdtemp(prefix="bench-chdb-")
        self._sess = chs.Session(self._dir)
        records = (Path(data_dir) / "records.parquet").as_posix()
        self._sess.query(
            "CREATE TABLE seg (id UInt64, hobbies Array(LowCardinality(String)), education LowCardinality(String), "
            "region LowCardinality(String), active Bool, age Int16, income Nullable(Int32), "
            "score Nullable(Decimal(5, 2)), last_seen DateTime64(3, 'UTC'), tags Array(LowCardinality(String))) "
            "ENGINE = MergeTree ORDER BY id")
        self._sess.query(f"INSERT INTO seg SELECT * FROM file('{records}', Parquet){_SETTINGS}")
        self._sess.query("OPTIMIZE TABLE seg FINAL")
        seconds = time.perf_counter() - started
        rows = int(self._query("SELECT count() FROM seg")[0][0])
        size = self._query("SELECT sum(bytes_on_disk) FROM system.parts WHERE table = 'seg' AND active")[0][0]
        return LoadStats(seconds, rows, "rows", {"bytes_on_disk": f"{int(size) / 2**20:.1f} MiB"})

    def _query(self, sql: str) -> list[list[Any]]:
        out = self._sess.query(sql + _SETTINGS, "JSONCompact")
        return json.loads(out.bytes())["data"]

    @staticmethod
    def sql(query: Query) -> str:
        return _SQL[query.name](query.params)

    def run(self, query: Query) -> Answer:
        assert self._sess is not None, "load() first"
        return _normalise(query, self._query(self.sql(query)))

    def close(self) -> None:
        if self._sess is not None:
            self._sess.close()
            self._sess = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
