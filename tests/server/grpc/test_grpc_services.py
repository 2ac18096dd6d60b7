"""The management services over gRPC (Auth, Org, Account, Role, Invite, Database), health
and reflection: every RPC's happy path and its documented errors, asserted on both the gRPC
status and the roarbase code that server.grpc_status.from_grpc reads back."""
from __future__ import annotations

import base64
import json
import time
import uuid

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from grpc_testlib import OTHER_EMAIL, ROOT_EMAIL, ROOT_PASSWORD, TIMEOUT, Client, expect, md, unique
from server import methods
from server.pb.roarbase.v1 import (
    account_pb2,
    auth_pb2,
    database_pb2,
    invite_pb2,
    org_pb2,
    query_pb2,
    role_pb2,
)

SC = grpc.StatusCode
BUILTINS = {"root", "manager", "backend", "frontend"}


@pytest.fixture(scope="module")
def c(grpc_client: Client) -> Client:
    return grpc_client


def _db(c: Client, **fields: str) -> database_pb2.Database:
    return c.databases.CreateDatabase(database_pb2.CreateDatabaseRequest(name=unique("db"), **fields),
                                      metadata=md(c.root), timeout=TIMEOUT)


def _service_account(c: Client) -> account_pb2.Account:
    return c.accounts.CreateAccount(account_pb2.CreateAccountRequest(
        kind=account_pb2.ACCOUNT_KIND_SERVICE, name=unique("svc"), role="backend"), metadata=md(c.root))


# -- AuthService -------------------------------------------------------------------------

def test_login_and_its_errors(c: Client) -> None:
    got = c.login(ROOT_EMAIL, ROOT_PASSWORD)
    assert (got.role, got.org_id, got.expires_in > 0, got.HasField("database")) == ("root", c.srv.org_id, True, False)
    assert got.token.count(".") == 2 and got.refresh_token
    expect(c.login, ROOT_EMAIL, "wrong-password", status=SC.UNAUTHENTICATED, code="Unauthorized",
           name="INVALID_CREDENTIALS")
    expect(c.login, "nobody@example.com", ROOT_PASSWORD, status=SC.UNAUTHENTICATED, code="Unauthorized")
    expect(c.login, ROOT_EMAIL, "", status=SC.INVALID_ARGUMENT, code="MissingParameter")
    expect(c.login, ROOT_EMAIL, ROOT_PASSWORD, db_name="no-such-db", status=SC.NOT_FOUND, code="ResourceNotFound")
    # A frontend end user exists only inside a database.
    expect(c.login, ROOT_EMAIL, ROOT_PASSWORD, frontend_user_id="u1", status=SC.INVALID_ARGUMENT,
           code="InvalidParameter", name="WRONG_DATA_TYPE")


def test_login_bound_to_a_database(c: Client) -> None:
    db = _db(c)
    for ref in ({"db_name": db.name}, {"db_id": db.id}):
        got = c.login(ROOT_EMAIL, ROOT_PASSWORD, **ref)
        assert (got.database.id, got.database.name) == (db.id, db.name)
        # An empty id means the token's database.
        assert c.databases.GetDatabase(database_pb2.GetDatabaseRequest(), metadata=md(got.token)).id == db.id
    expect(c.databases.GetDatabase, database_pb2.GetDatabaseRequest(), metadata=md(c.root), status=SC.INVALID_ARGUMENT,
           code="MissingParameter")


def test_refresh_token_rotates(c: Client) -> None:
    first = c.login(ROOT_EMAIL, ROOT_PASSWORD)
    second = c.auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=first.refresh_token))
    assert second.refresh_token != first.refresh_token and second.role == "root"
    c.accounts.GetCurrentAccount(account_pb2.GetCurrentAccountRequest(), metadata=md(second.token))
    expect(c.auth.RefreshToken, auth_pb2.RefreshTokenRequest(refresh_token=first.refresh_token),
           status=SC.UNAUTHENTICATED, code="Unauthorized", name="REFRESH_TOKEN_REUSED")
    # Reuse revoked the family: the token it rotated into is dead too.
    expect(c.auth.RefreshToken, auth_pb2.RefreshTokenRequest(refresh_token=second.refresh_token),
           status=SC.UNAUTHENTICATED, code="RefreshTokenExpired")
    expect(c.auth.RefreshToken, auth_pb2.RefreshTokenRequest(refresh_token="garbage"), status=SC.UNAUTHENTICATED,
           code="Unauthorized")
    expect(c.auth.RefreshToken, auth_pb2.RefreshTokenRequest(), status=SC.INVALID_ARGUMENT, code="MissingParameter")
    fresh = c.login(ROOT_EMAIL, ROOT_PASSWORD)
    expect(c.auth.RefreshToken, auth_pb2.RefreshTokenRequest(refresh_token=fresh.refresh_token, db_name="nope"),
           status=SC.NOT_FOUND, code="ResourceNotFound")


def test_api_keys(c: Client) -> None:
    svc = _service_account(c)
    made = c.auth.CreateApiKey(auth_pb2.CreateApiKeyRequest(account_id=svc.id), metadata=md(c.root))
    assert (made.api_key.account_id, made.api_key.org_id, made.api_key.HasField("expires_at")) == \
        (svc.id, c.srv.org_id, False)
    assert made.key.startswith("rbk_")
    db = _db(c)
    key_md = (("x-api-key", made.key),)
    # The key works as x-api-key metadata, and as a service account's password.
    stream = list(c.queries.Sql(query_pb2.SqlRequest(database_id=db.id, sql="SHOW TABLES"), metadata=key_md))
    assert stream[0].HasField("header") and stream[-1].HasField("stats")
    assert c.auth.Login(auth_pb2.LoginRequest(name=svc.username, password=made.key)).role == "backend"
    c.auth.RevokeApiKey(auth_pb2.RevokeApiKeyRequest(id=made.api_key.id), metadata=md(c.root))
    expect(c.queries.Sql, query_pb2.SqlRequest(database_id=db.id, sql="SHOW TABLES"), metadata=key_md,
           status=SC.UNAUTHENTICATED, code="Unauthorized")
    expect(c.auth.RevokeApiKey, auth_pb2.RevokeApiKeyRequest(id=str(uuid.uuid4())), metadata=md(c.root),
           status=SC.NOT_FOUND, code="ResourceNotFound")

    soon = Timestamp(seconds=int(time.time()) + 3600)
    timed = c.auth.CreateApiKey(auth_pb2.CreateApiKeyRequest(account_id=svc.id, expires_at=soon), metadata=md(c.root))
    assert abs(timed.api_key.expires_at.seconds - soon.seconds) <= 2
    expect(c.auth.CreateApiKey, auth_pb2.CreateApiKeyRequest(account_id=svc.id, expires_at=Timestamp(seconds=1)),
           metadata=md(c.root), status=SC.INVALID_ARGUMENT, code="InvalidParameter")
    person = c.member("backend")[1]
    expect(c.auth.CreateApiKey, auth_pb2.CreateApiKeyRequest(account_id=person.id), metadata=md(c.root),
           status=SC.INVALID_ARGUMENT, code="InvalidParameter", name="NOT_A_SERVICE_ACCOUNT")
    expect(c.auth.CreateApiKey, auth_pb2.CreateApiKeyRequest(account_id=str(uuid.uuid4())), metadata=md(c.root),
           status=SC.NOT_FOUND, code="ResourceNotFound")
    # Empty account_id: the caller, who must be a service account.
    expect(c.auth.CreateApiKey, auth_pb2.CreateApiKeyRequest(), metadata=md(c.root), status=SC.INVALID_ARGUMENT,
           code="InvalidParameter", name="NOT_A_SERVICE_ACCOUNT")


def test_credentials_metadata(c: Client) -> None:
    req = account_pb2.GetCurrentAccountRequest()
    expect(c.accounts.GetCurrentAccount, req, status=SC.UNAUTHENTICATED, code="MissingAuthenticationToken")
    expect(c.accounts.GetCurrentAccount, req, metadata=(("authorization", f"Basic {c.root}"),),
           status=SC.UNAUTHENTICATED, code="Unauthorized")
    expect(c.accounts.GetCurrentAccount, req, metadata=(("authorization", "Bearer not-a-jwt"),),
           status=SC.UNAUTHENTICATED, code="Unauthorized")
    assert c.accounts.GetCurrentAccount(req, metadata=(("authorization", f"bearer {c.root}"),)).username == ROOT_EMAIL


# -- OrgService --------------------------------------------------------------------------

def test_get_and_update_org(c: Client) -> None:
    org = c.orgs.GetOrg(org_pb2.GetOrgRequest(), metadata=md(c.root))
    assert (org.id, org.name) == (c.srv.org_id, "acme")
    assert c.orgs.GetOrg(org_pb2.GetOrgRequest(id=org.id), metadata=md(c.root)) == org
    expect(c.orgs.GetOrg, org_pb2.GetOrgRequest(id=str(uuid.uuid4())), metadata=md(c.root), status=SC.NOT_FOUND,
           code="ResourceNotFound", name="ORG_NOT_FOUND")
    other = c.login(OTHER_EMAIL, ROOT_PASSWORD)
    expect(c.orgs.GetOrg, org_pb2.GetOrgRequest(id=org.id), metadata=md(other.token), status=SC.NOT_FOUND,
           code="ResourceNotFound")

    first = c.orgs.UpdateOrg(org_pb2.UpdateOrgRequest(company_name="ACME Inc", tech_contact_emali="ops@acme.example",
                                                      metadata_json='{"a": 1, "b": {"c": 2}}'), metadata=md(c.root))
    assert (first.company_name, first.tech_contact_emali) == ("ACME Inc", "ops@acme.example")
    assert json.loads(first.metadata_json) == {"a": 1, "b": {"c": 2}}
    merged = c.orgs.UpdateOrg(org_pb2.UpdateOrgRequest(id=org.id, metadata_json='{"a": null, "b": {"d": 3}}',
                                                       preserve=True), metadata=md(c.root))
    assert json.loads(merged.metadata_json) == {"b": {"c": 2, "d": 3}} and merged.company_name == "ACME Inc"
    assert merged.updated_at.ToNanoseconds() >= first.updated_at.ToNanoseconds()
    expect(c.orgs.UpdateOrg, org_pb2.UpdateOrgRequest(metadata_json="[1]"), metadata=md(c.root),
           status=SC.INVALID_ARGUMENT, code="InvalidParameter")
    expect(c.orgs.UpdateOrg, org_pb2.UpdateOrgRequest(metadata_json="{not json"), metadata=md(c.root),
           status=SC.INVALID_ARGUMENT, code="InvalidParameter", name="INVALID_JSON")
    expect(c.orgs.UpdateOrg, org_pb2.UpdateOrgRequest(billing_contact_emali="not-an-email"), metadata=md(c.root),
           status=SC.INVALID_ARGUMENT, code="InvalidParameter")
    expect(c.orgs.UpdateOrg, org_pb2.UpdateOrgRequest(id=str(uuid.uuid4()), name="x"), metadata=md(c.root),
           status=SC.NOT_FOUND, code="ResourceNotFound")


def test_service_properties(c: Client) -> None:
    get = c.orgs.GetServiceProperty
    shapes = get(org_pb2.GetServicePropertyRequest(property="database:shapes"), metadata=md(c.root))
    assert shapes.org_id == c.srv.org_id and shapes.database_shapes.shapes[0].name == "local"
    assert shapes.database_shapes.shapes[0].cpus >= 1
    limits = get(org_pb2.GetServicePropertyRequest(property="database:limits"), metadata=md(c.root))
    assert (limits.database_limits.max_databases, limits.database_limits.max_payload_bytes) == (64, 16 << 20)
    sources = get(org_pb2.GetServicePropertyRequest(property="source:limits"), metadata=md(c.root))
    assert sources.WhichOneof("value") == "source_limits" and sources.source_limits.max_sources == 16
    placement = get(org_pb2.GetServicePropertyRequest(property="cluster:placement"), metadata=md(c.root))
    assert placement.WhichOneof("value") == "cluster_placement_json"
    assert json.loads(placement.cluster_placement_json) == {"ray": False, "databases": []}
    expect(get, org_pb2.GetServicePropertyRequest(property="nope"), metadata=md(c.root), status=SC.NOT_FOUND,
           code="ResourceNotFound", name="PROPERTY_NOT_FOUND")


# -- AccountService ----------------------------------------------------------------------

def test_create_get_list_accounts(c: Client) -> None:
    email = f"{unique('ann')}@example.com"
    acc = c.accounts.CreateAccount(account_pb2.CreateAccountRequest(email=email, firstname="Ann", lastname="Lee",
                                                                    role="frontend", password="pass-word-1"),
                                   metadata=md(c.root))
    assert (acc.username, acc.primary_email, acc.org_id, acc.org_name, acc.idp_id) == \
        (email, email, c.srv.org_id, "acme", acc.id)
    assert (acc.kind, acc.status, list(acc.roles)) == \
        (account_pb2.ACCOUNT_KIND_INDIVIDUAL, account_pb2.ACCOUNT_STATUS_ACTIVE, ["frontend"])
    assert set(acc.acl) == {"org:read", "query:execute"} and acc.created_at.seconds > 0
    assert c.accounts.GetAccount(account_pb2.GetAccountRequest(id=acc.id), metadata=md(c.root)) == acc
    expect(c.accounts.CreateAccount, account_pb2.CreateAccountRequest(email=email, role="frontend"),
           metadata=md(c.root), status=SC.ALREADY_EXISTS, code="ResourceAlreadyExists", name="DUPLICATED_EMAIL")
    expect(c.accounts.CreateAccount, account_pb2.CreateAccountRequest(email="bad"), metadata=md(c.root),
           status=SC.INVALID_ARGUMENT, code="InvalidParameter")
    expect(c.accounts.CreateAccount, account_pb2.CreateAccountRequest(email="r2@example.com", role="root"),
           metadata=md(c.root), status=SC.INVALID_ARGUMENT, code="InvalidParameter", name="ROOT_IS_UNIQUE")
    expect(c.accounts.CreateAccount, account_pb2.CreateAccountRequest(kind=account_pb2.ACCOUNT_KIND_SERVICE),
           metadata=md(c.root), status=SC.INVALID_ARGUMENT, code="MissingParameter")
    expect(c.accounts.GetAccount, account_pb2.GetAccountRequest(id=str(uuid.uuid4())), metadata=md(c.root),
           status=SC.NOT_FOUND, code="ResourceNotFound", name="ACCOUNT_NOT_FOUND")
    me = c.accounts.GetCurrentAccount(account_pb2.GetCurrentAccountRequest(), metadata=md(c.root))
    assert (me.username, list(me.roles)) == (ROOT_EMAIL, ["root"])

    seen, token = [], ""
    while True:
        page = c.accounts.ListAccounts(account_pb2.ListAccountsRequest(limit=2, next=token), metadata=md(c.root))
        assert len(page.resources) <= 2
        seen += [a.id for a in page.resources]
        if not (token := page.next):
            break
    assert {acc.id, me.id} <= set(seen) and len(seen) == len(set(seen))
    expect(c.accounts.ListAccounts, account_pb2.ListAccountsRequest(next="!!"), metadata=md(c.root),
           status=SC.INVALID_ARGUMENT, code="InvalidParameter", name="INVALID_PAGE_TOKEN")


def test_update_account(c: Client) -> None:
    token, acc = c.member("backend")
    mine = c.accounts.UpdateAccount(account_pb2.UpdateAccountRequest(id=acc.id, firstname="Bo"), metadata=md(token))
    assert (mine.firstname, mine.lastname, mine.updated_by) == ("Bo", "", acc.id)
    expect(c.accounts.UpdateAccount, account_pb2.UpdateAccountRequest(
        id=acc.id, status=account_pb2.ACCOUNT_STATUS_DEACTIVATED), metadata=md(token), status=SC.INVALID_ARGUMENT,
        code="InvalidParameter", name="SELF_ESCALATION")
    granted = c.accounts.UpdateAccount(account_pb2.UpdateAccountRequest(
        id=acc.id, acl=account_pb2.StringList(values=["users:read"])), metadata=md(c.root))
    assert "users:read" in granted.acl
    expect(c.accounts.UpdateAccount, account_pb2.UpdateAccountRequest(
        id=acc.id, acl=account_pb2.StringList(values=["fly"])), metadata=md(c.root), status=SC.INVALID_ARGUMENT,
        code="InvalidParameter", name="UNKNOWN_ACL")
    gone = c.accounts.UpdateAccount(account_pb2.UpdateAccountRequest(
        id=acc.id, status=account_pb2.ACCOUNT_STATUS_DEACTIVATED), metadata=md(c.root))
    assert gone.status == account_pb2.ACCOUNT_STATUS_DEACTIVATED
    # Deactivation takes effect at once: the account's token stops verifying.
    expect(c.accounts.GetCurrentAccount, account_pb2.GetCurrentAccountRequest(), metadata=md(token),
           status=SC.UNAUTHENTICATED, code="Unauthorized")
    expect(c.accounts.UpdateAccount, account_pb2.UpdateAccountRequest(id=str(uuid.uuid4()), firstname="x"),
           metadata=md(c.root), status=SC.NOT_FOUND, code="ResourceNotFound")


def test_add_account_roles(c: Client) -> None:
    role = c.roles.CreateRole(role_pb2.CreateRoleRequest(rolename=unique("readers"), acl=["users:read"]),
                              metadata=md(c.root))
    _, acc = c.member("frontend")
    got = c.accounts.AddAccountRoles(account_pb2.AddAccountRolesRequest(id=acc.id, rolenames=["backend", role.rolename]),
                                     metadata=md(c.root))
    assert (got.user_id, got.org_id, list(got.rolenames)) == (acc.id, c.srv.org_id, ["backend", role.rolename])
    after = c.accounts.GetAccount(account_pb2.GetAccountRequest(id=acc.id), metadata=md(c.root))
    assert list(after.roles) == ["backend", role.rolename] and "users:read" in after.acl
    expect(c.accounts.AddAccountRoles, account_pb2.AddAccountRolesRequest(id=acc.id, rolenames=["nope"]),
           metadata=md(c.root), status=SC.FAILED_PRECONDITION, code="RelatedResourceNotFound", name="ROLE_NOT_FOUND")
    expect(c.accounts.AddAccountRoles, account_pb2.AddAccountRolesRequest(id=str(uuid.uuid4()), rolenames=["backend"]),
           metadata=md(c.root), status=SC.NOT_FOUND, code="ResourceNotFound")
    expect(c.accounts.AddAccountRoles, account_pb2.AddAccountRolesRequest(id=acc.id), metadata=md(c.root),
           status=SC.INVALID_ARGUMENT, code="InvalidParameter")


def test_move_account_org(c: Client) -> None:
    token, acc = c.member("manager")
    other = c.login(OTHER_EMAIL, ROOT_PASSWORD).token
    invite = c.invites.CreateInvite(invite_pb2.CreateInviteRequest(email=acc.username), metadata=md(other))
    expect(c.accounts.MoveAccountOrg, account_pb2.MoveAccountOrgRequest(id=acc.id, invite_id=str(uuid.uuid4())),
           metadata=md(token), status=SC.NOT_FOUND, code="ResourceNotFound", name="INVITE_NOT_FOUND")
    moved = c.accounts.MoveAccountOrg(account_pb2.MoveAccountOrgRequest(id=acc.id, invite_id=invite.id),
                                      metadata=md(token))
    assert (moved.id, moved.org_id, moved.org_name, list(moved.roles)) == (acc.id, invite.org_id, "globex", ["backend"])
    assert c.invites.GetInvite(invite_pb2.GetInviteRequest(id=invite.id), metadata=md(other)).move_org
    # The old token named the old org: it no longer verifies.
    expect(c.accounts.GetCurrentAccount, account_pb2.GetCurrentAccountRequest(), metadata=md(token),
           status=SC.UNAUTHENTICATED, code="Unauthorized")
    # The org owner never moves: the policy allows manager and backend only.
    expect(c.accounts.MoveAccountOrg, account_pb2.MoveAccountOrgRequest(id=acc.id, invite_id=invite.id),
           metadata=md(c.root), status=SC.PERMISSION_DENIED, code="Unauthorized")


# -- RoleService -------------------------------------------------------------------------

def test_roles(c: Client) -> None:
    name = unique("auditors")
    made = c.roles.CreateRole(role_pb2.CreateRoleRequest(rolename=name, acl=["databases:read", "org:read"]),
                              metadata=md(c.root))
    assert (made.rolename, made.org_id, list(made.acl), made.builtin) == \
        (name, c.srv.org_id, ["org:read", "databases:read"], False)
    assert c.roles.GetRole(role_pb2.GetRoleRequest(rolename=name), metadata=md(c.root)) == made
    expect(c.roles.CreateRole, role_pb2.CreateRoleRequest(rolename=name), metadata=md(c.root),
           status=SC.ALREADY_EXISTS, code="ResourceAlreadyExists", name="DUPLICATED_ROLE")
    expect(c.roles.CreateRole, role_pb2.CreateRoleRequest(rolename="manager"), metadata=md(c.root),
           status=SC.ALREADY_EXISTS, code="ResourceAlreadyExists")
    expect(c.roles.CreateRole, role_pb2.CreateRoleRequest(rolename=unique("r"), acl=["fly"]), metadata=md(c.root),
           status=SC.INVALID_ARGUMENT, code="InvalidParameter", name="UNKNOWN_ACL")
    expect(c.roles.CreateRole, role_pb2.CreateRoleRequest(rolename="bad name!"), metadata=md(c.root),
           status=SC.INVALID_ARGUMENT, code="InvalidParameter", name="INVALID_NAME")
    expect(c.roles.GetRole, role_pb2.GetRoleRequest(rolename="nope"), metadata=md(c.root), status=SC.NOT_FOUND,
           code="ResourceNotFound", name="ROLE_NOT_FOUND")
    listed = c.roles.ListRoles(role_pb2.ListRolesRequest(limit=64), metadata=md(c.root))
    by_name = {r.rolename: r for r in listed.resources}
    assert BUILTINS <= set(by_name) and name in by_name and by_name["root"].builtin
    updated = c.roles.UpdateRole(role_pb2.UpdateRoleRequest(rolename=name, acl=["users:read"]), metadata=md(c.root))
    assert list(updated.acl) == ["users:read"]
    for call, req in ((c.roles.UpdateRole, role_pb2.UpdateRoleRequest(rolename="backend", acl=["org:read"])),
                      (c.roles.DeleteRole, role_pb2.DeleteRoleRequest(rolename="frontend"))):
        expect(call, req, metadata=md(c.root), status=SC.INVALID_ARGUMENT, code="InvalidParameter",
               name="BUILTIN_ROLE_IMMUTABLE")
    expect(c.roles.UpdateRole, role_pb2.UpdateRoleRequest(rolename="nope"), metadata=md(c.root), status=SC.NOT_FOUND,
           code="ResourceNotFound")
    c.roles.DeleteRole(role_pb2.DeleteRoleRequest(rolename=name), metadata=md(c.root))
    expect(c.roles.DeleteRole, role_pb2.DeleteRoleRequest(rolename=name), metadata=md(c.root), status=SC.NOT_FOUND,
           code="ResourceNotFound")


# -- InviteService -----------------------------------------------------------------------

def test_invites(c: Client) -> None:
    email = f"{unique('guest')}@example.com"
    inv = c.invites.CreateInvite(invite_pb2.CreateInviteRequest(email=email), metadata=md(c.root))
    assert (inv.email, inv.org_id, inv.org_name, inv.accepted, inv.move_org) == \
        (email, c.srv.org_id, "acme", False, False)
    assert inv.date_expiry.seconds > inv.created_at.seconds
    assert c.invites.GetInvite(invite_pb2.GetInviteRequest(id=inv.id), metadata=md(c.root)) == inv
    expect(c.invites.CreateInvite, invite_pb2.CreateInviteRequest(email=email), metadata=md(c.root),
           status=SC.ALREADY_EXISTS, code="ResourceAlreadyExists", name="DUPLICATED_INVITE")
    expect(c.invites.CreateInvite, invite_pb2.CreateInviteRequest(email=ROOT_EMAIL), metadata=md(c.root),
           status=SC.ALREADY_EXISTS, code="ResourceAlreadyExists", name="DUPLICATED_EMAIL")
    expect(c.invites.CreateInvite, invite_pb2.CreateInviteRequest(email="nope"), metadata=md(c.root),
           status=SC.INVALID_ARGUMENT, code="InvalidParameter")
    expect(c.invites.GetInvite, invite_pb2.GetInviteRequest(id=str(uuid.uuid4())), metadata=md(c.root),
           status=SC.NOT_FOUND, code="ResourceNotFound", name="INVITE_NOT_FOUND")
    listed = c.invites.ListInvites(invite_pb2.ListInvitesRequest(limit=64), metadata=md(c.root))
    assert inv.id in {i.id for i in listed.resources}
    expect(c.invites.UpdateInvite, invite_pb2.UpdateInviteRequest(id=inv.id), metadata=md(c.root),
           status=SC.INVALID_ARGUMENT, code="InvalidParameter")
    done = c.invites.UpdateInvite(invite_pb2.UpdateInviteRequest(id=inv.id, accepted=True), metadata=md(c.root))
    assert done.accepted and done.updated_at.ToNanoseconds() >= inv.updated_at.ToNanoseconds()
    expect(c.invites.UpdateInvite, invite_pb2.UpdateInviteRequest(id=inv.id, accepted=False), metadata=md(c.root),
           status=SC.FAILED_PRECONDITION, code="IncorrectState", name="INVITE_ALREADY_ACCEPTED")
    expect(c.invites.UpdateInvite, invite_pb2.UpdateInviteRequest(id=str(uuid.uuid4()), accepted=True),
           metadata=md(c.root), status=SC.NOT_FOUND, code="ResourceNotFound")


# -- DatabaseService ---------------------------------------------------------------------

def test_create_get_list_databases(c: Client) -> None:
    db = _db(c, description="d", database_options_json='{"shape": "local"}', metadata_json='{"team": "x"}')
    assert (db.database_status, db.org_id, db.description) == (database_pb2.DATABASE_STATE_RUNNING, c.srv.org_id, "d")
    assert (db.item_id_type, db.user_id_type, db.session_id_type) == ("uint64", "uint64", "uuid")
    assert json.loads(db.database_options_json) == {"shape": "local"} and json.loads(db.metadata_json) == {"team": "x"}
    assert json.loads(db.core_config_json) == {} and uuid.UUID(db.id)
    me = c.accounts.GetCurrentAccount(account_pb2.GetCurrentAccountRequest(), metadata=md(c.root))
    assert db.created_by == db.owned_by == me.id
    b64 = base64.urlsafe_b64encode(uuid.UUID(db.id).bytes).rstrip(b"=").decode()
    assert c.databases.GetDatabase(database_pb2.GetDatabaseRequest(id=b64), metadata=md(c.root)) == db
    listed = c.databases.ListDatabases(database_pb2.ListDatabasesRequest(limit=64), metadata=md(c.root))
    assert db.id in {d.id for d in listed.resources}

    create = c.databases.CreateDatabase
    expect(create, database_pb2.CreateDatabaseRequest(name=db.name), metadata=md(c.root), status=SC.ALREADY_EXISTS,
           code="ResourceAlreadyExists", name="DUPLICATED_DB_NAME")
    expect(create, database_pb2.CreateDatabaseRequest(name="no spaces"), metadata=md(c.root),
           status=SC.INVALID_ARGUMENT, code="InvalidParameter", name="INVALID_NAME")
    expect(create, database_pb2.CreateDatabaseRequest(name=unique("db"), item_id_type="float"), metadata=md(c.root),
           status=SC.INVALID_ARGUMENT, code="InvalidParameter", name="WRONG_DATA_TYPE")
    expect(create, database_pb2.CreateDatabaseRequest(name=unique("db"), metadata_json="[]"), metadata=md(c.root),
           status=SC.INVALID_ARGUMENT, code="InvalidParameter")
    expect(c.databases.GetDatabase, database_pb2.GetDatabaseRequest(id=str(uuid.uuid4())), metadata=md(c.root),
           status=SC.NOT_FOUND, code="ResourceNotFound", name="DB_NOT_FOUND")
    expect(c.databases.GetDatabase, database_pb2.GetDatabaseRequest(id="not-an-id"), metadata=md(c.root),
           status=SC.NOT_FOUND, code="ResourceNotFound")


def test_update_database(c: Client) -> None:
    db, other = _db(c, metadata_json='{"a": 1}'), _db(c)
    name = unique("renamed")
    got = c.databases.UpdateDatabase(database_pb2.UpdateDatabaseRequest(
        id=db.id, name=name, description="new", metadata_json='{"b": 2}', preserve=True,
        core_config_json='{"k": 1}'), metadata=md(c.root))
    assert (got.name, got.description, json.loads(got.metadata_json), json.loads(got.core_config_json)) == \
        (name, "new", {"a": 1, "b": 2}, {"k": 1})
    replaced = c.databases.UpdateDatabase(database_pb2.UpdateDatabaseRequest(id=db.id, metadata_json='{"c": 3}'),
                                          metadata=md(c.root))
    assert json.loads(replaced.metadata_json) == {"c": 3} and replaced.name == name
    update = c.databases.UpdateDatabase
    expect(update, database_pb2.UpdateDatabaseRequest(id=db.id, name=other.name), metadata=md(c.root),
           status=SC.ALREADY_EXISTS, code="ResourceAlreadyExists", name="DUPLICATED_DB_NAME")
    expect(update, database_pb2.UpdateDatabaseRequest(id=db.id, owned_by=str(uuid.uuid4())), metadata=md(c.root),
           status=SC.FAILED_PRECONDITION, code="RelatedResourceNotFound")
    expect(update, database_pb2.UpdateDatabaseRequest(id=str(uuid.uuid4()), name="x"), metadata=md(c.root),
           status=SC.NOT_FOUND, code="ResourceNotFound")


def _watch(c: Client, ident: str) -> list[int]:
    return [d.database_status for d in c.databases.WatchDatabase(database_pb2.WatchDatabaseRequest(id=ident),
                                                                 metadata=md(c.root), timeout=TIMEOUT)]


def test_delete_and_watch_database(c: Client) -> None:
    db = _db(c)
    assert _watch(c, db.id) == [database_pb2.DATABASE_STATE_RUNNING]
    deleting = c.databases.DeleteDatabase(database_pb2.DeleteDatabaseRequest(id=db.id), metadata=md(c.root))
    assert (deleting.id, deleting.database_status) == (db.id, database_pb2.DATABASE_STATE_DELETING)
    states = _watch(c, db.id)
    assert states[-1] == database_pb2.DATABASE_STATE_DELETED and len(states) == len(set(states))
    assert set(states) <= {database_pb2.DATABASE_STATE_DELETING, database_pb2.DATABASE_STATE_DEPROVISIONING,
                           database_pb2.DATABASE_STATE_DELETED}
    expect(c.databases.DeleteDatabase, database_pb2.DeleteDatabaseRequest(id=db.id), metadata=md(c.root),
           status=SC.NOT_FOUND, code="ResourceNotFound")
    expect(c.databases.UpdateDatabase, database_pb2.UpdateDatabaseRequest(id=db.id, description="x"),
           metadata=md(c.root), status=SC.FAILED_PRECONDITION, code="IncorrectState")
    # Gone from the list; its name is free again.
    listed = c.databases.ListDatabases(database_pb2.ListDatabasesRequest(limit=64), metadata=md(c.root))
    assert db.id not in {d.id for d in listed.resources}
    again = c.databases.CreateDatabase(database_pb2.CreateDatabaseRequest(name=db.name), metadata=md(c.root))
    assert again.id != db.id
    expect(_watch, c, str(uuid.uuid4()), status=SC.NOT_FOUND, code="ResourceNotFound")


def test_queries_need_a_running_database(c: Client) -> None:
    db = _db(c)
    c.databases.DeleteDatabase(database_pb2.DeleteDatabaseRequest(id=db.id), metadata=md(c.root))
    expect(c.sql, c.root, db.id, "SHOW TABLES", status=SC.FAILED_PRECONDITION, code="IncorrectState",
           name="DATABASE_NOT_RUNNING")
    expect(c.pql, c.root, db.id, "t", "Count(All())", status=SC.FAILED_PRECONDITION, code="IncorrectState")


# -- errors, health, reflection ----------------------------------------------------------

def test_errors_carry_a_google_rpc_status(c: Client) -> None:
    with pytest.raises(grpc.RpcError) as info:
        c.databases.GetDatabase(database_pb2.GetDatabaseRequest(id=str(uuid.uuid4())), metadata=md(c.root))
    status = rpc_status.from_call(info.value)
    assert status is not None and status.code == SC.NOT_FOUND.value[0]
    detail = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(detail)
    assert (detail.reason, detail.domain, detail.metadata["error_name"], detail.metadata["error_code"]) == \
        ("ResourceNotFound", "roarbase", "NotFoundError", "60")
    data = json.loads(detail.metadata["error_data"])
    assert data["name"] == "DB_NOT_FOUND" and data["type"] == "database" and len(data["request_id"]) == 16


def test_health_serving_for_every_service(c: Client) -> None:
    health = health_pb2_grpc.HealthStub(c.channel)
    names = {m.rsplit("/", 1)[0].lstrip("/") for m in methods.all_methods()}
    assert len(names) == 10
    for name in ("", *sorted(names)):
        got = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=TIMEOUT)
        assert got.status == health_pb2.HealthCheckResponse.SERVING, name
    with pytest.raises(grpc.RpcError) as info:
        health.Check(health_pb2.HealthCheckRequest(service="nope.Service"), timeout=TIMEOUT)
    assert info.value.code() is SC.NOT_FOUND
    watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT)
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    watch.cancel()


def test_reflection_lists_the_services(c: Client) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(c.channel)
    requests = [reflection_pb2.ServerReflectionRequest(list_services=""),
                reflection_pb2.ServerReflectionRequest(file_containing_symbol="roarbase.v1.QueryService")]
    answers = list(stub.ServerReflectionInfo(iter(requests), timeout=TIMEOUT))
    listed = {s.name for s in answers[0].list_services_response.service}
    expected = {m.rsplit("/", 1)[0].lstrip("/") for m in methods.all_methods()}
    assert expected <= listed and "grpc.health.v1.Health" in listed
    assert answers[1].file_descriptor_response.file_descriptor_proto
