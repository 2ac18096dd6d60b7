from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(_message.Message):
    __slots__ = ("rolename", "org_id", "acl", "builtin")
    ROLENAME_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    ACL_FIELD_NUMBER: _ClassVar[int]
    BUILTIN_FIELD_NUMBER: _ClassVar[int]
    rolename: str
    org_id: str
    acl: _containers.RepeatedScalarFieldContainer[str]
    builtin: bool
    def __init__(self, rolename: _Optional[str] = ..., org_id: _Optional[str] = ..., acl: _Optional[_Iterable[str]] = ..., builtin: _Optional[bool] = ...) -> None: ...

class CreateRoleRequest(_message.Message):
    __slots__ = ("rolename", "acl")
    ROLENAME_FIELD_NUMBER: _ClassVar[int]
    ACL_FIELD_NUMBER: _ClassVar[int]
    rolename: str
    acl: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, rolename: _Optional[str] = ..., acl: _Optional[_Iterable[str]] = ...) -> None: ...

class GetRoleRequest(_message.Message):
    __slots__ = ("rolename",)
    ROLENAME_FIELD_NUMBER: _ClassVar[int]
    rolename: str
    def __init__(self, rolename: _Optional[str] = ...) -> None: ...

class ListRolesRequest(_message.Message):
    __slots__ = ("next", "limit")
    NEXT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    next: str
    limit: int
    def __init__(self, next: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListRolesResponse(_message.Message):
    __slots__ = ("next", "resources")
    NEXT_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    next: str
    resources: _containers.RepeatedCompositeFieldContainer[Role]
    def __init__(self, next: _Optional[str] = ..., resources: _Optional[_Iterable[_Union[Role, _Mapping]]] = ...) -> None: ...

class UpdateRoleRequest(_message.Message):
    __slots__ = ("rolename", "acl")
    ROLENAME_FIELD_NUMBER: _ClassVar[int]
    ACL_FIELD_NUMBER: _ClassVar[int]
    rolename: str
    acl: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, rolename: _Optional[str] = ..., acl: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteRoleRequest(_message.Message):
    __slots__ = ("rolename",)
    ROLENAME_FIELD_NUMBER: _ClassVar[int]
    rolename: str
    def __init__(self, rolename: _Optional[str] = ...) -> None: ...

class DeleteRoleResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
