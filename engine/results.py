"""PQL results: one typed value per call, each with `to_json()` giving FeatureBase's JSON
shape (semantics §14).

The executor builds these; faces map them by class (never by the keys of a dict), and
`Holder.query` answers their JSON. A result wraps the lists the executor already built:
nothing is copied or converted per record until a face asks for its form.

    Row, Union, … , Sort    RowResult          {"columns": [...]} | {"columns": [], "keys": [...]}
    Distinct (set field)    DistinctRows       {"columns": [...]} (+ "keys": [...])
    Distinct (int/decimal)  SignedRow          {"neg": {"columns": [...]}, "pos": {"columns": [...]}}
    Distinct (others)       DistinctValues     [...]
    Count, CountDistinct    Count              n
    writes, IncludesColumn  Bool               true | false
    Sum, Min, Max, …        ValCount           {"value", "floatValue", "decimalValue", "timestampValue", "count"}
    Percentile of nothing   Nil                null
    MinRow, MaxRow          Pair               {"id", "key", "count"}
    TopN, TopK              Pairs              [{"id", "key", "count"}, ...]
    Rows                    RowIdentifiers     {"rows": [...]} | {"rows": null, "keys": [...]}
    GroupBy                 GroupCounts        [{"group": [...], "count": n (, "sum" | "aggregate")}, ...]
    Extract                 ExtractedTable     {"fields": [...], "columns": [{"column", "rows"}, ...]}

Decimals are decimal.Decimal; timestamps RFC 3339 text (datetimes inside ValCount).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Optional

ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(t: _dt.datetime) -> str:
    """The engine's one RFC 3339 form: UTC with "Z", a fraction only when there is one and
    without trailing zeros (FeatureBase's); a naive datetime is taken as UTC. (The client SDK,
    which imports no engine, has the same function: server.client.rfc3339.)"""
    t = t.astimezone(_dt.timezone.utc) if t.tzinfo else t
    s = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        s += f".{t.microsecond:06d}".rstrip("0")
    return s + "Z"


class Result:
    """One PQL call's answer. `kind` names its kind as FeatureBase's result types do (the
    member of query.proto's PqlResult that carries it): what a face that only needs the
    kind, not the class, switches on."""

    __slots__ = ()
    kind: ClassVar[str]

    def to_json(self) -> Any:
        """FeatureBase's JSON form (plain dicts, lists and scalars; Decimal for decimals)."""
        raise NotImplementedError


@dataclass(slots=True)
class Nil(Result):
    """No value (Percentile over no records)."""

    kind: ClassVar[str] = "nil"

    def to_json(self) -> None:
        return None


@dataclass(slots=True)
class Count(Result):
    kind: ClassVar[str] = "count"
    n: int

    def to_json(self) -> int:
        return self.n


@dataclass(slots=True)
class Bool(Result):
    """Whether a write changed anything, or IncludesColumn's answer."""

    kind: ClassVar[str] = "changed"
    value: bool

    def to_json(self) -> bool:
        return self.value


@dataclass(slots=True)
class RowResult(Result):
    """A set of records: their ids ascending, and on a keyed index their keys (unknown ones
    left out). FeatureBase answers a keyed index's records by key only."""

    kind: ClassVar[str] = "row"
    columns: list[int]
    keys: Optional[list[str]] = None

    @classmethod
    def of(cls, columns: list[int], keys: Optional[list[Optional[str]]] = None) -> "RowResult":
        if keys is None or not columns:
            return cls(columns)
        return cls(columns, [k for k in keys if k is not None])

    def to_json(self) -> dict[str, Any]:
        if self.keys is not None:
            return {"columns": [], "keys": self.keys}
        return {"columns": self.columns}


@dataclass(slots=True)
class DistinctRows(Result):
    """Distinct on a set-like field: the row ids (and their keys on a keyed field)."""

    kind: ClassVar[str] = "row"
    ids: list[int]
    keys: Optional[list[Optional[str]]] = None

    def to_json(self) -> dict[str, Any]:
        if self.keys is not None:
            return {"columns": self.ids, "keys": self.keys}
        return {"columns": self.ids}


@dataclass(slots=True)
class SignedRow(Result):
    """Distinct on an int or decimal field: negative values (ascending) and the rest."""

    kind: ClassVar[str] = "signed_row"
    neg: list[Any]
    pos: list[Any]

    def to_json(self) -> dict[str, Any]:
        return {"neg": {"columns": self.neg}, "pos": {"columns": self.pos}}


@dataclass(slots=True)
class DistinctValues(Result):
    """Distinct on a timestamp (RFC 3339 text) or float field."""

    kind: ClassVar[str] = "values"
    values: list[Any]

    def to_json(self) -> list[Any]:
        return self.values


@dataclass(slots=True)
class ValCount(Result):
    """A value and how many records hold it (or the sum and how many were summed).
    `field_type` is the field's: int, float, decimal or timestamp; value None: no value."""

    kind: ClassVar[str] = "val_count"
    value: Any
    count: int
    field_type: str = "int"

    def to_json(self) -> dict[str, Any]:
        """FeatureBase's ValCount: every key always present; only the one matching the field
        type carries the value."""
        out: dict[str, Any] = {"value": 0, "floatValue": 0.0, "decimalValue": None,
                               "timestampValue": ZERO_TIME, "count": self.count}
        v, kind = self.value, self.field_type
        if v is None:
            return out
        if kind == "decimal":
            out["decimalValue"] = v if isinstance(v, Decimal) else Decimal(v)
        elif kind == "timestamp":
            out["timestampValue"] = rfc3339(v)
        elif kind == "float":
            out["floatValue"] = float(v)
        else:
            out["value"] = int(v)
        return out


def _pair_json(row_id: int, key: Optional[str], count: int) -> dict[str, Any]:
    if key is not None:
        return {"id": 0, "key": key, "count": count}
    return {"id": row_id, "key": "", "count": count}


@dataclass(slots=True)
class Pair(Result):
    """One row and its count (MinRow, MaxRow); key None on an unkeyed field."""

    kind: ClassVar[str] = "pair"
    id: int
    key: Optional[str]
    count: int

    def to_json(self) -> dict[str, Any]:
        return _pair_json(self.id, self.key, self.count)


@dataclass(slots=True)
class Pairs(Result):
    """Rows ranked by count (TopN, TopK): aligned lists; keys None on an unkeyed field
    (an element None: a row without a key)."""

    kind: ClassVar[str] = "pairs"
    ids: list[int]
    counts: list[int]
    keys: Optional[list[Optional[str]]] = None

    def to_json(self) -> list[dict[str, Any]]:
        if self.keys is None:
            return [{"id": i, "key": "", "count": c} for i, c in zip(self.ids, self.counts)]
        return [_pair_json(i, k, c) for i, k, c in zip(self.ids, self.keys, self.counts)]


@dataclass(slots=True)
class RowIdentifiers(Result):
    """Rows: row ids ascending, or on a keyed field their keys (unknown ones left out)."""

    kind: ClassVar[str] = "row_identifiers"
    rows: list[int]
    keys: Optional[list[str]] = None

    @classmethod
    def of(cls, rows: list[int], keys: Optional[list[Optional[str]]] = None) -> "RowIdentifiers":
        return cls(rows, None if keys is None else [k for k in keys if k is not None])

    def to_json(self) -> dict[str, Any]:
        if self.keys is not None:
            return {"rows": None, "keys": self.keys}
        return {"rows": self.rows}


@dataclass(slots=True)
class GroupCounts(Result):
    """GroupBy: the groups, already in FeatureBase's form (engine/groupby.py builds them
    sharing one entry per child row)."""

    kind: ClassVar[str] = "group_counts"
    groups: list[dict[str, Any]]

    def to_json(self) -> list[dict[str, Any]]:
        return self.groups


@dataclass(slots=True)
class ExtractedTable(Result):
    """Extract: the fields ({"name", "type"}), and per record its id (or key) and one value
    per field, in field order."""

    kind: ClassVar[str] = "extracted_table"
    fields: list[dict[str, str]]
    columns: list[Any]
    rows: list[list[Any]]

    def to_json(self) -> dict[str, Any]:
        return {"fields": self.fields,
                "columns": [{"column": c, "rows": r} for c, r in zip(self.columns, self.rows)]}
