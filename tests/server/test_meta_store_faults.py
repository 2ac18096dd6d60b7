"""Issue 14 #8 and #13: meta.db's own failures get typed errors.

- A damaged meta.db (a flipped header byte that made SQLite open it read-only; a torn page)
  is refused at start with DataCorrupted, and `roarbase check` exits 1 — it used to start,
  then answer 500 "readonly database" to every login.
- A full disk under meta.db (SQLite's "database or disk is full", here a page cap) answers
  507 StorageFull on login and create-database, changes nothing, and writes resume once
  space is back, without a restart.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from server import cli
from server.service.bootstrap import open_service
from server.service.config import BootstrapSettings, PasswordHashing, ServiceConfig
from server.service.errors import DataCorrupted

ROOT = Path(__file__).resolve().parents[2]
FAST = {"ROARBASE_PASSWORDS_TIME_COST": "1", "ROARBASE_PASSWORDS_MEMORY_COST_KIB": "8",
        "ROARBASE_PASSWORDS_PARALLELISM": "1", "ROARBASE_FSYNC": "false"}


def _config(path: Path) -> ServiceConfig:
    return ServiceConfig(str(path), fsync=False, passwords=PasswordHashing(time_cost=1, memory_cost_kib=8,
                                                                           parallelism=1),
                         bootstrap=BootstrapSettings(root_email="root@example.com", root_password="root-password-1"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    with open_service(_config(path)):
        pass
    return path


def _flip(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))


def _damage(meta: Path, how: str) -> None:
    if how == "header-byte-18":
        _flip(meta, 18)           # the write-format version: SQLite would open it read-only
    elif how == "magic":
        _flip(meta, 3)
    else:                         # a page's b-tree header: integrity_check finds it
        page = int.from_bytes(meta.read_bytes()[16:18], "big")
        _flip(meta, page + 0)     # page 2's page type byte


@pytest.mark.parametrize("how", ["header-byte-18", "magic", "page"])
def test_damaged_meta_db_is_refused_at_start_and_by_check(data_dir: Path, how: str) -> None:
    _damage(data_dir / "meta.db", how)
    with pytest.raises(DataCorrupted) as info:
        open_service(_config(data_dir))
    assert info.value.name == "META_CORRUPTED" and "meta.db" in info.value.message
    # the dir is released again: check can take its lock
    result = CliRunner().invoke(cli.main, ["check"], env={**FAST, "ROARBASE_DATA_DIR": str(data_dir)})
    assert result.exit_code == 1, result.output
    assert "meta.db: ERROR" in result.stdout and "DataCorrupted" in result.stderr


def test_serve_refuses_a_damaged_meta_db_with_exit_1(data_dir: Path) -> None:
    _damage(data_dir / "meta.db", "header-byte-18")
    proc = subprocess.run([sys.executable, "-m", "server.cli", "serve", "--data-dir", str(data_dir),
                           "--grpc-port", "0", "--http-port", "0"], cwd=ROOT, env={**os.environ, **FAST},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "error: DataCorrupted:" in proc.stderr and "Traceback" not in proc.stderr


def test_full_disk_under_meta_db_is_507_and_resumes(tmp_path: Path) -> None:
    from http_testlib import InProcess, assert_envelope

    web = InProcess(tmp_path / "data")
    try:
        conn = web.ctx.store._conn
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        statuses = []
        for i in range(300):   # each login adds a refresh token row: the file must grow soon
            resp = web.client.post("/v2/auth/token", json={"email": "root@example.com",
                                                           "password": "root-password-1"})
            statuses.append(resp.status_code)
            if resp.status_code != 200:
                assert_envelope(resp, 507, "StorageFull", "STORAGE_FULL")
                break
        assert statuses[-1] == 507, statuses
        before = web.client.get("/v2/databases", headers=web.root.headers).json()["resources"]
        resp = web.client.post("/v2/databases", headers=web.root.headers, json={"name": "full-" + "x" * 55,
                                                                               "description": "y" * 4000})
        assert_envelope(resp, 507, "StorageFull")
        assert web.client.get("/v2/databases", headers=web.root.headers).json()["resources"] == before
        conn.execute("PRAGMA max_page_count = 1073741823")   # space is back: no restart needed
        assert web.client.post("/v2/auth/token", json={"email": "root@example.com",
                                                       "password": "root-password-1"}).status_code == 200
        assert web.client.post("/v2/databases", headers=web.root.headers, json={"name": "after-full"}
                               ).status_code == 201
    finally:
        web.close()
