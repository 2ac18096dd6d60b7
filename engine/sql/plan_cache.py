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
import weakref
from collections import OrderedDict
from typing import Any, Optional

from engine.errors import EngineError
from engine.sql import ast
from engine.sql.context import Context
from engine.sql.views import views_version

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
        if views_version(holder) is not self.views:
            return False
        for name, index, definition, state in self.built_from:
            try:
                if holder.index(name) is not index or index.definition is not definition or \
                        index.snapshot() is not state:
                    return False
            except EngineError:        # dropped, or closed: plan again (and report it then)
                return False
        return True


_CACHES: "weakref.WeakKeyDictionary[Any, OrderedDict[int, CachedPlan]]" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def take(holder: Any, stmt: ast.Select) -> Optional[CachedPlan]:
    """The cached plan of `stmt` if it is still current (removed from the cache while it
    runs), else None."""
    with _LOCK:
        plans = _CACHES.get(holder)
        entry = plans.pop(id(stmt), None) if plans is not None else None
    if entry is None or entry.stmt is not stmt or not entry.current(holder):
        return None
    return entry


def give(holder: Any, entry: CachedPlan) -> None:
    """Keep a plan whose result was read to the end."""
    entry.ctx.park()
    with _LOCK:
        plans = _CACHES.get(holder)
        if plans is None:
            plans = _CACHES[holder] = OrderedDict()
        plans[id(entry.stmt)] = entry
        plans.move_to_end(id(entry.stmt))
        while len(plans) > MAX_PLANS:
            plans.popitem(last=False)
