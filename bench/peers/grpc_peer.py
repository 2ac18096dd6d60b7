"""roarbase over the wire: a real server process (`python -m server.cli serve`) holding the
generated dataset in a database, and gRPC clients of it (server.client).

- `BenchServer` prepares a server data dir (bootstrap org, database "bench", table `seg`
  bulk-imported from the edges files like the in-process peers), starts the server on
  free loopback ports and logs in.
- `client_worker` is the body of a client *process* (bench.grpc_rt runs several): with
  the GIL, client threads would measure the client's interpreter, not the server.
- `RoarbaseGrpcPeer` answers bench.queries through one client, in the Peer protocol, so
  the side-by-side runner can list gRPC next to the other front doors.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import pyarrow.parquet as pq

from bench.gen import read_schema
from bench.peers import LoadStats
from bench.peers.roarbase_peer import INDEX, RoarbasePQLPeer
from bench.queries import Answer, Query

DATABASE = "bench"
ROOT_EMAIL = "bench@localhost"
START_TIMEOUT = 60.0
# The per-org rate limit (2,000/s by default) would otherwise cap what is measured.
_SERVER_ENV = {"ROARBASE_RATE_PER_ORG": "1000000000", "ROARBASE_RATE_BURST": "1000000000"}


def load_table(holder: Any, data_dir: Path) -> int:
    """Create table `seg` from the dataset's schema (SQL types, so SQL sees it too) and
    bulk-import every edges file; returns the edges imported."""
    schema = read_schema(data_dir)
    columns = []
    for name, spec in schema["fields"].items():
        bounds = f" MIN {spec['min']} MAX {spec['max']}" if spec["type"] in ("int", "decimal") else ""
        columns.append(f"{name} {spec['sql_type'].upper()}{bounds}")
    holder.sql(f"CREATE TABLE {INDEX} (_id ID, {', '.join(columns)})")
    seg = holder.index(INDEX)
    total = 0
    for name, spec in schema["fields"].items():
        table = pq.read_table(Path(data_dir) / "edges" / f"{name}.parquet",
                              read_dictionary=["value"] if spec.get("keys") else None)
        values: Any = table["value"]
        if spec["type"] == "decimal":
            values = values.to_numpy() / 10 ** spec["scale"]        # edges hold cents
        elif not spec.get("keys"):
            values = values.to_numpy()
        total += seg.import_values(name, table["record_id"].to_numpy(), values)
    return total


def serve_process(data_dir: str) -> tuple[subprocess.Popen[str], str, str]:
    """`python -m server.cli serve` on a prepared data dir, on free loopback ports, with
    the production defaults (fsync on) but no rate limit: (process, gRPC target "host:port",
    HTTP base URL), once it reports both listeners. Its stdout is left open: close it
    after the process ends."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROARBASE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--data-dir", data_dir, "--grpc-port", "0",
         "--http-port", "0"], cwd=str(Path(__file__).resolve().parents[2]),
        env={**env, **_SERVER_ENV, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True)
    assert proc.stdout is not None
    target = http = ""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and not (target and http):
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the server exited during startup (status {proc.wait()})")
        found = re.match(r"\s+gRPC\s+(\S+)$", line.rstrip("\n"))
        target = found[1] if found else target
        found = re.match(r"\s+HTTP\s+(\S+)$", line.rstrip("\n"))
        http = found[1] if found else http
    if not (target and http):
        proc.kill()
        proc.wait()
        raise RuntimeError("the server did not report its ports")
    return proc, target, http


class BenchServer:
    """A roarbase server process on a prepared data dir, and the credentials to call it."""

    def __init__(self, dataset: Path, work_dir: Optional[str] = None) -> None:
        from server.service import tokens
        from server.service import databases
        from server.service.bootstrap import open_service
        from server.service.config import BootstrapSettings, ServiceConfig

        started = time.perf_counter()
        self.work_dir = work_dir or tempfile.mkdtemp(prefix="roarbase-grpc-bench-")
        self.data_dir = os.path.join(self.work_dir, "data")
        self.password = secrets.token_urlsafe(18)
        config = ServiceConfig(self.data_dir, bootstrap=BootstrapSettings(root_email=ROOT_EMAIL,
                                                                          root_password=self.password))
        with open_service(config) as ctx:
            db = databases.create_database(ctx, tokens.owner_principal(ctx), name=DATABASE)
            self.database_id = db.id
            self.edges = load_table(ctx.engine(db.id), dataset)
        self.engine_dir = os.path.join(config.databases_dir, self.database_id)
        self.load_seconds = time.perf_counter() - started
        self.proc: Optional[subprocess.Popen[str]] = None
        self.target = ""
        self.token = ""

    def start(self) -> None:
        """Start `python -m server.cli serve` on free loopback ports and log in."""
        from server.client import Client

        self.proc, self.target, _ = serve_process(self.data_dir)
        with Client(self.target) as c:
            self.token = c.login(ROOT_EMAIL, self.password).token

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit status."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return self.proc.returncode

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.work_dir, ignore_errors=True)


HEALTH_CHECK = ""     # the statement of a job that calls grpc.health.v1 Check instead of Pql


def client_worker(conn: Any, target: str, token: str) -> None:
    """A client process: for each job (statement, table, database, start_at, seconds)
    received on conn, wait until wall time start_at, call Pql back to back for `seconds`
    (the health check for HEALTH_CHECK: the transport's floor, no auth, no service call),
    and send back (latencies in seconds, last answer, wall start, wall end). None ends it."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from server.client import Client

    with Client(target, token=token, timeout=30.0) as c:
        health = health_pb2_grpc.HealthStub(c.channel)
        while True:
            job = conn.recv()
            if job is None:
                return
            statement, table, database, start_at, seconds = job
            pause = start_at - time.time()
            if pause > 0:
                time.sleep(pause)
            latencies = []
            answer = None
            began = time.time()
            end = began + seconds
            clock = time.perf_counter
            while True:
                t0 = clock()
                if statement == HEALTH_CHECK:
                    answer = health.Check(health_pb2.HealthCheckRequest(), timeout=30.0).status
                else:
                    answer = c.pql(statement, table=table, database=database)
                latencies.append(clock() - t0)
                if time.time() >= end:
                    break
            conn.send((latencies, answer, began, time.time()))


class RoarbaseGrpcPeer:
    """PQL text through the gRPC client to a server process on this machine."""

    name = "roarbase-grpc"

    def __init__(self) -> None:
        self._server: Optional[BenchServer] = None
        self._client: Any = None
        self._answers = RoarbasePQLPeer()     # the same normalisation as the in-process PQL peer

    def load(self, data_dir: Path) -> LoadStats:
        from server.client import Client

        self._server = BenchServer(data_dir)
        self._server.start()
        self._client = Client(self._server.target, token=self._server.token, timeout=300.0)
        return LoadStats(self._server.load_seconds, self._server.edges, "edges",
                         {"server": self._server.target, "data dir": self._server.data_dir})

    def run(self, query: Query) -> Answer:
        assert self._server is not None
        results = self._client.pql(query.pql, table=INDEX, database=self._server.database_id)
        return self._answers.answer(query, results)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._server is not None:
            self._server.close()
            self._server = None
