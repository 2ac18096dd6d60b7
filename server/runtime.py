"""Runtime: what the two faces (grpc_app, http_app) share inside one server process — the
service context, the worker threads service calls run on, admission control (bounded
concurrency) and the per-org rate limit.

The faces are asyncio; the service layer is synchronous and may block (SQLite, argon2,
engine kernels). Every service call therefore goes through `Runtime.run`, which runs it on
the worker pool, so the event loop keeps serving while kernels (which release the GIL)
use both cores. A `Call` carries one request's deadline and cancel event down to the
engine, which checks both between shards.
"""
from __future__ import annotations

import asyncio
import functools
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional, TypeVar

from server import auth
from server.auth import Principal
from server.service.context import ServiceContext
from server.service.errors import RequestLimitExceeded, RequestTimeout
from server.settings import ServerSettings

T = TypeVar("T")


class RateLimiter:
    """Token bucket per org: `rate` requests per second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # org -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, org_id: str) -> None:
        """Spend one token of the org's bucket. Raises RequestLimitExceeded (with the
        seconds until a token is back as retry_after) when it is empty."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(org_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens < 1.0 - 1e-9:  # tolerance: elapsed * rate is a float product
                self._buckets[org_id] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
                raise RequestLimitExceeded(f"the org's request rate is limited to {self.rate:g} per second",
                                           retry_after=math.ceil(wait), name="RATE_LIMITED")
            self._buckets[org_id] = (tokens - 1.0, now)


class Call:
    """One request's deadline and cancel event, handed to the service call.

    timeout: seconds the client allows (a gRPC deadline), None for the server's default
    only. Setting `cancel` (the client went away, the deadline passed) makes the engine
    stop the query between shards.
    """

    def __init__(self, timeout: Optional[float] = None) -> None:
        self.cancel = threading.Event()
        self.deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)

    def remaining(self) -> Optional[float]:
        """Seconds left before the deadline (None: no client deadline). Raises
        RequestTimeout when it has passed already."""
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise RequestTimeout("the request's deadline passed", name="DEADLINE_EXCEEDED")
        return left


class Runtime:
    """The shared state of one serving process. Build with `Runtime(ctx, settings)`;
    `close()` stops the workers (the caller closes ctx)."""

    def __init__(self, ctx: ServiceContext, settings: ServerSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="roarbase-worker")
        self.rate = RateLimiter(settings.rate_per_org, settings.rate_burst)
        self._capacity = settings.workers + settings.max_pending
        ctx.server_limits.update(rate_per_org_per_second=settings.rate_per_org, rate_burst=settings.rate_burst,
                                 max_concurrent_requests=settings.workers, max_queued_requests=settings.max_pending)
        self._inflight = 0
        self._lock = threading.Lock()

    # -- admission -------------------------------------------------------------------------

    def _admit(self) -> None:
        with self._lock:
            if self._inflight >= self._capacity:
                raise RequestLimitExceeded(
                    f"the server is busy ({self._inflight} requests in progress); retry shortly",
                    retry_after=1, name="SERVER_BUSY")
            self._inflight += 1

    def _release(self, _fut: Any = None) -> None:
        with self._lock:
            self._inflight -= 1

    @property
    def inflight(self) -> int:
        return self._inflight

    async def run(self, fn: Callable[..., T], /, *args: Any, call: Optional[Call] = None, **kwargs: Any) -> T:
        """fn(*args, **kwargs) on a worker thread.

        Raises RequestLimitExceeded at once when workers + max_pending calls are in
        progress. When the awaiting task is cancelled (client gone) or `call`'s deadline
        passes, `call.cancel` is set for the engine and the worker's slot is freed only
        when the thread really finishes, so admission counts the work actually running.
        """
        self._admit()
        loop = asyncio.get_running_loop()
        try:
            work = self.pool.submit(functools.partial(fn, *args, **kwargs))
        except BaseException:
            self._release()
            raise
        # Released when the thread is done with it, not when the waiter gives up.
        work.add_done_callback(self._release)
        fut = asyncio.wrap_future(work, loop=loop)
        timer = None
        expired = False
        if call is not None and call.deadline is not None:
            def expire() -> None:
                nonlocal expired
                expired = True
                call.cancel.set()
                fut.cancel()  # also drops the work if it has not started yet

            timer = loop.call_later(max(0.0, call.deadline - time.monotonic()), expire)
        try:
            return await fut
        except asyncio.CancelledError:
            if call is not None:
                call.cancel.set()
            if expired:
                raise RequestTimeout("the request's deadline passed", name="DEADLINE_EXCEEDED") from None
            raise
        finally:
            if timer is not None:
                timer.cancel()

    # -- authentication ----------------------------------------------------------------------

    def principal(self, *, bearer: Optional[str] = None, api_key: Optional[str] = None,
                  required: bool = True) -> Optional[Principal]:
        """The verified caller of a request (run on a worker: it reads meta.db), charged
        to its org's rate limit. Without credentials: None when not `required`, else
        MissingAuthenticationToken; bad credentials always raise."""
        if not bearer and not api_key and not required:
            return None
        principal = auth.authenticate(self.ctx, bearer=bearer, api_key=api_key)
        self.rate.take(principal.org_id)
        return principal

    def cached_principal(self, *, bearer: Optional[str] = None, api_key: Optional[str] = None
                         ) -> Optional[Principal]:
        """`principal()` without I/O, for the event loop: the caller of a bearer token
        verified before (and meta.db unchanged since), charged to its org's rate limit;
        None when `principal()` must run on a worker."""
        if not bearer:
            return None
        principal = auth.cached_principal(self.ctx, bearer)
        if principal is not None:
            self.rate.take(principal.org_id)
        return principal

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
