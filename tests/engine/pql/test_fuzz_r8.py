"""R8 (RELIABILITY.md), quick size (a full size, 4× the strings, is marked slow): fuzzed PQL
through parse → lower → execute on a small db.

Inputs, about 1,300 per run (derandomized, so every run sends the same strings):
  * grammar-generated: hypothesis.extra.lark.from_lark on engine/pql/pql.lark, with names
    drawn mostly from real call, field and argument names so that many strings get past
    lowering into execution;
  * mutations of a valid corpus (every golden-file query): bit flips in the UTF-8 bytes,
    truncation, duplicated / dropped / swapped tokens, inserted random Unicode, numbers
    replaced by huge ones;
  * pathological: `Count(` × 10,000, nesting at and past the limit, huge literals, long
    names, size at and past the size limit (MAX_QUERY_BYTES), random Unicode text.

Each request runs in a child process (pql_worker.py), so a hang or crash is recorded instead of
stopping the run. Outcome classes: ok, QuerySyntaxError, QueryExecutionError, QueryLimitError;
anything else — another exception type, a syntax error without line/column, a request over
1 s, a hang (no answer in 20 s), a crash — is unexpected. "Over 1 s" is measured as the
worker's CPU time for the request, since wall time on a loaded CI machine measures the
neighbours; the maximum wall time is reported too.

Figures are printed (pytest -s or -rA) and put in assertion messages; a failure lists the first
unexpected outcomes with the string that caused them. Known hangs (thread-pool deadlock on
nested per-shard work) are tested in test_shards.py; the corpus here does not reach them.
"""
from __future__ import annotations

import collections
import os
import random
import re
import shutil
from dataclasses import dataclass, field
from typing import Any, Optional

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.extra.lark import from_lark
from lark import Lark

from engine.pql.parser import MAX_DEPTH, MAX_QUERY_BYTES, grammar_text

from .golden_format import all_files
from .pql_worker import Worker

pytestmark = pytest.mark.reliability

N_GRAMMAR = 550
N_MUTATED = 700
SEED = 8
HANG_S = 20.0
LIMIT_S = 1.0

CALLS = ["Row", "Range", "Union", "Intersect", "Difference", "Xor", "Not", "All", "Shift", "Limit", "ConstRow",
         "UnionRows", "Distinct", "Sort", "Count", "Sum", "Min", "Max", "MinRow", "MaxRow", "Percentile",
         "FieldValue", "IncludesColumn", "TopN", "TopK", "Rows", "GroupBy", "Extract", "Options", "Set", "Clear",
         "ClearRow", "Store", "Delete", "Condition", "SetBit"]
FIELDS = ["color", "size", "active", "age", "score", "temp", "price", "ts", "tags", "city", "visits"]
ARGS = ["field", "filter", "n", "k", "limit", "offset", "previous", "column", "columns", "like", "in", "from",
        "to", "ids", "threshold", "tanimotoThreshold", "nth", "shards", "index", "aggregate", "having", "sort",
        "sort-desc", "true", "false", "null", "count", "sum"]


# --- the strings ------------------------------------------------------------------------------------

def grammar_strings(n: int) -> list[str]:
    names = st.sampled_from(CALLS + FIELDS + ARGS) | st.from_regex(r"[A-Za-z_][A-Za-z0-9_\-]{0,12}", fullmatch=True)
    strategy = from_lark(Lark(grammar_text(), parser="lalr"), explicit={"NAME": names})
    out: list[str] = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(text: str) -> None:
        out.append(text)

    collect()
    return out


_TOKEN = re.compile(r"\s+|[A-Za-z_][A-Za-z0-9_\-]*|[+-]?\d+(?:\.\d*)?|\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|.")
_ODD = ["\x00", "é", "\u202e", "\ufeff", "😀", "\ud800", "\udfff", "\\", '"', "'", "(", ")", "[", "]", ",", "=",
        "><", "<", "#", "\n", "ℌ", "٣", "０", "\t"]


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
        nums = [k for k, t in enumerate(toks) if re.fullmatch(r"[+-]?\d+(\.\d*)?", t)]
        if nums:
            toks[rng.choice(nums)] = rng.choice(["18446744073709551616", "-9223372036854775809", "1e5", "0x10",
                                                 "9" * 5000, "00000000000000000001", "-0", "1.", ".5"])
    else:                                                  # replace a name with another one
        names = [k for k, t in enumerate(toks) if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", t)]
        if names:
            toks[rng.choice(names)] = rng.choice(CALLS + FIELDS + ARGS)
    return "".join(toks)


def mutated_strings(n: int, rng: random.Random) -> list[tuple[str, str]]:
    corpus = [(c.index, c.query) for gf in all_files() for c in gf.cases]
    out = []
    for _ in range(n):
        index, text = rng.choice(corpus)
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            text = _mutate(text, rng)
        out.append((index, text))
    return out


def pathological_strings(rng: random.Random) -> list[tuple[str, str]]:
    deep = MAX_DEPTH
    cases = {
        "count-x10000": "Count(" * 10_000,
        "count-x10000-closed": "Count(" * 10_000 + "All()" + ")" * 10_000,
        "nesting-at-limit": "Count(" + "Union(" * (deep - 2) + "Row(color=1)" + ")" * (deep - 1),
        "nesting-past-limit": "Count(" + "Union(" * (deep - 1) + "Row(color=1)" + ")" * deep,
        "list-nesting": "ConstRow(columns=" + "[" * 100 + "1" + "]" * 100 + ")",
        "quoted-brackets": 'Row(tags="' + "(" * 10_000 + '")',
        "huge-int": "Row(color=" + "9" * 5000 + ")",
        "huge-int-bsi": "Row(age > " + "9" * 400 + ")",
        "uint64-overflow": "Row(color=18446744073709551616)",
        "int64-overflow-bsi": "Row(age == 9223372036854775808)",
        "huge-decimal": "Row(price > 0." + "1" * 5000 + ")",
        "huge-string": 'Row(tags="' + "x" * 900_000 + '")',
        "string-near-limit": 'Row(tags="' + "x" * (MAX_QUERY_BYTES - 100) + '")',
        "escapes-near-limit": 'Row(tags="' + "\\\"" * ((MAX_QUERY_BYTES - 100) // 2) + '")',
        "long-name": "Row(" + "a" * (MAX_QUERY_BYTES - 100) + "=1)",
        "long-call-name": "A" * (MAX_QUERY_BYTES - 100) + "()",
        "many-short-calls": "All()" * ((MAX_QUERY_BYTES - 100) // 5),
        "size-at-limit": "Count(Row(color=1))" + " " * (MAX_QUERY_BYTES - 19),
        "size-past-limit": "Count(Row(color=1))" + " " * (MAX_QUERY_BYTES - 18),
        "many-calls": "Count(All()) " * 2_000,
        "long-constrow": "ConstRow(columns=[" + "1," * 20_000 + "1])",
        "token-dense-at-limit": "ConstRow(columns=[" + "1," * ((MAX_QUERY_BYTES - 40) // 2) + "1])",
        "token-dense-past-limit": "ConstRow(columns=[" + "1," * (MAX_QUERY_BYTES // 2) + "1])",
        "nul-bytes": "Row(color=1)\x00\x00",
        "only-comment": "# Row(color=1)",
        "empty": "",
        "bom": "\ufeffRow(color=1)",
        "surrogates": "Row(tags=\"\ud800\udc00\ud800\")",
        "rtl-override": "Row(tags=\"\u202eabc\")",
        "many-writes": "Set(1, color=1) " * 5_001,
        "timestamp-garbage": "Row(visits=1, from=9999-99-99T99:99, to=0000-00-00)",
        "ts-out-of-range": "Row(ts > '0001-01-01T00:00:00Z') Row(ts < '9999-12-31T23:59:59Z')",
        "shift-huge": "Shift(Row(color=1), n=18446744073709551615)",
        "limit-huge": "Limit(Row(color=1), limit=99999999999999999999, offset=99999999999999999999)",
        "topn-huge-n": "TopN(color, n=99999999999999999999999)",
        "percentile-tiny": "Percentile(field=age, nth=0.0000000000000000000000001)",
        "options-huge-shard": "Options(Count(All()), shards=[18446744073709551615])",
        "rows-huge-previous": "Rows(color, previous=99999999999999999999999)",
    }
    out = [("people", text) for text in cases.values()]
    names = list(cases)
    for i in range(20):                                    # random Unicode text, some call-shaped
        chars = "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x80, 0x3000),
                                        rng.randrange(0x10000, 0x10FFFF)])) for _ in range(rng.randint(1, 60)))
        out.append(("people", chars if i % 2 else f"Row(tags=\"{chars}\") Row({chars}=1)"))
        names.append(f"unicode-{i}")
    return [(f"pathological:{n}", i, t) for n, (i, t) in zip(names, out)]


# --- running and classifying -------------------------------------------------------------------------

@dataclass
class Report:
    strings: int = 0
    by_source: collections.Counter = field(default_factory=collections.Counter)
    outcomes: collections.Counter = field(default_factory=collections.Counter)
    unexpected: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    max_parse_s: float = 0.0
    max_cpu_s: float = 0.0
    max_wall_s: float = 0.0
    slowest: str = ""
    worker_restarts: int = 0
    rss_start_kib: int = 0
    rss_max_kib: int = 0

    def summary(self) -> str:
        unexpected = collections.Counter(f"{r['kind']}:{r.get('type', '')}" for _, _, r in self.unexpected)
        return (f"R8: strings={self.strings} sources={dict(self.by_source)} outcomes={dict(self.outcomes)} "
                f"unexpected={len(self.unexpected)} {dict(unexpected)} "
                f"max_parse_s={self.max_parse_s:.3f} max_cpu_s={self.max_cpu_s:.3f} max_wall_s={self.max_wall_s:.3f} "
                f"(slowest: {self.slowest[:60]!r}) rss_delta_mib="
                f"{(self.rss_max_kib - self.rss_start_kib) / 1024:.1f} worker_restarts={self.worker_restarts} "
                f"cores={os.cpu_count()} load={os.getloadavg()[0]:.1f}")


def classify(source: str, query: str, res: dict[str, Any]) -> tuple[str, bool]:
    """(outcome class, expected?)"""
    kind = res["kind"]
    if kind in ("hang", "crash"):
        return kind, False
    if res.get("cpu_s", 0.0) > LIMIT_S:
        return "slow", False
    if kind == "ok":
        return "ok", True
    if kind == "exception":
        return f"exception:{res['type']}", False
    if not res["query_error"]:
        return f"error:{res['type']}", False
    if res["type"] == "QuerySyntaxError" and not (res["line"] and res["column"]):
        return "QuerySyntaxError-without-position", False
    return res["type"], True


def run_r8(template: Any, scratch: Any, scale: int = 1) -> Report:
    rng = random.Random(SEED)
    strings = [("grammar", "people", s) for s in grammar_strings(N_GRAMMAR * scale)]
    strings += [("mutated", i, s) for i, s in mutated_strings(N_MUTATED * scale, rng)]
    strings += pathological_strings(rng)
    rep = Report(strings=len(strings))
    path = str(scratch / "data")
    shutil.copytree(template, path)
    worker: Optional[Worker] = None
    try:
        for source, index, text in strings:
            rep.by_source[source.split(":")[0]] += 1
            if worker is None or not worker.alive:
                if worker is not None:
                    worker.kill()
                    rep.worker_restarts += 1
                worker = Worker(path)
                rep.rss_start_kib = rep.rss_start_kib or worker.rss_start
            res = worker.ask(index, text, HANG_S)
            outcome, ok = classify(source, text, res)
            if outcome == "slow":
                res = dict(res, kind="slow")
            rep.outcomes[outcome] += 1
            rep.max_parse_s = max(rep.max_parse_s, res.get("parse_s", 0.0))
            if res.get("cpu_s", 0.0) > rep.max_cpu_s:
                rep.max_cpu_s, rep.slowest = res["cpu_s"], f"{source}: {text}"
            rep.max_wall_s = max(rep.max_wall_s, res.get("total_s", 0.0))
            rep.rss_max_kib = max(rep.rss_max_kib, res.get("rss_kib", 0))
            if not ok:
                rep.unexpected.append((source, text, res))
    finally:
        if worker is not None:
            worker.close()
    return rep


@pytest.mark.parametrize("scale", [pytest.param(1, id="quick"), pytest.param(4, id="full", marks=pytest.mark.slow)])
def test_r8_fuzzed_pql(pql_template, tmp_path, scale) -> None:
    r8 = run_r8(pql_template, tmp_path, scale)
    print("\n" + r8.summary())
    assert r8.strings >= 1000, r8.summary()
    assert r8.outcomes["ok"] > 0 and r8.outcomes["QueryExecutionError"] > 0 and r8.outcomes["QuerySyntaxError"] > 0, \
        r8.summary()
    details = "\n".join(f"  [{src}] {q[:200]!r} -> {res}" for src, q, res in r8.unexpected[:20])
    assert not r8.unexpected, f"{r8.summary()}\nunexpected outcomes:\n{details}"
