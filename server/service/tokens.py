"""Who is calling: access tokens, refresh tokens and API keys -> a verified Principal.

- Access token (a JWT: server/auth.py signs and decodes it): after decoding, the account
  must still be active in that org, the token not deny-listed and its database not deleted.
- Refresh token: an opaque random string, stored as its SHA-256; every use rotates it
  (new token, old one revoked); presenting an already-rotated token revokes its whole
  family and deny-lists the access tokens issued with it. Deleting a database revokes
  every token scoped to it.
- API keys: for service accounts, `rbk_<id as 32 hex>_<secret>`, stored as SHA-256 of the secret,
  returned once; accepted as X-API-Key and as the password of a service login.

Every failure is Unauthorized with a message that does not say which check failed,
except an expired token (TokenExpired) and an expired or revoked refresh token
(RefreshTokenExpired), which clients act on.
"""
from __future__ import annotations

import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Optional

from engine import EngineError, IdType
from server import auth, policy
from server.auth import EXPIRED, INVALID_TOKEN
from server.ids import parse_id
from server.service.common import Page, iso, loads, new_id, paginate
from server.service.context import ServiceContext
from server.service.errors import (
    InvalidParameter,
    MissingAuthenticationToken,
    MissingParameter,
    RefreshTokenExpired,
    RelatedResourceNotFound,
    ResourceNotFound,
    ServiceUnavailable,
    TokenExpired,
    Unauthorized,
)
from server.service.principal import Principal

API_KEY_PREFIX = "rbk"
_GONE_STATES = ("DELETING", "DEPROVISIONING", "DELETED")
_INVALID = "invalid credentials"


@dataclass(frozen=True)
class TokenPair:
    token: str
    refresh_token: str
    expires_in: int
    account_id: str
    org_id: str
    role: str
    database_id: Optional[str] = None
    token_type: str = "Bearer"
    end_user: Optional[str] = None
    session: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"token": self.token, "refresh_token": self.refresh_token,
                               "expires_in": self.expires_in, "token_type": self.token_type,
                               "role": self.role, "org_id": self.org_id, "account_id": self.account_id}
        if self.database_id:
            out["database"] = {"id": self.database_id}
        return out


@dataclass(frozen=True)
class ApiKey:
    """A stored API key (never its secret)."""

    id: str
    account_id: str
    org_id: str
    database_id: Optional[str]
    label: str
    created_at: float
    created_by: str
    expires_at: Optional[float]
    revoked_at: Optional[float]
    last_used_at: Optional[float]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "account_id": self.account_id, "org_id": self.org_id,
                "database_id": self.database_id, "label": self.label, "created_at": iso(self.created_at),
                "created_by": self.created_by, "expires_at": iso(self.expires_at),
                "revoked": self.revoked_at is not None, "last_used_at": iso(self.last_used_at)}


@dataclass(frozen=True)
class CreatedApiKey:
    """A new key: `key` is the only time the secret is ever returned."""

    api_key: ApiKey
    key: str


# Verified tokens kept at most (the cache is emptied when full: a burst of distinct tokens
# costs a re-verification each, never unbounded memory).
TOKEN_CACHE_SIZE = 4096


def cached_principal(ctx: ServiceContext, token: Optional[str]) -> Optional[Principal]:
    """The Principal of a token verified before while meta.db has not changed since (no
    I/O: safe on an event loop). None when it must be verified again. Raises TokenExpired
    when the cached token's exp has passed."""
    if not token:
        return None
    hit = ctx.token_cache.get(token)
    if hit is None or hit[0] != ctx.store.generation:
        return None
    if ctx.now() > hit[1] + ctx.config.tokens.leeway_seconds:
        raise TokenExpired(EXPIRED)
    return hit[2]


def verify_access_token(ctx: ServiceContext, token: Optional[str]) -> Principal:
    """The Principal of a bearer token.

    A verified token is cached until meta.db changes (any committed write: a revocation, a
    role or account change, a database deletion), so revocations still take effect at once
    while repeated calls with one token skip the signature check and the lookups.

    Raises:
        MissingAuthenticationToken: no token.
        TokenExpired: a genuine token past its exp.
        Unauthorized: anything else (bad signature, alg, kid, aud, iss, missing claim,
            not yet valid, revoked, account deactivated or gone, database deleted).
    """
    if not token:
        raise MissingAuthenticationToken("an access token is required")
    if not isinstance(token, str):
        raise Unauthorized(INVALID_TOKEN)
    cached = cached_principal(ctx, token)
    if cached is not None:
        return cached
    generation = ctx.store.generation  # read first: a write during the checks invalidates the entry
    claims = auth.decode_access_token(ctx, token)
    sub, org, jti, db = claims["sub"], claims["org"], claims["jti"], claims.get("db")
    end_user, session = claims.get("eu"), claims.get("ss")
    if not all(isinstance(v, str) for v in (sub, org, jti)) or \
            not all(v is None or isinstance(v, str) for v in (db, end_user, session)):
        raise Unauthorized(INVALID_TOKEN)
    if db is not None and _live_database(ctx, org, db) != db:
        # The token's database was deleted: say so (CM answers NotFoundError), before the
        # deny-list that the deletion also filled.
        raise ResourceNotFound("database not found", name="DB_NOT_FOUND", data={"type": "database", "key": db})
    if ctx.store.one("SELECT 1 FROM revoked_jtis WHERE jti = ?", (jti,)) is not None:
        raise Unauthorized(INVALID_TOKEN)
    principal = _principal(ctx, sub, org, db, token_id=jti, via="token", end_user=end_user, session=session)
    if len(ctx.token_cache) >= TOKEN_CACHE_SIZE:
        ctx.token_cache.clear()
    ctx.token_cache[token] = (generation, claims["exp"], principal)
    return principal


def _principal(ctx: ServiceContext, account_id: str, org_id: str, database_id: Optional[str], *,
               token_id: str, via: str, end_user: Optional[str] = None, session: Optional[str] = None) -> Principal:
    """Build the Principal from the account as it is now (role changes and deactivation
    take effect at once, not when the token expires)."""
    acc = ctx.store.one("SELECT * FROM accounts WHERE id = ? AND org_id = ?", (account_id, org_id))
    if acc is None or acc["status"] != "Active":
        raise Unauthorized(INVALID_TOKEN)
    if database_id is not None and _live_database(ctx, org_id, database_id) != database_id:
        raise Unauthorized(INVALID_TOKEN)
    return Principal(account_id, org_id, acc["role"], database_id, grants(ctx, account_id), token_id, via,
                     end_user, session)


def owner_principal(ctx: ServiceContext, *, acting_as: Optional[str] = None) -> Principal:
    """The bootstrap org's root account as a principal, for work the server does on its own
    behalf (the FeatureBase-compatible `POST /sql` without credentials on loopback).

    acting_as: a lesser built-in role to act with instead of root (least privilege: the
    compat path only needs backend's query rights). Raises ServiceUnavailable when the
    store has no org yet (the server bootstraps one on start).
    """
    row = ctx.store.one("SELECT a.id, a.org_id FROM accounts a JOIN orgs o ON o.id = a.org_id"
                        " WHERE a.role = 'root' AND a.status = 'Active' ORDER BY o.created_at, o.rowid LIMIT 1")
    if row is None:
        raise ServiceUnavailable("the server has no org yet", name="NOT_BOOTSTRAPPED")
    base = _principal(ctx, row["id"], row["org_id"], None, token_id="", via="owner")
    if acting_as is None:
        return base
    if acting_as not in policy.BUILTIN_ROLES:
        raise ValueError(f"unknown built-in role {acting_as!r}")
    return Principal(base.account_id, base.org_id, acting_as, None, frozenset(), "", "owner")


def grants(ctx: ServiceContext, account_id: str) -> frozenset[str]:
    """ACL grants beyond the built-in role: the account's own acl and its custom roles'."""
    acc = ctx.store.one("SELECT acl FROM accounts WHERE id = ?", (account_id,))
    out = set(loads(acc["acl"])) if acc is not None else set()
    for row in ctx.store.all(
            "SELECT r.acl FROM account_roles ar JOIN roles r ON r.org_id = ar.org_id AND r.name = ar.role_name"
            " WHERE ar.account_id = ?", (account_id,)):
        out.update(loads(row["acl"]))
    return frozenset(out)


def _live_database(ctx: ServiceContext, org_id: str, ref: str) -> Optional[str]:
    """The id of a database of the org named by id (either form) or name, unless it is
    being deleted or gone."""
    ident = parse_id(ref)
    row = ctx.store.one(
        "SELECT id FROM databases WHERE org_id = ? AND (id = ? OR name = ?)"
        f" AND state NOT IN {_GONE_STATES!r}", (org_id, ident or "", ref))
    return None if row is None else str(row["id"])


# -- login and refresh -------------------------------------------------------------------

def _new_pair(ctx: ServiceContext, acc: Any, database_id: Optional[str], *, scope_locked: bool = False,
              family_id: Optional[str] = None, parent_id: Optional[str] = None, end_user: Optional[str] = None,
              session: Optional[str] = None, api_key_id: Optional[str] = None) -> TokenPair:
    """A new access token and refresh token. scope_locked: the refresh token may not move
    to another database (the session came from a database-scoped API key). end_user /
    session: a frontend login's end user and session, kept by the refresh token.
    api_key_id: the API key the session was logged in with (its revocation ends it)."""
    token, jti, exp = auth.issue_access_token(ctx, acc["id"], acc["org_id"], acc["role"], database_id, end_user, session)
    refresh = secrets.token_urlsafe(32)
    rid = new_id()
    now = ctx.now()
    ctx.store.execute(
        "INSERT INTO refresh_tokens (id, family_id, parent_id, account_id, org_id, database_id, scope_locked,"
        " token_hash, access_jti, access_exp, created_at, expires_at, end_user, session, api_key_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (rid, family_id or rid, parent_id, acc["id"], acc["org_id"], database_id, int(scope_locked),
         auth.sha256(refresh), jti, exp, now, now + ctx.config.tokens.refresh_ttl_seconds, end_user, session,
         api_key_id))
    return TokenPair(token, refresh, ctx.config.tokens.access_ttl_seconds, acc["id"], acc["org_id"], acc["role"],
                     database_id, end_user=end_user, session=session)


def login(ctx: ServiceContext, *, password: Any, email: Optional[str] = None, name: Optional[str] = None,
          database: Optional[str] = None, end_user: Any = None, session: Any = None) -> TokenPair:
    """Log in by email or by name, with a password (or, for a service account, one of its
    API keys). `database` (id in either form, or name) scopes the tokens to a database; a
    database-scoped API key gives tokens scoped to its database and no other.

    Raises:
        MissingParameter: no email/name or no password.
        Unauthorized: unknown account, wrong password, deactivated account.
        ResourceNotFound: the database is not one of the account's org.
    """
    policy.check(None, "AuthService.Login")
    if not email and not name:
        raise MissingParameter("email or name is required", data={"key": "email"})
    if not password:
        raise MissingParameter("password is required", data={"key": "password"})
    column, value = ("email", email) if email else ("name", name)
    acc = ctx.store.one(f"SELECT * FROM accounts WHERE {column} = ?", (value,)) if isinstance(value, str) else None
    password_ok = auth.verify_password(ctx, acc["password_hash"] if acc is not None else None, password)
    ok, key_scope, key_id = password_ok, None, None
    if not ok and acc is not None and acc["kind"] == "service":
        key = _find_api_key(ctx, password)
        if key is not None and key["account_id"] == acc["id"]:
            ok, key_scope, key_id = True, key["database_id"], key["id"]
    if not ok or acc is None or acc["status"] != "Active":
        raise Unauthorized(_INVALID, name="INVALID_CREDENTIALS")
    new_hash = auth.rehashed(ctx, acc["password_hash"], password) if password_ok else None
    if new_hash is not None:
        ctx.store.execute("UPDATE accounts SET password_hash = ? WHERE id = ?", (new_hash, acc["id"]))
    database_id = key_scope  # a database-scoped key logs in to its database only
    if database:
        database_id = _live_database(ctx, acc["org_id"], database)
        if database_id is None or (key_scope is not None and database_id != key_scope):
            raise ResourceNotFound("database not found", name="DB_NOT_FOUND", data={"type": "database",
                                                                                   "key": str(database)[:64]})
    eu, ss = _end_user_ids(ctx, database_id, end_user, session)
    with ctx.store.transaction():
        return _new_pair(ctx, acc, database_id, scope_locked=key_scope is not None, end_user=eu, session=ss,
                         api_key_id=key_id)


def _end_user_ids(ctx: ServiceContext, database_id: Optional[str], end_user: Any,
                  session: Any) -> tuple[Optional[str], Optional[str]]:
    """The canonical keys of a frontend login's end user and session ids, checked against
    the database's user_id_type / session_id_type. Raises InvalidParameter
    (WRONG_DATA_TYPE) for a malformed id or ids without a database."""
    if end_user is None and session is None:
        return None, None
    if database_id is None:
        raise InvalidParameter("frontend_user_id and frontend_session_id need a database (db_id or db_name)",
                               name="WRONG_DATA_TYPE", data={"key": "db_id"})
    row = ctx.store.one("SELECT user_id_type, session_id_type FROM databases WHERE id = ?", (database_id,))
    assert row is not None  # the caller found the database live
    out: list[Optional[str]] = []
    for value, type_name, what in ((end_user, row["user_id_type"], "frontend_user_id"),
                                   (session, row["session_id_type"], "frontend_session_id")):
        if value is None:
            out.append(None)
            continue
        try:
            out.append(IdType.parse(type_name).key(value))
        except EngineError as exc:
            raise InvalidParameter(f"{what}: {exc.message}", name="WRONG_DATA_TYPE", data={"key": what}) from None
    return out[0], out[1]


def refresh(ctx: ServiceContext, refresh_token: Any, *, database: Optional[str] = None) -> TokenPair:
    """Rotate a refresh token: a new pair, the presented token revoked.

    `database` moves the new tokens to another database of the org (CM's refresh with
    db_id/db_name) — unless the session came from a database-scoped API key; otherwise
    they keep the old scope.

    Raises:
        RefreshTokenExpired: expired, or revoked (database deleted, logout, family revoked).
        Unauthorized: unknown token, or a reuse of an already-rotated token — which also
            revokes every token of its family.
        ResourceNotFound: `database` is not one of the org's.
    """
    policy.check(None, "AuthService.RefreshToken")
    if not refresh_token or not isinstance(refresh_token, str):
        raise MissingParameter("refresh_token is required", data={"key": "refresh_token"})
    now = ctx.now()
    reused = False
    with ctx.store.transaction() as st:
        row = st.one("SELECT * FROM refresh_tokens WHERE token_hash = ?", (auth.sha256(refresh_token),))
        if row is None:
            raise Unauthorized(INVALID_TOKEN)
        if row["revoked_at"] is not None:
            if row["revoked_reason"] != "rotated":
                raise RefreshTokenExpired("the refresh token was revoked", name="REFRESH_TOKEN_REVOKED")
            # Someone presents a token that was already exchanged: one of the two holders
            # is a thief. Revoke the family (and its live access tokens); both must log in.
            _revoke(ctx, "family_id = ?", (row["family_id"],), "reuse")
            reused = True
        elif now >= row["expires_at"]:
            raise RefreshTokenExpired("the refresh token has expired")
        else:
            acc = st.one("SELECT * FROM accounts WHERE id = ? AND org_id = ?", (row["account_id"], row["org_id"]))
            if acc is None or acc["status"] != "Active":
                raise Unauthorized(INVALID_TOKEN)
            if row["api_key_id"] is not None and not _key_live(ctx, row["api_key_id"]):
                # The key the session came from was revoked (its revocation revoked this
                # token too) or has expired: the session ends with it.
                raise RefreshTokenExpired("the API key this session was logged in with is revoked or expired",
                                          name="REFRESH_TOKEN_REVOKED")
            database_id = row["database_id"]
            end_user, session = row["end_user"], row["session"]
            if database:
                database_id = _live_database(ctx, acc["org_id"], database)
                if database_id is None or (row["scope_locked"] and database_id != row["database_id"]):
                    raise ResourceNotFound("database not found", name="DB_NOT_FOUND",
                                           data={"type": "database", "key": str(database)[:64]})
            elif database_id is not None and _live_database(ctx, acc["org_id"], database_id) is None:
                raise RefreshTokenExpired("the refresh token was revoked", name="REFRESH_TOKEN_REVOKED")
            if database_id != row["database_id"]:
                end_user = session = None    # end-user ids belong to the old database
            st.execute("UPDATE refresh_tokens SET revoked_at = ?, revoked_reason = 'rotated' WHERE id = ?",
                       (now, row["id"]))
            return _new_pair(ctx, acc, database_id, scope_locked=bool(row["scope_locked"]),
                             family_id=row["family_id"], parent_id=row["id"], end_user=end_user, session=session,
                             api_key_id=row["api_key_id"])
    assert reused
    raise Unauthorized(INVALID_TOKEN, name="REFRESH_TOKEN_REUSED")


def logout(ctx: ServiceContext, refresh_token: Any) -> int:
    """Revoke the family of a refresh token (and its live access tokens); unknown tokens
    are ignored. Returns the number of refresh tokens revoked."""
    if not isinstance(refresh_token, str) or not refresh_token:
        return 0
    with ctx.store.transaction() as st:
        row = st.one("SELECT family_id FROM refresh_tokens WHERE token_hash = ?", (auth.sha256(refresh_token),))
        return 0 if row is None else _revoke(ctx, "family_id = ?", (row["family_id"],), "logout")


def _revoke(ctx: ServiceContext, where: str, params: tuple[Any, ...], reason: str) -> int:
    """Revoke the matching refresh tokens and deny-list their unexpired access tokens."""
    now = ctx.now()
    with ctx.store.transaction() as st:
        st.execute("DELETE FROM revoked_jtis WHERE expires_at < ?", (now - ctx.config.tokens.leeway_seconds,))
        st.execute("INSERT OR IGNORE INTO revoked_jtis (jti, expires_at) SELECT access_jti, access_exp"
                   f" FROM refresh_tokens WHERE ({where}) AND access_exp >= ?",
                   (*params, now - ctx.config.tokens.leeway_seconds))
        cur = st.execute(f"UPDATE refresh_tokens SET revoked_at = ?, revoked_reason = ?"
                         f" WHERE ({where}) AND revoked_at IS NULL", (now, reason, *params))
        return int(cur.rowcount)


def revoke_database_tokens(ctx: ServiceContext, database_id: str) -> int:
    """Revoke every refresh token, access token and API key scoped to a database (its
    deletion). Returns the number of refresh tokens revoked."""
    with ctx.store.transaction() as st:
        st.execute("UPDATE api_keys SET revoked_at = ? WHERE database_id = ? AND revoked_at IS NULL",
                   (ctx.now(), database_id))
        return _revoke(ctx, "database_id = ?", (database_id,), "database_deleted")


def revoke_account_tokens(ctx: ServiceContext, account_id: str, reason: str, *, api_keys: bool = False) -> int:
    """Revoke an account's refresh tokens (deactivation, move to another org), and its API
    keys when asked. Returns the number of refresh tokens revoked."""
    with ctx.store.transaction() as st:
        if api_keys:
            st.execute("UPDATE api_keys SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL",
                       (ctx.now(), account_id))
        return _revoke(ctx, "account_id = ?", (account_id,), reason)


# -- API keys ----------------------------------------------------------------------------

def _api_key(row: Any) -> ApiKey:
    return ApiKey(row["id"], row["account_id"], row["org_id"], row["database_id"], row["label"],
                  row["created_at"], row["created_by"], row["expires_at"], row["revoked_at"], row["last_used_at"])


def _find_api_key(ctx: ServiceContext, key: Any) -> Optional[Any]:
    """The live key row for a presented key, or None (malformed, unknown, wrong secret,
    revoked, expired)."""
    if not isinstance(key, str) or key.count("_") < 2 or len(key) > 200:
        return None
    prefix, ident, secret = key.split("_", 2)
    if prefix != API_KEY_PREFIX or not re.fullmatch(r"[0-9a-f]{32}", ident):
        return None
    key_id = str(uuid.UUID(hex=ident))
    row = ctx.store.one("SELECT * FROM api_keys WHERE id = ?", (key_id,))
    if row is None or not hmac.compare_digest(row["key_hash"], auth.sha256(secret)):
        return None
    if row["revoked_at"] is not None or (row["expires_at"] is not None and ctx.now() >= row["expires_at"]):
        return None
    return row


@policy.checked("AuthService.CreateApiKey")
def create_api_key(ctx: ServiceContext, principal: Principal, *, account_id: str,
                   database: Optional[str] = None, label: str = "",
                   expires_in_seconds: Optional[int] = None) -> CreatedApiKey:
    """A new API key for a service account of the caller's org; the secret is in the
    result and nowhere else.

    Raises:
        ResourceNotFound: no such account in the org.
        InvalidParameter: not a service account, deactivated, or a bad label/expiry.
        RelatedResourceNotFound: `database` is not one of the org's.
    """
    acc = ctx.store.one("SELECT * FROM accounts WHERE id = ? AND org_id = ?",
                        (parse_id(account_id) or "", principal.org_id))
    if acc is None:
        raise ResourceNotFound("account not found", name="ACCOUNT_NOT_FOUND",
                               data={"type": "account", "key": str(account_id)[:64]})
    if acc["kind"] != "service" or acc["status"] != "Active":
        raise InvalidParameter("API keys are for active service accounts", name="NOT_A_SERVICE_ACCOUNT",
                               data={"type": "account", "key": acc["id"]})
    if not isinstance(label, str) or len(label) > 200:
        raise InvalidParameter("label must be text of at most 200 characters", data={"key": "label"})
    if expires_in_seconds is not None and (not isinstance(expires_in_seconds, int) or expires_in_seconds < 1):
        raise InvalidParameter("expires_in_seconds must be a positive integer", data={"key": "expires_in_seconds"})
    database_id = None
    if database:
        database_id = _live_database(ctx, principal.org_id, database)
        if database_id is None:
            raise RelatedResourceNotFound("database not found", name="DB_NOT_FOUND",
                                          data={"type": "database", "key": str(database)[:64]})
    key_id, secret, now = new_id(), secrets.token_urlsafe(32), ctx.now()
    expires_at = None if expires_in_seconds is None else now + expires_in_seconds
    ctx.store.execute(
        "INSERT INTO api_keys (id, account_id, org_id, database_id, label, key_hash, created_at, created_by,"
        " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (key_id, acc["id"], principal.org_id, database_id, label, auth.sha256(secret), now, principal.account_id,
         expires_at))
    row = ctx.store.one("SELECT * FROM api_keys WHERE id = ?", (key_id,))
    return CreatedApiKey(_api_key(row), f"{API_KEY_PREFIX}_{uuid.UUID(key_id).hex}_{secret}")


@policy.checked("AuthService.ListApiKeys")
def list_api_keys(ctx: ServiceContext, principal: Principal, *, account_id: Optional[str] = None,
                  limit: Optional[int] = None, next_token: Optional[str] = None) -> Page[ApiKey]:
    """The org's API keys (without secrets), optionally of one account."""
    sql, params = "SELECT * FROM api_keys WHERE org_id = ?", [principal.org_id]
    if account_id is not None:
        sql += " AND account_id = ?"
        params.append(parse_id(account_id) or "")
    rows, nxt = paginate(ctx, sql, params, limit=limit, next_token=next_token)
    return Page([_api_key(r) for r in rows], nxt)


def _key_live(ctx: ServiceContext, key_id: str) -> bool:
    row = ctx.store.one("SELECT revoked_at, expires_at FROM api_keys WHERE id = ?", (key_id,))
    return row is not None and row["revoked_at"] is None and (row["expires_at"] is None
                                                               or ctx.now() < row["expires_at"])


@policy.checked("AuthService.RevokeApiKey")
def revoke_api_key(ctx: ServiceContext, principal: Principal, key_id: str) -> ApiKey:
    """Revoke a key of the caller's org (idempotent), and end every session logged in with
    it: its refresh tokens are revoked and their access tokens deny-listed, at once.
    Raises ResourceNotFound otherwise."""
    ident = parse_id(key_id) or ""
    with ctx.store.transaction() as st:
        row = st.one("SELECT * FROM api_keys WHERE id = ? AND org_id = ?", (ident, principal.org_id))
        if row is None:
            raise ResourceNotFound("API key not found", name="API_KEY_NOT_FOUND",
                                   data={"type": "api_key", "key": str(key_id)[:64]})
        st.execute("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", (ctx.now(), ident))
        _revoke(ctx, "api_key_id = ?", (ident,), "api_key_revoked")
        return _api_key(st.one("SELECT * FROM api_keys WHERE id = ?", (ident,)))


def authenticate_api_key(ctx: ServiceContext, key: Optional[str]) -> Principal:
    """The Principal of an X-API-Key: the key's service account, scoped to the key's
    database if it has one. Raises MissingAuthenticationToken / Unauthorized."""
    if not key:
        raise MissingAuthenticationToken("an API key is required")
    row = _find_api_key(ctx, key)
    if row is None:
        raise Unauthorized(INVALID_TOKEN)
    principal = _principal(ctx, row["account_id"], row["org_id"], row["database_id"], token_id=row["id"],
                           via="api_key")
    now = ctx.now()
    if row["last_used_at"] is None or now - row["last_used_at"] >= 60:  # one write a minute at most
        ctx.store.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (now, row["id"]))
    return principal


def authenticate(ctx: ServiceContext, *, bearer: Optional[str] = None, api_key: Optional[str] = None) -> Principal:
    """The caller of a request from whichever credential it carries (a bearer token wins).

    Raises MissingAuthenticationToken when there is none, Unauthorized/TokenExpired when
    the one given does not verify.
    """
    if bearer:
        return verify_access_token(ctx, bearer)
    if api_key:
        return authenticate_api_key(ctx, api_key)
    raise MissingAuthenticationToken("an access token or API key is required")
