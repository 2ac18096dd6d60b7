"""Import correctness: a generated file imported through every format equals the same data
written through the bulk API (compared with SQL counts and sums); a failure injected
mid-import leaves whole batches only; cancel stops between batches; malformed records
name their row and column; ratings, interactions, whitelists and reco lists are
queryable by SQL and PQL and counted."""
from __future__ import annotations

import csv
import gzip
import io
import json
import random
import threading
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from http_testlib import assert_envelope
from server.service import sinks, tasks

N = 20_000
BIG = 200_000


def _rows(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    return [{"item_id": i, "price": round(rng.uniform(0, 500), 2), "stock": rng.randint(-50, 5000),
             "brand": f"brand-{rng.randint(0, 40)}", "tags": sorted({f"t{rng.randint(0, 9)}" for _ in range(3)})}
            for i in range(1, n + 1)]


def _csv(rows, delimiter=",") -> bytes:
    out = io.StringIO()
    w = csv.writer(out, delimiter=delimiter)
    w.writerow(["item_id", "price", "stock", "brand", "tags"])
    for r in rows:
        w.writerow([r["item_id"], r["price"], r["stock"], r["brand"], json.dumps(r["tags"])])
    return out.getvalue().encode()


def _zip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("items.csv", data)
    return buf.getvalue()


def _parquet(rows) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf, row_group_size=4096)
    return buf.getvalue()


FORMATS = {
    "csv": ("CSV", {}, _csv),
    "gzip": ("CSV", {"compression": "gzip"}, lambda r: gzip.compress(_csv(r))),
    "zip": ("CSV", {"compression": "zip"}, lambda r: _zip(_csv(r))),
    "tsv": ("TSV", {}, lambda r: _csv(r, "\t")),
    "jsonl": ("JSONL", {}, lambda r: "".join(json.dumps(x) + "\n" for x in r).encode()),
    "parquet": ("PARQUET", {}, _parquet),
}
CHECKS = "SELECT COUNT(*), SUM(price), SUM(stock), MIN(stock), MAX(price) FROM items"


def _db(web):
    db_id, h = web.new_db()
    web.props(h, "item", ("price", "float64", False), ("stock", "int32", False), ("brand", "unicode32", False),
              ("tags", "unicode8", True))
    return db_id, h


@pytest.fixture(scope="module")
def oracle(web):
    """The same rows written through the bulk API (1,000 per request, like the client)."""
    rows = _rows(N)
    db_id, h = _db(web)
    for i in range(0, N, 1000):
        r = web.client.put("/v1/items-bulk/properties/", headers=h, json={"items": rows[i:i + 1000]})
        assert r.status_code == 200, r.text
    return rows, web.sql_rows(db_id, CHECKS), web.sql_rows(db_id, "SELECT brand, COUNT(*) FROM items GROUP BY brand")


def _import(web, rows, fmt, batch_size=5000):
    file_format, options, make = FORMATS[fmt]
    db_id, h = _db(web)
    t = web.table(h, "LOCAL", "items", {"resource": "item", "connection_table_params": {
        "file_format": file_format, "options": options}, "resource_params": {"batch_size": batch_size}})
    web.upload(t, make(rows))
    task = web.run(h, "LOCAL", "items")
    return db_id, h, task


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_equals_the_bulk_api(web, oracle, fmt):
    rows, expected, brands = oracle
    db_id, h, task = _import(web, rows, fmt)
    assert task["status"] == "COMPLETED", task
    assert task["details"]["rows_written"] == N and task["details"]["rows_skipped"] == 0
    assert task["details"]["batches"] == N // 5000
    assert web.sql_rows(db_id, CHECKS) == expected
    assert web.sql_rows(db_id, "SELECT brand, COUNT(*) FROM items GROUP BY brand") == brands
    got = web.client.post("/v1/items-bulk/properties/list/", headers=h, json={"items_id": [1, 777, N]}).json()
    assert [dict(i, tags=sorted(i["tags"])) for i in got["items"]] == [rows[0], rows[776], rows[N - 1]]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_200k_rows(web, fmt):
    rows = _rows(BIG, seed=11)
    db_id, _, task = _import(web, rows, fmt, batch_size=20_000)
    assert task["status"] == "COMPLETED", task
    assert web.sql_rows(db_id, "SELECT COUNT(*), SUM(stock) FROM items") == [[BIG, sum(r["stock"] for r in rows)]]


def test_injected_failure_leaves_whole_batches(web, monkeypatch):
    rows = _rows(1000)
    real = sinks.EntitySink.write
    calls = []

    def failing(self, records):
        calls.append(len(records))
        if len(calls) == 3:
            raise OSError(28, "No space left on device (injected)")
        return real(self, records)

    monkeypatch.setattr(sinks.EntitySink, "write", failing)
    db_id, h, task = _import(web, rows, "csv", batch_size=300)
    assert task["status"] == "FAILED", task
    assert task["details"]["rows_written"] == 600 and task["details"]["batches"] == 2
    assert web.sql_rows(db_id, "SELECT COUNT(*), SUM(stock) FROM items") == [[600, sum(r["stock"]
                                                                                    for r in rows[:600])]]
    assert web.client.get("/v1/connections/LOCAL/tables/items/", headers=h).json()["status"] == "unknown_error"


def test_engine_failure_mid_batch_writes_nothing_of_it(web, monkeypatch):
    """The batch's own commit fails inside the engine: none of its records are visible."""
    from engine.entities import EntityTable

    rows = _rows(900)
    real = EntityTable._write
    calls = []

    def failing(self, *args):
        calls.append(1)
        real(self, *args)                     # the batch's changes are staged, then the commit fails
        if len(calls) == 2:
            raise RuntimeError("injected failure before commit")

    monkeypatch.setattr(EntityTable, "_write", failing)
    db_id, _, task = _import(web, rows, "jsonl", batch_size=300)
    assert task["status"] == "FAILED" and task["details"]["rows_written"] == 300
    assert web.sql_rows(db_id, "SELECT COUNT(*) FROM items") == [[300]]


def test_cancel_stops_between_batches(web, monkeypatch):
    rows = _rows(1000)
    real = sinks.EntitySink.write
    ctx = web.ctx
    seen = []

    def cancelling(self, records):
        seen.append(len(records))
        if len(seen) == 2:                  # the cancel arrives while batch 2 is written
            running = ctx.store.one("SELECT id FROM tasks WHERE status = 'RUNNING' AND name = 'source:LOCAL:items'")
            assert tasks.cancel(ctx, running["id"])
        return real(self, records)

    monkeypatch.setattr(sinks.EntitySink, "write", cancelling)
    db_id, h, task = _import(web, rows, "csv", batch_size=250)
    assert task["status"] == "FAILED" and task["error"]["error_data"]["name"] == "CANCELLED"
    assert task["details"]["cancelled"] and task["cancel_requested"]
    assert task["details"]["rows_written"] == 500
    assert web.sql_rows(db_id, "SELECT COUNT(*) FROM items") == [[500]]
    assert_envelope(web.client.request("DELETE", "/v1/connections/LOCAL/tables/items/run/", headers=h), 409,
                    "IncorrectState", "NO_RUN_IN_PROGRESS")


def test_cancel_route_and_run_in_progress(web, monkeypatch):
    rows = _rows(600)
    gate, entered = threading.Event(), threading.Event()
    real = sinks.EntitySink.write

    def held(self, records):
        entered.set()
        assert gate.wait(60)
        return real(self, records)

    monkeypatch.setattr(sinks.EntitySink, "write", held)
    db_id, h = _db(web)
    t = web.table(h, "LOCAL", "items", {"resource": "item", "connection_table_params": {"file_format": "CSV"},
                                        "resource_params": {"batch_size": 200}})
    web.upload(t, _csv(rows))
    assert web.client.post("/v1/connections/LOCAL/tables/items/run/", headers=h).status_code == 202
    assert entered.wait(60)
    running = web.client.get("/v1/connections/LOCAL/tables/items/run/", headers=h).json()
    assert running["status"] == "RUNNING"
    assert web.client.get("/v1/connections/LOCAL/tables/items/", headers=h).json()["status"] == "uploading"
    assert_envelope(web.client.post("/v1/connections/LOCAL/tables/items/run/", headers=h), 409,
                    name="RUN_IN_PROGRESS")
    assert_envelope(web.client.delete("/v1/connections/LOCAL/tables/items/", headers=h), 409,
                    name="RUN_IN_PROGRESS")
    r = web.client.delete("/v1/connections/LOCAL/tables/items/run/", headers=h)
    assert r.status_code == 202 and r.json()["cancel_requested"]
    gate.set()
    task = web.wait(h, "LOCAL", "items")
    assert task["status"] == "FAILED" and task["details"]["rows_written"] == 200


def test_malformed_records_name_row_and_column(web):
    db_id, h = _db(web)
    data = (b"item_id,price,stock,brand,tags\n1,1.5,2,a,[]\n2,2.5\n3,3.5,x,c,[]\n4,4.5,4,d,not-a-list\n"
            b"0,5,5,e,[]\n6,6.5,6,f,[\"waytoolongtag\"]\n")
    t = web.table(h, "LOCAL", "bad", {"resource": "item", "connection_table_params": {"file_format": "CSV"},
                                      "resource_params": {"max_errors": 10}})
    web.upload(t, data)
    task = web.run(h, "LOCAL", "bad")
    assert task["status"] == "COMPLETED"
    errors = [(e["row"], e["column"]) for e in task["details"]["errors"]]
    assert errors == [(2, None), (3, "stock"), (4, "tags"), (5, "item_id"), (6, "tags")]
    assert "expected 5 fields, got 2" in task["details"]["errors"][0]["message"]
    assert web.sql_rows(db_id, "SELECT COUNT(*) FROM items") == [[1]]
    jt = web.table(h, "LOCAL", "badj", {"resource": "item", "connection_table_params": {"file_format": "JSONL"},
                                        "resource_params": {"max_errors": 1}})
    web.upload(jt, b'{"item_id": 9, "price": 1}\n{not json\n["a list"]\n')
    task = web.run(h, "LOCAL", "badj")
    assert task["status"] == "FAILED" and task["error"]["error_data"]["name"] == "ERROR_BUDGET_EXCEEDED"
    assert [e["row"] for e in task["details"]["errors"]] == [2, 3]
    assert task["details"]["rows_written"] == 0


def test_events_whitelists_and_recos_are_queryable(web):
    db_id, h = web.new_db(item_id_type="uint32", user_id_type="urlsafe16")
    web.props(h, "user", ("age", "uint8", False))
    web.client.put("/v1/users-bulk/properties/", headers=h,
                   json={"users": [{"user_id": u, "age": a} for u, a in (("ann", 30), ("bob", 41), ("cy", 25))]})
    ratings = b"user_id,item_id,rating,timestamp\nann,1,4,1700000000\nann,2,5,1700000100\nbob,1,2,\ncy,3,3.5,1\n"
    inter = (b'{"user_id":"ann","item_id":1,"interaction_type":"click","timestamp":1}\n'
             b'{"user_id":"ann","item_id":1,"interaction_type":"click","timestamp":2}\n'
             b'{"user_id":"ann","item_id":1,"interaction_type":"click","timestamp":2}\n'
             b'{"user_id":"bob","item_id":2,"interaction_type":"buy"}\n')
    for name, resource, fmt, data, params in (
            ("r", "rating", "CSV", ratings, {}),
            ("i", "interaction", "JSONL", inter, {}),
            ("w", "user_id", "CSV", b"user_id\nann\ncy\nzed\n", {"whitelist_params": {"name": "vip"}}),
            ("u2i", "user_to_items_reco", "CSV", b"user_id,items_id\nann,\"[3,1,2]\"\nbob,\"[2]\"\n", {}),
            ("i2i", "item_to_items_reco", "CSV", b"item_id,items_id\n1,2|3\n", {})):
        cparams = {"file_format": fmt, "options": {"list_delimiter": "|"} if name == "i2i" else {}}
        t = web.table(h, "LOCAL", name, {"resource": resource, "connection_table_params": cparams,
                                         "resource_params": params})
        web.upload(t, data)
        task = web.run(h, "LOCAL", name)
        assert task["status"] == "COMPLETED", task
    assert web.sql_rows(db_id, "SELECT COUNT(*), SUM(rating) FROM ratings") == [[4, 14.5]]
    assert web.client.get("/v1/databases/current/", headers=h).json()["counters"] == {"item": 0, "user": 3,
                                                                                      "rating": 4}
    assert web.sql_rows(db_id, "SELECT COUNT(*) FROM ratings WHERE user_id = 'ann'") == [[2]]
    assert web.sql_rows(db_id, "SELECT COUNT(*) FROM interactions") == [[3]]     # one duplicate event
    pql = web.client.post(f"/v2/databases/{db_id}/query/pql", headers=web.root.headers,
                          json={"table": "interactions", "statement": 'Count(Row(interaction_type="click"))'})
    assert pql.json()["results"] == [2]
    # the whitelist filters users (PQL on the users table), without creating "zed"
    vip = web.client.post(f"/v2/databases/{db_id}/query/pql", headers=web.root.headers,
                          json={"table": "users", "statement": 'Row(whitelists="vip")'}).json()["results"][0]
    assert sorted(vip["keys"]) == ["ann", "cy", "zed"]
    both = web.client.post(f"/v2/databases/{db_id}/query/pql", headers=web.root.headers,
                           json={"table": "users", "statement": 'Count(Intersect(Row(whitelists="vip"), '
                                                                'Row(age > 26)))'}).json()["results"]
    assert both == [1]
    assert web.client.get("/v1/databases/current/", headers=h).json()["counters"]["user"] == 3
    reco = web.sql_rows(db_id, "SELECT user_id, reco_item_id, rank FROM user_to_items_reco")
    assert sorted(map(tuple, reco)) == [("ann", "1", 2), ("ann", "2", 3), ("ann", "3", 1), ("bob", "2", 1)]
    assert sorted(map(tuple, web.sql_rows(db_id, "SELECT item_id, reco_item_id, rank FROM item_to_items_reco"))) \
        == [("1", "2", 1), ("1", "3", 2)]
    # a shorter list replaces the longer one
    t = web.client.get("/v1/connections/LOCAL/tables/u2i/", headers=h).json()
    web.upload(t, b"user_id,items_id\nann,\"[2]\"\n")
    assert web.run(h, "LOCAL", "u2i")["status"] == "COMPLETED"
    reco = web.sql_rows(db_id, "SELECT user_id, reco_item_id, rank FROM user_to_items_reco")
    assert sorted(map(tuple, reco)) == [("ann", "2", 1), ("bob", "2", 1)]
    # a re-run of the whitelist replaces it
    t = web.client.get("/v1/connections/LOCAL/tables/w/", headers=h).json()
    web.upload(t, b"user_id\nbob\n")
    assert web.run(h, "LOCAL", "w")["status"] == "COMPLETED"
    vip = web.client.post(f"/v2/databases/{db_id}/query/pql", headers=web.root.headers,
                          json={"table": "users", "statement": 'Row(whitelists="vip")'}).json()["results"][0]
    assert vip["keys"] == ["bob"]


def test_export_to_local_download_and_sandbox(web):
    db_id, h = web.new_db()
    web.props(h, "item", ("price", "float64", False))
    web.client.put("/v1/items-bulk/properties/", headers=h,
                   json={"items": [{"item_id": i, "price": i * 2.0} for i in range(1, 11)]})
    web.table(h, "LOCAL", "rep", {"resource": "analytics_report", "connection_table_params": {
        "file_format": "CSV", "options": {"compression": "gzip"}},
        "resource_params": {"sql": "SELECT _id, price FROM items WHERE price >= 10"}})
    assert_envelope(web.client.get("/v1/connections/LOCAL/tables/rep/download/", headers=h), 404,
                    name="RESOURCE_NOT_FOUND")
    pv = web.client.get("/v1/connections/LOCAL/tables/rep/test/", headers=h).json()["preview"]
    assert pv["columns"] == ["_id", "price"] and len(pv["rows"]) == 6
    task = web.run(h, "LOCAL", "rep")
    assert task["status"] == "COMPLETED" and task["details"]["rows_written"] == 6
    body = web.client.get("/v1/connections/LOCAL/tables/rep/download/", headers=h).content
    lines = gzip.decompress(body).decode().splitlines()
    assert lines[0] == "_id,price" and sorted(float(x.split(",")[1]) for x in lines[1:]) == [10, 12, 14, 16, 18, 20]
    web.table(h, "LOCAL", "rep2", {"resource": "analytics_report", "connection_table_params": {
        "file_format": "PARQUET", "path": "exports/rep.parquet"},
        "resource_params": {"sql": "SELECT COUNT(*) AS n FROM items"}})
    assert web.run(h, "LOCAL", "rep2")["status"] == "COMPLETED"
    assert pq.read_table(web.sandbox / "exports" / "rep.parquet").to_pylist() == [{"n": 10}]
