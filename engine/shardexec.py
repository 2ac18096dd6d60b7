"""The executor seam: where a query's per-shard work runs.

The query Executor (engine/executor.py) turns each call into shard tasks
(engine/shardtasks.py): a task computes one partial result per shard and combines partials
exactly (counts add, TopN/GroupBy counts add per key, bitmaps union, values concatenate).
A ShardExecutor decides where the shards are visited:

- LocalExecutor (engine/executor.py, the default): this process's thread pool over the
  snapshot the query took. Embedded users never see anything else.
- engine/cluster: a coordinator that ships one task per worker (each pre-reduces its own
  shards) and combines their partials; the transport is in-process (tests) or Ray.

A task, its Scope and the global rows it needs are plain picklable values, so any
executor can send them across a process boundary; the partial results are too.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Iterable, Optional


@dataclass(frozen=True)
class Scope:
    """The shards a task visits: every shard holding data (only those in `only`, when
    set), plus the `extra` shards — shards without data that a global row result reaches
    (a Shift moves records past the last shard), or the one shard a point read names."""

    only: Optional[frozenset[int]] = None
    extra: frozenset[int] = frozenset()

    def shards(self, with_data: Iterable[int]) -> list[int]:
        """The shards to visit, ascending, given the shards that hold data."""
        base = with_data if self.only is None else (s for s in with_data if s in self.only)
        if not self.extra:
            return base if isinstance(base, list) else list(base)
        return sorted(set(base) | self.extra)

    def restrict(self, only: Iterable[int]) -> "Scope":
        """This scope, visiting only shards in `only` (Options(shards=…))."""
        wanted = frozenset(only)
        return Scope(wanted if self.only is None else self.only & wanted, self.extra)

    def widen(self, extra: Iterable[int]) -> "Scope":
        return Scope(self.only, self.extra | frozenset(extra))


ALL_SHARDS = Scope()


def point(shard: int) -> Scope:
    """Exactly one shard, whether or not it holds data (FieldValue, IncludesColumn)."""
    one = frozenset((shard,))
    return Scope(one, one)


class ShardTask(ABC):
    """Per-shard work with an exact, associative combine. Subclasses are dataclasses of
    plan nodes and plain values (picklable; slots: a task is made for every call)."""

    __slots__ = ()
    parallel = True       # worth a thread per shard (the work is in GIL-free kernels)

    @abstractmethod
    def shard(self, ex: Any, shard: int) -> Any:
        """The partial result of one shard; `ex` evaluates rows (Executor.row/count)."""

    @abstractmethod
    def combine(self, parts: list[Any]) -> Any:
        """One partial from many (of shards, or of workers' combined partials), in any
        order; [] gives the empty result."""


class ShardExecutor(ABC):
    """Runs a task over the shards of a query's scope and returns the combined partial."""

    @abstractmethod
    def run(self, ex: Any, task: ShardTask, scope: Optional[Scope] = None) -> Any:
        """`ex` is the query's Executor: its index, snapshot, global rows (ex.global_rows)
        and deadline (ex.deadline, ex.cancel); `scope` defaults to ex.scope."""
