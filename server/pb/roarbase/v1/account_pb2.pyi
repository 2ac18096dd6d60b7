import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccountKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNT_KIND_UNSPECIFIED: _ClassVar[AccountKind]
    ACCOUNT_KIND_INDIVIDUAL: _ClassVar[AccountKind]
    ACCOUNT_KIND_SERVICE: _ClassVar[AccountKind]

class AccountStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNT_STATUS_UNSPECIFIED: _ClassVar[AccountStatus]
    ACCOUNT_STATUS_ACTIVE: _ClassVar[AccountStatus]
    ACCOUNT_STATUS_DEACTIVATED: _ClassVar[AccountStatus]
ACCOUNT_KIND_UNSPECIFIED: AccountKind
ACCOUNT_KIND_INDIVIDUAL: AccountKind
ACCOUNT_KIND_SERVICE: AccountKind
ACCOUNT_STATUS_UNSPECIFIED: AccountStatus
ACCOUNT_STATUS_ACTIVE: AccountStatus
ACCOUNT_STATUS_DEACTIVATED: AccountStatus

class Account(_message.Message):
    __slots__ = ("id", "org_id", "org_name", "idp_id", "username", "firstname", "lastname", "status", "acl", "roles", "primary_email", "created_at", "updated_at", "updated_by", "kind")
    ID_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_NAME_FIELD_NUMBER: _ClassVar[int]
    IDP_ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    FIRSTNAME_FIELD_NUMBER: _ClassVar[int]
    LASTNAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ACL_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_EMAIL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    id: str
    org_id: str
    org_name: str
    idp_id: str
    username: str
    firstname: str
    lastname: str
    status: AccountStatus
    acl: _containers.RepeatedScalarFieldContainer[str]
    roles: _containers.RepeatedScalarFieldContainer[str]
    primary_email: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    updated_by: str
    kind: AccountKind
    def __init__(self, id: _Optional[str] = ..., org_id: _Optional[str] = ..., org_name: _Optional[str] = ..., idp_id: _Optional[str] = ..., username: _Optional[str] = ..., firstname: _Optional[str] = ..., lastname: _Optional[str] = ..., status: _Optional[_Union[AccountStatus, str]] = ..., acl: _Optional[_Iterable[str]] = ..., roles: _Optional[_Iterable[str]] = ..., primary_email: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[str] = ..., kind: _Optional[_Union[AccountKind, str]] = ...) -> None: ...

class CreateAccountRequest(_message.Message):
    __slots__ = ("kind", "email", "name", "firstname", "lastname", "role", "password")
    KIND_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FIRSTNAME_FIELD_NUMBER: _ClassVar[int]
    LASTNAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    kind: AccountKind
    email: str
    name: str
    firstname: str
    lastname: str
    role: str
    password: str
    def __init__(self, kind: _Optional[_Union[AccountKind, str]] = ..., email: _Optional[str] = ..., name: _Optional[str] = ..., firstname: _Optional[str] = ..., lastname: _Optional[str] = ..., role: _Optional[str] = ..., password: _Optional[str] = ...) -> None: ...

class GetAccountRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetCurrentAccountRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UpdateAccountRequest(_message.Message):
    __slots__ = ("id", "firstname", "lastname", "acl", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    FIRSTNAME_FIELD_NUMBER: _ClassVar[int]
    LASTNAME_FIELD_NUMBER: _ClassVar[int]
    ACL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    firstname: str
    lastname: str
    acl: StringList
    status: AccountStatus
    def __init__(self, id: _Optional[str] = ..., firstname: _Optional[str] = ..., lastname: _Optional[str] = ..., acl: _Optional[_Union[StringList, _Mapping]] = ..., status: _Optional[_Union[AccountStatus, str]] = ...) -> None: ...

class StringList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class ListAccountsRequest(_message.Message):
    __slots__ = ("next", "limit")
    NEXT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    next: str
    limit: int
    def __init__(self, next: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListAccountsResponse(_message.Message):
    __slots__ = ("next", "resources")
    NEXT_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    next: str
    resources: _containers.RepeatedCompositeFieldContainer[Account]
    def __init__(self, next: _Optional[str] = ..., resources: _Optional[_Iterable[_Union[Account, _Mapping]]] = ...) -> None: ...

class AddAccountRolesRequest(_message.Message):
    __slots__ = ("id", "rolenames")
    ID_FIELD_NUMBER: _ClassVar[int]
    ROLENAMES_FIELD_NUMBER: _ClassVar[int]
    id: str
    rolenames: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., rolenames: _Optional[_Iterable[str]] = ...) -> None: ...

class AccountRoles(_message.Message):
    __slots__ = ("user_id", "org_id", "rolenames")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    ROLENAMES_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    org_id: str
    rolenames: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, user_id: _Optional[str] = ..., org_id: _Optional[str] = ..., rolenames: _Optional[_Iterable[str]] = ...) -> None: ...

class MoveAccountOrgRequest(_message.Message):
    __slots__ = ("id", "invite_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    INVITE_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    invite_id: str
    def __init__(self, id: _Optional[str] = ..., invite_id: _Optional[str] = ...) -> None: ...

class DeleteAccountRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteAccountResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
