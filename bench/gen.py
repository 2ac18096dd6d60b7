"""Deterministic synthetic segmentation dataset (the PERFORMANCE.md table), as Parquet.

`python -m bench.gen --n 1000000 [--out bench/data/n1000000] [--seed 42]` writes:

- records.parquet: one row per record (id, hobbies, education, region, active, age, income,
  score, last_seen, tags) for columnar peers;
- edges/<field>.parquet: (record_id uint64, value) pairs per field for bitmap ingestion —
  the key string for keyed fields, bool for active, int64 for age/income, int64 cents for
  score, int64 epoch seconds for last_seen; null values have no edge;
- schema.json, written last: field types and options, N, seed, generator version, edge
  counts, and the query parameters by popularity rank (H, R, T).

Representation choices: score is decimal(5,2) in records.parquet and integer cents in its
edges; a record without hobbies or tags has an empty list, never null; last_seen is
timestamp[s] without a zone, meaning UTC. Records are generated in chunks of fixed size,
each with its own RNG stream derived from (seed, chunk index), so memory stays bounded at
any N and the output depends only on (n, seed, chunk).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

GENERATOR_VERSION = 1
DEFAULT_SEED = 42
CHUNK = 1 << 20
MIN_N, MAX_N = 1_000, 100_000_000

HOBBIES = [f"hobby_{i:03d}" for i in range(500)]
EDUCATION = ["none", "high_school", "some_college", "associate", "bachelor", "master",
             "doctorate", "professional"]
EDUCATION_P = [0.05, 0.25, 0.20, 0.10, 0.22, 0.12, 0.03, 0.03]
REGIONS = [f"region_{i:02d}" for i in range(50)]
TAGS = [f"tag_{i:02d}" for i in range(50)]
MAX_HOBBIES, MAX_TAGS = 5, 3

LAST_SEEN_START = int(datetime(2023, 1, 1, tzinfo=timezone.utc).timestamp())
LAST_SEEN_END = int(datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp())

# Field definitions in the engine's vocabulary (FeatureBase field types and options);
# sql_type is the FeatureBase SQL column type of the same field.
FIELDS: dict[str, dict[str, Any]] = {
    "hobbies": {"type": "set", "keys": True, "sql_type": "stringset"},
    "education": {"type": "mutex", "keys": True, "sql_type": "string"},
    "region": {"type": "mutex", "keys": True, "sql_type": "string"},
    "active": {"type": "bool", "sql_type": "bool"},
    "age": {"type": "int", "min": 18, "max": 90, "sql_type": "int"},
    "income": {"type": "int", "min": 0, "max": 1_000_000, "nullable": True,
               "sql_type": "int"},
    "score": {"type": "decimal", "scale": 2, "min": 0, "max": 100, "nullable": True,
              "sql_type": "decimal(2)", "edge_unit": "cents"},
    "last_seen": {"type": "timestamp", "timeUnit": "s", "sql_type": "timestamp",
                  "min": LAST_SEEN_START, "max": LAST_SEEN_END - 1,
                  "edge_unit": "epoch seconds"},
    "tags": {"type": "set", "keys": True, "sql_type": "stringset"},
}

_KEY_LIST = pa.list_(pa.field("element", pa.string(), nullable=False))
RECORDS_SCHEMA = pa.schema([
    pa.field("id", pa.uint64(), nullable=False),
    pa.field("hobbies", _KEY_LIST, nullable=False),
    pa.field("education", pa.string(), nullable=False),
    pa.field("region", pa.string(), nullable=False),
    pa.field("active", pa.bool_(), nullable=False),
    pa.field("age", pa.int16(), nullable=False),
    pa.field("income", pa.int32()),
    pa.field("score", pa.decimal128(5, 2)),
    # Parquet has no seconds unit: the file holds milliseconds (always whole seconds).
    pa.field("last_seen", pa.timestamp("s"), nullable=False),
    pa.field("tags", _KEY_LIST, nullable=False),
])

_EDGE_VALUE_TYPES = {"hobbies": pa.string(), "education": pa.string(),
                     "region": pa.string(), "active": pa.bool_(), "age": pa.int64(),
                     "income": pa.int64(), "score": pa.int64(), "last_seen": pa.int64(),
                     "tags": pa.string()}


def _zipf_cdf(k: int, s: float) -> np.ndarray:
    return _cdf(1.0 / np.arange(1, k + 1) ** s)


def _cdf(weights: np.ndarray | list[float]) -> np.ndarray:
    cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
    cdf /= cdf[-1]
    cdf[-1] = 1.0  # u < 1 always lands inside
    return cdf


HOBBY_CDF = _zipf_cdf(len(HOBBIES), 1.1)
TAG_CDF = _zipf_cdf(len(TAGS), 0.8)
EDUCATION_CDF = _cdf(EDUCATION_P)
REGION_CDF = _cdf(1.0 / (np.arange(len(REGIONS)) + 5))


def _sample(rng: np.random.Generator, cdf: np.ndarray, shape: int | tuple[int, ...]) -> np.ndarray:
    return np.searchsorted(cdf, rng.random(shape), side="right").astype(np.int16)


def _sample_sets(rng: np.random.Generator, cdf: np.ndarray, rank_to_key: np.ndarray,
                 n: int, max_k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per record, 0..max_k distinct keys drawn from the rank distribution `cdf`.

    Returns (members per record, key indexes flattened record by record, ascending within
    a record). A member equal to an earlier one in its record is redrawn until none is,
    which draws without replacement with probability proportional to rank weight.
    """
    counts = rng.integers(0, max_k + 1, n)
    live = np.arange(max_k) < counts[:, None]
    draws = _sample(rng, cdf, (n, max_k))
    rows = np.arange(n)
    while rows.size:
        sub = draws[rows]
        dup = np.zeros(sub.shape, dtype=bool)
        for j in range(1, max_k):
            dup[:, j] = (sub[:, :j] == sub[:, j:j + 1]).any(axis=1)
        dup &= live[rows]
        hit = dup.any(axis=1)
        rows, sub, dup = rows[hit], sub[hit], dup[hit]
        sub[dup] = _sample(rng, cdf, int(dup.sum()))
        draws[rows] = sub
    keys = np.where(live, rank_to_key[draws], len(rank_to_key))  # sentinel sorts last
    keys.sort(axis=1)
    return counts, keys[live]


def _chunk_columns(rng: np.random.Generator, hobby_rank_to_key: np.ndarray,
                   m: int) -> dict[str, Any]:
    """Draw m records; the draw order is fixed, so a chunk is a function of its RNG alone."""
    hobby_counts, hobbies = _sample_sets(rng, HOBBY_CDF, hobby_rank_to_key, m, MAX_HOBBIES)
    tag_counts, tags = _sample_sets(rng, TAG_CDF, np.arange(len(TAGS), dtype=np.int16), m,
                                    MAX_TAGS)
    return {
        "hobby_counts": hobby_counts, "hobbies": hobbies,
        "tag_counts": tag_counts, "tags": tags,
        "education": _sample(rng, EDUCATION_CDF, m),
        "region": _sample(rng, REGION_CDF, m),
        "active": rng.random(m) < 0.6,
        "age": np.clip(np.rint(rng.normal(42.0, 15.0, m)), 18, 90).astype(np.int16),
        "income": np.clip(np.rint(rng.lognormal(11.0, 0.75, m)), 0, 1_000_000).astype(np.int64),
        "income_null": rng.random(m) < 0.10,
        "score": np.rint(rng.beta(2.0, 5.0, m) * 10_000).astype(np.int64),
        "score_null": rng.random(m) < 0.05,
        # sqrt of a uniform: density rising linearly towards the end of the window.
        "last_seen": LAST_SEEN_START + np.floor(
            (LAST_SEEN_END - LAST_SEEN_START) * np.sqrt(rng.random(m))).astype(np.int64),
    }


def _keyed(indexes: np.ndarray, keys: pa.Array) -> pa.Array:
    return keys.take(pa.array(indexes))


def _decimal_cents(cents: np.ndarray, null: np.ndarray) -> pa.Array:
    # decimal128 is two little-endian 64-bit words per value; cents are non-negative.
    words = np.zeros((cents.size, 2), dtype=np.int64)
    words[:, 0] = cents
    validity = pa.py_buffer(np.packbits(~null, bitorder="little"))
    return pa.Array.from_buffers(pa.decimal128(5, 2), cents.size,
                                 [validity, pa.py_buffer(words)], int(null.sum()))


def _list(counts: np.ndarray, values: pa.Array) -> pa.Array:
    offsets = np.zeros(counts.size + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def _chunk_tables(start: int, c: dict[str, Any],
                  key_arrays: dict[str, pa.Array]) -> dict[str, pa.Table]:
    """Arrow tables for one chunk: "records" and one per field's edges."""
    m = c["age"].size
    ids = np.arange(start, start + m, dtype=np.uint64)
    hobbies = _keyed(c["hobbies"], key_arrays["hobbies"])
    tags = _keyed(c["tags"], key_arrays["tags"])
    education = _keyed(c["education"], key_arrays["education"])
    region = _keyed(c["region"], key_arrays["region"])
    income_ok, score_ok = ~c["income_null"], ~c["score_null"]
    records = pa.Table.from_arrays([
        pa.array(ids),
        _list(c["hobby_counts"], hobbies),
        education,
        region,
        pa.array(c["active"]),
        pa.array(c["age"]),
        pa.array(c["income"].astype(np.int32), mask=c["income_null"]),
        _decimal_cents(c["score"], c["score_null"]),
        pa.array(c["last_seen"].view("datetime64[s]")),
        _list(c["tag_counts"], tags),
    ], schema=RECORDS_SCHEMA)
    edges = {
        "hobbies": (np.repeat(ids, c["hobby_counts"]), hobbies),
        "education": (ids, education),
        "region": (ids, region),
        "active": (ids, c["active"]),
        "age": (ids, c["age"].astype(np.int64)),
        "income": (ids[income_ok], c["income"][income_ok]),
        "score": (ids[score_ok], c["score"][score_ok]),
        "last_seen": (ids, c["last_seen"]),
        "tags": (np.repeat(ids, c["tag_counts"]), tags),
    }
    tables = {"records": records}
    for field, (rid, value) in edges.items():
        tables[field] = pa.Table.from_arrays([pa.array(rid), pa.array(value)],
                                             schema=_edge_schema(field))
    return tables


def _edge_schema(field: str) -> pa.Schema:
    return pa.schema([pa.field("record_id", pa.uint64(), nullable=False),
                      pa.field("value", _EDGE_VALUE_TYPES[field], nullable=False)])


def _by_popularity(counts: np.ndarray, keys: list[str]) -> list[str]:
    # Count descending, ties by key ascending (keys are listed in ascending order).
    order = np.lexsort((np.arange(len(keys)), -counts))
    return [keys[i] for i in order]


def _generator_id(seed: int, chunk: int) -> dict[str, int]:
    return {"version": GENERATOR_VERSION, "seed": seed, "chunk": chunk}


def read_schema(data_dir: Path | str) -> dict[str, Any]:
    """The schema.json of a generated data dir (raises FileNotFoundError if absent)."""
    return json.loads((Path(data_dir) / "schema.json").read_text())


def _matches(out: Path, n: int, generator: dict[str, int]) -> bool:
    try:
        schema = read_schema(out)
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    files = [out / "records.parquet", *(out / "edges" / f"{f}.parquet" for f in FIELDS)]
    return (schema.get("n") == n and schema.get("generator") == generator
            and all(p.exists() for p in files))


def generate(n: int, out: Path | str, seed: int = DEFAULT_SEED, *,
             chunk: int = CHUNK) -> dict[str, Any]:
    """Write the dataset of n records into `out` unless a matching one is already there.

    Args:
        n: number of records, MIN_N..MAX_N.
        out: output directory (created if needed).
        seed: RNG seed; same (n, seed, chunk) gives byte-identical files.
        chunk: records per generation chunk (bounds memory; part of the output's identity).

    Returns:
        The dataset's schema.json contents.
    """
    if not MIN_N <= n <= MAX_N:
        raise ValueError(f"n must be in {MIN_N:,}..{MAX_N:,}, got {n:,}")
    out = Path(out)
    generator = _generator_id(seed, chunk)
    if _matches(out, n, generator):
        return read_schema(out)
    (out / "schema.json").unlink(missing_ok=True)  # an interrupted run must not look done
    (out / "edges").mkdir(parents=True, exist_ok=True)

    hobby_rank_to_key = np.random.default_rng([seed, 0]).permutation(len(HOBBIES)).astype(np.int16)
    key_arrays = {"hobbies": pa.array(HOBBIES), "education": pa.array(EDUCATION),
                  "region": pa.array(REGIONS), "tags": pa.array(TAGS)}
    counts = {f: np.zeros(len(key_arrays[f]), dtype=np.int64)
              for f in ("hobbies", "region", "tags")}  # the fields H, R, T rank
    edge_counts = dict.fromkeys(FIELDS, 0)
    writers = {"records": pq.ParquetWriter(out / "records.parquet", RECORDS_SCHEMA)}
    writers.update({f: pq.ParquetWriter(out / "edges" / f"{f}.parquet", _edge_schema(f))
                    for f in FIELDS})
    try:
        for index, start in enumerate(range(0, n, chunk)):
            rng = np.random.default_rng([seed, 1, index])
            columns = _chunk_columns(rng, hobby_rank_to_key, min(chunk, n - start))
            for field in counts:
                counts[field] += np.bincount(columns[field], minlength=counts[field].size)
            for name, table in _chunk_tables(start, columns, key_arrays).items():
                writers[name].write_table(table)
                if name in edge_counts:
                    edge_counts[name] += table.num_rows
    finally:
        for writer in writers.values():
            writer.close()

    schema = {
        "n": n,
        "generator": generator,
        "fields": FIELDS,
        "edges": edge_counts,
        "params": {
            "H": _by_popularity(counts["hobbies"], HOBBIES),
            "R": _by_popularity(counts["region"], REGIONS),
            "T": _by_popularity(counts["tags"], TAGS),
        },
    }
    tmp = out / "schema.json.tmp"
    tmp.write_text(json.dumps(schema, indent=1) + "\n")
    os.replace(tmp, out / "schema.json")
    return schema


def default_dir(n: int) -> Path:
    """Where the runner keeps the dataset of n records."""
    return Path("bench") / "data" / f"n{n}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gen",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, required=True, help="number of records")
    parser.add_argument("--out", type=Path, help="output dir (default bench/data/n<N>)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    out = args.out or default_dir(args.n)
    started = time.perf_counter()
    schema = generate(args.n, out, args.seed)
    edges = sum(schema["edges"].values())
    print(f"{out}: {args.n:,} records, {edges:,} edges, seed {args.seed} "
          f"({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
