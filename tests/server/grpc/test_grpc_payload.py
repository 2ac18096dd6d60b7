"""R13 over gRPC: the message cap is limits.max_payload_bytes, both ways.

Received: requests of limit-1, limit and limit+1 bytes and 10x the limit; grpcio refuses the
over-limit ones before the handler with RESOURCE_EXHAUSTED, which server.grpc_status.from_grpc
names PayloadTooLarge, and the at-limit ones are served. Sent: results larger than the cap
arrive split (SQL row batches, PqlStream parts) and unary Pql refuses with PayloadTooLarge;
a ScanEntities page over the cap is refused (RESULT_TOO_LARGE) and a smaller page_size
serves it; a BulkWrite chunk over the cap is refused by gRPC, the chunks before it stay.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import grpc
import pytest

from grpc_testlib import TIMEOUT, Client, expect, failure, md, serving
from server.pb.roarbase.v1 import database_pb2, entity_pb2, query_pb2, value_pb2

SC = grpc.StatusCode
LIMIT = 64 << 10
RECORDS = 30_000  # ids up to 3,000,000: ~4 bytes each packed, so a Row of all is > LIMIT


@dataclass
class Capped:
    c: Client
    db: str


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Capped]:
    with serving(tmp_path_factory.mktemp("grpc-r13"),
                 limits={"max_payload_bytes": LIMIT, "max_query_bytes": LIMIT}) as c:
        db = c.databases.CreateDatabase(database_pb2.CreateDatabaseRequest(name="capped"), metadata=md(c.root)).id
        c.sql(c.root, db, "CREATE TABLE t (_id ID, v INT, s STRING)")
        per_request = 4000
        for start in range(0, RECORDS, per_request):
            c.sql(c.root, db, "INSERT INTO t (_id, v) VALUES " +
                  ", ".join(f"({k * 100}, 1)" for k in range(start, min(RECORDS, start + per_request))))
        yield Capped(c, db)


def _request_of_size(db: str, size: int) -> query_pb2.SqlRequest:
    """A valid, cheap SQL request whose serialized size is exactly `size` (padded with spaces)."""
    base = "SELECT count(*) FROM t WHERE _id = 100"
    req = query_pb2.SqlRequest(database_id=db, sql=base)
    pad = size - req.ByteSize()
    while True:
        req.sql = base + " " * pad
        if req.ByteSize() == size:
            return req
        pad += size - req.ByteSize()


def _peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


def test_request_sizes_around_the_limit(capped: Capped) -> None:
    c, root = capped.c, md(capped.c.root)
    statuses = {}
    for size in (LIMIT - 1, LIMIT):
        stream = list(c.queries.Sql(_request_of_size(capped.db, size), metadata=root, timeout=TIMEOUT))
        statuses[size] = "OK"
        assert [m.WhichOneof("kind") for m in stream] == ["header", "rows", "stats"]
    rss_before = _peak_rss_kib(c.srv.proc.pid)
    for size in (LIMIT + 1, 10 * LIMIT):
        f = failure(lambda: list(c.queries.Sql(_request_of_size(capped.db, size), metadata=root, timeout=TIMEOUT)))
        assert (f.status, f.error.code) == (SC.RESOURCE_EXHAUSTED, "PayloadTooLarge"), (size, f.details)
        statuses[size] = f"{f.status.name}/{f.error.code}"
    rss_after = _peak_rss_kib(c.srv.proc.pid)
    print(f"R13 grpc: limit={LIMIT} " + " ".join(f"{size}={s}" for size, s in statuses.items()) +
          f" peak_rss_kib={rss_before}->{rss_after}")
    # Reported, as R13 asks; at 640 KiB allocator noise is as large as the message itself, so
    # the bound only catches something pathological (copies of it piling up).
    assert rss_after - rss_before < 16 << 10
    # The server still answers.
    assert c.pql(c.root, capped.db, "t", "Count(All())")[0].count == RECORDS


def test_large_sql_results_arrive_in_batches_under_the_cap(capped: Capped) -> None:
    stream = list(capped.c.queries.Sql(query_pb2.SqlRequest(database_id=capped.db, sql="SELECT _id, v FROM t"),
                                       metadata=md(capped.c.root), timeout=TIMEOUT))
    batches = [m for m in stream if m.HasField("rows")]
    assert all(m.ByteSize() <= LIMIT for m in stream)
    ids = [r.values[0].uint for m in batches for r in m.rows.rows]
    assert ids == [k * 100 for k in range(RECORDS)] and stream[-1].stats.row_count == RECORDS


def test_large_pql_results(capped: Capped) -> None:
    c, root = capped.c, md(capped.c.root)
    req = query_pb2.PqlRequest(database_id=capped.db, table="t", statement="Count(All()) All()")
    expect(c.queries.Pql, req, metadata=root, timeout=TIMEOUT, status=SC.RESOURCE_EXHAUSTED, code="PayloadTooLarge",
           name="RESULT_TOO_LARGE")
    stream = list(c.queries.PqlStream(req, metadata=root, timeout=TIMEOUT))
    assert all(m.ByteSize() <= LIMIT for m in stream)
    assert stream[0].result.call_index == 0 and stream[0].result.last and stream[0].result.result.count == RECORDS
    parts = [m.result for m in stream[1:-1]]
    assert len(parts) >= 2 and {p.call_index for p in parts} == {1}
    assert [p.last for p in parts] == [False] * (len(parts) - 1) + [True]
    whole = query_pb2.PqlResult()
    for p in parts:
        whole.MergeFrom(p.result)
    assert list(whole.row.columns) == [k * 100 for k in range(RECORDS)]
    assert stream[-1].HasField("stats")


def _item(ident: int, title: str) -> entity_pb2.Entity:
    e = entity_pb2.Entity(id=value_pb2.Value(uint=ident))
    e.properties["title"].text = title
    return e


def test_entity_pages_and_chunks_over_the_cap(capped: Capped) -> None:
    c, root = capped.c, md(capped.c.root)
    db = c.databases.CreateDatabase(database_pb2.CreateDatabaseRequest(name="capped-items"), metadata=root).id
    c.properties.CreateProperty(entity_pb2.CreatePropertyRequest(
        database_id=db, kind=entity_pb2.ENTITY_KIND_ITEM, property_name="title", value_type="text"), metadata=root)
    title = "t" * 2000
    per_chunk = 20                                  # ~40 KiB: under the 64 KiB cap
    chunk = lambda k: entity_pb2.BulkWriteRequest(  # noqa: E731
        database_id=db, kind=entity_pb2.ENTITY_KIND_ITEM, mode=entity_pb2.WRITE_MODE_PUT,
        entities=[_item(k * per_chunk + j + 1, title) for j in range(per_chunk)])
    got = c.entities.BulkWrite(iter([chunk(k) for k in range(3)]), metadata=root, timeout=TIMEOUT)
    assert (got.chunks, got.entities) == (3, 60)
    huge = entity_pb2.BulkWriteRequest(database_id=db, kind=entity_pb2.ENTITY_KIND_ITEM,
                                       mode=entity_pb2.WRITE_MODE_PUT, entities=[_item(1000 + j, title)
                                                                                for j in range(40)])
    assert huge.ByteSize() > LIMIT
    f = failure(c.entities.BulkWrite, iter([chunk(3), huge]), metadata=root, timeout=TIMEOUT)
    assert (f.status, f.error.code) == (SC.RESOURCE_EXHAUSTED, "PayloadTooLarge")

    def scan(page_size: int) -> list[entity_pb2.ScanEntitiesResponse]:
        return list(c.entities.ScanEntities(entity_pb2.ScanEntitiesRequest(
            database_id=db, kind=entity_pb2.ENTITY_KIND_ITEM, page_size=page_size), metadata=root, timeout=TIMEOUT))

    expect(scan, 100, status=SC.RESOURCE_EXHAUSTED, code="PayloadTooLarge", name="RESULT_TOO_LARGE")
    pages = scan(20)
    assert all(p.ByteSize() <= LIMIT for p in pages)
    # Chunk 3 (before the oversized message) may or may not have been committed when gRPC
    # refused the stream; the huge one never was.
    ids = [e.id.uint for p in pages for e in p.entities]
    assert ids[:60] == list(range(1, 61)) and set(ids[60:]) <= set(range(61, 81))
