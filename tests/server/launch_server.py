"""Run a real roarbase server for the wire tests: `python tests/server/launch_server.py
'<json>'`. Prints one JSON line {"grpc_port", "http_port", "root_email", "root_password",
"org_id"} once both listeners are up, then serves until SIGTERM.

The JSON argument: data_dir (required), and optionally limits (Limits fields), tokens
(TokenSettings fields), settings (ServerSettings fields other than service/ports) — so a
test can shrink a limit without a config file; shard_delay (seconds) makes every query
sleep that long per shard (engine.executor.shard_hook), for the deadline tests; nofile sets
the process's descriptor limit; task_gate (the path of a FIFO) holds every background task
before its work until the test writes one byte to the FIFO, for the WatchTask tests.
argon2 runs at its cheapest and fsync is
off: these tests check behaviour, not hashing cost or power-loss durability.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from server import serve  # noqa: E402
from server.service.config import BootstrapSettings, Limits, PasswordHashing, ServiceConfig, TokenSettings  # noqa: E402
from server.settings import ServerSettings  # noqa: E402

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
    if spec.get("task_gate"):
        _gate_tasks(spec["task_gate"])
    config = ServiceConfig(
        spec["data_dir"], fsync=False,
        passwords=PasswordHashing(time_cost=1, memory_cost_kib=8, parallelism=1),
        limits=Limits(**spec.get("limits", {})), tokens=TokenSettings(**spec.get("tokens", {})),
        bootstrap=BootstrapSettings(org_name="acme", root_email=ROOT_EMAIL, root_name="rooty",
                                    root_password=ROOT_PASSWORD),
        **spec.get("service", {}))
    settings = ServerSettings(config, grpc_port=0, http_port=0, **spec.get("settings", {}))

    def ready(s: serve.Serving) -> None:
        org_id = s.runtime.ctx.store.one("SELECT id FROM orgs ORDER BY created_at LIMIT 1")["id"]
        print(json.dumps({"grpc_port": s.grpc_port, "http_port": s.http_port, "root_email": ROOT_EMAIL,
                          "root_password": ROOT_PASSWORD, "org_id": org_id}), flush=True)

    serve.run(settings, on_ready=ready)


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


if __name__ == "__main__":
    main()
