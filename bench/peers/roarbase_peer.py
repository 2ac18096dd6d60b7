"""roarbase through its front doors: the Python API (engine.q, no parsing) and PQL text.

Both load the edges files into a durable data directory (fsync on, as a user would run
it) with the columnar bulk import, then answer each query through db.run / db.query and
normalise the FeatureBase-shaped results into bench.queries' canonical answers.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import pyarrow.parquet as pq

import engine
import engine.ingest  # loaded now, not at first use, so a long run uses one version
import engine.query
import engine.sql.execute
from bench.gen import read_schema
from bench.peers import LoadStats
from bench.queries import Answer, Query, groupby_answer, minmax_answer, sum_answer, topn_answer
from engine import q

INDEX = "seg"  # the SQL forms in bench.queries name this table
BATCH_EDGES = 1 << 21   # edges per import: about two shards of the hobbies field


class _RoarbasePeer:
    name = "roarbase"

    def __init__(self) -> None:
        self._dir: str | None = None
        self._db: Any = None

    def load(self, data_dir: Path) -> LoadStats:
        """Create the schema and bulk-import every edges file (in atomic batches)."""
        started = time.perf_counter()
        schema = read_schema(data_dir)
        self._dir = tempfile.mkdtemp(prefix="roarbase-bench-")
        # The memory probe loads in a child process that exits without close().
        atexit.register(shutil.rmtree, self._dir, True)
        self._db = engine.open(self._dir)
        idx = self._db.create_index(INDEX)
        for field, spec in schema["fields"].items():
            idx.create_field(field, **_field_options(spec))
        edges = Path(data_dir) / "edges"

        def batches(field: str) -> Iterator[Any]:
            keys = schema["fields"][field].get("keys")
            f = pq.ParquetFile(edges / f"{field}.parquet", read_dictionary=["value"] if keys else None)
            return f.iter_batches(batch_size=BATCH_EDGES)

        # Stream each edges file in batches of BATCH_EDGES (one atomic import each), so peak
        # memory holds a batch and its intermediates, not a whole column; the next batch is
        # read while this one is imported (pyarrow and the import kernels release the GIL).
        with ThreadPoolExecutor(1) as reader:
            for field, spec in schema["fields"].items():
                it = batches(field)
                ahead = reader.submit(next, it, None)
                while (batch := ahead.result()) is not None:
                    ahead = reader.submit(next, it, None)
                    self._import(idx, spec, field, batch)
        seconds = time.perf_counter() - started
        return LoadStats(seconds, sum(schema["edges"].values()), "edges", {"data dir": self._dir})

    @staticmethod
    def _import(idx: Any, spec: Mapping[str, Any], field: str, table: Any) -> None:
        values: Any = table.column("value")
        if spec["type"] == "decimal":
            values = values.to_numpy(zero_copy_only=False) / 10 ** spec["scale"]      # edges hold cents
        elif not spec.get("keys"):
            values = values.to_numpy(zero_copy_only=False)
        idx.import_values(field, table.column("record_id").to_numpy(), values)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def answer(self, query: Query, results: list[Any]) -> Answer:
        kind = query.kind
        if kind in ("count", "distinct"):
            return int(results[0])
        if kind == "topn":
            return topn_answer(((p["key"], p["count"]) for p in results[0]), query.params["n"])
        if kind == "groupby":
            return groupby_answer((tuple(g.get("rowKey", g.get("rowID")) for g in grp["group"]), grp["count"])
                                  for grp in results[0])
        if kind == "sum":
            return sum_answer(results[0]["value"], results[0]["count"])
        lo, hi = results
        return minmax_answer(lo["value"] if lo["count"] else None, hi["value"] if hi["count"] else None)


class RoarbasePQLPeer(_RoarbasePeer):
    """PQL text through db.query (parse + lower + execute)."""

    name = "roarbase-pql"

    def run(self, query: Query) -> Answer:
        return self.answer(query, self._db.query(INDEX, query.pql))


class RoarbaseAPIPeer(_RoarbasePeer):
    """The Python API: calls built with engine.q, no text to parse."""

    name = "roarbase-api"

    def __init__(self) -> None:
        super().__init__()
        self._builders: dict[str, Callable[[Mapping[str, Any]], list[Any]]] = {
            "count_row": lambda p: [q.Count(q.Row(hobbies=p["hobby"]))],
            "count_intersect3": lambda p: [q.Count(q.Intersect(
                q.Row(hobbies=p["hobby"]), q.Row(education=p["education"]), q.Row(active=p["active"])))],
            "count_union5": lambda p: [q.Count(q.Union(*(q.Row(hobbies=h) for h in p["hobbies"])))],
            "count_difference": lambda p: [q.Count(q.Difference(q.Row(hobbies=p["hobby"]), q.Row(tags=p["tag"])))],
            "count_not": lambda p: [q.Count(q.Not(q.Row(hobbies=p["hobby"])))],
            "count_int_range": lambda p: [q.Count(q.Intersect(
                q.Row(q.between("age", p["age_min"], p["age_max"])), q.Row(q.cond("income", ">", p["income_gt"]))))],
            "count_time_range": lambda p: [q.Count(q.Intersect(
                q.Row(q.between("last_seen", _utc(p["from"]), _utc(p["to"]), hi_inclusive=False)),
                q.Row(region=p["region"])))],
            "topn": lambda p: [q.TopN("hobbies", n=p["n"])],
            "topn_filtered": lambda p: [q.TopN("hobbies", q.Intersect(q.Row(region=p["region"]),
                                                                      q.Row(active=p["active"])), n=p["n"])],
            "groupby_2": lambda p: [q.GroupBy(q.Rows("education"), q.Rows("region"))],
            "groupby_filtered": lambda p: [q.GroupBy(q.Rows("education"), q.Rows("hobbies"),
                                                     filter=q.Row(q.cond("age", ">", p["age_gt"])))],
            "sum_filtered": lambda p: [q.Sum(q.Row(education=p["education"]), field="income")],
            "minmax_filtered": lambda p: [q.Min(q.Row(tags=p["tag"]), field="income"),
                                          q.Max(q.Row(tags=p["tag"]), field="income")],
            "distinct_filtered": lambda p: [q.Count(q.Distinct(q.Row(hobbies=p["hobby"]), field="income"))],
        }

    def run(self, query: Query) -> Answer:
        return self.answer(query, self._db.run(INDEX, *self._builders[query.name](query.params)))


class RoarbaseSQLPeer(_RoarbasePeer):
    """SQL text through db.sql (parse + lower into the same plan + execute)."""

    name = "roarbase-sql"

    def run(self, query: Query) -> Answer:
        kind = query.kind
        rows = self._db.sql(query.sql).rows
        if kind in ("count", "distinct"):
            return int(rows[0][0])
        if kind == "topn":
            return topn_answer(((_member(r[0]), r[1]) for r in rows), query.params["n"])
        if kind == "groupby":
            return groupby_answer((tuple(_member(k) for k in r[:-1]), r[-1]) for r in rows)
        if kind == "sum":
            return sum_answer(rows[0][0], rows[0][1])
        return minmax_answer(rows[0][0], rows[0][1])


def _member(key: Any) -> Any:
    """A GROUP BY key: WITH (flatten(col)) shows a member as a one-member set."""
    return key[0] if isinstance(key, list) and len(key) == 1 else key


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _field_options(spec: Mapping[str, Any]) -> dict[str, Any]:
    t = spec["type"]
    if t in ("set", "mutex"):
        return {"type": t, "keys": bool(spec.get("keys"))}
    if t == "bool":
        return {"type": "bool"}
    if t == "int":
        return {"type": "int", "min": spec["min"], "max": spec["max"]}
    if t == "decimal":
        return {"type": "decimal", "scale": spec["scale"], "min": spec["min"], "max": spec["max"]}
    if t == "timestamp":
        return {"type": "timestamp", "time_unit": spec.get("timeUnit", "s")}
    raise ValueError(f"unknown field type {t}")
