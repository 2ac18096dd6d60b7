import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Invite(_message.Message):
    __slots__ = ("id", "org_id", "org_name", "email", "accepted", "move_org", "created_at", "date_expiry", "updated_at", "updated_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_NAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    MOVE_ORG_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DATE_EXPIRY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    id: str
    org_id: str
    org_name: str
    email: str
    accepted: bool
    move_org: bool
    created_at: _timestamp_pb2.Timestamp
    date_expiry: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    updated_by: str
    def __init__(self, id: _Optional[str] = ..., org_id: _Optional[str] = ..., org_name: _Optional[str] = ..., email: _Optional[str] = ..., accepted: _Optional[bool] = ..., move_org: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., date_expiry: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[str] = ...) -> None: ...

class CreateInviteRequest(_message.Message):
    __slots__ = ("email",)
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    email: str
    def __init__(self, email: _Optional[str] = ...) -> None: ...

class GetInviteRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListInvitesRequest(_message.Message):
    __slots__ = ("next", "limit")
    NEXT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    next: str
    limit: int
    def __init__(self, next: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListInvitesResponse(_message.Message):
    __slots__ = ("next", "resources")
    NEXT_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    next: str
    resources: _containers.RepeatedCompositeFieldContainer[Invite]
    def __init__(self, next: _Optional[str] = ..., resources: _Optional[_Iterable[_Union[Invite, _Mapping]]] = ...) -> None: ...

class UpdateInviteRequest(_message.Message):
    __slots__ = ("id", "accepted")
    ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    id: str
    accepted: bool
    def __init__(self, id: _Optional[str] = ..., accepted: _Optional[bool] = ...) -> None: ...
