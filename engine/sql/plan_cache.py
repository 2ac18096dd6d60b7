"""Reuse of SELECT plans. An application sends the same statement text again and again, and
planning it (binding, type checks, lowering to bitmap calls) costs more than running a small
bitmap query. A plan is reused only while everything it was built from is unchanged: each
table's index object, its schema definition and its committed snapshot (lowering resolves
keys to ids and reads the snapshot), and the views document. A plan that bound
CURRENT_TIMESTAMP or CURRENT_DATE (bind.CLOCK_READ) is never kept.

A plan is taken out of the cache while it runs and put back only after its result was read
to the end, so two statements never share one, and a result abandoned half-way never comes
back. A kept plan drops its executors and subquery answers (they hold bitmaps); it keeps
its tables' snapshots, so the cache is small."""
from __future__ import annotations

import threading
from typing import Any, Optional

from engine.errors import EngineError
from engine.sql import ast
from engine.sql.context import Context

MAX_PLANS = 64                 # per holder


class CachedPlan:
    def __init__(self, stmt: ast.Select, ctx: Context, node: Any, schema: list[tuple[str, str]],
                 views: Any) -> None:
        self.stmt = stmt
        self.ctx = ctx
        self.node = node
        self.schema = schema
        self.views = views
        # what the plan was built from: (name, index, definition, snapshot) per table
        self.built_from = [(name, t.index, t.definition, t.state) for name, t in ctx.tables().items()]

    def current(self, holder: Any) -> bool:
        if holder.sql_cache.get("views") is not self.views:     # (views_version, inlined)
            return False
        for name, index, definition, state in self.built_from:
            try:
                if holder.index(name) is not index or index.definition is not definition or \
                        index.snapshot() is not state:
                    return False
            except EngineError:        # dropped, or closed: plan again (and report it then)
                return False
        return True


_LOCK = threading.Lock()


def take(holder: Any, stmt: ast.Select) -> Optional[CachedPlan]:
    """The cached plan of `stmt` if it is still current (removed from the cache while it
    runs), else None."""
    plans = holder.sql_cache.get("plans")
    if plans is None:
        return None
    with _LOCK:
        entry = plans.pop(id(stmt), None)
    if entry is None or entry.stmt is not stmt or not entry.current(holder):
        return None
    return entry


def give(holder: Any, entry: CachedPlan) -> None:
    """Keep a plan whose result was read to the end (the most recent MAX_PLANS)."""
    entry.ctx.park()
    with _LOCK:
        plans = holder.sql_cache.setdefault("plans", {})
        plans.pop(id(entry.stmt), None)
        plans[id(entry.stmt)] = entry           # dicts keep insertion order: the oldest first
        while len(plans) > MAX_PLANS:
            del plans[next(iter(plans))]
