"""R11 (RELIABILITY.md §4): a Jepsen-style history against a real server.

Four clients write and read a register per key — record k of table t holds row f=1 or
not — through the PQL route: `Set(k, f=1)`, `Clear(k, f=1)` and a read of the whole row
(`Row(f=1)`: every register at once). Each operation is recorded as invoke and then ok
(the server answered 200), fail (it surely did not run: the connection was refused or the
server answered an error) or info (unknown: a timeout or a cut connection). A nemesis
alternates SIGSTOP/SIGCONT pauses with SIGKILL and a restart on the same data directory
(the clients follow the server to its new port). At the end the server is restarted once
more and every register read.

Checker (per key, sound: it never reports a linearizable history): a read that saw value
v is an anomaly when every write of v (set = 1, clear = 0, the initial state = 0) that
could precede it is overwritten by an acknowledged write of the other value that began
after that write's completion and completed before the read began. Info writes may take
effect at any time after their invocation (they never complete). The final read is a read
that begins after everything. So: an acknowledged write is never lost (nor undone by an
older one), and nothing appears that nobody wrote.

Quick: 8 s in the default suite; `-m slow` runs the full 60 s.
"""
from __future__ import annotations

import json
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

import httpx
import pytest

import server_rel as sr
from rel_common import report, seed_for

pytestmark = pytest.mark.reliability

KEYS = 16
CLIENTS = 4
INF = float("inf")


@dataclass
class Op:
    kind: str                      # set | clear | read
    key: int                       # -1 for reads
    invoke: float
    complete: float = INF
    status: str = "info"           # ok | fail | info
    seen: Optional[frozenset[int]] = None
    error: int = 0                 # the HTTP status of a refused operation


@dataclass
class Cluster:
    """The server the clients talk to right now (the nemesis replaces it)."""

    data_dir: object
    srv: sr.serverlib.ServerProcess
    headers: dict[str, str]
    db: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    restarts: int = 0
    pauses: int = 0

    def url(self) -> str:
        with self.lock:
            return self.srv.http_url(f"/v2/databases/{self.db}/query/pql")


def _pql(http: httpx.Client, cluster: Cluster, statement: str) -> httpx.Response:
    return http.post(cluster.url(), headers=cluster.headers, json={"table": "t", "statement": statement})


def _client(cluster: Cluster, rng: random.Random, stop: threading.Event, history: list[Op],
            hlock: threading.Lock) -> None:
    with httpx.Client(timeout=1.5) as http:
        while not stop.is_set():
            r = rng.random()
            kind = "set" if r < 0.4 else "clear" if r < 0.7 else "read"
            key = rng.randrange(KEYS) if kind != "read" else -1
            stmt = {"set": f"Set({key}, f=1)", "clear": f"Clear({key}, f=1)", "read": "Row(f=1)"}[kind]
            op = Op(kind, key, time.monotonic())
            try:
                resp = _pql(http, cluster, stmt)
            except httpx.ConnectError:
                op.status, op.complete = "fail", time.monotonic()   # never reached a server
                time.sleep(0.05)                                    # (restarting: don't spin)
            except httpx.HTTPError:
                op.status = "info"                                  # may or may not have run
            else:
                op.complete = time.monotonic()
                if resp.status_code == 200:
                    op.status = "ok"
                    if kind == "read":
                        op.seen = frozenset(resp.json()["results"][0]["columns"])
                else:
                    op.status = "fail"                              # the server refused it
                    op.error = resp.status_code
                    time.sleep(0.05)
            with hlock:
                history.append(op)


def _nemesis(cluster: Cluster, rng: random.Random, stop: threading.Event) -> None:
    n = 0
    while not stop.wait(rng.uniform(0.8, 1.6)):
        n += 1
        if n % 2:
            cluster.srv.proc.send_signal(signal.SIGSTOP)
            time.sleep(rng.uniform(0.3, 1.0))
            cluster.srv.proc.send_signal(signal.SIGCONT)
            cluster.pauses += 1
        else:
            old = cluster.srv
            old.proc.send_signal(signal.SIGKILL)
            old.proc.wait()
            sr.stop(old)
            new = sr.serverlib.start_server(cluster.data_dir)
            with cluster.lock:
                cluster.srv = new
            cluster.restarts += 1


def check(history: list[Op]) -> list[str]:
    """The anomalies of a history (see the module docstring)."""
    writes: dict[int, list[Op]] = {k: [Op("clear", k, -INF, -INF, "ok")] for k in range(KEYS)}  # initial 0
    for op in history:
        if op.kind != "read" and op.status in ("ok", "info"):
            writes[op.key].append(op)
    anomalies = []
    for r in history:
        if r.kind != "read" or r.status != "ok":
            continue
        assert r.seen is not None
        for k in range(KEYS):
            value = "set" if k in r.seen else "clear"
            candidates = [w for w in writes[k] if w.kind == value and w.invoke < r.complete]
            # A candidate is overwritten when an acknowledged write of the other value began
            # after it completed and completed before the read began: when the latest such
            # beginning is after the candidate's completion (linear, not quadratic, per key).
            latest = max((w2.invoke for w2 in writes[k]
                          if w2.kind != value and w2.status == "ok" and w2.complete < r.invoke), default=-INF)
            if all(latest > w.complete for w in candidates):
                anomalies.append(f"key {k} read {value} in [{r.invoke:.3f}, {r.complete:.3f}] "
                                 f"({len(candidates)} candidate writes, all overwritten)")
    return anomalies


def _r11(tmp_path, seconds: float) -> None:
    seed = seed_for("r11")
    rng = random.Random(seed)
    data = tmp_path / "data"
    srv = sr.serverlib.start_server(data)
    with httpx.Client(timeout=30) as http:
        headers = sr.login(http, srv)
        db = sr.database(http, srv, headers, "jepsen", "CREATE TABLE t (_id ID, f IDSET)")
    cluster = Cluster(data, srv, headers, db)
    history: list[Op] = []
    hlock = threading.Lock()
    stop = threading.Event()
    clients = [threading.Thread(target=_client, args=(cluster, random.Random(rng.random()), stop, history, hlock))
               for _ in range(CLIENTS)]
    nemesis = threading.Thread(target=_nemesis, args=(cluster, random.Random(rng.random()), stop))
    started = time.monotonic()
    for t in clients:
        t.start()
    nemesis.start()
    try:
        time.sleep(seconds)
    finally:
        stop.set()
        for t in clients:
            t.join(30)
        nemesis.join(60)
    try:
        # quiesce: one more restart (everything acknowledged must survive it), then read
        cluster.srv.proc.send_signal(signal.SIGCONT)
        cluster.srv.proc.send_signal(signal.SIGKILL)
        cluster.srv.proc.wait()
        sr.stop(cluster.srv)
        cluster.srv = sr.serverlib.start_server(data)
        with httpx.Client(timeout=30) as http:
            resp = _pql(http, cluster, "Row(f=1)")
            assert resp.status_code == 200, resp.text
            final = Op("read", -1, time.monotonic(), time.monotonic(), "ok",
                       frozenset(resp.json()["results"][0]["columns"]))
    finally:
        sr.stop(cluster.srv)
    anomalies = check(history + [final])
    counts = {s: sum(1 for o in history if o.status == s) for s in ("ok", "fail", "info")}
    unavailable = sum(o.complete - o.invoke for o in history if o.status == "fail" and o.complete < INF)
    refused = {str(code): sum(1 for o in history if o.error == code) for code in {o.error for o in history if o.error}}
    report("R11", seed=seed, seconds=round(time.monotonic() - started, 1), ops=len(history), **counts,
           restarts=cluster.restarts, pauses=cluster.pauses, anomalies=len(anomalies),
           failed_op_seconds=round(unavailable, 2), refused=refused)
    assert not anomalies, json.dumps(anomalies[:10], indent=1)
    assert counts["ok"] > 0 and cluster.restarts >= 1


def test_r11_history_quick(tmp_path):
    _r11(tmp_path, 8.0)


@pytest.mark.slow
def test_r11_history_full(tmp_path):
    _r11(tmp_path, 60.0)


def test_checker_finds_a_lost_write():
    """The checker is not vacuous: an acknowledged set that a later read misses is flagged,
    an info set seen or unseen is not, and nothing appearing from nowhere is flagged."""
    s = Op("set", 3, 0.0, 1.0, "ok")
    lost = Op("read", -1, 2.0, 3.0, "ok", frozenset())
    assert check([s, lost])
    maybe = Op("set", 4, 0.0, INF, "info")
    assert not check([maybe, Op("read", -1, 2.0, 3.0, "ok", frozenset({4})), Op("read", -1, 4.0, 5.0, "ok",
                                                                             frozenset())])
    assert check([Op("read", -1, 2.0, 3.0, "ok", frozenset({5}))])
    cleared = [Op("set", 6, 0.0, 1.0, "ok"), Op("clear", 6, 2.0, 3.0, "ok"),
               Op("read", -1, 4.0, 5.0, "ok", frozenset({6}))]
    assert check(cleared)
