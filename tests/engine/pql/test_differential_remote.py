"""Random datasets and random PQL read calls (the strategies of test_differential.py),
each answered twice on the same database: in-process, and through a fake remote executor
(tests/engine/fake_remote.py) with 2–4 workers. The two answers must be identical —
same values, same order — and equal to the plain-Python model's.

ROARBASE_PQL_REMOTE_EXAMPLES sets the number of datasets (default 30).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, Phase, given, settings

from engine.executor import LOCAL
from fake_remote import FakeRemoteExecutor

from .test_differential import _SCRATCH, QUERIES_PER_DATASET, Ctx, Model, Skip, build, calls, datasets, norm

EXAMPLES = int(os.environ.get("ROARBASE_PQL_REMOTE_EXAMPLES", "30"))


@settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("ROARBASE_PQL_RANDOM"),
          phases=tuple(p for p in Phase if p is not Phase.shrink),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(m=datasets(), data=st.data(), workers=st.integers(2, 4))
def test_remote_answers_equal_local(m: Model, data: Any, workers: int) -> None:
    path = tempfile.mkdtemp(prefix="roarbase-pql-remote-", dir=_SCRATCH)
    db = build(m, os.path.join(path, "data"))
    ctx = Ctx(m)
    fake = FakeRemoteExecutor(workers=workers, seed=workers)
    try:
        for _ in range(QUERIES_PER_DATASET):
            try:
                text, expected = data.draw(calls(ctx))
            except Skip:
                continue
            db.shard_executor = LOCAL
            local = db.query("d", text)
            db.shard_executor = fake
            remote = db.query("d", text)
            assert remote == local, f"\n  query:  {text}\n  local:  {local}\n  remote: {remote}"
            assert norm(remote[0], m.keyed) == norm(expected, m.keyed), \
                f"\n  query:    {text}\n  got:      {remote[0]}\n  expected: {expected}"
        if db.index("d").snapshot().shards():
            assert fake.messages > 0
    finally:
        db.close()
        shutil.rmtree(path, ignore_errors=True)
