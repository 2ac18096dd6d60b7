"""The CLI on a data dir (the embedded engine): query, import, check, token, version."""
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from server import cli, demo
from server.service.bootstrap import open_service
from server.service.config import BootstrapSettings, PasswordHashing, ServiceConfig

PASSWORD = "root-password-1"
RECORDS = 2_000
# The cheapest argon2 and no fsync, for the CLI's own opens of the data dir too.
FAST = {"ROARBASE_PASSWORDS_TIME_COST": "1", "ROARBASE_PASSWORDS_MEMORY_COST_KIB": "8",
        "ROARBASE_PASSWORDS_PARALLELISM": "1", "ROARBASE_FSYNC": "false"}


def _config(data_dir: Path) -> ServiceConfig:
    return ServiceConfig(str(data_dir), fsync=False,
                         passwords=PasswordHashing(time_cost=1, memory_cost_kib=8, parallelism=1),
                         bootstrap=BootstrapSettings(root_email="root@example.com", root_password=PASSWORD))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "data"
    with open_service(_config(path)) as ctx:
        demo.ensure_demo(ctx, records=RECORDS)
    return path


def run(data_dir: Path, *args: str, input: Any = None, **env: str) -> Result:
    return CliRunner().invoke(cli.main, list(args), input=input,
                              env={**FAST, "ROARBASE_DATA_DIR": str(data_dir), **env})


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def failed(result: Result, code: str) -> str:
    assert result.exit_code == 1, result.output
    # after the progress bar's label, if any; a syntax error's quoted statement follows it
    last = next(line for line in reversed(result.stderr.splitlines()) if line.startswith("error: "))
    assert last.startswith(f"error: {code}: "), result.stderr
    assert "Traceback" not in result.output
    return last


def test_version() -> None:
    out = ok(CliRunner().invoke(cli.main, ["version"]))
    assert out.startswith("roarbase ") and "Python 3." in out


def test_pql_in_every_format(data_dir: Path) -> None:
    count = int(ok(run(data_dir, "query", "-d", "demo", "-t", "seg", "Count(All())")))
    assert count == RECORDS
    doc = json.loads(ok(run(data_dir, "query", "-d", "demo", "-t", "seg", "-f", "json",
                            'Count(Row(active=true)) TopN(region, n=2)')))
    active, top = doc["results"]
    assert 0 < active < RECORDS and [p["key"] for p in top] == ["region_00", "region_01"]
    table = ok(run(data_dir, "query", "-d", "demo", "-t", "seg", "TopN(region, n=2)")).splitlines()
    assert table[0].split() == ["key", "|", "count"] and table[2].startswith("region_00 |")
    csv_out = ok(run(data_dir, "query", "-d", "demo", "-t", "seg", "-f", "csv", "TopN(region, n=2)")).splitlines()
    assert csv_out[0] == "key,count" and csv_out[1] == f"region_00,{top[0]['count']}"


def test_sql_in_every_format(data_dir: Path) -> None:
    stmt = "SELECT _id, hobbies, age FROM seg WHERE _id < 3 ORDER BY _id"
    doc = json.loads(ok(run(data_dir, "query", "-d", "demo", "--sql", "-f", "json", stmt)))
    assert [f["name"] for f in doc["schema"]["fields"]] == ["_id", "hobbies", "age"]
    assert [r[0] for r in doc["data"]] == [0, 1, 2]
    csv_out = ok(run(data_dir, "query", "-d", "demo", "--sql", "-f", "csv", stmt)).splitlines()
    assert csv_out[0] == "_id,hobbies,age" and len(csv_out) == 4
    assert csv_out[1].split(",")[1] == "|".join(doc["data"][0][1])   # sets as BULK INSERT reads them
    table = ok(run(data_dir, "query", "-d", "demo", "--sql", stmt))
    assert table.rstrip().endswith("(3 rows)")
    assert ok(run(data_dir, "query", "-d", "demo", "--sql", "-", input=stmt + "\n")) == table


def test_query_errors_are_codes_not_tracebacks(data_dir: Path, tmp_path: Path) -> None:
    failed(run(data_dir, "query", "-d", "nope", "-t", "seg", "Count(All())"), "ResourceNotFound")
    err = failed(run(data_dir, "query", "-d", "demo", "-t", "seg", "Count(All("), "BadRequest")
    assert "line 1" in err and "expected" in err
    # the statement is quoted with a caret under the column, and the expectation is in words
    out = run(data_dir, "query", "-d", "demo", "-t", "seg", "Count(All(").stderr
    assert "  Count(All(\n            ^" in out and "a whole number" in out and "INT_LIST" not in out
    failed(run(data_dir, "query", "-d", "demo", "-t", "seg", "Count(Row(nofield=1))"), "QueryExecutionError")
    failed(run(data_dir, "query", "-d", "demo", "--sql", "SELECT * FROM nope"), "QueryExecutionError")
    missing = failed(run(tmp_path / "absent", "query", "-d", "demo", "--sql", "SELECT 1"), "ResourceNotFound")
    assert "no roarbase data directory" in missing
    assert not (tmp_path / "absent").exists()          # a query never creates a data dir
    usage = run(data_dir, "query", "-d", "demo", "Count(All())")
    assert usage.exit_code == 2 and "--table" in usage.stderr


def test_a_data_dir_held_by_a_server_points_to_server(data_dir: Path) -> None:
    with open_service(_config(data_dir)):
        err = failed(run(data_dir, "query", "-d", "demo", "--sql", "SELECT 1"), "ServiceUnavailable")
        assert "--server" in err
        failed(run(data_dir, "check"), "ServiceUnavailable")


def test_import_csv_ndjson_parquet(data_dir: Path, tmp_path: Path) -> None:
    ok(run(data_dir, "query", "-d", "demo", "--sql",
           "CREATE TABLE imp (_id ID, name STRING, tags STRINGSET, n INT, seen TIMESTAMP, q IDSETQ TIMEQUANTUM 'YMD')"))
    (tmp_path / "a.csv").write_text('_id,name,tags,n,seen,q\n1,ann,red|blue,5,2024-01-02T03:04:05Z,7|8\n'
                                    '2,"o\'neil, b",,,,\n')
    out = run(data_dir, "import", "-d", "demo", "-t", "imp", str(tmp_path / "a.csv"))
    assert ok(out).strip() == "imported 2 records into demo.imp"
    assert "importing a.csv" in out.stderr
    (tmp_path / "b.ndjson").write_text('{"_id": 3, "tags": ["x"], "n": -1}\n\n{"_id": 4, "name": "dee"}\n')
    ok(run(data_dir, "import", "-d", "demo", "-t", "imp", "--no-progress", str(tmp_path / "b.ndjson")))
    import pyarrow as pa  # installed with the project's bench extra, which make installs
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"_id": pa.array([5], pa.uint64()), "tags": [["p", "q"]], "n": [9]}),
                   tmp_path / "c.parquet")
    ok(run(data_dir, "import", "-d", "demo", "-t", "imp", str(tmp_path / "c.parquet")))
    doc = json.loads(ok(run(data_dir, "query", "-d", "demo", "--sql", "-f", "json",
                            "SELECT _id, name, tags, n, seen, q FROM imp ORDER BY _id")))
    assert doc["data"] == [
        [1, "ann", ["red", "blue"], 5, "2024-01-02T03:04:05Z", [7, 8]],
        [2, "o'neil, b", None, None, None, None],
        [3, None, ["x"], -1, None, None],
        [4, "dee", None, None, None, None],
        [5, None, ["p", "q"], 9, None, None],
    ]


def test_import_large_file_in_many_statements(data_dir: Path, tmp_path: Path) -> None:
    ok(run(data_dir, "query", "-d", "demo", "--sql", "CREATE TABLE big (_id ID, label STRING, k INT)"))
    n = 6_000
    lines = ["_id,label,k"] + [f"{i},label-{i % 97:03d}-{'x' * 20},{i * 3}" for i in range(n)]
    (tmp_path / "big.csv").write_text("\n".join(lines) + "\n")
    assert (tmp_path / "big.csv").stat().st_size > 3 * cli.IMPORT_CHUNK_BYTES
    ok(run(data_dir, "import", "-d", "demo", "-t", "big", str(tmp_path / "big.csv")))
    doc = json.loads(ok(run(data_dir, "query", "-d", "demo", "--sql", "-f", "json",
                            "SELECT COUNT(*), SUM(k) FROM big")))
    assert doc["data"] == [[n, 3 * n * (n - 1) // 2]]


def test_import_errors(data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("_id,bogus\n1,2\n")
    err = failed(run(data_dir, "import", "-d", "demo", "-t", "seg", str(tmp_path / "bad.csv")), "InvalidParameter")
    assert "no column bogus" in err
    (tmp_path / "noid.csv").write_text("age\n3\n")
    failed(run(data_dir, "import", "-d", "demo", "-t", "seg", str(tmp_path / "noid.csv")), "InvalidParameter")
    (tmp_path / "type.csv").write_text("_id,age\n1,old\n")
    failed(run(data_dir, "import", "-d", "demo", "-t", "seg", str(tmp_path / "type.csv")), "QueryExecutionError")
    (tmp_path / "bad.ndjson").write_text('{"_id": 1}\nnot json\n')
    failed(run(data_dir, "import", "-d", "demo", "-t", "seg", str(tmp_path / "bad.ndjson")), "InvalidBody")
    (tmp_path / "x.txt").write_text("_id\n1\n")
    assert run(data_dir, "import", "-d", "demo", "-t", "seg", str(tmp_path / "x.txt")).exit_code == 2
    failed(run(data_dir, "import", "-d", "demo", "-t", "nope", str(tmp_path / "bad.csv")), "QueryExecutionError")


def test_token(data_dir: Path) -> None:
    tok = ok(run(data_dir, "token", "--email", "root@example.com", ROARBASE_PASSWORD=PASSWORD)).strip()
    assert tok.count(".") == 2
    doc = json.loads(ok(run(data_dir, "token", "--email", "root@example.com", "--json", "--password-stdin",
                            input=PASSWORD + "\n")))
    assert doc["role"] == "root" and doc["refresh_token"] and doc["token"] != tok
    scoped = json.loads(ok(run(data_dir, "token", "--email", "root@example.com", "-d", "demo", "--json",
                               ROARBASE_PASSWORD=PASSWORD)))
    assert scoped["database"]["id"]
    failed(run(data_dir, "token", "--email", "root@example.com", ROARBASE_PASSWORD="wrong-password"), "Unauthorized")
    assert run(data_dir, "token").exit_code == 2


def test_check_reports_ok_then_corruption(data_dir: Path, tmp_path: Path) -> None:
    out = ok(run(data_dir, "check"))
    assert "meta.db: ok" in out and "database demo (" in out and out.rstrip().endswith(": ok")
    copy = tmp_path / "copy"
    shutil.copytree(data_dir, copy)
    frags = sorted(copy.glob("databases/*/*/frag/**/*.frag"))
    assert frags
    raw = bytearray(frags[0].read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    frags[0].write_bytes(bytes(raw))
    result = run(copy, "check")
    failed(result, "DataCorrupted")
    assert "ERROR" in result.stdout and str(frags[0]) in result.stdout
