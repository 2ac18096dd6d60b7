"""OpenAPI paths of the operating routes (server/http_ops.py), merged by server/openapi.py."""
from __future__ import annotations

from typing import Any

JSON = "application/json"
_ERROR = {"$ref": "#/components/schemas/Error"}


def _get(summary: str, schema: dict[str, Any], *, media: str = JSON, errors: tuple[int, ...] = (),
         description: str = "") -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": ["operations"], "security": [],
                          "responses": {"200": {"description": "OK", "content": {media: {"schema": schema}}}}}
    if description:
        op["description"] = description
    for status in errors:
        op["responses"][str(status)] = {"description": "error", "content": {JSON: {"schema": _ERROR}}}
    return {"get": op}


_S, _I = {"type": "string"}, {"type": "integer"}

PATHS: dict[str, Any] = {
    "/": _get("what this server is, and where to look", {"type": "object", "required": ["name", "version", "links"],
                                                          "properties": {"name": _S, "version": _S,
                                                                         "links": {"type": "object"}}}),
    "/health": _get("liveness: the process answers", {"type": "object", "required": ["status"],
                                                       "properties": {"status": {"const": "ok"}}}),
    "/ready": _get("readiness: meta.db answers and every RUNNING database was opened",
                   {"type": "object", "required": ["status", "open_databases", "failed_databases"],
                    "properties": {"status": {"const": "ready"}, "open_databases": _I,
                                   "failed_databases": {"type": "array", "items": _S}}}, errors=(503,)),
    "/metrics": {"get": {**_get("Prometheus metrics (text exposition format)", _S, media="text/plain",
                                errors=(401, 500))["get"],
                         "description": "Open to loopback clients; from elsewhere a root or manager bearer token.",
                         "security": [{}, {"bearer": []}]}},
    "/version": _get("the server's version", {"type": "object", "required": ["version"],
                                               "properties": {"version": _S}}),
    "/status": _get("FeatureBase-compatible cluster status (one node)",
                    {"type": "object", "required": ["state", "nodes", "localID"],
                     "properties": {"state": _S, "nodes": {"type": "array"}, "localID": _S, "clusterName": _S}}),
}
