"""R14 over /v1: every route of server/http_v1.V1_ENDPOINTS whose operation is not public ×
{root, manager, backend, frontend, frontend of another end user, no token, expired, bad
signature, alg none, wrong audience, other org, other org's claims on our database}, each
with a minimal valid request. Expectations are computed from server/policy.POLICY and the
documented /v1 rules (docs/v1.md), never written down from what the server does:

- Every token is logged in to a database (`POST /v1/login/individual/` with db_id): the
  first org's members to its database A; the frontend ones with a `frontend_user_id` —
  "frontend" as the end user USER the user routes name, "frontend_stranger" as another
  existing user.
- Authentication failures (no token, expired, bad signature, alg none, wrong audience) are
  401; authorization failures are 403 ForbiddenError (error_code 50, FORBIDDEN) on /v1.
- The frontend end-user rule: a frontend token reads items, and users only as its own end
  user (another user reads as absent: 404 USER_NOT_FOUND, left out of lists); it never
  writes (403 from the policy table).
- "Other org" on /v1: a token selects its database at login, and the other org's root can
  only log in to its own (logging in to A answers 404 DB_NOT_FOUND, tested below). So the
  "other_org" row is the other org's root logged in to its own database B, which has the
  same id types and the property `n` but none of A's entities or marker properties:
  "current database" routes act on B (success, and the body shows nothing of A);
  a path or body naming one of A's entities, properties, accounts or keys answers 404 as
  for an absent one (ITEM_NOT_FOUND, ITEM_PROPERTY_NOT_FOUND, ACCOUNT_NOT_FOUND...) except
  where the route treats an absent one as success (PUT creates it in B, DELETE of unknown
  entities is 204) — and then A's resource is checked to be untouched. The
  "other_org_claim" row is a correctly signed token pairing the other org's root with A
  (one the server never issues): 404 DB_NOT_FOUND on every route, before any policy.

Also: a frontend token's writes (PUT/PATCH/DELETE of items, users, bulk, properties) are
refused and change nothing.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import pytest

from http_testlib import FORGED, PASSWORD, ROLES, ROOT_EMAIL, ROOT_PASSWORD, Expect, InProcess, Member, bearer, \
    cell_mismatch, forged_expect, forged_tokens, genuine_token, unique
from server import http_v1, policy
from server.service.principal import Principal

FRONTENDS = ("frontend", "frontend_stranger")
PRINCIPALS = (*ROLES, "frontend_stranger", "none", *FORGED, "other_org", "other_org_claim")
MATRIX = [ep for ep in http_v1.V1_ENDPOINTS if ep.operation is not None and not policy.POLICY[ep.operation].public]
FORBIDDEN = Expect(403, "Unauthorized", "FORBIDDEN", 50)

ITEM, USER, STRANGER = 9090001, 4242001, 4242002      # distinctive: no other number contains them
ITEM_MARKER, USER_MARKER = "item-marker-of-a", "user-marker-of-a"
_fresh_ids = itertools.count(20_000_000)


@dataclass
class World:
    web: InProcess
    members: dict[str, Member]          # the first org's, and "other_org"
    db_a: str                           # the first org's database (22-char id)
    db_b: str                           # the other org's
    db_a_name: str
    service: str                        # a service account of the first org
    tokens: dict[str, str]              # every principal's token for its default database
    secret: tuple[str, bytes]
    a_root: dict[str, str] = field(default_factory=dict)   # headers: root logged in to A

    def login(self, who: str, db_id: str) -> str:
        """A fresh token of `who` logged in to db_id (end user per the frontend rows)."""
        member = self.members["frontend" if who in FRONTENDS else who]
        extra = {"frontend_user_id": USER if who == "frontend" else STRANGER} if who in FRONTENDS else {}
        password = ROOT_PASSWORD if member.email == ROOT_EMAIL else PASSWORD
        resp = self.web.client.post("/v1/login/individual/", json={"email": member.email, "password": password,
                                                                   "db_id": db_id, **extra})
        assert resp.status_code == 200, resp.text
        return resp.json()["token"]

    def token(self, who: str, db_id: Optional[str] = None) -> Optional[str]:
        """`who`'s token for its default database (A; B for other_org), or logged in to db_id."""
        if who == "none":
            return None
        if db_id is None:
            return self.tokens[who]
        kid, secret = self.secret
        if who in FORGED:
            return forged_tokens(self.members["manager"], kid, secret, db=db_id)[who]
        if who == "other_org_claim":
            return genuine_token(self.members["other_org"], kid, secret, db=db_id)
        return self.login(who, db_id)


def _v1_login(web: InProcess, email: str, password: str, **extra: Any) -> dict[str, Any]:
    resp = web.client.post("/v1/login/individual/", json={"email": email, "password": password, **extra})
    assert resp.status_code == 200, resp.text
    return resp.json()


def _populate(web: InProcess, h: dict[str, str], *, first: bool) -> None:
    """The shared schema; the first org's database also gets the marker properties and
    the entities the routes name."""
    c = web.client
    for kind in ("items", "users"):
        assert c.post(f"/v1/{kind}-properties/", headers=h, json={"property_name": "n", "value_type": "int32"}) \
            .status_code == 201
        if first:
            assert c.post(f"/v1/{kind}-properties/", headers=h,
                          json={"property_name": "marker", "value_type": "unicode32"}).status_code == 201
    if first:
        assert c.put(f"/v1/items/{ITEM}/properties/", headers=h,
                     json={"item": {"n": 1, "marker": ITEM_MARKER}}).status_code == 200
        assert c.put("/v1/users-bulk/properties/", headers=h, json={"users": [
            {"user_id": USER, "n": 1, "marker": USER_MARKER}, {"user_id": STRANGER, "n": 2}]}).status_code == 200
        # a task, so the task listing has something of A's to (not) show
        assert c.put("/v1/items-bulk/properties/", headers=h, json={"items": [], "wait_for_completion": False}) \
            .status_code == 202


def _database(web: InProcess, root_token: str, name: str) -> str:
    resp = web.client.post("/v1/databases/", headers=bearer(root_token),
                           json={"name": name, "item_id_type": "uint64", "user_id_type": "uint32"})
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


@pytest.fixture(scope="module")
def world(web) -> World:
    members = {"root": web.root, **{r: web.member(r) for r in ROLES[1:]}, "other_org": web.other_org()}
    root_a = _v1_login(web, ROOT_EMAIL, ROOT_PASSWORD)["token"]
    name_a = unique("authz-a-")
    db_a = _database(web, root_a, name_a)
    other = members["other_org"]
    db_b = _database(web, _v1_login(web, other.email, PASSWORD)["token"], unique("authz-b-"))
    w = World(web, members, db_a, db_b, name_a, unique("svc-"), {}, web.signing_key())
    for who in (*ROLES, "frontend_stranger"):
        w.tokens[who] = w.login(who, db_a)
    w.tokens["other_org"] = w.login("other_org", db_b)
    kid, secret = w.secret
    w.tokens.update(forged_tokens(members["manager"], kid, secret, db=db_a))
    w.tokens["other_org_claim"] = genuine_token(other, kid, secret, db=db_a)
    w.a_root = bearer(w.tokens["root"])
    _populate(web, w.a_root, first=True)
    _populate(web, bearer(w.tokens["other_org"]), first=False)
    assert web.client.post("/v1/accounts/service/", headers=w.a_root,
                           json={"name": w.service, "role": "backend"}).status_code == 201
    return w


# --- requests -----------------------------------------------------------------------------

@dataclass
class Req:
    """A minimal valid request: url, httpx kwargs (no credentials), the database the
    caller's token must select (None: its default one), and for a request that deletes
    one of A's resources, `exists()` telling whether that resource is still there."""

    url: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    db: Optional[str] = None
    exists: Optional[Callable[[], bool]] = None


def _fresh_account(world: World, kind: str) -> str:
    """A new account of the first org: its email (individual) or name (service)."""
    if kind == "individual":
        email = unique("gone-") + "@example.com"
        body = {"email": email, "password": PASSWORD, "role": "frontend"}
        assert world.web.client.post("/v1/accounts/individual/", headers=world.a_root, json=body).status_code == 201
        return email
    name = unique("gone-svc-")
    assert world.web.client.post("/v1/accounts/service/", headers=world.a_root,
                                 json={"name": name, "role": "frontend"}).status_code == 201
    return name


def _account_exists(world: World, kind: str, ident: str) -> bool:
    listed = world.web.client.get("/v1/organizations/accounts/", headers=world.a_root).json()
    if kind == "individual":
        return any(a["email"] == ident for a in listed["individual_accounts"])
    return any(a["name"] == ident for a in listed["service_accounts"])


def _fresh_key(world: World) -> Req:
    key = world.web.client.post("/v1/accounts/service/keys/", headers=world.a_root, json={"name": world.service})
    assert key.status_code == 201, key.text
    key_id = key.json()["id"]

    def exists() -> bool:
        listed = world.web.client.get("/v1/organizations/accounts/", headers=world.a_root).json()
        return any(k["id"] == key_id for a in listed["service_accounts"] for k in a["keys"])

    return Req(f"/v1/accounts/service/keys/{key_id}/", exists=exists)


def _fresh_property(world: World, k: str) -> Req:
    name = unique("gone")
    assert world.web.client.post(f"/v1/{k}-properties/", headers=world.a_root,
                                 json={"property_name": name, "value_type": "int8"}).status_code == 201
    return Req(f"/v1/{k}-properties/{name}/",
               exists=lambda: world.web.client.get(f"/v1/{k}-properties/{name}/", headers=world.a_root)
               .status_code == 200)


def _fresh_entity(world: World, kind: str) -> int:
    ident = next(_fresh_ids)
    assert world.web.client.put(f"/v1/{kind}s/{ident}/properties/", headers=world.a_root,
                                json={kind: {"n": 5}}).status_code == 200
    return ident


def _entity_exists(world: World, kind: str, ident: int) -> bool:
    return world.web.client.get(f"/v1/{kind}s/{ident}/properties/", headers=world.a_root).status_code == 200


def _fresh_database(world: World, who: str) -> Req:
    """A database to delete: the other org's for other_org (its token can select no other)."""
    if who == "other_org":
        other = world.members["other_org"]
        db = _database(world.web, _v1_login(world.web, other.email, PASSWORD)["token"], unique("gone-b-"))
        return Req("/v1/databases/current/", db=db)
    db = _database(world.web, world.tokens["root"], unique("gone-a-"))

    def exists() -> bool:
        resp = world.web.client.post("/v1/login/individual/", json={"email": ROOT_EMAIL, "password": ROOT_PASSWORD,
                                                                    "db_id": db})
        return resp.status_code == 200

    return Req("/v1/databases/current/", db=db, exists=exists)


def _own_email(world: World, who: str) -> str:
    if who in FRONTENDS:
        return world.members["frontend"].email
    return world.members.get(who, world.members["manager"]).email


def _entity_request(world: World, handler: str, path: str) -> Optional[Req]:
    """The item and user routes (deprecated aliases alike: the path is the route's own)."""
    for kind in ("item", "user"):
        k = kind + "s"
        named = ITEM if kind == "item" else USER
        url = path.replace("{entity_id}", str(named))
        if handler == f"list_{kind}_properties":
            return Req(url)
        if handler == f"create_{kind}_property":
            return Req(url, {"json": {"property_name": unique("p"), "value_type": "int8"}})
        if handler == f"get_{kind}_property":
            return Req(path.replace("{name}", "marker"))
        if handler == f"delete_{kind}_property":
            return _fresh_property(world, k)
        if handler == f"get_{kind}":
            return Req(url)
        if handler == f"put_{kind}":
            return Req(path.replace("{entity_id}", str(next(_fresh_ids))), {"json": {kind: {"n": 1}}})
        if handler == f"patch_{kind}":
            return Req(url, {"json": {kind: {"n": 1}}})
        if handler == f"delete_{kind}":
            ident = _fresh_entity(world, kind)
            return Req(path.replace("{entity_id}", str(ident)), exists=lambda: _entity_exists(world, kind, ident))
        if handler == f"scan_{k}":
            return Req(url, {"params": {"amt": 5}})
        if handler == f"put_{k}":
            return Req(url, {"json": {k: [{f"{kind}_id": next(_fresh_ids), "n": 1}]}})
        if handler == f"patch_{k}":
            return Req(url, {"json": {k: [{f"{kind}_id": named, "n": 1}]}})
        if handler == f"delete_{k}":
            ident = _fresh_entity(world, kind)
            return Req(url, {"json": {f"{k}_id": [ident]}}, exists=lambda: _entity_exists(world, kind, ident))
        if handler == f"list_{k}":
            return Req(url, {"json": {f"{k}_id": [named]}})
    return None


def _request(world: World, ep: http_v1.V1Endpoint, who: str) -> Req:
    found = _entity_request(world, ep.handler, ep.path)
    if found is not None:
        return found
    builders: dict[str, Callable[[], Req]] = {
        "login_jwt": lambda: Req(ep.path),
        "create_individual": lambda: Req(ep.path, {"json": {"email": unique("n-") + "@example.com",
                                                            "password": PASSWORD, "role": "frontend"}}),
        "update_individual": lambda: Req(ep.path, {"json": {"email": _own_email(world, who), "first_name": "R"}}),
        "delete_individual": lambda: _deleting_account(world, "individual", ep.path, "email"),
        "create_service": lambda: Req(ep.path, {"json": {"name": unique("s-"), "role": "frontend"}}),
        "delete_service": lambda: _deleting_account(world, "service", ep.path, "name"),
        "create_service_key": lambda: Req(ep.path, {"json": {"name": world.service}}),
        "delete_service_key": lambda: _fresh_key(world),
        "list_org_accounts": lambda: Req(ep.path),
        "get_org": lambda: Req(ep.path),
        "update_org": lambda: Req(ep.path, {"json": {"metadata": {"k": 1}}}),
        "create_database": lambda: Req(ep.path, {"json": {"name": unique("m-")}}),
        "list_databases": lambda: Req(ep.path),
        "current_database": lambda: Req(ep.path),
        "update_database": lambda: Req(ep.path, {"json": {"description": "d"}}),
        "delete_database": lambda: _fresh_database(world, who),
        "database_status": lambda: Req(ep.path),
        "task_recents": lambda: Req(ep.path.replace("{name}", "items_put")),
    }
    return builders[ep.handler]()


def _deleting_account(world: World, kind: str, path: str, key: str) -> Req:
    ident = _fresh_account(world, kind)
    return Req(path, {"json": {key: ident}}, exists=lambda: _account_exists(world, kind, ident))


# --- expectations -------------------------------------------------------------------------

# Routes whose path or body names one of A's resources, and what an absent one answers
# (None: the route's success — PUT creates in the caller's database, DELETE of unknown
# entities is 204; the other handlers of a kind are "current database" routes).
def _names_of_a(handler: str) -> Optional[tuple[str, Optional[str]]]:
    for kind in ("item", "user"):
        k, up = kind + "s", kind.upper()
        table = {f"get_{kind}_property": f"{up}_PROPERTY_NOT_FOUND", f"delete_{kind}_property":
                 f"{up}_PROPERTY_NOT_FOUND", f"get_{kind}": f"{up}_NOT_FOUND", f"patch_{kind}": f"{up}_NOT_FOUND",
                 f"patch_{k}": f"{up}_NOT_FOUND", f"delete_{kind}": None, f"delete_{k}": None}
        if handler in table:
            return "entity", table[handler]
    return {"delete_individual": ("account", "ACCOUNT_NOT_FOUND"), "delete_service": ("account", "ACCOUNT_NOT_FOUND"),
            "create_service_key": ("account", "ACCOUNT_NOT_FOUND"),
            "delete_service_key": ("key", "API_KEY_NOT_FOUND")}.get(handler)


def _end_user_read(handler: str) -> bool:
    """Reads of the user USER by id (the frontend end-user rule applies)."""
    return handler == "get_user"


def _expected(world: World, ep: http_v1.V1Endpoint, who: str) -> Expect:
    rule = policy.POLICY[ep.operation]
    success = Expect(ep.status)
    if who == "none" or who in FORGED:
        return forged_expect(who)
    if who == "other_org_claim":
        return Expect(404, "ResourceNotFound", "DB_NOT_FOUND", 60)
    member = world.members["frontend" if who in FRONTENDS else who]
    principal = Principal(member.id, member.org_id, member.role)
    if not policy.allowed(principal, ep.operation, writes=rule.writes):
        return FORBIDDEN
    if who == "frontend_stranger" and _end_user_read(ep.handler):
        return Expect(404, "ResourceNotFound", "USER_NOT_FOUND", 60)
    named = _names_of_a(ep.handler)
    if who == "other_org" and named is not None and named[1] is not None:
        return Expect(404, "ResourceNotFound", named[1], 60)
    return success


def _hidden_from(world: World, who: str) -> tuple[str, ...]:
    """Text that must not appear in a successful answer to `who`."""
    if who == "other_org":
        return (world.db_a, world.db_a_name, str(ITEM), str(USER), ITEM_MARKER, USER_MARKER, ROOT_EMAIL,
                world.members["manager"].email, world.service)
    if who == "frontend_stranger":
        return (str(USER), USER_MARKER)
    return ()


@pytest.mark.parametrize("ep", MATRIX, ids=lambda ep: f"{ep.method} {ep.path}")
def test_authorization_matrix(world, ep):
    mismatches = []
    for who in PRINCIPALS:
        req = _request(world, ep, who)
        token = world.token(who, req.db)
        headers = {**req.kwargs.pop("headers", {}), **(bearer(token) if token else {})}
        resp = world.web.client.request(ep.method, req.url, headers=headers, **req.kwargs)
        expect = _expected(world, ep, who)
        wrong = cell_mismatch(resp, expect)
        if wrong is None and expect.success:
            leaked = [t for t in _hidden_from(world, who) if t in resp.text]
            if leaked:
                wrong = ("leaked", leaked, resp.text[:200])
        if wrong is None and req.exists is not None:
            gone = expect.success and who != "other_org"           # only the first org's callers reach A
            if req.exists() == gone:
                wrong = ("deleted" if not gone else "not deleted", resp.status_code)
        if wrong is not None:
            mismatches.append((who, *wrong))
    print(f"R14 http /v1 {ep.method} {ep.path}: cells={len(PRINCIPALS)} mismatches={len(mismatches)}")
    assert not mismatches, mismatches


def test_every_v1_policy_operation_is_in_the_matrix():
    routed = {ep.operation for ep in http_v1.V1_ENDPOINTS if ep.operation is not None}
    assert routed <= set(policy.POLICY), routed - set(policy.POLICY)
    assert {ep.operation for ep in MATRIX} == {op for op in routed if not policy.POLICY[op].public}
    # the public ones are the logins, whose body is the credential
    assert {ep.handler for ep in http_v1.V1_ENDPOINTS if ep not in MATRIX} == \
        {"login_individual", "login_service", "login_root", "login_refresh"}


def test_other_org_cannot_log_in_to_our_database(world):
    other = world.members["other_org"]
    for ref in ({"db_id": world.db_a}, {"db_name": world.db_a_name}):
        resp = world.web.client.post("/v1/login/individual/", json={"email": other.email, "password": PASSWORD,
                                                                    **ref})
        assert cell_mismatch(resp, Expect(404, "ResourceNotFound", "DB_NOT_FOUND", 60)) is None, resp.text
        resp = world.web.client.post("/v1/login/refresh-token/", json={
            "refresh_token": _v1_login(world.web, other.email, PASSWORD)["refresh_token"], **ref})
        assert cell_mismatch(resp, Expect(404, "ResourceNotFound", "DB_NOT_FOUND", 60)) is None, resp.text


def _snapshot(world: World) -> dict[str, Any]:
    """Everything of A a frontend write could change, read by the root."""
    c, h = world.web.client, world.a_root
    out: dict[str, Any] = {}
    for k in ("items", "users"):
        out[k] = c.get(f"/v1/{k}-bulk/properties/", headers=h, params={"amt": 500}).json()
        out[k + "-properties"] = c.get(f"/v1/{k}-properties/", headers=h).json()
    out["counters"] = c.get("/v1/databases/current/", headers=h).json()["counters"]
    return out


def test_frontend_writes_change_nothing(world):
    c, fh = world.web.client, bearer(world.tokens["frontend"])
    before = _snapshot(world)
    assert before["items"]["items"] and before["users"]["users"]
    writes: list[tuple[str, str, dict[str, Any]]] = []
    for kind, named in (("item", ITEM), ("user", USER)):
        k = kind + "s"
        for path in (f"/v1/{k}/{named}/properties/", f"/v1/{k}/{named}/", f"/v1/{k}/~me/properties/"):
            writes += [("PUT", path, {kind: {"n": 99}}), ("PATCH", path, {kind: {"n": 99}}),
                       ("PATCH", path, {kind: {"n": 99}, "create_if_missing": True}), ("DELETE", path, {})]
        writes += [("PUT", f"/v1/{k}/{next(_fresh_ids)}/properties/", {kind: {"n": 99}})]
        for path in (f"/v1/{k}-bulk/properties/", f"/v1/{k}-bulk/"):
            rows = [{f"{kind}_id": named, "n": 99}, {f"{kind}_id": next(_fresh_ids), "n": 99}]
            writes += [("PUT", path, {k: rows}), ("PUT", path, {k: rows, "wait_for_completion": False}),
                       ("PATCH", path, {k: rows, "create_if_missing": True}),
                       ("DELETE", path, {f"{k}_id": [named]})]
        writes += [("POST", f"/v1/{k}-properties/", {"property_name": "sneaky", "value_type": "int8"}),
                   ("DELETE", f"/v1/{k}-properties/n/", {}), ("DELETE", f"/v1/{k}-properties/marker/", {})]
    for method, path, body in writes:
        resp = c.request(method, path, headers=fh, json=body)
        assert cell_mismatch(resp, FORBIDDEN) is None, (method, path, resp.status_code, resp.text)
    world.web.ctx.background().submit(lambda: None).result(30)     # no task can be pending either
    assert _snapshot(world) == before
    # and reads still work for it
    assert c.get(f"/v1/items/{ITEM}/properties/", headers=fh).json()["item"]["n"] == 1
    assert c.get("/v1/users/~me/properties/", headers=fh).json()["user"]["user_id"] == USER
