"""The one error table (API.md §6): unified code -> HTTP status per URL family, gRPC status,
CM error name and number; and ServerError, the root of every error the server raises on
purpose.

Transport-neutral on purpose: it imports neither grpc nor the engine, so the service layer
raises these errors and the client SDK rebuilds them without either. The faces map an
error to their wire: server/errors.py (HTTP bodies and statuses, gRPC statuses
and details), server/grpc_status.py (gRPC status names, and a client's view of a failed
call).

Codes beyond API.md §6, chosen from RELIABILITY.md: `StorageFull` (R6: the disk refused a
write; nothing was acknowledged, retry later) → HTTP 507 / RESOURCE_EXHAUSTED, and
`DataCorrupted` (R5: a checksum or structure mismatch; never served as an answer, retrying
does not help) → HTTP 500 / DATA_LOSS, gRPC's code for "unrecoverable data loss or
corruption".

`Unauthorized` has two variants, as in API.md §6: authentication failed (401 on both
families, UNAUTHENTICATED, CM AuthError 21) and authorization failed — the caller is known
but not allowed (still 401 on /v2 as FeatureBase does, 403 on /v1, PERMISSION_DENIED, CM
ForbiddenError 50): the FORBIDDEN row, an error with `forbidden` set.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping, Optional


@dataclass(frozen=True)
class ErrorSpec:
    """One row of the error table.

    Attributes:
        code: the unified (FeatureBase) code, `code` in the envelope.
        http_v2: the HTTP status on /v2 and the FeatureBase/Pilosa-compatible paths.
        http_v1: the HTTP status on the recommender-style /v1 paths.
        grpc_code: the gRPC status code's name (grpc.StatusCode[name]; the table imports no
            transport: server/grpc_status.py maps it).
        error_name: the recommender-style error class, `error_name` in the envelope.
        error_code: its number, `error_code` in the envelope.
        default_name: `error_data.name` when the raiser gives no finer name.
        retry: whether a client may retry (with backoff), as FeatureBase documents it.
    """

    code: str
    http_v2: int
    http_v1: int
    grpc_code: str
    error_name: str
    error_code: int
    default_name: str
    retry: bool = False


# API.md §6, in its order, then the two codes from RELIABILITY.md (see the module docstring).
TABLE: Mapping[str, ErrorSpec] = MappingProxyType({spec.code: spec for spec in (
    ErrorSpec("InvalidParameter", 400, 400, "INVALID_ARGUMENT", "WrongData", 40, "INVALID_PARAMETER"),
    ErrorSpec("MissingParameter", 400, 400, "INVALID_ARGUMENT", "WrongData", 40, "MISSING_PARAMETER"),
    ErrorSpec("InvalidBody", 400, 400, "INVALID_ARGUMENT", "WrongData", 40, "INVALID_BODY"),
    ErrorSpec("InvalidContentType", 400, 400, "INVALID_ARGUMENT", "WrongData", 40, "INVALID_CONTENT_TYPE"),
    ErrorSpec("ResourceLimitExceeded", 400, 400, "RESOURCE_EXHAUSTED", "WrongData", 40, "LIMIT_EXCEEDED"),
    ErrorSpec("ResourceThroughputExceeded", 400, 429, "RESOURCE_EXHAUSTED", "TooManyRequests", 2,
              "THROUGHPUT_EXCEEDED", retry=True),
    ErrorSpec("RelatedResourceNotFound", 400, 404, "FAILED_PRECONDITION", "NotFoundError", 60,
              "RELATED_RESOURCE_NOT_FOUND"),
    ErrorSpec("BadRequest", 400, 400, "INVALID_ARGUMENT", "WrongData", 40, "BAD_REQUEST"),
    ErrorSpec("Unauthorized", 401, 401, "UNAUTHENTICATED", "AuthError", 21, "UNAUTHORIZED"),
    ErrorSpec("MissingAuthenticationToken", 401, 401, "UNAUTHENTICATED", "AuthError", 21,
              "MISSING_AUTHENTICATION_TOKEN"),
    ErrorSpec("TokenExpired", 401, 401, "UNAUTHENTICATED", "JwtTokenExpired", 22, "TOKEN_EXPIRED"),
    ErrorSpec("RefreshTokenExpired", 401, 401, "UNAUTHENTICATED", "RefreshTokenExpired", 28,
              "REFRESH_TOKEN_EXPIRED"),
    ErrorSpec("ResourceNotFound", 404, 404, "NOT_FOUND", "NotFoundError", 60, "RESOURCE_NOT_FOUND"),
    ErrorSpec("MethodNotAllowed", 405, 405, "UNIMPLEMENTED", "MethodNotAllowed", 70, "METHOD_NOT_ALLOWED"),
    ErrorSpec("RequestTimeout", 408, 408, "DEADLINE_EXCEEDED", "ServerUnavailable", 1, "REQUEST_TIMEOUT",
              retry=True),
    ErrorSpec("ResourceAlreadyExists", 409, 400, "ALREADY_EXISTS", "DuplicatedError", 42, "ALREADY_EXISTS"),
    ErrorSpec("IncorrectState", 409, 409, "FAILED_PRECONDITION", "IncorrectState", 80, "INCORRECT_STATE",
              retry=True),
    ErrorSpec("PayloadTooLarge", 413, 413, "RESOURCE_EXHAUSTED", "WrongData", 40, "PAYLOAD_TOO_LARGE"),
    ErrorSpec("QueryExecutionError", 422, 422, "INVALID_ARGUMENT", "WrongData", 40, "QUERY_EXECUTION_ERROR"),
    ErrorSpec("RequestLimitExceeded", 429, 429, "RESOURCE_EXHAUSTED", "TooManyRequests", 2,
              "REQUEST_LIMIT_EXCEEDED", retry=True),
    ErrorSpec("InternalServerError", 500, 500, "INTERNAL", "ServerError", 0, "INTERNAL", retry=True),
    ErrorSpec("ServiceUnavailable", 503, 503, "UNAVAILABLE", "ServerUnavailable", 1, "SERVICE_UNAVAILABLE",
              retry=True),
    ErrorSpec("StorageFull", 507, 507, "RESOURCE_EXHAUSTED", "ServerUnavailable", 1, "STORAGE_FULL",
              retry=True),
    ErrorSpec("DataCorrupted", 500, 500, "DATA_LOSS", "ServerError", 0, "DATA_CORRUPTED"),
)})

# The authorization variant of Unauthorized (see the module docstring).
FORBIDDEN = ErrorSpec("Unauthorized", 401, 403, "PERMISSION_DENIED", "ForbiddenError", 50, "FORBIDDEN")

FAMILIES = ("v2", "v1")

FORBIDDEN_MESSAGE = "User is not authorized to perform this operation."


class ServerError(Exception):
    """Root of the errors the server raises on purpose: one unified code of `TABLE`.

    Args:
        code: a unified code, a key of `TABLE`.
        message: the human-readable message.
        name: the fine-grained reason, `error_data.name` (e.g. "DUPLICATED_DB_NAME");
            default: the code's `default_name`.
        details: more `error_data` entries (JSON values), e.g. {"type": "database", "key": "x"}.
        retry_after: seconds a client should wait before retrying (HTTP Retry-After).
        forbidden: the authorization variant of Unauthorized (the caller is known but not
            allowed): FORBIDDEN's statuses. Raised as server.service.errors.Forbidden; a
            client rebuilds it from the wire with this flag.
    Raises:
        ValueError: `code` is not in the table (a programming error).
    """

    forbidden = False

    def __init__(self, code: str, message: str, *, name: Optional[str] = None,
                 details: Optional[Mapping[str, Any]] = None, retry_after: Optional[int] = None,
                 forbidden: Optional[bool] = None) -> None:
        if code not in TABLE:
            raise ValueError(f"unknown error code {code!r}: not in server.error_table.TABLE")
        super().__init__(message)
        self.code = code
        self.message = message
        if forbidden is not None:
            self.forbidden = forbidden
        self.name = name or self.spec.default_name
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
