"""Service-layer errors: typed subclasses of server.error_table.ServerError, one per unified code
of API.md §6 (plus fine-grained ones such as InviteExpired).

The class fixes the unified `code` (what server/errors.py maps to an HTTP status per URL
family and a gRPC status); `name` is the fine-grained reason (CM's `error_data.name`, e.g.
DUPLICATED_DB_NAME); `data` (= ServerError.details) the rest of `error_data` (`type`,
`key`, ...). Forbidden is the authorization variant of Unauthorized (`forbidden=True`: 403
on /v1, PERMISSION_DENIED on gRPC); plain Unauthorized is an authentication failure.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from engine.errors import EngineError, QueryExecutionError as EngineQueryExecutionError, QuerySyntaxError
from server.error_table import FORBIDDEN_MESSAGE, TABLE, ServerError

_INTERNAL_MESSAGE = "internal server error"


class ServiceError(ServerError):
    """Root of every error the service layer raises on purpose."""

    code = "InternalServerError"
    name = ""  # empty: the code's default name in server.error_table.TABLE

    def __init__(self, message: str, *, name: Optional[str] = None, data: Optional[Mapping[str, Any]] = None,
                 code: Optional[str] = None) -> None:
        super().__init__(code or type(self).code, message, name=name or type(self).name, details=data)

    @property
    def data(self) -> dict[str, Any]:
        return self.details

    def to_dict(self) -> dict[str, Any]:
        """The transport-neutral form: {code, name, message, data}."""
        return {"code": self.code, "name": self.name, "message": self.message, "data": dict(self.details)}


class InvalidParameter(ServiceError):
    code = "InvalidParameter"


class MissingParameter(ServiceError):
    code = "MissingParameter"


class ResourceLimitExceeded(ServiceError):
    code = "ResourceLimitExceeded"


class RelatedResourceNotFound(ServiceError):
    code = "RelatedResourceNotFound"


class BadRequest(ServiceError):
    """A query text that does not parse (the SQL3/PQL syntax error text is the message)."""

    code = "BadRequest"


class Unauthorized(ServiceError):
    """Authentication failed. The message never says which check failed."""

    code = "Unauthorized"


class Forbidden(Unauthorized):
    """Authenticated, but not allowed: the FORBIDDEN row (FB: 401 Unauthorized; 403 on /v1,
    PERMISSION_DENIED on gRPC). The one class for every refusal, the policy's and the
    faces' own."""

    name = "FORBIDDEN"
    forbidden = True

    def __init__(self, message: str = FORBIDDEN_MESSAGE, *, name: Optional[str] = None,
                 data: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(message, name=name, data=data)


class MissingAuthenticationToken(Unauthorized):
    code = "MissingAuthenticationToken"


class TokenExpired(Unauthorized):
    code = "TokenExpired"


class RefreshTokenExpired(Unauthorized):
    code = "RefreshTokenExpired"


class ResourceNotFound(ServiceError):
    code = "ResourceNotFound"


class ResourceAlreadyExists(ServiceError):
    code = "ResourceAlreadyExists"


class IncorrectState(ServiceError):
    code = "IncorrectState"


class InviteExpired(IncorrectState):
    name = "INVITE_EXPIRED"


class InviteAlreadyAccepted(IncorrectState):
    name = "INVITE_ALREADY_ACCEPTED"


class PayloadTooLarge(ServiceError):
    code = "PayloadTooLarge"


class QueryExecutionError(ServiceError):
    code = "QueryExecutionError"


class RequestTimeout(ServiceError):
    code = "RequestTimeout"


class RequestLimitExceeded(ServiceError):
    """Too many requests: the org's rate or the server's admission queue. Carries
    retry_after (seconds), sent as Retry-After / retry-after metadata."""

    code = "RequestLimitExceeded"

    def __init__(self, message: str, *, retry_after: int = 1, name: Optional[str] = None,
                 data: Optional[Mapping[str, Any]] = None, code: Optional[str] = None) -> None:
        super().__init__(message, name=name, data=data, code=code)
        self.retry_after = max(1, int(retry_after))


class InternalServerError(ServiceError):
    code = "InternalServerError"


class ServiceUnavailable(ServiceError):
    code = "ServiceUnavailable"


class StorageFull(ServiceError):
    """The disk refused a write (ENOSPC, SQLite's "database or disk is full"): nothing was
    acknowledged; retry once space is freed (no restart needed)."""

    code = "StorageFull"


class DataCorrupted(ServiceError):
    """A stored file fails its checks; never served as an answer, retrying does not help."""

    code = "DataCorrupted"


# Every unified code of API.md §6 that the service layer can raise, by class.
BY_CODE: dict[str, type[ServiceError]] = {
    cls.code: cls for cls in (
        InvalidParameter, MissingParameter, ResourceLimitExceeded, RelatedResourceNotFound, BadRequest,
        Unauthorized, MissingAuthenticationToken, TokenExpired, RefreshTokenExpired, ResourceNotFound,
        ResourceAlreadyExists, IncorrectState, PayloadTooLarge, QueryExecutionError, RequestTimeout,
        RequestLimitExceeded, InternalServerError, ServiceUnavailable, StorageFull, DataCorrupted,
    )
}


def from_engine(exc: EngineError) -> ServiceError:
    """The service error for an engine error: same unified code, message and fine-grained
    name, typed when the code has a class here (an engine code outside the table becomes
    InternalServerError)."""
    data: dict[str, Any] = dict(getattr(exc, "data", None) or {})   # e.g. an entity error's type/key
    for attr in ("line", "column"):
        value = getattr(exc, attr, 0)
        if value:
            data[attr] = value
    expected = getattr(exc, "expected", ())
    if expected:
        data["expected"] = list(expected)
    code = exc.code if exc.code in TABLE else "InternalServerError"
    cls = BY_CODE.get(code, ServiceError)
    err = cls(exc.message, name=exc.name, data=data, code=code)
    err.__cause__ = exc
    return err


def _engine_details(exc: EngineError) -> dict[str, Any]:
    """The position of a query error; other engine errors carry only their name."""
    details: dict[str, Any] = dict(getattr(exc, "data", None) or {})
    if isinstance(exc, (QuerySyntaxError, EngineQueryExecutionError)) and exc.line:
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
