"""Invites: an org's owner or a manager invites an email; the invite expires after
config.invite_ttl_seconds and is used once — by a newcomer, who accepts it and gets an
account (accept_invite), or by a member of another org, who moves (move_account_org, FB's
POST /v2/users/{id}/action/invite). An expired or used invite raises IncorrectState
(InviteExpired / InviteAlreadyAccepted)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from server import auth, policy
from server.service.principal import Principal
from server.service import accounts, tokens
from server.service.accounts import Account
from server.ids import parse_id
from server.service.common import Page, check_email, iso, new_id, paginate
from server.service.context import ServiceContext
from server.service.errors import (
    Forbidden,
    IncorrectState,
    InvalidParameter,
    InviteAlreadyAccepted,
    InviteExpired,
    ResourceAlreadyExists,
    ResourceNotFound,
)


@dataclass(frozen=True)
class Invite:
    id: str
    org_id: str
    org_name: str
    email: str
    role: str
    accepted: bool
    move_org: bool
    accepted_by: str
    created_at: float
    created_by: str
    date_expiry: float
    updated_at: float
    updated_by: str

    def expired(self, now: float) -> bool:
        return now >= self.date_expiry

    def to_dict(self) -> dict[str, Any]:
        """FB's Invite shape plus the role the account will get."""
        return {"id": self.id, "org_id": self.org_id, "org_name": self.org_name, "email": self.email,
                "accepted": self.accepted, "move_org": self.move_org, "created_at": iso(self.created_at),
                "date_expiry": iso(self.date_expiry), "updated_at": iso(self.updated_at),
                "updated_by": self.updated_by, "role": self.role}


_SELECT = "SELECT i.*, o.name AS org_name FROM invites i JOIN orgs o ON o.id = i.org_id"


def _invite(row: Any) -> Invite:
    return Invite(row["id"], row["org_id"], row["org_name"], row["email"], row["role"], bool(row["accepted"]),
                  bool(row["move_org"]), row["accepted_by"], row["created_at"], row["created_by"],
                  row["date_expiry"], row["updated_at"], row["updated_by"])


def _not_found(invite_id: Any) -> ResourceNotFound:
    return ResourceNotFound("invite not found", name="INVITE_NOT_FOUND",
                            data={"type": "invite", "key": str(invite_id)[:64]})


def _load(ctx: ServiceContext, invite_id: Any, org_id: Optional[str] = None) -> Invite:
    sql, params = _SELECT + " WHERE i.id = ?", [parse_id(invite_id) or ""]
    if org_id is not None:
        sql += " AND i.org_id = ?"
        params.append(org_id)
    row = ctx.store.one(sql, params)
    if row is None:
        raise _not_found(invite_id)
    return _invite(row)


def _usable(ctx: ServiceContext, invite: Invite) -> None:
    if invite.accepted:
        raise InviteAlreadyAccepted("the invite was already used", data={"type": "invite", "key": invite.id})
    if invite.expired(ctx.now()):
        raise InviteExpired("the invite has expired", data={"type": "invite", "key": invite.id})


@policy.checked("InviteService.CreateInvite")
def create_invite(ctx: ServiceContext, principal: Principal, *, email: Any,
                  role: str = policy.BACKEND) -> Invite:
    """Invite an email into the caller's org, valid for config.invite_ttl_seconds.

    Raises:
        InvalidParameter: bad email, or a role other than manager/backend/frontend.
        ResourceAlreadyExists: the email is a member already, or has a pending invite.
        Forbidden: a role above the caller's.
    """
    address = check_email(email)
    if role not in accounts.ASSIGNABLE_ROLES:
        raise InvalidParameter(f"role must be one of {', '.join(accounts.ASSIGNABLE_ROLES)}", name="UNKNOWN_ROLE",
                               data={"key": "role"})
    policy.check_outranks(principal, policy.BUILTIN_ACLS[role])
    invite_id, now = new_id(), ctx.now()
    with ctx.store.transaction() as st:
        if st.one("SELECT 1 FROM accounts WHERE org_id = ? AND email = ?", (principal.org_id, address)):
            raise ResourceAlreadyExists("this email is already a member", name="DUPLICATED_EMAIL",
                                        data={"type": "account", "key": address})
        if st.one("SELECT 1 FROM invites WHERE org_id = ? AND email = ? AND accepted = 0 AND date_expiry > ?",
                  (principal.org_id, address, now)):
            raise ResourceAlreadyExists("this email has a pending invite", name="DUPLICATED_INVITE",
                                        data={"type": "invite", "key": address})
        st.execute("INSERT INTO invites (id, org_id, email, role, created_at, created_by, date_expiry, updated_at,"
                   " updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (invite_id, principal.org_id, address, role, now, principal.account_id,
                    now + ctx.config.invite_ttl_seconds, now, principal.account_id))
    return _load(ctx, invite_id)


@policy.checked("InviteService.GetInvite")
def get_invite(ctx: ServiceContext, principal: Principal, invite_id: str) -> Invite:
    return _load(ctx, invite_id, principal.org_id)


@policy.checked("InviteService.ListInvites")
def list_invites(ctx: ServiceContext, principal: Principal, *, limit: Optional[int] = None,
                 next_token: Optional[str] = None) -> Page[Invite]:
    rows, nxt = paginate(ctx, _SELECT + " WHERE i.org_id = ?", [principal.org_id], limit=limit,
                         next_token=next_token, prefix="i.")
    return Page([_invite(r) for r in rows], nxt)


@policy.checked("InviteService.UpdateInvite")
def update_invite(ctx: ServiceContext, principal: Principal, invite_id: str, *, accepted: Any) -> Invite:
    """FB's PUT /v2/invites/{id} {accepted}: mark an invite used (closing it) — it cannot
    be reopened. Raises ResourceNotFound, InvalidParameter, InviteExpired,
    InviteAlreadyAccepted (un-accepting)."""
    if not isinstance(accepted, bool):
        raise InvalidParameter("accepted must be true or false", data={"key": "accepted"})
    with ctx.store.transaction() as st:
        invite = _load(ctx, invite_id, principal.org_id)
        if invite.accepted == accepted:
            return invite
        if not accepted:
            raise InviteAlreadyAccepted("an accepted invite cannot be reopened",
                                        data={"type": "invite", "key": invite.id})
        _usable(ctx, invite)
        st.execute("UPDATE invites SET accepted = 1, updated_at = ?, updated_by = ? WHERE id = ?",
                   (ctx.now(), principal.account_id, invite.id))
    return _load(ctx, invite.id)


@policy.checked("InviteService.DeleteInvite")
def delete_invite(ctx: ServiceContext, principal: Principal, invite_id: str) -> None:
    with ctx.store.transaction() as st:
        invite = _load(ctx, invite_id, principal.org_id)
        st.execute("DELETE FROM invites WHERE id = ?", (invite.id,))


def accept_invite(ctx: ServiceContext, invite_id: str, *, email: Any, password: Any, name: Optional[str] = None,
                  firstname: str = "", lastname: str = "") -> Account:
    """A newcomer accepts an invite: a new individual account in the inviting org, with
    the invite's role. Public: the invite id is the credential, and it must come with the
    email it was sent to (a wrong email answers like an unknown invite).

    Raises:
        ResourceNotFound: unknown invite or another email. InviteAlreadyAccepted,
        InviteExpired. ResourceAlreadyExists: the email has an account (move it instead).
        InvalidParameter/MissingParameter: bad password or names.
    """
    policy.check(None, "InviteService.AcceptInvite")
    invite = _load(ctx, invite_id)
    if not isinstance(email, str) or email.lower() != invite.email.lower():
        raise _not_found(invite_id)
    _usable(ctx, invite)
    password_hash = auth.hash_password(ctx, password)
    with ctx.store.transaction() as st:
        invite = _load(ctx, invite.id)
        _usable(ctx, invite)
        account_id = accounts.insert_account(
            ctx, org_id=invite.org_id, kind=accounts.INDIVIDUAL, role=invite.role, email=invite.email, name=name,
            firstname=firstname, lastname=lastname, password_hash=password_hash, created_by=invite.created_by)
        st.execute("UPDATE invites SET accepted = 1, accepted_by = ?, updated_at = ?, updated_by = ? WHERE id = ?",
                   (account_id, ctx.now(), account_id, invite.id))
    return accounts.load(ctx, invite.org_id, account_id)


@policy.checked("AccountService.MoveAccountOrg")
def move_account_org(ctx: ServiceContext, principal: Principal, account_id: str,
                     invite_id: str) -> Account:
    """AccountService.MoveAccountOrg: the caller accepts an invite from another org and
    moves there with the invite's role; its custom roles, ACL grants, tokens and API keys
    stay behind (revoked). The org owner cannot move (its org would have none).

    Raises:
        Forbidden: moving someone else. ResourceNotFound: unknown invite or not addressed
        to the caller's email. InvalidParameter: an invite of the caller's own org.
        InviteAlreadyAccepted, InviteExpired. IncorrectState: the org owner.
    """
    me = accounts.load(ctx, principal.org_id, account_id)
    if me.id != principal.account_id:
        raise Forbidden("an account moves only itself")
    if me.role == policy.ROOT:
        raise IncorrectState("the org owner cannot leave its org", name="ROOT_CANNOT_MOVE",
                             data={"type": "account", "key": me.id})
    invite = _load(ctx, invite_id)
    if not me.email or me.email.lower() != invite.email.lower():
        raise _not_found(invite_id)
    if invite.org_id == me.org_id:
        raise InvalidParameter("the invite is from the account's own org", name="SAME_ORG",
                               data={"type": "invite", "key": invite.id})
    _usable(ctx, invite)
    with ctx.store.transaction() as st:
        invite = _load(ctx, invite.id)
        _usable(ctx, invite)
        now = ctx.now()
        tokens.revoke_account_tokens(ctx, me.id, "moved_org", api_keys=True)
        st.execute("DELETE FROM account_roles WHERE account_id = ?", (me.id,))
        st.execute("UPDATE accounts SET org_id = ?, role = ?, acl = '[]', updated_at = ?, updated_by = ? WHERE id = ?",
                   (invite.org_id, invite.role, now, me.id, me.id))
        st.execute("UPDATE invites SET accepted = 1, move_org = 1, accepted_by = ?, updated_at = ?, updated_by = ?"
                   " WHERE id = ?", (me.id, now, me.id, invite.id))
    return accounts.load(ctx, invite.org_id, me.id)
