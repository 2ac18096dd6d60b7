"""tests/server/cli: the roarbase CLI, the Python gRPC client and the settings loader."""
from typing import Any, Iterator

import pytest
import serverlib


# A real server (tests/server/launch_server.py) on a data dir; stopped, reader joined and pipes
# closed on exit (left open they are a ResourceWarning, an error under this suite's filterwarnings).
serving = serverlib.running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[serverlib.ServerProcess]:
    """One real server per test module (launch_server.py: root@example.com / root-password-1)."""
    with serving(tmp_path_factory.mktemp("srv") / "data") as srv:
        yield srv


@pytest.fixture(scope="session")
def serve_with() -> Any:
    """serving() itself, for tests that start a server with a spec of their own."""
    return serving
