"""The policy table: every operation × every built-in role, checked three ways — the table
against the roles API.md documents, `check` against the table, and the service function
behind each operation against `check` (so a function cannot check the wrong name)."""
import ast
import pathlib

import pytest

from server import policy
from server.service import tokens
from server.service.principal import Principal
from server.policy import BUILTIN_ROLES, POLICY
from server.service import (
    accounts,
    backups,
    cluster_members,
    connections,
    databases,
    entities,
    invites,
    orgs,
    query,
    roles,
    service_properties,
    sources,
    tasks,
    transfers,
)
from server.service.errors import Forbidden, MissingAuthenticationToken, ServiceError
from svc_testlib import member, root_of, start

ROOT = pathlib.Path(__file__).resolve().parents[3]

# Who may call what, transcribed from API.md §3.1-3.7 and SECURITY.md (R M B F = root,
# manager, backend, frontend; "-" = public). Query operations: F reads only.
DOCUMENTED = {
    "AuthService.Login": "-", "AuthService.RefreshToken": "-",
    "AuthService.CreateApiKey": "RM", "AuthService.ListApiKeys": "RM", "AuthService.RevokeApiKey": "RM",
    "OrgService.GetOrg": "RMBF", "OrgService.UpdateOrg": "RM", "OrgService.GetServiceProperty": "RMBF",
    "AccountService.CreateAccount": "RM", "AccountService.GetAccount": "RM",
    "AccountService.GetCurrentAccount": "RMBF", "AccountService.ListAccounts": "RM",
    "AccountService.UpdateAccount": "RMB", "AccountService.DeleteAccount": "RM",
    "AccountService.AddAccountRoles": "R", "AccountService.MoveAccountOrg": "MB",
    "InviteService.CreateInvite": "RM", "InviteService.GetInvite": "RM", "InviteService.ListInvites": "RM",
    "InviteService.UpdateInvite": "RM", "InviteService.DeleteInvite": "RM", "InviteService.AcceptInvite": "-",
    "RoleService.CreateRole": "R", "RoleService.GetRole": "R", "RoleService.ListRoles": "R",
    "RoleService.UpdateRole": "R", "RoleService.DeleteRole": "R",
    "DatabaseService.CreateDatabase": "RM", "DatabaseService.GetDatabase": "RMB",
    "DatabaseService.ListDatabases": "RMB", "DatabaseService.UpdateDatabase": "RM",
    "DatabaseService.DeleteDatabase": "RM", "DatabaseService.WatchDatabase": "RMB",
    "DatabaseService.ExportDatabase": "RMB", "DatabaseService.ImportDatabase": "RM",
    "DatabaseService.BackupDatabase": "RMB", "DatabaseService.RestoreDatabase": "RM",
    "DatabaseService.AddClusterWorker": "RM", "DatabaseService.RemoveClusterWorker": "RM",
    "DatabaseService.RebalanceCluster": "RM",
    "QueryService.Sql": "RMBF", "QueryService.Pql": "RMBF", "QueryService.PqlStream": "RMBF",
    "QueryService.ListQueries": "RMB",
    # the /v1 data plane (API.md §3.4): frontend reads items and its own user, never writes
    "PropertyService.ListProperties": "RMBF", "PropertyService.GetProperty": "RMB",
    "PropertyService.CreateProperty": "RMB", "PropertyService.DeleteProperty": "RMB",
    "EntityService.GetEntity": "RMBF", "EntityService.ListByIds": "RMBF", "EntityService.ScanEntities": "RMB",
    "EntityService.PutEntity": "RMB", "EntityService.PatchEntity": "RMB", "EntityService.DeleteEntity": "RMB",
    "EntityService.BulkPut": "RMB", "EntityService.BulkPatch": "RMB", "EntityService.BulkDelete": "RMB",
    "EntityService.BulkWrite": "RMB",
    "TaskService.ListTasks": "RMB", "TaskService.GetTask": "RMB", "TaskService.WatchTask": "RMB",
    # connections and sources (API.md §3.5, seed 002: root, manager, backend); the one-time
    # upload url is its own credential
    "ConnectionService.ListConnections": "RMB", "ConnectionService.GetConnection": "RMB",
    "ConnectionService.PutConnection": "RMB", "ConnectionService.DeleteConnection": "RMB",
    "ConnectionService.TestConnection": "RMB",
    "SourceService.ListSources": "RMB", "SourceService.GetSource": "RMB", "SourceService.PatchSource": "RMB",
    "SourceService.DeleteSource": "RMB", "SourceService.TestSource": "RMB", "SourceService.RunSource": "RMB",
    "SourceService.GetRun": "RMB", "SourceService.CancelRun": "RMB", "SourceService.Download": "RMB",
    "SourceService.Upload": "-",
}
QUERY_WRITERS = "RMB"
LETTER = {"R": "root", "M": "manager", "B": "backend", "F": "frontend"}


def _p(role, acl=frozenset()):
    return Principal("acct", "org", role, acl=frozenset(acl))


def test_the_table_is_the_documented_matrix():
    assert set(POLICY) == set(DOCUMENTED)
    for op, letters in DOCUMENTED.items():
        rule = POLICY[op]
        if letters == "-":
            assert rule.public, op
        else:
            assert not rule.public and rule.roles == {LETTER[c] for c in letters}, op


def test_query_writes_need_a_write_role():
    for op in ("QueryService.Sql", "QueryService.Pql", "QueryService.PqlStream"):
        assert POLICY[op].write_roles == {LETTER[c] for c in QUERY_WRITERS}


@pytest.mark.parametrize("op", sorted(POLICY))
@pytest.mark.parametrize("role", BUILTIN_ROLES)
def test_check_follows_the_table(op, role):
    rule = POLICY[op]
    p = _p(role)
    expected = rule.public or role in rule.roles
    assert policy.allowed(p, op) is expected
    if not expected:
        with pytest.raises(Forbidden) as e:
            policy.check(p, op)
        assert e.value.forbidden and e.value.code == "Unauthorized"
    # a writing request: only write roles of operations that may write
    may_write = rule.public or (role != "frontend" and (
        (rule.writes and role in rule.roles) or role in rule.write_roles))
    assert policy.allowed(p, op, writes=True) is may_write


def test_frontend_never_writes_and_never_holds_a_writing_operation():
    for op, rule in POLICY.items():
        if rule.writes:
            assert "frontend" not in rule.roles, op
        assert "frontend" not in rule.write_roles, op
        assert not policy.allowed(_p("frontend", policy.ACLS), op, writes=True) or rule.public


def test_roles_column_matches_the_builtin_acls():
    """A row's roles are exactly the built-ins whose ACL set holds its acl (one truth)."""
    for op, rule in POLICY.items():
        if rule.acl is not None:
            assert rule.roles == {r for r in BUILTIN_ROLES if rule.acl in policy.BUILTIN_ACLS[r]}, op
        if rule.write_acl is not None:
            assert rule.write_roles == {r for r in BUILTIN_ROLES if rule.write_acl in policy.BUILTIN_ACLS[r]}, op
        for acl in (rule.acl, rule.write_acl):
            assert acl is None or acl in policy.ACLS, op


def test_builtin_hierarchy():
    acls = policy.BUILTIN_ACLS
    assert acls["root"] >= acls["manager"] >= acls["backend"]
    assert not acls["frontend"] >= acls["backend"]
    assert acls["root"] == frozenset(policy.ACLS)


def test_default_deny_and_missing_credentials():
    with pytest.raises(Forbidden):
        policy.check(_p("root"), "DatabaseService.DropEverything")
    with pytest.raises(Forbidden):
        policy.check(_p("superuser"), "OrgService.GetOrg")  # not a built-in role
    with pytest.raises(MissingAuthenticationToken):
        policy.check(None, "OrgService.GetOrg")
    with pytest.raises(MissingAuthenticationToken):
        policy.check(None, "Nope.Nope")
    policy.check(None, "AuthService.Login")  # public
    assert policy.rule("Nope.Nope") is None


def test_custom_acl_grants():
    backend = _p("backend", {"users:read"})
    policy.check(backend, "AccountService.ListAccounts")
    with pytest.raises(Forbidden):
        policy.check(backend, "AccountService.CreateAccount")
    frontend = _p("frontend", {"query:write", "databases:write"})
    policy.check(frontend, "QueryService.Sql")
    with pytest.raises(Forbidden):
        policy.check(frontend, "QueryService.Sql", writes=True)  # frontend is read-only, grants or not
    with pytest.raises(Forbidden):
        policy.check(frontend, "DatabaseService.CreateDatabase")
    # a write on an operation that never writes is refused (nothing grants it)
    with pytest.raises(Forbidden):
        policy.check(_p("root"), "DatabaseService.GetDatabase", writes=True)


def test_operation_names_of_wire_paths():
    assert policy.operation("/roarbase.v1.QueryService/Sql") == "QueryService.Sql"
    assert policy.operation("/roarbase.v1.DatabaseService/CreateDatabase") == "DatabaseService.CreateDatabase"
    for bad in ("/other.v1.QueryService/Sql", "QueryService/Sql", "/roarbase.v1.QueryService/", ""):
        assert policy.operation(bad) not in POLICY


def test_every_grpc_method_has_a_row():
    from server import methods

    missing = [m for m in methods.all_methods() if policy.operation(m) not in POLICY]
    assert not missing


def _checked_names():
    """Every operation name a service function is tied to (@policy.checked) or passes to
    policy.check."""
    names = set()
    files = sorted((ROOT / "server" / "service").glob("*.py"))
    for path in files:
        tree = ast.parse(path.read_text())
        consts = {}
        for n in ast.walk(tree):
            if isinstance(n, ast.Assign) and len(n.targets) == 1:
                target, value = n.targets[0], n.value
                pairs = zip(target.elts, value.elts) if isinstance(target, ast.Tuple) and isinstance(
                    value, ast.Tuple) else [(target, value)]
                consts.update((t.id, v.value) for t, v in pairs
                              if isinstance(t, ast.Name) and isinstance(v, ast.Constant))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in ("check", "checked") \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "policy":
                arg = node.args[1] if node.func.attr == "check" else node.args[0]
                if isinstance(arg, ast.Constant):
                    names.add(arg.value)
                elif arg.id in consts:
                    names.add(consts[arg.id])
                else:  # a helper's parameter: its callers pass one of the names above
                    assert arg.id == "method", (path, arg.id)
    return names


def test_checked_runs_the_body_only_for_an_allowed_caller():
    ran = []

    @policy.checked("DatabaseService.CreateDatabase")
    def create(ctx, principal, name):
        ran.append((ctx, principal, name))
        return name

    manager = Principal("a", "o", "manager")
    with pytest.raises(MissingAuthenticationToken):
        create("ctx", None, "x")
    with pytest.raises(Forbidden):
        create("ctx", Principal("a", "o", "frontend"), "x")
    assert ran == []
    assert create("ctx", manager, "x") == "x" and ran == [("ctx", manager, "x")]
    assert create.__name__ == "create"


@pytest.mark.parametrize("method", ["NoSuch.Method", "AuthService.Login"])
def test_checked_needs_a_row_that_takes_a_caller(method):
    with pytest.raises(KeyError):
        policy.checked(method)


def test_service_functions_check_only_names_in_the_table():
    names = _checked_names()
    assert names <= set(POLICY)
    # every operation with a service function here is checked somewhere
    table_only = {"QueryService.PqlStream"}
    assert set(POLICY) - names == table_only


# -- the service functions themselves, per role ------------------------------------------

@pytest.fixture(scope="module")
def env(tmp_path_factory):
    ctx = start(tmp_path_factory.mktemp("policy") / "data")
    root = root_of(ctx)
    principals = {r: member(ctx, root, r) for r in BUILTIN_ROLES}
    db = databases.create_database(ctx, root, name="shared")
    query.sql(ctx, root, db.id, "CREATE TABLE t (_id ID, n INT)")
    entities.create_property(ctx, root, "item", property_name="price", value_type="float", database=db.id)
    sources.patch_source(ctx, root, "LOCAL", "src", {"resource": "user", "connection_table_params": {
        "file_format": "CSV"}}, database=db.id)
    svc_account = accounts.create_account(ctx, root, kind="service", name="robot", role="backend")
    yield ctx, root, principals, db, svc_account
    ctx.close()


_n = [0]


def _fresh(prefix):
    _n[0] += 1
    return f"{prefix}{_n[0]}"


def _calls(ctx, root, db, svc_account):
    """A call of each checked operation (targets made fresh by root where it mutates)."""
    empty_envelope = str(pathlib.Path(ctx.config.data_dir) / "empty-envelope.json")
    pathlib.Path(empty_envelope).write_text('{"version": "1", "values": {"iterable": []}}')
    def new_db():
        return databases.create_database(ctx, root, name=_fresh("db")).id

    def new_account():
        return accounts.create_account(ctx, root, email=_fresh("x") + "@e.io", role="frontend").id

    def new_role():
        return roles.create_role(ctx, root, _fresh("role"), ["org:read"]).rolename

    def new_invite():
        return invites.create_invite(ctx, root, email=_fresh("i") + "@e.io").id

    return {
        "AuthService.CreateApiKey": lambda p: tokens.create_api_key(ctx, p, account_id=svc_account.id),
        "AuthService.ListApiKeys": lambda p: tokens.list_api_keys(ctx, p),
        "AuthService.RevokeApiKey": lambda p: tokens.revoke_api_key(
            ctx, p, tokens.create_api_key(ctx, root, account_id=svc_account.id).api_key.id),
        "OrgService.GetOrg": lambda p: orgs.get_org(ctx, p, (p or root).org_id),
        "OrgService.UpdateOrg": lambda p: orgs.update_org(ctx, p, (p or root).org_id, address="1 Main St"),
        "OrgService.GetServiceProperty": lambda p: service_properties.get_service_property(
            ctx, p, "database:limits"),
        "AccountService.CreateAccount": lambda p: accounts.create_account(
            ctx, p, email=_fresh("c") + "@e.io", role="frontend"),
        "AccountService.GetAccount": lambda p: accounts.get_account(ctx, p, (p or root).account_id),
        "AccountService.GetCurrentAccount": lambda p: accounts.get_current_account(ctx, p),
        "AccountService.ListAccounts": lambda p: accounts.list_accounts(ctx, p),
        "AccountService.UpdateAccount": lambda p: accounts.update_account(
            ctx, p, (p or root).account_id, firstname="Ann"),
        "AccountService.DeleteAccount": lambda p: accounts.delete_account(ctx, p, new_account()),
        "AccountService.AddAccountRoles": lambda p: accounts.add_account_roles(ctx, p, new_account(), ["backend"]),
        "AccountService.MoveAccountOrg": lambda p: invites.move_account_org(
            ctx, p, (p or root).account_id, "00000000-0000-4000-8000-000000000000"),
        "InviteService.CreateInvite": lambda p: invites.create_invite(ctx, p, email=_fresh("n") + "@e.io"),
        "InviteService.GetInvite": lambda p: invites.get_invite(ctx, p, new_invite()),
        "InviteService.ListInvites": lambda p: invites.list_invites(ctx, p),
        "InviteService.UpdateInvite": lambda p: invites.update_invite(ctx, p, new_invite(), accepted=True),
        "InviteService.DeleteInvite": lambda p: invites.delete_invite(ctx, p, new_invite()),
        "RoleService.CreateRole": lambda p: roles.create_role(ctx, p, _fresh("r"), ["org:read"]),
        "RoleService.GetRole": lambda p: roles.get_role(ctx, p, "backend"),
        "RoleService.ListRoles": lambda p: roles.list_roles(ctx, p),
        "RoleService.UpdateRole": lambda p: roles.update_role(ctx, p, new_role(), ["users:read"]),
        "RoleService.DeleteRole": lambda p: roles.delete_role(ctx, p, new_role()),
        "DatabaseService.CreateDatabase": lambda p: databases.create_database(ctx, p, name=_fresh("d")),
        "DatabaseService.GetDatabase": lambda p: databases.get_database(ctx, p, db.id),
        "DatabaseService.ListDatabases": lambda p: databases.list_databases(ctx, p),
        "DatabaseService.UpdateDatabase": lambda p: databases.update_database(ctx, p, db.id, description="d"),
        "DatabaseService.DeleteDatabase": lambda p: databases.delete_database(ctx, p, new_db(), wait=True),
        "DatabaseService.WatchDatabase": lambda p: databases.wait_for_change(
            ctx, p, db.id, known_state=None, timeout=0),
        "QueryService.Sql": lambda p: query.sql(ctx, p, db.id, "SELECT COUNT(*) FROM t"),
        "QueryService.Pql": lambda p: query.pql(ctx, p, db.id, table="t", statement="Count(All())"),
        "QueryService.ListQueries": lambda p: query.list_queries(ctx, p, database_id=db.id),
        "PropertyService.ListProperties": lambda p: entities.list_properties(ctx, p, "item", database=db.id),
        "PropertyService.GetProperty": lambda p: entities.get_property(ctx, p, "item", "price", database=db.id),
        "PropertyService.CreateProperty": lambda p: entities.create_property(
            ctx, p, "item", property_name=_fresh("p"), value_type="int", database=db.id),
        "PropertyService.DeleteProperty": lambda p: entities.delete_property(
            ctx, p, "item", entities.create_property(ctx, root, "item", property_name=_fresh("q"),
                                                     value_type="bool", database=db.id).name, database=db.id),
        "EntityService.GetEntity": lambda p: entities.get_entity(ctx, p, "item", 1, database=db.id),
        "EntityService.ListByIds": lambda p: entities.list_entities(ctx, p, "item", [1, 2], database=db.id),
        "EntityService.ScanEntities": lambda p: entities.scan_entities(ctx, p, "item", database=db.id),
        "EntityService.PutEntity": lambda p: entities.put_entity(ctx, p, "item", 1, {"price": 2.5}, database=db.id),
        "EntityService.PatchEntity": lambda p: entities.patch_entity(ctx, p, "item", 1, {"price": 3.5},
                                                                     create_if_missing=True, database=db.id),
        "EntityService.DeleteEntity": lambda p: entities.delete_entity(ctx, p, "item", 7, database=db.id),
        "EntityService.BulkPut": lambda p: entities.put_entities(ctx, p, "item", [{"item_id": 2}], database=db.id),
        "EntityService.BulkPatch": lambda p: entities.patch_entities(ctx, p, "item", [{"item_id": 2, "price": 1}],
                                                                     database=db.id),
        "EntityService.BulkDelete": lambda p: entities.delete_entities(ctx, p, "item", [8, 9], database=db.id),
        "TaskService.ListTasks": lambda p: tasks.recents(ctx, p, "items_put", database=db.id),
        "TaskService.GetTask": lambda p: tasks.get_task(ctx, p, "00000000-0000-4000-8000-000000000000"),
        "EntityService.BulkWrite": lambda p: entities.write_chunk(ctx, p, "item", [{"item_id": 3}], patch=False,
                                                                  database=db.id),
        "TaskService.WatchTask": lambda p: tasks.get_task(ctx, p, "00000000-0000-4000-8000-000000000000",
                                                          watch=True),
        "DatabaseService.ExportDatabase": lambda p: transfers.start_export(ctx, p, db.id).close(),
        "DatabaseService.ImportDatabase": lambda p: transfers.import_database(ctx, p, db.id, empty_envelope),
        "DatabaseService.BackupDatabase": lambda p: backups.start_backup(ctx, p, db.id).close(),
        "DatabaseService.RestoreDatabase": lambda p: backups.restore_backup(ctx, p, empty_envelope,
                                                                            name=_fresh("restored")),
        # (an embedded database: allowed callers get IncorrectState NOT_A_CLUSTER)
        "DatabaseService.AddClusterWorker": lambda p: cluster_members.add_worker(ctx, p, db.id, "w9"),
        "DatabaseService.RemoveClusterWorker": lambda p: cluster_members.remove_worker(ctx, p, db.id, "w0"),
        "DatabaseService.RebalanceCluster": lambda p: cluster_members.rebalance(ctx, p, db.id),
        "ConnectionService.ListConnections": lambda p: connections.list_connections(ctx, p),
        "ConnectionService.GetConnection": lambda p: connections.get_connection(ctx, p, "LOCAL"),
        "ConnectionService.PutConnection": lambda p: connections.put_connection(
            ctx, p, "BRAZE", credentials={"api_key": "k"}),
        "ConnectionService.DeleteConnection": lambda p: connections.delete_connection(
            ctx, p, connections.put_connection(ctx, root, "KLAVIYO", credentials={"k": "v"}).kind),
        "ConnectionService.TestConnection": lambda p: connections.test_connection(ctx, p, "LOCAL"),
        "SourceService.ListSources": lambda p: sources.list_sources(ctx, p, database=db.id),
        "SourceService.GetSource": lambda p: sources.get_source(ctx, p, "LOCAL", "src", database=db.id),
        "SourceService.PatchSource": lambda p: sources.patch_source(
            ctx, p, "LOCAL", _fresh("s"), {"resource": "user", "connection_table_params": {"file_format": "CSV"}},
            database=db.id),
        "SourceService.DeleteSource": lambda p: sources.delete_source(ctx, p, "LOCAL", sources.patch_source(
            ctx, root, "LOCAL", _fresh("d"), {"resource": "user", "connection_table_params": {"file_format": "CSV"}},
            database=db.id).name, database=db.id),
        "SourceService.TestSource": lambda p: sources.test_source(ctx, p, "LOCAL", "src", database=db.id),
        "SourceService.RunSource": lambda p: sources.run_source(ctx, p, "LOCAL", "src", database=db.id),
        "SourceService.GetRun": lambda p: sources.last_run(ctx, p, "LOCAL", "src", database=db.id),
        "SourceService.CancelRun": lambda p: sources.cancel_run(ctx, p, "LOCAL", "src", database=db.id),
        "SourceService.Download": lambda p: sources.download(ctx, p, "src", database=db.id),
    }


CHECKED = sorted(set(POLICY) - {"AuthService.Login", "AuthService.RefreshToken", "InviteService.AcceptInvite",
                                "SourceService.Upload",
                                "QueryService.PqlStream"})


@pytest.mark.parametrize("op", CHECKED)
@pytest.mark.parametrize("role", BUILTIN_ROLES)
def test_service_functions_enforce_the_table(env, op, role):
    ctx, root, principals, db, svc_account = env
    call = _calls(ctx, root, db, svc_account)[op]
    p = principals[role]
    if role in POLICY[op].roles:
        try:
            call(p)
        except ServiceError as exc:  # allowed: whatever else it says, it is not a refusal
            assert not isinstance(exc, (Forbidden, MissingAuthenticationToken)), (op, role, exc)
    else:
        with pytest.raises(Forbidden):
            call(p)
    with pytest.raises(MissingAuthenticationToken):
        call(None)


@pytest.mark.parametrize("role", BUILTIN_ROLES)
def test_writing_statements_per_role(env, role):
    ctx, root, principals, db, _ = env
    p = principals[role]
    writes = [lambda: query.sql(ctx, p, db.id, "INSERT INTO t (_id, n) VALUES (1, 1)"),
              lambda: query.pql(ctx, p, db.id, table="t", statement="Set(2, n=5)")]
    for w in writes:
        if role in ("root", "manager", "backend"):
            w()
        else:
            with pytest.raises(Forbidden):
                w()
