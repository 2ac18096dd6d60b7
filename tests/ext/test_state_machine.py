"""Stateful differential test: random interleavings of mutations and queries on an ext.Bitmap
and a pyroaring.BitMap64 mirror; after every step both must hold the same values."""
from __future__ import annotations

import os

import numpy as np
import pyroaring
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from roar_testlib import (
    MAX64,
    U32,
    Bitmap,
    FrozenBitmap,
    assert_same,
    assert_same_outcome,
    boundaries,
    check_kinds_if_canonical,
    ranges,
    small_value_lists,
)

POINTS = st.one_of(st.sampled_from(boundaries(MAX64)), st.integers(0, MAX64), st.integers(0, 3 * 65536))
RANGES = ranges(MAX64, max_len=70_000, allow_reversed=True)
OTHER = small_value_lists(MAX64)


class BitmapMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.bm = Bitmap()
        self.ref = pyroaring.BitMap64()

    # a value that is (likely) present: a member picked by rank
    def _member(self, data):
        if len(self.ref) and data.draw(st.booleans()):
            return self.ref[data.draw(st.integers(0, len(self.ref) - 1))]
        return data.draw(POINTS)

    # ------------------------------------------------------------------ mutations
    @rule(data=st.data())
    def add(self, data):
        v = self._member(data)
        self.bm.add(v)
        self.ref.add(v)

    @rule(data=st.data())
    def discard(self, data):
        v = self._member(data)
        self.bm.discard(v)
        self.ref.discard(v)

    @rule(data=st.data())
    def remove(self, data):
        v = self._member(data)
        assert_same_outcome(lambda: self.bm.remove(v), lambda: self.ref.remove(v), f"remove({v})")

    @rule(values=OTHER)
    def update(self, values):
        self.bm.update(values)
        self.ref.update(values)

    @rule(r=RANGES)
    def add_range(self, r):
        self.bm.add_range(*r)
        self.ref.add_range(*r)

    @rule(r=RANGES)
    def remove_range(self, r):
        self.bm.remove_range(*r)
        self.ref.remove_range(*r)

    @rule(data=st.data())
    def remove_range_around_member(self, data):
        v = self._member(data)
        w = data.draw(st.integers(0, 70_000))
        s, e = max(v - w, 0), min(v + w, MAX64)
        self.bm.remove_range(s, e)
        self.ref.remove_range(s, e)

    @rule(r=RANGES)
    def flip_inplace(self, r):
        self.bm.flip_inplace(*r)
        self.ref.flip_inplace(*r)

    @rule(values=OTHER, op=st.sampled_from(["&=", "|=", "^=", "-="]), frozen=st.booleans())
    def inplace_op(self, values, op, frozen):
        other = (FrozenBitmap if frozen else Bitmap)(values)
        ref_other = pyroaring.BitMap64(values)
        before = self.bm
        if op == "&=":
            self.bm &= other
            self.ref &= ref_other
        elif op == "|=":
            self.bm |= other
            self.ref |= ref_other
        elif op == "^=":
            self.bm ^= other
            self.ref ^= ref_other
        else:
            self.bm -= other
            self.ref -= ref_other
        assert self.bm is before
        assert_same(other, ref_other, f"{op} modified its right operand")

    @rule(op=st.sampled_from(["&=", "|=", "^=", "-="]))
    def inplace_op_with_copy_of_self(self, op):
        other = self.bm.copy()
        ref_other = self.ref.copy()
        for x, y in ((self.bm, other), (self.ref, ref_other)):
            if op == "&=":
                x &= y
            elif op == "|=":
                x |= y
            elif op == "^=":
                x ^= y
            else:
                x -= y

    @rule()
    def run_optimize(self):
        compared = check_kinds_if_canonical(self.bm, self.ref)
        if compared:
            assert self.bm.run_optimize() == self.ref.run_optimize()

    @rule()
    def roundtrip_replace(self):
        """Continue with a deserialized copy (exercises containers loaded from bytes)."""
        self.bm = Bitmap.deserialize(self.bm.serialize())

    # ------------------------------------------------------------------ queries
    @rule(data=st.data())
    def contains_and_rank(self, data):
        v = self._member(data)
        assert (v in self.bm) == (v in self.ref), f"{v} in"
        assert self.bm.rank(v) == self.ref.rank(v), f"rank({v})"

    @rule()
    def min_max(self):
        assert_same_outcome(self.bm.min, self.ref.min, "min")
        assert_same_outcome(self.bm.max, self.ref.max, "max")

    @rule(data=st.data())
    def select(self, data):
        n = len(self.ref)
        i = data.draw(st.one_of(st.integers(0, n + 1), st.sampled_from([0, n - 1, n])))
        if i >= 0:
            assert_same_outcome(lambda: self.bm.select(i), lambda: self.ref[i], f"select({i})")
        assert_same_outcome(lambda: self.bm[-i - 1], lambda: self.ref[-i - 1], f"bm[{-i - 1}]")

    @rule()
    def iteration(self):
        assert list(self.bm) == list(self.ref)
        assert list(reversed(self.bm)) == list(reversed(self.ref))

    @rule()
    def serialize_roundtrip(self):
        data = self.bm.serialize()
        back = Bitmap.deserialize(data)
        assert back == self.bm
        assert_same(back, self.ref, "ext round trip")
        if len(self.ref) == 0 or self.ref.max() < U32:
            assert_same(pyroaring.BitMap.deserialize(data), self.ref, "pyroaring.BitMap reads ext bytes")
        else:
            assert_same(pyroaring.BitMap64.deserialize(data), self.ref, "pyroaring.BitMap64 reads ext bytes")
        assert_same(Bitmap.deserialize(self.ref.serialize()), self.ref, "ext reads BitMap64 bytes")

    @precondition(lambda self: len(self.ref) > 0)
    @rule()
    def statistics(self):
        stats = self.bm.get_statistics()
        assert stats["cardinality"] == len(self.ref)
        assert stats["min_value"] == self.ref.min() and stats["max_value"] == self.ref.max()
        assert self.bm.get_memory_size() > 0

    # ------------------------------------------------------------------ invariant
    @invariant()
    def same_contents(self):
        assert len(self.bm) == len(self.ref)
        got = self.bm.to_numpy()
        exp = np.frombuffer(self.ref.to_array(), dtype=np.uint64)
        assert np.array_equal(got, exp), "contents differ"


BitmapMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("ROARBASE_EXT_STATEFUL_EXAMPLES", "100")),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TestBitmapMachine = BitmapMachine.TestCase
