"""BsiIn (the records of an int field whose value is one of a set — the filter a SQL
semi-join puts on an INT column) against a Python model, in each of its ways: ranges for a
few runs of consecutive values, a table lookup of every record's value for many, and a
membership test when the wanted values span too far for a table."""
from __future__ import annotations

import numpy as np
import pytest

from engine import plan as P
from engine.executor import Executor

SHARD = 1 << 20


@pytest.fixture
def ints(db):
    rng = np.random.default_rng(3)
    idx = db.create_index("t")
    idx.create_field("v", "int", min=-(1 << 40), max=1 << 40)
    cols = np.unique(np.concatenate([np.arange(0, 5000), rng.choice(np.arange(SHARD, 3 * SHARD), 4000, replace=False)]))
    vals = rng.integers(-300, 3000, len(cols))
    vals[:40] = rng.integers(-(1 << 40), 1 << 40, 40)           # a few far from the rest
    idx.import_values("v", cols.astype(np.uint64), vals)
    return idx, dict(zip(cols.tolist(), vals.tolist()))


def _run(idx, wanted):
    ex = Executor(idx, idx.snapshot(), holder=idx.holder)
    node = P.BsiIn(idx.field("v").definition.id, tuple(sorted(set(wanted))))
    return ex.full_row(node).to_numpy().tolist()


@pytest.mark.parametrize("wanted", [
    [5, 6, 7, 100],                                            # a few runs: ranges
    list(range(-300, 3000, 7)),                                # many runs: a table
    list(range(-50, 40)) + list(range(200, 3000, 3)),          # both shapes, negatives
    [-(1 << 40), 0, 1 << 39] + list(range(0, 300, 2)),         # too wide for a table
    [10**6, 10**6 + 2],                                        # nothing has them
])
def test_bsi_in_matches_the_model(ints, wanted):
    idx, values = ints
    want = sorted(c for c, v in values.items() if v in set(wanted))
    assert _run(idx, wanted) == want


def test_far_values_take_the_table_path_too(ints):
    idx, values = ints
    far = sorted(v for v in values.values() if abs(v) > 10**6)[:3]
    wanted = far + list(range(0, 3000, 5))       # a span too wide: membership test
    assert _run(idx, wanted) == sorted(c for c, v in values.items() if v in set(wanted))
    wanted = list(range(-300, 3000, 5))          # values far below and above lo..hi: never in the table
    assert _run(idx, wanted) == sorted(c for c, v in values.items() if v in set(wanted))
