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

    def to_dict(self) -> dict[str, object]:
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


class ClosedError(EngineError):
    code = "IncorrectState"
    name = "DATABASE_CLOSED"


class WritesBlockedError(EngineError):
    """Writes are held off while the data directory is exported, snapshotted for an
    import's restore point, or restored (Holder.block_writes); reads still work."""

    code = "IncorrectState"
    name = "WRITES_BLOCKED"


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


class DirectoryInUseError(StorageFailedError):
    """Another process holds the data directory's LOCK (same wire as StorageFailedError)."""


class ObjectStoreError(StorageFailedError):
    """A cluster's object store (s3:// root) refused or failed a request: the bucket is
    missing, access is denied, or it is unreachable. Nothing was acknowledged."""

    name = "OBJECT_STORE_FAILED"


class QueryError(EngineError):
    """Root of the errors a query text can cause."""

    code = "BadRequest"
    name = "BAD_REQUEST"


class QuerySyntaxError(QueryError):
    """The text does not parse: carries the position and what was expected there."""

    code = "BadRequest"
    name = "QUERY_SYNTAX_ERROR"

    def __init__(self, message: str, line: int = 0, column: int = 0, expected: tuple[str, ...] = ()) -> None:
        where = f" at line {line}, column {column}" if line else ""
        super().__init__(message + where)
        self.line = line
        self.column = column
        self.expected = expected

    def to_dict(self) -> dict[str, object]:
        d = super().to_dict()
        d.update(line=self.line, column=self.column, expected=list(self.expected))
        return d


class QueryExecutionError(QueryError):
    """The text parses but cannot run: unknown field, wrong type for the call, bad argument."""

    code = "QueryExecutionError"
    name = "QUERY_EXECUTION_ERROR"

    def __init__(self, message: str, line: int = 0, column: int = 0, *, name: str | None = None) -> None:
        where = f" (line {line}, column {column})" if line else ""
        super().__init__(message + where)
        self.line = line
        self.column = column
        if name is not None:
            self.name = name


class QueryLimitError(QueryError):
    code = "ResourceLimitExceeded"
    name = "QUERY_LIMIT_EXCEEDED"


class QueryCancelledError(QueryError):
    """The query passed its deadline or was cancelled; checked between shards."""

    code = "RequestTimeout"
    name = "QUERY_CANCELLED"


class TableNotFoundError(QueryExecutionError):
    name = "TABLE_NOT_FOUND"


class ColumnNotFoundError(QueryExecutionError):
    name = "COLUMN_NOT_FOUND"


class TypeMismatchError(QueryExecutionError):
    name = "TYPE_MISMATCH"


class NotSupportedError(QueryExecutionError):
    """Valid SQL that roarbase does not run (yet): joins, subqueries, …"""

    name = "NOT_SUPPORTED"


class ClusterUnsupportedError(EngineError):
    """An operation this database cannot do while its shards live on cluster workers
    (docs/cluster.md lists what is routed); refused before anything is written."""

    code = "IncorrectState"
    name = "NOT_SUPPORTED_IN_CLUSTER"


class WorkerUnavailableError(EngineError):
    """A cluster worker did not answer (dead and not back within the retry window);
    nothing was acknowledged for the part of the request it held. Retry later."""

    code = "ServiceUnavailable"
    name = "WORKER_UNAVAILABLE"
    lost: list[str] = []          # workers known gone for good (their node is gone), if any


class WorkerNotFoundError(NotFoundError):
    """A membership change named a worker the cluster does not have."""

    name = "WORKER_NOT_FOUND"


class WorkerExistsError(AlreadyExistsError):
    """add_worker of a name the cluster already has."""

    name = "WORKER_EXISTS"


class LastWorkerError(EngineError):
    """Removing the only worker is refused: its shards would have nowhere to go."""

    code = "IncorrectState"
    name = "LAST_WORKER"
