from server.pb.roarbase.v1 import value_pb2 as _value_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SqlRequest(_message.Message):
    __slots__ = ("database_id", "sql")
    DATABASE_ID_FIELD_NUMBER: _ClassVar[int]
    SQL_FIELD_NUMBER: _ClassVar[int]
    database_id: str
    sql: str
    def __init__(self, database_id: _Optional[str] = ..., sql: _Optional[str] = ...) -> None: ...

class SqlResponse(_message.Message):
    __slots__ = ("header", "rows", "stats")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    header: SqlSchema
    rows: SqlRowBatch
    stats: SqlStats
    def __init__(self, header: _Optional[_Union[SqlSchema, _Mapping]] = ..., rows: _Optional[_Union[SqlRowBatch, _Mapping]] = ..., stats: _Optional[_Union[SqlStats, _Mapping]] = ...) -> None: ...

class SqlSchema(_message.Message):
    __slots__ = ("fields",)
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    fields: _containers.RepeatedCompositeFieldContainer[SqlColumn]
    def __init__(self, fields: _Optional[_Iterable[_Union[SqlColumn, _Mapping]]] = ...) -> None: ...

class SqlColumn(_message.Message):
    __slots__ = ("name", "type", "base_type", "type_info")
    class TypeInfoEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _value_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    BASE_TYPE_FIELD_NUMBER: _ClassVar[int]
    TYPE_INFO_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    base_type: str
    type_info: _containers.MessageMap[str, _value_pb2.Value]
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., base_type: _Optional[str] = ..., type_info: _Optional[_Mapping[str, _value_pb2.Value]] = ...) -> None: ...

class SqlRowBatch(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[SqlRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[SqlRow, _Mapping]]] = ...) -> None: ...

class SqlRow(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[_value_pb2.Value]
    def __init__(self, values: _Optional[_Iterable[_Union[_value_pb2.Value, _Mapping]]] = ...) -> None: ...

class SqlStats(_message.Message):
    __slots__ = ("row_count", "rows_affected", "execution_time_us", "warnings", "query_plan")
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    ROWS_AFFECTED_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_US_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    QUERY_PLAN_FIELD_NUMBER: _ClassVar[int]
    row_count: int
    rows_affected: int
    execution_time_us: int
    warnings: _containers.RepeatedScalarFieldContainer[str]
    query_plan: str
    def __init__(self, row_count: _Optional[int] = ..., rows_affected: _Optional[int] = ..., execution_time_us: _Optional[int] = ..., warnings: _Optional[_Iterable[str]] = ..., query_plan: _Optional[str] = ...) -> None: ...

class PqlRequest(_message.Message):
    __slots__ = ("database_id", "table", "statement")
    DATABASE_ID_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    database_id: str
    table: str
    statement: str
    def __init__(self, database_id: _Optional[str] = ..., table: _Optional[str] = ..., statement: _Optional[str] = ...) -> None: ...

class PqlResponse(_message.Message):
    __slots__ = ("results", "execution_time_us")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_US_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[PqlResult]
    execution_time_us: int
    def __init__(self, results: _Optional[_Iterable[_Union[PqlResult, _Mapping]]] = ..., execution_time_us: _Optional[int] = ...) -> None: ...

class PqlStreamResponse(_message.Message):
    __slots__ = ("result", "stats")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    result: PqlResultPart
    stats: PqlStats
    def __init__(self, result: _Optional[_Union[PqlResultPart, _Mapping]] = ..., stats: _Optional[_Union[PqlStats, _Mapping]] = ...) -> None: ...

class PqlResultPart(_message.Message):
    __slots__ = ("call_index", "result", "last")
    CALL_INDEX_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    call_index: int
    result: PqlResult
    last: bool
    def __init__(self, call_index: _Optional[int] = ..., result: _Optional[_Union[PqlResult, _Mapping]] = ..., last: _Optional[bool] = ...) -> None: ...

class PqlStats(_message.Message):
    __slots__ = ("execution_time_us",)
    EXECUTION_TIME_US_FIELD_NUMBER: _ClassVar[int]
    execution_time_us: int
    def __init__(self, execution_time_us: _Optional[int] = ...) -> None: ...

class PqlResult(_message.Message):
    __slots__ = ("row", "count", "pairs", "val_count", "changed", "group_counts", "row_identifiers", "signed_row", "extracted_table", "values", "pair")
    ROW_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    VAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    GROUP_COUNTS_FIELD_NUMBER: _ClassVar[int]
    ROW_IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    SIGNED_ROW_FIELD_NUMBER: _ClassVar[int]
    EXTRACTED_TABLE_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    PAIR_FIELD_NUMBER: _ClassVar[int]
    row: RowResult
    count: int
    pairs: Pairs
    val_count: ValCount
    changed: bool
    group_counts: GroupCounts
    row_identifiers: RowIdentifiers
    signed_row: SignedRow
    extracted_table: ExtractedTable
    values: _value_pb2.ValueList
    pair: Pair
    def __init__(self, row: _Optional[_Union[RowResult, _Mapping]] = ..., count: _Optional[int] = ..., pairs: _Optional[_Union[Pairs, _Mapping]] = ..., val_count: _Optional[_Union[ValCount, _Mapping]] = ..., changed: _Optional[bool] = ..., group_counts: _Optional[_Union[GroupCounts, _Mapping]] = ..., row_identifiers: _Optional[_Union[RowIdentifiers, _Mapping]] = ..., signed_row: _Optional[_Union[SignedRow, _Mapping]] = ..., extracted_table: _Optional[_Union[ExtractedTable, _Mapping]] = ..., values: _Optional[_Union[_value_pb2.ValueList, _Mapping]] = ..., pair: _Optional[_Union[Pair, _Mapping]] = ...) -> None: ...

class RowResult(_message.Message):
    __slots__ = ("columns", "keys")
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedScalarFieldContainer[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, columns: _Optional[_Iterable[int]] = ..., keys: _Optional[_Iterable[str]] = ...) -> None: ...

class Pairs(_message.Message):
    __slots__ = ("pairs",)
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    pairs: _containers.RepeatedCompositeFieldContainer[Pair]
    def __init__(self, pairs: _Optional[_Iterable[_Union[Pair, _Mapping]]] = ...) -> None: ...

class Pair(_message.Message):
    __slots__ = ("id", "key", "count")
    ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    id: int
    key: str
    count: int
    def __init__(self, id: _Optional[int] = ..., key: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class ValCount(_message.Message):
    __slots__ = ("value", "count")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    value: _value_pb2.Value
    count: int
    def __init__(self, value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ..., count: _Optional[int] = ...) -> None: ...

class GroupCounts(_message.Message):
    __slots__ = ("groups",)
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.RepeatedCompositeFieldContainer[GroupCount]
    def __init__(self, groups: _Optional[_Iterable[_Union[GroupCount, _Mapping]]] = ...) -> None: ...

class GroupCount(_message.Message):
    __slots__ = ("group", "count", "sum", "aggregate")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SUM_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_FIELD_NUMBER: _ClassVar[int]
    group: _containers.RepeatedCompositeFieldContainer[FieldRow]
    count: int
    sum: _value_pb2.Value
    aggregate: int
    def __init__(self, group: _Optional[_Iterable[_Union[FieldRow, _Mapping]]] = ..., count: _Optional[int] = ..., sum: _Optional[_Union[_value_pb2.Value, _Mapping]] = ..., aggregate: _Optional[int] = ...) -> None: ...

class FieldRow(_message.Message):
    __slots__ = ("field", "row_id", "row_key", "value")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    ROW_ID_FIELD_NUMBER: _ClassVar[int]
    ROW_KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    field: str
    row_id: int
    row_key: str
    value: _value_pb2.Value
    def __init__(self, field: _Optional[str] = ..., row_id: _Optional[int] = ..., row_key: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...

class RowIdentifiers(_message.Message):
    __slots__ = ("rows", "keys")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedScalarFieldContainer[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, rows: _Optional[_Iterable[int]] = ..., keys: _Optional[_Iterable[str]] = ...) -> None: ...

class SignedRow(_message.Message):
    __slots__ = ("neg", "pos")
    NEG_FIELD_NUMBER: _ClassVar[int]
    POS_FIELD_NUMBER: _ClassVar[int]
    neg: _containers.RepeatedCompositeFieldContainer[_value_pb2.Value]
    pos: _containers.RepeatedCompositeFieldContainer[_value_pb2.Value]
    def __init__(self, neg: _Optional[_Iterable[_Union[_value_pb2.Value, _Mapping]]] = ..., pos: _Optional[_Iterable[_Union[_value_pb2.Value, _Mapping]]] = ...) -> None: ...

class ExtractedTable(_message.Message):
    __slots__ = ("fields", "columns")
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    fields: _containers.RepeatedCompositeFieldContainer[ExtractedField]
    columns: _containers.RepeatedCompositeFieldContainer[ExtractedColumn]
    def __init__(self, fields: _Optional[_Iterable[_Union[ExtractedField, _Mapping]]] = ..., columns: _Optional[_Iterable[_Union[ExtractedColumn, _Mapping]]] = ...) -> None: ...

class ExtractedField(_message.Message):
    __slots__ = ("name", "type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ...) -> None: ...

class ExtractedColumn(_message.Message):
    __slots__ = ("column", "rows")
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    column: _value_pb2.Value
    rows: _containers.RepeatedCompositeFieldContainer[_value_pb2.Value]
    def __init__(self, column: _Optional[_Union[_value_pb2.Value, _Mapping]] = ..., rows: _Optional[_Iterable[_Union[_value_pb2.Value, _Mapping]]] = ...) -> None: ...
