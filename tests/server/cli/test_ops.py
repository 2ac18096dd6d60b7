"""Operating a real server (issue 17): `roarbase serve` with JSON logs to a file, the probe
and metrics routes, the admin CLI with a stored login, root-reset, the shell, and the
rule that no secret ever reaches a log."""
from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from click.testing import CliRunner, Result
from prometheus_client.parser import text_string_to_metric_families

from server import cli
from server.client import Client
from server.error_table import ServerError

PASSWORD = "root-Secret-pw-4242"
FAST = {"ROARBASE_PASSWORDS_TIME_COST": "1", "ROARBASE_PASSWORDS_MEMORY_COST_KIB": "8",
        "ROARBASE_PASSWORDS_PARALLELISM": "1", "ROARBASE_FSYNC": "false"}
ROOT = Path(__file__).resolve().parents[3]


class Served:
    def __init__(self, proc: subprocess.Popen, grpc: str, http: str, log: Path, data: Path) -> None:
        self.proc, self.grpc, self.http, self.log, self.data = proc, grpc, http, log, data

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("ops")
    log = base / "server.log"
    env = {**os.environ, **FAST, "ROARBASE_ROOT_PASSWORD": PASSWORD, "ROARBASE_SLOW_QUERY_SECONDS": "0",
           "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--data-dir", str(base / "data"),
                             "--grpc-port", "0", "--http-port", "0", "--log-format", "json", "--log-level", "debug",
                             "--log-file", str(log)], cwd=str(ROOT), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    out: list[str] = []
    assert proc.stdout is not None and proc.stderr is not None
    timer = threading.Timer(60, proc.kill)
    timer.start()
    try:
        while not any(line.startswith("Stop with") for line in out):
            line = proc.stdout.readline()
            assert line, "the server did not start: " + proc.stderr.read()
            out.append(line)
    finally:
        timer.cancel()
    text = "".join(out)
    grpc = re.search(r"gRPC  (\S+)", text).group(1)  # type: ignore[union-attr]
    http = re.search(r"HTTP  (\S+)", text).group(1)  # type: ignore[union-attr]
    srv = Served(proc, grpc, http, log, base / "data")
    try:
        yield srv
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        srv.stderr = proc.stderr.read()  # type: ignore[attr-defined]
        proc.stdout.close()
        proc.stderr.close()


def run(*args: str, home: Path, input: Any = None, **env: str) -> Result:
    return CliRunner().invoke(cli.main, list(args), input=input,
                              env={**FAST, "HOME": str(home), "XDG_CONFIG_HOME": "", "ROARBASE_TOKEN": "",
                                   "ROARBASE_API_KEY": "", "ROARBASE_SERVER": "", **env})


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def _metrics(http: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(http + "/metrics").text
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_probes_version_and_status(served: Served) -> None:
    assert httpx.get(served.http + "/health").json() == {"status": "ok"}
    ready = httpx.get(served.http + "/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert httpx.get(served.http + "/version").json()["version"]
    status = httpx.get(served.http + "/status").json()
    assert status["state"] == "NORMAL" and status["nodes"][0]["isPrimary"] is True
    assert httpx.get(served.http + "/").json()["links"]["metrics"] == "/metrics"


def test_metrics_parse_and_move_with_traffic(served: Served) -> None:
    key = ("roarbase_http_requests_total", (("method", "GET"), ("route", "/version"), ("status", "200")))
    before = _metrics(served.http).get(key, 0.0)
    for _ in range(3):
        httpx.get(served.http + "/version")
    after = _metrics(served.http)
    assert after[key] == before + 3
    names = {name for name, _ in after}
    assert {"roarbase_open_databases", "roarbase_admission_queue_depth", "roarbase_requests_in_progress",
            "roarbase_http_request_duration_seconds_bucket", "process_resident_memory_bytes"} <= names
    with Client(served.grpc) as c:
        c.login("root@localhost", PASSWORD)
        db = c.create_database("metered")
        c.wait_running(db.id)
        c.sql("CREATE TABLE t (_id ID, n INT)", database="metered")
        c.sql("INSERT INTO t (_id, n) VALUES (1, 1), (2, 2), (3, 3)", database="metered")
        c.sql("SELECT COUNT(*) FROM t", database="metered")
        c.pql("Count(All())", table="t", database=db.id)
    after = _metrics(served.http)
    assert after[("roarbase_queries_total", (("kind", "write"), ("language", "sql")))] >= 2
    assert after[("roarbase_queries_total", (("kind", "read"), ("language", "pql")))] >= 1
    assert after[("roarbase_ingest_rows_total", ())] >= 3
    assert after[("roarbase_wal_bytes_total", ())] > 0
    assert after[("roarbase_grpc_calls_total", (("code", "OK"), ("method", "/roarbase.v1.QueryService/Sql")))] >= 3
    assert after[("roarbase_open_databases", ())] >= 1


def test_log_lines_for_each_kind_of_event(served: Served) -> None:
    with Client(served.grpc) as c:
        c.login("root@localhost", PASSWORD)
        db = c.create_database("logged")
        c.wait_running(db.id)
        c.sql("CREATE TABLE t (_id ID, n INT)", database="logged")
        with pytest.raises(ServerError):
            c.sql("SELEC 1", database="logged")
    bad = httpx.get(served.http + "/v2/databases", headers={"authorization": "Bearer not-a-token"})
    assert bad.status_code == 401
    request_id = bad.headers["x-request-id"]
    assert bad.json()["error_data"]["request_id"] == request_id
    time.sleep(0)   # the lines are written before the responses are sent
    lines = served.lines()
    assert any(ln["logger"] == "roarbase.server" and "serving" in ln["msg"] and ln["grpc"] for ln in lines)
    http = [ln for ln in lines if ln["logger"] == "roarbase.access" and ln.get("request_id") == request_id]
    assert len(http) == 1 and http[0]["status"] == 401 and http[0]["code"] == "Unauthorized"
    assert http[0]["route"] == "/v2/databases" and http[0]["face"] == "http"
    assert any(ln["logger"] == "roarbase.auth" and ln.get("request_id") == request_id for ln in lines)
    grpc = [ln for ln in lines if ln["logger"] == "roarbase.access" and ln["face"] == "grpc"
            and ln["route"] == "/roarbase.v1.QueryService/Sql"]
    assert any(ln["status"] == "INVALID_ARGUMENT" and ln["code"] == "BadRequest" for ln in grpc)
    good = [ln for ln in grpc if ln["status"] == "OK"]
    assert good and all(ln["principal"] and ln["org"] and ln["bytes"] > 0 and ln["duration_ms"] >= 0 for ln in good)
    slow = [ln for ln in lines if ln["logger"] == "roarbase.slow"]
    assert any("CREATE TABLE t" in ln["text"] and ln["database"] == db.id for ln in slow)


def test_grpc_request_id_in_trailing_metadata(served: Served) -> None:
    import grpc

    from server.pb.roarbase.v1 import org_pb2, org_pb2_grpc

    with grpc.insecure_channel(served.grpc) as channel:
        stub = org_pb2_grpc.OrgServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetOrg(org_pb2.GetOrgRequest(), timeout=10)
    trailers = dict(caught.value.trailing_metadata())  # type: ignore[attr-defined]
    assert re.fullmatch(r"[0-9a-f]{16}", trailers["x-request-id"])
    assert json.loads(trailers["roarbase-error-data"])["request_id"] == trailers["x-request-id"]


def test_the_grpc_client_on_the_http_port_says_so(served: Served) -> None:
    with Client(served.http.removeprefix("http://"), timeout=5, retries=0) as c:
        with pytest.raises(ServerError) as caught:
            c.login("root@localhost", PASSWORD)
    assert caught.value.name == "NOT_GRPC_PORT" and "HTTP port" in caught.value.message


def test_admin_cli_with_a_stored_login(served: Served, tmp_path: Path) -> None:
    home = tmp_path / "home"
    ok(run("login", "--server", served.grpc, "--email", "root@localhost", "--password-stdin", home=home,
           input=PASSWORD + "\n"))
    creds = home / ".config" / "roarbase" / "credentials.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert stat.S_IMODE(creds.parent.stat().st_mode) == 0o700
    assert ok(run("db", "create", "sales", home=home)).count("RUNNING") == 1
    assert "sales" in ok(run("db", "list", home=home))
    assert json.loads(ok(run("db", "show", "sales", home=home)))["name"] == "sales"
    ok(run("query", "--server", served.grpc, "-d", "sales", "--sql", "CREATE TABLE t (_id ID, n INT)", home=home))
    out = ok(run("query", "--server", served.grpc, "-d", "sales", "--sql", "SELECT count(*) FROM t", home=home))
    assert out.splitlines()[0].strip() == "count(*)"
    ok(run("user", "create", "--email", "ann@example.com", "--role", "manager", "--password-stdin", home=home,
           input="ann-Password-77\n"))
    ok(run("user", "create", "--name", "ingest-bot", home=home))
    ok(run("user", "role", "ann@example.com", "backend", home=home))
    users = ok(run("user", "list", home=home))
    assert re.search(r"ann@example.com .* backend", users) and "ingest-bot" in users
    made = run("key", "create", "--account", "ingest-bot", "--label", "ci", home=home)
    key = ok(made).strip()
    assert key.startswith("rbk_")
    listed = ok(run("key", "list", home=home))
    assert "ci" in listed and key not in listed
    key_id = re.search(r"^(\S+) +\| ingest-bot", listed, re.M).group(1)  # type: ignore[union-attr]
    ok(run("key", "revoke", key_id, home=home))
    assert "revoked" in ok(run("key", "list", home=home))
    ok(run("user", "delete", "ann@example.com", "--yes", home=home))
    assert "ann@example.com" not in ok(run("user", "list", home=home))
    ok(run("db", "delete", "sales", "--yes", home=home))

    # An access token past its expiry is refreshed (and the file updated) without a login.
    data = json.loads(creds.read_text())
    old = data["servers"][served.grpc]["token"]
    data["servers"][served.grpc]["expires_at"] = 0
    creds.write_text(json.dumps(data))
    ok(run("db", "list", home=home))
    assert json.loads(creds.read_text())["servers"][served.grpc]["token"] != old
    # Once the refresh token is gone too, the error says how to log in again.
    data = json.loads(creds.read_text())
    data["servers"][served.grpc].update(expires_at=0, refresh_token="spent")
    creds.write_text(json.dumps(data))
    failed = run("db", "list", home=home)
    assert failed.exit_code == 1 and "roarbase login --server" in failed.stderr
    assert "logged out" in ok(run("logout", home=home))
    failed = run("db", "list", "--server", served.grpc, home=home)
    assert failed.exit_code == 1 and "not logged in" in failed.stderr


def test_no_secret_in_any_log(served: Served) -> None:
    """After logins, tokens, API keys and failures at DEBUG level, the log holds none of them."""
    with Client(served.grpc) as c:
        pair = c.login("root@localhost", PASSWORD)
        bot = c.create_account(kind=2, name="log-bot")
        from server.pb.roarbase.v1 import auth_pb2

        created = c.call("AuthService", "CreateApiKey", auth_pb2.CreateApiKeyRequest(account_id=bot.id))
        with Client(served.grpc, api_key=created.key) as k:
            k.pql("Count(All())", table="t", database="logged")
        with Client(served.grpc, api_key=created.key[:-2] + "zz") as k, pytest.raises(ServerError):
            k.pql("Count(All())", table="t", database="logged")
        with pytest.raises(ServerError):
            c.login("root@localhost", "wrong-" + PASSWORD)
    httpx.post(served.http + "/v2/auth/token", json={"email": "root@localhost", "password": PASSWORD})
    httpx.post(served.http + "/sql", content=b"SELECT 1", headers={"authorization": "Bearer " + pair.token})
    text = served.log.read_text()
    for secret in (PASSWORD, pair.token, pair.refresh_token, created.key, created.key.split("_", 2)[-1]):
        assert secret not in text
    assert "eyJ" not in text and "rbk_" not in text


def test_root_reset_and_shell_on_a_stopped_data_dir(tmp_path: Path) -> None:
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from server import shell as shell_mod
    from server.cli import LocalTarget
    from server.service.bootstrap import open_service
    from server.service.config import BootstrapSettings, PasswordHashing, ServiceConfig

    config = ServiceConfig(str(tmp_path / "data"), fsync=False,
                           passwords=PasswordHashing(time_cost=1, memory_cost_kib=8, parallelism=1),
                           bootstrap=BootstrapSettings(root_password=PASSWORD))
    with open_service(config):
        pass
    out = ok(run("root-reset", "--data-dir", str(tmp_path / "data"), home=tmp_path))
    new = re.search(r"new password for root@localhost: (\S+)", out).group(1)  # type: ignore[union-attr]
    tok = run("token", "--data-dir", str(tmp_path / "data"), "--email", "root@localhost", "--password-stdin",
              home=tmp_path, input=new + "\n")
    assert tok.exit_code == 0 and tok.stdout.startswith("eyJ")
    old = run("token", "--data-dir", str(tmp_path / "data"), "--email", "root@localhost", "--password-stdin",
              home=tmp_path, input=PASSWORD + "\n")
    assert old.exit_code == 1

    ok(run("demo", "--data-dir", str(tmp_path / "data"), "--no-seg", home=tmp_path))
    target = LocalTarget(config)
    printed: list[str] = []
    try:
        sh = shell_mod.Shell(target, "docs-sql", max_rows=2, out=printed.append)
        with create_pipe_input() as pipe:
            session = shell_mod.session(sh, input=pipe, output=DummyOutput())
            pipe.send_text("SELECT name,\r count(*) FROM people GROUP BY name;\r")   # two lines, one statement
            pipe.send_text("\\timing\r\\dt\r\\pql people\rCount(Row(age > 20))\rSELEC 1\r")
            pipe.send_text("\\sql\rSELECT nme FROM people;\r\\q\r")
            shell_mod.interact(sh, session)
    finally:
        target.close()
    text = "\n".join(printed)
    assert "name | count(*)" in text and "… 4 more rows" in text     # 6 groups, 2 shown
    assert "timing on" in text and "time:" in text
    assert "cities" in text and "people" in text                    # \dt
    assert "\n5\n" in f"\n{text}\n"                                  # PQL count in PQL mode
    assert "unknown call SELEC" in text or "syntax error" in text
    assert "did you mean 'name'?" in text
