"""Result shapes: plain Python values in FeatureBase's JSON shapes (semantics §14).

Row → {"columns": [...]} (keyed index: {"columns": [], "keys": [...]}), Count → int,
Sum/Min/Max/Percentile/FieldValue → ValCount, TopN/TopK → [Pair], Rows → RowIdentifiers,
GroupBy → [GroupCount], Distinct on a BSI field → SignedRow, Extract → ExtractedTable,
writes and IncludesColumn → bool. Decimals are decimal.Decimal; timestamps RFC3339 strings.
"""
from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Any, Iterable, Optional

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


def row_result(columns: list[int], keys: Optional[list[Optional[str]]] = None) -> dict[str, Any]:
    if keys is not None and columns:
        return {"columns": [], "keys": [k for k in keys if k is not None]}
    return {"columns": columns}


def val_count(value: Any = None, count: int = 0, kind: str = "int") -> dict[str, Any]:
    """FeatureBase's ValCount: every key always present; only the one matching the field
    type carries the value."""
    out: dict[str, Any] = {"value": 0, "floatValue": 0.0, "decimalValue": None,
                           "timestampValue": ZERO_TIME, "count": count}
    if value is None:
        return out
    if kind == "decimal":
        out["decimalValue"] = value if isinstance(value, Decimal) else Decimal(value)
    elif kind == "timestamp":
        out["timestampValue"] = rfc3339(value)
    elif kind == "float":
        out["floatValue"] = float(value)
    else:
        out["value"] = int(value)
    return out


def pair(row_id: int, key: Optional[str], count: int) -> dict[str, Any]:
    if key is not None:
        return {"id": 0, "key": key, "count": count}
    return {"id": row_id, "key": "", "count": count}


def row_identifiers(ids: list[int], keys: Optional[list[Optional[str]]]) -> dict[str, Any]:
    if keys is not None:
        return {"rows": None, "keys": [k for k in keys if k is not None]}
    return {"rows": ids}


def signed_row(values: Iterable[int]) -> dict[str, Any]:
    vals = sorted(values)
    return {"neg": {"columns": sorted(-v for v in vals if v < 0)}, "pos": {"columns": [v for v in vals if v >= 0]}}
