"""Random tables and random SELECTs (the strategies of test_differential.py), each answered
twice on the same database: in-process, and through a fake remote executor
(tests/engine/fake_remote.py) with 2–4 workers. Rows must be identical, in the same order
where the statement fixes one.

ROARBASE_SQL_REMOTE_EXAMPLES sets the number of datasets (default 20).
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.executor import LOCAL
from fake_remote import FakeRemoteExecutor

from .test_differential import QUERIES, VIEW, Query, _Env, _load, _load_e, datasets, e_records, queries

EXAMPLES = int(os.environ.get("ROARBASE_SQL_REMOTE_EXAMPLES", "20"))


def test_remote_rows_equal_local():
    env = _Env()
    try:
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(data=datasets(False), e=e_records(False), workers=st.integers(2, 4),
               queries=st.lists(queries(False), min_size=QUERIES, max_size=QUERIES))
        def check(data, e, workers, queries):
            records, writes = data
            env.db.shard_executor = LOCAL
            _load(env, records, writes, False)
            _load_e(env, e, False)              # the joins' other table and the view
            env.db.sql(VIEW)
            fake = FakeRemoteExecutor(workers=workers, seed=workers)
            # a count always travels as a shard task (a plain projection may not)
            for q in [*queries, "SELECT COUNT(*) FROM d"]:
                q = q if not isinstance(q, str) else Query(q, q)
                env.db.shard_executor = LOCAL
                local = env.db.sql(q.roar).rows
                env.db.shard_executor = fake
                remote = env.db.sql(q.roar).rows
                same = remote == local if q.ordered else sorted(map(repr, remote)) == sorted(map(repr, local))
                assert same, f"\n  {q.roar}\n  local:  {local}\n  remote: {remote}"
            if records:
                assert fake.messages > 0

        check()
    finally:
        env.db.shard_executor = LOCAL
        env.close()
