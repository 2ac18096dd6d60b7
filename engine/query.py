"""Run a PQL request: parse, then lower and execute each call in order.

A request without writes runs on one snapshot. A request with writes runs in one
transaction: every call sees the writes before it (FeatureBase's rule), and the whole
request commits atomically at the end — or not at all if any call fails.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Optional

from engine import plan as P
from engine import results as R
from engine.errors import InvalidParameterError, NotFoundError, QueryExecutionError, QueryLimitError
from engine.executor import Executor
from engine.index import _frozen
from engine.pql.lower import Lowerer
from engine.pql.ast import Query
from engine.pql.parser import parse
from engine.state import IndexState
from engine.statements import PQL_WRITE_CALLS
from engine.txn import Transaction, apply_changes
from ext import FrozenBitmap

MAX_WRITES = 5000
MAX_CALLS = 1000            # calls of any kind in one request
_WRITE_NAMES = PQL_WRITE_CALLS


def run_pql(holder: Any, index_name: str, text: str, *, timeout: Optional[float] = None,
            cancel: Optional[threading.Event] = None) -> list[R.Result]:
    """The result of every call in the request (engine/results.py), in call order."""
    return run_query(holder, index_name, parse(text), timeout=timeout, cancel=cancel)


def run_query(holder: Any, index_name: str, query: Query, *, timeout: Optional[float] = None,
              cancel: Optional[threading.Event] = None) -> list[R.Result]:
    """Run an already-parsed request (from the PQL parser or built with engine.q)."""
    idx = holder.index(index_name)
    writes = sum(1 for c in query.calls if c.name in _WRITE_NAMES)
    if len(query.calls) - writes > MAX_CALLS:
        raise QueryLimitError(f"{len(query.calls) - writes} read calls in one request; the limit is {MAX_CALLS}")
    if writes > MAX_WRITES:
        raise QueryLimitError(f"{writes} write calls in one request; the limit is {MAX_WRITES}")
    deadline = None if timeout is None else time.monotonic() + timeout
    lowerer = Lowerer(idx, holder)
    if not writes:
        ex = Executor(idx, idx.snapshot(), holder=holder, deadline=deadline, cancel=cancel)
        return [ex.run(lowerer.lower_call(c)) for c in query.calls]
    if holder.cluster is not None:
        return _run_routed(holder, idx, query, lowerer, deadline, cancel)
    results: list[R.Result] = []
    with idx.transaction() as tx:
        state: Optional[IndexState] = tx.base
        for c in query.calls:
            if state is None:
                state = _provisional(tx)
            lowerer.state = state        # time views made earlier in the request count
            node = lowerer.lower_call(c)
            if isinstance(node, P.WRITE_CALLS):
                ex = Executor(idx, state, holder=holder, deadline=deadline, cancel=cancel)
                try:
                    results.append(R.Bool(_write(idx, tx, ex, node)))
                except (InvalidParameterError, NotFoundError) as exc:
                    # a bad value in a write call is a query error at that call's position
                    raise QueryExecutionError(f"{c.name}: {exc.message}", c.line, c.column,
                                              name=exc.name) from None
                state = None
            else:
                results.append(Executor(idx, state, holder=holder, deadline=deadline, cancel=cancel).run(node))
    return results


def _run_routed(holder: Any, idx: Any, query: Query, lowerer: Lowerer, deadline: Optional[float],
                cancel: Optional[threading.Event]) -> list[R.Result]:
    """A request with writes on a cluster coordinator: writes are routed to the workers
    owning their shards and acknowledged before the next read runs (so it sees them).
    Consecutive Set/Clear calls go out together, one message per shard (in call order);
    atomic per shard, not per request (docs/cluster.md)."""
    results: list[R.Result] = []
    pending: list[tuple[Any, Any]] = []          # (call, lowered Set/Clear) not sent yet

    def flush() -> None:
        if not pending:
            return
        try:
            results.extend(R.Bool(b) for b in holder.cluster.set_clear_many(idx, [node for _, node in pending]))
        except (InvalidParameterError, NotFoundError) as exc:
            c = pending[getattr(exc, "batch_index", 0)][0]
            raise QueryExecutionError(f"{c.name}: {exc.message}", c.line, c.column, name=exc.name) from None
        pending.clear()

    for c in query.calls:
        node = lowerer.lower_call(c)
        if isinstance(node, (P.SetValue, P.ClearValue)):
            pending.append((c, node))
            continue
        flush()
        ex = Executor(idx, idx.snapshot(), holder=holder, deadline=deadline, cancel=cancel)
        if not isinstance(node, P.WRITE_CALLS):
            results.append(ex.run(node))
            continue
        try:
            results.append(R.Bool(holder.cluster.write_call(idx, node, ex)))
        except (InvalidParameterError, NotFoundError) as exc:
            raise QueryExecutionError(f"{c.name}: {exc.message}", c.line, c.column, name=exc.name) from None
    flush()
    return results


def _provisional(tx: Transaction) -> IndexState:
    """The transaction's base state with its pending changes applied (never published)."""
    changes = [(fid, view, row, _frozen(add), _frozen(rem)) for (fid, view, row), (add, rem) in tx.changes.items()]
    return apply_changes(tx.base, tx.base.seq, changes)


def _write(idx: Any, tx: Transaction, ex: Executor, node: Any) -> bool:
    if isinstance(node, P.SetValue):
        return tx.set(node.column, idx._fd(node.field), node.value, node.timestamp)
    if isinstance(node, P.ClearValue):
        return tx.clear(node.column, idx._fd(node.field), node.value)
    if isinstance(node, P.ClearRow):
        return tx.clear_row(idx._fd(node.field), node.value)
    if isinstance(node, P.Store):
        return tx.store(idx._fd(node.field), node.value, FrozenBitmap(ex.full_row(node.row)))
    assert isinstance(node, P.Delete)
    return tx.delete(FrozenBitmap(ex.full_row(node.row)))
