"""Issue 14 #7 and #14: credential guessing is throttled, and argon2 never takes the query
workers.

- Failed logins for one account: after `login_free_failures` each attempt waits 1 s, 2 s,
  4 s … (429 LOGIN_THROTTLED with Retry-After), the right password included; a success
  after the wait clears the record. Per client address the same after
  `login_free_failures_per_address` failures over any accounts.
- 300 requests with `Bearer not-a-jwt` used to answer 401 every time: after the
  address's `auth_failure_burst` they answer 429 AUTH_FAILURES_LIMITED, while valid
  tokens from that address and anything from another address keep working.
- Password checks run on the auth threads: with every auth thread busy (held by an
  event, not by timing), a query still runs.
Time is a fake clock moved by the test.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from http_testlib import ROOT_EMAIL, ROOT_PASSWORD, AsgiClient, InProcess, assert_envelope, bearer
from server.service import tokens


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def web(tmp_path):
    app = InProcess(tmp_path / "data", auth_failure_burst=20, auth_failure_rate=1.0, login_free_failures=3,
                    login_free_failures_per_address=8, auth_workers=1)
    clock = FakeClock()
    for limiter in (app.rt.logins, app.rt.address_logins, app.rt.auth_failures):
        limiter._clock = clock
    app.clock = clock
    yield app
    app.close()


def _login(web, email: str, password: str, client=None) -> httpx.Response:
    return (client or web.client).post("/v2/auth/token", json={"email": email, "password": password})


def test_failed_logins_for_one_account_back_off(web):
    for _ in range(3):
        assert_envelope(_login(web, ROOT_EMAIL, "wrong-password"), 401, "Unauthorized")
    assert_envelope(_login(web, ROOT_EMAIL, "wrong-password"), 401, "Unauthorized")  # 4th: starts the backoff
    resp = _login(web, ROOT_EMAIL, ROOT_PASSWORD)       # even the right password waits
    assert_envelope(resp, 429, "RequestLimitExceeded", "LOGIN_THROTTLED")
    assert resp.headers["retry-after"] == "1"
    web.clock.now += 1
    assert_envelope(_login(web, ROOT_EMAIL, "wrong-password"), 401, "Unauthorized")
    resp = _login(web, ROOT_EMAIL.upper(), ROOT_PASSWORD)   # the account key ignores case
    assert_envelope(resp, 429, "RequestLimitExceeded", "LOGIN_THROTTLED")
    assert resp.headers["retry-after"] == "2"                # doubled
    web.clock.now += 2
    assert _login(web, ROOT_EMAIL, ROOT_PASSWORD).status_code == 200
    for _ in range(3):   # the success cleared the record: three free failures again
        assert_envelope(_login(web, ROOT_EMAIL, "wrong-password"), 401, "Unauthorized")


def test_failed_logins_from_one_address_back_off_across_accounts(web):
    for i in range(8):
        assert_envelope(_login(web, f"nobody{i}@example.com", "whatever-pw"), 401, "Unauthorized")
    assert_envelope(_login(web, "nobody9@example.com", "whatever-pw"), 401, "Unauthorized")
    assert_envelope(_login(web, ROOT_EMAIL, ROOT_PASSWORD), 429, "RequestLimitExceeded", "LOGIN_THROTTLED")
    other = AsgiClient(web.app, client=("127.0.0.2", 40000))
    try:   # another address is not affected
        assert _login(web, ROOT_EMAIL, ROOT_PASSWORD, other).status_code == 200
    finally:
        other.close()
    web.clock.now += 1
    assert _login(web, ROOT_EMAIL, ROOT_PASSWORD).status_code == 200


def test_invalid_tokens_are_charged_to_the_address(web):
    statuses = [web.client.get("/v2/users/current", headers=bearer("not-a-jwt")).status_code for _ in range(300)]
    assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}, statuses
    resp = web.client.get("/v2/users/current", headers=bearer("not-a-jwt"))
    assert_envelope(resp, 429, "RequestLimitExceeded", "AUTH_FAILURES_LIMITED")
    assert int(resp.headers["retry-after"]) >= 1
    # valid credentials from the same address still work; so do bad ones from elsewhere
    assert web.client.get("/v2/users/current", headers=web.root.headers).status_code == 200
    other = AsgiClient(web.app, client=("127.0.0.3", 40000))
    try:
        assert other.get("/v2/users/current", headers=bearer("not-a-jwt")).status_code == 401
    finally:
        other.close()
    web.clock.now += 1   # one failure's worth back per second
    assert web.client.get("/v2/users/current", headers=bearer("not-a-jwt")).status_code == 401
    assert web.client.get("/v2/users/current", headers=bearer("not-a-jwt")).status_code == 429


def test_password_checks_do_not_take_the_query_workers(web, monkeypatch):
    release, entered = threading.Event(), threading.Event()
    real_login = tokens.login

    def held_login(*args, **kwargs):
        entered.set()
        assert release.wait(30)
        return real_login(*args, **kwargs)

    monkeypatch.setattr(tokens, "login", held_login)
    db = web.database()
    with ThreadPoolExecutor(4) as pool:
        logins = [pool.submit(_login, web, ROOT_EMAIL, ROOT_PASSWORD) for _ in range(4)]
        assert entered.wait(30)
        # the one auth thread is held and three logins queue behind it; queries still run
        for _ in range(5):
            assert web.sql(db["id"], "SELECT 1").status_code == 200
        assert not any(f.done() for f in logins)
        release.set()
        assert [f.result(30).status_code for f in logins] == [200] * 4
