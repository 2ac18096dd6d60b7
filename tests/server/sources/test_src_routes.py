"""The connections-and-tables routes in process: every route's happy path and documented
errors (CM envelope, /v1 statuses), credentials never in a response, error or log line,
the one-time upload url, the honest status, unsupported connection kinds, the page/amt
list with filters, and the role matrix (root, manager, backend yes; frontend no)."""
from __future__ import annotations

import gzip
import logging


from http_testlib import PASSWORD, assert_envelope, bearer, unique

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


def test_connections_crud_and_redaction(web, caplog):
    caplog.set_level(logging.DEBUG)
    _, h = web.new_db()
    kind = "SALESFORCE"
    r = web.client.put(f"/v1/connections/{kind}/", headers=h,
                       json={"credentials": {"client_id": "cid", "client_secret": SECRET}, "metadata": {"a": 1}})
    assert r.status_code == 200, r.text
    assert r.json() == {"connection": kind, "credentials": {"client_id": "***", "client_secret": "***"},
                        "metadata": {"a": 1}}
    got = web.client.get(f"/v1/connections/{kind.lower()}/", headers=h)
    assert got.json() == r.json()
    listed = web.client.get("/v1/connections/", headers=h).json()["connections"]
    assert {"connection": kind, "credentials": {"client_id": "***", "client_secret": "***"},
            "metadata": {"a": 1}} in listed
    # "***" keeps the stored value: a read-modify-write round trip loses nothing
    r = web.client.put(f"/v1/connections/{kind}/", headers=h,
                       json={"credentials": got.json()["credentials"], "metadata": {"b": 2}})
    assert r.status_code == 200 and r.json()["metadata"] == {"b": 2}
    from server.service import connections
    assert connections.credentials_of(web.ctx, web.root.org_id, kind) == {"client_id": "cid",
                                                                          "client_secret": SECRET}
    # stored only: testing it is refused, never pretended
    assert_envelope(web.client.post(f"/v1/connections/{kind}/test/", headers=h, json={}), 400, "InvalidParameter",
                    "CONNECTION_NOT_SUPPORTED")
    # at rest the secret is ciphertext
    raw = web.ctx.store.one("SELECT credentials FROM connections WHERE kind = ?", (kind,))["credentials"]
    assert SECRET.encode() not in bytes(raw) and b"client_secret" not in bytes(raw)
    assert web.client.delete(f"/v1/connections/{kind}/", headers=h).status_code == 204
    assert_envelope(web.client.get(f"/v1/connections/{kind}/", headers=h), 404, "ResourceNotFound",
                    "CONNECTION_NOT_FOUND")
    assert_envelope(web.client.delete(f"/v1/connections/{kind}/", headers=h), 404, name="CONNECTION_NOT_FOUND")
    # no response body and no log line carried the secret
    assert all(SECRET not in resp.text for resp in web.client.log)
    assert SECRET not in caplog.text


def test_connection_errors(web):
    _, h = web.new_db()
    assert_envelope(web.client.get("/v1/connections/FTP/", headers=h), 400, "InvalidParameter", "WRONG_DATA_TYPE")
    assert_envelope(web.client.put("/v1/connections/LOCAL/", headers=h, json={"credentials": {}}), 400,
                    name="WRONG_DATA_TYPE")
    assert_envelope(web.client.delete("/v1/connections/LOCAL/", headers=h), 400, name="WRONG_DATA_TYPE")
    assert web.client.get("/v1/connections/LOCAL/", headers=h).json() == {"connection": "LOCAL",
                                                                          "credentials": {}, "metadata": {}}
    assert web.client.post("/v1/connections/LOCAL/test/", headers=h).json()["status"] == "available"
    # S3 credentials take boto3's names; the secret is required, unknown names refused
    for creds, key in (({"aws_access_key_id": "a"}, "credentials.aws_secret_access_key"),
                       ({"aws_access_key_id": "a", "aws_secret_access_key": "b", "password": "c"},
                        "credentials.password"),
                       ({"aws_access_key_id": "a", "aws_secret_access_key": "b", "endpoint_url": "ftp://x"},
                        "credentials.endpoint_url")):
        body = assert_envelope(web.client.put("/v1/connections/S3/", headers=h, json={"credentials": creds}), 400,
                               name="WRONG_DATA_TYPE")
        assert body["error_data"]["key"] == key
    assert_envelope(web.client.put("/v1/connections/S3/", headers=h, json={"credentials": {"x": "***"}}), 400)
    assert_envelope(web.client.put("/v1/connections/S3/", headers=h, json={"credentials": {}, "nope": 1}), 400,
                    name="WRONG_DATA_TYPE")
    assert_envelope(web.client.request("PATCH", "/v1/connections/S3/tables/t/", headers=h,
                                       json={"resource": "item"}), 404, name="CONNECTION_NOT_FOUND")


def _items_db(web):
    db_id, h = web.new_db()
    web.props(h, "item", ("price", "float64", False), ("tags", "unicode16", True), ("stock", "uint16", False))
    return db_id, h


CSV = b"item_id,price,tags,stock,extra\n1,9.5,\"[\"\"a\"\",\"\"b\"\"]\",3,x\n2,4.25,[],0,y\n3,oops,[],1,z\n"


def test_local_upload_table_lifecycle(web):
    db_id, h = _items_db(web)
    t = web.table(h, "LOCAL", "catalog", {"resource": "item", "connection_table_params": {"file_format": "csv"},
                                          "connection_table_metadata": {"description": "d"}})
    assert t["status"] == "resource_not_found" and t["resource"] == "item" and t["connection"] == "LOCAL"
    url = t["connection_table_params"]["url"]
    assert url.startswith("http://127.0.0.1/v1/uploads/")
    assert {"created_timestamp", "modified_timestamp"} <= set(t)
    assert_envelope(web.client.post("/v1/connections/LOCAL/tables/catalog/run/", headers=h), 404,
                    name="RESOURCE_NOT_FOUND")
    up = web.upload(t, CSV)
    assert up == {"name": "catalog", "connection": "LOCAL", "status": "available", "uploaded_bytes": len(CSV)}
    # one-time: the same url is spent; the table shows a fresh one
    path = url[url.index("/v1/uploads/"):]
    assert_envelope(web.client.put(path, content=b"x"), 404, "ResourceNotFound", "UPLOAD_NOT_FOUND")
    got = web.client.get("/v1/connections/LOCAL/tables/catalog/", headers=h).json()
    assert got["status"] == "available" and got["connection_table_params"]["url"] != url
    assert got["uploaded_bytes"] == len(CSV)
    # preview: header, first rows, findings, the bad value named by row and column
    pv = web.client.get("/v1/connections/LOCAL/tables/catalog/test/", headers=h)
    assert pv.status_code == 200, pv.text
    p = pv.json()["preview"]
    assert p["columns"] == ["item_id", "price", "tags", "stock", "extra"] and p["ignored_columns"] == ["extra"]
    assert {f["target"]: f["status"] for f in p["findings"]} == {"item_id": "ok", "price": "bad_values",
                                                                 "tags": "ok", "stock": "ok"}
    assert p["errors"] == [{"row": 3, "column": "price", "message": "expected a number, got 'oops'",
                            "file": "upload"}]
    # the default error budget is 0: the run fails on row 3, before writing that batch
    task = web.run(h, "LOCAL", "catalog")
    assert task["status"] == "FAILED" and task["error"]["error_data"]["name"] == "ERROR_BUDGET_EXCEEDED"
    assert task["error"]["error_data"]["row"] == 3 and task["error"]["error_data"]["column"] == "price"
    assert task["details"]["rows_written"] == 0
    assert web.client.get("/v1/databases/current/", headers=h).json()["counters"]["item"] == 0
    # with a budget of 1: two rows written, one skipped and reported
    task = web.run(h, "LOCAL", "catalog", max_errors=1)
    assert task["status"] == "COMPLETED", task
    d = task["details"]
    assert (d["rows_read"], d["rows_written"], d["rows_skipped"]) == (3, 2, 1)
    assert d["bytes_read"] == d["bytes_total"] == len(CSV)
    assert d["errors"][0]["row"] == 3 and d["errors"][0]["column"] == "price"
    items = web.client.get("/v1/items-bulk/properties/", headers=h).json()["items"]
    assert sorted(items, key=lambda i: i["item_id"]) == [
        {"item_id": 1, "price": 9.5, "tags": ["a", "b"], "stock": 3}, {"item_id": 2, "price": 4.25, "stock": 0}]
    # the task is visible under its name too
    recents = web.client.get("/v1/tasks/source:LOCAL:catalog/recents/", headers=h).json()["tasks"]
    assert [t["status"] for t in recents] == ["COMPLETED", "FAILED"]
    # DELETE: the table goes, the data stays
    assert web.client.delete("/v1/connections/LOCAL/tables/catalog/", headers=h).status_code == 204
    assert_envelope(web.client.get("/v1/connections/LOCAL/tables/catalog/", headers=h), 404,
                    name="TABLE_NOT_FOUND")
    assert_envelope(web.client.delete("/v1/connections/LOCAL/tables/catalog/", headers=h), 404,
                    name="TABLE_NOT_FOUND")
    assert web.client.get("/v1/databases/current/", headers=h).json()["counters"]["item"] == 2


def test_patch_merges_and_validates(web):
    _, h = _items_db(web)
    t = web.table(h, "LOCAL", "m", {"resource": "item", "connection_table_params": {
        "file_format": "TSV", "options": {"compression": "gzip"}}, "resource_params": {"columns_mapping": {
            "item_id": "id"}}})
    created = t["created_timestamp"]
    t2 = web.table(h, "LOCAL", "m", {"connection_table_metadata": {"description": "x"}, "status": "available",
                                     "connection_table_params": t["connection_table_params"]})
    assert t2["resource_params"] == {"columns_mapping": {"item_id": "id"}}           # kept (shallow merge)
    assert t2["connection_table_metadata"] == {"description": "x"}
    assert t2["status"] == "resource_not_found"                                     # computed, not taken
    assert set(t2["warnings"]) == {"status_is_computed", "url_is_server_generated"}
    assert t2["created_timestamp"] == created
    bad = [({"resource": "movies"}, "resource"),
           ({"connection_table_params": {"file_format": "XLS"}}, "file_format"),
           ({"connection_table_params": {"file_format": "CSV", "options": {"delim": ";"}}}, "options.delim"),
           ({"connection_table_params": {"file_format": "CSV", "options": {"delimiter": ";;"}}},
            "options.delimiter"),
           ({"connection_table_params": {"file_format": "CSV", "bucket": "b"}}, "bucket"),
           ({"connection_table_params": {"file_format": "PARQUET", "options": {"compression": "gzip"}}},
            "options.compression"),
           ({"resource_params": {"columns_mapping": {"item_id": 3}}}, "resource_params.columns_mapping"),
           ({"resource_params": {"max_errors": -1}}, "max_errors"),
           ({"resource_params": {"wat": 1}}, "resource_params.wat")]
    for body, key in bad:
        resp = web.client.request("PATCH", "/v1/connections/LOCAL/tables/m/", headers=h, json=body)
        assert assert_envelope(resp, 400, name="WRONG_DATA_TYPE")["error_data"]["key"] == key, (body, resp.text)
    assert_envelope(web.client.request("PATCH", "/v1/connections/LOCAL/tables/new1/", headers=h,
                                       json={"connection_table_params": {"file_format": "CSV"}}), 400,
                    name="WRONG_DATA_TYPE")
    assert_envelope(web.client.request("PATCH", "/v1/connections/LOCAL/tables/a%20b/", headers=h,
                                       json={"resource": "item"}), 400, name="INVALID_NAME")
    assert_envelope(web.client.request("PATCH", "/v1/connections/LOCAL/tables/ab/", headers=h,
                                       json={"resource": "analytics_report", "resource_params": {
                                           "sql": "DELETE FROM items"}}), 400, name="WRONG_DATA_TYPE")


def test_list_tables_filters_and_pages(web):
    _, h = _items_db(web)
    web.client.put("/v1/connections/BRAZE/", headers=h, json={"credentials": {"k": "v"}})
    for i in range(5):
        web.table(h, "LOCAL", f"t{i}", {"resource": "item" if i % 2 else "user",
                                        "connection_table_params": {"file_format": "CSV"}})
    t = web.table(h, "BRAZE", "b1", {"resource": "user_id", "connection_table_params": {"whatever": 1}})
    assert t["status"] == "unknown_error" and "not implemented" in t["status_message"]
    assert_envelope(web.client.get("/v1/connections/BRAZE/tables/b1/test/", headers=h), 400,
                    name="CONNECTION_NOT_SUPPORTED")
    assert_envelope(web.client.post("/v1/connections/BRAZE/tables/b1/run/", headers=h), 400,
                    name="CONNECTION_NOT_SUPPORTED")
    page1 = web.client.get("/v1/tables/?amt=4", headers=h).json()
    page2 = web.client.get("/v1/tables/?amt=4&page=2", headers=h).json()
    assert (page1["has_next"], page1["next_page"], len(page1["tables"])) == (True, 2, 4)
    assert (page2["has_next"], len(page2["tables"])) == (False, 2)
    assert [t["name"] for t in page1["tables"] + page2["tables"]] == ["t0", "t1", "t2", "t3", "t4", "b1"]
    only = web.client.get("/v1/tables/?connection=LOCAL&resource=item", headers=h).json()["tables"]
    assert [t["name"] for t in only] == ["t1", "t3"]
    assert [t["name"] for t in web.client.get("/v1/tables/?connection=braze", headers=h).json()["tables"]] == ["b1"]
    dep = web.client.get("/v1/connections/LOCAL/tables/", headers=h).json()
    assert dep["warnings"] == ["deprecated_endpoint"] and len(dep["tables"]) == 5
    assert set(dep["tables"][0]) == {"name", "resource", "status", "created_timestamp", "modified_timestamp"}
    for q in ("amt=65", "amt=0", "page=0", "resource=movies", "connection=FTP", "sort=x"):
        assert_envelope(web.client.get(f"/v1/tables/?{q}", headers=h), 400, name="WRONG_DATA_TYPE")


def test_table_limit(tmp_path):
    from server.service.config import Limits
    from src_testlib import SourcesWeb

    app = SourcesWeb(tmp_path / "d", tmp_path, limits=Limits(max_sources_per_database=2))
    try:
        _, h = app.new_db()
        for name in ("a", "b"):
            app.table(h, "LOCAL", name, {"resource": "user", "connection_table_params": {"file_format": "CSV"}})
        assert_envelope(app.client.request("PATCH", "/v1/connections/LOCAL/tables/c/", headers=h, json={
            "resource": "user", "connection_table_params": {"file_format": "CSV"}}), 400, "ResourceLimitExceeded")
    finally:
        app.close()


def test_upload_cap_and_gzip(tmp_path):
    from server.service.config import Limits
    from src_testlib import SourcesWeb

    app = SourcesWeb(tmp_path / "d", tmp_path, limits=Limits(max_upload_bytes=64))
    try:
        _, h = app.new_db()
        t = app.table(h, "LOCAL", "u", {"resource": "user_id", "connection_table_params": {"file_format": "CSV"}})
        path = t["connection_table_params"]["url"].split("127.0.0.1", 1)[1]
        assert_envelope(app.client.put(path, content=b"x" * 65), 413, "PayloadTooLarge")
        fresh = app.client.get("/v1/connections/LOCAL/tables/u/", headers=h).json()
        assert fresh["connection_table_params"]["url"] == t["connection_table_params"]["url"]   # not spent
        body = gzip.compress(b"user_id\n" + b"".join(b"%d\n" % i for i in range(1, 6)))
        assert len(body) <= 64
        app.upload(fresh, body)
        task = app.run(h, "LOCAL", "u")
        assert task["status"] == "COMPLETED" and task["details"]["rows_written"] == 5
    finally:
        app.close()


def test_sandbox_paths(web):
    _, h = web.new_db()
    (web.sandbox / "sub").mkdir(exist_ok=True)
    (web.sandbox / "sub" / "w.csv").write_text("user_id\n7\n8\n")
    (web.sandbox / "link.csv").symlink_to(web.sandbox / "sub" / "w.csv")
    t = web.table(h, "LOCAL", "wl", {"resource": "user_id", "connection_table_params": {
        "file_format": "CSV", "path": "sub/w.csv"}, "resource_params": {"whitelist_params": {"name": "vip"}}})
    assert t["status"] == "available" and "url" not in t["connection_table_params"]
    task = web.run(h, "LOCAL", "wl")
    assert task["status"] == "COMPLETED" and task["details"]["rows_written"] == 2
    for bad in ("../x.csv", "/etc/passwd", "sub/../../x", "a\x00b", "link.csv", "sub//w.csv", "sub\\w.csv"):
        resp = web.client.request("PATCH", "/v1/connections/LOCAL/tables/bad/", headers=h, json={
            "resource": "user_id", "connection_table_params": {"file_format": "CSV", "path": bad}})
        if bad == "link.csv":          # accepted as text, refused when opened: never followed
            assert resp.json()["status"] == "wrong_specification", resp.text
            assert "symlink" in resp.json()["status_message"]
            assert_envelope(web.client.post("/v1/connections/LOCAL/tables/bad/run/", headers=h), 400,
                            name="WRONG_DATA_TYPE")
        else:
            assert assert_envelope(resp, 400, name="WRONG_DATA_TYPE")["error_data"]["key"] == "path", bad
    missing = web.table(h, "LOCAL", "gone", {"resource": "user_id", "connection_table_params": {
        "file_format": "CSV", "path": "nope.csv"}})
    assert missing["status"] == "resource_not_found"


def test_roles(web):
    db_id, _ = web.new_db()
    out = {}
    for role in ("manager", "backend", "frontend"):
        m = web.member(role)
        tok = web.v1_login(m.email, PASSWORD, db_id=db_id)["token"]
        out[role] = bearer(tok)
    for role, h in out.items():
        name = unique("r")
        calls = [web.client.get("/v1/connections/", headers=h),
                 web.client.put("/v1/connections/SHOPIFY/", headers=h, json={"credentials": {"k": "v"}}),
                 web.client.request("PATCH", f"/v1/connections/LOCAL/tables/{name}/", headers=h,
                                    json={"resource": "user", "connection_table_params": {"file_format": "CSV"}}),
                 web.client.get("/v1/tables/", headers=h)]
        for resp in calls:
            if role == "frontend":
                assert_envelope(resp, 403, "Unauthorized")
            else:
                assert resp.status_code == 200, (role, resp.text)
    assert_envelope(web.client.get("/v1/connections/"), 401)


def test_org_isolation(web):
    db_id, h = web.new_db()
    web.table(h, "LOCAL", "mine", {"resource": "user", "connection_table_params": {"file_format": "CSV"}})
    other = web.other_org()
    resp = web.client.post("/v1/databases/", headers=other.headers, json={"name": unique("odb")})
    odb = resp.json()["id"]
    oh = bearer(web.v1_login(other.email, PASSWORD, db_id=odb)["token"])
    assert_envelope(web.client.get("/v1/connections/LOCAL/tables/mine/", headers=oh), 404, name="TABLE_NOT_FOUND")
    assert web.client.get("/v1/tables/", headers=oh).json()["tables"] == []
