"""R8 (RELIABILITY.md), quick size (a full size, 4× the strings, is marked slow), for SQL: fuzzed
statements through parse → lower → execute on the small fixture database (sql_fixture.py).

Inputs, about 1,040 per run (derandomized, so every run sends the same strings):
  * grammar-generated: hypothesis.extra.lark.from_lark on engine/sql/sql.lark — as is
    (random names: most strings stop at "table not found") and tuned (keywords padded with
    spaces, names drawn mostly from the fixture's tables, columns, types and functions,
    small numbers);
  * mutations of a valid corpus (every golden-file statement): bit flips in the UTF-8
    bytes, truncation, duplicated / dropped / swapped tokens, inserted odd characters,
    numbers made huge, names replaced by other names or keywords;
  * pathological: COUNT( × 10,000, nesting at and past the limit, huge literals, long lists,
    many statements, size at and past the size limit, odd Unicode.

Each text runs in a child process (sql_worker.py), so a hang or a crash is recorded instead
of stopping the run; the worker rebuilds the fixture when a statement dropped or emptied it.
Outcome classes: ok, QuerySyntaxError (must carry line and column), QueryExecutionError
and its subclasses, QueryLimitError, and the engine's validation errors for DDL/DML
(InvalidOptionError, ValueOutOfRangeError, AlreadyExistsError, NotFoundError, …). Anything
else — another exception type, a storage/internal engine error, a text over 1 s of CPU, a
hang (no answer in 20 s), a crash — is unexpected and fails the test.

Known engine bugs: an exception matching one of KNOWN_BUGS is counted under known_bugs in
the figures instead of failing the run, and each has a strict-xfail reproducer below
(when one of those starts passing, delete its KNOWN_BUGS entry too). Known slow shapes are
kept out of the pathological list at their slow size and reproduced below (long IN lists).
"""
from __future__ import annotations

import collections
import datetime as dt
import os
import random
import re
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import hypothesis.strategies as st
import pytest
from childenv import child_env
from hypothesis import HealthCheck, given, settings
from hypothesis.extra.lark import from_lark
from lark import Lark

import engine
from engine.errors import InvalidNameError, TypeMismatchError
from engine.sql.parser import MAX_DEPTH, MAX_QUERY_BYTES, grammar_text

from .golden_format import all_files
from .sql_worker import Worker

N_GRAMMAR = 300
N_MUTATED = 660
SEED = 8
HANG_S = 20.0
LIMIT_S = 1.0

TABLES = ["people", "cities", "empty"]
COLUMNS = ["_id", "name", "tags", "age", "score", "active", "born", "team", "codes", "level", "temp", "visits",
           "state", "pop", "zips", "x", "s", "ss"]
TYPES = ["ID", "STRING", "IDSET", "STRINGSET", "IDSETQ", "STRINGSETQ", "INT", "DECIMAL", "BOOL", "TIMESTAMP",
         "MIN", "MAX", "CACHETYPE", "SIZE", "TIMEUNIT", "EPOCH", "TIMEQUANTUM", "TTL", "RANKED", "LRU"]
FUNCS = ["COUNT", "SUM", "AVG", "MIN", "MAX", "PERCENTILE", "SETCONTAINS", "SETCONTAINSANY", "SETCONTAINSALL",
         "RANGEQ", "UPPER", "LOWER", "LEN", "REVERSE", "TRIM", "ABS", "COALESCE", "flatten"]
NAMES = TABLES * 6 + COLUMNS * 2 + TYPES + FUNCS
STRINGS = ["'ann'", "'red'", "'x'", "''", "'2023-01-01'", "'2000-01-01T00:00:00Z'", "'a%'", "'_o_'", "'CSV'",
           "'NDJSON'", "'PARQUET'", "'STREAM'", "'FILE'", "'YMD'", "'24h'", "'ms'", "'$.id'", "'{data}/people.csv'"]


# --- the strings ------------------------------------------------------------------------------------

def _tuned_terminals(g: Lark) -> dict[str, st.SearchStrategy[str]]:
    explicit: dict[str, st.SearchStrategy[str]] = {}
    for t in g.terminals:
        v = t.pattern.value
        if type(t.pattern).__name__ == "PatternStr" and re.fullmatch(r"[A-Z_]+", v):
            explicit[t.name] = st.sampled_from([f" {v} ", f" {v.lower()} "])
    explicit.update({
        "WS": st.just(" "),
        "COMMENT_LINE": st.just(" -- c\n"),
        "DIRECTION": st.sampled_from([" ASC ", " desc "]),
        "INSERT_VERB": st.sampled_from([" INSERT ", " replace "]),
        "JOIN_KIND": st.sampled_from([" INNER ", " LEFT OUTER ", " cross "]),
        "NAME": st.one_of(st.sampled_from(NAMES), st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True))
                  .map(lambda s: f" {s} "),
        "QUOTED_NAME": st.sampled_from(['"name"', "`age`", '"people"', '"a""b"', '""']),
        "INT": st.sampled_from(["0", "1", "2", "3", "10", "18", "30", "50", "100", "1048576", "2023",
                                "946684800"]).map(lambda s: f" {s} "),
        "DECIMAL": st.sampled_from(["1.5", "0.01", "9.25", ".5", "10.", "-1.75"[1:]]),
        "STRING": st.sampled_from(STRINGS),
        "PARAM": st.sampled_from(["@0", "@1", "@2"]),
    })
    return {k: v for k, v in explicit.items() if k in {t.name for t in g.terminals} | {"WS", "COMMENT_LINE"}}


def grammar_strings(n: int) -> list[str]:
    g = Lark(grammar_text(), parser="lalr")
    tuned = _tuned_terminals(g)
    # (from_lark starting at an expression-heavy rule such as `select` or `where` is about
    # 0.3 s per example, too slow for the quick run; `start` mostly yields short statements.)
    strategy = st.one_of(from_lark(g), from_lark(g, explicit=tuned))
    out: list[str] = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(text: str) -> None:
        out.append(text)

    collect()
    return out


_TOKEN = re.compile(r"\s+|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d*)?|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|<>|!=|<=|>=|\|\||.")
_ODD = ["\x00", "é", "\u202e", "\ufeff", "😀", "\ud800", "\udfff", "'", '"', "`", "(", ")", "[", "]", "{", "}",
        ",", ";", "--", "=", "<>", "@", "x'", "٣", "０", "\t", "\n", "*", "NULL"]
_KEYWORDS = ["SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "NULL", "IN", "BETWEEN", "LIKE", "IS", "GROUP", "BY",
             "ORDER", "LIMIT", "OFFSET", "HAVING", "DISTINCT", "TOP", "AS", "JOIN", "ON", "CAST", "INSERT",
             "REPLACE", "INTO", "VALUES", "DELETE", "CREATE", "TABLE", "DROP", "ALTER", "ADD", "COLUMN", "SHOW",
             "TABLES", "COLUMNS", "EXPLAIN", "BULK", "MAP", "TRANSFORM", "WITH", "FORMAT", "INPUT", "TRUE", "FALSE"]


def _mutate(text: str, rng: random.Random) -> str:
    op = rng.randrange(8)
    if op == 0 and text:                                   # flip one bit of the UTF-8 bytes
        raw = bytearray(text.encode("utf-8", "surrogatepass"))
        i = rng.randrange(len(raw))
        raw[i] ^= 1 << rng.randrange(8)
        return raw.decode("utf-8", "surrogateescape")
    if op == 1 and text:                                   # truncate
        return text[:rng.randrange(len(text))]
    toks = _TOKEN.findall(text) or [""]
    i = rng.randrange(len(toks))
    if op == 2:                                            # duplicate a token
        toks.insert(i, toks[i])
    elif op == 3 and len(toks) > 1:                        # drop a token
        del toks[i]
    elif op == 4 and len(toks) > 1:                        # swap two tokens
        j = rng.randrange(len(toks))
        toks[i], toks[j] = toks[j], toks[i]
    elif op == 5:                                          # insert odd characters
        toks.insert(i, "".join(rng.choice(_ODD) for _ in range(rng.randint(1, 3))))
    elif op == 6:                                          # numbers become huge or odd
        nums = [k for k, t in enumerate(toks) if re.fullmatch(r"\d+(\.\d*)?", t)]
        if nums:
            toks[rng.choice(nums)] = rng.choice(["18446744073709551616", "9223372036854775808", "0", "1e5",
                                                 "9" * 5000, "00000000000000000001", "1.", ".5", "4294967296",
                                                 "99999999999"])
    else:                                                  # replace a name with another name or a keyword
        names = [k for k, t in enumerate(toks) if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", t)]
        if names:
            toks[rng.choice(names)] = rng.choice(NAMES + _KEYWORDS)
    return "".join(toks)


def mutated_strings(n: int, rng: random.Random) -> list[str]:
    corpus = [c.sql for gf in all_files() for c in gf.cases]
    out = []
    for _ in range(n):
        text = rng.choice(corpus)
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            text = _mutate(text, rng)
        out.append(text)
    return out


def pathological_strings(rng: random.Random) -> list[tuple[str, str]]:
    deep, limit = MAX_DEPTH, MAX_QUERY_BYTES
    cases = {
        "count-x10000": "SELECT COUNT(" * 10_000,
        "count-x10000-closed": "SELECT " + "COUNT(" * 10_000 + "*" + ")" * 10_000 + " FROM people",
        "parens-at-limit": "SELECT " + "(" * deep + "1" + ")" * deep + " FROM people",
        "parens-past-limit": "SELECT " + "(" * (deep + 1) + "1" + ")" * (deep + 1) + " FROM people",
        "set-nesting": "SELECT _id FROM people WHERE SETCONTAINSANY(tags, " + "[" * 100 + "'a'" + "]" * 100 + ")",
        "tuple-nesting": "INSERT INTO people (_id, visits) VALUES (1, " + "{1, " * 80 + "[1]" + "}" * 80 + ")",
        "quoted-parens": "SELECT _id FROM people WHERE name = '" + "(" * 10_000 + "'",
        "quoted-name-parens": 'SELECT "' + "(" * 10_000 + '" FROM people',
        "huge-int": "SELECT _id FROM people WHERE age = " + "9" * 5000,
        "huge-int-insert": "INSERT INTO people (_id, age) VALUES (" + "9" * 5000 + ", 1)",
        "int64-overflow": "SELECT _id FROM people WHERE age = 9223372036854775808",
        "uint64-overflow-id": "SELECT _id FROM people WHERE _id = 18446744073709551616",
        "uint64-overflow-insert": "INSERT INTO people (_id, age) VALUES (18446744073709551616, 1)",
        "int-out-of-range-insert": "INSERT INTO people (_id, age) VALUES (1, 9223372036854775808)",
        "long-fraction": "SELECT _id FROM people WHERE score = 0." + "0" * 5000 + "1",
        "decimal-insert-long": "INSERT INTO people (_id, score) VALUES (1, 0." + "1" * 3000 + ")",
        "huge-string": "SELECT _id FROM people WHERE name = '" + "x" * (limit - 100) + "'",
        "huge-quoted-name": 'SELECT "' + "a" * (limit - 100) + '" FROM people',
        "huge-name": "SELECT " + "a" * (limit - 100) + " FROM people",
        "size-at-limit": "SELECT COUNT(*) FROM people" + " " * (limit - 26),
        "size-past-limit": "SELECT COUNT(*) FROM people" + " " * (limit - 25),
        "many-statements": "SELECT COUNT(*) FROM people;" * 1500,
        "many-inserts": "INSERT INTO people (_id, age) VALUES (1, 2);" * 1000,
        "in-list-5000": "SELECT _id FROM people WHERE age IN (" + ",".join(["1"] * 5000) + ")",
        "not-in-strings": "SELECT _id FROM people WHERE name NOT IN (" + ",".join(["'a'"] * 5000) + ")",
        "setany-5000": "SELECT _id FROM people WHERE SETCONTAINSANY(tags, [" + ",".join(["'a'"] * 5000) + "])",
        "select-list-5000": "SELECT " + ",".join(["pop"] * 5000) + " FROM cities",
        "order-by-5000": "SELECT _id FROM cities ORDER BY " + ",".join(["pop"] * 5000),
        "group-by-7": "SELECT COUNT(*) FROM people GROUP BY tags, codes, visits, name, team, active, age",
        "or-chain-300": "SELECT _id FROM people WHERE " + " OR ".join(["age = 1"] * 300),
        "not-chain-500": "SELECT _id FROM people WHERE " + "NOT " * 500 + "active",
        "explain-chain": "EXPLAIN " * 1000 + "SELECT _id FROM people",
        "like-wildcards": "SELECT _id FROM people WHERE name LIKE '" + "%_" * 5000 + "'",
        "like-expression": "SELECT name LIKE '" + "%" * 50 + "a" + "%" * 50 + "b' FROM people",
        "nul-bytes": "SELECT _id FROM people\x00\x00",
        "nul-in-string": "SELECT _id FROM people WHERE name = 'a\x00b'",
        "only-comment": "-- SELECT _id FROM people",
        "empty": "",
        "semicolons": ";",
        "bom": "\ufeffSELECT _id FROM people",
        "surrogate-in-select": "SELECT _id FROM people WHERE name = '\ud800\udc00\ud800'",
        "rtl-override": "SELECT _id FROM people WHERE name = '\u202eabc'",
        "unicode-digits": "SELECT _id FROM people WHERE age = ٣٠",
        "ts-extremes": "SELECT _id FROM people WHERE born > '0001-01-01T00:00:00Z' AND born < '9999-12-31T23:59:59Z'",
        "ts-garbage": "SELECT _id FROM people WHERE RANGEQ(visits, '9999-99-99T99:99', '0000-00-00')",
        "limit-huge": "SELECT _id FROM people ORDER BY _id LIMIT 99999999999999999999 OFFSET 99999999999999999999",
        "top-huge": "SELECT TOP(99999999999999999999) _id FROM people",
        "percentile-tiny": "SELECT PERCENTILE(age, 0.0000000000000000000000001) FROM people",
        "cast-big-exponent": "SELECT CAST('1e9999' AS INT) FROM people WHERE _id = 1",
        "decimal-scale-huge": "SELECT CAST(age AS DECIMAL(99999999999999999999)) FROM people",
        "create-many-columns": "CREATE TABLE wide (_id ID, " + ", ".join(f"c{i} INT" for i in range(150)) + ")",
        "drop-wide": "DROP TABLE IF EXISTS wide",
        "ttl-huge": "CREATE TABLE ttl1 (_id ID, q IDSETQ TIMEQUANTUM 'YMD' TTL '99999999999999999999h')",
        "cachesize-huge": "CREATE TABLE cs1 (_id ID, s STRING CACHETYPE RANKED SIZE 99999999999999999999)",
        "drop-tables": "DROP TABLE IF EXISTS ttl1; DROP TABLE IF EXISTS cs1",
        # last: these add thousands of records to people
        "insert-many-rows": "INSERT INTO people (_id, age) VALUES " + ",".join(f"({i}, 1)" for i in range(1500)),
        "bulk-inline-many-rows": "BULK INSERT INTO people (_id, age) MAP (0 ID, 1 INT) FROM x'"
                                 + "\n".join(f"{i},{i % 100}" for i in range(5000)) + "' WITH FORMAT 'CSV'",
    }
    out = list(cases.items())
    for i in range(24):                                   # random Unicode text, some statement-shaped
        chars = "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x80, 0x3000),
                                        rng.randrange(0x10000, 0x10FFFF)])) for _ in range(rng.randint(1, 60)))
        chars = chars.replace("\ud800", "")
        text = chars if i % 2 else f"SELECT _id FROM people WHERE name = '{chars}' OR {chars} = 1"
        out.append((f"unicode-{i}", text))
    return out


# --- classifying ---------------------------------------------------------------------------------------

# name → test on the worker's outcome; each has a strict-xfail reproducer below.
KNOWN_BUGS: dict[str, Callable[[dict[str, Any]], bool]] = {
}
# Engine errors that are never a proper answer to a statement.
_NEVER = {"EngineError", "DataCorruptedError", "StorageFailedError", "StorageFullError", "ClosedError"}


def classify(res: dict[str, Any]) -> tuple[str, bool]:
    """(outcome class, expected?)"""
    kind = res["kind"]
    if kind in ("hang", "crash"):
        return kind, False
    if res.get("cpu_s", 0.0) > LIMIT_S:
        return "slow", False
    if kind == "ok":
        return "ok", True
    if kind == "exception":
        for name, test in KNOWN_BUGS.items():
            if test(res):
                return f"known:{name}", True
        return f"exception:{res['type']}", False
    if res["type"] in _NEVER:
        return f"error:{res['type']}", False
    if not res["query_error"]:
        return f"EngineError:{res['type']}", True
    if res["type"] == "QuerySyntaxError":
        if not (res["line"] and res["column"]):
            return "QuerySyntaxError-without-position", False
        return "QuerySyntaxError", True
    if res["type"] in ("QueryLimitError", "QueryError"):
        return res["type"], True
    return "QueryExecutionError", True


@dataclass
class Report:
    strings: int = 0
    by_source: collections.Counter = field(default_factory=collections.Counter)
    outcomes: collections.Counter = field(default_factory=collections.Counter)
    execution_errors: collections.Counter = field(default_factory=collections.Counter)
    unexpected: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    known: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    max_parse_s: float = 0.0
    max_cpu_s: float = 0.0
    max_wall_s: float = 0.0
    slowest: str = ""
    worker_restarts: int = 0
    rebuilds: int = 0
    rss_start_kib: int = 0
    rss_max_kib: int = 0

    def summary(self) -> str:
        unexpected = collections.Counter(f"{r['kind']}:{r.get('type', '')}" for _, _, r in self.unexpected)
        known = collections.Counter(k for k in self.outcomes if k.startswith("known:"))
        known = collections.Counter({k[6:]: self.outcomes[k] for k in known})
        outcomes = {k: v for k, v in self.outcomes.items() if not k.startswith("known:")}
        return (f"R8-SQL: strings={self.strings} sources={dict(self.by_source)} outcomes={outcomes} "
                f"unexpected={len(self.unexpected)} {dict(unexpected)} known_bugs={dict(known)} "
                f"max_parse_s={self.max_parse_s:.3f} max_cpu_s={self.max_cpu_s:.3f} max_wall_s={self.max_wall_s:.3f} "
                f"(slowest: {self.slowest[:60]!r}) rss_delta_mib="
                f"{(self.rss_max_kib - self.rss_start_kib) / 1024:.1f} worker_restarts={self.worker_restarts} "
                f"fixture_rebuilds={self.rebuilds} cores={os.cpu_count()} load={os.getloadavg()[0]:.1f}")


def run_r8(template: Any, data_dir: Any, scratch: Any, scale: int = 1) -> Report:
    rng = random.Random(SEED)
    strings = [("grammar", s) for s in grammar_strings(N_GRAMMAR * scale)]
    strings += [("mutated", s) for s in mutated_strings(N_MUTATED * scale, rng)]
    strings += [(f"pathological:{name}", s) for name, s in pathological_strings(rng)]
    rep = Report(strings=len(strings))
    path = str(scratch / "data")
    shutil.copytree(template, path)
    worker: Optional[Worker] = None
    try:
        for source, text in strings:
            rep.by_source[source.split(":")[0]] += 1
            if worker is None or not worker.alive:
                if worker is not None:
                    worker.kill()
                    rep.worker_restarts += 1
                worker = Worker(path, str(data_dir))
                rep.rss_start_kib = rep.rss_start_kib or worker.rss_start
            res = worker.ask(text, HANG_S)
            outcome, ok = classify(res)
            rep.outcomes[outcome] += 1
            if outcome == "QueryExecutionError":
                rep.execution_errors[res["type"]] += 1
            rep.rebuilds += bool(res.get("rebuilt"))
            rep.max_parse_s = max(rep.max_parse_s, res.get("parse_s", 0.0))
            if res.get("cpu_s", 0.0) > rep.max_cpu_s:
                rep.max_cpu_s, rep.slowest = res["cpu_s"], f"{source}: {text}"
            rep.max_wall_s = max(rep.max_wall_s, res.get("total_s", 0.0))
            rep.rss_max_kib = max(rep.rss_max_kib, res.get("rss_kib", 0))
            if outcome.startswith("known:"):
                rep.known.append((source, text, res))
            elif not ok:
                rep.unexpected.append((source, text, res))
    finally:
        if worker is not None:
            worker.close()
    return rep


@pytest.mark.reliability
@pytest.mark.parametrize("scale", [pytest.param(1, id="quick"), pytest.param(4, id="full", marks=pytest.mark.slow)])
def test_r8_fuzzed_sql(sql_template, sql_data_dir, tmp_path, scale) -> None:
    r8 = run_r8(sql_template, sql_data_dir, tmp_path, scale)
    print("\n" + r8.summary())
    print(f"R8-SQL execution errors: {dict(r8.execution_errors)}")
    for src, q, res in r8.known[:10]:
        print(f"R8-SQL known bug [{src}] {q[:120]!r} -> {res.get('type')}: {res.get('message', '')[:80]}")
    assert r8.strings >= 1000, r8.summary()
    assert r8.outcomes["ok"] > 0 and r8.outcomes["QueryExecutionError"] > 0 and r8.outcomes["QuerySyntaxError"] > 0, \
        r8.summary()
    details = "\n".join(f"  [{src}] {q[:200]!r} -> {res}" for src, q, res in r8.unexpected[:20])
    assert not r8.unexpected, f"{r8.summary()}\nunexpected outcomes:\n{details}"


# --- reproducers of the known bugs (strict xfail: each must fail until the engine is fixed) ---------------

def _typed(db: engine.Holder, text: str) -> None:
    """The text must run or raise an engine error, within a second of CPU."""
    c0 = time.process_time()
    try:
        db.sql(text)
    except engine.EngineError:
        pass
    assert time.process_time() - c0 < LIMIT_S, f"{text[:80]!r} took {time.process_time() - c0:.2f} s of CPU"


def test_long_operator_chains_work(sql_db):
    """A chain of one operator is one n-ary node: 1,000+ terms run, with the right answer."""
    q = sql_db.sql
    ors = " OR ".join(["age = 1"] * 999 + ["age = 65"])
    assert q("SELECT _id FROM people WHERE " + ors).rows == [(1048576,)]
    ands = " AND ".join(["age > 1"] * 999 + ["age < 20"])
    assert q("SELECT _id FROM people WHERE " + ands).rows == [(6,)]
    assert q("SELECT " + "+".join(["1"] * 1500) + " FROM people WHERE _id = 1").rows == [(1500,)]
    assert q("SELECT 'a' " + "|| 'x' " * 1500 + "FROM people WHERE _id = 1").rows == [("a" + "x" * 1500,)]
    # left to right within a level, precedence between levels
    assert q("SELECT 10 - 2 - 3, 2 + 3 * 4 - 6 / 2, 100 / 10 / 5 % 3 FROM people WHERE _id = 1").rows == \
        [(5, 11, 2)]
    assert q("SELECT _id FROM people WHERE " + " AND ".join(["NOT (age = 1 OR age = 2)"] * 1000)
             + " AND age = 18").rows == [(6,)]
    assert q("SELECT _id FROM people WHERE " + "NOT " * 5001 + "(age = 18)").rows == \
        q("SELECT _id FROM people WHERE age != 18").rows
    assert q("SELECT _id, " + "NOT " * 5000 + "active FROM people").rows == q("SELECT _id, active FROM people").rows


@pytest.mark.parametrize("text", [
    "SELECT " + "- " * 5000 + "age FROM people",
    "EXPLAIN " * 5000 + "SELECT _id FROM people",
], ids=["neg", "explain"])
def test_deep_syntax_trees_are_limit_errors(sql_db, text):
    with pytest.raises(engine.QueryLimitError):
        sql_db.sql(text)


def test_integer_timestamps_past_year_9999_compare_exactly(sql_db):
    # born: 1 and 6 → 2000-01-01, 2 → 1990-06-15, 4 → 2010-03-04, 1048576 → 1970-01-01
    q = sql_db.sql
    assert q("SELECT _id FROM people WHERE born > 99999999999999999999").rows == []
    assert q("SELECT _id FROM people WHERE born > 999999999999").rows == []
    assert q("SELECT _id FROM people WHERE born < 999999999999").rows == [(1,), (2,), (4,), (6,), (1048576,)]
    assert q("SELECT _id FROM people WHERE born >= -99999999999999").rows == [(1,), (2,), (4,), (6,), (1048576,)]
    assert q("SELECT _id FROM people WHERE born BETWEEN 0 AND 999999999999").rows == \
        [(1,), (2,), (4,), (6,), (1048576,)]
    assert q("SELECT _id FROM people WHERE born = 946684800").rows == [(1,), (6,)]


def test_integer_timestamps_past_year_9999_in_epoch_columns(fresh_sql_db):
    db = fresh_sql_db()
    db.sql("CREATE TABLE ep (_id ID, t TIMESTAMP TIMEUNIT 'ms' EPOCH '2000-01-01T00:00:00Z')")
    db.sql("INSERT INTO ep (_id, t) VALUES (1, 946684801), (2, '1999-12-31T23:59:59Z')")
    assert db.sql("SELECT _id FROM ep WHERE t > 946684800").rows == [(1,)]
    assert db.sql("SELECT _id FROM ep WHERE t < 99999999999999").rows == [(1,), (2,)]


@pytest.mark.parametrize("text, error", [
    ("SELECT _id FROM people WHERE RANGEQ(visits, 999999999999, NULL)", TypeMismatchError),
    ("INSERT INTO people (_id, born) VALUES (1, 999999999999)", engine.InvalidValueError),
    ("INSERT INTO people (_id, born) VALUES (1, -99999999999999)", engine.InvalidValueError),
    ("BULK INSERT INTO people (_id, born) MAP ('$.a' ID, '$.b' TIMESTAMP) FROM x'{\"a\": 1, \"b\": 1e300}' "
     "WITH FORMAT 'NDJSON' INPUT 'STREAM'", TypeMismatchError),
    ("BULK INSERT INTO people (_id, born) MAP ('$.a' ID, '$.b' TIMESTAMP) FROM x'{\"a\": 1, \"b\": Infinity}' "
     "WITH FORMAT 'NDJSON' INPUT 'STREAM'", TypeMismatchError),
], ids=["rangeq", "insert", "insert-negative", "bulk", "bulk-infinity"])
def test_timestamps_out_of_range_are_typed(fresh_sql_db, text, error):
    db = fresh_sql_db()
    with pytest.raises(error):
        db.sql(text)
    assert db.sql("SELECT born FROM people WHERE _id = 1").rows == [(dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc),)]


def test_integer_timestamp_at_the_edges_of_datetime(fresh_sql_db):
    db = fresh_sql_db()
    db.sql("INSERT INTO people (_id, born) VALUES (1, 253402300799), (2, -62135596800)")
    assert db.sql("SELECT born FROM people WHERE _id IN (1, 2) ORDER BY _id").rows == [
        (dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc),),
        (dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc),)]


def test_long_decimal_literals_compare_exactly(sql_db):
    # score: 1 9.25, 2 10.00, 3 12.50, 4 -1.75, 6 0.01, 1048576 10.00
    q = sql_db.sql
    big = "1" + "0" * 40 + ".5"
    assert q(f"SELECT _id FROM people WHERE score > {big}").rows == []
    assert q(f"SELECT _id FROM people WHERE score < {big}").rows == [(1,), (2,), (3,), (4,), (6,), (1048576,)]
    assert q(f"SELECT _id FROM people WHERE score > -{big}").rows == [(1,), (2,), (3,), (4,), (6,), (1048576,)]
    assert q(f"SELECT _id FROM people WHERE score BETWEEN 10 AND {big}").rows == [(2,), (3,), (1048576,)]
    assert q(f"SELECT _id FROM people WHERE score = {big}").rows == []
    assert q("SELECT _id FROM people WHERE score = 10.00" + "0" * 60 + "1").rows == [(2,), (1048576,)]


@pytest.mark.parametrize("text", [
    "INSERT INTO people (_id, name) VALUES (1, '\ud800')",
    "INSERT INTO people (_id, tags) VALUES (1, ['ok', 'x\udfff'])",
    "REPLACE INTO people (_id, name) VALUES (1, 'x'), (2, '\ud800')",
    "INSERT INTO cities (_id, pop) VALUES ('\ud800', 1)",
    "BULK INSERT INTO people (_id, name) MAP ('$.a' ID, '$.b' STRING) FROM x'{\"a\": 1, \"b\": \"\\ud800\"}' "
    "WITH FORMAT 'NDJSON'",
    "BULK INSERT INTO people (_id, name) MAP (0 ID) TRANSFORM (@0, '\ud800') FROM x'1' WITH FORMAT 'CSV'",
], ids=["insert", "set-member", "second-row", "string-id", "bulk-ndjson", "bulk-transform"])
def test_lone_surrogates_are_invalid_values(fresh_sql_db, text):
    db = fresh_sql_db()
    with pytest.raises(engine.InvalidValueError):
        db.sql(text)
    assert db.sql("SELECT name, tags FROM people WHERE _id = 1").rows == [("ann", ["red", "blue"])]
    assert db.sql("SELECT COUNT(*) FROM cities").rows == [(4,)]


# CPU seconds a long-list statement may take. The quadratic paths these tests guard against
# took 2.4-2.6 s; the linear ones take 0.05-0.1 s alone but several times that on a shared,
# loaded 2-core machine, so the bound sits between with room on both sides.
CPU_BOUND = 1.5


def _cpu(db: engine.Holder, text: str) -> tuple[float, list[tuple[Any, ...]]]:
    c0 = time.process_time()
    rows = db.sql(text).rows
    return time.process_time() - c0, rows


def test_long_in_list_is_fast(sql_db):
    n = (MAX_QUERY_BYTES - 60) // 2                        # ~49,000 items, 96 KiB (was ~2 s of CPU)
    cpu, rows = _cpu(sql_db, "SELECT _id FROM people WHERE age IN (" + ",".join(["1"] * n) + ")")
    assert rows == [] and cpu < CPU_BOUND, cpu
    cpu, rows = _cpu(sql_db, "SELECT _id FROM people WHERE age IN (" + ",".join(["1"] * (n - 2)) + ",30)")
    assert rows == [(1,), (4,)] and cpu < CPU_BOUND, cpu


_WITH_AGE = [(1,), (2,), (3,), (4,), (6,), (1048576,)]


@pytest.mark.parametrize("text, expected", [
    # ages 30 40 55 30 18 65; one run of 16,000 values, then 3,000 runs
    ("SELECT _id FROM people WHERE age IN ({})".format(",".join(map(str, range(16000)))), _WITH_AGE),
    ("SELECT _id FROM people WHERE age IN ({})".format(",".join(str(5 * i) for i in range(3000))),
     [(1,), (2,), (3,), (4,), (1048576,)]),
    ("SELECT _id FROM people WHERE age NOT IN ({})".format(",".join(str(5 * i) for i in range(3000))), [(6,)]),
    ("SELECT _id FROM people WHERE age NOT IN ({}, NULL)".format(",".join(str(5 * i) for i in range(3000))), []),
    ("SELECT _id FROM people WHERE age IN ({}, NULL, 18)".format(",".join(str(-i) for i in range(3000))), [(6,)]),
    # scores 9.25 10.00 12.50 -1.75 0.01 10.00
    ("SELECT _id FROM people WHERE score IN ({}, 12.5)".format(",".join(f"{i}.25" for i in range(3000))),
     [(1,), (3,)]),
    ("SELECT _id FROM people WHERE score IN ({})".format(",".join(f"-{i}.75" for i in range(3000))), [(4,)]),
    # born: 1 and 6 at 946684800 (Unix seconds)
    ("SELECT _id FROM people WHERE born IN ({})".format(",".join(str(946684800 + 7 * i) for i in range(3000))),
     [(1,), (6,)]),
    # teams 10 10 20 20 - 30 - 10
    ("SELECT _id FROM people WHERE team IN ({})".format(",".join(str(i) for i in range(20, 9000))),
     [(3,), (4,), (6,)]),
    ("SELECT _id FROM people WHERE team NOT IN ({})".format(",".join(str(i) for i in range(11, 9000))),
     [(1,), (2,), (1048576,)]),
    ("SELECT _id FROM people WHERE _id IN ({})".format(",".join(str(i) for i in range(3, 9000))),
     [(3,), (4,), (5,), (6,), (7,)]),
    ("SELECT _id FROM people WHERE name IN ({}, 'ann')".format(",".join(f"'k{i}'" for i in range(3000))),
     [(1,), (6,)]),
    ("SELECT _id FROM cities WHERE _id IN ({}, 'la', 'sf')".format(",".join(f"'k{i}'" for i in range(3000))),
     [("la",), ("sf",)]),
    ("SELECT _id, age IN ({}) FROM people WHERE _id < 3".format(",".join(str(i) for i in range(35, 3000))),
     [(1, False), (2, True)]),
], ids=["int-run", "int-many", "int-not-in", "not-in-null", "in-null", "decimal", "decimal-negative",
        "timestamp", "id-column", "id-column-not-in", "record-ids", "strings", "string-ids", "projection"])
def test_long_in_lists(sql_db, text, expected):
    cpu, rows = _cpu(sql_db, text)
    assert sorted(rows, key=str) == sorted(expected, key=str)
    assert cpu < CPU_BOUND, cpu


_NUMS = ", ".join(str(i) for i in range(100, 140))
_LONG = ", ".join(["1", "-2", "- 3", "4.5", ".5", "10.", "-0.25", "'a'", "'it''s'", "''", "NULL", "null", "007", _NUMS])


@pytest.mark.parametrize("text", [
    f"SELECT _id FROM people WHERE age IN ({_LONG})",
    f"SELECT _id FROM people WHERE NOT age not in ({_LONG}) OR name In({_LONG})",
    f"SELECT age IN ({_LONG}), 'x IN ({_NUMS})' FROM people -- IN ({_LONG})\nWHERE \"IN ({_NUMS})\" = 1",
    f"DELETE FROM people WHERE age IN ({_LONG}); SELECT _id FROM people WHERE age IN ({_LONG[:-5]})",
    f"SELECT _id FROM people WHERE age IN ({_LONG}, age)",
])
def test_long_in_lists_parse_as_the_grammar_does(text):
    from engine.sql import parser

    assert parser._parse_cached.__wrapped__(text) == parser._parser().parse(text)


@pytest.mark.parametrize("items", ["1, " * 30000 + "x", "1 , - " * 20000, "'a', " * 20000 + "'", " 1" * 40000])
def test_literal_lists_are_scanned_in_linear_time(items):
    from engine.sql import parser

    c0 = time.process_time()
    assert parser._literal_runs(f"SELECT _id FROM t WHERE a IN ({items})")[1] == []
    assert time.process_time() - c0 < 0.2


@pytest.mark.parametrize("tail", [" AND", " AND age IN (1, 2", ", 1e5)"])
def test_long_in_list_syntax_errors_keep_their_position(sql_db, tail, monkeypatch):
    from engine.sql import parser

    text = f"SELECT _id FROM people\nWHERE age IN ({_LONG})" + tail
    with pytest.raises(engine.QuerySyntaxError) as got:
        sql_db.sql(text)
    monkeypatch.setattr(parser, "_literal_runs", lambda t: (t, []))      # the grammar alone
    with pytest.raises(engine.QuerySyntaxError) as want:
        sql_db.sql(text)
    assert got.value.line == want.value.line == 2
    assert (got.value.column, got.value.expected) == (want.value.column, want.value.expected)


@pytest.mark.parametrize("text", [
    "CREATE TABLE zz (_id ID, d DECIMAL({n}))",
    "CREATE TABLE zz (_id ID, d INT) KEYPARTITIONS {n}",
    "BULK INSERT INTO people (_id, age) MAP ({n} ID, 1 INT) FROM x'1,2' WITH FORMAT 'CSV'",
    "BULK INSERT INTO people (_id, age) MAP (0 ID, 1 INT) FROM x'1,2' WITH FORMAT 'CSV' BATCHSIZE {n}",
    "BULK INSERT INTO people (_id, age) MAP (0 ID, 1 INT) FROM x'1,2' WITH FORMAT 'CSV' ROWSLIMIT {n}",
    "BULK INSERT INTO people (_id, age) MAP (0 ID, 1 INT) TRANSFORM (@0, @{n}) FROM x'1,2' WITH FORMAT 'CSV'",
], ids=["decimal-scale", "keypartitions", "map-position", "batchsize", "rowslimit", "param"])
def test_huge_integers_anywhere_are_syntax_errors(sql_db, text):
    with pytest.raises(engine.QuerySyntaxError):
        sql_db.sql(text.format(n="9" * 5000))


def test_create_table_with_500_columns_is_fast(open_db):
    db = open_db()
    cpu, _ = _cpu(db, "CREATE TABLE wide (_id ID, " + ", ".join(f"c{i} INT MIN {-i} MAX {i}" for i in range(500))
                  + ") COMMENT 'w'")
    assert cpu < CPU_BOUND, cpu                      # was ~2 s (every field rewrote the whole schema)
    cols = db.sql("SHOW COLUMNS FROM wide").rows
    assert len(cols) == 501 and cols[1][:4] == ("c0", "c0", "int", "int") and cols[1][9:11] == (0, 0)
    assert cols[500][:4] == ("c499", "c499", "int", "int") and cols[500][9:11] == (-499, 499)
    db.sql("INSERT INTO wide (_id, c0, c499) VALUES (1, 0, -499)")
    db = open_db.reopen(db)                    # the schema was written, in one piece
    assert db.sql("SELECT c0, c1, c499 FROM wide").rows == [(0, None, -499)]
    with pytest.raises(InvalidNameError):
        db.sql('CREATE TABLE bad (_id ID, a INT, "Bad" INT)')
    assert [r[0] for r in db.sql("SHOW TABLES").rows] == ["wide"]


_CAST_SCRIPT = textwrap.dedent("""
    import tempfile
    import engine
    db = engine.open(tempfile.mkdtemp(), fsync=False)
    db.sql("CREATE TABLE t (_id ID, v INT)")
    db.sql("INSERT INTO t (_id, v) VALUES (1, 1)")
    import time
    started = time.process_time()
    try:
        db.sql("SELECT CAST('1e999999' AS INT) FROM t")
    except engine.EngineError as exc:
        print(type(exc).__name__)
    else:
        print("ok")
    print(f"{time.process_time() - started:.3f}")
""")


def test_cast_of_a_huge_exponent_is_bounded():
    try:
        # the wall-clock limit is loose (the child builds the grammar first, and a loaded
        # machine stretches that); the bound is on the statement's own CPU time, below
        out = subprocess.run([sys.executable, "-c", _CAST_SCRIPT], env=child_env(), capture_output=True, text=True,
                             timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("SELECT CAST('1e999999' AS INT) did not finish in 60 s")
    assert out.returncode == 0, out.stderr
    cpu = float(out.stdout.split()[-1])
    assert cpu < 1.0, f"SELECT CAST('1e999999' AS INT) took {cpu:.2f} s of CPU"
