"""engine.entities against a plain-Python model of the documented semantics
(../shared/reference/crossing-minds-api.md §1-3, engine/entities/filters.py):

random property schemas, random bulk puts / patches / deletes, then random filter lists
answered by the table (paged with random amt) and by the model — identical entities,
values and order. The model is written from the documents, not from the code: ids are
canonicalised by their type's rule, floats are rounded to their width with numpy and
compared with IEEE semantics (-0.0 == +0.0), repeated properties use the exists / for-all
quantifiers, and a missing value matches only neq and notin.
"""
from __future__ import annotations

import base64
import math
import random
import uuid
from typing import Any

import numpy as np
import pytest

from engine.entities import EntityTable, WrongDataType

FLOAT = {"float16": np.float16, "float32": np.float32, "float": np.float32, "float64": np.float64}
INT_RANGE = {"int8": (-128, 127), "int32": (-2**31, 2**31 - 1), "int": (-2**63, 2**63 - 1),
             "uint8": (0, 255), "uint64": (0, 2**64 - 1), "uint16": (0, 65535)}
TEXT = ["unicode8", "unicode", "hex6", "uuid", "urlsafe5"]
SCALAR_TYPES = list(INT_RANGE) + list(FLOAT) + ["bool"] + TEXT
ID_TYPES = ["uint64", "int32", "uuid", "hex8", "urlsafe6", "bytes4"]
WORDS = ["red", "Green", "blue", "été", "alpha", "beta"]


# --- the model -------------------------------------------------------------------------------

def canon_id(t: str, v: Any) -> Any:
    if t in ("uint64", "int32"):
        return int(v)
    if t == "uuid":
        return str(v).lower()
    if t == "hex8":
        return str(v).upper()
    if t == "bytes4":
        raw = base64.urlsafe_b64decode(v + "=" * (-len(v) % 4))
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return v


def rand_id(rng: random.Random, t: str) -> Any:
    if t == "uint64":
        return rng.choice([1, 2, 3, 2**53 + 1, 2**63 + 5, 2**64 - 1, rng.randrange(1, 2**64)])
    if t == "int32":
        return rng.choice([-5, 1, 7, 2**31 - 1, -(2**31), rng.randrange(1, 1000)])
    if t == "uuid":
        u = str(uuid.UUID(int=rng.getrandbits(128)))
        return u.upper() if rng.random() < 0.5 else u
    if t == "hex8":
        return "".join(rng.choice("0123456789abcdefABCDEF") for _ in range(rng.randint(1, 8)))
    if t == "bytes4":
        raw = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4)))
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return "".join(rng.choice("abcXYZ09._-") for _ in range(rng.randint(1, 6)))


def rand_value(rng: random.Random, t: str) -> Any:
    if t in INT_RANGE:
        lo, hi = INT_RANGE[t]
        return rng.choice([lo, hi, 0, 1, -1 if lo < 0 else 2, rng.randint(lo, hi)])
    if t in FLOAT:
        info = np.finfo(FLOAT[t])
        return rng.choice([0.0, -0.0, 1.5, -2.25, float(info.max), -float(info.max), float(info.smallest_subnormal),
                           -float(info.smallest_subnormal), rng.uniform(-100, 100)])
    if t == "bool":
        return rng.random() < 0.5
    if t == "unicode8":
        return " ".join(rng.sample(WORDS, rng.randint(1, 2)))[:8]
    if t == "unicode":
        return " ".join(rng.sample(WORDS, rng.randint(1, 3)))
    if t == "hex6":
        return "".join(rng.choice("0123456789abcdef") for _ in range(rng.randint(1, 6)))
    if t == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(8)))
    return "".join(rng.choice("ab._-") for _ in range(rng.randint(1, 5)))


def canon_value(t: str, v: Any) -> Any:
    if t in FLOAT:
        return FLOAT[t](v)
    if t == "hex6":
        return v.upper()
    return v


def same(t: str, a: Any, b: Any) -> bool:
    """Equality as the filters define it (IEEE for floats)."""
    if t in FLOAT:
        return FLOAT[t](a) == FLOAT[t](b)
    return a == b


def tokens(text: str) -> set[str]:
    import re
    return set(re.findall(r"\w+", text.casefold()))


class Model:
    def __init__(self, schema: dict[str, tuple[str, bool]], id_type: str) -> None:
        self.schema = schema
        self.id_type = id_type
        self.rows: dict[Any, dict[str, Any]] = {}
        self.order: list[Any] = []          # first-creation order = record id order

    def _touch(self, key: Any) -> None:
        if key not in self.rows:
            self.rows[key] = {}
            if key not in self.order:
                self.order.append(key)

    # An empty list is no value: a repeated property set to [] reads back absent.
    def put(self, ents: list[dict[str, Any]]) -> None:
        for e in ents:
            key = canon_id(self.id_type, e["id"])
            self._touch(key)
            self.rows[key] = {p: self._store(p, v) for p, v in e.items() if p != "id" and v not in (None, [])}

    def patch(self, ents: list[dict[str, Any]]) -> None:
        for e in ents:
            key = canon_id(self.id_type, e["id"])
            self._touch(key)
            for p, v in e.items():
                if p == "id":
                    continue
                if v is None or v == []:
                    self.rows[key].pop(p, None)
                else:
                    self.rows[key][p] = self._store(p, v)

    def delete(self, ids: list[Any]) -> None:
        for i in ids:
            self.rows.pop(canon_id(self.id_type, i), None)

    def _store(self, p: str, v: Any) -> Any:
        t, rep = self.schema[p]
        if rep:
            out: list[Any] = []
            for x in v:
                cx = canon_value(t, x)
                if not any(same(t, cx, y) and (t not in FLOAT or math.copysign(1, cx) == math.copysign(1, y))
                           for y in out):
                    out.append(cx)
            return out
        return canon_value(t, v)

    def matches(self, row: dict[str, Any], flt: tuple[str, str, Any]) -> bool:
        p, op, value = flt
        t, rep = self.schema[p]
        have = row.get(p)
        vals = (have or []) if rep else ([] if have is None else [have])
        if op == "notempty":
            return bool(vals)
        if op == "ftsearch":
            want = tokens(value)
            return bool(vals) and want <= set().union(*(tokens(v) for v in vals))
        if op in ("in", "notin"):
            hit = any(same(t, v, w) for v in vals for w in [canon_value(t, x) for x in value])
            return hit if op == "in" else not hit
        w = canon_value(t, value)
        if op == "eq":
            return any(same(t, v, w) for v in vals)
        if op == "neq":
            return not any(same(t, v, w) for v in vals)
        cmp = {"lt": lambda a: a < w, "lte": lambda a: a <= w, "gt": lambda a: a > w, "gte": lambda a: a >= w}[op]
        return any(cmp(v) for v in vals)

    def scan(self, filters: list[tuple[str, str, Any]]) -> list[Any]:
        return [k for k in self.order if k in self.rows and all(self.matches(self.rows[k], f) for f in filters)]


# --- the run ---------------------------------------------------------------------------------

def _ops_for(t: str) -> list[str]:
    if t in FLOAT:
        return ["lt", "lte", "gt", "gte", "notempty"]
    if t == "bool":
        return ["eq", "neq", "notempty"]
    base = ["eq", "neq", "in", "notin", "notempty"]
    if t in INT_RANGE:
        return base + ["lt", "lte", "gt", "gte"]
    if t in ("unicode8", "unicode"):
        return base + ["ftsearch"]
    return base


def _rand_filter(rng: random.Random, schema: dict[str, tuple[str, bool]]) -> tuple[str, str, Any]:
    p = rng.choice(sorted(schema))
    t, _ = schema[p]
    op = rng.choice(_ops_for(t))
    if op == "notempty":
        return p, op, None
    if op == "ftsearch":
        return p, op, rng.choice(["RED", "green blue", "Été", "alpha", "zzz"])
    if op in ("in", "notin"):
        return p, op, [rand_value(rng, t) for _ in range(rng.randint(1, 3))]
    return p, op, rand_value(rng, t)


def _as_json(t: str, v: Any) -> Any:
    return float(v) if t in FLOAT else v


def _compare_entity(model: Model, table_ent: dict[str, Any], key: Any, id_field: str) -> None:
    assert canon_id(model.id_type, table_ent[id_field]) == key
    row = model.rows[key]
    got = {k: v for k, v in table_ent.items() if k != id_field}
    assert set(got) == set(row), (got, row)
    for p, v in row.items():
        t, rep = model.schema[p]
        if rep:
            assert len(got[p]) == len(v)
            for x in v:
                assert any(same(t, x, y) and (t not in FLOAT or math.copysign(1, x) == math.copysign(1, y))
                           for y in got[p]), (p, v, got[p])
        elif t in FLOAT:
            assert FLOAT[t](got[p]) == v and math.copysign(1, got[p]) == math.copysign(1, v), (p, got[p], v)
        else:
            assert got[p] == v, (p, got[p], v)


@pytest.mark.parametrize("seed", range(48))
def test_table_agrees_with_the_model(db, seed, monkeypatch):
    if seed % 2:   # odd seeds read values through Fragment.values_of, even ones through rows_holding
        monkeypatch.setattr("engine.state.FEW_ROWS", 0)
    rng = random.Random(seed)
    id_type = ID_TYPES[seed % len(ID_TYPES)]
    table = EntityTable.create(db, "items", kind="item", id_type=id_type)
    schema: dict[str, tuple[str, bool]] = {}
    for i in range(rng.randint(2, 6)):
        t = rng.choice(SCALAR_TYPES)
        rep = rng.random() < 0.3 and t not in ("bool",)
        name = f"p{i}" if rng.random() < 0.7 else f"P.{i}-x"
        table.create_property(name, "float32" if t == "float" else t, repeated=rep)
        schema[name] = ("float32" if t == "float" else t, rep)
    model = Model(schema, id_type)
    pool = list(dict.fromkeys(canon_id(id_type, rand_id(rng, id_type)) for _ in range(25)))
    for _ in range(6):
        kind = rng.choice(["put", "patch", "delete"])
        ids = rng.sample(pool, rng.randint(1, min(8, len(pool))))
        if kind == "delete":
            table.delete(ids)
            model.delete(ids)
            continue
        ents = []
        for i in ids:
            e: dict[str, Any] = {"id": i}
            for p, (t, rep) in schema.items():
                r = rng.random()
                if r < 0.25:
                    continue
                if r < 0.35:
                    e[p] = None
                elif rep:
                    e[p] = [rand_value(rng, t) for _ in range(rng.randint(0, 3))]
                else:
                    e[p] = rand_value(rng, t)
            ents.append(e)
        wire = [{"item_id": e["id"], **{p: ([_as_json(schema[p][0], x) for x in v] if isinstance(v, list)
                                            else None if v is None else _as_json(schema[p][0], v))
                                        for p, v in e.items() if p != "id"}} for e in ents]
        if kind == "put":
            table.put(wire)
            model.put(ents)
        else:
            table.patch(wire, create_if_missing=True)
            model.patch(ents)
    for _ in range(25):
        filters = [_rand_filter(rng, schema) for _ in range(rng.randint(0, 3))]
        specs = [{"property_name": p, "op": op, **({} if v is None else {"value": v})} for p, op, v in filters]
        expected = model.scan(filters)
        got: list[dict[str, Any]] = []
        cursor = None
        amt = rng.randint(1, 7)
        while True:
            page = table.scan(specs, cursor=cursor, amt=amt)
            got += page.entities
            if not page.has_next:
                assert page.next_cursor == ""
                break
            assert len(page.entities) == amt
            cursor = page.next_cursor
        assert [canon_id(id_type, e["item_id"]) for e in got] == expected, (filters, seed)
        for e, key in zip(got, expected):
            _compare_entity(model, e, key, "item_id")
    asked = [rand_id(rng, id_type) for _ in range(3)] + pool
    found = table.get_many(asked)    # in the order asked, each once, missing ones left out
    expected_keys = [k for k in dict.fromkeys(canon_id(id_type, a) for a in asked) if k in model.rows]
    assert [canon_id(id_type, e["item_id"]) for e in found] == expected_keys
    assert table.count() == len(model.rows)


def test_bad_batches_change_nothing(db):
    table = EntityTable.create(db, "items", kind="item", id_type="uint32")
    table.create_property("n", "int8")
    table.create_property("tags", "unicode4", repeated=True)
    table.put([{"item_id": 1, "n": 1, "tags": ["a"]}])
    before = table.get_many([1, 2, 3])
    for bad in ([{"item_id": 2, "n": 1}, {"item_id": 3, "n": 300}],       # out of range
                [{"item_id": 2, "n": 1}, {"item_id": 2, "n": 2}],         # duplicated id
                [{"item_id": 2, "tags": ["toolong"]}],
                [{"item_id": 2, "nope": 1}],                              # undeclared
                [{"item_id": 0, "n": 1}], [{"n": 1}], [{"item_id": 2**32, "n": 1}]):
        with pytest.raises(Exception) as exc:
            table.put(bad)
        assert getattr(exc.value, "code", None) in ("InvalidParameter", "ResourceAlreadyExists"), bad
        assert table.get_many([1, 2, 3]) == before
    with pytest.raises(WrongDataType):
        table.put([{"item_id": 2}], m2m=[{"name": "tags", "array": [{"item_index": 5, "value_id": "a"}]}])
    assert table.count() == 1
