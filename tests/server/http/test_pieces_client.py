"""The unmodified `pieces-os-client` 5.0.1 DatabaseApi against a real server on loopback
(reference/pieces-client.md §8): it exports one database and imports into another through
`/database/export|import` and `/v1/database/export|import`, and errors reach it as the
documented statuses (its exception classes).

Setup goes through the /v1 JSON API with httpx: database A (uint32 ids, three properties
incl. a repeated one, 12 items with non-ASCII text), B (empty), C (`price` declared
unicode16 — a type clash with A).
"""
from __future__ import annotations

import httpx
import pytest
from pieces_os_client.api.database_api import DatabaseApi
from pieces_os_client.api_client import ApiClient
from pieces_os_client.configuration import Configuration
from pieces_os_client.exceptions import BadRequestException, NotFoundException, UnauthorizedException
from pieces_os_client.models.exported_database import ExportedDatabase

from http_testlib import ROOT_EMAIL, ROOT_PASSWORD, wire_server

ITEMS = [{"item_id": i, "price": i * 1.25, "tags": [f"t{i % 3}", "ünï"], "title": f"naïve café {i} 🙂"}
         for i in range(1, 13)]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with wire_server(tmp_path_factory.mktemp("pieces") / "data") as srv:
        http = httpx.Client(base_url=srv.http_url(), timeout=60)
        root = http.post("/v1/login/root/", json={"email": ROOT_EMAIL, "password": ROOT_PASSWORD}).json()["token"]
        h = {"Authorization": f"Bearer {root}"}
        ids = {}
        for name, props in (("pa", [("price", "float32", False), ("tags", "unicode16", True),
                                    ("title", "unicode", False)]),
                            ("pb", []), ("pc", [("price", "unicode16", False)])):
            resp = http.post("/v1/databases/", headers=h, json={"name": name, "description": name,
                                                                "item_id_type": "uint32", "user_id_type": "uint32"})
            assert resp.status_code == 201, resp.text
            ids[name] = resp.json()["id"]
            tok = _token(http, ids[name])
            for pname, vt, rep in props:
                r = http.post("/v1/items-properties/", headers={"Authorization": f"Bearer {tok}"},
                              json={"property_name": pname, "value_type": vt, "repeated": rep})
                assert r.status_code == 201, r.text
        r = http.put("/v1/items-bulk/properties/", headers={"Authorization": f"Bearer {_token(http, ids['pa'])}"},
                     json={"items": ITEMS})
        assert r.status_code == 200, r.text
        r = http.put("/v1/items-bulk/properties/", headers={"Authorization": f"Bearer {_token(http, ids['pc'])}"},
                     json={"items": [{"item_id": 99, "price": "cheap"}]})
        assert r.status_code == 200, r.text
        yield srv, http, ids
        http.close()


def _token(http: httpx.Client, db_id: str) -> str:
    resp = http.post("/v1/login/individual/", json={"email": ROOT_EMAIL, "password": ROOT_PASSWORD, "db_id": db_id})
    assert resp.status_code == 200, resp.text
    return resp.json()["token"]


def _api(srv, token: str = "", *, prefix: str = "", app_key: str = "") -> DatabaseApi:
    cfg = Configuration(host=srv.http_url() + prefix)
    if app_key:
        cfg.api_key = {"application": app_key}
    client = ApiClient(cfg, header_name="Authorization", header_value=f"Bearer {token}") if token else ApiClient(cfg)
    return DatabaseApi(client)


def _items(http: httpx.Client, db_id: str) -> list[dict]:
    resp = http.get("/v1/items-bulk/properties/", params={"amt": 500},
                    headers={"Authorization": f"Bearer {_token(http, db_id)}"})
    assert resp.status_code == 200, resp.text
    items = resp.json()["items"]
    for it in items:
        if "tags" in it:
            it["tags"] = sorted(it["tags"])
    return sorted(items, key=lambda i: i["item_id"])


def _props(http: httpx.Client, db_id: str) -> list[dict]:
    resp = http.get("/v1/items-properties/", headers={"Authorization": f"Bearer {_token(http, db_id)}"})
    return sorted(resp.json()["properties"], key=lambda p: p["property_name"])


def test_export_on_both_aliases(world):
    srv, http, ids = world
    tok = _token(http, ids["pa"])
    for prefix in ("", "/v1"):
        api = _api(srv, tok, prefix=prefix)
        info = api.database_export_with_http_info()
        assert info.status_code == 200 and info.headers["content-type"].startswith("application/json")
        doc = info.data
        assert isinstance(doc, ExportedDatabase) and isinstance(doc.version, str)
        assert doc.values.iterable and doc.values.iterable[0].id == "roarbase.export+gzip.0"
        assert doc.analyses == [] and doc.websites == []


def test_no_credentials_is_401(world):
    srv, _http, _ids = world
    api = _api(srv)
    with pytest.raises(UnauthorizedException):
        api.database_export()
    with pytest.raises(UnauthorizedException):
        api.database_import(exported_database=ExportedDatabase.from_dict(_empty_envelope()))


def _empty_envelope() -> dict:
    lists = ("analyses", "applications", "assets", "codeAnalyses", "files", "formatMetrics", "formats", "fragments",
             "imageAnalyses", "models", "ocrAnalyses", "persons", "sensitives", "tags", "websites")
    return {**{k: [] for k in lists}, "values": {"iterable": []}, "version": "1"}


def test_export_from_one_import_into_another(world):
    srv, http, ids = world
    doc = _api(srv, _token(http, ids["pa"])).database_export()
    importer = _api(srv, _token(http, ids["pb"]), prefix="/v1")
    assert importer.database_import_with_http_info(exported_database=doc).status_code == 204
    assert _props(http, ids["pb"]) == _props(http, ids["pa"])
    assert _items(http, ids["pb"]) == _items(http, ids["pa"])
    got = {i["item_id"]: i for i in _items(http, ids["pb"])}
    assert got[3]["title"] == "naïve café 3 🙂" and got[3]["price"] == 3.75
    # again: idempotent
    importer.database_import(exported_database=doc)
    assert _items(http, ids["pb"]) == _items(http, ids["pa"])


def test_a_type_clash_is_400_and_changes_nothing(world):
    srv, http, ids = world
    before = (_props(http, ids["pb"]), _items(http, ids["pb"]))
    doc = _api(srv, _token(http, ids["pc"])).database_export()
    with pytest.raises(BadRequestException) as info:
        _api(srv, _token(http, ids["pb"])).database_import(exported_database=doc)
    assert info.value.status == 400 and "PROPERTY_TYPE_CONFLICT" in info.value.body
    assert (_props(http, ids["pb"]), _items(http, ids["pb"])) == before


def test_an_empty_envelope_is_a_no_op_and_no_body_is_400(world):
    srv, http, ids = world
    before = _items(http, ids["pb"])
    api = _api(srv, _token(http, ids["pb"]))
    api.database_import(exported_database=ExportedDatabase.from_dict(_empty_envelope()))
    with pytest.raises(BadRequestException):
        api.database_import()
    assert _items(http, ids["pb"]) == before


def test_an_api_key_as_x_application_id(world):
    srv, http, ids = world
    root = http.post("/v2/auth/token", json={"email": ROOT_EMAIL, "password": ROOT_PASSWORD}).json()["token"]
    h = {"Authorization": f"Bearer {root}"}
    sa = http.post("/v2/users", headers=h, json={"kind": "service", "name": "pieces-bot", "role": "manager"})
    assert sa.status_code == 201, sa.text
    key = http.post("/v2/api-keys", headers=h, json={"account_id": sa.json()["id"], "database": ids["pa"]}).json()["key"]
    doc = _api(srv, app_key=key).database_export()
    assert doc.values.iterable
    with pytest.raises(UnauthorizedException):
        _api(srv, app_key="rb_" + "0" * 32 + "_nope").database_export()


def test_a_deleted_database_is_404(world):
    srv, http, ids = world
    resp = http.post("/v1/databases/", headers={"Authorization": "Bearer " + http.post(
        "/v1/login/root/", json={"email": ROOT_EMAIL, "password": ROOT_PASSWORD}).json()["token"]},
        json={"name": "gone", "description": "", "item_id_type": "uint32", "user_id_type": "uint32"})
    tok = _token(http, resp.json()["id"])
    assert http.delete("/v1/databases/current/", headers={"Authorization": f"Bearer {tok}"}).status_code == 204
    with pytest.raises((NotFoundException, UnauthorizedException)):
        _api(srv, tok).database_export()
