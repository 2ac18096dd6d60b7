"""ServerSettings: what the process serving both faces is told (listeners and admission
limits), around the service layer's own ServiceConfig. Built by the CLI from defaults <
TOML < environment < flags; nothing here reads a file or the environment itself.
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from typing import Optional

from server.service.config import ServiceConfig
from server.service.errors import InvalidParameter

DEFAULT_GRPC_PORT = 20101
DEFAULT_HTTP_PORT = 10101
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")


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

    Credentials (issue 14): password checks (logins, refreshes, invite acceptance) run on
    `auth_workers` threads of their own, at most `auth_max_pending` waiting, so argon2 work
    never takes the query workers. After `login_free_failures` failed logins for one
    account (`login_free_failures_per_address` for one client address) each further
    attempt waits `login_backoff_base_seconds` (1 s), then twice as long each time, up to
    `login_backoff_cap_seconds` (429 LOGIN_THROTTLED
    with Retry-After). A bearer token or API key that does not verify is charged to the
    client address: `auth_failure_burst` at once, then `auth_failure_rate` per second
    (429 AUTH_FAILURES_LIMITED).

    HTTP connections (issue 14 #9): at most `http_max_connections` open (further ones are
    closed at once; the server also stays below its descriptor limit); a client has
    `http_header_timeout_seconds` from connecting (or from its previous answer) to send a
    complete request head and `http_body_timeout_seconds` between two pieces of a body
    (408 RequestTimeout); an idle keep-alive connection closes after
    `http_keep_alive_seconds`.

    Logs (server/telemetry.py): `log_level` (debug, info, warning, error), `log_format`
    (text or json, one object per line), `log_file` (None: stderr); the CLI applies them.
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
    auth_workers: int = field(default_factory=lambda: max(1, (os.cpu_count() or 2) // 2))
    auth_max_pending: int = 32
    login_free_failures: int = 5
    login_free_failures_per_address: int = 20
    login_backoff_base_seconds: float = 1.0
    login_backoff_cap_seconds: float = 300.0
    auth_failure_rate: float = 1.0
    auth_failure_burst: int = 50
    http_max_connections: int = 1000
    http_header_timeout_seconds: float = 10.0
    http_body_timeout_seconds: float = 30.0
    http_keep_alive_seconds: float = 5.0
    log_level: str = "info"
    log_format: str = "text"
    log_file: Optional[str] = None

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
        if self.auth_workers < 1 or self.auth_max_pending < 0 or self.login_free_failures < 1 \
                or self.login_free_failures_per_address < 1 or self.login_backoff_cap_seconds < 1 \
                or not 0 < self.login_backoff_base_seconds <= self.login_backoff_cap_seconds:
            raise InvalidParameter("auth_workers, login_free_failures(_per_address) and login_backoff_cap_seconds"
                                   " must be at least 1, auth_max_pending at least 0, login_backoff_base_seconds"
                                   " positive and at most the cap")
        if self.auth_failure_rate <= 0 or self.auth_failure_burst < 1:
            raise InvalidParameter("auth_failure_rate must be positive and auth_failure_burst at least 1")
        if self.http_max_connections < 1 or min(self.http_header_timeout_seconds, self.http_body_timeout_seconds,
                                                 self.http_keep_alive_seconds) <= 0:
            raise InvalidParameter("http_max_connections must be at least 1 and the http timeouts positive")
        if self.log_level not in LOG_LEVELS or self.log_format not in LOG_FORMATS:
            raise InvalidParameter(f"log_level must be one of {', '.join(LOG_LEVELS)} and log_format one of"
                                   f" {', '.join(LOG_FORMATS)}", name="INVALID_SETTING")
        if self.shutdown_grace_seconds < 0:
            raise InvalidParameter("shutdown_grace_seconds cannot be negative")

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)
