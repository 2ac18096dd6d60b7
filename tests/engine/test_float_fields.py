"""The roarbase extensions for exact numbers: `float` fields (an order-preserving encoding of
the IEEE bits at 16/32/64 bits) and `int` fields spanning the unsigned 64-bit range.

Oracle: numpy arrays of the same values at the same width, compared with IEEE semantics
(-0.0 == +0.0; NaN never stored); every path (single writes, bulk import, reopen) and every
front door that reads them (PQL Row/Sum/Min/Max/Extract, SQL WHERE/aggregates).
"""
from __future__ import annotations

import itertools
import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine.schema import float_decode, float_encode, float_encode_array

DTYPES = {16: np.float16, 32: np.float32, 64: np.float64}
_SEQ = itertools.count()
OPS = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal, "==": np.equal}


def _floats(bits: int) -> st.SearchStrategy[float]:
    edge = [0.0, -0.0, 1.0, -1.0, float(np.finfo(DTYPES[bits]).max), -float(np.finfo(DTYPES[bits]).max),
            float(np.finfo(DTYPES[bits]).smallest_subnormal), -float(np.finfo(DTYPES[bits]).smallest_subnormal),
            float(np.finfo(DTYPES[bits]).tiny)]
    return st.one_of(st.sampled_from(edge), st.floats(width=bits, allow_nan=False, allow_infinity=False))


@pytest.mark.parametrize("bits", [16, 32, 64])
@given(data=st.data())
@settings(max_examples=60, deadline=None)
def test_encoding_orders_like_floats_and_round_trips(bits, data):
    xs = data.draw(st.lists(_floats(bits), min_size=2, max_size=30))
    enc = [float_encode(x, bits) for x in xs]
    assert float_encode_array(np.array(xs, dtype=DTYPES[bits]), bits).tolist() == enc
    for x, e in zip(xs, enc):
        back = float_decode(e, bits)
        assert DTYPES[bits](back) == DTYPES[bits](x) and math.copysign(1, back) == math.copysign(1, x)
    for (x, ex), (y, ey) in zip(zip(xs, enc), zip(xs[1:], enc[1:])):
        if x == y == 0.0:
            assert (ex < ey) == (math.copysign(1, x) < math.copysign(1, y)) or ex == ey
        else:
            assert (ex < ey) == (x < y) and (ex == ey) == (x == y)


@pytest.mark.parametrize("bits", [32, 64])
@given(data=st.data())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_comparisons_match_numpy(db, bits, data):
    values = data.draw(st.lists(st.one_of(st.none(), _floats(bits)), min_size=1, max_size=40))
    bounds = data.draw(st.lists(_floats(bits), min_size=1, max_size=4))
    name = f"t{bits}_{next(_SEQ)}"
    t = db.create_index(name)
    t.create_field("f", "float", bits=bits)
    cols = [i for i, v in enumerate(values) if v is not None]
    t.import_values("f", columns=cols, values=[values[i] for i in cols])
    arr = np.array([values[i] for i in cols], dtype=DTYPES[bits])
    for b in bounds:
        bw = DTYPES[bits](b)
        lit = format(Decimal(repr(float(bw))), "f")     # PQL and SQL literals have no exponent
        for op, fn in OPS.items():
            expected = int(fn(arr, bw).sum())
            assert db.query(name, f"Count(Row(f {op} {lit}))") == [expected], (op, lit)
            sql_op = "=" if op == "==" else op
            assert db.sql(f"SELECT COUNT(*) FROM {name} WHERE f {sql_op} {lit}").rows == [(expected,)]
        assert db.query(name, f"Count(Row(f != {lit}))") == [int((arr != bw).sum())]
    if len(arr):
        mx = db.query(name, "Max(field=f)")[0]
        mn = db.query(name, "Min(field=f)")[0]
        assert DTYPES[bits](mx["floatValue"]) == arr.max() and DTYPES[bits](mn["floatValue"]) == arr.min()
        try:
            expected_sum = math.fsum(arr.astype(np.float64).tolist())
        except OverflowError:
            with pytest.raises(engine.QueryExecutionError):
                db.query(name, "Sum(field=f)")
        else:
            total = db.query(name, "Sum(field=f)")[0]
            assert total["count"] == len(arr) and total["floatValue"] == expected_sum


def test_float_values_survive_reopen_bit_exact(open_db):
    db = open_db()
    t = db.create_index("t")
    t.create_field("h", "float", bits=16)
    t.create_field("s", "float", bits=32)
    t.create_field("d", "float")
    vals = {"h": [0.5, -0.0, 65504.0, 6e-08], "s": [9.99, -0.0, 1e-45, -3.4028234663852886e38],
            "d": [0.1, -0.0, 5e-324, 1.7976931348623157e308]}
    for name, vs in vals.items():
        t.import_values(name, columns=[1, 2, 3, 4], values=vs)
    t.set(5, "s", 2.5)
    db = open_db.reopen(db)
    t = db.index("t")
    for name, vs in vals.items():
        dt = DTYPES[t.field(name).options.bits]
        for col, v in zip([1, 2, 3, 4], vs):
            got = t.field(name).value(col)
            assert dt(got) == dt(v) and math.copysign(1, got) == math.copysign(1, v)
    assert t.field("s").value(5) == 2.5
    # float32 comes back as the shortest decimal that reads as the same float32
    assert t.field("s").value(1) == 9.99


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 1e39, "1.5", True, None])
def test_float_fields_refuse_non_finite_and_non_numbers(db, bad):
    t = db.create_index("t")
    t.create_field("s", "float", bits=32)
    with pytest.raises(engine.InvalidParameterError):
        t.set(1, "s", bad)
    if bad is not None and not isinstance(bad, (str, bool)):
        with pytest.raises(engine.InvalidParameterError):
            t.import_values("s", columns=[1], values=np.array([bad]))
    assert db.query("t", "Count(All())") == [0]


def test_float_fields_in_sql_select_and_aggregates(db):
    t = db.create_index("t")
    t.create_field("f", "float", bits=32)
    t.import_values("f", columns=[1, 2, 3, 4], values=[9.99, -0.0, 0.0, -1.5])
    assert db.sql("SELECT _id, f FROM t ORDER BY _id").rows == [(1, 9.99), (2, -0.0), (3, 0.0), (4, -1.5)]
    r = db.sql("SELECT SUM(f), MIN(f), MAX(f) FROM t").rows[0]
    assert r[1:] == (-1.5, 9.99) and r[0] == math.fsum(np.array([9.99, 0, 0, -1.5], dtype=np.float32).tolist())
    assert db.sql("SELECT COUNT(*) FROM t WHERE f BETWEEN -1 AND 0").rows == [(2,)]
    assert db.sql("SELECT COUNT(*) FROM t WHERE f IN (0, 9.99)").rows == [(3,)]


def test_unsigned_64_bit_int_fields(open_db):
    db = open_db()
    t = db.create_index("t")
    t.create_field("u", "int", min=0, max=2**64 - 1)
    assert t.field("u").options.base == 2**63
    vals = [0, 1, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1]
    t.import_values("u", columns=list(range(len(vals))), values=np.array(vals, dtype=np.uint64))
    t.set(10, "u", 2**64 - 2)
    vals.append(2**64 - 2)
    cols = list(range(6)) + [10]
    for bound in (0, 2**63 - 1, 2**63, 2**64 - 2):
        assert db.query("t", f"Count(Row(u > {bound}))") == [sum(v > bound for v in vals)]
        assert db.query("t", f"Count(Row(u <= {bound}))") == [sum(v <= bound for v in vals)]
    assert db.query("t", "Sum(field=u)")[0]["value"] == sum(vals)
    assert db.query("t", "Max(field=u)")[0]["value"] == 2**64 - 1
    db = open_db.reopen(db)
    t = db.index("t")
    assert [t.field("u").value(c) for c in cols] == vals
    assert db.sql("SELECT MAX(u), MIN(u) FROM t").rows == [(2**64 - 1, 0)]
    with pytest.raises(engine.ValueOutOfRangeError):
        t.set(11, "u", -1)
    with pytest.raises(engine.InvalidOptionError):
        db.index("t").create_field("v", "int", min=-1, max=2**64 - 1)   # wider than 64 bits
