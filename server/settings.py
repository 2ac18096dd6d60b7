"""ServerSettings: what the process serving both faces is told (listeners and admission
limits), around the service layer's own ServiceConfig. Built by the CLI from defaults <
TOML < environment < flags; nothing here reads a file or the environment itself.
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

from server.service.config import ServiceConfig
from server.service.errors import InvalidParameter

DEFAULT_GRPC_PORT = 20101
DEFAULT_HTTP_PORT = 10101


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (the only binds allowed without TLS
    unless `allow_remote` says otherwise)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerSettings:
    """Listeners and admission control of one server process.

    host: the address both listeners bind. grpc_port/http_port: 0 picks a free port (the
    server prints and reports the one it got). allow_remote: binding anything but loopback
    needs it (no TLS here: put a TLS-terminating proxy in front). workers: threads running
    service calls (engine kernels release the GIL, so two cores both work). max_pending:
    requests allowed to wait for a worker; beyond workers + max_pending a request is
    refused with RequestLimitExceeded rather than queued without bound. rate_per_org /
    rate_burst: token bucket per org (requests per second). compat_database: the database
    `POST /sql` runs in (created in the bootstrap org on first use). open_loopback_sql:
    `POST /sql` without credentials is allowed when the HTTP listener is on loopback
    (FeatureBase's behaviour; the featurebase client sends no credentials over plain HTTP).
    """

    service: ServiceConfig
    host: str = "127.0.0.1"
    grpc_port: int = DEFAULT_GRPC_PORT
    http_port: int = DEFAULT_HTTP_PORT
    allow_remote: bool = False
    workers: int = field(default_factory=lambda: max(4, 2 * (os.cpu_count() or 1)))
    max_pending: int = 64
    rate_per_org: float = 2000.0
    rate_burst: int = 4000
    compat_database: str = "default"
    open_loopback_sql: bool = True
    shutdown_grace_seconds: float = 5.0

    def __post_init__(self) -> None:
        for name in ("grpc_port", "http_port"):
            port = getattr(self, name)
            if not isinstance(port, int) or not 0 <= port <= 65535:
                raise InvalidParameter(f"{name} must be an integer within 0..65535")
        if self.grpc_port and self.grpc_port == self.http_port:
            raise InvalidParameter("grpc_port and http_port must differ")
        if not self.allow_remote and not is_loopback(self.host):
            raise InvalidParameter(f"refusing to bind {self.host}: not a loopback address and allow_remote is off "
                                   "(there is no TLS; put a TLS proxy in front and set allow_remote)")
        if self.workers < 1 or self.max_pending < 0:
            raise InvalidParameter("workers must be at least 1 and max_pending at least 0")
        if self.rate_per_org <= 0 or self.rate_burst < 1:
            raise InvalidParameter("rate_per_org must be positive and rate_burst at least 1")
        if self.shutdown_grace_seconds < 0:
            raise InvalidParameter("shutdown_grace_seconds cannot be negative")

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)
