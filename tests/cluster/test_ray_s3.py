"""roarbase on a real Ray cluster with its shards in an S3-compatible bucket (moto on
127.0.0.1): a worker actor SIGKILLed during writes and reads comes back and recovers its
shards from the bucket with no wrong answer and no acknowledged write lost; and with every
worker gone and every node's cache deleted, new workers answer the same from the bucket."""
from __future__ import annotations

import os
import random
import shutil
import signal
import threading
import uuid

import numpy as np
import pytest

import engine
from engine.cluster.coordinator import Cluster
from engine.cluster.ray_backend import RayTransport

pytestmark = [pytest.mark.cluster,
              pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::ResourceWarning")]

SHARD = 1 << 20
QUERIES = ['Count(Row(tag="t1"))', 'TopN(tag, n=4)', 'Sum(field=age)', 'Count(Row(age > 40))', 'Rows(tag)',
           'GroupBy(Rows(color), Rows(tag))', 'Count(All())']


def _load(db, seed):
    ix = db.create_index("p")
    ix.create_field("tag", "set", keys=True)
    ix.create_field("color", "mutex", keys=True)
    ix.create_field("age", "int", min=0, max=150)
    rng = np.random.default_rng(seed)
    cols = np.concatenate([s * SHARD + rng.choice(4000, 300, replace=False) for s in range(6)]).astype(np.uint64)
    ix.import_values("tag", cols, [f"t{v}" for v in rng.integers(0, 8, len(cols))])
    ix.import_values("color", cols, rng.choice(["red", "green", "blue"], len(cols)).tolist())
    ix.import_values("age", cols, rng.integers(0, 100, len(cols)))


def _answers(db):
    return [db.query("p", q) for q in QUERIES]


@pytest.fixture
def s3_root(ray_cluster, ray_s3, monkeypatch, tmp_path):
    for k, v in ray_s3.node_env.items():      # the coordinator (this process) reaches the bucket too
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("ROARBASE_RAY_S3_CACHE", str(tmp_path / "coordinator-cache"))
    return f"s3://{ray_s3.bucket()}/db?endpoint={ray_s3.endpoint}"


def test_a_killed_worker_recovers_its_shards_from_the_bucket(s3_root, ray_s3, tmp_path):
    tag = uuid.uuid4().hex[:8]
    names = [f"{tag}-w0", f"{tag}-w1"]
    local = engine.open(str(tmp_path / "embedded"), fsync=False)
    transport = RayTransport(s3_root, names, timeout=120)
    db = engine.open(str(tmp_path / "coord"), cluster=Cluster(transport, s3_root))
    try:
        _load(db, 5)
        _load(local, 5)
        assert _answers(db) == _answers(local)
        victim = db.cluster.table.owner("p", 0)
        old_pid = transport.pids()[victim]
        rng = random.Random(8)
        acked: list[int] = []
        killer = None
        for step in range(40):
            col = rng.randrange(6) * SHARD + 10_000 + step
            db.index("p").set(col, "tag", "k")
            acked.append(col)
            if step == 12:
                killer = threading.Thread(target=os.kill, args=(old_pid, signal.SIGKILL))
                killer.start()
            got = db.query("p", 'Count(Row(tag="k")) Row(tag="k")')
            assert got[0] == len(acked) and got[1]["columns"] == sorted(acked)
        assert killer is not None
        killer.join()
        assert transport.pids()[victim] != old_pid
        for col in acked:
            local.index("p").set(col, "tag", "k")
        expected = _answers(local)
        assert _answers(db) == expected
        bucket = s3_root[len("s3://"):].split("/")[0]
        assert any("/wal-" in k for k in ray_s3.keys(bucket, "db/shards/p/"))
    finally:
        db.close()
        transport.stop_workers()
    # every worker gone and every node's cache deleted: new workers have only the bucket
    shutil.rmtree(ray_s3.node_env["ROARBASE_RAY_S3_CACHE"])
    os.makedirs(ray_s3.node_env["ROARBASE_RAY_S3_CACHE"])
    transport = RayTransport(s3_root, names, timeout=120)
    db = engine.open(str(tmp_path / "coord"), cluster=Cluster(transport, s3_root))
    try:
        assert _answers(db) == expected
        cached = [d for _, dirs, _ in os.walk(ray_s3.node_env["ROARBASE_RAY_S3_CACHE"]) for d in dirs]
        assert set(names) <= set(cached)        # the new workers rebuilt their caches
    finally:
        db.close()
        transport.stop_workers()
        local.close()


def test_the_server_keeps_a_database_in_the_bucket(ray_cluster, ray_s3, monkeypatch, tmp_path):
    """What `roarbase serve --ray ADDRESS --ray-root s3://bucket/srv --ray-s3-endpoint URL`
    configures: the database's shards under srv/<database id>/ in the bucket."""
    from server.service.config import ServiceConfig
    from server.service.context import ServiceContext

    for k, v in ray_s3.node_env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("ROARBASE_RAY_S3_CACHE", str(tmp_path / "coordinator-cache"))
    bucket = ray_s3.bucket()
    ctx = ServiceContext(ServiceConfig(data_dir=str(tmp_path / "data"), fsync=False, ray_address=ray_cluster.address,
                                       ray_workers=2, ray_root=f"s3://{bucket}/srv", ray_s3_endpoint=ray_s3.endpoint))
    db_id = str(uuid.uuid4())
    holder = ctx.engine(db_id)
    try:
        ix = holder.create_index("t")
        ix.create_field("f")
        ix.import_values("f", [1, SHARD + 1, 2 * SHARD + 5], [1, 1, 2])
        assert holder.query("t", "Count(Row(f=1))") == [2]
        keys = ray_s3.keys(bucket, f"srv/{db_id}/")
        assert f"srv/{db_id}/placement.json/@00000000000000000000" in keys
        assert {k.split("/")[4] for k in keys if "/shards/t/" in k} == {"0000000000", "0000000001", "0000000002"}
    finally:
        holder.cluster.transport.stop_workers()
        ctx.close()
