"""Automatic membership: K worker actors per alive Ray node, kept so by a watcher.

The decision is a pure function (`decide`): the nodes Ray reports (alive or dead), the
workers the placement table lists and how many polls each known node has been missing →
the workers to add (each pinned to its node) and to remove. The watcher polls a node
source at a fixed interval and applies the decision through Cluster.add_worker /
remove_worker, which move shards one at a time, serialised with queries.

Flapping guard: a node Ray still reports alive keeps its workers however slow it is. A
node Ray reports dead (after its own health checks failed; a dead node id never comes
back) loses its workers at the next poll. A node that is simply not in the report (or a
report that failed) must stay missing for `grace` consecutive polls first, and coming
back resets its count. A node's workers are named after it (`<prefix>n<first 16 hex
digits of its id>-<i>`), so the mapping survives a restart of the coordinator. Workers
with other names (the `--ray-workers` ones, or added by the operator) are never touched
here. The last worker is never removed.
"""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from engine.errors import WorkerNotFoundError

log = logging.getLogger("roarbase.cluster")

NODE_TAG = 16          # hex digits of the node id kept in a worker's name


def pinned_name(prefix: str, node: str, i: int) -> str:
    """The name of the i-th worker pinned to `node`."""
    return f"{prefix}n{node[:NODE_TAG]}-{i}"


def pinned_node(prefix: str, name: str) -> Optional[tuple[str, int]]:
    """(node tag, i) of a pinned worker's name; None for any other worker."""
    m = re.fullmatch(re.escape(prefix) + r"n([0-9a-f]{%d})-(\d+)" % NODE_TAG, name)
    return None if m is None else (m.group(1), int(m.group(2)))


@dataclass(frozen=True)
class Decision:
    adds: list[tuple[str, str]] = field(default_factory=list)      # (worker, full node id)
    removes: list[str] = field(default_factory=list)               # workers, in order
    missing: dict[str, int] = field(default_factory=dict)          # node tag → polls missing


def decide(nodes: dict[str, bool], workers: list[str], missing: dict[str, int], *, per_node: int, grace: int,
           prefix: str = "") -> Decision:
    """What to change so each alive node has `per_node` workers, and the workers of dead
    nodes, and of nodes missing `grace` polls in a row, go.

    Args:
        nodes: node id → alive, as Ray reports them now.
        workers: the cluster's workers (placement order).
        missing: node tag → consecutive polls it was missing, as returned last time.
        per_node: workers per alive node (≥ 1). grace: polls a node may be missing (≥ 1).
    """
    alive = {n[:NODE_TAG]: n for n, up in nodes.items() if up}
    dead = {n[:NODE_TAG] for n, up in nodes.items() if not up} - set(alive)
    pinned: dict[str, list[tuple[int, str]]] = {}
    for w in workers:
        got = pinned_node(prefix, w)
        if got is not None:
            pinned.setdefault(got[0], []).append((got[1], w))
    adds = []
    for tag, node in sorted(alive.items()):
        have = {i for i, _ in pinned.get(tag, [])}
        adds += [(pinned_name(prefix, node, i), node) for i in range(per_node) if i not in have]
    removes: list[str] = []
    now_missing: dict[str, int] = {}
    for tag, held in sorted(pinned.items()):
        if tag in alive:
            removes += [w for i, w in sorted(held) if i >= per_node]       # K was lowered
            continue
        count = missing.get(tag, 0) + 1
        if tag in dead or count >= grace:
            removes += [w for _, w in sorted(held)]
        else:
            now_missing[tag] = count
    keep = len(workers) + len(adds)
    removes = removes[:max(0, keep - 1)]          # never the last worker
    return Decision(adds, removes, now_missing)


class MembershipWatcher:
    """Polls `nodes()` (node id → alive) every `interval` seconds and applies `decide` to
    `cluster`. poll() does one round (tests call it directly; the thread only paces it).
    A failed change is logged and tried again at the next poll. recover() is the
    coordinator's call when a worker did not answer: only the workers of nodes Ray has
    declared dead go, without waiting for the next poll."""

    def __init__(self, cluster: Any, nodes: Callable[[], dict[str, bool]], *, per_node: int, grace: int = 3,
                 interval: float = 2.0, prefix: str = "") -> None:
        if per_node < 1 or grace < 1 or interval <= 0:
            raise ValueError("per_node and grace must be at least 1, interval positive")
        self.cluster = cluster
        self.nodes = nodes
        self.per_node = per_node
        self.grace = grace
        self.interval = interval
        self.prefix = prefix
        self.missing: dict[str, int] = {}
        self.polls = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def poll(self) -> Decision:
        got = decide(self.nodes(), list(self.cluster.table.workers), self.missing, per_node=self.per_node,
                     grace=self.grace, prefix=self.prefix)
        self.missing = got.missing
        self.polls += 1
        for name, node in got.adds:
            log.info("cluster: node %s is up: adding worker %s", node[:NODE_TAG], name)
            self.cluster.add_worker(name, node=node)
        self._remove(got.removes)
        return got

    def recover(self, lost: Optional[list[str]] = None) -> bool:
        """Remove the node workers in `lost` (their actor can never run again: its node
        is gone) and those of the nodes Ray reports dead now; True if any went."""
        nodes = self.nodes()
        dead = {n[:NODE_TAG] for n, up in nodes.items() if not up} - {n[:NODE_TAG] for n, up in nodes.items() if up}
        workers = list(self.cluster.table.workers)
        gone = [w for w in workers if (p := pinned_node(self.prefix, w)) is not None and (p[0] in dead or w in
                                                                                          (lost or ()))]
        return self._remove(gone[:max(0, len(workers) - 1)]) > 0

    def _remove(self, names: list[str]) -> int:
        done = 0
        for name in names:
            log.warning("cluster: removing worker %s (its node is gone or K was lowered)", name)
            try:
                self.cluster.remove_worker(name, lost=True)
                done += 1
            except WorkerNotFoundError:       # removed meanwhile (a poll and a recover at once)
                pass
        return done

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:      # keep watching: the next poll sees the same nodes and tries again
                log.exception("cluster: membership poll failed")

    def start(self) -> "MembershipWatcher":
        self._thread = threading.Thread(target=self._run, name="roarbase-membership", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
