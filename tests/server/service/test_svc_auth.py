"""server/auth.py (passwords, JWT) and server/service/tokens.py: login, access-token verification (and every rejection), refresh
rotation with reuse detection, revocation, API keys, and the first-start bootstrap."""
import base64
import json
import secrets

import jwt
import pytest

from server import auth
from server.service import accounts, databases, tokens
from server.service.errors import (
    InvalidParameter,
    MissingAuthenticationToken,
    MissingParameter,
    RefreshTokenExpired,
    RelatedResourceNotFound,
    ResourceNotFound,
    TokenExpired,
    Unauthorized,
)
from svc_testlib import MEMBER_PASSWORD, ROOT_EMAIL, ROOT_PASSWORD, login, member, other_org, start


# -- passwords ---------------------------------------------------------------------------

def test_passwords_are_argon2id_and_verify(svc):
    h = auth.hash_password(svc, "correct horse")
    assert h.startswith("$argon2id$")
    assert "correct horse" not in h
    assert auth.verify_password(svc, h, "correct horse")
    assert not auth.verify_password(svc, h, "wrong horse")
    assert not auth.verify_password(svc, None, "correct horse")
    assert not auth.verify_password(svc, "not-a-hash", "correct horse")
    assert not auth.verify_password(svc, h, None)
    assert auth.hash_password(svc, "correct horse") != h  # salted


def test_password_policy(svc):
    with pytest.raises(MissingParameter):
        auth.hash_password(svc, "")
    with pytest.raises(InvalidParameter) as e:
        auth.hash_password(svc, "short")
    assert e.value.name == "WEAK_PASSWORD"
    with pytest.raises(InvalidParameter):
        auth.hash_password(svc, "x" * 1025)
    with pytest.raises(InvalidParameter):
        auth.hash_password(svc, 12345678)


def test_stored_hash_is_upgraded_on_login_when_parameters_change(tmp_path):
    from server.service.config import PasswordHashing
    ctx = start(tmp_path / "data")
    old = ctx.store.one("SELECT password_hash FROM accounts WHERE email = ?", (ROOT_EMAIL,))["password_hash"]
    ctx.close()
    ctx = start(tmp_path / "data", passwords=PasswordHashing(time_cost=2, memory_cost_kib=16, parallelism=1))
    try:
        login(ctx, ROOT_PASSWORD, email=ROOT_EMAIL)
        new = ctx.store.one("SELECT password_hash FROM accounts WHERE email = ?", (ROOT_EMAIL,))["password_hash"]
        assert new != old and "t=2" in new
        login(ctx, ROOT_PASSWORD, email=ROOT_EMAIL)
    finally:
        ctx.close()


# -- bootstrap ---------------------------------------------------------------------------

def test_bootstrap_with_configured_credentials(svc):
    b = svc.bootstrap
    assert b is not None and not b.generated and b.password is None
    assert b.email == ROOT_EMAIL
    p = login(svc, ROOT_PASSWORD, email=ROOT_EMAIL)
    assert (p.account_id, p.org_id, p.role) == (b.account_id, b.org_id, "root")
    assert login(svc, ROOT_PASSWORD, name="rooty").account_id == b.account_id


def test_bootstrap_generates_a_password_once(tmp_path):
    from server.service.config import BootstrapSettings
    ctx = start(tmp_path / "data", bootstrap=BootstrapSettings(root_email="admin@x.io"))
    try:
        b = ctx.bootstrap
        assert b.generated and len(b.password) >= 20
        assert b.password not in repr(b)
        assert login(ctx, b.password, email="admin@x.io").role == "root"
        stored = ctx.store.one("SELECT password_hash FROM accounts")["password_hash"]
        assert b.password not in stored
    finally:
        ctx.close()
    ctx = start(tmp_path / "data", bootstrap=BootstrapSettings(root_email="admin@x.io"))
    try:
        assert ctx.bootstrap is None  # not on the second start
        assert ctx.store.one("SELECT COUNT(*) AS n FROM orgs")["n"] == 1
    finally:
        ctx.close()


def test_bootstrap_refuses_a_weak_configured_password(tmp_path):
    from server.service.config import BootstrapSettings
    with pytest.raises(InvalidParameter):
        start(tmp_path / "data", bootstrap=BootstrapSettings(root_password="short"))
    ctx = start(tmp_path / "data")  # nothing half-made: the next start bootstraps cleanly
    try:
        assert ctx.bootstrap is not None
    finally:
        ctx.close()


# -- login -------------------------------------------------------------------------------

def test_login_returns_a_token_pair(svc, clock):
    pair = tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD)
    assert pair.expires_in == svc.config.tokens.access_ttl_seconds == 900
    assert pair.token_type == "Bearer" and pair.role == "root" and pair.database_id is None
    assert pair.refresh_token and pair.refresh_token not in json.dumps(
        [dict(r) for r in svc.store.all("SELECT * FROM refresh_tokens")])  # stored hashed only
    d = pair.to_dict()
    assert set(d) >= {"token", "refresh_token", "expires_in", "role", "org_id"}
    claims = jwt.decode(pair.token, options={"verify_signature": False})
    assert claims["sub"] == pair.account_id and claims["org"] == pair.org_id
    assert claims["exp"] - claims["iat"] == 900 and claims["iat"] == int(clock.now)
    assert claims["aud"] == "roarbase-api" and claims["iss"] == "roarbase" and claims["jti"]
    assert jwt.get_unverified_header(pair.token)["alg"] == "HS256"


def test_login_is_case_insensitive_on_email(svc):
    assert login(svc, ROOT_PASSWORD, email=ROOT_EMAIL.upper()).role == "root"


@pytest.mark.parametrize("kwargs", [
    {"email": ROOT_EMAIL, "password": "wrong-password"},
    {"email": "nobody@example.com", "password": ROOT_PASSWORD},
    {"name": "nobody", "password": ROOT_PASSWORD},
    {"email": ROOT_EMAIL, "password": "x" * 2000},
])
def test_login_failures_are_all_the_same(svc, kwargs):
    with pytest.raises(Unauthorized) as e:
        tokens.login(svc, **kwargs)
    assert e.value.message == "invalid credentials" and e.value.name == "INVALID_CREDENTIALS"
    assert not e.value.forbidden


def test_login_needs_an_identity_and_a_password(svc):
    with pytest.raises(MissingParameter):
        tokens.login(svc, password=ROOT_PASSWORD)
    with pytest.raises(MissingParameter):
        tokens.login(svc, email=ROOT_EMAIL, password="")


def test_deactivated_accounts_cannot_log_in_and_lose_their_tokens(svc, root):
    pair = tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD)
    acc = accounts.create_account(svc, root, email="b@x.io", role="backend", password=MEMBER_PASSWORD)
    b_pair = tokens.login(svc, email="b@x.io", password=MEMBER_PASSWORD)
    accounts.update_account(svc, root, acc.id, status="Deactivated")
    with pytest.raises(Unauthorized):
        tokens.login(svc, email="b@x.io", password=MEMBER_PASSWORD)
    with pytest.raises(Unauthorized):
        tokens.verify_access_token(svc, b_pair.token)  # at once, not at expiry
    with pytest.raises(RefreshTokenExpired):
        tokens.refresh(svc, b_pair.refresh_token)
    tokens.verify_access_token(svc, pair.token)  # others unaffected


def test_login_scoped_to_a_database(svc, root):
    db = databases.create_database(svc, root, name="shop")
    for ref in (db.id, db.id_b64, "shop"):
        pair = tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD, database=ref)
        assert pair.database_id == db.id
        assert tokens.verify_access_token(svc, pair.token).database_id == db.id
    with pytest.raises(ResourceNotFound):
        tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD, database="nope")
    other = other_org(svc)
    theirs = databases.create_database(svc, other.root, name="theirs")
    with pytest.raises(ResourceNotFound):
        tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD, database=theirs.id)


# -- access-token rejections -------------------------------------------------------------

def _secret(svc):
    row = svc.store.one("SELECT kid, secret FROM signing_keys")
    return row["kid"], bytes(row["secret"])


def _claims(svc, root, **changes):
    now = int(svc.now())
    c = {"iss": "roarbase", "aud": "roarbase-api", "sub": root.account_id, "org": root.org_id, "role": "root",
         "iat": now, "nbf": now, "exp": now + 900, "jti": secrets.token_hex(8)}
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def _forge(svc, root, *, key=None, alg="HS256", kid=None, **changes):
    real_kid, secret = _secret(svc)
    return jwt.encode(_claims(svc, root, **changes), key or secret, algorithm=alg,
                      headers={"kid": kid or real_kid})


def _b64(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_a_well_formed_forged_token_verifies(svc, root):
    """The forging helper itself is right: the rejections below differ in one thing only."""
    assert tokens.verify_access_token(svc, _forge(svc, root)).account_id == root.account_id


def test_expired_token(svc, root, clock):
    token = tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD).token
    clock.advance(900 + svc.config.tokens.leeway_seconds)
    tokens.verify_access_token(svc, token)  # within the leeway
    clock.advance(1)
    with pytest.raises(TokenExpired) as e:
        tokens.verify_access_token(svc, token)
    assert e.value.code == "TokenExpired"


@pytest.mark.parametrize("case", [
    "bad_signature", "alg_none", "alg_none_unsigned_header_only", "rs256_header", "hs512", "unknown_kid", "no_kid",
    "wrong_audience", "wrong_issuer", "no_audience", "no_issuer",
    "missing_exp", "missing_iat", "missing_sub", "missing_org", "missing_jti",
    "not_yet_valid", "issued_in_the_future", "string_exp", "other_org", "unknown_account", "garbage",
    "truncated", "tampered_payload",
])
def test_token_rejections(svc, root, case):
    other_key = secrets.token_bytes(32)
    kid, _ = _secret(svc)
    now = int(svc.now())
    if case == "bad_signature":
        token = _forge(svc, root, key=other_key)
    elif case == "alg_none":
        token = _b64({"alg": "none", "typ": "JWT", "kid": kid}) + "." + _b64(_claims(svc, root)) + "."
    elif case == "alg_none_unsigned_header_only":
        token = _b64({"alg": "none", "kid": kid}) + "." + _b64(_claims(svc, root)) + ".c2ln"
    elif case == "rs256_header":
        good = _forge(svc, root)
        token = _b64({"alg": "RS256", "typ": "JWT", "kid": kid}) + "." + good.split(".", 1)[1]
    elif case == "hs512":
        token = _forge(svc, root, alg="HS512", key=_secret(svc)[1] * 2)
    elif case == "unknown_kid":
        token = _forge(svc, root, kid="0123456789abcdef")
    elif case == "no_kid":
        token = jwt.encode(_claims(svc, root), _secret(svc)[1], algorithm="HS256")
    elif case == "wrong_audience":
        token = _forge(svc, root, aud="someone-else")
    elif case == "wrong_issuer":
        token = _forge(svc, root, iss="evil")
    elif case == "no_audience":
        token = _forge(svc, root, aud=None)
    elif case == "no_issuer":
        token = _forge(svc, root, iss=None)
    elif case.startswith("missing_"):
        token = _forge(svc, root, **{case[len("missing_"):]: None})
    elif case == "not_yet_valid":
        token = _forge(svc, root, nbf=now + 3600)
    elif case == "issued_in_the_future":
        token = _forge(svc, root, iat=now + 3600, nbf=None)
    elif case == "string_exp":
        token = _forge(svc, root, exp=str(now + 900))
    elif case == "other_org":
        token = _forge(svc, root, org=other_org(svc).org_id)
    elif case == "unknown_account":
        token = _forge(svc, root, sub="00000000-0000-4000-8000-000000000000")
    elif case == "garbage":
        token = "not.a.jwt"
    elif case == "truncated":
        token = _forge(svc, root)[:-10]
    else:
        h, _, s = _forge(svc, root).split(".")
        token = h + "." + _b64(_claims(svc, root, role="root", sub=root.account_id, exp=now + 10 ** 6)) + "." + s
    with pytest.raises(Unauthorized) as e:
        tokens.verify_access_token(svc, token)
    assert type(e.value) is Unauthorized, case  # not TokenExpired, not Missing...
    assert e.value.message == "invalid or revoked token"


def test_missing_token(svc):
    for token in (None, ""):
        with pytest.raises(MissingAuthenticationToken):
            tokens.verify_access_token(svc, token)
    with pytest.raises(MissingAuthenticationToken):
        tokens.authenticate(svc)
    with pytest.raises(Unauthorized):
        tokens.verify_access_token(svc, 42)


def test_role_comes_from_the_account_not_the_token(svc, root):
    acc = accounts.create_account(svc, root, email="m@x.io", role="frontend", password=MEMBER_PASSWORD)
    token = tokens.login(svc, email="m@x.io", password=MEMBER_PASSWORD).token
    forged_role = _forge(svc, root, sub=acc.id, role="root")
    assert tokens.verify_access_token(svc, forged_role).role == "frontend"
    accounts.add_account_roles(svc, root, acc.id, ["manager"])
    assert tokens.verify_access_token(svc, token).role == "manager"  # demotions/promotions apply at once


# -- refresh tokens ----------------------------------------------------------------------

def test_refresh_rotates(svc, clock):
    first = tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD)
    clock.advance(60)
    second = tokens.refresh(svc, first.refresh_token)
    assert second.refresh_token != first.refresh_token and second.token != first.token
    assert tokens.verify_access_token(svc, second.token).account_id == first.account_id
    third = tokens.refresh(svc, second.refresh_token)
    assert third.refresh_token not in (first.refresh_token, second.refresh_token)
    rows = svc.store.all("SELECT family_id, parent_id, revoked_reason FROM refresh_tokens ORDER BY created_at")
    assert len({r["family_id"] for r in rows}) == 1
    assert [r["revoked_reason"] for r in rows] == ["rotated", "rotated", None]


def test_reusing_a_rotated_token_revokes_the_family(svc):
    first = tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD)
    second = tokens.refresh(svc, first.refresh_token)
    other_session = tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD)
    with pytest.raises(Unauthorized) as e:
        tokens.refresh(svc, first.refresh_token)  # the thief (or the victim) replays
    assert e.value.name == "REFRESH_TOKEN_REUSED"
    with pytest.raises(RefreshTokenExpired):
        tokens.refresh(svc, second.refresh_token)  # the live member of the family is dead too
    for token in (first.token, second.token):  # and so are the access tokens issued with it
        with pytest.raises(Unauthorized):
            tokens.verify_access_token(svc, token)
    tokens.refresh(svc, other_session.refresh_token)  # another login's family is unaffected
    tokens.verify_access_token(svc, other_session.token)


def test_refresh_token_expiry(svc, clock):
    pair = tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD)
    clock.advance(svc.config.tokens.refresh_ttl_seconds)
    with pytest.raises(RefreshTokenExpired) as e:
        tokens.refresh(svc, pair.refresh_token)
    assert e.value.code == "RefreshTokenExpired"


def test_refresh_rejects_unknown_and_missing(svc):
    with pytest.raises(Unauthorized):
        tokens.refresh(svc, "made-up-token")
    with pytest.raises(MissingParameter):
        tokens.refresh(svc, "")


def test_logout_revokes_the_family(svc):
    pair = tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD)
    assert tokens.logout(svc, pair.refresh_token) == 1
    with pytest.raises(RefreshTokenExpired):
        tokens.refresh(svc, pair.refresh_token)
    with pytest.raises(Unauthorized):
        tokens.verify_access_token(svc, pair.token)
    assert tokens.logout(svc, "unknown") == 0 and tokens.logout(svc, None) == 0


def test_refresh_can_move_to_another_database(svc, root):
    a = databases.create_database(svc, root, name="a")
    b = databases.create_database(svc, root, name="b")
    pair = tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD, database="a")
    moved = tokens.refresh(svc, pair.refresh_token, database=b.id)
    assert moved.database_id == b.id
    kept = tokens.refresh(svc, moved.refresh_token)
    assert kept.database_id == b.id
    with pytest.raises(ResourceNotFound):
        tokens.refresh(svc, kept.refresh_token, database="missing")
    assert a.id != b.id


def test_deleting_a_database_revokes_its_tokens(svc, root):
    db = databases.create_database(svc, root, name="doomed")
    keep = databases.create_database(svc, root, name="kept")
    scoped = tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD, database=db.id)
    other = tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD, database=keep.id)
    unscoped = tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD)
    robot = accounts.create_account(svc, root, kind="service", name="bot", role="backend")
    key = tokens.create_api_key(svc, root, account_id=robot.id, database=db.id).key
    tokens.authenticate_api_key(svc, key)
    databases.delete_database(svc, root, db.id)  # DELETING already revokes, before the files go
    with pytest.raises(RefreshTokenExpired) as e:
        tokens.refresh(svc, scoped.refresh_token)
    assert e.value.name == "REFRESH_TOKEN_REVOKED"
    # The access token names a database that is gone: NotFound, as Crossing Minds answers
    # (reference/xminds-client.md §11: "afterwards the old token -> 404 code 60").
    with pytest.raises(ResourceNotFound) as nf:
        tokens.verify_access_token(svc, scoped.token)
    assert nf.value.name == "DB_NOT_FOUND"
    with pytest.raises(Unauthorized):
        tokens.authenticate_api_key(svc, key)
    tokens.refresh(svc, other.refresh_token)
    tokens.refresh(svc, unscoped.refresh_token)


# -- API keys ----------------------------------------------------------------------------

def test_api_keys_for_service_accounts(svc, root):
    robot = accounts.create_account(svc, root, kind="service", name="ingest-bot", role="backend")
    created = tokens.create_api_key(svc, root, account_id=robot.id, label="ci")
    key = created.key
    assert key.startswith("rbk_") and created.api_key.label == "ci"
    assert key not in json.dumps([dict(r) for r in svc.store.all("SELECT * FROM api_keys")])  # hashed at rest
    p = tokens.authenticate_api_key(svc, key)
    assert (p.account_id, p.role, p.via, p.token_id) == (robot.id, "backend", "api_key", created.api_key.id)
    assert tokens.authenticate(svc, api_key=key).account_id == robot.id
    listed = tokens.list_api_keys(svc, root).resources
    assert [k.id for k in listed] == [created.api_key.id]
    assert "key" not in listed[0].to_dict() and listed[0].to_dict()["revoked"] is False
    # a service login takes the key as its password (CM /v1/login/service/)
    assert login(svc, key, name="ingest-bot").account_id == robot.id
    revoked = tokens.revoke_api_key(svc, root, created.api_key.id)
    assert revoked.revoked_at is not None
    with pytest.raises(Unauthorized):
        tokens.authenticate_api_key(svc, key)
    with pytest.raises(Unauthorized):
        tokens.login(svc, name="ingest-bot", password=key)


def test_api_key_rejections(svc, root, clock):
    robot = accounts.create_account(svc, root, kind="service", name="bot", role="frontend")
    key = tokens.create_api_key(svc, root, account_id=robot.id, expires_in_seconds=60).key
    prefix, ident, secret = key.split("_", 2)
    for bad in (f"{prefix}_{ident}_{secret}x", f"xyz_{ident}_{secret}", f"{prefix}_nothex_{secret}", "junk", ""):
        with pytest.raises((Unauthorized, MissingAuthenticationToken)):
            tokens.authenticate_api_key(svc, bad)
    tokens.authenticate_api_key(svc, key)
    clock.advance(60)
    with pytest.raises(Unauthorized):
        tokens.authenticate_api_key(svc, key)


def test_api_key_creation_errors(svc, root):
    human = accounts.create_account(svc, root, email="h@x.io", role="backend")
    with pytest.raises(InvalidParameter) as e:
        tokens.create_api_key(svc, root, account_id=human.id)
    assert e.value.name == "NOT_A_SERVICE_ACCOUNT"
    with pytest.raises(ResourceNotFound):
        tokens.create_api_key(svc, root, account_id="00000000-0000-4000-8000-000000000000")
    robot = accounts.create_account(svc, root, kind="service", name="bot", role="backend")
    with pytest.raises(RelatedResourceNotFound):
        tokens.create_api_key(svc, root, account_id=robot.id, database="missing")
    with pytest.raises(InvalidParameter):
        tokens.create_api_key(svc, root, account_id=robot.id, expires_in_seconds=0)
    other = other_org(svc)
    with pytest.raises(ResourceNotFound):  # another org's account is not found
        tokens.create_api_key(svc, other.root, account_id=robot.id)
    key = tokens.create_api_key(svc, root, account_id=robot.id).api_key
    with pytest.raises(ResourceNotFound):
        tokens.revoke_api_key(svc, other.root, key.id)
    assert tokens.list_api_keys(svc, other.root).resources == []


def test_api_key_of_a_deactivated_account_stops_working(svc, root):
    robot = accounts.create_account(svc, root, kind="service", name="bot", role="backend")
    key = tokens.create_api_key(svc, root, account_id=robot.id).key
    accounts.update_account(svc, root, robot.id, status="Deactivated")
    with pytest.raises(Unauthorized):
        tokens.authenticate_api_key(svc, key)


def test_database_scoped_api_key(svc, root):
    db = databases.create_database(svc, root, name="scoped")
    databases.create_database(svc, root, name="elsewhere")
    robot = accounts.create_account(svc, root, kind="service", name="bot", role="backend")
    key = tokens.create_api_key(svc, root, account_id=robot.id, database="scoped").key
    assert tokens.authenticate_api_key(svc, key).database_id == db.id
    # as a service login's password, the key cannot shed or change its scope
    assert tokens.login(svc, name="bot", password=key).database_id == db.id
    assert tokens.login(svc, name="bot", password=key, database="scoped").database_id == db.id
    with pytest.raises(ResourceNotFound):
        tokens.login(svc, name="bot", password=key, database="elsewhere")
    pair = tokens.login(svc, name="bot", password=key)
    with pytest.raises(ResourceNotFound):
        tokens.refresh(svc, pair.refresh_token, database="elsewhere")  # nor by refreshing
    assert tokens.refresh(svc, pair.refresh_token, database="scoped").database_id == db.id


def test_authenticate_prefers_the_bearer(svc, root):
    pair = tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD)
    assert tokens.authenticate(svc, bearer=pair.token, api_key="junk").account_id == root.account_id


def test_member_helper_logs_in_every_role(svc, root):
    for role in ("manager", "backend", "frontend"):
        assert member(svc, root, role).role == role


def test_revoking_an_api_key_ends_the_sessions_logged_in_with_it(svc, root):
    """Issue 14 #6: a session from a service login with an API key used to outlive the
    key's revocation (its access token kept working, its refresh token kept rotating)."""
    robot = accounts.create_account(svc, root, kind="service", name="etl-bot", role="backend")
    created = tokens.create_api_key(svc, root, account_id=robot.id)
    other_key = tokens.create_api_key(svc, root, account_id=robot.id).key
    pair = tokens.login(svc, password=created.key, name="etl-bot")
    rotated = tokens.refresh(svc, pair.refresh_token)   # a rotated session is still the key's
    by_other = tokens.login(svc, password=other_key, name="etl-bot")
    assert tokens.verify_access_token(svc, rotated.token).account_id == robot.id
    tokens.revoke_api_key(svc, root, created.api_key.id)
    with pytest.raises(Unauthorized):
        tokens.verify_access_token(svc, rotated.token)
    with pytest.raises(RefreshTokenExpired):
        tokens.refresh(svc, rotated.refresh_token)
    # a session of another key of the same account is untouched
    assert tokens.verify_access_token(svc, by_other.token).account_id == robot.id
    assert tokens.refresh(svc, by_other.refresh_token).account_id == robot.id


def test_an_expired_api_key_ends_its_sessions_refresh(svc, root, clock):
    robot = accounts.create_account(svc, root, kind="service", name="short-bot", role="backend")
    key = tokens.create_api_key(svc, root, account_id=robot.id, expires_in_seconds=60).key
    pair = tokens.login(svc, password=key, name="short-bot")
    clock.advance(61)
    with pytest.raises(RefreshTokenExpired):
        tokens.refresh(svc, pair.refresh_token)
