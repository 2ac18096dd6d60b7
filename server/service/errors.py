"""Service-layer errors: typed subclasses of server.errors.ServerError, one per unified code
of API.md §6 (plus fine-grained ones such as InviteExpired).

The class fixes the unified `code` (what server/errors.py maps to an HTTP status per URL
family and a gRPC status); `name` is the fine-grained reason (CM's `error_data.name`, e.g.
DUPLICATED_DB_NAME); `data` (= ServerError.details) the rest of `error_data` (`type`,
`key`, ...). Forbidden is the authorization variant of Unauthorized (`forbidden=True`: 403
on /v1, PERMISSION_DENIED on gRPC); plain Unauthorized is an authentication failure.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import engine
from server.errors import TABLE, ServerError


class ServiceError(ServerError):
    """Root of every error the service layer raises on purpose."""

    code = "InternalServerError"
    name: Optional[str] = None  # None: the code's default name in server.errors.TABLE

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
    """Authenticated, but the policy refuses the operation (FB: 401 Unauthorized)."""

    name = "FORBIDDEN"
    forbidden = True


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

def from_engine(exc: engine.EngineError) -> ServiceError:
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
