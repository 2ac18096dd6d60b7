"""OpenAPI paths of the operating routes (server/http_ops.py), merged by server/openapi.py."""
from __future__ import annotations

from typing import Any

JSON = "application/json"
_ERROR = {"$ref": "#/components/schemas/Error"}


def _get(summary: str, schema: dict[str, Any], *, media: str = JSON, errors: tuple[int, ...] = (),
         description: str = "", html: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {media: {"schema": schema}}
    if html:
        content["text/html"] = {"schema": {"type": "string"}}
    op: dict[str, Any] = {"summary": summary, "tags": ["operations"], "security": [],
                          "responses": {"200": {"description": "OK", "content": content}}}
    if description:
        op["description"] = description
    for status in errors:
        op["responses"][str(status)] = {"description": "error", "content": {JSON: {"schema": _ERROR}}}
    return {"get": op}


_S, _I = {"type": "string"}, {"type": "integer"}

PATHS: dict[str, Any] = {
    "/": _get("what this server is, and where to look; the web console for a browser",
              {"type": "object", "required": ["name", "version", "links"],
               "properties": {"name": _S, "version": _S, "links": {"type": "object"}}},
              description="Content negotiation (`Vary: Accept`): an Accept header that ranks text/html above"
                          " application/json (a browser's) gets the web console's page; any other caller the"
                          " JSON index.", html=True),
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
