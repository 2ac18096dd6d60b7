"""Engine errors: one root, and a stable machine `code` on every error.

`code` is the unified code of the API error table (../shared/API.md §6) that the server maps
to HTTP and gRPC status; `name` is the fine-grained reason clients can switch on.
"""
from __future__ import annotations

from ext import CorruptDataError


class EngineError(Exception):
    """Root of every error the engine raises on purpose."""

    code = "InternalServerError"
    name = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "name": self.name, "message": self.message}


class InvalidParameterError(EngineError):
    code = "InvalidParameter"
    name = "INVALID_PARAMETER"


class InvalidNameError(InvalidParameterError):
    name = "INVALID_NAME"


class InvalidOptionError(InvalidParameterError):
    name = "INVALID_OPTION"


class InvalidValueError(InvalidParameterError):
    """A value of the wrong type for its field (or a malformed literal)."""

    name = "INVALID_VALUE"


class ValueOutOfRangeError(InvalidParameterError):
    name = "VALUE_OUT_OF_RANGE"


class KeysNotAllowedError(InvalidParameterError):
    """A string key given where the index or field uses integer ids (or the reverse)."""

    name = "KEYS_MISMATCH"


class NotFoundError(EngineError):
    code = "ResourceNotFound"
    name = "NOT_FOUND"


class IndexNotFoundError(NotFoundError):
    name = "INDEX_NOT_FOUND"


class FieldNotFoundError(NotFoundError):
    name = "FIELD_NOT_FOUND"


class AlreadyExistsError(EngineError):
    code = "ResourceAlreadyExists"
    name = "ALREADY_EXISTS"


class IndexExistsError(AlreadyExistsError):
    name = "INDEX_EXISTS"


class FieldExistsError(AlreadyExistsError):
    name = "FIELD_EXISTS"


class ExistenceNotTrackedError(EngineError):
    code = "QueryExecutionError"
    name = "EXISTENCE_NOT_TRACKED"


class ResourceLimitError(EngineError):
    code = "ResourceLimitExceeded"
    name = "LIMIT_EXCEEDED"


class ClosedError(EngineError):
    code = "IncorrectState"
    name = "DATABASE_CLOSED"


class DataCorruptedError(EngineError, CorruptDataError):
    """A checksum or structure mismatch in a data file: never served as an answer."""

    code = "DataCorrupted"
    name = "DATA_CORRUPTED"

    def __init__(self, message: str, path: str = "", offset: int = -1) -> None:
        where = f" ({path} at byte {offset})" if path else ""
        EngineError.__init__(self, message + where)
        self.path = path
        self.offset = offset


class StorageFullError(EngineError):
    """The disk refused a write (ENOSPC/EFBIG); nothing was acknowledged, retry later."""

    code = "StorageFull"
    name = "STORAGE_FULL"


class StorageFailedError(EngineError):
    """An fsync or write failed in a way that may have lost data: the index is read-only
    until it is reopened (which recovers to the last acknowledged commit)."""

    code = "ServiceUnavailable"
    name = "STORAGE_FAILED"
