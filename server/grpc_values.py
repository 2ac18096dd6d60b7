"""Python values <-> roarbase.v1 protobuf messages, for the gRPC face.

The service layer returns plain Python: dataclasses for resources, `SqlResult` rows (ints,
Decimal, datetime, str, bool, lists, None) and typed PQL results (engine.Result: one class
per result kind). This module packs them into the typed messages of the .proto files,
choosing the message by the result's class; nothing here calls a service or knows about
authorization.

Value mapping (value.proto, docs/grpc.md):
- SQL NULL / a missing value -> `Value.null` (the proto's explicit NULL kind);
- `id` columns, record and row ids -> `uint` (uint64: ids above 2**63 stay exact);
- `int` columns and BSI values -> `int` (zigzag sint64);
- `decimal(s)` -> `Decimal{value, scale}` with the column's declared scale, never a double;
- `timestamp` -> google.protobuf.Timestamp (UTC);
- `string` -> `text`, `bool` -> `bool`, set-like columns -> `list` of `uint` or `text`.

Entities (entity.proto) are typed by their table's schema instead: ids and values by
their id / value type (`uint` for uintN, `int` for intN, `raw` for bytesN, ...), and read
back from Values without a schema (`plain`), since the entity table checks and
canonicalises every value itself.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from decimal import Decimal
from collections.abc import MutableSequence
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence, cast

from google.protobuf import struct_pb2
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

import engine
from server.pb.roarbase.v1 import (
    account_pb2,
    auth_pb2,
    database_pb2,
    entity_pb2,
    invite_pb2,
    org_pb2,
    query_pb2,
    role_pb2,
    task_pb2,
    value_pb2,
)
from server.service.errors import InvalidParameter

INT64_MIN, INT64_MAX, UINT64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1
_DECIMAL_TYPE = re.compile(r"decimal\((\d+)\)\Z")
_ZERO_DATETIME = dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc)  # FeatureBase's "no timestamp" in a ValCount

Converter = Callable[[Any], value_pb2.Value]


# -- scalars -----------------------------------------------------------------------------

def timestamp(seconds: Optional[float]) -> Optional[Timestamp]:
    """A Timestamp for Unix seconds (the service layer's clock), None for None."""
    if seconds is None:
        return None
    ts = Timestamp()
    ts.FromNanoseconds(round(seconds * 1e9))
    return ts


def seconds(ts: Timestamp) -> float:
    """Unix seconds of a Timestamp."""
    return ts.seconds + ts.nanos / 1e9


def _timestamp_of(value: Any) -> Timestamp:
    ts = Timestamp()
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # the engine's datetimes are UTC; never guess a local zone
            value = value.replace(tzinfo=dt.timezone.utc)
        ts.FromDatetime(value.astimezone(dt.timezone.utc))
    else:
        ts.FromJsonString(str(value))
    return ts


def null() -> value_pb2.Value:
    return value_pb2.Value(null=struct_pb2.NULL_VALUE)


def decimal_value(value: Decimal, scale: Optional[int] = None) -> value_pb2.Value:
    """An exact Decimal message at `scale` (default: the value's own digits after the
    point). A value with more digits than the scale keeps them (the scale grows), so
    nothing is rounded; one beyond int64 unscaled is sent as text rather than wrong."""
    own = max(0, -int(value.as_tuple().exponent)) if value.is_finite() else 0
    scale = own if scale is None else max(scale, own)
    unscaled = int(value.scaleb(scale)) if value.is_finite() else None
    if unscaled is None or not INT64_MIN <= unscaled <= INT64_MAX:
        return value_pb2.Value(text=str(value))
    return value_pb2.Value(decimal=value_pb2.Decimal(value=unscaled, scale=scale))


def value(v: Any) -> value_pb2.Value:
    """A Value chosen by the Python type (when no column type says better)."""
    if v is None:
        return null()
    if isinstance(v, bool):
        return value_pb2.Value(bool=v)
    if isinstance(v, int):
        if INT64_MIN <= v <= INT64_MAX:
            return value_pb2.Value(int=v)
        if 0 <= v <= UINT64_MAX:
            return value_pb2.Value(uint=v)
        return value_pb2.Value(text=str(v))
    if isinstance(v, float):
        return value_pb2.Value(float=v)
    if isinstance(v, Decimal):
        return decimal_value(v)
    if isinstance(v, dt.datetime):
        return value_pb2.Value(timestamp=_timestamp_of(v))
    if isinstance(v, str):
        return value_pb2.Value(text=v)
    if isinstance(v, (bytes, bytearray)):
        return value_pb2.Value(raw=bytes(v))
    if isinstance(v, (list, tuple)):
        return value_pb2.Value(list=value_pb2.ValueList(values=[value(x) for x in v]))
    return value_pb2.Value(text=str(v))


def _uint(v: Any) -> value_pb2.Value:
    if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= UINT64_MAX:
        return value_pb2.Value(uint=v)
    return value(v)


def _as_timestamp(v: Any) -> value_pb2.Value:
    """A timestamp Value from a datetime or RFC 3339 text (PQL results carry text)."""
    if isinstance(v, (dt.datetime, str)):
        try:
            return value_pb2.Value(timestamp=_timestamp_of(v))
        except ValueError:
            pass
    return value(v)


def _nullable(convert: Converter) -> Converter:
    return lambda v: null() if v is None else convert(v)


def _list_of(convert: Converter) -> Converter:
    return lambda v: value_pb2.Value(list=value_pb2.ValueList(values=[convert(x) for x in v])) \
        if isinstance(v, (list, tuple)) else value(v)


def _decimal_at(scale: Optional[int]) -> Converter:
    return lambda v: decimal_value(v if isinstance(v, Decimal) else Decimal(str(v)), scale)


def base_type(sql_type: str) -> str:
    """"decimal(2)" -> "decimal": the type without its parameters."""
    return sql_type.split("(", 1)[0]


def converter(sql_type: str) -> Converter:
    """How the values of a column of this SQL type become Values."""
    base = base_type(sql_type)
    if base == "id":
        return _nullable(_uint)
    if base == "decimal":
        m = _DECIMAL_TYPE.match(sql_type)
        return _nullable(_decimal_at(int(m.group(1)) if m else None))
    if base == "timestamp":
        return _nullable(_as_timestamp)
    if base in ("idset", "idsetq"):
        return _nullable(_list_of(_uint))
    return value


# -- SQL ---------------------------------------------------------------------------------

def sql_column(name: str, sql_type: str) -> query_pb2.SqlColumn:
    """One header column: FeatureBase's name, type, base-type and type-info."""
    col = query_pb2.SqlColumn(name=name, type=sql_type, base_type=base_type(sql_type))
    m = _DECIMAL_TYPE.match(sql_type)
    if m:
        col.type_info["scale"].CopyFrom(value_pb2.Value(int=int(m.group(1))))
    return col


def sql_header(schema: Sequence[tuple[str, str]]) -> query_pb2.SqlResponse:
    return query_pb2.SqlResponse(header=query_pb2.SqlSchema(fields=[sql_column(n, t) for n, t in schema]))


def sql_row(row: Sequence[Any], converters: Sequence[Converter]) -> query_pb2.SqlRow:
    return query_pb2.SqlRow(values=[convert(v) for convert, v in zip(converters, row)])


def _field_size(payload: int) -> int:
    """Bytes one length-delimited field of `payload` bytes takes on the wire (tag + length)."""
    return payload + 1 + max(1, (payload.bit_length() + 6) // 7)


def sql_batches(rows: Iterable[Sequence[Any]], converters: Sequence[Converter],
                max_bytes: int) -> Iterator[query_pb2.SqlResponse]:
    """`rows` as `rows` messages no larger than max_bytes each (the transport cap).

    Raises RowTooLarge when one row alone is over the cap: it cannot be sent at all.
    """
    batch = query_pb2.SqlRowBatch()
    size = 0
    for row in rows:
        msg = sql_row(row, converters)
        n = _field_size(msg.ByteSize())
        if _field_size(n) > max_bytes:
            raise RowTooLarge(n)
        if batch.rows and _field_size(size + n) > max_bytes:
            yield query_pb2.SqlResponse(rows=batch)
            batch, size = query_pb2.SqlRowBatch(), 0
        batch.rows.append(msg)
        size += n
    if batch.rows:
        yield query_pb2.SqlResponse(rows=batch)


class RowTooLarge(Exception):
    """One result row (or one PQL result element) is larger than the message cap."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


# -- PQL ---------------------------------------------------------------------------------

def _row_result(r: engine.RowResult) -> query_pb2.RowResult:
    if r.keys is not None:       # a keyed index answers by key only
        return query_pb2.RowResult(keys=r.keys)
    return query_pb2.RowResult(columns=r.columns)


def _pair(row_id: int, key: Optional[str], count: int) -> query_pb2.Pair:
    if key is not None:
        return query_pb2.Pair(key=key, count=count)
    return query_pb2.Pair(id=row_id, count=count)


def _pairs(p: engine.Pairs) -> query_pb2.Pairs:
    if p.keys is None:
        return query_pb2.Pairs(pairs=[query_pb2.Pair(id=i, count=c) for i, c in zip(p.ids, p.counts)])
    return query_pb2.Pairs(pairs=[_pair(i, k, c) for i, k, c in zip(p.ids, p.keys, p.counts)])


def _group_value(v: Any) -> value_pb2.Value:
    # Group values of timestamp fields come as RFC 3339 text; int/decimal ones as numbers.
    return _as_timestamp(v) if isinstance(v, str) else value(v)


def _group_count(g: dict[str, Any]) -> query_pb2.GroupCount:
    out = query_pb2.GroupCount(count=g["count"])
    for fr in g["group"]:
        row = query_pb2.FieldRow(field=fr["field"])
        if "rowKey" in fr:
            row.row_key = fr["rowKey"]
        elif "rowID" in fr:
            row.row_id = fr["rowID"]
        else:
            row.value.CopyFrom(_group_value(fr["value"]))
        out.group.append(row)
    if g.get("sum") is not None:
        out.sum.CopyFrom(value(g["sum"]))
    if g.get("aggregate") is not None:
        out.aggregate = g["aggregate"]
    return out


def _val_count(vc: engine.ValCount) -> query_pb2.ValCount:
    """The value in the field's own type; null when no record counted. A float 0.0 and a
    timestamp at FeatureBase's zero time go as the int 0, as their JSON form reads."""
    v, kind = vc.value, vc.field_type
    if not vc.count:
        out = null()
    elif v is None:
        out = value(0)
    elif kind == "decimal":
        out = value(v if isinstance(v, Decimal) else Decimal(v))
    elif kind == "timestamp":
        out = _as_timestamp(v) if v != _ZERO_DATETIME else value(0)
    elif kind == "float":
        out = value_pb2.Value(float=float(v)) if float(v) else value(0)
    else:
        out = value(int(v))
    return query_pb2.ValCount(value=out, count=vc.count)


_EXTRACT_CONVERTERS: dict[str, Converter] = {
    "[]uint64": _nullable(_list_of(_uint)), "[]string": _nullable(_list_of(value)), "uint64": _nullable(_uint),
    "string": value, "int64": value, "bool": value, "decimal": _nullable(_decimal_at(None)),
    "timestamp": _nullable(_as_timestamp),
}


def _extracted(t: engine.ExtractedTable) -> query_pb2.ExtractedTable:
    converters = [_EXTRACT_CONVERTERS.get(f["type"], value) for f in t.fields]
    out = query_pb2.ExtractedTable(fields=[query_pb2.ExtractedField(name=f["name"], type=f["type"]) for f in t.fields])
    for col, rows in zip(t.columns, t.rows):
        out.columns.append(query_pb2.ExtractedColumn(
            column=_uint(col) if isinstance(col, int) else value(col),
            rows=[convert(v) for convert, v in zip(converters, rows)]))
    return out


def pql_result(result: engine.Result) -> query_pb2.PqlResult:
    """One PQL call's result (engine.results) as the PqlResult member of its type."""
    match result:
        case engine.Count(n=n):
            return query_pb2.PqlResult(count=n)
        case engine.RowResult():
            return query_pb2.PqlResult(row=_row_result(result))
        case engine.Bool(value=b):
            return query_pb2.PqlResult(changed=b)
        case engine.ValCount():
            return query_pb2.PqlResult(val_count=_val_count(result))
        case engine.Pairs():
            return query_pb2.PqlResult(pairs=_pairs(result))
        case engine.Pair(id=i, key=k, count=c):
            return query_pb2.PqlResult(pair=_pair(i, k, c))
        case engine.GroupCounts(groups=groups):
            return query_pb2.PqlResult(group_counts=query_pb2.GroupCounts(groups=[_group_count(g) for g in groups]))
        case engine.RowIdentifiers(rows=rows, keys=keys):
            return query_pb2.PqlResult(row_identifiers=query_pb2.RowIdentifiers(rows=rows) if keys is None
                                       else query_pb2.RowIdentifiers(keys=keys))
        case engine.DistinctRows(ids=ids, keys=keys):
            # Passed as given: the wire has no null key (protobuf rejects a None element).
            return query_pb2.PqlResult(row=query_pb2.RowResult(columns=ids, keys=cast(list[str], keys or [])))
        case engine.SignedRow(neg=neg, pos=pos):
            return query_pb2.PqlResult(signed_row=query_pb2.SignedRow(neg=[value(v) for v in neg],
                                                                      pos=[value(v) for v in pos]))
        case engine.DistinctValues(values=vals):
            # timestamps come as RFC 3339 text, floats as floats
            return query_pb2.PqlResult(values=value_pb2.ValueList(values=[_group_value(v) for v in vals]))
        case engine.ExtractedTable():
            return query_pb2.PqlResult(extracted_table=_extracted(result))
        case engine.Nil():
            return query_pb2.PqlResult()
    raise TypeError(f"not a PQL result: {type(result).__name__}")


def split_result(result: query_pb2.PqlResult, max_bytes: int) -> list[query_pb2.PqlResult]:
    """A PqlResult as parts of at most max_bytes each, such that merging them in order
    with MergeFrom rebuilds it (query.proto's PqlResultPart contract).

    The members of the result's oneof message are walked in field-number order: single
    fields go to the first part, repeated ones element by element into consecutive parts.
    Raises RowTooLarge when one element (or an unsplittable result) is over max_bytes.
    """
    if result.ByteSize() <= max_bytes:
        return [result]
    kind = result.WhichOneof("result")
    inner = getattr(result, kind)
    if not isinstance(inner, Message):
        raise RowTooLarge(result.ByteSize())
    # Room for what a part adds around its elements: the oneof field's tag and length, and
    # the tag and length of each packed field it holds.
    budget = max_bytes - 16
    parts: list[query_pb2.PqlResult] = []
    part, size = query_pb2.PqlResult(), 0
    getattr(part, kind).SetInParent()
    for fd, field in inner.ListFields():
        target = getattr(getattr(part, kind), fd.name)
        if not isinstance(field, MutableSequence):
            if isinstance(field, Message):
                target.CopyFrom(field)
            else:
                setattr(getattr(part, kind), fd.name, field)
            size += _element_size(field)
            continue
        for element in field:
            n = _element_size(element)
            if n > budget:
                raise RowTooLarge(n)
            if size and size + n > budget:
                parts.append(part)
                part, size = query_pb2.PqlResult(), 0
                getattr(part, kind).SetInParent()
                target = getattr(getattr(part, kind), fd.name)
            if isinstance(element, Message):
                target.add().CopyFrom(element)
            else:
                target.append(element)
            size += n
    parts.append(part)
    return parts


def _element_size(element: Any) -> int:
    """Bytes one element of a repeated field takes (packed scalars: just the varint)."""
    if isinstance(element, Message):
        return _field_size(element.ByteSize())
    if isinstance(element, str):
        return _field_size(len(element.encode("utf-8")))
    if isinstance(element, int) and element >= 0:
        return max(1, (element.bit_length() + 6) // 7)
    return 10  # a negative int64 varint, the longest there is


# -- JSON text fields --------------------------------------------------------------------

def json_object(text: str, key: str) -> Optional[dict[str, Any]]:
    """A `*_json` request field: "" -> None (absent), else a JSON object."""
    if not text:
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        raise InvalidParameter(f"{key} is not valid JSON", name="INVALID_JSON", data={"key": key}) from None
    if not isinstance(parsed, dict):
        raise InvalidParameter(f"{key} must be a JSON object", data={"key": key})
    return parsed


def json_text(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, default=str)


# -- resources ---------------------------------------------------------------------------

def org(o: Any) -> org_pb2.Org:
    return org_pb2.Org(id=o.id, name=o.name, company_name=o.company_name, address=o.address or "",
                       tech_contact_emali=o.tech_contact_email or "",
                       billing_contact_emali=o.billing_contact_email or "", org_type=o.org_type,
                       created_at=timestamp(o.created_at), updated_at=timestamp(o.updated_at),
                       updated_by=o.updated_by or "", metadata_json=json_text(o.metadata))


def service_property(p: Any) -> org_pb2.ServiceProperty:
    out = org_pb2.ServiceProperty(org_id=p.org_id, property=p.property)
    v = p.value
    if p.property == "database:shapes":
        out.database_shapes.CopyFrom(org_pb2.DatabaseShapes(
            shapes=[org_pb2.DatabaseShape(name=s["name"], cpus=s["cpus"], memory_gb=s["memory_gb"])
                    for s in v["shapes"]], query_base_url=v.get("query_base_url") or ""))
    elif p.property == "database:limits":
        out.database_limits.CopyFrom(org_pb2.DatabaseLimits(max_databases=v["max_databases_per_org"],
                                                            max_payload_bytes=v["max_payload_bytes"]))
    elif p.property == "cluster:placement":
        out.cluster_placement_json = json_text(v)
    else:
        out.source_limits.CopyFrom(org_pb2.SourceLimits(max_sources=v["max_sources_per_database"]))
    return out


ACCOUNT_KINDS = {"individual": account_pb2.ACCOUNT_KIND_INDIVIDUAL, "service": account_pb2.ACCOUNT_KIND_SERVICE}
ACCOUNT_STATUSES = {"Active": account_pb2.ACCOUNT_STATUS_ACTIVE, "Deactivated": account_pb2.ACCOUNT_STATUS_DEACTIVATED}


def account(a: Any) -> account_pb2.Account:
    return account_pb2.Account(
        id=a.id, org_id=a.org_id, org_name=a.org_name, idp_id=a.id, username=a.email or a.name or "",
        firstname=a.firstname or "", lastname=a.lastname or "",
        status=ACCOUNT_STATUSES.get(a.status, account_pb2.ACCOUNT_STATUS_UNSPECIFIED),
        acl=list(a.effective_acl), roles=[a.role, *a.custom_roles], primary_email=a.email or "",
        created_at=timestamp(a.created_at), updated_at=timestamp(a.updated_at), updated_by=a.updated_by or "",
        kind=ACCOUNT_KINDS.get(a.kind, account_pb2.ACCOUNT_KIND_UNSPECIFIED))


def role(r: Any) -> role_pb2.Role:
    return role_pb2.Role(rolename=r.rolename, org_id=r.org_id, acl=list(r.acl), builtin=r.builtin)


def invite(i: Any) -> invite_pb2.Invite:
    return invite_pb2.Invite(id=i.id, org_id=i.org_id, org_name=i.org_name, email=i.email, accepted=i.accepted,
                             move_org=i.move_org, created_at=timestamp(i.created_at),
                             date_expiry=timestamp(i.date_expiry), updated_at=timestamp(i.updated_at),
                             updated_by=i.updated_by or "")


def database(d: Any) -> database_pb2.Database:
    return database_pb2.Database(
        id=d.id, name=d.name, database_status=database_pb2.DatabaseState.Value(f"DATABASE_STATE_{d.state}"),
        database_options_json=json_text(d.database_options), org_id=d.org_id, created_by=d.created_by or "",
        created_at=timestamp(d.created_at), owned_by=d.owned_by or "", updated_at=timestamp(d.updated_at),
        updated_by=d.updated_by or "", item_id_type=d.item_id_type, user_id_type=d.user_id_type,
        session_id_type=d.session_id_type, description=d.description or "", metadata_json=json_text(d.metadata),
        core_config_json=json_text(d.core_config))


def api_key(k: Any) -> auth_pb2.ApiKey:
    return auth_pb2.ApiKey(id=k.id, account_id=k.account_id, org_id=k.org_id, created_at=timestamp(k.created_at),
                           expires_at=timestamp(k.expires_at), label=k.label or "", revoked=k.revoked_at is not None,
                           last_used_at=timestamp(k.last_used_at))


# -- entities (entity.proto) -------------------------------------------------------------

def plain(v: value_pb2.Value) -> Any:
    """A request's Value as the Python value the service layer takes (the entity table
    checks it against the property or id type): int, float, bool, str, bytes, list,
    Decimal, datetime; None for null and for a Value with no kind."""
    kind = v.WhichOneof("kind")
    if kind is None or kind == "null":
        return None
    if kind == "list":
        return [plain(x) for x in v.list.values]
    try:
        if kind == "decimal":
            return Decimal(v.decimal.value).scaleb(-v.decimal.scale)
        if kind == "timestamp":   # seconds within years 1-9999, nanos within a second
            return v.timestamp.ToDatetime(tzinfo=dt.timezone.utc)
    except (ValueError, ArithmeticError) as exc:   # decimal.InvalidOperation is an ArithmeticError
        raise InvalidParameter(f"a {kind} value out of range: {exc}", name="WRONG_DATA_TYPE",
                               data={"type": kind}) from None
    return getattr(v, kind)


def entity_in(e: entity_pb2.Entity, id_field: str) -> dict[str, Any]:
    """An Entity message as the service layer's entity object {<kind>_id, property: value}."""
    out: dict[str, Any] = {id_field: plain(e.id)}
    for name, v in e.properties.items():
        if name == id_field:
            raise InvalidParameter(f"{id_field} is the entity's id, not a property", name="WRONG_DATA_TYPE",
                                   data={"key": id_field})
        out[name] = plain(v)
    return out


def filter_in(f: entity_pb2.Filter) -> dict[str, Any]:
    """A Filter message as the JSON-object filter the service layer takes."""
    out: dict[str, Any] = {"property_name": f.property_name, "op": f.op}
    if f.HasField("value"):
        out["value"] = plain(f.value)
    return out


_B64URL = re.compile(r"[A-Za-z0-9_-]*\Z")


def _b64url_bytes(text: str) -> Optional[bytes]:
    if not _B64URL.match(text):
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def typed(v: Any, family: str) -> value_pb2.Value:
    """A stored value (or id) as the Value kind of its type's family (engine.entities
    Kind.family): uint -> `uint`, int -> `int`, bytes (kept as base64url) -> `raw`; the
    rest by Python type. A value that does not fit the family falls back to `value`."""
    if family == "uint" and isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= UINT64_MAX:
        return value_pb2.Value(uint=v)
    if family == "bytes" and isinstance(v, str):
        raw = _b64url_bytes(v)
        if raw is not None:
            return value_pb2.Value(raw=raw)
    return value(v)


def _typed_value(v: Any, vt: Any) -> value_pb2.Value:
    if vt is None:
        return value(v)
    if vt.repeated and isinstance(v, list):
        return value_pb2.Value(list=value_pb2.ValueList(values=[typed(x, vt.kind.family) for x in v]))
    return typed(v, vt.kind.family)


def entity_out(found: dict[str, Any], id_field: str, schema: Any) -> entity_pb2.Entity:
    """A service-layer entity {<kind>_id, property: value} as an Entity, typed by the
    table's schema (server.service.entities.Schema); a property the schema does not know
    (created since it was read) is typed by its Python value."""
    out = entity_pb2.Entity(id=typed(found[id_field], schema.id_type.kind.family))
    for name, v in found.items():
        if name != id_field:
            out.properties[name].CopyFrom(_typed_value(v, schema.properties.get(name)))
    return out


def entity_property(p: Any) -> entity_pb2.Property:
    """An engine.entities Property."""
    return entity_pb2.Property(property_name=p.name, value_type=p.value_type.name, repeated=p.repeated,
                               indexed=p.indexed)


TASK_STATUSES = {"RUNNING": task_pb2.TASK_STATUS_RUNNING, "COMPLETED": task_pb2.TASK_STATUS_COMPLETED,
                 "FAILED": task_pb2.TASK_STATUS_FAILED}


def task(t: Any) -> task_pb2.Task:
    """A server.service.tasks Task."""
    out = task_pb2.Task(task_id=t.id, name=t.name, status=TASK_STATUSES.get(t.status, task_pb2.TASK_STATUS_UNSPECIFIED),
                        progress=t.progress or "", start_time=timestamp(t.start_time),
                        end_time=timestamp(t.end_time), database_id=t.database_id,
                        details_json=json_text(t.details) if t.details is not None else "",
                        cancel_requested=t.cancel_requested)
    if t.error is not None:
        e = t.error
        out.error.CopyFrom(task_pb2.TaskError(code=str(e.get("code", "")), message=str(e.get("message", "")),
                                              error_name=str(e.get("error_name", "")),
                                              error_code=int(e.get("error_code", 0) or 0),
                                              error_data_json=json_text(e.get("error_data") or {})))
    return out
