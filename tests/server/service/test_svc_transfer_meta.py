"""Connections and sources (meta.db records, issue 12) travel with an export when those
tables exist — without credentials — are merged by name on import, and are put back by a
revert. The tables are made here as a later migration would make them."""
from __future__ import annotations

import json

import pytest

from server.service import databases, restore_points, transfers
from server.service.errors import ServiceError
from svc_testlib import root_of, start
from transfer_testlib import export_to


@pytest.fixture
def env(tmp_path):
    ctx = start(tmp_path / "data")
    ctx.store.execute("CREATE TABLE connections (id TEXT PRIMARY KEY, database_id TEXT NOT NULL, name TEXT NOT NULL,"
                      " type TEXT NOT NULL, credentials TEXT, created_at REAL, UNIQUE (database_id, name))")
    ctx.store.execute("CREATE TABLE sources (id TEXT PRIMARY KEY, database_id TEXT NOT NULL, name TEXT NOT NULL,"
                      " connection TEXT, resource TEXT, api_token TEXT)")
    yield ctx, root_of(ctx)
    ctx.close()


def _rows(ctx, table, db_id):
    return [dict(r) for r in ctx.store.all(f"SELECT * FROM {table} WHERE database_id = ? ORDER BY name", (db_id,))]


def test_records_travel_without_credentials_and_merge_by_name(env, tmp_path):
    ctx, root = env
    src = databases.create_database(ctx, root, name="src")
    dst = databases.create_database(ctx, root, name="dst")
    for db, name, secret in ((src, "warehouse", "s3cr3t"), (src, "shop", "k3y"), (dst, "shop", "mine")):
        ctx.store.execute("INSERT INTO connections VALUES (?, ?, ?, 'S3', ?, 1.0)",
                          (f"{db.name}-{name}", db.id, name, json.dumps({"aws_secret_access_key": secret})))
    ctx.store.execute("INSERT INTO sources VALUES ('s1', ?, 'orders', 'warehouse', 'item', 'tok')", (src.id,))
    path = export_to(ctx, root, src.id, tmp_path / "doc.ndjson")
    text = path.read_text()
    header = json.loads(text.splitlines()[0])
    assert {c["name"] for c in header["connections"]} == {"warehouse", "shop"}
    assert all("credentials" not in c and "database_id" not in c for c in header["connections"])
    assert header["sources"] == [{"id": "s1", "name": "orders", "connection": "warehouse", "resource": "item"}]
    assert "s3cr3t" not in text and "k3y" not in text and "tok" not in text.replace("token", "")
    transfers.import_database(ctx, root, dst.id, str(path))
    got = _rows(ctx, "connections", dst.id)
    assert [(r["name"], r["credentials"]) for r in got] == [("shop", json.dumps({"aws_secret_access_key": "mine"})),
                                                           ("warehouse", None)]
    assert got[1]["id"] not in ("src-warehouse",) and got[1]["type"] == "S3"
    assert [(r["name"], r["connection"], r["api_token"]) for r in _rows(ctx, "sources", dst.id)] == \
        [("orders", "warehouse", None)]


def test_a_revert_puts_the_records_back(env, tmp_path, monkeypatch):
    ctx, root = env
    src = databases.create_database(ctx, root, name="src2", metadata={"b": 2})
    dst = databases.create_database(ctx, root, name="dst2", metadata={"a": 1})
    ctx.store.execute("INSERT INTO connections VALUES ('c1', ?, 'new', 'S3', NULL, 1.0)", (src.id,))
    ctx.store.execute("INSERT INTO connections VALUES ('c2', ?, 'old', 'S3', 'x', 1.0)", (dst.id,))
    path = export_to(ctx, root, src.id, tmp_path / "doc.ndjson")
    before = (_rows(ctx, "connections", dst.id), databases.get_database(ctx, root, dst.id).metadata)

    def boom(*args, **kwargs):
        raise RuntimeError("injected after the metadata was merged")
    monkeypatch.setattr(transfers, "_apply_records", boom)
    with pytest.raises(ServiceError) as info:
        transfers.import_database(ctx, root, dst.id, str(path))
    assert info.value.code == "InternalServerError" and info.value.details["reverted"] is True
    assert (_rows(ctx, "connections", dst.id), databases.get_database(ctx, root, dst.id).metadata) == before
    assert databases.get_database(ctx, root, dst.id).state == "RUNNING"
    assert not restore_points.leftovers(ctx)
