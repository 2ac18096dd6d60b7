"""Runs an SQL plan (engine/sql/plan.py): every operator yields its rows in batches, and
checks the statement's deadline and cancel event before each batch, group or shard."""
from __future__ import annotations

import math
from decimal import Decimal
from operator import itemgetter
from typing import Any, Callable, Iterator, Optional

import numpy as np

from engine import plan as P
from engine.executor import LOCAL
from engine.groupby import group_counts
from engine.schema import STANDARD_VIEW
from engine.sql import plan as N
from engine.sql.aggregates import Accumulator, from_bitmaps
from engine.sql.context import Context, row_bytes
from engine.sql.fetch import BATCH_ROWS, fetch, shard_batches
from engine.sql.lower import Lowerer
from engine.state import SHARD_BITS
from ext import FrozenBitmap

Batch = list[tuple[Any, ...]]


def rows(node: N.Node, ctx: Context) -> Iterator[Batch]:
    """The node's rows, in batches of up to BATCH_ROWS."""
    return _RUNNERS[type(node)](node, ctx)


def all_rows(node: N.Node, ctx: Context) -> list[tuple[Any, ...]]:
    return [r for b in rows(node, ctx) for r in b]


def _values(node: N.Values, ctx: Context) -> Iterator[Batch]:
    if node.rows:
        yield list(node.rows)


def _scan(node: N.Scan, ctx: Context) -> Iterator[Batch]:
    table = node.table
    ex = table.ex
    ex._prepare_globals(node.filter)
    fds = node.fds
    for records in _scan_rows(node.filter, ex, ctx):
        for ids in shard_batches(records.to_numpy()):
            ctx.check()
            if not fds:
                yield [()] * len(ids)
                continue
            values = fetch(table, fds, ids)
            yield list(zip(*values))


def _scan_rows(filter: Any, ex: Any, ctx: Context) -> Iterator[FrozenBitmap]:
    """The filter's records, a shard at a time; on a cluster (the workers hold the
    fragments) all at once through them."""
    if ex.backend is not LOCAL:
        yield ex.full_row(filter)
        return
    for shard in list(ex.shards):
        ctx.check()
        records = ex.row(filter, shard)
        if records:
            yield records


def _bitmap_aggregate(node: N.BitmapAggregate, ctx: Context) -> Iterator[Batch]:
    # COUNT(*) alone (the common case) needs no lowerer: not made, to keep it cheap
    lowerer = None if all(a.star for a in node.aggs) else _lowerer(node.table)
    out = []
    for agg, f in zip(node.aggs, node.filters):
        ctx.check()
        filt = node.filter if f is None else P.Intersect((node.filter, f))
        out.append(from_bitmaps(agg, node.table, filt, lowerer))
    yield [tuple(out)]


def _lowerer(table: Any) -> Lowerer:
    return Lowerer(table, [])


# --- GROUP BY on the bitmaps ---------------------------------------------------------------------

def _bitmap_groupby(node: N.BitmapGroupBy, ctx: Context) -> Iterator[Batch]:
    table, ex = node.table, node.table.ex
    filt: P.RowNode = node.filter
    filtered = not isinstance(filt, P.Existence)
    if filtered:
        # WHERE is evaluated once, per shard; every call below reads the result
        filt = P.Materialized(ex.shard_rows(filt), "WHERE")
    ctx.check()
    lowerer = _lowerer(table)
    fds = [k.fd for k in node.keys]
    simple = [a for a, f in zip(node.aggs, node.filters) if a.star and f is None]
    need_nodes = len(simple) < len(node.aggs)
    groups = _key_groups(table, fds, filt, filt if filtered else None, (), need_nodes)
    for part, nulls, _n in _null_parts(table, node.keys, filt, lowerer):
        ctx.check()
        groups += _key_groups(table, fds, part, part, nulls, need_nodes)
    ctx.count_groups(len(groups))
    groups.sort(key=itemgetter(0))              # key order, a NULL after the values
    flat = [k.flatten for k in node.keys]
    batch: Batch = []
    if not need_nodes and not any(flat):        # plain keys, COUNT(*) only: no per-group work
        width = len(node.aggs)
        for i in range(0, len(groups), BATCH_ROWS):
            ctx.check()
            yield [g[1] + (g[2],) * width for g in groups[i:i + BATCH_ROWS]]
        return
    for _sort, values, count, gnode in groups:
        ctx.check()
        keys = tuple([v] if f and v is not None else v for v, f in zip(values, flat))
        aggs = []
        for agg, f in zip(node.aggs, node.filters):
            if agg.star and f is None:
                aggs.append(count)
            else:
                sub = gnode if f is None else P.Intersect((gnode, f))
                aggs.append(from_bitmaps(agg, table, sub, lowerer))
        batch.append(keys + tuple(aggs))
        if len(batch) >= BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


_NULL_LAST = 1 << 70        # the sort key of a NULL key: after every value (candidate indexes)


def _key_groups(table: Any, fds: list[Any], filt: P.RowNode, call_filter: Optional[P.RowNode],
                nulls: tuple[int, ...], need_nodes: bool) -> list[tuple[Any, ...]]:
    """(sort key, key values, count, records node) of the groups of the records in filt
    that have a value in every key column but those at positions `nulls` (NULL there)."""
    ex = table.ex
    rest = [i for i in range(len(fds)) if i not in nulls]
    if not rest:
        n = ex.run(P.Count(filt)).n
        return [((_NULL_LAST,) * len(fds), (None,) * len(fds), n, filt)] if n else []
    call = P.GroupBy(tuple(P.RowsCall(fds[i].id, _views(table, fds[i])) for i in rest), call_filter)
    children, merged = group_counts(ex, call)
    labels = [_labels(table, fds[i], child.ids) for i, child in zip(rest, children)]
    out: list[tuple[Any, ...]] = []
    if not nulls and not need_nodes:
        for n, (key, vals) in enumerate(merged.items()):
            if n % 4096 == 0:
                ex.check_deadline()
            out.append((key, tuple([lab[k] for lab, k in zip(labels, key)]), vals[0], None))
        return out
    for n, key in enumerate(merged):
        if n % 4096 == 0:
            ex.check_deadline()
        full: list[int] = [_NULL_LAST] * len(fds)
        values: list[Any] = [None] * len(fds)
        for i, lab, k in zip(rest, labels, key):
            full[i], values[i] = k, lab[k]
        node = P.Intersect((filt,) + tuple(child.node(k) for child, k in zip(children, key))) \
            if need_nodes else None
        out.append((tuple(full), tuple(values), merged[key][0], node))
    return out


def _views(table: Any, fd: Any) -> tuple[str, ...]:
    if fd.options.type == "time":
        return tuple(table.state.views(fd.id)) or (STANDARD_VIEW,)
    return (STANDARD_VIEW,)


def _null_parts(table: Any, keys: list[Any], filt: P.RowNode,
                lowerer: Lowerer) -> list[tuple[P.RowNode, tuple[int, ...], int]]:
    """The records of filt lacking a value in some non-set key column, split by which
    ones: (records node, positions of the missing columns, count) per non-empty part."""
    ex = table.ex
    total = ex.run(P.Count(filt)).n
    parts: list[tuple[P.RowNode, tuple[int, ...], int]] = [(filt, (), total)] if total else []
    for i, col in enumerate(keys):
        if col.flatten:
            continue                            # a record without members is in no group
        has = lowerer.not_null(col)
        split: list[tuple[P.RowNode, tuple[int, ...], int]] = []
        for node, nulls, n in parts:
            lacking = P.Difference((node, has))
            m = ex.run(P.Count(lacking)).n
            if m:
                split.append((lacking, nulls + (i,), m))
            if n - m:
                split.append((P.Intersect((node, has)) if m else node, nulls, n - m))
        parts = split
    return [p for p in parts if p[1]]


def _labels(table: Any, fd: Any, ids: list[int]) -> list[Any]:
    """SQL values of a GROUP BY column's candidate rows (ids, or stored BSI values)."""
    opts = fd.options
    if opts.is_bsi:
        return [opts.from_stored(v) for v in ids] if opts.type != "int" else list(ids)
    if opts.keys:
        return table.index.row_keys(fd).keys_for(ids)
    if opts.type == "bool":
        return [bool(i) for i in ids]
    return list(ids)


def _topn(node: N.TopNGroups, ctx: Context) -> Iterator[Batch]:
    table, ex = node.table, node.table.ex
    key = node.key
    assert key is not None and key.fd is not None
    fd = key.fd
    ctx.check()
    pairs = ex.run(P.TopN(fd.id, node.filter if node.filtered else None, node.limit + node.offset))
    if fd.options.keys:                         # a row without a key: "", as in TopN's JSON
        labels: list[Any] = ["" if k is None else k for k in pairs.keys or [None] * len(pairs.ids)]
    else:
        labels = pairs.ids
    groups: list[tuple[int, int, Any]] = [(-c, 1, label) for c, label in zip(pairs.counts, labels)]
    if not key.flatten:                         # the NULL group: first among equal counts when
        lowerer = _lowerer(table)               # c ASC sorts it, else last
        n = ex.run(P.Count(P.Difference((node.filter, lowerer.not_null(key))))).n
        if n:
            groups.append((-n, 0 if node.key_order else 2, None))
    groups.sort(key=lambda g: g[:2])            # stable: TopN's order within equal counts
    out = []
    for g in groups[node.offset:node.offset + node.limit]:
        label = g[2]
        if key.flatten and label is not None:
            label = [label]
        out.append(tuple(-g[0] if k == "count" else label for k in node.kinds))
    yield out


# --- row operators -------------------------------------------------------------------------------

def _filter(node: N.Filter, ctx: Context) -> Iterator[Batch]:
    assert node.child is not None and node.pred is not None
    pred = node.pred.fn
    for batch in rows(node.child, ctx):
        ctx.check()
        kept = [r for r in batch if pred(r) is True]
        if kept:
            yield kept


BATCH_TEXT = 16 << 20     # characters of string values in one batch: more starts a new batch


def _project(node: N.Project, ctx: Context) -> Iterator[Batch]:
    """The expressions over each row; a batch of long strings is cut short, so rows built
    with REPLICATE and the like stream instead of piling up."""
    assert node.child is not None
    fns = [e.fn for e in node.exprs]
    slots = [e.slot for e in node.exprs]
    if all(s is not None for s in slots):
        # plain columns: a slot picker, no per-value calls; no text budget either, the
        # strings are the child's (only computed strings can grow a batch)
        get = itemgetter(*slots)
        single = len(slots) == 1
        for batch in rows(node.child, ctx):
            ctx.check()
            yield [(get(r),) for r in batch] if single else [get(r) for r in batch]
        return
    for batch in rows(node.child, ctx):
        ctx.check()
        out: Batch = []
        text = 0
        for r in batch:
            row = tuple(f(r) for f in fns)
            out.append(row)
            text += sum(len(v) for v in row if type(v) is str)
            if text > BATCH_TEXT:
                yield out
                ctx.check()
                out, text = [], 0
        if out:
            yield out


def _flatten(node: N.Flatten, ctx: Context) -> Iterator[Batch]:
    assert node.child is not None
    slot = node.slot
    for batch in rows(node.child, ctx):
        ctx.check()
        out = []
        for r in batch:
            members = r[slot]
            if members:
                for m in members:
                    out.append(r[:slot] + ([m],) + r[slot + 1:])
        if out:
            yield out


def _aggregate(node: N.Aggregate, ctx: Context) -> Iterator[Batch]:
    assert node.child is not None
    keys = [k.fn for k in node.keys]
    norms = [_norm for _ in keys]
    groups: dict[tuple[Any, ...], tuple[tuple[Any, ...], list[Accumulator]]] = {}
    held = 0
    for batch in rows(node.child, ctx):
        ctx.check()
        for r in batch:
            kv = tuple(f(r) for f in keys)
            nk = tuple(n(v) for n, v in zip(norms, kv))
            g = groups.get(nk)
            if g is None:
                g = groups[nk] = (kv, [Accumulator(a) for a in node.aggs])
                ctx.count_groups(len(groups))
                size = row_bytes(kv) + 64 * (1 + len(node.aggs))
                held += size
                ctx.hold(size, "GROUP BY")
            grew = 0
            for acc in g[1]:
                grew += acc.add(r)
            if grew:
                held += grew
                ctx.hold(grew, "an aggregate")
    if not keys and not groups:
        groups[()] = ((), [Accumulator(a) for a in node.aggs])
    ordered = sorted(groups.values(), key=lambda g: tuple(_group_key(v) for v in g[0])) if keys else \
        list(groups.values())
    out: Batch = []
    for kv, accs in ordered:
        ctx.check()
        out.append(kv + tuple(a.result() for a in accs))
        if len(out) >= BATCH_ROWS:
            yield out
            out = []
    ctx.release(held)
    if out:
        yield out


def _group_key(v: Any) -> tuple[int, Any]:
    """Groups come in key order, a NULL key after the values."""
    k = _sort_key(v)
    return (2, 0) if k[0] == 0 else k


def _norm(v: Any) -> Any:
    return frozenset(v) if isinstance(v, list) else v


def _sort(node: N.Sort, ctx: Context) -> Iterator[Batch]:
    assert node.child is not None
    held = 0
    data: list[tuple[Any, ...]] = []
    for batch in rows(node.child, ctx):
        ctx.check()
        size = sum(row_bytes(r) for r in batch)
        held += size
        ctx.hold(size, "ORDER BY")
        data.extend(batch)
    for slot, desc in reversed(node.keys):
        data.sort(key=lambda r: _sort_key(r[slot]), reverse=desc)
    ctx.release(held)
    for i in range(0, len(data), BATCH_ROWS):
        yield data[i:i + BATCH_ROWS]


def _sort_key(v: Any) -> tuple[int, Any]:
    """NULLs sort first ascending (last descending), as in FeatureBase; a set by its members."""
    if v is None:
        return (0, 0)
    if isinstance(v, (list, frozenset)):
        return (1, tuple(sorted(v, key=_member_key)))
    return (1, v)


def _member_key(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, int) else (1, str(v))


def _limit(node: N.Limit, ctx: Context) -> Iterator[Batch]:
    assert node.child is not None
    skip, left = node.offset, node.limit
    if left == 0:
        return
    for batch in rows(node.child, ctx):
        if skip:
            if skip >= len(batch):
                skip -= len(batch)
                continue
            batch, skip = batch[skip:], 0
        if left is not None:
            batch = batch[:left]
            left -= len(batch)
        if batch:
            yield batch
        if left is not None and left <= 0:
            return


def _distinct(node: N.Distinct, ctx: Context) -> Iterator[Batch]:
    assert node.child is not None
    seen: set[tuple[Any, ...]] = set()
    held = 0
    for batch in rows(node.child, ctx):
        ctx.check()
        out = []
        for r in batch:
            k = tuple(_norm(v) for v in r)
            if k not in seen:
                seen.add(k)
                size = row_bytes(r)
                held += size
                ctx.hold(size, "DISTINCT")
                out.append(r)
        if out:
            yield out
    ctx.release(held)


def _hash_join(node: N.HashJoin, ctx: Context) -> Iterator[Batch]:
    assert node.left is not None and node.right is not None
    rkeys = [k.fn for k in node.right_keys]
    lkeys = [k.fn for k in node.left_keys]
    table: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    held = 0
    for batch in rows(node.right, ctx):
        ctx.check()
        for r in batch:
            k = tuple(_norm(f(r)) for f in rkeys)
            if None in k:
                continue                        # NULL never equals anything
            table.setdefault(k, []).append(r)
            size = row_bytes(r)
            held += size
            ctx.hold(size, "the join")
    width = len(node.right.cols)
    nulls = (None,) * width
    residual = node.residual.fn if node.residual is not None else None
    left_join = node.kind == "left"
    try:
        for batch in rows(node.left, ctx):
            ctx.check()
            out = []
            for r in batch:
                k = tuple(_norm(f(r)) for f in lkeys)
                matched = False
                if None not in k:
                    for s in table.get(k, ()):
                        joined = r + s
                        if residual is None or residual(joined) is True:
                            out.append(joined)
                            matched = True
                if left_join and not matched:
                    out.append(r + nulls)
                if len(out) >= BATCH_ROWS:
                    yield out
                    out = []
            if out:
                yield out
    finally:
        ctx.release(held)


def _lookup_join(node: N.LookupJoin, ctx: Context) -> Iterator[Batch]:
    assert node.stream is not None and node.table is not None and node.key is not None
    scan = node.table
    table, ex = scan.table, scan.table.ex
    ex._prepare_globals(scan.filter)
    passing: dict[int, FrozenBitmap] = {}           # per shard: the records the filter keeps
    key = node.key.fn
    residual = node.residual.fn if node.residual is not None else None
    nulls = (None,) * len(scan.cols)
    keep_unmatched = node.kind == "left"
    first = node.table_left
    record_of = _record_of(table)
    for batch in rows(node.stream, ctx):
        ctx.check()
        records = [record_of(key(r)) for r in batch]
        found = _read_by_id(table, ex, scan, passing, records, ctx)
        out = []
        for r, c in zip(batch, records):
            s = found.get(c) if c is not None else None
            if s is not None:
                joined = s + r if first else r + s
                if residual is None or residual(joined) is True:
                    out.append(joined)
                    continue
            if keep_unmatched:
                out.append(r + nulls)
        if out:
            yield out


def _record_of(table: Any) -> Callable[[Any], Optional[int]]:
    """The record id a join key names in `table` (None: no record can have it): a key of a
    keyed table, else an integral number (an ID equals a DECIMAL or FLOAT of its value)."""
    if table.keyed:
        ids = table.index.column_keys
        return lambda k: ids.id(k) if type(k) is str else None

    def record(k: Any) -> Optional[int]:
        if type(k) is int:
            return k if 0 <= k < 1 << 64 else None
        if isinstance(k, Decimal):
            finite = k.is_finite()
        elif isinstance(k, float):
            finite = math.isfinite(k)
        else:
            return None
        return record(int(k)) if finite and k == int(k) else None
    return record


def _read_by_id(table: Any, ex: Any, scan: N.Scan, passing: dict[int, FrozenBitmap],
                records: list[Optional[int]], ctx: Context) -> dict[int, tuple[Any, ...]]:
    """record id -> its row (the scan's columns), for the records the scan's filter passes."""
    wanted = sorted({c for c in records if c is not None})
    found: dict[int, tuple[Any, ...]] = {}
    if not wanted:
        return found
    for part in shard_batches(np.array(wanted, dtype=np.uint64)):
        shard = int(part[0]) >> SHARD_BITS
        ok = passing.get(shard)
        if ok is None:
            ctx.check()
            ok = passing[shard] = ex.row_in(scan.filter, shard)
        hits = (FrozenBitmap(part) & ok).to_numpy()
        if not len(hits):
            continue
        values = fetch(table, scan.fds, hits)
        found.update(zip(hits.tolist(), zip(*values) if scan.fds else [()] * len(hits)))
    return found


def _derived(node: N.Derived, ctx: Context) -> Iterator[Batch]:
    assert node.child is not None
    return rows(node.child, ctx)


_RUNNERS: dict[type, Callable[[Any, Context], Iterator[Batch]]] = {
    N.Values: _values,
    N.Scan: _scan,
    N.BitmapAggregate: _bitmap_aggregate,
    N.BitmapGroupBy: _bitmap_groupby,
    N.TopNGroups: _topn,
    N.Filter: _filter,
    N.Project: _project,
    N.Flatten: _flatten,
    N.Aggregate: _aggregate,
    N.Sort: _sort,
    N.Limit: _limit,
    N.Distinct: _distinct,
    N.HashJoin: _hash_join,
    N.LookupJoin: _lookup_join,
    N.Derived: _derived,
}
