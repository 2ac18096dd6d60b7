"""Every route of the HTTP face answers its happy path with the documented status and
shape (in process; the wire is tests/server/http/test_http_wire.py)."""
from __future__ import annotations

import os
import time

import msgpack
import pytest

from http_testlib import PASSWORD, ROOT_EMAIL, ROOT_PASSWORD, assert_envelope, bearer, check_documented, \
    route_of, unique
from server import http_app, openapi

DOC = openapi.document()


def _ok(resp, status):
    assert resp.status_code == status, (resp.request.method, resp.request.url, resp.status_code, resp.text)
    check_documented(DOC, resp)
    return resp.json() if resp.content else None


def _wait_state(web, db_id, state, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        body = web.client.get(f"/v2/databases/{db_id}", headers=web.root.headers).json()
        if body["database_status"] == state or time.monotonic() > deadline:
            return body
        time.sleep(0.02)


def _cluster_database(web) -> str:
    """A database of the in-process server whose records live on two loopback cluster
    workers (engine LoopbackTransport), with one record on each of shards 0-3."""
    import engine
    from engine.cluster.coordinator import Cluster
    from engine.cluster.transport import LoopbackTransport

    ctx = web.ctx

    def on_loopback(database_id: str):
        root = os.path.join(ctx.config.data_dir, "cluster", database_id)
        transport = LoopbackTransport(root, [f"{database_id[:8]}-w0", f"{database_id[:8]}-w1"], fsync=False)
        return engine.open(ctx.engine_path(database_id), fsync=False, cluster=Cluster(transport, root, fsync=False))

    ctx._open_engine = on_loopback
    try:
        db = web.database()
        holder = ctx.engine(db["id"])
    finally:
        del ctx._open_engine
    ix = holder.create_index("t")
    ix.create_field("f")
    ix.import_values("f", [s << 20 for s in range(4)], [1] * 4)
    return str(db["id"])


def test_every_route_happy_path(web):
    """One walk through every endpoint; the last assertion checks none was skipped."""
    c, root = web.client, web.root
    h = root.headers
    start = len(c.log)

    # auth: token, refresh, logout; the document
    pair = _ok(c.post("/v2/auth/token", json={"email": ROOT_EMAIL, "password": ROOT_PASSWORD}), 200)
    assert pair["role"] == "root" and pair["expires_in"] > 0
    pair2 = _ok(c.post("/v2/auth/refresh", json={"refresh_token": pair["refresh_token"]}), 200)
    assert pair2["refresh_token"] != pair["refresh_token"]
    assert _ok(c.post("/v2/auth/logout", json={"refresh_token": pair2["refresh_token"]}), 200) == {"revoked": 1}
    assert _ok(c.get("/openapi.json"), 200)["openapi"].startswith("3.1")

    # org and service properties
    org = _ok(c.get(f"/v2/orgs/{root.org_id}", headers=h), 200)
    assert org["id"] == root.org_id and "tech_contact_emali" in org
    org = _ok(c.put(f"/v2/orgs/{root.org_id}", headers=h,
                    json={"company_name": "Acme Inc", "tech_contact_emali": "tech@example.com",
                          "metadata": {"tier": "gold"}}), 202)
    assert org["company_name"] == "Acme Inc" and org["tech_contact_emali"] == "tech@example.com"
    assert org["metadata"] == {"tier": "gold"}
    for prop in ("database:shapes", "database:limits", "source:limits", "cluster:placement"):
        body = _ok(c.get(f"/v2/service-properties/{prop}", headers=h), 200)
        assert body["property"] == prop and body["org_id"] == root.org_id
    assert c.get("/v2/service-properties/cluster:placement", headers=h).json()["value"] == \
        {"ray": False, "databases": []}                          # no Ray cluster configured
    limits = c.get("/v2/service-properties/database:limits", headers=h).json()["value"]
    assert limits["max_payload_bytes"] == web.ctx.config.limits.max_payload_bytes

    # roles
    role = unique("analyst-")
    assert _ok(c.post("/v2/roles", headers=h, json={"rolename": role, "acl": ["databases:read"]}), 201)["acl"] \
        == ["databases:read"]
    names = [r["rolename"] for r in _ok(c.get("/v2/roles", headers=h, params={"limit": 64}), 200)["resources"]]
    assert {"root", "manager", "backend", "frontend", role} <= set(names)
    assert _ok(c.get(f"/v2/roles/{role}", headers=h), 200)["rolename"] == role
    assert _ok(c.put(f"/v2/roles/{role}", headers=h, json={"acl": ["databases:read", "query:execute"]}),
               202)["acl"] == ["databases:read", "query:execute"]

    # users
    email = unique("frank-") + "@example.com"
    user = _ok(c.post("/v2/users", headers=h, json={"email": email, "firstname": "Frank", "lastname": "F",
                                                    "role": "frontend", "password": PASSWORD}), 201)
    assert user["primary_email"] == email and user["role"] == "frontend" and user["status"] == "Active"
    listed = _ok(c.get("/v2/users", headers=h, params={"limit": 64}), 200)
    assert user["id"] in {u["id"] for u in listed["resources"]}
    assert _ok(c.get("/v2/users/current", headers=h), 200)["id"] == root.id
    assert _ok(c.get(f"/v2/users/{user['id']}", headers=h), 200)["firstname"] == "Frank"
    assert _ok(c.put(f"/v2/users/{user['id']}", headers=h, json={"lastname": "Franklin"}), 202)["lastname"] \
        == "Franklin"
    given = _ok(c.post(f"/v2/users/{user['id']}/roles", headers=h, json={"rolenames": [role]}), 201)
    assert given["user_id"] == user["id"] and role in given["rolenames"]
    assert _ok(c.delete(f"/v2/roles/{role}", headers=h), 202) is None
    assert _ok(c.delete(f"/v2/users/{user['id']}", headers=h), 204) is None
    assert_envelope(c.get(f"/v2/users/{user['id']}", headers=h), 404, "ResourceNotFound")

    # invites: created, read, listed, closed, deleted; another accepted by a newcomer
    invite = _ok(c.post("/v2/invites", headers=h, json={"email": unique("inv-") + "@example.com"}), 201)
    assert invite["accepted"] is False and invite["org_id"] == root.org_id
    assert _ok(c.get(f"/v2/invites/{invite['id']}", headers=h), 200)["id"] == invite["id"]
    assert invite["id"] in {i["id"] for i in _ok(c.get("/v2/invites", headers=h, params={"limit": 64}),
                                                    200)["resources"]}
    assert _ok(c.put(f"/v2/invites/{invite['id']}", headers=h, json={"accepted": True}), 202)["accepted"] is True
    assert _ok(c.delete(f"/v2/invites/{invite['id']}", headers=h), 204) is None
    newcomer = unique("new-") + "@example.com"
    invite = _ok(c.post("/v2/invites", headers=h, json={"email": newcomer, "role": "frontend"}), 201)
    joined = _ok(c.post(f"/v2/invites/{invite['id']}/action/accept",
                        json={"email": newcomer, "password": PASSWORD, "firstname": "New"}), 201)
    assert joined["org_id"] == root.org_id and joined["role"] == "frontend"
    assert web.login(newcomer, PASSWORD).role == "frontend"

    # moving to another org by its invite
    mover = web.member("backend")
    other = web.other_org()
    invite = _ok(c.post("/v2/invites", headers=other.headers, json={"email": mover.email}), 201)
    moved = _ok(c.post(f"/v2/users/{mover.id}/action/invite", headers=mover.headers,
                       json={"invite_id": invite["id"]}), 202)
    assert moved["org_id"] == other.org_id

    # databases
    db = _ok(c.post("/v2/databases", headers=h, json={"name": unique("sales-"), "database_options": {"shape": "x"},
                                                      "description": "d"}), 201)
    assert db["database_status"] == "RUNNING" and db["database_options"] == {"shape": "x"}
    assert db["id"] in {d["id"] for d in _ok(c.get("/v2/databases", headers=h, params={"limit": 64}),
                                             200)["resources"]}
    assert _ok(c.get(f"/v2/databases/{db['id']}", headers=h), 200)["name"] == db["name"]
    renamed = unique("renamed-")
    assert _ok(c.put(f"/v2/databases/{db['id']}", headers=h, json={"name": renamed}), 202)["name"] == renamed

    # queries: SQL on the v2 path, the featurebase client's path and /sql; PQL
    sql = f"/v2/databases/{db['id']}/query/sql"
    text = {"Content-Type": "text/plain"}
    created = _ok(c.post(sql, headers={**h, **text}, content="CREATE TABLE t (_id ID, n INT, s STRING)"), 200)
    assert created["rows-affected"] == 0 and created["schema"] == {"fields": []}
    inserted = _ok(c.post(sql, headers={**h, **text},
                          content="INSERT INTO t (_id, n, s) VALUES (1, 10, 'a'), (2, 20, 'b')"), 200)
    assert inserted["rows-affected"] == 2
    rows = _ok(c.post(sql, headers={**h, **text}, content="SELECT _id, n, s FROM t ORDER BY _id"), 200)
    assert rows["data"] == [[1, 10, "a"], [2, 20, "b"]]
    assert [f["name"] for f in rows["schema"]["fields"]] == ["_id", "n", "s"]
    assert rows["warnings"] == [] and isinstance(rows["execution-time"], int)
    fb = _ok(c.post(f"/databases/{db['id']}/query/sql", headers=text, content="SELECT count(*) FROM t"), 200)
    assert fb["data"] == [[2]]
    pql = _ok(c.post(f"/v2/databases/{db['id']}/query/pql", headers=h,
                     json={"table": "t", "statement": "Count(All())"}), 200)
    assert pql == {"results": [2]}
    compat = _ok(c.post("/sql", headers=text, content="SHOW TABLES"), 200)
    assert "data" in compat
    recent = _ok(c.get("/v2/queries", headers=h, params={"database_id": db["id"], "limit": 2}), 200)
    assert [(q["language"], q["statement"], q["status"]) for q in recent["resources"]] == [
        ("pql", "Count(All())", "ok"), ("sql", "SELECT count(*) FROM t", "ok")] and recent["next"]

    # API keys for a service account: create, list, use on a query path, revoke
    svc = _ok(c.post("/v2/users", headers=h, json={"kind": "service", "name": unique("etl-"), "role": "backend"}),
              201)
    key = _ok(c.post("/v2/api-keys", headers=h, json={"account_id": svc["id"], "label": "etl"}), 201)
    assert key["key"].startswith("rbk_") and key["revoked"] is False
    assert key["id"] in {k["id"] for k in _ok(c.get("/v2/api-keys", headers=h,
                                                    params={"account_id": svc["id"]}), 200)["resources"]}
    assert c.post(sql, headers={**text, "X-API-Key": key["key"]}, content="SELECT count(*) FROM t").json()["data"] \
        == [[2]]
    assert _ok(c.delete(f"/v2/api-keys/{key['id']}", headers=h), 200)["revoked"] is True
    assert_envelope(c.post(sql, headers={**text, "X-API-Key": key["key"]}, content="SELECT 1"), 401, "Unauthorized")

    # deletion: 202 DELETING, then DELETED once the files are gone
    # cluster membership, on a database whose records live on two loopback cluster workers
    clu = _cluster_database(web)
    base = f"/v2/databases/{clu}/cluster"
    added = _ok(c.post(f"{base}/workers", headers=h, json={"name": "w2"}), 200)
    assert added["worker"] == f"{clu[:8]}-w2" and sum(added["workers"].values()) == 4
    assert {m["shard"] for m in added["moved"]} == {s for s, w in web.ctx.engine(clu).cluster.table.placed("t").items()
                                                     if w == added["worker"]}
    removed = _ok(c.delete(f"{base}/workers/w0", headers=h), 200)
    assert f"{clu[:8]}-w0" not in removed["workers"] and removed["epoch"] > added["epoch"]
    even = _ok(c.post(f"{base}/action/rebalance", headers=h, json={}), 200)
    assert sorted(even["workers"].values()) == [2, 2]
    assert web.ctx.engine(clu).query("t", "Count(All())") == [4]

    deleting = _ok(c.delete(f"/v2/databases/{db['id']}", headers=h), 202)
    assert deleting["database_status"] in ("DELETING", "DEPROVISIONING", "DELETED")
    assert _wait_state(web, db["id"], "DELETED")["database_status"] == "DELETED"

    hit = {(r.request.method, route_of(r.request.url.path), r.status_code) for r in c.log[start:]}
    missing = [(ep.method, ep.path) for ep in http_app.ENDPOINTS if (ep.method, ep.path, ep.status) not in hit]
    assert not missing, f"endpoints without a happy path here: {missing}"


def test_trailing_slash_is_stripped_never_redirected(web):
    h = web.root.headers
    for path in ("/v2/databases/", "/v2/users/current/", f"/v2/orgs/{web.root.org_id}/"):
        resp = web.client.get(path, headers=h)
        assert resp.status_code == 200, resp.text
    resp = web.client.post("/v2/databases/", headers=h, json={"name": unique("slash-")})
    assert resp.status_code == 201, resp.text


def test_head_answers_like_get(web):
    resp = web.client.request("HEAD", "/v2/users/current", headers=web.root.headers)
    assert resp.status_code == 200


@pytest.mark.parametrize("accept", ["application/msgpack", "application/x-msgpack"])
def test_msgpack_responses_when_asked(web, accept):
    db = web.database()
    resp = web.sql(db["id"], "CREATE TABLE m (_id ID, d DECIMAL(2), ts TIMESTAMP, tags IDSET)")
    assert resp.json()["rows-affected"] == 0
    web.sql(db["id"], "INSERT INTO m (_id, d, ts, tags) VALUES (7, 2.50, '2021-02-03T04:05:06Z', [1, 2])")
    resp = web.sql(db["id"], "SELECT * FROM m", headers={"Accept": accept})
    assert resp.headers["content-type"] == "application/msgpack"
    body = msgpack.unpackb(resp.content, raw=False)
    assert body["data"] == [[7, 2.5, "2021-02-03T04:05:06Z", [1, 2]]]
    assert body["schema"]["fields"][1] == {"name": "d", "type": "decimal(2)", "base-type": "decimal",
                                           "type-info": {"scale": 2}}
    resp = web.client.get(f"/v2/databases/{db['id']}", headers={**web.root.headers, "Accept": accept})
    assert msgpack.unpackb(resp.content, raw=False)["id"] == db["id"]


def test_msgpack_request_bodies(web):
    body = msgpack.packb({"name": unique("packed-")})
    resp = web.client.post("/v2/databases", content=body,
                           headers={**web.root.headers, "Content-Type": "application/msgpack"})
    assert resp.status_code == 201, resp.text


def test_sql_json_keeps_decimals_and_times_exact(web):
    db = web.database()
    web.sql(db["id"], "CREATE TABLE x (_id ID, d DECIMAL(3), ts TIMESTAMP TIMEUNIT 'ms')")
    web.sql(db["id"], "INSERT INTO x (_id, d, ts) VALUES (1, 12345678901234.125, '2020-01-01T00:00:00.250Z'),"
                      " (2, 1.5, '2020-01-01T00:00:00Z')")
    resp = web.sql(db["id"], "SELECT d, ts FROM x ORDER BY _id")
    assert b"12345678901234.125" in resp.content and b"1.500" in resp.content
    assert resp.json()["data"][0][1] == "2020-01-01T00:00:00.25Z"


def test_login_by_name_and_scoped_to_a_database(web):
    db = web.database()
    resp = web.client.post("/v2/auth/token", json={"name": "rooty", "password": ROOT_PASSWORD,
                                                   "database": db["id"]})
    assert resp.status_code == 200, resp.text
    assert resp.json()["database"] == {"id": db["id"]}
    # a token scoped to one database sees only that one
    listed = web.client.get("/v2/databases", headers=bearer(resp.json()["token"])).json()["resources"]
    assert [d["id"] for d in listed] == [db["id"]]


def test_list_pagination(web):
    h = web.root.headers
    for _ in range(3):
        web.database()
    first = web.client.get("/v2/databases", headers=h, params={"limit": 2}).json()
    assert len(first["resources"]) == 2 and first["next"]
    second = web.client.get("/v2/databases", headers=h, params={"limit": 2, "next": first["next"]}).json()
    assert not {d["id"] for d in first["resources"]} & {d["id"] for d in second["resources"]}
    assert_envelope(web.client.get("/v2/databases", headers=h, params={"limit": "two"}), 400, "InvalidParameter")
    assert_envelope(web.client.get("/v2/databases", headers=h, params={"next": "garbage!"}), 400,
                    "InvalidParameter", "INVALID_PAGE_TOKEN")
