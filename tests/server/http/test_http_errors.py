"""The unified error envelope on every route: missing and bad credentials, unknown paths,
wrong methods, malformed bodies, wrong content types, 500s without internals; the SQL
paths' FeatureBase contract (200 + "error", or the envelope for problem+json callers);
another org's ids answer 404 exactly like unknown ones."""
from __future__ import annotations

import re
import uuid

import pytest

from http_testlib import ENVELOPE_KEYS, assert_envelope, bearer, unique
from server import http_app, policy
from server.service import roles

BODY_ENDPOINTS = [ep for ep in http_app.ENDPOINTS if ep.method in ("POST", "PUT")]
SQL_HANDLERS = {"sql", "sql_compat_database", "sql_compat"}
ALL_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")


def _concrete(path: str) -> str:
    """A path template with every parameter filled by a syntactically valid id."""
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


def _public(ep: http_app.Endpoint) -> bool:
    return ep.operation is None or policy.POLICY[ep.operation].public


# The featurebase client's paths are open on loopback: test_sql_paths_without_credentials_on_loopback.
@pytest.mark.parametrize("ep", [ep for ep in http_app.ENDPOINTS if not _public(ep)
                                and ep.handler not in ("sql_compat_database", "sql_compat")],
                         ids=lambda ep: f"{ep.method} {ep.path}")
def test_no_credentials_is_401_missing_token(web, ep):
    kwargs = {"content": "SELECT 1", "headers": {"Content-Type": "text/plain"}} if ep.handler == "sql" else \
        {"json": {}} if ep.method in ("POST", "PUT") else {}
    body = assert_envelope(web.client.request(ep.method, _concrete(ep.path), **kwargs), 401,
                           "MissingAuthenticationToken")
    assert body["error_name"] == "AuthError" and body["error_code"] == 21


@pytest.mark.parametrize("ep", [ep for ep in http_app.ENDPOINTS if not _public(ep)],
                         ids=lambda ep: f"{ep.method} {ep.path}")
def test_garbage_token_is_401_unauthorized(web, ep):
    kwargs = {"content": "SELECT 1", "headers": {"Content-Type": "text/plain"}} if ep.handler in SQL_HANDLERS \
        else {"json": {}} if ep.method in ("POST", "PUT") else {}
    kwargs.setdefault("headers", {}).update(bearer("not-a-jwt"))
    assert_envelope(web.client.request(ep.method, _concrete(ep.path), **kwargs), 401, "Unauthorized")


def test_other_authorization_schemes_are_401(web):
    for header in ("Basic cm9vdDpwdw==", "Bearer", "Token abc"):
        assert_envelope(web.client.get("/v2/users/current", headers={"Authorization": header}), 401, "Unauthorized")


@pytest.mark.parametrize("ep", [ep for ep in BODY_ENDPOINTS if ep.handler not in SQL_HANDLERS],
                         ids=lambda ep: f"{ep.method} {ep.path}")
def test_malformed_json_and_wrong_content_type_are_400(web, ep):
    headers = {} if _public(ep) else dict(web.root.headers)
    url = _concrete(ep.path)
    for raw in (b"{", b"[1, 2]", b"", b'{"a": NaN}', b"\xff\xfe", b"[" * 100_000):
        resp = web.client.request(ep.method, url, content=raw, headers={**headers, "Content-Type": "application/json"})
        assert_envelope(resp, 400, "InvalidBody", "INVALID_BODY")
    for media in ("text/html", "application/x-www-form-urlencoded", "text/plain"):
        resp = web.client.request(ep.method, url, content=b"{}", headers={**headers, "Content-Type": media})
        assert_envelope(resp, 400, "InvalidContentType", "INVALID_CONTENT_TYPE")
    resp = web.client.request(ep.method, url, content=b"\xc1", headers={**headers,
                                                                        "Content-Type": "application/msgpack"})
    assert_envelope(resp, 400, "InvalidBody")
    resp = web.client.request(ep.method, url, json={"surely_not_a_field": 1}, headers=headers)
    assert_envelope(resp, 400, "InvalidParameter", "UNKNOWN_FIELD")


@pytest.mark.parametrize("path", sorted({ep.path for ep in http_app.ENDPOINTS}))
def test_wrong_method_is_405_with_allow(web, path):
    url = _concrete(path)
    # /v2/users/current is also /v2/users/{user_id} (an id that never exists) for PUT/DELETE
    allowed = {ep.method for ep in http_app.ENDPOINTS
               if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", ep.path), url)}
    for method in ALL_METHODS:
        if method in allowed:
            continue
        resp = web.client.request(method, url, headers=web.root.headers)
        body = assert_envelope(resp, 405, "MethodNotAllowed", "METHOD_NOT_ALLOWED")
        assert body["error_code"] == 70
        assert set(resp.headers["allow"].split(", ")) >= allowed


@pytest.mark.parametrize("path", ["/nope", "/v2", "/v2/nope", "/v2/databases/x/y/z", "/v1/nope/", "/index/i/query",
                                  "/v2/users/current/extra", "//v2/users"])
def test_unknown_paths_are_404(web, path):
    for method in ("GET", "POST"):
        assert_envelope(web.client.request(method, path, headers=web.root.headers), 404, "ResourceNotFound",
                        "ROUTE_NOT_FOUND")


def test_internal_errors_are_500_without_details(web, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret /srv/roarbase/meta.db exploded")

    monkeypatch.setattr(roles, "get_role", broken)
    resp = web.client.get("/v2/roles/root", headers=web.root.headers)
    body = assert_envelope(resp, 500, "InternalServerError")
    assert "secret" not in resp.text and "meta.db" not in resp.text and "Traceback" not in resp.text
    assert body["message"] == "internal server error" and body["error_name"] == "ServerError"
    rid = body["error_data"]["request_id"]
    assert any(rid in r.getMessage() and r.exc_info for r in caplog.records), "the log must name the request"


def test_errors_in_msgpack_when_asked(web):
    import msgpack

    resp = web.client.get("/v2/users/current", headers={"Accept": "application/msgpack"})
    assert resp.status_code == 401 and resp.headers["content-type"] == "application/msgpack"
    assert ENVELOPE_KEYS <= set(msgpack.unpackb(resp.content, raw=False))


# -- the SQL paths ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def table_db(web):
    db = web.database()
    assert web.sql(db["id"], "CREATE TABLE t (_id ID, n INT)").status_code == 200
    return db


SQL_ERRORS = [
    # (statement, problem+json status, code, name)
    ("SELEC 1", 400, "BadRequest", "QUERY_SYNTAX_ERROR"),
    ("SELECT nope FROM t", 422, "QueryExecutionError", "COLUMN_NOT_FOUND"),
    ("SELECT * FROM missing", 422, "QueryExecutionError", "TABLE_NOT_FOUND"),
    ("CREATE TABLE t (_id ID)", 409, "ResourceAlreadyExists", "INDEX_EXISTS"),
    ("ALTER TABLE t DROP COLUMN zz", 404, "ResourceNotFound", "FIELD_NOT_FOUND"),
    ("INSERT INTO t (_id, n) VALUES (-1, 1)", 400, "InvalidParameter", "KEYS_MISMATCH"),
    ("", 400, "MissingParameter", "MISSING_PARAMETER"),
]


@pytest.mark.parametrize("text,status,code,name", SQL_ERRORS)
def test_sql_errors_are_200_for_text_callers_and_envelopes_for_problem_json(web, table_db, text, status, code,
                                                                             name):
    resp = web.sql(table_db["id"], text)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"error", "code", "error_data", "execution-time"} and body["error"]
    assert isinstance(body["execution-time"], int)
    # the machine-readable code travels too, with the finer name and the request id
    assert body["code"] == code and body["error_data"]["name"] == name
    assert body["error_data"]["request_id"] == resp.headers["x-request-id"]
    resp = web.sql(table_db["id"], text, headers={"Accept": "application/problem+json"})
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["message"] == body["error"]
    assert_envelope(resp, status, code, name)


def test_sql_transport_errors_keep_their_status(web, table_db):
    h = web.root.headers
    assert_envelope(web.sql(str(uuid.uuid4()), "SELECT 1"), 404, "ResourceNotFound", "DB_NOT_FOUND")
    assert_envelope(web.sql("not-an-id", "SELECT 1"), 404, "ResourceNotFound")
    resp = web.client.post(f"/v2/databases/{table_db['id']}/query/sql", content=b"SELECT 1",
                           headers={**h, "Content-Type": "application/json"})
    assert_envelope(resp, 400, "InvalidContentType")
    resp = web.client.post(f"/v2/databases/{table_db['id']}/query/sql", content=b"SELECT '\xff'",
                           headers={**h, "Content-Type": "text/plain"})
    assert_envelope(resp, 400, "InvalidBody")
    frontend = web.member("frontend")
    assert_envelope(web.sql(table_db["id"], "INSERT INTO t (_id, n) VALUES (5, 5)", who=frontend), 401,
                    "Unauthorized", "FORBIDDEN")
    too_long = "SELECT 1 -- " + "x" * web.ctx.config.limits.max_query_bytes
    assert_envelope(web.sql(table_db["id"], too_long), 413, "PayloadTooLarge", "QUERY_TOO_LARGE")


def test_sql_on_a_database_being_deleted_is_409(web):
    db = web.database()
    web.ctx.store.execute("UPDATE databases SET state = 'BACKUP' WHERE id = ?", (db["id"],))
    try:
        assert web.sql(db["id"], "SHOW TABLES").status_code == 200  # BACKUP answers reads
        assert_envelope(web.sql(db["id"], "CREATE TABLE w (_id ID)"), 409, "IncorrectState", "DATABASE_NOT_RUNNING")
        assert_envelope(web.client.delete(f"/v2/databases/{db['id']}", headers=web.root.headers), 409,
                        "IncorrectState")
    finally:
        web.ctx.store.execute("UPDATE databases SET state = 'RUNNING' WHERE id = ?", (db["id"],))


def test_sql_paths_without_credentials_on_loopback(web, table_db):
    text = {"Content-Type": "text/plain"}
    resp = web.client.post(f"/databases/{table_db['id']}/query/sql", content="SELECT count(*) FROM t", headers=text)
    assert resp.status_code == 200 and resp.json()["data"] == [[0]]
    assert web.client.post("/sql", content="SHOW TABLES", headers=text).status_code == 200
    # the v2 path always needs credentials, and bad ones are refused on every path
    assert_envelope(web.client.post(f"/v2/databases/{table_db['id']}/query/sql", content="SELECT 1",
                                    headers=text), 401, "MissingAuthenticationToken")
    for path in ("/sql", f"/databases/{table_db['id']}/query/sql"):
        assert_envelope(web.client.post(path, content="SELECT 1", headers={**text, "X-API-Key": "rbk_bad"}), 401,
                        "Unauthorized")


def test_sql_without_credentials_off_loopback_is_401(tmp_path):
    from http_testlib import InProcess

    closed = InProcess(tmp_path / "data", open_loopback_sql=False)
    try:
        for path in ("/sql", f"/databases/{uuid.uuid4()}/query/sql"):
            assert_envelope(closed.client.post(path, content="SELECT 1", headers={"Content-Type": "text/plain"}),
                            401, "MissingAuthenticationToken")
    finally:
        closed.close()


def test_pql_errors_use_the_envelope(web, table_db):
    url, h = f"/v2/databases/{table_db['id']}/query/pql", web.root.headers
    assert_envelope(web.client.post(url, headers=h, json={"table": "t", "statement": "Count(All("}), 400,
                    "BadRequest", "QUERY_SYNTAX_ERROR")
    assert_envelope(web.client.post(url, headers=h, json={"table": "t", "statement": "Count(Row(nope=1))"}), 422,
                    "QueryExecutionError")
    assert_envelope(web.client.post(url, headers=h, json={"table": "nope", "statement": "Count(All())"}), 404,
                    "ResourceNotFound")
    assert_envelope(web.client.post(url, headers=h, json={"table": "t"}), 400, "MissingParameter")
    assert_envelope(web.client.post(f"/v2/databases/{uuid.uuid4()}/query/pql", headers=h,
                                    json={"table": "t", "statement": "Count(All())"}), 404, "ResourceNotFound", "DB_NOT_FOUND")
    frontend = web.member("frontend")
    assert_envelope(web.client.post(url, headers=frontend.headers, json={"table": "t", "statement": "Set(1, n=1)"}),
                    401, "Unauthorized", "FORBIDDEN")
    assert web.client.post(url, headers=h, json={"table": "t", "statement": "Count(All())"}).json() == {"results": [0]}


# -- org isolation ----------------------------------------------------------------------------

def _comparable(body):
    data = {k: v for k, v in body["error_data"].items() if k not in ("request_id", "key")}
    return {**body, "error_data": data}


def test_other_orgs_ids_are_404_like_unknown_ones(web, table_db):
    other = web.other_org()
    mine = web.root
    member = web.member("backend")
    invite = web.client.post("/v2/invites", headers=mine.headers, json={"email": unique("iso-") + "@example.com"})
    invite_id = invite.json()["id"]
    svc = web.client.post("/v2/users", headers=mine.headers, json={"kind": "service", "name": unique("iso-svc-")})
    key_id = web.client.post("/v2/api-keys", headers=mine.headers, json={"account_id": svc.json()["id"]}).json()["id"]
    cases = [
        ("GET", "/v2/databases/{}", table_db["id"], {}),
        ("PUT", "/v2/databases/{}", table_db["id"], {"json": {"description": "mine now"}}),
        ("DELETE", "/v2/databases/{}", table_db["id"], {}),
        ("POST", "/v2/databases/{}/query/sql", table_db["id"],
         {"content": "SELECT count(*) FROM t", "headers": {"Content-Type": "text/plain"}}),
        ("POST", "/v2/databases/{}/query/pql", table_db["id"], {"json": {"table": "t", "statement": "Count(All())"}}),
        ("GET", "/v2/users/{}", member.id, {}),
        ("PUT", "/v2/users/{}", member.id, {"json": {"firstname": "x"}}),
        ("DELETE", "/v2/users/{}", member.id, {}),
        ("POST", "/v2/users/{}/roles", member.id, {"json": {"rolenames": ["frontend"]}}),
        ("GET", "/v2/invites/{}", invite_id, {}),
        ("PUT", "/v2/invites/{}", invite_id, {"json": {"accepted": True}}),
        ("DELETE", "/v2/invites/{}", invite_id, {}),
        ("GET", "/v2/orgs/{}", mine.org_id, {}),
        ("PUT", "/v2/orgs/{}", mine.org_id, {"json": {"name": "taken"}}),
        ("DELETE", "/v2/api-keys/{}", key_id, {}),
    ]
    for method, template, ident, kwargs in cases:
        kw = dict(kwargs)
        kw["headers"] = {**kw.get("headers", {}), **other.headers}
        theirs = assert_envelope(web.client.request(method, template.format(ident), **kw), 404, "ResourceNotFound")
        unknown = assert_envelope(web.client.request(method, template.format(uuid.uuid4()), **kw), 404,
                                  "ResourceNotFound")
        assert _comparable(theirs) == _comparable(unknown), (method, template)
    # and nothing of org A changed
    assert web.client.get(f"/v2/databases/{table_db['id']}", headers=mine.headers).json()["database_status"] \
        == "RUNNING"
    assert web.client.get(f"/v2/users/{member.id}", headers=mine.headers).status_code == 200
    assert web.client.get(f"/v2/invites/{invite_id}", headers=mine.headers).json()["accepted"] is False


def test_a_client_that_goes_away_cancels_its_query(web, monkeypatch):
    """The app is driven as a server would: the body, then http.disconnect while the
    query runs; the engine stops between shards instead of finishing them all."""
    import asyncio
    import time

    from engine import executor

    db = web.database()
    web.sql(db["id"], "CREATE TABLE big (_id ID, n INT)")
    rows = ", ".join(f"({k << 20}, {k + 1})" for k in range(12))  # one record in each of 12 shards
    assert web.sql(db["id"], f"INSERT INTO big (_id, n) VALUES {rows}").json()["rows-affected"] == 12
    seen: list[int] = []

    def slow_shard(shard: int) -> None:
        seen.append(shard)
        time.sleep(0.2)

    monkeypatch.setattr(executor, "shard_hook", slow_shard)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": f"/v2/databases/{db['id']}/query/sql", "raw_path": b"", "query_string": b"", "root_path": "",
             "headers": [(b"authorization", f"Bearer {web.root.token}".encode()), (b"content-type", b"text/plain")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}

    async def run() -> tuple[float, list[dict]]:
        messages = [{"type": "http.request", "body": b"SELECT count(*) FROM big WHERE n > 0", "more_body": False}]
        sent: list[dict] = []

        async def receive() -> dict:
            if messages:
                return messages.pop(0)
            await asyncio.sleep(0.3)
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)

        started = time.monotonic()
        await web.app(scope, receive, send)
        return time.monotonic() - started, sent

    elapsed, sent = asyncio.run_coroutine_threadsafe(run(), web.client.loop).result(30)
    assert sent[0]["status"] == 408  # to nobody: the client is gone
    assert len(seen) < 12 and elapsed < 1.0, (len(seen), elapsed)


def test_a_busy_server_answers_429_with_retry_after(tmp_path, monkeypatch):
    """Admission control: with every worker busy and no queue, a request is refused at once."""
    import asyncio
    import time

    from engine import executor
    from http_testlib import InProcess

    busy = InProcess(tmp_path / "data", workers=1, max_pending=0)
    try:
        db = busy.database()
        busy.sql(db["id"], "CREATE TABLE b (_id ID, n INT)")
        busy.sql(db["id"], "INSERT INTO b (_id, n) VALUES (1, 1), (1048576, 2)")
        monkeypatch.setattr(executor, "shard_hook", lambda shard: time.sleep(0.5))
        slow = asyncio.run_coroutine_threadsafe(busy.client.client.post(
            f"/v2/databases/{db['id']}/query/sql", content="SELECT count(*) FROM b WHERE n > 0",
            headers={**busy.root.headers, "Content-Type": "text/plain"}), busy.client.loop)
        deadline = time.monotonic() + 5
        while busy.rt.inflight == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        resp = busy.client.get("/v2/users/current", headers=busy.root.headers)
        body = assert_envelope(resp, 429, "RequestLimitExceeded", "SERVER_BUSY")
        assert resp.headers["retry-after"] == "1" and body["error_name"] == "TooManyRequests"
        assert slow.result(30).status_code == 200
    finally:
        busy.close()
