"""Roles of an org: the four built-ins (pre-created, immutable) and custom roles holding
ACL strings (API.md C2). Authorization reads built-in ACLs from server.policy, never from
these rows, so the stored copy of a built-in is for listing only."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional

from server import policy
from server.service.principal import Principal
from server.service.common import Page, check_name, dumps, iso, loads, paginate
from server.service.context import ServiceContext
from server.service.errors import InvalidParameter, ResourceAlreadyExists, ResourceNotFound


@dataclass(frozen=True)
class Role:
    rolename: str
    org_id: str
    acl: tuple[str, ...]
    builtin: bool
    created_at: float
    updated_at: float
    updated_by: str

    def to_dict(self) -> dict[str, Any]:
        return {"rolename": self.rolename, "org_id": self.org_id, "acl": list(self.acl), "builtin": self.builtin,
                "created_at": iso(self.created_at), "updated_at": iso(self.updated_at),
                "updated_by": self.updated_by}


def _role(row: Any) -> Role:
    return Role(row["name"], row["org_id"], tuple(loads(row["acl"])), bool(row["builtin"]), row["created_at"],
                row["updated_at"], row["updated_by"])


def check_acl(acl: Any) -> tuple[str, ...]:
    """A list of known ACL strings (policy.ACLS), deduplicated, in a stable order."""
    if isinstance(acl, (str, bytes)) or not isinstance(acl, Iterable):
        raise InvalidParameter("acl must be a list of permission strings", data={"key": "acl"})
    items = list(acl)
    unknown = [a for a in items if a not in policy.ACLS]
    if unknown:
        raise InvalidParameter(f"unknown ACL entries {unknown!r}; known: {', '.join(policy.ACLS)}",
                               name="UNKNOWN_ACL", data={"key": "acl"})
    return tuple(a for a in policy.ACLS if a in items)


def seed_builtin_roles(ctx: ServiceContext, org_id: str) -> None:
    """Create the built-in roles of a new org (called inside the org's creation)."""
    now = ctx.now()
    for name in policy.BUILTIN_ROLES:
        acl = [a for a in policy.ACLS if a in policy.BUILTIN_ACLS[name]]
        ctx.store.execute("INSERT OR IGNORE INTO roles (org_id, name, builtin, acl, created_at, updated_at)"
                          " VALUES (?, ?, 1, ?, ?, ?)", (org_id, name, dumps(acl), now, now))


def _load(ctx: ServiceContext, org_id: str, rolename: Any) -> Role:
    row = ctx.store.one("SELECT * FROM roles WHERE org_id = ? AND name = ?",
                        (org_id, rolename if isinstance(rolename, str) else ""))
    if row is None:
        raise ResourceNotFound("role not found", name="ROLE_NOT_FOUND",
                               data={"type": "role", "key": str(rolename)[:64]})
    return _role(row)


def _mutable(role: Role) -> None:
    if role.builtin:
        raise InvalidParameter(f"built-in role {role.rolename} cannot be changed", name="BUILTIN_ROLE_IMMUTABLE",
                               data={"type": "role", "key": role.rolename})


@policy.checked("RoleService.CreateRole")
def create_role(ctx: ServiceContext, principal: Principal, rolename: Any, acl: Any) -> Role:
    """A custom role. Raises ResourceAlreadyExists (name taken, built-in names included),
    InvalidParameter (bad name or ACL)."""
    name = check_name(rolename, "role")
    entries = check_acl(acl)
    now = ctx.now()
    with ctx.store.transaction() as st:
        if st.one("SELECT 1 FROM roles WHERE org_id = ? AND name = ?", (principal.org_id, name)):
            raise ResourceAlreadyExists(f"role {name} already exists", name="DUPLICATED_ROLE",
                                        data={"type": "role", "key": name})
        st.execute("INSERT INTO roles (org_id, name, builtin, acl, created_at, updated_at, updated_by)"
                   " VALUES (?, ?, 0, ?, ?, ?, ?)", (principal.org_id, name, dumps(list(entries)), now, now,
                                                     principal.account_id))
    return _load(ctx, principal.org_id, name)


@policy.checked("RoleService.GetRole")
def get_role(ctx: ServiceContext, principal: Principal, rolename: Any) -> Role:
    return _load(ctx, principal.org_id, rolename)


@policy.checked("RoleService.ListRoles")
def list_roles(ctx: ServiceContext, principal: Principal, *, limit: Optional[int] = None,
               next_token: Optional[str] = None) -> Page[Role]:
    rows, nxt = paginate(ctx, "SELECT * FROM (SELECT *, name AS id FROM roles) WHERE org_id = ?", [principal.org_id],
                         limit=limit, next_token=next_token)
    return Page([_role(r) for r in rows], nxt)


@policy.checked("RoleService.UpdateRole")
def update_role(ctx: ServiceContext, principal: Principal, rolename: Any, acl: Any) -> Role:
    """Replace a custom role's ACL. Built-ins raise InvalidParameter (immutable)."""
    entries = check_acl(acl)
    with ctx.store.transaction() as st:
        role = _load(ctx, principal.org_id, rolename)
        _mutable(role)
        st.execute("UPDATE roles SET acl = ?, updated_at = ?, updated_by = ? WHERE org_id = ? AND name = ?",
                   (dumps(list(entries)), ctx.now(), principal.account_id, principal.org_id, role.rolename))
    return _load(ctx, principal.org_id, role.rolename)


@policy.checked("RoleService.DeleteRole")
def delete_role(ctx: ServiceContext, principal: Principal, rolename: Any) -> None:
    """Delete a custom role; accounts holding it lose it. Built-ins raise InvalidParameter."""
    with ctx.store.transaction() as st:
        role = _load(ctx, principal.org_id, rolename)
        _mutable(role)
        st.execute("DELETE FROM roles WHERE org_id = ? AND name = ?", (principal.org_id, role.rolename))
