"""Run plans: each call becomes shard tasks (engine/shardtasks.py) whose partial results
are combined, then shaped into FeatureBase's result shapes.

Where the shards are visited is the executor seam (engine/shardexec.py): LocalExecutor,
here, runs them on this process's thread pool (in parallel where the work is in GIL-free
kernels); a cluster coordinator (engine/cluster) ships them to the workers holding them.
Shards are the unit of parallelism; the deadline and cancel flag are checked before each
shard, inside the long kernels (ext.Interrupt, polled between containers without the GIL)
and inside long Python loops (GroupBy's combinations). Row nodes
that need every shard before they can answer (Shift, Limit, Distinct-as-row, UnionRows)
are evaluated once, globally, and then served per shard as constants (ex.global_rows()).
"""
from __future__ import annotations

import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, Callable, Optional, Sequence, TypeVar, cast

import numpy as np

from engine import plan as P
from engine.arrays import sorted_unique
from engine import results as R
from engine.errors import FieldNotFoundError, QueryCancelledError, QueryExecutionError
from engine.schema import BSI_VIEW, STANDARD_VIEW, FieldDef, float_decode_array
from engine.shardexec import ALL_SHARDS, Scope, ShardExecutor, ShardTask, point
from engine.shardtasks import (BsiExtremeTask, BsiSumTask, BsiValuesTask, CountTask, RowCountsTask, RowIdsTask,
                               RowTask, ValuesInTask, signed)
from engine.state import EMPTY, SHARD_BITS, SHARD_WIDTH, IndexState, split_by_shard
from engine.txn import BSI_BIT0_ROW, BSI_EXISTS_ROW, BSI_SIGN_ROW, EXISTS_ID
from ext import BaseBitmap, Bitmap, FrozenBitmap, Interrupt, bsi_range, bsi_values

T = TypeVar("T")
_POOL_LOCK = threading.Lock()
_POOL: Optional[ThreadPoolExecutor] = None


_IN_POOL = threading.local()
_MANY_RUNS = 64     # a BsiIn with more runs of consecutive values reads the shard's values once
_LOOKUP_SPAN = 1 << 26  # … and looks them up in a table of the wanted values when they span less

# How often (at most) a running kernel takes the GIL to call check_deadline (a cancel is
# seen within this; a deadline within POLL_WORK containers of its expiry, GIL-free). The
# tests set 0, so that every poll calls it.
POLL_SECONDS = 0.01

# Called with the shard number before each shard's work, after the deadline check. None in
# normal use; the deadline/cancellation tests (RELIABILITY R12) set it to a sleep so a
# query is slow on demand without a huge data set.
shard_hook: Optional[Callable[[int], None]] = None


def _in_pool(fn: Callable[[int], T]) -> Callable[[int], T]:
    def wrapped(shard: int) -> T:
        _IN_POOL.active = True
        try:
            return fn(shard)
        finally:
            _IN_POOL.active = False
    return wrapped


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="roarbase-shard")
        return _POOL


class LocalExecutor(ShardExecutor):
    """The default: every shard of the query's snapshot, in this process — on the shard
    thread pool when the task is worth it, inline otherwise."""

    def run(self, ex: "Executor", task: ShardTask, scope: Optional[Scope] = None) -> Any:
        scope = scope or ex.scope
        shards = ex.state.shards() if scope is ALL_SHARDS else scope.shards(ex.state.shards())
        # Work started from inside a pool thread runs inline: waiting on the pool from one
        # of its own threads could deadlock it.
        if len(shards) > 1 and task.parallel and not getattr(_IN_POOL, "active", False):
            def one(shard: int) -> Any:
                ex.check_deadline()
                if shard_hook is not None:
                    shard_hook(shard)
                return task.shard(ex, shard)

            return task.combine(list(_pool().map(_in_pool(one), shards)))
        # Inline (the common case for cheap calls): no closure, one frame per shard.
        check, hook, run = ex.check_deadline, shard_hook, task.shard
        parts = []
        for s in shards:
            check()
            if hook is not None:
                hook(s)
            parts.append(run(ex, s))
        return task.combine(parts)


LOCAL = LocalExecutor()


class Planes:
    """The BSI planes of one field in one shard."""

    __slots__ = ("exists", "sign", "bits")

    def __init__(self, rows: dict[int, FrozenBitmap]) -> None:
        self.exists = rows.get(BSI_EXISTS_ROW)
        self.sign = rows.get(BSI_SIGN_ROW)
        depth = max((r - BSI_BIT0_ROW + 1 for r in rows if r >= BSI_BIT0_ROW), default=0)
        self.bits = [rows.get(BSI_BIT0_ROW + i) for i in range(depth)]


_NO_PLANES = Planes({})


class Executor:
    """Evaluates calls against one committed IndexState; its shard work runs on `backend`
    (default: the holder's shard_executor, which is LOCAL unless a cluster is configured)."""

    def __init__(self, index: Any, state: IndexState, *, holder: Any = None,
                 deadline: Optional[float] = None, cancel: Optional[threading.Event] = None,
                 backend: Optional[ShardExecutor] = None, global_rows: Optional[dict[Any, FrozenBitmap]] = None
                 ) -> None:
        self.index = index
        self.state = state
        self.holder = holder
        self.deadline = deadline
        self.cancel = cancel
        self.backend: ShardExecutor = backend if backend is not None else index.holder.shard_executor
        # Polled inside the long kernels (without the GIL, between containers), so a
        # deadline or cancel stops a query mid-shard, not only between shards.
        self.interrupt = None if deadline is None and cancel is None else \
            Interrupt(deadline, self.check_deadline, poll_every=POLL_SECONDS)
        self.scope: Scope = ALL_SHARDS
        # Rows that need every shard (GLOBAL_NODES), computed once per query; a worker
        # receives them with each task instead of computing them.
        self._globals: dict[Any, FrozenBitmap] = global_rows if global_rows is not None else {}
        self.remote_side = global_rows is not None     # a worker's: globals come with the task
        self._fields = index.fields_by_id()

    # --- infrastructure --------------------------------------------------------------------------

    def check_deadline(self) -> None:
        """Raise QueryCancelledError if the query was cancelled or passed its deadline.
        Called before each shard, inside long Python loops, and by the kernels' polls."""
        if self.cancel is not None and self.cancel.is_set():
            raise QueryCancelledError("query cancelled")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise QueryCancelledError("query deadline exceeded")

    @property
    def shards(self) -> list[int]:
        """The shards this query reads, ascending: its scope over the shards with data
        (for code that walks shards itself, such as the SQL scan)."""
        return self.scope.shards(self.state.shards())

    def run_task(self, task: ShardTask, scope: Optional[Scope] = None) -> Any:
        """The task's combined partial over `scope` (default: the query's), on the backend.
        A remote backend needs the task's global rows computed first (a worker never
        computes one); locally they are computed when first met."""
        if self.backend is not LOCAL:
            self._compute_globals(task)
        return self.backend.run(self, task, scope)

    def _compute_globals(self, node: Any) -> None:
        for child in _children(node):
            self._compute_globals(child)
        if isinstance(node, (P.GLOBAL_NODES, P.HostFilter)):
            # a HostFilter's test reads values in this process: it travels as its answer
            self._global(node)

    def global_rows(self) -> dict[Any, FrozenBitmap]:
        """The global rows computed so far (what a remote shard task needs besides data)."""
        return self._globals

    def fd(self, fid: int) -> FieldDef:
        fd = self._fields.get(fid)
        if fd is None:
            # A field created after this executor took its schema (the calls were lowered
            # against a newer one): its data is simply absent from this snapshot.
            self._fields = self.index.fields_by_id()
            fd = self._fields.get(fid)
            if fd is None:
                raise FieldNotFoundError(f"field {fid} is no longer in index {self.index.name}")
        return fd

    # --- row evaluation ------------------------------------------------------------------------

    def planes(self, fid: int, shard: int) -> Planes:
        frag = self.state.fragment(fid, BSI_VIEW, shard)
        return Planes(frag.rows) if frag is not None else _NO_PLANES

    def row(self, node: P.RowNode, shard: int) -> BaseBitmap:
        """The node's records within one shard."""
        t = type(node)
        if t is P.RowOf:
            assert isinstance(node, P.RowOf)
            if len(node.views) == 1:
                frag = self.state.fragment(node.field, node.views[0], shard)
                return frag.rows.get(node.row, EMPTY) if frag is not None else EMPTY
            parts = []
            for v in node.views:
                frag = self.state.fragment(node.field, v, shard)
                if frag is not None and node.row in frag.rows:
                    parts.append(frag.rows[node.row])
            return _union(parts)
        if t is P.Intersect:
            assert isinstance(node, P.Intersect)
            kids = [self.row(c, shard) for c in node.children]
            kids.sort(key=len)
            acc = kids[0]
            for k in kids[1:]:
                if not acc:
                    break
                acc = acc & k
            return acc
        if t is P.Union_:
            assert isinstance(node, P.Union_)
            return _union([self.row(c, shard) for c in node.children])
        if t is P.Difference:
            assert isinstance(node, P.Difference)
            acc = self.row(node.children[0], shard)
            for c in node.children[1:]:
                if not acc:
                    break
                acc = acc - self.row(c, shard)
            return acc
        if t is P.Xor:
            assert isinstance(node, P.Xor)
            acc = EMPTY
            for c in node.children:
                acc = acc ^ self.row(c, shard)
            return acc
        if t is P.Existence:
            frag = self.state.fragment(EXISTS_ID, STANDARD_VIEW, shard)
            return frag.rows.get(0, EMPTY) if frag is not None else EMPTY
        if t is P.BsiRange:
            assert isinstance(node, P.BsiRange)
            pl = self.planes(node.field, shard)
            if pl.exists is None:
                return EMPTY
            base = self.fd(node.field).options.base
            lo = None if node.lo is None else node.lo - base
            hi = None if node.hi is None else node.hi - base
            return cast(Bitmap, bsi_range(pl.exists, pl.sign, pl.bits, lo, hi))  # an int only with count_only
        if t is P.BsiNotNull:
            assert isinstance(node, P.BsiNotNull)
            frag = self.state.fragment(node.field, BSI_VIEW, shard)
            return frag.rows.get(BSI_EXISTS_ROW, EMPTY) if frag is not None else EMPTY
        if t is P.AnyRow:
            assert isinstance(node, P.AnyRow)
            parts = []
            for v in node.views:
                frag = self.state.fragment(node.field, v, shard)
                if frag is not None:
                    parts.append(frag.any_row())
            return _union(parts)
        if t is P.Empty:
            return EMPTY
        if t is P.ConstRow:
            assert isinstance(node, P.ConstRow)
            lo = shard * SHARD_WIDTH
            cols = FrozenBitmap([c for c in node.columns if lo <= c < lo + SHARD_WIDTH])
            if node.existing_only and cols:
                cols = cols & self.row(P.Existence(), shard)
            return cols
        if t is P.IdRange:
            assert isinstance(node, P.IdRange)
            lo = shard * SHARD_WIDTH
            start = max(node.lo, lo)
            stop = lo + SHARD_WIDTH if node.hi is None else min(node.hi + 1, lo + SHARD_WIDTH)
            if start >= stop:
                return EMPTY
            return self.row(P.Existence(), shard).slice(start, stop)
        if t is P.RowSet:
            assert isinstance(node, P.RowSet)
            return self._row_set(node, shard)
        if t is P.BsiIn:
            assert isinstance(node, P.BsiIn)
            return self._bsi_in(node, shard)
        if t is P.Materialized:
            assert isinstance(node, P.Materialized)
            return node.parts.get(shard, EMPTY)
        if t is P.HostFilter:
            assert isinstance(node, P.HostFilter)
            records = self.row(node.child, shard)
            return node.test(self, shard, records) if records else EMPTY
        if isinstance(node, P.GLOBAL_NODES):
            full = self._global(node)
            lo = shard * SHARD_WIDTH
            return full.slice(lo, lo + SHARD_WIDTH)
        raise QueryExecutionError(f"cannot evaluate {type(node).__name__} as a row")

    def _row_set(self, node: P.RowSet, shard: int) -> BaseBitmap:
        parts: list[BaseBitmap] = []
        for v in node.views:
            frag = self.state.fragment(node.field, v, shard)
            if frag is None:
                continue
            if node.ids is not None and not node.exclude and len(node.ids) < len(frag.rows):
                rows = frag.rows                # the fewer ids: look each one up
                parts.extend(rows[r] for r in node.ids if r in rows and (node.lo is None or r >= node.lo)
                             and (node.hi is None or r <= node.hi))
                continue
            for r, bm in frag.rows.items():
                if (node.ids is None or (r in node.ids) != node.exclude) and (node.lo is None or r >= node.lo) \
                        and (node.hi is None or r <= node.hi):
                    parts.append(bm)
        return _union(parts)

    def _bsi_in(self, node: P.BsiIn, shard: int) -> BaseBitmap:
        pl = self.planes(node.field, shard)
        if pl.exists is None or not node.values:
            return EMPTY
        base = self.fd(node.field).options.base
        runs: list[list[int]] = []
        for v in node.values:
            if runs and runs[-1][1] == v - 1:
                runs[-1][1] = v
            else:
                runs.append([v, v])
            if len(runs) > _MANY_RUNS:
                break
        if len(runs) <= _MANY_RUNS:
            return _union([cast(Bitmap, bsi_range(pl.exists, pl.sign, pl.bits, lo - base, hi - base))
                           for lo, hi in runs])
        cols, neg, mag = bsi_values(pl.exists, pl.sign, pl.bits, None)
        vals = signed(neg, mag)
        lo, hi = node.values[0] - base, node.values[-1] - base
        if vals.dtype != object and hi - lo < _LOOKUP_SPAN and abs(lo) < 1 << 62:
            # a table of the wanted values: one lookup per record (ids of another table
            # are dense: the common case of a semi-join on an INT column)
            span = hi - lo + 1
            table = np.zeros(span + 1, dtype=bool)      # [span]: False, for every value outside
            table[np.array(node.values, dtype=np.int64) - (lo + base)] = True
            # below lo wraps to a huge offset (|lo| < 2^62: never back into the table)
            offsets = (vals - lo).view(np.uint64)
            keep = table[np.minimum(offsets, span)]
        else:
            wanted = np.array([v - base for v in node.values], dtype=vals.dtype)
            keep = np.isin(vals, wanted)
        return FrozenBitmap(cols[keep]) if keep.any() else EMPTY

    def count(self, node: P.RowNode, shard: int) -> int:
        """len(row(node, shard)) without building the final bitmap where possible."""
        t = type(node)
        if t is P.Intersect and len(node.children) == 2:  # type: ignore[union-attr]
            a, b = (self.row(c, shard) for c in node.children)  # type: ignore[union-attr]
            return a.intersection_cardinality(b)
        if t is P.Difference and len(node.children) == 2:  # type: ignore[union-attr]
            a, b = (self.row(c, shard) for c in node.children)  # type: ignore[union-attr]
            return a.difference_cardinality(b)
        if t is P.Union_ and len(node.children) == 2:  # type: ignore[union-attr]
            a, b = (self.row(c, shard) for c in node.children)  # type: ignore[union-attr]
            return a.union_cardinality(b)
        if t is P.BsiRange:
            assert isinstance(node, P.BsiRange)
            pl = self.planes(node.field, shard)
            if pl.exists is None:
                return 0
            base = self.fd(node.field).options.base
            return cast(int, bsi_range(pl.exists, pl.sign, pl.bits, None if node.lo is None else node.lo - base,
                                       None if node.hi is None else node.hi - base, count_only=True))
        return len(self.row(node, shard))

    def filter_row(self, node: Optional[P.RowNode], shard: int) -> Optional[BaseBitmap]:
        """A filter's records in one shard; None when there is no filter."""
        return None if node is None else self.row(node, shard)

    def full_row(self, node: P.RowNode) -> Bitmap:
        return self.run_task(RowTask(node))

    def shard_rows(self, node: P.RowNode) -> dict[int, FrozenBitmap]:
        """The node's records per shard (the non-empty shards only), evaluated once: wrap
        the result in P.Materialized to use it in several calls."""
        return dict(split_by_shard(self.full_row(node).freeze()))

    def _global(self, node: Any) -> FrozenBitmap:
        got = self._globals.get(node)
        if got is not None:
            return got
        if self.remote_side:
            raise QueryExecutionError(f"{type(node).__name__} was not computed before the shard task was sent")
        if isinstance(node, P.Shift):
            res = self.full_row(node.child).shift(node.n).freeze()
        elif isinstance(node, P.Limit):
            full = self.full_row(node.child)
            stop = None if node.limit is None else node.offset + node.limit
            res = full[node.offset:stop].freeze() if len(full) else FrozenBitmap()
        elif isinstance(node, P.DistinctRow):
            values = self.distinct_values(P.Distinct(node.filter, node.field, node.index))
            res = FrozenBitmap([v for v in values if v >= 0])
        elif isinstance(node, P.Deferred):
            res = self.full_row(node.resolve(self)).freeze()
        elif isinstance(node, P.HostFilter):
            child = self.full_row(node.child)
            res = _union([node.test(self, s, part) for s, part in split_by_shard(child)]).freeze()
        elif isinstance(node, P.UnionRows):
            rc = node.rows
            if isinstance(rc, P.TopN):
                ids = [p["id"] if not p["key"] else self.index.row_keys(self.fd(rc.field)).id(p["key"])
                       for p in self._topn(rc).to_json()]
            else:
                ids = self.rows_list(rc)
            res = FrozenBitmap()
            if ids:
                sub = P.Union_(tuple(P.RowOf(rc.field, i, rc.views) for i in ids))
                res = self.full_row(sub).freeze()
        else:  # pragma: no cover - GLOBAL_NODES lists exactly the types above
            raise QueryExecutionError(f"cannot evaluate {type(node).__name__}")
        self._globals[node] = res
        return res

    # --- calls ----------------------------------------------------------------------------------

    def run(self, call: P.CallNode) -> R.Result:
        fn = _DISPATCH.get(type(call))
        if fn is None:
            raise QueryExecutionError(f"{type(call).__name__} cannot be executed here")
        self._prepare_globals(call)
        return fn(self, call)

    def _prepare_globals(self, node: Any) -> None:
        """Evaluate the nodes that need every shard (Shift, Limit, …) up front, and add
        the shards their results reach (a Shift can move records into an empty shard)."""
        for child in _children(node):
            self._prepare_globals(child)
        if isinstance(node, P.GLOBAL_NODES):
            full = self._global(node)
            # Remote backends always send the shards the result reaches: the coordinator's
            # shard list (the placement table) may name a shard whose records were all
            # deleted, which a worker does not visit unless told.
            if full:
                # every shard reached, not only the first and last (a Shift over records
                # in shards 0 and 3 can reach an empty shard 1)
                reached = [s for s, _ in split_by_shard(full)]
                if self.backend is not LOCAL or set(reached) - set(self.scope.shards(self.state.shards())):
                    self.scope = self.scope.widen(reached)

    def _row_call(self, call: P.RowCall) -> R.RowResult:
        cols = self.full_row(call.row).to_numpy().tolist()
        if self.index.definition.options.keys:
            return R.RowResult.of(cols, self.index.column_keys.keys_for(cols))
        return R.RowResult(cols)

    def _count(self, call: P.Count) -> R.Count:
        return R.Count(self.run_task(CountTask(call.row)))

    def _sum(self, call: P.Sum) -> R.ValCount:
        fd = self.fd(call.field)
        if fd.options.type == "float":
            # The encoding orders floats but does not add them: decode, then sum exactly
            # (math.fsum: correctly rounded, independent of order and shard split).
            _, stored = self.bsi_columns_values(call.field, call.filter)
            values = float_decode_array(stored.astype(np.int64), fd.options.bits)
            try:
                total = math.fsum(values.tolist())
            except OverflowError:
                raise QueryExecutionError(f"Sum: the sum of float field {fd.name} overflows a float64",
                                          name="VALUE_OUT_OF_RANGE") from None
            return R.ValCount(total, len(values), "float")

        count, total = self.run_task(BsiSumTask(call.field, call.filter))
        total += count * fd.options.base
        if fd.options.type == "decimal":
            return R.ValCount(Decimal(total).scaleb(-fd.options.scale) if count else Decimal(0), count, "decimal")
        return R.ValCount(total, count)

    def _minmax(self, call: P.MinMax) -> R.ValCount:
        fd = self.fd(call.field)
        best = self.run_task(BsiExtremeTask(call.field, call.filter, call.want_max))
        if best is None:
            return R.ValCount(None, 0)
        return _val_count_of(fd, best[0] + fd.options.base, best[1])

    def _minmax_row(self, call: P.MinMaxRow) -> R.Pair:
        fd = self.fd(call.field)
        counts = self._row_counts(call.field, (STANDARD_VIEW,), call.filter)
        present = sorted(r for r, c in counts.items() if c > 0)
        if not present:
            return R.Pair(0, None, 0)
        row = present[-1] if call.want_max else present[0]
        key = self.index.row_keys(fd).key(row) if fd.options.keys else None
        return R.Pair(row, key, counts[row])

    def _percentile(self, call: P.Percentile) -> R.Result:
        fd = self.fd(call.field)
        vals = self.bsi_value_array(call.field, call.filter)
        if len(vals) == 0:
            return R.Nil()
        if fd.options.base:
            vals = vals + fd.options.base if vals.dtype != object else \
                np.array([int(v) + fd.options.base for v in vals], dtype=object)
        nth = Decimal(call.nth)
        n = len(vals)
        lo_k = int(Decimal(n) * nth / 100)
        hi_k = int(Decimal(n) * (100 - nth) / 100)
        vmin, vmax = int(vals.min()), int(vals.max())
        if hi_k == 0:
            return _val_count_of(fd, vmax, 1)
        if lo_k == 0:
            return _val_count_of(fd, vmin, 1)
        lo, hi = vmin, vmax
        while True:
            # FeatureBase's midpoint, with Go's truncating division and remainder
            mid = _go_div(lo, 2) + _go_div(hi, 2) + _go_div(_go_rem(lo, 2) + _go_rem(hi, 2), 2)
            below = int((vals < mid).sum())
            above = int((vals > mid).sum())
            if below > lo_k:
                hi = mid - 1
            elif above > hi_k:
                lo = mid + 1
            else:
                return _val_count_of(fd, mid, 1)
            if lo > hi:
                return _val_count_of(fd, mid, 1)

    def _field_value(self, call: P.FieldValue) -> R.ValCount:
        fd = self.fd(call.field)
        if call.column is None:
            return R.ValCount(None, 0)
        _, vals = self.run_task(BsiValuesTask(call.field, P.ConstRow((call.column,), False)),
                                   point(call.column >> SHARD_BITS))
        if not len(vals):
            return R.ValCount(None, 0)
        return _val_count_of(fd, int(vals[0]) + fd.options.base, 1)

    def _includes(self, call: P.IncludesColumn) -> R.Bool:
        if call.column is None:
            return R.Bool(False)
        hit = P.Intersect((call.row, P.ConstRow((call.column,), False)))
        return R.Bool(self.run_task(CountTask(hit), point(call.column >> SHARD_BITS)) > 0)

    # --- TopN / Rows -------------------------------------------------------------------------

    def _row_counts(self, fid: int, views: tuple[str, ...], filter: Optional[P.RowNode],
                    ids: Optional[tuple[int, ...]] = None) -> dict[int, int]:
        """Exact count of each row's records (∩ filter), summed over shards."""
        return self.run_task(RowCountsTask(fid, views, filter, ids))

    def _row_count_arrays(self, fid: int, views: tuple[str, ...], filter: Optional[P.RowNode],
                          ids: Optional[tuple[int, ...]] = None) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, counts) as two aligned arrays, rows in no particular order: the exact
        count of each row's records (∩ filter) summed over shards."""
        counts = self._row_counts(fid, views, filter, ids)
        return (np.fromiter(counts.keys(), dtype=np.uint64, count=len(counts)),
                np.fromiter(counts.values(), dtype=np.uint64, count=len(counts)))

    def _topn(self, call: P.TopN) -> R.Pairs:
        fd = self.fd(call.field)
        row_ids, counts = self._row_count_arrays(call.field, call.views, call.filter, call.ids)
        keep = counts >= max(call.threshold, 1)
        if call.n and call.ids is None and not call.tanimoto and np.count_nonzero(keep) > call.n:
            # only rows counted at least as the n-th largest can be in the answer (ties
            # there are ordered by key below): the sort is over about n rows, not all
            nth = np.partition(counts[keep], -call.n)[-call.n]
            keep &= counts >= nth
        items = list(zip(row_ids[keep].tolist(), counts[keep].tolist()))
        if call.tanimoto:
            sizes = self._row_counts(call.field, call.views, None, tuple(r for r, _ in items))
            fsize = len(self.full_row(call.filter)) if call.filter is not None else 0
            items = [(r, c) for r, c in items
                     if c * 100 > call.tanimoto * (sizes.get(r, 0) + fsize - c)]
        keyed = fd.options.keys
        km = self.index.row_keys(fd) if keyed else None
        if keyed:
            assert km is not None
            keyed_items = [(r, c, km.key(r) or "") for r, c in items]
            keyed_items.sort(key=lambda t: (-t[1], t[2]))
            ordered = [(r, c) for r, c, _ in keyed_items]
        else:
            ordered = sorted(items, key=lambda t: (-t[1], t[0]))
        if call.n and call.ids is None:
            ordered = ordered[:call.n]
        return R.Pairs([r for r, _ in ordered], [c for _, c in ordered],
                       [km.key(r) for r, _ in ordered] if km else None)

    def rows_list(self, call: P.RowsCall) -> list[int]:
        """Row ids (ascending) of a Rows call, after previous/column/like/in/limit."""
        fd = self.fd(call.field)
        if call.in_ is not None:
            return list(call.in_)
        if fd.options.is_bsi:
            values = sorted_unique(self.bsi_value_array(call.field, None)).tolist()
            ids = [v + fd.options.base for v in values]
            if call.previous is not None:
                ids = [v for v in ids if v > call.previous]
            return ids[:call.limit] if call.limit is not None else ids
        if call.column_missing:
            return []
        ids = sorted(self.run_task(RowIdsTask(call.field, call.views, call.column),
                                      None if call.column is None else point(call.column >> SHARD_BITS)))
        if call.previous is not None:
            ids = [i for i in ids if i > call.previous]
        if call.like is not None:
            keep = set(self.index.row_keys(fd).like(call.like))
            ids = [i for i in ids if i in keep]
        if call.limit is not None:
            ids = ids[:call.limit]
        return ids

    def _rows(self, call: P.RowsCall) -> R.RowIdentifiers:
        fd = self.fd(call.field)
        ids = self.rows_list(call)
        if fd.options.keys:
            return R.RowIdentifiers.of(ids, self.index.row_keys(fd).keys_for(ids))
        return R.RowIdentifiers(ids)

    # --- BSI values --------------------------------------------------------------------------

    def bsi_value_array(self, fid: int, filter: Optional[P.RowNode]) -> np.ndarray:
        """Stored-minus-base values (int64, or object for huge ranges) of the filtered records."""
        cols, vals = self.bsi_columns_values(fid, filter)
        return vals

    def bsi_columns_values(self, fid: int, filter: Optional[P.RowNode]) -> tuple[np.ndarray, np.ndarray]:
        return self.run_task(BsiValuesTask(fid, filter))

    def row_in(self, node: P.RowNode, shard: int) -> BaseBitmap:
        """The node's records in one shard, wherever the shard is held (`row` reads this
        process's fragments: a worker's call)."""
        if self.backend is LOCAL:
            return self.row(node, shard)
        return self.run_task(RowTask(node), point(shard))

    def bsi_values_in(self, fid: int, cols: FrozenBitmap, shard: int) -> tuple[np.ndarray, np.ndarray]:
        """(records, stored − base values) of a BSI field for the records `cols` of one shard."""
        if self.backend is LOCAL:
            pl = self.planes(fid, shard)
            if pl.exists is None:
                return np.empty(0, np.uint64), np.empty(0, np.int64)
            found, neg, mag = bsi_values(pl.exists, pl.sign, pl.bits, cols)
            return found, signed(neg, mag)
        return self.run_task(BsiValuesTask(fid, P.ConstRow(tuple(cols), False)), point(shard))

    def values_in(self, fid: int, views: tuple[str, ...], cols: FrozenBitmap) -> tuple[np.ndarray, np.ndarray]:
        """(records, rows) of a row field for the records `cols` (IndexState.values_in)."""
        if self.backend is LOCAL:
            return self.state.values_in(fid, views, cols)
        return self.run_task(ValuesInTask(fid, views, FrozenBitmap(cols)),
                             Scope(frozenset(s for s, _ in split_by_shard(FrozenBitmap(cols)))))

    def distinct_values(self, call: P.Distinct) -> list[int]:
        """Distinct row ids (set-like fields) or stored values (BSI fields) in the filter."""
        if call.index is not None and call.index != self.index.name:
            other = self.holder.index(call.index)
            sub = Executor(other, other.snapshot(), holder=self.holder, deadline=self.deadline, cancel=self.cancel,
                           backend=self.backend)
            return sub.distinct_values(P.Distinct(call.filter, call.field, None))
        fd = self.fd(call.field)
        if fd.options.is_bsi:
            base = fd.options.base
            return [v + base for v in sorted_unique(self.bsi_value_array(call.field, call.filter)).tolist()]
        views = tuple(self.state.views(call.field)) if fd.options.type == "time" else (STANDARD_VIEW,)
        counts = self._row_counts(call.field, views, call.filter)
        return sorted(r for r, c in counts.items() if c > 0)

    def _distinct(self, call: P.Distinct) -> R.Result:
        index = self.index if call.index is None else self.holder.index(call.index)
        fd = {f.id: f for f in index.definition.fields.values()}[call.field]
        values = self.distinct_values(call)
        if fd.options.type in ("int", "decimal"):
            if fd.options.type == "decimal":
                return R.SignedRow(sorted(fd.options.from_stored(-v) for v in values if v < 0),
                                   [fd.options.from_stored(v) for v in values if v >= 0])
            ordered = sorted(values)
            return R.SignedRow(sorted(-v for v in ordered if v < 0), [v for v in ordered if v >= 0])
        if fd.options.type == "timestamp":
            return R.DistinctValues([R.rfc3339(fd.options.from_stored(v)) for v in values])
        if fd.options.type == "float":
            return R.DistinctValues([fd.options.from_stored(v) for v in values])
        if fd.options.keys:
            return R.DistinctRows(values, index.row_keys(fd).keys_for(values))
        return R.DistinctRows(values)

    def _count_distinct(self, call: P.CountDistinct) -> R.Count:
        if call.index is None and self.fd(call.field).options.is_bsi:
            return R.Count(len(sorted_unique(self.bsi_value_array(call.field, call.filter))))
        return R.Count(len(self.distinct_values(P.Distinct(call.filter, call.field, call.index))))

    # --- GroupBy --------------------------------------------------------------------------------

    def _groupby(self, call: P.GroupBy) -> R.GroupCounts:
        from engine.groupby import run_groupby

        return run_groupby(self, call)

    # --- Sort / Extract -------------------------------------------------------------------------

    def sorted_columns(self, call: P.SortRows) -> list[int]:
        fd = self.fd(call.field)
        cols = self.full_row(call.filter).to_numpy()
        if fd.options.is_bsi:
            vcols, vals = self.bsi_columns_values(call.field, call.filter)
            keyed_vals = dict(zip(vcols.tolist(), vals.tolist()))
        else:
            keyed_vals = {}
            for r in self.rows_list(P.RowsCall(call.field)):
                for c in (self.full_row(P.RowOf(call.field, r)) & Bitmap(cols)).to_numpy().tolist():
                    keyed_vals[c] = r
        with_value = [c for c in cols.tolist() if c in keyed_vals]
        without = [c for c in cols.tolist() if c not in keyed_vals]
        with_value.sort(key=lambda c: (-keyed_vals[c], c) if call.desc else (keyed_vals[c], c))
        ordered = with_value + without
        stop = None if call.limit is None else call.offset + call.limit
        return ordered[call.offset:stop]

    def _sort(self, call: P.SortRows) -> R.RowResult:
        cols = self.sorted_columns(call)
        if self.index.definition.options.keys:
            return R.RowResult.of(cols, self.index.column_keys.keys_for(cols))
        return R.RowResult(cols)

    def _extract(self, call: P.Extract) -> R.ExtractedTable:
        from engine.extract import run_extract

        return run_extract(self, call)

    def _options(self, call: P.Options) -> R.Result:
        sub = Executor(self.index, self.state, holder=self.holder, deadline=self.deadline, cancel=self.cancel,
                       backend=self.backend)
        if call.shards is not None:
            sub.scope = Scope(frozenset(call.shards))
        return sub.run(call.call)


def _children(node: Any) -> list[Any]:
    """The plan nodes directly inside node (row children, filters, nested calls)."""
    out = list(getattr(node, "children", ()) or ())
    for name in ("child", "row", "filter", "call"):
        v = getattr(node, name, None)
        if v is not None and not isinstance(v, (int, str)):
            out.append(v)
    rows = getattr(node, "rows", None)
    if isinstance(rows, tuple):
        out.extend(r for r in rows if not isinstance(r, int))
    agg = getattr(node, "aggregate", None)
    if agg is not None:
        out.append(agg)
    return out


def _union(parts: Sequence[BaseBitmap]) -> BaseBitmap:
    parts = [p for p in parts if p]
    if not parts:
        return EMPTY
    if len(parts) == 1:
        return parts[0]
    return FrozenBitmap.union(*parts)


def _val_count_of(fd: FieldDef, stored: int, count: int) -> R.ValCount:
    opts = fd.options
    if opts.type == "decimal":
        return R.ValCount(Decimal(stored).scaleb(-opts.scale), count, "decimal")
    if opts.type == "timestamp":
        return R.ValCount(opts.from_stored(stored), count, "timestamp")
    if opts.type == "float":
        return R.ValCount(opts.from_stored(stored), count, "float")
    return R.ValCount(stored, count)


def _go_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _go_rem(a: int, b: int) -> int:
    return a - b * _go_div(a, b)


_DISPATCH: dict[type, Callable[[Executor, Any], R.Result]] = {
    P.RowCall: Executor._row_call,
    P.Count: Executor._count,
    P.CountDistinct: Executor._count_distinct,
    P.Sum: Executor._sum,
    P.MinMax: Executor._minmax,
    P.MinMaxRow: Executor._minmax_row,
    P.Percentile: Executor._percentile,
    P.FieldValue: Executor._field_value,
    P.IncludesColumn: Executor._includes,
    P.TopN: Executor._topn,
    P.RowsCall: Executor._rows,
    P.GroupBy: Executor._groupby,
    P.SortRows: Executor._sort,
    P.Distinct: Executor._distinct,
    P.Extract: Executor._extract,
    P.Options: Executor._options,
}

