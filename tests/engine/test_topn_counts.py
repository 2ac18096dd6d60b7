"""TopN's counting over many rows and shards (counts merged with numpy, only rows counted at
least as the n-th sorted) against a Python model: dense and huge row ids, keyed rows whose
ties at the n-th count are ordered by key, a filter, and n larger than the rows."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

SHARD = 1 << 20


def _model(pairs, filt, n, key=lambda r: r):
    counts = Counter(r for c, r in pairs if filt is None or c in filt)
    ordered = sorted(counts.items(), key=lambda rc: (-rc[1], key(rc[0])))
    return ordered[:n] if n else ordered


@pytest.mark.parametrize("base", [0, 1 << 40])          # dense row ids, then ids to index by no array
@pytest.mark.parametrize("n", [0, 1, 7, 5000])
def test_topn_many_rows_several_shards(db, base, n):
    rng = np.random.default_rng(n + (base > 0))
    idx = db.create_index("t")
    idx.create_field("f")
    cols = rng.integers(0, 3 * SHARD, 20_000).astype(np.uint64)
    rows = (base + rng.integers(0, 3000, len(cols))).astype(np.uint64)
    idx.import_values("f", cols, rows)
    pairs = set(zip(cols.tolist(), rows.tolist()))
    got = db.query("t", f"TopN(f{', n=' + str(n) if n else ''})")[0]
    assert [(p["id"], p["count"]) for p in got] == _model(pairs, None, n)
    filt = set(cols[cols % 3 == 0].tolist())
    idx.create_field("g")
    idx.import_values("g", np.array(sorted(filt), dtype=np.uint64), np.ones(len(filt), dtype=np.uint64))
    got = db.query("t", f"TopN(f, Row(g=1){', n=' + str(n) if n else ''})")[0]
    assert [(p["id"], p["count"]) for p in got] == _model(pairs, filt, n)


def test_keyed_ties_at_the_nth_count_ordered_by_key(db):
    idx = db.create_index("k")
    idx.create_field("f", keys=True)
    # counts: a 5, then six keys with 3 (ties across the n-th place), then 1s
    data = [("a", 5)] + [(k, 3) for k in ("zz", "m", "b", "x", "c", "d")] + [(f"q{i}", 1) for i in range(20)]
    col = 0
    pairs = set()
    for key, count in data:
        for _ in range(count):
            idx.set(col * 7919 % (2 * SHARD), "f", key)
            pairs.add((col * 7919 % (2 * SHARD), key))
            col += 1
    for n in (1, 2, 3, 7, 8, 30):
        got = db.query("k", f"TopN(f, n={n})")[0]
        assert [(p["key"], p["count"]) for p in got] == _model(pairs, None, n)
