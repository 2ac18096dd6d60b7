"""`roarbase export`, `import` (documents), `backup` and `restore`, on a data dir and over
gRPC against a real server: files written in every form, merged back, problems printed,
backups restored into new databases that answer the same."""
import gzip
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from server import cli, demo
from server.client import Client
from server.service.bootstrap import open_service
from server.service.config import BootstrapSettings, PasswordHashing, ServiceConfig

PASSWORD = "root-password-1"
FAST = {"ROARBASE_PASSWORDS_TIME_COST": "1", "ROARBASE_PASSWORDS_MEMORY_COST_KIB": "8",
        "ROARBASE_PASSWORDS_PARALLELISM": "1", "ROARBASE_FSYNC": "false"}
QUESTIONS = ["SELECT COUNT(*) FROM seg", "SELECT region, COUNT(*) FROM seg GROUP BY region",
             "SELECT SUM(income), MIN(age), MAX(last_seen) FROM seg", "SELECT _id, hobbies FROM seg WHERE _id < 5"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-transfer") / "data"
    config = ServiceConfig(str(path), fsync=False, passwords=PasswordHashing(time_cost=1, memory_cost_kib=8,
                                                                              parallelism=1),
                           bootstrap=BootstrapSettings(root_email="root@example.com", root_password=PASSWORD))
    with open_service(config) as ctx:
        demo.ensure_demo(ctx, records=1500)
    return path


def local(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(cli.main, list(args), env={**FAST, "ROARBASE_DATA_DIR": str(data_dir)})


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def _answers(run: Any, db: str) -> list[Any]:
    return [json.loads(ok(run("query", "-d", db, "--sql", "-f", "json", q)))["data"] for q in QUESTIONS]


def test_export_import_backup_restore_on_a_data_dir(data_dir: Path, tmp_path: Path) -> None:
    run = lambda *a: local(data_dir, *a)  # noqa: E731
    expected = _answers(run, "demo")
    for name in ("demo.ndjson.gz", "demo.json", "demo.ndjson", "demo.json.gz"):
        out = tmp_path / name
        assert ok(run("export", "-d", "demo", "-o", str(out))).startswith("exported 1,500 records of demo")
        raw = gzip.decompress(out.read_bytes()) if name.endswith(".gz") else out.read_bytes()
        first = json.loads(raw.splitlines()[0]) if ".ndjson" in name else json.loads(raw)
        assert first["format"] == "roarbase.export" and ("sql_tables" in first)
    target = _new_database(data_dir, "copy")
    out = ok(run("import", "-d", "copy", str(tmp_path / "demo.ndjson.gz"), str(tmp_path / "demo.json")))
    assert out.count("merged demo.") == 2 and "1,500 rows" in out
    assert _answers(run, "copy") == expected
    assert ok(run("backup", "-d", "demo", "-o", str(tmp_path / "demo.tar.gz"))).startswith("backed up demo")
    with tarfile.open(tmp_path / "demo.tar.gz") as tar:
        names = tar.getnames()
    assert names[-1] == "roarbase-backup.json" and "engine/SNAPSHOT" in names
    assert "RUNNING" in ok(run("restore", str(tmp_path / "demo.tar.gz"), "--name", "restored"))
    assert _answers(run, "restored") == expected
    del target


def _new_database(data_dir: Path, name: str) -> str:
    from server.service import tokens
    from server.service import databases
    config = ServiceConfig(str(data_dir), fsync=False, passwords=PasswordHashing(time_cost=1, memory_cost_kib=8,
                                                                                  parallelism=1))
    with open_service(config) as ctx:
        return databases.create_database(ctx, tokens.owner_principal(ctx), name=name).id


def test_a_bad_document_prints_its_problems_and_changes_nothing(data_dir: Path, tmp_path: Path) -> None:
    run = lambda *a: local(data_dir, *a)  # noqa: E731
    _new_database(data_dir, "victim")
    header = {"format": "roarbase.export", "version": "1", "items_properties": [
        {"property_name": "price", "value_type": "nonsense", "repeated": False}], "sql_tables": [
        {"name": "t", "columns": [{"name": "_id", "type": "id"}]}]}
    bad = tmp_path / "bad.ndjson"
    bad.write_text(json.dumps(header) + '\n{"kind": "row", "table": "nope", "values": [1]}\n')
    result = run("import", "-d", "victim", str(bad))
    assert result.exit_code == 1
    assert "error: InvalidParameter: " in result.stderr and "nothing changed" in result.stderr
    assert json.loads(ok(run("query", "-d", "victim", "--sql", "-f", "json", "SHOW TABLES")))["data"] == []
    restore = run("restore", str(bad), "--name", "nope")
    assert restore.exit_code == 1 and "INVALID_BACKUP" not in restore.stderr and "InvalidParameter" in restore.stderr


def test_over_grpc(server: Any, tmp_path: Path) -> None:
    with Client(server.grpc_target) as c:
        c.login(server.root_email, server.root_password)
        token = c.token
        db = c.create_database("grpcsrc")
        c.wait_running(db.id)
        c.sql("CREATE TABLE t (_id ID, n INT, s STRINGSET); INSERT INTO t (_id, n, s) VALUES "
              + ", ".join(f"({i}, {i * 7}, ['a{i % 3}'])" for i in range(400)), database=db.id)
        c.create_database("grpcdst")

    def remote(*args: str) -> Result:
        return CliRunner().invoke(cli.main, [args[0], "--server", server.grpc_target, *args[1:]],
                                  env={"ROARBASE_TOKEN": token})

    out = tmp_path / "src.ndjson.gz"
    assert ok(remote("export", "-d", "grpcsrc", "-o", str(out))).startswith("exported 400 records")
    assert ok(remote("import", "-d", "grpcdst", str(out))).strip().endswith("400 rows")
    q = "SELECT SUM(n), COUNT(*) FROM t"
    src = json.loads(ok(remote("query", "-d", "grpcsrc", "--sql", "-f", "json", q)))["data"]
    assert json.loads(ok(remote("query", "-d", "grpcdst", "--sql", "-f", "json", q)))["data"] == src
    ok(remote("backup", "-d", "grpcsrc", "-o", str(tmp_path / "b.tar.gz")))
    assert "RUNNING" in ok(remote("restore", str(tmp_path / "b.tar.gz"), "--name", "grpcrestored"))
    assert json.loads(ok(remote("query", "-d", "grpcrestored", "--sql", "-f", "json", q)))["data"] == src
    taken = remote("restore", str(tmp_path / "b.tar.gz"), "--name", "grpcrestored")
    assert taken.exit_code == 1 and "ResourceAlreadyExists" in taken.stderr
