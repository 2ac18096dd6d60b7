"""Sources (meta.db records of issue 12, per database) travel with an export — without
secrets or upload state — are added by (connection, name) on import, and are put back by
a revert, BLOBs included. The connections they use travel as GET shows them (credential
names, every value "***"): an import never stores one, and lists those its org lacks."""
from __future__ import annotations

import json
import uuid

import pytest

from server.service import connections, databases, restore_points, transfers
from server.service.errors import InvalidParameter, ServiceError
from svc_testlib import other_org, root_of, start
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
    assert header["connections"] == []         # LOCAL is built in; the org has no S3 connection
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


SECRET_ID, SECRET_KEY = "AKIAEXPORTTEST0000001", "export-test-secret-key/Zx9"


def test_connections_travel_without_credentials_and_an_import_lists_the_missing(env, tmp_path):
    ctx, root = env
    connections.put_connection(ctx, root, "S3", credentials={"aws_access_key_id": SECRET_ID,
                                                             "aws_secret_access_key": SECRET_KEY,
                                                             "region_name": "eu-west-3"},
                               metadata={"bucket_hint": "shop"})
    src = databases.create_database(ctx, root, name="withconn")
    _source(ctx, src, "S3", "catalog")
    _source(ctx, src, "SALESFORCE", "leads")        # the org has no SALESFORCE connection
    _source(ctx, src, "LOCAL", "orders")
    forms = [export_to(ctx, root, src.id, tmp_path / "doc.ndjson"),
             export_to(ctx, root, src.id, tmp_path / "doc.json", fmt="json"),
             export_to(ctx, root, src.id, tmp_path / "env.json", fmt="json", envelope=True)]
    header = json.loads(forms[0].read_text().splitlines()[0])
    assert header["connections"] == [{"connection": "S3", "metadata": {"bucket_hint": "shop"},
                                      "credentials": {"aws_access_key_id": "***", "aws_secret_access_key": "***",
                                                      "region_name": "***"}}]
    import gzip
    for path in forms:
        raw = path.read_bytes()
        if path.name == "env.json":       # the envelope carries gzip'd bytes as integers
            raw = gzip.decompress(bytes(b for e in json.loads(raw)["values"]["iterable"] for b in e["raw"]))
        assert SECRET_ID.encode() not in raw and SECRET_KEY.encode() not in raw
        assert b"upload" not in raw.replace(b"upload the file again", b"")

    same_org = databases.create_database(ctx, root, name="sameorg")
    assert transfers.import_database(ctx, root, same_org.id, str(forms[0])).connections_missing == []
    other = other_org(ctx)
    there = databases.create_database(ctx, other.root, name="elsewhere")
    result = transfers.import_database(ctx, other.root, there.id, str(forms[1]))
    assert result.connections_missing == ["S3"]
    assert ctx.store.all("SELECT kind FROM connections WHERE org_id = ?", (other.org_id,)) == []
    assert {r["name"] for r in _rows(ctx, there.id)} == {"catalog", "leads", "orders"}


@pytest.mark.parametrize("entry, where", [
    ({"connection": "S3", "credentials": {"aws_access_key_id": "AKIA1", "aws_secret_access_key": "***"},
      "metadata": {}}, "connections[0].credentials"),
    ({"connection": "LOCAL", "credentials": {}, "metadata": {}}, "connections[0].connection"),
    ({"connection": "FTP", "credentials": {}, "metadata": {}}, "connections[0].connection"),
    ({"connection": "S3", "password": "x"}, "connections[0]"),
])
def test_a_document_carrying_credentials_is_refused_and_nothing_changes(env, tmp_path, entry, where):
    ctx, root = env
    db = databases.create_database(ctx, root, name=f"refuse{uuid.uuid4().hex[:8]}")
    schema = {i.name: i.definition.to_dict() for i in ctx.engine(db.id).indexes()}
    path = tmp_path / "creds.ndjson"
    path.write_text(json.dumps({"format": "roarbase.export", "version": "1", "connections": [entry],
                                "items_properties": [{"property_name": "p", "value_type": "int",
                                                      "repeated": False}]}) + "\n")
    with pytest.raises(InvalidParameter) as info:
        transfers.import_database(ctx, root, db.id, str(path))
    assert info.value.data["problems"][0]["where"] == where
    assert "AKIA1" not in str(info.value) + json.dumps(info.value.data)       # not even echoed back
    assert ctx.store.all("SELECT kind FROM connections WHERE org_id = ?", (db.org_id,)) == []
    assert {i.name: i.definition.to_dict() for i in ctx.engine(db.id).indexes()} == schema   # no property made
