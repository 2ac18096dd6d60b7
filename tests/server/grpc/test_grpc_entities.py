"""PropertyService, EntityService and TaskService over gRPC against a real server: every
RPC's happy path and its documented errors (gRPC status + roarbase code + error_data.name,
and the google.rpc.ErrorInfo), typed ids and values (uint64 above 2^53, float32, bytes),
BulkWrite chunks, ScanEntities resuming from next_cursor (and agreeing with the /v1 GET),
frontend end users, database selection and org isolation.

Expected values come from the documented semantics (crossing-minds-api.md, entity.proto)
and from numpy for float32 rounding, never from the server's own answers."""
from __future__ import annotations

import base64
import json
import uuid
from typing import Any, Iterable, Iterator

import grpc
import httpx
import numpy as np
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from grpc_testlib import MEMBER_PASSWORD, OTHER_EMAIL, ROOT_EMAIL, ROOT_PASSWORD, TIMEOUT, Client, expect, failure, \
    md, plain, unique
from server.pb.roarbase.v1 import database_pb2, entity_pb2 as pb, task_pb2, value_pb2

SC = grpc.StatusCode
ITEM, USER = pb.ENTITY_KIND_ITEM, pb.ENTITY_KIND_USER
PUT, PATCH = pb.WRITE_MODE_PUT, pb.WRITE_MODE_PATCH


@pytest.fixture(scope="module")
def c(grpc_client: Client) -> Client:
    return grpc_client


# -- building and reading messages ---------------------------------------------------------

def val(x: Any) -> value_pb2.Value:
    """A Python value as the Value a client would send: ints by sign and size, bytes raw."""
    if x is None:
        return value_pb2.Value(null=0)
    if isinstance(x, value_pb2.Value):
        return x
    if isinstance(x, bool):
        return value_pb2.Value(bool=x)
    if isinstance(x, int):
        return value_pb2.Value(uint=x) if x >= 1 << 63 else value_pb2.Value(int=x)
    if isinstance(x, float):
        return value_pb2.Value(float=x)
    if isinstance(x, bytes):
        return value_pb2.Value(raw=x)
    if isinstance(x, list):
        return value_pb2.Value(list=value_pb2.ValueList(values=[val(v) for v in x]))
    return value_pb2.Value(text=x)


def ent(ident: Any, **props: Any) -> pb.Entity:
    e = pb.Entity(id=val(ident))
    for name, v in props.items():
        e.properties[name].CopyFrom(val(v))
    return e


def typed(e: pb.Entity) -> tuple[Any, dict[str, Any]]:
    """(id, {property: value}) with each Value's kind kept (grpc_testlib.plain); lists sorted,
    since a repeated property is a set."""
    out = {}
    for name, v in e.properties.items():
        p = plain(v)
        out[name] = ("list", sorted(p[1], key=repr)) if p[0] == "list" else p
    return plain(e.id), out


def ids(entities: Iterable[pb.Entity]) -> list[Any]:
    return [plain(e.id)[1] for e in entities]


class Db:
    """One database of the shared server and calls on it as root."""

    def __init__(self, c: Client, **fields: str) -> None:
        self.c = c
        self.md = md(c.root)
        self.id = c.databases.CreateDatabase(database_pb2.CreateDatabaseRequest(name=unique("ents"), **fields),
                                             metadata=self.md, timeout=TIMEOUT).id

    def prop(self, name: str, value_type: str, *, kind: int = ITEM, repeated: bool = False,
             indexed: bool = False) -> pb.Property:
        return self.c.properties.CreateProperty(pb.CreatePropertyRequest(
            database_id=self.id, kind=kind, property_name=name, value_type=value_type, repeated=repeated,
            indexed=indexed), metadata=self.md, timeout=TIMEOUT)

    def put(self, *entities: pb.Entity, kind: int = ITEM, **kw: Any) -> pb.WriteResponse:
        return self.c.entities.BulkPut(pb.BulkPutRequest(database_id=self.id, kind=kind, entities=entities, **kw),
                                       metadata=self.md, timeout=TIMEOUT)

    def get(self, ident: Any, *, kind: int = ITEM, properties: Iterable[str] = ()) -> pb.Entity:
        return self.c.entities.GetEntity(pb.GetEntityRequest(database_id=self.id, kind=kind, id=val(ident),
                                                             properties=list(properties)),
                                         metadata=self.md, timeout=TIMEOUT)

    def list(self, idents: Iterable[Any], *, kind: int = ITEM, metadata: Any = None) -> list[pb.Entity]:
        return list(self.c.entities.ListByIds(pb.ListByIdsRequest(
            database_id=self.id, kind=kind, ids=[val(i) for i in idents]), metadata=metadata or self.md,
            timeout=TIMEOUT).entities)

    def scan(self, *filters: pb.Filter, kind: int = ITEM, **kw: Any) -> list[pb.ScanEntitiesResponse]:
        return list(self.c.entities.ScanEntities(pb.ScanEntitiesRequest(
            database_id=self.id, kind=kind, filters=filters, **kw), metadata=self.md, timeout=TIMEOUT))


def flt(name: str, op: str, value: Any = ...) -> pb.Filter:
    f = pb.Filter(property_name=name, op=op)
    if value is not ...:
        f.value.CopyFrom(val(value))
    return f


def chunks(db: Db, *batches: tuple[int, list[pb.Entity]], kind: int = ITEM,
           create_if_missing: bool = False) -> Iterator[pb.BulkWriteRequest]:
    for mode, entities in batches:
        yield pb.BulkWriteRequest(database_id=db.id, kind=kind, mode=mode, entities=entities,
                                  create_if_missing=create_if_missing)


# -- PropertyService -----------------------------------------------------------------------

def test_properties_lifecycle(c: Client) -> None:
    db = Db(c)
    assert (db.prop("Price", "float32").property_name, db.prop("tags", "unicode32", repeated=True).repeated) == \
        ("Price", True)
    listed = c.properties.ListProperties(pb.ListPropertiesRequest(database_id=db.id, kind=ITEM), metadata=db.md)
    assert [(p.property_name, p.value_type, p.repeated, p.indexed) for p in listed.properties] == \
        [("Price", "float32", False, False), ("tags", "unicode32", True, False)]
    # Names are case-insensitive; the declared spelling comes back.
    got = c.properties.GetProperty(pb.GetPropertyRequest(database_id=db.id, kind=ITEM, property_name="PRICE"),
                                   metadata=db.md)
    assert (got.property_name, got.value_type) == ("Price", "float32")
    # Users have their own properties, and `indexed`.
    assert db.prop("age", "uint8", kind=USER, indexed=True).indexed
    assert [p.property_name for p in c.properties.ListProperties(
        pb.ListPropertiesRequest(database_id=db.id, kind=USER), metadata=db.md).properties] == ["age"]

    create = c.properties.CreateProperty
    expect(create, pb.CreatePropertyRequest(database_id=db.id, kind=ITEM, property_name="price", value_type="int"),
           metadata=db.md, status=SC.ALREADY_EXISTS, code="ResourceAlreadyExists", name="DUPLICATED_ITEM_PROPERTY")
    expect(create, pb.CreatePropertyRequest(database_id=db.id, kind=USER, property_name="AGE", value_type="int"),
           metadata=db.md, status=SC.ALREADY_EXISTS, code="ResourceAlreadyExists", name="DUPLICATED_USER_PROPERTY")
    for bad in ({"property_name": "x", "value_type": "decimal"}, {"property_name": "item_id", "value_type": "int"},
                {"property_name": "bad name", "value_type": "int"}, {"property_name": "x" * 65, "value_type": "int"},
                {"property_name": "x", "value_type": "int", "indexed": True}):
        expect(create, pb.CreatePropertyRequest(database_id=db.id, kind=ITEM, **bad), metadata=db.md,
               status=SC.INVALID_ARGUMENT, code="InvalidParameter", name="WRONG_DATA_TYPE")
    expect(create, pb.CreatePropertyRequest(database_id=db.id, property_name="x", value_type="int"), metadata=db.md,
           status=SC.INVALID_ARGUMENT, code="MissingParameter")
    expect(create, pb.CreatePropertyRequest(database_id=db.id, kind=7, property_name="x", value_type="int"),
           metadata=db.md, status=SC.INVALID_ARGUMENT, code="InvalidParameter")
    expect(c.properties.GetProperty, pb.GetPropertyRequest(database_id=db.id, kind=ITEM, property_name="nope"),
           metadata=db.md, status=SC.NOT_FOUND, code="ResourceNotFound", name="ITEM_PROPERTY_NOT_FOUND")
    expect(c.properties.GetProperty, pb.GetPropertyRequest(database_id=db.id, kind=USER, property_name="nope"),
           metadata=db.md, status=SC.NOT_FOUND, code="ResourceNotFound", name="USER_PROPERTY_NOT_FOUND")


def test_deleting_a_property_deletes_its_data(c: Client) -> None:
    db = Db(c)
    db.prop("color", "unicode")
    db.put(ent(1, color="red"))
    delete = c.properties.DeleteProperty
    delete(pb.DeletePropertyRequest(database_id=db.id, kind=ITEM, property_name="COLOR"), metadata=db.md)
    expect(delete, pb.DeletePropertyRequest(database_id=db.id, kind=ITEM, property_name="color"), metadata=db.md,
           status=SC.NOT_FOUND, code="ResourceNotFound", name="ITEM_PROPERTY_NOT_FOUND")
    db.prop("color", "unicode")
    assert typed(db.get(1)) == (("uint", 1), {})


# -- values and ids ------------------------------------------------------------------------

def test_every_value_type_round_trips_typed(c: Client) -> None:
    db = Db(c)
    types = {"i": "int64", "u": "uint64", "f32": "float32", "f64": "float64", "b": "bool", "s": "unicode",
             "t": "text", "h": "hex8", "bt": "bytes16", "uu": "uuid", "url": "urlsafe8", "i8": "int8"}
    for name, vt in types.items():
        db.prop(name, vt)
    db.prop("tags", "unicode16", repeated=True)
    db.prop("nums", "uint32", repeated=True)
    db.prop("ratios", "float32", repeated=True)
    u = uuid.uuid4()
    db.put(ent(7, i=-(1 << 63), u=(1 << 64) - 1, f32=9.99, f64=0.1, b=True, s="héllo wörld", t="x" * 1000,
               h="00ff", bt=b"\x00\xffbytes", uu=str(u).upper(), url="a.b-c_d", i8=-128,
               tags=["b", "a"], nums=[4_000_000_000, 1], ratios=[0.1, 2.5]))
    assert typed(db.get(7)) == (("uint", 7), {
        "i": ("int", -(1 << 63)), "u": ("uint", (1 << 64) - 1), "f32": ("float", 9.99), "f64": ("float", 0.1),
        "b": ("bool", True), "s": ("text", "héllo wörld"), "t": ("text", "x" * 1000), "h": ("text", "00FF"),
        "bt": ("raw", b"\x00\xffbytes"), "uu": ("text", str(u)), "url": ("text", "a.b-c_d"), "i8": ("int", -128),
        "tags": ("list", [("text", "a"), ("text", "b")]),
        "nums": ("list", [("uint", 1), ("uint", 4_000_000_000)]),
        "ratios": ("list", [("float", 0.1), ("float", 2.5)])})
    # bytes values may also be sent as unpadded base64url text; they come back raw.
    text = base64.urlsafe_b64encode(b"\x01\x02\x03").rstrip(b"=").decode()
    db.put(ent(8, bt=text))
    assert typed(db.get(8, properties=["BT"])) == (("uint", 8), {"bt": ("raw", b"\x01\x02\x03")})
    # A projection returns only the properties asked for.
    assert set(typed(db.get(7, properties=["u", "tags"]))[1]) == {"u", "tags"}


@pytest.mark.parametrize("prop, vt, bad", [
    ("n", "uint8", 256), ("n", "uint8", -1), ("n", "int8", "12"), ("n", "float32", 1e39), ("n", "bool", 1),
    ("n", "unicode4", "toolong"), ("n", "hex4", "xyz"), ("n", "bytes2", b"abc"), ("n", "uuid", "nope"),
    ("n", "uint8", [1]), ("n", "uint8", value_pb2.Value(decimal=value_pb2.Decimal(value=15, scale=1))),
])
def test_a_value_that_does_not_fit_is_wrong_data_type(c: Client, prop: str, vt: str, bad: Any) -> None:
    db = Db(c)
    db.prop(prop, vt)
    f = expect(db.put, ent(1, **{prop: bad}), status=SC.INVALID_ARGUMENT, code="InvalidParameter",
               name="WRONG_DATA_TYPE")
    assert f.error.details["key"] == prop
    assert db.list([1]) == []


@pytest.mark.parametrize("bad", [
    value_pb2.Value(timestamp={"nanos": -2**31}), value_pb2.Value(timestamp={"nanos": 10**9}),
    value_pb2.Value(timestamp={"seconds": 253402300800}),      # 10000-01-01: past datetime's range
    value_pb2.Value(decimal=value_pb2.Decimal(value=5, scale=2**31 - 1)),
], ids=["nanos-negative", "nanos-a-second", "year-10000", "scale-2^31"])
def test_a_timestamp_or_decimal_out_of_range_is_wrong_data_type(c: Client, bad: value_pb2.Value) -> None:
    """R9-proto found these answered INTERNAL (the conversion raised before any look-up):
    as an id of DeleteEntity, a value of PutEntity and a filter of ScanEntities."""
    db = Db(c)
    db.prop("n", "int")
    on_db = {"metadata": db.md, "timeout": TIMEOUT}
    for call, request, kw in [
        (c.entities.DeleteEntity, pb.DeleteEntityRequest(database_id=db.id, kind=ITEM, id=bad), on_db),
        (c.entities.PutEntity, pb.PutEntityRequest(database_id=db.id, kind=ITEM, entity=ent(1, n=bad)), on_db),
        (db.scan, flt("n", "gt", bad), {}),
    ]:
        expect(call, request, status=SC.INVALID_ARGUMENT, code="InvalidParameter", name="WRONG_DATA_TYPE", **kw)
    assert db.list([1]) == []


def test_float32_values_come_back_as_their_shortest_decimal(c: Client) -> None:
    db = Db(c)
    db.prop("x", "float32")
    given = [9.99, 0.1, 1 / 3, 1e-45, 1.1754943508222875e-38, 3.4028234663852886e38, -2.5, -0.0, 123456.789]
    db.put(*(ent(i + 1, x=v) for i, v in enumerate(given)))
    got = {plain(e.id)[1]: plain(e.properties["x"]) for e in db.list(range(1, len(given) + 1))}
    # numpy's str() of a float32 is its shortest round-tripping decimal.
    want = {i + 1: ("float", float(str(np.float32(v)))) for i, v in enumerate(given)}
    assert got == want
    assert np.signbit(got[8][1])
    # Filters round their value to the property's width first: lte 9.99 holds for 9.99.
    assert sorted(ids(db.scan(flt("x", "lte", 9.99), flt("x", "gt", 9.98))[0].entities)) == [1]


def test_uint64_ids_above_2_53_are_exact(c: Client) -> None:
    db = Db(c)
    db.prop("n", "int")
    big = [(1 << 53) + 1, 1 << 53, (1 << 63) + 5, (1 << 64) - 1, 1]
    db.put(*(ent(i, n=k) for k, i in enumerate(big)))
    assert [plain(e.id) for e in db.list(big)] == [("uint", i) for i in big]
    assert typed(db.get((1 << 53) + 1)) == (("uint", (1 << 53) + 1), {"n": ("int", 0)})
    assert typed(db.get(1 << 53)) == (("uint", 1 << 53), {"n": ("int", 1)})
    assert sorted(ids(db.scan()[0].entities)) == sorted(big)
    # Integer ids may come as decimal text too.
    assert plain(db.get(str((1 << 64) - 1)).id) == ("uint", (1 << 64) - 1)


def test_id_types(c: Client) -> None:
    signed = Db(c, item_id_type="int64")
    signed.put(ent(-(1 << 63)), ent(-1), ent(5))
    assert [plain(e.id) for e in signed.list([-(1 << 63), -1, 5])] == \
        [("int", -(1 << 63)), ("int", -1), ("int", 5)]
    by_uuid = Db(c, item_id_type="uuid", user_id_type="bytes16")
    u = uuid.uuid4()
    by_uuid.put(ent(str(u).upper()))
    assert plain(by_uuid.get(str(u)).id) == ("text", str(u))
    by_uuid.put(ent(b"\x00\x01"), kind=USER)
    assert plain(by_uuid.get(b"\x00\x01", kind=USER).id) == ("raw", b"\x00\x01")
    assert plain(by_uuid.get("AAE", kind=USER).id) == ("raw", b"\x00\x01")  # base64url text of the bytes
    for bad, db in ((0, signed), ("", signed), (None, signed), ((1 << 63), signed), ("nope", by_uuid),
                    (b"\x00" * 17, by_uuid)):
        kind = USER if isinstance(bad, bytes) else ITEM
        expect(db.put, ent(bad), kind=kind, status=SC.INVALID_ARGUMENT, code="InvalidParameter",
               name="WRONG_DATA_TYPE")
    expect(signed.put, pb.Entity(), status=SC.INVALID_ARGUMENT, code="InvalidParameter", name="WRONG_DATA_TYPE")
    # The id is not a property.
    expect(signed.put, ent(9, item_id=9), status=SC.INVALID_ARGUMENT, code="InvalidParameter",
           name="WRONG_DATA_TYPE")


# -- single-entity writes ------------------------------------------------------------------

def test_put_patch_get_delete_one(c: Client) -> None:
    db = Db(c)
    db.prop("a", "int")
    db.prop("b", "unicode")
    db.prop("tags", "unicode", repeated=True)
    put = c.entities.PutEntity
    assert not put(pb.PutEntityRequest(database_id=db.id, kind=ITEM, entity=ent(1, a=1, b="x", tags=["p", "q"])),
                   metadata=db.md).HasField("task")
    # PUT replaces: b is gone, a null is "no value".
    put(pb.PutEntityRequest(database_id=db.id, kind=ITEM, entity=ent(1, a=2, b=None)), metadata=db.md)
    assert typed(db.get(1)) == (("uint", 1), {"a": ("int", 2)})

    patch = c.entities.PatchEntity

    def patched(e: pb.Entity, **kw: Any) -> tuple[bool, bool]:
        r = patch(pb.PatchEntityRequest(database_id=db.id, kind=ITEM, entity=e, **kw), metadata=db.md)
        return r.created, r.modified

    assert patched(ent(1, b="y", tags=["r"])) == (False, True)
    assert patched(ent(1, b="y")) == (False, False)
    assert typed(db.get(1)) == (("uint", 1), {"a": ("int", 2), "b": ("text", "y"), "tags": ("list", [("text", "r")])})
    assert patched(ent(1, a=None)) == (False, True)             # null removes a value
    assert "a" not in typed(db.get(1))[1]
    f = expect(patch, pb.PatchEntityRequest(database_id=db.id, kind=ITEM, entity=ent(2, a=1)), metadata=db.md,
               status=SC.NOT_FOUND, code="ResourceNotFound", name="ITEM_NOT_FOUND")
    assert (f.error.details["type"], f.error.details["key"]) == ("item", "2")
    assert patched(ent(2, a=1), create_if_missing=True) == (True, False)
    expect(patch, pb.PatchEntityRequest(database_id=db.id, kind=ITEM, entity=ent(2, nope=1)), metadata=db.md,
           status=SC.INVALID_ARGUMENT, code="InvalidParameter", name="WRONG_DATA_TYPE")
    expect(patch, pb.PatchEntityRequest(database_id=db.id, kind=ITEM, entity=ent(2, a="one")), metadata=db.md,
           status=SC.INVALID_ARGUMENT, code="InvalidParameter", name="WRONG_DATA_TYPE")

    delete = c.entities.DeleteEntity
    delete(pb.DeleteEntityRequest(database_id=db.id, kind=ITEM, id=val(1)), metadata=db.md)
    delete(pb.DeleteEntityRequest(database_id=db.id, kind=ITEM, id=val(424242)), metadata=db.md)  # unknown: fine
    expect(db.get, 1, status=SC.NOT_FOUND, code="ResourceNotFound", name="ITEM_NOT_FOUND")
    expect(db.get, 5, kind=USER, status=SC.NOT_FOUND, code="ResourceNotFound", name="USER_NOT_FOUND")
    expect(db.get, 2, properties=["nope"], status=SC.NOT_FOUND, code="ResourceNotFound",
           name="ITEM_PROPERTY_NOT_FOUND")


def test_errors_carry_an_error_info(c: Client) -> None:
    db = Db(c)
    with pytest.raises(grpc.RpcError) as info:
        db.get(99)
    trailing = dict(info.value.trailing_metadata())
    assert (trailing["roarbase-code"], trailing["roarbase-error-name"], trailing["roarbase-error-code"]) == \
        ("ResourceNotFound", "NotFoundError", "60")
    status = rpc_status.from_call(info.value)
    assert status is not None and status.code == SC.NOT_FOUND.value[0]
    detail = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(detail)
    data = json.loads(detail.metadata["error_data"])
    assert (detail.reason, detail.domain, data["name"], data["type"], data["key"]) == \
        ("ResourceNotFound", "roarbase", "ITEM_NOT_FOUND", "item", "99")


# -- bulk writes ---------------------------------------------------------------------------

def test_bulk_put_and_patch_are_all_or_nothing(c: Client) -> None:
    db = Db(c)
    db.prop("n", "uint8")
    f = expect(db.put, ent(1, n=1), ent(2, n=2), ent(1, n=3), status=SC.ALREADY_EXISTS,
               code="ResourceAlreadyExists", name="DUPLICATED_ITEM_ID")
    assert f.error.details["key"] == 1
    expect(db.put, ent(1, n=1), ent(2, n=2), ent(3, n=300), status=SC.INVALID_ARGUMENT, code="InvalidParameter",
           name="WRONG_DATA_TYPE")
    assert db.list([1, 2, 3]) == []
    db.put(ent(1, n=1), ent(2, n=2))
    patch = c.entities.BulkPatch
    expect(patch, pb.BulkPatchRequest(database_id=db.id, kind=ITEM, entities=[ent(1, n=10), ent(3, n=30)]),
           metadata=db.md, status=SC.NOT_FOUND, code="ResourceNotFound", name="ITEM_NOT_FOUND")
    assert [typed(e) for e in db.list([1, 3])] == [(("uint", 1), {"n": ("uint", 1)})]
    patch(pb.BulkPatchRequest(database_id=db.id, kind=ITEM, entities=[ent(1, n=10), ent(3, n=30)],
                              create_if_missing=True), metadata=db.md)
    assert [typed(e) for e in db.list([3, 1, 2, 3])] == \
        [(("uint", 3), {"n": ("uint", 30)}), (("uint", 1), {"n": ("uint", 10)}), (("uint", 2), {"n": ("uint", 2)})]
    deleted = c.entities.BulkDelete(pb.BulkDeleteRequest(database_id=db.id, kind=ITEM, ids=[val(1), val(3), val(77)]),
                                    metadata=db.md)
    assert deleted.deleted == 2
    assert ids(db.list([1, 2, 3])) == [2]


def test_bulk_write_commits_each_chunk(c: Client) -> None:
    db = Db(c)
    db.prop("n", "uint16")
    db.prop("age", "uint8", kind=USER)
    batches = [(PUT, [ent(k * 100 + j, n=j) for j in range(1, 101)]) for k in range(5)]
    batches.append((PATCH, [ent(k * 100 + 1, n=999) for k in range(5)]))
    got = c.entities.BulkWrite(chunks(db, *batches), metadata=db.md, timeout=TIMEOUT)
    assert (got.chunks, got.entities) == (6, 505)
    assert typed(db.get(401)) == (("uint", 401), {"n": ("uint", 999)})
    assert len(db.scan(page_size=500, max_pages=2)[0].entities) == 500
    # One stream may write items and users; an empty chunk is a chunk.
    mixed = iter([*chunks(db, (PUT, [ent(9000)])), *chunks(db, (PUT, [ent(5, age=30)]), kind=USER),
                  *chunks(db, (PUT, []))])
    assert c.entities.BulkWrite(mixed, metadata=db.md, timeout=TIMEOUT).chunks == 3
    assert typed(db.get(5, kind=USER)) == (("uint", 5), {"age": ("uint", 30)})


def test_a_bad_chunk_fails_the_stream_and_earlier_chunks_stay(c: Client) -> None:
    db = Db(c)
    db.prop("n", "uint16")
    sent = [(PUT, [ent(1), ent(2)]), (PUT, [ent(3)]), (PUT, [ent(4), ent(4)]), (PUT, [ent(5)])]
    f = expect(c.entities.BulkWrite, chunks(db, *sent), metadata=db.md, timeout=TIMEOUT, status=SC.ALREADY_EXISTS,
               code="ResourceAlreadyExists", name="DUPLICATED_ITEM_ID")
    assert {k: f.error.details[k] for k in ("chunk", "committed_chunks", "committed_entities")} == \
        {"chunk": 2, "committed_chunks": 2, "committed_entities": 3}
    assert ids(db.list(range(1, 6))) == [1, 2, 3]
    # A patch chunk of a missing entity; a chunk without a mode or kind.
    f = expect(c.entities.BulkWrite, chunks(db, (PATCH, [ent(1, n=5)]), (PATCH, [ent(1, n=6), ent(9, n=9)])),
               metadata=db.md, timeout=TIMEOUT, status=SC.NOT_FOUND, code="ResourceNotFound", name="ITEM_NOT_FOUND")
    assert (f.error.details["chunk"], plain(db.get(1).properties["n"])) == (1, ("uint", 5))
    f = expect(c.entities.BulkWrite, iter([pb.BulkWriteRequest(database_id=db.id, kind=ITEM, entities=[ent(8)])]),
               metadata=db.md, timeout=TIMEOUT, status=SC.INVALID_ARGUMENT, code="MissingParameter")
    assert f.error.details["chunk"] == 0
    expect(c.entities.BulkWrite, iter([pb.BulkWriteRequest(database_id=db.id, mode=PUT, entities=[ent(8)])]),
           metadata=db.md, timeout=TIMEOUT, status=SC.INVALID_ARGUMENT, code="MissingParameter")
    expect(c.entities.BulkWrite, chunks(db, (PUT, [ent(8, n=70000)])), metadata=db.md, timeout=TIMEOUT,
           status=SC.INVALID_ARGUMENT, code="InvalidParameter", name="WRONG_DATA_TYPE")
    assert db.list([8]) == []
    # An empty stream commits nothing and says so.
    got = c.entities.BulkWrite(iter([]), metadata=db.md, timeout=TIMEOUT)
    assert (got.chunks, got.entities) == (0, 0)


# -- reads ---------------------------------------------------------------------------------

def test_list_by_ids(c: Client) -> None:
    db = Db(c)
    db.prop("n", "int")
    db.prop("s", "unicode")
    db.put(ent(1, n=1, s="a"), ent(2, n=2), ent(3, s="c"))
    got = db.list([3, 99, 1, 3])
    assert [typed(e) for e in got] == [(("uint", 3), {"s": ("text", "c")}),
                                      (("uint", 1), {"n": ("int", 1), "s": ("text", "a")})]
    only = c.entities.ListByIds(pb.ListByIdsRequest(database_id=db.id, kind=ITEM, ids=[val(1), val(2)],
                                                    properties=["N"]), metadata=db.md).entities
    assert [typed(e) for e in only] == [(("uint", 1), {"n": ("int", 1)}), (("uint", 2), {"n": ("int", 2)})]
    expect(db.list, [0], status=SC.INVALID_ARGUMENT, code="InvalidParameter", name="WRONG_DATA_TYPE")


@pytest.fixture(scope="module")
def catalog(c: Client) -> tuple[Db, list[dict[str, Any]]]:
    """40 items with varied, sometimes missing values, written in id order 40..1 (the scan
    order is the order ids were first written)."""
    db = Db(c)
    db.prop("cat", "unicode8")
    db.prop("price", "float32")
    db.prop("tags", "unicode8", repeated=True)
    db.prop("title", "unicode")
    model = []
    for i in range(40, 0, -1):
        row: dict[str, Any] = {"id": i}
        if i % 5:
            row["cat"] = "abc"[i % 3]
        if i % 4:
            row["price"] = i / 2
        row["tags"] = [t for t in ("x", "y", "z") if i % (2 + "xyz".index(t)) == 0]
        row["title"] = f"Blue Widget {i}" if i % 2 else f"red gadget {i}"
        model.append(row)
    db.put(*(ent(r["id"], **{k: v for k, v in r.items() if k != "id"}) for r in model))
    return db, model


SCANS = [
    ([], lambda r: True),
    ([flt("cat", "eq", "a")], lambda r: r.get("cat") == "a"),
    ([flt("cat", "neq", "a")], lambda r: r.get("cat") != "a"),
    ([flt("cat", "in", ["a", "c"])], lambda r: r.get("cat") in ("a", "c")),
    ([flt("cat", "notin", ["a", "c"])], lambda r: r.get("cat") not in ("a", "c")),
    ([flt("cat", "notempty")], lambda r: "cat" in r),
    ([flt("price", "gte", 5.0), flt("price", "lt", 15.5)], lambda r: "price" in r and 5 <= r["price"] < 15.5),
    ([flt("tags", "eq", "y")], lambda r: "y" in r["tags"]),
    ([flt("tags", "notin", ["x", "z"])], lambda r: not {"x", "z"} & set(r["tags"])),
    ([flt("title", "ftsearch", "BLUE widget")], lambda r: r["title"].startswith("Blue")),
    ([flt("Title", "ftsearch", "gadget"), flt("cat", "neq", "b")],
     lambda r: "gadget" in r["title"] and r.get("cat") != "b"),
]


@pytest.mark.parametrize("filters, keep", SCANS)
def test_scan_pages_resume_from_next_cursor(catalog: tuple[Db, list[dict[str, Any]]], filters: list[pb.Filter],
                                            keep: Any) -> None:
    db, model = catalog
    want = [r["id"] for r in model if keep(r)]
    pages = db.scan(*filters, page_size=3)
    assert [i for p in pages for i in ids(p.entities)] == want
    assert [len(p.entities) for p in pages[:-1]] == [3] * (len(pages) - 1) and len(pages[-1].entities) <= 3
    assert [p.has_next for p in pages] == [True] * (len(pages) - 1) + [False]
    assert pages[-1].next_cursor == "" and all(p.next_cursor for p in pages[:-1])
    # A new call from any page's cursor continues exactly after it; max_pages stops early.
    for k in range(len(pages) - 1):
        resumed = db.scan(*filters, page_size=3, cursor=pages[k].next_cursor, max_pages=1)
        assert len(resumed) == 1 and ids(resumed[0].entities) == ids(pages[k + 1].entities)
        assert resumed[0].next_cursor == pages[k + 1].next_cursor


def test_scan_projection_empty_result_and_default_page(catalog: tuple[Db, list[dict[str, Any]]]) -> None:
    db, model = catalog
    first = db.scan(properties=["PRICE"], max_pages=1)
    assert len(first) == 1 and not first[0].has_next and len(first[0].entities) == 40   # default page: 300
    assert {name for e in first[0].entities for name in e.properties} == {"price"}
    nothing = db.scan(flt("cat", "eq", "zz"))
    assert len(nothing) == 1 and (list(nothing[0].entities), nothing[0].has_next, nothing[0].next_cursor) == \
        ([], False, "")


def test_scan_is_the_v1_get_page_by_page(c: Client, catalog: tuple[Db, list[dict[str, Any]]]) -> None:
    """GET /v1/items-bulk/properties/ answers one page of ScanEntities: the same entities
    and the same next_cursor."""
    db, _ = catalog
    token = c.login(ROOT_EMAIL, ROOT_PASSWORD, db_id=db.id).token
    pages = db.scan(flt("cat", "neq", "b"), page_size=7)
    cursor = ""
    with httpx.Client(base_url=c.srv.http_url(), headers={"Authorization": f"Bearer {token}"},
                      timeout=TIMEOUT) as http:
        for page in pages:
            params = {"amt": 7, "filters": "cat:neq:b", **({"cursor": cursor} if cursor else {})}
            got = http.get("/v1/items-bulk/properties/", params=params).json()
            assert [i["item_id"] for i in got["items"]] == ids(page.entities)
            assert (got["has_next"], got["next_cursor"]) == (page.has_next, page.next_cursor)
            assert [i.get("price") for i in got["items"]] == \
                [plain(e.properties["price"])[1] if "price" in e.properties else None for e in page.entities]
            cursor = page.next_cursor


@pytest.mark.parametrize("request_fields, status, code, name", [
    ({"cursor": "not-a-cursor"}, SC.INVALID_ARGUMENT, "InvalidParameter", "WRONG_DATA_TYPE"),
    ({"page_size": 501}, SC.INVALID_ARGUMENT, "InvalidParameter", "WRONG_DATA_TYPE"),
    ({"filters": [flt("nope", "eq", 1)]}, SC.NOT_FOUND, "ResourceNotFound", "ITEM_PROPERTY_NOT_FOUND"),
    ({"properties": ["nope"]}, SC.NOT_FOUND, "ResourceNotFound", "ITEM_PROPERTY_NOT_FOUND"),
    ({"filters": [flt("price", "eq", 1.0)]}, SC.INVALID_ARGUMENT, "InvalidParameter", "WRONG_DATA_TYPE"),
    ({"filters": [flt("cat", "in", "a")]}, SC.INVALID_ARGUMENT, "InvalidParameter", "WRONG_DATA_TYPE"),
    ({"filters": [flt("cat", "eq")]}, SC.INVALID_ARGUMENT, "InvalidParameter", "WRONG_DATA_TYPE"),
    ({"filters": [flt("cat", "like", "a")]}, SC.INVALID_ARGUMENT, "InvalidParameter", "WRONG_DATA_TYPE"),
    ({"filters": [flt("price", "gt", "cheap")]}, SC.INVALID_ARGUMENT, "InvalidParameter", "WRONG_DATA_TYPE"),
    ({"filters": [flt("cat", "notempty", "a")]}, SC.INVALID_ARGUMENT, "InvalidParameter", "WRONG_DATA_TYPE"),
])
def test_scan_errors(catalog: tuple[Db, list[dict[str, Any]]], request_fields: dict[str, Any], status: Any,
                     code: str, name: str) -> None:
    db, _ = catalog
    req = pb.ScanEntitiesRequest(database_id=db.id, kind=ITEM, **request_fields)
    expect(lambda: list(db.c.entities.ScanEntities(req, metadata=db.md, timeout=TIMEOUT)), status=status, code=code,
           name=name)


# -- database selection, frontend, org isolation -------------------------------------------

def test_the_database_comes_from_the_request_or_the_token(c: Client) -> None:
    db, other = Db(c), Db(c)
    db.prop("n", "int")
    bound = md(c.login(ROOT_EMAIL, ROOT_PASSWORD, db_id=db.id).token)
    c.entities.PutEntity(pb.PutEntityRequest(kind=ITEM, entity=ent(1, n=1)), metadata=bound)
    assert typed(db.get(1)) == (("uint", 1), {"n": ("int", 1)})
    assert [p.property_name for p in c.properties.ListProperties(pb.ListPropertiesRequest(kind=ITEM),
                                                                 metadata=bound).properties] == ["n"]
    # The same id in the request is fine; another database is not the token's.
    c.entities.GetEntity(pb.GetEntityRequest(database_id=db.id, kind=ITEM, id=val(1)), metadata=bound)
    expect(c.entities.GetEntity, pb.GetEntityRequest(database_id=other.id, kind=ITEM, id=val(1)), metadata=bound,
           status=SC.NOT_FOUND, code="ResourceNotFound")
    expect(c.entities.GetEntity, pb.GetEntityRequest(kind=ITEM, id=val(1)), metadata=md(c.root),
           status=SC.UNAUTHENTICATED, code="Unauthorized", name="NO_DATABASE_SELECTED")
    expect(c.entities.GetEntity, pb.GetEntityRequest(database_id=str(uuid.uuid4()), kind=ITEM, id=val(1)),
           metadata=md(c.root), status=SC.NOT_FOUND, code="ResourceNotFound")


def test_frontend_reads_items_and_only_its_own_user(c: Client) -> None:
    db = Db(c)
    db.prop("color", "unicode")
    db.prop("age", "uint8", kind=USER)
    db.put(ent(1, color="red"))
    db.put(ent(7, age=30), ent(8, age=40), kind=USER)
    _, acc = c.member("frontend")
    fe = md(c.login(acc.username, MEMBER_PASSWORD, db_id=db.id, frontend_user_id="7").token)
    get = c.entities.GetEntity
    assert typed(get(pb.GetEntityRequest(kind=ITEM, id=val(1)), metadata=fe)) == (("uint", 1), {"color": ("text", "red")})
    for ident in (7, "~me", "7"):
        assert typed(get(pb.GetEntityRequest(kind=USER, id=val(ident)), metadata=fe)) == \
            (("uint", 7), {"age": ("uint", 30)})
    expect(get, pb.GetEntityRequest(kind=USER, id=val(8)), metadata=fe, status=SC.NOT_FOUND,
           code="ResourceNotFound", name="USER_NOT_FOUND")
    assert ids(db.list([8, "~me", 7], kind=USER, metadata=fe)) == [7]
    assert ids(db.list([1, 2], metadata=fe)) == [1]
    # A frontend token without an end user reads no user; `~me` is never an item.
    plain_fe = md(c.login(acc.username, MEMBER_PASSWORD, db_id=db.id).token)
    expect(get, pb.GetEntityRequest(kind=USER, id=val(7)), metadata=plain_fe, status=SC.NOT_FOUND,
           code="ResourceNotFound", name="USER_NOT_FOUND")
    expect(get, pb.GetEntityRequest(kind=ITEM, id=val("~me")), metadata=fe, status=SC.NOT_FOUND,
           code="ResourceNotFound", name="ITEM_NOT_FOUND")
    # Never a scan, never a write.
    expect(lambda: list(c.entities.ScanEntities(pb.ScanEntitiesRequest(kind=USER), metadata=fe, timeout=TIMEOUT)),
           status=SC.PERMISSION_DENIED, code="Unauthorized")
    expect(c.entities.PatchEntity, pb.PatchEntityRequest(kind=USER, entity=ent(7, age=31)), metadata=fe,
           status=SC.PERMISSION_DENIED, code="Unauthorized")
    assert typed(db.get(7, kind=USER))[1] == {"age": ("uint", 30)}
    # The end user's id must fit the database's user_id_type.
    expect(c.login, acc.username, MEMBER_PASSWORD, db_id=db.id, frontend_user_id="seven",
           status=SC.INVALID_ARGUMENT, code="InvalidParameter", name="WRONG_DATA_TYPE")


def test_another_org_sees_nothing(c: Client) -> None:
    db = Db(c)
    db.prop("n", "int")
    db.put(ent(1, n=1))
    other = md(c.login(OTHER_EMAIL, ROOT_PASSWORD).token)
    calls = [
        lambda ref: c.properties.ListProperties(pb.ListPropertiesRequest(database_id=ref, kind=ITEM), metadata=other),
        lambda ref: c.entities.GetEntity(pb.GetEntityRequest(database_id=ref, kind=ITEM, id=val(1)), metadata=other),
        lambda ref: c.entities.BulkPut(pb.BulkPutRequest(database_id=ref, kind=ITEM, entities=[ent(1, n=2)]),
                                       metadata=other),
        lambda ref: c.entities.BulkWrite(iter([pb.BulkWriteRequest(database_id=ref, kind=ITEM, mode=PUT,
                                                                   entities=[ent(1, n=3)])]), metadata=other),
        lambda ref: list(c.entities.ScanEntities(pb.ScanEntitiesRequest(database_id=ref, kind=ITEM),
                                                 metadata=other, timeout=TIMEOUT)),
        lambda ref: c.tasks.ListTasks(task_pb2.ListTasksRequest(database_id=ref, name="items_put"), metadata=other),
    ]
    for call in calls:
        mine, unknown = failure(call, db.id), failure(call, str(uuid.uuid4()))
        assert (mine.status, mine.error.code, mine.error.name) == (SC.NOT_FOUND, "ResourceNotFound", "DB_NOT_FOUND")
        assert (unknown.status, unknown.error.code, unknown.error.name) == \
            (mine.status, mine.error.code, mine.error.name)
    assert typed(db.get(1))[1] == {"n": ("int", 1)}


# -- tasks ---------------------------------------------------------------------------------

def _settled(c: Client, task_id: str, metadata: Any) -> task_pb2.Task:
    """The task's last state: WatchTask's stream ends once it is COMPLETED or FAILED."""
    states = list(c.tasks.WatchTask(task_pb2.WatchTaskRequest(task_id=task_id), metadata=metadata, timeout=TIMEOUT))
    assert states and all(s.status == task_pb2.TASK_STATUS_RUNNING for s in states[:-1])
    return states[-1]


def test_writes_without_waiting_leave_a_task(c: Client) -> None:
    db = Db(c)
    db.prop("n", "uint8")
    put = db.put(ent(1, n=1), ent(2, n=2), wait_for_completion=False)
    t = put.task
    assert (t.name, t.database_id, bool(t.task_id)) == ("items_put", db.id, True)
    assert t.status in (task_pb2.TASK_STATUS_RUNNING, task_pb2.TASK_STATUS_COMPLETED)
    done = _settled(c, t.task_id, db.md)
    assert (done.status, done.progress, done.HasField("end_time"), done.HasField("error")) == \
        (task_pb2.TASK_STATUS_COMPLETED, "done", True, False)
    assert ids(db.list([1, 2])) == [1, 2]
    single = c.entities.PutEntity(pb.PutEntityRequest(database_id=db.id, kind=ITEM, entity=ent(3, n=3),
                                                      wait_for_completion=False), metadata=db.md).task
    patched = c.entities.BulkPatch(pb.BulkPatchRequest(database_id=db.id, kind=ITEM, entities=[ent(1, n=9)],
                                                       wait_for_completion=False), metadata=db.md).task
    assert patched.name == "items_patch"
    for task_id in (single.task_id, patched.task_id):
        assert _settled(c, task_id, db.md).status == task_pb2.TASK_STATUS_COMPLETED
    assert plain(db.get(1).properties["n"]) == ("uint", 9)
    # A bad write fails at once, and leaves no task.
    expect(db.put, ent(4, n=999), wait_for_completion=False, status=SC.INVALID_ARGUMENT, code="InvalidParameter",
           name="WRONG_DATA_TYPE")
    listed = c.tasks.ListTasks(task_pb2.ListTasksRequest(database_id=db.id, name="items_put"), metadata=db.md)
    assert sorted(x.task_id for x in listed.tasks) == sorted([t.task_id, single.task_id])
    assert (listed.has_next, listed.next_page) == (False, 2)
    page = c.tasks.ListTasks(task_pb2.ListTasksRequest(database_id=db.id, name="items_put", amt=1, page=2),
                             metadata=db.md)
    assert (len(page.tasks), page.has_next, page.next_page) == (1, False, 3)
    # The last page a uint32 can name is empty and names no next one (R9-proto found it INTERNAL).
    last = c.tasks.ListTasks(task_pb2.ListTasksRequest(database_id=db.id, name="items_put", page=2**32 - 1),
                             metadata=db.md)
    assert (len(last.tasks), last.has_next, last.next_page) == (0, False, 0)
    assert c.tasks.GetTask(task_pb2.GetTaskRequest(task_id=t.task_id), metadata=db.md).status == \
        task_pb2.TASK_STATUS_COMPLETED


def test_task_errors(c: Client) -> None:
    db = Db(c)
    expect(c.tasks.GetTask, task_pb2.GetTaskRequest(task_id=str(uuid.uuid4())), metadata=db.md, status=SC.NOT_FOUND,
           code="ResourceNotFound", name="TASK_NOT_FOUND")
    expect(lambda: list(c.tasks.WatchTask(task_pb2.WatchTaskRequest(task_id="nope"), metadata=db.md,
                                          timeout=TIMEOUT)), status=SC.NOT_FOUND, code="ResourceNotFound",
           name="TASK_NOT_FOUND")
    expect(c.tasks.ListTasks, task_pb2.ListTasksRequest(database_id=db.id), metadata=db.md,
           status=SC.INVALID_ARGUMENT, code="MissingParameter")
    expect(c.tasks.ListTasks, task_pb2.ListTasksRequest(database_id=db.id, name="items_put", amt=65), metadata=db.md,
           status=SC.INVALID_ARGUMENT, code="InvalidParameter", name="WRONG_DATA_TYPE")
    expect(c.tasks.ListTasks, task_pb2.ListTasksRequest(name="items_put"), metadata=db.md,
           status=SC.UNAUTHENTICATED, code="Unauthorized", name="NO_DATABASE_SELECTED")

