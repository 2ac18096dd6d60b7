"""Golden files: every PQL call and argument form, one case per query, answers worked out
by hand from pql_fixture.py and the FeatureBase semantics reference (format: golden_format.py).

Also here: the request limits (query size, nesting, writes per request), which cannot be
written out readably as golden text.
"""
from __future__ import annotations

import time

import pytest

import engine

from .golden_format import Case, GoldenFile, all_files, canon

_FILES = all_files()
_PARAMS = []
for _gf in _FILES:
    for _i, _case in enumerate(_gf.cases):
        marks = [pytest.mark.xfail(strict=True, reason=_case.xfail)] if _case.xfail else []
        _PARAMS.append(pytest.param(_gf, _i, id=_case.id, marks=marks))


def _run(db: engine.Holder, case: Case) -> tuple[str, object]:
    try:
        return "ok", db.query(case.index, case.query)
    except engine.EngineError as exc:
        return "error", exc


def _check(case: Case, outcome: tuple[str, object]) -> None:
    kind, value = outcome
    if case.error is not None:
        assert kind == "error", f"{case.query!r} returned {value!r}, expected error {case.error}"
        expected_type = getattr(engine, case.error)
        assert isinstance(value, expected_type), \
            f"{case.query!r} raised {type(value).__name__}: {value}, expected {case.error}"
        if case.error_pos is not None:
            got = (getattr(value, "line", None), getattr(value, "column", None))
            assert got == case.error_pos, f"{case.query!r}: error at {got}, expected {case.error_pos}: {value}"
        return
    if kind == "error":
        raise value  # type: ignore[misc]
    assert canon(value, case.unordered_keys) == canon(case.expect, case.unordered_keys), \
        f"\n  query:    {case.query}\n  got:      {value}\n  expected: {case.expect}"


_SESSIONS: dict[str, list[tuple[str, object]]] = {}


def _session_outcomes(gf: GoldenFile, fresh_pql_db) -> list[tuple[str, object]]:
    """A sequential file runs once, in order, on a private copy; each case then checks its
    own recorded outcome (so selecting one case with -k still replays the ones above it)."""
    if gf.name not in _SESSIONS:
        db = fresh_pql_db()
        try:
            _SESSIONS[gf.name] = [_run(db, c) for c in gf.cases]
        finally:
            db.close()
    return _SESSIONS[gf.name]


@pytest.mark.parametrize("gf,i", _PARAMS)
def test_golden(gf, i, pql_db, fresh_pql_db):
    case = gf.cases[i]
    if gf.sequential:
        _check(case, _session_outcomes(gf, fresh_pql_db)[i])
    else:
        _check(case, _run(pql_db, case))


def test_every_call_has_a_golden_case():
    """The issue's list of calls: each appears in at least one golden query."""
    text = " ".join(c.query for gf in _FILES for c in gf.cases)
    calls = ["Row", "Range", "Union", "Intersect", "Difference", "Xor", "Not", "All", "Shift", "Limit",
             "ConstRow", "UnionRows", "Distinct", "Sort", "Count", "Sum", "Min", "Max", "MinRow", "MaxRow",
             "Percentile", "FieldValue", "IncludesColumn", "TopN", "TopK", "Rows", "GroupBy", "Extract",
             "Options", "Set", "Clear", "ClearRow", "Store", "Delete"]
    missing = [c for c in calls if f"{c}(" not in text]
    assert not missing


# --- limits (docs/pql.md "Limits") ------------------------------------------------------------

def test_empty_request_has_no_results(pql_db):
    assert pql_db.query("people", "") == []
    assert pql_db.query("people", "  # only a comment\n") == []


def test_query_size_limit(pql_db):
    """A request may be up to 96 KiB of UTF-8; one byte more is QueryLimitError."""
    limit = 96 << 10
    head = "Count(Row(color=1)) "
    ok = head + " " * (limit - len(head))
    assert len(ok.encode()) == limit
    assert pql_db.query("people", ok) == [4]
    with pytest.raises(engine.QueryLimitError):
        pql_db.query("people", ok + " ")
    # bytes, not characters: 2-byte characters count twice
    with pytest.raises(engine.QueryLimitError):
        pql_db.query("people", 'Row(tags="' + "é" * (limit // 2) + '")')


def test_large_requests_are_not_retained(pql_db):
    """After a request has answered, its text and syntax tree are not kept alive: twenty
    distinct 90 KB requests (1.7 MiB of string literals) leave well under 1 MiB allocated."""
    import gc
    import tracemalloc

    texts = [f'Count(Row(tags="{i}' + "x" * 90_000 + '"))' for i in range(20)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for t in texts:
            assert pql_db.query("people", t) == [0]
        del t
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    del texts
    assert retained < 1 << 20, f"{retained / 2**20:.1f} MiB still allocated"


def test_nesting_limit(pql_db):
    """64 levels of brackets are accepted, 65 are QueryLimitError (before parsing)."""
    def nested(depth: int) -> str:       # depth counts every "(" and "["
        return "Count(" + "Union(" * (depth - 2) + "Row(color=1)" + ")" * (depth - 1)

    assert pql_db.query("people", nested(64)) == [4]
    with pytest.raises(engine.QueryLimitError):
        pql_db.query("people", nested(65))


def test_pathological_nesting_is_rejected_quickly(pql_db):
    t0 = time.perf_counter()
    with pytest.raises(engine.QueryLimitError):
        pql_db.query("people", "Count(" * 10_000)
    assert time.perf_counter() - t0 < 1.0


def test_writes_per_request_limit(fresh_pql_db):
    """At most 5000 write calls per request; 5001 is QueryLimitError and nothing is written."""
    db = fresh_pql_db()
    try:
        ok = "\n".join(f"Set({i},color=77)" for i in range(5000))      # fits the 96 KiB text limit
        assert db.query("people", ok) == [True] * 5000
        assert db.query("people", "Count(Row(color=77))") == [5000]
        over = "\n".join(f"Set({i},color=78)" for i in range(5001))
        with pytest.raises(engine.QueryLimitError):
            db.query("people", over)
        assert db.query("people", "Count(Row(color=78))") == [0]
    finally:
        db.close()


def test_failed_request_writes_nothing(fresh_pql_db):
    """A request is atomic: when a later call fails, earlier writes are not committed."""
    db = fresh_pql_db()
    try:
        with pytest.raises(engine.QueryError):
            db.query("people", "Set(8, color=1) Set(8, color=2) Row(nope=1)")
        assert db.query("people", "Row(color=1) IncludesColumn(All(), column=8)") == \
            [{"columns": [1, 2, 1048576, 1048577]}, False]
    finally:
        db.close()


def test_syntax_error_carries_expected_tokens(pql_db):
    with pytest.raises(engine.QuerySyntaxError) as info:
        pql_db.query("people", "Count(Row(color=1) Row(size=10))")
    err = info.value
    assert (err.line, err.column) == (1, 20)
    assert "," in err.expected and ")" in err.expected
    assert err.to_dict()["code"] == "BadRequest"
