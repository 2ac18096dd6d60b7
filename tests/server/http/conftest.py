"""tests/server/http: the HTTP/JSON face — in process through Starlette's TestClient for
the bulk of the cases, and against a real server subprocess for the wire."""
import pytest
from http_testlib import InProcess


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """One in-process app per test module (its state is shared: use unique names)."""
    # The authorization matrices send hundreds of forged tokens from one address: the
    # invalid-credential budget is lifted here (test_http_throttling.py checks it).
    app = InProcess(tmp_path_factory.mktemp("http") / "data", auth_failure_burst=100_000)
    yield app
    app.close()
