"""`roarbase check` exits 1 when a file a table needs is missing (issue 14, findings 4, 5,
15): a fragment file, the MANIFEST of a checkpointed table, or the SCHEMA — each named in
the output — and the server's view agrees (DataCorrupted, nothing deleted)."""
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from server import cli, demo
from server.service.bootstrap import open_service
from server.service.config import BootstrapSettings, PasswordHashing, ServiceConfig

FAST = {"ROARBASE_PASSWORDS_TIME_COST": "1", "ROARBASE_PASSWORDS_MEMORY_COST_KIB": "8",
        "ROARBASE_PASSWORDS_PARALLELISM": "1", "ROARBASE_FSYNC": "false"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-check") / "data"
    config = ServiceConfig(str(path), fsync=False,
                           passwords=PasswordHashing(time_cost=1, memory_cost_kib=8, parallelism=1),
                           bootstrap=BootstrapSettings(root_email="root@example.com", root_password="root-password-1"))
    with open_service(config) as ctx:
        demo.ensure_demo(ctx, records=3_000)
    return path


def _check(data_dir: Path) -> Result:
    return CliRunner().invoke(cli.main, ["check"], env={**FAST, "ROARBASE_DATA_DIR": str(data_dir)})


def _table_dir(copy: Path) -> Path:
    (table,) = [p.parent for p in copy.glob("databases/*/seg/SCHEMA")]
    return table


@pytest.mark.parametrize("victim", ["fragment", "MANIFEST", "SCHEMA", "keys"])
def test_check_exits_1_naming_a_missing_file(data_dir: Path, tmp_path: Path, victim: str) -> None:
    healthy = _check(data_dir)
    assert healthy.exit_code == 0, healthy.output
    copy = tmp_path / "copy"
    shutil.copytree(data_dir, copy)
    table = _table_dir(copy)
    if victim == "fragment":
        path = sorted(table.glob("frag/**/*.frag"))[0]
    elif victim == "keys":
        path = sorted(table.glob("keys/*.keys"))[0]
    else:
        path = table / victim
    files_before = sorted(p for p in table.rglob("*") if p != path)
    os.remove(path)
    result = _check(copy)
    assert result.exit_code == 1, result.output
    assert result.stderr.rstrip().splitlines()[-1].startswith("error: DataCorrupted: ")
    assert "ERROR" in result.stdout and str(path) in result.stdout
    assert sorted(p for p in table.rglob("*")) == files_before          # check changes nothing
