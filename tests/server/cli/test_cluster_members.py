"""Cluster membership on a running server (tests/server/launch_server.py with every
database on 2 in-process cluster workers, the loopback transport): `roarbase cluster
add-worker | remove-worker | rebalance | status` over gRPC with the operator's login, the
same operations over HTTP (/v2/databases/{id}/cluster/...), typed refusals, the placement
property and the shard-move counter — and the answers stay what the writes imply."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from click.testing import CliRunner, Result

import serverlib
from server import cli
from server.client import Client

SHARD = 1 << 20
SHARDS = 12


def run(srv: serverlib.ServerProcess, *args: str, token: str) -> Result:
    return CliRunner().invoke(cli.main, [*args, "--server", srv.grpc_target],
                              env={"ROARBASE_TOKEN": token, "ROARBASE_PASSWORD": "", "ROARBASE_RAY_ADDRESS": ""})


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, serve_with: Any) -> Iterator[tuple[serverlib.ServerProcess, str, str]]:
    with serve_with(tmp_path_factory.mktemp("clu") / "data", loopback_cluster=2) as srv:
        token = ok(CliRunner().invoke(cli.main, ["token", "--server", srv.grpc_target, "--email", srv.root_email],
                                      env={"ROARBASE_TOKEN": "", "ROARBASE_PASSWORD": srv.root_password})).strip()
        with Client(srv.grpc_target, token=token) as c:
            db = c.create_database("clu")
            c.wait_running(db.id)
            c.sql("CREATE TABLE t (_id ID, tags IDSET, n INT)", database=db.id)
            # record s*SHARD + k for k < 5: tags=k % 3, n=k — on every shard
            writes = " ".join(f"Set({s * SHARD + k}, tags={k % 3}) Set({s * SHARD + k}, n={k})"
                              for s in range(SHARDS) for k in range(5))
            c.pql(writes, table="t", database=db.id)
        yield srv, token, db.id


def _answers(srv: serverlib.ServerProcess, token: str, db: str) -> list[Any]:
    with Client(srv.grpc_target, token=token) as c:
        return [c.pql(q, table="t", database=db) for q in
                ("Count(Row(tags=0))", "Count(Row(tags=2))", "Sum(field=n)", "Count(Row(n > 2))")]


EXPECTED = [[SHARDS * 2], [SHARDS * 1], None, [SHARDS * 2]]      # k in {0, 3}; {2}; sum 0..4; {3, 4}


def _check(got: list[Any]) -> None:
    assert got[0] == EXPECTED[0] and got[1] == EXPECTED[1] and got[3] == EXPECTED[3]
    s = got[2][0]
    assert (s["value"], s["count"]) == (SHARDS * 10, SHARDS * 5), s


def _placement(srv: serverlib.ServerProcess, token: str, db: str) -> dict[str, Any]:
    resp = httpx.get(srv.http_url("/v2/service-properties/cluster:placement"),
                     headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    (entry,) = [d for d in resp.json()["value"]["databases"] if d["database_id"] == db]
    return dict(entry)


def _moves_metric(srv: serverlib.ServerProcess, db: str) -> float:
    text = httpx.get(srv.http_url("/metrics")).text
    m = re.search(r'^roarbase_cluster_shard_moves_total\{database="%s"\} (\S+)$' % db, text, re.M)
    assert m, text[-2000:]
    return float(m.group(1))


def test_add_remove_rebalance_over_cli_grpc_and_http(setup: tuple[serverlib.ServerProcess, str, str]) -> None:
    srv, token, db = setup
    p8 = db[:8] + "-"
    _check(_answers(srv, token, db))
    before = _placement(srv, token, db)
    assert set(before["workers"]) == {p8 + "w0", p8 + "w1"} and sum(before["workers"].values()) == SHARDS

    # the CLI, over gRPC: a new worker takes the shards jump hash gives it, nothing else moves
    added = json.loads(ok(run(srv, "cluster", "add-worker", "-d", "clu", "w2", "-f", "json", token=token)))
    assert added["worker"] == p8 + "w2" and added["moved"], added
    after = _placement(srv, token, db)
    moved = {int(m["shard"]) for m in added["moved"]}      # (proto JSON: 64-bit integers as text)
    assert {int(s) for s, w in after["owners"]["t"].items() if w == p8 + "w2"} == moved
    assert all(after["owners"]["t"][s] == w for s, w in before["owners"]["t"].items() if int(s) not in moved)
    assert after["epoch"] > before["epoch"] and int(added["epoch"]) == after["epoch"]
    assert _moves_metric(srv, db) == len(moved)
    _check(_answers(srv, token, db))
    text = ok(run(srv, "cluster", "status", token=token))
    assert f"{p8}w2: {len(moved)} shards; t: {sorted(moved)}" in text

    # HTTP: remove w0 (its shards move to the others); typed refusals
    h = {"Authorization": f"Bearer {token}"}
    base = srv.http_url(f"/v2/databases/{db}/cluster")
    gone = httpx.delete(f"{base}/workers/w0", headers=h)
    assert gone.status_code == 200, gone.text
    assert gone.json()["worker"] == p8 + "w0" and set(gone.json()["workers"]) == {p8 + "w1", p8 + "w2"}
    assert p8 + "w0" not in _placement(srv, token, db)["owners"]["t"].values()
    _check(_answers(srv, token, db))
    unknown = httpx.delete(f"{base}/workers/w0", headers=h)
    assert (unknown.status_code, unknown.json()["error_data"]["name"]) == (404, "WORKER_NOT_FOUND")
    dup = httpx.post(f"{base}/workers", headers=h, json={"name": "w1"})
    assert (dup.status_code, dup.json()["error_data"]["name"]) == (409, "WORKER_EXISTS")
    bad = httpx.post(f"{base}/workers", headers=h, json={"name": "no/slash"})
    assert (bad.status_code, bad.json()["error_data"]["name"]) == (400, "INVALID_WORKER_NAME")
    reb = httpx.post(f"{base}/action/rebalance", headers=h, json={})           # evens out w1 and w2
    assert reb.status_code == 200 and sorted(reb.json()["workers"].values()) == [SHARDS // 2] * 2, reb.text
    assert httpx.post(f"{base}/action/rebalance", headers=h, json={}).json()["moved"] == []
    rebalanced = len(reb.json()["moved"])

    # gRPC directly (the Python client): down to one worker, then the last is refused
    with Client(srv.grpc_target, token=token) as c:
        m = c.remove_cluster_worker(db, "w1")
        assert m.worker == p8 + "w1" and dict(m.workers) == {p8 + "w2": SHARDS}
        with pytest.raises(Exception) as last:
            c.remove_cluster_worker(db, p8 + "w2")
    assert (last.value.code, last.value.name) == ("IncorrectState", "LAST_WORKER")   # type: ignore[attr-defined]
    out = run(srv, "cluster", "remove-worker", "-d", "clu", "w2", token=token)
    assert out.exit_code == 1 and out.stderr.startswith("error: IncorrectState: ")
    _check(_answers(srv, token, db))
    assert _moves_metric(srv, db) == len(moved) + len(gone.json()["moved"]) + rebalanced + len(m.moved)


def test_an_embedded_database_is_not_a_cluster(tmp_path: Path, serve_with: Any) -> None:
    with serve_with(tmp_path / "data") as srv:
        token = ok(CliRunner().invoke(cli.main, ["token", "--server", srv.grpc_target, "--email", srv.root_email],
                                      env={"ROARBASE_TOKEN": "", "ROARBASE_PASSWORD": srv.root_password})).strip()
        with Client(srv.grpc_target, token=token) as c:
            c.wait_running(c.create_database("plain").id)
        out = run(srv, "cluster", "add-worker", "-d", "plain", "w5", token=token)
        assert out.exit_code == 1 and out.stderr.startswith("error: IncorrectState: ") and "cluster" in out.stderr
        assert "no open database" in ok(run(srv, "cluster", "status", token=token))
