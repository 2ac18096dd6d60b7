"""Recovery never deletes data it does not understand (issue 14, findings 4, 5, 15).

Policy (engine/storage/format.md, "Recovery policy for damaged or missing files"): an index
directory whose SCHEMA, MANIFEST or any file the MANIFEST names is missing or damaged is
not opened — the index raises DataCorruptedError naming the file, every other index keeps
working, `engine.check` reports an error — and nothing in it is changed or removed. Only
the engine's own scratch directories (`.creating-<name>`, `.dropped-<name>`: an interrupted
create or drop) are removed on open.
"""
from __future__ import annotations

import os

import pytest

import engine
from engine_testlib import dump_index


def _two_tables(db: engine.Holder) -> None:
    a = db.create_index("a")
    a.create_field("tags", keys=True)
    a.import_values("tags", list(range(0, 3 * (1 << 20), 997)), [f"t{i % 7}" for i in range(0, 3 * (1 << 20), 997)])
    b = db.create_index("b")
    b.create_field("f")
    b.set(1, "f", 2)


def _tree(path: str) -> dict[str, bytes]:
    out = {}
    for root, _dirs, names in os.walk(path):
        for n in names:
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, path)] = f.read()
    return out


def test_missing_schema_keeps_the_table_and_reports_it(open_db):
    db = open_db()
    _two_tables(db)
    before = dump_index(db.index("a"))
    db.close()
    apath = os.path.join(db.path, "a")
    with open(os.path.join(apath, "SCHEMA"), "rb") as f:
        schema = f.read()
    os.remove(os.path.join(apath, "SCHEMA"))
    files_before = _tree(apath)

    db = open_db()
    with pytest.raises(engine.DataCorruptedError) as e:
        db.index("a")
    assert e.value.code == "DataCorrupted"
    assert "SCHEMA" in str(e.value) and e.value.path.endswith(os.path.join("a", "SCHEMA"))
    assert set(db.failed_indexes()) == {"a"}
    assert db.query("b", "Count(Row(f=2))") == [1]                   # the others keep working
    with pytest.raises(engine.IndexExistsError):
        db.create_index("a")                                          # the name stays taken
    db.close()
    assert _tree(apath) == files_before                               # nothing changed or removed

    report = engine.check(db.path)
    assert not report.ok
    assert any(f.severity == "error" and f.path.endswith(os.path.join("a", "SCHEMA")) for f in report.findings)

    with open(os.path.join(apath, "SCHEMA"), "wb") as f:          # the operator restores it
        f.write(schema)
    db = open_db()
    assert dump_index(db.index("a")) == before
    assert engine.check(db.path).ok


def test_a_failed_index_can_still_be_dropped_on_purpose(open_db):
    db = open_db()
    _two_tables(db)
    db.close()
    os.remove(os.path.join(db.path, "a", "SCHEMA"))
    db = open_db()
    db.drop_index("a")
    assert not os.path.exists(os.path.join(db.path, "a"))
    db.create_index("a").create_field("x")
    assert db.query("a", "Count(All())") == [0]


def test_directories_that_are_not_indexes_are_left_alone(open_db):
    db = open_db()
    _two_tables(db)
    db.close()
    junk = os.path.join(db.path, "lost+found")
    os.makedirs(junk)
    with open(os.path.join(junk, "x"), "wb") as f:
        f.write(b"keep me")
    db = open_db()
    assert [i.name for i in db.indexes()] == ["a", "b"] and not db.failed_indexes()
    db.close()
    with open(os.path.join(junk, "x"), "rb") as f:
        assert f.read() == b"keep me"
    assert engine.check(db.path).ok


def test_drop_then_create_same_name_and_reopen(open_db):
    db = open_db()
    _two_tables(db)
    db.drop_index("a")
    assert sorted(os.listdir(db.path)) == ["LOCK", "b"]
    db.create_index("a").create_field("y")
    db.index("a").set(5, "y", 1)
    db = open_db.reopen(db)
    assert db.query("a", "Row(y=1)")[0]["columns"] == [5]
    assert sorted(os.listdir(db.path)) == ["LOCK", "a", "b"]
