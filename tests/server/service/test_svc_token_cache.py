"""auth's verified-token cache: a token verified once is served from memory until meta.db
changes, so every revocation, deactivation, role change or database deletion still takes
effect on the very next call, and expiry is checked on every hit."""
import pytest

from server.service import accounts, databases, roles, tokens
from server.service.errors import ResourceNotFound, TokenExpired, Unauthorized
from svc_testlib import MEMBER_PASSWORD, ROOT_EMAIL, ROOT_PASSWORD


def _warm(svc, token):
    first = tokens.verify_access_token(svc, token)
    assert tokens.cached_principal(svc, token) == first  # served from the cache now
    return first


def test_a_cached_token_is_the_same_principal_without_io(svc):
    pair = tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD)
    assert tokens.cached_principal(svc, pair.token) is None  # never verified yet
    p = _warm(svc, pair.token)
    assert tokens.verify_access_token(svc, pair.token) is p
    assert tokens.cached_principal(svc, None) is None and tokens.cached_principal(svc, "junk") is None


def test_logout_after_caching_refuses_at_once(svc):
    pair = tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD)
    _warm(svc, pair.token)
    tokens.logout(svc, pair.refresh_token)
    assert tokens.cached_principal(svc, pair.token) is None
    with pytest.raises(Unauthorized):
        tokens.verify_access_token(svc, pair.token)


def test_deactivation_after_caching_refuses_at_once(svc, root):
    acc = accounts.create_account(svc, root, email="b@x.io", role="backend", password=MEMBER_PASSWORD)
    token = tokens.login(svc, email="b@x.io", password=MEMBER_PASSWORD).token
    _warm(svc, token)
    accounts.update_account(svc, root, acc.id, status="Deactivated")
    with pytest.raises(Unauthorized):
        tokens.verify_access_token(svc, token)


def test_new_grants_after_caching_show_at_once(svc, root):
    acc = accounts.create_account(svc, root, email="b@x.io", role="backend", password=MEMBER_PASSWORD)
    token = tokens.login(svc, email="b@x.io", password=MEMBER_PASSWORD).token
    assert "users:read" not in _warm(svc, token).acl
    roles.create_role(svc, root, "readers", ["users:read"])
    accounts.add_account_roles(svc, root, acc.id, ["readers"])
    assert "users:read" in tokens.verify_access_token(svc, token).acl


def test_deleting_the_database_after_caching_refuses_its_tokens(svc, root):
    db = databases.create_database(svc, root, name="doomed")
    token = tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD, database=db.id).token
    _warm(svc, token)
    databases.delete_database(svc, root, db.id)
    with pytest.raises(ResourceNotFound):         # the token's database is gone
        tokens.verify_access_token(svc, token)


def test_expiry_is_checked_on_every_hit(svc, clock):
    pair = tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD)
    _warm(svc, pair.token)
    clock.advance(svc.config.tokens.access_ttl_seconds + svc.config.tokens.leeway_seconds + 1)
    with pytest.raises(TokenExpired):
        tokens.cached_principal(svc, pair.token)
    with pytest.raises(TokenExpired):
        tokens.verify_access_token(svc, pair.token)


def test_the_cache_is_bounded(svc, monkeypatch):
    monkeypatch.setattr(tokens, "TOKEN_CACHE_SIZE", 3)
    issued = [tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD).token for _ in range(5)]
    gen = svc.store.generation
    for t in issued:
        tokens.verify_access_token(svc, t)
    assert svc.store.generation == gen  # verifying reads only
    assert len(svc.token_cache) <= 3
    for t in issued:  # evicted ones verify again, correctly
        assert tokens.verify_access_token(svc, t).role == "root"
