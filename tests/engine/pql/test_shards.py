"""Queries over more shards than the executor has worker threads.

The executor runs per-shard work on a shared thread pool (one thread per core). Row calls
that need every shard before they can answer (Limit, Shift, Distinct used as a row) are
evaluated inside that per-shard work; when they start per-shard work of their own on the
same pool, every worker can end up waiting for tasks queued behind it. The data here has
one shard more than the pool has threads, so the outcome does not depend on the machine.
Each query runs in a child process (pql_worker.py) so a hang cannot hang the test run.
"""
from __future__ import annotations

import os
import shutil
import time

import pytest

import engine

from .pql_worker import Worker

SHARD = 1 << 20


@pytest.fixture(scope="module")
def many_shards(tmp_path_factory):
    """Index `w`: record s·2^20 + 1 for each shard s, with c=1 and v=s+1."""
    shards = (os.cpu_count() or 2) + 1
    path = tmp_path_factory.mktemp("many-shards") / "data"
    with engine.open(str(path), fsync=False) as db:
        idx = db.create_index("w")
        idx.create_field("c", "set")
        idx.create_field("v", "int")
        for s in range(shards):
            idx.set(s * SHARD + 1, "c", 1)
            idx.set(s * SHARD + 1, "v", s + 1)
    return path, shards


def test_many_shards_baseline(many_shards, tmp_path):
    """Plain per-shard queries over the same data answer (the harness works)."""
    path, shards = many_shards
    shutil.copytree(path, tmp_path / "data")
    w = Worker(str(tmp_path / "data"))
    try:
        res = w.ask("w", "Count(Row(v > 0)) Sum(field=v)", timeout=30)
    finally:
        w.close()
    assert res["kind"] == "ok", res
    assert res["result"][0] == shards
    assert res["result"][1]["value"] == shards * (shards + 1) // 2


def test_nested_shard_work_does_not_deadlock(many_shards, tmp_path):
    path, shards = many_shards
    cases = [
        ("Count(Limit(Row(v > 0), limit=3))", 3),
        ("Count(Intersect(Shift(Row(v > 0), n=0), Row(c=1)))", shards),
        ("Count(Intersect(Distinct(Row(c=1), field=c), All()))", 1),
    ]
    workers = []
    for i in range(len(cases)):
        shutil.copytree(path, tmp_path / f"data{i}")
        workers.append(Worker(str(tmp_path / f"data{i}")))
    failures = []
    try:
        for w, (query, _) in zip(workers, cases):
            w.send("w", query)
        deadline = time.monotonic() + 5
        for w, (query, want) in zip(workers, cases):
            res = w.receive(deadline - time.monotonic())
            if res["kind"] != "ok" or res["result"] != [want]:
                failures.append(f"{query}: {res}")
    finally:
        for w in workers:
            w.close()
    assert not failures, "\n".join(failures)
