"""The floor: plain pyroaring in Python, single thread, no caches.

One BitMap per (field, value) for keyed and bool fields, a BSI (bench.peers.bsi) for
int/decimal/timestamp fields, and an existence BitMap of all N records. Each query is
the straightforward set algebra a Python shop would write over pyroaring; nothing is
precomputed beyond the index itself. This is the bar roarbase's Python API must clear
where whole-bitmap operations dominate, and beat where many-row kernels apply.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyroaring import BitMap

from bench.gen import read_schema
from bench.peers import LoadStats
from bench.peers.bsi import BSI, bitmap_from
from bench.queries import (Answer, Query, groupby_answer, minmax_answer, sum_answer,
                           topn_answer)

_EMPTY = BitMap()


def _ids(table: pa.Table) -> np.ndarray:
    # Record ids are < 2^32 (N ≤ 100M): uint32 halves the memory traffic of every gather.
    return table["record_id"].to_numpy().astype(np.uint32)


def _keyed_rows(path: Path) -> dict[str, BitMap]:
    """Key → BitMap from an edges file: sort edges by key code, one BitMap per run."""
    table = pq.read_table(path, read_dictionary=["value"]).unify_dictionaries()
    chunks = table["value"].chunks
    if not chunks:
        return {}
    keys = chunks[0].dictionary.to_pylist()
    codes = pa.chunked_array([c.indices for c in chunks]).to_numpy()
    # Arrow's sort is stable (each key's record ids stay ascending, as BitMap's bulk path
    # likes) and counting-sorts a contiguous small-range integer array: over 10x faster
    # than numpy's stable argsort of int32 (and than Arrow's on a chunked array).
    sorted_ids = _ids(table)[pc.sort_indices(pa.array(codes)).to_numpy()]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(keys)))])
    return {key: bitmap_from(sorted_ids[bounds[j]:bounds[j + 1]])
            for j, key in enumerate(keys) if bounds[j + 1] > bounds[j]}


def _bool_rows(path: Path) -> dict[bool, BitMap]:
    table = pq.read_table(path)
    ids, values = _ids(table), table["value"].to_numpy()
    return {True: bitmap_from(ids[values]), False: bitmap_from(ids[~values])}


def _bsi(path: Path) -> BSI:
    table = pq.read_table(path)
    return BSI(_ids(table), table["value"].to_numpy())


class FloorPeer:
    """The plain-pyroaring floor: per-value BitMaps and BSI slices, queried in Python."""

    name = "floor"

    def __init__(self) -> None:
        self._rows: dict[str, dict[Any, BitMap]] = {}
        self._bsi: dict[str, BSI] = {}
        self._exists = BitMap()
        self._queries: dict[str, Callable[[Mapping[str, Any]], Answer]] = {
            "count_row": self._count_row,
            "count_intersect3": self._count_intersect3,
            "count_union5": self._count_union5,
            "count_difference": self._count_difference,
            "count_not": self._count_not,
            "count_int_range": self._count_int_range,
            "count_time_range": self._count_time_range,
            "topn": self._topn,
            "topn_filtered": self._topn_filtered,
            "groupby_2": self._groupby_2,
            "groupby_filtered": self._groupby_filtered,
            "sum_filtered": self._sum_filtered,
            "minmax_filtered": self._minmax_filtered,
            "distinct_filtered": self._distinct_filtered,
        }

    def load(self, data_dir: Path) -> LoadStats:
        """Build every BitMap from the edges files."""
        started = time.perf_counter()
        schema = read_schema(data_dir)
        edges = Path(data_dir) / "edges"
        for field, spec in schema["fields"].items():
            path = edges / f"{field}.parquet"
            if spec.get("keys"):
                self._rows[field] = _keyed_rows(path)
            elif spec["type"] == "bool":
                self._rows[field] = _bool_rows(path)
            else:
                self._bsi[field] = _bsi(path)
        self._exists = BitMap()
        self._exists.add_range(0, schema["n"])
        seconds = time.perf_counter() - started
        payload = sum(len(b.serialize()) for b in self._bitmaps())
        return LoadStats(seconds, sum(schema["edges"].values()), "edges",
                         {"payload": f"{payload / 2**20:.1f} MiB serialized"})

    def _bitmaps(self) -> Iterator[BitMap]:
        yield self._exists
        for rows in self._rows.values():
            yield from rows.values()
        for bsi in self._bsi.values():
            yield bsi.not_null
            yield from bsi.slices

    def run(self, query: Query) -> Answer:
        """Evaluate the query with pyroaring set algebra."""
        return self._queries[query.name](query.params)

    def close(self) -> None:
        """Drop every BitMap."""
        self._rows, self._bsi, self._exists = {}, {}, BitMap()

    def _row(self, field: str, value: Any) -> BitMap:
        return self._rows[field].get(value, _EMPTY)

    def row(self, field: str, value: Any) -> BitMap:
        """The bitmap of (field, value) (bench.bandwidth sizes what a query reads)."""
        return self._row(field, value)

    def bsi(self, field: str) -> BSI:
        return self._bsi[field]

    def _count_row(self, p: Mapping[str, Any]) -> int:
        return len(self._row("hobbies", p["hobby"]))

    def _count_intersect3(self, p: Mapping[str, Any]) -> int:
        both = self._row("hobbies", p["hobby"]) & self._row("education", p["education"])
        return both.intersection_cardinality(self._row("active", p["active"]))

    def _count_union5(self, p: Mapping[str, Any]) -> int:
        return len(BitMap.union(*(self._row("hobbies", h) for h in p["hobbies"])))

    def _count_difference(self, p: Mapping[str, Any]) -> int:
        return self._row("hobbies", p["hobby"]).difference_cardinality(self._row("tags", p["tag"]))

    def _count_not(self, p: Mapping[str, Any]) -> int:
        return self._exists.difference_cardinality(self._row("hobbies", p["hobby"]))

    def _count_int_range(self, p: Mapping[str, Any]) -> int:
        ages = self._bsi["age"].between(p["age_min"], p["age_max"])
        return ages.intersection_cardinality(self._bsi["income"].greater(p["income_gt"]))

    def _count_time_range(self, p: Mapping[str, Any]) -> int:
        last_seen = self._bsi["last_seen"]
        window = last_seen.greater(p["from"], or_equal=True) & last_seen.less(p["to"])
        return window.intersection_cardinality(self._row("region", p["region"]))

    def _topn(self, p: Mapping[str, Any]) -> Answer:
        return topn_answer(((k, len(b)) for k, b in self._rows["hobbies"].items()), p["n"])

    def _topn_filtered(self, p: Mapping[str, Any]) -> Answer:
        f = self._row("region", p["region"]) & self._row("active", p["active"])
        counts = ((k, b.intersection_cardinality(f)) for k, b in self._rows["hobbies"].items())
        return topn_answer(counts, p["n"])

    def _groupby_2(self, p: Mapping[str, Any]) -> Answer:
        regions = self._rows["region"].items()
        return groupby_answer(((e, r), eb.intersection_cardinality(rb))
                              for e, eb in self._rows["education"].items() for r, rb in regions)

    def _groupby_filtered(self, p: Mapping[str, Any]) -> Answer:
        f = self._bsi["age"].greater(p["age_gt"])
        hobbies = self._rows["hobbies"].items()
        groups: list[tuple[tuple[str, str], int]] = []
        for e, eb in self._rows["education"].items():
            ef = eb & f
            groups.extend(((e, h), ef.intersection_cardinality(hb)) for h, hb in hobbies)
        return groupby_answer(groups)

    def _sum_filtered(self, p: Mapping[str, Any]) -> Answer:
        return sum_answer(*self._bsi["income"].sum(self._row("education", p["education"])))

    def _minmax_filtered(self, p: Mapping[str, Any]) -> Answer:
        tag = self._row("tags", p["tag"])
        return minmax_answer(self._bsi["income"].min(tag), self._bsi["income"].max(tag))

    def _distinct_filtered(self, p: Mapping[str, Any]) -> Answer:
        return self._bsi["income"].distinct_count(self._row("hobbies", p["hobby"]))
