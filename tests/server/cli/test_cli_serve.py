"""`roarbase serve` as a real process: ports picked and printed, bootstrap credentials
printed exactly once, the --demo database, clean exit on SIGTERM, clear startup errors."""
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator, Optional

import httpx
import pytest

import serverlib
from server.client import Client

START_TIMEOUT = 60.0
FAST = {"ROARBASE_PASSWORDS_TIME_COST": "1", "ROARBASE_PASSWORDS_MEMORY_COST_KIB": "8",
        "ROARBASE_PASSWORDS_PARALLELISM": "1", "ROARBASE_FSYNC": "false"}


class Serve:
    """`python -m server.cli serve ...` with its stdout read line by line."""

    def __init__(self, *args: str, env: Optional[dict[str, str]] = None) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith("ROARBASE_")}
        self.proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", *args], cwd=str(serverlib.ROOT),
                                     env={**base, **FAST, "PYTHONUNBUFFERED": "1", **(env or {})},
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self.out: list[str] = []
        self.err = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def until(self, prefix: str) -> list[str]:
        """Lines up to the first one starting with prefix (AssertionError at EOF)."""
        seen = []
        while True:
            line = self.lines.get(timeout=START_TIMEOUT)
            if line is None:
                raise AssertionError(f"serve ended before {prefix!r}:\n" + "\n".join(self.out) + "\n" + self.finish())
            self.out.append(line)
            seen.append(line)
            if line.startswith(prefix):
                return seen

    def port(self, label: str) -> int:
        return int(next(re.search(r":(\d+)$", line) for line in self.out if line.strip().startswith(label))[1])

    def finish(self) -> str:
        """Wait for the exit (after a signal, or an error) and return stderr."""
        self.proc.wait(30)
        self._reader.join(10)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.err = self.proc.stderr.read()
        while (line := self.lines.get_nowait() if not self.lines.empty() else None) is not None:
            self.out.append(line)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.err

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        self.finish()
        return self.proc.returncode


@pytest.fixture
def serves() -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.finish()


def test_first_start_prints_generated_credentials_once(tmp_path: Path, serves: list[Serve]) -> None:
    data = str(tmp_path / "data")
    first = Serve("--data-dir", data, "--grpc-port", "0", "--http-port", "0", "--demo")
    serves.append(first)
    first.until("Stop with")
    password = next(line.split()[-1] for line in first.out if line.strip().startswith("password:"))
    assert sum("password:" in line for line in first.out) == 1
    grpc_port = first.port("gRPC")
    assert first.port("HTTP") not in (0, grpc_port) and grpc_port != 0
    text = "\n".join(first.out)
    assert 'Demo database "demo"' in text and "grpcurl" in text and "curl -s" in text
    assert password not in text.replace(f"password: {password}", "")     # the instructions never repeat it
    with Client(f"127.0.0.1:{grpc_port}") as c:
        c.login("root@localhost", password)
        db = c.database_id("demo")
        assert c.pql("Count(All())", table="seg", database=db) == [100_000]
    console = next(line for line in first.out if line.strip().startswith("Web console"))
    url = re.search(r"(http://\S+/)\s", console)[1]
    assert url == f"http://127.0.0.1:{first.port('HTTP')}/" and "root@localhost" in console
    page = httpx.get(url, headers={"Accept": "text/html"})     # as a browser asks
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "roarbase console" in page.text
    assert first.stop() == 0, first.err
    assert "Traceback" not in first.err

    again = Serve("--data-dir", data, "--grpc-port", "0", "--http-port", "0", "--demo")
    serves.append(again)
    again.until("Stop with")
    assert not any("password" in line.lower() and "ROARBASE_PASSWORD" not in line for line in again.out)
    assert not any(line.startswith("First start") for line in again.out)
    with Client(f"127.0.0.1:{again.port('gRPC')}") as c:
        c.login("root@localhost", password)
        assert len(c.list_databases()) == 1                       # the demo was not made twice
    assert again.stop() == 0, again.err


def test_root_password_from_the_environment_is_not_printed(tmp_path: Path, serves: list[Serve]) -> None:
    s = Serve("--data-dir", str(tmp_path / "d"), "--grpc-port", "0", "--http-port", "0",
              env={"ROARBASE_ROOT_EMAIL": "ops@example.com", "ROARBASE_ROOT_PASSWORD": "chosen-password-1"})
    serves.append(s)
    s.until("Stop with")
    assert "chosen-password-1" not in "\n".join(s.out)
    assert any("ROARBASE_ROOT_PASSWORD" in line for line in s.out)
    with Client(f"127.0.0.1:{s.port('gRPC')}") as c:
        assert c.login("ops@example.com", "chosen-password-1").role == "root"
    assert s.stop() == 0, s.err


def test_startup_errors_are_one_line(tmp_path: Path, serves: list[Serve]) -> None:
    data = str(tmp_path / "data")
    holder = Serve("--data-dir", data, "--grpc-port", "0", "--http-port", "0")
    serves.append(holder)
    holder.until("Stop with")
    second = Serve("--data-dir", data, "--grpc-port", "0", "--http-port", "0")
    serves.append(second)
    err = second.finish()
    assert second.proc.returncode == 1 and err.startswith("error: ServiceUnavailable: ") and "--server" in err
    assert holder.stop() == 0

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = Serve("--data-dir", data, "--grpc-port", "0", "--http-port", str(busy.getsockname()[1]))
        serves.append(taken)
        err = taken.finish()
    assert taken.proc.returncode == 1 and "error: ServiceUnavailable: cannot listen on 127.0.0.1" in err
    assert "Traceback" not in err
    bad = Serve("--data-dir", data, "--host", "0.0.0.0")
    serves.append(bad)
    err = bad.finish()
    assert bad.proc.returncode == 1 and err.startswith("error: InvalidParameter: ") and "loopback" in err


def test_a_second_server_on_a_taken_grpc_port_fails_to_start(tmp_path: Path, serves: list[Serve]) -> None:
    """Issue 14 #18: grpcio's default SO_REUSEPORT let a second server bind the same gRPC
    port and take part of the logins; the clash must be a start-up error."""
    first = Serve("--data-dir", str(tmp_path / "one"), "--grpc-port", "0", "--http-port", "0")
    serves.append(first)
    first.until("Stop with")
    grpc_port = first.port("gRPC")
    second = Serve("--data-dir", str(tmp_path / "two"), "--grpc-port", str(grpc_port), "--http-port", "0")
    serves.append(second)
    err = second.finish()
    assert second.proc.returncode == 1, (second.out, err)
    assert f"error: ServiceUnavailable: cannot listen on 127.0.0.1 (gRPC port {grpc_port}" in err
    assert "Traceback" not in err
    assert first.stop() == 0
