"""The cluster coordinator and workers end to end, in one process (LoopbackTransport:
every message and answer pickled). Random datasets (test_differential.py's strategies, with
records on four shards) are written through the coordinator — keys translated there, each
write routed to its shard's owner — and into an embedded database; random PQL calls and a
fixed set of SQL statements must answer identically on both, and as the model says.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, Phase, given, settings

from cluster_testlib import open_loopback_cluster

from .test_differential import _SCRATCH, FIELDS, QUERIES_PER_DATASET, Ctx, Model, Skip, build, calls, datasets, norm

EXAMPLES = int(os.environ.get("ROARBASE_CLUSTER_EXAMPLES", "20"))

SQL = [
    "SELECT COUNT(*) FROM d",
    "SELECT m, COUNT(*) FROM d GROUP BY m",
    "SELECT s, COUNT(*) FROM d WITH (flatten(s)) GROUP BY s",
    "SELECT SUM(i), MIN(i), MAX(i), COUNT(i) FROM d",
    "SELECT AVG(d), MIN(t), MAX(t) FROM d WHERE i > 0",
    "SELECT COUNT(DISTINCT m) FROM d WHERE b = true",
    "SELECT DISTINCT j FROM d",
    "SELECT _id, i, m FROM d WHERE i IS NOT NULL ORDER BY i DESC, _id LIMIT 5",
    "SELECT _id FROM d WHERE SETCONTAINS(s, 1) OR m = 2",
    "SELECT m, SUM(i) FROM d WHERE j > 10 GROUP BY m HAVING COUNT(*) > 0",
]


def build_cluster(m: Model, base: str) -> Any:
    db = open_loopback_cluster(base, workers=3)
    idx = db.create_index("d", keys=m.keyed)
    for name, (ftype, opts) in FIELDS.items():
        idx.create_field(name, ftype, **opts)
    for w in m.writes:
        if w[1] == "q":
            idx.set(w[0], "q", w[2], timestamp=w[3])
        else:
            idx.set(w[0], w[1], w[2])
    for rec, f, v in m.clears:
        idx.clear(rec, f, v)
    return db


def _sql(db: Any, text: str) -> Any:
    try:
        return sorted(map(repr, db.sql(text).rows)) if "ORDER BY" not in text else db.sql(text).rows
    except Exception as exc:   # both sides must fail alike
        return ("error", type(exc).__name__)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("ROARBASE_PQL_RANDOM"),
          phases=tuple(p for p in Phase if p is not Phase.shrink),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(m=datasets(), data=st.data())
def test_cluster_answers_equal_embedded(m: Model, data: Any) -> None:
    path = tempfile.mkdtemp(prefix="roarbase-cluster-", dir=_SCRATCH)
    local = build(m, os.path.join(path, "local"))
    db = build_cluster(m, path)
    ctx = Ctx(m)
    try:
        for _ in range(QUERIES_PER_DATASET):
            try:
                text, expected = data.draw(calls(ctx))
            except Skip:
                continue
            got = db.query("d", text)
            assert got == local.query("d", text), f"\n  query: {text}\n  cluster: {got}"
            assert norm(got[0], m.keyed) == norm(expected, m.keyed), \
                f"\n  query:    {text}\n  got:      {got[0]}\n  expected: {expected}"
        if not m.keyed:
            for text in SQL:
                assert _sql(db, text) == _sql(local, text), text
    finally:
        db.close()
        local.close()
        shutil.rmtree(path, ignore_errors=True)
