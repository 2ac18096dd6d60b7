"""Every golden PQL case again, with the shard work sent through a fake remote executor
(tests/engine/fake_remote.py: pickled tasks, three workers each pre-reducing the shards
jump hash gives it, partials combined in shuffled order). The answers must be the golden
ones: the coordinator's combine of every call (Count, TopN, GroupBy, Sum/Min/Max, Rows,
Distinct, Extract, …) is exact whatever the split of shards between workers."""
from __future__ import annotations

import pytest

from fake_remote import FakeRemoteExecutor

from .test_golden import _FILES, _check, _run


@pytest.fixture(scope="module")
def remote_pql_db(fresh_pql_db):
    db = fresh_pql_db()
    db.shard_executor = FakeRemoteExecutor(workers=3, seed=1)
    return db


@pytest.mark.parametrize("gf", _FILES, ids=[gf.name for gf in _FILES])
@pytest.mark.parametrize("workers", [2, 3])
def test_golden_file_through_remote_executor(gf, workers, remote_pql_db, fresh_pql_db):
    fake = FakeRemoteExecutor(workers=workers, seed=workers)
    db = fresh_pql_db() if gf.sequential else remote_pql_db
    db.shard_executor = fake
    for case in gf.cases:
        if case.xfail:
            continue
        _check(case, _run(db, case))
    if gf.sequential:
        db.close()
    assert fake.messages > 0
