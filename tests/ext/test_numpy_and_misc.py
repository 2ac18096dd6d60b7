"""numpy interop, value validation, pickling, repr, hashing and other odds and ends."""
from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyroaring
import pytest
from childenv import child_env
from hypothesis import given
from hypothesis import strategies as st
from roar_testlib import (
    MAX32,
    MAX64,
    SETTINGS,
    U16,
    U32,
    U64,
    BaseBitmap,
    Bitmap,
    CorruptDataError,
    FrozenBitmap,
    assert_same,
    value_lists,
)

HERE = Path(__file__).resolve().parent


# ----------------------------------------------------------------------------- numpy
@SETTINGS
@given(values=value_lists(MAX64))
def test_to_numpy(values):
    bm = Bitmap(values)
    arr = bm.to_numpy()
    assert isinstance(arr, np.ndarray)
    assert arr.dtype == np.uint64 and arr.ndim == 1 and arr.shape == (len(set(values)),)
    assert arr.tolist() == sorted(set(values))
    assert np.array_equal(FrozenBitmap(values).to_numpy(), arr)
    if len(arr):
        arr[0] = arr[0] + 1 if arr[0] < MAX64 else 0  # the array is a copy, not a view
        assert_same(bm, set(values), "bitmap changed through to_numpy()")


def test_to_numpy_empty_and_high_bit():
    arr = Bitmap().to_numpy()
    assert arr.dtype == np.uint64 and arr.shape == (0,)
    vals = [0, 2**63 - 1, 2**63, MAX64]
    arr = Bitmap(vals).to_numpy()
    assert arr.dtype == np.uint64 and arr.tolist() == vals


@SETTINGS
@given(values=value_lists(MAX32), seed=st.integers(0, 2**32))
def test_from_numpy_uint32_unsorted_duplicates(values, seed):
    rng = np.random.default_rng(seed)
    arr = np.array(values + values[: len(values) // 2], dtype=np.uint32)
    rng.shuffle(arr)
    expected = pyroaring.BitMap(arr.tolist())
    assert_same(Bitmap(arr), expected, "uint32 shuffled with duplicates")
    assert_same(Bitmap(arr[::-1]), expected, "uint32 reversed view")
    assert_same(Bitmap(arr[::2]), pyroaring.BitMap(arr[::2].tolist()), "uint32 strided view")
    ro = arr.copy()
    ro.setflags(write=False)
    assert_same(Bitmap(ro), expected, "read-only uint32")
    bm = Bitmap([7])
    bm.update(arr)
    assert_same(bm, set(arr.tolist()) | {7}, "update(uint32)")


@SETTINGS
@given(values=value_lists(MAX64), seed=st.integers(0, 2**32))
def test_from_numpy_uint64_unsorted_duplicates(values, seed):
    rng = np.random.default_rng(seed)
    arr = np.array(values + values[: len(values) // 3], dtype=np.uint64)
    rng.shuffle(arr)
    s = set(values)
    assert_same(Bitmap(arr), s, "uint64 shuffled with duplicates")
    assert_same(FrozenBitmap(arr), s, "FrozenBitmap(uint64)")
    assert_same(Bitmap(arr[::-1]), s, "uint64 reversed view")
    assert_same(Bitmap(arr[1::3]), set(arr[1::3].tolist()), "uint64 strided view")
    two_d = np.zeros((2, max(len(arr), 1)), dtype=np.uint64)
    two_d[1, : len(arr)] = arr
    assert_same(Bitmap(two_d[1, : len(arr)]), s, "row of a 2-d array")
    bm = Bitmap([7])
    bm.update(arr, np.array([5], dtype=np.uint32))
    assert_same(bm, s | {5, 7}, "update(uint64, uint32)")


def test_from_numpy_big():
    rng = np.random.default_rng(1)
    arr = rng.integers(0, 2**64 - 1, size=200_000, dtype=np.uint64, endpoint=True)
    arr = np.concatenate([arr, arr[:1000], np.arange(U32 - 50_000, U32 + 50_000, dtype=np.uint64)])
    rng.shuffle(arr)
    bm = Bitmap(arr)
    assert np.array_equal(bm.to_numpy(), np.unique(arr))
    assert_same(bm, pyroaring.BitMap64(arr), "vs BitMap64")


# ----------------------------------------------------------------------------- validation
BAD_INTS = [-1, -(2**63), U64, U64 + 1, 2**100]


@pytest.mark.parametrize("v", BAD_INTS)
def test_out_of_range_values_rejected(v):
    errors = (OverflowError, ValueError)
    with pytest.raises(errors):
        Bitmap([1, v])
    with pytest.raises(errors):
        FrozenBitmap([v])
    bm = Bitmap([1, 2])
    with pytest.raises(errors):
        bm.add(v)
    with pytest.raises(errors):
        bm.add_checked(v)
    with pytest.raises(errors):
        bm.update([3, v])
    with pytest.raises(errors):
        Bitmap(range(v, v + 3) if v < 0 else range(v - 1, v + 2))
    assert {1, 2} <= set(bm) <= {1, 2, 3}
    # membership of an impossible value is never True (False, or the same error)
    try:
        assert (v in bm) is False
    except errors:
        pass


@pytest.mark.parametrize("bad", ["1", b"1", None, 1.5, 1.0, 2j, [1], object()],
                         ids=lambda b: type(b).__name__ + repr(b)[:6])
def test_non_int_values_type_error(bad):
    """Every API taking a value rejects a non-integer with TypeError (no silent truncation
    of floats: pyroaring's add(1.5) adding 1 is not mirrored)."""
    bm = Bitmap([1, 7])
    calls = {
        "Bitmap([1, bad])": lambda: Bitmap([1, bad]),
        "FrozenBitmap([bad])": lambda: FrozenBitmap([bad]),
        "update([2, bad])": lambda: bm.update([2, bad]),
        "add": lambda: bm.add(bad),
        "add_checked": lambda: bm.add_checked(bad),
        "discard": lambda: bm.discard(bad),
        "remove": lambda: bm.remove(bad),
        "rank": lambda: bm.rank(bad),
        "next_set_bit": lambda: bm.next_set_bit(bad),
        "iter_equal_or_larger": lambda: list(bm.iter_equal_or_larger(bad)),
        "add_range(bad, 10)": lambda: bm.add_range(bad, 10),
        "remove_range(0, bad)": lambda: bm.remove_range(0, bad),
        "contains_range(bad, 3)": lambda: bm.contains_range(bad, 3),
        "range_cardinality(0, bad)": lambda: bm.range_cardinality(0, bad),
        "select": lambda: bm.select(bad),
        "shift": lambda: bm.shift(bad),
    }
    accepted = []
    for name, call in calls.items():
        try:
            call()
        except TypeError:
            continue
        except Exception as exc:
            accepted.append(f"{name}: {type(exc).__name__}: {exc}")
        else:
            accepted.append(f"{name}: accepted")
    assert not accepted, f"{bad!r} not rejected with TypeError by: {accepted}"
    assert_same(bm, [1, 7], "a rejected value changed the bitmap")


def test_non_iterable_constructor():
    with pytest.raises(TypeError):
        Bitmap(5)
    with pytest.raises(TypeError):
        FrozenBitmap(object())
    with pytest.raises(TypeError):
        Bitmap(np.array([1.0, 2.0]))  # float arrays are not silently truncated


def test_int_like_values_accepted():
    bm = Bitmap([np.uint64(MAX64), np.int64(5), np.uint32(7), True])
    bm.add(np.uint64(9))
    bm.add(np.int32(11))
    assert_same(bm, [1, 5, 7, 9, 11, MAX64])
    assert Bitmap(np.array([1, 2, 2], dtype=np.int64)) == Bitmap([1, 2])


def test_contains_odd_values():
    bm = Bitmap([0, 1, MAX64])
    for v in (-1, U64, 2**100):
        try:
            assert (v in bm) is False
        except (OverflowError, ValueError):
            pass
    try:
        assert ("a" in bm) is False
    except TypeError:
        pass


# ----------------------------------------------------------------------------- misc API
def test_pop_clear_add_checked():
    bm = Bitmap([3, U32, MAX64])
    seen = set()
    while bm:
        n = len(bm)
        v = bm.pop()
        assert v in {3, U32, MAX64} and v not in bm and v not in seen and len(bm) == n - 1
        seen.add(v)
    assert seen == {3, U32, MAX64}
    with pytest.raises(KeyError):
        bm.pop()
    bm.add_checked(5)
    with pytest.raises(KeyError):
        bm.add_checked(5)
    assert_same(bm, [5])
    bm.update(range(100_000))
    bm.clear()
    assert len(bm) == 0 and list(bm) == [] and not bm
    bm.add(9)
    assert_same(bm, [9])


def test_equality_with_other_types():
    assert (Bitmap([1, 2]) == [1, 2]) is False
    assert (Bitmap([1, 2]) != [1, 2]) is True
    assert (Bitmap() == None) is False  # noqa: E711
    assert Bitmap([1, 2]) == FrozenBitmap([2, 1])
    assert FrozenBitmap([1, U32]) == Bitmap([U32, 1])
    assert Bitmap([1]) != Bitmap([1, U32])


def test_class_relations():
    # siblings: a FrozenBitmap is never mutable, a Bitmap never frozen; BaseBitmap is either
    assert issubclass(Bitmap, BaseBitmap) and issubclass(FrozenBitmap, BaseBitmap)
    assert not issubclass(Bitmap, FrozenBitmap) and not issubclass(FrozenBitmap, Bitmap)
    assert not isinstance(Bitmap([1]), FrozenBitmap) and not isinstance(FrozenBitmap([1]), Bitmap)
    assert issubclass(CorruptDataError, ValueError)
    with pytest.raises(TypeError):
        hash(Bitmap([1]))
    assert isinstance(hash(FrozenBitmap([1])), int)


def test_the_two_kinds_mix():
    b, f = Bitmap([1, 2]), FrozenBitmap([2, 3])
    # a result has its left operand's kind; either kind is accepted on the right
    assert type(b & f) is Bitmap and type(f | b) is FrozenBitmap and type(f - b) is FrozenBitmap
    assert b ^ f == FrozenBitmap([1, 3]) and f.union(b, b) == Bitmap([1, 2, 3])
    assert b < Bitmap([1, 2, 3]) and f >= FrozenBitmap([3]) and b.issubset(FrozenBitmap([1, 2, 3]))
    b |= f
    assert type(b) is Bitmap and b == FrozenBitmap([1, 2, 3])
    # the methods live on the base, so either class's unbound method takes either kind
    assert FrozenBitmap.union(Bitmap([1]), f) == Bitmap.union(f, Bitmap([1])) == FrozenBitmap([1, 2, 3])
    assert FrozenBitmap(b) == b and type(Bitmap(f)) is Bitmap and type(b.freeze()) is FrozenBitmap
    assert f.freeze() is f and b.freeze() is not b


def test_base_bitmap_is_abstract():
    with pytest.raises(TypeError, match="abstract"):
        BaseBitmap()
    with pytest.raises(TypeError, match="abstract"):
        BaseBitmap.__new__(BaseBitmap)


def test_hash_spreads():
    hashes = {hash(FrozenBitmap(v)) for v in ([], [0], [1], [2], [1, 2], [U32], [MAX64], range(100),
                                              range(101), [0, MAX64], range(0, 1000, 2))}
    assert len(hashes) >= 8, "FrozenBitmap hashes barely depend on the contents"
    assert hash(FrozenBitmap(range(10))) == hash(FrozenBitmap(list(range(10))[::-1]))


def test_memory_size():
    tiny = Bitmap([5])
    assert tiny.get_memory_size() > 0
    bitsets = Bitmap([(k << 16) + 2 * i for k in range(100) for i in range(5000)])
    assert bitsets.get_statistics()["n_bitset_containers"] == 100
    assert bitsets.get_memory_size() >= 100 * 8192
    runs = Bitmap(range(0, 100 * U16))
    assert 0 < runs.get_memory_size() < bitsets.get_memory_size()
    assert isinstance(bitsets.shrink_to_fit(), int)


# ----------------------------------------------------------------------------- pickle / repr
PICKLE_CASES = [[], [0], [MAX64], list(range(0, 10_000, 3)), list(range(U32 - 5, U32 + 5)),
                list(range(100_000)) + [2**63, MAX64]]


@pytest.mark.parametrize("values", PICKLE_CASES, ids=range(len(PICKLE_CASES)))
@pytest.mark.parametrize("proto", [2, pickle.DEFAULT_PROTOCOL, pickle.HIGHEST_PROTOCOL])
def test_pickle_roundtrip(values, proto):
    for cls in (Bitmap, FrozenBitmap):
        bm = cls(values)
        back = pickle.loads(pickle.dumps(bm, protocol=proto))
        assert type(back) is cls
        assert back == bm
        assert_same(back, values, f"pickled {cls.__name__}")
        if cls is FrozenBitmap:
            assert hash(back) == hash(bm)
    b = Bitmap(values)
    c = pickle.loads(pickle.dumps(b, protocol=proto))
    c.add(12345678)
    assert 12345678 not in b or 12345678 in values


def test_pickle_inside_containers():
    data = {"a": Bitmap([1, U32]), "b": FrozenBitmap([MAX64])}
    back = pickle.loads(pickle.dumps(data))
    assert back["a"] == data["a"] and back["b"] == data["b"] and type(back["b"]) is FrozenBitmap


def test_repr_is_short():
    bm = Bitmap(range(1_000_000))
    t0 = time.perf_counter()
    r = repr(bm)
    s = str(bm)
    dt = time.perf_counter() - t0
    assert isinstance(r, str) and len(r) <= 1000, len(r)
    assert len(s) <= 1000
    assert dt < 0.5
    assert len(repr(FrozenBitmap(np.arange(0, 2_000_000, 2, dtype=np.uint64)))) <= 1000
    small = repr(Bitmap([1, 2, U32]))
    assert "Bitmap" in small and "4294967296" in small
    assert "FrozenBitmap" in repr(FrozenBitmap([3]))
    assert repr(Bitmap())


# ----------------------------------------------------------------------------- crash safety
@pytest.mark.reliability
def test_mutation_during_iteration_does_not_crash():
    """Mutating (or dropping) a bitmap while an iterator over it is alive may raise or
    yield stale/partial values, but must not crash (use-after-free). Run in a subprocess."""
    script = textwrap.dedent("""
        import gc
        from roar_testlib import Bitmap
        def drain(it):
            try:
                return list(it)
            except RuntimeError:
                return None
        for mutate in (lambda b: b.clear(), lambda b: b.remove_range(0, 1 << 40),
                       lambda b: b.update(range(0, 1 << 20)), lambda b: b.flip_inplace(0, 300000),
                       lambda b: b.__iand__(Bitmap([5])), lambda b: b.run_optimize(),
                       lambda b: b.__ixor__(b.copy()), lambda b: b.discard(70000),
                       lambda b: b.shrink_to_fit()):
            for make in (lambda b: iter(b), lambda b: reversed(b), lambda b: b.iter_equal_or_larger(3)):
                b = Bitmap(list(range(0, 200000, 3)) + list(range(300000, 400000)) + [1 << 40])
                it = make(b)
                first = [next(it) for _ in range(5)]
                mutate(b)
                drain(it)
        # the iterator keeps its bitmap alive
        it = iter(Bitmap(range(100000)))
        gc.collect()
        assert sum(1 for _ in it) == 100000
        it = reversed(Bitmap(range(100000)))
        gc.collect()
        assert next(it) == 99999
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-X", "faulthandler", "-c", script], env=child_env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "ok" in proc.stdout, \
        f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
