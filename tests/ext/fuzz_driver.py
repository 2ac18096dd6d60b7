#!/usr/bin/env python
"""Fuzz driver for ext.Bitmap.deserialize, run in a subprocess by test_fuzz.py so that a
crash fails the test with its signal instead of killing pytest.

Every input must either load to a valid bitmap (strictly increasing iteration, len equal to
the number of values, serialize -> deserialize round trip, consistent min/max/rank/select)
or raise ext.CorruptDataError. Anything else -- another exception type, a valid
serialization that does not load (or loads different values), a strict prefix of a valid
serialization that loads, a max-RSS growth above the limit -- is a failure.

Inputs: valid serializations of random bitmaps in both portable formats (written by
pyroaring and by ext), then mutated (bit flips, byte overwrites, truncations at structural
boundaries, header fields patched to huge/inconsistent values: container counts, 64-bit
bucket counts, cardinalities, run counts, offsets; duplicated/unsorted keys, overlapping
runs, splices, appended junk) plus pure random bytes.

Usage: fuzz_driver.py [--seed N] [--inputs N] [--last-input PATH] [--rss-limit-mib N]
The seed defaults to $ROARBASE_FUZZ_SEED, else a random one; it is printed first.
Exit status: 0 if no failure, 1 otherwise. The last line is a one-line summary.
"""
from __future__ import annotations

import argparse
import faulthandler
import itertools
import os
import random
import resource
import struct
import sys
import time

import numpy as np
import pyroaring

if os.environ.get("ROARBASE_EXT_IMPL") != "pyroaring-shim":
    from ext import Bitmap, CorruptDataError
else:  # stands in for ext's types (roar_shim.py)
    from roar_shim import Bitmap, CorruptDataError  # type: ignore[assignment]

U16, U32, U64 = 1 << 16, 1 << 32, 1 << 64
MAX64 = U64 - 1


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


# ----------------------------------------------------------------------------- bitmaps
def random_values(rng: random.Random, wide: bool) -> list[int]:
    """A random value set of a random shape; wide=True allows values >= 2**32."""
    keys_pool = [0, 1, 2, U16 - 1, U16, U16 + 1, U32 - 1] + ([U32, U32 + 1, (1 << 48) - 1, (1 << 48) - 2]
                                                             if wide else [])
    top = (MAX64 if wide else U32 - 1) >> 16

    def key():
        return rng.choice(keys_pool) if rng.random() < 0.5 else rng.randint(0, top)

    out: list[int] = []
    for _ in range(rng.choice([0, 1, 1, 2, 3, 4, 6])):
        k = key() << 16
        shape = rng.choice(["few", "array", "runs", "bitset", "full", "dense", "edge"])
        if shape == "few":
            out += [k + rng.randrange(U16) for _ in range(rng.randint(1, 5))]
        elif shape == "array":
            out += [k + lo for lo in rng.sample(range(U16), rng.randint(1, 600))]
        elif shape == "runs":
            pos = rng.randrange(200)
            for _ in range(rng.randint(1, 40)):
                ln = rng.randint(1, 300)
                out += range(k + pos, min(k + pos + ln, k + U16))
                pos += ln + rng.randint(1, 300)
                if pos >= U16:
                    break
        elif shape == "bitset":
            n = rng.choice([4097, 4500, 6000])
            out += [k + 2 * i for i in range(n)]
        elif shape == "full":
            out += range(k, k + U16)
        elif shape == "dense":
            out += [k + lo for lo in range(U16) if rng.random() < 0.3][:20000]
        else:
            out += [k, k + 1, k + U16 - 1]
    if wide and rng.random() < 0.3:
        out += [MAX64, MAX64 - 1, 2**63]
    return out


def serializations(values: list[int], rng: random.Random) -> list[tuple[str, bytes, int]]:
    """(source, bytes, format bits) of the values, from pyroaring and ext."""
    s = set(values)
    out = []
    small = not s or max(s) < U32
    if small:
        out.append(("pyroaring32", pyroaring.BitMap(values).serialize(), 32))
        out.append(("pyroaring32-noopt", pyroaring.BitMap(values, optimize=False).serialize(), 32))
    out.append(("pyroaring64", pyroaring.BitMap64(values).serialize(), 64))
    out.append(("ext", Bitmap(values).serialize(), 32 if small else 64))
    return out


# ----------------------------------------------------------------------------- structure
class Layout:
    """Field positions of a valid serialization: [(kind, offset, size)], boundaries, counts."""

    def __init__(self) -> None:
        self.fields: list[tuple[str, int, int]] = []
        self.bounds: set[int] = set()
        self.count_fields: list[tuple[int, int, int]] = []  # (offset, size, container count)
        self.keys: list[tuple[int, int]] = []  # (offset, size) of keys, per 32-bit bitmap grouped
        self.key_groups: list[list[int]] = []
        self.runs: list[tuple[int, int]] = []  # (offset of n_runs, n_runs)
        self.arrays: list[tuple[int, int]] = []  # (offset, card)
        self.runflags: list[tuple[int, int]] = []  # (offset, n)
        self.bucket_keys: list[int] = []  # offsets of the 64-bit format's bucket keys

    def field(self, kind: str, off: int, size: int) -> None:
        self.fields.append((kind, off, size))
        self.bounds.update((off, off + size))


def parse32(d: bytes, p: int, lay: Layout) -> int:
    cookie, = struct.unpack_from("<I", d, p)
    lay.field("cookie", p, 2)
    if cookie & 0xFFFF == 12347:
        n = (cookie >> 16) + 1
        lay.field("count16", p + 2, 2)
        lay.count_fields.append((p + 2, 2, n))
        p += 4
        flags = d[p:p + (n + 7) // 8]
        lay.field("runflags", p, (n + 7) // 8)
        lay.runflags.append((p, n))
        p += (n + 7) // 8
        has_runs = True
    else:
        assert cookie == 12346, cookie
        n, = struct.unpack_from("<I", d, p + 4)
        lay.field("count32", p + 4, 4)
        lay.count_fields.append((p + 4, 4, n))
        p += 8
        flags = bytes((n + 7) // 8)
        has_runs = False
    cards = []
    group = []
    for i in range(n):
        k, c = struct.unpack_from("<HH", d, p + 4 * i)
        lay.field("key", p + 4 * i, 2)
        lay.field("card", p + 4 * i + 2, 2)
        group.append(p + 4 * i)
        cards.append(c + 1)
    lay.key_groups.append(group)
    p += 4 * n
    if not has_runs or n >= 4:
        for i in range(n):
            lay.field("offset", p + 4 * i, 4)
        p += 4 * n
    for i in range(n):
        lay.bounds.add(p)
        if has_runs and (flags[i >> 3] >> (i & 7)) & 1:
            nr, = struct.unpack_from("<H", d, p)
            lay.field("nruns", p, 2)
            lay.runs.append((p, nr))
            for j in range(min(nr, 8)):
                lay.field("run_start", p + 2 + 4 * j, 2)
                lay.field("run_len", p + 4 + 4 * j, 2)
            p += 2 + 4 * nr
        elif cards[i] > 4096:
            lay.field("bitset_word", p + 8 * random.Random(p).randrange(1024), 8)
            p += 8192
        else:
            lay.arrays.append((p, cards[i]))
            for j in sorted({0, cards[i] - 1, cards[i] // 2}):
                lay.field("array_value", p + 2 * j, 2)
            p += 2 * cards[i]
    lay.bounds.add(p)
    return p


def parse(d: bytes, bits: int) -> Layout:
    lay = Layout()
    if bits == 32:
        end = parse32(d, 0, lay)
    else:
        nb, = struct.unpack_from("<Q", d, 0)
        lay.field("bucket_count", 0, 8)
        p = 8
        bucket_keys = []
        for _ in range(nb):
            lay.field("bucket_key", p, 4)
            bucket_keys.append(p)
            p = parse32(d, p + 4, lay)
        lay.bucket_keys = bucket_keys
        end = p
    assert end == len(d), (end, len(d))
    lay.bounds = {b for b in lay.bounds if 0 <= b < len(d)}
    return lay


# ----------------------------------------------------------------------------- mutations
SPECIAL = {1: [0, 1, 0x7F, 0x80, 0xFF], 2: [0, 1, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF],
           4: [0, 1, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF],
           8: [0, 1, 2**32, 2**62, 2**63, 2**64 - 1]}
FMT = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}


def put(b: bytearray, off: int, size: int, value: int) -> None:
    struct.pack_into(FMT[size], b, off, value % (1 << (8 * size)))


def get(b, off: int, size: int) -> int:
    return struct.unpack_from(FMT[size], b, off)[0]


def m_bitflip(d, lay, rng, other):
    b = bytearray(d)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b), False


def m_overwrite(d, lay, rng, other):
    b = bytearray(d)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(b))
        b[i] = rng.choice([rng.randrange(256), 0, 0xFF])
    return bytes(b), False


def m_field(d, lay, rng, other):
    """Patch one structural field to a special / off-by-one / random value."""
    kind, off, size = rng.choice(lay.fields)
    b = bytearray(d)
    old = get(b, off, size)
    put(b, off, size, rng.choice(SPECIAL[size] + [old + 1, old - 1, old * 2 + 1, rng.getrandbits(8 * size)]))
    return bytes(b), False


def m_truncate(d, lay, rng, other):
    cuts = sorted(lay.bounds | {len(d) - 1})
    c = rng.choice(cuts) if rng.random() < 0.7 else rng.randrange(len(d))
    c = max(0, min(c + rng.choice([0, 0, -1, 1]), len(d) - 1))
    return d[:c], True  # a strict prefix of a valid serialization can never be valid


def m_count(d, lay, rng, other):
    off, size, n = rng.choice(lay.count_fields)
    b = bytearray(d)
    if size == 2:  # 12347 cookie: stores n-1
        new = rng.choice([0xFFFF, 0xFFFE, n, n - 2])  # n => n+1 containers; n-2 => n-1
        put(b, off, 2, new)
        new_n = (new % 0x10000) + 1
    else:
        new_n = rng.choice([0xFFFF, 0x10000, 0xFFFFFFFF, 2**31, n + 1, max(n - 1, 0)])
        put(b, off, 4, new_n)
    must_reject = new_n * 4 > len(d)
    return bytes(b), must_reject


def m_bucket_count(d, lay, rng, other):
    b = bytearray(d)
    n = get(b, 0, 8)
    new = rng.choice([2**62, 2**63, 2**64 - 1, 2**32, 2**32 + n, n + 1, max(n - 1, 0)])
    put(b, 0, 8, new)
    return bytes(b), new * 12 > len(d)


def m_card(d, lay, rng, other):
    cards = [f for f in lay.fields if f[0] == "card"]
    _, off, _ = rng.choice(cards)
    b = bytearray(d)
    old = get(b, off, 2)
    put(b, off, 2, rng.choice([0xFFFF, 4095, 4096, old + 1, old - 1, 0]))
    return bytes(b), False


def m_nruns(d, lay, rng, other):
    off, nr = rng.choice(lay.runs)
    b = bytearray(d)
    put(b, off, 2, rng.choice([0xFFFF, 0x8000, nr + 1, nr - 1, 0, 32768 + nr]))
    return bytes(b), False


def m_keys(d, lay, rng, other):
    """Duplicated or unsorted container keys (32-bit) or bucket keys (64-bit)."""
    groups = [g for g in lay.key_groups if len(g) >= 2]
    choices = []
    if groups:
        choices.append(("key", rng.choice(groups), 2))
    if len(lay.bucket_keys) >= 2:
        choices.append(("bucket", lay.bucket_keys, 4))
    if not choices:
        return m_field(d, lay, rng, other)
    _, group, size = rng.choice(choices)
    i = rng.randrange(1, len(group))
    b = bytearray(d)
    prev, cur = get(b, group[i - 1], size), get(b, group[i], size)
    if rng.random() < 0.5:
        put(b, group[i], size, prev)  # duplicate
    else:
        put(b, group[i], size, prev)  # swap => unsorted
        put(b, group[i - 1], size, cur)
    return bytes(b), False


def m_runs(d, lay, rng, other):
    """Overlapping / unsorted / overflowing runs."""
    off, nr = rng.choice(lay.runs)
    b = bytearray(d)
    j = rng.randrange(nr)
    s_off, l_off = off + 2 + 4 * j, off + 4 + 4 * j
    how = rng.choice(["overlap_prev", "overflow", "grow", "adjacent"])
    if how == "overlap_prev" and j > 0:
        ps = get(b, s_off - 4, 2)
        put(b, s_off, 2, ps + rng.randint(0, 3))
    elif how == "overflow":
        put(b, s_off, 2, rng.choice([0xFFFF, 0xFFF0, get(b, s_off, 2)]))
        put(b, l_off, 2, rng.choice([0xFFFF, 0x00FF, 0x0010]))
    elif how == "adjacent" and j > 0:  # touching runs (start == previous end + 1)
        ps, pl = get(b, s_off - 4, 2), get(b, l_off - 4, 2)
        put(b, s_off, 2, ps + pl + 1)
    else:
        put(b, l_off, 2, get(b, l_off, 2) + rng.choice([1, 100, 5000, 0xFFFF]))
    return bytes(b), False


def m_array(d, lay, rng, other):
    """Unsorted / duplicated array values."""
    off, card = rng.choice(lay.arrays)
    b = bytearray(d)
    if card >= 2:
        i = rng.randrange(1, card)
        prev, cur = get(b, off + 2 * (i - 1), 2), get(b, off + 2 * i, 2)
        put(b, off + 2 * i, 2, prev)
        if rng.random() < 0.5:
            put(b, off + 2 * (i - 1), 2, cur)
    else:
        put(b, off, 2, rng.choice([0, 0xFFFF]))
    return bytes(b), False


def m_runflags(d, lay, rng, other):
    off, n = rng.choice(lay.runflags)
    b = bytearray(d)
    i = rng.randrange(n)
    b[off + (i >> 3)] ^= 1 << (i & 7)
    return bytes(b), False


def m_splice(d, lay, rng, other):
    i = rng.randrange(len(d) + 1)
    j = rng.randrange(len(other) + 1)
    return d[:i] + other[j:], False


def m_append(d, lay, rng, other):
    return d + rng.randbytes(rng.randint(1, 16)), False


def m_multi(d, lay, rng, other):
    for _ in range(rng.randint(2, 3)):
        m = rng.choice(STRUCTURED)
        try:
            d, _ = m(d, lay, rng, other)
        except (IndexError, ValueError, struct.error):
            pass  # a previous mutation moved things: fine, keep what we have
        if not d:
            break
    return d, False


STRUCTURED = [m_bitflip, m_overwrite, m_field, m_card, m_nruns, m_keys, m_runs, m_array, m_runflags]
MUTATORS = {
    "bitflip": (m_bitflip, 3), "overwrite": (m_overwrite, 2), "field": (m_field, 4),
    "truncate": (m_truncate, 3), "count": (m_count, 2), "bucket_count": (m_bucket_count, 1),
    "card": (m_card, 2), "nruns": (m_nruns, 2), "keys": (m_keys, 2), "runs": (m_runs, 2),
    "array": (m_array, 1), "runflags": (m_runflags, 1), "splice": (m_splice, 1),
    "append": (m_append, 1), "multi": (m_multi, 2),
}


def applicable(name: str, lay: Layout, bits: int) -> bool:
    if name in ("card", "keys") and not any(f[0] == "card" for f in lay.fields):
        return False
    if name in ("nruns", "runs"):
        return bool(lay.runs)
    if name == "array":
        return bool(lay.arrays)
    if name == "runflags":
        return bool(lay.runflags)
    if name == "count":
        return bool(lay.count_fields)
    if name == "bucket_count":
        return bits == 64
    return True


def random_input(rng: random.Random) -> bytes:
    n = rng.choice([0, 1, 3, 4, 7, 8, 9, 12, 16, 24, 40, 100, 300])
    prefix = rng.choice([b"", b"", struct.pack("<I", 12346), struct.pack("<H", 12347) + rng.randbytes(2),
                         struct.pack("<Q", rng.randint(0, 3)), struct.pack("<QI", 1, 0) + struct.pack("<I", 12346)])
    return prefix + rng.randbytes(n)


# ----------------------------------------------------------------------------- reference decoder
class Invalid(Exception):
    pass


def _u(fmt: str, d: bytes, p: int):
    if p < 0 or p + struct.calcsize(fmt) > len(d):
        raise Invalid("short")
    return struct.unpack_from(fmt, d, p)


def strict32(d: bytes, p: int) -> tuple[list[np.ndarray], int]:
    """Strictly valid 32-bit portable bitmap at d[p:] -> (per-container uint32 arrays, end)."""
    cookie, = _u("<I", d, p)
    if cookie & 0xFFFF == 12347:
        n = (cookie >> 16) + 1
        p += 4
        nf = (n + 7) // 8
        if p + nf > len(d):
            raise Invalid("short")
        flags = d[p:p + nf]
        p += nf
        runs = True
    elif cookie == 12346:
        n, = _u("<I", d, p + 4)
        if n > 65536:
            raise Invalid("count")
        p += 8
        flags = bytes((n + 7) // 8)
        runs = False
    else:
        raise Invalid("cookie")
    if p + 4 * n > len(d):
        raise Invalid("short")
    hdr = struct.unpack_from(f"<{2 * n}H", d, p)
    keys, cards = hdr[0::2], [c + 1 for c in hdr[1::2]]
    if any(b <= a for a, b in zip(keys, keys[1:])):
        raise Invalid("keys")
    p += 4 * n
    offsets = None
    if not runs or n >= 4:
        offsets = _u(f"<{n}I", d, p)
        p += 4 * n
    out = []
    for i in range(n):
        if offsets is not None and offsets[i] != p - START[0]:
            raise Invalid("offset")
        base = np.uint32(keys[i]) << np.uint32(16)
        if runs and (flags[i >> 3] >> (i & 7)) & 1:
            nr, = _u("<H", d, p)
            if nr == 0:
                raise Invalid("no runs")
            pairs = np.array(_u(f"<{2 * nr}H", d, p + 2), dtype=np.int64).reshape(nr, 2)
            st_, ln = pairs[:, 0], pairs[:, 1]
            ends = st_ + ln  # inclusive
            if np.any(ends > 65535) or np.any(st_[1:] <= ends[:-1] + 1):
                raise Invalid("runs")
            if int((ln + 1).sum()) != cards[i]:
                raise Invalid("run card")
            lows = np.concatenate([np.arange(a, b + 1) for a, b in zip(st_, ends)])
            p += 2 + 4 * nr
        elif cards[i] > 4096:
            if p + 8192 > len(d):
                raise Invalid("short")
            bits = np.unpackbits(np.frombuffer(d, dtype=np.uint8, count=8192, offset=p), bitorder="little")
            lows = np.flatnonzero(bits)
            if len(lows) != cards[i]:
                raise Invalid("bitset card")
            p += 8192
        else:
            lows = np.array(_u(f"<{cards[i]}H", d, p), dtype=np.int64)
            if np.any(lows[1:] <= lows[:-1]):
                raise Invalid("array order")
            p += 2 * cards[i]
        out.append(lows.astype(np.uint64) + np.uint64(base))
    return out, p


START = [0]  # offsets in a 32-bit bitmap are relative to its own start


def strict_decode(d: bytes) -> np.ndarray | None:
    """The values of a strictly valid portable serialization (either format), else None.
    Strict: sorted unique keys, exact cardinalities, well-formed runs/arrays/bitsets, correct
    offsets, no empty 64-bit buckets, no trailing bytes. Loaders may accept more, not less."""
    try:
        if len(d) >= 4 and (struct.unpack_from("<I", d)[0] == 12346 or d[:2] == b"\x3b\x30"):
            START[0] = 0
            parts, end = strict32(d, 0)
        else:
            nb, = _u("<Q", d, 0)
            if nb * 12 > len(d):
                raise Invalid("buckets")
            p, parts, prev = 8, [], -1
            for _ in range(nb):
                hk, = _u("<I", d, p)
                if hk <= prev:
                    raise Invalid("bucket keys")
                prev = hk
                START[0] = p + 4
                inner, p = strict32(d, p + 4)
                if not inner:
                    raise Invalid("empty bucket")
                parts += [a + (np.uint64(hk) << np.uint64(32)) for a in inner]
            end = p
        if end != len(d):
            raise Invalid("trailing bytes")
    except Invalid:
        return None
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)


# ----------------------------------------------------------------------------- checking
class Failure(Exception):
    pass


def validate(bm) -> int:
    n = len(bm)
    if n <= 300_000:
        vals = list(bm)
        if len(vals) != n:
            raise Failure(f"len() {n} but iteration yields {len(vals)} values")
        arr = bm.to_numpy()
        if arr.dtype != np.uint64 or arr.shape != (n,) or arr.tolist() != vals:
            raise Failure("to_numpy() differs from iteration")
    else:
        arr = bm.to_numpy() if n <= 1 << 24 else None
        if arr is not None and arr.shape != (n,):
            raise Failure(f"len() {n} but to_numpy() has {arr.shape}")
        vals = list(itertools.islice(bm, 100_000))
        if arr is not None and arr[:100_000].tolist() != vals:
            raise Failure("to_numpy() differs from iteration")
    if vals and any(b <= a for a, b in zip(vals, vals[1:])):
        raise Failure("iteration is not strictly increasing")
    if arr is not None and n > 1 and not bool(np.all(arr[1:] > arr[:-1])):
        raise Failure("values are not strictly increasing")
    if n:
        if bm.min() != vals[0] or (n <= 300_000 and bm.max() != vals[-1]):
            raise Failure(f"min/max {bm.min()}/{bm.max()} disagree with iteration")
        if bm.rank(bm.max()) != n or bm.select(n - 1) != bm.max() or bm.select(0) != bm.min():
            raise Failure("rank/select disagree with len/min/max")
        if bm.min() not in bm or bm.max() not in bm:
            raise Failure("min/max not contained")
    back = Bitmap.deserialize(bm.serialize())
    if len(back) != n or back != bm:
        raise Failure("serialize -> deserialize round trip changed the bitmap")
    return n


def make_loader(inject: str | None):
    """Bitmap.deserialize, or (self-test) a deliberately broken wrapper around it."""
    if inject is None:
        return Bitmap.deserialize
    calls = itertools.count(1)

    def broken(data):
        n = next(calls)
        if inject == "segv" and n == 50:
            import signal
            os.kill(os.getpid(), signal.SIGSEGV)
        try:
            return Bitmap.deserialize(data)
        except CorruptDataError:
            if len(data) % 5 == 0:
                return Bitmap()  # accepts garbage, e.g. truncated serializations
            if len(data) % 5 == 1:
                raise KeyError("wrong exception type") from None
            raise
    return broken


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--inputs", type=int, default=int(os.environ.get("ROARBASE_FUZZ_INPUTS", "12000")))
    ap.add_argument("--last-input", default=None, help="write each input here before loading it")
    ap.add_argument("--rss-limit-mib", type=float, default=512.0)
    ap.add_argument("--inject", choices=["bugs", "segv"], default=None,
                    help="self-test: wrap the deserializer with known bugs / crash on input 50")
    args = ap.parse_args()
    seed = args.seed
    if seed is None:
        env = os.environ.get("ROARBASE_FUZZ_SEED")
        seed = int(env) if env else int.from_bytes(os.urandom(6), "little")
    print(f"fuzz seed={seed} inputs={args.inputs}", flush=True)
    faulthandler.enable()
    rng = random.Random(seed)
    t0 = time.monotonic()
    load = make_loader(args.inject)

    # valid serializations of random bitmaps
    bases = []  # (source, bytes, bits, layout, expected values)
    for i in range(min(160, max(20, args.inputs // 75))):
        wide = i % 2 == 1
        values = random_values(rng, wide)
        s = set(values)
        for src, data, bits in serializations(values, rng):
            bases.append((src, data, bits, parse(data, bits), s))

    last_fd = os.open(args.last_input, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) if args.last_input else None
    rss0 = max_rss_mib()
    counts = {"inputs": 0, "loaded": 0, "rejected": 0, "strict_valid": 0}
    failures: list[str] = []
    kinds_seen: dict[str, int] = {}

    def run_one(kind: str, data: bytes, must_reject: bool = False, expect: set | None = None) -> None:
        counts["inputs"] += 1
        kinds_seen[kind] = kinds_seen.get(kind, 0) + 1
        if last_fd is not None:
            os.ftruncate(last_fd, 0)
            os.pwrite(last_fd, data, 0)
        ref = strict_decode(data)
        try:
            if expect is not None and (ref is None or ref.tolist() != sorted(expect)):
                raise Failure("reference decoder disagrees with a valid serialization (driver bug)")
            try:
                bm = load(data)
            except CorruptDataError as exc:
                counts["rejected"] += 1
                if not isinstance(exc, ValueError):
                    raise Failure("CorruptDataError is not a ValueError") from None
                off = getattr(exc, "offset", None)
                if not isinstance(off, int) or off < 0:
                    raise Failure(f"CorruptDataError.offset is {off!r}") from None
                if ref is not None:
                    raise Failure(f"valid serialization rejected: {exc}") from None
                return
            counts["loaded"] += 1
            if must_reject:
                raise Failure(f"loaded (len {len(bm)}) but must be rejected")
            validate(bm)
            if ref is not None:
                counts["strict_valid"] += 1
                if not np.array_equal(bm.to_numpy(), ref):
                    raise Failure(f"valid serialization loaded different values (len {len(bm)}, "
                                  f"expected {len(ref)})")
        except Failure as f:
            failures.append(f"[{counts['inputs']}] {kind}: {f} :: input({len(data)}B)={data[:48].hex()}"
                            f"{'...' if len(data) > 48 else ''}")
        except Exception as exc:  # any other exception type is the failure
            failures.append(f"[{counts['inputs']}] {kind}: {type(exc).__name__}: {exc} :: "
                            f"input({len(data)}B)={data[:48].hex()}{'...' if len(data) > 48 else ''}")

    # 1. every valid serialization loads to its values
    for src, data, bits, lay, s in bases:
        run_one(f"valid-{src}", data, expect=s)
    # 2. systematic truncations at structural boundaries of a few bases
    for src, data, bits, lay, s in rng.sample(bases, min(24, max(4, args.inputs // 500))):
        for c in sorted(rng.sample(sorted(lay.bounds), min(30, len(lay.bounds)))):
            for cut in (c - 1, c, c + 1):
                if 0 <= cut < len(data):
                    run_one("truncate-boundary", data[:cut], must_reject=True)
    # 3. mutations and random bytes until the budget is used
    names = list(MUTATORS)
    weights = [MUTATORS[n][1] for n in names]
    rss_peak_growth = 0.0
    while counts["inputs"] < args.inputs:
        if rng.random() < 0.06:
            run_one("random", random_input(rng))
            continue
        src, data, bits, lay, s = rng.choice(bases)
        name = rng.choices(names, weights)[0]
        if not applicable(name, lay, bits):
            name = "field"
        other = rng.choice(bases)[1]
        mutated, must_reject = MUTATORS[name][0](data, lay, rng, other)
        run_one(f"{name}<{src}>", mutated, must_reject=must_reject)
        if counts["inputs"] % 500 == 0:
            rss_peak_growth = max(rss_peak_growth, max_rss_mib() - rss0)
            if rss_peak_growth > args.rss_limit_mib:
                failures.append(f"max RSS grew by {rss_peak_growth:.0f} MiB (> {args.rss_limit_mib:.0f})"
                                f" by input {counts['inputs']}")
                break
    rss_peak_growth = max(rss_peak_growth, max_rss_mib() - rss0)
    if rss_peak_growth > args.rss_limit_mib and not any("max RSS" in f for f in failures):
        failures.append(f"max RSS grew by {rss_peak_growth:.0f} MiB (> {args.rss_limit_mib:.0f})")

    secs = time.monotonic() - t0
    for f in failures[:25]:
        print("FAIL", f)
    if len(failures) > 25:
        print(f"... and {len(failures) - 25} more failures")
    print("kinds:", " ".join(f"{k}={v}" for k, v in sorted(kinds_seen.items())))
    print(f"fuzz summary: inputs={counts['inputs']} loaded={counts['loaded']} rejected={counts['rejected']} "
          f"strict_valid={counts['strict_valid']} failures={len(failures)} seconds={secs:.1f} rss_growth_mib={rss_peak_growth:.0f} seed={seed}",
          flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
