"""Operating routes of the HTTP face: what load balancers, Prometheus and people poke.

- `GET /health`: liveness — the process answers (200 {"status": "ok"}). No credentials,
  nothing revealed.
- `GET /ready`: readiness — meta.db answers and every RUNNING database was opened at
  start (Runtime.warm_up); 503 ServiceUnavailable (NOT_READY) until then. Databases that
  failed to open are counted (their ids listed), the server still serves the others.
- `GET /metrics`: the Prometheus text format (server/telemetry.py). Open to clients on a
  loopback address; anyone else needs a token of the root or manager role.
- `GET /version`: {"version"} (FeatureBase serves the same).
- `GET /status`: FeatureBase's cluster status shape for its tools: one node, state NORMAL.
- `GET /`: where to go from here.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from typing import Any, Callable

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from server import policy, settings as settings_mod, telemetry
from server.error_table import ServerError
from server.runtime import Runtime
from server.service.errors import Forbidden

# Roles that may read /metrics from a non-loopback address.
METRICS_ROLES = frozenset({policy.ROOT, policy.MANAGER})
# Routes whose access lines are DEBUG (probes hit them every few seconds).
QUIET_ROUTES = frozenset({"/health", "/ready", "/metrics"})


def version() -> str:
    try:
        return metadata.version("roarbase")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class OpsEndpoint:
    method: str
    path: str
    handler: str
    status: int


OPS_ENDPOINTS: tuple[OpsEndpoint, ...] = (
    OpsEndpoint("GET", "/", "index", 200),
    OpsEndpoint("GET", "/health", "health", 200),
    OpsEndpoint("GET", "/ready", "ready", 200),
    OpsEndpoint("GET", "/metrics", "metrics", 200),
    OpsEndpoint("GET", "/version", "version", 200),
    OpsEndpoint("GET", "/status", "status", 200),
)


def _json(body: Any, status: int = 200) -> Response:
    from server.http_app import json_bytes

    return Response(json_bytes(body), status, media_type="application/json")


class OpsHandlers:
    """The OPS_ENDPOINTS over one Runtime."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def index(self, request: Request) -> Response:
        return _json({"name": "roarbase", "version": version(),
                      "links": {"openapi": "/openapi.json", "health": "/health", "ready": "/ready",
                                "metrics": "/metrics", "version": "/version", "sql": "/sql"}})

    async def health(self, request: Request) -> Response:
        return _json({"status": "ok"})

    async def ready(self, request: Request) -> Response:
        rt = self.rt
        try:
            await rt.run(rt.ctx.store.one, "SELECT 1")
        except ServerError:
            raise
        except Exception:
            raise ServerError("ServiceUnavailable", "meta.db does not answer", name="NOT_READY",
                                     retry_after=1) from None
        if not rt.ready:
            raise ServerError("ServiceUnavailable", "the server is still opening its databases",
                                     name="NOT_READY", retry_after=1)
        return _json({"status": "ready", "open_databases": len(rt.ctx.open_engines()),
                      "failed_databases": sorted(rt.failed_databases)})

    async def metrics(self, request: Request) -> Response:
        rt = self.rt
        host = request.client.host if request.client else ""
        if not settings_mod.is_loopback(host):
            from server.http_app import _address, _credentials

            bearer, _ = _credentials(request, api_key=False)
            principal = await rt.run(rt.principal, bearer=bearer, required=True, address=_address(request))
            if principal is None or principal.role not in METRICS_ROLES:
                raise Forbidden("/metrics needs a root or manager token from a non-loopback"
                                                   " address", name="METRICS_FORBIDDEN")
        return Response(telemetry.exposition(rt.metrics), media_type=CONTENT_TYPE_LATEST)

    async def version(self, request: Request) -> Response:
        return _json({"version": version()})

    async def status(self, request: Request) -> Response:
        port = request.url.port or 80
        node = {"id": "local", "uri": {"scheme": "http", "host": request.url.hostname or "localhost", "port": port},
                "state": "READY" if self.rt.ready else "STARTING", "isPrimary": True}
        return _json({"state": "NORMAL" if self.rt.ready else "STARTING", "nodes": [node], "localID": "local",
                      "clusterName": "roarbase"})


def routes(rt: Runtime) -> dict[str, dict[str, Callable[..., Any]]]:
    """path -> {method: handler}, for http_app.build_app."""
    handlers = OpsHandlers(rt)
    out: dict[str, dict[str, Callable[..., Any]]] = {}
    for ep in OPS_ENDPOINTS:
        out.setdefault(ep.path, {})[ep.method] = getattr(handlers, ep.handler)
    return out
