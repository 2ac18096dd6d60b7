import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Org(_message.Message):
    __slots__ = ("id", "name", "company_name", "address", "tech_contact_emali", "billing_contact_emali", "org_type", "created_at", "updated_at", "updated_by", "metadata_json")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COMPANY_NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TECH_CONTACT_EMALI_FIELD_NUMBER: _ClassVar[int]
    BILLING_CONTACT_EMALI_FIELD_NUMBER: _ClassVar[int]
    ORG_TYPE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    company_name: str
    address: str
    tech_contact_emali: str
    billing_contact_emali: str
    org_type: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    updated_by: str
    metadata_json: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., company_name: _Optional[str] = ..., address: _Optional[str] = ..., tech_contact_emali: _Optional[str] = ..., billing_contact_emali: _Optional[str] = ..., org_type: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[str] = ..., metadata_json: _Optional[str] = ...) -> None: ...

class GetOrgRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class UpdateOrgRequest(_message.Message):
    __slots__ = ("id", "name", "company_name", "address", "tech_contact_emali", "billing_contact_emali", "metadata_json", "preserve")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COMPANY_NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TECH_CONTACT_EMALI_FIELD_NUMBER: _ClassVar[int]
    BILLING_CONTACT_EMALI_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    PRESERVE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    company_name: str
    address: str
    tech_contact_emali: str
    billing_contact_emali: str
    metadata_json: str
    preserve: bool
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., company_name: _Optional[str] = ..., address: _Optional[str] = ..., tech_contact_emali: _Optional[str] = ..., billing_contact_emali: _Optional[str] = ..., metadata_json: _Optional[str] = ..., preserve: _Optional[bool] = ...) -> None: ...

class GetServicePropertyRequest(_message.Message):
    __slots__ = ("property",)
    PROPERTY_FIELD_NUMBER: _ClassVar[int]
    property: str
    def __init__(self, property: _Optional[str] = ...) -> None: ...

class ServiceProperty(_message.Message):
    __slots__ = ("org_id", "property", "database_shapes", "database_limits", "source_limits", "cluster_placement_json")
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    PROPERTY_FIELD_NUMBER: _ClassVar[int]
    DATABASE_SHAPES_FIELD_NUMBER: _ClassVar[int]
    DATABASE_LIMITS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LIMITS_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_PLACEMENT_JSON_FIELD_NUMBER: _ClassVar[int]
    org_id: str
    property: str
    database_shapes: DatabaseShapes
    database_limits: DatabaseLimits
    source_limits: SourceLimits
    cluster_placement_json: str
    def __init__(self, org_id: _Optional[str] = ..., property: _Optional[str] = ..., database_shapes: _Optional[_Union[DatabaseShapes, _Mapping]] = ..., database_limits: _Optional[_Union[DatabaseLimits, _Mapping]] = ..., source_limits: _Optional[_Union[SourceLimits, _Mapping]] = ..., cluster_placement_json: _Optional[str] = ...) -> None: ...

class DatabaseShapes(_message.Message):
    __slots__ = ("shapes", "query_base_url")
    SHAPES_FIELD_NUMBER: _ClassVar[int]
    QUERY_BASE_URL_FIELD_NUMBER: _ClassVar[int]
    shapes: _containers.RepeatedCompositeFieldContainer[DatabaseShape]
    query_base_url: str
    def __init__(self, shapes: _Optional[_Iterable[_Union[DatabaseShape, _Mapping]]] = ..., query_base_url: _Optional[str] = ...) -> None: ...

class DatabaseShape(_message.Message):
    __slots__ = ("name", "cpus", "memory_gb")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CPUS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_GB_FIELD_NUMBER: _ClassVar[int]
    name: str
    cpus: int
    memory_gb: float
    def __init__(self, name: _Optional[str] = ..., cpus: _Optional[int] = ..., memory_gb: _Optional[float] = ...) -> None: ...

class DatabaseLimits(_message.Message):
    __slots__ = ("max_databases", "max_payload_bytes")
    MAX_DATABASES_FIELD_NUMBER: _ClassVar[int]
    MAX_PAYLOAD_BYTES_FIELD_NUMBER: _ClassVar[int]
    max_databases: int
    max_payload_bytes: int
    def __init__(self, max_databases: _Optional[int] = ..., max_payload_bytes: _Optional[int] = ...) -> None: ...

class SourceLimits(_message.Message):
    __slots__ = ("max_sources",)
    MAX_SOURCES_FIELD_NUMBER: _ClassVar[int]
    max_sources: int
    def __init__(self, max_sources: _Optional[int] = ...) -> None: ...
