"""Merge import against a plain-Python model of API.md §3.6's rules, the checks that come
first (nothing changes on a bad document) and the state machine around export/import.

The model works on export documents: the target before the import and the imported
document, merged record by record — an entity's given properties replace its values
(a repeated list replaced whole, null removes the value; property names matched
case-insensitively, the target keeping its spelling); a row's columns all replace the
target's (null clears), columns and tables the target lacks are added. The target
exported after the import must equal the model exactly.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.schema import FieldOptions
from server.service import databases, entities, query, restore_points, transfers
from server.service.errors import IncorrectState, InvalidParameter, ServiceError
from svc_testlib import root_of, start
from transfer_testlib import answers, entity_value, export_to, floats_bitwise


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    ctx = start(tmp_path_factory.mktemp("merge") / "data")
    yield ctx, root_of(ctx)
    ctx.close()


_n = [0]


def _name(prefix: str) -> str:
    _n[0] += 1
    return f"{prefix}{_n[0]}"


# --- the model -------------------------------------------------------------------------------

def read_doc(path: Path) -> dict[str, Any]:
    """An NDJSON export as {"props": {kind: {lower: (name, type, repeated)}}, "entities":
    {kind: {id: entity}}, "tables": {name: {"columns": [...], "rows": {id: {col: v}}}}}."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    header = lines[0]
    out: dict[str, Any] = {"props": {}, "entities": {"item": {}, "user": {}}, "tables": {}}
    for kind in ("item", "user"):
        out["props"][kind] = {p["property_name"].lower(): {"name": p["property_name"], "type": p["value_type"],
                                                           "repeated": p["repeated"]}
                              for p in header[f"{kind}s_properties"]}
    for t in header["sql_tables"]:
        out["tables"][t["name"]] = {"columns": [c["name"] for c in t["columns"][1:]], "rows": {}}
    for rec in lines[1:]:
        if rec["kind"] == "row":
            table = out["tables"][rec["table"]]
            rid, *vals = rec["values"]
            table["rows"][json.dumps(rid)] = dict(zip(table["columns"], vals))
        else:
            ent = rec[rec["kind"]]
            out["entities"][rec["kind"]][json.dumps(ent[f"{rec['kind']}_id"])] = ent
    return out


def merge_model(before: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    model = json.loads(json.dumps(before))
    for kind in ("item", "user"):
        props = model["props"][kind]
        for low, spec in doc["props"][kind].items():
            props.setdefault(low, spec)
        ents = model["entities"][kind]
        for key, ent in doc["entities"][kind].items():
            cur = ents.setdefault(key, {f"{kind}_id": ent[f"{kind}_id"]})
            for prop, value in ent.items():
                if prop == f"{kind}_id":
                    continue
                name = props[prop.lower()]["name"]
                if value is None:
                    cur.pop(name, None)
                else:
                    cur[name] = value
    for tname, table in doc["tables"].items():
        mt = model["tables"].setdefault(tname, {"columns": list(table["columns"]), "rows": {}})
        for col in table["columns"]:
            if col not in mt["columns"]:
                mt["columns"].append(col)
        for row in mt["rows"].values():
            for col in mt["columns"]:
                row.setdefault(col, None)
        for key, row in table["rows"].items():
            cur = mt["rows"].setdefault(key, {c: None for c in mt["columns"]})
            cur.update(row)
    return model


def normalized(doc: dict[str, Any]) -> dict[str, Any]:
    """Lists (repeated values, set members) compared as multisets; floats bit-exactly."""
    def norm(v: Any) -> Any:
        if isinstance(v, list):
            return sorted((norm(x) for x in v), key=lambda x: json.dumps(x))
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, float):
            return repr(v)
        return v
    return norm(doc)


# --- random scenarios ------------------------------------------------------------------------

TYPES = ["int32", "uint64", "float", "float64", "bool", "unicode", "hex8"]


def _make(ctx, root, rng, name, *, id_type, props, ids, columns, table_ids):
    db = databases.create_database(ctx, root, name=name, item_id_type=id_type)
    for pname, vt, repeated in props:
        entities.create_property(ctx, root, "item", property_name=pname, value_type=vt, repeated=repeated,
                                 database=db.id)
    ents = []
    for i in ids:
        ent: dict[str, Any] = {"item_id": i}
        for pname, vt, repeated in props:
            if rng.random() < 0.7:
                ent[pname] = [entity_value(rng, vt) for _ in range(int(rng.integers(1, 3)))] if repeated \
                    else entity_value(rng, vt)
        ents.append(ent)
    if ents:
        entities.put_entities(ctx, root, "item", ents, database=db.id)
    holder = ctx.engine(db.id)
    for tname, cols in columns.items():
        idx = holder.create_index(tname)
        idx.create_fields([(c, FieldOptions.make(t, **o), {}) for c, t, o in cols])
        rows = table_ids[tname]
        vals: dict[str, list[Any]] = {}
        for c, t, o in cols:
            vals[c] = [None if rng.random() < 0.2 else _value(rng, t, o) for _ in rows]
        idx.write_records(rows, vals)
    return db


def _value(rng, t, o):
    if t == "int":
        return int(rng.integers(o.get("min", -1000), o.get("max", 1000) + 1))
    if t == "set":
        return sorted({f"s{int(x)}" for x in rng.integers(0, 8, 2)})
    if t == "mutex":
        return f"m{int(rng.integers(0, 4))}"
    return bool(rng.random() < 0.5)


@pytest.mark.parametrize("seed", range(6))
def test_merge_matches_the_model(env, tmp_path, seed):
    ctx, root = env
    rng = np.random.default_rng(100 + seed)
    shared = [(f"p{i}", vt, bool(rng.random() < 0.3) and vt != "bool") for i, vt in enumerate(
        rng.choice(TYPES, size=4, replace=False))]
    only_target = [("TargetOnly", "unicode", False)]
    only_doc = [("docOnly", "int32", True)]
    # The document spells one shared property in another case: the target's name wins.
    doc_props = [(p.upper() if i == 0 else p, vt, rep) for i, (p, vt, rep) in enumerate(shared)] + only_doc
    target_ids = [int(x) for x in rng.choice(np.arange(1, 200), 30, replace=False)]
    doc_ids = [int(x) for x in rng.choice(np.arange(1, 200), 30, replace=False)]
    cols_t = {"t": [("a", "int", {"min": -1000, "max": 1000}), ("s", "set", {"keys": True}), ("b", "bool", {})]}
    cols_d = {"t": [("a", "int", {"min": -1000, "max": 1000}), ("s", "set", {"keys": True}),
                    ("m", "mutex", {"keys": True})],
              "fresh": [("x", "int", {"min": 0, "max": 9})]}
    target = _make(ctx, root, rng, _name("target"), id_type="uint32", props=shared + only_target,
                   ids=target_ids, columns=cols_t, table_ids={"t": list(range(0, 40, 2))})
    source = _make(ctx, root, rng, _name("source"), id_type="uint32", props=doc_props, ids=doc_ids,
                   columns=cols_d, table_ids={"t": list(range(0, 40, 3)), "fresh": [1, 2, 3]})
    before = read_doc(export_to(ctx, root, target.id, tmp_path / "before.ndjson"))
    doc_path = export_to(ctx, root, source.id, tmp_path / "doc.ndjson.gz", gzip=True)
    # Some nulls in the document: they remove values.
    with gzip.open(doc_path, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    edited = []
    for line in lines:
        rec = json.loads(line)
        if rec.get("kind") == "item" and rng.random() < 0.3:
            rec["item"][shared[1][0]] = None
        edited.append(json.dumps(rec))
    doc_path = tmp_path / "edited.ndjson"
    doc_path.write_text("\n".join(edited) + "\n", encoding="utf-8")
    doc = read_doc(doc_path)
    expected = merge_model(before, doc)
    result = transfers.import_database(ctx, root, target.id, str(doc_path))
    assert result.items == len(doc_ids) and result.rows == {"t": 14, "fresh": 3}
    assert "item:docOnly" in result.properties_created and result.tables_created == ["fresh"]
    assert result.columns_created == ["t.m"]
    after = read_doc(export_to(ctx, root, target.id, tmp_path / "after.ndjson"))
    assert normalized(after) == normalized(expected)
    # importing the same document again changes nothing more (PATCH semantics are idempotent)
    transfers.import_database(ctx, root, target.id, str(doc_path))
    assert normalized(read_doc(export_to(ctx, root, target.id, tmp_path / "again.ndjson"))) == normalized(expected)


# --- checked first: nothing changes ------------------------------------------------------------

def _bad_doc(tmp_path: Path, header_edit=None, extra_lines=()) -> Path:
    header = {"format": "roarbase.export", "version": "1", "database": {"name": "x"},
              "items_properties": [{"property_name": "price", "value_type": "float32", "repeated": False}],
              "users_properties": [], "sql_tables": [
                  {"name": "t", "keys": False, "track_existence": True, "description": "",
                   "columns": [{"name": "_id", "type": "id"}, {"name": "n", "type": "int",
                                                                "options": {"type": "int", "min": 0, "max": 10}}]}]}
    if header_edit:
        header_edit(header)
    path = tmp_path / f"bad{_name('')}.ndjson"
    path.write_text("\n".join([json.dumps(header), *extra_lines]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def populated(env):
    ctx, root = env
    db = databases.create_database(ctx, root, name=_name("pop"))
    entities.create_property(ctx, root, "item", property_name="price", value_type="unicode", database=db.id)
    entities.put_entities(ctx, root, "item", [{"item_id": 1, "price": "cheap"}], database=db.id)
    query.sql(ctx, root, db.id, "CREATE TABLE t (_id ID, n INT MIN 0 MAX 5); INSERT INTO t (_id, n) VALUES (1, 2)")
    return ctx, root, db


def _unchanged(ctx, root, db, fn):
    before = floats_bitwise(_state(ctx, root, db))
    with pytest.raises(ServiceError) as info:
        fn()
    assert floats_bitwise(_state(ctx, root, db)) == before
    assert databases.get_database(ctx, root, db.id).state == "RUNNING"
    assert not restore_points.leftovers(ctx)
    return info.value


def _state(ctx, root, db):
    return {"items": entities.scan_entities(ctx, root, "item", database=db.id).entities,
            "props": [p.to_dict("item") for p in entities.list_properties(ctx, root, "item", database=db.id)],
            "t": query.sql(ctx, root, db.id, "SELECT * FROM t").to_dict()["data"],
            "tables": query.sql(ctx, root, db.id, "SHOW TABLES").to_dict()["data"]}


def test_a_property_type_clash_is_refused_and_nothing_changes(populated, tmp_path):
    ctx, root, db = populated
    path = _bad_doc(tmp_path, extra_lines=['{"kind": "item", "item": {"item_id": 5, "price": 1.5}}'])
    err = _unchanged(ctx, root, db, lambda: transfers.import_database(ctx, root, db.id, str(path)))
    assert err.code == "InvalidParameter" and err.name == "PROPERTY_TYPE_CONFLICT"
    assert err.data["problems"][0]["where"] == "items_properties.price"


def test_a_column_type_clash_is_refused(populated, tmp_path):
    ctx, root, db = populated

    def edit(h):
        h["items_properties"] = []
        h["sql_tables"][0]["columns"][1] = {"name": "n", "type": "string", "options": {"type": "mutex", "keys": True}}
    err = _unchanged(ctx, root, db, lambda: transfers.import_database(ctx, root, db.id, str(_bad_doc(tmp_path, edit))))
    assert err.name == "COLUMN_TYPE_CONFLICT"


def test_bad_records_are_listed_first_problems_first_and_nothing_changes(populated, tmp_path):
    ctx, root, db = populated

    def edit(h):
        h["items_properties"] = [{"property_name": "price", "value_type": "unicode", "repeated": False}]
    lines = ['{"kind": "item", "item": {"item_id": 2, "price": "ok"}}',        # fine
             '{"kind": "row", "table": "t", "values": [2, 3]}',                 # fine
             '{"kind": "row", "table": "t", "values": [3, 7]}',                 # over the target's max 5
             '{"kind": "item", "item": {"item_id": 0, "price": "x"}}',          # id 0 refused
             '{"kind": "item", "item": {"item_id": 4, "colour": "x"}}',         # unknown property
             '{"kind": "row", "table": "nope", "values": [1, 1]}',              # unknown table
             *['{"kind": "row", "table": "t", "values": [9, "x"]}'] * 30]       # 30 more
    path = _bad_doc(tmp_path, edit, lines)
    err = _unchanged(ctx, root, db, lambda: transfers.import_database(ctx, root, db.id, str(path)))
    problems = err.data["problems"]
    assert len(problems) == 20 and err.data["problem_count"] >= 20
    assert [p["where"] for p in problems[:4]] == ["line 4", "line 5", "line 6", "line 7"]
    assert "outside the column's range" in problems[0]["message"]
    assert "unknown property 'colour'" in problems[2]["message"]


@pytest.mark.parametrize("text, name", [
    ("", "INVALID_EXPORT_DOCUMENT"),
    ("not json", "INVALID_EXPORT_DOCUMENT"),
    ('{"format": "something else", "version": "1"}\n', "INVALID_EXPORT_DOCUMENT"),
    ('{"format": "roarbase.export", "version": "2"}\n', "INVALID_EXPORT_DOCUMENT"),
    ('{"format": "roarbase.export", "version": "1", "surprise": 1}\n', "INVALID_EXPORT_DOCUMENT"),
    ('{"format": "roarbase.export", "version": "1"}\n{"kind": "row"\n', "INVALID_EXPORT_DOCUMENT"),
    ('{"version": "1", "values": {"iterable": [{"id": "roarbase.export.1", "raw": [1]}]}}', "INVALID_EXPORT_DOCUMENT"),
    ('{"version": "1", "values": {"iterable": [{"id": "roarbase.export", "raw": [300]}]}}', "INVALID_EXPORT_DOCUMENT"),
])
def test_unreadable_documents(populated, tmp_path, text, name):
    ctx, root, db = populated
    path = tmp_path / "doc"
    path.write_text(text)
    err = _unchanged(ctx, root, db, lambda: transfers.import_database(ctx, root, db.id, str(path)))
    assert err.name == name and err.code in ("InvalidBody", "InvalidParameter")


def test_an_envelope_without_a_document_is_an_empty_merge(populated, tmp_path):
    ctx, root, db = populated
    before = _state(ctx, root, db)
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"version": "x", "values": {"iterable": [{"id": "other", "raw": [1, 2]}]},
                                "analyses": [1]}))
    assert transfers.import_database(ctx, root, db.id, str(path)).to_dict()["items"] == 0
    assert _state(ctx, root, db) == before


def test_a_json_document_in_any_key_order(populated, tmp_path):
    """The JSON form read by events: the arrays may come before the keys describing them."""
    ctx, root, db = populated
    doc = {"sql_tables": [{"rows": [[7, 1]], "columns": [{"name": "_id", "type": "id"},
                                                          {"name": "n", "type": "int", "options": {"type": "int"}}],
                           "name": "t", "keys": False, "track_existence": True}],
           "items": [{"item_id": 9, "price": "late"}],
           "items_properties": [{"property_name": "price", "value_type": "unicode", "repeated": False}],
           "version": "1", "format": "roarbase.export"}
    path = tmp_path / "sorted.json"
    path.write_text(json.dumps(doc, sort_keys=True))
    transfers.import_database(ctx, root, db.id, str(path))
    assert entities.get_entity(ctx, root, "item", 9, database=db.id)["price"] == "late"
    assert [7, 1] in query.sql(ctx, root, db.id, "SELECT _id, n FROM t").to_dict()["data"]


# --- the state machine ---------------------------------------------------------------------------

def test_export_holds_backup_reads_answer_writes_refused(populated):
    ctx, root, db = populated
    export = transfers.start_export(ctx, root, db.id)
    chunks = export.chunks()
    first = next(chunks)
    assert first and databases.get_database(ctx, root, db.id).state == "BACKUP"
    assert query.sql(ctx, root, db.id, "SELECT COUNT(*) FROM t").to_dict()["data"] == [[1]]
    assert entities.get_entity(ctx, root, "item", 1, database=db.id)["price"] == "cheap"
    for write in (lambda: query.sql(ctx, root, db.id, "INSERT INTO t (_id, n) VALUES (9, 1)"),
                  lambda: entities.put_entities(ctx, root, "item", [{"item_id": 3}], database=db.id),
                  lambda: ctx.engine(db.id).index("t").set(5, "n", 1),
                  lambda: transfers.start_export(ctx, root, db.id),
                  lambda: transfers.import_database(ctx, root, db.id, "/nonexistent")):
        with pytest.raises(Exception) as info:
            write()
        assert getattr(info.value, "code", None) == "IncorrectState", info.value
    rest = b"".join(chunks)
    assert json.loads(first + rest)["format"] == "roarbase.export"
    assert databases.get_database(ctx, root, db.id).state == "RUNNING"
    query.sql(ctx, root, db.id, "INSERT INTO t (_id, n) VALUES (9, 1)")


def test_an_abandoned_export_returns_to_running(populated):
    ctx, root, db = populated
    export = transfers.start_export(ctx, root, db.id, fmt="ndjson")
    chunks = export.chunks()
    next(chunks)
    chunks.close()
    assert databases.get_database(ctx, root, db.id).state == "RUNNING"
    transfers.start_export(ctx, root, db.id).close()
    assert databases.get_database(ctx, root, db.id).state == "RUNNING"


def test_import_is_restoring_while_it_merges(populated, tmp_path):
    ctx, root, db = populated
    src = databases.create_database(ctx, root, name=_name("src"))
    entities.create_property(ctx, root, "item", property_name="price", value_type="unicode", database=src.id)
    entities.put_entities(ctx, root, "item", [{"item_id": i, "price": "p"} for i in range(1, 50)], database=src.id)
    path = export_to(ctx, root, src.id, tmp_path / "doc.ndjson")
    seen = []

    def progress(phase, done, total):
        if phase == "apply" and not seen:
            seen.append(databases.get_database(ctx, root, db.id).state)
            with pytest.raises(IncorrectState):
                query.sql(ctx, root, db.id, "INSERT INTO t (_id, n) VALUES (5, 1)")
            with pytest.raises(IncorrectState):
                query.sql(ctx, root, db.id, "SELECT COUNT(*) FROM t")
            assert restore_points.complete(ctx, db.id)
    transfers.import_database(ctx, root, db.id, str(path), progress=progress)
    assert seen == ["RESTORING"]
    assert databases.get_database(ctx, root, db.id).state == "RUNNING"
    assert not restore_points.leftovers(ctx)
    assert len(entities.scan_entities(ctx, root, "item", database=db.id).entities) == 49


def test_import_refused_unless_running_and_by_role(env, tmp_path):
    ctx, root = env
    from svc_testlib import member
    db = databases.create_database(ctx, root, name=_name("roles"))
    path = tmp_path / "env.json"
    path.write_text('{"version": "1", "values": {"iterable": []}}')
    backend = member(ctx, root, "backend")
    with pytest.raises(ServiceError) as info:
        transfers.import_database(ctx, backend, db.id, str(path))
    assert info.value.code == "Unauthorized"
    transfers.start_export(ctx, backend, db.id).close()          # backend may export
    databases.delete_database(ctx, root, db.id, wait=True)
    with pytest.raises(ServiceError) as info:
        transfers.import_database(ctx, root, db.id, str(path))
    assert info.value.code == "ResourceNotFound"


def test_answers_unchanged_after_a_refused_import_battery(env, tmp_path):
    """A document with one bad value deep inside leaves a random database answering every
    question exactly as before."""
    from transfer_testlib import build
    ctx, root = env
    db = build(ctx, root, np.random.default_rng(77), _name("battery"), records=25)
    path = export_to(ctx, root, db.id, tmp_path / "doc.ndjson")
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(len(lines) - 3, '{"kind": "row", "table": "facts", "values": [5' + ', null' * 19 + ', {"1999": [1]}]}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = floats_bitwise(answers(ctx, root, db.id))
    with pytest.raises(InvalidParameter) as info:
        transfers.import_database(ctx, root, db.id, str(path))
    assert "no view" in info.value.data["problems"][0]["message"]
    assert floats_bitwise(answers(ctx, root, db.id)) == before


def test_integers_past_64_bits_are_read_exactly_and_refused(populated, tmp_path):
    """Batches are decoded fast (orjson reads an integer past 64 bits as a float); a
    record that does not pass the fast column check is re-read exactly, so such a value is
    refused as what it is, never rounded into range."""
    ctx, root, db = populated
    header = {"format": "roarbase.export", "version": "1", "sql_tables": [
        {"name": "wide", "columns": [{"name": "_id", "type": "id"},
                                     {"name": "u", "type": "int", "options": {"type": "int", "min": 0,
                                                                             "max": 2**64 - 1}},
                                     {"name": "d", "type": "decimal(0)", "options": {"type": "decimal"}}]}]}
    lines = [json.dumps(header), '{"kind": "row", "table": "wide", "values": [1, 18446744073709551615, "5"]}',
             '{"kind": "row", "table": "wide", "values": [2, 18446744073709551616, "5"]}',
             '{"kind": "row", "table": "wide", "values": [18446744073709551616, 1, "5"]}',
             '{"kind": "row", "table": "wide", "values": [4, 1, 123456789012345678901234]}']
    path = tmp_path / "wide.ndjson"
    path.write_text("\n".join(lines) + "\n")
    err = _unchanged(ctx, root, db, lambda: transfers.import_database(ctx, root, db.id, str(path)))
    problems = {p["where"]: p["message"] for p in err.data["problems"]}
    assert set(problems) == {"line 3", "line 4", "line 5"}
    assert "18446744073709551616 is outside the column's range" in problems["line 3"]
    assert "18446744073709551616 is not an unsigned 64-bit integer" in problems["line 4"]
    assert "123456789012345678901234 is outside the column's range" in problems["line 5"]
    ok = tmp_path / "ok.ndjson"
    ok.write_text("\n".join(lines[:2]) + "\n")
    transfers.import_database(ctx, root, db.id, str(ok))
    assert query.sql(ctx, root, db.id, "SELECT u FROM wide").to_dict()["data"] == [[2**64 - 1]]
