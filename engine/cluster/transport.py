"""How the coordinator reaches its workers.

A Transport delivers a batch of messages — (worker, method, args) — and returns each
worker's envelope, ("ok", value) or ("err", exception), in the batch's order. Messages of
one batch go out together (a fan-out); the transport waits for all of them.

LoopbackTransport keeps the workers in this process and pickles every message and every
answer, so everything that crosses a real process boundary is exercised without one; its
restart() simulates a killed worker (its open files dropped without a checkpoint, as
kill -9 leaves them) coming back from the shared storage. The Ray transport lives in
ray_backend.py.
"""
from __future__ import annotations

import pickle
from abc import ABC, abstractmethod
from typing import Any, Optional

from engine.cluster.worker import ShardWorker

Call = tuple[str, str, tuple[Any, ...]]


class Transport(ABC):
    @abstractmethod
    def workers(self) -> list[str]:
        """The worker names, in placement order."""

    @abstractmethod
    def call_many(self, calls: list[Call]) -> list[tuple[str, Any]]:
        """Deliver every call; the envelopes in the same order."""

    def add_worker(self, name: str, *, node: Optional[str] = None) -> None:
        """Start (or find) worker `name` (on `node` when given and the transport places
        workers on nodes)."""
        raise NotImplementedError

    def remove_worker(self, name: str) -> None:
        """Stop worker `name` for good (it holds no shard any more)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the transport holds (not the workers of a shared cluster)."""


class LoopbackTransport(Transport):
    def __init__(self, root: str, names: list[str], *, fsync: bool = True) -> None:
        self.root = root
        self.fsync = fsync
        self.names = list(names)
        self._workers = {n: ShardWorker(n, root, fsync=fsync) for n in names}
        self.messages = 0
        self.bytes = 0
        self.nodes: dict[str, Optional[str]] = dict.fromkeys(names)     # worker → the node asked for

    def workers(self) -> list[str]:
        return list(self.names)

    def worker(self, name: str) -> ShardWorker:
        return self._workers[name]

    def call_many(self, calls: list[Call]) -> list[tuple[str, Any]]:
        out = []
        for name, method, args in calls:
            msg = pickle.dumps((method, args))
            self.messages += 1
            self.bytes += len(msg)
            m, a = pickle.loads(msg)
            reply = pickle.dumps(self._workers[name].handle(m, *a))
            self.bytes += len(reply)
            out.append(pickle.loads(reply))
        return out

    def add_worker(self, name: str, *, node: Optional[str] = None) -> None:
        if name not in self._workers:
            self._workers[name] = ShardWorker(name, self.root, fsync=self.fsync)
            self.names.append(name)
            self.nodes[name] = node

    def remove_worker(self, name: str) -> None:
        self._workers.pop(name).close()
        self.names.remove(name)
        self.nodes.pop(name, None)

    def restart(self, name: str) -> ShardWorker:
        """Kill worker `name` (no checkpoint, nothing flushed that was not already
        durable) and start it again: it reopens its shards from the shared storage."""
        for stores in self._workers[name]._stores.values():
            for holder in stores.values():
                holder.close(checkpoint=False)
        self._workers[name] = ShardWorker(name, self.root, fsync=self.fsync)
        return self._workers[name]

    def close(self) -> None:
        for w in self._workers.values():
            w.close()
