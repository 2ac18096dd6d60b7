"""The S3 protocol for real: moto's standalone server on 127.0.0.1 with IAM auth enforced;
boto3 talks to it over HTTP. Imports from CSV, gzip CSV, Parquet and JSON Lines objects
(key and prefix), wrong credentials -> wrong_credentials, missing bucket/key ->
resource_not_found, GCS on the same code path, and an analytics_report exported to a
bucket."""
from __future__ import annotations

import gzip
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from http_testlib import assert_envelope

ROWS = [(i, f"user{i}", i * 1.5) for i in range(1, 301)]


def _csv(rows=ROWS) -> bytes:
    return ("user_id,name,score\n" + "".join(f"{u},{n},{s}\n" for u, n, s in rows)).encode()


def _jsonl(rows=ROWS) -> bytes:
    return "".join(json.dumps({"user_id": u, "profile": {"name": n}, "score": s}) + "\n" for u, n, s in rows).encode()


def _parquet(rows=ROWS) -> bytes:
    buf = io.BytesIO()
    t = pa.table({"user_id": [r[0] for r in rows], "name": [r[1] for r in rows], "score": [r[2] for r in rows]})
    pq.write_table(t, buf, row_group_size=64)            # several row groups: streamed one at a time
    return buf.getvalue()


@pytest.fixture(scope="module")
def users_db(web, s3):
    db_id, h = web.new_db()
    web.props(h, "user", ("name", "unicode32", False), ("score", "float64", False))
    r = web.client.put("/v1/connections/S3/", headers=h, json={"credentials": s3.credentials()})
    assert r.status_code == 200, r.text
    assert set(r.json()["credentials"].values()) == {"***"}
    return db_id, h


@pytest.mark.parametrize("fmt,key,data,options,mapping", [
    ("CSV", "u.csv", _csv, {}, {}),
    ("CSV", "u.csv.gz", lambda: gzip.compress(_csv()), {"compression": "gzip"}, {}),
    ("CSV", "auto.csv.gz", lambda: gzip.compress(_csv()), {}, {}),
    ("PARQUET", "u.parquet", _parquet, {}, {}),
    ("JSONL", "u.jsonl", _jsonl, {}, {"user_id": "user_id", "name": "profile.name", "score": "score"}),
])
def test_import_formats_from_s3(web, s3, users_db, fmt, key, data, options, mapping):
    db_id, h = users_db
    bucket = s3.bucket()
    s3.put(bucket, key, data())
    name = key.replace(".", "_")
    t = web.table(h, "S3", name, {"resource": "user", "connection_table_params": {
        "file_format": fmt, "bucket": bucket, "key": key, "options": options},
        "resource_params": {"columns_mapping": mapping, "batch_size": 100}})
    assert t["status"] == "available", t
    pv = web.client.post(f"/v1/connections/S3/tables/{name}/test/", headers=h, json={}).json()["preview"]
    assert len(pv["rows"]) == 20 and all(f["status"] == "ok" for f in pv["findings"]), pv
    task = web.run(h, "S3", name)
    assert task["status"] == "COMPLETED", task
    assert task["details"]["rows_written"] == 300 and task["details"]["batches"] == 3
    rows = web.sql_rows(db_id, "SELECT COUNT(*), SUM(score) FROM users")
    assert rows == [[300, sum(r[2] for r in ROWS)]]
    one = web.client.get("/v1/users/7/properties/", headers=h).json()["user"]
    assert one == {"user_id": 7, "name": "user7", "score": 10.5}


def test_prefix_reads_every_object(web, s3, users_db):
    db_id, h = users_db
    bucket = s3.bucket()
    s3.put(bucket, "part/a.csv", _csv(ROWS[:100]))
    s3.put(bucket, "part/b.csv", _csv(ROWS[100:]))
    s3.put(bucket, "other.csv", b"user_id\n999999\n")
    web.table(h, "S3", "parts", {"resource": "user", "connection_table_params": {
        "file_format": "CSV", "bucket": bucket, "prefix": "part/"}})
    task = web.run(h, "S3", "parts")
    assert task["status"] == "COMPLETED" and task["details"]["files"] == 2
    assert task["details"]["rows_written"] == 300
    assert web.client.get("/v1/users/999999/properties/", headers=h).status_code == 404


def test_wrong_credentials_and_missing_things(web, s3, users_db):
    _, h = users_db
    bucket = s3.bucket()
    s3.put(bucket, "x.csv", _csv())
    # the test route tries the given credentials for real
    assert web.client.post("/v1/connections/S3/test/", headers=h, json={}).json()["status"] == "available"
    bad = s3.credentials(aws_secret_access_key="not-the-secret")
    body = assert_envelope(web.client.post("/v1/connections/S3/test/", headers=h, json={"credentials": bad}), 400,
                           "InvalidParameter", "WRONG_CREDENTIALS")
    assert body["error_data"]["status"] == "wrong_credentials" and "not-the-secret" not in json.dumps(body)
    unknown = s3.credentials(aws_access_key_id="AKIAIOSFODNN7EXAMPLE")
    assert_envelope(web.client.post("/v1/connections/S3/test/", headers=h, json={"credentials": unknown}), 400,
                    name="WRONG_CREDENTIALS")
    # a table under a connection whose stored credentials are wrong
    _, h2 = web.new_db()
    web.client.put("/v1/connections/GCS/", headers=h2, json={"credentials": bad})
    t = web.table(h2, "GCS", "g", {"resource": "user", "connection_table_params": {
        "file_format": "CSV", "bucket": bucket, "key": "x.csv"}})
    assert t["status"] == "wrong_credentials"
    assert_envelope(web.client.post("/v1/connections/GCS/tables/g/run/", headers=h2), 400, name="WRONG_CREDENTIALS")
    # missing bucket, missing key, empty prefix
    for params, status_key in (({"bucket": "no-such-bucket", "key": "x.csv"}, "bucket"),
                               ({"bucket": bucket, "key": "nope.csv"}, "key"),
                               ({"bucket": bucket, "prefix": "empty/"}, "prefix")):
        t = web.table(h, "S3", "miss", {"resource": "user", "connection_table_params": {"file_format": "CSV",
                                                                                       **params}})
        assert t["status"] == "resource_not_found", (params, t)
        body = assert_envelope(web.client.get("/v1/connections/S3/tables/miss/test/", headers=h), 404,
                               "ResourceNotFound", "RESOURCE_NOT_FOUND")
        assert body["error_data"]["key"] == status_key
    assert web.client.get("/v1/connections/S3/tables/miss/", headers=h).json()["status"] == "resource_not_found"


def test_gcs_uses_the_same_path(web, s3):
    """GCS's XML API with HMAC keys is S3-compatible: the same client, another endpoint."""
    db_id, h = web.new_db()
    bucket = s3.bucket()
    s3.put(bucket, "r.csv", b"user_id,item_id,rating\n1,10,4.5\n2,10,3\n1,11,5\n1,10,2\n")
    web.client.put("/v1/connections/GCS/", headers=h, json={"credentials": s3.credentials()})
    web.table(h, "GCS", "r", {"resource": "rating", "connection_table_params": {
        "file_format": "CSV", "bucket": bucket, "key": "r.csv"}})
    task = web.run(h, "GCS", "r")
    assert task["status"] == "COMPLETED" and task["details"]["rows_written"] == 4
    # an upsert per (user, item): the later 1,10 wins
    assert web.sql_rows(db_id, "SELECT COUNT(*), SUM(rating) FROM ratings") == [[3, 2 + 3 + 5]]
    assert web.client.get("/v1/databases/current/", headers=h).json()["counters"]["rating"] == 3


def test_export_analytics_report_to_s3(web, s3):
    db_id, h = web.new_db()
    web.props(h, "item", ("price", "float64", False))
    web.client.put("/v1/items-bulk/properties/", headers=h,
                   json={"items": [{"item_id": i, "price": i / 4} for i in range(1, 51)]})
    bucket = s3.bucket()
    web.client.put("/v1/connections/S3/", headers=h, json={"credentials": s3.credentials()})
    for fmt, key in (("CSV", "out/report.csv"), ("PARQUET", "out/report.parquet")):
        name = "rep_" + fmt.lower()
        t = web.table(h, "S3", name, {"resource": "analytics_report", "connection_table_params": {
            "file_format": fmt, "bucket": bucket, "key": key},
            "resource_params": {"sql": "SELECT _id, price FROM items WHERE price > 10"}})
        assert t["status"] == "available", t
        task = web.run(h, "S3", name)
        assert task["status"] == "COMPLETED", task
        assert task["details"]["rows_written"] == 10 and task["details"]["written_to"] == f"s3://{bucket}/{key}"
        body = s3.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        if fmt == "CSV":
            lines = body.decode().splitlines()
            assert lines[0] == "_id,price" and len(lines) == 11
            assert sorted(float(x.split(",")[1]) for x in lines[1:]) == [i / 4 for i in range(41, 51)]
        else:
            table = pq.read_table(io.BytesIO(body))
            assert table.column_names == ["_id", "price"] and sorted(table.column("price").to_pylist()) == \
                [i / 4 for i in range(41, 51)]
