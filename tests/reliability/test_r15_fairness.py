"""R15 (RELIABILITY.md §4): org A bursts far past its rate limit while org B runs at half
of its own. Asserted: A is refused with 429 RequestLimitExceeded (Retry-After), B never
is. Reported, never asserted: A's accepted rate against the limit, B's p99 solo and while
A bursts. Quick: 3 s; `-m slow` runs the full 10 s."""
from __future__ import annotations

import threading
import time

import httpx
import pytest

import server_rel as sr
from rel_common import pct, report

RATE = 40           # requests per second per org
B_RATE = RATE / 2


def _b_run(http, srv, headers, ident, seconds, latencies, statuses):
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < seconds:
        t0 = time.perf_counter()
        resp = sr.sql(http, srv, headers, ident, "SELECT COUNT(*) FROM t")
        latencies.append((time.perf_counter() - t0) * 1000)
        statuses.append(resp.status_code)
        n += 1
        pause = start + n / B_RATE - time.monotonic()   # paced at half B's limit
        if pause > 0:
            time.sleep(pause)


def _r15(tmp_path, seconds: float):
    from grpc_testlib import OTHER_EMAIL, prepare_other_org

    data = tmp_path / "data"
    prepare_other_org(data)
    srv = sr.serverlib.start_server(data, settings={"rate_per_org": RATE, "rate_burst": RATE})
    try:
        with httpx.Client(timeout=60) as a_http, httpx.Client(timeout=60) as b_http:
            a = sr.login(a_http, srv)
            b = sr.login(b_http, srv, OTHER_EMAIL, sr.ROOT_PASSWORD)
            a_db = sr.database(a_http, srv, a, "a", "CREATE TABLE t (_id ID, n INT)")
            b_db = sr.database(b_http, srv, b, "b", "CREATE TABLE t (_id ID, n INT)")
            time.sleep(2)   # both buckets full again after the setup calls
            solo: list[float] = []
            solo_status: list[int] = []
            _b_run(b_http, srv, b, b_db, seconds / 2, solo, solo_status)
            stop = threading.Event()
            a_status: list[int] = []
            retry_after: set[str] = set()

            def burst():
                with httpx.Client(timeout=60) as h:
                    while not stop.is_set():
                        resp = sr.sql(h, srv, a, a_db, "SELECT COUNT(*) FROM t")
                        a_status.append(resp.status_code)
                        if resp.status_code == 429:
                            retry_after.add(resp.headers.get("retry-after", ""))
            burst_threads = [threading.Thread(target=burst) for _ in range(4)]
            started = time.monotonic()
            for t in burst_threads:
                t.start()
            contended: list[float] = []
            b_status: list[int] = []
            _b_run(b_http, srv, b, b_db, seconds, contended, b_status)
            stop.set()
            for t in burst_threads:
                t.join(60)
            elapsed = time.monotonic() - started
    finally:
        code = sr.stop(srv)
    a_ok = a_status.count(200)
    line = report("R15", a_sent=len(a_status), a_accepted_rate=round(a_ok / elapsed, 1), limit=RATE,
                  a_429=a_status.count(429), b_sent=len(b_status) + len(solo_status),
                  b_429=b_status.count(429) + solo_status.count(429),
                  b_p99_solo_ms=round(pct(solo, 99), 1), b_p99_contended_ms=round(pct(contended, 99), 1))
    assert code == 0
    assert a_status.count(429) > 0 and "" not in retry_after, line
    assert b_status.count(429) == 0 and solo_status.count(429) == 0, line
    assert set(b_status) | set(solo_status) == {200}, line


def test_r15_fairness_quick(tmp_path):
    _r15(tmp_path, 3.0)


@pytest.mark.slow
def test_r15_fairness_full(tmp_path):
    _r15(tmp_path, 10.0)
