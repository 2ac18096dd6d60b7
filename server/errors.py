"""The one error table: unified code → HTTP status per URL family, gRPC status, CM name.

Every face turns an exception into a response here and nowhere else (API.md §6, §8):

- `envelope(exc)` is the JSON body, the superset of FeatureBase's `{code, message}` and the
  recommender-style `{error_code, error_name, message, error_data}` (API.md C5):
  `{"code": "ResourceAlreadyExists", "message": "...", "error_code": 42,
  "error_name": "DuplicatedError", "error_data": {"name": "DUPLICATED_DB_NAME", ...}}`.
- `to_http(exc, family)` adds the status of the URL family ("v2" for /v2 and the
  FeatureBase/Pilosa-compatible paths, "v1" for the recommender-style /v1 paths) and headers.
- `to_grpc(exc)` gives (grpc.StatusCode, message, trailing metadata); `from_grpc` reverses it
  for clients.

Codes beyond API.md §6, chosen from RELIABILITY.md: `StorageFull` (R6: the disk refused a
write; nothing was acknowledged, retry later) → HTTP 507 / RESOURCE_EXHAUSTED, and
`DataCorrupted` (R5: a checksum or structure mismatch; never served as an answer, retrying
does not help) → HTTP 500 / DATA_LOSS, gRPC's code for "unrecoverable data loss or
corruption".

`Unauthorized` has two variants, as in API.md §6: authentication failed (401 on both
families, UNAUTHENTICATED, CM AuthError 21) and authorization failed — the caller is known
but not allowed (still 401 on /v2 as FeatureBase does, 403 on /v1, PERMISSION_DENIED, CM
ForbiddenError 50). Raise `PermissionDeniedError` for the second.

The gRPC error details travel twice: as plain trailing metadata (`roarbase-code`,
`roarbase-error-name`, `roarbase-error-code`, `roarbase-error-data` as JSON, and
`roarbase-retry-after` when set), which any client reads and `from_grpc` decodes; and, from
`to_grpc_status`, as a google.rpc.Status in `grpc-status-details-bin` (API.md §5) holding an
ErrorInfo (reason = the unified code, domain "roarbase", metadata error_name, error_code
and error_data as JSON) and, when the error says when to retry, a RetryInfo — what
grpcio-status's `rpc_status.from_call` and other languages' rich-error helpers read.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping, Optional, Sequence

import grpc
from google.protobuf.duration_pb2 import Duration
from google.rpc import error_details_pb2, status_pb2

from engine.errors import EngineError, QueryExecutionError, QuerySyntaxError

_SC = grpc.StatusCode


@dataclass(frozen=True)
class ErrorSpec:
    """One row of the error table.

    Attributes:
        code: the unified (FeatureBase) code, `code` in the envelope.
        http_v2: the HTTP status on /v2 and the FeatureBase/Pilosa-compatible paths.
        http_v1: the HTTP status on the recommender-style /v1 paths.
        grpc_code: the gRPC status code.
        error_name: the recommender-style error class, `error_name` in the envelope.
        error_code: its number, `error_code` in the envelope.
        default_name: `error_data.name` when the raiser gives no finer name.
        retry: whether a client may retry (with backoff), as FeatureBase documents it.
    """

    code: str
    http_v2: int
    http_v1: int
    grpc_code: grpc.StatusCode
    error_name: str
    error_code: int
    default_name: str
    retry: bool = False


# API.md §6, in its order, then the two codes from RELIABILITY.md (see the module docstring).
TABLE: Mapping[str, ErrorSpec] = MappingProxyType({spec.code: spec for spec in (
    ErrorSpec("InvalidParameter", 400, 400, _SC.INVALID_ARGUMENT, "WrongData", 40, "INVALID_PARAMETER"),
    ErrorSpec("MissingParameter", 400, 400, _SC.INVALID_ARGUMENT, "WrongData", 40, "MISSING_PARAMETER"),
    ErrorSpec("InvalidBody", 400, 400, _SC.INVALID_ARGUMENT, "WrongData", 40, "INVALID_BODY"),
    ErrorSpec("InvalidContentType", 400, 400, _SC.INVALID_ARGUMENT, "WrongData", 40, "INVALID_CONTENT_TYPE"),
    ErrorSpec("ResourceLimitExceeded", 400, 400, _SC.RESOURCE_EXHAUSTED, "WrongData", 40, "LIMIT_EXCEEDED"),
    ErrorSpec("ResourceThroughputExceeded", 400, 429, _SC.RESOURCE_EXHAUSTED, "TooManyRequests", 2,
              "THROUGHPUT_EXCEEDED", retry=True),
    ErrorSpec("RelatedResourceNotFound", 400, 404, _SC.FAILED_PRECONDITION, "NotFoundError", 60,
              "RELATED_RESOURCE_NOT_FOUND"),
    ErrorSpec("BadRequest", 400, 400, _SC.INVALID_ARGUMENT, "WrongData", 40, "BAD_REQUEST"),
    ErrorSpec("Unauthorized", 401, 401, _SC.UNAUTHENTICATED, "AuthError", 21, "UNAUTHORIZED"),
    ErrorSpec("MissingAuthenticationToken", 401, 401, _SC.UNAUTHENTICATED, "AuthError", 21,
              "MISSING_AUTHENTICATION_TOKEN"),
    ErrorSpec("TokenExpired", 401, 401, _SC.UNAUTHENTICATED, "JwtTokenExpired", 22, "TOKEN_EXPIRED"),
    ErrorSpec("RefreshTokenExpired", 401, 401, _SC.UNAUTHENTICATED, "RefreshTokenExpired", 28,
              "REFRESH_TOKEN_EXPIRED"),
    ErrorSpec("ResourceNotFound", 404, 404, _SC.NOT_FOUND, "NotFoundError", 60, "RESOURCE_NOT_FOUND"),
    ErrorSpec("MethodNotAllowed", 405, 405, _SC.UNIMPLEMENTED, "MethodNotAllowed", 70, "METHOD_NOT_ALLOWED"),
    ErrorSpec("RequestTimeout", 408, 408, _SC.DEADLINE_EXCEEDED, "ServerUnavailable", 1, "REQUEST_TIMEOUT",
              retry=True),
    ErrorSpec("ResourceAlreadyExists", 409, 400, _SC.ALREADY_EXISTS, "DuplicatedError", 42, "ALREADY_EXISTS"),
    ErrorSpec("IncorrectState", 409, 409, _SC.FAILED_PRECONDITION, "IncorrectState", 80, "INCORRECT_STATE",
              retry=True),
    ErrorSpec("PayloadTooLarge", 413, 413, _SC.RESOURCE_EXHAUSTED, "WrongData", 40, "PAYLOAD_TOO_LARGE"),
    ErrorSpec("QueryExecutionError", 422, 422, _SC.INVALID_ARGUMENT, "WrongData", 40, "QUERY_EXECUTION_ERROR"),
    ErrorSpec("RequestLimitExceeded", 429, 429, _SC.RESOURCE_EXHAUSTED, "TooManyRequests", 2,
              "REQUEST_LIMIT_EXCEEDED", retry=True),
    ErrorSpec("InternalServerError", 500, 500, _SC.INTERNAL, "ServerError", 0, "INTERNAL", retry=True),
    ErrorSpec("ServiceUnavailable", 503, 503, _SC.UNAVAILABLE, "ServerUnavailable", 1, "SERVICE_UNAVAILABLE",
              retry=True),
    ErrorSpec("StorageFull", 507, 507, _SC.RESOURCE_EXHAUSTED, "ServerUnavailable", 1, "STORAGE_FULL",
              retry=True),
    ErrorSpec("DataCorrupted", 500, 500, _SC.DATA_LOSS, "ServerError", 0, "DATA_CORRUPTED"),
)})

# The authorization variant of Unauthorized (see the module docstring).
FORBIDDEN = ErrorSpec("Unauthorized", 401, 403, _SC.PERMISSION_DENIED, "ForbiddenError", 50, "FORBIDDEN")

FAMILIES = ("v2", "v1")

# Trailing-metadata keys of a gRPC error.
MD_CODE = "roarbase-code"
MD_ERROR_NAME = "roarbase-error-name"
MD_ERROR_CODE = "roarbase-error-code"
MD_ERROR_DATA = "roarbase-error-data"
MD_RETRY_AFTER = "roarbase-retry-after"

_INTERNAL_MESSAGE = "internal server error"
_FORBIDDEN_MESSAGE = "User is not authorized to perform this operation."


class ServerError(Exception):
    """Root of the errors the server raises on purpose: one unified code of `TABLE`.

    Args:
        code: a unified code, a key of `TABLE`.
        message: the human-readable message.
        name: the fine-grained reason, `error_data.name` (e.g. "DUPLICATED_DB_NAME");
            default: the code's `default_name`.
        details: more `error_data` entries (JSON values), e.g. {"type": "database", "key": "x"}.
        retry_after: seconds a client should wait before retrying (HTTP Retry-After).
    Raises:
        ValueError: `code` is not in the table (a programming error).
    """

    forbidden = False

    def __init__(self, code: str, message: str, *, name: Optional[str] = None,
                 details: Optional[Mapping[str, Any]] = None, retry_after: Optional[int] = None) -> None:
        if code not in TABLE:
            raise ValueError(f"unknown error code {code!r}: not in server.errors.TABLE")
        super().__init__(message)
        self.code = code
        self.message = message
        self.name = name or TABLE[code].default_name
        self.details: dict[str, Any] = dict(details or {})
        self.retry_after = retry_after

    @property
    def spec(self) -> ErrorSpec:
        """The table row this error maps to."""
        return FORBIDDEN if self.forbidden else TABLE[self.code]

    def error_data(self) -> dict[str, Any]:
        """The envelope's `error_data`: `name` first, then the details."""
        data: dict[str, Any] = {"name": self.name}
        data.update((k, v) for k, v in self.details.items() if k != "name")
        return data


class PermissionDeniedError(ServerError):
    """The caller is authenticated but not allowed: code Unauthorized, authorization variant."""

    forbidden = True

    def __init__(self, message: str = _FORBIDDEN_MESSAGE, *, name: Optional[str] = None,
                 details: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__("Unauthorized", message, name=name or FORBIDDEN.default_name, details=details)


def _engine_details(exc: EngineError) -> dict[str, Any]:
    """The position of a query error; other engine errors carry only their name."""
    details: dict[str, Any] = dict(getattr(exc, "data", None) or {})
    if isinstance(exc, (QuerySyntaxError, QueryExecutionError)) and exc.line:
        details["line"] = exc.line
        details["column"] = exc.column
    if isinstance(exc, QuerySyntaxError) and exc.expected:
        details["expected"] = list(exc.expected)
    return details


def as_server_error(exc: BaseException) -> ServerError:
    """The ServerError an exception is answered with.

    A ServerError is returned as is; an engine error keeps its code, message and name (an
    engine code missing from the table — a bug the tests guard against — becomes
    InternalServerError); any other exception becomes InternalServerError with a generic
    message, so nothing internal (paths, stack traces) reaches the client.
    """
    if isinstance(exc, ServerError):
        return exc
    if isinstance(exc, EngineError):
        if exc.code not in TABLE:
            return ServerError("InternalServerError", _INTERNAL_MESSAGE)
        return ServerError(exc.code, exc.message, name=exc.name, details=_engine_details(exc))
    return ServerError("InternalServerError", _INTERNAL_MESSAGE)


def envelope(exc: BaseException, *, request_id: Optional[str] = None) -> dict[str, Any]:
    """The unified error body (API.md C5) for an exception.

    Args:
        exc: a ServerError, an engine error, or anything else (→ InternalServerError).
        request_id: added as `error_data.request_id`, so a client can quote it and the
            operator find the stack trace in the server log.
    Returns:
        {"code", "message", "error_code", "error_name", "error_data": {"name", ...}}.
    """
    err = as_server_error(exc)
    spec = err.spec
    data = err.error_data()
    if request_id:
        data["request_id"] = request_id
    return {"code": spec.code, "message": err.message, "error_code": spec.error_code,
            "error_name": spec.error_name, "error_data": data}


def http_status(exc: BaseException, family: str = "v2") -> int:
    """The HTTP status for an exception on a URL family ("v2" or "v1")."""
    if family not in FAMILIES:
        raise ValueError(f"unknown URL family {family!r}; expected one of {FAMILIES}")
    spec = as_server_error(exc).spec
    return spec.http_v2 if family == "v2" else spec.http_v1


def to_http(exc: BaseException, family: str = "v2", *,
            request_id: Optional[str] = None) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, envelope, headers) for an HTTP error response; headers carry Retry-After."""
    err = as_server_error(exc)
    headers = {"Retry-After": str(err.retry_after)} if err.retry_after is not None else {}
    return http_status(err, family), envelope(err, request_id=request_id), headers


def _ascii_json(value: Any) -> str:
    """JSON that is legal as a gRPC metadata value (printable ASCII only)."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=str).replace("\x7f", "\\u007f")


def to_grpc(exc: BaseException, *,
            request_id: Optional[str] = None) -> tuple[grpc.StatusCode, str, tuple[tuple[str, str], ...]]:
    """(status code, message, trailing metadata) for a gRPC error.

    A servicer answers with `await context.abort(code, message, metadata)` (grpc.aio), or
    `context.set_trailing_metadata(metadata)` then `context.abort(code, message)` (sync).
    RequestTimeout maps to DEADLINE_EXCEEDED; when the client cancelled, nobody reads it.
    """
    err = as_server_error(exc)
    spec = err.spec
    data = err.error_data()
    if request_id:
        data["request_id"] = request_id
    metadata = [(MD_CODE, spec.code), (MD_ERROR_NAME, spec.error_name), (MD_ERROR_CODE, str(spec.error_code)),
                (MD_ERROR_DATA, _ascii_json(data))]
    if err.retry_after is not None:
        metadata.append((MD_RETRY_AFTER, str(err.retry_after)))
    return spec.grpc_code, err.message, tuple(metadata)


ERROR_DOMAIN = "roarbase"
STATUS_DETAILS_KEY = "grpc-status-details-bin"


def status_proto(exc: BaseException, *, request_id: Optional[str] = None) -> status_pb2.Status:
    """The google.rpc.Status for an exception: code, message, an ErrorInfo detail and, when
    the error carries retry_after, a RetryInfo detail."""
    err = as_server_error(exc)
    spec = err.spec
    data = err.error_data()
    if request_id:
        data["request_id"] = request_id
    info = error_details_pb2.ErrorInfo(reason=spec.code, domain=ERROR_DOMAIN, metadata={
        "error_name": spec.error_name, "error_code": str(spec.error_code), "error_data": _ascii_json(data)})
    status = status_pb2.Status(code=spec.grpc_code.value[0], message=err.message)
    status.details.add().Pack(info)
    if err.retry_after is not None:
        status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=Duration(seconds=err.retry_after)))
    return status


def to_grpc_status(exc: BaseException, *, request_id: Optional[str] = None
                   ) -> tuple[grpc.StatusCode, str, tuple[tuple[str, Any], ...]]:
    """`to_grpc` plus the google.rpc.Status detail: (code, message, trailing metadata with
    the roarbase-* entries and `grpc-status-details-bin`). The gRPC face answers with it."""
    code, message, metadata = to_grpc(exc, request_id=request_id)
    detail = status_proto(exc, request_id=request_id).SerializeToString()
    return code, message, (*metadata, (STATUS_DETAILS_KEY, detail))


# The code of a bare gRPC status that carries no roarbase metadata: an error raised by
# grpcio itself (message size cap, concurrency cap, deadline, transport) rather than by us.
_BARE_STATUS = MappingProxyType({
    _SC.INVALID_ARGUMENT: "InvalidParameter",
    _SC.UNAUTHENTICATED: "Unauthorized",
    _SC.PERMISSION_DENIED: "Unauthorized",
    _SC.NOT_FOUND: "ResourceNotFound",
    _SC.ALREADY_EXISTS: "ResourceAlreadyExists",
    _SC.FAILED_PRECONDITION: "IncorrectState",
    _SC.RESOURCE_EXHAUSTED: "RequestLimitExceeded",   # grpc.server(maximum_concurrent_rpcs=...)
    _SC.UNIMPLEMENTED: "MethodNotAllowed",
    _SC.DEADLINE_EXCEEDED: "RequestTimeout",
    _SC.CANCELLED: "RequestTimeout",
    _SC.UNAVAILABLE: "ServiceUnavailable",
    _SC.DATA_LOSS: "DataCorrupted",
})


def _bare_code(status: grpc.StatusCode, message: str) -> str:
    # grpcio's own size check: "Received message larger than max (N vs. M)" (RELIABILITY R13).
    if status == _SC.RESOURCE_EXHAUSTED and "larger than max" in message:
        return "PayloadTooLarge"
    return _BARE_STATUS.get(status, "InternalServerError")


def from_grpc(status: grpc.StatusCode, message: str,
              metadata: Optional[Sequence[tuple[str, Any]]]) -> ServerError:
    """Rebuild the ServerError a server sent (for clients), from a status and its metadata.

    Args:
        status: the call's status code.
        message: its details string.
        metadata: its trailing metadata. Without roarbase entries (an error from grpcio
            itself, e.g. a message over the size cap) the code follows from the status.
    """
    md = dict(metadata or ())
    code = md.get(MD_CODE)
    if not isinstance(code, str) or code not in TABLE:
        code = _bare_code(status, message)
    data: dict[str, Any] = {}
    raw = md.get(MD_ERROR_DATA)
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            data = parsed
    name = data.pop("name", None)
    if not isinstance(name, str):
        name = None
    if code == "Unauthorized" and status == _SC.PERMISSION_DENIED:
        return PermissionDeniedError(message, name=name, details=data)
    retry = md.get(MD_RETRY_AFTER)
    retry_after = int(retry) if isinstance(retry, str) and retry.isdigit() else None
    return ServerError(code, message, name=name, details=data, retry_after=retry_after)
