"""A grpc.aio server for test_grpc_access_late_close.py: `python late_close_server.py`
prints its port, then serves until its stdin closes. Access lines go to stderr as JSON.

/t.T/Stream runs the application stream /t.T/Inner through the access log's wrapper
(AccessInterceptor), takes its first message, and leaves the wrapper suspended at its
yield, as grpc leaves it when the client cancels a stream while grpc awaits a write;
then the call ends. /t.T/Close closes that wrapper once grpc has finished with the call
(its done callbacks have run, after which grpc releases the call's core object): what
the garbage collector does, later, to a wrapper grpc left behind. /t.T/Ping answers.
"""
from __future__ import annotations

import asyncio
import faulthandler
import sys
from typing import Any, AsyncIterator

import grpc

from server import telemetry
from server.grpc_access import AccessInterceptor

_left: list[tuple[Any, asyncio.Event]] = []


class _Details:
    """The handler call details intercept_service reads."""

    method = "/t.T/Inner"
    invocation_metadata = ()


async def _inner(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    yield b"one"
    yield b"two"


async def _continuation(details: Any) -> grpc.RpcMethodHandler:
    return grpc.unary_stream_rpc_method_handler(_inner)


async def _stream(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    handler = await AccessInterceptor().intercept_service(_continuation, _Details())
    wrapper = handler.unary_stream(request, context)
    ended = asyncio.Event()
    context.add_done_callback(lambda _ctx: ended.set())
    yield await wrapper.__anext__()
    _left.append((wrapper, ended))


async def _close(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    wrapper, ended = _left.pop()
    await ended.wait()
    await asyncio.sleep(0)          # grpc releases the call right after the done callbacks
    await wrapper.aclose()          # GeneratorExit at its yield: the access line is written
    return b"closed"


async def _ping(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return b"pong"


async def main() -> None:
    faulthandler.enable()           # a crash shows where, in the test's failure message
    telemetry.configure_logging("info", "json")
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("t.T", {
        "Stream": grpc.unary_stream_rpc_method_handler(_stream),
        "Close": grpc.unary_unary_rpc_method_handler(_close),
        "Ping": grpc.unary_unary_rpc_method_handler(_ping),
    }),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.stop(None)


if __name__ == "__main__":
    asyncio.run(main())
