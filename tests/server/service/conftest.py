"""tests/server/service: the plain-Python service layer, auth and policy, on tmp_path data dirs
with an injectable clock and the cheapest argon2 parameters."""
import pytest
from svc_testlib import FakeClock, root_of, start


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def svc(tmp_path, clock):
    """A started service on an empty data dir (bootstrapped: org `acme`, its root)."""
    ctx = start(tmp_path / "data", clock)
    yield ctx
    ctx.close()


@pytest.fixture
def root(svc):
    return root_of(svc)
