"""Crossing-Minds-style logins and accounts (API.md §3.1) over the same accounts, roles and
token service as /v2 — one identity, two URL families.

Logins pick the token's "current" database (db_id in either id form, or db_name) and, for
frontend use, the end user and anonymous session it acts for; the refresh token remembers
all three, so a client that refreshes with only the refresh token keeps its database
(reference/xminds-client.md §4). Individual accounts are addressed by email, service
accounts by name, as the CM API does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

from server import policy
from server.service.principal import Principal
from server.service.tokens import TokenPair
from server.service import accounts, databases, tokens
from server.service.common import check_object, dumps, loads
from server.service.context import ServiceContext
from server.service.errors import InvalidParameter, MissingParameter, ResourceNotFound, Unauthorized


@dataclass(frozen=True)
class Login:
    """A login's tokens and the database they select (None: no database)."""

    pair: TokenPair
    database: Optional[databases.Database]


def _database_ref(db_id: Any, db_name: Any) -> Optional[str]:
    if db_id is not None and db_name is not None:
        raise InvalidParameter("give db_id or db_name, not both", name="WRONG_DATA_TYPE", data={"key": "db_id"})
    ref = db_id if db_id is not None else db_name
    if ref is not None and (not isinstance(ref, str) or not ref):
        raise InvalidParameter("db_id / db_name must be text", name="WRONG_DATA_TYPE", data={"key": "db_id"})
    return ref


def _login_database(ctx: ServiceContext, pair: TokenPair) -> Login:
    db = None
    if pair.database_id is not None:
        row = ctx.store.one("SELECT id FROM databases WHERE id = ?", (pair.database_id,))
        db = databases._get(ctx, row["id"]) if row is not None else None
    return Login(pair, db)


def login(ctx: ServiceContext, *, password: Any, email: Any = None, name: Any = None, db_id: Any = None,
          db_name: Any = None, frontend_user_id: Any = None, frontend_session_id: Any = None,
          root_only: bool = False) -> Login:
    """login/individual (email), login/service (name; the password may be an API key) and
    the legacy login/root (root_only: the org owner, no database).

    Raises Unauthorized for bad credentials, ResourceNotFound for an unknown database,
    InvalidParameter (WRONG_DATA_TYPE) for malformed frontend ids."""
    ref = _database_ref(db_id, db_name)
    if email is not None and not isinstance(email, str) or name is not None and not isinstance(name, str):
        raise Unauthorized("invalid credentials", name="INVALID_CREDENTIALS")
    pair = tokens.login(ctx, password=password, email=email, name=name, database=ref, end_user=frontend_user_id,
                      session=frontend_session_id)
    if root_only and pair.role != policy.ROOT:
        tokens.logout(ctx, pair.refresh_token)
        raise Unauthorized("invalid credentials", name="INVALID_CREDENTIALS")
    return _login_database(ctx, pair)


def refresh(ctx: ServiceContext, *, refresh_token: Any, db_id: Any = None, db_name: Any = None) -> Login:
    """login/refresh-token: rotate the refresh token, keeping (or moving) the database."""
    pair = tokens.refresh(ctx, refresh_token, database=_database_ref(db_id, db_name))
    return _login_database(ctx, pair)


@policy.checked("AccountService.GetCurrentAccount")
def whoami(ctx: ServiceContext, principal: Principal) -> dict[str, Any]:
    """login/jwt: what the token says, checked as any request is."""
    out: dict[str, Any] = {"org_id": principal.org_id,
                           "account": {"id": principal.account_id, "role": principal.role}}
    if principal.database_id is not None:
        out["database"] = databases.load(ctx, principal, principal.database_id)
    if principal.end_user is not None:
        out["frontend_user_id"] = principal.end_user
    if principal.session is not None:
        out["frontend_session_id"] = principal.session
    return out


# --- accounts ---------------------------------------------------------------------------------

def _by(ctx: ServiceContext, org_id: str, column: str, value: Any, kind: str) -> Any:
    if not isinstance(value, str) or not value:
        raise MissingParameter(f"{column} is required", data={"key": column})
    row = ctx.store.one(f"SELECT id FROM accounts WHERE {column} = ? AND org_id = ? AND kind = ?",
                        (value, org_id, kind))
    if row is None:
        raise ResourceNotFound(f"the account {value[:64]} does not exist", name="ACCOUNT_NOT_FOUND",
                               data={"type": "account", "key": value[:64]})
    return row["id"]


def _set_metadata(ctx: ServiceContext, account_id: str, metadata: Any) -> None:
    if metadata is not None:
        ctx.store.execute("UPDATE accounts SET metadata = ? WHERE id = ?",
                          (dumps(check_object(metadata, "metadata")), account_id))


def create_individual(ctx: ServiceContext, principal: Optional[Principal], *, email: Any, role: Any = "backend",
                      password: Any = None, first_name: Any = "", last_name: Any = "", metadata: Any = None,
                      email_redirect_url: Any = None) -> str:
    """A new individual account of the caller's org; returns its id. Without a password
    the account cannot log in until one is set (this server sends no email)."""
    if metadata is not None:
        check_object(metadata, "metadata")
    acc = accounts.create_account(ctx, principal, kind=accounts.INDIVIDUAL, email=email, role=role,
                                  password=password, firstname=first_name or "", lastname=last_name or "")
    _set_metadata(ctx, acc.id, metadata)
    return acc.id


@policy.checked("AccountService.UpdateAccount")
def update_individual(ctx: ServiceContext, principal: Principal, *, email: Any, password: Any = None,
                      first_name: Any = None, last_name: Any = None, metadata: Any = None) -> None:
    """Change the password, names or metadata of the individual account with this email."""
    account_id = _by(ctx, principal.org_id, "email", email, accounts.INDIVIDUAL)
    changes = {k: v for k, v in (("password", password), ("firstname", first_name), ("lastname", last_name))
               if v is not None}
    if metadata is not None:
        check_object(metadata, "metadata")
    accounts.update_account(ctx, principal, account_id, **changes)
    _set_metadata(ctx, account_id, metadata)


@policy.checked("AccountService.DeleteAccount")
def delete_individual(ctx: ServiceContext, principal: Principal, *, email: Any) -> None:
    accounts.delete_account(ctx, principal, _by(ctx, principal.org_id, "email", email, accounts.INDIVIDUAL))


def create_service(ctx: ServiceContext, principal: Optional[Principal], *, name: Any, role: Any = "frontend",
                   password: Any = None, metadata: Any = None) -> str:
    """A new service account (it logs in by name, with its password or one of its keys)."""
    if metadata is not None:
        check_object(metadata, "metadata")
    acc = accounts.create_account(ctx, principal, kind=accounts.SERVICE, name=name, role=role, password=password)
    _set_metadata(ctx, acc.id, metadata)
    return acc.id


@policy.checked("AccountService.DeleteAccount")
def delete_service(ctx: ServiceContext, principal: Principal, *, name: Any) -> None:
    accounts.delete_account(ctx, principal, _by(ctx, principal.org_id, "name", name, accounts.SERVICE))


@policy.checked("AuthService.CreateApiKey")
def create_service_key(ctx: ServiceContext, principal: Principal, *, name: Any,
                       expiration_timestamp: Any = None, metadata: Any = None) -> dict[str, Any]:
    """A new key of a service account: {id, key, created_timestamp, expire_timestamp,
    metadata}; the key itself is returned this once only."""
    account_id = _by(ctx, principal.org_id, "name", name, accounts.SERVICE)
    expires_in = None
    if expiration_timestamp is not None:
        if isinstance(expiration_timestamp, bool) or not isinstance(expiration_timestamp, (int, float)) \
                or not math.isfinite(expiration_timestamp) or expiration_timestamp <= ctx.now():
            raise InvalidParameter("expiration_timestamp must be a Unix time in the future", name="WRONG_DATA_TYPE",
                                   data={"key": "expiration_timestamp"})
        expires_in = max(1, math.ceil(expiration_timestamp - ctx.now()))
    meta = check_object(metadata if metadata is not None else {}, "metadata")
    created = tokens.create_api_key(ctx, principal, account_id=account_id, expires_in_seconds=expires_in)
    ctx.store.execute("UPDATE api_keys SET metadata = ? WHERE id = ?", (dumps(meta), created.api_key.id))
    k = created.api_key
    return {"id": k.id, "key": created.key, "created_timestamp": k.created_at,
            "expire_timestamp": k.expires_at, "metadata": meta}


def delete_service_key(ctx: ServiceContext, principal: Optional[Principal], key_id: Any) -> None:
    tokens.revoke_api_key(ctx, principal, key_id)


@policy.checked("AccountService.ListAccounts")
def list_org_accounts(ctx: ServiceContext, principal: Principal) -> dict[str, Any]:
    """organizations/accounts/: the org's individual and service accounts (with their live
    keys, never the secrets)."""
    individuals, services = [], []
    for row in ctx.store.all("SELECT * FROM accounts WHERE org_id = ? ORDER BY created_at, id", (principal.org_id,)):
        if row["kind"] == accounts.INDIVIDUAL:
            individuals.append({"first_name": row["firstname"], "last_name": row["lastname"], "email": row["email"],
                                "role": row["role"], "verified": row["status"] == accounts.ACTIVE,
                                "metadata": loads(row["metadata"])})
        else:
            keys = [{"id": k["id"], "created_timestamp": k["created_at"], "expire_timestamp": k["expires_at"],
                     "metadata": loads(k["metadata"])}
                    for k in ctx.store.all("SELECT * FROM api_keys WHERE account_id = ? AND revoked_at IS NULL"
                                           " ORDER BY created_at, id", (row["id"],))]
            services.append({"name": row["name"], "role": row["role"], "keys": keys,
                             "metadata": loads(row["metadata"])})
    return {"individual_accounts": individuals, "service_accounts": services}
