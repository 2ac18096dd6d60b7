"""The server's side of the Ray cluster: a database opened with ray_address set (what
`roarbase serve --ray ADDRESS` configures) keeps its records on worker actors of its own,
and `roarbase cluster status` reports the nodes and each worker's shards."""
from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner

from server.cli import main
from server.service.config import ServiceConfig
from server.service.context import ServiceContext

pytestmark = [pytest.mark.cluster,
              pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::ResourceWarning")]


def test_a_database_on_ray_and_cluster_status(ray_cluster, tmp_path):
    config = ServiceConfig(data_dir=str(tmp_path / "data"), fsync=False, ray_address=ray_cluster.address,
                           ray_workers=2)
    ctx = ServiceContext(config)
    db_id = str(uuid.uuid4())
    holder = ctx.engine(db_id)
    try:
        assert holder.cluster is not None
        ix = holder.create_index("t")
        ix.create_field("f")
        ix.import_values("f", [1, (1 << 20) + 1, (2 << 20) + 5, (3 << 20) + 7], [1, 1, 2, 1])
        assert holder.query("t", "Count(Row(f=1))") == [3]
        assert holder.sql("SELECT f, COUNT(*) FROM t WITH (flatten(f)) GROUP BY f").rows == [([1], 3), ([2], 1)]  # a one-member set each

        out = CliRunner().invoke(main, ["cluster", "status", "--ray", ray_cluster.address, "--json"])
        assert out.exit_code == 0, out.output
        report = json.loads(out.output)
        assert sum(n["alive"] for n in report["nodes"]) == 3            # (a node another test removed stays listed, dead)
        assert all(n["address"] == "127.0.0.1" for n in report["nodes"])
        mine = {n: w for n, w in report["workers"].items() if n.startswith(f"roarbase-worker-{db_id[:8]}-")}
        assert len(mine) == 2
        held = sorted(s for w in mine.values() for s in w["shards"].get("t", []))
        assert held == [0, 1, 2, 3]
        text = CliRunner().invoke(main, ["cluster", "status", "--ray", ray_cluster.address])
        assert text.exit_code == 0 and f"roarbase-worker-{db_id[:8]}-w0" in text.output
    finally:
        holder.cluster.transport.stop_workers()
        ctx.close()


def test_more_workers_on_reopen_rebalance(ray_cluster, tmp_path):
    from engine.cluster.ray_backend import open_on_ray

    prefix = uuid.uuid4().hex[:8] + "-"
    root, path = str(tmp_path / "shared"), str(tmp_path / "coord")
    db = open_on_ray(path, root, workers=2, prefix=prefix, fsync=False)
    try:
        ix = db.create_index("t")
        ix.create_field("f")
        ix.import_values("f", [s << 20 for s in range(10)], [1] * 10)
    finally:
        db.close()
    db = open_on_ray(path, root, workers=3, prefix=prefix, fsync=False)
    try:
        table = db.cluster.table
        assert table.workers == [f"{prefix}w0", f"{prefix}w1", f"{prefix}w2"]
        assert f"{prefix}w2" in table.placed("t").values()       # jump hash gives it some of the 10
        assert db.query("t", "Count(Row(f=1))") == [10]
    finally:
        db.cluster.transport.stop_workers()
        db.close()


def test_placement_is_visible_as_a_service_property_and_in_metrics(ray_cluster, tmp_path):
    """Each open database on the cluster: its workers' shard counts and each table's
    shard -> worker, through GET /v2/service-properties/cluster:placement (the service call)
    and the roarbase_cluster_shards gauge — both equal to the placement table."""
    from types import SimpleNamespace

    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from server import telemetry
    from server.service import databases, service_properties, tokens
    from server.service.bootstrap import open_service
    from server.service.config import BootstrapSettings, PasswordHashing

    config = ServiceConfig(data_dir=str(tmp_path / "data"), fsync=False, ray_address=ray_cluster.address,
                           ray_workers=2, passwords=PasswordHashing(time_cost=1, memory_cost_kib=8, parallelism=1),
                           bootstrap=BootstrapSettings(org_name="acme", root_email="root@example.com",
                                                       root_name="rooty", root_password="root-password-1"))
    ctx = open_service(config)
    holder = None
    try:
        root = tokens.verify_access_token(ctx, tokens.login(ctx, email="root@example.com",
                                                            password="root-password-1").token)
        prop = service_properties.get_service_property(ctx, root, "cluster:placement")
        assert prop.value == {"ray": True, "databases": []}              # nothing open yet
        db = databases.create_database(ctx, root, name=f"placed-{uuid.uuid4().hex[:6]}")
        holder = ctx.engine(db.id)
        ix = holder.create_index("t")
        ix.create_field("f")
        ix.import_values("f", [s << 20 for s in range(5)], [1] * 5)
        table = holder.cluster.table
        placed = table.placed("t")
        want_counts = {w: sum(1 for o in placed.values() if o == w) for w in table.workers}
        assert sum(want_counts.values()) == 5

        (entry,) = service_properties.get_service_property(ctx, root, "cluster:placement").value["databases"]
        assert entry["database_id"] == db.id and entry["workers"] == want_counts
        assert entry["owners"] == {"t": {str(s): w for s, w in sorted(placed.items())}}

        runtime = SimpleNamespace(ctx=ctx, inflight=0, ready=True, settings=SimpleNamespace(workers=1, max_pending=1))
        text = generate_latest(telemetry.runtime_registry(runtime)).decode()
        got = {s.labels["worker"]: s.value for fam in text_string_to_metric_families(text)
               if fam.name == "roarbase_cluster_shards" for s in fam.samples if s.labels["database"] == db.id}
        assert got == want_counts
    finally:
        if holder is not None:
            holder.cluster.transport.stop_workers()
        ctx.close()
