"""runtime: the worker pool, admission control, per-org rate limit and deadlines that both
faces share."""
import asyncio
import threading
import time

import pytest

from server.runtime import Call, RateLimiter, Runtime
from server.service.errors import RequestLimitExceeded, RequestTimeout
from server.settings import ServerSettings
from server.service.config import ServiceConfig
from server.service.errors import InvalidParameter


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_rate_limiter_bucket_per_org():
    clock = Clock()
    rl = RateLimiter(10, 3, clock=clock)
    for _ in range(3):
        rl.take("a")
    with pytest.raises(RequestLimitExceeded) as info:
        rl.take("a")
    assert info.value.retry_after == 1 and info.value.code == "RequestLimitExceeded"
    rl.take("b")  # another org is not charged for a's burst
    clock.t += 0.1  # one token back at 10/s
    rl.take("a")
    with pytest.raises(RequestLimitExceeded):
        rl.take("a")
    clock.t += 100
    for _ in range(3):  # refills to the burst, never beyond
        rl.take("a")
    with pytest.raises(RequestLimitExceeded):
        rl.take("a")


def test_rate_limiter_retry_after_rounds_up():
    clock = Clock()
    rl = RateLimiter(0.25, 1, clock=clock)
    rl.take("a")
    with pytest.raises(RequestLimitExceeded) as info:
        rl.take("a")
    assert info.value.retry_after == 4


class _Ctx:
    def __init__(self):
        self.server_limits = {}


def _runtime(tmp_path, **kw):
    return Runtime(_Ctx(), ServerSettings(ServiceConfig(str(tmp_path)), **kw))


def test_admission_refuses_beyond_workers_plus_pending(tmp_path):
    rt = _runtime(tmp_path, workers=1, max_pending=1)
    gate = threading.Event()

    async def main():
        a = asyncio.ensure_future(rt.run(gate.wait))
        b = asyncio.ensure_future(rt.run(gate.wait))
        await asyncio.sleep(0.05)
        assert rt.inflight == 2
        with pytest.raises(RequestLimitExceeded) as info:
            await rt.run(lambda: None)
        assert info.value.name == "SERVER_BUSY" and info.value.retry_after >= 1
        gate.set()
        assert await a and await b
        assert rt.inflight == 0
        assert await rt.run(lambda x, y=0: x + y, 2, y=3) == 5

    asyncio.run(main())
    rt.close()


def test_deadline_sets_cancel_and_frees_the_slot_when_the_work_ends(tmp_path):
    rt = _runtime(tmp_path, workers=1, max_pending=0)
    call = Call(0.05)

    def work():
        # stops when told, as the engine does between shards
        assert call.cancel.wait(5)
        time.sleep(0.05)
        return "done"

    async def main():
        with pytest.raises(RequestTimeout):
            await rt.run(work, call=call)
        assert call.cancel.is_set()
        assert rt.inflight == 1  # the thread is still finishing: its slot is not given away
        for _ in range(200):
            if rt.inflight == 0:
                break
            await asyncio.sleep(0.01)
        assert rt.inflight == 0

    asyncio.run(main())
    rt.close()


def test_errors_from_the_work_pass_through(tmp_path):
    rt = _runtime(tmp_path)

    def boom():
        raise InvalidParameter("bad")

    async def main():
        with pytest.raises(InvalidParameter):
            await rt.run(boom)
        assert rt.inflight == 0

    asyncio.run(main())
    rt.close()


def test_call_remaining():
    assert Call().remaining() is None
    assert 0 < Call(10).remaining() <= 10
    with pytest.raises(RequestTimeout):
        Call(0).remaining()


@pytest.mark.parametrize("kw", [
    {"host": "0.0.0.0"}, {"host": "10.1.2.3"}, {"grpc_port": 70000}, {"grpc_port": 5000, "http_port": 5000},
    {"workers": 0}, {"rate_per_org": 0}, {"rate_burst": 0},
])
def test_settings_refuse_bad_values(tmp_path, kw):
    with pytest.raises(InvalidParameter):
        ServerSettings(ServiceConfig(str(tmp_path)), **kw)


def test_settings_remote_bind_needs_allow_remote(tmp_path):
    s = ServerSettings(ServiceConfig(str(tmp_path)), host="0.0.0.0", allow_remote=True)
    assert not s.loopback
    assert ServerSettings(ServiceConfig(str(tmp_path)), host="::1").loopback
    assert ServerSettings(ServiceConfig(str(tmp_path)), host="localhost").loopback


def test_service_properties_report_the_enforced_rate_and_concurrency(tmp_path):
    from server.service import tokens
    from server.service import service_properties
    from server.service.bootstrap import open_service
    from server.service.config import BootstrapSettings, PasswordHashing

    config = ServiceConfig(str(tmp_path), fsync=False, passwords=PasswordHashing(time_cost=1, memory_cost_kib=8,
                                                                                  parallelism=1),
                           bootstrap=BootstrapSettings(root_password="root-password-1"))
    with open_service(config) as ctx:
        rt = Runtime(ctx, ServerSettings(config, rate_per_org=7, rate_burst=9, workers=3, max_pending=5))
        value = service_properties.get_service_property(ctx, tokens.owner_principal(ctx), "database:limits").value
        assert (value["rate_per_org_per_second"], value["rate_burst"]) == (7, 9)
        assert (value["max_concurrent_requests"], value["max_queued_requests"]) == (3, 5)
        rt.close()
