"""Connection limits of the HTTP listener (issue 14 #9), below the ASGI app: uvicorn
closes an idle keep-alive connection only after a response, and any byte received
cancels that timer, so a connection that never completes a request head (idle from the
start, or trickling a byte at a time) used to be held forever, and 1,100 of them took every
file descriptor.

`guarded_protocol(...)` makes uvicorn's h11 protocol class with:
- a connection cap: a connection beyond `max_connections` open ones is closed at once;
- a head timeout: from the connection (or the end of the previous response) the client
  has `header_timeout` seconds to deliver a complete request head, trickling or not;
  otherwise the connection is closed. (The body's own timeout is in http_app._Guard,
  which answers 408.)

`quiet_accept_errors(loop)` keeps a descriptor shortage from flooding the log: asyncio
reports every failed accept() with a traceback; repeats of one message are logged at most
once per `every` seconds, with the count of the ones left out.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable, Optional

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("roarbase.http")


def guarded_protocol(*, max_connections: int, header_timeout: float) -> type[H11Protocol]:
    class GuardedH11Protocol(H11Protocol):
        _head_timer: Optional[asyncio.TimerHandle] = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                transport.close()   # over the cap: the descriptor is freed at once
                return
            self._arm()

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(header_timeout, self._head_timeout)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timeout(self) -> None:
            self._head_timer = None
            if self.cycle is not None and not self.cycle.response_complete:
                return   # a request is being served: its body has its own timeout
            if not self.transport.is_closing():
                self.transport.close()

        def handle_events(self) -> None:
            super().handle_events()
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm()   # a complete head arrived

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Optional[Exception]) -> None:
            self._disarm()
            super().connection_lost(exc)

    return GuardedH11Protocol


def quiet_accept_errors(loop: asyncio.AbstractEventLoop, *, every: float = 10.0,
                        clock: Callable[[], float] = time.monotonic) -> None:
    """Install a loop exception handler that logs one line per `every` seconds for each
    repeated message (accept() out of descriptors), and everything else as before."""
    last: dict[str, float] = {}
    left_out: dict[str, int] = {}
    default = loop.get_exception_handler()

    def handler(loop_: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        if "accept" not in message:
            if default is not None:
                default(loop_, context)
            else:
                loop_.default_exception_handler(context)
            return
        now = clock()
        if now - last.get(message, -every) < every:
            left_out[message] = left_out.get(message, 0) + 1
            return
        last[message] = now
        skipped = left_out.pop(message, 0)
        exc = context.get("exception")
        log.error("%s: %s%s", message, exc if exc is not None else "",
                  f" ({skipped} more like it in the last {every:g} s)" if skipped else "")

    loop.set_exception_handler(handler)
