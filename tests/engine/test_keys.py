"""engine/keys.py: KeyMap, string key <-> integer id translation, tested directly.

Oracles: a plain dict model of first-seen allocation (ids dense from first_id, never
reused), and for persistence and threads the holder's public API (engine.open).
"""
from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidValueError, KeysNotAllowedError
from engine.keys import KeyMap

MISSING = 2**64 - 1
_settings = settings(deadline=None, derandomize=True, max_examples=60)
_keys = st.lists(st.text(alphabet="ab%_x", max_size=4), max_size=30)


def _model(first_id: int, keys: list[str]) -> dict[str, int]:
    """First-seen allocation: the n-th distinct key gets first_id + n."""
    out: dict[str, int] = {}
    for k in keys:
        out.setdefault(k, first_id + len(out))
    return out


@_settings
@given(_keys, _keys, st.sampled_from([0, 1]))
def test_translate_allocates_first_seen_dense_ids_and_round_trips(first, second, first_id):
    km = KeyMap(first_id)
    pending: list[tuple[str, int]] = []
    ids1 = km.translate(first, True, pending)
    ids2 = km.translate(np.array(second, dtype=object), True, pending)
    model = _model(first_id, first + second)
    assert ids1.dtype == np.uint64 and ids1.tolist() == [model[k] for k in first]
    assert ids2.tolist() == [model[k] for k in second]
    assert dict(km.items()) == model and len(km) == len(model)
    assert km.next_id == first_id + len(model)
    assert pending == list(model.items())          # each new key recorded once, in order
    assert all(km.key(i) == k and km.id(k) == i for k, i in model.items())
    assert km.keys_for(list(model.values()) + [first_id + len(model)]) == list(model) + [None]


@_settings
@given(_keys)
def test_translate_input_kinds_agree(keys):
    """A list, a numpy unicode array, an object array and an Arrow array allocate alike."""
    outs = []
    for make in (list, lambda k: np.array(k, dtype=str) if k else np.array([], dtype="U1"),
                 lambda k: np.array(k, dtype=object), lambda k: pa.array(k, type=pa.string()),
                 lambda k: pa.chunked_array([pa.array(k, type=pa.string())])):
        km = KeyMap(1)
        outs.append((km.translate(make(keys), True, []).tolist(), dict(km.items())))
    assert all(o == outs[0] for o in outs)
    assert outs[0][0] == [_model(1, keys)[k] for k in keys]


def test_unknown_keys_without_create_are_missing_and_allocate_nothing():
    km = KeyMap(0, {"a": 0})
    pending: list[tuple[str, int]] = []
    assert km.translate(["a", "zz", "a"], False, pending).tolist() == [0, MISSING, 0]
    assert km.id("zz") is None and km.key(5) is None and pending == [] and len(km) == 1


def test_bad_inputs_are_typed_errors():
    km = KeyMap(0)
    with pytest.raises(InvalidValueError):
        km.translate("abc", True, [])              # one string, not a sequence of keys
    with pytest.raises(KeysNotAllowedError):
        km.translate(np.array([1, 2]), True, [])
    with pytest.raises(KeysNotAllowedError):
        km.translate(["a", 3], True, [])
    with pytest.raises(InvalidValueError):
        km.translate(pa.array(["a", None]), True, [])
    with pytest.raises(KeysNotAllowedError):
        km.create(7, [])  # type: ignore[arg-type]


def test_rollback_forgets_pending_keys_and_reuses_their_ids():
    km = KeyMap(1)
    km.translate(["a", "b"], True, [])
    pending: list[tuple[str, int]] = []
    km.translate(["c", "a", "d"], True, pending)
    assert pending == [("c", 3), ("d", 4)]
    km.rollback(pending)
    assert dict(km.items()) == {"a": 1, "b": 2} and km.next_id == 3 and km.key(3) is None
    assert km.create("e", []) == 3


def test_apply_replays_idempotently_and_advances_next_id():
    km = KeyMap(0)
    km.apply([("x", 4), ("y", 2)])
    km.apply([("x", 4)])
    assert dict(km.items()) == {"x": 4, "y": 2} and km.next_id == 5 and km.key(4) == "x"
    assert km.create("z", []) == 5


def test_like_matches_sql_patterns():
    keys = ["apple", "apply", "ape", "a_b", "a%b", "axb", "b\napple", ""]
    km = KeyMap(1)
    km.translate(keys, True, [])
    ids = dict(km.items())

    def want(pred):
        return sorted(ids[k] for k in keys if pred(k))

    assert km.like("app%") == want(lambda k: k.startswith("app"))
    assert km.like("a_b") == want(lambda k: len(k) == 3 and k[0] == "a" and k[2] == "b")
    assert km.like("%") == want(lambda k: True)
    assert km.like("ap") == []
    assert km.like("%apple") == want(lambda k: k.endswith("apple"))


def test_ids_are_dense_and_stable_across_reopen(open_db):
    db = open_db()
    idx = db.create_index("k", keys=True)
    idx.create_field("f", keys=True)
    idx.import_values("f", ["r0", "r1", "r2", "r1"], ["x", "y", "x", "z"])
    cols = dict(idx.column_keys.items())
    rows = dict(idx.row_keys(idx.field("f").definition).items())
    assert cols == {"r0": 0, "r1": 1, "r2": 2}               # records from 0
    assert rows == {"x": 1, "y": 2, "z": 3}                  # rows from 1, first-seen order
    db = open_db.reopen(db)
    idx = db.index("k")
    assert dict(idx.column_keys.items()) == cols
    fkm = idx.row_keys(idx.field("f").definition)
    assert dict(fkm.items()) == rows
    idx.set("r9", "f", "w")
    assert idx.column_keys.id("r9") == 3 and fkm.id("w") == 4    # never reused, still dense


def test_concurrent_translation_gives_one_id_per_key(open_db):
    """Writers from several threads (serialised by the index's writer lock) agree on
    one id per key, and the ids are dense."""
    db = open_db()
    idx = db.create_index("k", keys=True)
    idx.create_field("f", keys=True)
    names = [f"k{i}" for i in range(200)]
    start = threading.Event()
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        start.wait()
        try:
            for i in range(len(names)):
                k = names[(i * 7 + offset) % len(names)]
                idx.set(k, "f", k)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t * 31,)) for t in range(4)]
    for t in threads:
        t.start()
    start.set()
    for t in threads:
        t.join()
    assert not errors
    cols = dict(idx.column_keys.items())
    assert sorted(cols) == sorted(names) and sorted(cols.values()) == list(range(len(names)))
    rows = dict(idx.row_keys(idx.field("f").definition).items())
    assert sorted(rows.values()) == list(range(1, len(names) + 1))
    for k in names:                              # each record holds exactly its own row
        assert set(idx.field("f").row(k).to_numpy().tolist()) == {cols[k]}
