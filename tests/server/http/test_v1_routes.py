"""The /v1 face in process: every route's happy path and documented errors, with the CM
envelope and statuses (API.md §6: DuplicatedError is 400 on /v1, authorization 403),
msgpack bodies, pickle refused, deprecated aliases, async writes and their tasks, the
frontend end-user rule, org isolation, and the OpenAPI request schemas."""
from __future__ import annotations

import re
import uuid
from typing import Any, Optional

import msgpack
import pytest

from http_testlib import PASSWORD, ROOT_EMAIL, ROOT_PASSWORD, assert_envelope, bearer, unique
from server import http_v1, openapi


def login(web, email: str, password: str, **extra: Any) -> dict[str, Any]:
    resp = web.client.post("/v1/login/individual/", json={"email": email, "password": password, **extra})
    assert resp.status_code == 200, resp.text
    return resp.json()


def new_db(web, item_id_type: str = "uint64", user_id_type: str = "uint32") -> tuple[str, dict[str, str]]:
    """A new database and a root token logged in to it."""
    root = login(web, ROOT_EMAIL, ROOT_PASSWORD)
    resp = web.client.post("/v1/databases/", headers=bearer(root["token"]),
                           json={"name": unique("db"), "description": "d", "item_id_type": item_id_type,
                                 "user_id_type": user_id_type})
    assert resp.status_code == 201, resp.text
    db_id = resp.json()["id"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", db_id)          # CM's 22-char id (API.md C4)
    scoped = login(web, ROOT_EMAIL, ROOT_PASSWORD, db_id=db_id)
    assert scoped["database"]["id"] == db_id and scoped["database"]["item_id_type"] == item_id_type
    return db_id, bearer(scoped["token"])


@pytest.fixture(scope="module")
def shop(web):
    """A database with item properties and a few items."""
    db_id, h = new_db(web)
    for name, vt, rep in (("price", "float32", False), ("tags", "unicode16", True), ("title", "unicode", False),
                          ("stock", "uint16", False)):
        r = web.client.post("/v1/items-properties/", headers=h,
                            json={"property_name": name, "value_type": vt, "repeated": rep})
        assert r.status_code == 201 and r.json() == {}, r.text
    items = [{"item_id": 1, "price": 9.99, "tags": ["a", "b"], "title": "Red shoes", "stock": 3},
             {"item_id": 2, "price": 4.5, "tags": ["a"], "title": "Blue hat"},
             {"item_id": 2**63 + 1, "price": -0.0, "stock": 0}]
    r = web.client.put("/v1/items-bulk/properties/", headers=h, json={"items": items, "items_m2m": []})
    assert r.status_code == 200, r.text
    return db_id, h


def test_databases(web, shop):
    db_id, h = shop
    cur = web.client.get("/v1/databases/current/", headers=h).json()
    assert cur["id"] == db_id and cur["status"] == "ready" and cur["counters"] == {"item": 3, "user": 0, "rating": 0}
    assert web.client.get("/v1/databases/current/status/", headers=h).json() == {"status": "ready"}
    listed = web.client.get("/v1/databases/?amt=1&page=1", headers=h).json()
    assert listed["databases"][0]["id"] == db_id and listed["has_next"] is False   # a scoped token sees its db
    r = web.client.request("PATCH", "/v1/databases/current/", headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 200                                               # PATCH with no body at all
    r = web.client.request("PATCH", "/v1/databases/current/", headers=h, json={"metadata": {"a": {"b": 1}}})
    assert r.status_code == 200
    assert web.client.get("/v1/databases/current/", headers=h).json()["metadata"] == {"a": {"b": 1}}
    root = bearer(login(web, ROOT_EMAIL, ROOT_PASSWORD)["token"])
    dup = web.client.post("/v1/databases/", headers=root, json={"name": "dupname", "item_id_type": "uuid"})
    assert dup.status_code == 201
    body = assert_envelope(web.client.post("/v1/databases/", headers=root, json={"name": "dupname"}), 400,
                           "ResourceAlreadyExists", "DUPLICATED_DB_NAME")
    assert body["error_code"] == 42 and body["error_data"]["type"] == "database"
    assert_envelope(web.client.post("/v1/databases/", headers=root, json={"name": "x1", "item_id_type": "int7"}),
                    400, name="WRONG_DATA_TYPE")
    for q in ("amt=0", "amt=65", "page=0", "page=x"):
        assert_envelope(web.client.get(f"/v1/databases/?{q}", headers=root), 400, name="WRONG_DATA_TYPE")
    # no database in the token
    assert_envelope(web.client.get("/v1/databases/current/", headers=root), 401, name="NO_DATABASE_SELECTED")
    assert_envelope(web.client.get("/v1/items-properties/", headers=root), 401, name="NO_DATABASE_SELECTED")


def test_properties(web, shop):
    _, h = shop
    props = web.client.get("/v1/items-properties", headers=h).json()["properties"]     # no slash: no redirect
    assert [p["property_name"] for p in props] == ["price", "tags", "title", "stock"]
    assert web.client.get("/v1/items-properties/TAGS/", headers=h).json() == \
        {"property_name": "tags", "value_type": "unicode16", "repeated": True}
    body = assert_envelope(web.client.post("/v1/items-properties/", headers=h,
                                           json={"property_name": "Price", "value_type": "int"}),
                           400, "ResourceAlreadyExists", "DUPLICATED_ITEM_PROPERTY")
    assert body["error_data"]["key"] == "Price"
    for bad in ({"property_name": "x", "value_type": "string"}, {"property_name": "item_id", "value_type": "int"},
                {"property_name": "a b", "value_type": "int"}, {"property_name": "x", "value_type": "int",
                                                                "repeated": "yes"}):
        assert_envelope(web.client.post("/v1/items-properties/", headers=h, json=bad), 400, name="WRONG_DATA_TYPE")
    assert_envelope(web.client.get("/v1/items-properties/nope/", headers=h), 404, "ResourceNotFound",
                    "ITEM_PROPERTY_NOT_FOUND")
    assert_envelope(web.client.delete("/v1/items-properties/nope/", headers=h), 404, name="ITEM_PROPERTY_NOT_FOUND")
    assert web.client.post("/v1/users-properties/", headers=h, json={"property_name": "age", "value_type": "uint8",
                                                                     "indexed": True}).status_code == 201
    assert web.client.get("/v1/users-properties/age/", headers=h).json()["indexed"] is True


def test_items_read(web, shop):
    _, h = shop
    one = web.client.get("/v1/items/1/properties/", headers=h).json()
    assert one["item"]["item_id"] == 1 and one["item"]["price"] == 9.99 and sorted(one["item"]["tags"]) == ["a", "b"]
    big = web.client.get(f"/v1/items/{2**63 + 1}/properties/", headers=h).json()["item"]
    assert big == {"item_id": 2**63 + 1, "price": -0.0, "stock": 0}
    assert "-0.0" in web.client.get(f"/v1/items/{2**63 + 1}/properties/", headers=h).text   # sign kept
    body = assert_envelope(web.client.get("/v1/items/77/properties/", headers=h), 404, "ResourceNotFound",
                           "ITEM_NOT_FOUND")
    assert body["error_code"] == 60 and body["error_data"]["key"] == "77" and body["error_data"]["type"] == "item"
    assert_envelope(web.client.get("/v1/items/abc/properties/", headers=h), 400, name="WRONG_DATA_TYPE")
    found = web.client.post("/v1/items-bulk/properties/list/", headers=h,
                            json={"items_id": [2, 999, 1], "properties": ["price"]}).json()["items"]
    assert found == [{"item_id": 2, "price": 4.5}, {"item_id": 1, "price": 9.99}]
    page = web.client.get("/v1/items-bulk/properties/?amt=2&properties=title", headers=h).json()
    assert [i["item_id"] for i in page["items"]] == [1, 2] and page["has_next"] is True
    assert page["items"][0] == {"item_id": 1, "title": "Red shoes"}
    rest = web.client.get(f"/v1/items-bulk/properties/?amt=2&cursor={page['next_cursor']}", headers=h).json()
    assert [i["item_id"] for i in rest["items"]] == [2**63 + 1] and rest["has_next"] is False
    filt = "?filters=price%3Agte%3A4.5&filters=tags%3Ain%3Aa%2Cx"
    assert [i["item_id"] for i in web.client.get(f"/v1/items-bulk/properties/{filt}", headers=h).json()["items"]] \
        == [1, 2]
    obj = '{"property_name": "title", "op": "ftsearch", "value": "SHOES red"}'
    assert [i["item_id"] for i in web.client.get("/v1/items-bulk/properties/", params={"filters": obj},
                                                 headers=h).json()["items"]] == [1]
    assert_envelope(web.client.get("/v1/items-bulk/properties/?filters=nope%3Aeq%3A1", headers=h), 404,
                    name="ITEM_PROPERTY_NOT_FOUND")
    for q in ("filters=price%3Aeq%3A1", "cursor=zzz", "amt=501", "amt=x", "bogus=1"):
        assert_envelope(web.client.get(f"/v1/items-bulk/properties/?{q}", headers=h), 400, name="WRONG_DATA_TYPE")


def test_items_write(web):
    _, h = new_db(web, item_id_type="uuid")
    web.client.post("/v1/items-properties/", headers=h, json={"property_name": "n", "value_type": "int8"})
    web.client.post("/v1/items-properties/", headers=h, json={"property_name": "tags", "value_type": "unicode8",
                                                              "repeated": True})
    u = str(uuid.uuid4()).upper()
    r = web.client.put(f"/v1/items/{u}/properties/", headers=h, json={"item": {"n": 1, "tags": ["x"]}})
    assert r.status_code == 200 and r.json() == {}
    assert web.client.get(f"/v1/items/{u.lower()}/properties/", headers=h).json()["item"] == \
        {"item_id": u.lower(), "n": 1, "tags": ["x"]}
    r = web.client.request("PATCH", f"/v1/items/{u}/properties/", headers=h, json={"item": {"tags": ["y", "z"]}})
    assert r.json() == {"item_created": False, "item_modified": True}
    assert sorted(web.client.get(f"/v1/items/{u}/properties/", headers=h).json()["item"]["tags"]) == ["y", "z"]
    other = str(uuid.uuid4())
    assert_envelope(web.client.request("PATCH", f"/v1/items/{other}/properties/", headers=h, json={"item": {"n": 2}}),
                    404, name="ITEM_NOT_FOUND")
    r = web.client.request("PATCH", f"/v1/items/{other}/properties/", headers=h,
                           json={"item": {"n": 2}, "create_if_missing": True})
    assert r.json() == {"item_created": True, "item_modified": False}
    # bulk: all or nothing
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    bad = {"items": [{"item_id": a, "n": 1}, {"item_id": b, "n": 1000}], "items_m2m": []}
    assert_envelope(web.client.put("/v1/items-bulk/properties/", headers=h, json=bad), 400, name="WRONG_DATA_TYPE")
    dup = {"items": [{"item_id": a}, {"item_id": a.upper()}]}
    body = assert_envelope(web.client.put("/v1/items-bulk/properties/", headers=h, json=dup), 400,
                           "ResourceAlreadyExists", "DUPLICATED_ITEM_ID")
    assert body["error_code"] == 42
    undeclared = {"items": [{"item_id": a, "color": "red"}]}
    assert_envelope(web.client.put("/v1/items-bulk/properties/", headers=h, json=undeclared), 400,
                    name="WRONG_DATA_TYPE")
    assert web.client.post("/v1/items-bulk/properties/list/", headers=h, json={"items_id": [a, b]}).json() == \
        {"items": []}
    m2m = {"items": [{"item_id": a}, {"item_id": b, "n": 3}],
           "items_m2m": [{"name": "tags", "array": [{"item_index": 0, "value_id": "p"},
                                                    {"item_index": 1, "value_id": "q"}]}]}
    assert web.client.put("/v1/items-bulk/properties/", headers=h, json=m2m).status_code == 200
    assert web.client.get(f"/v1/items/{b}/properties/", headers=h).json()["item"] == {"item_id": b, "n": 3,
                                                                                       "tags": ["q"]}
    assert_envelope(web.client.request("PATCH", "/v1/items-bulk/properties/", headers=h,
                                       json={"items": [{"item_id": str(uuid.uuid4()), "n": 1}]}),
                    404, name="ITEM_NOT_FOUND")
    r = web.client.request("PATCH", "/v1/items-bulk/properties/", headers=h,
                           json={"items": [{"item_id": b, "n": 4}], "items_m2m": []})
    assert r.status_code == 200 and r.json() == {}
    assert web.client.get(f"/v1/items/{b}/properties/", headers=h).json()["item"]["n"] == 4
    r = web.client.request("DELETE", "/v1/items-bulk/properties/", headers=h, json={"items_id": [a, b]})
    assert r.status_code == 204
    assert web.client.request("DELETE", f"/v1/items/{u}/properties/", headers=h).status_code == 204
    assert_envelope(web.client.get(f"/v1/items/{u}/properties/", headers=h), 404, name="ITEM_NOT_FOUND")
    assert_envelope(web.client.put(f"/v1/items/{u}/properties/", headers=h, json={"item": {"item_id": u}}), 400,
                    name="WRONG_DATA_TYPE")


def test_async_writes_and_tasks(web):
    _, h = new_db(web)
    web.client.post("/v1/items-properties/", headers=h, json={"property_name": "n", "value_type": "int8"})
    r = web.client.put("/v1/items-bulk/properties/", headers=h,
                       json={"items": [{"item_id": 5, "n": 1}], "wait_for_completion": False})
    assert r.status_code == 202 and r.json()["task_name"] == "items_put"
    task_id = r.json()["task_id"]
    web.ctx.background().submit(lambda: None).result(30)           # the one task thread has run ours
    tasks = web.client.get("/v1/tasks/items_put/recents/", headers=h).json()["tasks"]
    assert [t["task_id"] for t in tasks] == [task_id] and tasks[0]["status"] == "COMPLETED"
    assert web.client.get("/v1/items/5/properties/", headers=h).json()["item"] == {"item_id": 5, "n": 1}
    # bad data is refused at once, never lost in a background task
    assert_envelope(web.client.put("/v1/items-bulk/properties/", headers=h,
                                   json={"items": [{"item_id": 6, "n": 999}], "wait_for_completion": False}),
                    400, name="WRONG_DATA_TYPE")
    r = web.client.put("/v1/items/9/properties/", headers=h, json={"item": {"n": 2}, "wait_for_completion": False})
    assert r.status_code == 202


def test_msgpack_and_pickle(web, shop):
    _, h = shop
    mp = {**h, "Content-Type": "application/msgpack", "Accept": "application/msgpack"}
    body = msgpack.packb({"items": [{"item_id": 10, "price": 1.5}], "items_m2m": [
        {"name": "tags", "array": [[0, "m"]]}]})
    r = web.client.put("/v1/items-bulk/properties/", headers=mp, content=body)
    assert r.status_code == 200 and r.headers["content-type"] == "application/msgpack"
    got = msgpack.unpackb(web.client.get("/v1/items/10/properties/", headers=mp).content)
    assert got == {"item": {"item_id": 10, "price": 1.5, "tags": ["m"]}}
    bomb = b"\xdd\xff\xff\xff\xff"                                    # an array claiming 2^32-1 items
    assert_envelope(web.client.put("/v1/items-bulk/properties/", headers={**mp, "Accept": "application/json"},
                                   content=bomb), 400, "InvalidBody")
    for headers in ({"Content-Type": "application/xminds-pkl"}, {"Accept": "application/xminds-pkl"}):
        r = web.client.request("GET", "/v1/items-properties/", headers={**h, **headers}, content=b"\x80\x04K\x01.")
        body = assert_envelope(r, 400, "InvalidContentType", "UNSUPPORTED_CONTENT_TYPE")
        assert r.headers["content-type"].startswith("application/json") and body["error_code"] == 40
    deep: Any = 0
    for _ in range(40):
        deep = [deep]
    deep = {"items": [{"item_id": 1}], "x": deep}
    assert_envelope(web.client.put("/v1/items-bulk/properties/", headers=h, json=deep), 400, "InvalidBody")


def test_deprecated_aliases(web, shop):
    _, h = shop
    r = web.client.get("/v1/items/1/", headers=h)
    assert r.json()["item"]["item_id"] == 1 and r.json()["warnings"] == ["deprecated_endpoint"]
    r = web.client.get("/v1/items-bulk/?amt=1", headers=h)
    assert r.json()["warnings"] == ["deprecated_endpoint"] and len(r.json()["items"]) == 1
    r = web.client.post("/v1/items-bulk/list/", headers=h, json={"items_id": [1]})
    assert r.json()["warnings"] == ["deprecated_endpoint"]
    assert "warnings" not in web.client.get("/v1/items/1/properties/", headers=h).json()


def test_roles_and_end_users(web):
    db_id, h = new_db(web, user_id_type="uint32")
    web.client.post("/v1/users-properties/", headers=h, json={"property_name": "age", "value_type": "uint8"})
    web.client.post("/v1/items-properties/", headers=h, json={"property_name": "n", "value_type": "int8"})
    web.client.put("/v1/users-bulk/properties/", headers=h, json={"users": [{"user_id": 1, "age": 30},
                                                                            {"user_id": 2, "age": 40}]})
    web.client.put("/v1/items/7/properties/", headers=h, json={"item": {"n": 1}})
    email = unique("front") + "@example.com"
    r = web.client.post("/v1/accounts/individual/", headers=h, json={"email": email, "password": PASSWORD,
                                                                      "role": "frontend"})
    assert r.status_code == 201
    front = login(web, email, PASSWORD, db_id=db_id, frontend_user_id=1)
    fh = bearer(front["token"])
    assert front["role"] == "frontend"
    assert web.client.get("/v1/users/~me/properties/", headers=fh).json()["user"] == {"user_id": 1, "age": 30}
    assert web.client.get("/v1/users/1/properties/", headers=fh).json()["user"]["age"] == 30
    assert_envelope(web.client.get("/v1/users/2/properties/", headers=fh), 404, name="USER_NOT_FOUND")
    assert web.client.post("/v1/users-bulk/properties/list/", headers=fh, json={"users_id": [1, 2]}).json() == \
        {"users": [{"user_id": 1, "age": 30}]}
    assert web.client.get("/v1/items/7/properties/", headers=fh).json()["item"]["n"] == 1
    body = assert_envelope(web.client.put("/v1/items/7/properties/", headers=fh, json={"item": {"n": 2}}), 403,
                           "Unauthorized")
    assert body["error_code"] == 50                        # ForbiddenError on /v1
    assert_envelope(web.client.get("/v1/items-bulk/properties/", headers=fh), 403)
    assert_envelope(web.client.post("/v1/items-properties/", headers=fh,
                                    json={"property_name": "z", "value_type": "int"}), 403)
    # the refresh token keeps the database and the end user
    again = web.client.post("/v1/login/refresh-token/", json={"refresh_token": front["refresh_token"]}).json()
    assert again["database"]["id"] == db_id
    assert web.client.get("/v1/users/~me/properties/", headers=bearer(again["token"])).json()["user"]["user_id"] == 1
    assert_envelope(web.client.post("/v1/login/individual/", json={"email": email, "password": PASSWORD,
                                                                   "db_id": db_id, "frontend_user_id": "x"}),
                    400, name="WRONG_DATA_TYPE")


def test_org_isolation(web, shop):
    db_id, _ = shop
    other = web.other_org()
    r = web.client.post("/v1/login/individual/", json={"email": other.email, "password": PASSWORD, "db_id": db_id})
    assert_envelope(r, 404, "ResourceNotFound", "DB_NOT_FOUND")


def test_accounts(web):
    db_id, h = new_db(web)
    email = unique("ann") + "@example.com"
    assert web.client.post("/v1/accounts/individual/", headers=h, json={
        "email": email, "password": PASSWORD, "first_name": "Ann", "role": "manager",
        "metadata": {"team": "x"}}).status_code == 201
    assert_envelope(web.client.post("/v1/accounts/individual/", headers=h, json={"email": email}), 400,
                    "ResourceAlreadyExists")
    r = web.client.request("PATCH", "/v1/accounts/individual/", headers=h, json={"email": email, "last_name": "B"})
    assert r.status_code == 200
    svc = unique("bot")
    assert web.client.post("/v1/accounts/service/", headers=h, json={"name": svc, "role": "backend"}).status_code == 201
    key = web.client.post("/v1/accounts/service/keys/", headers=h, json={"name": svc, "metadata": {"d": 1}}).json()
    assert key["key"].startswith("rbk_") and key["metadata"] == {"d": 1}
    service_login = web.client.post("/v1/login/service/", json={"name": svc, "password": key["key"], "db_id": db_id})
    assert service_login.status_code == 200 and service_login.json()["role"] == "backend"
    listed = web.client.get("/v1/organizations/accounts/", headers=h).json()
    assert any(a["email"] == email and a["first_name"] == "Ann" and a["last_name"] == "B"
               for a in listed["individual_accounts"])
    svc_row = next(a for a in listed["service_accounts"] if a["name"] == svc)
    assert [k["id"] for k in svc_row["keys"]] == [key["id"]] and "key" not in svc_row["keys"][0]
    assert web.client.request("DELETE", f"/v1/accounts/service/keys/{key['id']}/", headers=h).status_code == 204
    assert_envelope(web.client.post("/v1/login/service/", json={"name": svc, "password": key["key"]}), 401)
    assert web.client.request("DELETE", "/v1/accounts/individual/", headers=h, json={"email": email}).status_code == 204
    assert_envelope(web.client.request("DELETE", "/v1/accounts/individual/", headers=h, json={"email": email}), 404)
    assert web.client.request("DELETE", "/v1/accounts/service/", headers=h, json={"name": svc}).status_code == 204
    org = web.client.get("/v1/organizations/current/", headers=h).json()
    r = web.client.request("PATCH", "/v1/organizations/current/", headers=h, json={"metadata": {"k": 1}})
    assert r.json()["id"] == org["id"] and r.json()["metadata"]["k"] == 1
    me = web.client.post("/v1/login/jwt/", headers=h).json()
    assert me["account"]["role"] == "root" and me["database"]["id"] == db_id
    root = web.client.post("/v1/login/root/", json={"email": ROOT_EMAIL, "password": ROOT_PASSWORD}).json()
    assert set(root) == {"token", "refresh_token", "org_id"}
    assert_envelope(web.client.post("/v1/login/root/", json={"email": ROOT_EMAIL, "password": "wrong-password"}), 401,
                    "Unauthorized")


def test_delete_current_database(web):
    db_id, h = new_db(web)
    assert web.client.request("DELETE", "/v1/databases/current/", headers=h).status_code == 204
    assert_envelope(web.client.get("/v1/databases/current/", headers=h), 404, name="DB_NOT_FOUND")
    assert_envelope(web.client.post("/v1/login/individual/", json={"email": ROOT_EMAIL, "password": ROOT_PASSWORD,
                                                                   "db_id": db_id}), 404)


def _closed_v1_bodies() -> list[tuple[str, str, str]]:
    doc = openapi.document()
    out = []
    for ep in http_v1.V1_ENDPOINTS:
        op = doc["paths"][ep.path][ep.method.lower()]
        ref: Optional[str] = op.get("requestBody", {}).get("content", {}).get("application/json", {}) \
            .get("schema", {}).get("$ref")
        if ref is not None:
            out.append((ep.method, ep.path, ref.rsplit("/", 1)[-1]))
    return out


@pytest.mark.parametrize("method, path, schema", _closed_v1_bodies())
def test_request_schemas_match_what_v1_routes_accept(web, shop, method, path, schema):
    """Every documented field is accepted (never refused as unknown), an undocumented one is."""
    _, h = shop
    props = openapi.document()["components"]["schemas"][schema]
    assert props.get("additionalProperties") is False, schema
    url = re.sub(r"\{[^}]+\}", "12345", path)
    for field in [*props["properties"], "undocumented"]:
        resp = web.client.request(method, url, json={field: None}, headers=h)
        data = resp.json().get("error_data", {}) if resp.content and resp.headers["content-type"].startswith(
            "application/json") else {}
        refused = resp.status_code == 400 and data.get("name") == "WRONG_DATA_TYPE" and \
            "unknown fields" in resp.json().get("message", "")
        assert refused == (field == "undocumented"), (method, path, field, resp.text)


def test_v1_bodies_refuse_lone_surrogates_and_keep_real_pairs(web, shop):
    _, h = shop
    raw = b'{"items": [{"item_id": 77, "title": "caf\\u00e9 \\ud83d\\ude00"}]}'     # a real pair: accepted
    r = web.client.put("/v1/items-bulk/properties/", headers={**h, "Content-Type": "application/json"}, content=raw)
    assert r.status_code == 200, r.text
    assert web.client.get("/v1/items/77/properties/", headers=h).json()["item"]["title"] == "café 😀"
    for bad in (b'{"items": [{"item_id": 78, "title": "x\\ud800"}]}',        # an escaped lone surrogate
                b'{"items": [{"item_id": 78, "title": "x\\uDC00y"}]}',
                b'{"items": [{"item_id": 78, "title": "x\xed\xa0\x80"}]}',    # its UTF-8 bytes
                b'{"items": [], "x": {"\\ud800": 1}}'):                       # in a key
        r = web.client.put("/v1/items-bulk/properties/", headers={**h, "Content-Type": "application/json"},
                           content=bad)
        assert_envelope(r, 400, "InvalidBody")
    assert_envelope(web.client.get("/v1/items/78/properties/", headers=h), 404)


@pytest.mark.parametrize("path, body, missing", [
    ("/v1/items-properties/", {"property_name": "x", "repeated": False}, "value_type"),
    ("/v1/users-properties/", {"value_type": "int32"}, "property_name"),
    ("/v1/databases/", {"description": "d", "item_id_type": "uint32", "user_id_type": "uuid"}, "name"),
    ("/v1/login/refresh-token/", {}, "refresh_token"),
    ("/v1/login/individual/", {"email": ROOT_EMAIL}, "password"),
    ("/v1/accounts/service/", {"role": "backend"}, "name"),
])
def test_a_missing_required_field_is_named(web, shop, path, body, missing):
    _, h = shop
    body_ = assert_envelope(web.client.post(path, headers=h, json=body), 400, "MissingParameter", "MISSING_PARAMETER")
    assert body_["error_data"]["key"] == missing


def test_an_echoed_warnings_field_is_not_an_argument(web, shop):
    _, h = shop
    r = web.client.post("/v1/items-properties/", headers=h,
                        json={"property_name": unique("w"), "value_type": "int32", "repeated": False, "warnings": []})
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("page, status", [("18446744073709551616", 400), ("\u00b2", 400), ("1" + "0" * 17, 200)])
def test_page_numbers_beyond_any_row(web, shop, page, status):
    _, h = shop
    r = web.client.get("/v1/databases/", headers=h, params={"page": page, "amt": "64"})
    if status == 200:
        assert r.status_code == 200 and r.json()["databases"] == [] and r.json()["has_next"] is False, r.text
    else:
        assert_envelope(r, 400, "InvalidParameter", "WRONG_DATA_TYPE")
