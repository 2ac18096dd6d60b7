"""The HTTP face over a real socket, against a real server subprocess (serverlib):
the unmodified featurebase 0.1.0 client end to end, the token → query flow, oversized
bodies rejected before they are read (R13), the per-org rate limit answering 429 with
Retry-After (R15's first half), forged tokens refused, and query deadlines."""
from __future__ import annotations

import json
import socket
import sqlite3
import time
from contextlib import closing

import featurebase
import httpx
import pytest

from http_testlib import ENVELOPE_KEYS, Member, assert_envelope, bearer, forged_tokens, genuine_token, unique, \
    wire_server

LIMIT = 16384  # limits.max_payload_bytes of the main test server


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with wire_server(tmp_path_factory.mktemp("wire") / "data", limits={"max_payload_bytes": LIMIT}) as server:
        yield server


@pytest.fixture(scope="module")
def http(srv):
    with httpx.Client(base_url=srv.http_url(), timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def root(srv, http):
    resp = http.post("/v2/auth/token", json={"email": srv.root_email, "password": srv.root_password})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    return Member(body["account_id"], body["org_id"], body["role"], srv.root_email, body["token"])


@pytest.fixture(scope="module")
def db(http, root):
    resp = http.post("/v2/databases", headers=root.headers, json={"name": unique("wire-")})
    assert resp.status_code == 201, resp.text
    return resp.json()


# -- the featurebase client ----------------------------------------------------------------

def test_featurebase_client_on_sql(srv):
    fb = featurebase.client(hostport=f"127.0.0.1:{srv.http_port}")
    table = unique("fbt")
    res = fb.query(f"CREATE TABLE {table} (_id ID, i1 INT, s1 STRING)")
    assert res.data == [] and res.rows_affected == 0
    res = fb.query(f"INSERT INTO {table}(_id, i1, s1) VALUES (1, 1, 'text1'), (2, 5, 'text2'), (3, 9, 'text3')")
    assert res.rows_affected == 3
    res = fb.query(f"SELECT * FROM {table}")
    assert sorted(res.data) == [[1, 1, "text1"], [2, 5, "text2"], [3, 9, "text3"]]
    assert [(f["name"], f["type"], f["base-type"]) for f in res.schema["fields"]] == \
        [("_id", "id", "id"), ("i1", "int", "int"), ("s1", "string", "string")]
    assert res.warnings == [] and isinstance(res.execution_time, int)
    assert fb.query(f"SELECT count(*) FROM {table}").data == [[3]]
    assert fb.query(f"SELECT max(i1) FROM {table}").data == [[9]]
    with pytest.raises(RuntimeError, match="not found"):
        fb.query("SELECT * FROM surely_not_a_table")
    with pytest.raises(RuntimeError, match="unexpected 'SELEC'"):
        fb.query("SELEC 1")
    results = fb.querybatch([f"SELECT count(*) FROM {table}"] * 6, asynchronous=True)
    assert [r.data for r in results] == [[[3]]] * 6
    fb.query(f"DROP TABLE {table}")
    with pytest.raises(RuntimeError, match="not found"):
        fb.query(f"SELECT count(*) FROM {table}")


def test_featurebase_client_with_a_database_id(srv, http, root, db):
    fb = featurebase.client(hostport=f"127.0.0.1:{srv.http_port}", database=db["id"])
    fb.query("CREATE TABLE people (_id ID, name STRING, age INT)")
    fb.query("INSERT INTO people (_id, name, age) VALUES (1, 'ann', 30), (2, 'bob', 40)")
    assert fb.query("SELECT count(*) FROM people WHERE age > 35").data == [[1]]
    # the same rows through the authenticated v2 path
    resp = http.post(f"/v2/databases/{db['id']}/query/sql", content="SELECT name FROM people ORDER BY _id",
                     headers={**root.headers, "Content-Type": "text/plain"})
    assert resp.json()["data"] == [["ann"], ["bob"]]
    with pytest.raises(RuntimeError, match="column 'nope' not found"):
        fb.query("SELECT nope FROM people")
    # an unknown database id is a transport error: the client sees urllib's HTTPError (404)
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as info:
        featurebase.client(hostport=f"127.0.0.1:{srv.http_port}", database=unique("no-such-db")).query("SELECT 1")
    info.value.close()
    assert info.value.code == 404


# -- the token → query flow (docs/http.md) ----------------------------------------------------

def test_token_then_query_flow(http, root, db):
    text = {"Content-Type": "text/plain"}
    url = f"/v2/databases/{db['id']}/query/sql/"  # a trailing slash is stripped, never redirected
    resp = http.post(url, content="CREATE TABLE flow (_id ID, n INT)", headers={**root.headers, **text})
    assert resp.status_code == 200 and resp.json()["rows-affected"] == 0
    resp = http.post(url, content="INSERT INTO flow (_id, n) VALUES (1, 2)", headers={**root.headers, **text})
    assert resp.json()["rows-affected"] == 1
    resp = http.post(f"/v2/databases/{db['id']}/query/pql", headers=root.headers,
                     json={"table": "flow", "statement": "Sum(field=n)"})
    assert resp.json()["results"][0]["value"] == 2
    assert resp.headers["x-request-id"]
    resp = http.get("/v2/databases", headers={**root.headers, "Accept": "application/msgpack"})
    assert resp.headers["content-type"] == "application/msgpack"
    spec = http.get("/openapi.json").json()
    assert spec["openapi"] == "3.1.0" and "/v2/databases/{database_id}/query/sql" in spec["paths"]


def test_api_key_on_sql_over_the_wire(http, root, db):
    svc = http.post("/v2/users", headers=root.headers, json={"kind": "service", "name": unique("wk-")}).json()
    key = http.post("/v2/api-keys", headers=root.headers, json={"account_id": svc["id"]}).json()["key"]
    resp = http.post("/sql", content="SHOW TABLES", headers={"Content-Type": "text/plain", "X-API-Key": key})
    assert resp.status_code == 200 and "data" in resp.json()
    resp = http.post("/sql", content="SHOW TABLES", headers={"Content-Type": "text/plain", "X-API-Key": key + "x"})
    assert_envelope(resp, 401, "Unauthorized")


# -- R13: oversized bodies ------------------------------------------------------------------

def _raw(srv, head: bytes, chunks=(), *, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes, float]:
    """Send a request head (and optional body pieces) on a fresh socket, then read the
    response: (status, headers, body, seconds until the response arrived)."""
    with closing(socket.create_connection(("127.0.0.1", srv.http_port), timeout=timeout)) as sock:
        started = time.monotonic()
        sock.sendall(head)
        for piece in chunks:
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):  # the server answered and closed
                break
        data = b""
        while b"\r\n\r\n" not in data:
            part = sock.recv(65536)
            if not part:
                break
            data += part
        elapsed = time.monotonic() - started
        head_raw, _, rest = data.partition(b"\r\n\r\n")
        lines = head_raw.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            part = sock.recv(65536)
            if not part:
                break
            rest += part
        return int(lines[0].split()[1]), headers, rest, elapsed


def _head(path: str, token: str, extra: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\n{extra}\r\n").encode()


def _check_413(status, headers, body):
    assert status == 413, (status, body)
    envelope = json.loads(body)
    assert ENVELOPE_KEYS <= set(envelope) and envelope["code"] == "PayloadTooLarge"
    assert envelope["error_data"]["name"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize("size", [LIMIT + 1, 10 * LIMIT, 1 << 40])
def test_content_length_over_the_limit_is_413_before_the_body(srv, root, size):
    # Only the head goes out: the answer must come without the server waiting for a body.
    status, headers, body, elapsed = _raw(srv, _head("/v2/databases", root.token, f"Content-Length: {size}\r\n"))
    _check_413(status, headers, body)
    assert elapsed < 5
    print(f"R13 http content-length={size}: status={status} seconds={elapsed:.3f}")


def test_chunked_body_growing_past_the_limit_is_413(srv, root):
    piece = b"x" * 4096
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * (LIMIT // len(piece) + 2)  # no terminating chunk
    status, headers, body, elapsed = _raw(srv, _head("/v2/databases", root.token, "Transfer-Encoding: chunked\r\n"),
                                          chunks)
    _check_413(status, headers, body)
    print(f"R13 http chunked>{LIMIT}: status={status} seconds={elapsed:.3f}")


def test_chunked_body_far_past_the_limit_is_413_on_sql(srv, root, db):
    piece = b"-" * 65536
    head = (f"POST /v2/databases/{db['id']}/query/sql HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {root.token}\r\nContent-Type: text/plain\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode()
    status, headers, body, _ = _raw(srv, head, [b"%x\r\n%s\r\n" % (len(piece), piece)] * 160)  # ~10 MiB offered
    _check_413(status, headers, body)


@pytest.mark.parametrize("chunked", [False, True])
def test_bodies_at_the_limit_are_read(srv, root, chunked):
    prefix = json.dumps({"name": unique("lim-"), "description": ""})[:-2]  # ...,"description": "
    pad = LIMIT - len(prefix) - 2
    body = (prefix + "d" * pad + '"}').encode()
    assert len(body) == LIMIT
    if chunked:
        head = _head("/v2/databases", root.token, "Transfer-Encoding: chunked\r\n")
        chunks = [b"%x\r\n%s\r\n" % (len(body[i:i + 5000]), body[i:i + 5000]) for i in range(0, LIMIT, 5000)]
        chunks.append(b"0\r\n\r\n")
    else:
        head, chunks = _head("/v2/databases", root.token, f"Content-Length: {LIMIT}\r\n"), [body]
    status, _, answer, _ = _raw(srv, head, chunks)
    # The body was read whole: the service judged it (the description is over its own cap).
    assert status == 400, answer
    assert json.loads(answer)["code"] == "InvalidParameter"


# -- forged tokens over the wire (R14) --------------------------------------------------------

def test_forged_tokens_are_refused(srv, http, root, db):
    with closing(sqlite3.connect(f"file:{srv.data_dir / 'meta.db'}?mode=ro", uri=True)) as meta:
        kid, secret = meta.execute("SELECT kid, secret FROM signing_keys ORDER BY created_at DESC, kid"
                                   " LIMIT 1").fetchone()
    # the key really is the server's: a token built like its own is accepted
    assert http.get("/v2/users/current", headers=bearer(genuine_token(root, kid, bytes(secret)))).status_code == 200
    for what, token in forged_tokens(root, kid, bytes(secret)).items():
        for method, path in (("GET", "/v2/databases"), ("GET", f"/v2/databases/{db['id']}"),
                             ("DELETE", f"/v2/databases/{db['id']}"), ("GET", "/v2/roles")):
            resp = http.request(method, path, headers=bearer(token))
            assert_envelope(resp, 401, "TokenExpired" if what == "expired" else "Unauthorized")
        resp = http.post("/sql", content="SHOW TABLES", headers={**bearer(token), "Content-Type": "text/plain"})
        assert_envelope(resp, 401)
    assert http.get(f"/v2/databases/{db['id']}", headers=root.headers).json()["database_status"] == "RUNNING"


# -- rate limit ----------------------------------------------------------------------------

def test_rate_limit_is_429_with_retry_after(tmp_path):
    with wire_server(tmp_path / "data", settings={"rate_per_org": 5, "rate_burst": 5}) as server, \
            httpx.Client(base_url=server.http_url(), timeout=30) as client:
        token = client.post("/v2/auth/token", json={"email": server.root_email,
                                                    "password": server.root_password}).json()["token"]
        statuses, limited = [], None
        for _ in range(30):
            resp = client.get("/v2/users/current", headers=bearer(token))
            statuses.append(resp.status_code)
            if resp.status_code == 429:
                limited = resp
        assert set(statuses) == {200, 429} and statuses[:5] == [200] * 5, statuses
        body = assert_envelope(limited, 429, "RequestLimitExceeded", "RATE_LIMITED")
        assert int(limited.headers["retry-after"]) >= 1 and body["error_name"] == "TooManyRequests"
        # the query paths are charged too, and the limit refills at its rate
        time.sleep(1.2)
        assert client.get("/v2/users/current", headers=bearer(token)).status_code == 200
        print(f"R15 http burst=30 rate=5: accepted={statuses.count(200)} limited={statuses.count(429)}")


# -- deadlines -----------------------------------------------------------------------------

def test_query_deadline_is_408(tmp_path):
    spec = {"limits": {"query_timeout_seconds": 0.5}, "shard_delay": 0.4}
    with wire_server(tmp_path / "data", **spec) as server, \
            httpx.Client(base_url=server.http_url(), timeout=30) as client:
        token = client.post("/v2/auth/token", json={"email": server.root_email,
                                                    "password": server.root_password}).json()["token"]
        h = {**bearer(token), "Content-Type": "text/plain"}
        db_id = client.post("/v2/databases", headers=bearer(token), json={"name": "slow"}).json()["id"]
        url = f"/v2/databases/{db_id}/query/sql"
        assert client.post(url, headers=h, content="CREATE TABLE s (_id ID, n INT)").status_code == 200
        shards = ", ".join(f"({k << 20}, {k})" for k in range(6))
        assert client.post(url, headers=h, content=f"INSERT INTO s (_id, n) VALUES {shards}").status_code == 200
        started = time.monotonic()
        resp = client.post(url, headers=h, content="SELECT count(*) FROM s WHERE n > 0")
        assert_envelope(resp, 408, "RequestTimeout")
        assert time.monotonic() - started < 2.0  # stopped between shards, not after all six
