"""gRPC's view of the error table: a row's status code, the trailing-metadata keys an error
travels in, and `from_grpc`, which rebuilds the ServerError a server sent (for clients).

Imports grpc and the neutral table only, so the client SDK uses it without the engine or
the service layer; the server's side (an exception to a status) is server/errors.py.
"""
from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any, Optional, Sequence

import grpc

from server.error_table import TABLE, ErrorSpec, ServerError

_SC = grpc.StatusCode

# Trailing-metadata keys of a gRPC error.
MD_CODE = "roarbase-code"
MD_ERROR_NAME = "roarbase-error-name"
MD_ERROR_CODE = "roarbase-error-code"
MD_ERROR_DATA = "roarbase-error-data"
MD_RETRY_AFTER = "roarbase-retry-after"


def status_code(spec: ErrorSpec) -> grpc.StatusCode:
    """The gRPC status code of a table row."""
    return grpc.StatusCode[spec.grpc_code]


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
    retry = md.get(MD_RETRY_AFTER)
    retry_after = int(retry) if isinstance(retry, str) and retry.isdigit() else None
    forbidden = code == "Unauthorized" and status == _SC.PERMISSION_DENIED
    return ServerError(code, message, name=name, details=data, retry_after=retry_after, forbidden=forbidden)
