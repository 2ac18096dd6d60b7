"""One server process: the gRPC listener and the HTTP listener in one asyncio loop, over one
service context (API.md §7: grpc.aio + uvicorn gathered on the same loop).

`serve(settings)` opens the data dir (migrating meta.db and bootstrapping the first org),
binds both listeners (port 0 picks a free one), reports the bound ports through `on_ready`,
and runs until `stop` is set or SIGINT/SIGTERM arrives; then it stops taking requests,
lets the ones in flight finish within settings.shutdown_grace_seconds, and closes every
engine and meta.db.
"""
from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import math
import os
import resource
import signal
import socket
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import uvicorn

import engine
from server import grpc_app, http_app, http_conn, http_ops, telemetry
from server.runtime import Runtime
from server.service.bootstrap import BootstrapResult, open_service
from server.settings import ServerSettings


@dataclass(frozen=True)
class Serving:
    """What a started server reports: the ports it really bound and, on the first start
    of a data dir, the root credentials it created (password set only if generated)."""

    host: str
    grpc_port: int
    http_port: int
    bootstrap: Optional[BootstrapResult]
    runtime: Runtime


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handling: serve() owns SIGINT/SIGTERM, so that
    both listeners stop together and the data dir is closed before the process ends."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP spelled out: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose
    # protocol says TCP; with 0 every answer waited for the client's delayed ACK (~40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


async def serve(settings: ServerSettings, *, on_ready: Optional[Callable[[Serving], None]] = None,
                stop: Optional[asyncio.Event] = None, handle_signals: bool = True) -> None:
    """Run a server until `stop` is set (or a signal arrives, with handle_signals).

    Raises ServiceUnavailable (DATA_DIR_IN_USE) when another server holds the data dir and
    OSError when a port cannot be bound; nothing is left open in either case.
    """
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    ctx = open_service(settings.service)
    runtime = Runtime(ctx, settings)
    grpc_server: Any = None
    http_sock: Optional[socket.socket] = None
    web: Optional[_Uvicorn] = None
    installed: list[signal.Signals] = []
    try:
        grpc_server = grpc_app.build_server(runtime)
        grpc_port = grpc_server.add_insecure_port(f"{_grpc_host(settings.host)}:{settings.grpc_port}")
        http_sock = _bind(settings.host, settings.http_port)
        http_port = http_sock.getsockname()[1]
        http_conn.quiet_accept_errors(loop)
        max_connections = min(settings.http_max_connections, _descriptor_budget())
        protocol = http_conn.guarded_protocol(max_connections=max_connections,
                                              header_timeout=settings.http_header_timeout_seconds)
        # log_config=None: uvicorn's loggers go where telemetry.configure_logging sends them.
        config = uvicorn.Config(http_app.build_app(runtime), log_level="warning", access_log=False, log_config=None,
                                lifespan="off", server_header=False, date_header=True, http=protocol,
                                timeout_keep_alive=max(1, math.ceil(settings.http_keep_alive_seconds)),
                                timeout_graceful_shutdown=int(max(1, settings.shutdown_grace_seconds)))
        web = _Uvicorn(config)
        await grpc_server.start()
        web_task = asyncio.create_task(web.serve(sockets=[http_sock]))
        while not web.started:
            if web_task.done():
                await web_task  # startup failed: raise its error
                raise RuntimeError("the HTTP listener stopped during startup")
            await asyncio.sleep(0.01)
        if handle_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
                installed.append(sig)
        engine.on_wal_append(telemetry.wal_appended)
        warm_up = loop.run_in_executor(runtime.pool, runtime.warm_up)
        running = ctx.store.one("SELECT COUNT(*) AS n FROM databases WHERE state = 'RUNNING'")
        assert running is not None  # COUNT(*) always yields a row
        telemetry.server_log.info(
            "roarbase %s serving %s", http_ops.version(), os.path.abspath(settings.service.data_dir), extra={"fields": {
                "grpc": f"{settings.host}:{grpc_port}", "http": f"http://{settings.host}:{http_port}",
                "workers": settings.workers, "max_pending": settings.max_pending,
                "max_connections": max_connections, "fsync": settings.service.fsync,
                "databases": running["n"],
                "log_level": settings.log_level, "slow_query_seconds": settings.service.slow_query_seconds}})
        if on_ready is not None:
            on_ready(Serving(settings.host, grpc_port, http_port, ctx.bootstrap, runtime))
        stop_task = asyncio.create_task(stop.wait())
        await asyncio.wait({web_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        stop_task.cancel()
        telemetry.server_log.info("stopping: finishing the requests in flight (up to %g s)",
                                  settings.shutdown_grace_seconds)
        web.should_exit = True
        await asyncio.gather(web_task, grpc_server.stop(settings.shutdown_grace_seconds), warm_up,
                             return_exceptions=True)
        if web_task.done() and not web_task.cancelled() and web_task.exception() is not None:
            raise web_task.exception()  # type: ignore[misc]
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if grpc_server is not None:
            await grpc_server.stop(0)
        if http_sock is not None:
            http_sock.close()
        runtime.close()
        ctx.close()


def _descriptor_budget() -> int:
    """HTTP connections this process can hold: the descriptor limit (raised to its hard
    maximum first) less room for data files, meta.db, gRPC and the listeners."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = 1 << 16 if hard == resource.RLIM_INFINITY else hard
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))
            soft = max(soft, target)
    return max(16, soft - 256 if soft > 512 else soft // 2)


def _grpc_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def run(settings: ServerSettings, *, on_ready: Optional[Callable[[Serving], None]] = None) -> None:
    """Serve in a fresh event loop until SIGINT/SIGTERM (the CLI's `serve`)."""
    # a crash in native code prints every thread's Python stack to stderr (the log)
    faulthandler.enable()
    asyncio.run(serve(settings, on_ready=on_ready))
