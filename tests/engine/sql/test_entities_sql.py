"""SQL over the entity tables of the /v1 data plane (engine/entities): `items`/`users` are
engine indexes, their float properties FLOAT columns (roarbase's type: FeatureBase SQL3 has
no float), uint64 properties INT columns reaching 2**64-1."""
from __future__ import annotations

import pytest

import engine
from engine.entities import EntityTable
from engine.errors import TypeMismatchError


@pytest.fixture(scope="module")
def edb(tmp_path_factory):
    db = engine.open(str(tmp_path_factory.mktemp("ent") / "d"), fsync=False)
    items = EntityTable.create(db, "items", kind="item", id_type="uint64")
    items.create_property("price", "float32")
    items.create_property("weight", "float64")
    items.create_property("stock", "uint64")
    items.create_property("in-stock", "bool")
    items.put([{"item_id": 1, "price": 3.5, "weight": 0.1, "stock": 2**64 - 1, "in-stock": True},
               {"item_id": 2, "price": 4.25, "weight": -2.5, "stock": 5, "in-stock": False},
               {"item_id": 3, "price": 9.99},
               {"item_id": 4, "price": 3.4}])
    users = EntityTable.create(db, "users", kind="user", id_type="uint32")
    users.create_property("fav", "uint64")
    users.put([{"user_id": 10, "fav": 1}, {"user_id": 11, "fav": 3}, {"user_id": 12, "fav": 7}])
    yield db
    db.close()


def test_float_columns_compare_on_the_bitmaps(edb):
    assert edb.sql("SELECT COUNT(*) FROM items WHERE price > 3.5").rows == [(2,)]
    assert edb.sql("SELECT _id FROM items WHERE price = 9.99").rows == [("3",)]
    assert edb.sql("SELECT _id FROM items WHERE price BETWEEN 3.4 AND 4.25 ORDER BY _id").rows == \
        [("1",), ("2",), ("4",)]
    assert edb.sql("SELECT COUNT(*) FROM items WHERE weight < 0").rows == [(1,)]


def test_float_and_uint64_types(edb):
    res = edb.sql("SELECT price, weight, stock, price * 2, stock + 0 FROM items WHERE _id = '1'")
    assert res.schema == [("price", "float"), ("weight", "float"), ("stock", "int"), ("", "float"), ("", "int")]
    assert res.rows == [(3.5, 0.1, 2**64 - 1, 7.0, 2**64 - 1)]
    assert edb.sql("SELECT _id FROM items WHERE stock = 18446744073709551615").rows == [("1",)]
    assert edb.sql("SELECT MAX(stock), MIN(price), COUNT(weight) FROM items").rows == [(2**64 - 1, 3.4, 2)]
    shown = {r[0]: r[2:4] for r in edb.sql("SHOW COLUMNS FROM items").rows}
    assert shown["price"] == ("float", "float32") and shown["weight"] == ("float", "float64")
    with pytest.raises(TypeMismatchError):
        edb.sql("SELECT price || 'x' FROM items")


def test_group_by_a_float_and_a_dashed_property(edb):
    assert edb.sql("SELECT price, COUNT(*) FROM items GROUP BY price ORDER BY price").rows == \
        [(3.4, 1), (3.5, 1), (4.25, 1), (9.99, 1)]
    assert edb.sql('SELECT "in-stock", COUNT(*) FROM items GROUP BY "in-stock"').rows == \
        [(False, 1), (True, 1), (None, 2)]


def test_a_join_between_entity_tables(edb):
    # users' favourite item ids (uint64 INT) against items' uint64 record keys
    assert edb.sql("SELECT u._id, i.price FROM users u JOIN items i ON CAST(u.fav AS STRING) = i._id "
                   "ORDER BY u._id").rows == [("10", 3.5), ("11", 9.99)]
