"""Shift moves records across shard boundaries, into shards that hold no data: every
record of the row must come back shifted (FeatureBase's Shift loses no bit below 2^64),
however many empty shards lie between the ones with data. Oracle: a Python set."""
from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given, settings

import engine

SHARD = 1 << 20
# records near shard edges, in shards 0, 3 and 5 only (1, 2 and 4 stay empty)
EDGES = [0, 1, 2, SHARD - 3, SHARD - 2, SHARD - 1]
RECORDS = sorted({s * SHARD + e for s in (0, 3, 5) for e in EDGES} - {0})


def test_a_shift_into_an_empty_middle_shard_keeps_the_record(tmp_path):
    db = engine.open(str(tmp_path))
    try:
        ix = db.create_index("d")
        ix.create_field("n", "int", min=0, max=100)
        ix.import_values("n", [1, 2, SHARD - 1, 3 * SHARD + 2], [1, 2, 3, 4])
        assert db.query("d", "Shift(Row(n != null), n=2)") == [{"columns": [3, 4, SHARD + 1, 3 * SHARD + 4]}]
        assert db.query("d", "Count(Shift(Shift(Shift(Row(n != null), n=2), n=1048576), n=2))") == [4]
    finally:
        db.close()


@settings(max_examples=40, deadline=None, derandomize=True)
@given(records=st.lists(st.sampled_from(RECORDS), min_size=1, max_size=12, unique=True),
       shifts=st.lists(st.sampled_from([1, 2, 3, SHARD - 1, SHARD, SHARD + 2, 2 * SHARD]), min_size=1, max_size=3))
def test_shift_chains_match_the_set_model(tmp_path_factory, records, shifts):
    db = engine.open(str(tmp_path_factory.mktemp("shift")))
    try:
        ix = db.create_index("d")
        ix.create_field("n", "int", min=0, max=100)
        ix.import_values("n", records, [1] * len(records))
        query, want = "Row(n != null)", set(records)
        for n in shifts:
            query, want = f"Shift({query}, n={n})", {r + n for r in want}
        assert db.query("d", query) == [{"columns": sorted(want)}], query
        assert db.query("d", f"Count({query})") == [len(want)], query
    finally:
        db.close()
