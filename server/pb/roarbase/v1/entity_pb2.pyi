from server.pb.roarbase.v1 import task_pb2 as _task_pb2
from server.pb.roarbase.v1 import value_pb2 as _value_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EntityKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENTITY_KIND_UNSPECIFIED: _ClassVar[EntityKind]
    ENTITY_KIND_ITEM: _ClassVar[EntityKind]
    ENTITY_KIND_USER: _ClassVar[EntityKind]

class WriteMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WRITE_MODE_UNSPECIFIED: _ClassVar[WriteMode]
    WRITE_MODE_PUT: _ClassVar[WriteMode]
    WRITE_MODE_PATCH: _ClassVar[WriteMode]
ENTITY_KIND_UNSPECIFIED: EntityKind
ENTITY_KIND_ITEM: EntityKind
ENTITY_KIND_USER: EntityKind
WRITE_MODE_UNSPECIFIED: WriteMode
WRITE_MODE_PUT: WriteMode
WRITE_MODE_PATCH: WriteMode

class Property(_message.Message):
    __slots__ = ("property_name", "value_type", "repeated", "indexed")
    PROPERTY_NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_TYPE_FIELD_NUMBER: _ClassVar[int]
    REPEATED_FIELD_NUMBER: _ClassVar[int]
    INDEXED_FIELD_NUMBER: _ClassVar[int]
    property_name: str
    value_type: str
    repeated: bool
    indexed: bool
    def __init__(self, property_name: _Optional[str] = ..., value_type: _Optional[str] = ..., repeated: _Optional[bool] = ..., indexed: _Optional[bool] = ...) -> None: ...

class Entity(_message.Message):
    __slots__ = ("id", "properties")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _value_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    id: _value_pb2.Value
    properties: _containers.MessageMap[str, _value_pb2.Value]
    def __init__(self, id: _Optional[_Union[_value_pb2.Value, _Mapping]] = ..., properties: _Optional[_Mapping[str, _value_pb2.Value]] = ...) -> None: ...

class Filter(_message.Message):
    __slots__ = ("property_name", "op", "value")
    PROPERTY_NAME_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    property_name: str
    op: str
    value: _value_pb2.Value
    def __init__(self, property_name: _Optional[str] = ..., op: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...

class ListPropertiesRequest(_message.Message):
    __slots__ = ("database_id", "kind")
    DATABASE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    database_id: str
    kind: EntityKind
    def __init__(self, database_id: _Optional[str] = ..., kind: _Optional[_Union[EntityKind, str]] = ...) -> None: ...

class ListPropertiesResponse(_message.Message):
    __slots__ = ("properties",)
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    properties: _containers.RepeatedCompositeFieldContainer[Property]
    def __init__(self, properties: _Optional[_Iterable[_Union[Property, _Mapping]]] = ...) -> None: ...

class GetPropertyRequest(_message.Message):
    __slots__ = ("database_id", "kind", "property_name")
    DATABASE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PROPERTY_NAME_FIELD_NUMBER: _ClassVar[int]
    database_id: str
    kind: EntityKind
    property_name: str
    def __init__(self, database_id: _Optional[str] = ..., kind: _Optional[_Union[EntityKind, str]] = ..., property_name: _Optional[str] = ...) -> None: ...

class CreatePropertyRequest(_message.Message):
    __slots__ = ("database_id", "kind", "property_name", "value_type", "repeated", "indexed")
    DATABASE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PROPERTY_NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_TYPE_FIELD_NUMBER: _ClassVar[int]
    REPEATED_FIELD_NUMBER: _ClassVar[int]
    INDEXED_FIELD_NUMBER: _ClassVar[int]
    database_id: str
    kind: EntityKind
    property_name: str
    value_type: str
    repeated: bool
    indexed: bool
    def __init__(self, database_id: _Optional[str] = ..., kind: _Optional[_Union[EntityKind, str]] = ..., property_name: _Optional[str] = ..., value_type: _Optional[str] = ..., repeated: _Optional[bool] = ..., indexed: _Optional[bool] = ...) -> None: ...

class DeletePropertyRequest(_message.Message):
    __slots__ = ("database_id", "kind", "property_name")
    DATABASE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PROPERTY_NAME_FIELD_NUMBER: _ClassVar[int]
    database_id: str
    kind: EntityKind
    property_name: str
    def __init__(self, database_id: _Optional[str] = ..., kind: _Optional[_Union[EntityKind, str]] = ..., property_name: _Optional[str] = ...) -> None: ...

class DeletePropertyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetEntityRequest(_message.Message):
    __slots__ = ("database_id", "kind", "id", "properties")
    DATABASE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    database_id: str
    kind: EntityKind
    id: _value_pb2.Value
    properties: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, database_id: _Optional[str] = ..., kind: _Optional[_Union[EntityKind, str]] = ..., id: _Optional[_Union[_value_pb2.Value, _Mapping]] = ..., properties: _Optional[_Iterable[str]] = ...) -> None: ...

class PutEntityRequest(_message.Message):
    __slots__ = ("database_id", "kind", "entity", "wait_for_completion")
    DATABASE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    WAIT_FOR_COMPLETION_FIELD_NUMBER: _ClassVar[int]
    database_id: str
    kind: EntityKind
    entity: Entity
    wait_for_completion: bool
    def __init__(self, database_id: _Optional[str] = ..., kind: _Optional[_Union[EntityKind, str]] = ..., entity: _Optional[_Union[Entity, _Mapping]] = ..., wait_for_completion: _Optional[bool] = ...) -> None: ...

class WriteResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _task_pb2.Task
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ...) -> None: ...

class PatchEntityRequest(_message.Message):
    __slots__ = ("database_id", "kind", "entity", "create_if_missing")
    DATABASE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    CREATE_IF_MISSING_FIELD_NUMBER: _ClassVar[int]
    database_id: str
    kind: EntityKind
    entity: Entity
    create_if_missing: bool
    def __init__(self, database_id: _Optional[str] = ..., kind: _Optional[_Union[EntityKind, str]] = ..., entity: _Optional[_Union[Entity, _Mapping]] = ..., create_if_missing: _Optional[bool] = ...) -> None: ...

class PatchEntityResponse(_message.Message):
    __slots__ = ("created", "modified")
    CREATED_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_FIELD_NUMBER: _ClassVar[int]
    created: bool
    modified: bool
    def __init__(self, created: _Optional[bool] = ..., modified: _Optional[bool] = ...) -> None: ...

class DeleteEntityRequest(_message.Message):
    __slots__ = ("database_id", "kind", "id")
    DATABASE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    database_id: str
    kind: EntityKind
    id: _value_pb2.Value
    def __init__(self, database_id: _Optional[str] = ..., kind: _Optional[_Union[EntityKind, str]] = ..., id: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...

class DeleteEntityResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BulkPutRequest(_message.Message):
    __slots__ = ("database_id", "kind", "entities", "wait_for_completion")
    DATABASE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    WAIT_FOR_COMPLETION_FIELD_NUMBER: _ClassVar[int]
    database_id: str
    kind: EntityKind
    entities: _containers.RepeatedCompositeFieldContainer[Entity]
    wait_for_completion: bool
    def __init__(self, database_id: _Optional[str] = ..., kind: _Optional[_Union[EntityKind, str]] = ..., entities: _Optional[_Iterable[_Union[Entity, _Mapping]]] = ..., wait_for_completion: _Optional[bool] = ...) -> None: ...

class BulkPatchRequest(_message.Message):
    __slots__ = ("database_id", "kind", "entities", "create_if_missing", "wait_for_completion")
    DATABASE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    CREATE_IF_MISSING_FIELD_NUMBER: _ClassVar[int]
    WAIT_FOR_COMPLETION_FIELD_NUMBER: _ClassVar[int]
    database_id: str
    kind: EntityKind
    entities: _containers.RepeatedCompositeFieldContainer[Entity]
    create_if_missing: bool
    wait_for_completion: bool
    def __init__(self, database_id: _Optional[str] = ..., kind: _Optional[_Union[EntityKind, str]] = ..., entities: _Optional[_Iterable[_Union[Entity, _Mapping]]] = ..., create_if_missing: _Optional[bool] = ..., wait_for_completion: _Optional[bool] = ...) -> None: ...

class BulkDeleteRequest(_message.Message):
    __slots__ = ("database_id", "kind", "ids")
    DATABASE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    database_id: str
    kind: EntityKind
    ids: _containers.RepeatedCompositeFieldContainer[_value_pb2.Value]
    def __init__(self, database_id: _Optional[str] = ..., kind: _Optional[_Union[EntityKind, str]] = ..., ids: _Optional[_Iterable[_Union[_value_pb2.Value, _Mapping]]] = ...) -> None: ...

class BulkDeleteResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    def __init__(self, deleted: _Optional[int] = ...) -> None: ...

class BulkWriteRequest(_message.Message):
    __slots__ = ("database_id", "kind", "mode", "create_if_missing", "entities")
    DATABASE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    CREATE_IF_MISSING_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    database_id: str
    kind: EntityKind
    mode: WriteMode
    create_if_missing: bool
    entities: _containers.RepeatedCompositeFieldContainer[Entity]
    def __init__(self, database_id: _Optional[str] = ..., kind: _Optional[_Union[EntityKind, str]] = ..., mode: _Optional[_Union[WriteMode, str]] = ..., create_if_missing: _Optional[bool] = ..., entities: _Optional[_Iterable[_Union[Entity, _Mapping]]] = ...) -> None: ...

class BulkWriteResponse(_message.Message):
    __slots__ = ("chunks", "entities")
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    chunks: int
    entities: int
    def __init__(self, chunks: _Optional[int] = ..., entities: _Optional[int] = ...) -> None: ...

class ListByIdsRequest(_message.Message):
    __slots__ = ("database_id", "kind", "ids", "properties")
    DATABASE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    database_id: str
    kind: EntityKind
    ids: _containers.RepeatedCompositeFieldContainer[_value_pb2.Value]
    properties: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, database_id: _Optional[str] = ..., kind: _Optional[_Union[EntityKind, str]] = ..., ids: _Optional[_Iterable[_Union[_value_pb2.Value, _Mapping]]] = ..., properties: _Optional[_Iterable[str]] = ...) -> None: ...

class ListByIdsResponse(_message.Message):
    __slots__ = ("entities",)
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    entities: _containers.RepeatedCompositeFieldContainer[Entity]
    def __init__(self, entities: _Optional[_Iterable[_Union[Entity, _Mapping]]] = ...) -> None: ...

class ScanEntitiesRequest(_message.Message):
    __slots__ = ("database_id", "kind", "filters", "properties", "page_size", "cursor", "max_pages")
    DATABASE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    MAX_PAGES_FIELD_NUMBER: _ClassVar[int]
    database_id: str
    kind: EntityKind
    filters: _containers.RepeatedCompositeFieldContainer[Filter]
    properties: _containers.RepeatedScalarFieldContainer[str]
    page_size: int
    cursor: str
    max_pages: int
    def __init__(self, database_id: _Optional[str] = ..., kind: _Optional[_Union[EntityKind, str]] = ..., filters: _Optional[_Iterable[_Union[Filter, _Mapping]]] = ..., properties: _Optional[_Iterable[str]] = ..., page_size: _Optional[int] = ..., cursor: _Optional[str] = ..., max_pages: _Optional[int] = ...) -> None: ...

class ScanEntitiesResponse(_message.Message):
    __slots__ = ("entities", "has_next", "next_cursor")
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    HAS_NEXT_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    entities: _containers.RepeatedCompositeFieldContainer[Entity]
    has_next: bool
    next_cursor: str
    def __init__(self, entities: _Optional[_Iterable[_Union[Entity, _Mapping]]] = ..., has_next: _Optional[bool] = ..., next_cursor: _Optional[str] = ...) -> None: ...
