"""Random writes against a pure-Python model of FeatureBase semantics.

A hypothesis state machine drives Set/Clear/Delete/ClearRow/import_values (and close +
reopen, crash + recover, checkpoints) on two small indexes — one with integer record ids
spread over several shards, one with string record keys — each holding a set field, a
mutex field, a bool field and an int field (keyed rows on one of set/mutex per index).
The model is written from the reference semantics, not from the engine: dicts of sets and
dicts of values. Every write's return value and, after every step, the whole readable
state (rows, row-key order, BSI values, existence) are compared.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import engine
from engine_testlib import SHARD, copy_data_dir

EXAMPLES = int(os.environ.get("ROARBASE_ENGINE_EXAMPLES", "40"))

COLS = {"u": [0, 1, 2, 65536, SHARD, SHARD + 3, 3 * SHARD + 7, 2**32 + 1],
        "k": ["a", "b", "c", "d", "e", "f", "g", "h"]}
SET_ROWS = {"u": [0, 1, 2, 3], "k": ["red", "green", "blue", "cyan"]}
MUTEX_ROWS = {"u": ["x", "y", "z"], "k": [0, 1, 2]}
INT_RANGE = {"u": (-50, 50), "k": (-(2**40), 2**40)}
INT_VALUES = {"u": st.integers(-60, 60),
              "k": st.one_of(st.integers(-(2**40), 2**40), st.integers(-3, 3), st.just(2**40 + 1))}

which = st.sampled_from(["u", "k"])
slot = st.integers(0, len(COLS["u"]) - 1)
slots = st.lists(slot, min_size=0, max_size=6)
srow = st.integers(0, 3)
mrow = st.integers(0, 2)
form = st.sampled_from(["list", "numpy", "pyarrow"])


class Model:
    """FeatureBase semantics (reference §1, §2, §3, §13) for one index."""

    def __init__(self) -> None:
        self.exists: set = set()
        self.s: dict = {}              # row -> set of records
        self.m: dict = {}              # record -> row
        self.b: dict = {}              # record -> bool
        self.n: dict = {}              # record -> int
        self.key_order: dict = {"s": [], "m": []}   # keyed fields: row keys in first-seen order

    def saw(self, field: str, key) -> None:
        if isinstance(key, str) and key not in self.key_order[field]:
            self.key_order[field].append(key)

    def delete(self, cols) -> bool:
        found = any(c in self.exists for c in cols)
        for c in cols:
            self.exists.discard(c)
            for members in self.s.values():
                members.discard(c)
            self.m.pop(c, None)
            self.b.pop(c, None)
            self.n.pop(c, None)
        return found


class EngineVsModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.mkdtemp(prefix="roarbase-model-")
        self.generation = 0
        self.db = engine.open(self._dir(), fsync=False, checkpoint_bytes=2048)
        u = self.db.create_index("u")
        u.create_field("s", "set")
        u.create_field("m", "mutex", keys=True)
        u.create_field("b", "bool")
        u.create_field("n", "int", min=-50, max=50)
        k = self.db.create_index("k", keys=True)
        k.create_field("s", "set", keys=True)
        k.create_field("m", "mutex")
        k.create_field("b", "bool")
        k.create_field("n", "int", min=-(2**40), max=2**40)
        self.model = {"u": Model(), "k": Model()}

    def _dir(self) -> str:
        return os.path.join(self.tmp, f"data{self.generation}")

    def teardown(self) -> None:
        try:
            self.db.close()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def idx(self, ix: str) -> engine.Index:
        return self.db.index(ix)

    def in_range(self, ix: str, v: int) -> bool:
        lo, hi = INT_RANGE[ix]
        return lo <= v <= hi

    # --- single writes -------------------------------------------------------------------

    @rule(ix=which, c=slot, r=srow)
    def set_s(self, ix, c, r):
        col, row, md = COLS[ix][c], SET_ROWS[ix][r], self.model[ix]
        want = col not in md.s.get(row, set())
        assert self.idx(ix).set(col, "s", row) is want
        md.s.setdefault(row, set()).add(col)
        md.exists.add(col)
        md.saw("s", row)

    @rule(ix=which, c=slot, r=srow)
    def clear_s(self, ix, c, r):
        col, row, md = COLS[ix][c], SET_ROWS[ix][r], self.model[ix]
        want = col in md.s.get(row, set())
        assert self.idx(ix).clear(col, "s", row) is want
        md.s.get(row, set()).discard(col)

    @rule(ix=which, c=slot, r=mrow)
    def set_m(self, ix, c, r):
        col, row, md = COLS[ix][c], MUTEX_ROWS[ix][r], self.model[ix]
        want = md.m.get(col) != row
        assert self.idx(ix).set(col, "m", row) is want
        md.m[col] = row
        md.exists.add(col)
        md.saw("m", row)

    @rule(ix=which, c=slot, r=mrow)
    def clear_m(self, ix, c, r):
        col, row, md = COLS[ix][c], MUTEX_ROWS[ix][r], self.model[ix]
        want = md.m.get(col) == row
        assert self.idx(ix).clear(col, "m", row) is want
        if want:
            del md.m[col]

    @rule(ix=which, c=slot, v=st.booleans())
    def set_b(self, ix, c, v):
        col, md = COLS[ix][c], self.model[ix]
        want = md.b.get(col) is not v
        assert self.idx(ix).set(col, "b", v) is want
        md.b[col] = v
        md.exists.add(col)

    @rule(ix=which, c=slot, v=st.booleans())
    def clear_b(self, ix, c, v):
        col, md = COLS[ix][c], self.model[ix]
        want = md.b.get(col) is v
        assert self.idx(ix).clear(col, "b", v) is want
        if want:
            del md.b[col]

    @rule(ix=which, c=slot, data=st.data())
    def set_n(self, ix, c, data):
        col, md = COLS[ix][c], self.model[ix]
        v = data.draw(INT_VALUES[ix], label="value")
        if not self.in_range(ix, v):
            try:
                self.idx(ix).set(col, "n", v)
            except engine.ValueOutOfRangeError:
                return
            raise AssertionError(f"{v} accepted outside {INT_RANGE[ix]}")
        want = md.n.get(col) != v
        assert self.idx(ix).set(col, "n", v) is want
        md.n[col] = v
        md.exists.add(col)

    @rule(ix=which, c=slot)
    def clear_n(self, ix, c):
        col, md = COLS[ix][c], self.model[ix]
        want = col in md.n
        assert self.idx(ix).clear(col, "n") is want
        md.n.pop(col, None)

    @rule(ix=which, cs=slots)
    def delete(self, ix, cs):
        cols = [COLS[ix][c] for c in cs]
        want = self.model[ix].delete(cols)
        got = self.idx(ix).delete(cols if len(cols) != 1 else cols[0])
        assert got is want

    @rule(ix=which, r=srow)
    def clear_row_s(self, ix, r):
        row, md = SET_ROWS[ix][r], self.model[ix]
        want = bool(md.s.get(row))
        assert self.idx(ix).clear_row("s", row) is want
        md.s[row] = set()

    @rule(ix=which, r=mrow)
    def clear_row_m(self, ix, r):
        row, md = MUTEX_ROWS[ix][r], self.model[ix]
        holders = [c for c, v in md.m.items() if v == row]
        assert self.idx(ix).clear_row("m", row) is bool(holders)
        for c in holders:
            del md.m[c]

    # --- imports ---------------------------------------------------------------------------

    def _cols(self, ix, cs, how):
        cols = [COLS[ix][c] for c in cs]
        if ix == "u" and how == "numpy" and cols:
            return np.array(cols, dtype=np.uint64)
        if ix == "k" and how == "pyarrow":
            return pa.array(cols, pa.string())
        return cols

    @staticmethod
    def _vals(vals, how, pa_type=None):
        if how == "numpy" and vals and all(v is not None for v in vals) and not any(isinstance(v, str) for v in vals):
            return np.array(vals)
        if how == "pyarrow":
            return pa.array(vals, pa_type)
        return list(vals)

    @rule(ix=which, pairs=st.lists(st.tuples(slot, srow), max_size=8), clear=st.booleans(), how=form)
    def import_s(self, ix, pairs, clear, how):
        md = self.model[ix]
        cols = [COLS[ix][c] for c, _ in pairs]
        rows = [SET_ROWS[ix][r] for _, r in pairs]
        pa_type = pa.string() if ix == "k" else pa.int64()
        self.idx(ix).import_values("s", self._cols(ix, [c for c, _ in pairs], how),
                                   self._vals(rows, how, pa_type), clear=clear)
        for col, row in zip(cols, rows):
            if clear:
                md.s.get(row, set()).discard(col)
            else:
                md.s.setdefault(row, set()).add(col)
                md.exists.add(col)
                md.saw("s", row)

    @rule(ix=which, pairs=st.lists(st.tuples(slot, mrow), max_size=8), how=form)
    def import_m(self, ix, pairs, how):
        md = self.model[ix]
        cols = [COLS[ix][c] for c, _ in pairs]
        rows = [MUTEX_ROWS[ix][r] for _, r in pairs]
        pa_type = pa.string() if ix == "u" else pa.int64()
        self.idx(ix).import_values("m", self._cols(ix, [c for c, _ in pairs], how), self._vals(rows, how, pa_type))
        for col, row in zip(cols, rows):
            md.m[col] = row                      # the last value for a record wins
            md.exists.add(col)
            md.saw("m", row)

    @rule(ix=which, pairs=st.lists(st.tuples(slot, st.one_of(st.none(), st.booleans())), max_size=8), how=form)
    def import_b(self, ix, pairs, how):
        md = self.model[ix]
        vals = [v for _, v in pairs]
        self.idx(ix).import_values("b", self._cols(ix, [c for c, _ in pairs], how), self._vals(vals, how, pa.bool_()))
        for (c, v) in pairs:
            if v is not None:                    # nulls are skipped
                md.b[COLS[ix][c]] = v
                md.exists.add(COLS[ix][c])

    @rule(ix=which, data=st.data(), how=form)
    def import_n(self, ix, data, how):
        md = self.model[ix]
        pairs = data.draw(st.lists(st.tuples(slot, st.one_of(st.none(), INT_VALUES[ix])), max_size=8), label="pairs")
        vals = [v for _, v in pairs]
        call = lambda: self.idx(ix).import_values(  # noqa: E731
            "n", self._cols(ix, [c for c, _ in pairs], how), self._vals(vals, how, pa.int64()))
        if any(v is not None and not self.in_range(ix, v) for v in vals):
            try:
                call()
            except engine.ValueOutOfRangeError:
                return                           # atomic: nothing changed (checked by the invariant)
            raise AssertionError(f"{vals} accepted outside {INT_RANGE[ix]}")
        call()
        for c, v in pairs:
            if v is not None:
                md.n[COLS[ix][c]] = v
                md.exists.add(COLS[ix][c])

    @rule(ix=which, cs=slots)
    def import_n_clear(self, ix, cs):
        md = self.model[ix]
        cols = [COLS[ix][c] for c in cs]
        self.idx(ix).import_values("n", cols, None, clear=True)
        for c in cols:
            md.n.pop(c, None)

    # --- durability ----------------------------------------------------------------------

    @rule()
    def reopen(self):
        self.db.close()
        self.db = engine.open(self._dir(), fsync=False, checkpoint_bytes=2048)
        self.check_everything()

    @rule()
    def crash_and_recover(self):
        """Copy the directory while open (a kill -9 leaves exactly that), recover the copy."""
        src = self._dir()
        self.generation += 1
        copy_data_dir(src, self._dir())
        self.db.close()
        shutil.rmtree(src)
        self.db = engine.open(self._dir(), fsync=False, checkpoint_bytes=2048)
        self.check_everything()

    @rule()
    def checkpoint(self):
        self.db.checkpoint()

    # --- the comparison ------------------------------------------------------------------

    @invariant()
    def check_everything(self):
        for ix in ("u", "k"):
            self._compare(ix)

    def _compare(self, ix: str) -> None:
        idx, md = self.idx(ix), self.model[ix]
        keyed = ix == "k"

        def named(bm) -> set:
            ids = [int(i) for i in bm]
            return {idx.column_keys.key(i) for i in ids} if keyed else set(ids)

        snap = idx.snapshot()
        assert named(snap.row(0, "standard", 0)) == md.exists, "existence"
        s, m, b, n = (idx.field(x) for x in "smbn")
        assert {r: named(s.row(r)) for r in s.rows()} == {r: c for r, c in md.s.items() if c}, "set"
        want_m: dict = {}
        for col, row in md.m.items():
            want_m.setdefault(row, set()).add(col)
        assert {r: named(m.row(r)) for r in m.rows()} == want_m, "mutex"
        want_b: dict = {}
        for col, v in md.b.items():
            want_b.setdefault(v, set()).add(col)
        assert {v: named(b.row(v)) for v in b.rows()} == want_b, "bool"
        assert b.rows() == sorted(want_b), "bool rows"
        assert {c: n.value(c) for c in COLS[ix]} == {c: md.n.get(c) for c in COLS[ix]}, "int"
        # keyed fields list row keys in first-seen order (reference §0)
        keyed_field, rows_now = (m, list(want_m)) if ix == "u" else (s, [r for r, c in md.s.items() if c])
        order = md.key_order[keyed_field.name]
        assert keyed_field.rows() == [k for k in order if k in rows_now], "key order"


EngineVsModel.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=os.environ.get("ROARBASE_ENGINE_RANDOM") is None,
)
TestEngineVsModel = EngineVsModel.TestCase
