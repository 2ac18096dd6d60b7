"""Hypothesis differential test: random small datasets and random PQL query trees, compared
with a brute-force evaluator over Python sets (a dict-of-records model) written from the
FeatureBase semantics reference, independently of engine/executor.py.

Datasets use every field type, record ids or record keys, nulls, records that exist with no
value (a value set then cleared), and ids on both sides of shard boundaries (2^20, 2^21,
3·2^20). Queries are trees of row calls under every read call.

Shapes not drawn here, covered by their own tests instead: Limit/Shift over BSI
comparisons or UnionRows, and Distinct used as a row (test_shards.py, which runs them on
more shards than worker threads); UnionRows(TopN(…)) (golden setops); Percentile on int
fields with min > 0 or max < 0 (golden aggregates).

ROARBASE_PQL_EXAMPLES sets the number of datasets (default 100); each runs 12 queries. The run
is derandomized (the same examples every time); ROARBASE_PQL_RANDOM=1 explores new ones.
Shrinking is off (every example builds a database, so it takes minutes); the failure message
names the query and Hypothesis prints the dataset. ROARBASE_PQL_SHRINK=1 turns it on.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Optional

import hypothesis.strategies as st
from hypothesis import HealthCheck, Phase, given, settings

import engine
from engine import state as engine_state

SHARD = 1 << 20
POOL = [0, 1, 2, 3, SHARD - 1, SHARD, SHARD + 1, 2 * SHARD, 2 * SHARD + 1, 3 * SHARD + 2]
EXAMPLES = int(os.environ.get("ROARBASE_PQL_EXAMPLES", "100"))
# Each example builds a database; tmpfs makes that cheap when there is one.
_SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
QUERIES_PER_DATASET = 12

# name → (type, options)
FIELDS: dict[str, tuple[str, dict[str, Any]]] = {
    "s": ("set", {}),
    "m": ("mutex", {}),
    "b": ("bool", {}),
    "i": ("int", {}),
    "j": ("int", {"min": 5, "max": 60}),
    "n": ("int", {"min": -60, "max": -5}),
    "d": ("decimal", {"scale": 1}),
    "t": ("timestamp", {"time_unit": "s"}),
    "k": ("set", {"keys": True}),
    "q": ("time", {"time_quantum": "YMD"}),
}
ROW_FIELDS = ["s", "m", "b", "k", "q"]          # bitmap fields
INT_FIELDS = ["i", "j", "n"]
BSI_FIELDS = ["i", "j", "n", "d", "t"]
TIMES = ["2019-05-05T05:05:05Z", "2020-01-01T00:00:00Z", "2020-01-01T00:00:01Z", "2023-06-30T23:59:59Z"]
QTIMES = ["2023-01-31T10:00", "2023-02-01T00:00", "2023-02-01T23:00", "2023-12-31T05:00", "2024-01-01T00:00"]
QDAYS = ["2023-01-01", "2023-01-31", "2023-02-01", "2023-02-02", "2023-12-31", "2024-01-01", "2024-01-02"]
KEYS = ["a", "b", "c"]
UTC = dt.timezone.utc


def _time(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).replace(tzinfo=UTC) if "T" in s else \
        dt.datetime.fromisoformat(s).replace(tzinfo=UTC)


def _rfc(t: dt.datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the model -------------------------------------------------------------------------------------

@dataclass
class Model:
    """The data as plain Python: per record, the value of every field (None = null)."""

    keyed: bool
    exists: set[Any] = field(default_factory=set)
    sets: dict[str, dict[Any, set[int]]] = field(default_factory=dict)       # s, k(ids) → record → rows
    single: dict[str, dict[Any, Any]] = field(default_factory=dict)          # m, b, i, j, n, d, t
    timebits: dict[Any, set[tuple[int, Optional[dt.datetime]]]] = field(default_factory=dict)   # q
    key_ids: dict[str, int] = field(default_factory=dict)                    # k: key → row id
    writes: list[tuple[Any, ...]] = field(default_factory=list)
    clears: list[tuple[Any, str, Any]] = field(default_factory=list)

    def rows_of(self, f: str, rec: Any) -> set[int]:
        """Row ids a record holds in a bitmap field (bool: 1/0; time field: standard view)."""
        if f in ("s", "k"):
            return self.sets[f].get(rec, set())
        if f == "q":
            return {r for r, _ in self.timebits.get(rec, set())}
        v = self.single[f].get(rec)
        if v is None:
            return set()
        return {int(v)} if f == "b" else {v}

    def row_records(self, f: str, row: int, frm: Any = None, to: Any = None) -> set[Any]:
        if f == "q" and frm is not None:
            return {c for c, bits in self.timebits.items()
                    if any(r == row and ts is not None and frm <= ts < to for r, ts in bits)}
        return {c for c in self.exists if row in self.rows_of(f, c)}

    def all_rows(self, f: str, frm: Any = None, to: Any = None) -> list[int]:
        if f == "q" and frm is not None:
            return sorted({r for bits in self.timebits.values() for r, ts in bits
                           if ts is not None and frm <= ts < to})
        return sorted({r for c in self.exists for r in self.rows_of(f, c)})

    def value(self, f: str, rec: Any) -> Any:
        return self.single[f].get(rec)

    def not_null(self, f: str) -> set[Any]:
        if f in BSI_FIELDS:
            return {c for c in self.exists if self.value(f, c) is not None}
        return {c for c in self.exists if self.rows_of(f, c)}

    def key_of(self, row: int) -> str:
        return {v: k for k, v in self.key_ids.items()}[row]


@st.composite
def datasets(draw: Any) -> Model:
    keyed = draw(st.booleans())
    picks = draw(st.lists(st.integers(0, len(POOL) - 1), unique=True, min_size=3, max_size=9))
    m = Model(keyed)
    m.sets = {"s": {}, "k": {}}
    m.single = {f: {} for f in ("m", "b", "i", "j", "n", "d", "t")}
    for p in picks:
        rec = f"r{p}" if keyed else POOL[p]
        writes: list[tuple[Any, ...]] = []
        for r in draw(st.lists(st.integers(0, 3), unique=True, max_size=3)):
            writes.append((rec, "s", r))
        for f, strat in (("m", st.integers(1, 3)), ("b", st.booleans()), ("i", st.integers(-20, 20)),
                         ("j", st.integers(5, 60)), ("n", st.integers(-60, -5)),
                         ("d", st.integers(-30, 30).map(lambda v: Decimal(v).scaleb(-1))),
                         ("t", st.sampled_from(TIMES))):
            v = draw(st.none() | strat)
            if v is not None:
                writes.append((rec, f, v))
        for key in draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=2)):
            writes.append((rec, "k", key))
        for r, ts in draw(st.lists(st.tuples(st.integers(1, 2), st.none() | st.sampled_from(QTIMES)), max_size=3)):
            writes.append((rec, "q", r, ts))
        if not writes or draw(st.integers(0, 4)) == 0:
            # a record that exists with (at least) one value set and then cleared
            writes.append((rec, "s", 9))
            m.clears.append((rec, "s", 9))
        m.writes.extend(writes)
    # also clear a few values that were really set
    candidates = [(w[0], w[1], w[2]) for w in m.writes if w[1] in ("s", "i", "k", "m")]
    if candidates:
        m.clears.extend(draw(st.lists(st.sampled_from(candidates), unique=True, max_size=2)))
    _apply(m)
    return m


def _apply(m: Model) -> None:
    """Replay the writes and clears on the model (mutex/bool/BSI: last write wins)."""
    for w in m.writes:
        rec, f, v = w[0], w[1], w[2]
        m.exists.add(rec)
        if f == "s":
            m.sets["s"].setdefault(rec, set()).add(v)
        elif f == "k":
            m.key_ids.setdefault(v, len(m.key_ids) + 1)
            m.sets["k"].setdefault(rec, set()).add(m.key_ids[v])
        elif f == "q":
            ts = None if w[3] is None else _time(w[3])
            m.timebits.setdefault(rec, set()).add((v, ts))
        elif f == "t":
            m.single[f][rec] = _time(v)
        else:
            m.single[f][rec] = v
    for rec, f, v in m.clears:
        if f == "s":
            m.sets["s"].get(rec, set()).discard(v)
        elif f == "k":
            m.sets["k"].get(rec, set()).discard(m.key_ids[v])
        elif f == "m":
            if m.single["m"].get(rec) == v:
                m.single["m"][rec] = None
        else:
            m.single[f][rec] = None


def build(m: Model, path: str) -> engine.Holder:
    db = engine.open(path, fsync=False)
    idx = db.create_index("d", keys=m.keyed)
    for name, (ftype, opts) in FIELDS.items():
        idx.create_field(name, ftype, **opts)
    for w in m.writes:
        if w[1] == "q":
            idx.set(w[0], "q", w[2], timestamp=w[3])
        else:
            idx.set(w[0], w[1], w[2])
    for rec, f, v in m.clears:
        idx.clear(rec, f, v)
    return db


# --- query trees --------------------------------------------------------------------------------
# Row nodes are tuples; pql() prints them, rows() evaluates them on the model.

def _lit(f: str, v: Any) -> str:
    if v is None:
        return "null"
    if f == "t":
        return f'"{v}"'
    if f == "k":
        return f'"{v}"'
    if f == "b":
        return "true" if v else "false"
    return str(v)


def _bsi_values(f: str) -> st.SearchStrategy[Any]:
    return {"i": st.integers(-25, 25), "j": st.integers(0, 70), "n": st.integers(-70, 0),
            "d": st.integers(-35, 35).map(lambda v: Decimal(v).scaleb(-1)),
            "t": st.sampled_from(TIMES + ["2018-01-01T00:00:00Z", "2030-01-01T00:00:00Z"])}[f]


def _day_range() -> st.SearchStrategy[tuple[str, str]]:
    return st.tuples(st.sampled_from(QDAYS), st.sampled_from(QDAYS)).filter(lambda r: r[0] < r[1])


@st.composite
def leaf(draw: Any, m: Model, light: bool) -> tuple:
    kinds = ["eq", "eqt", "null", "all", "const"] + ([] if light else ["cmp", "between", "btw"])
    kind = draw(st.sampled_from(kinds))
    if kind == "eq":
        f = draw(st.sampled_from(ROW_FIELDS))
        v = {"s": st.integers(0, 4), "m": st.integers(0, 4), "b": st.booleans(),
             "k": st.sampled_from(KEYS + ["zz"]), "q": st.integers(1, 3)}[f]
        return ("eq", f, draw(v))
    if kind == "eqt":
        frm, to = draw(_day_range())
        return ("eqt", draw(st.integers(1, 2)), frm, to)
    if kind == "null":
        return ("null", draw(st.sampled_from(list(FIELDS))), draw(st.booleans()))
    if kind == "all":
        return ("all",)
    if kind == "const":
        ids = [f"r{p}" for p in range(len(POOL))] + ["zz"] if m.keyed else POOL + [5, 4 * SHARD]
        return ("const", tuple(draw(st.lists(st.sampled_from(ids), max_size=4))))
    f = draw(st.sampled_from(BSI_FIELDS))
    if kind == "cmp":
        return ("cmp", f, draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="])), draw(_bsi_values(f)))
    lo, hi = draw(_bsi_values(f)), draw(_bsi_values(f))
    if kind == "between":
        return ("between", f, lo, draw(st.sampled_from(["<", "<="])), hi, draw(st.sampled_from(["<", "<="])))
    return ("btw", f, lo, hi)


def row_tree(m: Model, light: bool = False, depth: int = 3) -> st.SearchStrategy[tuple]:
    base = leaf(m, light)
    if depth == 0:
        return base
    sub = row_tree(m, light, depth - 1)
    options = [
        base,
        st.tuples(st.sampled_from(["union", "intersect", "diff", "xor"]), st.lists(sub, min_size=1, max_size=3)
                  .map(tuple)),
        st.tuples(st.just("not"), sub),
    ]
    if not light:
        options.append(st.tuples(st.just("unionrows"), st.sampled_from(["s", "m", "k"]),
                                 st.none() | st.integers(0, 3), st.none() | st.integers(1, 3)))
    if not m.keyed:
        lsub = row_tree(m, True, depth - 1)
        options.append(st.tuples(st.just("limit"), lsub, st.none() | st.integers(0, 4), st.integers(0, 3)))
        options.append(st.tuples(st.just("shift"), lsub, st.sampled_from([0, 1, 2, SHARD - 1, SHARD])))
    return st.one_of(*options)


def pql(node: tuple) -> str:
    kind = node[0]
    if kind == "eq":
        return f"Row({node[1]}={_lit(node[1], node[2])})"
    if kind == "eqt":
        return f"Row(q={node[1]}, from={node[2]}, to='{node[3]}')"
    if kind == "null":
        return f"Row({node[1]} {'==' if node[2] else '!='} null)"
    if kind == "all":
        return "All()"
    if kind == "const":
        return "ConstRow(columns=[" + ", ".join(f'"{c}"' if isinstance(c, str) else str(c) for c in node[1]) + "])"
    if kind == "cmp":
        return f"Row({node[1]} {node[2]} {_lit(node[1], node[3])})"
    if kind == "between":
        _, f, lo, lop, hi, hop = node
        return f"Row({_lit(f, lo)} {lop} {f} {hop} {_lit(f, hi)})"
    if kind == "btw":
        return f"Row({node[1]} >< [{_lit(node[1], node[2])}, {_lit(node[1], node[3])}])"
    if kind in ("union", "intersect", "diff", "xor"):
        name = {"union": "Union", "intersect": "Intersect", "diff": "Difference", "xor": "Xor"}[kind]
        return f"{name}({', '.join(pql(c) for c in node[1])})"
    if kind == "not":
        return f"Not({pql(node[1])})"
    if kind == "unionrows":
        args = [node[1]] + ([f"previous={node[2]}"] if node[2] is not None else []) + \
            ([f"limit={node[3]}"] if node[3] is not None else [])
        if node[1] == "k" and node[2] is not None:
            args[1] = f'previous="{KEYS[node[2] % 3]}"'
        return f"UnionRows(Rows({', '.join(args)}))"
    if kind == "limit":
        args = [pql(node[1])] + ([f"limit={node[2]}"] if node[2] is not None else []) + [f"offset={node[3]}"]
        return f"Limit({', '.join(args)})"
    if kind == "shift":
        return f"Shift({pql(node[1])}, n={node[2]})"
    raise AssertionError(kind)


class Skip(Exception):
    """The drawn query is not meaningful on this dataset (e.g. an unknown previous key)."""


def _cmp(a: Any, op: str, b: Any) -> bool:
    return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _bsi_lit(f: str, v: Any) -> Any:
    return _time(v) if f == "t" else v


def rows(node: tuple, m: Model, shards: Optional[set[int]] = None) -> set[Any]:
    out = _rows(node, m, shards)
    if shards is not None:
        out = {c for c in out if c >> 20 in shards}
    return out


def _rows(node: tuple, m: Model, shards: Optional[set[int]]) -> set[Any]:
    kind = node[0]
    if kind == "eq":
        f, v = node[1], node[2]
        if f == "k":
            if v not in m.key_ids:
                return set()
            v = m.key_ids[v]
        return m.row_records(f, int(v))
    if kind == "eqt":
        return m.row_records("q", node[1], _time(node[2]), _time(node[3]))
    if kind == "null":
        nn = m.not_null(node[1])
        return m.exists - nn if node[2] else nn
    if kind == "all":
        return set(m.exists)
    if kind == "const":
        return set(node[1]) & m.exists
    if kind == "cmp":
        f, op, v = node[1], node[2], _bsi_lit(node[1], node[3])
        return {c for c in m.exists if m.value(f, c) is not None and _cmp(m.value(f, c), op, v)}
    if kind == "between":
        _, f, lo, lop, hi, hop = node
        lo, hi = _bsi_lit(f, lo), _bsi_lit(f, hi)
        return {c for c in m.exists if m.value(f, c) is not None
                and _cmp(lo, lop, m.value(f, c)) and _cmp(m.value(f, c), hop, hi)}
    if kind == "btw":
        f, lo, hi = node[1], _bsi_lit(node[1], node[2]), _bsi_lit(node[1], node[3])
        return {c for c in m.exists if m.value(f, c) is not None and lo <= m.value(f, c) <= hi}
    if kind in ("union", "intersect", "diff", "xor"):
        kids = [rows(c, m, shards) for c in node[1]]
        acc = set(kids[0])
        for k in kids[1:]:
            if kind == "union":
                acc |= k
            elif kind == "intersect":
                acc &= k
            elif kind == "diff":
                acc -= k
            else:
                acc ^= k
        return acc
    if kind == "not":
        return m.exists - rows(node[1], m, shards)
    if kind == "unionrows":
        f, prev, limit = node[1], node[2], node[3]
        ids = m.all_rows(f)
        if prev is not None:
            if f == "k":
                key = KEYS[prev % 3]
                if key not in m.key_ids:
                    raise Skip
                prev = m.key_ids[key]
            ids = [r for r in ids if r > prev]
        if limit is not None:
            ids = ids[:limit]
        return set().union(*[m.row_records(f, r) for r in ids]) if ids else set()
    if kind == "limit":
        cols = sorted(rows(node[1], m, shards))
        stop = None if node[2] is None else node[3] + node[2]
        return set(cols[node[3]:stop])
    if kind == "shift":
        out = {c + node[2] for c in rows(node[1], m, shards)}
        return out
    raise AssertionError(kind)


# --- calls ------------------------------------------------------------------------------------------

def _valcount(f: Optional[str], v: Any, count: int) -> dict[str, Any]:
    out: dict[str, Any] = {"value": 0, "floatValue": 0.0, "decimalValue": None,
                           "timestampValue": "0001-01-01T00:00:00Z", "count": count}
    if v is None:
        return out
    if f == "d":
        out["decimalValue"] = v
    elif f == "t":
        out["timestampValue"] = _rfc(v)
    else:
        out["value"] = v
    return out


def _pair(m: Model, f: str, row: int, count: int) -> dict[str, Any]:
    if f == "k":
        return {"id": 0, "key": m.key_of(row), "count": count}
    return {"id": row, "key": "", "count": count}


def _row_json(m: Model, cols: set[Any]) -> dict[str, Any]:
    if m.keyed:
        return {"columns": [], "keys": sorted(cols)} if cols else {"columns": []}
    return {"columns": sorted(cols)}


class Ctx:
    """A dataset and its row-tree strategy (built once per dataset; short repr on purpose,
    since Hypothesis prints the arguments of every strategy it draws from)."""

    def __init__(self, m: Model) -> None:
        self.m = m
        self.tree = row_tree(m)

    def __repr__(self) -> str:
        return "Ctx(…)"


@st.composite
def calls(draw: Any, ctx: Ctx) -> tuple[str, Any]:
    """(PQL text, expected result) for one random read call."""
    m, tree = ctx.m, ctx.tree
    opt_tree = st.none() | tree
    kind = draw(st.sampled_from(["row", "count", "sum", "minmax", "minmaxrow", "topn", "topk", "rows",
                                 "groupby", "distinct", "countdistinct", "includes", "fieldvalue",
                                 "percentile", "extract", "sort", "options"]))
    if kind == "row":
        t = draw(tree)
        return pql(t), _row_json(m, rows(t, m))
    if kind == "count":
        t = draw(tree)
        return f"Count({pql(t)})", len(rows(t, m))
    if kind == "options":
        if m.keyed:
            raise Skip
        t = draw(tree)
        shards = draw(st.lists(st.integers(0, 4), unique=True, max_size=3))
        inner_count = draw(st.booleans())
        text = f"Options({'Count(' + pql(t) + ')' if inner_count else pql(t)}, shards={shards})"
        got = rows(t, m, set(shards))
        return text, len(got) if inner_count else _row_json(m, got)
    if kind == "sum":
        f, t = draw(st.sampled_from(["i", "j", "n", "d"])), draw(opt_tree)
        recs = m.exists if t is None else rows(t, m)
        vals = [m.value(f, c) for c in recs if m.value(f, c) is not None]
        text = f"Sum({pql(t) + ', ' if t else ''}field={f})"
        total = sum(vals, Decimal(0) if f == "d" else 0)
        if f == "d":
            return text, {"value": 0, "floatValue": 0.0, "decimalValue": total,
                          "timestampValue": "0001-01-01T00:00:00Z", "count": len(vals)}
        return text, _valcount(f, total, len(vals))
    if kind == "minmax":
        f, t, want_max = draw(st.sampled_from(BSI_FIELDS)), draw(opt_tree), draw(st.booleans())
        recs = m.exists if t is None else rows(t, m)
        vals = [m.value(f, c) for c in recs if m.value(f, c) is not None]
        text = f"{'Max' if want_max else 'Min'}({pql(t) + ', ' if t else ''}field={f})"
        if not vals:
            return text, _valcount(f, None, 0)
        ext = max(vals) if want_max else min(vals)
        return text, _valcount(f, ext, vals.count(ext))
    if kind == "minmaxrow":
        f, t, want_max = draw(st.sampled_from(["s", "m", "k"])), draw(opt_tree), draw(st.booleans())
        recs = m.exists if t is None else rows(t, m)
        counts = {r: len(m.row_records(f, r) & recs) for r in m.all_rows(f)}
        present = sorted(r for r, c in counts.items() if c)
        text = f"{'MaxRow' if want_max else 'MinRow'}({pql(t) + ', ' if t else ''}field={f})"
        if not present:
            return text, {"id": 0, "key": "", "count": 0}
        row = present[-1] if want_max else present[0]
        return text, _pair(m, f, row, counts[row])
    if kind in ("topn", "topk"):
        f = draw(st.sampled_from(["s", "m", "b", "k"] + (["q"] if kind == "topk" else [])))
        t, n = draw(opt_tree), draw(st.integers(0, 3))
        frm = to = None
        args = [f]
        if t is not None:
            args.append(pql(t) if kind == "topn" else f"filter={pql(t)}")
        if n:
            args.append(f"{'n' if kind == 'topn' else 'k'}={n}")
        if f == "q" and draw(st.booleans()):
            frm, to = draw(_day_range())
            args += [f"from={frm}", f"to={to}"]
            frm, to = _time(frm), _time(to)
        recs = m.exists if t is None else rows(t, m)
        counts = [(r, len(m.row_records(f, r, frm, to) & recs)) for r in m.all_rows(f, frm, to)]
        counts = [(r, c) for r, c in counts if c > 0]
        counts.sort(key=lambda rc: (-rc[1], m.key_of(rc[0]) if f == "k" else rc[0]))
        if n:
            counts = counts[:n]
        return f"{'TopN' if kind == 'topn' else 'TopK'}({', '.join(args)})", [_pair(m, f, r, c) for r, c in counts]
    if kind == "rows":
        f = draw(st.sampled_from(["s", "m", "k", "q"]))
        args = [f]
        frm = to = None
        if f == "q" and draw(st.booleans()):
            frm_s, to_s = draw(_day_range())
            args += [f"from={frm_s}", f"to={to_s}"]
            frm, to = _time(frm_s), _time(to_s)
        ids = m.all_rows(f, frm, to)
        col = draw(st.none() | st.sampled_from(sorted(m.exists, key=str) or [0]))
        if col is not None and frm is None:
            args.append(f'column="{col}"' if m.keyed else f"column={col}")
            ids = [r for r in ids if r in m.rows_of(f, col)]
        prev = draw(st.none() | st.integers(0, 3))
        if prev is not None:
            if f == "k":
                key = KEYS[prev % 3]
                if key not in m.key_ids:
                    raise Skip
                args.append(f'previous="{key}"')
                prev = m.key_ids[key]
            else:
                args.append(f"previous={prev}")
            ids = [r for r in ids if r > prev]
        limit = draw(st.none() | st.integers(0, 3))
        if limit is not None:
            args.append(f"limit={limit}")
            ids = ids[:limit]
        text = f"Rows({', '.join(args)})"
        if f == "k":
            return text, {"rows": None, "keys": [m.key_of(r) for r in ids]}
        return text, {"rows": ids}
    if kind == "groupby":
        return draw(groupby_call(m, tree))
    if kind in ("distinct", "countdistinct"):
        f, t = draw(st.sampled_from(["s", "m", "b", "k", "i", "j", "n", "t"])), draw(opt_tree)
        recs = m.exists if t is None else rows(t, m)
        inner = f"Distinct({pql(t) + ', ' if t else ''}field={f})"
        if f in BSI_FIELDS:
            values = sorted({m.value(f, c) for c in recs if m.value(f, c) is not None})
            if kind == "countdistinct":
                return f"Count({inner})", len(values)
            if f == "t":
                return inner, [_rfc(v) for v in values]
            return inner, {"neg": {"columns": sorted(-v for v in values if v < 0)},
                           "pos": {"columns": [v for v in values if v >= 0]}}
        ids = sorted({r for c in recs for r in m.rows_of(f, c)})
        if kind == "countdistinct":
            return f"Count({inner})", len(ids)
        if f == "k":
            return inner, {"columns": ids, "keys": [m.key_of(r) for r in ids]}
        return inner, {"columns": ids}
    if kind == "includes":
        t = draw(tree)
        col = draw(st.sampled_from([f"r{p}" for p in range(len(POOL))] if m.keyed else POOL))
        lit = f'"{col}"' if m.keyed else str(col)
        return f"IncludesColumn({pql(t)}, column={lit})", col in rows(t, m)
    if kind == "fieldvalue":
        f = draw(st.sampled_from(BSI_FIELDS))
        col = draw(st.sampled_from([f"r{p}" for p in range(len(POOL))] if m.keyed else POOL))
        lit = f'"{col}"' if m.keyed else str(col)
        v = m.value(f, col) if col in m.exists else None
        return f"FieldValue(field={f}, column={lit})", _valcount(f, v, 0 if v is None else 1)
    if kind == "percentile":
        t = draw(opt_tree)
        nth = draw(st.sampled_from([0, 10, 25, 50, 75, 90, 100, Decimal("12.5"), Decimal("99.9")]))
        recs = m.exists if t is None else rows(t, m)
        vals = [m.value("i", c) for c in recs if m.value("i", c) is not None]
        text = f"Percentile(field=i, nth={nth}{', filter=' + pql(t) if t else ''})"
        if not vals:
            return text, None
        return text, _valcount("i", percentile(vals, Decimal(nth)), 1)
    if kind == "extract":
        fields = draw(st.lists(st.sampled_from(list(FIELDS)), unique=True, max_size=3))
        if not m.keyed and draw(st.booleans()):
            filt, cols = draw(sort_call(m, tree))            # Extract over Sort: the sort order
        else:
            t = draw(tree)
            filt, cols = pql(t), sorted(rows(t, m), key=lambda c: (str(type(c)), c))
        return f"Extract({filt}{''.join(f', Rows({f})' for f in fields)})", extract(m, cols, fields)
    if kind == "sort":
        if m.keyed:
            raise Skip
        text, ordered = draw(sort_call(m, tree))
        return text, {"columns": ordered}
    raise AssertionError(kind)


@st.composite
def sort_call(draw: Any, m: Model, tree: Any) -> tuple[str, list[Any]]:
    """Sort(row ∩ f != null, field=f, …) and the records in its order (ties by record id)."""
    f = draw(st.sampled_from(["i", "j", "d", "t", "m"]))
    t = ("intersect", (draw(tree), ("null", f, False)))
    desc = draw(st.booleans())
    limit, offset = draw(st.none() | st.integers(0, 4)), draw(st.integers(0, 2))
    ordered = sorted(rows(t, m))
    ordered.sort(key=lambda c: m.single[f][c], reverse=desc)    # stable: ties stay ascending
    stop = None if limit is None else offset + limit
    args = [pql(t), f"field={f}", f"sort-desc={'true' if desc else 'false'}", f"offset={offset}"] + \
        ([f"limit={limit}"] if limit is not None else [])
    return f"Sort({', '.join(args)})", ordered[offset:stop]


def percentile(vals: list[int], nth: Decimal) -> int:
    """FeatureBase's percentile bisection (semantics §4), with Go's truncating division."""
    def div(a: int, b: int) -> int:
        q = abs(a) // abs(b)
        return q if (a >= 0) == (b >= 0) else -q

    def rem(a: int, b: int) -> int:
        return a - b * div(a, b)

    n = len(vals)
    k_lo = int(n * nth / 100)
    k_hi = int(n * (100 - nth) / 100)
    lo, hi = min(vals), max(vals)
    if k_hi == 0:
        return hi
    if k_lo == 0:
        return lo
    while True:
        assert lo <= hi
        mid = div(lo, 2) + div(hi, 2) + div(rem(lo, 2) + rem(hi, 2), 2)
        if sum(v < mid for v in vals) > k_lo:
            hi = mid - 1
        elif sum(v > mid for v in vals) > k_hi:
            lo = mid + 1
        else:
            return mid


_EXTRACT_TYPES = {"s": "[]uint64", "q": "[]uint64", "m": "uint64", "b": "bool", "i": "int64", "j": "int64",
                  "n": "int64", "d": "decimal", "t": "timestamp", "k": "[]string"}


def extract(m: Model, cols: list[Any], fields: list[str]) -> dict[str, Any]:
    out_cols = []
    for c in cols:
        vals: list[Any] = []
        for f in fields:
            if f in ("s", "q"):
                vals.append(sorted(m.rows_of(f, c)))
            elif f == "k":
                vals.append([m.key_of(r) for r in sorted(m.rows_of(f, c))])
            elif f == "t":
                v = m.value(f, c)
                vals.append(None if v is None else _rfc(v))
            else:
                vals.append(m.value(f, c))
        out_cols.append({"column": c, "rows": vals})
    return {"fields": [{"name": f, "type": _EXTRACT_TYPES[f]} for f in fields], "columns": out_cols}


@st.composite
def groupby_call(draw: Any, m: Model, tree: Any) -> tuple[str, Any]:
    names = draw(st.lists(st.sampled_from(["s", "m", "b", "k", "i"]), unique=True, min_size=1, max_size=2))
    children = []
    texts = []
    for f in names:
        limit = draw(st.none() | st.integers(1, 3)) if f in ("s", "m") else None
        if f == "i":
            cands: list[Any] = sorted({m.value("i", c) for c in m.exists if m.value("i", c) is not None})
        else:
            cands = m.all_rows(f)
        if limit is not None:
            cands = cands[:limit]
        children.append((f, cands))
        texts.append(f"Rows({f}{', limit=' + str(limit) if limit is not None else ''})")
    prev = None
    if len(names) == 1 and names[0] in ("s", "m") and draw(st.booleans()):
        prev = draw(st.integers(0, 3))
        texts[0] = texts[0][:-1] + f", previous={prev})"
    filt = draw(st.none() | tree)
    agg = draw(st.sampled_from([None, "sum_i", "sum_j", "sum_d", "cd_s", "cd_i"]))
    having = draw(st.none() | st.integers(0, 2))
    sort = draw(st.sampled_from([None, "count desc", "count asc"]))
    limit, offset = draw(st.none() | st.integers(0, 4)), draw(st.none() | st.integers(0, 4))
    recs = m.exists if filt is None else rows(filt, m)

    def members(f: str, key: Any) -> set[Any]:
        if f == "i":
            return {c for c in m.exists if m.value("i", c) == key}
        return m.row_records(f, key)

    groups: list[tuple[tuple, set[Any]]] = [((), set(recs))]
    for f, cands in children:
        groups = [(key + (v,), g & members(f, v)) for key, g in groups for v in cands]
    out = []
    for key, g in sorted(groups, key=lambda kg: kg[0]):
        if not g:
            continue
        if prev is not None and key[0] <= prev:
            continue
        entry: dict[str, Any] = {"group": [], "count": len(g)}
        for (f, _), v in zip(children, key):
            if f == "i":
                entry["group"].append({"field": f, "value": v})
            elif f == "k":
                entry["group"].append({"field": f, "rowKey": m.key_of(v)})
            else:
                entry["group"].append({"field": f, "rowID": v})
        if agg is not None and agg.startswith("sum"):
            af = agg[-1]
            vals = [m.value(af, c) for c in g if m.value(af, c) is not None]
            if not vals:
                continue                      # a group with no values to sum is dropped
            entry["count"] = len(vals)
            entry["sum"] = sum(vals, Decimal(0) if af == "d" else 0)
        elif agg is not None:
            af = agg[-1]
            if af == "s":
                entry["aggregate"] = len({r for c in g for r in m.rows_of("s", c)})
            else:
                entry["aggregate"] = len({m.value("i", c) for c in g if m.value("i", c) is not None})
        out.append(entry)
    if having is not None:
        out = [e for e in out if e["count"] > having]
    if sort is not None:
        out.sort(key=lambda e: e["count"], reverse=sort.endswith("desc"))
    start = offset or 0
    out = out[start:None if limit is None else start + limit]
    args = texts[:]
    if filt is not None:
        args.append(f"filter={pql(filt)}")
    if agg is not None:
        args.append(f"aggregate=Sum(field={agg[-1]})" if agg.startswith("sum")
                    else f"aggregate=Count(Distinct(field={agg[-1]}))")
    if having is not None:
        args.append(f"having=Condition(count > {having})")
    if sort is not None:
        args.append(f'sort="{sort}"')
    if limit is not None:
        args.append(f"limit={limit}")
    if offset is not None:
        args.append(f"offset={offset}")
    return f"GroupBy({', '.join(args)})", out


# --- comparison ------------------------------------------------------------------------------------

def norm(x: Any, keyed: bool) -> Any:
    """Compare decimals by value, bools apart from ints, and record keys as sets."""
    if isinstance(x, bool):
        return ("bool", x)
    if isinstance(x, Decimal):
        return ("num", x.normalize() if x else Decimal(0))
    if isinstance(x, float):
        return ("num", Decimal(repr(x)).normalize() if x else Decimal(0))
    if isinstance(x, list):
        return [norm(v, keyed) for v in x]
    if isinstance(x, dict):
        out = {k: norm(v, keyed) for k, v in x.items()}
        if keyed and isinstance(x.get("keys"), list) and x.get("columns") == []:
            out["keys"] = sorted(out["keys"])
        if keyed and "fields" in x:
            out["columns"] = sorted(out["columns"], key=lambda c: str(c["column"]))
        return out
    return x


@settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("ROARBASE_PQL_RANDOM"),
          phases=tuple(p for p in Phase if p is not Phase.shrink or os.environ.get("ROARBASE_PQL_SHRINK")),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(m=datasets(), data=st.data())
def test_differential(m: Model, data: Any) -> None:
    path = tempfile.mkdtemp(prefix="roarbase-pql-diff-", dir=_SCRATCH)
    db = build(m, os.path.join(path, "data"))
    ctx = Ctx(m)
    # Extract reads values per fragment either by intersecting its rows or from its
    # record-ordered copy (engine.state.FEW_ROWS decides): half the datasets take each way.
    few_rows = engine_state.FEW_ROWS
    engine_state.FEW_ROWS = data.draw(st.sampled_from([few_rows, 0]))
    try:
        for _ in range(QUERIES_PER_DATASET):
            try:
                text, expected = data.draw(calls(ctx))
            except Skip:
                continue
            got = db.query("d", text)
            assert len(got) == 1
            assert norm(got[0], m.keyed) == norm(expected, m.keyed), \
                f"\n  query:    {text}\n  got:      {got[0]}\n  expected: {expected}"
    finally:
        engine_state.FEW_ROWS = few_rows
        db.close()
        shutil.rmtree(path, ignore_errors=True)
