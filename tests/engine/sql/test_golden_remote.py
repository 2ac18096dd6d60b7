"""Every golden SQL case again, with the shard work sent through a fake remote executor
(tests/engine/fake_remote.py): SELECTs, aggregates, GROUP BY, DISTINCT, ORDER BY/LIMIT
must answer exactly as in-process whatever the split of shards between workers."""
from __future__ import annotations

import pytest

from fake_remote import FakeRemoteExecutor

from .test_golden import _FILES, _check, _run


@pytest.mark.parametrize("gf", _FILES, ids=[gf.name for gf in _FILES])
@pytest.mark.parametrize("workers", [2, 3])
def test_golden_file_through_remote_executor(gf, workers, fresh_sql_db, sql_data_dir):
    fake = FakeRemoteExecutor(workers=workers, seed=workers)
    db = fresh_sql_db()
    db.shard_executor = fake
    try:
        for case in gf.cases:
            if case.xfail:
                continue
            _check(case, _run(db, case, sql_data_dir))
    finally:
        db.close()
    if any("SELECT" in c.sql.upper() for c in gf.cases):
        assert fake.messages > 0
