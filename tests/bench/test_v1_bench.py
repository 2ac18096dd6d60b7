"""bench.v1 end to end at a toy size (a real server on loopback, DuckDB), and its answer
checks against a plain-Python model of the documented filter semantics. Speed is never
asserted: what must hold is that the harness runs, that every way's pages equal DuckDB's,
and that the SQL it compares against means what docs/v1.md says."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import v1

N = 3000


@pytest.fixture(scope="module")
def items() -> v1.Items:
    return v1.generate(N, seed=7)


def test_harness_runs_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "v1.md"
    assert v1.main(["--n", str(N), "--rounds", "2", "--stages", "2048", "--ways", "json,msgpack,grpc",
                    "--data-dir", str(tmp_path / "work"), "--out", str(out)]) == 0
    text = out.read_text()
    for needle in ("| json | 3,000 |", "| msgpack | 3,000 |", "| grpc | 3,000 |", "Where the upsert time goes",
                   "## Filtered listings over HTTP", "## Filtered listings in-process", "## Targets", "## Machine"):
        assert needle in text, needle
    for fs in v1.FILTER_SETS:
        assert f"| {fs.name} |" in text


def test_generator_is_deterministic_and_rows_are_valid(items: v1.Items) -> None:
    again = v1.generate(N, seed=7)
    assert v1.normal(items.rows(0, N)) == v1.normal(again.rows(0, N))
    rows = items.rows(0, N)
    assert [r["item_id"] for r in rows] == list(range(1, N + 1))
    for r in rows:
        assert set(r) <= {"item_id", *(p for p, _, _ in v1.PROPERTIES)}
        assert len(set(r.get("tags", []))) == len(r.get("tags", [])) <= 4
    # a chunk in the middle reads the same as the whole
    assert items.rows(1000, 1024) == rows[1000:1024]
    # every kind of missing value occurs, so the semantics below are exercised
    for prop in ("price", "year", "category", "brand", "tags"):
        assert any(prop not in r for r in rows), prop


def _model(row: dict[str, Any], fs: v1.FilterSet) -> bool:
    """docs/v1.md: filters AND-ed; on a list eq/in/ordering hold for SOME element and
    neq/notin for NONE (an empty list matches); a missing value matches only neq/notin."""
    import numpy as np

    def fit(v: Any) -> Any:
        return float(np.float32(v)) if isinstance(v, float) else v

    for prop, op, value in fs.filters:
        have = row.get(prop)
        vals = [] if have is None else [fit(x) for x in (have if isinstance(have, list) else [have])]
        wanted = [fit(x) for x in (value if isinstance(value, list) else [value])]
        tests = {"eq": lambda x: x == wanted[0], "in": lambda x: x in wanted, "lt": lambda x: x < wanted[0],
                 "lte": lambda x: x <= wanted[0], "gt": lambda x: x > wanted[0], "gte": lambda x: x >= wanted[0]}
        if op in tests:
            ok = any(tests[op](x) for x in vals)
        elif op in ("neq", "notin"):
            ok = not any(x in wanted for x in vals)
        else:
            ok = bool(vals)
        if not ok:
            return False
    return True


def test_duckdb_sql_matches_the_documented_semantics(items: v1.Items) -> None:
    duck = v1.Duck(items)
    try:
        rows = items.rows(0, N)
        for fs in v1.FILTER_SETS:
            expected = [r for r in rows if _model(r, fs)][:v1.AMT]
            v1.check_same(fs.name, duck.page(fs), expected)
    finally:
        duck.close()


def test_check_same_notices_differences(items: v1.Items) -> None:
    page = items.rows(0, 5)
    v1.check_same("same", page, [dict(r) for r in page])
    with pytest.raises(v1.AnswerMismatch):
        v1.check_same("order", page, page[::-1])
    with pytest.raises(v1.AnswerMismatch):
        v1.check_same("missing", page, page[:4])
    changed = [dict(r) for r in page]
    changed[2]["popularity"] += 1
    with pytest.raises(v1.AnswerMismatch):
        v1.check_same("value", page, changed)
    # repeated values are sets: their order does not matter
    shuffled = [dict(r, tags=list(reversed(r["tags"]))) if "tags" in r else r for r in page]
    v1.check_same("tags order", page, shuffled)
