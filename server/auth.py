"""Credentials' cryptography: argon2id password hashes and HS256 access tokens (JWT).

- Passwords: argon2id (argon2-cffi), parameters from config; `rehashed` tells login when
  the parameters changed.
- Access token: JWT, HS256 with a per-server secret kept in meta.db (the same process
  issues and verifies; `kid` names the key). Claims iss, aud, sub (account), org, role,
  db?, iat, nbf, exp, jti. `decode_access_token` passes an explicit algorithm list,
  requires exp/iat/sub/org (and aud/iss/jti), checks aud and iss, and checks the time
  claims against the service's clock (PyJWT's own time checks use the wall clock, which
  tests cannot move), with the configured leeway.
- Refresh tokens and API key secrets are stored as their SHA-256 (`sha256`).

Who the caller is (a Principal from a verified token or API key), logins, refresh-token
rotation and API keys are the service layer's: server/service/tokens.py.
"""
from __future__ import annotations

import functools
import hashlib
import secrets
from typing import Any, Optional

import argon2
import jwt

from server.service.common import new_id
from server.service.config import PasswordHashing
from server.service.context import ServiceContext
from server.service.errors import InvalidParameter, MissingParameter, TokenExpired, Unauthorized

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("exp", "iat", "sub", "org", "aud", "iss", "jti")
MAX_PASSWORD_LENGTH = 1024
INVALID_TOKEN = "invalid or revoked token"

# What an expired access token is answered with: how to get a new one.
EXPIRED = ("the access token has expired: trade the refresh token for a new one (POST /v2/auth/refresh,"
           " AuthService/RefreshToken; `roarbase login` refreshes on its own) or log in again")


# -- passwords ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def _hasher(params: PasswordHashing) -> argon2.PasswordHasher:
    return argon2.PasswordHasher(time_cost=params.time_cost, memory_cost=params.memory_cost_kib,
                                 parallelism=params.parallelism, type=argon2.Type.ID)


@functools.lru_cache(maxsize=8)
def _dummy_hash(params: PasswordHashing) -> str:
    """A hash to verify against when the account does not exist (same time either way)."""
    return _hasher(params).hash(secrets.token_urlsafe(16))


def check_password_policy(ctx: ServiceContext, password: Any) -> str:
    """Raises InvalidParameter unless the password is text of an acceptable length."""
    if password is None or password == "":
        raise MissingParameter("password is required", data={"key": "password"})
    low = ctx.config.passwords.min_password_length
    if not isinstance(password, str) or not low <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidParameter(f"password must be {low} to {MAX_PASSWORD_LENGTH} characters",
                               name="WEAK_PASSWORD", data={"key": "password"})
    return password


def hash_password(ctx: ServiceContext, password: str) -> str:
    """An argon2id hash (PHC string) of a password that passed check_password_policy."""
    return _hasher(ctx.config.passwords).hash(check_password_policy(ctx, password))


def verify_password(ctx: ServiceContext, stored_hash: Optional[str], password: Any) -> bool:
    hasher = _hasher(ctx.config.passwords)
    if not isinstance(password, str) or not password or len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return hasher.verify(stored_hash or _dummy_hash(ctx.config.passwords), password) and bool(stored_hash)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


def rehashed(ctx: ServiceContext, stored_hash: str, password: str) -> Optional[str]:
    """A new hash of a verified password when the configured parameters changed since
    `stored_hash` was made; None otherwise."""
    hasher = _hasher(ctx.config.passwords)
    return hasher.hash(password) if hasher.check_needs_rehash(stored_hash) else None



# -- signing keys ------------------------------------------------------------------------

def ensure_signing_key(ctx: ServiceContext) -> str:
    """The current signing key's id, creating the per-server secret on first start."""
    with ctx.store.transaction() as st:
        row = st.one("SELECT kid FROM signing_keys ORDER BY created_at DESC, kid LIMIT 1")
        if row is not None:
            return str(row["kid"])
        kid = secrets.token_hex(8)
        st.execute("INSERT INTO signing_keys (kid, secret, created_at) VALUES (?, ?, ?)",
                   (kid, secrets.token_bytes(32), ctx.now()))
        return kid


def _signing_key(ctx: ServiceContext) -> tuple[str, bytes]:
    """(kid, secret) of the newest key; open_service made one, so this only reads."""
    row = ctx.store.one("SELECT kid, secret FROM signing_keys ORDER BY created_at DESC, kid LIMIT 1")
    if row is None:
        ensure_signing_key(ctx)
        return _signing_key(ctx)
    return str(row["kid"]), bytes(row["secret"])


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- access tokens -----------------------------------------------------------------------

def issue_access_token(ctx: ServiceContext, account_id: str, org_id: str, role: str, database_id: Optional[str],
                       end_user: Optional[str] = None, session: Optional[str] = None) -> tuple[str, str, int]:
    """A signed access token for an account: (token, its jti, its exp)."""
    kid, secret = _signing_key(ctx)
    now = int(ctx.now())
    exp = now + ctx.config.tokens.access_ttl_seconds
    jti = new_id()
    claims: dict[str, Any] = {"iss": ctx.config.tokens.issuer, "aud": ctx.config.tokens.audience,
                              "sub": account_id, "org": org_id, "role": role,
                              "iat": now, "nbf": now, "exp": exp, "jti": jti}
    if database_id:
        claims["db"] = database_id
    if end_user is not None:
        claims["eu"] = end_user
    if session is not None:
        claims["ss"] = session
    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"kid": kid}), jti, exp


def decode_access_token(ctx: ServiceContext, token: str) -> dict[str, Any]:
    """The claims of a token signed by one of the server's keys and valid now.

    Raises:
        TokenExpired: a genuine token past its exp.
        Unauthorized: anything else (bad signature, alg, kid, aud, iss, missing claim,
            malformed or future time claims).
    """
    settings = ctx.config.tokens
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise Unauthorized(INVALID_TOKEN) from None
    kid = header.get("kid")
    row = ctx.store.one("SELECT secret FROM signing_keys WHERE kid = ?", (kid,)) if isinstance(kid, str) else None
    if row is None or header.get("alg") != ALGORITHM:
        raise Unauthorized(INVALID_TOKEN)
    try:
        claims = jwt.decode(
            token, bytes(row["secret"]), algorithms=[ALGORITHM], audience=settings.audience, issuer=settings.issuer,
            options={"require": list(REQUIRED_CLAIMS), "verify_signature": True, "verify_aud": True,
                     "verify_iss": True, "verify_exp": False, "verify_iat": False, "verify_nbf": False})
    except jwt.InvalidTokenError:
        raise Unauthorized(INVALID_TOKEN) from None
    now, leeway = ctx.now(), settings.leeway_seconds
    exp, iat, nbf = claims["exp"], claims["iat"], claims.get("nbf", claims["iat"])
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (exp, iat, nbf)):
        raise Unauthorized(INVALID_TOKEN)
    if iat > now + leeway or nbf > now + leeway:
        raise Unauthorized(INVALID_TOKEN)
    if now > exp + leeway:
        raise TokenExpired(EXPIRED)
    return claims
