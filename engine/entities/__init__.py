"""Typed entity tables for the recommender-style data plane (items and users with
declared properties), on engine indexes: value-type codecs, upsert/patch/delete, filters
lowered to the plan IR, cursor scans. Usable embedded:

    from engine.entities import EntityTable
    items = EntityTable.create(db, "items", kind="item", id_type="uuid")
    items.create_property("price", "float32")
    items.put([{"item_id": "…", "price": 9.99}])
    items.scan(["price:lte:10"], amt=100)
"""
from engine.entities.errors import DuplicatedId, DuplicatedProperty, EntityNotFound, PropertyNotFound, WrongDataType
from engine.entities.table import DEFAULT_AMT, MAX_AMT, EntityTable, Page, Property
from engine.entities.types import IdType, ValueType, tokens

__all__ = ["EntityTable", "Page", "Property", "IdType", "ValueType", "tokens", "DEFAULT_AMT", "MAX_AMT",
           "DuplicatedId", "DuplicatedProperty", "EntityNotFound", "PropertyNotFound", "WrongDataType"]
