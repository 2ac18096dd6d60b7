"""engine.entities: id and value types (crossing-minds-api.md §1-2, worked by hand), the
schema (case-insensitive names, reserved names, deletion drops data), what SQL and PQL
see, filter errors, reopen, and readers beside a writer."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from engine.entities import (
    DuplicatedId,
    DuplicatedProperty,
    EntityNotFound,
    EntityTable,
    IdType,
    PropertyNotFound,
    ValueType,
    WrongDataType,
    tokens,
)


@pytest.mark.parametrize("type_name, given, key, out", [
    ("uint64", 18446744073709551615, "18446744073709551615", 18446744073709551615),
    ("uint64", "42", "42", 42),                               # clients may send digit strings
    ("int8", -128, "-128", -128),
    ("uuid", "123E4567-E89B-12D3-A456-426614174000", "123e4567-e89b-12d3-a456-426614174000",
     "123e4567-e89b-12d3-a456-426614174000"),
    ("hex10", "00aBcD", "00ABCD", "00ABCD"),
    ("urlsafe8", "a.b-c_D", "a.b-c_D", "a.b-c_D"),
    ("bytes8", "AP8vKz0_JhA", "AP8vKz0_JhA", "AP8vKz0_JhA"),   # b'\x00\xff/+=?&\x10', unpadded
    ("bytes8", "AP8vKz0_JhA=", "AP8vKz0_JhA", "AP8vKz0_JhA"),  # padding accepted, not kept
])
def test_id_types_canonicalise(type_name, given, key, out):
    t = IdType.parse(type_name)
    assert t.key(given) == key
    assert t.value(key) == out


@pytest.mark.parametrize("type_name, bad", [
    ("uint64", 0), ("uint64", ""), ("uint64", None), ("uint64", -1), ("uint64", 2**64), ("uint64", 1.5),
    ("uint64", True), ("int8", 128), ("uuid", "123e4567e89b12d3a456426614174000"), ("uuid", "zzz"),
    ("hex4", "12345"), ("hex4", "12g"), ("urlsafe4", "a/b"), ("urlsafe4", "abcde"), ("bytes2", "AAAA"),
    ("bytes2", "!!"), ("uint32", "1e3"),
])
def test_bad_ids_are_wrong_data_type(type_name, bad):
    with pytest.raises(WrongDataType) as e:
        IdType.parse(type_name).key(bad)
    assert e.value.code == "InvalidParameter" and e.value.name == "WRONG_DATA_TYPE"


@pytest.mark.parametrize("name", ["int", "int64", "uint", "uint8", "float", "float16", "float64", "bool",
                                  "unicode1", "unicode999", "unicode", "text", "hex64", "urlsafe1", "bytes64",
                                  "uuid"])
def test_value_types_accepted(name):
    ValueType.parse(name)


@pytest.mark.parametrize("name", ["int7", "uint128", "float8", "unicode0", "unicode1000", "hex65", "bytes0",
                                  "string", "", None, 3, "unicode1234"])
def test_value_types_refused(name):
    with pytest.raises(WrongDataType):
        ValueType.parse(name)


def test_value_checks():
    assert ValueType.parse("float32").check(9.99) == 9.99          # shortest float32 decimal
    assert ValueType.parse("float16").check(1 / 3) == 0.3333
    assert ValueType.parse("uint8").check(255) == 255
    assert ValueType.parse("unicode3").check("été") == "été"
    for t, bad in (("uint8", 256), ("int", 1.5), ("int", True), ("float32", 1e39), ("float", float("nan")),
                   ("bool", 1), ("unicode3", "four"), ("unicode", "a\x00b"), ("unicode", "\ud800"),
                   ("float32", "1.5"), ("hex4", "xyz")):
        with pytest.raises(WrongDataType):
            ValueType.parse(t).check(bad)


def test_tokens_are_casefolded_words():
    assert tokens("Hello, WORLD! Straße naïve-été x_y 42") == ["hello", "world", "strasse", "naïve", "été", "x_y",
                                                               "42"]


@pytest.fixture
def items(db):
    t = EntityTable.create(db, "items", kind="item", id_type="uint32")
    t.create_property("Price", "float32")
    t.create_property("tags", "unicode16", repeated=True)
    t.create_property("title", "unicode")
    t.create_property("stock", "uint16")
    t.create_property("available", "bool")
    return t


def test_schema_names_are_case_insensitive_and_reserved(items):
    with pytest.raises(DuplicatedProperty) as e:
        items.create_property("PRICE", "int")
    assert e.value.name == "DUPLICATED_ITEM_PROPERTY" and e.value.code == "ResourceAlreadyExists"
    for bad in ("item_id", "USER_ID", "a b", "x" * 65, "", "é"):
        with pytest.raises(WrongDataType):
            items.create_property(bad, "int")
    assert items.property("price").name == "Price"
    with pytest.raises(PropertyNotFound) as nf:
        items.property("nope")
    assert nf.value.name == "ITEM_PROPERTY_NOT_FOUND" and nf.value.data == {"type": "item-property", "key": "nope"}


def test_sql_and_pql_see_what_the_table_wrote(db, items):
    items.put([{"item_id": 1, "price": 9.99, "tags": ["a", "b"], "title": "Red shoes", "stock": 3},
               {"item_id": 2, "price": 4.5, "tags": ["a"], "available": True}])
    assert db.sql("SELECT COUNT(*) FROM items WHERE price > 5").rows == [(1,)]
    assert db.sql("SELECT _id, stock FROM items WHERE available = true").rows == [("2", None)]
    assert db.query("items", "TopN(tags)") == [[{"id": 0, "key": "a", "count": 2}, {"id": 0, "key": "b", "count": 1}]]
    assert db.query("items", 'Count(Row(title__fts="shoes"))') == [1]


def test_put_replaces_patch_merges_delete_removes(items):
    items.put([{"item_id": 7, "price": 1.0, "tags": ["x", "y"], "title": "one"}])
    items.put([{"item_id": 7, "stock": 2}])                        # PUT replaces every value
    assert items.get(7) == {"item_id": 7, "stock": 2}
    assert items.scan(["title:ftsearch:one"]).entities == []       # old tokens are gone too
    assert items.patch([{"item_id": 7, "tags": ["z"], "title": "two words"}]) == [False]
    assert items.get(7) == {"item_id": 7, "stock": 2, "tags": ["z"], "title": "two words"}
    items.patch([{"item_id": 7, "stock": None}])                   # null removes a value
    assert "stock" not in items.get(7)
    with pytest.raises(EntityNotFound) as e:
        items.patch([{"item_id": 8, "stock": 1}])
    assert e.value.name == "ITEM_NOT_FOUND" and e.value.data == {"type": "item", "key": "8"}
    assert items.patch([{"item_id": 8, "stock": 1}], create_if_missing=True) == [True]
    assert items.delete([7, 9]) == 1
    with pytest.raises(EntityNotFound):
        items.get(7)
    with pytest.raises(DuplicatedId) as d:
        items.put([{"item_id": 3}, {"item_id": "3"}])
    assert d.value.name == "DUPLICATED_ITEM_ID"


def test_m2m_rows_append_to_lists(items):
    items.put([{"item_id": 1, "tags": ["a"]}, {"item_id": 2}],
              m2m=[{"name": "tags", "array": [{"item_index": 0, "value_id": "b"}, {"item_index": 1, "value_id": "c"}]}])
    assert sorted(items.get(1)["tags"]) == ["a", "b"] and items.get(2)["tags"] == ["c"]
    for bad in ([{"name": "price", "array": []}], [{"name": "tags", "array": [{"item_index": 2, "value_id": "x"}]}],
                [{"name": "tags", "array": [{"item_index": 0}]}], [{"name": "tags"}]):
        with pytest.raises(WrongDataType):
            items.put([{"item_id": 1}, {"item_id": 2}], m2m=bad)


def test_deleting_a_property_deletes_its_values(db, items):
    items.put([{"item_id": 1, "title": "red", "price": 2.0}])
    items.delete_property("TITLE")
    assert items.get(1) == {"item_id": 1, "Price": 2.0}          # values come back under the declared name
    assert "title" not in {f.name for f in db.index("items").fields()}
    assert "title__fts" not in {f.name for f in db.index("items").fields()}
    items.create_property("title", "unicode")                    # a new, empty property
    assert items.get(1) == {"item_id": 1, "Price": 2.0}


@pytest.mark.parametrize("spec, message", [
    ("price:eq:1", "not allowed"),            # floats: ordering only (Crossing Minds)
    ("price", "property:op"),
    ("price:between:1", "unknown filter op"),
    ("stock:lt", "needs a value"),
    ("stock:lt:abc", "integer"),
    ("title:notempty:x", "no value"),
    ("title:ftsearch:...", "at least one word"),
    ({"property_name": "stock", "op": "eq", "value": {"a": 1}}, "scenarios"),
    ({"property_name": "stock", "op": "in", "value": 3}, "list"),
    ("{not json", "valid JSON"),
])
def test_filter_errors(items, spec, message):
    with pytest.raises(WrongDataType) as e:
        items.scan([spec])
    assert message in e.value.message


def test_filter_on_unknown_property_and_bad_cursor(items):
    with pytest.raises(PropertyNotFound):
        items.scan(["nope:eq:1"])
    for cursor in ("garbage", "eyJ2IjoyfQ", "e30"):
        with pytest.raises(WrongDataType):
            items.scan(cursor=cursor)
    for amt in (0, 501, True, "3"):
        with pytest.raises(WrongDataType):
            items.scan(amt=amt)


def test_url_filter_values(items):
    items.put([{"item_id": 1, "tags": ["a,b", "c"], "available": True, "stock": 5},
               {"item_id": 2, "tags": ["d"], "available": False}])
    assert [e["item_id"] for e in items.scan(["tags:in:a%2Cb,x"]).entities] == [1]    # %2C: a comma in a value
    assert [e["item_id"] for e in items.scan(["available:eq:True"]).entities] == [1]  # str(True) from clients
    assert [e["item_id"] for e in items.scan(["stock:neq:5"]).entities] == [2]        # missing matches neq
    assert [e["item_id"] for e in items.scan(["tags:notin:d,c"]).entities] == []


def test_values_survive_reopen(open_db):
    db = open_db()
    t = EntityTable.create(db, "users", kind="user", id_type="bytes8")
    t.create_property("age", "uint8", indexed=True)
    t.create_property("score", "float64")
    t.put([{"user_id": "AP8vKz0_JhA", "age": 30, "score": -0.0}])
    db = open_db.reopen(db)
    t = EntityTable.open(db, "users")
    assert t.get("AP8vKz0_JhA") == {"user_id": "AP8vKz0_JhA", "age": 30, "score": -0.0}
    assert t.property("age").to_dict("user") == {"property_name": "age", "value_type": "uint8", "repeated": False,
                                                 "indexed": True}


def test_readers_beside_a_writer(db, items):
    """Scans and gets while another thread writes: every read sees whole entities (both
    values of one put or neither) and never fails."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            items.put([{"item_id": 1 + i % 50, "stock": i % 1000, "title": f"w{i % 1000}"}])
            items.create_property(f"extra{i}", "int") if i % 40 == 0 else None

    def reader() -> None:
        try:
            for _ in range(150):
                for e in items.scan(amt=50).entities:
                    assert ("stock" in e) == ("title" in e)
                    assert e["title"] == f"w{e['stock']}"
                items.get_many(list(range(1, 51)))
        except BaseException as exc:   # reported below
            errors.append(exc)

    w = threading.Thread(target=writer)
    readers = [threading.Thread(target=reader) for _ in range(3)]
    w.start()
    for r in readers:
        r.start()
    for r in readers:
        r.join()
    stop.set()
    w.join()
    assert not errors, errors[0]


def test_bulk_values_from_numpy_scalars(items):
    items.put([{"item_id": np.uint32(5), "stock": np.uint16(7), "price": np.float32(1.25)}])
    assert items.get(5) == {"item_id": 5, "stock": 7, "Price": 1.25}
