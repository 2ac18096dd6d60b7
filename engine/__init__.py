"""roarbase's embeddable engine: `import engine` and use it in-process, like SQLite.

    with engine.open("data/") as db:
        seg = db.create_index("seg")
        seg.create_field("hobbies", "set", keys=True)
        seg.set(7, "hobbies", "chess")

The engine knows nothing of gRPC, HTTP, users or auth; the server is one way to reach it.
This module is the engine's public surface: the server, the benchmarks and other embedders
import `engine` and `engine.errors` and nothing deeper (tests/test_layers.py checks it;
docs/architecture.md).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

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
from engine.cluster.coordinator import Cluster
from engine.cluster.transport import LoopbackTransport
from engine.entities import EntityTable, IdType, Page as EntityPage, Property, ValueType, WrongDataType
from engine.entities.table import PROPERTY_NAME_RE, RESERVED as RESERVED_PROPERTY_NAMES
from engine.holder import Holder
from engine.index import Field, Index
from engine.ingest import import_column, time_label_ok, translate_columns
from engine.records import count_records, iter_records
from engine.results import (Bool, Count, DistinctRows, DistinctValues, ExtractedTable, GroupCounts, Nil, Pair, Pairs,
                             Result, RowIdentifiers, RowResult, SignedRow, ValCount, rfc3339)
from engine.schema import (
    CACHE_TYPES,
    FIELD_TYPES,
    FLOAT_BITS,
    INT64_MAX,
    INT64_MIN,
    QUANTUM_ORDER,
    STANDARD_VIEW,
    TIME_UNITS,
    UINT64_MAX,
    FieldDef,
    FieldOptions,
    IndexDef,
    check_meta,
    check_name,
    float_decode,
    float_encode,
    float_encode_array,
)
from engine.snapshots import SnapshotInfo
from engine.snapshots import read_info as read_snapshot_info
from engine.snapshots import remove as remove_snapshot
from engine.snapshots import restore as restore_snapshot
from engine.sql.result import SqlResult
from engine.sql.types import sql_type_of
from engine.statements import (
    MAX_QUERY_BYTES,
    PQL_WRITE_CALLS,
    PqlQuery,
    parse_pql,
    parse_sql,
    pql_writes,
    sql_file_inputs,
    sql_writes,
)
from engine.storage import wal as _wal
from engine.storage.fileio import FileIO
from engine.storage.files import decode_doc, encode_doc
from ext import FrozenBitmap


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
            engine.Cluster: records live on its workers, this directory
            keeps schema and keys; docs/cluster.md).
    Raises:
        StorageFailedError: the directory is in use by another process.
    """
    return Holder(path, fsync=fsync, **config)


def on_wal_append(hook: Optional[Callable[[int, Optional[float]], None]]) -> None:
    """Call hook(bytes, fsync seconds or None) after every write-ahead-log append, in the
    writing thread (the server's metrics); None removes it."""
    _wal.append_hook = hook


def open_on_ray(*args: Any, **kwargs: Any) -> Holder:
    """engine.cluster.ray_backend.open_on_ray (docs/cluster.md). Raises ImportError
    without the ray extra: Ray is imported only when a cluster is used."""
    from engine.cluster.ray_backend import open_on_ray as _open_on_ray

    return _open_on_ray(*args, **kwargs)


def __getattr__(name: str) -> Any:
    """RayTransport, imported on first use: Ray is imported only when a cluster uses it."""
    if name == "RayTransport":
        from engine.cluster.ray_backend import RayTransport

        return RayTransport
    raise AttributeError(f"module 'engine' has no attribute {name!r}")


def cluster_root(root: str, name: str, *, s3_endpoint: str | None = None) -> str:
    """The cluster root of one database under `root` (a directory or an s3:// URL;
    docs/cluster.md), an s3:// one carrying `s3_endpoint` so every node uses it."""
    from engine.cluster import storage

    return storage.with_endpoint(storage.join(root, name), s3_endpoint)


def cluster_status(address: str) -> dict[str, Any]:
    """engine.cluster.ray_backend.cluster_status: the Ray nodes and each worker's shards.
    Raises ImportError without the ray extra."""
    from engine.cluster.ray_backend import cluster_status as _cluster_status

    return _cluster_status(address)


__all__ = [
    "open", "check", "q", "Holder", "Index", "Field", "SnapshotInfo", "restore_snapshot",
    "EngineError", "InvalidParameterError", "InvalidOptionError", "InvalidValueError",
    "ValueOutOfRangeError", "KeysNotAllowedError", "NotFoundError", "IndexNotFoundError",
    "FieldNotFoundError", "AlreadyExistsError", "IndexExistsError", "FieldExistsError",
    "ExistenceNotTrackedError", "ClosedError", "DataCorruptedError", "StorageFullError",
    "StorageFailedError", "QueryError", "QuerySyntaxError", "QueryExecutionError", "QueryLimitError",
    "QueryCancelledError", "WritesBlockedError", "ClusterUnsupportedError", "WorkerUnavailableError",
    # statements: parsed once, classified before they run
    "MAX_QUERY_BYTES", "PQL_WRITE_CALLS", "parse_sql", "parse_pql", "sql_writes", "pql_writes",
    "sql_file_inputs", "PqlQuery", "SqlResult",
    # schema rules and values (the server checks imported documents against them)
    "FieldDef", "FieldOptions", "IndexDef", "STANDARD_VIEW", "CACHE_TYPES", "FIELD_TYPES", "FLOAT_BITS",
    "INT64_MAX", "INT64_MIN", "UINT64_MAX", "QUANTUM_ORDER", "TIME_UNITS", "check_meta", "check_name",
    "float_decode", "float_encode", "float_encode_array", "sql_type_of", "time_label_ok", "rfc3339",
    # entity tables (the recommender data plane)
    "EntityTable", "EntityPage", "Property", "IdType", "ValueType", "WrongDataType", "PROPERTY_NAME_RE",
    "RESERVED_PROPERTY_NAMES",
    # bulk reads and writes inside a caller's transaction
    "FrozenBitmap", "translate_columns", "import_column", "count_records", "iter_records",
    # files, snapshots, cluster
    "FileIO", "encode_doc", "decode_doc", "read_snapshot_info", "remove_snapshot", "on_wal_append",
    "open_on_ray", "cluster_status", "cluster_root", "Cluster", "LoopbackTransport",  # and RayTransport, on first use
    # typed PQL results (Holder.pql)
    "Result", "Nil", "Count", "Bool", "RowResult", "DistinctRows", "SignedRow", "DistinctValues", "ValCount",
    "Pair", "Pairs", "RowIdentifiers", "GroupCounts", "ExtractedTable",
]
