"""roarbase's embeddable engine: `import engine` and use it in-process, like SQLite.

    with engine.open("data/") as db:
        seg = db.create_index("seg")
        seg.create_field("hobbies", "set", keys=True)
        seg.set(7, "hobbies", "chess")

The engine knows nothing of gRPC, HTTP, users or auth; the server is one way to reach it.
"""
from __future__ import annotations

from typing import Any

from engine.check import check
from engine.errors import (
    AlreadyExistsError,
    ClosedError,
    ClusterUnsupportedError,
    DataCorruptedError,
    EngineError,
    ExistenceNotTrackedError,
    FieldExistsError,
    FieldNotFoundError,
    IndexExistsError,
    IndexNotFoundError,
    InvalidOptionError,
    InvalidParameterError,
    InvalidValueError,
    KeysNotAllowedError,
    NotFoundError,
    QueryCancelledError,
    QueryError,
    QueryExecutionError,
    QueryLimitError,
    QuerySyntaxError,
    StorageFailedError,
    StorageFullError,
    ValueOutOfRangeError,
    WritesBlockedError,
    WorkerUnavailableError,
)
from engine import q
from engine.holder import Holder
from engine.index import Field, Index
from engine.snapshots import SnapshotInfo
from engine.snapshots import restore as restore_snapshot


def open(path: str, *, fsync: bool = True, **config: Any) -> Holder:  # the facade's name
    """Open (creating if needed) a data directory.

    Args:
        path: the directory.
        fsync: make every acknowledged write survive power loss (default). With False,
            acknowledged writes still survive a process kill (kill -9), not an OS crash.
        config: checkpoint_bytes (log size that triggers a snapshot, default 64 MiB),
            max_groups (the most groups one GroupBy or SQL GROUP BY may hold, default
            1,000,000; more raise QueryLimitError), fileio (the file-access seam, for
            fault-injection tests) and shard_executor (where queries' per-shard work runs,
            engine.shardexec; default: this process's thread pool), cluster (an
            engine.cluster.coordinator.Cluster: records live on its workers, this directory
            keeps schema and keys; docs/cluster.md).
    Raises:
        StorageFailedError: the directory is in use by another process.
    """
    return Holder(path, fsync=fsync, **config)


__all__ = [
    "open", "check", "q", "Holder", "Index", "Field", "SnapshotInfo", "restore_snapshot",
    "EngineError", "InvalidParameterError", "InvalidOptionError", "InvalidValueError",
    "ValueOutOfRangeError", "KeysNotAllowedError", "NotFoundError", "IndexNotFoundError",
    "FieldNotFoundError", "AlreadyExistsError", "IndexExistsError", "FieldExistsError",
    "ExistenceNotTrackedError", "ClosedError", "DataCorruptedError", "StorageFullError",
    "StorageFailedError", "QueryError", "QuerySyntaxError", "QueryExecutionError", "QueryLimitError",
    "QueryCancelledError", "WritesBlockedError", "ClusterUnsupportedError", "WorkerUnavailableError",
]
