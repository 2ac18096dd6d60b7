"""Automatic membership on a real Ray cluster (head + 2 nodes on 127.0.0.1, plus a node
this test adds and removes): open_on_ray(per_node=1) gives every alive node a worker
pinned to it; a node joining gets its worker and the shards jump hash gives it while a
reader keeps querying; the node removed (Ray declares it dead), its worker's shards move to
the others — at the next poll, or at once when a query meets the worker that can no longer
run — and no query fails or answers wrong. The test drives the watcher's polls itself (its thread is paced at an hour):
Ray's node table decides when a poll sees the change, and every wait has a deadline."""
from __future__ import annotations

import threading
import time
import uuid

import pytest

from engine.cluster.membership import pinned_name
from engine.cluster.ray_backend import alive_nodes, open_on_ray
from test_ray_cluster import _answers, _load

SHARD = 1 << 20

pytestmark = [pytest.mark.cluster,
              pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::ResourceWarning")]
NODE_ARGS = {"num_cpus": 1, "object_store_memory": 80 << 20}      # as the session's nodes


def _all(db):
    return _answers(db) + [db.query("q", "Count(Row(f=1))"), db.query("q", "TopN(f)")]


def _poll_until(watcher, done, what: str, limit: float = 60.0) -> float:
    start = time.monotonic()
    while not done():
        assert time.monotonic() - start < limit, f"no {what} within {limit:g} s"
        watcher.poll()
        time.sleep(0.1)                  # (pacing only: the outcome is the condition above)
    return time.monotonic() - start


def test_a_node_joins_and_leaves_under_queries(ray_cluster, tmp_path, open_embedded):
    prefix = uuid.uuid4().hex[:8] + "-"
    db = open_on_ray(str(tmp_path / "coord"), str(tmp_path / "shared"), workers=1, prefix=prefix, fsync=False,
                     per_node=1, poll_seconds=3600, grace=2, timeout=120)
    cluster, transport = db.cluster, db.cluster.transport
    try:
        nodes = alive_nodes()
        pinned = {pinned_name(prefix, n, 0): n for n in nodes}
        assert set(cluster.table.workers) == {f"{prefix}w0", *pinned}          # one per node, at open
        on = transport.node_ids()
        assert all(on[w] == n for w, n in pinned.items())                    # each on its node
        local = open_embedded()
        for d in (db, local):
            _load(d, seed=4)
            q = d.create_index("q")                 # 40 more shards: some go to the new node's worker
            q.create_field("f")
            q.import_values("f", [s * SHARD + s for s in range(40)], [s % 3 for s in range(40)])
        expected = _all(local)
        assert _all(db) == expected

        done, wrong, errors, rounds = threading.Event(), [], [], [0]

        def read() -> None:
            try:
                while not done.is_set() or rounds[0] < 2:
                    got = _all(db)
                    if got != expected:
                        wrong.append(got)
                    rounds[0] += 1
            except BaseException as exc:      # reported below
                errors.append(exc)

        reader = threading.Thread(target=read)
        reader.start()
        try:
            added = ray_cluster.add_node(**NODE_ARGS)
            t0 = time.monotonic()
            ray_cluster.wait_for_nodes()
            new = next(iter(alive_nodes() - nodes))
            name = pinned_name(prefix, new, 0)
            _poll_until(cluster.watcher, lambda: name in cluster.table.workers, "worker on the new node")
            joined = time.monotonic() - t0
            assert transport.node_ids()[name] == new
            took = {(ix, s) for ix in ("p", "q") for s, w in cluster.table.placed(ix).items() if w == name}
            assert took and all(cluster.table.hashed_owner(ix, s) == name for ix, s in took)

            t1 = time.monotonic()
            ray_cluster.remove_node(added)
            _poll_until(cluster.watcher, lambda: name not in cluster.table.workers, "removal of the lost node's worker")
            left = time.monotonic() - t1
            placed = cluster.table.placed("p")
            assert sorted(placed) == list(range(6)) and name not in placed.values()
            assert name not in cluster.table.placed("q").values() and len(cluster.table.placed("q")) == 40
        finally:
            done.set()
            reader.join()
        assert not errors and not wrong, (errors, len(wrong))
        assert rounds[0] >= 2
        assert _all(db) == expected
        held = {w: rep["shards"].get("p", []) for w, rep in cluster.status()["workers"].items()}
        assert sorted(s for v in held.values() for s in v) == list(range(6))
        print(f"membership: node added -> its worker placed and {len(took)} shard(s) moved in {joined:.2f} s; "
              f"node removed -> its worker gone, shards moved in {left:.2f} s; {rounds[0]} query rounds meanwhile")
    finally:
        transport.stop_workers()
        db.close()
