"""The failures a source can meet, as service errors that also say which table status
(seed 002's enum) they leave the source in: `error_data.status`.

    wrong_credentials    the remote store refused the connection's credentials
    resource_not_found   the bucket, key, prefix, file or upload is not there
    wrong_specification  the source's parameters or its data do not fit (WrongData)
    unknown_error        a connection kind we do not implement, or an unexpected failure

Messages never carry credentials: they name the remote error code, never echo a request.
"""
from __future__ import annotations

from typing import Any, Optional

from server.service.errors import InvalidParameter, ResourceNotFound, ServiceError, ServiceUnavailable

AVAILABLE, UPLOADING = "available", "uploading"
WRONG_CREDENTIALS, RESOURCE_NOT_FOUND = "wrong_credentials", "resource_not_found"
WRONG_SPECIFICATION, UNKNOWN_ERROR = "wrong_specification", "unknown_error"
STATUSES = (AVAILABLE, UPLOADING, WRONG_CREDENTIALS, RESOURCE_NOT_FOUND, WRONG_SPECIFICATION, UNKNOWN_ERROR)


def _data(status: str, key: Optional[str], extra: Optional[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"status": status}
    if key is not None:
        out["key"] = str(key)[:200]
    out.update(extra or {})
    return out


def wrong_credentials(message: str, **extra: Any) -> ServiceError:
    return InvalidParameter(message, name="WRONG_CREDENTIALS", data=_data(WRONG_CREDENTIALS, "credentials", extra))


def resource_not_found(message: str, key: Optional[str] = None, **extra: Any) -> ServiceError:
    return ResourceNotFound(message, name="RESOURCE_NOT_FOUND",
                            data={"type": "resource", **_data(RESOURCE_NOT_FOUND, key, extra)})


def wrong_spec(message: str, key: Optional[str] = None, **extra: Any) -> ServiceError:
    return InvalidParameter(message, name="WRONG_DATA_TYPE", data=_data(WRONG_SPECIFICATION, key, extra))


def not_supported(kind: str) -> ServiceError:
    return InvalidParameter(f"connection {kind} is stored but not implemented by this server: only LOCAL, S3 "
                            "and GCS sources can be tested, imported or exported", name="CONNECTION_NOT_SUPPORTED",
                            data=_data(UNKNOWN_ERROR, kind, None))


def remote_unavailable(message: str) -> ServiceError:
    return ServiceUnavailable(message, name="REMOTE_UNAVAILABLE", data=_data(UNKNOWN_ERROR, None, None))


def status_of(exc: BaseException) -> str:
    """The table status an error leaves a source in."""
    if isinstance(exc, ServiceError):
        status = exc.data.get("status")
        if status in STATUSES:
            return str(status)
    return UNKNOWN_ERROR
