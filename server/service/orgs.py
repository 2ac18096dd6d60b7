"""Organizations: every resource belongs to one; a member reads only its own (another
org's id answers ResourceNotFound, never a refusal that would confirm it exists)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from server import policy
from server.service.principal import Principal
from server.service import roles
from server.ids import parse_id
from server.service.common import check_email, check_object, check_text, dumps, iso, loads, merge_patch, new_id
from server.service.context import ServiceContext
from server.service.errors import InvalidParameter, MissingParameter, ResourceNotFound

ORG_TYPES = ("standard", "trial", "internal")


@dataclass(frozen=True)
class Org:
    id: str
    name: str
    company_name: str
    address: str
    tech_contact_email: str
    billing_contact_email: str
    org_type: str
    created_at: float
    updated_at: float
    updated_by: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """FB's Org shape, including its misspelled `_emali` keys."""
        return {"id": self.id, "name": self.name, "company_name": self.company_name, "address": self.address,
                "tech_contact_emali": self.tech_contact_email, "billing_contact_emali": self.billing_contact_email,
                "org_type": self.org_type, "created_at": iso(self.created_at), "updated_at": iso(self.updated_at),
                "updated_by": self.updated_by, "metadata": dict(self.metadata)}


def _org(row: Any) -> Org:
    return Org(row["id"], row["name"], row["company_name"], row["address"], row["tech_contact_email"],
               row["billing_contact_email"], row["org_type"], row["created_at"], row["updated_at"],
               row["updated_by"], loads(row["metadata"]))


def create_org(ctx: ServiceContext, *, name: str, company_name: str = "", org_type: str = "standard",
               created_by: str = "") -> Org:
    """A new org with its four built-in roles. Not an API operation: orgs are made by the
    bootstrap and the CLI's server-admin path only (SECURITY.md §2)."""
    if not isinstance(name, str) or not name.strip():
        raise MissingParameter("org name is required", data={"type": "org", "key": "name"})
    check_text(name, "name", max_len=200)
    check_text(company_name, "company_name", max_len=200)
    if org_type not in ORG_TYPES:
        raise InvalidParameter(f"org_type must be one of {', '.join(ORG_TYPES)}", data={"key": "org_type"})
    org_id, now = new_id(), ctx.now()
    with ctx.store.transaction() as st:
        st.execute("INSERT INTO orgs (id, name, company_name, org_type, created_at, updated_at, updated_by)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?)", (org_id, name, company_name, org_type, now, now, created_by))
        roles.seed_builtin_roles(ctx, org_id)
    return _load(ctx, org_id)


def _load(ctx: ServiceContext, org_id: str) -> Org:
    row = ctx.store.one("SELECT * FROM orgs WHERE id = ?", (org_id,))
    if row is None:
        raise ResourceNotFound("organization not found", name="ORG_NOT_FOUND", data={"type": "org", "key": org_id})
    return _org(row)


def _own(principal: Principal, org_id: Any) -> str:
    ident = parse_id(org_id)
    if ident is None or ident != principal.org_id:
        raise ResourceNotFound("organization not found", name="ORG_NOT_FOUND",
                               data={"type": "org", "key": str(org_id)[:64]})
    return ident


@policy.checked("OrgService.GetOrg")
def get_org(ctx: ServiceContext, principal: Principal, org_id: str) -> Org:
    """The caller's org by id (GET /v2/orgs/{id}). Raises ResourceNotFound for any other id."""
    return _load(ctx, _own(principal, org_id))


@policy.checked("OrgService.GetOrg")
def get_current_org(ctx: ServiceContext, principal: Principal) -> Org:
    """The caller's org (GET /v1/organizations/current/)."""
    return _load(ctx, principal.org_id)


_UNSET: Any = object()


@policy.checked("OrgService.UpdateOrg")
def update_org(ctx: ServiceContext, principal: Principal, org_id: str, *, name: Any = _UNSET,
               company_name: Any = _UNSET, address: Any = _UNSET, tech_contact_email: Any = _UNSET,
               billing_contact_email: Any = _UNSET, metadata: Any = _UNSET, preserve: bool = True) -> Org:
    """Change the given fields of the caller's org.

    metadata: with preserve (default) an RFC 7396 merge patch over the stored object (null
    deletes a key); without, it replaces the object.

    Raises:
        ResourceNotFound: not the caller's org. InvalidParameter: a bad field.
    """
    ident = _own(principal, org_id)
    changes: dict[str, Any] = {}
    if name is not _UNSET:
        if not isinstance(name, str) or not name.strip():
            raise InvalidParameter("name cannot be empty", data={"key": "name"})
        changes["name"] = check_text(name, "name", max_len=200)
    for key, value in (("company_name", company_name), ("address", address)):
        if value is not _UNSET:
            changes[key] = check_text(value, key, max_len=1000)
    for key, value in (("tech_contact_email", tech_contact_email), ("billing_contact_email", billing_contact_email)):
        if value is not _UNSET:
            changes[key] = "" if value == "" else check_email(value)
    with ctx.store.transaction():
        current = _load(ctx, ident)
        if metadata is not _UNSET:
            patch = check_object(metadata, "metadata")
            changes["metadata"] = dumps(merge_patch(current.metadata, patch) if preserve else patch)
        changes.update(updated_at=ctx.now(), updated_by=principal.account_id)
        assignments = ", ".join(f"{k} = ?" for k in changes)
        ctx.store.execute(f"UPDATE orgs SET {assignments} WHERE id = ?", (*changes.values(), ident))
        return _load(ctx, ident)
