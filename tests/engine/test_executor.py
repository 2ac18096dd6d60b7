"""engine/executor.py: Executor's row evaluation of plan nodes, its calls and shard tasks,
and the deadline/cancel checks, tested directly on plan trees (no PQL/SQL in between).

Oracle: a plain-Python set model of the same data, over shards 0, 2 and 3 (shard 1, in
the middle, holds nothing; Shift can move records into it and into shard 4).
"""
from __future__ import annotations

import random
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine import executor as executor_mod
from engine import plan as P
from engine.errors import QueryCancelledError, QueryExecutionError
from engine.executor import Executor
from engine.shardexec import Scope
from engine.shardtasks import BsiSumTask, CountTask, RowCountsTask, RowTask

SHARD = 1 << 20
SHARDS_WITH_DATA = (0, 2, 3)
_settings = settings(deadline=None, derandomize=True, max_examples=60)


class Model:
    def __init__(self) -> None:
        rng = random.Random(5)
        self.cols: set[int] = set()
        for s in SHARDS_WITH_DATA:
            self.cols |= {s * SHARD + c for c in rng.sample(range(40), 25)}
        self.cols |= {SHARD - 2, SHARD - 1, 3 * SHARD + SHARD - 1}      # Shift crosses shards
        self.s = {r: {c for c in self.cols if rng.random() < 0.4} for r in range(4)}
        self.m = {c: rng.randrange(3) for c in self.cols if rng.random() < 0.8}
        self.v = {c: rng.randint(-100, 100) for c in self.cols if rng.random() < 0.7}
        self.w = {c: rng.randint(1000, 1200) for c in self.cols if rng.random() < 0.5}


MODEL = Model()


@pytest.fixture(scope="module")
def idx(tmp_path_factory):
    db = engine.open(str(tmp_path_factory.mktemp("executor") / "data"), fsync=False)
    ix = db.create_index("t")
    ix.create_field("s")
    ix.create_field("m", "mutex")
    ix.create_field("v", "int", min=-100, max=100)
    ix.create_field("w", "int", min=1000, max=1200)         # a non-zero base
    pairs = [(c, r) for r, cols in MODEL.s.items() for c in sorted(cols)]
    ix.import_values("s", [c for c, _ in pairs], [r for _, r in pairs])
    ix.import_values("m", list(MODEL.m), list(MODEL.m.values()))
    ix.import_values("v", list(MODEL.v), list(MODEL.v.values()))
    ix.import_values("w", list(MODEL.w), list(MODEL.w.values()))
    rest = sorted(MODEL.cols - set(MODEL.m) - set(MODEL.v) - set(MODEL.w) - set().union(*MODEL.s.values()))
    if rest:
        ix.import_values("s", rest, [9] * len(rest))        # existence for every record
        ix.clear_row("s", 9)
    yield ix
    db.close()


def _fid(ix, name: str) -> int:
    return ix.field(name).definition.id


# --- a random plan tree and its model value -------------------------------------------

# some not in the index; all in shards with data (a query visits those only, so a
# ConstRow(existing_only=False) id in an empty shard is never reached)
_COL_POOL = sorted(MODEL.cols)[::3] + [45, 2 * SHARD + 50]


def _leaves(fids: dict[str, int]) -> st.SearchStrategy:
    bound = st.none() | st.integers(-120, 120)
    return st.one_of(
        st.builds(lambda r: P.RowOf(fids["s"], r), st.integers(0, 4)),
        st.builds(lambda r: P.RowOf(fids["m"], r), st.integers(0, 3)),
        st.builds(lambda lo, hi: P.BsiRange(fids["v"], lo, hi), bound, bound),
        st.builds(lambda lo, hi: P.BsiRange(fids["w"], lo, hi), st.none() | st.integers(990, 1210),
                  st.none() | st.integers(990, 1210)),
        st.just(P.BsiNotNull(fids["v"])),
        st.just(P.AnyRow(fids["s"])),
        st.just(P.Existence()),
        st.just(P.Empty()),
        st.builds(lambda cs, e: P.ConstRow(tuple(sorted(set(cs))), e), st.lists(st.sampled_from(_COL_POOL),
                                                                                max_size=5), st.booleans()),
        st.builds(lambda lo, n: P.IdRange(lo, None if n is None else lo + n),
                  st.sampled_from([0, 10, SHARD - 1, 2 * SHARD + 5]), st.none() | st.integers(0, SHARD + 20)),
    )


def _trees(fids: dict[str, int]) -> st.SearchStrategy:
    def extend(kids: st.SearchStrategy) -> st.SearchStrategy:
        many = st.lists(kids, min_size=1, max_size=3).map(tuple)
        return st.one_of(
            many.map(P.Intersect), many.map(P.Union_), many.map(P.Difference), many.map(P.Xor),
            st.builds(P.Shift, kids, st.sampled_from([1, 2, 3, SHARD])),
            st.builds(P.Limit, kids, st.none() | st.integers(0, 12), st.integers(0, 6)),
        )
    return st.recursive(_leaves(fids), extend, max_leaves=6)


def model_row(node, fids: dict[str, int]) -> set[int]:
    if isinstance(node, P.RowOf):
        if node.field == fids["s"]:
            return set(MODEL.s.get(node.row, ()))
        return {c for c, r in MODEL.m.items() if r == node.row}
    if isinstance(node, P.BsiRange):
        vals = MODEL.v if node.field == fids["v"] else MODEL.w
        return {c for c, x in vals.items()
                if (node.lo is None or x >= node.lo) and (node.hi is None or x <= node.hi)}
    if isinstance(node, P.BsiNotNull):
        return set(MODEL.v)
    if isinstance(node, P.AnyRow):
        return set().union(*MODEL.s.values())
    if isinstance(node, P.Existence):
        return set(MODEL.cols)
    if isinstance(node, P.Empty):
        return set()
    if isinstance(node, P.ConstRow):
        return set(node.columns) & MODEL.cols if node.existing_only else set(node.columns)
    if isinstance(node, P.IdRange):
        return {c for c in MODEL.cols if c >= node.lo and (node.hi is None or c <= node.hi)}
    kids = [model_row(c, fids) for c in getattr(node, "children", ())]
    if isinstance(node, P.Intersect):
        return set.intersection(*kids)
    if isinstance(node, P.Union_):
        return set.union(*kids)
    if isinstance(node, P.Difference):
        return kids[0].difference(*kids[1:])
    if isinstance(node, P.Xor):
        out: set[int] = set()
        for k in kids:
            out ^= k
        return out
    if isinstance(node, P.Shift):
        return {c + node.n for c in model_row(node.child, fids)}
    if isinstance(node, P.Limit):
        full = sorted(model_row(node.child, fids))
        stop = None if node.limit is None else node.offset + node.limit
        return set(full[node.offset:stop])
    raise AssertionError(node)


def _fids(ix) -> dict[str, int]:
    return {n: _fid(ix, n) for n in ("s", "m", "v", "w")}


@_settings
@given(data=st.data())
def test_row_evaluation_matches_the_set_model(idx, data):
    fids = _fids(idx)
    node = data.draw(_trees(fids))
    want = model_row(node, fids)
    assert Executor(idx, idx.snapshot()).run(P.Count(node)).n == len(want)
    ex = Executor(idx, idx.snapshot())
    assert ex.run(P.RowCall(node)).columns == sorted(want)      # also computes the globals
    for shard in range(5):                      # every shard, with data or not
        lo = shard * SHARD
        got = ex.row(node, shard)
        assert set(got.to_numpy().tolist()) == {c for c in want if lo <= c < lo + SHARD}, shard
        assert ex.count(node, shard) == len(got)


def test_shard_rows_skip_empty_shards(idx):
    fids = _fids(idx)
    ex = Executor(idx, idx.snapshot())
    parts = ex.shard_rows(P.Existence())
    assert sorted(parts) == list(SHARDS_WITH_DATA)
    assert set().union(*(set(b.to_numpy().tolist()) for b in parts.values())) == MODEL.cols
    # a Materialized node serves those parts back per shard
    mat = P.Materialized(parts)
    assert set(ex.row(P.Intersect((mat, P.RowOf(fids["s"], 1))), 2).to_numpy().tolist()) == \
        {c for c in MODEL.s[1] if c >> 20 == 2}
    assert not ex.row(mat, 1)


def test_unknown_nodes_and_calls_are_execution_errors(idx):
    ex = Executor(idx, idx.snapshot())
    with pytest.raises(QueryExecutionError):
        ex.row(object(), 0)  # type: ignore[arg-type]
    with pytest.raises(QueryExecutionError):
        ex.run(object())  # type: ignore[arg-type]


@_settings
@given(data=st.data())
def test_run_task_combine_is_order_free_and_scoped(idx, data):
    fids = _fids(idx)
    node = data.draw(_leaves(fids))
    ex = Executor(idx, idx.snapshot())
    tasks = [CountTask(node), RowTask(node), RowCountsTask(fids["s"], ("standard",), node),
             BsiSumTask(fids["v"], node)]
    shards = list(SHARDS_WITH_DATA)
    order = data.draw(st.permutations(shards))
    only = frozenset(data.draw(st.lists(st.sampled_from(shards), unique=True)))
    want_rows = model_row(node, fids)
    for task in tasks:
        whole = ex.run_task(task)
        parts = {s: task.shard(ex, s) for s in shards}
        assert _canon(task.combine([parts[s] for s in order])) == _canon(whole)
        scoped = ex.run_task(task, Scope(only))
        assert _canon(scoped) == _canon(task.combine([parts[s] for s in sorted(only)]))
    in_scope = {c for c in want_rows if c >> 20 in only}
    assert ex.run_task(CountTask(node), Scope(only)) == len(in_scope)
    v_in = [MODEL.v[c] for c in want_rows if c in MODEL.v]
    assert tuple(ex.run_task(BsiSumTask(fids["v"], node))) == (len(v_in), sum(v_in))


def _canon(x):
    if hasattr(x, "to_numpy"):
        return x.to_numpy().tolist()
    if isinstance(x, dict):
        return sorted(x.items())
    if isinstance(x, tuple):
        return tuple(_canon(v) for v in x)
    return x


# --- deadline and cancel ------------------------------------------------------------------

@pytest.fixture
def hooked(monkeypatch):
    """Install a shard_hook; returns the list of shards it saw."""
    seen: list[int] = []

    def install(fn):
        def hook(shard: int) -> None:
            seen.append(shard)
            fn(shard)
        monkeypatch.setattr(executor_mod, "shard_hook", hook)
        return seen
    return install


def test_cancel_before_the_query_raises(idx):
    ev = threading.Event()
    ev.set()
    ex = Executor(idx, idx.snapshot(), cancel=ev)
    with pytest.raises(QueryCancelledError, match="cancelled"):
        ex.check_deadline()
    with pytest.raises(QueryCancelledError):
        ex.run(P.Count(P.Existence()))


@pytest.mark.parametrize("heavy", [False, True])
def test_cancel_during_the_query_stops_before_the_next_shard(idx, hooked, monkeypatch, heavy):
    ev = threading.Event()
    seen = hooked(lambda shard: ev.set() if shard == 2 else None)
    fids = _fids(idx)
    # a BsiRange is worth the shard pool (parallel); a RowOf runs inline, shard by shard.
    # A one-thread pool runs the shards in order, so which ones start is deterministic.
    node = P.BsiRange(fids["v"], -50, 50) if heavy else P.RowOf(fids["s"], 1)
    pool = ThreadPoolExecutor(max_workers=1)
    monkeypatch.setattr(executor_mod, "_POOL", pool)
    ex = Executor(idx, idx.snapshot(), cancel=ev)
    try:
        with pytest.raises(QueryCancelledError):
            ex.run(P.Count(node))
        assert seen == [0, 2]
        # without the cancel the same query answers
        assert Executor(idx, idx.snapshot(), cancel=threading.Event()).run(P.Count(node)).n == \
            len(model_row(node, fids))
    finally:
        pool.shutdown()


def test_deadline_passed_raises_and_a_future_one_does_not(idx, hooked, monkeypatch):
    fids = _fids(idx)
    node = P.RowOf(fids["s"], 2)
    with pytest.raises(QueryCancelledError, match="deadline"):
        Executor(idx, idx.snapshot(), deadline=time.monotonic() - 1).run(P.Count(node))
    deadline = time.monotonic() + 3600
    assert Executor(idx, idx.snapshot(), deadline=deadline).run(P.Count(node)).n == len(MODEL.s[2])
    # a clock (the executor's) that passes the deadline while shard 2 runs
    now = [time.monotonic()]
    monkeypatch.setattr(executor_mod, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    seen = hooked(lambda shard: now.__setitem__(0, deadline + 1) if shard == 2 else None)
    with pytest.raises(QueryCancelledError, match="deadline"):
        Executor(idx, idx.snapshot(), deadline=deadline).run(P.Count(node))
    assert seen == [0, 2]


def test_globals_are_computed_once_per_executor(idx):
    fids = _fids(idx)
    node = P.Shift(P.RowOf(fids["s"], 0), 1)
    ex = Executor(idx, idx.snapshot())
    ex.run(P.Count(node))
    first = ex.global_rows()[node]
    assert set(first.to_numpy().tolist()) == {c + 1 for c in MODEL.s[0]}
    ex.run(P.RowCall(node))
    assert ex.global_rows()[node] is first

