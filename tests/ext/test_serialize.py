"""Byte-for-byte interoperability of ext's portable serialization with pyroaring.

ext writes the 32-bit portable format when every value is < 2**32 (pyroaring.BitMap's bytes)
and the 64-bit portable format otherwise (pyroaring.BitMap64's bytes); it reads both.
Both sides' constructors run_optimize, so bitmaps built from the same iterable have the same
containers and hence the same bytes.
"""
from __future__ import annotations

import struct

import pyroaring
import pytest
from hypothesis import given
from hypothesis import strategies as st
from roar_testlib import (
    MAX32,
    MAX64,
    SETTINGS,
    U16,
    U32,
    U48,
    Bitmap,
    CorruptDataError,
    FrozenBitmap,
    assert_same,
    boundaries,
    value_lists,
)


def pyroaring_bytes(values) -> bytes:
    """What pyroaring writes for these values, in the format ext must choose."""
    s = set(values)
    if not s or max(s) < U32:
        return pyroaring.BitMap(values).serialize()
    return pyroaring.BitMap64(values).serialize()


def check_interop(values, what=""):
    s = set(values)
    bm = Bitmap(values)
    data = bm.serialize()
    assert isinstance(data, bytes)
    expected = pyroaring_bytes(values)
    if data != expected:
        raise AssertionError(f"{what}: ext bytes differ from pyroaring's: len {len(data)} vs "
                             f"{len(expected)}; first difference at byte "
                             f"{next((i for i, (x, y) in enumerate(zip(data, expected)) if x != y), min(len(data), len(expected)))}"
                             f"\next: {data[:64].hex()}\npy:  {expected[:64].hex()}")
    # ext reads pyroaring's bytes and writes them back unchanged
    back = Bitmap.deserialize(expected)
    assert type(back) is Bitmap
    assert_same(back, s, f"{what}: ext.deserialize(pyroaring bytes)")
    assert back.serialize() == expected, f"{what}: re-serialization changed the bytes"
    fz = FrozenBitmap.deserialize(expected)
    assert type(fz) is FrozenBitmap
    assert_same(fz, s, f"{what}: FrozenBitmap.deserialize")
    # pyroaring reads ext's bytes
    py_cls = pyroaring.BitMap if (not s or max(s) < U32) else pyroaring.BitMap64
    assert_same(py_cls.deserialize(data), s, f"{what}: pyroaring.deserialize(ext bytes)")
    # the 64-bit format is always accepted, even for small values
    b64 = pyroaring.BitMap64(values).serialize()
    assert_same(Bitmap.deserialize(b64), s, f"{what}: ext.deserialize(BitMap64 bytes)")
    assert Bitmap.deserialize(b64).serialize() == expected, f"{what}: BitMap64 bytes -> ext -> bytes"
    return data


@SETTINGS
@given(values=value_lists(MAX32))
def test_interop_32(values):
    check_interop(values, "32-bit values")


@SETTINGS
@given(values=value_lists(MAX64))
def test_interop_64(values):
    check_interop(values, "64-bit values")


@SETTINGS
@given(values=value_lists(MAX64), kind=st.sampled_from(["bytes", "bytearray", "memoryview", "offset-view"]))
def test_deserialize_buffer_types(values, kind):
    data = Bitmap(values).serialize()
    if kind == "bytearray":
        buf = bytearray(data)
    elif kind == "memoryview":
        buf = memoryview(data)
    elif kind == "offset-view":  # unaligned start inside a larger buffer
        buf = memoryview(b"\x00\xff\x17" + data + b"\xee")[3:-1]
    else:
        buf = data
    assert_same(Bitmap.deserialize(buf), set(values), kind)


def _runs(key, n_runs, run_len=10, gap=7):
    base = key << 16
    return [base + r * (run_len + gap) + i for r in range(n_runs) for i in range(run_len)]


EXPLICIT = {
    "empty": [],
    **{f"single {b:#x}": [b] for b in boundaries(MAX64)},
    "0 and 2**64-1": [0, MAX64],
    "array": [1, 5, 1000, 65535],
    "run (one)": list(range(100, 1100)),
    "run (full container)": list(range(U16, 2 * U16)),
    "run in a full 65536 chunk at 2**32-2**16": list(range(U32 - U16, U32)),
    "bitset 4097 stride 2": list(range(0, 2 * 4097, 2)),
    "array 4096 stride 2": list(range(0, 2 * 4096, 2)),
    "bitset + array + run": list(range(0, 20000, 3)) + [U16 + 5] + list(range(2 * U16, 2 * U16 + 500)),
    "3 containers with runs (no offset header)": _runs(0, 5) + _runs(1, 5) + _runs(7, 3),
    "4 containers with runs (offset header)": _runs(0, 5) + _runs(1, 5) + _runs(7, 3) + [9 << 16],
    "6 containers with runs (offset header)": [v for k in range(6) for v in _runs(k * 3, k + 1)],
    "4 containers, no runs": [k << 16 for k in range(4)],
    "3 containers, no runs": [(k << 16) + 9 for k in range(3)],
    "1000 containers": [k * U16 + k for k in range(1000)],
    "runs of max length": list(range(0, 3 * U16)),
    "64: two buckets": [1, U32 + 1],
    "64: runs in several buckets": list(range(U32 - 300, U32 + 300)) + list(range(U48 - 70000, U48 + 10)),
    "64: bitset at the top": list(range(MAX64 - 2 * 5000, MAX64, 2)) + [MAX64],
    "64: full top chunk": list(range(MAX64 - U16 + 1, MAX64 + 1)),
    "64: only high values": [2**63, 2**63 + 1, MAX64],
    "64: 5 buckets, mixed": [k * U32 + v for k in (0, 1, 2, U16, U32 - 1) for v in (0, 7, MAX32)]
    + list(range(U32 * 3, U32 * 3 + 9000, 2)),
}


@pytest.mark.parametrize("name", list(EXPLICIT))
def test_interop_explicit(name):
    check_interop(EXPLICIT[name], name)


def test_empty_bytes():
    """Empty bitmap: 32-bit format (cookie 12346, zero containers)."""
    assert Bitmap().serialize() == struct.pack("<II", 12346, 0)
    assert len(Bitmap.deserialize(struct.pack("<II", 12346, 0))) == 0
    assert len(Bitmap.deserialize(bytes(8))) == 0  # empty 64-bit format
    assert Bitmap([5]).serialize() != Bitmap().serialize()


def test_header_variants():
    """The run-cookie/offset-header rules, checked on ext's own bytes."""
    three = Bitmap(EXPLICIT["3 containers with runs (no offset header)"]).serialize()
    cookie, = struct.unpack_from("<I", three)
    assert cookie & 0xFFFF == 12347 and cookie >> 16 == 3 - 1
    four = Bitmap(EXPLICIT["4 containers with runs (offset header)"]).serialize()
    cookie, = struct.unpack_from("<I", four)
    assert cookie & 0xFFFF == 12347 and cookie >> 16 == 4 - 1
    # run flags (1 byte) + 4 * (key, card-1) + 4 offsets: offsets present for >= 4 containers
    off0, = struct.unpack_from("<I", four, 4 + 1 + 4 * 4)
    assert off0 == 4 + 1 + 4 * 4 + 4 * 4
    norun = Bitmap(EXPLICIT["3 containers, no runs"]).serialize()
    assert struct.unpack_from("<II", norun) == (12346, 3)
    b64 = Bitmap([1, U32 + 1]).serialize()
    assert struct.unpack_from("<Q", b64) == (2,)
    assert struct.unpack_from("<I", b64, 8) == (0,)


@pytest.mark.parametrize("data", [
    b"", b"\x3a", b"\x3a\x30", b"\x3a\x30\x00\x00", b"\x3b\x30\x00\x00", b"\x00" * 7,
    b"\x3a\x30\x00\x00\x01\x00\x00\x00",  # one container, nothing else
    struct.pack("<II", 12346, 0xFFFF),
    struct.pack("<I", 12347 | (0xFFFF << 16)) + b"\xff" * 64,
    struct.pack("<Q", 2**62),
    struct.pack("<Q", 1),  # one bucket, nothing else
    struct.pack("<QI", 1, 0) + struct.pack("<II", 12346, 2**31),
    b"junk" * 10,
], ids=lambda d: d[:12].hex() or "empty")
def test_corrupt_rejected(data):
    for cls in (Bitmap, FrozenBitmap):
        with pytest.raises(CorruptDataError) as info:
            cls.deserialize(data)
        assert isinstance(info.value, ValueError)
        assert isinstance(info.value.offset, int) and info.value.offset >= 0


@pytest.mark.parametrize("name", ["bitset + array + run", "4 containers with runs (offset header)",
                                  "64: 5 buckets, mixed", "64: runs in several buckets"])
def test_truncations_rejected(name):
    data = Bitmap(EXPLICIT[name]).serialize()
    for cut in list(range(0, min(len(data), 200))) + list(range(max(0, len(data) - 64), len(data))):
        with pytest.raises(CorruptDataError):
            Bitmap.deserialize(data[:cut])
