"""The HTTP/JSON face: a Starlette app over the service layer (API.md §1, §3.1–3.3, §3.7).

Handlers are thin: unpack the request, call one service function on a worker thread
(Runtime.run: admission control, the event loop never blocks on SQLite, argon2 or the
engine), pack its `to_dict()`. The service functions check the policy themselves.

What lives here and nowhere else:
- `_Guard`, the outer ASGI layer: trailing slash stripped (never redirected), a request id
  on every response, the body cap (limits.max_payload_bytes: Content-Length checked before
  anything is read, a body without one counted while it streams — RELIABILITY R13), and
  every exception turned into the unified error envelope (server/errors.to_http, family
  "v2"); an unexpected one is logged with the request id and answered 500 without detail.
- Content negotiation: JSON by default, msgpack when the client's Accept names it
  (request bodies may be msgpack too); never pickle.
- The SQL paths' FeatureBase contract: SQL-level errors answer 200 {"error",
  "execution-time"} because the featurebase client treats any other status as opaque —
  unless the caller sends `Accept: application/problem+json`, which gets the envelope
  with the table's status. Transport errors (401, 404, 409, 413, ...) keep their status.

`POST /sql` and the unprefixed `/databases/{id}/query/sql` (the featurebase client's
paths) run without credentials only when the listener is on loopback and
settings.open_loopback_sql is on; they then act as the bootstrap org's owner with the
backend role (server/service/compat.py).
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Optional

import msgpack
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine import rfc3339
from engine.errors import EngineError
from server import console, errors, http_ops, openapi, policy, telemetry
from server.service import tokens
from server.service.principal import Principal
from server.error_table import ServerError
from server.runtime import Call, Runtime
from server.service import (
    accounts,
    cluster_members,
    compat,
    databases,
    invites,
    orgs,
    query,
    roles,
    service_properties,
)
from server.service.common import Page, json_value_problem
from server.service.errors import (
    InvalidParameter,
    MissingParameter,
    PayloadTooLarge,
    ResourceLimitExceeded,
    Unauthorized,
    as_server_error,
    envelope,
)

logger = logging.getLogger("roarbase.http")

JSON = "application/json"
MSGPACK = "application/msgpack"
PROBLEM_JSON = "application/problem+json"
_MSGPACK_TYPES = frozenset({MSGPACK, "application/x-msgpack"})
_SQL_TYPES = frozenset({"", "text/plain", "application/sql"})
_REQUEST_ID = "roarbase.request_id"
_ERROR = "roarbase.error"   # (code, name) of the error answered, for the access log
FAMILY = "v2"

# Codes a SQL statement itself causes (the engine raised them): answered 200 + "error" on
# the SQL paths. Everything else — authentication, a missing database, a database not
# RUNNING, a body over the cap, a deadline — is a transport error with its own status.
_SQL_LEVEL_CODES = frozenset({"BadRequest", "QueryExecutionError", "InvalidParameter", "ResourceNotFound",
                              "ResourceAlreadyExists", "ResourceLimitExceeded"})


# -- encoding ----------------------------------------------------------------------------

def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _encode(value: Any) -> str:
    """JSON text for values the json module refuses: Decimal as its exact decimal text (a
    JSON number), datetime as RFC 3339, non-finite floats as null."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, float):
        return json.dumps(value) if math.isfinite(value) else "null"
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else "null"
    if isinstance(value, datetime):
        return json.dumps(rfc3339(_utc(value)))
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(str(k)) + ":" + _encode(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    raise TypeError(f"cannot encode a {type(value).__name__} as JSON")


def json_bytes(value: Any) -> bytes:
    """Compact JSON; the C encoder first, the exact encoder only when a value needs it."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode("ascii")
    except (TypeError, ValueError):
        return _encode(value).encode("ascii")


def _msgpack_default(value: Any) -> Any:
    # The values a JSON client gets after parsing: decimals as doubles, times as RFC 3339.
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return rfc3339(_utc(value))
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"cannot encode a {type(value).__name__} as msgpack")


def msgpack_bytes(value: Any) -> bytes:
    return msgpack.packb(value, default=_msgpack_default, use_bin_type=True)


# An answer is encoded in pieces of about this many bytes, each piece a short C call: the
# worker encoding a huge answer gives the GIL back between pieces, so the event loop keeps
# serving other clients (issue 14 #16), and the pieces go out as they are, never joined.
_CHUNK_BYTES = 1 << 20
_BATCH_ITEMS = 256


class _Chunks:
    """Encoded pieces of one answer, counted against the response cap as they are made."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.pieces: list[bytes] = []
        self.size = 0
        self._buf = bytearray()

    def add(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > self.cap:
            raise ResourceLimitExceeded(f"the answer is larger than {self.cap} bytes (limits.max_response_bytes);"
                                        " narrow the query or page through it (LIMIT/OFFSET)",
                                        name="RESPONSE_TOO_LARGE", data={"limit": self.cap})
        self._buf += piece
        if len(self._buf) >= _CHUNK_BYTES:
            self.pieces.append(bytes(self._buf))
            self._buf.clear()

    def done(self) -> list[bytes]:
        if self._buf:
            self.pieces.append(bytes(self._buf))
            self._buf.clear()
        return self.pieces


def _json_pieces(value: Any, out: _Chunks, depth: int = 0) -> None:
    if isinstance(value, dict) and depth < 3:
        out.add(b"{")
        for i, (key, inner) in enumerate(value.items()):
            out.add((b"," if i else b"") + json_bytes(str(key)) + b":")
            _json_pieces(inner, out, depth + 1)
        out.add(b"}")
    elif isinstance(value, (list, tuple)) and depth < 3 and len(value) > _BATCH_ITEMS:
        out.add(b"[")
        for start in range(0, len(value), _BATCH_ITEMS):
            batch = json_bytes(list(value[start:start + _BATCH_ITEMS]))
            out.add((b"," if start else b"") + batch[1:-1])
        out.add(b"]")
    else:
        out.add(json_bytes(value))


def _msgpack_pieces(value: Any, out: _Chunks, packer: msgpack.Packer, depth: int = 0) -> None:
    if isinstance(value, dict) and depth < 3:
        out.add(packer.pack_map_header(len(value)))
        for key, inner in value.items():
            out.add(packer.pack(key))
            _msgpack_pieces(inner, out, packer, depth + 1)
    elif isinstance(value, (list, tuple)) and depth < 3 and len(value) > _BATCH_ITEMS:
        out.add(packer.pack_array_header(len(value)))
        for start in range(0, len(value), _BATCH_ITEMS):
            out.add(b"".join(packer.pack(item) for item in value[start:start + _BATCH_ITEMS]))
    else:
        out.add(packer.pack(value))


def encode_answer(accept: set[str], value: Any, cap: int) -> tuple[list[bytes], str]:
    """A (possibly huge) answer as pieces, on the worker that made it: JSON, or msgpack
    when accepted. Raises ResourceLimitExceeded (RESPONSE_TOO_LARGE) once the encoding
    passes `cap` bytes, before anything is sent."""
    out = _Chunks(cap)
    if accept & _MSGPACK_TYPES:
        _msgpack_pieces(value, out, msgpack.Packer(default=_msgpack_default, use_bin_type=True))
        return out.done(), MSGPACK
    _json_pieces(value, out)
    return out.done(), JSON


class PiecesResponse(Response):
    """A response whose body is sent piece by piece (with its Content-Length)."""

    def __init__(self, pieces: list[bytes], media_type: str, status_code: int = 200) -> None:
        super().__init__(b"", status_code, media_type=media_type)
        self.pieces = pieces
        self.headers["content-length"] = str(sum(map(len, pieces)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        if scope.get("method") == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        for i, piece in enumerate(self.pieces):
            await send({"type": "http.response.body", "body": piece, "more_body": i + 1 < len(self.pieces)})
        if not self.pieces:
            await send({"type": "http.response.body", "body": b""})


def _media_types(header: str) -> set[str]:
    return {part.split(";", 1)[0].strip().lower() for part in header.split(",")}


def _accept(headers: Any) -> set[str]:
    return _media_types(headers.get("accept", ""))


def _encode_for(accept: set[str], value: Any) -> tuple[bytes, str]:
    if accept & _MSGPACK_TYPES:
        return msgpack_bytes(value), MSGPACK
    return json_bytes(value), JSON


def family_of(path: str) -> str:
    """The URL family whose statuses an error on `path` uses (API.md §6)."""
    return "v1" if path == "/v1" or path.startswith("/v1/") else FAMILY


def error_response(exc: BaseException, scope: Scope) -> Response:
    """The unified error envelope for an exception, in the format the client accepts."""
    request_id = scope.get(_REQUEST_ID)
    status, body, headers = errors.to_http(exc, family_of(scope.get("path", "")), request_id=request_id)
    scope[_ERROR] = (body["code"], body["error_data"]["name"])
    if status >= 500:
        logger.error("request %s (%s %s) failed", request_id, scope.get("method"), scope.get("path"),
                     exc_info=exc if not isinstance(exc, ServerError) else None)
    accept = _media_types(_header(scope, b"accept"))
    if PROBLEM_JSON in accept:
        return Response(json_bytes(body), status, headers, media_type=PROBLEM_JSON)
    content, media = _encode_for(accept, body)
    return Response(content, status, headers, media_type=media)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


# -- the outer layer ---------------------------------------------------------------------

class _Guard:
    """Trailing slash, request id, body cap, body timeout and the error envelope, around
    everything. body_timeout: the longest wait for the next piece of a request body (a
    client that stalls mid-body gets 408 and its connection back)."""

    def __init__(self, app: ASGIApp, limit: int, limits: tuple[tuple[str, int], ...] = (),
                 body_timeout: Optional[float] = None, large_limit: int = 0,
                 large: Callable[[str], bool] = lambda path: False) -> None:
        self.app = app
        self.default_limit = limit
        self.limits = limits          # (path prefix, cap) for routes that take large bodies
        self.body_timeout = body_timeout
        self.large_limit = large_limit      # imports stream to a spool file: their own cap
        self.large = large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            scope = dict(scope, path=path.rstrip("/") or "/")
        begun = time.perf_counter()
        info = telemetry.begin_request()
        request_id = info.request_id
        scope[_REQUEST_ID] = request_id
        started = False
        received = 0
        status, sent = 0, 0
        limit = self.large_limit if self.large(scope["path"]) else next(
            (cap for prefix, cap in self.limits if scope["path"].startswith(prefix)), self.default_limit)

        async def send_with_id(message: Message) -> None:
            nonlocal started, status, sent
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message = dict(message, headers=[*message.get("headers", []),
                                                 (b"x-request-id", request_id.encode("ascii"))])
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        body_done = False

        async def receive_capped() -> Message:
            nonlocal received, body_done
            if body_done or self.body_timeout is None:
                message = await receive()   # after the body: only a disconnect comes, whenever
            else:
                try:
                    message = await asyncio.wait_for(receive(), self.body_timeout)
                except asyncio.TimeoutError:
                    raise ServerError("RequestTimeout", f"the request body stalled for more than"
                                      f" {self.body_timeout:g} s", name="BODY_TIMEOUT") from None
            if message["type"] == "http.request":
                body_done = not message.get("more_body", False)
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(f"the request body is larger than {limit} bytes",
                                          data={"limit": limit})
            return message

        try:
            if family_of(scope["path"]) == "v1":
                from server.http_v1 import refuse_pickle

                refuse_pickle({"content-type": _header(scope, b"content-type"), "accept": _header(scope, b"accept")})
            length = _header(scope, b"content-length")
            if length.isdigit() and int(length) > limit:
                raise PayloadTooLarge(f"the request body ({length} bytes) is larger than {limit} bytes",
                                      data={"limit": limit})
            await self.app(scope, receive_capped, send_with_id)
        except Exception as exc:
            if started:  # too late for an error response: the client sees a cut connection
                logger.error("request %s failed after its response started", request_id, exc_info=exc)
                failure = as_server_error(exc)
                scope[_ERROR] = (failure.code, failure.name)
                raise
            if isinstance(exc, ClientDisconnect):
                exc = ServerError("RequestTimeout", "the client went away before sending the full request")
            await error_response(exc, scope)(scope, receive, send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", None) or "(unmatched)"
            code, name = scope.get(_ERROR, ("", ""))
            telemetry.access("http", scope["method"], route, status or 500, code, time.perf_counter() - begun, sent,
                             info, address=scope["client"][0] if scope.get("client") else "", error_name=name,
                             quiet=route in http_ops.QUIET_ROUTES and status < 400)


def _http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 (no route) and 405 (a route, another method) as envelopes."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        # Every route matching the path, not only the first (/v2/users/current is also
        # /v2/users/{user_id} for PUT and DELETE).
        allowed = sorted({m for route in request.app.router.routes if isinstance(route, Route)
                          and route.matches(request.scope)[0] != Match.NONE for m in route.methods or ()})
        err = ServerError("MethodNotAllowed", f"{request.method} is not allowed on {request.url.path}")
        response = error_response(err, request.scope)
        response.headers["Allow"] = ", ".join(allowed)
        return response
    if exc.status_code == 404:
        err = ServerError("ResourceNotFound", f"no route for {request.url.path}", name="ROUTE_NOT_FOUND")
        return error_response(err, request.scope)
    return error_response(ServerError("InternalServerError", "internal server error"), request.scope)


# -- request helpers ---------------------------------------------------------------------

def _invalid_body(message: str) -> ServerError:
    return ServerError("InvalidBody", message)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def _json_body(request: Request, fields: frozenset[str], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The request's JSON (or msgpack) object; see parse_object."""
    return parse_object(await request.body(), request.headers.get("content-type", ""), fields, required)


def parse_object(raw: bytes, content_type: str, fields: frozenset[str],
                 required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A JSON (or msgpack) request body that must be an object with only the known
    fields and the required ones present, nested at most MAX_JSON_DEPTH levels, its text
    valid Unicode. Raises InvalidContentType, InvalidBody, InvalidParameter
    (UNKNOWN_FIELD), MissingParameter."""
    media = _media_types(content_type) - {""}
    if media and not media <= ({JSON} | _MSGPACK_TYPES):
        raise ServerError("InvalidContentType", f"send {JSON} (or {MSGPACK}); got {', '.join(sorted(media))}")
    if not raw.strip():
        raise _invalid_body("the request body must be a JSON object")
    try:
        if media & _MSGPACK_TYPES:
            body = msgpack.unpackb(raw, raw=False, strict_map_key=True)
        else:
            body = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError, msgpack.UnpackException) as exc:
        raise _invalid_body(f"the request body is not well-formed: {type(exc).__name__}") from None
    if not isinstance(body, dict):
        raise _invalid_body("the request body must be a JSON object")
    problem = json_value_problem(body)
    if problem is not None:  # refused before any service call: nothing is written
        raise _invalid_body(f"the request body cannot be accepted: {problem}")
    unknown = sorted(set(body) - fields)
    if unknown:
        raise InvalidParameter(f"unknown fields {', '.join(map(repr, unknown))}; known: {', '.join(sorted(fields))}",
                               name="UNKNOWN_FIELD", data={"key": unknown[0][:64]})
    for key in required:
        if body.get(key) is None:
            raise MissingParameter(f"{key} is required", data={"key": key})
    return body


def sql_text(raw: bytes, content_type: str) -> str:
    """The SQL of a text/plain body. Raises InvalidContentType, InvalidBody (not UTF-8)."""
    media = _media_types(content_type)
    if not media <= _SQL_TYPES:
        raise ServerError("InvalidContentType", f"send the SQL as text/plain; got {', '.join(sorted(media - {''}))}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid_body("the SQL text is not UTF-8") from None


def _page_args(request: Request) -> dict[str, Any]:
    args: dict[str, Any] = {"next_token": request.query_params.get("next") or None}
    limit = request.query_params.get("limit")
    if limit is not None:
        if not limit.isdigit():
            raise InvalidParameter("limit must be a positive integer", data={"key": "limit"})
        args["limit"] = int(limit)
    return args


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise InvalidParameter(f"{name} must be true or false", data={"key": name})
    return value in ("true", "1")


def _page(page: Page[Any]) -> dict[str, Any]:
    return {"next": page.next, "resources": [r.to_dict() for r in page.resources]}


def _credentials(request: Request, *, api_key: bool) -> tuple[Optional[str], Optional[str]]:
    """(bearer token, API key) of a request; X-API-Key counts only where `api_key`."""
    bearer = None
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("send the access token as 'Authorization: Bearer <token>'")
        bearer = token.strip()
    key = request.headers.get("x-api-key") if api_key else None
    return bearer, key or None


def _address(request: Request) -> str:
    """The client's address: what unauthenticated work and failed credentials are charged to."""
    return request.client.host if request.client else "?"


def _bool_field(body: dict[str, Any], key: str) -> None:
    if key in body and not isinstance(body[key], bool):
        raise InvalidParameter(f"{key} must be true or false", data={"key": key})


async def _until_disconnect(receive: Receive, call: Call) -> None:
    """Set the call's cancel event when the client goes away (the body is read by now,
    so the next message the server hands over is the disconnect)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            call.cancel.set()
            return


# -- the routes --------------------------------------------------------------------------

@dataclass(frozen=True)
class Endpoint:
    """One method on one path: the handler (a method of _Handlers), its success status,
    and the policy row of the service operation it calls (None: no policy row — the
    OpenAPI document and logout, whose refresh token is the credential)."""

    method: str
    path: str
    handler: str
    status: int
    operation: Optional[str]


_DB = "/v2/databases/{database_id}"
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/openapi.json", "openapi", 200, None),
    Endpoint("POST", "/v2/auth/token", "login", 200, "AuthService.Login"),
    Endpoint("POST", "/v2/auth/refresh", "refresh", 200, "AuthService.RefreshToken"),
    Endpoint("POST", "/v2/auth/logout", "logout", 200, None),
    Endpoint("POST", "/v2/api-keys", "create_api_key", 201, "AuthService.CreateApiKey"),
    Endpoint("GET", "/v2/api-keys", "list_api_keys", 200, "AuthService.ListApiKeys"),
    Endpoint("DELETE", "/v2/api-keys/{key_id}", "revoke_api_key", 200, "AuthService.RevokeApiKey"),
    Endpoint("GET", "/v2/orgs/{org_id}", "get_org", 200, "OrgService.GetOrg"),
    Endpoint("PUT", "/v2/orgs/{org_id}", "update_org", 202, "OrgService.UpdateOrg"),
    Endpoint("GET", "/v2/service-properties/{property}", "get_service_property", 200,
             "OrgService.GetServiceProperty"),
    Endpoint("POST", "/v2/users", "create_user", 201, "AccountService.CreateAccount"),
    Endpoint("GET", "/v2/users", "list_users", 200, "AccountService.ListAccounts"),
    Endpoint("GET", "/v2/users/current", "current_user", 200, "AccountService.GetCurrentAccount"),
    Endpoint("GET", "/v2/users/{user_id}", "get_user", 200, "AccountService.GetAccount"),
    Endpoint("PUT", "/v2/users/{user_id}", "update_user", 202, "AccountService.UpdateAccount"),
    Endpoint("DELETE", "/v2/users/{user_id}", "delete_user", 204, "AccountService.DeleteAccount"),
    Endpoint("POST", "/v2/users/{user_id}/roles", "add_user_roles", 201, "AccountService.AddAccountRoles"),
    Endpoint("POST", "/v2/users/{user_id}/action/invite", "move_user", 202, "AccountService.MoveAccountOrg"),
    Endpoint("POST", "/v2/invites", "create_invite", 201, "InviteService.CreateInvite"),
    Endpoint("GET", "/v2/invites", "list_invites", 200, "InviteService.ListInvites"),
    Endpoint("GET", "/v2/invites/{invite_id}", "get_invite", 200, "InviteService.GetInvite"),
    Endpoint("PUT", "/v2/invites/{invite_id}", "update_invite", 202, "InviteService.UpdateInvite"),
    Endpoint("DELETE", "/v2/invites/{invite_id}", "delete_invite", 204, "InviteService.DeleteInvite"),
    Endpoint("POST", "/v2/invites/{invite_id}/action/accept", "accept_invite", 201, "InviteService.AcceptInvite"),
    Endpoint("POST", "/v2/roles", "create_role", 201, "RoleService.CreateRole"),
    Endpoint("GET", "/v2/roles", "list_roles", 200, "RoleService.ListRoles"),
    Endpoint("GET", "/v2/roles/{rolename}", "get_role", 200, "RoleService.GetRole"),
    Endpoint("PUT", "/v2/roles/{rolename}", "update_role", 202, "RoleService.UpdateRole"),
    Endpoint("DELETE", "/v2/roles/{rolename}", "delete_role", 202, "RoleService.DeleteRole"),
    Endpoint("POST", "/v2/databases", "create_database", 201, "DatabaseService.CreateDatabase"),
    Endpoint("GET", "/v2/databases", "list_databases", 200, "DatabaseService.ListDatabases"),
    Endpoint("GET", _DB, "get_database", 200, "DatabaseService.GetDatabase"),
    Endpoint("PUT", _DB, "update_database", 202, "DatabaseService.UpdateDatabase"),
    Endpoint("DELETE", _DB, "delete_database", 202, "DatabaseService.DeleteDatabase"),
    Endpoint("POST", _DB + "/cluster/workers", "add_cluster_worker", 200, "DatabaseService.AddClusterWorker"),
    Endpoint("DELETE", _DB + "/cluster/workers/{worker}", "remove_cluster_worker", 200,
             "DatabaseService.RemoveClusterWorker"),
    Endpoint("POST", _DB + "/cluster/action/rebalance", "rebalance_cluster", 200, "DatabaseService.RebalanceCluster"),
    Endpoint("POST", _DB + "/query/sql", "sql", 200, "QueryService.Sql"),
    Endpoint("POST", _DB + "/query/pql", "pql", 200, "QueryService.Pql"),
    Endpoint("GET", "/v2/queries", "list_queries", 200, "QueryService.ListQueries"),
    Endpoint("POST", "/databases/{database_id}/query/sql", "sql_compat_database", 200, "QueryService.Sql"),
    Endpoint("POST", "/sql", "sql_compat", 200, "QueryService.Sql"),
)

_TOKEN_FIELDS = frozenset({"email", "name", "password", "database"})
_REFRESH_FIELDS = frozenset({"refresh_token", "database"})
_API_KEY_FIELDS = frozenset({"account_id", "database", "label", "expires_in_seconds"})
_ORG_FIELDS = frozenset({"name", "company_name", "address", "tech_contact_emali", "tech_contact_email",
                         "billing_contact_emali", "billing_contact_email", "metadata", "preserve"})
_USER_CREATE_FIELDS = frozenset({"kind", "email", "name", "firstname", "lastname", "role", "password", "acl"})
_USER_UPDATE_FIELDS = frozenset({"email", "name", "firstname", "lastname", "password", "acl", "status"})
_ACCEPT_FIELDS = frozenset({"email", "password", "name", "firstname", "lastname"})
_DB_CREATE_FIELDS = frozenset({"name", "description", "database_options", "item_id_type", "user_id_type",
                               "session_id_type", "metadata", "core_config"})
_DB_UPDATE_FIELDS = frozenset({"name", "owned_by", "description", "core_config", "metadata", "preserve"})


class _Handlers:
    """The endpoints of ENDPOINTS, over one Runtime."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.ctx = rt.ctx
        self._openapi = json_bytes(openapi.document())

    # -- plumbing ---------------------------------------------------------------------

    def _reply(self, request: Request, status: int, body: Any = None) -> Response:
        if body is None:
            return Response(status_code=status)
        content, media = _encode_for(_accept(request.headers), body)
        return Response(content, status, media_type=media)

    async def _who(self, request: Request) -> Principal:
        """The verified bearer of a request (before its body is read: an unauthenticated
        caller learns nothing about body validation)."""
        bearer, _ = _credentials(request, api_key=False)
        principal = await self.rt.run(self.rt.principal, bearer=bearer, required=True, address=_address(request))
        assert principal is not None  # required=True raises instead
        return principal

    async def _run(self, fn: Callable[..., Any], principal: Principal, *args: Any, **kwargs: Any) -> Any:
        """fn(ctx, principal, *args, **kwargs) on a worker."""
        return await self.rt.run(fn, self.ctx, principal, *args, **kwargs)

    async def _authed(self, request: Request, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """fn(ctx, principal, *args, **kwargs) on a worker, for the bearer of the request
        (one hop: authentication and the call run together)."""
        bearer, _ = _credentials(request, api_key=False)
        rt = self.rt

        address = _address(request)

        def job() -> Any:
            return fn(rt.ctx, rt.principal(bearer=bearer, required=True, address=address), *args, **kwargs)

        return await rt.run(job)

    async def _public(self, request: Request, fn: Callable[..., Any], *args: Any, account: Any = None,
                      **kwargs: Any) -> Any:
        """fn(ctx, *args, **kwargs) for an unauthenticated operation (a password or a
        refresh token is the credential), charged to the client address's rate limit and
        run by Runtime.run_login: on the auth threads, with failed-login backoff."""
        self._charge_address(request)
        return await self.rt.run_login(fn, self.ctx, *args, address=_address(request), account=account, **kwargs)

    def _charge_address(self, request: Request) -> None:
        self.rt.rate.take("address:" + _address(request))

    # -- service document -------------------------------------------------------------

    async def openapi(self, request: Request) -> Response:
        return Response(self._openapi, media_type=JSON)

    # -- auth --------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        body = await _json_body(request, _TOKEN_FIELDS, ("password",))
        pair = await self._public(request, tokens.login, password=body["password"], email=body.get("email"),
                                  name=body.get("name"), database=body.get("database"),
                                  account=body.get("email") or body.get("name"))
        return self._reply(request, 200, pair.to_dict())

    async def refresh(self, request: Request) -> Response:
        body = await _json_body(request, _REFRESH_FIELDS, ("refresh_token",))
        pair = await self._public(request, tokens.refresh, body["refresh_token"], database=body.get("database"))
        return self._reply(request, 200, pair.to_dict())

    async def logout(self, request: Request) -> Response:
        body = await _json_body(request, frozenset({"refresh_token"}), ("refresh_token",))
        revoked = await self._public(request, tokens.logout, body["refresh_token"])
        return self._reply(request, 200, {"revoked": revoked})

    async def create_api_key(self, request: Request) -> Response:
        who = await self._who(request)
        body = await _json_body(request, _API_KEY_FIELDS, ("account_id",))
        created = await self._run(tokens.create_api_key, who, **body)
        return self._reply(request, 201, {**created.api_key.to_dict(), "key": created.key})

    async def list_api_keys(self, request: Request) -> Response:
        page = await self._authed(request, tokens.list_api_keys, account_id=request.query_params.get("account_id"),
                                  **_page_args(request))
        return self._reply(request, 200, _page(page))

    async def revoke_api_key(self, request: Request) -> Response:
        key = await self._authed(request, tokens.revoke_api_key, request.path_params["key_id"])
        return self._reply(request, 200, key.to_dict())

    # -- orgs and service properties -----------------------------------------------------

    async def get_org(self, request: Request) -> Response:
        org = await self._authed(request, orgs.get_org, request.path_params["org_id"])
        return self._reply(request, 200, org.to_dict())

    async def update_org(self, request: Request) -> Response:
        who = await self._who(request)
        body = await _json_body(request, _ORG_FIELDS)
        _bool_field(body, "preserve")
        for key in ("tech_contact", "billing_contact"):  # FB's misspelled key, or the right one
            if f"{key}_emali" in body and f"{key}_email" in body:
                raise InvalidParameter(f"give {key}_email or {key}_emali, not both", data={"key": f"{key}_email"})
            if f"{key}_emali" in body:
                body[f"{key}_email"] = body.pop(f"{key}_emali")
        org = await self._run(orgs.update_org, who, request.path_params["org_id"], **body)
        return self._reply(request, 202, org.to_dict())

    async def get_service_property(self, request: Request) -> Response:
        prop = await self._authed(request, service_properties.get_service_property, request.path_params["property"])
        return self._reply(request, 200, prop.to_dict())

    # -- users -------------------------------------------------------------------------

    async def create_user(self, request: Request) -> Response:
        who = await self._who(request)
        body = await _json_body(request, _USER_CREATE_FIELDS)
        acc = await self._run(accounts.create_account, who, **body)
        return self._reply(request, 201, acc.to_dict())

    async def list_users(self, request: Request) -> Response:
        page = await self._authed(request, accounts.list_accounts, **_page_args(request))
        return self._reply(request, 200, _page(page))

    async def current_user(self, request: Request) -> Response:
        acc = await self._authed(request, accounts.get_current_account)
        return self._reply(request, 200, acc.to_dict())

    async def get_user(self, request: Request) -> Response:
        acc = await self._authed(request, accounts.get_account, request.path_params["user_id"])
        return self._reply(request, 200, acc.to_dict())

    async def update_user(self, request: Request) -> Response:
        who = await self._who(request)
        body = await _json_body(request, _USER_UPDATE_FIELDS)
        acc = await self._run(accounts.update_account, who, request.path_params["user_id"], **body)
        return self._reply(request, 202, acc.to_dict())

    async def delete_user(self, request: Request) -> Response:
        await self._authed(request, accounts.delete_account, request.path_params["user_id"])
        return self._reply(request, 204)

    async def add_user_roles(self, request: Request) -> Response:
        who = await self._who(request)
        body = await _json_body(request, frozenset({"rolenames"}), ("rolenames",))
        result = await self._run(accounts.add_account_roles, who, request.path_params["user_id"],
                                    body["rolenames"])
        return self._reply(request, 201, result.to_dict())

    async def move_user(self, request: Request) -> Response:
        who = await self._who(request)
        body = await _json_body(request, frozenset({"invite_id"}), ("invite_id",))
        acc = await self._run(invites.move_account_org, who, request.path_params["user_id"],
                                 body["invite_id"])
        return self._reply(request, 202, acc.to_dict())

    # -- invites -----------------------------------------------------------------------

    async def create_invite(self, request: Request) -> Response:
        who = await self._who(request)
        body = await _json_body(request, frozenset({"email", "role"}), ("email",))
        invite = await self._run(invites.create_invite, who, **body)
        return self._reply(request, 201, invite.to_dict())

    async def list_invites(self, request: Request) -> Response:
        page = await self._authed(request, invites.list_invites, **_page_args(request))
        return self._reply(request, 200, _page(page))

    async def get_invite(self, request: Request) -> Response:
        invite = await self._authed(request, invites.get_invite, request.path_params["invite_id"])
        return self._reply(request, 200, invite.to_dict())

    async def update_invite(self, request: Request) -> Response:
        who = await self._who(request)
        body = await _json_body(request, frozenset({"accepted"}), ("accepted",))
        invite = await self._run(invites.update_invite, who, request.path_params["invite_id"],
                                    accepted=body["accepted"])
        return self._reply(request, 202, invite.to_dict())

    async def delete_invite(self, request: Request) -> Response:
        await self._authed(request, invites.delete_invite, request.path_params["invite_id"])
        return self._reply(request, 204)

    async def accept_invite(self, request: Request) -> Response:
        body = await _json_body(request, _ACCEPT_FIELDS, ("email", "password"))
        acc = await self._public(request, invites.accept_invite, request.path_params["invite_id"], **body)
        return self._reply(request, 201, acc.to_dict())

    # -- roles -------------------------------------------------------------------------

    async def create_role(self, request: Request) -> Response:
        who = await self._who(request)
        body = await _json_body(request, frozenset({"rolename", "acl"}), ("rolename", "acl"))
        role = await self._run(roles.create_role, who, body["rolename"], body["acl"])
        return self._reply(request, 201, role.to_dict())

    async def list_roles(self, request: Request) -> Response:
        page = await self._authed(request, roles.list_roles, **_page_args(request))
        return self._reply(request, 200, _page(page))

    async def get_role(self, request: Request) -> Response:
        role = await self._authed(request, roles.get_role, request.path_params["rolename"])
        return self._reply(request, 200, role.to_dict())

    async def update_role(self, request: Request) -> Response:
        who = await self._who(request)
        body = await _json_body(request, frozenset({"acl"}), ("acl",))
        role = await self._run(roles.update_role, who, request.path_params["rolename"], body["acl"])
        return self._reply(request, 202, role.to_dict())

    async def delete_role(self, request: Request) -> Response:
        await self._authed(request, roles.delete_role, request.path_params["rolename"])
        return self._reply(request, 202)

    # -- databases ---------------------------------------------------------------------

    async def create_database(self, request: Request) -> Response:
        who = await self._who(request)
        body = await _json_body(request, _DB_CREATE_FIELDS, ("name",))
        db = await self._run(databases.create_database, who, **body)
        return self._reply(request, 201, db.to_dict())

    async def list_databases(self, request: Request) -> Response:
        page = await self._authed(request, databases.list_databases, include_deleted=_flag(request, "include_deleted"),
                                  **_page_args(request))
        return self._reply(request, 200, _page(page))

    async def get_database(self, request: Request) -> Response:
        db = await self._authed(request, databases.get_database, request.path_params["database_id"])
        return self._reply(request, 200, db.to_dict())

    async def add_cluster_worker(self, request: Request) -> Response:
        who = await self._who(request)
        body = await _json_body(request, frozenset({"name"}), ("name",))
        got = await self._run(cluster_members.add_worker, who, request.path_params["database_id"], body["name"])
        return self._reply(request, 200, got.to_dict())

    async def remove_cluster_worker(self, request: Request) -> Response:
        got = await self._authed(request, cluster_members.remove_worker, request.path_params["database_id"],
                                 request.path_params["worker"])
        return self._reply(request, 200, got.to_dict())

    async def rebalance_cluster(self, request: Request) -> Response:
        who = await self._who(request)
        await _json_body(request, frozenset())          # {} (every POST takes a JSON object)
        got = await self._run(cluster_members.rebalance, who, request.path_params["database_id"])
        return self._reply(request, 200, got.to_dict())

    async def update_database(self, request: Request) -> Response:
        who = await self._who(request)
        body = await _json_body(request, _DB_UPDATE_FIELDS)
        _bool_field(body, "preserve")
        db = await self._run(databases.update_database, who, request.path_params["database_id"], **body)
        return self._reply(request, 202, db.to_dict())

    async def delete_database(self, request: Request) -> Response:
        """202 with the DELETING resource; the files go on a worker afterwards (API.md C11)."""
        db = await self._authed(request, databases.delete_database, request.path_params["database_id"])
        self.rt.pool.submit(self._deprovision, db.id)
        return self._reply(request, 202, db.to_dict())

    def _deprovision(self, database_id: str) -> None:
        try:
            databases.deprovision_database(self.ctx, database_id)
        except Exception:  # the database stays DELETING; the next start's recover() resumes it
            logger.exception("deprovisioning database %s failed", database_id)

    # -- queries -----------------------------------------------------------------------

    async def pql(self, request: Request) -> Response:
        bearer, key = _credentials(request, api_key=True)
        raw, content_type = await request.body(), request.headers.get("content-type", "")
        call = Call()
        rt, database_id = self.rt, request.path_params["database_id"]
        accept = _accept(request.headers)

        address = _address(request)

        def job() -> tuple[list[bytes], str]:
            principal = rt.principal(bearer=bearer, api_key=key, required=True, address=address)
            body = parse_object(raw, content_type, frozenset({"statement", "table"}), ("statement", "table"))
            answer = query.pql(rt.ctx, principal, database_id, table=body["table"], statement=body["statement"],
                               cancel=call.cancel)
            return encode_answer(accept, answer.to_dict(), cap)

        cap = rt.ctx.config.limits.max_response_bytes
        pieces, media = await self._watched(request, job, call)
        return PiecesResponse(pieces, media)

    async def list_queries(self, request: Request) -> Response:
        page = await self._authed(request, query.list_queries, database_id=request.query_params.get("database_id"),
                                  **_page_args(request))
        return self._reply(request, 200, _page(page))

    async def sql(self, request: Request) -> Response:
        return await self._sql(request, request.path_params["database_id"], open_on_loopback=False)

    async def sql_compat_database(self, request: Request) -> Response:
        return await self._sql(request, request.path_params["database_id"], open_on_loopback=True)

    async def sql_compat(self, request: Request) -> Response:
        return await self._sql(request, None, open_on_loopback=True)

    async def _sql(self, request: Request, database_id: Optional[str], *, open_on_loopback: bool) -> Response:
        """SQL text against a database (None: the compat database of POST /sql)."""
        started = time.perf_counter()
        accept = _accept(request.headers)
        bearer, key = _credentials(request, api_key=True)
        raw, content_type = await request.body(), request.headers.get("content-type", "")
        settings = self.rt.settings
        anonymous = (not bearer and not key and open_on_loopback and settings.loopback
                     and settings.open_loopback_sql)
        if anonymous:
            self._charge_address(request)
        rt, call, address = self.rt, Call(), _address(request)

        def job() -> tuple[list[bytes], str]:
            principal = None if anonymous else rt.principal(bearer=bearer, api_key=key, required=True,
                                                            address=address)
            text = sql_text(raw, content_type)
            if database_id is None:
                answer = compat.sql(rt.ctx, principal, text, database_name=settings.compat_database,
                                    cancel=call.cancel)
            else:
                if principal is None:
                    principal = tokens.owner_principal(rt.ctx, acting_as=policy.BACKEND)
                answer = query.sql(rt.ctx, principal, database_id, text, cancel=call.cancel)
            return encode_answer(accept, sql_document(answer.to_dict()), cap)

        cap = settings.service.limits.max_response_bytes
        try:
            pieces, media = await self._watched(request, job, call)
        except Exception as exc:
            if PROBLEM_JSON in accept or not _sql_level(exc):
                raise
            err = as_server_error(exc)
            request.scope[_ERROR] = (err.code, err.name)
            # "error" is all the featurebase client reads; the envelope's code and error_data
            # (the finer name, the position, the request id) ride along for everyone else.
            body = envelope(err, request_id=request.scope.get(_REQUEST_ID))
            return self._reply(request, 200, {"error": err.message, "code": body["code"],
                                              "error_data": body["error_data"],
                                              "execution-time": int((time.perf_counter() - started) * 1e6)})
        return PiecesResponse(pieces, media)

    async def _watched(self, request: Request, job: Callable[[], Any], call: Call) -> Any:
        """Run a query job; a client that disconnects meanwhile sets call.cancel, which
        stops the engine between shards."""
        watcher = asyncio.ensure_future(_until_disconnect(request.receive, call))
        try:
            return await self.rt.run(job, call=call)
        finally:
            watcher.cancel()


def _sql_level(exc: BaseException) -> bool:
    """Whether the statement itself caused the error (answered 200 + "error")."""
    if isinstance(exc, EngineError):
        return exc.code in _SQL_LEVEL_CODES
    if not isinstance(exc, ServerError):
        return False
    if exc.code == "MissingParameter":  # an empty statement
        return True
    return exc.code in _SQL_LEVEL_CODES and isinstance(exc.__cause__, EngineError)


def _field(name: str, sql_type: str) -> dict[str, Any]:
    """A FeatureBase schema field: `decimal(2)` is base-type decimal with type-info
    {"scale": 2}; other types have no parameters."""
    base, _, rest = sql_type.partition("(")
    info = None
    if base == "decimal" and rest.rstrip(")").isdigit():
        info = {"scale": int(rest.rstrip(")"))}
    return {"name": name, "type": sql_type, "base-type": base, "type-info": info}


def sql_document(out: dict[str, Any]) -> dict[str, Any]:
    """FeatureBase's /sql answer from SqlAnswer.to_dict(): every key present (warnings [],
    rows-affected 0 for reads) and the fields in FeatureBase's form."""
    fields = out.get("schema", {}).get("fields", [])
    doc = {"schema": {"fields": [_field(f["name"], f["type"]) for f in fields]}, "data": out.get("data", []),
           "warnings": list(out.get("warnings", [])), "execution-time": out.get("execution-time", 0),
           "rows-affected": out.get("rows-affected") or 0}
    if "query-plan" in out:
        doc["query-plan"] = out["query-plan"]
    return doc


def build_app(runtime: Runtime) -> Starlette:
    """The HTTP face over a Runtime: every route of ENDPOINTS, V1_ENDPOINTS,
    SOURCE_ENDPOINTS and TRANSFER_ENDPOINTS, and the web console; errors as envelopes."""
    from server.http_transfer import TRANSFER_ENDPOINTS, TransferHandlers, is_import_path
    from server.http_sources import SOURCE_ENDPOINTS, SourceHandlers, body_limits
    from server.http_v1 import V1_ENDPOINTS, V1Handlers

    handlers = _Handlers(runtime)
    v1 = V1Handlers(runtime)
    transfer = TransferHandlers(runtime)
    src = SourceHandlers(runtime)
    methods: dict[str, dict[str, Callable[..., Any]]] = {}
    for ep in ENDPOINTS:
        methods.setdefault(ep.path, {})[ep.method] = getattr(handlers, ep.handler)
    for v1ep in V1_ENDPOINTS:
        methods.setdefault(v1ep.path, {})[v1ep.method] = getattr(v1, v1ep.handler)
    for tep in TRANSFER_ENDPOINTS:
        methods.setdefault(tep.path, {})[tep.method] = getattr(transfer, tep.handler)
    for path, by_method in http_ops.routes(runtime).items():
        methods.setdefault(path, {}).update(by_method)
    for sep in SOURCE_ENDPOINTS:
        methods.setdefault(sep.path, {})[sep.method] = getattr(src, sep.handler)
    # `/` is shared: browsers get the web console, API clients the JSON index (http_ops)
    api_index = methods.pop("/")["GET"]
    routes = [Route(path, _dispatch(by_method), methods=list(by_method)) for path, by_method in methods.items()]
    routes += console.routes(api_index=api_index)  # the web console (static files; not API routes)
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_exception})
    app.router.redirect_slashes = False  # _Guard strips the slash instead: a redirect breaks POSTs
    limits = runtime.ctx.config.limits
    app.add_middleware(_Guard, limit=limits.max_payload_bytes, limits=body_limits(limits.max_upload_bytes),
                       body_timeout=runtime.settings.http_body_timeout_seconds, large_limit=limits.max_import_bytes,
                       large=is_import_path)
    return app


def _dispatch(by_method: dict[str, Callable[..., Any]]) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await by_method[method](request)

    return endpoint
