"""R14 over HTTP: every /v2 route (and the query paths) × {root, manager, backend,
frontend, no token, expired, bad signature, alg none, wrong audience, other org}, each
with a minimal valid request. The expected outcome of every cell is computed from
server/policy.POLICY (and, for "other org", from whether the path names one of the
first org's resources) — never written down from what the server does.

Also: a frontend token cannot write through the query paths, and nothing is written.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Callable, Optional

import pytest

from http_testlib import FORGED, PASSWORD, ROLES, Expect, InProcess, Member, assert_envelope, bearer, \
    cell_mismatch, forged_expect, forged_tokens, unique
from server import http_app, policy
from server.service.principal import Principal

PRINCIPALS = (*ROLES, "none", *FORGED, "other_org")
# Endpoints outside the matrix: no policy row (the document, logout) or public by policy
# (login, refresh, accepting an invite: their body is the credential) — checked below.
MATRIX = [ep for ep in http_app.ENDPOINTS if ep.operation is not None and not policy.POLICY[ep.operation].public]
COMPAT_OPEN = {"sql_compat_database", "sql_compat"}  # anonymous allowed on a loopback listener
# A minimal request can succeed on every route but one: moving to another org needs an
# invite of another org addressed to the caller, so an allowed caller meets a 404.
# Cluster membership on this embedded server: an allowed caller meets IncorrectState
# (NOT_A_CLUSTER, 409); tests/server/http/test_http_cluster.py covers a loopback cluster.
SUCCESS_OVERRIDE = {"move_user": 404, "add_cluster_worker": 409, "remove_cluster_worker": 409,
                    "rebalance_cluster": 409}
# Requests whose body (not path) names a resource of the first org.
BODY_NAMES_FIRST_ORG = {"create_api_key"}


@dataclass
class World:
    web: InProcess
    members: dict[str, Member]
    other: Member
    db_id: str
    service_id: str
    key_id: str
    role: str
    invite_id: str
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def world(web) -> World:
    members = {"root": web.root, **{r: web.member(r) for r in ROLES[1:]}}
    c, h = web.client, web.root.headers
    db = web.database()
    assert web.sql(db["id"], "CREATE TABLE t (_id ID, n INT)").status_code == 200
    # the compat database exists, so roles that may not create it still query it
    assert c.post("/sql", content="SHOW TABLES", headers={**h, "Content-Type": "text/plain"}).status_code == 200
    svc = c.post("/v2/users", headers=h, json={"kind": "service", "name": unique("svc-"), "role": "backend"}).json()
    key = c.post("/v2/api-keys", headers=h, json={"account_id": svc["id"]}).json()
    role = unique("custom-")
    assert c.post("/v2/roles", headers=h, json={"rolename": role, "acl": ["databases:read"]}).status_code == 201
    invite = c.post("/v2/invites", headers=h, json={"email": unique("w-") + "@example.com"}).json()
    kid, secret = web.signing_key()
    return World(web, members, web.other_org(), db["id"], svc["id"], key["id"], role, invite["id"],
                 forged_tokens(members["manager"], kid, secret))


def _fresh(world: World, what: str) -> str:
    """A new resource of the first org, for cells that consume one."""
    c, h = world.web.client, world.web.root.headers
    if what == "database":
        return world.web.database()["id"]
    if what == "account":
        return c.post("/v2/users", headers=h, json={"email": unique("t-") + "@example.com",
                                                    "role": "frontend"}).json()["id"]
    if what == "backend_account":
        return c.post("/v2/users", headers=h, json={"email": unique("t-") + "@example.com",
                                                    "role": "backend"}).json()["id"]
    if what == "invite":
        return c.post("/v2/invites", headers=h, json={"email": unique("t-") + "@example.com"}).json()["id"]
    if what == "role":
        name = unique("gone-")
        c.post("/v2/roles", headers=h, json={"rolename": name, "acl": ["org:read"]})
        return name
    if what == "key":
        return c.post("/v2/api-keys", headers=h, json={"account_id": world.service_id}).json()["id"]
    raise AssertionError(what)


def _request(world: World, ep: http_app.Endpoint, caller: Optional[Member]) -> tuple[str, dict[str, Any]]:
    """A minimal valid request for an endpoint: (url, httpx kwargs without credentials).
    Ids name the first org's resources; the caller's own account where the route is about
    oneself (updating one's names, moving oneself)."""
    own_id = caller.id if caller is not None and caller.org_id == world.web.root.org_id else \
        world.members["backend"].id
    text = {"content": "SELECT count(*) FROM t", "headers": {"Content-Type": "text/plain"}}
    builders: dict[str, Callable[[], tuple[str, dict[str, Any]]]] = {
        "create_api_key": lambda: ("/v2/api-keys", {"json": {"account_id": world.service_id, "label": "m"}}),
        "list_api_keys": lambda: ("/v2/api-keys", {}),
        "revoke_api_key": lambda: (f"/v2/api-keys/{_fresh(world, 'key')}", {}),
        "get_org": lambda: (f"/v2/orgs/{world.web.root.org_id}", {}),
        "update_org": lambda: (f"/v2/orgs/{world.web.root.org_id}", {"json": {"address": "1 Main St"}}),
        "get_service_property": lambda: ("/v2/service-properties/database:limits", {}),
        "create_user": lambda: ("/v2/users", {"json": {"email": unique("n-") + "@example.com", "role": "frontend"}}),
        "list_users": lambda: ("/v2/users", {}),
        "current_user": lambda: ("/v2/users/current", {}),
        "get_user": lambda: (f"/v2/users/{world.members['frontend'].id}", {}),
        "update_user": lambda: (f"/v2/users/{own_id}", {"json": {"firstname": "Renamed"}}),
        "delete_user": lambda: (f"/v2/users/{_fresh(world, 'account')}", {}),
        "add_user_roles": lambda: (f"/v2/users/{_fresh(world, 'backend_account')}/roles",
                                   {"json": {"rolenames": ["frontend"]}}),
        "move_user": lambda: (f"/v2/users/{own_id}/action/invite", {"json": {"invite_id": str(uuid.uuid4())}}),
        "create_invite": lambda: ("/v2/invites", {"json": {"email": unique("i-") + "@example.com"}}),
        "list_invites": lambda: ("/v2/invites", {}),
        "get_invite": lambda: (f"/v2/invites/{world.invite_id}", {}),
        "update_invite": lambda: (f"/v2/invites/{_fresh(world, 'invite')}", {"json": {"accepted": True}}),
        "delete_invite": lambda: (f"/v2/invites/{_fresh(world, 'invite')}", {}),
        "create_role": lambda: ("/v2/roles", {"json": {"rolename": unique("r-"), "acl": ["org:read"]}}),
        "list_roles": lambda: ("/v2/roles", {}),
        "get_role": lambda: (f"/v2/roles/{world.role}", {}),
        "update_role": lambda: (f"/v2/roles/{world.role}", {"json": {"acl": ["databases:read"]}}),
        "delete_role": lambda: (f"/v2/roles/{_fresh(world, 'role')}", {}),
        "create_database": lambda: ("/v2/databases", {"json": {"name": unique("m-")}}),
        "list_databases": lambda: ("/v2/databases", {}),
        "get_database": lambda: (f"/v2/databases/{world.db_id}", {}),
        "update_database": lambda: (f"/v2/databases/{world.db_id}", {"json": {"description": "d"}}),
        "delete_database": lambda: (f"/v2/databases/{_fresh(world, 'database')}", {}),
        "sql": lambda: (f"/v2/databases/{world.db_id}/query/sql", dict(text)),
        "pql": lambda: (f"/v2/databases/{world.db_id}/query/pql",
                        {"json": {"table": "t", "statement": "Count(All())"}}),
        "list_queries": lambda: ("/v2/queries", {}),
        "add_cluster_worker": lambda: (f"/v2/databases/{world.db_id}/cluster/workers", {"json": {"name": "w9"}}),
        "remove_cluster_worker": lambda: (f"/v2/databases/{world.db_id}/cluster/workers/w0", {}),
        "rebalance_cluster": lambda: (f"/v2/databases/{world.db_id}/cluster/action/rebalance", {"json": {}}),
        "sql_compat_database": lambda: (f"/databases/{world.db_id}/query/sql", dict(text)),
        "sql_compat": lambda: ("/sql", {"content": "SHOW TABLES", "headers": {"Content-Type": "text/plain"}}),
    }
    return builders[ep.handler]()


def _expected(world: World, ep: http_app.Endpoint, who: str) -> Expect:
    """The outcome the policy table implies."""
    rule = policy.POLICY[ep.operation]
    success = Expect(SUCCESS_OVERRIDE.get(ep.handler, ep.status))
    if who == "none":
        settings = world.web.rt.settings
        if ep.handler in COMPAT_OPEN and settings.loopback and settings.open_loopback_sql:
            return success
        return forged_expect(who)
    if who in FORGED:
        return forged_expect(who)
    member = world.other if who == "other_org" else world.members[who]
    principal = Principal(member.id, member.org_id, member.role)
    if not policy.allowed(principal, ep.operation, writes=rule.writes):
        return Expect(401, "Unauthorized", "FORBIDDEN")         # /v2: authorization failures stay 401
    names_first_org = ("{" in ep.path and ep.handler != "get_service_property") or \
        ep.handler in BODY_NAMES_FIRST_ORG
    if who == "other_org" and names_first_org:
        return Expect(404, "ResourceNotFound")
    return success


def _headers(world: World, who: str) -> dict[str, str]:
    if who == "none":
        return {}
    if who in FORGED:
        return bearer(world.tokens[who])
    return (world.other if who == "other_org" else world.members[who]).headers


@pytest.mark.parametrize("ep", MATRIX, ids=lambda ep: f"{ep.method} {ep.path}")
def test_authorization_matrix(world, ep):
    mismatches = []
    for who in PRINCIPALS:
        caller = None if who == "none" or who in FORGED else (world.other if who == "other_org"
                                                             else world.members[who])
        url, kwargs = _request(world, ep, caller)
        kwargs["headers"] = {**kwargs.get("headers", {}), **_headers(world, who)}
        resp = world.web.client.request(ep.method, url, **kwargs)
        wrong = cell_mismatch(resp, _expected(world, ep, who))
        if wrong is not None:
            mismatches.append((who, *wrong))
    print(f"R14 http {ep.method} {ep.path}: cells={len(PRINCIPALS)} mismatches={len(mismatches)}")
    assert not mismatches, mismatches


def test_every_policy_operation_with_a_route_is_in_the_matrix():
    operations = {ep.operation for ep in MATRIX}
    routed = {ep.operation for ep in http_app.ENDPOINTS if ep.operation is not None}
    assert routed <= set(policy.POLICY), routed - set(policy.POLICY)
    assert operations == {op for op in routed if not policy.POLICY[op].public}


def test_public_operations_need_no_token_and_ignore_bad_ones(world):
    c = world.web.client
    garbage = bearer("garbage")
    resp = c.post("/v2/auth/token", headers=garbage, json={"email": world.web.root.email, "password": "x" * 9})
    assert_envelope(resp, 401, "Unauthorized", "INVALID_CREDENTIALS")
    newcomer = unique("pub-") + "@example.com"
    invite = c.post("/v2/invites", headers=world.web.root.headers, json={"email": newcomer}).json()
    resp = c.post(f"/v2/invites/{invite['id']}/action/accept", headers=garbage,
                  json={"email": newcomer, "password": PASSWORD})
    assert resp.status_code == 201, resp.text
    # the invite id is the credential only together with its email
    other = c.post("/v2/invites", headers=world.web.root.headers, json={"email": unique("pub-") + "@example.com"})
    assert_envelope(c.post(f"/v2/invites/{other.json()['id']}/action/accept",
                           json={"email": "someone@example.com", "password": PASSWORD}), 404, "ResourceNotFound")


def test_frontend_cannot_write_through_the_query_paths(world):
    web, frontend = world.web, world.members["frontend"]
    url = f"/v2/databases/{world.db_id}/query"
    before = web.sql(world.db_id, "SELECT count(*) FROM t").json()["data"]
    for text in ("INSERT INTO t (_id, n) VALUES (99, 1)", "DELETE FROM t WHERE _id = 1", "DROP TABLE t",
                 "CREATE TABLE sneaky (_id ID)", "SELECT count(*) FROM t; INSERT INTO t (_id, n) VALUES (98, 1)"):
        assert_envelope(web.sql(world.db_id, text, who=frontend), 401, "Unauthorized", "FORBIDDEN")
    for statement in ("Set(99, n=1)", "Count(Set(99, n=1))", "Clear(1, n=1)", "Store(All(), n=2)"):
        resp = web.client.post(url + "/pql", headers=frontend.headers, json={"table": "t", "statement": statement})
        assert_envelope(resp, 401, "Unauthorized", "FORBIDDEN")
    assert web.sql(world.db_id, "SELECT count(*) FROM t").json()["data"] == before
    assert "sneaky" not in web.sql(world.db_id, "SHOW TABLES").text
    # reads are fine
    assert web.sql(world.db_id, "SELECT count(*) FROM t", who=frontend).status_code == 200


def test_api_keys_are_accepted_on_query_paths_only(world):
    web = world.web
    svc = web.client.post("/v2/users", headers=web.root.headers,
                          json={"kind": "service", "name": unique("k-"), "role": "backend"}).json()
    key = web.client.post("/v2/api-keys", headers=web.root.headers, json={"account_id": svc["id"]}).json()["key"]
    h = {"X-API-Key": key}
    assert web.client.post(f"/v2/databases/{world.db_id}/query/pql", headers=h,
                           json={"table": "t", "statement": "Count(All())"}).status_code == 200
    assert web.client.post(f"/v2/databases/{world.db_id}/query/sql", content="SELECT count(*) FROM t",
                           headers={**h, "Content-Type": "text/plain"}).status_code == 200
    assert_envelope(web.client.get("/v2/databases", headers=h), 401, "MissingAuthenticationToken")
