"""Sources (meta.db records of issue 12, per database) travel with an export — without
secrets or upload state — are added by (connection, name) on import, and are put back by
a revert, BLOBs included. (Connections are the org's, not a database's: they stay.)"""
from __future__ import annotations

import json
import uuid

import pytest

from server.service import databases, restore_points, transfers
from server.service.errors import ServiceError
from svc_testlib import root_of, start
from transfer_testlib import export_to


@pytest.fixture
def env(tmp_path):
    ctx = start(tmp_path / "data")
    yield ctx, root_of(ctx)
    ctx.close()


def _source(ctx, db, connection, name, status="available"):
    ctx.store.execute(
        "INSERT INTO sources (id, org_id, database_id, connection, name, resource, connection_table_params, status,"
        " upload_hash, upload_token, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'item', ?, ?, ?, ?, 1.0, 1.0)",
        (str(uuid.uuid4()), db.org_id, db.id, connection, name, json.dumps({"file_format": "CSV"}), status,
         uuid.uuid4().hex, b"\x00secret-upload-token\xff"))


def _rows(ctx, db_id):
    return [dict(r) for r in ctx.store.all("SELECT * FROM sources WHERE database_id = ? ORDER BY name", (db_id,))]


def test_sources_travel_without_secrets_and_merge_by_name(env, tmp_path):
    ctx, root = env
    src = databases.create_database(ctx, root, name="src")
    dst = databases.create_database(ctx, root, name="dst")
    _source(ctx, src, "LOCAL", "orders")
    _source(ctx, src, "S3", "catalog")
    _source(ctx, dst, "LOCAL", "orders", status="uploading")
    path = export_to(ctx, root, src.id, tmp_path / "doc.ndjson")
    header = json.loads(path.read_text().splitlines()[0])
    assert sorted(s["name"] for s in header["sources"]) == ["catalog", "orders"]
    assert all(not ({"org_id", "upload_hash", "upload_token", "database_id"} & set(s)) for s in header["sources"])
    assert header["connections"] == []
    transfers.import_database(ctx, root, dst.id, str(path))
    got = {(r["connection"], r["name"]): r for r in _rows(ctx, dst.id)}
    assert set(got) == {("LOCAL", "orders"), ("S3", "catalog")}
    assert got[("LOCAL", "orders")]["status"] == "uploading"          # the target's own record is kept
    assert got[("S3", "catalog")]["status"] == "available" and got[("S3", "catalog")]["upload_token"] is None
    assert got[("S3", "catalog")]["org_id"] == dst.org_id
    other = databases.create_database(ctx, root, name="other")
    transfers.import_database(ctx, root, other.id, str(path))
    local = {r["name"]: r for r in _rows(ctx, other.id)}["orders"]
    assert local["status"] == "resource_not_found" and "upload the file again" in local["status_message"]


def test_a_revert_puts_the_records_back(env, tmp_path, monkeypatch):
    ctx, root = env
    src = databases.create_database(ctx, root, name="src2", metadata={"b": 2})
    dst = databases.create_database(ctx, root, name="dst2", metadata={"a": 1})
    _source(ctx, src, "S3", "new")
    _source(ctx, dst, "S3", "old")
    path = export_to(ctx, root, src.id, tmp_path / "doc.ndjson")
    before = (_rows(ctx, dst.id), databases.get_database(ctx, root, dst.id).metadata)

    def boom(*args, **kwargs):
        raise RuntimeError("injected after the records were merged")
    monkeypatch.setattr(transfers, "_apply_records", boom)
    with pytest.raises(ServiceError) as info:
        transfers.import_database(ctx, root, dst.id, str(path))
    assert info.value.code == "InternalServerError" and info.value.details["reverted"] is True
    assert (_rows(ctx, dst.id), databases.get_database(ctx, root, dst.id).metadata) == before
    assert databases.get_database(ctx, root, dst.id).state == "RUNNING"
    assert not restore_points.leftovers(ctx)
