"""Polars, lazy, 2 threads: records.parquet collected into memory once, keyed columns as
Enum types (sorted categories, so ordering a key orders like strings), each query a lazy
plan collected on its own.

POLARS_MAX_THREADS must be set before polars is first imported: this module sets it
(when unset) before importing polars, so the peer uses 2 threads like the other peers.
"""
from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("POLARS_MAX_THREADS", "2")

import polars as pl  # the thread count above must be set first

from bench.gen import EDUCATION, read_schema
from bench.peers import LoadStats
from bench.queries import Answer, Query, groupby_answer, minmax_answer, sum_answer, topn_answer


def _has(field: str, key: str) -> pl.Expr:
    return pl.col(field).list.contains(pl.lit(key))


def _ts(epoch: int) -> pl.Expr:
    return pl.lit(datetime.fromtimestamp(epoch, timezone.utc).replace(tzinfo=None)).cast(pl.Datetime("ms"))


class PolarsPeer:
    """Polars over an in-memory DataFrame; each query one lazy plan."""

    name = "polars"

    def __init__(self) -> None:
        self._df: pl.DataFrame | None = None

    def load(self, data_dir: Path) -> LoadStats:
        started = time.perf_counter()
        params = read_schema(data_dir)["params"]
        enums = {"hobbies": pl.Enum(sorted(params["H"])), "tags": pl.Enum(sorted(params["T"])),
                 "region": pl.Enum(sorted(params["R"])), "education": pl.Enum(sorted(EDUCATION))}
        df = pl.read_parquet(Path(data_dir) / "records.parquet").with_columns(
            pl.col("hobbies").cast(pl.List(enums["hobbies"])), pl.col("tags").cast(pl.List(enums["tags"])),
            pl.col("region").cast(enums["region"]), pl.col("education").cast(enums["education"]))
        self._df = df.rechunk()
        seconds = time.perf_counter() - started
        return LoadStats(seconds, df.height, "rows", {"estimated_size": f"{df.estimated_size() / 2**20:.1f} MiB"})

    def _count(self, cond: pl.Expr) -> int:
        assert self._df is not None
        return int(self._df.lazy().filter(cond).select(pl.len()).collect().item())

    def _topn(self, n: int, cond: pl.Expr | None) -> Answer:
        assert self._df is not None
        lf = self._df.lazy()
        if cond is not None:
            lf = lf.filter(cond)
        out = (lf.select(pl.col("hobbies").explode().alias("h")).drop_nulls().group_by("h").len()
               .sort(["len", "h"], descending=[True, False]).head(n).collect())
        return topn_answer(((str(k), c) for k, c in out.iter_rows()), n)

    def run(self, query: Query) -> Answer:  # one branch per query, like the SQL peers
        assert self._df is not None, "load() first"
        p: dict[str, Any] = dict(query.params)
        name = query.name
        if name == "count_row":
            return self._count(_has("hobbies", p["hobby"]))
        if name == "count_intersect3":
            return self._count(_has("hobbies", p["hobby"]) & (pl.col("education") == p["education"])
                               & (pl.col("active") == p["active"]))
        if name == "count_union5":
            cond = _has("hobbies", p["hobbies"][0])
            for h in p["hobbies"][1:]:
                cond = cond | _has("hobbies", h)
            return self._count(cond)
        if name == "count_difference":
            return self._count(_has("hobbies", p["hobby"]) & ~_has("tags", p["tag"]))
        if name == "count_not":
            return self._count(~_has("hobbies", p["hobby"]))
        if name == "count_int_range":
            return self._count(pl.col("age").is_between(p["age_min"], p["age_max"])
                               & (pl.col("income") > p["income_gt"]))
        if name == "count_time_range":
            return self._count((pl.col("last_seen") >= _ts(p["from"])) & (pl.col("last_seen") < _ts(p["to"]))
                               & (pl.col("region") == p["region"]))
        if name == "topn":
            return self._topn(p["n"], None)
        if name == "topn_filtered":
            return self._topn(p["n"], (pl.col("region") == p["region"]) & (pl.col("active") == p["active"]))
        lf = self._df.lazy()
        if name == "groupby_2":
            out = lf.group_by("education", "region").len().collect()
            return groupby_answer(((str(a), str(b)), c) for a, b, c in out.iter_rows())
        if name == "groupby_filtered":
            out = (lf.filter(pl.col("age") > p["age_gt"]).select("education", "hobbies").explode("hobbies")
                   .drop_nulls().group_by("education", "hobbies").len().collect())
            return groupby_answer(((str(a), str(b)), c) for a, b, c in out.iter_rows())
        if name == "sum_filtered":
            row = lf.filter(pl.col("education") == p["education"]).select(
                # summed as Int64: Polars sums an Int32 column in Int32 and wraps (at 1M, the
                # bench's incomes overflow it)
                pl.col("income").cast(pl.Int64).sum().alias("s"), pl.col("income").count().alias("c")).collect().row(0)
            return sum_answer(row[0], row[1])
        if name == "minmax_filtered":
            row = lf.filter(_has("tags", p["tag"])).select(pl.col("income").min().alias("lo"),
                                                           pl.col("income").max().alias("hi")).collect().row(0)
            return minmax_answer(row[0], row[1])
        if name == "distinct_filtered":
            return int(lf.filter(_has("hobbies", p["hobby"])).select(pl.col("income").drop_nulls().n_unique())
                       .collect().item())
        raise KeyError(name)

    def close(self) -> None:
        self._df = None
