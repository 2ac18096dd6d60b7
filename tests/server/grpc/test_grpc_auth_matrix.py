"""R14 over gRPC: every method × {root, manager, backend, frontend, no token, expired, bad
signature, alg none, wrong audience, other org}, each with a minimal valid request. The data
plane (Property/Entity/TaskService) is asked about items of the database, which frontend
may read; its users-only-as-its-own-end-user rule has its own test below.

The expected outcome of a cell is computed from server/policy.py's table alone: public ->
OK whatever the credentials; bad or missing credentials -> UNAUTHENTICATED; a built-in role
outside the row's roles -> PERMISSION_DENIED; another org's root naming this org's
resources -> NOT_FOUND (never a refusal that confirms they exist); otherwise OK. The forged
tokens carry the real claims of this org's root and differ in one thing each.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import grpc
import pytest

from grpc_testlib import MEMBER_PASSWORD, OTHER_EMAIL, ROOT_EMAIL, ROOT_PASSWORD, TIMEOUT, Client, failure, forge, \
    md, prepare_other_org, serving, unique
from server import methods
from server.grpc_status import from_grpc
from server.pb.roarbase.v1 import (
    account_pb2,
    auth_pb2,
    database_pb2,
    entity_pb2,
    invite_pb2,
    org_pb2,
    query_pb2,
    role_pb2,
    task_pb2,
    value_pb2,
)
from server.policy import POLICY, operation

SC = grpc.StatusCode
ROLES = ("root", "manager", "backend", "frontend")
BAD_TOKENS = ("expired", "bad_signature", "alg_none", "wrong_audience")
KINDS = (*ROLES, "no_token", *BAD_TOKENS, "other_org")


@dataclass
class World:
    """Org "acme" with one of each resource a request can name, and the callers."""

    c: Client
    org_id: str
    db: str
    service_account: str
    key_id: str
    role: str
    invite: str
    target: str
    callers: dict[str, tuple[tuple[tuple[str, str], ...], Optional[str]]]  # kind -> (metadata, own account id)
    other_root: str
    task: str
    backup: bytes = b""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("grpc-r14")
    prepare_other_org(data_dir)
    # Hundreds of forged tokens from one address: lift the invalid-credential budget that
    # would otherwise (rightly) answer 429 part-way (test_auth_throttling covers it).
    with serving(data_dir, settings={"auth_failure_burst": 100_000}) as c:
        yield _build(c, data_dir)


def _build(c: Client, data_dir: Path) -> World:
    root = md(c.root)
    db = c.databases.CreateDatabase(database_pb2.CreateDatabaseRequest(name="r14"), metadata=root).id
    c.sql(c.root, db, "CREATE TABLE t (_id ID, v INT)")
    c.sql(c.root, db, "INSERT INTO t (_id, v) VALUES (1, 10), (2, 20)")
    sa = c.accounts.CreateAccount(account_pb2.CreateAccountRequest(kind=account_pb2.ACCOUNT_KIND_SERVICE, name="bot"),
                                  metadata=root).id
    key = c.auth.CreateApiKey(auth_pb2.CreateApiKeyRequest(account_id=sa), metadata=root).api_key.id
    role = c.roles.CreateRole(role_pb2.CreateRoleRequest(rolename="auditor", acl=["org:read"]), metadata=root).rolename
    invite = c.invites.CreateInvite(invite_pb2.CreateInviteRequest(email="guest@example.com"), metadata=root).id
    target = c.member("backend")[1].id
    me = c.accounts.GetCurrentAccount(account_pb2.GetCurrentAccountRequest(), metadata=root)
    callers: dict[str, Any] = {"root": (root, me.id), "no_token": ((), None)}
    for role_name in ROLES[1:]:
        token, acc = c.member(role_name)
        callers[role_name] = (md(token), acc.id)
    forged = {"expired": {"expired": True}, "bad_signature": {"secret": os.urandom(32)},
              "alg_none": {"alg": "none"}, "wrong_audience": {"audience": "another-api"}}
    for kind, variation in forged.items():
        callers[kind] = (md(forge(data_dir, me.id, me.org_id, "root", **variation)), None)
    other = c.login(OTHER_EMAIL, ROOT_PASSWORD).token
    callers["other_org"] = (md(other), None)
    c.properties.CreateProperty(entity_pb2.CreatePropertyRequest(
        database_id=db, kind=ITEM, property_name="n", value_type="int"), metadata=root)
    c.properties.CreateProperty(entity_pb2.CreatePropertyRequest(
        database_id=db, kind=entity_pb2.ENTITY_KIND_USER, property_name="age", value_type="int"), metadata=root)
    task = c.entities.BulkPut(entity_pb2.BulkPutRequest(database_id=db, kind=ITEM, entities=[_item(1), _item(2)],
                                                        wait_for_completion=False), metadata=root).task.task_id
    backup = b"".join(m.data for m in c.databases.BackupDatabase(database_pb2.BackupDatabaseRequest(id=db),
                                                                  metadata=root, timeout=TIMEOUT))
    return World(c, me.org_id, db, sa, key, role, invite, target, callers, other, task, backup)


ITEM = entity_pb2.ENTITY_KIND_ITEM


def _item(ident: int, n: int = 1) -> entity_pb2.Entity:
    e = entity_pb2.Entity(id=value_pb2.Value(uint=ident))
    e.properties["n"].int = n
    return e


def _ids(*idents: int) -> list[value_pb2.Value]:
    return [value_pb2.Value(uint=i) for i in idents]


def _fresh_property(w: World) -> str:
    name = unique("p").replace("-", "_")
    w.c.properties.CreateProperty(entity_pb2.CreatePropertyRequest(
        database_id=w.db, kind=ITEM, property_name=name, value_type="int"), metadata=md(w.c.root))
    return name


def _fresh_id() -> int:
    return 1_000_000 + uuid.uuid4().int % 1_000_000_000


@dataclass(frozen=True)
class Cell:
    kind: str
    metadata: tuple[tuple[str, str], ...]
    own_id: Optional[str]


@dataclass(frozen=True)
class Case:
    """call(world, cell) makes the request with the cell's credentials. org_scoped: the
    request names this org's resources, so another org's caller must get NOT_FOUND."""

    call: Callable[[World, Cell], Any]
    org_scoped: bool
    # What an allowed caller gets (cluster membership on this embedded server: IncorrectState).
    success: tuple[grpc.StatusCode, Optional[str]] = (SC.OK, None)


def _fresh_db(w: World) -> str:
    return w.c.databases.CreateDatabase(database_pb2.CreateDatabaseRequest(name=unique("gone")), metadata=md(w.c.root)).id


def _fresh_role(w: World) -> str:
    return w.c.roles.CreateRole(role_pb2.CreateRoleRequest(rolename=unique("tmp")), metadata=md(w.c.root)).rolename


def _move(w: World, cell: Cell) -> Any:
    """MoveAccountOrg moves its caller away: a manager/backend/frontend cell uses a new
    account of its role, invited by the other org."""
    metadata, own = cell.metadata, cell.own_id
    invite_id = str(uuid.uuid4())
    if cell.kind in ROLES[1:]:
        token, acc = w.c.member(cell.kind)
        metadata, own = md(token), acc.id
        invite_id = w.c.invites.CreateInvite(invite_pb2.CreateInviteRequest(email=acc.username),
                                             metadata=md(w.other_root)).id
    return w.c.accounts.MoveAccountOrg(account_pb2.MoveAccountOrgRequest(id=own or w.target, invite_id=invite_id),
                                       metadata=metadata, timeout=TIMEOUT)


def _fresh_account(w: World) -> str:
    return w.c.accounts.CreateAccount(account_pb2.CreateAccountRequest(
        email=f"{unique('del')}@example.com", role="frontend"), metadata=md(w.c.root)).id


def _own_or_target(w: World, cell: Cell) -> str:
    # Anyone may rename themselves; another org's caller names this org's account instead.
    return w.target if cell.kind == "other_org" or cell.own_id is None else cell.own_id


def _stream(calls: Any) -> list[Any]:
    return list(calls)


EMPTY_ENVELOPE = b'{"version": "1", "values": {"iterable": []}}'


P = "/roarbase.v1"
_NOT_A_CLUSTER = (SC.FAILED_PRECONDITION, "IncorrectState")
CASES: dict[str, Case] = {
    f"{P}.AuthService/Login": Case(lambda w, c: w.c.auth.Login(auth_pb2.LoginRequest(
        email=ROOT_EMAIL, password=ROOT_PASSWORD), metadata=c.metadata), False),
    f"{P}.AuthService/RefreshToken": Case(lambda w, c: w.c.auth.RefreshToken(auth_pb2.RefreshTokenRequest(
        refresh_token=w.c.login(ROOT_EMAIL, ROOT_PASSWORD).refresh_token), metadata=c.metadata), False),
    f"{P}.AuthService/CreateApiKey": Case(lambda w, c: w.c.auth.CreateApiKey(auth_pb2.CreateApiKeyRequest(
        account_id=w.service_account), metadata=c.metadata), True),
    f"{P}.AuthService/RevokeApiKey": Case(lambda w, c: w.c.auth.RevokeApiKey(auth_pb2.RevokeApiKeyRequest(
        id=w.key_id), metadata=c.metadata), True),
    f"{P}.AuthService/ListApiKeys": Case(lambda w, c: w.c.auth.ListApiKeys(auth_pb2.ListApiKeysRequest(),
                                                                           metadata=c.metadata), False),
    f"{P}.OrgService/GetOrg": Case(lambda w, c: w.c.orgs.GetOrg(org_pb2.GetOrgRequest(id=w.org_id),
                                                                metadata=c.metadata), True),
    f"{P}.OrgService/UpdateOrg": Case(lambda w, c: w.c.orgs.UpdateOrg(org_pb2.UpdateOrgRequest(
        id=w.org_id, company_name="Acme"), metadata=c.metadata), True),
    f"{P}.OrgService/GetServiceProperty": Case(lambda w, c: w.c.orgs.GetServiceProperty(
        org_pb2.GetServicePropertyRequest(property="database:limits"), metadata=c.metadata), False),
    f"{P}.AccountService/CreateAccount": Case(lambda w, c: w.c.accounts.CreateAccount(
        account_pb2.CreateAccountRequest(email=f"{unique('new')}@example.com", role="frontend"),
        metadata=c.metadata), False),
    f"{P}.AccountService/GetAccount": Case(lambda w, c: w.c.accounts.GetAccount(account_pb2.GetAccountRequest(
        id=w.target), metadata=c.metadata), True),
    f"{P}.AccountService/GetCurrentAccount": Case(lambda w, c: w.c.accounts.GetCurrentAccount(
        account_pb2.GetCurrentAccountRequest(), metadata=c.metadata), False),
    f"{P}.AccountService/UpdateAccount": Case(lambda w, c: w.c.accounts.UpdateAccount(
        account_pb2.UpdateAccountRequest(id=_own_or_target(w, c), firstname="Renamed"), metadata=c.metadata), True),
    f"{P}.AccountService/ListAccounts": Case(lambda w, c: w.c.accounts.ListAccounts(
        account_pb2.ListAccountsRequest(), metadata=c.metadata), False),
    f"{P}.AccountService/AddAccountRoles": Case(lambda w, c: w.c.accounts.AddAccountRoles(
        account_pb2.AddAccountRolesRequest(id=w.target, rolenames=["backend"]), metadata=c.metadata), True),
    f"{P}.AccountService/MoveAccountOrg": Case(_move, True),
    f"{P}.AccountService/DeleteAccount": Case(lambda w, c: w.c.accounts.DeleteAccount(
        account_pb2.DeleteAccountRequest(id=_fresh_account(w)), metadata=c.metadata), True),
    f"{P}.InviteService/CreateInvite": Case(lambda w, c: w.c.invites.CreateInvite(invite_pb2.CreateInviteRequest(
        email=f"{unique('inv')}@example.com"), metadata=c.metadata), False),
    f"{P}.InviteService/GetInvite": Case(lambda w, c: w.c.invites.GetInvite(invite_pb2.GetInviteRequest(
        id=w.invite), metadata=c.metadata), True),
    f"{P}.InviteService/ListInvites": Case(lambda w, c: w.c.invites.ListInvites(invite_pb2.ListInvitesRequest(),
                                                                                 metadata=c.metadata), False),
    f"{P}.InviteService/UpdateInvite": Case(lambda w, c: w.c.invites.UpdateInvite(invite_pb2.UpdateInviteRequest(
        id=w.invite, accepted=True), metadata=c.metadata), True),
    f"{P}.RoleService/CreateRole": Case(lambda w, c: w.c.roles.CreateRole(role_pb2.CreateRoleRequest(
        rolename=unique("r")), metadata=c.metadata), False),
    f"{P}.RoleService/GetRole": Case(lambda w, c: w.c.roles.GetRole(role_pb2.GetRoleRequest(rolename=w.role),
                                                                     metadata=c.metadata), True),
    f"{P}.RoleService/ListRoles": Case(lambda w, c: w.c.roles.ListRoles(role_pb2.ListRolesRequest(),
                                                                         metadata=c.metadata), False),
    f"{P}.RoleService/UpdateRole": Case(lambda w, c: w.c.roles.UpdateRole(role_pb2.UpdateRoleRequest(
        rolename=w.role, acl=["org:read"]), metadata=c.metadata), True),
    f"{P}.RoleService/DeleteRole": Case(lambda w, c: w.c.roles.DeleteRole(role_pb2.DeleteRoleRequest(
        rolename=_fresh_role(w)), metadata=c.metadata), True),
    f"{P}.DatabaseService/CreateDatabase": Case(lambda w, c: w.c.databases.CreateDatabase(
        database_pb2.CreateDatabaseRequest(name=unique("new")), metadata=c.metadata), False),
    f"{P}.DatabaseService/GetDatabase": Case(lambda w, c: w.c.databases.GetDatabase(database_pb2.GetDatabaseRequest(
        id=w.db), metadata=c.metadata), True),
    f"{P}.DatabaseService/ListDatabases": Case(lambda w, c: w.c.databases.ListDatabases(
        database_pb2.ListDatabasesRequest(), metadata=c.metadata), False),
    f"{P}.DatabaseService/UpdateDatabase": Case(lambda w, c: w.c.databases.UpdateDatabase(
        database_pb2.UpdateDatabaseRequest(id=w.db, description="matrix"), metadata=c.metadata), True),
    f"{P}.DatabaseService/DeleteDatabase": Case(lambda w, c: w.c.databases.DeleteDatabase(
        database_pb2.DeleteDatabaseRequest(id=_fresh_db(w)), metadata=c.metadata), True),
    f"{P}.DatabaseService/WatchDatabase": Case(lambda w, c: _stream(w.c.databases.WatchDatabase(
        database_pb2.WatchDatabaseRequest(id=w.db), metadata=c.metadata, timeout=TIMEOUT)), True),
    f"{P}.DatabaseService/ExportDatabase": Case(lambda w, c: _stream(w.c.databases.ExportDatabase(
        database_pb2.ExportDatabaseRequest(id=w.db), metadata=c.metadata, timeout=TIMEOUT)), True),
    f"{P}.DatabaseService/ImportDatabase": Case(lambda w, c: w.c.databases.ImportDatabase(iter([
        database_pb2.ImportChunk(id=w.db, data=EMPTY_ENVELOPE)]), metadata=c.metadata, timeout=TIMEOUT), True),
    f"{P}.DatabaseService/BackupDatabase": Case(lambda w, c: _stream(w.c.databases.BackupDatabase(
        database_pb2.BackupDatabaseRequest(id=w.db), metadata=c.metadata, timeout=TIMEOUT)), True),
    f"{P}.DatabaseService/RestoreDatabase": Case(lambda w, c: w.c.databases.RestoreDatabase(iter([
        database_pb2.RestoreChunk(name=unique("restored"), data=w.backup)]), metadata=c.metadata,
        timeout=TIMEOUT), False),
    f"{P}.DatabaseService/AddClusterWorker": Case(lambda w, c: w.c.databases.AddClusterWorker(
        database_pb2.ClusterWorkerRequest(id=w.db, name="w9"), metadata=c.metadata), True, _NOT_A_CLUSTER),
    f"{P}.DatabaseService/RemoveClusterWorker": Case(lambda w, c: w.c.databases.RemoveClusterWorker(
        database_pb2.ClusterWorkerRequest(id=w.db, name="w0"), metadata=c.metadata), True, _NOT_A_CLUSTER),
    f"{P}.DatabaseService/RebalanceCluster": Case(lambda w, c: w.c.databases.RebalanceCluster(
        database_pb2.RebalanceClusterRequest(id=w.db), metadata=c.metadata), True, _NOT_A_CLUSTER),
    f"{P}.QueryService/Sql": Case(lambda w, c: _stream(w.c.queries.Sql(query_pb2.SqlRequest(
        database_id=w.db, sql="SELECT count(*) FROM t"), metadata=c.metadata, timeout=TIMEOUT)), True),
    f"{P}.QueryService/Pql": Case(lambda w, c: w.c.queries.Pql(query_pb2.PqlRequest(
        database_id=w.db, table="t", statement="Count(All())"), metadata=c.metadata), True),
    f"{P}.QueryService/PqlStream": Case(lambda w, c: _stream(w.c.queries.PqlStream(query_pb2.PqlRequest(
        database_id=w.db, table="t", statement="Count(All())"), metadata=c.metadata, timeout=TIMEOUT)), True),
    f"{P}.PropertyService/ListProperties": Case(lambda w, c: w.c.properties.ListProperties(
        entity_pb2.ListPropertiesRequest(database_id=w.db, kind=ITEM), metadata=c.metadata), True),
    f"{P}.PropertyService/GetProperty": Case(lambda w, c: w.c.properties.GetProperty(entity_pb2.GetPropertyRequest(
        database_id=w.db, kind=ITEM, property_name="n"), metadata=c.metadata), True),
    f"{P}.PropertyService/CreateProperty": Case(lambda w, c: w.c.properties.CreateProperty(
        entity_pb2.CreatePropertyRequest(database_id=w.db, kind=ITEM, property_name=unique("p").replace("-", "_"),
                                         value_type="uint8"), metadata=c.metadata), True),
    f"{P}.PropertyService/DeleteProperty": Case(lambda w, c: w.c.properties.DeleteProperty(
        entity_pb2.DeletePropertyRequest(database_id=w.db, kind=ITEM, property_name=_fresh_property(w)),
        metadata=c.metadata), True),
    f"{P}.EntityService/GetEntity": Case(lambda w, c: w.c.entities.GetEntity(entity_pb2.GetEntityRequest(
        database_id=w.db, kind=ITEM, id=value_pb2.Value(uint=1)), metadata=c.metadata), True),
    f"{P}.EntityService/PutEntity": Case(lambda w, c: w.c.entities.PutEntity(entity_pb2.PutEntityRequest(
        database_id=w.db, kind=ITEM, entity=_item(_fresh_id())), metadata=c.metadata), True),
    f"{P}.EntityService/PatchEntity": Case(lambda w, c: w.c.entities.PatchEntity(entity_pb2.PatchEntityRequest(
        database_id=w.db, kind=ITEM, entity=_item(2, 5)), metadata=c.metadata), True),
    f"{P}.EntityService/DeleteEntity": Case(lambda w, c: w.c.entities.DeleteEntity(entity_pb2.DeleteEntityRequest(
        database_id=w.db, kind=ITEM, id=value_pb2.Value(uint=_fresh_id())), metadata=c.metadata), True),
    f"{P}.EntityService/BulkPut": Case(lambda w, c: w.c.entities.BulkPut(entity_pb2.BulkPutRequest(
        database_id=w.db, kind=ITEM, entities=[_item(_fresh_id())]), metadata=c.metadata), True),
    f"{P}.EntityService/BulkPatch": Case(lambda w, c: w.c.entities.BulkPatch(entity_pb2.BulkPatchRequest(
        database_id=w.db, kind=ITEM, entities=[_item(2, 6)]), metadata=c.metadata), True),
    f"{P}.EntityService/BulkDelete": Case(lambda w, c: w.c.entities.BulkDelete(entity_pb2.BulkDeleteRequest(
        database_id=w.db, kind=ITEM, ids=_ids(_fresh_id())), metadata=c.metadata), True),
    f"{P}.EntityService/BulkWrite": Case(lambda w, c: w.c.entities.BulkWrite(iter([entity_pb2.BulkWriteRequest(
        database_id=w.db, kind=ITEM, mode=entity_pb2.WRITE_MODE_PUT, entities=[_item(_fresh_id())])]),
        metadata=c.metadata, timeout=TIMEOUT), True),
    f"{P}.EntityService/ListByIds": Case(lambda w, c: w.c.entities.ListByIds(entity_pb2.ListByIdsRequest(
        database_id=w.db, kind=ITEM, ids=_ids(1, 2)), metadata=c.metadata), True),
    f"{P}.EntityService/ScanEntities": Case(lambda w, c: _stream(w.c.entities.ScanEntities(
        entity_pb2.ScanEntitiesRequest(database_id=w.db, kind=ITEM), metadata=c.metadata, timeout=TIMEOUT)), True),
    f"{P}.TaskService/ListTasks": Case(lambda w, c: w.c.tasks.ListTasks(task_pb2.ListTasksRequest(
        database_id=w.db, name="items_put"), metadata=c.metadata), True),
    f"{P}.TaskService/GetTask": Case(lambda w, c: w.c.tasks.GetTask(task_pb2.GetTaskRequest(task_id=w.task),
                                                                     metadata=c.metadata), True),
    f"{P}.TaskService/WatchTask": Case(lambda w, c: _stream(w.c.tasks.WatchTask(task_pb2.WatchTaskRequest(
        task_id=w.task), metadata=c.metadata, timeout=TIMEOUT)), True),
}


def expected(method: str, kind: str, case: Case) -> tuple[grpc.StatusCode, Optional[str]]:
    """(status, roarbase code) the policy table implies for one cell."""
    rule = POLICY.get(operation(method))
    if rule is None:
        return SC.PERMISSION_DENIED, "Unauthorized"
    if rule.public:
        return SC.OK, None
    if kind == "no_token":
        return SC.UNAUTHENTICATED, "MissingAuthenticationToken"
    if kind == "expired":
        return SC.UNAUTHENTICATED, "TokenExpired"
    if kind in BAD_TOKENS:
        return SC.UNAUTHENTICATED, "Unauthorized"
    role = "root" if kind == "other_org" else kind
    if role not in rule.roles:
        return SC.PERMISSION_DENIED, "Unauthorized"
    if kind == "other_org" and case.org_scoped:
        return SC.NOT_FOUND, "ResourceNotFound"
    return case.success


def _outcome(w: World, case: Case, cell: Cell) -> tuple[grpc.StatusCode, Optional[str], str]:
    try:
        case.call(w, cell)
    except grpc.RpcError as exc:
        err = from_grpc(exc.code(), exc.details() or "", exc.trailing_metadata())
        return exc.code(), err.code, exc.details() or ""
    return SC.OK, None, ""


def test_every_method_has_a_policy_row_and_a_case() -> None:
    missing_policy = [m for m in methods.all_methods() if operation(m) not in POLICY]
    assert missing_policy == []
    assert set(CASES) == set(methods.all_methods())


def test_auth_matrix(world: World) -> None:
    cells, mismatches = 0, []
    for method in methods.all_methods():
        case = CASES[method]
        for kind in KINDS:
            metadata, own = world.callers[kind]
            cell = Cell(kind, metadata, own)
            want = expected(method, kind, case)
            status, code, details = _outcome(world, case, cell)
            cells += 1
            if (status, code) != want:
                mismatches.append(f"{method} as {kind}: got {status.name}/{code} ({details}), want "
                                  f"{want[0].name}/{want[1]}")
    without_policy = sum(operation(m) not in POLICY for m in methods.all_methods())
    print(f"R14 grpc: cells={cells} mismatches={len(mismatches)} methods_without_policy={without_policy}")
    assert cells == len(methods.all_methods()) * len(KINDS)
    assert mismatches == []


WRITES = {"/roarbase.v1.QueryService/Sql": lambda w, c: _stream(w.c.queries.Sql(query_pb2.SqlRequest(
              database_id=w.db, sql="INSERT INTO t (_id, v) VALUES (3, 30)"), metadata=c.metadata, timeout=TIMEOUT)),
          "/roarbase.v1.QueryService/Pql": lambda w, c: w.c.queries.Pql(query_pb2.PqlRequest(
              database_id=w.db, table="t", statement="Set(4, v=40)"), metadata=c.metadata, timeout=TIMEOUT),
          "/roarbase.v1.QueryService/PqlStream": lambda w, c: _stream(w.c.queries.PqlStream(query_pb2.PqlRequest(
              database_id=w.db, table="t", statement="Set(5, v=50)"), metadata=c.metadata, timeout=TIMEOUT))}


def test_writing_statements_follow_the_write_roles(world: World) -> None:
    """A query method is a read; a statement that writes needs the row's write_roles —
    frontend never writes, and a refused write changes nothing."""
    count = world.c.pql(world.c.root, world.db, "t", "Count(All())")[0].count
    mismatches = []
    for method, call in WRITES.items():
        rule = POLICY[operation(method)]
        for role in ("frontend", "backend", "manager", "root"):
            metadata, own = world.callers[role]
            case = Case(call, True)
            status, code, details = _outcome(world, case, Cell(role, metadata, own))
            want = (SC.OK, None) if role in rule.write_roles else (SC.PERMISSION_DENIED, "Unauthorized")
            if (status, code) != want:
                mismatches.append(f"{method} write as {role}: {status.name}/{code} {details}")
            if role == "frontend":
                assert world.c.pql(world.c.root, world.db, "t", "Count(All())")[0].count == count
            else:
                count = world.c.pql(world.c.root, world.db, "t", "Count(All())")[0].count
    assert mismatches == []
    assert count == 5  # records 1..5: the two inserted first, then one per allowed method


def test_other_org_ids_look_like_unknown_ids(world: World) -> None:
    """No existence oracle: another org's database answers exactly like a random id (but
    for the key it echoes and the request id)."""
    other = md(world.other_root)

    def error_of(ident: str) -> tuple[Any, ...]:
        f = failure(world.c.databases.GetDatabase, database_pb2.GetDatabaseRequest(id=ident), metadata=other)
        data = {k: v for k, v in f.error.details.items() if k not in ("key", "request_id")}
        return f.status, f.error.code, f.error.name, f.details, data

    assert error_of(world.db) == error_of(str(uuid.uuid4()))


def test_frontend_reads_users_only_as_its_end_user(world: World) -> None:
    """The frontend rows allow GetEntity and ListByIds; among users, a frontend token sees
    only the end user fixed at its login (`~me`), and answers any other user like an
    unknown one. Its writes are refused and change nothing."""
    w, root = world, md(world.c.root)
    user = entity_pb2.ENTITY_KIND_USER
    people = []
    for ident, age in ((7, 30), (8, 40)):
        e = entity_pb2.Entity(id=value_pb2.Value(uint=ident))
        e.properties["age"].int = age
        people.append(e)
    w.c.entities.BulkPut(entity_pb2.BulkPutRequest(database_id=w.db, kind=user, entities=people), metadata=root)
    _, acc = w.c.member("frontend")
    fe = md(w.c.login(acc.username, MEMBER_PASSWORD, db_id=w.db, frontend_user_id="7").token)

    def get(ident: value_pb2.Value, metadata: Any = fe) -> Any:
        return w.c.entities.GetEntity(entity_pb2.GetEntityRequest(kind=user, id=ident), metadata=metadata)

    assert get(value_pb2.Value(uint=7)).properties["age"].int == 30
    assert get(value_pb2.Value(text="~me")).id.uint == 7
    want = failure(get, value_pb2.Value(uint=999))
    for other in (value_pb2.Value(uint=8), value_pb2.Value(uint=999)):
        got = failure(get, other)
        assert (got.status, got.error.code, got.error.name) == (SC.NOT_FOUND, "ResourceNotFound", "USER_NOT_FOUND")
        assert (got.status, got.error.code, got.error.name) == (want.status, want.error.code, want.error.name)
    listed = w.c.entities.ListByIds(entity_pb2.ListByIdsRequest(kind=user, ids=_ids(8, 7, 999)), metadata=fe)
    assert [e.id.uint for e in listed.entities] == [7]
    before = w.c.entities.ListByIds(entity_pb2.ListByIdsRequest(database_id=w.db, kind=user, ids=_ids(7, 8)),
                                    metadata=root)
    refused = [
        lambda: w.c.entities.PatchEntity(entity_pb2.PatchEntityRequest(kind=user, entity=people[0]), metadata=fe),
        lambda: w.c.entities.BulkDelete(entity_pb2.BulkDeleteRequest(kind=user, ids=_ids(7, 8)), metadata=fe),
        lambda: w.c.entities.BulkWrite(iter([entity_pb2.BulkWriteRequest(
            kind=user, mode=entity_pb2.WRITE_MODE_PUT, entities=people)]), metadata=fe, timeout=TIMEOUT),
        lambda: _stream(w.c.entities.ScanEntities(entity_pb2.ScanEntitiesRequest(kind=user), metadata=fe,
                                                  timeout=TIMEOUT)),
    ]
    for call in refused:
        f = failure(call)
        assert (f.status, f.error.code) == (SC.PERMISSION_DENIED, "Unauthorized")
    after = w.c.entities.ListByIds(entity_pb2.ListByIdsRequest(database_id=w.db, kind=user, ids=_ids(7, 8)),
                                   metadata=root)
    assert after == before
