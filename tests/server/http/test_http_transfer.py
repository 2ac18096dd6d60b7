"""The export/import routes in process (server/http_transfer.py): forms and content types,
the three path families and their credentials, error statuses with the unified envelope,
the body limit of imports, and the documents checked against the OpenAPI schemas."""
from __future__ import annotations

import gzip
import json

import pytest

from http_testlib import ROOT_EMAIL, ROOT_PASSWORD, InProcess, assert_envelope, check_schema, unique
from server import openapi
from server.service import transfers
from server.service.config import Limits


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    app = InProcess(tmp_path_factory.mktemp("transfer") / "data",
                    limits=Limits(max_payload_bytes=64 * 1024, max_import_bytes=256 * 1024))
    yield app
    app.close()


def _v1_token(web, db_id: str) -> str:
    resp = web.client.post("/v1/login/individual/", json={"email": ROOT_EMAIL, "password": ROOT_PASSWORD,
                                                          "db_id": db_id})
    assert resp.status_code == 200, resp.text
    return resp.json()["token"]


@pytest.fixture(scope="module")
def source(web):
    db = web.database(name=unique("src"), item_id_type="uint64")
    tok = {"Authorization": f"Bearer {_v1_token(web, db['id'])}"}
    assert web.client.post("/v1/items-properties/", headers=tok, json={"property_name": "price",
                                                                      "value_type": "float64"}).status_code == 201
    items = [{"item_id": 2**64 - 1 - i, "price": 0.1 * i} for i in range(500)]
    assert web.client.put("/v1/items-bulk/properties/", headers=tok, json={"items": items}).status_code == 200
    assert web.sql(db["id"], "CREATE TABLE t (_id ID, d DECIMAL(3), ts TIMESTAMP TIMEUNIT 'ns'); "
                             "INSERT INTO t (_id, d, ts) VALUES (1, 1.005, '2024-01-02T03:04:05.123456789Z')"
                   ).status_code == 200
    return db


def test_v2_export_json_ndjson_gzip(web, source):
    url = f"/v2/databases/{source['id']}/export"
    doc = web.client.get(url, headers=web.root.headers)
    assert doc.status_code == 200 and doc.headers["content-type"] == "application/json"
    body = doc.json()
    check_schema(openapi.document(), {"$ref": "#/components/schemas/ExportDocument"}, body)
    assert body["format"] == "roarbase.export" and body["version"] == "1"
    assert max(i["item_id"] for i in body["items"]) == 2**64 - 1
    table = next(t for t in body["sql_tables"] if t["name"] == "t")
    assert table["rows"] == [[1, "1.005", 1704164645123456789]]
    nd = web.client.get(url, headers={**web.root.headers, "Accept": "application/x-ndjson"})
    assert nd.headers["content-type"].startswith("application/x-ndjson")
    lines = nd.text.splitlines()
    assert json.loads(lines[0])["counts"] == {"items": 500, "users": 0, "rows": {"t": 1}}
    assert len(lines) == 1 + 500 + 1
    gz = web.client.get(url, params={"format": "ndjson", "gzip": "true"}, headers=web.root.headers)
    assert gz.headers["content-type"] == "application/gzip"
    assert gzip.decompress(gz.content).decode().splitlines()[1:] == lines[1:]
    assert "attachment" in gz.headers["content-disposition"]


def test_v2_import_then_the_data_is_there(web, source):
    doc = web.client.get(f"/v2/databases/{source['id']}/export", params={"gzip": "true"}, headers=web.root.headers)
    dst = web.database(name=unique("dst"))
    resp = web.client.post(f"/v2/databases/{dst['id']}/import", content=doc.content,
                           headers={**web.root.headers, "Content-Type": "application/gzip"})
    assert resp.status_code == 204 and resp.content == b""
    got = web.sql(dst["id"], "SELECT COUNT(*) FROM items").json()
    assert got["data"] == [[500]]
    assert web.sql(dst["id"], "SELECT d FROM t").json()["data"] == [[1.005]]


def test_the_pieces_paths_answer_an_envelope_for_the_tokens_database(web, source):
    tok = {"Authorization": f"Bearer {_v1_token(web, source['id'])}"}
    for path in ("/database/export", "/v1/database/export"):
        resp = web.client.get(path, headers=tok)
        assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
        env = resp.json()
        check_schema(openapi.document(), {"$ref": "#/components/schemas/PiecesExportedDatabase"}, env)
        assert isinstance(env["version"], str) and env["analyses"] == []
        raw = bytes(b for entry in env["values"]["iterable"] for b in entry["raw"])
        assert gzip.decompress(raw).decode().startswith('{"format":"roarbase.export"')
    plain = web.client.get("/database/export", params={"envelope": "false"}, headers=tok).json()
    assert plain["format"] == "roarbase.export"
    nd = web.client.get("/v1/database/export", headers={**tok, "Accept": "application/x-ndjson"})
    assert nd.headers["content-type"].startswith("application/x-ndjson")


def test_credentials_and_database_selection(web, source):
    assert_envelope(web.client.get("/database/export"), 401, "MissingAuthenticationToken")
    assert_envelope(web.client.post("/database/import", content=b"{}"), 401, "MissingAuthenticationToken")
    assert_envelope(web.client.get("/database/export", headers=web.root.headers), 401, name="NO_DATABASE_SELECTED")
    assert_envelope(web.client.get("/v1/database/export", headers=web.root.headers), 401, name="NO_DATABASE_SELECTED")
    missing = "00000000-0000-4000-8000-000000000000"
    assert_envelope(web.client.get(f"/v2/databases/{missing}/export", headers=web.root.headers), 404,
                    "ResourceNotFound")
    frontend = web.member("frontend")
    assert_envelope(web.client.get(f"/v2/databases/{source['id']}/export", headers=frontend.headers), 401,
                    name="FORBIDDEN")
    backend = web.member("backend")
    assert web.client.get(f"/v2/databases/{source['id']}/export", headers=backend.headers).status_code == 200
    assert_envelope(web.client.post(f"/v2/databases/{source['id']}/import", content=b"{}",
                                    headers=backend.headers), 401, name="FORBIDDEN")
    other = web.other_org()
    assert_envelope(web.client.get(f"/v2/databases/{source['id']}/export", headers=other.headers), 404)


def test_x_application_id_is_an_api_key_on_the_pieces_paths_only(web, source):
    sa = web.client.post("/v2/users", headers=web.root.headers, json={"kind": "service", "name": unique("bot"),
                                                                      "role": "manager"}).json()
    key = web.client.post("/v2/api-keys", headers=web.root.headers,
                          json={"account_id": sa["id"], "database": source["id"]}).json()["key"]
    assert web.client.get("/database/export", headers={"X-Application-ID": key}).status_code == 200
    assert web.client.get("/v1/database/export", headers={"X-Application-ID": key}).status_code == 200
    assert_envelope(web.client.get(f"/v2/databases/{source['id']}/export", headers={"X-Application-ID": key}), 401)
    assert_envelope(web.client.get("/database/export", headers={"X-Application-ID": "nope"}), 401, "Unauthorized")


def test_import_errors_are_enveloped_and_change_nothing(web, source):
    dst = web.database(name=unique("err"))
    url = f"/v2/databases/{dst['id']}/import"
    body = assert_envelope(web.client.post(url, content=b"", headers=web.root.headers), 400, "InvalidBody")
    assert body["error_data"]["name"] == "INVALID_EXPORT_DOCUMENT"
    header = {"format": "roarbase.export", "version": "1", "sql_tables": [
        {"name": "t", "columns": [{"name": "_id", "type": "id"}, {"name": "n", "type": "int",
                                                                 "options": {"type": "int", "min": 0, "max": 5}}]}]}
    doc = "\n".join([json.dumps(header), '{"kind": "row", "table": "t", "values": [1, 9]}']).encode()
    body = assert_envelope(web.client.post(url, content=doc, headers=web.root.headers), 400, "InvalidParameter")
    assert body["error_data"]["problems"][0]["where"] == "line 2"
    assert web.sql(dst["id"], "SHOW TABLES").json()["data"] == []
    # /v1 statuses: the same 400 (WrongData), and pickle refused
    tok = {"Authorization": f"Bearer {_v1_token(web, dst['id'])}"}
    assert_envelope(web.client.post("/v1/database/import", content=doc, headers=tok), 400)
    assert_envelope(web.client.post("/v1/database/import", content=b"x",
                                    headers={**tok, "Content-Type": "application/xminds-pkl"}), 400,
                    "InvalidContentType")


def test_an_import_may_pass_the_body_cap_but_not_the_import_cap(web, source):
    """max_payload_bytes is 64 KiB here, max_import_bytes 256 KiB."""
    nd = web.client.get(f"/v2/databases/{source['id']}/export", params={"format": "ndjson"},
                        headers=web.root.headers).content + b"\n" * 70000      # blank lines are skipped
    assert 64 * 1024 < len(nd) < 256 * 1024
    dst = web.database(name=unique("big"))
    assert web.client.post(f"/v2/databases/{dst['id']}/import", content=nd, headers=web.root.headers).status_code == 204
    too_big = nd + b" " * (256 * 1024)
    assert_envelope(web.client.post(f"/v2/databases/{dst['id']}/import", content=too_big,
                                    headers=web.root.headers), 413, "PayloadTooLarge")
    assert_envelope(web.client.post(f"/v2/databases/{dst['id']}/query/sql", content=b"SELECT 1" + b" " * 70000,
                                    headers={**web.root.headers, "Content-Type": "text/plain"}), 413)


def test_an_export_in_progress_is_409_everywhere(web, source):
    tok = {"Authorization": f"Bearer {_v1_token(web, source['id'])}"}
    export = transfers.start_export(web.ctx, _principal(web), source["id"])
    try:
        for resp in (web.client.get("/database/export", headers=tok),
                     web.client.post("/database/import", content=b'{"version": "1", "values": {"iterable": []}}',
                                     headers=tok),
                     web.client.get(f"/v2/databases/{source['id']}/export", headers=web.root.headers)):
            assert_envelope(resp, 409, "IncorrectState")
        assert web.sql(source["id"], "SELECT COUNT(*) FROM t").json()["data"] == [[1]]      # reads go on
        assert_envelope(web.sql(source["id"], "INSERT INTO t (_id, d) VALUES (2, 1)"), 409)    # writes do not
    finally:
        export.close()
    assert web.client.get("/database/export", headers=tok).status_code == 200


def _principal(web):
    from server.service import tokens

    return tokens.verify_access_token(web.ctx, web.root.token)
