"""A fake remote ShardExecutor: the coordinator's side of a cluster without a cluster.

Every task is sent, as pickled bytes, to each of N fake workers; a worker owns the shards
jump hash gives it, evaluates the task on exactly those (its own Executor, with the global
rows that came in the message, never computing one itself), pre-reduces them with
LocalExecutor, and sends its partial back as pickled bytes. The coordinator combines the
partials in a shuffled order. The workers read the same snapshot as the coordinator (no
data moves); what is tested is the task protocol: that everything crossing the boundary
survives serialisation, that each shard is visited by exactly one worker, and that the
combines are exact and order-free.
"""
from __future__ import annotations

import pickle
import random
import time
from typing import Any, Optional

from engine.cluster.placement import owner_by_hash
from engine.executor import LOCAL, Executor
from engine.shardexec import Scope, ShardExecutor, ShardTask


class FakeRemoteExecutor(ShardExecutor):
    def __init__(self, workers: int = 3, seed: int = 0) -> None:
        self.workers = workers
        self.rng = random.Random(seed)
        self.messages = 0           # tasks sent (one per worker per fan-out)
        self.bytes_sent = 0
        self.visits: list[int] = []  # shards visited, across workers (a shard twice is a bug)

    def run(self, ex: Any, task: ShardTask, scope: Optional[Scope] = None) -> Any:
        scope = scope or ex.scope
        shards = scope.shards(ex.state.shards())
        self.visits.extend(shards)
        by_worker: dict[int, list[int]] = {w: [] for w in range(self.workers)}
        for s in shards:
            by_worker[owner_by_hash(ex.index.name, s, self.workers)].append(s)
        remaining = None if ex.deadline is None else ex.deadline - time.monotonic()
        parts = []
        order = list(by_worker.items())
        self.rng.shuffle(order)
        for _w, mine in order:
            own = frozenset(mine)
            msg = pickle.dumps((ex.index.name, task, Scope(own, own), ex.global_rows(), remaining))
            self.messages += 1
            self.bytes_sent += len(msg)
            parts.append(pickle.loads(self._worker(ex, msg)))
        return task.combine(parts)

    @staticmethod
    def _worker(ex: Any, msg: bytes) -> bytes:
        _index, task, scope, global_rows, remaining = pickle.loads(msg)
        deadline = None if remaining is None else time.monotonic() + remaining
        wex = Executor(ex.index, ex.state, holder=ex.holder, deadline=deadline, cancel=ex.cancel,
                       backend=LOCAL, global_rows=global_rows)
        return pickle.dumps(LOCAL.run(wex, task, scope))
