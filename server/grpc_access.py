"""The gRPC access log: an interceptor around every method of the server (roarbase.v1,
health, reflection), so servicers added later are covered without touching them.

For each call it starts a telemetry.RequestInfo (the request id, later the principal),
sends the request id back as `x-request-id` trailing metadata (grpc_app's error path adds
it to its own trailing metadata, which replaces these), counts the bytes of the messages
sent (through the response serializer), and writes one access line when the call ends:
method, status, unified error code, duration, bytes, principal, org, request id.
Health checks and reflection are logged at DEBUG: probes every few seconds would drown
the log.
"""
from __future__ import annotations

import logging
import time
from typing import Any, AsyncIterator, Awaitable, Callable, Optional

import grpc

from server import telemetry

_QUIET_PREFIXES = ("/grpc.health.", "/grpc.reflection.")


def _peer_host(peer: str) -> str:
    kind, _, rest = (peer or "").partition(":")
    if kind == "ipv6" and rest.startswith("["):
        return rest[1:].partition("]")[0]
    return rest.rpartition(":")[0] or rest


def _counting(serialize: Optional[Callable[[Any], bytes]]) -> Optional[Callable[[Any], bytes]]:
    if serialize is None:
        return None

    def count(message: Any) -> bytes:
        data = serialize(message)
        info = telemetry.current_request()
        if info is not None:
            info.sent_bytes += len(data)
        return data

    return count


class _Call:
    """One call being served: its request info and clock."""

    def __init__(self, method: str, context: grpc.aio.ServicerContext) -> None:
        self.method = method
        self.context = context
        self.info = telemetry.begin_request()
        self.started = time.perf_counter()
        # Read now: once a client has cancelled, grpc core may already have freed the peer
        # string, and peer() in done() then reads freed memory (the server died of SIGSEGV).
        self.address = _peer_host(context.peer())
        context.set_trailing_metadata(((telemetry.REQUEST_ID_HEADER, self.info.request_id),))

    def done(self, failure: Optional[BaseException]) -> None:
        code = self.context.code()
        if code is None:
            code = grpc.StatusCode.OK if failure is None else (
                grpc.StatusCode.CANCELLED if isinstance(failure, BaseException) and self.context.cancelled()
                else grpc.StatusCode.UNKNOWN)
        status = code.name if isinstance(code, grpc.StatusCode) else str(code)
        error_code, error_name = self.info.error or ("", "")
        if status != "OK" and not error_code:
            error_code = "RequestTimeout" if status in ("CANCELLED", "DEADLINE_EXCEEDED") else "InternalServerError"
        quiet = self.method.startswith(_QUIET_PREFIXES)
        if quiet and not telemetry.access_log.isEnabledFor(logging.DEBUG):
            return
        telemetry.access("grpc", "POST", self.method, status, error_code, time.perf_counter() - self.started,
                         self.info.sent_bytes, self.info, address=self.address,
                         error_name=error_name, quiet=quiet)


def _unary(method: str, behaviour: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    # The response is serialized once this returns (outside the call's context): its size
    # is taken here. Streamed messages are counted by the serializer, as they go out.
    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
        call = _Call(method, context)
        failure: Optional[BaseException] = None
        try:
            response = await behaviour(request, context)
            call.info.sent_bytes += response.ByteSize()   # serialized after this returns
            return response
        except BaseException as exc:
            failure = exc
            raise
        finally:
            call.done(failure)

    return wrapped


def _stream(method: str, behaviour: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        call = _Call(method, context)
        failure: Optional[BaseException] = None
        try:
            async for message in behaviour(request, context):
                yield message
        except BaseException as exc:
            failure = exc
            raise
        finally:
            call.done(failure)

    return wrapped


class AccessInterceptor(grpc.aio.ServerInterceptor):
    """Wraps each method handler of the server in the access log (see the module doc)."""

    async def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
                                details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        if handler is None:
            return None
        method = details.method
        serializer = _counting(handler.response_serializer)
        deserializer = handler.request_deserializer
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(_unary(method, handler.unary_unary), deserializer,
                                                       handler.response_serializer)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(_stream(method, handler.unary_stream), deserializer,
                                                        serializer)
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(_unary(method, handler.stream_unary), deserializer,
                                                        handler.response_serializer)
        return grpc.stream_stream_rpc_method_handler(_stream(method, handler.stream_stream), deserializer, serializer)
