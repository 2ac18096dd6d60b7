"""GroupBy: counts (and aggregates) for every combination of the children's rows.

Per shard, the common two-child case whose first child holds at most one row per record
(mutex, bool) runs as one GIL-free pass (group_pairs): chunk by chunk, each record's
first-child row becomes a code in a cache-resident array and every row of the second child
is walked once, counting codes — no bitmap per combination. Other shapes intersect recursively, with the
last level counted by intersect_counts.

Bounds: the deadline and cancel flag are checked at every combination of the recursive
walk and inside the kernels (Executor.interrupt); a GroupBy that would hold more than the
holder's `max_groups` groups (default DEFAULT_MAX_GROUPS, counted before having/limit,
which need them all) stops with QueryLimitError (ResourceLimitExceeded); and the pair
kernel's count matrix is used only up to MAX_PAIR_CELLS cells.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Optional

import numpy as np

from engine import plan as P
from engine import results as R
from engine.errors import QueryExecutionError, QueryLimitError
from engine.schema import STANDARD_VIEW
from engine.shardexec import ShardTask
from engine.state import EMPTY
from ext import BaseBitmap, bsi_sum, bsi_values, group_pairs, intersect_counts


DEFAULT_MAX_GROUPS = 1_000_000
MAX_PAIR_CELLS = 1 << 24          # group_pairs' uint64 matrix: 128 MiB per shard at most
_CHECK_EVERY = 4096               # groups built between deadline checks


def max_groups(ex: Any) -> int:
    return getattr(ex.index.holder, "max_groups", DEFAULT_MAX_GROUPS)


def _too_many(cap: int) -> QueryLimitError:
    return QueryLimitError(f"GroupBy: more than {cap:,} groups (the max_groups limit); narrow it with a "
                           f"filter or fewer Rows, or page with previous=")


class _Child:
    """One Rows(…) child: its candidate rows (ids or BSI values), in output order."""

    def __init__(self, ex: Any, rc: P.RowsCall) -> None:
        self.rc = rc
        self.fd = ex.fd(rc.field)
        plain = P.RowsCall(rc.field, rc.views, None, rc.limit, rc.column, rc.like, rc.in_, rc.column_missing)
        self.ids = ex.rows_list(plain)
        self.previous = rc.previous
        self.bsi = self.fd.options.is_bsi
        self.single_valued = self.fd.options.type in ("mutex", "bool") or self.bsi

    def node(self, i: int) -> P.RowNode:
        if self.bsi:
            return P.BsiRange(self.rc.field, self.ids[i], self.ids[i])
        return P.RowOf(self.rc.field, self.ids[i], self.rc.views)

    def labels(self, ex: Any) -> tuple[str, list[Any]]:
        """(the key name used in a group entry, its value for each candidate row)."""
        opts = self.fd.options
        if self.bsi:
            if opts.type == "timestamp":
                return "value", [R.rfc3339(opts.from_stored(v)) for v in self.ids]
            return "value", list(self.ids)
        if opts.keys:
            return "rowKey", ex.index.row_keys(self.fd).keys_for(self.ids)
        return "rowID", list(self.ids)


def group_counts(ex: Any, call: P.GroupBy) -> tuple[list["_Child"], dict[tuple[int, ...], list[Any]]]:
    """The merged per-group partial results, keyed by each child's candidate index: the
    part both result shapes (PQL's group dicts, SQL's rows) share."""
    children = [_Child(ex, rc) for rc in call.rows]
    return children, _merged_counts(ex, call, children)


def run_groupby(ex: Any, call: P.GroupBy) -> R.GroupCounts:
    children, merged = group_counts(ex, call)
    return R.GroupCounts(_groups_out(ex, call, children, merged))


def _merged_counts(ex: Any, call: P.GroupBy, children: list["_Child"]) -> dict[tuple[int, ...], list[Any]]:
    cap = max_groups(ex)
    pairs = call.aggregate is None and len(children) == 2 and children[0].single_valued and not children[0].bsi \
        and (len(children[0].ids) + 1) * len(children[1].ids) <= MAX_PAIR_CELLS
    levels = tuple((c.rc.field, c.rc.views, c.bsi, tuple(c.ids)) for c in children)
    merged, total = ex.run_task(GroupByTask(levels, call.filter, call.aggregate, pairs, cap))
    if total is not None:
        if np.count_nonzero(total) > cap:
            raise _too_many(cap)
        js, i0s = total.nonzero()
        for j, i0, n in zip(js.tolist(), i0s.tolist(), total[js, i0s].tolist()):
            merged[(i0, j)] = [n]
    return merged


Groups = dict[tuple[int, ...], list[Any]]


@dataclass(slots=True)
class GroupByTask(ShardTask):
    """Per shard: the groups' counts (and aggregate partials), keyed by each level's
    candidate index — or, in the pair case, group_pairs' count matrix. Combined by adding
    counts and sums, uniting distinct-value sets and adding matrices."""

    levels: tuple[tuple[int, tuple[str, ...], bool, tuple[int, ...]], ...]   # (field, views, bsi, ids)
    filter: Optional[P.RowNode]
    aggregate: Optional[P.Aggregate]
    pairs: bool
    cap: int

    def _bitmaps(self, ex: Any, level: int, shard: int) -> list[BaseBitmap]:
        """Each candidate row's records within one shard, in candidate order (as
        _Child.bitmaps: straight from the fragment when one view holds them)."""
        field, views, bsi, ids = self.levels[level]
        if not bsi and len(views) == 1:
            frag = ex.state.fragment(field, views[0], shard)
            rows = frag.rows if frag is not None else {}
            return [rows.get(i, EMPTY) for i in ids]
        return [ex.row(P.BsiRange(field, i, i) if bsi else P.RowOf(field, i, views), shard) for i in ids]

    def shard(self, ex: Any, shard: int) -> tuple[Groups, Optional[np.ndarray]]:
        agg = self.aggregate
        f = ex.filter_row(self.filter, shard)
        out: Groups = {}
        if f is not None and not f:
            return out, None
        bitmaps = [self._bitmaps(ex, n, shard) for n in range(len(self.levels))]
        if any(not any(bm for bm in level) for level in bitmaps):
            return out, None
        if self.pairs:
            # counts[j, i0]: summed over shards as matrices, turned into groups once
            return out, group_pairs(bitmaps[0], bitmaps[1], f, ex.interrupt)
        agg_fd = ex.fd(agg.field) if agg is not None else None
        agg_filter = ex.filter_row(agg.filter, shard) if agg is not None and agg.filter is not None else None
        _recurse(ex, shard, len(self.levels), bitmaps, 0, f, (), out, agg, agg_fd, agg_filter, self.cap)
        return out, None

    def combine(self, parts: list[tuple[Groups, Optional[np.ndarray]]]) -> tuple[Groups, Optional[np.ndarray]]:
        merged: Groups = {}
        total: Optional[np.ndarray] = None
        for res, matrix in parts:
            if matrix is not None:
                total = matrix if total is None else total + matrix
            for key, vals in res.items():
                cur = merged.get(key)
                if cur is None:
                    if len(merged) >= self.cap:
                        raise _too_many(self.cap)
                    merged[key] = vals
                else:
                    cur[0] += vals[0]
                    if len(vals) > 1:
                        if isinstance(vals[1], set):
                            cur[1] |= vals[1]
                        else:
                            cur[1] += vals[1]
        return merged, total


def _groups_out(ex: Any, call: P.GroupBy, children: list["_Child"],
                merged: dict[tuple[int, ...], list[Any]]) -> list[dict[str, Any]]:
    agg = call.aggregate
    agg_fd = ex.fd(agg.field) if agg is not None else None
    labels = [(c.fd.name,) + c.labels(ex) for c in children]
    # One {"field", rowKey/rowID/value} entry per child row, shared by every group that
    # holds that row (results are read, never changed in place): thousands of groups
    # then cost a list of references each.
    entries: list[dict[int, dict[str, Any]]] = [{} for _ in children]

    def entry(level: int, k: int) -> dict[str, Any]:
        e = entries[level].get(k)
        if e is None:
            name, kind, values = labels[level]
            e = entries[level][k] = {"field": name, kind: values[k]}
        return e

    paging = any(c.previous is not None for c in children)
    groups = []
    for n, key in enumerate(sorted(merged)):
        if n % _CHECK_EVERY == 0:
            ex.check_deadline()
        vals = merged[key]
        if paging and _before_previous(children, key):
            continue
        g: dict[str, Any] = {"group": [entry(level, k) for level, k in enumerate(key)], "count": vals[0]}
        if agg is not None and agg_fd is not None:
            if agg.kind == "sum":
                if vals[0] == 0:
                    continue                      # FeatureBase drops all-null groups
                total = vals[1]
                g["sum"] = Decimal(total).scaleb(-agg_fd.options.scale) if agg_fd.options.type == "decimal" \
                    else total
            else:
                g["aggregate"] = len(vals[1])
        groups.append(g)
    if call.having is not None:
        groups = [g for g in groups if _having(call.having, g)]
    for subject, desc in reversed(call.sort):
        keyname = "count" if subject == "count" else ("sum" if subject == "sum" else "aggregate")
        if any(keyname not in g for g in groups):
            raise QueryExecutionError(f"GroupBy: cannot sort by {subject} without that aggregate")
        groups.sort(key=lambda g: g[keyname], reverse=desc)
    stop = None if call.limit is None else call.offset + call.limit
    return groups[call.offset:stop]


def _recurse(ex: Any, shard: int, depth: int, bitmaps: list[list[BaseBitmap]], level: int,
             prefix: Optional[BaseBitmap], key: tuple[int, ...], out: dict[tuple[int, ...], list[Any]],
             agg: Optional[P.Aggregate], agg_fd: Any, agg_filter: Optional[BaseBitmap], cap: int) -> None:
    rows = bitmaps[level]
    if level == depth - 1 and agg is None:
        counts = intersect_counts(rows, prefix, ex.interrupt)
        hits = counts.nonzero()[0].tolist()
        if len(out) + len(hits) > cap:
            raise _too_many(cap)
        for i in hits:
            out[key + (i,)] = [int(counts[i])]
        return
    for i, bm in enumerate(rows):
        # One combination's work is bounded (an intersection, or one kernel call that
        # polls by itself), so checking here bounds how long a stop takes.
        ex.check_deadline()
        if not bm:
            continue
        group = bm if prefix is None else prefix & bm
        if not group:
            continue
        if level < depth - 1:
            _recurse(ex, shard, depth, bitmaps, level + 1, group, key + (i,), out, agg, agg_fd, agg_filter, cap)
            continue
        assert agg is not None
        if len(out) >= cap:
            raise _too_many(cap)
        target = group if agg_filter is None else group & agg_filter
        if agg.kind == "sum":
            pl = ex.planes(agg.field, shard)
            cnt, total = (0, 0) if pl.exists is None else bsi_sum(pl.exists, pl.sign, pl.bits, target)
            out[key + (i,)] = [cnt, total + cnt * agg_fd.options.base]
        else:
            out[key + (i,)] = [len(group), _distinct_in(ex, agg, agg_fd, shard, target)]


def _distinct_in(ex: Any, agg: P.Aggregate, fd: Any, shard: int, target: BaseBitmap) -> set[int]:
    if fd.options.is_bsi:
        pl = ex.planes(agg.field, shard)
        if pl.exists is None:
            return set()
        _, neg, mag = bsi_values(pl.exists, pl.sign, pl.bits, target)
        return {(-m if n else m) for n, m in zip(neg.tolist(), mag.tolist())}
    frag = ex.state.fragment(agg.field, STANDARD_VIEW, shard)
    if frag is None:
        return set()
    ids = list(frag.rows)
    counts = intersect_counts([frag.rows[r] for r in ids], target, ex.interrupt)
    return {ids[i] for i in counts.nonzero()[0].tolist()}


def _before_previous(children: list[_Child], key: tuple[int, ...]) -> bool:
    """Pagination: drop groups at or before the one named by the children's previous=."""
    if all(c.previous is None for c in children):
        return False
    mine = tuple(c.ids[k] for c, k in zip(children, key))
    prev = tuple(c.previous if c.previous is not None else (c.ids[0] if c.ids else 0) for c in children)
    return mine <= prev


def _having(h: P.Having, g: dict[str, Any]) -> bool:
    v = g.get(h.subject)
    if v is None:
        raise QueryExecutionError(f"GroupBy: having on {h.subject} needs that value")
    if h.lo is not None and (v < h.lo or (v == h.lo and not h.lo_inclusive)):
        return False
    if h.hi is not None and (v > h.hi or (v == h.hi and not h.hi_inclusive)):
        return False
    return True
