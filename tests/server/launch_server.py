"""Run a real roarbase server for the wire tests: `python tests/server/launch_server.py
'<json>'`. Prints one JSON line {"grpc_port", "http_port", "root_email", "root_password",
"org_id"} once both listeners are up, then serves until SIGTERM.

The JSON argument: data_dir (required), and optionally limits (Limits fields), tokens
(TokenSettings fields), settings (ServerSettings fields other than service/ports) — so a
test can shrink a limit without a config file; shard_delay (seconds) makes every query
sleep that long per shard (engine.executor.shard_hook), for the deadline tests; nofile sets
the process's descriptor limit; shard_gate (a file path) holds every shard while that file
exists — after creating `<gate>.entered` — until the file goes or the query is cancelled (its
cancel event is set), for the cancel tests; clock_file (a path) adds the number of seconds
written in that file to the service clock, so a test can make tokens expire without waiting;
demo (a record count) loads the `make run` demo database with that many records before
serving; task_gate (the path of a FIFO) holds every background task before its work
until the test writes one byte to the FIFO, for the WatchTask tests; loopback_cluster (a
worker count) keeps every database's records on that many in-process cluster workers. argon2 runs at its cheapest and fsync is off: these tests check behaviour, not
hashing cost or power-loss durability.
The repository is importable through PYTHONPATH (tests/support/childenv.py's child_env).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from server import serve
from server.service.config import BootstrapSettings, Limits, PasswordHashing, ServiceConfig, TokenSettings
from server.settings import ServerSettings

ROOT_EMAIL = "root@example.com"
ROOT_PASSWORD = "root-password-1"


def main() -> None:
    spec = json.loads(sys.argv[1])
    if spec.get("nofile"):   # a descriptor limit, for the connection-exhaustion tests
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (int(spec["nofile"]), int(spec["nofile"])))
    if spec.get("shard_delay"):
        import time

        from engine import executor

        delay = float(spec["shard_delay"])
        executor.shard_hook = lambda shard: time.sleep(delay)
    if spec.get("shard_gate"):
        _install_gate(Path(spec["shard_gate"]))
    if spec.get("clock_file"):
        _install_clock(Path(spec["clock_file"]))
    if spec.get("task_gate"):
        _gate_tasks(spec["task_gate"])
    if spec.get("loopback_cluster"):
        _loopback_cluster(int(spec["loopback_cluster"]))
    config = ServiceConfig(
        spec["data_dir"], fsync=False,
        passwords=PasswordHashing(time_cost=1, memory_cost_kib=8, parallelism=1),
        limits=Limits(**spec.get("limits", {})), tokens=TokenSettings(**spec.get("tokens", {})),
        bootstrap=BootstrapSettings(org_name="acme", root_email=ROOT_EMAIL, root_name="rooty",
                                    root_password=ROOT_PASSWORD),
        **spec.get("service", {}))
    settings = ServerSettings(config, grpc_port=0, http_port=0, **spec.get("settings", {}))
    if spec.get("demo"):
        from server import demo
        from server.service.bootstrap import open_service

        with open_service(config) as ctx:
            demo.ensure_demo(ctx, records=int(spec["demo"]))

    def ready(s: serve.Serving) -> None:
        org_id = s.runtime.ctx.store.one("SELECT id FROM orgs ORDER BY created_at LIMIT 1")["id"]
        print(json.dumps({"grpc_port": s.grpc_port, "http_port": s.http_port, "root_email": ROOT_EMAIL,
                          "root_password": ROOT_PASSWORD, "org_id": org_id}), flush=True)

    serve.run(settings, on_ready=ready)


def _install_gate(gate: Path) -> None:
    import threading
    import time

    from engine import executor
    from server.service import query

    entered = gate.with_name(gate.name + ".entered")
    active: set[threading.Event] = set()  # the cancel events of the queries in progress

    def tracked(fn):  # query.sql / query.pql, remembering their cancel event while they run
        def wrapper(*args, **kwargs):
            cancel = kwargs.get("cancel")
            if cancel is not None:
                active.add(cancel)
            try:
                return fn(*args, **kwargs)
            finally:
                active.discard(cancel)
        return wrapper

    def hold(shard: int) -> None:
        if gate.exists():
            entered.touch()
        while gate.exists() and not any(e.is_set() for e in list(active)):
            time.sleep(0.005)

    query.sql, query.pql = tracked(query.sql), tracked(query.pql)
    executor.shard_hook = hold


def _install_clock(path: Path) -> None:
    import time

    from server.service import bootstrap

    def clock() -> float:
        try:
            offset = float(path.read_text() or 0)
        except FileNotFoundError:
            offset = 0.0
        return time.time() + offset

    opener = bootstrap.open_service
    serve.open_service = lambda config: opener(config, clock=clock)  # type: ignore[assignment]


def _gate_tasks(fifo: str) -> None:
    """Every background task waits for one byte on `fifo` before its work (opening a FIFO
    for reading blocks until the test opens it for writing: no polling, no sleeps)."""
    from server.service import tasks

    start = tasks.start

    def gated(ctx, principal, database_id, name, job):  # type: ignore[no-untyped-def]
        def held() -> None:
            with open(fifo, "rb") as gate:
                gate.read(1)
            job()

        return start(ctx, principal, database_id, name, held)

    tasks.start = gated


def _loopback_cluster(workers: int) -> None:
    """Every database keeps its records on `workers` in-process cluster workers
    (engine LoopbackTransport: every message pickled) over <data_dir>/cluster/<id>, named
    as on Ray (`<id prefix>-w<i>`): the membership routes without a Ray cluster."""
    import os

    import engine
    from engine.cluster.coordinator import Cluster
    from engine.cluster.transport import LoopbackTransport
    from server.service.context import ServiceContext

    def open_engine(self, database_id):  # type: ignore[no-untyped-def]
        root = os.path.join(self.config.cluster_root, database_id)
        transport = LoopbackTransport(root, [f"{database_id[:8]}-w{i}" for i in range(workers)], fsync=False)
        return engine.open(self.engine_path(database_id), fsync=False, cluster=Cluster(transport, root, fsync=False))

    ServiceContext._open_engine = open_engine  # type: ignore[method-assign]


if __name__ == "__main__":
    main()
