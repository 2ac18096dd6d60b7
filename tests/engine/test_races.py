"""Readers never iterate what a writer mutates (issue 14, finding 17).

A reader's key look-ups (PQL `Rows(like=)`, SQL LIKE) and schema listings (`fields()`,
SHOW COLUMNS, SELECT *) run without a lock beside the single writer, which adds keys and
creates fields. Each reader must iterate an immutable snapshot.

The interleaving tests are deterministic: a trace function stops the reader in the middle
of its iteration (the first line it runs once a named local is bound in a named code
object), runs a real writer call to completion in another thread, then lets the reader
continue. Before the fix each of them raised `RuntimeError: dictionary changed size during
iteration`. The hammer test then runs readers and a writer freely for a bounded number of
operations with a tiny switch interval, as a user would.
"""
from __future__ import annotations

import sys
import threading
from typing import Any, Callable

import pytest

import engine


def _paused_at(reader: Callable[[], Any], *, file: str, code: str, local: str,
               writer: Callable[[], None]) -> Any:
    """reader() in this thread; the first time it runs a line of code object `code` (in a
    file ending with `file`) with `local` bound, writer() runs to completion in another
    thread before the reader goes on (code "*": any code object of that file). Fails if
    that point was never reached."""
    fired = threading.Event()
    errors: list[BaseException] = []

    def run_writer() -> None:
        try:
            writer()
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    def local_trace(frame, event, arg):  # type: ignore[no-untyped-def]
        if fired.is_set():
            return None
        if event == "line" and local in frame.f_locals:
            fired.set()
            t = threading.Thread(target=run_writer)
            t.start()
            t.join()
            return None
        return local_trace

    def global_trace(frame, event, arg):  # type: ignore[no-untyped-def]
        if fired.is_set():
            return None
        if code in ("*", frame.f_code.co_name) and frame.f_code.co_filename.endswith(file):
            return local_trace
        return None

    sys.settrace(global_trace)
    try:
        result = reader()
    finally:
        sys.settrace(None)
    assert fired.is_set(), f"the reader never reached {code} with {local} bound in {file}"
    assert not errors, errors
    return result


@pytest.fixture
def keyed(db):
    idx = db.create_index("seg")
    idx.create_field("f", keys=True)
    idx.create_field("s", "mutex", keys=True)         # SQL's `string` column: LIKE works on it
    idx.import_values("f", list(range(300)), [f"k{i}" for i in range(300)])
    idx.import_values("s", list(range(300)), [f"k{i}" for i in range(300)])
    return db, idx


def _new_key_writer(idx: engine.Index, field: str = "f") -> Callable[[], None]:
    counter = iter(range(1000, 10**6))

    def write() -> None:
        n = next(counter)
        idx.set(n, field, f"k1new{n}")
    return write


def test_pql_rows_like_while_a_writer_adds_keys(keyed):
    db, idx = keyed
    expected_before = sorted(f"k{i}" for i in range(300) if str(i).startswith("1"))
    got = _paused_at(lambda: db.query("seg", "Rows(f, like='k1%')")[0],
                     file="keys.py", code="<genexpr>", local="k", writer=_new_key_writer(idx))
    # The reader's snapshot predates the new key's commit: it sees exactly the old k1* rows.
    assert sorted(got["keys"]) == expected_before
    # The writer's key is there for the next reader.
    assert len(db.query("seg", "Rows(f, like='k1%')")[0]["keys"]) == len(expected_before) + 1


def test_keymap_like_while_a_writer_adds_keys(keyed):
    db, idx = keyed
    km = idx.row_keys(idx.field("f").definition)
    got = _paused_at(lambda: km.like("k2%"), file="keys.py", code="<genexpr>", local="k",
                     writer=_new_key_writer(idx))
    assert set(got) >= {km.id(f"k{i}") for i in range(300) if str(i).startswith("2")}


def test_sql_like_while_a_writer_adds_keys(keyed):
    db, idx = keyed
    n_before = sum(1 for i in range(300) if str(i).startswith("1"))
    # parser built (another pattern: the same text again would reuse its plan, not look keys up)
    assert db.sql("SELECT COUNT(*) FROM seg WHERE s LIKE 'k2%'").rows[0][0] == \
        sum(1 for i in range(300) if str(i).startswith("2"))
    res = _paused_at(lambda: db.sql("SELECT COUNT(*) FROM seg WHERE s LIKE 'k1%'"),
                     file="keys.py", code="<genexpr>", local="k", writer=_new_key_writer(idx, "s"))
    assert res.rows[0][0] in (n_before, n_before + 1)


def _field_creator(idx: engine.Index) -> Callable[[], None]:
    counter = iter(range(10**6))

    def create() -> None:
        idx.create_field(f"new{next(counter)}", "int")
    return create


def test_field_listing_while_a_writer_creates_fields(keyed):
    db, idx = keyed
    for i in range(5):
        idx.create_field(f"g{i}")
    names = _paused_at(lambda: [f.name for f in idx.fields()], file="index.py", code="<listcomp>",
                       local="fd", writer=_field_creator(idx))
    assert names == ["f", "s"] + [f"g{i}" for i in range(5)]          # the schema as it was
    assert [f.name for f in idx.fields()][-1] == "new0"


def test_query_on_a_field_created_after_its_snapshot(keyed):
    """A read whose executor was built before a field existed, and whose calls were
    lowered after, answers from its snapshot (the field is empty there) — no KeyError."""
    db, idx = keyed

    def create_and_fill() -> None:
        idx.create_field("late")
        idx.set(1, "late", 1)

    got = _paused_at(lambda: db.query("seg", "Count(Row(late=1)) Rows(late)"), file="query.py",
                     code="run_query", local="ex", writer=create_and_fill)
    assert got == [0, {"rows": []}]
    assert db.query("seg", "Count(Row(late=1)) Rows(late)") == [1, {"rows": [1]}]


def test_sql_show_columns_while_a_writer_creates_fields(keyed):
    db, idx = keyed
    for i in range(5):
        idx.create_field(f"g{i}")
    res = _paused_at(lambda: db.sql("SHOW COLUMNS FROM seg"), file="ddl.py", code="show_columns",
                     local="fd", writer=_field_creator(idx))
    assert [r[0] for r in res.rows] == ["_id", "f", "s"] + [f"g{i}" for i in range(5)]


def test_sql_select_star_while_a_writer_creates_fields(keyed):
    db, idx = keyed
    for i in range(5):
        idx.create_field(f"g{i}")
    res = _paused_at(lambda: db.sql("SELECT * FROM seg WHERE _id = 7"), file="planner.py", code="table_cols",
                     local="fd", writer=_field_creator(idx))
    assert [c[0] for c in res.schema] == ["_id", "f", "s"] + [f"g{i}" for i in range(5)]


def test_checkpoint_while_a_reader_looks_up_an_unwritten_keyed_field(keyed):
    """A reader asking for the keys of a keyed field that has none yet must not add to the
    index's key-map table while a checkpoint walks it."""
    db, idx = keyed
    for i in range(3):
        idx.create_field(f"kf{i}", keys=True)
    idx.set(5, "kf0", "x")

    def reader() -> None:
        for i in range(3):
            assert db.query("seg", f"Rows(kf{i})")[0]["keys"] == (["x"] if i == 0 else [])

    _paused_at(idx.checkpoint, file="index.py", code="*", local="km", writer=reader)
    reader()


def test_readers_and_a_writer_hammer_keys_and_schema(keyed):
    """Free-running threads: 3 readers (PQL like, SQL LIKE, schema listings) against a
    writer adding keys and fields, a bounded number of operations, no exception."""
    db, idx = keyed
    stop = threading.Event()
    errors: list[BaseException] = []
    reads = [0]

    def guard(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # the test reports it
                errors.append(exc)
                stop.set()
        return run

    def reader_pql() -> None:
        while not stop.is_set():
            db.query("seg", "Rows(f, like='k1%')")
            reads[0] += 1

    def reader_sql() -> None:
        while not stop.is_set():
            db.sql("SELECT COUNT(*) FROM seg WHERE s LIKE '%1%'")
            reads[0] += 1

    def reader_schema() -> None:
        while not stop.is_set():
            [f.name for f in idx.fields()]
            db.sql("SHOW COLUMNS FROM seg")
            db.sql("SELECT * FROM seg WHERE _id = 3")
            reads[0] += 1

    def writer() -> None:
        try:
            for n in range(400):
                if stop.is_set():
                    return
                cols = [10_000 + 3 * n + j for j in range(3)]
                idx.import_records(cols, {"f": [f"k1w{n}-{j}" for j in range(3)],
                                          "s": [f"k1w{n}-{j}" for j in range(3)]})
                if n % 20 == 0:
                    idx.create_field(f"w{n}", keys=n % 40 == 0)
        finally:
            stop.set()

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        threads = [threading.Thread(target=guard(fn)) for fn in (reader_pql, reader_sql, reader_schema, writer)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads), "a thread is stuck"
    finally:
        sys.setswitchinterval(old)
    assert not errors, f"{errors[0]!r} after {reads[0]} reads"
    assert reads[0] > 0
    print(f"\nRaces: reader_ops={reads[0]} writer_batches=400 fields_created=20 errors=0")
    assert len(db.query("seg", "Rows(f, like='k1w%')")[0]["keys"]) == 1200
