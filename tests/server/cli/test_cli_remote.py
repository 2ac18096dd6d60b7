"""The CLI against a running server (--server): token, query, import, credentials, errors."""
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import serverlib
from server import cli
from server.client import Client


def run(srv: serverlib.ServerProcess, *args: str, input: Any = None, **env: str) -> Result:
    return CliRunner().invoke(cli.main, [args[0], "--server", srv.grpc_target, *args[1:]], input=input,
                              env={"ROARBASE_TOKEN": "", "ROARBASE_PASSWORD": "", **env})


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def token(server: serverlib.ServerProcess) -> str:
    tok = ok(run(server, "token", "--email", server.root_email, ROARBASE_PASSWORD=server.root_password)).strip()
    with Client(server.grpc_target, token=tok) as c:
        db = c.create_database("clidb")
        c.wait_running(db.id)
        c.sql("CREATE TABLE people (_id ID, name STRING, likes STRINGSET, age INT)", database=db.id)
    return tok


def test_token_json_scoped_to_a_database(server: serverlib.ServerProcess, token: str) -> None:
    doc = json.loads(ok(run(server, "token", "--email", server.root_email, "-d", "clidb", "--json",
                            "--password-stdin", input=server.root_password + "\n")))
    assert doc["role"] == "root" and doc["database"]["name"] == "clidb" and doc["refresh_token"]
    bad = run(server, "token", "--email", server.root_email, ROARBASE_PASSWORD="wrong-password")
    assert bad.exit_code == 1 and bad.stderr.startswith("error: Unauthorized: ")


def test_import_then_query_over_grpc(server: serverlib.ServerProcess, token: str, tmp_path: Path) -> None:
    lines = ["_id,name,likes,age"] + [f"{i},p{i},{'chess|go' if i % 2 else 'go'},{20 + i % 50}" for i in range(3000)]
    (tmp_path / "people.csv").write_text("\n".join(lines) + "\n")
    out = run(server, "import", "-d", "clidb", "-t", "people", str(tmp_path / "people.csv"), ROARBASE_TOKEN=token)
    assert ok(out).strip() == "imported 3,000 records into clidb.people"
    assert ok(run(server, "query", "-d", "clidb", "-t", "people", 'Count(Row(likes="chess"))',
                  ROARBASE_TOKEN=token)).strip() == "1500"
    doc = json.loads(ok(run(server, "query", "-d", "clidb", "--sql", "-f", "json",
                            "SELECT _id, name, likes FROM people WHERE _id < 2 ORDER BY _id", ROARBASE_TOKEN=token)))
    assert doc["data"] == [[0, "p0", ["go"]], [1, "p1", ["go", "chess"]]]   # members by row id
    # --email logs in first (the password from the environment)
    csv_out = ok(run(server, "query", "-d", "clidb", "-t", "people", "-f", "csv", "TopN(likes)",
                     "--email", server.root_email, ROARBASE_PASSWORD=server.root_password))
    assert csv_out.splitlines() == ["key,count", "go,3000", "chess,1500"]


def test_errors_over_grpc(server: serverlib.ServerProcess, token: str) -> None:
    missing = run(server, "query", "-d", "clidb", "--sql", "SELECT 1")
    assert missing.exit_code == 1 and missing.stderr.startswith("error: MissingAuthenticationToken: ")
    bad = run(server, "query", "-d", "clidb", "--sql", "SELECT 1", ROARBASE_TOKEN="not-a-token")
    assert bad.stderr.startswith("error: Unauthorized: ")
    nodb = run(server, "query", "-d", "nodb", "--sql", "SELECT 1", ROARBASE_TOKEN=token)
    assert nodb.stderr.startswith("error: ResourceNotFound: ")
    syntax = run(server, "query", "-d", "clidb", "-t", "people", "Count(", ROARBASE_TOKEN=token)
    assert syntax.stderr.startswith("error: BadRequest: ") and "Traceback" not in syntax.output
    both = run(server, "query", "--data-dir", "x", "-d", "clidb", "--sql", "SELECT 1", ROARBASE_TOKEN=token)
    assert both.exit_code == 2
    down = CliRunner().invoke(cli.main, ["query", "--server", "127.0.0.1:1", "--timeout", "2", "-d", "x", "--sql",
                                         "SELECT 1"], env={"ROARBASE_TOKEN": token})
    assert down.exit_code == 1 and down.stderr.startswith("error: ServiceUnavailable: ")
