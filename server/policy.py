"""Authorization: one table, operation name -> who may call it. Default deny.

Operation names are the gRPC method names without the package
(`DatabaseService.CreateDatabase` is `/roarbase.v1.DatabaseService/CreateDatabase`;
`operation()` converts); the HTTP routes call the same service functions, which are tied
to their row with `@checked("DatabaseService.CreateDatabase")` (or call `check` where the
row depends on the request), so both faces obey one table. Rows without a gRPC method
(InviteService.DeleteInvite and AcceptInvite) are the operations of HTTP routes that
API.md lists and §5 does not (yet); QueryService.ListQueries is `GET /v2/queries`, the
recent queries the web console's server panel shows.

Roles (API.md C2, SECURITY.md §2): four built-ins per org — root (the org owner) ⊇ manager
⊇ backend, and frontend, a separate read-only role. Built-ins expand to fixed ACL sets
(BUILTIN_ACLS); custom roles grant ACL strings, so an operation is allowed when the
caller's built-in role is in the row's `roles`, or when one of its ACL grants is the row's
`acl`. A row's `roles` are exactly the built-ins whose ACL set holds its `acl` (a test
checks it), so the two views cannot drift apart.

Writes: an operation that changes state is `writes=True` in its row; the query operations
are read operations whose *statement* may write — their service calls `check(...,
writes=True)` after classifying the statement, which needs `write_roles` / `write_acl`.
Frontend never writes, whatever ACL a custom role gives it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Concatenate, Mapping, Optional, ParamSpec, TypeVar

from server.service.errors import Forbidden, MissingAuthenticationToken
from server.service.principal import Principal

ROOT, MANAGER, BACKEND, FRONTEND = "root", "manager", "backend", "frontend"
BUILTIN_ROLES: tuple[str, ...] = (ROOT, MANAGER, BACKEND, FRONTEND)
WRITE_ROLES = frozenset({ROOT, MANAGER, BACKEND})

# Every ACL string a role may hold.
ACLS: tuple[str, ...] = (
    "org:read", "org:write",
    "users:read", "users:admin",
    "roles:admin",
    "invites:admin",
    "keys:admin",
    "databases:read", "databases:write",
    "query:execute", "query:write",
    "sources:write",
)

BUILTIN_ACLS: Mapping[str, frozenset[str]] = MappingProxyType({
    ROOT: frozenset(ACLS),
    MANAGER: frozenset(ACLS) - {"roles:admin"},
    BACKEND: frozenset({"org:read", "databases:read", "query:execute", "query:write", "sources:write"}),
    FRONTEND: frozenset({"org:read", "query:execute"}),
})


@dataclass(frozen=True)
class Rule:
    """Who may call one operation.

    roles: built-in roles allowed. acl: the ACL string that allows it to a custom-role
    grant (None: every member of the org, e.g. reading one's own account). writes: the
    operation always changes state. write_roles/write_acl: for operations whose request may
    or may not write (queries), who may send a writing one. public: no principal needed.
    """

    roles: frozenset[str]
    acl: Optional[str] = None
    writes: bool = False
    write_roles: frozenset[str] = frozenset()
    write_acl: Optional[str] = None
    public: bool = False


R, M, B, F = ROOT, MANAGER, BACKEND, FRONTEND
PUBLIC = Rule(frozenset(), public=True)


def _rule(roles: str, acl: Optional[str], *, writes: bool = False) -> Rule:
    names = {"R": R, "M": M, "B": B, "F": F}
    return Rule(frozenset(names[c] for c in roles), acl, writes)


def _query_rule() -> Rule:
    return Rule(frozenset({R, M, B, F}), "query:execute", False, frozenset({R, M, B}), "query:write")


POLICY: Mapping[str, Rule] = MappingProxyType({
    # AuthService (Login/RefreshToken authenticate by their body)
    "AuthService.Login": PUBLIC,
    "AuthService.RefreshToken": PUBLIC,
    "AuthService.CreateApiKey": _rule("RM", "keys:admin", writes=True),
    "AuthService.ListApiKeys": _rule("RM", "keys:admin"),
    "AuthService.RevokeApiKey": _rule("RM", "keys:admin", writes=True),
    # OrgService
    "OrgService.GetOrg": _rule("RMBF", None),
    "OrgService.UpdateOrg": _rule("RM", "org:write", writes=True),
    "OrgService.GetServiceProperty": _rule("RMBF", None),
    # AccountService (UpdateAccount: others' accounts need users:admin, checked in the service;
    # MoveAccountOrg: oneself, by an invite from another org — never the org owner)
    "AccountService.CreateAccount": _rule("RM", "users:admin", writes=True),
    "AccountService.GetAccount": _rule("RM", "users:read"),
    "AccountService.GetCurrentAccount": _rule("RMBF", None),
    "AccountService.ListAccounts": _rule("RM", "users:read"),
    "AccountService.UpdateAccount": _rule("RMB", None, writes=True),
    "AccountService.DeleteAccount": _rule("RM", "users:admin", writes=True),
    "AccountService.AddAccountRoles": _rule("R", "roles:admin", writes=True),
    "AccountService.MoveAccountOrg": _rule("MB", None, writes=True),
    # InviteService (AcceptInvite: the invite id is the credential of someone without an account)
    "InviteService.CreateInvite": _rule("RM", "invites:admin", writes=True),
    "InviteService.GetInvite": _rule("RM", "invites:admin"),
    "InviteService.ListInvites": _rule("RM", "invites:admin"),
    "InviteService.UpdateInvite": _rule("RM", "invites:admin", writes=True),
    "InviteService.DeleteInvite": _rule("RM", "invites:admin", writes=True),
    "InviteService.AcceptInvite": PUBLIC,
    # RoleService: the org owner only
    "RoleService.CreateRole": _rule("R", "roles:admin", writes=True),
    "RoleService.GetRole": _rule("R", "roles:admin"),
    "RoleService.ListRoles": _rule("R", "roles:admin"),
    "RoleService.UpdateRole": _rule("R", "roles:admin", writes=True),
    "RoleService.DeleteRole": _rule("R", "roles:admin", writes=True),
    # DatabaseService
    "DatabaseService.CreateDatabase": _rule("RM", "databases:write", writes=True),
    "DatabaseService.GetDatabase": _rule("RMB", "databases:read"),
    "DatabaseService.ListDatabases": _rule("RMB", "databases:read"),
    "DatabaseService.UpdateDatabase": _rule("RM", "databases:write", writes=True),
    "DatabaseService.DeleteDatabase": _rule("RM", "databases:write", writes=True),
    "DatabaseService.WatchDatabase": _rule("RMB", "databases:read"),
    "DatabaseService.ExportDatabase": _rule("RMB", "databases:read"),
    "DatabaseService.ImportDatabase": _rule("RM", "databases:write", writes=True),
    "DatabaseService.BackupDatabase": _rule("RMB", "databases:read"),
    "DatabaseService.RestoreDatabase": _rule("RM", "databases:write", writes=True),
    "DatabaseService.AddClusterWorker": _rule("RM", "databases:write", writes=True),
    "DatabaseService.RemoveClusterWorker": _rule("RM", "databases:write", writes=True),
    "DatabaseService.RebalanceCluster": _rule("RM", "databases:write", writes=True),
    # PropertyService / EntityService / TaskService: the recommender data plane of the
    # token's database (API.md §3.4). Frontend reads items, and users only as its own end
    # user (checked in the service); it never writes.
    "PropertyService.ListProperties": _rule("RMBF", "query:execute"),
    "PropertyService.GetProperty": _rule("RMB", "databases:read"),
    "PropertyService.CreateProperty": _rule("RMB", "query:write", writes=True),
    "PropertyService.DeleteProperty": _rule("RMB", "query:write", writes=True),
    "EntityService.GetEntity": _rule("RMBF", "query:execute"),
    "EntityService.ListByIds": _rule("RMBF", "query:execute"),
    "EntityService.ScanEntities": _rule("RMB", "databases:read"),
    "EntityService.PutEntity": _rule("RMB", "query:write", writes=True),
    "EntityService.PatchEntity": _rule("RMB", "query:write", writes=True),
    "EntityService.DeleteEntity": _rule("RMB", "query:write", writes=True),
    "EntityService.BulkPut": _rule("RMB", "query:write", writes=True),
    "EntityService.BulkPatch": _rule("RMB", "query:write", writes=True),
    "EntityService.BulkDelete": _rule("RMB", "query:write", writes=True),
    "EntityService.BulkWrite": _rule("RMB", "query:write", writes=True),
    "TaskService.ListTasks": _rule("RMB", "databases:read"),
    "TaskService.GetTask": _rule("RMB", "databases:read"),
    "TaskService.WatchTask": _rule("RMB", "databases:read"),
    # ConnectionService / SourceService: seed 002 (API.md §3.5), root, manager and backend.
    # Managing credentials and sources is sources:write; running one writes data
    # (query:write); the one-time upload url is its own credential (public row).
    "ConnectionService.ListConnections": _rule("RMB", "databases:read"),
    "ConnectionService.GetConnection": _rule("RMB", "databases:read"),
    "ConnectionService.PutConnection": _rule("RMB", "sources:write", writes=True),
    "ConnectionService.DeleteConnection": _rule("RMB", "sources:write", writes=True),
    "ConnectionService.TestConnection": _rule("RMB", "sources:write"),
    "SourceService.ListSources": _rule("RMB", "databases:read"),
    "SourceService.GetSource": _rule("RMB", "databases:read"),
    "SourceService.PatchSource": _rule("RMB", "sources:write", writes=True),
    "SourceService.DeleteSource": _rule("RMB", "sources:write", writes=True),
    "SourceService.TestSource": _rule("RMB", "databases:read"),
    "SourceService.RunSource": _rule("RMB", "query:write", writes=True),
    "SourceService.GetRun": _rule("RMB", "databases:read"),
    "SourceService.CancelRun": _rule("RMB", "query:write", writes=True),
    "SourceService.Download": _rule("RMB", "databases:read"),
    "SourceService.Upload": PUBLIC,
    # QueryService: reads for every role; a writing statement needs R M B (or query:write)
    "QueryService.Sql": _query_rule(),
    "QueryService.Pql": _query_rule(),
    "QueryService.PqlStream": _query_rule(),
    # The org's recent queries (statement texts included): whoever may list its databases
    "QueryService.ListQueries": _rule("RMB", "databases:read"),
})

PACKAGE = "roarbase.v1"


def operation(method_path: str) -> str:
    """The policy key of a gRPC wire name: "/roarbase.v1.QueryService/Sql" -> "QueryService.Sql".

    Anything else (another package, a malformed path) gives a key with no row, so the
    check refuses it.
    """
    head, _, method = method_path.lstrip("/").partition("/")
    package, _, service = head.rpartition(".")
    if package != PACKAGE or not service or not method:
        return f"?{method_path}"
    return f"{service}.{method}"


def holdings(principal: Principal) -> frozenset[str]:
    """Every ACL the principal holds: its built-in role's set and its grants."""
    return BUILTIN_ACLS.get(principal.role, frozenset()) | principal.acl


def check_outranks(principal: Principal, acl: frozenset[str]) -> None:
    """Nobody creates, invites or changes an account holding more than they hold
    themselves (a manager cannot touch the org owner; a backend granted users:admin
    cannot mint a manager). Raises Forbidden."""
    if not acl <= holdings(principal):
        raise Forbidden("User is not authorized to perform this operation (the account would hold more "
                        "permissions than the caller)")


def rule(method: str) -> Optional[Rule]:
    return POLICY.get(method)


_C = TypeVar("_C")
_P = ParamSpec("_P")
_R = TypeVar("_R")


def checked(method: str) -> Callable[[Callable[Concatenate[_C, Principal, _P], _R]],
                                     Callable[Concatenate[_C, Optional[Principal], _P], _R]]:
    """Tie a service operation to its policy row: the decorated function (ctx, principal,
    ...) runs only after `check(principal, method)` passed, so its body always has a
    caller. Rows whose request may write (queries) check the write themselves, with
    `check(..., writes=True)` once they know.

    Raises:
        KeyError: at import, `method` has no row (every checked operation is in the table).
    """
    if method not in POLICY or POLICY[method].public:
        raise KeyError(f"{method!r}: no policy row, or a public one (public operations take no principal)")

    def decorate(fn: Callable[Concatenate[_C, Principal, _P], _R]
                 ) -> Callable[Concatenate[_C, Optional[Principal], _P], _R]:
        @functools.wraps(fn)
        def guarded(ctx: _C, principal: Optional[Principal], /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
            check(principal, method)
            assert principal is not None  # check refuses a missing caller for every non-public row
            return fn(ctx, principal, *args, **kwargs)

        return guarded

    return decorate


def allowed(principal: Optional[Principal], method: str, *, writes: bool = False) -> bool:
    """Whether `check` would pass (for listings and tests); never raises."""
    try:
        check(principal, method, writes=writes)
    except (Forbidden, MissingAuthenticationToken):
        return False
    return True


def check(principal: Optional[Principal], method: str, *, writes: bool = False) -> None:
    """Refuse the call unless the table allows it.

    Args:
        principal: the verified caller, None when no credentials came with the request.
        method: the operation name, a key of POLICY.
        writes: the request writes although the operation may also read (a query whose
            statement is Set/INSERT/...): needs the row's write_roles or write_acl.
    Raises:
        MissingAuthenticationToken: no principal for a non-public operation.
        Forbidden: unknown operation (default deny), role or ACL not allowed, or a write
            by a role that may not write.
    """
    r = POLICY.get(method)
    if r is not None and r.public:
        return
    if principal is None:
        raise MissingAuthenticationToken("an access token or API key is required")
    if r is None or principal.role not in BUILTIN_ROLES:
        raise Forbidden("User is not authorized to perform this operation")
    grants = principal.acl
    if not (principal.role in r.roles or (r.acl is not None and r.acl in grants)):
        raise Forbidden("User is not authorized to perform this operation")
    if r.writes or writes:
        if principal.role == FRONTEND:
            raise Forbidden("User is not authorized to perform this operation (frontend is read-only)")
        if writes and not r.writes and not (
                principal.role in r.write_roles or (r.write_acl is not None and r.write_acl in grants)):
            raise Forbidden("User is not authorized to perform this operation (the statement writes)")
