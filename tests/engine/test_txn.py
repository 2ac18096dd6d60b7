"""engine/txn.py: Transaction (the change set and the write semantics), its log frame
(encode/decode_frame), apply_changes and check_value_range, tested directly.

Oracles: plain-Python models (record -> rows for set fields, record -> row for mutex/bool,
record -> int for BSI) and engine_testlib's independent readers of the committed state.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from engine_testlib import SHARD, bits, bsi_values, dump_index
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import InvalidValueError, ValueOutOfRangeError
from engine.state import IndexState
from engine.txn import COLUMN_KEYS, apply_changes, check_value_range, decode_frame
from ext import FrozenBitmap

_settings = settings(deadline=None, derandomize=True, max_examples=40,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
_names = itertools.count()
COLS = [0, 1, 2, SHARD, SHARD + 5]           # two shards


def _rows_of(idx, field: str) -> dict[int, set[int]]:
    """{row id: records} of a set-like field's standard view, read from the snapshot."""
    out: dict[int, set[int]] = {}
    for (name, view, _shard, row), cols in dump_index(idx).items():
        if name == field and view == "standard":
            out.setdefault(row, set()).update(cols)
    return out


def _by_record(model: dict[int, set[int]]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for col, rows in model.items():
        for r in rows:
            out.setdefault(r, set()).add(col)
    return out


def test_writes_are_invisible_to_older_snapshots_and_visible_after_commit(db):
    idx = db.create_index("t")
    idx.create_field("f")
    idx.set(1, "f", 3)
    before = idx.snapshot()
    fid = idx.field("f").definition.id
    with idx.transaction() as tx:
        tx.set(SHARD + 2, idx.field("f").definition, 3)
        tx.set(1, idx.field("f").definition, 4)
        # the transaction reads through its own pending changes …
        assert tx.contains(fid, "standard", 3, SHARD + 2) and tx.contains(fid, "standard", 4, 1)
        assert bits(tx.row_in_shard(fid, "standard", 1, 3)) == {SHARD + 2}
        # … which nobody else sees before the commit
        assert idx.snapshot() is before
        assert _rows_of(idx, "f") == {3: {1}}
    assert _rows_of(idx, "f") == {3: {1, SHARD + 2}, 4: {1}}
    assert bits(before.row(fid, "standard", 3)) == {1}          # the old snapshot is unchanged
    assert before.fragment(fid, "standard", 1) is None


def test_an_exception_rolls_back_data_and_new_keys(db):
    idx = db.create_index("t", keys=True)
    idx.create_field("f", keys=True)
    idx.set("a", "f", "x")
    state, keys = dump_index(idx), dict(idx.column_keys.items())
    fd = idx.field("f").definition
    with pytest.raises(RuntimeError):
        with idx.transaction() as tx:
            tx.set("b", fd, "y")
            tx.clear("a", fd, "x")
            assert not tx.empty
            raise RuntimeError("boom")
    assert dump_index(idx) == state
    assert dict(idx.column_keys.items()) == keys and idx.row_keys(fd).id("y") is None
    idx.set("c", "f", "y")                      # the rolled-back ids are allocated again
    assert idx.column_keys.id("c") == 1 and idx.row_keys(fd).id("y") == 2


def test_empty_transaction_commits_nothing(db):
    idx = db.create_index("t")
    idx.create_field("f")
    before = idx.snapshot()
    with idx.transaction() as tx:
        assert tx.empty
        assert tx.clear(5, idx.field("f").definition, 1) is False
    assert idx.snapshot() is before


_set_ops = st.lists(st.tuples(st.sampled_from(["set", "clear", "clear_row"]), st.sampled_from(COLS),
                              st.integers(0, 3), st.booleans()), max_size=25)


@pytest.mark.parametrize("kind", ["set", "mutex", "bool"])
@_settings
@given(ops=_set_ops)
def test_set_mutex_bool_writes_match_a_model(db, kind, ops):
    """Set/Clear/ClearRow, grouped into transactions at random, against a model; setting a
    second row of a mutex or bool field clears the first."""
    idx = db.create_index(f"t{next(_names)}")
    idx.create_field("f", kind)
    fd = idx.field("f").definition
    model: dict[int, set[int]] = {}
    existing: set[int] = set()                   # records ever set (Clear keeps existence)
    tx_ctx = idx.transaction()
    tx = tx_ctx.__enter__()
    for op, col, row, end_tx in ops:
        value = bool(row % 2) if kind == "bool" else row
        rid = int(value)
        cur = model.setdefault(col, set())
        if op == "set":
            changed = tx.set(col, fd, value)
            expect = cur != {rid} if kind != "set" else rid not in cur
            expect = expect or col not in existing
            existing.add(col)
            if kind != "set":
                cur.clear()
            cur.add(rid)
        elif op == "clear":
            changed = tx.clear(col, fd, value)
            expect = rid in cur
            cur.discard(rid)
        else:
            changed = tx.clear_row(fd, value)
            expect = any(rid in rows for rows in model.values())
            for rows in model.values():
                rows.discard(rid)
        assert changed == expect, (op, col, value)
        for c in COLS:                               # reads through the pending changes
            for r in range(4):
                assert tx.contains(fd.id, "standard", r, c) == (r in model.get(c, ()))
        if end_tx:
            tx_ctx.__exit__(None, None, None)
            tx_ctx = idx.transaction()
            tx = tx_ctx.__enter__()
    tx_ctx.__exit__(None, None, None)
    want = {r: cols for r, cols in _by_record(model).items() if cols}
    assert _rows_of(idx, "f") == want


_bsi_ops = st.lists(st.tuples(st.sampled_from(["set", "clear"]), st.sampled_from(COLS),
                              st.integers(-1000, 1000), st.booleans()), max_size=25)


@_settings
@given(ops=_bsi_ops)
def test_bsi_set_clear_overwrite_match_a_model(db, ops):
    idx = db.create_index(f"t{next(_names)}")
    idx.create_field("v", "int", min=-1000, max=1000)
    fd = idx.field("v").definition
    model: dict[int, int] = {}
    tx_ctx = idx.transaction()
    tx = tx_ctx.__enter__()
    for op, col, value, end_tx in ops:
        if op == "set":
            tx.set(col, fd, value)
            model[col] = value
        else:
            assert tx.clear(col, fd) == (col in model)
            model.pop(col, None)
        for c in COLS:
            assert tx.bsi_get(fd, c) == model.get(c)
        if end_tx:
            tx_ctx.__exit__(None, None, None)
            tx_ctx = idx.transaction()
            tx = tx_ctx.__enter__()
    tx_ctx.__exit__(None, None, None)
    assert bsi_values(idx, "v") == model


def test_bsi_with_a_base_and_range_checks(db):
    idx = db.create_index("t")
    idx.create_field("v", "int", min=100, max=200)
    fd = idx.field("v").definition
    with idx.transaction() as tx:
        tx.set(3, fd, 150)
        tx.set(3, fd, 101)
        tx.set(4, fd, 200)
        with pytest.raises(ValueOutOfRangeError):
            tx.set(5, fd, 201)
        with pytest.raises(InvalidValueError):
            tx.set(5, fd, None)
    assert bsi_values(idx, "v") == {3: 101, 4: 200}
    with pytest.raises(ValueOutOfRangeError):
        check_value_range(fd, np.array([150, 99]))
    check_value_range(fd, np.array([100, 200]))
    check_value_range(fd, np.array([], dtype=np.int64))


def test_store_and_delete(db):
    idx = db.create_index("t")
    idx.create_field("f")
    idx.create_field("v", "int", min=0, max=10)
    for c in (1, 2, SHARD + 1):
        idx.set(c, "f", 7)
        idx.set(c, "v", c % 10)
    f = idx.field("f").definition
    with idx.transaction() as tx:
        tx.store(f, 7, FrozenBitmap([2, 2 * SHARD]))
        tx.store(f, 8, FrozenBitmap([1]))
        assert tx.delete(FrozenBitmap([1, 99])) is True
        assert tx.delete(FrozenBitmap([99])) is False
    assert _rows_of(idx, "f") == {7: {2, 2 * SHARD}}
    assert bsi_values(idx, "v") == {2: 2, SHARD + 1: (SHARD + 1) % 10}
    exists = _rows_of_exists(idx)
    assert 1 not in exists and {2, SHARD + 1} <= exists


def _rows_of_exists(idx) -> set[int]:
    return {c for (name, _v, _s, _r), cols in dump_index(idx).items() if name == "_exists" for c in cols}


def test_the_log_frame_replays_to_the_committed_state(db):
    """encode → decode_frame → apply_changes over the pre-commit state gives the state the
    commit made; the new keys travel in the frame too."""
    idx = db.create_index("t", keys=True)
    idx.create_field("f", keys=True)
    idx.create_field("v", "int", min=-50, max=50)
    idx.set("a", "f", "x")
    base = idx.snapshot()
    f, v = idx.field("f").definition, idx.field("v").definition
    with idx.transaction() as tx:
        tx.set("a", f, "y")
        tx.set("b", f, "x")
        tx.set("b", v, -7)
        tx.clear("a", f, "x")
        payload = tx.encode()
    keys, changes = decode_frame(payload)
    assert sorted(keys) == \
        sorted([[COLUMN_KEYS, ["b"], [1]], [f.id, ["y"], [2]]])
    replayed = apply_changes(base, 99, changes)
    assert isinstance(replayed, IndexState) and replayed.seq == 99
    committed = idx.snapshot()
    for fid in (0, f.id, v.id):
        for view in set(committed.views(fid)) | set(replayed.views(fid)):
            for r in set(committed.row_ids(fid, view)) | set(replayed.row_ids(fid, view)):
                assert bits(replayed.row(fid, view, r)) == bits(committed.row(fid, view, r))
    assert bits(committed.row(f.id, "standard", 1)) == {1}          # "x": only b
    with pytest.raises(ValueError):
        decode_frame(b"\x90")
