"""The /v1 data plane (issue 11 "Benchmarks"): bulk upsert throughput and filtered listings
of a real server on loopback, against DuckDB on the same data in the same run.

    python -m bench.v1 [--n 1000000] [--seed 42] [--rounds 30] [--ways json,msgpack,grpc]
                       [--out bench/results/v1-<date>.md] [--data-dir DIR] [--keep]

1. Generates N items (numpy, deterministic from the seed) with 6 properties: price
   float32, year int16, popularity int32, category unicode32, brand unicode32 and tags
   unicode16 repeated (0-4 per item), some values missing.
2. Starts `python -m server.cli serve` on a fresh data dir (production settings: fsync on;
   the per-org rate limit lifted), and for each way makes a database, logs in to it
   (POST /v1/login/individual/ with db_id), declares the properties and upserts every
   item with `PUT /v1/items-bulk/properties/` in the xminds client's 1,024-item chunks, one
   request at a time on one keep-alive connection, as the client does. Bodies are
   encoded before the clock starts, so the client's own encoding is not counted; the
   repeated property travels inline as a list. Items/s = N / wall time of all chunks.
   Over gRPC the same chunks are one EntityService.BulkWrite client stream (`grpc_upsert`).
3. Loads the same generated items into DuckDB (threads=2) and checks, for every filter set
   (1-3 filters over int, float, unicode and repeated properties, amt=300), that the first
   page over HTTP equals DuckDB's `ORDER BY item_id LIMIT 300` of the same filters written
   as SQL (`sql_where`: the documented semantics — quantifiers on repeated values, missing
   values matching only neq/notin): same ids in the same order, same values.
4. Times each filter set's first page `--rounds` times over HTTP (JSON and msgpack
   responses, request to decoded body) and in DuckDB, interleaved: every round runs every
   way back to back, the order rotating each round. Then, with the server stopped, the
   same against the engine in-process (EntityTable.scan on the server's data dir), again
   interleaved with DuckDB. Reports p50/p99 per way and the median of per-round ratios.

Targets (PERFORMANCE.md): ≥ 100k items/s over msgpack and gRPC, ≥ 40k/s over JSON; every
filtered page (over HTTP) faster than DuckDB's equivalent query. Exit status 1 when an
answer differs, else 0 (a missed target is a FAIL line in the report, not an error).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gc
import http.client
import json
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence
from urllib.parse import urlencode, urlsplit

import msgpack
import numpy as np

DEFAULT_N = 1_000_000
CHUNK = 1 << 10                  # the xminds client's chunk_size
AMT = 300
TARGETS = {"msgpack": 100_000.0, "grpc": 100_000.0, "json": 40_000.0}
ROOT_EMAIL = "bench@localhost"
JSON_TYPE, MSGPACK_TYPE = "application/json", "application/msgpack"

PROPERTIES: tuple[tuple[str, str, bool], ...] = (
    ("price", "float32", False), ("year", "int16", False), ("popularity", "int32", False),
    ("category", "unicode32", False), ("brand", "unicode32", False), ("tags", "unicode16", True))
CATEGORIES = tuple(f"category-{i:02d}" for i in range(50))
BRANDS = tuple(f"brand-{i:04d}" for i in range(2000))
TAGS = tuple(f"tag-{i:03d}" for i in range(300))


# --- the data -----------------------------------------------------------------------------

@dataclass
class Items:
    """N items, columnar. A missing value: NaN price, year 0, category/brand -1; tags of
    item i are tag_values[tag_offsets[i]:tag_offsets[i + 1]] (indexes into TAGS)."""

    ids: np.ndarray
    price: np.ndarray
    year: np.ndarray
    popularity: np.ndarray
    category: np.ndarray
    brand: np.ndarray
    tag_offsets: np.ndarray
    tag_values: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, start: int, stop: int) -> list[dict[str, Any]]:
        """Items start..stop-1 as the API takes them (missing values left out)."""
        price, year, pop = self.price[start:stop].tolist(), self.year[start:stop].tolist(), \
            self.popularity[start:stop].tolist()
        cat, brand, ids = self.category[start:stop].tolist(), self.brand[start:stop].tolist(), \
            self.ids[start:stop].tolist()
        offs = self.tag_offsets[start:stop + 1].tolist()
        tags = self.tag_values[offs[0]:offs[-1]].tolist()
        out = []
        for i in range(stop - start):
            row: dict[str, Any] = {"item_id": ids[i], "popularity": pop[i]}
            if price[i] == price[i]:
                row["price"] = price[i]
            if year[i]:
                row["year"] = year[i]
            if cat[i] >= 0:
                row["category"] = CATEGORIES[cat[i]]
            if brand[i] >= 0:
                row["brand"] = BRANDS[brand[i]]
            if offs[i + 1] > offs[i]:
                row["tags"] = [TAGS[t] for t in tags[offs[i] - offs[0]:offs[i + 1] - offs[0]]]
            out.append(row)
        return out


def _zipf_pick(rng: np.random.Generator, k: int, s: float, size: Any) -> np.ndarray:
    weights = 1.0 / np.arange(1, k + 1) ** s
    return rng.choice(k, size=size, p=weights / weights.sum())


def generate(n: int, seed: int = 42) -> Items:
    """N items, ids 1..N in order (so record-id order, the listing order, is id order).
    Prices are sent as decimals with cents (the server rounds them to float32)."""
    rng = np.random.default_rng(seed)
    price = np.round(rng.lognormal(3.5, 1.0, n), 2)
    price[rng.random(n) < 0.08] = np.nan
    year = rng.integers(1950, 2025, n).astype(np.int16)
    year[rng.random(n) < 0.05] = 0
    popularity = np.minimum(rng.zipf(1.6, n), 1_000_000).astype(np.int32)
    category = _zipf_pick(rng, len(CATEGORIES), 1.0, n).astype(np.int32)
    category[rng.random(n) < 0.02] = -1
    brand = _zipf_pick(rng, len(BRANDS), 0.9, n).astype(np.int32)
    brand[rng.random(n) < 0.10] = -1
    # 0-4 tags an item, distinct: 4 Zipf candidates, the first `count` kept less repeats
    cand = _zipf_pick(rng, len(TAGS), 0.8, (n, 4)).astype(np.int32)
    keep = np.arange(4) < rng.integers(0, 5, n)[:, None]
    for j in range(1, 4):
        keep[:, j] &= ~(cand[:, :j] == cand[:, j:j + 1]).any(axis=1)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(keep.sum(axis=1), out=offsets[1:])
    ids = np.arange(1, n + 1, dtype=np.uint64)
    return Items(ids, price, year, popularity, category, brand, offsets, cand[keep])


def arrow_table(items: Items) -> Any:
    """The items as an Arrow table for DuckDB: NULL for a missing value, an empty list
    for no tags."""
    import pyarrow as pa

    def keyed(codes: np.ndarray, vocab: Sequence[str]) -> Any:
        return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), pa.array(vocab)).cast(pa.string())

    tags = pa.ListArray.from_arrays(pa.array(items.tag_offsets.astype(np.int32)),
                                    pa.array(np.asarray(TAGS, dtype=object)[items.tag_values], pa.string()))
    return pa.table({
        "item_id": pa.array(items.ids),
        "price": pa.array(items.price.astype(np.float32), mask=np.isnan(items.price)),
        "year": pa.array(items.year, mask=items.year == 0), "popularity": pa.array(items.popularity),
        "category": keyed(items.category, CATEGORIES), "brand": keyed(items.brand, BRANDS), "tags": tags})


# --- filter sets ----------------------------------------------------------------------------

@dataclass(frozen=True)
class FilterSet:
    name: str
    filters: tuple[tuple[str, str, Any], ...]

    def as_objects(self) -> list[dict[str, Any]]:
        return [{"property_name": p, "op": op, "value": v} for p, op, v in self.filters]

    def as_url(self) -> list[str]:
        """The xminds client's URL form, `prop:op:value`, lists comma-joined."""
        return [f"{p}:{op}:{','.join(map(str, v)) if isinstance(v, list) else v}" for p, op, v in self.filters]


FILTER_SETS: tuple[FilterSet, ...] = (
    FilterSet("price<20 (float)", (("price", "lt", 20.0),)),
    FilterSet("category=03 (unicode)", (("category", "eq", "category-03"),)),
    FilterSet("tags in 2 (repeated)", (("tags", "in", ["tag-010", "tag-020"]),)),
    FilterSet("year>=2000, price<50 (int, float)", (("year", "gte", 2000), ("price", "lt", 50.0))),
    FilterSet("category in 3, tags=005, year<1990",
              (("category", "in", ["category-01", "category-04", "category-09"]), ("tags", "eq", "tag-005"),
               ("year", "lt", 1990))),
    FilterSet("brand!=0001, tags notin 2, popularity>=3",
              (("brand", "neq", "brand-0001"), ("tags", "notin", ["tag-000", "tag-001"]),
               ("popularity", "gte", 3))),
    FilterSet("brand=1999, price>=100 (sparse)", (("brand", "eq", "brand-1999"), ("price", "gte", 100.0))),
)

_SQL_OPS = {"eq": "=", "neq": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_FLOAT_COLUMNS = frozenset({"price"})
_REPEATED = frozenset({p for p, _, rep in PROPERTIES if rep})


def _literal(column: str, value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if column in _FLOAT_COLUMNS:
        return f"CAST({float(np.float32(value))!r} AS FLOAT)"      # rounded to the width, as the API does
    return str(int(value))


def sql_where(fs: FilterSet) -> str:
    """The filters as DuckDB SQL, by the documented semantics (crossing-minds-api.md §3,
    docs/v1.md): AND of the filters; on a repeated property eq/in/ordering hold when SOME
    element matches and neq/notin when NONE does (an empty list matches); a missing value
    matches only neq and notin; notempty is "has a value"."""
    parts = []
    for col, op, value in fs.filters:
        if col in _REPEATED:
            values = value if isinstance(value, list) else [value]
            listed = "[" + ", ".join(_literal(col, v) for v in values) + "]"
            if op in ("eq", "in"):
                parts.append(f"list_has_any({col}, {listed})")
            elif op in ("neq", "notin"):
                parts.append(f"NOT list_has_any({col}, {listed})")
            elif op == "notempty":
                parts.append(f"len({col}) > 0")
            else:
                parts.append(f"list_bool_or(list_transform({col}, x -> x {_SQL_OPS[op]} {_literal(col, value)}))")
        elif op == "in":
            parts.append(f"{col} IN ({', '.join(_literal(col, v) for v in value)})")
        elif op == "notin":
            parts.append(f"({col} IS NULL OR {col} NOT IN ({', '.join(_literal(col, v) for v in value)}))")
        elif op == "neq":
            parts.append(f"({col} IS NULL OR {col} <> {_literal(col, value)})")
        elif op == "notempty":
            parts.append(f"{col} IS NOT NULL")
        else:
            parts.append(f"{col} {_SQL_OPS[op]} {_literal(col, value)}")
    return " AND ".join(parts) or "TRUE"


def normal(entities: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """A page in comparable form: per entity its id and sorted (property, value) pairs,
    floats at float32 (the properties' width), lists as sorted tuples (repeated values are
    sets), missing values left out."""
    def value(v: Any) -> Any:
        if isinstance(v, list):
            return tuple(sorted(v))
        return float(np.float32(v)) if isinstance(v, float) else v

    return [(int(e["item_id"]), tuple(sorted((k, value(v)) for k, v in e.items()
                                             if k != "item_id" and v is not None and v != [])))
            for e in entities]


class AnswerMismatch(Exception):
    """The server and DuckDB gave different pages (or the server lost an upserted item)."""


def check_same(what: str, ours: Sequence[dict[str, Any]], theirs: Sequence[dict[str, Any]]) -> None:
    a, b = normal(ours), normal(theirs)
    if a != b:
        first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        raise AnswerMismatch(f"{what}: {len(a)} vs {len(b)} entities; first difference at {first}: "
                             f"{a[first] if first < len(a) else None} vs {b[first] if first < len(b) else None}")


# --- DuckDB ---------------------------------------------------------------------------------

class Duck:
    """The items in DuckDB (threads=2), and the filter sets' first pages as SQL."""

    COLUMNS = ("item_id", "price", "year", "popularity", "category", "brand", "tags")

    def __init__(self, items: Items) -> None:
        import duckdb

        self.con = duckdb.connect(":memory:", config={"threads": 2})
        started = time.perf_counter()
        table = arrow_table(items)
        self.con.register("items_arrow", table)
        self.con.execute("CREATE TABLE items AS SELECT * FROM items_arrow")
        self.con.unregister("items_arrow")
        self.load_seconds = time.perf_counter() - started
        self.version = duckdb.__version__

    def statement(self, fs: FilterSet) -> str:
        return f"SELECT {', '.join(self.COLUMNS)} FROM items WHERE {sql_where(fs)} ORDER BY item_id LIMIT {AMT}"

    def page(self, fs: FilterSet) -> list[dict[str, Any]]:
        rows = self.con.execute(self.statement(fs)).fetchall()
        return [dict(zip(self.COLUMNS, r)) for r in rows]

    def close(self) -> None:
        self.con.close()


# --- the server -----------------------------------------------------------------------------

class Http:
    """One keep-alive HTTP/1.1 connection to the server, with a bearer token that is
    renewed by logging in again when it expires (as the xminds client refreshes)."""

    def __init__(self, base: str, password: str, db_id: Optional[str] = None) -> None:
        parts = urlsplit(base)
        assert parts.hostname is not None, base
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
        self.password, self.db_id = password, db_id
        self.token = ""
        self.login()

    def login(self) -> None:
        body = {"email": ROOT_EMAIL, "password": self.password, **({"db_id": self.db_id} if self.db_id else {})}
        status, data = self.call("POST", "/v1/login/individual/", json.dumps(body).encode(), relogin=False)
        if status != 200:
            raise RuntimeError(f"login failed: {status} {data[:200]!r}")
        self.token = json.loads(data)["token"]

    def call(self, method: str, path: str, body: Optional[bytes] = None, *, content_type: str = JSON_TYPE,
             accept: str = JSON_TYPE, relogin: bool = True) -> tuple[int, bytes]:
        headers = {"Content-Type": content_type, "Accept": accept}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.conn.close()        # the server closed an idle keep-alive connection: once more
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
        data = resp.read()
        if resp.status == 401 and relogin and b"TokenExpired" in data:
            self.login()
            return self.call(method, path, body, content_type=content_type, accept=accept, relogin=False)
        return resp.status, data

    def json(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        status, data = self.call(method, path, None if body is None else json.dumps(body).encode())
        if status != expect:
            raise RuntimeError(f"{method} {path}: {status} {data[:300]!r}")
        return json.loads(data) if data else None

    def close(self) -> None:
        self.conn.close()


class Server:
    """A bootstrapped data dir and `python -m server.cli serve` on it (bench.peers.grpc_peer)."""

    def __init__(self, work_dir: str) -> None:
        from server.service.bootstrap import open_service
        from server.service.config import BootstrapSettings, ServiceConfig

        self.data_dir = os.path.join(work_dir, "data")
        self.password = secrets.token_urlsafe(18)
        self.config = ServiceConfig(self.data_dir, bootstrap=BootstrapSettings(root_email=ROOT_EMAIL,
                                                                               root_password=self.password))
        open_service(self.config).close()
        self.proc: Any = None
        self.grpc_target = self.http_url = ""

    def start(self) -> None:
        from bench.peers.grpc_peer import serve_process

        self.proc, self.grpc_target, self.http_url = serve_process(self.data_dir)

    def stop(self) -> int:
        import signal

        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(120)
        self.proc.stdout.close()
        code = self.proc.returncode
        self.proc = None
        return code


def new_database(server: Server, name: str) -> str:
    """A database with the item properties; returns its id."""
    root = Http(server.http_url, server.password)
    try:
        db_id = root.json("POST", "/v1/databases/", {"name": name, "item_id_type": "uint64",
                                                      "user_id_type": "uint64"}, expect=201)["id"]
    finally:
        root.close()
    scoped = Http(server.http_url, server.password, db_id)
    try:
        for prop, value_type, repeated in PROPERTIES:
            scoped.json("POST", "/v1/items-properties/", {"property_name": prop, "value_type": value_type,
                                                          "repeated": repeated}, expect=201)
    finally:
        scoped.close()
    return db_id


# --- upsert ---------------------------------------------------------------------------------

@dataclass
class Upsert:
    way: str
    n: int = 0
    seconds: float = 0.0
    body_bytes: int = 0
    latencies: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def rate(self) -> float:
        return self.n / self.seconds if self.seconds else 0.0


def encode_chunks(items: Items, way: str) -> list[bytes]:
    """Every chunk's request body, encoded before timing."""
    out = []
    for start in range(0, len(items), CHUNK):
        body = {"items": items.rows(start, min(start + CHUNK, len(items)))}
        out.append(json.dumps(body).encode() if way == "json" else msgpack.packb(body))
    return out


def http_upsert(server: Server, db_id: str, items: Items, way: str) -> Upsert:
    bodies = encode_chunks(items, way)
    media = JSON_TYPE if way == "json" else MSGPACK_TYPE
    client = Http(server.http_url, server.password, db_id)
    result = Upsert(way, len(items), body_bytes=sum(map(len, bodies)))
    try:
        started = time.perf_counter()
        for body in bodies:
            t0 = time.perf_counter()
            status, data = client.call("PUT", "/v1/items-bulk/properties/", body, content_type=media, accept=media)
            result.latencies.append(time.perf_counter() - t0)
            if status != 200:
                raise RuntimeError(f"bulk upsert over {way}: {status} {data[:300]!r}")
        result.seconds = time.perf_counter() - started
    finally:
        client.close()
    return result


def encode_grpc_chunks(db_id: str, items: Items) -> list[bytes]:
    """Every chunk as a serialized EntityService BulkWriteRequest (a put), encoded before
    timing; the repeated property is a Value list, ids are `uint`."""
    from server.client import entity_message
    from server.pb.roarbase.v1 import entity_pb2

    out = []
    for start in range(0, len(items), CHUNK):
        rows = items.rows(start, min(start + CHUNK, len(items)))
        out.append(entity_pb2.BulkWriteRequest(
            database_id=db_id, kind=entity_pb2.ENTITY_KIND_ITEM, mode=entity_pb2.WRITE_MODE_PUT,
            entities=[entity_message(r, "item") for r in rows]).SerializeToString())
    return out


def grpc_upsert(server: Server, db_id: str, items: Items) -> Upsert:
    """The same 1,024-item chunks as one EntityService.BulkWrite client stream (each chunk
    committed by the server before it reads the next). No per-chunk latencies: gRPC
    buffers chunks ahead of the server, so the client cannot see when each commits."""
    import grpc

    from server.pb.roarbase.v1 import auth_pb2, auth_pb2_grpc, entity_pb2

    bodies = encode_grpc_chunks(db_id, items)
    result = Upsert("grpc", len(items), body_bytes=sum(map(len, bodies)))
    limit = [("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)]
    with grpc.insecure_channel(server.grpc_target, options=limit) as channel:
        token = auth_pb2_grpc.AuthServiceStub(channel).Login(
            auth_pb2.LoginRequest(email=ROOT_EMAIL, password=server.password, db_id=db_id), timeout=60).token
        stream = channel.stream_unary("/roarbase.v1.EntityService/BulkWrite", request_serializer=lambda b: b,
                                      response_deserializer=entity_pb2.BulkWriteResponse.FromString)
        started = time.perf_counter()
        got = stream(iter(bodies), metadata=(("authorization", f"Bearer {token}"),), timeout=24 * 3600)
        result.seconds = time.perf_counter() - started
    if (got.chunks, got.entities) != (len(bodies), len(items)):
        raise RuntimeError(f"BulkWrite committed {got.chunks} chunks / {got.entities} items, "
                           f"sent {len(bodies)} / {len(items)}")
    return result


def verify_upsert(server: Server, db_id: str, items: Items, rng: np.random.Generator) -> None:
    """Every item arrived: the database counts N, and a sample reads back as sent."""
    client = Http(server.http_url, server.password, db_id)
    try:
        counted = client.json("GET", "/v1/databases/current/")["counters"]["item"]
        if counted != len(items):
            raise AnswerMismatch(f"the database counts {counted} items, {len(items)} were upserted")
        sample = sorted(rng.choice(len(items), size=min(300, len(items)), replace=False).tolist())
        sent = [items.rows(i, i + 1)[0] for i in sample]
        got = client.json("POST", "/v1/items-bulk/properties/list/", {"items_id": [r["item_id"] for r in sent]})
        check_same("items read back by id", got["items"], sent)
    finally:
        client.close()


# --- filtered pages -------------------------------------------------------------------------

def http_page(client: Http, fs: FilterSet, media: str) -> list[dict[str, Any]]:
    query = urlencode([("amt", AMT), *(("filters", f) for f in fs.as_url())])
    status, data = client.call("GET", f"/v1/items-bulk/properties/?{query}", accept=media)
    if status != 200:
        raise RuntimeError(f"listing {fs.name}: {status} {data[:300]!r}")
    body = json.loads(data) if media == JSON_TYPE else msgpack.unpackb(data)
    return body["items"]


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """(answer, seconds), the cyclic GC paused as timeit does."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        answer = fn()
        return answer, time.perf_counter() - t0
    finally:
        if enabled:
            gc.enable()


@dataclass
class Timings:
    """seconds[filter set][way][round]."""

    ways: list[str]
    seconds: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    matches: dict[str, int] = field(default_factory=dict)

    def pct(self, fs: str, way: str, q: float) -> float:
        lat = sorted(self.seconds[fs][way])
        return lat[min(len(lat) - 1, int(q * len(lat)))]

    def ratio(self, fs: str, a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(self.seconds[fs][a], self.seconds[fs][b]))


def run_pages(ways: dict[str, Callable[[FilterSet], list[dict[str, Any]]]], duck: Duck, rounds: int) -> Timings:
    """Check every way's first page against DuckDB's, then time them interleaved."""
    all_ways = {**ways, "duckdb": duck.page}
    t = Timings(list(all_ways))
    for fs in FILTER_SETS:
        expected = duck.page(fs)
        for way, fn in ways.items():
            check_same(f"{fs.name} via {way}", fn(fs), expected)
        t.matches[fs.name] = len(expected)
        t.seconds[fs.name] = {w: [] for w in all_ways}
    names = list(all_ways)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for fs in FILTER_SETS:
            for way in order:
                _, s = timed(lambda: all_ways[way](fs))
                t.seconds[fs.name][way].append(s)
    return t


def engine_pages(server: Server, db_id: str) -> tuple[Any, Callable[[FilterSet], list[dict[str, Any]]]]:
    """The server's data dir opened in-process (server stopped): EntityTable.scan."""
    from engine import EntityTable
    from server.service import tokens
    from server.service import databases
    from server.service.bootstrap import open_service

    ctx = open_service(server.config)
    db = databases.load(ctx, tokens.owner_principal(ctx), db_id)
    table = EntityTable.open(databases.ensure_entity_tables(ctx, db), databases.ITEMS_TABLE)
    return ctx, lambda fs: table.scan(fs.as_objects(), amt=AMT).entities


# --- where the upsert time goes ---------------------------------------------------------------

STAGES = (
    ("decode JSON body (http_v1.decode_body)", "decode_json"),
    ("decode msgpack body (http_v1.decode_body)", "decode_msgpack"),
    ("  of which the body check (common.json_value_problem)", "depth"),
    ("validate (EntityTable.validate: ids, values)", "validate"),
    ("EntityTable.put, fsync off (validate + key translation + import + commit)", "put_nofsync"),
    ("EntityTable.put, fsync on", "put_fsync"),
    ("service put_entities, fsync on (policy, database lookup, put)", "service"),
)


def stage_costs(items: Items, n: int) -> dict[str, float]:
    """Microseconds per item of each server-side stage of a bulk upsert, in-process, on
    the first n items in the same 1,024-item chunks (each write stage into a fresh table)."""
    from engine import EntityTable
    from server import http_v1
    from server.service import tokens
    from server.service import databases, entities
    from server.service.bootstrap import open_service
    from server.service.config import BootstrapSettings, PasswordHashing, ServiceConfig
    from server.service.common import json_value_problem

    part = Items(items.ids[:n], items.price[:n], items.year[:n], items.popularity[:n], items.category[:n],
                 items.brand[:n], items.tag_offsets[:n + 1], items.tag_values[:int(items.tag_offsets[n])])
    out: dict[str, float] = {}

    def per_item(key: str, fn: Callable[[Any], Any], inputs: Sequence[Any], warm: bool = False) -> None:
        if warm:
            fn(inputs[0])
        started = time.perf_counter()
        for x in inputs:
            fn(x)
        out[key] = (time.perf_counter() - started) / n * 1e6

    json_bodies, mp_bodies = encode_chunks(part, "json"), encode_chunks(part, "msgpack")
    per_item("decode_json", lambda b: http_v1.decode_body(b, JSON_TYPE, required=True), json_bodies, True)
    per_item("decode_msgpack", lambda b: http_v1.decode_body(b, MSGPACK_TYPE, required=True), mp_bodies, True)
    chunks = [json.loads(b)["items"] for b in json_bodies]
    per_item("depth", lambda c: json_value_problem({"items": c}, http_v1.MAX_DEPTH, text_is_unicode=True), chunks, True)
    with tempfile.TemporaryDirectory(prefix="roarbase-v1-stages-") as tmp:
        for fsync in (False, True):
            ctx = open_service(ServiceConfig(
                os.path.join(tmp, f"fsync-{fsync}"), fsync=fsync,
                passwords=PasswordHashing(time_cost=1, memory_cost_kib=8, parallelism=1),
                bootstrap=BootstrapSettings(root_email=ROOT_EMAIL, root_password=secrets.token_urlsafe(18))))
            try:
                owner = tokens.owner_principal(ctx)
                tables = []
                for name in ("validate", "put", "service"):
                    db = databases.create_database(ctx, owner, name=name, item_id_type="uint64")
                    for prop, value_type, repeated in PROPERTIES:
                        entities.create_property(ctx, owner, "item", property_name=prop, value_type=value_type,
                                                 repeated=repeated, database=db.id)
                    tables.append((db.id, EntityTable.open(databases.ensure_entity_tables(ctx, db),
                                                           databases.ITEMS_TABLE)))
                if not fsync:
                    per_item("validate", lambda c: tables[0][1].validate(c, None, patch=False), chunks)
                per_item("put_fsync" if fsync else "put_nofsync", lambda c: tables[1][1].put(c), chunks)
                if fsync:
                    db_id = tables[2][0]
                    per_item("service", lambda c: entities.put_entities(ctx, owner, "item", c, database=db_id),
                             chunks)
            finally:
                ctx.close()
    return out


# --- the report -----------------------------------------------------------------------------

def _ms(s: float) -> str:
    return f"{s * 1000:.3g}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(*, n: int, seed: int, rounds: int, upserts: list[Upsert], wire: Optional[Timings],
           engine: Optional[Timings], duck: Duck, loads: tuple[float, float], elapsed: float,
           stages: Optional[tuple[int, dict[str, float]]] = None) -> str:
    from bench.report import _commit, _cpu_model

    lines = [f"# /v1 data plane benchmark — {_dt.date.today().isoformat()}", "",
             f"N = {n:,} items, 6 properties (one repeated), seed {seed}; chunks of {CHUNK} items; "
             f"listings amt={AMT}, {rounds} rounds. Generated by `python -m bench.v1` in {elapsed:.0f} s.", "",
             "## Bulk upsert", "",
             "| way | items | seconds | items/s | target | verdict | MB sent | chunk p50 ms | chunk p99 ms "
             "| first / last 10% of chunks, p50 ms |",
             "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |"]
    for u in upserts:
        target = TARGETS.get(u.way)
        if u.note:
            lines.append(f"| {u.way} | – | – | – | ≥ {target:,.0f}/s | n/a | – | – | – | – |")
            continue
        head = (f"| {u.way} | {u.n:,} | {u.seconds:.1f} | {u.rate:,.0f} | ≥ {target:,.0f}/s | "
                f"{verdict(u.rate >= (target or 0))} | {u.body_bytes / 1e6:.0f} | ")
        if not u.latencies:            # a client stream: no per-chunk answer to time
            lines.append(head + "– | – | – |")
            continue
        lat, tenth = sorted(u.latencies), max(1, len(u.latencies) // 10)   # first vs last: a cost that grows
        first, last = statistics.median(u.latencies[:tenth]), statistics.median(u.latencies[-tenth:])
        lines.append(head + f"{_ms(statistics.median(lat))} | {_ms(lat[min(len(lat) - 1, int(0.99 * len(lat)))])} | "
                            f"{_ms(first)} / {_ms(last)} |")
    lines += [""] + [f"- {u.way}: {u.note}" for u in upserts if u.note]
    if any(u.way == "grpc" and not u.note for u in upserts):
        lines.append("- grpc: one BulkWrite client stream of the same chunks (serialized before the clock "
                     "starts); the server commits each chunk before reading the next, but gRPC buffers chunks "
                     "ahead under HTTP/2 flow control, so there is no per-chunk latency to report.")
    if stages is not None:
        count, cost = stages
        lines += ["", f"### Where the upsert time goes (in-process, first {count:,} items, µs per item)", "",
                  "| stage | µs/item | items/s at this cost alone |", "| --- | ---: | ---: |"]
        lines += [f"| {label} | {cost[key]:.2f} | {1e6 / cost[key]:,.0f} |" for label, key in STAGES if key in cost]
        over_http = {u.way: 1e6 / u.rate for u in upserts if not u.note and u.rate}
        for way, us in over_http.items():
            decode = cost.get("decode_json" if way == "json" else "decode_msgpack", 0.0)
            lines.append(f"| over HTTP {way} (measured above) | {us:.2f} | {1e6 / us:,.0f} |")
            lines.append(f"| &nbsp;&nbsp;left for HTTP, routing, thread hand-off ({way}) | "
                         f"{us - decode - cost.get('service', 0.0):.2f} | |")
    for title, t, ours in (("Filtered listings over HTTP (first page)", wire, ("http-json", "http-msgpack")),
                           ("Filtered listings in-process (EntityTable.scan, server stopped)", engine, ("engine",))):
        if t is None:
            continue
        lines += ["", f"## {title}", "",
                  "| filter set | matches (page) | " + " | ".join(f"{w} p50 / p99 ms" for w in t.ways) + " | " +
                  " | ".join(f"{w} / duckdb" for w in ours) + " | verdict |",
                  "| --- | ---: | " + " | ".join("---:" for _ in t.ways) + " | " + " | ".join("---:" for _ in ours) +
                  " | --- |"]
        for fs in FILTER_SETS:
            ratios = [t.ratio(fs.name, w, "duckdb") for w in ours]
            cells = [f"{_ms(t.pct(fs.name, w, 0.5))} / {_ms(t.pct(fs.name, w, 0.99))}" for w in t.ways]
            lines.append(f"| {fs.name} | {t.matches[fs.name]} | " + " | ".join(cells) + " | " +
                         " | ".join(f"{r:.3g}" for r in ratios) + f" | {verdict(ratios[0] < 1)} |")
    lines += ["", "## Targets", ""]
    for u in upserts:
        target = TARGETS.get(u.way, 0.0)
        lines.append(f"- {'n/a' if u.note else verdict(u.rate >= target)}: bulk upsert over {u.way} ≥ "
                     f"{target:,.0f} items/s" + (f" — {u.rate:,.0f}/s" if not u.note else f" — {u.note}"))
    if wire is not None:
        slow = [fs.name for fs in FILTER_SETS if wire.ratio(fs.name, "http-json", "duckdb") >= 1]
        lines.append(f"- {verdict(not slow)}: every filtered page over HTTP (JSON) faster than DuckDB's equivalent "
                     f"query" + (f" — slower on: {'; '.join(slow)}" if slow else ""))
    lines += ["", "## Method", "",
              "- Server: `python -m server.cli serve` on loopback, production settings (fsync on, WAL), rate limit "
              "lifted; each way upserts into its own new database (item_id_type uint64).",
              "- Upsert: one keep-alive connection, one request at a time (as the xminds client sends), bodies "
              "encoded before the clock starts; items/s = N / wall time of all chunks; chunk latency = request "
              "to response body read.",
              "- Pages: `GET /v1/items-bulk/properties/?amt=300&filters=...` in the client's URL form; timed "
              "request to decoded body. DuckDB: `SELECT <all columns> ... WHERE <bench.v1.sql_where> ORDER BY "
              "item_id LIMIT 300` on a table loaded from the same generated items (threads=2). Every way's page "
              "was checked equal to DuckDB's (ids, order and values) before timing.",
              "- Ratios are medians of per-round ratios; every round runs every way back to back with the order "
              "rotated (PERFORMANCE.md). The in-process table is measured after the server stopped, interleaved "
              "with DuckDB again.",
              f"- Loads: DuckDB from Arrow {loads[0]:.1f} s; item generation {loads[1]:.1f} s.", "",
              "## Machine", "",
              f"- {os.cpu_count()} cores, {_cpu_model()}; Python {platform.python_version()}; DuckDB {duck.version}; "
              f"commit {_commit()}",
              f"- 1-minute load average at start / end: {_LOAD[0]:.2f} / {os.getloadavg()[0]:.2f} (shared machine)"]
    return "\n".join(lines) + "\n"


_LOAD = [0.0]


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.v1", description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=DEFAULT_N)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--ways", default="json,msgpack,grpc", help="upsert ways: json, msgpack, grpc")
    ap.add_argument("--out", type=Path, default=None, help="report path (default bench/results/v1-<date>.md)")
    ap.add_argument("--data-dir", default=None, help="work dir for the server (default: a temp dir, removed)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    ap.add_argument("--no-engine", action="store_true", help="skip the in-process listing phase")
    ap.add_argument("--stages", type=int, default=100 * CHUNK,
                    help="items for the in-process cost of each upsert stage (0: skip)")
    args = ap.parse_args(argv)
    ways = [w for w in args.ways.split(",") if w]
    if not set(ways) <= set(TARGETS) or not {"json", "msgpack"} & set(ways):
        ap.error("--ways: json and/or msgpack, optionally grpc")
    _LOAD[0] = os.getloadavg()[0]
    began = time.perf_counter()
    out = args.out or Path("bench") / "results" / f"v1-{_dt.date.today().isoformat()}.md"
    work = args.data_dir or tempfile.mkdtemp(prefix="roarbase-v1-bench-")
    os.makedirs(work, exist_ok=True)
    server = Server(work)
    duck: Optional[Duck] = None
    try:
        t0 = time.perf_counter()
        items = generate(args.n, args.seed)
        gen_seconds = time.perf_counter() - t0
        print(f"generated {args.n:,} items in {gen_seconds:.1f} s", flush=True)
        server.start()
        upserts, listing_db = [], None
        for way in ways:
            db_id = new_database(server, f"bench-{way}")
            u = grpc_upsert(server, db_id, items) if way == "grpc" else http_upsert(server, db_id, items, way)
            upserts.append(u)
            if u.note:
                print(f"upsert {way}: {u.note}", flush=True)
                continue
            print(f"upsert {way}: {u.n:,} items in {u.seconds:.1f} s = {u.rate:,.0f} items/s", flush=True)
            verify_upsert(server, db_id, items, np.random.default_rng(args.seed))
            listing_db = listing_db or db_id
        assert listing_db is not None
        duck = Duck(items)
        print(f"duckdb loaded in {duck.load_seconds:.1f} s", flush=True)
        client = Http(server.http_url, server.password, listing_db)
        try:
            wire = run_pages({"http-json": lambda fs: http_page(client, fs, JSON_TYPE),
                              "http-msgpack": lambda fs: http_page(client, fs, MSGPACK_TYPE)}, duck, args.rounds)
        finally:
            client.close()
        code = server.stop()
        if code != 0:
            raise RuntimeError(f"the server exited with status {code}")
        engine_t = None
        if not args.no_engine:
            ctx, scan = engine_pages(server, listing_db)
            try:
                engine_t = run_pages({"engine": scan}, duck, args.rounds)
            finally:
                ctx.close()
        stages = None
        if args.stages:
            count = min(args.stages, args.n)
            stages = (count, stage_costs(items, count))
            print("stages (µs/item): " + ", ".join(f"{k} {v:.1f}" for k, v in stages[1].items()), flush=True)
        text = report(n=args.n, seed=args.seed, rounds=args.rounds, upserts=upserts, wire=wire, engine=engine_t,
                      duck=duck, loads=(duck.load_seconds, gen_seconds), elapsed=time.perf_counter() - began,
                      stages=stages)
    except AnswerMismatch as exc:
        print(f"ANSWER MISMATCH: {exc}", file=sys.stderr)
        return 1
    finally:
        server.stop()
        if duck is not None:
            duck.close()
        if not (args.keep or args.data_dir):
            shutil.rmtree(work, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
