import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPORT_FORMAT_UNSPECIFIED: _ClassVar[ExportFormat]
    EXPORT_FORMAT_NDJSON: _ClassVar[ExportFormat]
    EXPORT_FORMAT_JSON: _ClassVar[ExportFormat]

class DatabaseState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATABASE_STATE_UNSPECIFIED: _ClassVar[DatabaseState]
    DATABASE_STATE_CREATING: _ClassVar[DatabaseState]
    DATABASE_STATE_PROVISIONING: _ClassVar[DatabaseState]
    DATABASE_STATE_RUNNING: _ClassVar[DatabaseState]
    DATABASE_STATE_RESTORING: _ClassVar[DatabaseState]
    DATABASE_STATE_BACKUP: _ClassVar[DatabaseState]
    DATABASE_STATE_DELETING: _ClassVar[DatabaseState]
    DATABASE_STATE_DEPROVISIONING: _ClassVar[DatabaseState]
    DATABASE_STATE_DELETED: _ClassVar[DatabaseState]
    DATABASE_STATE_FAILED: _ClassVar[DatabaseState]
    DATABASE_STATE_FROZEN: _ClassVar[DatabaseState]
EXPORT_FORMAT_UNSPECIFIED: ExportFormat
EXPORT_FORMAT_NDJSON: ExportFormat
EXPORT_FORMAT_JSON: ExportFormat
DATABASE_STATE_UNSPECIFIED: DatabaseState
DATABASE_STATE_CREATING: DatabaseState
DATABASE_STATE_PROVISIONING: DatabaseState
DATABASE_STATE_RUNNING: DatabaseState
DATABASE_STATE_RESTORING: DatabaseState
DATABASE_STATE_BACKUP: DatabaseState
DATABASE_STATE_DELETING: DatabaseState
DATABASE_STATE_DEPROVISIONING: DatabaseState
DATABASE_STATE_DELETED: DatabaseState
DATABASE_STATE_FAILED: DatabaseState
DATABASE_STATE_FROZEN: DatabaseState

class ExportDatabaseRequest(_message.Message):
    __slots__ = ("id", "format", "gzip")
    ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    GZIP_FIELD_NUMBER: _ClassVar[int]
    id: str
    format: ExportFormat
    gzip: bool
    def __init__(self, id: _Optional[str] = ..., format: _Optional[_Union[ExportFormat, str]] = ..., gzip: _Optional[bool] = ...) -> None: ...

class ExportChunk(_message.Message):
    __slots__ = ("data", "records_done", "records_total")
    DATA_FIELD_NUMBER: _ClassVar[int]
    RECORDS_DONE_FIELD_NUMBER: _ClassVar[int]
    RECORDS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    records_done: int
    records_total: int
    def __init__(self, data: _Optional[bytes] = ..., records_done: _Optional[int] = ..., records_total: _Optional[int] = ...) -> None: ...

class ImportChunk(_message.Message):
    __slots__ = ("id", "data")
    ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    data: bytes
    def __init__(self, id: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class ImportDatabaseResponse(_message.Message):
    __slots__ = ("items", "users", "rows", "properties_created", "tables_created", "columns_created", "seconds", "connections_missing")
    class RowsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_CREATED_FIELD_NUMBER: _ClassVar[int]
    TABLES_CREATED_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_CREATED_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_MISSING_FIELD_NUMBER: _ClassVar[int]
    items: int
    users: int
    rows: _containers.ScalarMap[str, int]
    properties_created: _containers.RepeatedScalarFieldContainer[str]
    tables_created: _containers.RepeatedScalarFieldContainer[str]
    columns_created: _containers.RepeatedScalarFieldContainer[str]
    seconds: float
    connections_missing: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, items: _Optional[int] = ..., users: _Optional[int] = ..., rows: _Optional[_Mapping[str, int]] = ..., properties_created: _Optional[_Iterable[str]] = ..., tables_created: _Optional[_Iterable[str]] = ..., columns_created: _Optional[_Iterable[str]] = ..., seconds: _Optional[float] = ..., connections_missing: _Optional[_Iterable[str]] = ...) -> None: ...

class BackupDatabaseRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class BackupChunk(_message.Message):
    __slots__ = ("data", "bytes_done", "bytes_total")
    DATA_FIELD_NUMBER: _ClassVar[int]
    BYTES_DONE_FIELD_NUMBER: _ClassVar[int]
    BYTES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    bytes_done: int
    bytes_total: int
    def __init__(self, data: _Optional[bytes] = ..., bytes_done: _Optional[int] = ..., bytes_total: _Optional[int] = ...) -> None: ...

class RestoreChunk(_message.Message):
    __slots__ = ("name", "description", "data")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    data: bytes
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class Database(_message.Message):
    __slots__ = ("id", "name", "database_status", "database_options_json", "org_id", "created_by", "created_at", "owned_by", "updated_at", "updated_by", "item_id_type", "user_id_type", "session_id_type", "description", "metadata_json", "core_config_json")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATABASE_STATUS_FIELD_NUMBER: _ClassVar[int]
    DATABASE_OPTIONS_JSON_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    OWNED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_TYPE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_TYPE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    CORE_CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    database_status: DatabaseState
    database_options_json: str
    org_id: str
    created_by: str
    created_at: _timestamp_pb2.Timestamp
    owned_by: str
    updated_at: _timestamp_pb2.Timestamp
    updated_by: str
    item_id_type: str
    user_id_type: str
    session_id_type: str
    description: str
    metadata_json: str
    core_config_json: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., database_status: _Optional[_Union[DatabaseState, str]] = ..., database_options_json: _Optional[str] = ..., org_id: _Optional[str] = ..., created_by: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., owned_by: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[str] = ..., item_id_type: _Optional[str] = ..., user_id_type: _Optional[str] = ..., session_id_type: _Optional[str] = ..., description: _Optional[str] = ..., metadata_json: _Optional[str] = ..., core_config_json: _Optional[str] = ...) -> None: ...

class CreateDatabaseRequest(_message.Message):
    __slots__ = ("name", "description", "item_id_type", "user_id_type", "session_id_type", "database_options_json", "core_config_json", "metadata_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_TYPE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_TYPE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_TYPE_FIELD_NUMBER: _ClassVar[int]
    DATABASE_OPTIONS_JSON_FIELD_NUMBER: _ClassVar[int]
    CORE_CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    item_id_type: str
    user_id_type: str
    session_id_type: str
    database_options_json: str
    core_config_json: str
    metadata_json: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., item_id_type: _Optional[str] = ..., user_id_type: _Optional[str] = ..., session_id_type: _Optional[str] = ..., database_options_json: _Optional[str] = ..., core_config_json: _Optional[str] = ..., metadata_json: _Optional[str] = ...) -> None: ...

class GetDatabaseRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListDatabasesRequest(_message.Message):
    __slots__ = ("next", "limit")
    NEXT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    next: str
    limit: int
    def __init__(self, next: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListDatabasesResponse(_message.Message):
    __slots__ = ("next", "resources")
    NEXT_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    next: str
    resources: _containers.RepeatedCompositeFieldContainer[Database]
    def __init__(self, next: _Optional[str] = ..., resources: _Optional[_Iterable[_Union[Database, _Mapping]]] = ...) -> None: ...

class UpdateDatabaseRequest(_message.Message):
    __slots__ = ("id", "name", "owned_by", "description", "core_config_json", "metadata_json", "preserve")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OWNED_BY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CORE_CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    PRESERVE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    owned_by: str
    description: str
    core_config_json: str
    metadata_json: str
    preserve: bool
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., owned_by: _Optional[str] = ..., description: _Optional[str] = ..., core_config_json: _Optional[str] = ..., metadata_json: _Optional[str] = ..., preserve: _Optional[bool] = ...) -> None: ...

class DeleteDatabaseRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class WatchDatabaseRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ClusterWorkerRequest(_message.Message):
    __slots__ = ("id", "name")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class RebalanceClusterRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ShardRef(_message.Message):
    __slots__ = ("table", "shard")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    table: str
    shard: int
    def __init__(self, table: _Optional[str] = ..., shard: _Optional[int] = ...) -> None: ...

class ClusterMembership(_message.Message):
    __slots__ = ("database_id", "worker", "moved", "epoch", "workers")
    class WorkersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    DATABASE_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    MOVED_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    database_id: str
    worker: str
    moved: _containers.RepeatedCompositeFieldContainer[ShardRef]
    epoch: int
    workers: _containers.ScalarMap[str, int]
    def __init__(self, database_id: _Optional[str] = ..., worker: _Optional[str] = ..., moved: _Optional[_Iterable[_Union[ShardRef, _Mapping]]] = ..., epoch: _Optional[int] = ..., workers: _Optional[_Mapping[str, int]] = ...) -> None: ...
