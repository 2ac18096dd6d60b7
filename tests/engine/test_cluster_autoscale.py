"""Automatic membership (engine/cluster/membership.py): the pure decision over sequences of
polls (hypothesis), and the watcher driving a loopback cluster from a fake node source —
no thread and no sleep decides an outcome: each test calls poll() itself.

A node appearing gets its workers and the shards jump hash gives them, while a reader
thread keeps asking random PQL and every answer equals the embedded database's; a node
gone for `grace` polls in a row loses its workers and their shards reappear on others; a
node missing fewer polls keeps them (the flapping guard); the last worker is never removed.
"""
from __future__ import annotations

import random
import threading

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from cluster_testlib import open_loopback_cluster
from engine.cluster.membership import MembershipWatcher, decide, pinned_name, pinned_node
from engine.errors import LastWorkerError, WorkerExistsError, WorkerNotFoundError, WorkerUnavailableError

SHARD = 1 << 20
NODES = [f"{i:02x}" * 28 for i in (0xa1, 0xb2, 0xc3, 0xd4)]        # 56 hex digits, as Ray's node ids


# --- the decision ----------------------------------------------------------------------------

def _apply(workers, d):
    gone = set(d.removes)
    return [w for w in workers if w not in gone] + [name for name, _ in d.adds]


@settings(max_examples=300, deadline=None)
@given(per_node=st.integers(1, 3), grace=st.integers(1, 4), static=st.integers(0, 2),
       polls=st.lists(st.dictionaries(st.sampled_from(NODES), st.booleans()), min_size=1, max_size=12))
def test_decisions_over_a_sequence_of_polls(per_node, grace, static, polls):
    """Each poll: Ray's report (node → alive; a node may be absent). After applying each
    decision: never no worker, other workers untouched, K workers on every alive node; a
    worker goes only if its node is reported dead now or was not alive for `grace` polls."""
    workers = [f"w{i}" for i in range(static)] or [pinned_name("", NODES[0], 0)]
    missing: dict[str, int] = {}
    history: list[set[str]] = []
    for report in polls:
        alive = {n for n, up in report.items() if up}
        history.append(alive)
        before = workers
        d = decide(report, workers, missing, per_node=per_node, grace=grace)
        workers, missing = _apply(workers, d), d.missing
        assert workers and len(set(workers)) == len(workers)
        assert all(w in workers for w in before if pinned_node("", w) is None)
        for node in alive:
            assert sorted(i for t, i in filter(None, (pinned_node("", w) for w in workers))
                          if t == node[:16]) == list(range(per_node))
        for w in d.removes:
            tag, i = pinned_node("", w)
            if any(n[:16] == tag for n in alive):
                assert i >= per_node                                       # only when K is lowered
            elif report.get(next(n for n in NODES if n[:16] == tag)) is not False:   # absent, not dead
                seen_at = [k for k, h in enumerate(history) if any(n[:16] == tag for n in h)]
                assert len(history) - 1 - (seen_at[-1] if seen_at else -1) >= grace


def test_a_flapping_node_keeps_its_workers():
    w = [pinned_name("", NODES[0], 0), pinned_name("", NODES[1], 0)]
    missing: dict[str, int] = {}
    up0, both = {NODES[0]: True}, {NODES[0]: True, NODES[1]: True}
    for report in (up0, up0, both, up0, up0):                       # absent, never 3 polls in a row
        d = decide(report, w, missing, per_node=1, grace=3)
        assert d.removes == [] and d.adds == []
        missing = d.missing
    d = decide(up0, w, missing, per_node=1, grace=3)                 # the third miss in a row
    assert d.removes == [w[1]] and d.missing == {}
    d = decide({NODES[0]: True, NODES[1]: False}, w, {}, per_node=1, grace=3)   # declared dead: at once
    assert d.removes == [w[1]]


def test_the_last_worker_stays_when_every_node_is_gone():
    w = [pinned_name("p-", NODES[0], 0), pinned_name("p-", NODES[0], 1)]
    d = decide({NODES[0]: False}, w, {}, per_node=2, grace=1, prefix="p-")
    assert d.removes == [w[0]]                     # one of the two stays
    assert decide({}, w[1:], {}, per_node=2, grace=1, prefix="p-").removes == []


def test_names_round_trip():
    name = pinned_name("1234abcd-", NODES[2], 3)
    assert name == "1234abcd-n" + NODES[2][:16] + "-3"
    assert pinned_node("1234abcd-", name) == (NODES[2][:16], 3)
    assert pinned_node("1234abcd-", "1234abcd-w0") is None and pinned_node("", name) is None


# --- the watcher on a loopback cluster -------------------------------------------------------

def _load(db, shards=16, seed=3):
    ix = db.create_index("t")
    ix.create_field("f", keys=True)
    ix.create_field("v", "int", min=0, max=1000)
    rng = np.random.default_rng(seed)
    cols = np.concatenate([s * SHARD + rng.choice(3000, 120, replace=False) for s in range(shards)]).astype(np.uint64)
    ix.import_values("f", cols, [f"k{i}" for i in rng.integers(0, 6, len(cols))])
    ix.import_values("v", cols, rng.integers(0, 1000, len(cols)))


def _random_pql(rng: random.Random, n: int) -> list[str]:
    def row(depth: int = 0) -> str:
        pick = rng.randrange(2 if depth >= 2 else 4)
        if pick == 0:
            return f'Row(f="k{rng.randrange(7)}")'
        if pick == 1:
            return f"Row(v {rng.choice(['<', '>', '>=', '=='])} {rng.randrange(1000)})"
        return f"{rng.choice(['Union', 'Intersect', 'Difference', 'Xor'])}({row(depth + 1)}, {row(depth + 1)})"

    makers = [lambda: f"Count({row()})", lambda: f"TopN(f, {row()}, n={rng.randrange(1, 5)})",
              lambda: f"Sum({row()}, field=v)", lambda: f"Min({row()}, field=v)", lambda: "Max(field=v)",
              lambda: "GroupBy(Rows(f))", lambda: f"Count(Not({row()}))", row]
    return [rng.choice(makers)() for _ in range(n)]


class FakeNodes:
    """A node source the test changes between polls: `alive` as Ray reports alive,
    `dead` as reported dead; any other node is absent from the report."""

    def __init__(self, *nodes: str) -> None:
        self.alive = set(nodes)
        self.dead: set[str] = set()

    def __call__(self) -> dict[str, bool]:
        return {**dict.fromkeys(self.dead, False), **dict.fromkeys(self.alive, True)}


@pytest.fixture
def pair(tmp_path, open_db):
    local = open_db(tmp_path / "local")
    _load(local)
    db = open_loopback_cluster(tmp_path, workers=1)
    _load(db)
    yield local, db
    db.close()


def _norm(answer):
    return [getattr(a, "columns", a) for a in answer]


def test_node_added_under_load_then_lost(pair):
    local, db = pair
    queries = _random_pql(random.Random(11), 40)
    expected = [_norm(local.query("t", q)) for q in queries]
    nodes = FakeNodes(NODES[0])
    watcher = MembershipWatcher(db.cluster, nodes, per_node=2, grace=2)
    watcher.poll()
    first = [pinned_name("", NODES[0], i) for i in range(2)]
    assert db.cluster.table.workers == ["w0", *first]
    done, wrong, errors = threading.Event(), [], []
    rounds = [0]

    def read() -> None:
        try:
            while not done.is_set() or rounds[0] < 2:
                for q, want in zip(queries, expected):
                    got = _norm(db.query("t", q))
                    if got != want:
                        wrong.append((q, got, want))
                rounds[0] += 1
        except BaseException as exc:     # reported below
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        moves = db.cluster.moves
        nodes.alive.add(NODES[1])                                   # a node joins
        d = watcher.poll()
        second = [pinned_name("", NODES[1], i) for i in range(2)]
        assert [n for n, _ in d.adds] == second and d.removes == []
        assert db.cluster.transport.nodes[second[0]] == NODES[1]   # asked to run on that node
        placed = db.cluster.table.placed("t")
        assert {s for s, w in placed.items() if w in second}, placed   # it holds shards now
        assert db.cluster.moves > moves
        assert all(placed[s] == db.cluster.table.hashed_owner("t", s) for s in placed)

        nodes.alive.discard(NODES[1])                               # ... and is lost
        assert watcher.poll().removes == []                         # one miss: within grace
        assert set(second) <= set(db.cluster.table.workers)
        d = watcher.poll()
        assert d.removes == second
        placed = db.cluster.table.placed("t")
        assert set(placed.values()) <= {"w0", *first} and len(placed) == 16
    finally:
        done.set()
        reader.join()
    assert not errors and not wrong, (errors, wrong[:3])
    assert rounds[0] >= 2
    assert [_norm(db.query("t", q)) for q in queries] == expected
    held = {w: rep["shards"].get("t", []) for w, rep in db.cluster.status()["workers"].items()}
    assert held == {w: sorted(s for s, o in placed.items() if o == w) for w in db.cluster.table.workers}


def test_a_query_meeting_a_dead_nodes_worker_moves_its_shards_and_answers(pair):
    """The node dies and its worker with it (files dropped as by kill -9, every call to it
    fails): the first query that meets it finds the node reported dead, moves that
    worker's shards without its release and answers — before any poll."""
    local, db = pair
    nodes = FakeNodes(NODES[0], NODES[1])
    watcher = MembershipWatcher(db.cluster, nodes, per_node=1, grace=3)
    db.cluster.watcher = watcher
    watcher.poll()
    gone = pinned_name("", NODES[1], 0)
    assert db.cluster.table.shards_of(gone)
    transport = db.cluster.transport
    real = transport.call_many

    def dead(calls):
        if any(name == gone for name, _, _ in calls):
            raise WorkerUnavailableError(f"{gone} is gone")
        return real(calls)

    for stores in transport.worker(gone)._stores.values():       # killed: its files dropped, as kill -9 does
        for holder in stores.values():
            holder.close(checkpoint=False)
    transport.call_many = dead
    queries = _random_pql(random.Random(5), 20)
    with pytest.raises(WorkerUnavailableError):       # not declared dead yet: the error stands
        for q in queries:
            db.query("t", q)
    nodes.alive.discard(NODES[1])
    nodes.dead.add(NODES[1])
    polls = watcher.polls
    assert [_norm(db.query("t", q)) for q in queries] == [_norm(local.query("t", q)) for q in queries]
    assert watcher.polls == polls and gone not in db.cluster.table.workers
    assert not db.cluster.table.shards_of(gone)
    db.query("t", f"Set({5 * SHARD + 9}, f=\"k1\")")                   # writes reach the new owner
    local.query("t", f"Set({5 * SHARD + 9}, f=\"k1\")")
    assert db.query("t", 'Count(Row(f="k1"))') == local.query("t", 'Count(Row(f="k1"))')
    db.cluster.watcher = None


def test_operator_errors_are_typed(pair):
    _, db = pair
    with pytest.raises(WorkerNotFoundError):
        db.cluster.remove_worker("nope")
    with pytest.raises(LastWorkerError):
        db.cluster.remove_worker("w0")
    with pytest.raises(WorkerExistsError):
        db.cluster.add_worker("w0")
    db.cluster.add_worker("w1")
    for s in range(16):                                      # pile every shard on w0
        db.cluster._move("t", s, "w0")
    assert len(db.cluster.rebalance()) == 8                  # the fewest moves that even it out
    counts = db.cluster.table.shard_counts()
    assert counts == {"w0": 8, "w1": 8} and db.cluster.rebalance() == []


def test_the_watcher_thread_polls_and_stops(pair):
    """The thread only paces poll(): started and stopped, it has made the node's workers."""
    _, db = pair
    polled = threading.Event()
    nodes = FakeNodes(NODES[2])

    def source() -> set[str]:
        polled.set()
        return nodes()

    watcher = MembershipWatcher(db.cluster, source, per_node=1, interval=0.01).start()
    try:
        assert polled.wait(30)
    finally:
        watcher.stop()
    assert pinned_name("", NODES[2], 0) in db.cluster.table.workers
