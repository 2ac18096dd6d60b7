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
import contextvars
import functools
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional, TypeVar

from server import telemetry
from server.service import tokens
from server.service.principal import Principal
from server.service.context import ServiceContext
from server.service.errors import RequestLimitExceeded, RequestTimeout, Unauthorized
from server.settings import ServerSettings
from server.throttle import FailureBackoff

T = TypeVar("T")
log = logging.getLogger("roarbase.server")


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


class _Pool:
    """Worker threads with admission: at most `workers + max_pending` calls in progress."""

    def __init__(self, workers: int, max_pending: int, name: str) -> None:
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix=name)
        self.capacity = workers + max_pending
        self.inflight = 0
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], T]) -> "Any":
        with self._lock:
            if self.inflight >= self.capacity:
                raise RequestLimitExceeded(
                    f"the server is busy ({self.inflight} requests in progress); retry shortly",
                    retry_after=1, name="SERVER_BUSY")
            self.inflight += 1
        try:
            work = self.executor.submit(fn)
        except BaseException:
            self._release()
            raise
        # Released when the thread is done with it, not when the waiter gives up.
        work.add_done_callback(self._release)
        return work

    def _release(self, _fut: Any = None) -> None:
        with self._lock:
            self.inflight -= 1


class Runtime:
    """The shared state of one serving process. Build with `Runtime(ctx, settings)`;
    `close()` stops the workers (the caller closes ctx)."""

    def __init__(self, ctx: ServiceContext, settings: ServerSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self._workers = _Pool(settings.workers, settings.max_pending, "roarbase-worker")
        self.pool = self._workers.executor
        # Password checks (argon2: CPU and memory by design) on threads of their own.
        self._auth = _Pool(settings.auth_workers, settings.auth_max_pending, "roarbase-auth")
        self.rate = RateLimiter(settings.rate_per_org, settings.rate_burst)
        self.auth_failures = RateLimiter(settings.auth_failure_rate, settings.auth_failure_burst)
        self.logins = FailureBackoff(free=settings.login_free_failures, base=settings.login_backoff_base_seconds,
                                     cap=settings.login_backoff_cap_seconds)
        self.address_logins = FailureBackoff(free=settings.login_free_failures_per_address,
                                             base=settings.login_backoff_base_seconds,
                                             cap=settings.login_backoff_cap_seconds)
        ctx.server_limits.update(rate_per_org_per_second=settings.rate_per_org, rate_burst=settings.rate_burst,
                                 max_concurrent_requests=settings.workers, max_queued_requests=settings.max_pending)
        # Readiness (GET /ready): set once warm_up() opened every RUNNING database.
        self.ready = False
        self.failed_databases: dict[str, str] = {}
        self.metrics = telemetry.runtime_registry(self)

    def warm_up(self) -> None:
        """Open the engine of every RUNNING database (on a worker, after the listeners
        are up), so the first query does not pay for it and /ready means "opened". A
        database that fails to open is recorded (and logged); the others still serve."""
        from server.service import databases

        rows = self.ctx.store.all("SELECT id, name FROM databases WHERE state = ?", (databases.RUNNING,))
        for row in rows:
            try:
                self.ctx.engine(row["id"])
            except Exception as exc:
                self.failed_databases[row["id"]] = f"{type(exc).__name__}: {exc}"
                log.error("database %s (%s) did not open", row["name"], row["id"], exc_info=exc)
        self.ready = True

    @property
    def inflight(self) -> int:
        return self._workers.inflight

    async def run(self, fn: Callable[..., T], /, *args: Any, call: Optional[Call] = None, **kwargs: Any) -> T:
        """fn(*args, **kwargs) on a worker thread.

        Raises RequestLimitExceeded at once when workers + max_pending calls are in
        progress. When the awaiting task is cancelled (client gone) or `call`'s deadline
        passes, `call.cancel` is set for the engine and the worker's slot is freed only
        when the thread really finishes, so admission counts the work actually running.
        """
        return await self._run_on(self._workers, functools.partial(fn, *args, **kwargs), call)

    async def run_login(self, fn: Callable[..., T], /, *args: Any, address: str, account: Any = None,
                        **kwargs: Any) -> T:
        """A call that checks a password or a refresh token (login, refresh, invite
        acceptance) on the auth threads, throttled: refused with 429 LOGIN_THROTTLED while
        the client address or the named account is in its backoff after failed attempts
        (see server.throttle); an Unauthorized answer counts as a failure for both."""
        accounts = [f"account:{account.lower()}"] if isinstance(account, str) and account else []
        addresses = [f"address:{address}"]
        self.logins.check(accounts)
        self.address_logins.check(addresses)
        try:
            result = await self._run_on(self._auth, functools.partial(fn, *args, **kwargs), None)
        except Unauthorized as exc:
            if exc.code == "Unauthorized" and not exc.forbidden:  # wrong credentials, not an expired token
                self.logins.failed(accounts)
                self.address_logins.failed(addresses)
            telemetry.auth_failure(exc.name, address=address)
            raise
        self.logins.succeeded(accounts)
        if isinstance(getattr(result, "account_id", None), str):   # a TokenPair: log who logged in
            telemetry.note_principal(result)
        return result

    async def _run_on(self, pool: _Pool, job: Callable[[], T], call: Optional[Call]) -> T:
        loop = asyncio.get_running_loop()
        # The request's context (telemetry.RequestInfo) follows the job onto the worker.
        work = pool.submit(functools.partial(contextvars.copy_context().run, job))
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
                  required: bool = True, address: Optional[str] = None) -> Optional[Principal]:
        """The verified caller of a request (run on a worker: it reads meta.db), charged
        to its org's rate limit. Without credentials: None when not `required`, else
        MissingAuthenticationToken; bad credentials always raise.

        address: the client's; a credential that does not verify is charged to it, and
        once the address is out of failures they answer 429 AUTH_FAILURES_LIMITED instead
        of 401 (valid credentials from the same address are unaffected)."""
        if not bearer and not api_key and not required:
            return None
        key = f"address:{address}" if address is not None and (bearer or api_key) else None
        try:
            principal = tokens.authenticate(self.ctx, bearer=bearer, api_key=api_key)
        except Unauthorized as exc:
            if bearer or api_key:
                telemetry.auth_failure(exc.name, address=address or "?")
            if key is not None and exc.code == "Unauthorized" and not exc.forbidden:
                self._auth_failures_take(key)
            raise
        telemetry.note_principal(principal)
        self.rate.take(principal.org_id)
        return principal

    def _auth_failures_take(self, key: str) -> None:
        try:
            self.auth_failures.take(key)
        except RequestLimitExceeded as exc:
            raise RequestLimitExceeded("too many requests with invalid credentials from this address",
                                       retry_after=exc.retry_after or 1, name="AUTH_FAILURES_LIMITED") from None

    def cached_principal(self, *, bearer: Optional[str] = None, api_key: Optional[str] = None
                         ) -> Optional[Principal]:
        """`principal()` without I/O, for the event loop: the caller of a bearer token
        verified before (and meta.db unchanged since), charged to its org's rate limit;
        None when `principal()` must run on a worker."""
        if not bearer:
            return None
        principal = tokens.cached_principal(self.ctx, bearer)
        if principal is not None:
            telemetry.note_principal(principal)
            self.rate.take(principal.org_id)
        return principal

    def close(self) -> None:
        self._auth.executor.shutdown(wait=True, cancel_futures=True)
        self._workers.executor.shutdown(wait=True, cancel_futures=True)
