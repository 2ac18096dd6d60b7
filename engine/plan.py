"""The plan IR: one tree of bitmap operations that PQL and SQL both lower into.

Lowering (engine/pql/lower.py, engine/sql/lower.py) resolves names against the schema, so a
plan holds field ids, row ids and stored integers — never user spellings. The executor
(engine/executor.py) runs a plan per shard and reduces the partial results.

Row nodes evaluate, per shard, to the bitmap of matching records. Call nodes are what a
request returns (a count, a row, pairs, groups …).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from engine.schema import STANDARD_VIEW

# --- row nodes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Empty:
    """No records (e.g. a key that does not exist)."""


@dataclass(frozen=True)
class Existence:
    """Every record of the index (All(); the base of Not and IS NULL)."""


@dataclass(frozen=True)
class RowOf:
    """Records holding row `row` of a set/mutex/bool/time field in any of `views`."""

    field: int
    row: int
    views: tuple[str, ...] = (STANDARD_VIEW,)


@dataclass(frozen=True)
class AnyRow:
    """Records holding any row of a set/mutex/bool/time field (its not-null set)."""

    field: int
    views: tuple[str, ...] = (STANDARD_VIEW,)


@dataclass(frozen=True)
class BsiRange:
    """Records of a BSI field with lo <= stored <= hi (stored units; None = unbounded).
    Records without a value never match."""

    field: int
    lo: Optional[int]
    hi: Optional[int]


@dataclass(frozen=True)
class BsiNotNull:
    field: int


@dataclass(frozen=True)
class Union_:
    children: tuple["RowNode", ...]


@dataclass(frozen=True)
class Intersect:
    children: tuple["RowNode", ...]


@dataclass(frozen=True)
class Difference:
    children: tuple["RowNode", ...]


@dataclass(frozen=True)
class Xor:
    children: tuple["RowNode", ...]


@dataclass(frozen=True)
class IdRange:
    """Existing records with lo <= id <= hi (hi None = unbounded)."""

    lo: int
    hi: Optional[int]


@dataclass(frozen=True)
class ConstRow:
    columns: tuple[int, ...]
    existing_only: bool = True


# Nodes below need every shard's partial result before they can answer, so the executor
# evaluates them once, globally, and then treats the result as a constant.

@dataclass(frozen=True)
class Shift:
    child: "RowNode"
    n: int


@dataclass(frozen=True)
class Limit:
    child: "RowNode"
    limit: Optional[int]
    offset: int = 0


@dataclass(frozen=True)
class DistinctRow:
    """Distinct values of a field among a filter's records, used as a row of record ids
    (FeatureBase's join primitive); `index` is the index evaluated, None = this one."""

    filter: Optional["RowNode"]
    field: int
    index: Optional[str] = None


@dataclass(frozen=True)
class UnionRows:
    rows: Union["RowsCall", "TopN"]


@dataclass(frozen=True)
class RowSet:
    """Records holding any row of a set/mutex/bool/time field whose id is in `ids` (None:
    any id; with `exclude`, any id but those) and within lo..hi (None: unbounded) — an IN
    list, a range over row ids, or "another member" of a set."""

    field: int
    views: tuple[str, ...] = (STANDARD_VIEW,)
    ids: Optional[frozenset[int]] = None
    lo: Optional[int] = None
    hi: Optional[int] = None
    exclude: bool = False


@dataclass(frozen=True)
class BsiIn:
    """Records of a BSI field whose stored value is one of `values` (sorted, stored units):
    ranges for runs of consecutive values, a lookup of the shard's values for many."""

    field: int
    values: tuple[int, ...]


# Nodes whose work is decided or done by the caller (SQL) at run time. They compare by
# identity: two of them are never the same node.

@dataclass(frozen=True, eq=False)
class Materialized:
    """A row already evaluated, per shard (a filter several calls share: evaluated once)."""

    parts: Any                  # Mapping[shard, FrozenBitmap]
    label: str = ""


_tokens = itertools.count()


class GlobalRef:
    """What a HostFilter or Deferred becomes when a task is pickled for a remote worker:
    their functions stay with the coordinator, which computes the row first and sends it
    among the task's global rows under this token."""

    __slots__ = ("token", "label")

    def __init__(self, token: int, label: str) -> None:
        self.token, self.label = token, label

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GlobalRef) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)

    def __reduce__(self) -> tuple[Any, ...]:
        return GlobalRef, (self.token, self.label)


@dataclass(frozen=True, eq=False)
class HostFilter:
    """The records of `child` for which a predicate evaluated record by record holds:
    `test(executor, shard, records) -> FrozenBitmap` (a subset of records)."""

    child: "RowNode"
    test: Any
    label: str = ""
    token: int = field(default_factory=lambda: next(_tokens), compare=False, repr=False)

    def __reduce__(self) -> tuple[Any, ...]:
        return GlobalRef, (self.token, self.label)


@dataclass(frozen=True, eq=False)
class Deferred:
    """A row known only at run time (the answer of a subquery): `resolve(executor)` gives
    the row node to evaluate, once per query."""

    resolve: Any
    label: str = ""
    token: int = field(default_factory=lambda: next(_tokens), compare=False, repr=False)

    def __reduce__(self) -> tuple[Any, ...]:
        return GlobalRef, (self.token, self.label)


RowNode = Union[Empty, Existence, RowOf, AnyRow, BsiRange, BsiNotNull, Union_, Intersect, Difference, Xor,
                ConstRow, IdRange, Shift, Limit, DistinctRow, UnionRows, RowSet, BsiIn, Materialized, HostFilter,
                Deferred, GlobalRef]
# rows that need every shard; a GlobalRef is one of them on a worker (it came computed)
GLOBAL_NODES = (Shift, Limit, DistinctRow, UnionRows, Deferred, GlobalRef)

# --- calls -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RowCall:
    """Return a row's records: {"columns": […]} (and keys on a keyed index)."""

    row: RowNode


@dataclass(frozen=True)
class Count:
    row: RowNode


@dataclass(frozen=True)
class CountDistinct:
    filter: Optional[RowNode]
    field: int
    index: Optional[str] = None


@dataclass(frozen=True)
class Sum:
    filter: Optional[RowNode]
    field: int


@dataclass(frozen=True)
class MinMax:
    filter: Optional[RowNode]
    field: int
    want_max: bool


@dataclass(frozen=True)
class MinMaxRow:
    filter: Optional[RowNode]
    field: int
    want_max: bool


@dataclass(frozen=True)
class Percentile:
    filter: Optional[RowNode]
    field: int
    nth: Any                    # Decimal/int in [0, 100]


@dataclass(frozen=True)
class FieldValue:
    field: int
    column: Optional[int]       # None: the key does not exist


@dataclass(frozen=True)
class IncludesColumn:
    row: RowNode
    column: Optional[int]


@dataclass(frozen=True)
class TopN:
    field: int
    filter: Optional[RowNode]
    n: int                      # 0 = all
    ids: Optional[tuple[int, ...]] = None
    threshold: int = 1
    tanimoto: int = 0
    views: tuple[str, ...] = (STANDARD_VIEW,)


@dataclass(frozen=True)
class RowsCall:
    field: int
    views: tuple[str, ...] = (STANDARD_VIEW,)
    previous: Optional[int] = None
    limit: Optional[int] = None
    column: Optional[int] = None
    like: Optional[str] = None
    in_: Optional[tuple[int, ...]] = None
    column_missing: bool = False     # column= named a key that does not exist


@dataclass(frozen=True)
class Aggregate:
    kind: str                   # "sum" or "count_distinct"
    field: int
    filter: Optional[RowNode] = None


@dataclass(frozen=True)
class Having:
    subject: str                # "count" or "sum"
    lo: Optional[Any]
    lo_inclusive: bool
    hi: Optional[Any]
    hi_inclusive: bool


@dataclass(frozen=True)
class GroupBy:
    rows: tuple[RowsCall, ...]
    filter: Optional[RowNode] = None
    limit: Optional[int] = None
    offset: int = 0
    aggregate: Optional[Aggregate] = None
    having: Optional[Having] = None
    sort: tuple[tuple[str, bool], ...] = ()     # (("count"|"sum"|"aggregate", descending), …)


@dataclass(frozen=True)
class SortRows:
    filter: RowNode
    field: int
    desc: bool = False
    limit: Optional[int] = None
    offset: int = 0


@dataclass(frozen=True)
class Distinct:
    filter: Optional[RowNode]
    field: int
    index: Optional[str] = None


@dataclass(frozen=True)
class Extract:
    filter: Union[RowNode, SortRows]
    fields: tuple[int, ...]


@dataclass(frozen=True)
class Options:
    call: "CallNode"
    shards: Optional[tuple[int, ...]] = None


# --- writes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetValue:
    column: Any                 # id or key, translated at execution (keys may be created)
    field: str
    value: Any
    timestamp: Any = None


@dataclass(frozen=True)
class ClearValue:
    column: Any
    field: str
    value: Any = None


@dataclass(frozen=True)
class ClearRow:
    field: str
    value: Any


@dataclass(frozen=True)
class Store:
    row: RowNode
    field: str
    value: Any


@dataclass(frozen=True)
class Delete:
    row: RowNode


WRITE_CALLS = (SetValue, ClearValue, ClearRow, Store, Delete)

CallNode = Union[RowCall, Count, CountDistinct, Sum, MinMax, MinMaxRow, Percentile, FieldValue, IncludesColumn,
                 TopN, RowsCall, GroupBy, SortRows, Distinct, Extract, Options, SetValue, ClearValue, ClearRow,
                 Store, Delete]
