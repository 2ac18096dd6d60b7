"""tests/cluster: roarbase on a real Ray cluster — a head and two worker nodes started by
ray.cluster_utils.Cluster on 127.0.0.1 (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 makes Ray use
the loopback address for every node; nothing listens for or sends to another address).

One cluster per session (starting it takes ~8 s here). Each test gets its own worker
actors (names unique per test) over its own shared root, and stops them at the end.
"""
import os
import uuid
from pathlib import Path

import pytest

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"     # read when ray is imported
ray = pytest.importorskip("ray", reason="the cluster tier needs the ray extra (pip install -e '.[ray]')")

from ray.cluster_utils import Cluster as RayLocalCluster  # noqa: E402

import engine  # noqa: E402
from engine.cluster.coordinator import Cluster  # noqa: E402
from engine.cluster.ray_backend import RayTransport  # noqa: E402

NODE = {"num_cpus": 1, "object_store_memory": 80 << 20}


@pytest.fixture(scope="session")
def ray_s3(tmp_path_factory):
    """moto's S3 server for s3:// roots (test_ray_s3.py), started before the Ray nodes: they
    get its credentials and a cache directory in their environment while they start, as a
    deployment gives its nodes real ones; this process's environment is put back."""
    from moto_s3 import MotoServer

    server = MotoServer(enforce_iam=False)
    server.node_env = {**server.env(), "ROARBASE_RAY_S3_CACHE": str(tmp_path_factory.mktemp("s3cache"))}
    yield server
    server.close()


@pytest.fixture(scope="session")
def ray_cluster(ray_s3):
    saved = dict(os.environ)
    os.environ.update(ray_s3.node_env)
    try:
        cluster = RayLocalCluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
        for _ in range(2):
            cluster.add_node(**NODE)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    ray.init(address=cluster.address, namespace="roarbase-tests", logging_level="ERROR", log_to_driver=False)
    nodes = ray.nodes()
    assert {n["NodeManagerAddress"] for n in nodes} == {"127.0.0.1"} and len(nodes) == 3
    yield cluster
    ray.shutdown()
    cluster.shutdown()


class RayDb:
    """A coordinator over fresh worker actors; .close() also stops the actors."""

    def __init__(self, base: Path, workers: int = 2) -> None:
        self.shared = str(base / "shared")
        self.tag = uuid.uuid4().hex[:8]
        self.transport = RayTransport(self.shared, [f"{self.tag}-w{i}" for i in range(workers)], fsync=True,
                                      timeout=120)
        self.db = engine.open(str(base / "coord"), fsync=True, cluster=Cluster(self.transport, self.shared))

    def close(self) -> None:
        try:
            self.db.close()
        finally:
            self.transport.stop_workers()


@pytest.fixture
def ray_db(ray_cluster, tmp_path):
    made = []

    def make(workers: int = 2) -> RayDb:
        r = RayDb(tmp_path, workers)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture
def open_embedded(tmp_path):
    import engine

    made = []

    def make():
        db = engine.open(str(tmp_path / f"embedded{len(made)}"), fsync=False)
        made.append(db)
        return db

    yield make
    for db in made:
        db.close()
