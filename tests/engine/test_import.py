"""Columnar bulk import (Index.import_values / import_records) for every field type, with
numpy, list and pyarrow inputs, checked against Python sets / numpy brute force."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

import engine
from engine_testlib import SHARD, bits, bsi_stored, bsi_values, dump_index, dump_keys, exists, views_with_data

UTC = dt.timezone.utc


@pytest.fixture
def idx(db):
    return db.create_index("i")


@pytest.fixture
def kidx(db):
    return db.create_index("k", keys=True)


def rows_of(field) -> dict:
    return {r: bits(field.row(r)) for r in field.rows()}


def expected_rows(cols, vals) -> dict:
    out: dict = {}
    for c, v in zip(cols, vals):
        if v is not None:
            out.setdefault(v, set()).add(c)
    return out


# --- set / mutex / bool with each input kind -------------------------------------------------

COLS = [0, 1, 2, 1, SHARD + 3, 2 * SHARD + 1, 7]
ROWS = [5, 5, 6, 6, 5, 9, 6]

INPUTS = {
    "list": lambda c, v: (list(c), list(v)),
    "numpy": lambda c, v: (np.array(c, dtype=np.uint64), np.array(v, dtype=np.int64)),
    "numpy-int64-cols": lambda c, v: (np.array(c, dtype=np.int64), np.array(v, dtype=np.uint32)),
    "pyarrow": lambda c, v: (pa.array(c, pa.uint64()), pa.array(v, pa.int64())),
    "chunked": lambda c, v: (pa.chunked_array([c[:3], c[3:]], pa.uint64()), pa.chunked_array([v[:2], v[2:]])),
}

@pytest.mark.parametrize("kind", [k
                                  for k in sorted(INPUTS)])
def test_set_import(idx, kind):
    f = idx.create_field("s", "set")
    cols, vals = INPUTS[kind](COLS, ROWS)
    assert idx.import_values("s", cols, vals) == len(COLS)
    assert rows_of(f) == expected_rows(COLS, ROWS)
    assert exists(idx) == set(COLS)
    # importing again changes nothing; set is additive with earlier writes
    idx.set(100, "s", 5)
    idx.import_values("s", cols, vals)
    want = expected_rows(COLS, ROWS)
    want[5].add(100)
    assert rows_of(f) == want


@pytest.mark.parametrize("kind", sorted(INPUTS))
def test_mutex_import_last_value_wins(idx, kind):
    f = idx.create_field("m", "mutex")
    idx.set(2, "m", 9)                           # replaced by the import
    idx.set(50, "m", 9)                          # untouched
    cols, vals = INPUTS[kind](COLS, ROWS)
    idx.import_values("m", cols, vals)
    last = {}
    for c, v in zip(COLS, ROWS):
        last[c] = v
    last[50] = 9
    assert rows_of(f) == expected_rows(list(last), list(last.values()))
    assert bits(f.row(6)) >= {1, 2}              # record 1 was 5 then 6 in the same batch


def test_mutex_import_unsorted_duplicates_across_shards(idx):
    f = idx.create_field("m", "mutex")
    cols = [SHARD + 1, 3, SHARD + 1, 3, 0, SHARD + 1]
    vals = [1, 2, 3, 4, 5, 6]
    idx.import_values("m", np.array(cols), np.array(vals))
    assert rows_of(f) == {4: {3}, 5: {0}, 6: {SHARD + 1}}


@pytest.mark.parametrize("values", [
    [True, False, True, None, False],
    np.array([True, False, True, None, False], dtype=object),
    pa.array([True, False, True, None, False]),
])
def test_bool_import_with_nulls(idx, values):
    f = idx.create_field("b", "bool")
    idx.set(3, "b", True)                        # null in the import: left as it was
    idx.import_values("b", [1, 2, 1, 3, 4], values)
    assert bits(f.row(True)) == {1, 3}
    assert bits(f.row(False)) == {2, 4}
    assert exists(idx) == {1, 2, 3, 4}


def test_bool_import_numpy_last_wins(idx):
    f = idx.create_field("b", "bool")
    idx.import_values("b", np.array([5, 5, 6]), np.array([True, False, True]))
    assert bits(f.row(False)) == {5} and bits(f.row(True)) == {6}
    with pytest.raises(engine.InvalidValueError):
        idx.import_values("b", [1], [1])


@pytest.mark.parametrize("values", [
    [5, None, 6, None],
    np.array([5, None, 6, None], dtype=object),
    pa.array([5, None, 6, None], pa.int64()),
])
def test_set_import_nulls_skipped(idx, values):
    f = idx.create_field("s", "set")
    idx.import_values("s", [1, 2, 3, 4], values)
    assert rows_of(f) == {5: {1}, 6: {3}}
    assert exists(idx) == {1, 3}


# --- keys ---------------------------------------------------------------------------------

KEY_INPUTS = {
    "list": lambda k: list(k),
    "numpy-str": lambda k: np.array(k),
    "numpy-object": lambda k: np.array(k, dtype=object),
    "pyarrow": lambda k: pa.array(k),
    "pyarrow-large": lambda k: pa.array(k, pa.large_string()),
    "pyarrow-dict": lambda k: pa.array(k).dictionary_encode(),
    "chunked": lambda k: pa.chunked_array([k[:2], k[2:]]),
}

RKEYS = ["ann", "bob", "cid", "bob", "ann", "dan"]
VKEYS = ["zeta", "alpha", "zeta", "mid", "alpha", "beta"]


@pytest.mark.parametrize("kind", sorted(KEY_INPUTS))
def test_keyed_import(kidx, kind):
    f = kidx.create_field("s", "set", keys=True)
    conv = KEY_INPUTS[kind]
    kidx.import_values("s", conv(RKEYS), conv(VKEYS))
    ck = kidx.column_keys
    assert sorted(k for k, _ in ck.items()) == ["ann", "bob", "cid", "dan"]
    assert sorted(i for _, i in ck.items()) == [0, 1, 2, 3]
    got = {k: {ck.key(c) for c in bits(f.row(k))} for k in f.rows()}
    assert got == expected_rows(RKEYS, VKEYS)
    assert sorted(kidx.snapshot().row_ids(f.definition.id, "standard")) == [1, 2, 3, 4]
    # reads by key; the same keys again create nothing new
    before = dump_keys(kidx)
    kidx.import_values("s", conv(RKEYS), conv(VKEYS))
    assert dump_keys(kidx) == before


@pytest.mark.parametrize("kind", sorted(KEY_INPUTS))
def test_keyed_import_row_ids_in_first_seen_order(kidx, kind):
    """keys.py: "row ids start at 1 in first-seen order, as FeatureBase allocates them"."""
    f = kidx.create_field("s", "set", keys=True)
    kidx.import_values("s", KEY_INPUTS[kind](RKEYS), KEY_INPUTS[kind](VKEYS))
    assert f.rows() == ["zeta", "alpha", "mid", "beta"]
    assert kidx.row_keys(f.definition).id("zeta") == 1


def test_keyed_index_unkeyed_field_and_reverse(db):
    kidx = db.create_index("k", keys=True)
    m = kidx.create_field("m", "mutex")
    kidx.import_values("m", ["x", "y", "x"], np.array([3, 4, 5]))
    ck = kidx.column_keys
    assert {r: {ck.key(c) for c in bits(m.row(r))} for r in m.rows()} == {4: {"y"}, 5: {"x"}}
    idx = db.create_index("i")
    k = idx.create_field("ks", "mutex", keys=True)
    idx.import_values("ks", np.array([1, 2, 1]), pa.array(["p", "q", "r"]))
    assert rows_of(k) == {"q": {2}, "r": {1}}
    assert k.rows() == ["q", "r"]
    assert bits(k.row("p")) == set()


def test_import_keys_not_allowed_when_mixing(db):
    """KeysNotAllowedError: "A string key given where the index or field uses integer ids
    (or the reverse)" — the same error as Set gives."""
    kidx = db.create_index("k", keys=True)
    kidx.create_field("s", "set")
    idx = db.create_index("i")
    idx.create_field("s", "set")
    idx.create_field("ks", "set", keys=True)
    cases = [
        lambda: kidx.import_values("s", [1, 2], [1, 1]),
        lambda: kidx.import_values("s", np.array([1, 2]), [1, 1]),
        lambda: idx.import_values("s", ["a", "b"], [1, 1]),
        lambda: idx.import_values("s", [1, 2], ["x", "y"]),
        lambda: idx.import_values("ks", [1, 2], [1, 2]),
        lambda: idx.import_values("ks", [1, 2], np.array([1, 2])),
    ]
    for case in cases:
        with pytest.raises(engine.KeysNotAllowedError):
            case()
    assert dump_index(kidx) == {} and dump_index(idx) == {}
    assert len(kidx.column_keys) == 0


def test_import_rejects_bad_ids(idx):
    idx.create_field("s", "set")
    for cols, vals in [([-1], [1]), ([1], [-1]), ([1, None], [1, 1]), ([1, 2], [1])]:
        with pytest.raises(engine.InvalidParameterError):
            idx.import_values("s", cols, vals)
    with pytest.raises(engine.InvalidValueError):
        idx.import_values("s", [1], None)
    assert dump_index(idx) == {}


# --- BSI ------------------------------------------------------------------------------------

INT_COLS = [1, 2, 3, SHARD + 4, 5, 2]
INT_VALS = [-5, 0, 2**40, -(2**35), 17, 99]        # record 2 twice: 99 wins


@pytest.mark.parametrize("conv", [
    lambda v: list(v),
    lambda v: np.array(v, dtype=np.int64),
    lambda v: pa.array(v, pa.int64()),
    lambda v: np.array(v, dtype=object),
], ids=["list", "numpy", "pyarrow", "object"])
def test_int_import_last_wins(idx, conv):
    f = idx.create_field("n", "int")
    assert idx.import_values("n", INT_COLS, conv(INT_VALS)) == len(INT_COLS) - 1
    want = dict(zip(INT_COLS, INT_VALS))
    assert {c: f.value(c) for c in want} == want
    assert bsi_values(idx, "n") == want


def test_int_import_overwrites_and_shrinks(idx):
    f = idx.create_field("n", "int")
    idx.import_values("n", [1, 2], [2**50, -(2**50)])
    idx.import_values("n", [1, 2], [3, -1])
    assert (f.value(1), f.value(2)) == (3, -1)
    assert bsi_stored(idx, "n", 1) == 3


@pytest.mark.parametrize("values", [
    [5, None, -6, None],
    np.array([5, None, -6, None], dtype=object),
    pa.array([5, None, -6, None], pa.int64()),
])
def test_int_import_nulls_skipped(idx, values):
    f = idx.create_field("n", "int")
    idx.set(2, "n", 42)
    idx.import_values("n", [1, 2, 3, 4], values)
    assert {c: f.value(c) for c in (1, 2, 3, 4)} == {1: 5, 2: 42, 3: -6, 4: None}
    assert exists(idx) == {1, 2, 3}


def test_int_import_with_base_offsets(idx):
    lo = idx.create_field("lo", "int", min=1000, max=2000)
    hi = idx.create_field("hi", "int", min=-2000, max=-1000)
    idx.import_values("lo", [1, 2, 3], np.array([1000, 1500, 2000]))
    idx.import_values("hi", [1, 2, 3], [-1000, -1500, -2000])
    assert [lo.value(c) for c in (1, 2, 3)] == [1000, 1500, 2000]
    assert [hi.value(c) for c in (1, 2, 3)] == [-1000, -1500, -2000]
    assert bsi_values(idx, "lo") == {1: 1000, 2: 1500, 3: 2000}
    assert bsi_values(idx, "hi") == {1: -1000, 2: -1500, 3: -2000}


def test_int_import_int64_extremes(idx):
    f = idx.create_field("n", "int")
    idx.import_values("n", [1, 2], np.array([-(2**63), 2**63 - 1], dtype=np.int64))
    assert (f.value(1), f.value(2)) == (-(2**63), 2**63 - 1)


def test_int_import_out_of_range_is_atomic(open_db):
    db = open_db()
    idx = db.create_index("k", keys=True)
    n = idx.create_field("n", "int", min=-10, max=10)
    s = idx.create_field("s", "set", keys=True)
    idx.set("old", "n", 3)
    idx.set("old", "s", "r0")
    before = (dump_index(idx), dump_keys(idx))
    with pytest.raises(engine.ValueOutOfRangeError) as ei:
        idx.import_values("n", ["a", "b", "old"], [1, 11, 5])
    assert ei.value.code == "InvalidParameter"
    with pytest.raises(engine.ValueOutOfRangeError):
        idx.import_values("n", pa.array(["c", "d"]), np.array([-11, 0]))
    assert (dump_index(idx), dump_keys(idx)) == before
    assert n.value("old") == 3 and n.value("a") is None
    assert idx.column_keys.id("a") is None and idx.column_keys.id("c") is None
    # key ids stay dense: the next new key gets the next id
    idx.set("e", "s", "r1")
    assert idx.column_keys.id("e") == 1
    assert idx.row_keys(s.definition).id("r1") == 2
    db = open_db.reopen(db)
    idx = db.index("k")
    assert dump_keys(idx) == {"_columns": {"old": 0, "e": 1}, "s": {"r0": 1, "r1": 2}}


def test_import_failure_in_keyed_field_creates_no_keys(kidx):
    f = kidx.create_field("s", "set", keys=True)
    with pytest.raises(engine.InvalidParameterError):
        kidx.import_values("s", ["a", "b"], ["x", 7])
    assert len(kidx.column_keys) == 0 and len(kidx.row_keys(f.definition)) == 0
    assert dump_index(kidx) == {}


@pytest.mark.parametrize("values, setter", [
    (np.array([2**63], dtype=np.uint64), 2**63),
    ([2**70], 2**70),
    ([-(2**63) - 1], -(2**63) - 1),
])
def test_int_import_beyond_int64_is_out_of_range(idx, values, setter):
    """Import reports values outside the field's range the way Set does."""
    idx.create_field("n", "int")
    with pytest.raises(engine.ValueOutOfRangeError):
        idx.set(1, "n", setter)
    with pytest.raises(engine.ValueOutOfRangeError):
        idx.import_values("n", [1], values)
    assert dump_index(idx) == {}


@pytest.mark.parametrize("conv", [
    lambda v: list(v),
    lambda v: np.array(v, dtype=object),
    lambda v: pa.array(v, pa.decimal128(10, 4)),
], ids=["list", "object", "pyarrow-decimal"])
def test_decimal_import_strings_and_decimals(idx, conv):
    f = idx.create_field("d", "decimal", scale=2)
    vals = [Decimal("1.005"), Decimal("1.015"), Decimal("-2.5"), Decimal("0.001")]
    idx.import_values("d", [1, 2, 3, 4], conv(vals))
    assert [f.value(c) for c in (1, 2, 3, 4)] == [Decimal("1.00"), Decimal("1.02"), Decimal("-2.50"), Decimal(0)]


def test_decimal_import_numbers(idx):
    f = idx.create_field("d", "decimal", scale=2)
    idx.import_values("d", [1, 2, 3], np.array([3, -4, 0]))
    idx.import_values("d", [4, 5], ["12.345", "-0.125"])
    idx.import_values("d", [6, 7], np.array([0.125, 0.375]))            # exact binary halves
    assert [f.value(c) for c in range(1, 8)] == [Decimal(3), Decimal(-4), Decimal(0), Decimal("12.34"),
                                                Decimal("-0.12"), Decimal("0.12"), Decimal("0.38")]
    assert bsi_stored(idx, "d", 1) == 300


def test_decimal_import_range_and_nulls(idx):
    f = idx.create_field("d", "decimal", scale=1, min=0, max=10)
    idx.import_values("d", [1, 2, 3], pa.array([0.5, None, 10.0]))
    assert [f.value(c) for c in (1, 2, 3)] == [Decimal("0.5"), None, Decimal(10)]
    for bad in ([10.1], ["-0.1"], np.array([11])):
        with pytest.raises(engine.ValueOutOfRangeError):
            idx.import_values("d", [9], bad)
    assert f.value(9) is None


def test_decimal_import_integer_overflow_is_out_of_range(idx):
    """10**17 at scale 2 is 10**19 stored: beyond int64, as Set reports."""
    f = idx.create_field("d", "decimal", scale=2)
    with pytest.raises(engine.ValueOutOfRangeError):
        idx.set(1, "d", 10**17)
    with pytest.raises(engine.ValueOutOfRangeError):
        idx.import_values("d", [1], np.array([10**17]))
    assert f.value(1) is None


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_timestamp_import_forms(idx, unit):
    f = idx.create_field("t", "timestamp", time_unit=unit)
    mult = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    base = 1672912800                                        # 2023-01-05T10:00:00Z
    idx.import_values("t", [1, 2], np.array(["2023-01-05T10:00:00.250", "1969-12-31T23:59:59"],
                                             dtype="datetime64[ms]"))
    idx.import_values("t", [3, 4], [base, "2023-01-05T12:00:00+02:00"])          # ints are Unix seconds
    idx.import_values("t", [5], np.array([base], dtype=np.int64))
    idx.import_values("t", [6], pa.array([dt.datetime(2023, 1, 5, 10, 0, 0, 250000)], pa.timestamp("us")))
    idx.import_values("t", [7], [dt.datetime(2023, 1, 5, 10, tzinfo=UTC)])
    frac = 250 * mult // 1000
    want = {1: base * mult + frac, 2: -mult, 3: base * mult, 4: base * mult, 5: base * mult,
            6: base * mult + frac, 7: base * mult}
    assert {c: bsi_stored(idx, "t", c) for c in want} == want
    assert f.value(3) == dt.datetime(2023, 1, 5, 10, tzinfo=UTC)


def test_timestamp_import_ns_keeps_nanoseconds(idx):
    idx.create_field("t", "timestamp", time_unit="ns")
    idx.import_values("t", [1], np.array(["2023-01-05T10:00:00.123456789"], dtype="datetime64[ns]"))
    idx.import_values("t", [2], ["2023-01-05T10:00:00.123456789Z"])
    idx.import_values("t", [3], pa.array([1672912800123456789], pa.timestamp("ns")))
    want = 1672912800 * 10**9 + 123456789
    assert [bsi_stored(idx, "t", c) for c in (1, 2, 3)] == [want] * 3


def test_timestamp_import_custom_epoch(idx):
    f = idx.create_field("t", "timestamp", time_unit="ms", epoch="2000-01-01T00:00:00Z")
    idx.import_values("t", [1, 2, 3], np.array(["2000-01-01T00:00:01", "1999-12-31T23:59:59.999",
                                                "2000-01-01"], dtype="datetime64[ms]"))
    idx.import_values("t", [4], [946684800 + 2])
    assert [bsi_stored(idx, "t", c) for c in (1, 2, 3, 4)] == [1000, -1, 0, 2000]
    assert f.value(2) == dt.datetime(1999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)


def test_timestamp_import_integer_overflow_is_out_of_range(idx):
    """10**11 Unix seconds in ns overflows int64: Set rejects it, import must too."""
    f = idx.create_field("t", "timestamp", time_unit="ns")
    with pytest.raises(engine.ValueOutOfRangeError):
        idx.set(1, "t", 10**11)
    with pytest.raises(engine.ValueOutOfRangeError):
        idx.import_values("t", [1], np.array([10**11]))
    assert f.value(1) is None


@pytest.mark.parametrize("typ, opts, vals", [
    ("int", {}, [7, 8]),
    ("decimal", {"scale": 1}, ["0.5", "1.5"]),
    ("timestamp", {}, ["2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"]),
])
def test_bsi_import_clear(idx, typ, opts, vals):
    f = idx.create_field("v", typ, **opts)
    idx.import_values("v", [1, 2, SHARD], [vals[0], vals[1], vals[0]])
    assert idx.import_values("v", [1, SHARD, 99], None, clear=True) == 3
    assert f.value(1) is None and f.value(SHARD) is None and f.value(2) is not None
    assert exists(idx) == {1, 2, SHARD}          # clearing values keeps existence


# --- clear=True for row fields ----------------------------------------------------------------

def test_set_import_clear(idx):
    f = idx.create_field("s", "set")
    idx.import_values("s", COLS, ROWS)
    idx.import_values("s", [1, SHARD + 3, 1000], np.array([6, 5, 5]), clear=True)
    want = expected_rows(COLS, ROWS)
    want[6].discard(1)
    want[5].discard(SHARD + 3)
    assert rows_of(f) == {r: c for r, c in want.items() if c}
    assert exists(idx) == set(COLS)


def test_mutex_import_clear(idx):
    f = idx.create_field("m", "mutex")
    idx.import_values("m", [1, 2, 3], [4, 4, 5])
    idx.import_values("m", [1, 3], [5, 5], clear=True)  # record 1 does not hold 5: untouched
    assert rows_of(f) == {4: {1, 2}}


def test_keyed_import_clear_creates_no_keys(kidx):
    f = kidx.create_field("s", "set", keys=True)
    kidx.import_values("s", ["a", "b"], ["x", "y"])
    before = dump_keys(kidx)
    kidx.import_values("s", ["a", "zz", "b"], ["x", "x", "nope"], clear=True)
    assert dump_keys(kidx) == before
    ck = kidx.column_keys
    assert {k: {ck.key(c) for c in bits(f.row(k))} for k in f.rows()} == {"y": {"b"}}


def test_time_import_clear_removes_from_every_view(idx):
    f = idx.create_field("q", "time", time_quantum="YMD")
    idx.import_values("q", [1, 2, 3], [7, 7, 8], timestamps=["2023-01-05", "2024-02-01", "2023-01-05"])
    idx.import_values("q", [1, 2], [7, 7], clear=True)
    for (fname, _view, _s, _row), cols in dump_index(idx).items():
        if fname == "q":
            assert cols == {3}
    assert bits(f.row(8, view="standard_20230105")) == {3}


# --- time fields ----------------------------------------------------------------------------

TS_FORMS = {
    "strings": lambda ts: [t.isoformat() for t in ts],
    "datetimes": lambda ts: list(ts),
    "unix-seconds": lambda ts: [int(t.timestamp()) for t in ts],
    "numpy-unix-seconds": lambda ts: np.array([int(t.timestamp()) for t in ts]),
    "datetime64": lambda ts: np.array([t.replace(tzinfo=None) for t in ts], dtype="datetime64[s]"),
    "pyarrow": lambda ts: pa.array(list(ts), pa.timestamp("s", tz="UTC")),
}


@pytest.mark.parametrize("form", sorted(TS_FORMS))
def test_time_import_views(idx, form):
    f = idx.create_field("q", "time", time_quantum="YMDH")
    ts = [dt.datetime(2023, 1, 5, 10, 30, tzinfo=UTC), dt.datetime(2023, 1, 5, 11, 0, tzinfo=UTC),
          dt.datetime(2022, 12, 31, 23, 59, tzinfo=UTC), dt.datetime(2023, 1, 5, 10, 0, tzinfo=UTC)]
    cols = [1, 2, SHARD + 3, 4]
    idx.import_values("q", cols, [7, 7, 7, 8], timestamps=TS_FORMS[form](ts))
    assert bits(f.row(7)) == {1, 2, SHARD + 3}
    assert bits(f.row(7, view="standard_2023")) == {1, 2}
    assert bits(f.row(7, view="standard_2022")) == {SHARD + 3}
    assert bits(f.row(7, view="standard_202301")) == {1, 2}
    assert bits(f.row(7, view="standard_20230105")) == {1, 2}
    assert bits(f.row(7, view="standard_2023010510")) == {1}
    assert bits(f.row(7, view="standard_2023010511")) == {2}
    assert bits(f.row(7, view="standard_2022123123")) == {SHARD + 3}
    assert bits(f.row(8, view="standard_2023010510")) == {4}
    assert views_with_data(idx, "q") == {
        "standard", "standard_2022", "standard_2023", "standard_202212", "standard_202301",
        "standard_20221231", "standard_20230105", "standard_2022123123", "standard_2023010510",
        "standard_2023010511"}


def test_time_import_matches_set(open_db):
    """Import with timestamps lands in exactly the views Set uses, including timestamps
    with a UTC offset (2023-01-05T10:00+02:00 is 08:00 UTC)."""
    db = open_db()
    a = db.create_index("a")
    a.create_field("q", "time", time_quantum="YMDH")
    b = db.create_index("b")
    b.create_field("q", "time", time_quantum="YMDH")
    stamps = ["2023-01-05T10:00+02:00", "2023-01-01T01:30:00-03:00", "2023-06-30T23:00:00Z",
              dt.datetime(2024, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=5)))]
    for c, t in enumerate(stamps):
        a.set(c, "q", 1, timestamp=t)
    b.import_values("q", list(range(len(stamps))), [1] * len(stamps), timestamps=stamps)
    assert views_with_data(a, "q") >= {"standard_2023010508", "standard_2023010104", "standard_2023123119"}
    assert dump_index(b) == dump_index(a)


def test_time_import_no_standard_view(idx):
    f = idx.create_field("q", "time", time_quantum="Y", no_standard_view=True)
    idx.import_values("q", [1, 2], [3, 3], timestamps=np.array([0, 31536000]))   # 1970, 1971
    assert views_with_data(idx, "q") == {"standard_1970", "standard_1971"}
    assert bits(f.row(3)) == set()
    with pytest.raises(engine.InvalidValueError):
        idx.import_values("q", [1], [3])         # no timestamps and no standard view


def test_time_import_without_timestamps_and_errors(idx):
    f = idx.create_field("q", "time", time_quantum="YMD")
    idx.create_field("s", "set")
    idx.import_values("q", [1, 2], [3, 4])
    assert views_with_data(idx, "q") == {"standard"}
    assert rows_of(f) == {3: {1}, 4: {2}}
    with pytest.raises(engine.InvalidValueError):
        idx.import_values("s", [1], [1], timestamps=["2023-01-01"])
    with pytest.raises(engine.InvalidValueError):
        idx.import_values("q", [1, 2], [1, 1], timestamps=["2023-01-01"])
    with pytest.raises(engine.InvalidValueError):
        idx.import_values("q", [1, 2], [1, 1], timestamps=["2023-01-01", None])
    assert rows_of(f) == {3: {1}, 4: {2}}


# --- progress ---------------------------------------------------------------------------------

@pytest.mark.parametrize("typ, opts, cols, vals, kw", [
    ("set", {}, [1, 2, SHARD], [1, 2, 3], {}),
    ("mutex", {}, [1, 2], [1, 2], {}),
    ("time", {"time_quantum": "YM"}, [1, 2], [1, 2], {"timestamps": ["2023-01-01", "2024-01-01"]}),
    ("int", {}, [1, 2], [5, -300], {}),
    ("int", {}, [1, 2], [0, 0], {}),
    ("decimal", {"scale": 2}, [1], ["1.5"], {}),
])
def test_progress_callback(idx, typ, opts, cols, vals, kw):
    idx.create_field("f", typ, **opts)
    calls = []
    idx.import_values("f", cols, vals, progress=lambda done, total: calls.append((done, total)), **kw)
    assert calls, "progress never called"
    done, total = calls[-1]
    assert done == total > 0
    assert all(0 <= d <= t for d, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


# --- import_records ---------------------------------------------------------------------------

def test_import_records_multi_field(db):
    idx = db.create_index("k", keys=True)
    s = idx.create_field("s", "set", keys=True)
    m = idx.create_field("m", "mutex")
    n = idx.create_field("n", "int", min=-100, max=100)
    b = idx.create_field("b", "bool")
    d = idx.create_field("d", "decimal", scale=1)
    keys = ["u1", "u2", "u3", "u4"]
    calls = []
    total = idx.import_records(keys, {
        "s": ["red", None, "blue", "red"],
        "m": np.array([1, 2, 1, 3]),
        "n": pa.array([-5, None, 100, 7]),
        "b": [True, False, None, True],
        "d": ["0.25", "1.35", None, None],
    }, progress=lambda done, tot: calls.append((done, tot)))
    assert total == 3 + 4 + 3 + 3 + 2
    assert calls[-1] == (5, 5)
    ck = idx.column_keys

    def named(bm):
        return {ck.key(c) for c in bits(bm)}

    assert {r: named(s.row(r)) for r in s.rows()} == {"red": {"u1", "u4"}, "blue": {"u3"}}
    assert {r: named(m.row(r)) for r in m.rows()} == {1: {"u1", "u3"}, 2: {"u2"}, 3: {"u4"}}
    assert [n.value(k) for k in keys] == [-5, None, 100, 7]
    assert named(b.row(True)) == {"u1", "u4"} and named(b.row(False)) == {"u2"}
    assert [d.value(k) for k in keys] == [Decimal("0.2"), Decimal("1.4"), None, None]
    assert {ck.key(c) for c in exists(idx)} == set(keys)


def test_import_records_is_atomic(db):
    idx = db.create_index("k", keys=True)
    idx.create_field("s", "set", keys=True)
    idx.create_field("n", "int", max=10)
    idx.set("old", "s", "x")
    before = (dump_index(idx), dump_keys(idx))
    with pytest.raises(engine.ValueOutOfRangeError):
        idx.import_records(["a", "b"], {"s": ["y", "z"], "n": [1, 11]})
    with pytest.raises(engine.FieldNotFoundError):
        idx.import_records(["a", "b"], {"s": ["y", "z"], "nope": [1, 2]})
    assert (dump_index(idx), dump_keys(idx)) == before


# --- a large import across shards, against numpy ---------------------------------------------

def test_large_import_across_shards_matches_numpy(open_db):
    rng = np.random.default_rng(1234)
    n = 200_000
    cols = rng.integers(0, 5 * SHARD, size=n, dtype=np.uint64)
    rows = rng.integers(0, 10, size=n, dtype=np.uint64)
    vals = rng.integers(-(2**40), 2**40, size=n, dtype=np.int64)
    mrows = rng.integers(0, 6, size=n, dtype=np.uint64)
    db = open_db(checkpoint_bytes=1 << 20)
    idx = db.create_index("big")
    idx.create_field("s", "set")
    idx.create_field("m", "mutex")
    idx.create_field("n", "int")
    assert idx.import_values("s", cols, rows) == n
    idx.import_values("m", cols, mrows)
    idx.import_values("n", pa.array(cols), pa.array(vals))

    def check(idx):
        s, m = idx.field("s"), idx.field("m")
        for r in range(10):
            want = np.unique(cols[rows == r])
            got = s.row(r).to_numpy()
            assert np.array_equal(got.astype(np.uint64), want), r
        # mutex / int: the last occurrence of each record wins
        ucols, last = np.unique(cols[::-1], return_index=True)
        last_m = mrows[::-1][last]
        last_v = vals[::-1][last]
        for r in range(6):
            assert np.array_equal(m.row(r).to_numpy().astype(np.uint64), ucols[last_m == r]), r
        got = bsi_values(idx, "n")
        assert len(got) == len(ucols)
        got_cols = np.fromiter(got.keys(), dtype=np.uint64, count=len(got))
        got_vals = np.fromiter(got.values(), dtype=np.int64, count=len(got))
        order = np.argsort(got_cols)
        assert np.array_equal(got_cols[order], ucols)
        assert np.array_equal(got_vals[order], last_v)
        nf = idx.field("n")
        for i in rng.choice(len(ucols), size=50, replace=False):
            assert nf.value(int(ucols[i])) == int(last_v[i])
        assert np.array_equal(np.array(sorted(exists(idx)), dtype=np.uint64), ucols)
        assert idx.snapshot().shards() == [0, 1, 2, 3, 4]

    check(idx)
    db = open_db.reopen(db)
    check(db.index("big"))
