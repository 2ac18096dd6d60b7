"""Throttles for credentials: password guessing and token guessing (SECURITY.md §2, issue 14).

`FailureBackoff` is the login throttle: after `free` failed logins for one key (an account
name, a client address) every further attempt for that key waits an exponentially growing
delay (base · 2^k, capped), refused meanwhile with RequestLimitExceeded and Retry-After —
before any argon2 work is spent. A success clears an account's record; an address's record
is forgotten once it has been quiet for `forget_after` seconds.

The token-guessing side (a bearer token or API key that does not verify) reuses the token
bucket of server.runtime.RateLimiter keyed by the client address.

Both are bounded in memory: when more than `max_keys` keys are tracked, the records that
can no longer refuse anything are dropped first, then the oldest.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from server.service.errors import RequestLimitExceeded


@dataclass
class _Record:
    failures: int
    last: float          # time of the last failure
    blocked_until: float


class FailureBackoff:
    """Exponential backoff after repeated failures, per key (see the module docstring)."""

    def __init__(self, *, free: int, base: float, cap: float, forget_after: float = 900.0,
                 max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.free = free
        self.base = base
        self.cap = cap
        self.forget_after = forget_after
        self.max_keys = max_keys
        self._clock = clock
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    def check(self, keys: Iterable[str]) -> None:
        """Raise RequestLimitExceeded (LOGIN_THROTTLED, retry_after) when any key is in
        its backoff window."""
        now = self._clock()
        with self._lock:
            wait = max((r.blocked_until - now for k in keys if (r := self._records.get(k)) is not None), default=0.0)
        if wait > 0:
            raise RequestLimitExceeded("too many failed logins; wait before trying again",
                                       retry_after=math.ceil(wait), name="LOGIN_THROTTLED")

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                r = self._records.get(key)
                if r is None or now - r.last > self.forget_after:
                    r = self._records[key] = _Record(0, now, now)
                r.failures += 1
                r.last = now
                over = r.failures - self.free
                if over > 0:
                    r.blocked_until = now + min(self.cap, self.base * 2 ** min(over - 1, 32))
            if len(self._records) > self.max_keys:
                self._prune(now)

    def succeeded(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._records.pop(key, None)

    def _prune(self, now: float) -> None:
        for key in [k for k, r in self._records.items() if r.blocked_until <= now
                    and (r.failures < self.free or now - r.last > self.forget_after)]:
            del self._records[key]
        if len(self._records) > self.max_keys:
            for key in sorted(self._records, key=lambda k: self._records[k].last)[:len(self._records) - self.max_keys]:
                del self._records[key]
