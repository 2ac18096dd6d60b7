"""Differential test: random data loaded both into roarbase and into DuckDB, random SELECTs
of the supported subset answered by both; results equal (as multisets, or in order where
ORDER BY fixes it).

Type mapping (roarbase → DuckDB): ID → BIGINT, STRING → VARCHAR, BOOL → BOOLEAN, INT →
BIGINT, DECIMAL(2) → DECIMAL(18,2), TIMESTAMP → TIMESTAMP (UTC), STRINGSET → VARCHAR[],
IDSET → BIGINT[]. A set column without members is stored as [] in DuckDB (roarbase treats it
as the empty set for SETCONTAINS*, IS NULL is "no members", and a projection shows NULL);
set values are compared as sorted lists, NULL and [] alike.

The roarbase side is written with INSERT and REPLACE (random writes after the initial
load), and the DuckDB side is loaded from a Python model of those writes (scalars replaced,
NULL clears, INSERT unions into sets, REPLACE replaces them), so the writes are checked too.
A random DELETE … WHERE runs on both before the queries.

Semantics relied on (standard SQL, which roarbase follows): three-valued logic in WHERE;
GROUP BY and DISTINCT treat NULL as a key value of its own (in any of several columns);
GROUP BY / DISTINCT on a set column groups whole sets (DuckDB: the sorted list, a record
without members in the NULL group) and, WITH (flatten(col)), members: DuckDB's UNNEST (a
record counts once per member; records without members are in no group; roarbase shows a
member as a one-member set); NULLs sort first ascending and last descending (DuckDB is told
NULLS FIRST / NULLS LAST).

LIMIT [OFFSET] and TOP without ORDER BY are compared with DuckDB's ORDER BY _id LIMIT …
(roarbase returns records in _id order). Decimal literals use the column's scale (roarbase
compares at the column's precision).

Shapes left out on purpose: NULL inside IN / NOT IN lists (golden where.sql).
PERCENTILE is not compared: FeatureBase's bisection is not DuckDB's quantile (golden
aggregates.sql has hand-worked cases).

Joins, subqueries and views run against a second table `e` (random records whose _id
space is d's `m` values for an `_id ID` d, d's `s` values for an `_id STRING` one): INNER
and LEFT joins on `e._id` (semi-joins when e contributes nothing else, else e read by
_id for d's rows, with e written first or second), hash joins on other columns, IN / NOT IN / EXISTS / scalar subqueries, subqueries
in FROM, and a view over d created in both databases.

Run twice: a table with `_id ID` (records on several shards) and one with `_id STRING`
(DuckDB VARCHAR; _id compared with = != IN only). ROARBASE_SQL_EXAMPLES sets the number of
datasets of the first (default 70; the second gets a third); each runs QUERIES queries.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Callable, Optional

import duckdb
import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

import engine

EXAMPLES = int(os.environ.get("ROARBASE_SQL_EXAMPLES", "70"))
QUERIES = 10
UTC = dt.timezone.utc
SHARD = 1 << 20
IDS = list(range(12)) + [SHARD - 1, SHARD, SHARD + 1, 2 * SHARD + 3]
KEYS = [f"k{i}" for i in range(12)] + ["K", "a", "zz", ""]

ROAR_DDL = ("CREATE TABLE d (_id {id}, s STRING, m ID, b BOOL, i INT, j INT MIN -50 MAX 50, dd DECIMAL(2), "
            "t TIMESTAMP, ss STRINGSET, ids IDSET)")
DUCK_DDL = ("CREATE TABLE d (_id {id}, s VARCHAR, m BIGINT, b BOOLEAN, i BIGINT, j BIGINT, dd DECIMAL(18,2), "
            "t TIMESTAMP, ss VARCHAR[], ids BIGINT[])")
COLUMNS = ["s", "m", "b", "i", "j", "dd", "t", "ss", "ids"]
SET_COLS = ["ss", "ids"]
SCALARS = ["s", "m", "b", "i", "j", "dd", "t"]
STRINGS = ["a", "b", "c", "ab", "bc", "ba", ""]
MEMBERS = ["x", "y", "z", "w", ""]
ID_MEMBERS = [0, 1, 2, 3, 70000]
INTS = [-1000, -7, -3, -1, 0, 1, 2, 7, 50, 1000]
JS = [-50, -10, 0, 3, 50]
MS = [0, 1, 2, 5, 100]
DECS = [Decimal(x) for x in ("-1.50", "0.00", "0.01", "2.50", "10.00", "99.99")]
TIMES = [dt.datetime(1969, 12, 31, 23, 59, 59), dt.datetime(1970, 1, 1), dt.datetime(2000, 1, 1),
         dt.datetime(2020, 2, 29, 12, 0, 0), dt.datetime(2038, 1, 19, 3, 14, 8)]
VALUES: dict[str, list[Any]] = {"s": STRINGS, "m": MS, "b": [False, True], "i": INTS, "j": JS, "dd": DECS,
                                "t": TIMES}


# --- data -------------------------------------------------------------------------------------------

def _value(col: str) -> st.SearchStrategy[Any]:
    if col == "ss":
        return st.lists(st.sampled_from(MEMBERS), max_size=3, unique=True)
    if col == "ids":
        return st.lists(st.sampled_from(ID_MEMBERS), max_size=3, unique=True)
    return st.sampled_from(VALUES[col])


def _maybe_null(col: str) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), _value(col))


def _ids(keyed: bool) -> list[Any]:
    return KEYS if keyed else IDS


@st.composite
def datasets(draw: Any, keyed: bool = False) -> tuple[dict[Any, dict[str, Any]], list[tuple[str, Any, dict[str, Any]]]]:
    ids = draw(st.lists(st.sampled_from(_ids(keyed)), min_size=1, max_size=12, unique=True))
    records = {i: {c: draw(_maybe_null(c)) for c in COLUMNS} for i in ids}
    writes = []
    for _ in range(draw(st.integers(0, 4))):
        verb = draw(st.sampled_from(["INSERT", "REPLACE"]))
        rid = draw(st.sampled_from(_ids(keyed)))
        cols = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=4, unique=True))
        writes.append((verb, rid, {c: draw(_maybe_null(c)) for c in cols}))
    return records, writes


def roar_lit(col: str, v: Any) -> str:
    if v is None:
        return "NULL"
    if col in SET_COLS:
        return "[" + ", ".join(roar_lit(col[:-1] if col == "ss" else "m", x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return "'" + v + "'"
    if isinstance(v, dt.datetime):
        return "'" + v.strftime("%Y-%m-%dT%H:%M:%SZ") + "'"
    return str(v)


def duck_lit(col: str, v: Any) -> str:
    if v is None:
        return "NULL"
    if col in SET_COLS:
        return "[" + ", ".join(duck_lit(col[:-1] if col == "ss" else "m", x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return "'" + v + "'"
    if isinstance(v, dt.datetime):
        return "TIMESTAMP '" + v.strftime("%Y-%m-%d %H:%M:%S") + "'"
    if isinstance(v, Decimal):
        return f"{v}::DECIMAL(18,2)"
    return str(v)


def apply_write(model: dict[int, dict[str, Any]], verb: str, rid: int, values: dict[str, Any]) -> None:
    """docs/sql.md: scalars replaced (NULL clears); sets: INSERT unions, REPLACE replaces, NULL clears."""
    rec = model.setdefault(rid, {c: None for c in COLUMNS})
    for col, v in values.items():
        if col in SET_COLS:
            if v is None or verb == "REPLACE":
                rec[col] = list(v or [])
            else:
                rec[col] = sorted(set(rec[col] or []) | set(v), key=str)
        else:
            rec[col] = v


# --- queries ------------------------------------------------------------------------------------------
# Every generator returns (roarbase SQL, DuckDB SQL, ordered?, post-processing of DuckDB rows).

@dataclass
class Query:
    roar: str
    duck: str
    ordered: bool = False
    post: Optional[Callable[[list[tuple[Any, ...]]], list[tuple[Any, ...]]]] = None


def _lit_pair(col: str, v: Any) -> tuple[str, str]:
    return roar_lit(col, v), duck_lit(col, v)


def _id_lit(v: Any) -> str:
    return f"'{v}'" if isinstance(v, str) else str(v)


@st.composite
def leaf(draw: Any, keyed: bool = False, exprs: bool = True) -> tuple[str, str]:
    kinds = ["cmp", "cmp", "between", "in", "null", "like", "bool", "set", "set", "idcmp"]
    kind = draw(st.sampled_from(kinds + (["expr"] if exprs else [])))
    if kind == "expr":              # evaluated record by record (SELECT only, not DELETE)
        return draw(st.sampled_from(EXPR_LEAVES))
    if kind == "cmp":
        col = draw(st.sampled_from(["i", "j", "dd", "t", "m", "s", "b"]))
        ops = ["=", "!=", "<>"] if col in ("s", "b") else ["=", "!=", "<>", "<", "<=", ">", ">="]
        op = draw(st.sampled_from(ops))
        v = draw(st.one_of(st.sampled_from(VALUES[col]), st.none()) if draw(st.integers(0, 9)) == 0
                 else st.sampled_from(VALUES[col]))
        r, d = _lit_pair(col, v)
        if draw(st.booleans()) and op in ("=", "!=", "<>"):
            return f"{r} {op} {col}", f"{d} {op} {col}"
        return f"{col} {op} {r}", f"{col} {op} {d}"
    if kind == "idcmp":
        if keyed:                                      # a string _id takes = != IN only
            op = draw(st.sampled_from(["=", "!=", "<>"]))
            v = _id_lit(draw(st.sampled_from(KEYS + ["nope"])))
            return f"_id {op} {v}", f"_id {op} {v}"
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
        v = draw(st.sampled_from(IDS + [SHARD + 50]))
        return f"_id {op} {v}", f"_id {op} {v}"
    if kind == "between":
        col = draw(st.sampled_from(["i", "j", "dd", "t"] + ([] if keyed else ["_id"])))
        pool = VALUES[col] if col != "_id" else IDS
        lo, hi = draw(st.sampled_from(pool)), draw(st.sampled_from(pool))
        neg = draw(st.sampled_from(["", "NOT "]))
        (rl, dl), (rh, dh) = _lit_pair(col, lo), _lit_pair(col, hi)
        return f"{col} {neg}BETWEEN {rl} AND {rh}", f"{col} {neg}BETWEEN {dl} AND {dh}"
    if kind == "in":
        col = draw(st.sampled_from(["i", "j", "s", "m", "_id"]))
        pool = VALUES[col] if col != "_id" else _ids(keyed)
        items = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
        neg = draw(st.sampled_from(["", "NOT "]))
        if col == "_id":
            r = d = ", ".join(_id_lit(x) for x in items)
        else:
            r = ", ".join(roar_lit(col, x) for x in items)
            d = ", ".join(duck_lit(col, x) for x in items)
        return f"{col} {neg}IN ({r})", f"{col} {neg}IN ({d})"
    if kind == "null":
        col = draw(st.sampled_from(COLUMNS))
        neg = draw(st.booleans())
        r = f"{col} IS {'NOT ' if neg else ''}NULL"
        if col in SET_COLS:
            return r, f"len({col}) {'>' if neg else '='} 0"
        return r, r
    if kind == "like":
        pat = draw(st.sampled_from(["a%", "%b", "_b", "a_", "%", "b%a", "%c%", "ab"]))
        neg = draw(st.sampled_from(["", "NOT "]))
        return f"s {neg}LIKE '{pat}'", f"s {neg}LIKE '{pat}'"
    if kind == "bool":
        form = draw(st.sampled_from(["b", "NOT b", "b = true", "b = false", "b != true"]))
        return form, form
    col = draw(st.sampled_from(SET_COLS))
    pool = MEMBERS + ["nope"] if col == "ss" else ID_MEMBERS + [9]
    fn = draw(st.sampled_from(["SETCONTAINS", "SETCONTAINSANY", "SETCONTAINSALL"]))
    sub = "ss" if col == "ss" else "ids"
    if fn == "SETCONTAINS":
        v = draw(st.sampled_from(pool))
        r, d = roar_lit(sub[:-1] if col == "ss" else "m", v), duck_lit(sub[:-1] if col == "ss" else "m", v)
        return f"SETCONTAINS({col}, {r})", f"list_contains({col}, {d})"
    items = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
    r, d = roar_lit(col, items), duck_lit(col, items)
    duck_fn = "list_has_any" if fn == "SETCONTAINSANY" else "list_has_all"
    return f"{fn}({col}, {r})", f"{duck_fn}({col}, {d})"


# WHERE leaves over expressions: (roarbase, DuckDB), same three-valued semantics.
EXPR_LEAVES = [("i + 1 > j", "i + 1 > j"), ("i = j", "i = j"), ("UPPER(s) = 'AB'", "upper(s) = 'AB'"),
               ("LEN(s) < 2", "length(s) < 2"), ("i * 2 <= m", "i * 2 <= m"),
               ("CASE WHEN i > 0 THEN j ELSE m END > 2", "CASE WHEN i > 0 THEN j ELSE m END > 2"),
               ("REVERSE(s) = 'ab'", "reverse(s) = 'ab'"), ("dd * 2 > i", "dd * 2 > i")]


def predicate(depth: int = 2, keyed: bool = False, exprs: bool = True) -> st.SearchStrategy[tuple[str, str]]:
    if depth == 0:
        return leaf(keyed, exprs)

    @st.composite
    def node(draw: Any) -> tuple[str, str]:
        kind = draw(st.sampled_from(["leaf", "leaf", "and", "or", "not"]))
        if kind == "leaf":
            return draw(leaf(keyed, exprs))
        if kind == "not":
            r, d = draw(predicate(depth - 1, keyed, exprs))
            return f"NOT ({r})", f"NOT ({d})"
        (r1, d1), (r2, d2) = draw(predicate(depth - 1, keyed, exprs)), draw(predicate(depth - 1, keyed, exprs))
        op = kind.upper()
        return f"({r1}) {op} ({r2})", f"({d1}) {op} ({d2})"

    return node()


@st.composite
def where(draw: Any, keyed: bool = False) -> tuple[str, str]:
    if draw(st.integers(0, 4)) == 0:
        return "", ""
    r, d = draw(predicate(keyed=keyed))
    return f" WHERE {r}", f" WHERE {d}"


@st.composite
def projection(draw: Any, keyed: bool = False) -> Query:
    cols = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=4, unique=True))
    wr, wd = draw(where(keyed))
    sel = ", ".join(["_id"] + cols)
    return Query(f"SELECT {sel} FROM d{wr}", f"SELECT {sel} FROM d{wd}")


@st.composite
def ordered_projection(draw: Any, keyed: bool = False) -> Query:
    col = draw(st.sampled_from(SCALARS))
    desc = draw(st.booleans())
    id_desc = draw(st.booleans())
    wr, wd = draw(where(keyed))
    limit = draw(st.integers(1, 6))
    offset = draw(st.integers(0, 4))
    tail = f" LIMIT {limit}" + (f" OFFSET {offset}" if offset else "")
    rdir = "DESC" if desc else "ASC"
    ddir = "DESC NULLS LAST" if desc else "ASC NULLS FIRST"
    iddir = "DESC" if id_desc else "ASC"
    return Query(f"SELECT _id, {col} FROM d{wr} ORDER BY {col} {rdir}, _id {iddir}{tail}",
                 f"SELECT _id, {col} FROM d{wd} ORDER BY {col} {ddir}, _id {iddir}{tail}", ordered=True)


@st.composite
def limited_projection(draw: Any, keyed: bool = False) -> Query:
    cols = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=3, unique=True))
    wr, wd = draw(where(keyed))
    n = draw(st.integers(0, 6))
    off = draw(st.sampled_from([0, 0, 1, 3]))
    tail = f" LIMIT {n}" + (f" OFFSET {off}" if off else "")
    sel = ", ".join(["_id"] + cols)
    if draw(st.integers(0, 4)) == 0:
        return Query(f"SELECT TOP({n}) {sel} FROM d{wr}", f"SELECT {sel} FROM d{wd} ORDER BY _id LIMIT {n}",
                     ordered=True)
    return Query(f"SELECT {sel} FROM d{wr}{tail}", f"SELECT {sel} FROM d{wd} ORDER BY _id{tail}", ordered=True)


@st.composite
def expressions(draw: Any, keyed: bool = False) -> Query:
    pairs = [("i + 1", "i + 1"), ("j * 2", "j * 2"), ("i - j", "i - j"), ("dd - 1", "dd - 1"), ("i % 3", "i % 3"),
             ("CAST(i AS STRING)", "CAST(i AS VARCHAR)"), ("CAST(dd AS STRING)", "CAST(dd AS VARCHAR)"),
             ("CAST(b AS STRING)", "CAST(b AS VARCHAR)"), ("dd + i", "dd + i"), ("dd * 2", "dd * 2"),
             ("COALESCE(i, j, 0)", "COALESCE(i, j, 0)"), ("UPPER(s)", "upper(s)"), ("LEN(s)", "length(s)"),
             ("s || 'x'", "s || 'x'"), ("-j", "-j"), ("ABS(i)", "abs(i)"), ("CAST(j AS DECIMAL(2))",
                                                                           "CAST(j AS DECIMAL(18,2))"),
             ("CASE WHEN i > 0 THEN 'p' WHEN i < 0 THEN 'n' END", "CASE WHEN i > 0 THEN 'p' WHEN i < 0 THEN 'n' END"),
             ("CASE m WHEN 1 THEN 'one' ELSE 'other' END", "CASE m WHEN 1 THEN 'one' ELSE 'other' END"),
             ("REPLACEALL(s, 'a', 'x')", "replace(s, 'a', 'x')"), ("REVERSE(s)", "reverse(s)"),
             ("SUBSTRING(s, 1, 1)", "substring(s, 2, 1)"),       # FeatureBase counts from 0, DuckDB from 1
             ("SETCONTAINS(ss, 'x')", "CASE WHEN len(ss) > 0 THEN list_contains(ss, 'x') END")]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=4, unique=True))
    wr, wd = draw(where(keyed))
    return Query("SELECT _id, " + ", ".join(r for r, _ in chosen) + f" FROM d{wr}",
                 "SELECT _id, " + ", ".join(d for _, d in chosen) + f" FROM d{wd}")


def _agg_items(draw: Any) -> tuple[list[str], list[str], list[Callable[[list[Any]], Any]]]:
    """Aggregates: (roarbase items, DuckDB items, per-item combiners reading DuckDB columns)."""
    roar, duck, comb = [], [], []
    n = draw(st.integers(1, 4))
    for _ in range(n):
        kind = draw(st.sampled_from(["count_star", "count", "count_distinct", "sum", "avg", "min", "max",
                                     "sum_distinct", "avg_distinct"]))
        if kind == "count_star":
            roar.append("COUNT(*)"), duck.append("count(*)")
        elif kind == "count":
            col = draw(st.sampled_from(COLUMNS + ["_id"]))
            roar.append(f"COUNT({col})")
            duck.append(f"count(CASE WHEN len({col}) > 0 THEN 1 END)" if col in SET_COLS else f"count({col})")
        elif kind == "count_distinct":
            col = draw(st.sampled_from(COLUMNS + ["_id"]))
            roar.append(f"COUNT(DISTINCT {col})")
            duck.append(f"coalesce(len(list_distinct(flatten(list({col})))), 0)" if col in SET_COLS
                        else f"count(DISTINCT {col})")
        elif kind in ("sum", "avg", "sum_distinct", "avg_distinct"):
            col = draw(st.sampled_from(["i", "j", "dd"]))
            dist = "DISTINCT " if kind.endswith("_distinct") else ""
            roar.append(f"{kind[:3].upper()}({dist}{col})")
            duck.append(f"sum({dist}{col})" if kind.startswith("sum") else f"sum({dist}{col}), count({dist}{col})")
        else:
            col = draw(st.sampled_from(["i", "j", "dd", "t", "s", "b", "m"]))
            roar.append(f"{kind.upper()}({col})"), duck.append(f"{kind}({col})")
        comb.append(_avg if kind.startswith("avg") else _one)
    return roar, duck, comb


def _one(vals: list[Any]) -> Any:
    return vals.pop(0)


def _avg(vals: list[Any]) -> Any:
    total, count = vals.pop(0), vals.pop(0)
    if not count:
        return None
    return (Decimal(total) / count).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)


Rows = list[tuple[Any, ...]]


def _combiner(lead: int, comb: list[Callable[[list[Any]], Any]],
              members: tuple[int, ...] = ()) -> Callable[[Rows], Rows]:
    """DuckDB rows as roarbase gives them: aggregates combined (AVG from SUM and COUNT), and
    the UNNESTed keys at positions `members` as one-member sets."""
    def post(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        out = []
        for row in rows:
            rest = list(row[lead:])
            keys = tuple([v] if i in members and v is not None else v for i, v in enumerate(row[:lead]))
            out.append(keys + tuple(c(rest) for c in comb))
        return out
    return post


def _set_key(col: str) -> str:
    """A set column as a DuckDB GROUP BY key of the whole set: sorted, NULL without members."""
    return f"CASE WHEN len({col}) > 0 THEN list_sort({col}) END"


@st.composite
def aggregate(draw: Any, keyed: bool = False) -> Query:
    roar, duck, comb = _agg_items(draw)
    wr, wd = draw(where(keyed))
    return Query(f"SELECT {', '.join(roar)} FROM d{wr}", f"SELECT {', '.join(duck)} FROM d{wd}",
                 post=_combiner(0, comb))


@st.composite
def group_by(draw: Any, keyed: bool = False) -> Query:
    g = draw(st.sampled_from(["s", "m", "b", "i", "j", "t", "ss", "ids"]))
    flat = g in SET_COLS and draw(st.booleans())
    roar, duck, comb = _agg_items(draw)
    wr, wd = draw(where(keyed))
    having_r = having_d = ""
    if draw(st.integers(0, 3)) == 0:
        k = draw(st.integers(0, 3))
        having_r = having_d = f" HAVING COUNT(*) > {k}"
    order_r = order_d = ""
    ordered = False
    if draw(st.booleans()):
        desc = draw(st.booleans())
        order_r = f" ORDER BY {g} {'DESC' if desc else 'ASC'}"
        order_d = f" ORDER BY __k {'DESC NULLS LAST' if desc else 'ASC NULLS FIRST'}"
        if draw(st.booleans()):
            n = draw(st.integers(1, 4))
            order_r += f" LIMIT {n}"
            order_d += f" LIMIT {n}"
        ordered = True
    key = f"unnest({g})" if flat else _set_key(g) if g in SET_COLS else g
    src = f"(SELECT {key} AS __k, d.* FROM d{wd})"
    hint = f" WITH (flatten({g}))" if flat else ""
    return Query(f"SELECT {g}, {', '.join(roar)} FROM d{hint}{wr} GROUP BY {g}{having_r}{order_r}",
                 f"SELECT __k, {', '.join(duck)} FROM {src} GROUP BY __k{having_d}{order_d}",
                 ordered=ordered, post=_combiner(1, comb, (0,) if flat else ()))


@st.composite
def group_by_many(draw: Any, keyed: bool = False) -> Query:
    """GROUP BY two or three columns, NULL keys included (a NULL is its own group)."""
    keys = draw(st.lists(st.sampled_from(["s", "m", "b", "i", "t", "ss", "ids"]), min_size=2, max_size=3,
                         unique=True))
    roar, duck, comb = _agg_items(draw)
    wr, wd = draw(where(keyed))
    flat = [k for k in keys if k in SET_COLS and draw(st.booleans())]
    src, names = f"(SELECT * FROM d{wd})", []
    for n, k in enumerate(keys):            # one UNNEST per level: DuckDB zips UNNESTs of one SELECT
        key = f"unnest({k})" if k in flat else _set_key(k) if k in SET_COLS else k
        src = f"(SELECT {key} AS __k{n}, x{n}.* FROM {src} AS x{n})"
        names.append(f"__k{n}")
    hint = f" WITH ({', '.join(f'flatten({k})' for k in flat)})" if flat else ""
    return Query(f"SELECT {', '.join(keys)}, {', '.join(roar)} FROM d{hint}{wr} GROUP BY {', '.join(keys)}",
                 f"SELECT {', '.join(names)}, {', '.join(duck)} FROM {src} GROUP BY {', '.join(names)}",
                 post=_combiner(len(keys), comb, tuple(i for i, k in enumerate(keys) if k in flat)))


@st.composite
def distinct_many(draw: Any, keyed: bool = False) -> Query:
    cols = draw(st.lists(st.sampled_from(["s", "m", "b", "i", "j", "t"]), min_size=2, max_size=3, unique=True))
    wr, wd = draw(where(keyed))
    return Query(f"SELECT DISTINCT {', '.join(cols)} FROM d{wr}", f"SELECT DISTINCT {', '.join(cols)} FROM d{wd}")


@st.composite
def distinct(draw: Any, keyed: bool = False) -> Query:
    c = draw(st.sampled_from(["s", "m", "b", "i", "j", "t", "ss", "ids"]))
    wr, wd = draw(where(keyed))
    if c in SET_COLS and draw(st.booleans()):
        return Query(f"SELECT DISTINCT {c} FROM d WITH (flatten({c})){wr}",
                     f"SELECT DISTINCT unnest({c}) FROM d{wd}", post=_combiner(1, [], (0,)))
    if c in SET_COLS:
        return Query(f"SELECT DISTINCT {c} FROM d{wr}", f"SELECT DISTINCT {_set_key(c)} FROM d{wd}")
    return Query(f"SELECT DISTINCT {c} FROM d{wr}", f"SELECT DISTINCT {c} FROM d{wd}")


# --- joins, subqueries, views (table e: _id, x INT, y STRING) -------------------------------------------

E_IDS = MS + [7]                          # d.m values (and one that no d record holds)
E_KEYS = STRINGS + ["zz"]                 # d.s values
E_XS = [-5, 0, 3, 10]
E_YS = ["p", "q", ""]


@st.composite
def e_records(draw: Any, keyed: bool) -> dict[Any, dict[str, Any]]:
    ids = draw(st.lists(st.sampled_from(E_KEYS if keyed else E_IDS), max_size=6, unique=True))
    return {i: {"x": draw(st.one_of(st.none(), st.sampled_from(E_XS))),
                "y": draw(st.one_of(st.none(), st.sampled_from(E_YS)))} for i in ids}


def _key(keyed: bool) -> str:
    """d's column that names an e record."""
    return "s" if keyed else "m"


@st.composite
def e_cond(draw: Any) -> tuple[str, str]:
    c = draw(st.sampled_from(["e.x > 0", "e.x <= 3", "e.y = 'p'", "e.y IS NULL", "e.x IS NOT NULL",
                              "e.x IN (0, 10)", "NOT (e.y = 'q')"]))
    return c, c


@st.composite
def join_query(draw: Any, keyed: bool = False) -> Query:
    k = _key(keyed)
    wr, wd = draw(where(keyed))
    # d's conditions, with d's _id qualified (e has one too)
    dw_r, dw_d = (re.sub(r"(?<![.\w])_id\b", "d._id", w[len(" WHERE "):]) for w in (wr, wd)) if wr else ("", "")
    er, ed = draw(e_cond())
    both_r = " AND ".join(x for x in (f"({dw_r})" if dw_r else "", er) if x)
    both_d = " AND ".join(x for x in (f"({dw_d})" if dw_d else "", ed) if x)
    kind = draw(st.sampled_from(["semi_count", "semi_group", "semi_topn", "hash", "hash_group", "left",
                                 "left_null", "other_key", "comma", "by_id_left"]))
    on = f"d.{k} = e._id"
    if kind == "semi_count":
        sel = draw(st.sampled_from(["COUNT(*)", "SUM(d.i)", "COUNT(DISTINCT d.b)", "MIN(d.j)"]))
        return Query(f"SELECT {sel} FROM d JOIN e ON {on} WHERE {both_r}",
                     f"SELECT {sel.lower()} FROM d JOIN e ON {on} WHERE {both_d}")
    if kind == "semi_group":
        g = draw(st.sampled_from(["b", "m", "i"]))
        return Query(f"SELECT d.{g}, COUNT(*) FROM d JOIN e ON {on} WHERE {both_r} GROUP BY d.{g}",
                     f"SELECT d.{g}, count(*) FROM d JOIN e ON {on} WHERE {both_d} GROUP BY d.{g}")
    if kind == "semi_topn":
        return Query(f"SELECT d.m, COUNT(*) FROM d JOIN e ON {on} WHERE {both_r} GROUP BY d.m "
                     "ORDER BY COUNT(*) DESC, d.m LIMIT 2",
                     f"SELECT d.m, count(*) FROM d JOIN e ON {on} WHERE {both_d} GROUP BY d.m "
                     "ORDER BY count(*) DESC, d.m NULLS FIRST LIMIT 2", ordered=True)
    if kind == "hash":
        return Query(f"SELECT d._id, d.i, e.x, e.y FROM d JOIN e ON {on}" + (f" WHERE {dw_r}" if dw_r else ""),
                     f"SELECT d._id, d.i, e.x, e.y FROM d JOIN e ON {on}" + (f" WHERE {dw_d}" if dw_d else ""))
    if kind == "hash_group":
        return Query(f"SELECT e.y, COUNT(*), SUM(e.x), MAX(d.i) FROM d JOIN e ON {on} GROUP BY e.y",
                     f"SELECT e.y, count(*), sum(e.x), max(d.i) FROM d JOIN e ON {on} GROUP BY e.y")
    if kind == "left":
        return Query(f"SELECT d._id, e.x FROM d LEFT JOIN e ON {on} AND {er}",
                     f"SELECT d._id, e.x FROM d LEFT JOIN e ON {on} AND {ed}")
    if kind == "left_null":
        return Query(f"SELECT d._id FROM d LEFT JOIN e ON {on} WHERE e._id IS NULL",
                     f"SELECT d._id FROM d LEFT JOIN e ON {on} WHERE e._id IS NULL")
    if kind == "by_id_left":                     # the table read by _id written first
        return Query(f"SELECT e.y, d._id, d.i FROM e JOIN d ON {on} WHERE {both_r}",
                     f"SELECT e.y, d._id, d.i FROM e JOIN d ON {on} WHERE {both_d}")
    if kind == "other_key":                      # neither side an _id: a hash join
        return Query("SELECT d._id, e._id FROM d JOIN e ON d.i = e.x",
                     "SELECT d._id, e._id FROM d JOIN e ON d.i = e.x")
    return Query(f"SELECT d._id, e.y FROM d, e WHERE {on} AND {er}",
                 f"SELECT d._id, e.y FROM d, e WHERE {on} AND {ed}")


@st.composite
def subquery(draw: Any, keyed: bool = False) -> Query:
    k = _key(keyed)
    wr, wd = draw(where(keyed))
    er, ed = draw(e_cond())
    kind = draw(st.sampled_from(["in", "not_in", "exists", "scalar", "scalar_select", "from", "from_join"]))
    if kind == "in":
        return Query(f"SELECT _id FROM d WHERE {k} IN (SELECT _id FROM e WHERE {er})",
                     f"SELECT _id FROM d WHERE {k} IN (SELECT _id FROM e WHERE {ed})")
    if kind == "not_in":                         # e.x may be NULL: NOT IN with a NULL is never true
        return Query("SELECT _id FROM d WHERE i NOT IN (SELECT x FROM e)",
                     "SELECT _id FROM d WHERE i NOT IN (SELECT x FROM e)")
    if kind == "exists":
        neg = draw(st.sampled_from(["", "NOT "]))
        return Query(f"SELECT COUNT(*) FROM d{wr} {'AND' if wr else 'WHERE'} {neg}EXISTS (SELECT 1 FROM e WHERE {er})",
                     f"SELECT count(*) FROM d{wd} {'AND' if wd else 'WHERE'} {neg}EXISTS (SELECT 1 FROM e WHERE {ed})")
    if kind == "scalar":
        agg = draw(st.sampled_from(["MIN", "MAX"]))
        return Query(f"SELECT _id FROM d WHERE i > (SELECT {agg}(x) FROM e)",
                     f"SELECT _id FROM d WHERE i > (SELECT {agg.lower()}(x) FROM e)")
    if kind == "scalar_select":
        return Query(f"SELECT _id, j - (SELECT COUNT(*) FROM e WHERE {er}) FROM d{wr}",
                     f"SELECT _id, j - (SELECT count(*) FROM e WHERE {ed}) FROM d{wd}")
    if kind == "from":
        return Query(f"SELECT SUM(n), COUNT(*) FROM (SELECT b, COUNT(*) AS n FROM d{wr} GROUP BY b) AS g",
                     f"SELECT sum(n), count(*) FROM (SELECT b, count(*) AS n FROM d{wd} GROUP BY b) AS g")
    return Query(f"SELECT COUNT(*) FROM (SELECT _id, {k} AS key, i FROM d WHERE i > 0) AS x JOIN e ON x.key = e._id",
                 f"SELECT count(*) FROM (SELECT _id, {k} AS key, i FROM d WHERE i > 0) AS x JOIN e ON x.key = e._id")


@st.composite
def view_query(draw: Any, keyed: bool = False) -> Query:
    """Queries over the view v (SELECT _id, i, s AS name, b FROM d WHERE j IS NOT NULL)."""
    wr, wd = draw(st.sampled_from([("", ""), (" WHERE i > 0", " WHERE i > 0"), (" WHERE name = 'a'",
                                                                               " WHERE name = 'a'"),
                                   (" WHERE b", " WHERE b")]))
    q = draw(st.sampled_from(["SELECT _id, name FROM v{}", "SELECT COUNT(*) FROM v{}",
                              "SELECT b, COUNT(*), SUM(i) FROM v{} GROUP BY b", "SELECT * FROM v{}"]))
    return Query(q.format(wr), q.format(wd).replace("COUNT(", "count(").replace("SUM(", "sum("))


def queries(keyed: bool) -> st.SearchStrategy[Query]:
    """The query mix; LIMIT without ORDER BY is left out for string keys (their order is the
    internal key order, FeatureBase's, not the keys' sort order)."""
    return st.one_of(projection(keyed), projection(keyed), ordered_projection(keyed),
                     *([] if keyed else [limited_projection(keyed)]), expressions(keyed),
                     aggregate(keyed), aggregate(keyed), group_by(keyed), group_by(keyed), group_by_many(keyed),
                     distinct(keyed), distinct_many(keyed), join_query(keyed), join_query(keyed),
                     subquery(keyed), view_query(keyed))


# --- comparison ---------------------------------------------------------------------------------------

def norm(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, (int, Decimal)):
        return ("num", Decimal(v).normalize())
    if isinstance(v, float):
        return ("num", Decimal(repr(v)).normalize())
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(UTC).replace(tzinfo=None)
        return ("time", v)
    if isinstance(v, (list, tuple)):
        return ("set", tuple(sorted(map(str, v)))) if v else None
    return ("str", v)


def normalise(rows: list[tuple[Any, ...]], ordered: bool) -> list[tuple[Any, ...]]:
    out = [tuple(norm(v) for v in r) for r in rows]
    return out if ordered else sorted(out, key=repr)


# --- the test ------------------------------------------------------------------------------------------

class _Env:
    def __init__(self) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="roarbase-sqldiff-")
        self.db = engine.open(self.dir.name, fsync=False)
        self.duck = duckdb.connect()
        self.queries = 0

    def close(self) -> None:
        self.db.close()
        self.duck.close()
        self.dir.cleanup()


VIEW = "CREATE VIEW v AS SELECT _id, i, s AS name, b FROM d WHERE j IS NOT NULL"


def _load_e(env: _Env, e: dict[Any, dict[str, Any]], keyed: bool) -> None:
    db, duck = env.db, env.duck
    db.sql("DROP TABLE IF EXISTS e")
    db.sql(f"CREATE TABLE e (_id {'STRING' if keyed else 'ID'}, x INT, y STRING)")
    duck.execute("DROP TABLE IF EXISTS e")
    duck.execute(f"CREATE TABLE e (_id {'VARCHAR' if keyed else 'BIGINT'}, x BIGINT, y VARCHAR)")
    if e:
        rows = ", ".join(f"({_id_lit(i)}, {roar_lit('i', r['x'])}, {roar_lit('s', r['y'])})" for i, r in e.items())
        db.sql(f"INSERT INTO e (_id, x, y) VALUES {rows}")
        duck.execute(f"INSERT INTO e VALUES {rows}")


def _load(env: _Env, records: dict[Any, dict[str, Any]], writes: list[tuple[str, Any, dict[str, Any]]],
          keyed: bool) -> None:
    db, duck = env.db, env.duck
    db.sql("DROP VIEW IF EXISTS v")
    duck.execute("DROP VIEW IF EXISTS v")
    db.sql("DROP TABLE IF EXISTS d")
    db.sql(ROAR_DDL.format(id="STRING" if keyed else "ID"))
    rows = ", ".join("(" + ", ".join([_id_lit(rid)] + [roar_lit(c, rec[c]) for c in COLUMNS]) + ")"
                     for rid, rec in records.items())
    db.sql(f"INSERT INTO d (_id, {', '.join(COLUMNS)}) VALUES {rows}")
    model = {rid: {c: (list(v) if isinstance(v, list) else v) for c, v in rec.items()} for rid, rec in records.items()}
    for verb, rid, values in writes:
        cols = list(values)
        db.sql(f"{verb} INTO d (_id, {', '.join(cols)}) VALUES ({_id_lit(rid)}, "
               + ", ".join(roar_lit(c, values[c]) for c in cols) + ")")
        apply_write(model, verb, rid, values)
    duck.execute("DROP TABLE IF EXISTS d")
    duck.execute(DUCK_DDL.format(id="VARCHAR" if keyed else "BIGINT"))
    if model:
        duck.execute("INSERT INTO d VALUES " + ", ".join(
            "(" + ", ".join([_id_lit(rid)] + [duck_lit(c, rec[c] if c not in SET_COLS else (rec[c] or []))
                                          for c in COLUMNS]) + ")"
            for rid, rec in model.items()))


def _compare(env: _Env, q: Query) -> None:
    got = env.db.sql(q.roar).rows
    want = env.duck.execute(q.duck).fetchall()
    if q.post is not None:
        want = q.post(want)
    env.queries += 1
    assert normalise(got, q.ordered) == normalise(want, q.ordered), (
        f"\n  roarbase: {q.roar}\n  duckdb:   {q.duck}\n  roarbase rows: {got}\n  duckdb rows:   {want}")


@st.composite
def delete_step(draw: Any, keyed: bool = False) -> Optional[tuple[str, str]]:
    if draw(st.integers(0, 3)) != 0:
        return None
    r, d = draw(predicate(1, keyed, exprs=False))
    return f"DELETE FROM d WHERE {r}", f"DELETE FROM d WHERE {d}"


@pytest.mark.parametrize("keyed", [False, True], ids=["id", "string-keys"])
def test_differential_with_duckdb(keyed):
    env = _Env()
    examples = EXAMPLES if not keyed else max(EXAMPLES // 3, 1)
    try:
        @settings(max_examples=examples, deadline=None, database=None, print_blob=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(data=datasets(keyed), e=e_records(keyed), delete=delete_step(keyed),
               queries=st.lists(queries(keyed), min_size=QUERIES, max_size=QUERIES))
        def check(data, e, delete, queries):
            records, writes = data
            _load(env, records, writes, keyed)
            _load_e(env, e, keyed)
            env.db.sql(VIEW)
            env.duck.execute(VIEW)
            if delete is not None:
                r, d = delete
                n = env.db.sql(r).rows_affected
                before = env.duck.execute("SELECT count(*) FROM d").fetchone()[0]
                env.duck.execute(d)
                after = env.duck.execute("SELECT count(*) FROM d").fetchone()[0]
                assert n == before - after, f"\n  {r}: roarbase deleted {n}, duckdb {before - after}"
            _compare(env, Query("SELECT _id, " + ", ".join(COLUMNS) + " FROM d",
                                "SELECT _id, " + ", ".join(COLUMNS) + " FROM d"))
            for q in queries:
                _compare(env, q)

        check()
        print(f"\nSQL differential ({'string keys' if keyed else 'ids'}): datasets={examples} queries={env.queries}")
    finally:
        env.close()
