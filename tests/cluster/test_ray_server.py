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
        assert len(report["nodes"]) == 3 and all(n["address"] == "127.0.0.1" for n in report["nodes"])
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
