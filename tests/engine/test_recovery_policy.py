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
from engine_testlib import copy_data_dir, dump_index


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


# --- finding 4 / 15: every file the MANIFEST names must exist and be the version it names ---

def _checkpointed(db: engine.Holder) -> tuple[str, dict]:
    _two_tables(db)
    db.checkpoint()
    before = dump_index(db.index("a"))
    db.close()
    return os.path.join(db.path, "a"), before


def _frag_files(apath: str) -> list[str]:
    return sorted(os.path.join(r, n) for r, _d, ns in os.walk(os.path.join(apath, "frag")) for n in ns)


def test_missing_fragment_file_is_data_corrupted_not_a_smaller_answer(open_db):
    db = open_db()
    apath, before = _checkpointed(db)
    frags = _frag_files(apath)
    assert len(frags) >= 4                       # existence + tags, several shards
    victim = frags[len(frags) // 2]
    os.remove(victim)

    report = engine.check(db.path)
    assert not report.ok
    assert [f.path for f in report.findings if f.severity == "error"] == [victim]

    db = open_db()
    with pytest.raises(engine.DataCorruptedError) as e:
        db.query("a", "Count(All())")
    assert e.value.path == victim and "missing" in str(e.value)
    assert db.query("b", "Count(Row(f=2))") == [1]
    db.close()
    assert victim not in _frag_files(apath) and len(_frag_files(apath)) == len(frags) - 1   # nothing removed


@pytest.mark.parametrize("damage", ["older version", "truncated", "swapped"])
def test_a_fragment_file_other_than_the_one_named_is_refused(open_db, damage):
    db = open_db()
    apath, _before = _checkpointed(db)
    frags = _frag_files(apath)
    victim = frags[-1]
    if damage == "older version":
        # A well-formed fragment that is not the one MANIFEST names: one row fewer.
        with open(victim, "rb") as f:
            data = f.read()
        from engine.storage import files
        rows = files.decode_fragment(data, victim)
        rows.pop(max(rows))
        with open(victim, "wb") as f:
            f.write(files.encode_fragment(sorted(rows.items())))
    elif damage == "truncated":
        with open(victim, "r+b") as f:
            f.truncate(os.path.getsize(victim) - 1)
    else:
        other = next(p for p in frags if p != victim and os.path.dirname(p) == os.path.dirname(victim))
        os.replace(other, victim)
    assert not engine.check(db.path).ok
    db = open_db()
    with pytest.raises(engine.DataCorruptedError) as e:
        db.index("a")
    assert e.value.path == victim or (damage == "swapped" and e.value.path == other)


def test_missing_key_file_is_data_corrupted(open_db):
    db = open_db()
    apath, _before = _checkpointed(db)
    (kfile,) = [os.path.join(apath, "keys", n) for n in os.listdir(os.path.join(apath, "keys"))]
    os.remove(kfile)
    assert [f.path for f in engine.check(db.path).findings if f.severity == "error"] == [kfile]
    db = open_db()
    with pytest.raises(engine.DataCorruptedError) as e:
        db.index("a")
    assert e.value.path == kfile


def test_missing_manifest_after_a_checkpoint_is_data_corrupted(open_db):
    db = open_db()
    apath, _before = _checkpointed(db)
    os.remove(os.path.join(apath, "MANIFEST"))
    report = engine.check(db.path)
    assert not report.ok
    assert any(f.severity == "error" and f.path == os.path.join(apath, "MANIFEST") for f in report.findings)
    db = open_db()
    with pytest.raises(engine.DataCorruptedError) as e:
        db.index("a")
    assert "MANIFEST" in str(e.value)


def test_missing_manifest_before_any_checkpoint_loses_nothing(open_db, tmp_path):
    """The log still holds every commit: the index opens complete (check warns)."""
    db = open_db()
    a = db.create_index("a")
    a.create_field("f")
    a.set(3, "f", 1)
    before = dump_index(a)
    crashed = copy_data_dir(db.path, str(tmp_path / "crash"))     # as kill -9 leaves it
    os.remove(os.path.join(crashed, "a", "MANIFEST"))
    report = engine.check(crashed)
    assert report.ok and any("MANIFEST missing" in f.message for f in report.findings)
    assert dump_index(open_db(crashed).index("a")) == before


def test_missing_log_named_by_manifest_is_data_corrupted(open_db):
    db = open_db()
    apath, _before = _checkpointed(db)
    db = open_db()
    db.index("a").set(5, "tags", "late")            # a commit only in the log
    crashed = copy_data_dir(db.path, os.path.join(os.path.dirname(db.path), "crash"))
    apath = os.path.join(crashed, "a")
    (log,) = [n for n in os.listdir(apath) if n.startswith("wal-")]
    os.remove(os.path.join(apath, log))
    assert not engine.check(crashed).ok
    db = open_db(crashed)
    with pytest.raises(engine.DataCorruptedError) as e:
        db.index("a")
    assert e.value.path == os.path.join(apath, log)


def test_checkpoints_leave_exactly_the_named_files(open_db):
    db = open_db()
    _two_tables(db)
    a = db.index("a")
    for r in range(3):
        a.import_values("tags", list(range(r, 3 * (1 << 20), 5001)), [f"r{r}"] * len(range(r, 3 * (1 << 20), 5001)))
        a.clear_row("tags", "t1") if r == 1 else None
        db.checkpoint()
        report = engine.check(db.path)
        assert report.ok and report.findings == [], report.findings
    a.create_field("x", keys=True)
    a.set(1, "x", "y")
    db.checkpoint()
    a.drop_field("x")
    before = dump_index(a)
    db = open_db.reopen(db)
    assert dump_index(db.index("a")) == before
    db.checkpoint()
    db.index("a").set(2, "tags", "t0")
    db.close()
    report = engine.check(db.path)
    assert report.ok and report.findings == [], report.findings


def test_version_1_data_directories_still_open_and_upgrade(open_db, tmp_path):
    """A data directory from before MANIFEST named its files (`{"seq": N}`, `<shard>.frag`,
    `columns.keys`/`<field id>.keys`) opens; its next checkpoint writes version 2."""
    from engine.storage import files

    db = open_db()
    apath, before = _checkpointed(db)
    # Rewrite the directory in version-1 form (format.md before format version 2).
    mpath = os.path.join(apath, "MANIFEST")
    with open(mpath, "rb") as f:
        seq = files.decode_doc(f.read(), mpath)["seq"]
    for p in _frag_files(apath):
        shard = os.path.basename(p).split("-")[0]
        os.replace(p, os.path.join(os.path.dirname(p), f"{shard}.frag"))
    kdir = os.path.join(apath, "keys")
    for n in os.listdir(kdir):
        os.replace(os.path.join(kdir, n), os.path.join(kdir, n.split("-")[0] + ".keys"))
    with open(mpath, "wb") as f:
        f.write(files.encode_doc({"seq": seq}))
    assert engine.check(db.path).ok

    db = open_db()
    a = db.index("a")
    assert dump_index(a) == before
    a.set(7, "tags", "t3")                      # one fragment changes, the rest stay version 1
    after = dump_index(a)
    db = open_db.reopen(db)
    assert dump_index(db.index("a")) == after
    db.close()
    with open(mpath, "rb") as f:
        assert files.decode_doc(f.read(), mpath)["version"] == 2
    names = [os.path.basename(p) for p in _frag_files(apath)]
    assert any("-" in n for n in names) and any("-" not in n for n in names)
    report = engine.check(db.path)
    assert report.ok and report.findings == [], report.findings
    os.remove([p for p in _frag_files(apath) if "-" not in os.path.basename(p)][0])   # now detected
    assert not engine.check(db.path).ok
    db = open_db()
    with pytest.raises(engine.DataCorruptedError):
        db.index("a")
