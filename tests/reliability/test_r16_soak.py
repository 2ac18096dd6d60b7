"""R16 (RELIABILITY.md §4): a bounded soak — inserts, queries, logins and list calls in a
loop against a real server; RSS, descriptors, threads and WAL bytes are sampled each
second and must level off: the second half's maximum stays within a margin of the first
half's. Quick: 20 s; `-m slow`: 10 minutes. One summary line `R16: …`."""
from __future__ import annotations

import time

import httpx
import pytest

import server_rel as sr
from rel_common import report


def _soak(tmp_path, seconds: float) -> None:
    data = tmp_path / "data"
    srv = sr.serverlib.start_server(data)
    samples: list[tuple[float, int, int, int]] = []
    ops = 0
    try:
        pid = srv.proc.pid
        with httpx.Client(timeout=60) as http:
            headers = sr.login(http, srv)
            ident = sr.database(http, srv, headers, "soak", "CREATE TABLE t (_id ID, n INT, s STRING)")
            start = last = time.monotonic()
            key = 0
            while time.monotonic() - start < seconds:
                values = ", ".join(f"({key + i}, {i % 97}, 's{i % 13}')" for i in range(200))
                key += 200
                assert sr.sql(http, srv, headers, ident, f"INSERT INTO t (_id, n, s) VALUES {values}"
                              ).status_code == 200
                assert sr.sql(http, srv, headers, ident, "SELECT s, COUNT(*) FROM t GROUP BY s").status_code == 200
                assert http.get(srv.http_url("/v2/databases"), headers=headers).status_code == 200
                if ops % 20 == 0:
                    headers = sr.login(http, srv)
                ops += 3
                if time.monotonic() - last >= 1.0:
                    last = time.monotonic()
                    samples.append((sr.rss_mib(pid), sr.fds(pid), sr.threads(pid), sr.wal_bytes(data)))
    finally:
        code = sr.stop(srv)
    half = len(samples) // 2
    first, second = samples[:half], samples[half:]
    peak = [max(s[i] for s in first) for i in range(4)], [max(s[i] for s in second) for i in range(4)]
    minutes = max(1e-9, (len(samples) - 1) / 60)
    slope = (samples[-1][0] - samples[0][0]) / minutes if len(samples) > 1 else 0.0
    line = report("R16", seconds=seconds, ops=ops, samples=len(samples), rss_mib_first=round(peak[0][0], 1),
                  rss_mib_second=round(peak[1][0], 1), rss_slope_mib_per_min=round(slope, 1),
                  fds_max=max(s[1] for s in samples), threads_max=max(s[2] for s in samples),
                  wal_max_bytes=max(s[3] for s in samples))
    assert code == 0
    assert len(samples) >= 4, line
    assert peak[1][1] <= peak[0][1] + 8, line          # descriptors level off
    assert peak[1][2] <= peak[0][2] + 4, line          # threads level off
    assert peak[1][0] <= peak[0][0] * 1.5 + 64, line   # RSS levels off
    assert peak[1][3] <= max(peak[0][3] * 2, 64 << 20), line   # WAL bounded by checkpoints


def test_r16_soak_quick(tmp_path):
    _soak(tmp_path, 20.0)


@pytest.mark.slow
@pytest.mark.timeout(900)       # the soak itself is the suite's 600 s per-test limit
def test_r16_soak_full(tmp_path):
    _soak(tmp_path, 600.0)
