"""tests/server/cli: the roarbase CLI, the Python gRPC client and the settings loader."""
import contextlib
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
import serverlib
from childenv import child_env


@contextlib.contextmanager
def serving(data_dir: Path, **spec: Any) -> Iterator[serverlib.ServerProcess]:
    """A real server (tests/server/launch_server.py) on data_dir, like serverlib's, but its
    stderr reader is joined and both pipes closed once it stopped: left open they are a
    ResourceWarning, an error under this suite's filterwarnings."""
    proc = subprocess.Popen([sys.executable, str(serverlib.LAUNCHER), json.dumps(dict(spec, data_dir=str(data_dir)))],
                            cwd=str(serverlib.ROOT), env=child_env(PYTHONUNBUFFERED="1"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    timer = threading.Timer(serverlib.START_TIMEOUT, proc.kill)
    timer.start()
    try:
        line = proc.stdout.readline()
    finally:
        timer.cancel()
    srv = None
    try:
        assert line, "the server did not start:\n" + "".join(errors)
        info = json.loads(line)
        srv = serverlib.ServerProcess(proc, data_dir, info["grpc_port"], info["http_port"], info["root_email"],
                                      info["root_password"], info["org_id"], errors)
        yield srv
    finally:
        code = srv.stop() if srv is not None else (proc.kill(), proc.wait())[1]
        reader.join(10)
        proc.stdout.close()
        proc.stderr.close()
        assert code == 0, "the server exited with %s:\n%s" % (code, "".join(errors))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[serverlib.ServerProcess]:
    """One real server per test module (launch_server.py: root@example.com / root-password-1)."""
    with serving(tmp_path_factory.mktemp("srv") / "data") as srv:
        yield srv


@pytest.fixture(scope="session")
def serve_with() -> Any:
    """serving() itself, for tests that start a server with a spec of their own."""
    return serving
