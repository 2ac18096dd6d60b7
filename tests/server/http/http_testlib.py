"""Helpers for the HTTP face tests (tests/ has no __init__.py: basenames are unique).

`InProcess` is the Starlette app over a real service and Runtime in this process, driven
through httpx's ASGI transport on an event loop of its own — the bulk of the cases; the wire tests use a real server
subprocess (tests/server/serverlib.py).
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

import httpx
import jwt

import serverlib

from server import http_app, policy
from server.runtime import Runtime
from server.service import accounts, orgs
from server.service.bootstrap import open_service
from server.service.config import BootstrapSettings, Limits, PasswordHashing, ServiceConfig
from server.service.context import ServiceContext
from server.settings import ServerSettings

FAST_HASH = PasswordHashing(time_cost=1, memory_cost_kib=8, parallelism=1)
ROOT_EMAIL = "root@example.com"
ROOT_PASSWORD = "root-password-1"
PASSWORD = "member-password-1"
ENVELOPE_KEYS = {"code", "message", "error_code", "error_name", "error_data"}
_seq = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_seq)}"


def assert_envelope(resp: Any, status: int, code: Optional[str] = None, name: Optional[str] = None) -> dict[str, Any]:
    """The response is the unified error envelope with this status (and code / name)."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert ENVELOPE_KEYS <= set(body), body
    assert isinstance(body["error_data"], dict) and isinstance(body["error_data"].get("name"), str), body
    assert body["error_data"].get("request_id") == resp.headers.get("x-request-id"), body
    if code is not None:
        assert body["code"] == code, body
    if name is not None:
        assert body["error_data"]["name"] == name, body
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Member:
    """An account of some org with a live access token."""

    id: str
    org_id: str
    role: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


@contextlib.contextmanager
def wire_server(data_dir: Path, **spec: Any) -> Iterator[serverlib.ServerProcess]:
    """serverlib.running_server, with the subprocess's pipes closed once it has stopped
    (serverlib leaves them open, which warnings-as-errors reports; closing stderr while
    its reader thread still waits on it would block)."""
    srv = serverlib.start_server(data_dir, **spec)
    try:
        yield srv
    finally:
        try:
            code = srv.stop()
        finally:
            for pipe in (srv.proc.stdout, srv.proc.stderr):
                if pipe is not None:
                    pipe.close()
        assert code == 0, "the server exited with %s:\n%s" % (code, "".join(srv.stderr_lines))


class AsgiClient:
    """A synchronous httpx-style client for an ASGI app: requests run on an event loop in
    a thread of their own, as a server's would."""

    def __init__(self, app: Any, client: tuple[str, int] = ("127.0.0.1", 40000)) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="asgi-client", daemon=True)
        self.thread.start()
        transport = httpx.ASGITransport(app=app, client=client)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")
        self.log: list[httpx.Response] = []

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        resp = asyncio.run_coroutine_threadsafe(self.client.request(method, url, **kw), self.loop).result(60)
        self.log.append(resp)
        return resp

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)

    def put(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("PUT", url, **kw)

    def delete(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", url, **kw)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.client.aclose(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class InProcess:
    """A service on a data dir, a Runtime and the HTTP app, with a client."""

    def __init__(self, data_dir: Path, *, limits: Optional[Limits] = None, **settings: Any) -> None:
        config = ServiceConfig(str(data_dir), fsync=False, passwords=FAST_HASH, limits=limits or Limits(),
                               bootstrap=BootstrapSettings(org_name="acme", root_email=ROOT_EMAIL,
                                                           root_name="rooty", root_password=ROOT_PASSWORD))
        self.ctx: ServiceContext = open_service(config)
        self.rt = Runtime(self.ctx, ServerSettings(config, grpc_port=0, http_port=0, **settings))
        self.app = http_app.build_app(self.rt)
        self.client = AsgiClient(self.app)
        self.root = self.login(ROOT_EMAIL, ROOT_PASSWORD)

    def close(self) -> None:
        self.client.close()
        self.rt.close()
        self.ctx.close()

    # -- accounts and tokens ---------------------------------------------------------------

    def login(self, email: str, password: str) -> Member:
        resp = self.client.post("/v2/auth/token", json={"email": email, "password": password})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        return Member(body["account_id"], body["org_id"], body["role"], email, body["token"])

    def member(self, role: str, *, by: Optional[Member] = None) -> Member:
        """A new account of the root's org (or `by`'s) with a built-in role, logged in."""
        email = unique(f"{role}-") + "@example.com"
        resp = self.client.post("/v2/users", headers=(by or self.root).headers,
                                json={"email": email, "role": role, "password": PASSWORD})
        assert resp.status_code == 201, resp.text
        return self.login(email, PASSWORD)

    def other_org(self) -> Member:
        """The root of a second org (orgs are made by the bootstrap/CLI path only)."""
        org = orgs.create_org(self.ctx, name=unique("other-org-"))
        email = unique("other-root-") + "@example.com"
        accounts.insert_account(self.ctx, org_id=org.id, kind=accounts.INDIVIDUAL, role=policy.ROOT, email=email,
                                password=PASSWORD)
        return self.login(email, PASSWORD)

    def database(self, who: Optional[Member] = None, **body: Any) -> dict[str, Any]:
        body.setdefault("name", unique("db-"))
        resp = self.client.post("/v2/databases", headers=(who or self.root).headers, json=body)
        assert resp.status_code == 201, resp.text
        return resp.json()

    def sql(self, database_id: str, text: str, who: Optional[Member] = None, **kw: Any) -> Any:
        headers = {"Content-Type": "text/plain", **(who or self.root).headers, **kw.pop("headers", {})}
        return self.client.post(f"/v2/databases/{database_id}/query/sql", content=text, headers=headers, **kw)

    # -- forged tokens (R14) ---------------------------------------------------------------

    def signing_key(self) -> tuple[str, bytes]:
        row = self.ctx.store.one("SELECT kid, secret FROM signing_keys ORDER BY created_at DESC, kid LIMIT 1")
        return str(row["kid"]), bytes(row["secret"])


def _claims(member: Member, **extra: Any) -> dict[str, Any]:
    """Claims like the server's own (issuer and audience are the test servers' defaults);
    `extra` adds the /v1 login claims (db, eu, ss)."""
    now = int(time.time())
    return {"iss": "roarbase", "aud": "roarbase-api", "sub": member.id, "org": member.org_id, "role": member.role,
            "iat": now, "nbf": now, "exp": now + 600, "jti": unique("jti-"), **extra}


def genuine_token(member: Member, kid: str, secret: bytes, **extra: Any) -> str:
    """A token built like the server's own: the forged ones differ from it in one way."""
    return jwt.encode(_claims(member, **extra), secret, algorithm="HS256", headers={"kid": kid})


def forged_tokens(member: Member, kid: str, secret: bytes, **extra: Any) -> dict[str, str]:
    """Tokens for `member` (with `extra` claims) that must all be refused, one per name of
    FORGED: expired, bad signature, alg none, wrong audience."""
    claims = _claims(member, **extra)
    expired = dict(claims, iat=claims["iat"] - 7200, nbf=claims["iat"] - 7200, exp=claims["iat"] - 3600)
    return {
        "expired": jwt.encode(expired, secret, algorithm="HS256", headers={"kid": kid}),
        "bad_signature": jwt.encode(claims, b"x" * 32, algorithm="HS256", headers={"kid": kid}),
        "alg_none": jwt.encode(claims, None, algorithm="none", headers={"kid": kid}),
        "wrong_audience": jwt.encode(dict(claims, aud="someone-else"), secret, algorithm="HS256",
                                     headers={"kid": kid}),
    }


# -- the R14 authorization matrix -----------------------------------------------------------

ROLES = ("root", "manager", "backend", "frontend")
FORGED = ("expired", "bad_signature", "alg_none", "wrong_audience")


@dataclass(frozen=True)
class Expect:
    """One cell's expected outcome: a status, and for an error the unified code,
    error_data.name and error_code (None: not checked)."""

    status: int
    code: Optional[str] = None
    name: Optional[str] = None
    error_code: Optional[int] = None

    @property
    def success(self) -> bool:
        return self.status < 400


def forged_expect(who: str) -> Expect:
    """A refused credential: 401 on every URL family (authentication, not authorization)."""
    if who == "none":
        return Expect(401, "MissingAuthenticationToken", error_code=21)
    return Expect(401, "TokenExpired", error_code=22) if who == "expired" else Expect(401, "Unauthorized",
                                                                                        error_code=21)


def cell_mismatch(resp: httpx.Response, expect: Expect) -> Optional[tuple[Any, ...]]:
    """None when the response is the expected one (an error as a full envelope), else what
    differs, for the matrix's report."""
    got = resp.json() if resp.content and resp.status_code >= 400 else {}
    ok = resp.status_code == expect.status and \
        (expect.code is None or got.get("code") == expect.code) and \
        (expect.name is None or got.get("error_data", {}).get("name") == expect.name) and \
        (expect.error_code is None or got.get("error_code") == expect.error_code)
    if ok and not expect.success:
        assert_envelope(resp, expect.status, expect.code, expect.name)
    return None if ok else (expect, resp.status_code, resp.text[:200])


# -- the OpenAPI document as a checker ---------------------------------------------------------

_JSON_TYPES = {"string": str, "integer": int, "boolean": bool, "object": dict, "array": list, "null": type(None),
               "number": (int, float)}


def check_schema(doc: dict[str, Any], schema: dict[str, Any], value: Any, where: str = "$") -> None:
    """Assert `value` fits an OpenAPI schema of the document: the subset it uses ($ref,
    type, enum, required, properties, additionalProperties false, items, allOf, oneOf)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        check_schema(doc, doc["components"]["schemas"][name], value, where)
        return
    for sub in schema.get("allOf", ()):
        check_schema(doc, sub, value, where)
    if "oneOf" in schema:
        fits = 0
        for sub in schema["oneOf"]:
            try:
                check_schema(doc, sub, value, where)
                fits += 1
            except AssertionError:
                pass
        assert fits == 1, f"{where}: fits {fits} of the oneOf schemas: {value!r}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        ok = any(isinstance(value, _JSON_TYPES[k]) and not (k in ("integer", "number") and isinstance(value, bool))
                 for k in kinds)
        assert ok, f"{where}: {value!r} is not {kinds}"
    if isinstance(value, dict):
        missing = set(schema.get("required", ())) - set(value)
        assert not missing, f"{where}: missing {sorted(missing)} in {value!r}"
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            extra = set(value) - set(props)
            assert not extra, f"{where}: undocumented {sorted(extra)}"
        for key, sub in props.items():
            if key in value:
                check_schema(doc, sub, value[key], f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            check_schema(doc, schema["items"], item, f"{where}[{i}]")


def route_of(path: str) -> Optional[str]:
    """The ENDPOINTS path template a concrete path matches (the more literal one first)."""
    best = None
    for template in {ep.path for ep in http_app.ENDPOINTS}:
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "/?$"
        if re.match(pattern, path.split("?")[0]):
            literal = len(re.sub(r"\{[^}]+\}", "", template))
            if best is None or literal > best[0]:
                best = (literal, template)
    return None if best is None else best[1]


def check_documented(doc: dict[str, Any], resp: httpx.Response) -> None:
    """The response's status is documented for its route and method, and a JSON body fits
    the documented schema."""
    template = route_of(resp.request.url.path)
    assert template is not None, resp.request.url
    op = doc["paths"][template][resp.request.method.lower()]
    documented = op["responses"].get(str(resp.status_code))
    assert documented is not None, f"{resp.request.method} {template} answered undocumented {resp.status_code}"
    if resp.headers.get("content-type", "").startswith("application/json") and resp.content:
        check_schema(doc, documented["content"]["application/json"]["schema"], resp.json(),
                     f"{resp.request.method} {template} {resp.status_code}")
