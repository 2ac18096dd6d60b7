"""The statement's deadline and cancel event reach every operator of the SQL plan: a cancel
raised in the middle of a statement (after its first batch of record values is read) stops
it before it finishes, whatever operator is running — scans, record-by-record WHERE,
grouping, sorting, joins, subqueries. The timing is controlled by hooks, not by sleeping."""
from __future__ import annotations

import threading
import time

import pytest

import engine
from engine import errors as E
from engine.sql import fetch as fetch_module
from engine.sql import lower as lower_module
from engine.sql import run as run_module

N = 5000          # records over two shards: several batches of 1,024


@pytest.fixture(scope="module")
def ddb(tmp_path_factory):
    db = engine.open(str(tmp_path_factory.mktemp("deadline") / "d"), fsync=False)
    db.sql("CREATE TABLE a (_id ID, k INT, s STRING, t IDSET)")
    db.sql("CREATE TABLE b (_id ID, k INT, w STRING)")
    idx_a, idx_b = db.index("a"), db.index("b")
    ids = list(range(N // 2)) + list(range(1 << 20, (1 << 20) + N // 2))
    idx_a.import_values("k", ids, [i % 97 for i in range(N)])
    idx_a.import_values("s", ids, [f"s{i % 13}" for i in range(N)])
    idx_b.import_values("k", list(range(N)), [i % 97 for i in range(N)])
    idx_b.import_values("w", list(range(N)), [f"w{i % 7}" for i in range(N)])
    yield db
    db.close()


STATEMENTS = [
    "SELECT _id, k FROM a",                                                    # Scan, streamed
    "SELECT s, SUM(k + 1) FROM a GROUP BY s",                                  # Aggregate
    "SELECT _id FROM a ORDER BY k DESC",                                       # Sort
    "SELECT DISTINCT UPPER(s) FROM a",                                         # Distinct
    "SELECT COUNT(*) FROM a WHERE UPPER(s) = 'S1'",                            # record-by-record WHERE
    "SELECT a._id, b.w FROM a JOIN b ON a.k = b.k WHERE b._id < 300",          # HashJoin
    "SELECT COUNT(*) FROM a WHERE k IN (SELECT k FROM b WHERE UPPER(w) = 'W1')",  # subquery
    "SELECT s, COUNT(*) FROM a WHERE k + 0 > 3 GROUP BY s",                    # BitmapGroupBy over a residual
]


def _cancel_after_first_fetch(monkeypatch, cancel: threading.Event) -> list[int]:
    calls: list[int] = []
    real = fetch_module.fetch

    def fetch(*args, **kw):
        calls.append(1)
        if len(calls) == 1:
            cancel.set()                     # "the client went away" while the statement runs
        return real(*args, **kw)

    monkeypatch.setattr(fetch_module, "fetch", fetch)
    monkeypatch.setattr(run_module, "fetch", fetch)
    monkeypatch.setattr(lower_module, "fetch", fetch)
    return calls


@pytest.mark.parametrize("text", STATEMENTS)
def test_cancel_stops_every_operator(ddb, monkeypatch, text):
    full = len([r for b in ddb.sql_all(text)[0].batches() for r in b])
    cancel = threading.Event()
    calls = _cancel_after_first_fetch(monkeypatch, cancel)
    with pytest.raises(E.QueryCancelledError):
        for res in ddb.sql_all(text, cancel=cancel):
            for _ in res.batches():
                pass
    assert calls and len(calls) < 4, len(calls)     # stopped within a batch or two
    assert full >= 0


@pytest.mark.parametrize("text", STATEMENTS[1:4])
def test_the_deadline_stops_them_too(ddb, monkeypatch, text):
    """A deadline that passes while the statement runs (the clock moved by the hook)."""
    import engine.sql.context as context_module

    clock = [time.monotonic()]
    monkeypatch.setattr(context_module.time, "monotonic", lambda: clock[0])
    real = fetch_module.fetch

    def fetch(*args, **kw):
        clock[0] += 3600
        return real(*args, **kw)

    monkeypatch.setattr(fetch_module, "fetch", fetch)
    monkeypatch.setattr(run_module, "fetch", fetch)
    with pytest.raises(E.QueryCancelledError):
        for res in ddb.sql_all(text, timeout=60):
            for _ in res.batches():
                pass


def test_a_cancelled_statement_leaves_nothing_held(ddb):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(E.QueryCancelledError):
        ddb.sql_all("SELECT _id FROM a ORDER BY k", cancel=cancel)
    assert ddb.sql("SELECT COUNT(*) FROM a").rows == [(N,)]
