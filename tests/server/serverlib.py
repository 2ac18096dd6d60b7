"""A real server in a subprocess on 127.0.0.1 port 0, for the wire tests (gRPC, HTTP, CLI).

    with running_server(tmp_path) as srv:
        srv.http_url("/v2/auth/token"), srv.grpc_target, srv.root_email, srv.root_password

tests/ has no __init__.py: import this module as `serverlib` (tests/server is on pytest's
pythonpath, pyproject.toml).
"""
from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

from childenv import child_env

LAUNCHER = Path(__file__).resolve().parent / "launch_server.py"
ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0


@dataclass
class ServerProcess:
    proc: subprocess.Popen
    data_dir: Path
    grpc_port: int
    http_port: int
    root_email: str
    root_password: str
    org_id: str
    stderr_lines: list[str] = field(default_factory=list)
    reader: Optional[threading.Thread] = None

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def http_url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, wait for a clean exit; returns the exit code."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                    raise AssertionError("the server did not stop within %.0f s of SIGTERM" % timeout)
            return self.proc.returncode
        finally:
            # closed here, not left to the garbage collector (a ResourceWarning is an error),
            # once the stderr reader has seen EOF
            if self.reader is not None:
                self.reader.join(10)
            for pipe in (self.proc.stdout, self.proc.stderr):
                if pipe is not None:
                    pipe.close()


def start_server(data_dir: Path, **spec: Any) -> ServerProcess:
    """Start a server on data_dir (spec: limits=, tokens=, service=, settings= dicts, see
    launch_server.py) and wait until both listeners are up."""
    spec = dict(spec, data_dir=str(data_dir))
    proc = subprocess.Popen([sys.executable, str(LAUNCHER), json.dumps(spec)], cwd=str(ROOT),
                            env=child_env(PYTHONUNBUFFERED="1"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    line: Optional[str] = None
    timer = threading.Timer(START_TIMEOUT, proc.kill)
    timer.start()
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
    finally:
        timer.cancel()
    if not line:
        proc.kill()
        proc.wait()
        reader.join(10)
        proc.stdout.close()
        proc.stderr.close()  # type: ignore[union-attr]
        raise AssertionError("the server did not start:\n" + "".join(errors))
    info = json.loads(line)
    return ServerProcess(proc, Path(data_dir), info["grpc_port"], info["http_port"], info["root_email"],
                         info["root_password"], info["org_id"], errors, reader)


@contextlib.contextmanager
def running_server(data_dir: Path, **spec: Any) -> Iterator[ServerProcess]:
    srv = start_server(data_dir, **spec)
    try:
        yield srv
    finally:
        code = srv.stop()
        assert code == 0, "the server exited with %s:\n%s" % (code, "".join(srv.stderr_lines))
