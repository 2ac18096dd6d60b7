"""The faces' error mapping: an exception -> an HTTP status and body, or a gRPC status,
trailing metadata and google.rpc.Status details. Every face turns an exception into a
response here and nowhere else (API.md §6, §8); the table itself is server/error_table.py
and the envelope (the JSON body) server.service.errors.envelope.

- `to_http(exc, family)` adds the status of the URL family ("v2" for /v2 and the
  FeatureBase/Pilosa-compatible paths, "v1" for the recommender-style /v1 paths) and headers.
- `to_grpc(exc)` gives (grpc.StatusCode, message, trailing metadata);
  server.grpc_status.from_grpc reverses it for clients.

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
from typing import Any, Optional

import grpc
from google.protobuf.duration_pb2 import Duration
from google.rpc import error_details_pb2, status_pb2

from server.error_table import FAMILIES
from server.grpc_status import MD_CODE, MD_ERROR_CODE, MD_ERROR_DATA, MD_ERROR_NAME, MD_RETRY_AFTER, status_code
from server.service.errors import as_server_error, envelope


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
    return status_code(spec), err.message, tuple(metadata)


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
    status = status_pb2.Status(code=status_code(spec).value[0], message=err.message)
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
