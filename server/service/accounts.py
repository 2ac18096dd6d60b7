"""Accounts: the members of an org (FB "users", CM individual and service accounts).

Each account has one built-in role (`role`: root, manager, backend or frontend — exactly
one root per org, the org owner), optional custom roles and its own ACL grants. Emails
and names are unique server-wide (case-insensitive) because login names no org.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional

from server import auth, policy
from server.service.principal import Principal
from server.service import roles, tokens
from server.ids import parse_id
from server.service.common import Page, check_email, check_name, check_text, dumps, iso, loads, new_id, paginate
from server.service.context import ServiceContext
from server.service.errors import (
    Forbidden,
    InvalidParameter,
    MissingParameter,
    RelatedResourceNotFound,
    ResourceAlreadyExists,
    ResourceNotFound,
)

INDIVIDUAL, SERVICE = "individual", "service"
ACTIVE, DEACTIVATED = "Active", "Deactivated"
ASSIGNABLE_ROLES = (policy.MANAGER, policy.BACKEND, policy.FRONTEND)


@dataclass(frozen=True)
class Account:
    id: str
    org_id: str
    org_name: str
    kind: str
    email: Optional[str]
    name: Optional[str]
    firstname: str
    lastname: str
    role: str
    custom_roles: tuple[str, ...]
    acl: tuple[str, ...]
    effective_acl: tuple[str, ...]
    status: str
    has_password: bool
    created_at: float
    updated_at: float
    updated_by: str

    def to_dict(self) -> dict[str, Any]:
        """FB's User shape plus the CM fields (kind, name, role)."""
        return {"id": self.id, "org_id": self.org_id, "org_name": self.org_name, "idp_id": self.id,
                "username": self.email or self.name or "", "firstname": self.firstname,
                "lastname": self.lastname, "status": self.status, "acl": list(self.effective_acl),
                "roles": [self.role, *self.custom_roles], "primary_email": self.email or "",
                "created_at": iso(self.created_at), "updated_at": iso(self.updated_at),
                "updated_by": self.updated_by, "kind": self.kind, "name": self.name, "email": self.email,
                "role": self.role}


@dataclass(frozen=True)
class AccountRoles:
    user_id: str
    org_id: str
    rolenames: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "org_id": self.org_id, "rolenames": list(self.rolenames)}


_SELECT = "SELECT a.*, o.name AS org_name FROM accounts a JOIN orgs o ON o.id = a.org_id"


def _account(ctx: ServiceContext, row: Any) -> Account:
    custom = tuple(r["role_name"] for r in ctx.store.all(
        "SELECT role_name FROM account_roles WHERE account_id = ? ORDER BY role_name", (row["id"],)))
    own = tuple(loads(row["acl"]))
    effective = policy.BUILTIN_ACLS.get(row["role"], frozenset()) | tokens.grants(ctx, row["id"])
    return Account(row["id"], row["org_id"], row["org_name"], row["kind"], row["email"], row["name"],
                   row["firstname"], row["lastname"], row["role"], custom, own,
                   tuple(a for a in policy.ACLS if a in effective), row["status"], bool(row["password_hash"]),
                   row["created_at"], row["updated_at"], row["updated_by"])


def load(ctx: ServiceContext, org_id: str, account_id: Any) -> Account:
    """An account of the org, or ResourceNotFound (another org's id answers the same)."""
    row = ctx.store.one(_SELECT + " WHERE a.id = ? AND a.org_id = ?", (parse_id(account_id) or "", org_id))
    if row is None:
        raise ResourceNotFound("account not found", name="ACCOUNT_NOT_FOUND",
                               data={"type": "account", "key": str(account_id)[:64]})
    return _account(ctx, row)


def _duplicates(ctx: ServiceContext, email: Optional[str], name: Optional[str], *, exclude: str = "") -> None:
    for column, value, err in (("email", email, "DUPLICATED_EMAIL"), ("name", name, "DUPLICATED_NAME")):
        if value is not None and ctx.store.one(f"SELECT 1 FROM accounts WHERE {column} = ? AND id != ?",
                                               (value, exclude)):
            raise ResourceAlreadyExists(f"an account with this {column} already exists", name=err,
                                        data={"type": "account", "key": value})


def insert_account(ctx: ServiceContext, *, org_id: str, kind: str, role: str, email: Optional[str] = None,
                   name: Optional[str] = None, firstname: str = "", lastname: str = "",
                   password: Optional[str] = None, password_hash: Optional[str] = None,
                   acl: Iterable[str] = (), created_by: str = "") -> str:
    """Validate and insert an account (no policy check: callers have done theirs — the
    public operations, bootstrap and invite acceptance, use it). Returns the new id.

    password_hash: an auth.hash_password result computed before a caller's transaction
    (argon2 is slow by design; the metadata lock should not wait for it)."""
    if kind not in (INDIVIDUAL, SERVICE):
        raise InvalidParameter("kind must be 'individual' or 'service'", data={"key": "kind"})
    if kind == INDIVIDUAL:
        email = check_email(email)
    elif not name:
        raise MissingParameter("a service account needs a name", data={"type": "account", "key": "name"})
    if email is not None:
        email = check_email(email)
    if name is not None:
        name = check_name(name, "account")
    check_text(firstname, "firstname", max_len=200)
    check_text(lastname, "lastname", max_len=200)
    if role not in policy.BUILTIN_ROLES:
        raise InvalidParameter(f"role must be one of {', '.join(ASSIGNABLE_ROLES)}", name="UNKNOWN_ROLE",
                               data={"key": "role"})
    entries = roles.check_acl(acl)
    if password is not None:
        password_hash = auth.hash_password(ctx, password)
    account_id, now = new_id(), ctx.now()
    with ctx.store.transaction() as st:
        _duplicates(ctx, email, name)
        if role == policy.ROOT and st.one("SELECT 1 FROM accounts WHERE org_id = ? AND role = 'root'", (org_id,)):
            raise InvalidParameter("an org has exactly one root account", name="ROOT_IS_UNIQUE",
                                   data={"key": "role"})
        st.execute(
            "INSERT INTO accounts (id, org_id, kind, email, name, firstname, lastname, role, acl, status,"
            " password_hash, created_at, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (account_id, org_id, kind, email, name, firstname, lastname, role, dumps(list(entries)), ACTIVE,
             password_hash, now, now, created_by))
    return account_id


@policy.checked("AccountService.CreateAccount")
def create_account(ctx: ServiceContext, principal: Principal, *, kind: str = INDIVIDUAL,
                   email: Optional[str] = None, name: Optional[str] = None, firstname: str = "",
                   lastname: str = "", role: str = policy.BACKEND, password: Optional[str] = None,
                   acl: Iterable[str] = ()) -> Account:
    """A new member of the caller's org.

    Individual accounts need an email, service accounts a name; a password is optional
    (service accounts usually log in with API keys). Only the org owner grants ACLs.

    Raises:
        InvalidParameter: bad field, role root (the org has one) or unknown role.
        MissingParameter: email/name missing. ResourceAlreadyExists: email or name taken.
        Forbidden: ACL grants by someone other than root; a role above the caller's.
    """
    if role == policy.ROOT:
        raise InvalidParameter("an org has exactly one root account", name="ROOT_IS_UNIQUE", data={"key": "role"})
    if role not in ASSIGNABLE_ROLES:
        raise InvalidParameter(f"role must be one of {', '.join(ASSIGNABLE_ROLES)}", name="UNKNOWN_ROLE",
                               data={"key": "role"})
    acl = tuple(acl) if isinstance(acl, Iterable) and not isinstance(acl, (str, bytes)) else acl
    if acl and principal.role != policy.ROOT:
        raise Forbidden("only the org owner grants permissions")
    policy.check_outranks(principal, policy.BUILTIN_ACLS[role])
    account_id = insert_account(ctx, org_id=principal.org_id, kind=kind, role=role, email=email, name=name,
                                firstname=firstname, lastname=lastname, password=password, acl=acl,
                                created_by=principal.account_id)
    return load(ctx, principal.org_id, account_id)


@policy.checked("AccountService.GetAccount")
def get_account(ctx: ServiceContext, principal: Principal, account_id: str) -> Account:
    return load(ctx, principal.org_id, account_id)


@policy.checked("AccountService.GetCurrentAccount")
def get_current_account(ctx: ServiceContext, principal: Principal) -> Account:
    return load(ctx, principal.org_id, principal.account_id)


@policy.checked("AccountService.ListAccounts")
def list_accounts(ctx: ServiceContext, principal: Principal, *, limit: Optional[int] = None,
                  next_token: Optional[str] = None) -> Page[Account]:
    rows, nxt = paginate(ctx, _SELECT + " WHERE a.org_id = ?", [principal.org_id], limit=limit,
                         next_token=next_token, prefix="a.")
    return Page([_account(ctx, r) for r in rows], nxt)


_UNSET: Any = object()


@policy.checked("AccountService.UpdateAccount")
def update_account(ctx: ServiceContext, principal: Principal, account_id: str, *,
                   firstname: Any = _UNSET, lastname: Any = _UNSET, email: Any = _UNSET, name: Any = _UNSET,
                   password: Any = _UNSET, acl: Any = _UNSET, status: Any = _UNSET) -> Account:
    """Change an account.

    Anyone may change their own names, email and password; holders of users:admin (root,
    manager) those of others who hold no more than they do (so only the owner changes the
    owner's). Only the org owner changes another account's ACL or status, and nobody their
    own (FB rule).
    Deactivation revokes the account's refresh tokens; its access tokens stop verifying.

    Raises:
        ResourceNotFound, Forbidden, InvalidParameter (SELF_ESCALATION, bad field),
        ResourceAlreadyExists (email or name taken).
    """
    target = load(ctx, principal.org_id, account_id)
    is_self = target.id == principal.account_id
    if not is_self:
        if "users:admin" not in policy.holdings(principal):
            raise Forbidden("User is not authorized to perform this operation")
        policy.check_outranks(principal, frozenset(target.effective_acl))
    if acl is not _UNSET or status is not _UNSET:
        if is_self:
            raise InvalidParameter("users cannot change their own permissions or status", name="SELF_ESCALATION",
                                   data={"type": "account", "key": target.id})
        if principal.role != policy.ROOT:
            raise Forbidden("only the org owner changes permissions or status")
    changes: dict[str, Any] = {}
    if firstname is not _UNSET:
        changes["firstname"] = check_text(firstname, "firstname", max_len=200)
    if lastname is not _UNSET:
        changes["lastname"] = check_text(lastname, "lastname", max_len=200)
    if email is not _UNSET:
        if email is None and target.kind == INDIVIDUAL:
            raise InvalidParameter("an individual account needs an email", data={"key": "email"})
        changes["email"] = None if email is None else check_email(email)
    if name is not _UNSET:
        changes["name"] = None if name is None else check_name(name, "account")
    if password is not _UNSET:
        changes["password_hash"] = auth.hash_password(ctx, password)
    if acl is not _UNSET:
        changes["acl"] = dumps(list(roles.check_acl(acl)))
    if status is not _UNSET:
        if status not in (ACTIVE, DEACTIVATED):
            raise InvalidParameter("status must be 'Active' or 'Deactivated'", data={"key": "status"})
        changes["status"] = status
    with ctx.store.transaction() as st:
        new_email = changes.get("email", target.email)
        new_name = changes.get("name", target.name)
        if new_email is None and new_name is None:
            raise InvalidParameter("an account needs an email or a name", data={"key": "name"})
        _duplicates(ctx, changes.get("email"), changes.get("name"), exclude=target.id)
        changes.update(updated_at=ctx.now(), updated_by=principal.account_id)
        assignments = ", ".join(f"{k} = ?" for k in changes)
        st.execute(f"UPDATE accounts SET {assignments} WHERE id = ?", (*changes.values(), target.id))
        if changes.get("status") == DEACTIVATED:
            tokens.revoke_account_tokens(ctx, target.id, "deactivated")
    return load(ctx, principal.org_id, target.id)


@policy.checked("AccountService.DeleteAccount")
def delete_account(ctx: ServiceContext, principal: Principal, account_id: str) -> None:
    """Remove a member (its tokens and API keys go with it).

    Raises ResourceNotFound; InvalidParameter for oneself or the org owner; Forbidden for
    an account holding more than the caller.
    """
    target = load(ctx, principal.org_id, account_id)
    if target.id == principal.account_id:
        raise InvalidParameter("an account cannot delete itself", name="SELF_DELETE",
                               data={"type": "account", "key": target.id})
    if target.role == policy.ROOT:
        raise InvalidParameter("the org owner cannot be deleted", name="ROOT_IS_UNIQUE",
                               data={"type": "account", "key": target.id})
    policy.check_outranks(principal, frozenset(target.effective_acl))
    with ctx.store.transaction() as st:
        tokens.revoke_account_tokens(ctx, target.id, "account_deleted", api_keys=True)
        st.execute("DELETE FROM accounts WHERE id = ?", (target.id,))


@policy.checked("AccountService.AddAccountRoles")
def add_account_roles(ctx: ServiceContext, principal: Principal, account_id: str,
                      rolenames: Any) -> AccountRoles:
    """Give an account roles (org owner only): a built-in name replaces its built-in role,
    custom names are added.

    Raises:
        ResourceNotFound: no such account. RelatedResourceNotFound: unknown role.
        InvalidParameter: own roles (SELF_ESCALATION), the owner's, root, or two built-ins.
    """
    target = load(ctx, principal.org_id, account_id)
    if isinstance(rolenames, (str, bytes)) or not isinstance(rolenames, Iterable):
        raise InvalidParameter("rolenames must be a list of role names", data={"key": "rolenames"})
    names = list(dict.fromkeys(rolenames))
    if not names or not all(isinstance(n, str) for n in names):
        raise InvalidParameter("rolenames must be a non-empty list of role names", data={"key": "rolenames"})
    if target.id == principal.account_id:
        raise InvalidParameter("users cannot change their own roles", name="SELF_ESCALATION",
                               data={"type": "account", "key": target.id})
    if target.role == policy.ROOT or policy.ROOT in names:
        raise InvalidParameter("the org owner's role is fixed and unique", name="ROOT_IS_UNIQUE",
                               data={"key": "rolenames"})
    builtins = [n for n in names if n in policy.BUILTIN_ROLES]
    if len(builtins) > 1:
        raise InvalidParameter("an account has one built-in role", name="ONE_BUILTIN_ROLE", data={"key": "rolenames"})
    with ctx.store.transaction() as st:
        for n in names:
            if n not in policy.BUILTIN_ROLES and not st.one(
                    "SELECT 1 FROM roles WHERE org_id = ? AND name = ?", (principal.org_id, n)):
                raise RelatedResourceNotFound(f"role {n} not found", name="ROLE_NOT_FOUND",
                                              data={"type": "role", "key": n[:64]})
        if builtins:
            st.execute("UPDATE accounts SET role = ? WHERE id = ?", (builtins[0], target.id))
        for n in names:
            if n not in policy.BUILTIN_ROLES:
                st.execute("INSERT OR IGNORE INTO account_roles (account_id, org_id, role_name) VALUES (?, ?, ?)",
                           (target.id, principal.org_id, n))
        st.execute("UPDATE accounts SET updated_at = ?, updated_by = ? WHERE id = ?",
                   (ctx.now(), principal.account_id, target.id))
    acc = load(ctx, principal.org_id, target.id)
    return AccountRoles(acc.id, acc.org_id, (acc.role, *acc.custom_roles))
