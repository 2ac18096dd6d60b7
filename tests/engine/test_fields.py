"""Every field type through the facade: FeatureBase semantics (reference §0–3, 8, 9, 12, 13),
the BSI layout of format.md, keys, existence, options and errors."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

import engine
from engine.errors import InvalidNameError
from engine_testlib import SHARD, bits, bsi_stored, dump_index, exists, views_with_data

UTC = dt.timezone.utc


@pytest.fixture
def idx(db):
    return db.create_index("i")


# --- set ------------------------------------------------------------------------------------

def test_set_field_is_multi_valued_and_set_reports_new_bits(idx):
    f = idx.create_field("s", "set")
    assert idx.set(1, "s", 3) is True
    assert idx.set(1, "s", 3) is False          # already set
    assert idx.set(1, "s", 4) is True           # a second value for the same record
    assert idx.set(2, "s", 3) is True
    assert idx.set(SHARD + 7, "s", 3) is True   # another shard
    assert bits(f.row(3)) == {1, 2, SHARD + 7}
    assert bits(f.row(4)) == {1}
    assert bits(f.row(99)) == set()
    assert f.rows() == [3, 4]


def test_set_field_clear(idx):
    f = idx.create_field("s", "set")
    idx.set(1, "s", 3)
    idx.set(1, "s", 4)
    assert idx.clear(1, "s", 3) is True
    assert idx.clear(1, "s", 3) is False        # nothing left to clear
    assert idx.clear(2, "s", 3) is False        # never set
    assert idx.clear(1, "s", 77) is False       # row never existed
    assert bits(f.row(3)) == set()
    assert bits(f.row(4)) == {1}
    assert f.rows() == [4]


def test_clear_row_across_shards(idx):
    f = idx.create_field("s", "set")
    cols = [0, 5, SHARD, 3 * SHARD + 9]
    for c in cols:
        idx.set(c, "s", 1)
        idx.set(c, "s", 2)
    assert idx.clear_row("s", 1) is True
    assert idx.clear_row("s", 1) is False
    assert idx.clear_row("s", 42) is False
    assert bits(f.row(1)) == set()
    assert bits(f.row(2)) == set(cols)
    assert f.rows() == [2]
    assert exists(idx) == set(cols)             # ClearRow is not Delete


def test_store_makes_a_row_hold_exactly_the_columns(idx):
    f = idx.create_field("s", "set")
    for c in (1, 2, SHARD + 1):
        idx.set(c, "s", 5)
    idx.set(9, "s", 6)
    assert idx.store("s", 5, [2, 3, 2 * SHARD]) is True
    assert bits(f.row(5)) == {2, 3, 2 * SHARD}
    assert bits(f.row(6)) == {9}
    assert idx.store("s", 5, []) is True
    assert bits(f.row(5)) == set()


# --- mutex ----------------------------------------------------------------------------------

def test_mutex_set_replaces_previous_value(idx):
    f = idx.create_field("m", "mutex")
    assert idx.set(1, "m", 10) is True
    assert idx.set(1, "m", 20) is True
    assert idx.set(1, "m", 20) is False         # re-setting the same value changes nothing
    assert idx.set(2, "m", 10) is True
    assert idx.set(SHARD + 1, "m", 10) is True
    assert idx.set(SHARD + 1, "m", 30) is True
    assert bits(f.row(10)) == {2}
    assert bits(f.row(20)) == {1}
    assert bits(f.row(30)) == {SHARD + 1}
    assert f.rows() == [10, 20, 30]
    # rows partition the records that have a value
    rows = [bits(f.row(r)) for r in f.rows()]
    assert sum(len(r) for r in rows) == len(set().union(*rows)) == 3


def test_mutex_clear(idx):
    f = idx.create_field("m", "mutex")
    idx.set(1, "m", 10)
    assert idx.clear(1, "m", 20) is False       # not the record's value
    assert bits(f.row(10)) == {1}
    assert idx.clear(1, "m", 10) is True
    assert f.rows() == []
    assert idx.set(1, "m", 20) is True
    assert bits(f.row(20)) == {1}


def test_mutex_keyed_rows(db):
    idx = db.create_index("k", keys=True)
    f = idx.create_field("color", "mutex", keys=True)
    idx.set("a", "color", "red")
    idx.set("b", "color", "red")
    assert idx.set("a", "color", "blue") is True
    assert idx.set("a", "color", "blue") is False
    a, b = idx.column_keys.id("a"), idx.column_keys.id("b")
    assert bits(f.row("red")) == {b}
    assert bits(f.row("blue")) == {a}
    assert f.rows() == ["red", "blue"]          # first-seen order


# --- bool -----------------------------------------------------------------------------------

def test_bool_rows_false_true_and_null(idx):
    f = idx.create_field("b", "bool")
    idx.create_field("other", "set")
    assert idx.set(1, "b", True) is True
    assert idx.set(2, "b", False) is True
    assert idx.set(1, "b", True) is False
    idx.set(3, "other", 1)                      # record 3 has no bool value: in neither row
    assert bits(f.row(True)) == {1}
    assert bits(f.row(False)) == {2}
    assert f.rows() == [False, True]
    assert exists(idx) == {1, 2, 3}
    # bool is a 2-row mutex: row 0 = false, row 1 = true
    assert idx.set(1, "b", False) is True
    assert bits(f.row(True)) == set()
    assert bits(f.row(False)) == {1, 2}
    assert f.rows() == [False]
    assert dump_index(idx)[("b", "standard", 0, 0)] == {1, 2}


def test_bool_clear_and_invalid_values(idx):
    f = idx.create_field("b", "bool")
    idx.set(1, "b", True)
    assert idx.clear(1, "b", False) is False
    assert idx.clear(1, "b", True) is True
    assert bits(f.row(True)) == set()
    for bad in (1, 0, "true", None):
        with pytest.raises(engine.InvalidValueError):
            idx.set(2, "b", bad)
    assert 2 not in exists(idx)


# --- int ------------------------------------------------------------------------------------

def test_int_negative_values_and_set_return(idx):
    f = idx.create_field("n", "int")
    vals = {1: -5, 2: 0, 3: 7, SHARD + 4: -(2**33), 2 * SHARD: 123456789}
    for c, v in vals.items():
        assert idx.set(c, "n", v) is True
    for c, v in vals.items():
        assert f.value(c) == v
        assert bsi_stored(idx, "n", c) == v
    assert idx.set(1, "n", -5) is False         # same value
    assert idx.set(1, "n", 5) is True
    assert f.value(1) == 5
    assert f.value(99) is None
    # layout (format.md): row 0 not-null, row 1 sign, row 2+i bit i of |value|
    rows = dump_index(idx)
    assert rows[("n", "bsi", 0, 0)] == {1, 2, 3}
    assert rows[("n", "bsi", 1, 1)] == {SHARD + 4}
    assert ("n", "bsi", 0, 1) not in rows       # 5 is positive again


def test_int_clear_makes_null_but_keeps_existence(idx):
    f = idx.create_field("n", "int")
    idx.set(1, "n", -3)
    assert idx.clear(1, "n") is True
    assert idx.clear(1, "n") is False
    assert f.value(1) is None
    assert exists(idx) == {1}
    assert not any(k[0] == "n" for k in dump_index(idx))


def test_int_min_max_enforced(idx):
    f = idx.create_field("n", "int", min=-10, max=10)
    assert idx.set(1, "n", -10) is True
    assert idx.set(2, "n", 10) is True
    for bad in (-11, 11, 2**63, -(2**63) - 1):
        with pytest.raises(engine.ValueOutOfRangeError) as ei:
            idx.set(3, "n", bad)
        assert ei.value.code == "InvalidParameter"
        assert ei.value.name == "VALUE_OUT_OF_RANGE"
        assert isinstance(ei.value, engine.InvalidParameterError)
    with pytest.raises(engine.ValueOutOfRangeError):
        idx.set(1, "n", 11)                     # a failed write leaves the old value
    assert f.value(1) == -10
    assert f.value(3) is None
    assert exists(idx) == {1, 2}                # validated before existence is written


@pytest.mark.parametrize("bad", ["5", 1.5, True, None, Decimal(1)])
def test_int_rejects_non_integers(idx, bad):
    idx.create_field("n", "int")
    with pytest.raises(engine.InvalidValueError):
        idx.set(1, "n", bad)
    assert exists(idx) == set()


def test_int_base_offset_when_min_positive(idx):
    f = idx.create_field("n", "int", min=100, max=200)
    assert f.options.base == 100
    for c, v in {1: 100, 2: 150, 3: 200}.items():
        idx.set(c, "n", v)
    assert [f.value(c) for c in (1, 2, 3)] == [100, 150, 200]
    rows = dump_index(idx)
    # stored offsets 0, 50, 100: 50 = 0b110010, 100 = 0b1100100; no sign bits
    assert rows[("n", "bsi", 0, 0)] == {1, 2, 3}
    assert ("n", "bsi", 0, 1) not in rows
    planes = {r - 2: cols for (fname, _v, _s, r), cols in rows.items() if fname == "n" and r >= 2}
    assert {i for i, cols in planes.items() if 2 in cols} == {1, 4, 5}
    assert {i for i, cols in planes.items() if 3 in cols} == {2, 5, 6}
    assert not any(1 in cols for cols in planes.values())
    with pytest.raises(engine.ValueOutOfRangeError):
        idx.set(4, "n", 99)


def test_int_base_offset_when_max_negative(idx):
    f = idx.create_field("n", "int", min=-200, max=-100)
    assert f.options.base == -100
    for c, v in {1: -100, 2: -150, 3: -200}.items():
        idx.set(c, "n", v)
    assert [f.value(c) for c in (1, 2, 3)] == [-100, -150, -200]
    rows = dump_index(idx)
    # stored offsets 0, -50, -100: the sign row holds 2 and 3
    assert rows[("n", "bsi", 0, 1)] == {2, 3}
    planes = {r - 2: cols for (fname, _v, _s, r), cols in rows.items() if fname == "n" and r >= 2}
    assert {i for i, cols in planes.items() if 2 in cols} == {1, 4, 5}     # |−50|
    assert {i for i, cols in planes.items() if 3 in cols} == {2, 5, 6}     # |−100|
    assert not any(1 in cols for cols in planes.values())
    with pytest.raises(engine.ValueOutOfRangeError):
        idx.set(4, "n", -99)


def test_int_bit_depth_grows(open_db):
    db = open_db()
    idx = db.create_index("i")
    f = idx.create_field("n", "int")
    idx.set(1, "n", 1)
    idx.set(2, "n", 2**40)
    assert f.value(1) == 1 and f.value(2) == 2**40
    idx.set(3, "n", -(2**40) - 3)
    idx.set(1, "n", 6)                          # rewrite a low value over a deeper field
    assert [f.value(c) for c in (1, 2, 3)] == [6, 2**40, -(2**40) - 3]
    planes = sorted(r for (fname, _v, _s, r) in dump_index(idx) if fname == "n" and r >= 2)
    assert planes[-1] == 2 + 40
    db = open_db.reopen(db)
    f = db.index("i").field("n")
    assert [f.value(c) for c in (1, 2, 3)] == [6, 2**40, -(2**40) - 3]


def test_int_full_int64_range(idx):
    f = idx.create_field("n", "int")
    idx.set(1, "n", -(2**63))
    idx.set(2, "n", 2**63 - 1)
    idx.set(3, "n", 0)
    assert [f.value(c) for c in (1, 2, 3)] == [-(2**63), 2**63 - 1, 0]


# --- decimal --------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    # format.md: stored = decimal × 10^scale, rounded half to even
    ("1.005", "1.00"),
    ("1.015", "1.02"),
    ("1.025", "1.02"),
    ("-1.005", "-1.00"),
    ("-1.015", "-1.02"),
    (Decimal("2.675"), "2.68"),
    (Decimal("2.665"), "2.66"),
    ("1.0049999", "1.00"),
    ("1.0050001", "1.01"),
    (" 7.1 ", "7.10"),
    (3, "3.00"),
    (-3, "-3.00"),
    (0.5, "0.50"),
    ("0", "0.00"),
])
def test_decimal_scale_and_half_even_rounding(idx, value, expected):
    f = idx.create_field("d", "decimal", scale=2)
    idx.set(1, "d", value)
    got = f.value(1)
    assert isinstance(got, Decimal)
    assert got == Decimal(expected)
    assert str(got) == expected
    assert bsi_stored(idx, "d", 1) == int(Decimal(expected) * 100)


def test_decimal_scale_zero_rounds_half_even(idx):
    f = idx.create_field("d", "decimal", scale=0)
    for c, (v, want) in enumerate([("2.5", 2), ("3.5", 4), ("-2.5", -2), ("0.5", 0), ("1.5", 2)]):
        idx.set(c, "d", v)
        assert f.value(c) == want


def test_decimal_float_inputs_round_like_their_literal(idx):
    """A float is taken as the decimal it prints as (1.015 → '1.015' → 1.02), on every path:
    Set, list import and numpy/pyarrow import must agree (schema._scaled says it uses
    "the same rule numpy uses for bulk imports")."""
    import numpy as np
    import pyarrow as pa

    f = idx.create_field("d", "decimal", scale=2)
    floats = [1.015, 1.035, 2.675, 0.125, 1.005, -1.015]
    expected = [Decimal(repr(x)).quantize(Decimal("0.01"), rounding="ROUND_HALF_EVEN") for x in floats]
    assert expected == [Decimal(s) for s in ("1.02", "1.04", "2.68", "0.12", "1.00", "-1.02")]
    cols = list(range(len(floats)))
    for c, x in zip(cols, floats):
        idx.set(c, "d", x)
    assert [f.value(c) for c in cols] == expected, "Set"
    for k, batch in enumerate([floats, np.array(floats), pa.array(floats), pa.array(floats + [None])]):
        base = 100 * (k + 1)
        idx.import_values("d", [base + c for c in range(len(batch))], batch)
        assert [f.value(base + c) for c in cols] == expected, type(batch)


def test_decimal_inputs_strings_decimals_ints(idx):
    f = idx.create_field("d", "decimal", scale=3)
    idx.set(1, "d", "12.3456")
    idx.set(2, "d", Decimal("-0.0005"))         # half even → -0.000
    idx.set(3, "d", Decimal("-0.0015"))         # → -0.002
    idx.set(4, "d", 42)
    assert [f.value(c) for c in (1, 2, 3, 4)] == [Decimal("12.346"), Decimal(0), Decimal("-0.002"), Decimal(42)]
    assert bsi_stored(idx, "d", 4) == 42000


def test_decimal_min_max_in_user_units(idx):
    f = idx.create_field("d", "decimal", scale=2, min="-1.5", max=1000)
    assert f.options.min == -150 and f.options.max == 100000
    idx.set(1, "d", "-1.50")
    idx.set(2, "d", 1000)
    idx.set(3, "d", "999.99")
    assert [f.value(c) for c in (1, 2, 3)] == [Decimal("-1.5"), Decimal(1000), Decimal("999.99")]
    for bad in ("-1.51", "1000.01", 1001, "-2"):
        with pytest.raises(engine.ValueOutOfRangeError):
            idx.set(4, "d", bad)
    assert f.value(4) is None


def test_decimal_range_checked_before_scaling(idx):
    """Reference §9: "Insert of a value outside [min,max] is rejected before scaling" —
    1000.005 is above max 1000 even though it rounds (half even) to 1000.00."""
    f = idx.create_field("d", "decimal", scale=2, max=1000)
    with pytest.raises(engine.ValueOutOfRangeError):
        idx.set(1, "d", "1000.005")
    assert f.value(1) is None


@pytest.mark.parametrize("bad", ["abc", "", float("nan"), float("inf"), "NaN", True, [1]])
def test_decimal_rejects_non_numbers(idx, bad):
    idx.create_field("d", "decimal", scale=2)
    with pytest.raises(engine.InvalidValueError):
        idx.set(1, "d", bad)
    assert exists(idx) == set()


# --- timestamp ------------------------------------------------------------------------------

WHEN = dt.datetime(2023, 1, 5, 10, 0, 0, 123456, tzinfo=UTC)
WHEN_UNIX = 1672912800                          # 2023-01-05T10:00:00Z


@pytest.mark.parametrize("unit, stored, back", [
    ("s", WHEN_UNIX, WHEN.replace(microsecond=0)),
    ("ms", WHEN_UNIX * 10**3 + 123, WHEN.replace(microsecond=123000)),
    ("us", WHEN_UNIX * 10**6 + 123456, WHEN),
    ("ns", WHEN_UNIX * 10**9 + 123456000, WHEN),
])
def test_timestamp_units(idx, unit, stored, back):
    f = idx.create_field("t", "timestamp", time_unit=unit)
    idx.set(1, "t", WHEN)
    assert bsi_stored(idx, "t", 1) == stored
    got = f.value(1)
    assert got == back and got.utcoffset() == dt.timedelta(0)
    # integers are Unix seconds whatever the unit (reference §9)
    idx.set(2, "t", 100)
    assert bsi_stored(idx, "t", 2) == 100 * {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    assert f.value(2) == dt.datetime(1970, 1, 1, 0, 1, 40, tzinfo=UTC)


def test_timestamp_ns_keeps_nanoseconds(idx):
    """An ns field stores RFC3339Nano strings and datetime64[ns] values at full precision."""
    import numpy as np

    idx.create_field("t", "timestamp", time_unit="ns")
    idx.set(1, "t", np.datetime64("2023-01-05T10:00:00.123456789", "ns"))
    idx.set(2, "t", "2023-01-05T10:00:00.123456789Z")
    want = WHEN_UNIX * 10**9 + 123456789
    assert [bsi_stored(idx, "t", c) for c in (1, 2)] == [want, want]


def test_timestamp_input_forms(idx):
    f = idx.create_field("t", "timestamp", time_unit="ms")
    inputs = {
        1: "2023-01-05T10:00:00Z",
        2: "2023-01-05T12:00:00+02:00",
        3: dt.datetime(2023, 1, 5, 10, 0),      # naive = UTC
        4: dt.datetime(2023, 1, 5, 5, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        5: WHEN_UNIX,
        6: "2023-01-05T10:00:00.5Z",
        7: "2023-01-05",
    }
    for c, v in inputs.items():
        idx.set(c, "t", v)
    base = WHEN_UNIX * 1000
    assert {c: bsi_stored(idx, "t", c) for c in inputs} == {
        1: base, 2: base, 3: base, 4: base, 5: base, 6: base + 500, 7: base - 10 * 3600 * 1000}
    assert f.value(6) == dt.datetime(2023, 1, 5, 10, 0, 0, 500000, tzinfo=UTC)
    for bad in ("yesterday", "2023-13-01", 1.5, True):
        with pytest.raises(engine.InvalidValueError):
            idx.set(9, "t", bad)


@pytest.mark.parametrize("epoch", ["2000-01-01T00:00:00Z", dt.datetime(2000, 1, 1, tzinfo=UTC), 946684800])
def test_timestamp_custom_epoch(idx, epoch):
    f = idx.create_field("t", "timestamp", time_unit="s", epoch=epoch)
    idx.set(1, "t", "2000-01-01T00:01:00Z")
    idx.set(2, "t", "1999-12-31T23:59:00Z")
    idx.set(3, "t", 946684800 + 5)              # ints are still Unix seconds
    assert [bsi_stored(idx, "t", c) for c in (1, 2, 3)] == [60, -60, 5]
    assert f.value(1) == dt.datetime(2000, 1, 1, 0, 1, tzinfo=UTC)
    assert f.value(2) == dt.datetime(1999, 12, 31, 23, 59, tzinfo=UTC)
    assert f.value(3) == dt.datetime(2000, 1, 1, 0, 0, 5, tzinfo=UTC)


def test_timestamp_custom_epoch_with_ms_and_negative_values(idx):
    f = idx.create_field("t", "timestamp", time_unit="ms", epoch="2020-01-01T00:00:00Z")
    idx.set(1, "t", "2019-12-31T23:59:59.750Z")
    assert bsi_stored(idx, "t", 1) == -250
    assert f.value(1) == dt.datetime(2019, 12, 31, 23, 59, 59, 750000, tzinfo=UTC)


def test_timestamp_min_max(idx):
    f = idx.create_field("t", "timestamp", time_unit="s", min="2000-01-01T00:00:00Z", max="2030-01-01T00:00:00Z")
    idx.set(1, "t", "2000-01-01T00:00:00Z")
    idx.set(2, "t", "2030-01-01T00:00:00Z")
    with pytest.raises(engine.ValueOutOfRangeError):
        idx.set(3, "t", "1999-12-31T23:59:59Z")
    with pytest.raises(engine.ValueOutOfRangeError):
        idx.set(3, "t", "2030-01-01T00:00:01Z")
    assert f.value(3) is None
    # base = min (> 0): 2000-01-01 is stored as offset 0
    assert f.options.base == 946684800
    assert bsi_stored(idx, "t", 1) == 946684800


def test_timestamp_ns_range_is_int64(idx):
    f = idx.create_field("t", "timestamp", time_unit="ns")
    idx.set(1, "t", "2262-01-01T00:00:00Z")
    assert f.value(1) == dt.datetime(2262, 1, 1, tzinfo=UTC)
    with pytest.raises(engine.ValueOutOfRangeError):
        idx.set(2, "t", "2300-01-01T00:00:00Z")


# --- time fields (quantum views) ----------------------------------------------------------

def _field_id(idx, name):
    return idx.field(name).definition.id


@pytest.mark.parametrize("quantum, views", [
    ("YMDH", {"standard_2023", "standard_202301", "standard_20230105", "standard_2023010510"}),
    ("YMD", {"standard_2023", "standard_202301", "standard_20230105"}),
    ("YM", {"standard_2023", "standard_202301"}),
    ("Y", {"standard_2023"}),
    ("MD", {"standard_202301", "standard_20230105"}),
    ("DH", {"standard_20230105", "standard_2023010510"}),
    ("H", {"standard_2023010510"}),
    ("ymd", {"standard_2023", "standard_202301", "standard_20230105"}),
])
def test_time_quantum_views(idx, quantum, views):
    f = idx.create_field("q", "time", time_quantum=quantum)
    assert idx.set(1, "q", 4, timestamp="2023-01-05T10:30") is True
    assert idx.set(1, "q", 4, timestamp="2023-01-05T10:30") is False
    assert set(idx.snapshot().views(_field_id(idx, "q"))) == views | {"standard"}
    assert views_with_data(idx, "q") == views | {"standard"}
    for v in views | {"standard"}:
        assert bits(f.row(4, view=v)) == {1}


def test_time_timestamp_forms(idx):
    f = idx.create_field("q", "time", time_quantum="YMDH")
    idx.set(1, "q", 1, timestamp=dt.datetime(2023, 1, 5, 10, 59))
    idx.set(2, "q", 1, timestamp=1672912800)                         # Unix seconds
    idx.set(3, "q", 1, timestamp="2023-01-05T12:30+02:00")            # 10:30 UTC
    idx.set(4, "q", 1, timestamp="2024-02-29T23:00:00Z")
    assert bits(f.row(1, view="standard_2023010510")) == {1, 2, 3}
    assert bits(f.row(1, view="standard_2024022923")) == {4}
    assert bits(f.row(1, view="standard_2024")) == {4}
    assert bits(f.row(1)) == {1, 2, 3, 4}
    for bad in ("not a time", 1.5):
        with pytest.raises(engine.InvalidValueError):
            idx.set(5, "q", 1, timestamp=bad)


def test_time_field_without_timestamp_writes_standard_only(idx):
    f = idx.create_field("q", "time", time_quantum="YMD")
    idx.set(1, "q", 2)
    assert views_with_data(idx, "q") == {"standard"}
    assert bits(f.row(2)) == {1}
    assert f.rows() == [2]


def test_time_no_standard_view(idx):
    f = idx.create_field("q", "time", time_quantum="YM", no_standard_view=True)
    idx.set(1, "q", 2, timestamp="2023-03-01T00:00")
    assert views_with_data(idx, "q") == {"standard_2023", "standard_202303"}
    assert bits(f.row(2)) == set()
    assert bits(f.row(2, view="standard_202303")) == {1}
    with pytest.raises(engine.InvalidValueError):
        idx.set(2, "q", 2)                      # no view to write to
    assert exists(idx) == {1}


def test_time_clear_removes_from_every_view(idx):
    f = idx.create_field("q", "time", time_quantum="YMDH")
    idx.set(1, "q", 7, timestamp="2023-01-05T10:00")
    idx.set(1, "q", 7, timestamp="2024-06-01T00:00")
    idx.set(2, "q", 7, timestamp="2023-01-05T10:00")
    assert idx.clear(1, "q", 7) is True
    assert idx.clear(1, "q", 7) is False
    for (fname, view, _s, row), cols in dump_index(idx).items():
        if fname == "q":
            assert 1 not in cols, view
    assert bits(f.row(7, view="standard_2023010510")) == {2}
    assert views_with_data(idx, "q") == {"standard", "standard_2023", "standard_202301",
                                         "standard_20230105", "standard_2023010510"}


def test_time_clear_row_and_delete_cover_every_view(idx):
    idx.create_field("q", "time", time_quantum="YMD")
    idx.set(1, "q", 7, timestamp="2023-01-05T10:00")
    idx.set(SHARD + 1, "q", 7, timestamp="2022-01-05T10:00")
    idx.set(2, "q", 8, timestamp="2023-01-05T10:00")
    assert idx.clear_row("q", 7) is True
    assert {k[3] for k in dump_index(idx) if k[0] == "q"} == {8}
    assert idx.delete(2) is True
    assert not any(k[0] == "q" for k in dump_index(idx))


def test_timestamp_rejected_on_non_time_fields(idx):
    idx.create_field("s", "set")
    with pytest.raises(engine.InvalidValueError):
        idx.set(1, "s", 1, timestamp="2023-01-01")
    assert exists(idx) == set()


def test_time_field_keyed(db):
    idx = db.create_index("k", keys=True)
    f = idx.create_field("q", "time", time_quantum="YM", keys=True)
    idx.set("a", "q", "x", timestamp="2023-05-01")
    idx.set("b", "q", "y", timestamp="2023-06-01")
    a, b = idx.column_keys.id("a"), idx.column_keys.id("b")
    assert bits(f.row("x", view="standard_202305")) == {a}
    assert bits(f.row("y", view="standard_2023")) == {b}
    assert f.rows() == ["x", "y"]


# --- keys ---------------------------------------------------------------------------------

def test_keyed_index_record_keys(db):
    idx = db.create_index("k", keys=True)
    f = idx.create_field("s", "set")
    n = idx.create_field("n", "int")
    assert idx.set("alice", "s", 1) is True
    assert idx.set("bob", "s", 1) is True
    assert idx.set("alice", "s", 1) is False
    idx.set("carol", "n", -4)
    ids = {k: idx.column_keys.id(k) for k in ("alice", "bob", "carol")}
    assert sorted(ids.values()) == [0, 1, 2]    # format.md: record ids for keys start at 0
    assert bits(f.row(1)) == {ids["alice"], ids["bob"]}
    assert n.value("carol") == -4
    assert n.value("nobody") is None
    assert exists(idx) == set(ids.values())


def test_keyed_field_row_ids_start_at_one_in_first_seen_order(db):
    idx = db.create_index("i")
    f = idx.create_field("brand", "set", keys=True)
    for c, k in enumerate(["brand_a1", "brand_a2", "brand_b1", "brand_a1", "brand_a3"]):
        idx.set(c, "brand", k)
    assert f.rows() == ["brand_a1", "brand_a2", "brand_b1", "brand_a3"]
    assert idx.snapshot().row_ids(f.definition.id, "standard") == [1, 2, 3, 4]
    assert bits(f.row("brand_a1")) == {0, 3}
    assert bits(f.row("unknown")) == set()


def test_unknown_keys_on_reads_and_clears_create_nothing(db):
    idx = db.create_index("k", keys=True)
    f = idx.create_field("s", "set", keys=True)
    idx.set("a", "s", "x")
    before = (dict(idx.column_keys.items()), dict(idx.row_keys(f.definition).items()))
    assert bits(f.row("nope")) == set()
    assert idx.clear("ghost", "s", "x") is False
    assert idx.clear("a", "s", "nope") is False
    assert idx.clear_row("s", "nope") is False
    assert idx.delete("ghost") is False
    assert idx.delete(["ghost", "ghost2"]) is False
    assert (dict(idx.column_keys.items()), dict(idx.row_keys(f.definition).items())) == before


def test_keys_not_allowed_when_mixing(db):
    keyed = db.create_index("k", keys=True)
    keyed.create_field("s", "set")
    keyed.create_field("ks", "set", keys=True)
    plain = db.create_index("p")
    plain.create_field("s", "set")
    plain.create_field("ks", "set", keys=True)
    plain.create_field("n", "int")
    cases = [
        lambda: keyed.set(1, "s", 1),            # integer record id on a keyed index
        lambda: plain.set("a", "s", 1),          # string record key on an unkeyed index
        lambda: plain.set(1, "ks", 5),           # integer row on a keyed field
        lambda: plain.set(1, "s", "x"),          # string row on an unkeyed field
        lambda: plain.set("a", "n", 5),
        lambda: plain.set(-1, "s", 1),           # record ids are unsigned
        lambda: plain.set(1, "s", -1),
    ]
    for case in cases:
        with pytest.raises(engine.KeysNotAllowedError) as ei:
            case()
        assert ei.value.code == "InvalidParameter"
        assert ei.value.name == "KEYS_MISMATCH"
    assert dump_index(keyed) == {} and dump_index(plain) == {}
    assert len(keyed.column_keys) == 0
    assert len(plain.row_keys(plain.field("ks").definition)) == 0


def test_failed_write_creates_no_keys(db):
    idx = db.create_index("k", keys=True)
    f = idx.create_field("ks", "set", keys=True)
    idx.create_field("n", "int", max=10)
    with pytest.raises(engine.ValueOutOfRangeError):
        idx.set("newrec", "n", 11)
    assert idx.column_keys.id("newrec") is None
    with pytest.raises(engine.InvalidValueError):
        idx.set("newrec", "ks", "x", timestamp="2023-01-01")
    assert idx.column_keys.id("newrec") is None
    assert idx.row_keys(f.definition).id("x") is None
    idx.set("r", "ks", "y")
    assert idx.column_keys.id("r") == 0
    assert idx.row_keys(f.definition).id("y") == 1


# --- existence --------------------------------------------------------------------------------

def test_existence_set_clear_delete(idx):
    for name, typ, opts in [("s", "set", {}), ("m", "mutex", {}), ("b", "bool", {}), ("n", "int", {}),
                            ("d", "decimal", {"scale": 1}), ("t", "timestamp", {}),
                            ("q", "time", {"time_quantum": "Y"})]:
        idx.create_field(name, typ, **opts)
    writes = {1: ("s", 1), 2: ("m", 1), 3: ("b", False), 4: ("n", -1), 5: ("d", "0.5"),
              6: ("t", "2020-01-01T00:00:00Z"), SHARD + 7: ("q", 3)}
    for c, (fname, v) in writes.items():
        idx.set(c, fname, v)
    assert exists(idx) == set(writes)
    for c, (fname, v) in writes.items():
        if idx.field(fname).type in ("int", "decimal", "timestamp"):
            assert idx.clear(c, fname) is True
        else:
            assert idx.clear(c, fname, v) is True
    assert exists(idx) == set(writes)           # Clear does not remove existence
    assert set(k[0] for k in dump_index(idx)) == {"_exists"}
    assert idx.delete([1, 2, SHARD + 7]) is True
    assert exists(idx) == {3, 4, 5, 6}
    assert idx.delete(1) is False
    assert idx.delete(3) is True
    assert exists(idx) == {4, 5, 6}


def test_delete_removes_every_value(idx):
    s = idx.create_field("s", "set")
    n = idx.create_field("n", "int")
    b = idx.create_field("b", "bool")
    for c in (1, 2, SHARD + 3):
        idx.set(c, "s", 1)
        idx.set(c, "s", 2)
        idx.set(c, "n", c - 5)
        idx.set(c, "b", True)
    assert idx.delete([1, SHARD + 3]) is True
    assert bits(s.row(1)) == bits(s.row(2)) == {2}
    assert n.value(1) is None and n.value(SHARD + 3) is None and n.value(2) == -3
    assert bits(b.row(True)) == {2}
    assert exists(idx) == {2}
    assert all(cols == {2} for cols in dump_index(idx).values())   # nothing of 1 or SHARD+3 is left


def test_store_and_import_mark_existence(idx):
    idx.create_field("s", "set")
    idx.create_field("n", "int")
    idx.import_values("s", [1, 2], [5, 5])
    idx.import_values("n", [3], [7])
    assert exists(idx) == {1, 2, 3}


def test_no_existence_tracking(db):
    idx = db.create_index("ne", track_existence=False)
    f = idx.create_field("s", "set")
    n = idx.create_field("n", "int")
    assert idx.set(1, "s", 1) is True
    assert idx.set(1, "s", 1) is False
    idx.set(2, "n", 5)
    assert exists(idx) == set()
    assert not any(k[0] == "_exists" for k in dump_index(idx))
    assert bits(f.row(1)) == {1}
    assert idx.delete(2) is True
    assert idx.delete(2) is False
    assert n.value(2) is None
    assert idx.delete(1) is True
    assert dump_index(idx) == {}


# --- options, names and errors ----------------------------------------------------------------


@pytest.mark.parametrize("typ, opts", [
    ("set", {"foo": 1}),
    ("set", {"min": 0}),
    ("bool", {"keys": True}),
    ("int", {"keys": True}),
    ("decimal", {"keys": True, "scale": 2}),
    ("timestamp", {"keys": True}),
    ("decimal", {}),                            # scale is required
    ("decimal", {"scale": 20}),
    ("decimal", {"scale": -1}),
    ("decimal", {"scale": "2"}),
    ("time", {}),                               # time_quantum is required
    ("time", {"time_quantum": "DY"}),
    ("time", {"time_quantum": "YY"}),
    ("time", {"time_quantum": "X"}),
    ("time", {"time_quantum": ""}),
    ("time", {"time_quantum": "YMD", "ttl": "forever"}),
    ("time", {"time_quantum": "YMD", "no_standard_view": "yes"}),
    ("timestamp", {"time_unit": "m"}),
    ("timestamp", {"epoch": "not a date"}),
    ("int", {"min": 5, "max": 1}),
    ("int", {"min": -(2**64)}),  # int64
    ("int", {"max": 2**64}),
    ("int", {"min": 1.5}),
    ("int", {"max": "10"}),
    ("set", {"keys": "yes"}),
    ("set", {"cache_type": "fancy"}),
    ("set", {"cache_size": -1}),
    ("mutex", {"time_quantum": "Y"}),
    ("float", {"bits": 8}),
    ("float", {"bits": True}),
    ("float", {"min": 0}),
    ("real", {}),
])
def test_invalid_field_options(idx, typ, opts):
    with pytest.raises(engine.InvalidOptionError) as ei:
        idx.create_field("f", typ, **opts)
    assert ei.value.code == "InvalidParameter"
    assert ei.value.name == "INVALID_OPTION"
    with pytest.raises(engine.FieldNotFoundError):
        idx.field("f")


def test_valid_field_options_are_kept(idx):
    f = idx.create_field("q", "time", time_quantum="ymd", ttl="48h", no_standard_view=True, keys=True)
    assert (f.options.time_quantum, f.options.ttl, f.options.no_standard_view, f.options.keys) == \
        ("YMD", 48 * 3600, True, True)
    t = idx.create_field("t", "timestamp", time_unit="µs", epoch="2000-01-01T00:00:00Z")
    assert (t.options.time_unit, t.options.epoch) == ("us", 946684800)
    s = idx.create_field("s", "set", cache_type="lru", cache_size=10)
    assert (s.options.cache_type, s.options.cache_size) == ("lru", 10)


@pytest.mark.parametrize("opts", [{"keys": "yes"}, {"track_existence": 1}, {"description": 5}])
def test_invalid_index_options(db, opts):
    with pytest.raises(engine.InvalidOptionError):
        db.create_index("x", **opts)
    with pytest.raises(engine.IndexNotFoundError):
        db.index("x")


BAD_NAMES = ["", "1abc", "Abc", "a b", "_exists", "-a", "a.b", "a/b", "é", "a" * 231, None, 5]
GOOD_NAMES = ["a", "a1", "a-b_c", "z" * 230]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_invalid_names(db, name):
    with pytest.raises(InvalidNameError) as ei:
        db.create_index(name)
    assert (ei.value.code, ei.value.name) == ("InvalidParameter", "INVALID_NAME")
    assert [i.name for i in db.indexes()] == []
    idx = db.create_index("ok")
    with pytest.raises(InvalidNameError):
        idx.create_field(name, "set")
    assert idx.fields() == []


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_valid_names(db, name):
    idx = db.create_index(name)
    assert idx.create_field(name, "set").name == name
    assert [i.name for i in db.indexes()] == [name]


def test_exists_and_not_found_errors(db):
    idx = db.create_index("i")
    idx.create_field("f", "set")
    with pytest.raises(engine.IndexExistsError) as ei:
        db.create_index("i")
    assert (ei.value.code, ei.value.name) == ("ResourceAlreadyExists", "INDEX_EXISTS")
    assert isinstance(ei.value, engine.AlreadyExistsError)
    with pytest.raises(engine.FieldExistsError) as ei:
        idx.create_field("f", "int")
    assert (ei.value.code, ei.value.name) == ("ResourceAlreadyExists", "FIELD_EXISTS")
    assert idx.field("f").type == "set"
    for call in (lambda: db.index("nope"), lambda: db.drop_index("nope")):
        with pytest.raises(engine.IndexNotFoundError) as ei:
            call()
        assert (ei.value.code, ei.value.name) == ("ResourceNotFound", "INDEX_NOT_FOUND")
        assert isinstance(ei.value, engine.NotFoundError)
    for call in (lambda: idx.field("nope"), lambda: idx.drop_field("nope"), lambda: idx.set(1, "nope", 1),
                 lambda: idx.clear(1, "nope", 1), lambda: idx.import_values("nope", [1], [1])):
        with pytest.raises(engine.FieldNotFoundError) as ei:
            call()
        assert (ei.value.code, ei.value.name) == ("ResourceNotFound", "FIELD_NOT_FOUND")
    assert ei.value.to_dict()["code"] == "ResourceNotFound"
    assert exists(idx) == set()


def test_indexes_and_fields_listing(db):
    b = db.create_index("b")
    db.create_index("a")
    assert [i.name for i in db.indexes()] == ["a", "b"]
    b.create_field("x", "set")
    b.create_field("y", "int")
    assert sorted((f.name, f.type) for f in b.fields()) == [("x", "set"), ("y", "int")]
    db.drop_index("a")
    assert [i.name for i in db.indexes()] == ["b"]


def test_drop_field_then_recreate_starts_empty(open_db):
    db = open_db()
    idx = db.create_index("i")
    idx.create_field("f", "set", keys=True)
    idx.create_field("keep", "set")
    idx.set(1, "f", "x")
    idx.set(SHARD + 2, "f", "y")
    idx.set(1, "keep", 1)
    idx.drop_field("f")
    with pytest.raises(engine.FieldNotFoundError):
        idx.field("f")
    f = idx.create_field("f", "set", keys=True)
    assert f.rows() == [] and bits(f.row("x")) == set()
    idx.set(3, "f", "z")
    assert f.rows() == ["z"]
    assert idx.snapshot().row_ids(f.definition.id, "standard") == [1]   # key ids restart at 1
    db = open_db.reopen(db)
    idx = db.index("i")
    f = idx.field("f")
    assert f.rows() == ["z"] and bits(f.row("z")) == {3} and bits(f.row("x")) == set()
    assert bits(idx.field("keep").row(1)) == {1}


def test_drop_field_recreate_with_other_type_after_checkpoint(open_db):
    db = open_db()
    idx = db.create_index("i")
    idx.create_field("f", "int")
    idx.set(1, "f", 2**20)
    db.checkpoint()                              # data now in fragment files too
    idx.set(2, "f", -7)                          # and some in the log
    idx.drop_field("f")
    db = open_db.reopen(db)
    idx = db.index("i")
    with pytest.raises(engine.FieldNotFoundError):
        idx.field("f")
    f = idx.create_field("f", "mutex")
    assert f.rows() == []
    idx.set(1, "f", 4)
    db = open_db.reopen(db)
    idx = db.index("i")
    assert idx.field("f").type == "mutex"
    assert idx.field("f").rows() == [4]
    assert {k[0] for k in dump_index(idx)} == {"_exists", "f"}
    assert exists(idx) == {1, 2}                # existence belongs to the index, not the field


def test_drop_index_then_recreate_starts_empty(open_db):
    db = open_db()
    idx = db.create_index("i", keys=True)
    idx.create_field("f", "set")
    idx.set("a", "f", 1)
    db.drop_index("i")
    with pytest.raises(engine.IndexNotFoundError):
        db.index("i")
    idx = db.create_index("i")
    assert idx.fields() == [] and exists(idx) == set()
    assert idx.definition.options.keys is False
    db = open_db.reopen(db)
    assert db.index("i").fields() == []
    assert dump_index(db.index("i")) == {}


def test_closed_holder_raises(open_db):
    db = open_db()
    idx = db.create_index("i")
    idx.create_field("f", "set")
    db.close()
    db.close()                                   # idempotent
    for call in (lambda: db.index("i"), lambda: db.create_index("j"), lambda: idx.set(1, "f", 1),
                 lambda: idx.snapshot()):
        with pytest.raises(engine.ClosedError) as ei:
            call()
        assert ei.value.code == "IncorrectState"


def test_second_open_of_same_directory_is_refused(open_db):
    db = open_db()
    with pytest.raises(engine.StorageFailedError):
        open_db(db.path)
