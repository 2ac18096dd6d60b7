"""`roarbase source ...` against a real server on loopback (the docs/sources.md
walk-through): create with --file (upload), preview, run with progress, status, list;
connection secrets come from a file, never argv, and never show in the output."""
from __future__ import annotations

import json

import httpx
from click.testing import CliRunner

from http_testlib import wire_server
from server import cli


def test_walkthrough(tmp_path):
    with wire_server(tmp_path / "data") as srv:
        root = httpx.post(srv.http_url("/v1/login/individual/"),
                          json={"email": srv.root_email, "password": srv.root_password}).json()
        h = {"Authorization": f"Bearer {root['token']}"}
        assert httpx.post(srv.http_url("/v1/databases/"), headers=h, json={"name": "shop"}).status_code == 201
        db = httpx.post(srv.http_url("/v1/login/individual/"), json={
            "email": srv.root_email, "password": srv.root_password, "db_name": "shop"}).json()
        hdb = {"Authorization": f"Bearer {db['token']}"}
        for name, vt in (("title", "unicode64"), ("price", "float32")):
            httpx.post(srv.http_url("/v1/items-properties/"), headers=hdb,
                       json={"property_name": name, "value_type": vt}).raise_for_status()
        data = tmp_path / "items.csv"
        data.write_text("id;name;price\n" + "".join(f"{i};item {i};{i}.5\n" for i in range(1, 1001)) + "1001;x;zz\n")
        env = {"ROARBASE_URL": srv.http_url(), "ROARBASE_PASSWORD": srv.root_password, "ROARBASE_TOKEN": ""}
        base = ["source", "-d", "shop", "--email", srv.root_email]
        runner = CliRunner()

        def go(*args, code=0):
            res = runner.invoke(cli.main, [*base, *args], env=env, catch_exceptions=False)
            assert res.exit_code == code, res.output
            return res.output

        out = go("create", "catalog", "-r", "item", "-f", "CSV", "-o", "delimiter=;", "-m", "item_id=id",
                 "-m", "title=name", "-m", "price=price", "--file", str(data), "--no-progress")
        assert "status available" in out and "upload url: http://127.0.0.1" in out
        out = go("preview", "catalog")
        assert "price" in out and "ok" in out and "item 1" in out
        out = go("run", "catalog", "--no-progress", code=1)          # row 1001 does not fit, budget 0
        assert "row 1001, column price" in out and "ERROR_BUDGET" not in out
        out = go("run", "catalog", "--max-errors", "1", "--no-progress")
        assert "1,000 rows written, 1 skipped" in out
        assert "last run: COMPLETED" in go("status", "catalog")
        assert "catalog" in go("list")
        counters = httpx.get(srv.http_url("/v1/databases/current/"), headers=hdb).json()["counters"]
        assert counters["item"] == 1000
        creds = tmp_path / "creds.json"
        creds.write_text(json.dumps({"api_key": "sk-very-secret"}))
        out = go("connect", "BRAZE", "--credentials-file", str(creds))
        assert "api_key stored" in out and "sk-very-secret" not in out
        assert "deleted LOCAL/catalog" in go("delete", "catalog")
        assert "sk-very-secret" not in "".join(srv.stderr_lines)
