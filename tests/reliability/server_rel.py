"""Shared pieces of the server-side reliability tests (R9, R11, R15, R16): a real server
subprocess (tests/server/serverlib.py), HTTP helpers, and process figures from /proc."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import httpx
import serverlib

ROOT_EMAIL, ROOT_PASSWORD = "root@example.com", "root-password-1"


def stop(srv: serverlib.ServerProcess) -> int:
    """Stop a server and close its pipes (an open pipe is a ResourceWarning, an error here)."""
    try:
        return srv.stop()
    finally:
        for pipe in (srv.proc.stdout, srv.proc.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()


def login(http: httpx.Client, srv: serverlib.ServerProcess, email: str = ROOT_EMAIL,
          password: str = ROOT_PASSWORD) -> dict[str, str]:
    resp = http.post(srv.http_url("/v2/auth/token"), json={"email": email, "password": password})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


def database(http: httpx.Client, srv: serverlib.ServerProcess, headers: dict[str, str], name: str,
             ddl: Optional[str] = None) -> str:
    resp = http.post(srv.http_url("/v2/databases"), headers=headers, json={"name": name})
    assert resp.status_code == 201, resp.text
    ident = resp.json()["id"]
    if ddl:
        assert sql(http, srv, headers, ident, ddl).status_code == 200
    return str(ident)


def sql(http: httpx.Client, srv: serverlib.ServerProcess, headers: dict[str, str], ident: str, text: str,
        **kw: Any) -> httpx.Response:
    return http.post(srv.http_url(f"/v2/databases/{ident}/query/sql"), content=text,
                     headers={**headers, "Content-Type": "text/plain", "Accept": "application/problem+json"}, **kw)


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def wal_bytes(data_dir: Path) -> int:
    """Bytes of every write-ahead log under the data dir (engine WALs and meta.db-wal)."""
    return sum(p.stat().st_size for p in data_dir.rglob("*") if p.is_file() and "wal" in p.name.lower())
