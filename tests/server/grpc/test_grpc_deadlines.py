"""R12 over gRPC: client deadlines and cancellation stop the server's work.

The server sleeps `SHARD_DELAY` per shard (launch_server's shard_delay hook), the `big`
table spans SHARDS shards (a full query: ~3 s), and the server has ONE worker thread. Work
a cancelled query left running would hold that worker, so any later request waits behind
it: "the server stopped" is seen as a small probe query answering quickly right after the
deadline or cancel. The control test shows the probe does wait behind live work; the bounds
are far from the 3 s a leftover costs, so a noisy machine does not make them flaky.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import grpc
import pytest

from grpc_testlib import Client, expect, md, serving
from server.pb.roarbase.v1 import database_pb2, query_pb2

SC = grpc.StatusCode
SHARD_DELAY = 0.05
SHARDS = 60
DEADLINE = 0.1
# A leftover full query holds the worker ~3 s; after a clean stop a probe takes ~0.1 s.
PROBE_BOUND = 1.5


@dataclass
class Slow:
    c: Client
    db: str
    pid: int


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slow]:
    with serving(tmp_path_factory.mktemp("grpc-r12"), shard_delay=SHARD_DELAY,
                 settings={"workers": 1}) as c:
        db = c.databases.CreateDatabase(database_pb2.CreateDatabaseRequest(name="slow"), metadata=md(c.root)).id
        c.sql(c.root, db, "CREATE TABLE big (_id ID, v INT)")
        c.sql(c.root, db, "INSERT INTO big (_id, v) VALUES " + ", ".join(f"({k << 20}, {k})" for k in range(SHARDS)))
        c.sql(c.root, db, "CREATE TABLE probe (_id ID, v INT)")
        c.sql(c.root, db, f"INSERT INTO probe (_id, v) VALUES (1, 1), ({1 << 20}, 2)")
        yield Slow(c, db, c.srv.proc.pid)


def _probe(s: Slow) -> float:
    """Seconds a small query takes (it needs the one worker)."""
    started = time.perf_counter()
    assert s.c.pql(s.c.root, s.db, "probe", "Count(All())")[0].count == 2
    return time.perf_counter() - started


def _threads_and_fds(pid: int) -> tuple[int, int]:
    return len(os.listdir(f"/proc/{pid}/task")), len(os.listdir(f"/proc/{pid}/fd"))


def _settled(pid: int, baseline: tuple[int, int], seconds: float = 10.0) -> tuple[int, int]:
    """Thread and fd counts once they are back at (or under) the baseline, or after `seconds`."""
    stop = time.monotonic() + seconds
    while True:
        now = _threads_and_fds(pid)
        if (now[0] <= baseline[0] and now[1] <= baseline[1]) or time.monotonic() > stop:
            return now
        time.sleep(0.05)


def _slow_calls(s: Slow) -> dict[str, Callable[..., Any]]:
    q = s.c.queries
    return {
        "Pql": lambda **kw: q.Pql(query_pb2.PqlRequest(database_id=s.db, table="big", statement="Count(All())"), **kw),
        "PqlStream": lambda **kw: list(q.PqlStream(query_pb2.PqlRequest(
            database_id=s.db, table="big", statement="Count(All())"), **kw)),
        "Sql": lambda **kw: list(q.Sql(query_pb2.SqlRequest(database_id=s.db, sql="SELECT count(*) FROM big"), **kw)),
    }


def test_control_a_running_query_delays_the_probe(slow: Slow) -> None:
    """Without a deadline the slow query runs to the end, and a probe sent meanwhile waits."""
    with ThreadPoolExecutor(1) as pool:
        started = time.perf_counter()
        full = pool.submit(slow.c.pql, slow.c.root, slow.db, "big", "Count(All())")
        time.sleep(0.2)
        waited = _probe(slow)
        assert full.result()[0].count == SHARDS
        total = time.perf_counter() - started
    print(f"R12 grpc: full_query_s={total:.2f} probe_behind_it_s={waited:.2f}")
    assert waited > PROBE_BOUND


def test_deadline_exceeded_and_the_server_stops(slow: Slow) -> None:
    # Warm both pools so the thread baseline includes them.
    _probe(slow)
    baseline = _threads_and_fds(slow.pid)
    overshoots, probes = [], []
    for name, call in _slow_calls(slow).items():
        for _ in range(2):
            started = time.perf_counter()
            f = expect(call, metadata=md(slow.c.root), timeout=DEADLINE, status=SC.DEADLINE_EXCEEDED,
                       code="RequestTimeout")
            overshoots.append(time.perf_counter() - started - DEADLINE)
            probes.append(_probe(slow))
            assert f.details, name
    after = _settled(slow.pid, baseline)
    print(f"R12 grpc: deadline={DEADLINE * 1000:.0f}ms overshoot_max_ms={max(overshoots) * 1000:.1f} "
          f"probe_after_deadline_max_ms={max(probes) * 1000:.0f} threads={baseline[0]}->{after[0]} "
          f"fds={baseline[1]}->{after[1]}")
    assert max(overshoots) < 1.0
    assert max(probes) < PROBE_BOUND
    assert after[0] <= baseline[0] and after[1] <= baseline[1]


def test_cancelled_stream_stops_server_work(slow: Slow) -> None:
    _probe(slow)
    baseline = _threads_and_fds(slow.pid)
    probes = []
    for sql in ("SELECT count(*) FROM big", "SELECT _id, v FROM big"):
        stream = slow.c.queries.Sql(query_pb2.SqlRequest(database_id=slow.db, sql=sql), metadata=md(slow.c.root))
        time.sleep(0.2)  # the query is running on the server now
        stream.cancel()
        with pytest.raises(grpc.RpcError) as info:
            list(stream)
        assert info.value.code() is SC.CANCELLED
        probes.append(_probe(slow))
    after = _settled(slow.pid, baseline)
    print(f"R12 grpc: probe_after_cancel_max_ms={max(probes) * 1000:.0f} threads={baseline[0]}->{after[0]} "
          f"fds={baseline[1]}->{after[1]}")
    assert max(probes) < PROBE_BOUND
    assert after[0] <= baseline[0] and after[1] <= baseline[1]
    # Still serving, and the data is intact.
    assert slow.c.pql(slow.c.root, slow.db, "probe", "Count(All())")[0].count == 2


def test_expired_server_side_deadline_is_request_timeout(slow: Slow) -> None:
    """A deadline that passes while the request waits for its principal still answers in
    the unified table's terms (DEADLINE_EXCEEDED, RequestTimeout), and later calls work."""
    expect(_slow_calls(slow)["Pql"], metadata=md(slow.c.root), timeout=0.001, status=SC.DEADLINE_EXCEEDED,
           code="RequestTimeout")
    assert _probe(slow) < PROBE_BOUND


def test_streams_cancelled_after_their_first_answer_leave_the_server_up(tmp_path) -> None:
    """R9-proto found the server dead of SIGSEGV: the access log read the call's peer
    address after the client had cancelled, when grpc core may have freed it. Each server
    (two, as the crash came in ~3 of 4 processes before the fix) sees 500 watches cancelled
    after their first answer, each followed by a unary call, and must answer them all."""
    for k in range(2):
        with serving(tmp_path / f"s{k}") as c:
            root = md(c.root)
            db = c.databases.CreateDatabase(database_pb2.CreateDatabaseRequest(name="watched"), metadata=root).id
            for _ in range(500):
                stream = c.databases.WatchDatabase(database_pb2.WatchDatabaseRequest(id=db), metadata=root,
                                                   timeout=30)
                assert next(stream).id == db
                stream.cancel()
                c.databases.ListDatabases(database_pb2.ListDatabasesRequest(), metadata=root, timeout=30)
            assert c.srv.proc.poll() is None
