"""engine/groupby.py: run_groupby / group_counts / GroupByTask on plan nodes directly,
against a collections.Counter model of the same data (both the pair kernel path — a
mutex or bool first child — and the recursive path), and the max_groups cap.
"""
from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine import plan as P
from engine.errors import QueryLimitError
from engine.executor import Executor
from engine.groupby import GroupByTask, group_counts, run_groupby

SHARD = 1 << 20
_settings = settings(deadline=None, derandomize=True, max_examples=60)


class Model:
    def __init__(self) -> None:
        rng = random.Random(19)
        self.cols = sorted({s * SHARD + c for s in (0, 2) for c in rng.sample(range(300), 120)})
        # set fields: record -> rows; mutex/bool: record -> one row
        self.rows = {
            "s": {c: {r for r in range(4) if rng.random() < 0.35} for c in self.cols},
            "t": {c: {r for r in range(3) if rng.random() < 0.5} for c in self.cols},
            "m": {c: {rng.randrange(4)} for c in self.cols if rng.random() < 0.8},
            "b": {c: {rng.randrange(2)} for c in self.cols if rng.random() < 0.7},
        }
        self.v = {c: rng.randint(-20, 20) for c in self.cols if rng.random() < 0.6}
        self.u = {c: rng.randint(1000, 1010) for c in self.cols if rng.random() < 0.6}   # base 1000

    def has(self, field: str, row: int) -> set[int]:
        return {c for c, rows in self.rows[field].items() if row in rows}


MODEL = Model()
FIELDS = {"s": "set", "t": "set", "m": "mutex", "b": "bool"}


@pytest.fixture(scope="module")
def idx(tmp_path_factory):
    db = engine.open(str(tmp_path_factory.mktemp("groupby") / "data"), fsync=False)
    ix = db.create_index("g")
    for name, kind in FIELDS.items():
        ix.create_field(name, kind)
        pairs = [(c, r) for c, rows in MODEL.rows[name].items() for r in sorted(rows)]
        values = [bool(r) for _, r in pairs] if kind == "bool" else [r for _, r in pairs]
        ix.import_values(name, [c for c, _ in pairs], values)
    ix.create_field("v", "int", min=-20, max=20)
    ix.import_values("v", list(MODEL.v), list(MODEL.v.values()))
    ix.create_field("u", "int", min=1000, max=1010)
    ix.import_values("u", list(MODEL.u), list(MODEL.u.values()))
    yield ix
    db.close()


def _fid(ix, name: str) -> int:
    return ix.field(name).definition.id


def model_groups(fields: list[str], filt: set[int] | None, limits: list[int | None]) -> Counter:
    """Counter of row-id tuples: each record counts once in every combination of its rows
    (a child's rows cut to its first `limit` row ids present in the field)."""
    allowed = []
    for f, lim in zip(fields, limits):
        present = sorted(set().union(*MODEL.rows[f].values()))
        allowed.append(set(present[:lim] if lim is not None else present))
    out: Counter = Counter()
    for c in MODEL.cols:
        if filt is not None and c not in filt:
            continue
        per = [sorted(MODEL.rows[f].get(c, set()) & ok) for f, ok in zip(fields, allowed)]
        for combo in itertools.product(*per):
            out[combo] += 1
    return out


def _call(ix, fields, filt_node, limit, offset, child_limits, aggregate=None):
    rows = tuple(P.RowsCall(_fid(ix, f), limit=lim) for f, lim in zip(fields, child_limits))
    return P.GroupBy(rows, filt_node, limit, offset, aggregate)


def _as_tuples(groups, fields):
    out = []
    for g in groups:
        assert [e["field"] for e in g["group"]] == fields
        out.append((tuple(e["rowID"] for e in g["group"]), g["count"]))
    return out


_filters = st.sampled_from([None, ("s", 1), ("t", 0), ("m", 2), ("b", 1)])


@_settings
@given(fields=st.sampled_from([["m", "s"], ["b", "t"], ["s", "m"], ["s", "t"], ["m", "s", "t"], ["t", "b", "s"],
                               ["s"]]),
       filt=_filters, limit=st.none() | st.integers(0, 12), offset=st.integers(0, 5),
       child_limit=st.none() | st.integers(1, 3))
def test_group_counts_match_a_counter(idx, fields, filt, limit, offset, child_limit):
    child_limits = [child_limit] + [None] * (len(fields) - 1)
    filt_node = None if filt is None else P.RowOf(_fid(idx, filt[0]), filt[1])
    filt_set = None if filt is None else MODEL.has(*filt)
    want = sorted(model_groups(fields, filt_set, child_limits).items())
    stop = None if limit is None else offset + limit
    res = run_groupby(Executor(idx, idx.snapshot()), _call(idx, fields, filt_node, limit, offset, child_limits))
    assert _as_tuples(res.groups, fields) == want[offset:stop]


@pytest.mark.parametrize("fields", [["m", "s"], ["s", "t"]])
@pytest.mark.parametrize("summed", ["v", "u"])
def test_sum_and_count_distinct_aggregates(idx, fields, summed):
    ex = Executor(idx, idx.snapshot())
    groups: dict[tuple[int, ...], list[int]] = {}
    for c in MODEL.cols:
        for combo in itertools.product(*(sorted(MODEL.rows[f].get(c, ())) for f in fields)):
            groups.setdefault(combo, []).append(c)
    values = getattr(MODEL, summed)
    res = run_groupby(ex, _call(idx, fields, None, None, 0, [None] * len(fields),
                                P.Aggregate("sum", _fid(idx, summed))))
    want = []
    for key, cols in sorted(groups.items()):
        vals = [values[c] for c in cols if c in values]
        if vals:                                         # all-null groups are dropped
            want.append((key, len(vals), sum(vals)))
    assert [(k, n, g["sum"]) for (k, n), g in zip(_as_tuples(res.groups, fields), res.groups)] == want
    res = run_groupby(ex, _call(idx, fields, None, None, 0, [None] * len(fields),
                                P.Aggregate("count_distinct", _fid(idx, "t"))))
    want = [(key, len(cols), len(set().union(*(MODEL.rows["t"].get(c, set()) for c in cols))))
            for key, cols in sorted(groups.items())]
    assert [(k, n, g["aggregate"]) for (k, n), g in zip(_as_tuples(res.groups, fields), res.groups)] == want


def test_group_counts_keys_are_candidate_indexes(idx):
    """group_counts keys each group by each child's candidate index (its position in the
    child's row list), not by row id."""
    ex = Executor(idx, idx.snapshot())
    call = _call(idx, ["s", "t"], None, None, 0, [None, None])
    children, merged = group_counts(ex, call)
    want = model_groups(["s", "t"], None, [None, None])
    got = {tuple(ch.ids[k] for ch, k in zip(children, key)): vals[0] for key, vals in merged.items()}
    assert got == dict(want)


@pytest.mark.parametrize("fields", [["m", "s"], ["s", "t"], ["s", "t", "m"]])
def test_max_groups_cap(idx, monkeypatch, fields):
    """Exactly max_groups groups are answered; one more is a QueryLimitError, on the pair
    path and the recursive one (the cap counts groups before limit)."""
    n = len(model_groups(fields, None, [None] * len(fields)))
    call = _call(idx, fields, None, 1, 0, [None] * len(fields))
    monkeypatch.setattr(idx.holder, "max_groups", n)
    assert len(run_groupby(Executor(idx, idx.snapshot()), call).groups) == 1
    monkeypatch.setattr(idx.holder, "max_groups", n - 1)
    with pytest.raises(QueryLimitError, match="max_groups"):
        run_groupby(Executor(idx, idx.snapshot()), call)


def test_combine_caps_groups_merged_across_shards(idx):
    """Each shard within the cap, their union over it: the combine raises."""
    ex = Executor(idx, idx.snapshot())
    levels = ((_fid(idx, "s"), ("standard",), False, (0, 1, 2, 3)),)
    task = GroupByTask(levels, None, None, False, 4)
    parts = [task.shard(ex, s) for s in (0, 2)]
    assert sorted(task.combine(parts)[0]) == [(0,), (1,), (2,), (3,)]
    small = GroupByTask(levels, None, None, False, 3)
    parts = [({(0,): [1], (1,): [1]}, None), ({(2,): [1], (3,): [1]}, None)]
    with pytest.raises(QueryLimitError):
        small.combine(parts)


def test_sum_drops_groups_without_values(idx):
    """Over records without a value every group's sum is null: FeatureBase drops them."""
    ex = Executor(idx, idx.snapshot())
    no_value = P.Difference((P.Existence(), P.BsiNotNull(_fid(idx, "v"))))
    call = _call(idx, ["s", "t"], no_value, None, 0, [None, None], P.Aggregate("sum", _fid(idx, "v")))
    assert any(c not in MODEL.v for c in MODEL.cols)
    assert run_groupby(ex, call).groups == []
    counted = _call(idx, ["s", "t"], no_value, None, 0, [None, None])
    assert run_groupby(ex, counted).groups                  # the groups themselves exist
