"""engine/results.py: each result type's to_json() is FeatureBase's JSON shape (semantics
§14), and Holder.pql answers each call with its type (Holder.query: their JSON)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

import engine
from engine import results as R

ZERO = "0001-01-01T00:00:00Z"


@pytest.mark.parametrize("result,expected", [
    (R.Nil(), None),
    (R.Count(7), 7),
    (R.Bool(True), True),
    (R.Bool(False), False),
    (R.RowResult([1, 5]), {"columns": [1, 5]}),
    (R.RowResult.of([1, 5], ["a", None]), {"columns": [], "keys": ["a"]}),
    (R.RowResult.of([], []), {"columns": []}),                   # keyed and empty: no "keys"
    (R.DistinctRows([2, 3]), {"columns": [2, 3]}),
    (R.DistinctRows([2, 3], ["x", "y"]), {"columns": [2, 3], "keys": ["x", "y"]}),
    (R.SignedRow([3, 1], [0, 4]), {"neg": {"columns": [3, 1]}, "pos": {"columns": [0, 4]}}),
    (R.DistinctValues(["2023-01-01T00:00:00Z"]), ["2023-01-01T00:00:00Z"]),
    (R.ValCount(None, 0),
     {"value": 0, "floatValue": 0.0, "decimalValue": None, "timestampValue": ZERO, "count": 0}),
    (R.ValCount(-12, 3),
     {"value": -12, "floatValue": 0.0, "decimalValue": None, "timestampValue": ZERO, "count": 3}),
    (R.ValCount(2.5, 2, "float"),
     {"value": 0, "floatValue": 2.5, "decimalValue": None, "timestampValue": ZERO, "count": 2}),
    (R.ValCount(Decimal("1.50"), 1, "decimal"),
     {"value": 0, "floatValue": 0.0, "decimalValue": Decimal("1.50"), "timestampValue": ZERO, "count": 1}),
    (R.ValCount(dt.datetime(2024, 2, 3, 4, 5, 6, 500000, tzinfo=dt.timezone.utc), 1, "timestamp"),
     {"value": 0, "floatValue": 0.0, "decimalValue": None, "timestampValue": "2024-02-03T04:05:06.5Z", "count": 1}),
    (R.Pair(4, None, 9), {"id": 4, "key": "", "count": 9}),
    (R.Pair(4, "k", 9), {"id": 0, "key": "k", "count": 9}),
    (R.Pairs([4, 2], [9, 1]), [{"id": 4, "key": "", "count": 9}, {"id": 2, "key": "", "count": 1}]),
    (R.Pairs([4, 2], [9, 1], ["a", None]), [{"id": 0, "key": "a", "count": 9}, {"id": 2, "key": "", "count": 1}]),
    (R.Pairs([], []), []),
    (R.RowIdentifiers([1, 2]), {"rows": [1, 2]}),
    (R.RowIdentifiers.of([1, 2], ["a", None]), {"rows": None, "keys": ["a"]}),
    (R.GroupCounts([{"group": [{"field": "f", "rowID": 1}], "count": 2}]),
     [{"group": [{"field": "f", "rowID": 1}], "count": 2}]),
    (R.GroupCounts([]), []),
    (R.ExtractedTable([{"name": "f", "type": "[]uint64"}], [10, 11], [[[1]], [[]]]),
     {"fields": [{"name": "f", "type": "[]uint64"}],
      "columns": [{"column": 10, "rows": [[1]]}, {"column": 11, "rows": [[]]}]}),
])
def test_to_json_is_featurebase_shape(result, expected):
    got = result.to_json()
    assert got == expected
    assert type(got) is type(expected)


@pytest.fixture
def db(tmp_path):
    with engine.open(str(tmp_path), fsync=False) as h:
        ix = h.create_index("i")
        ix.create_field("s", "set")
        ix.create_field("k", "set", keys=True)
        ix.create_field("n", "int", min=-100, max=100)
        ix.create_field("d", "decimal", scale=2, min=-100, max=100)
        ix.create_field("t", "timestamp")
        h.query("i", 'Set(1, s=1) Set(2, s=2) Set(1, k="a") Set(1, n=-5) Set(2, n=7) Set(1, d=1.25) '
                     'Set(1, t="2024-01-02T03:04:05Z")')
        yield h


@pytest.mark.parametrize("pql,kind", [
    ("Row(s=1)", R.RowResult), ("Sort(All(), field=n)", R.RowResult), ("Count(All())", R.Count),
    ("Count(Distinct(field=s))", R.Count), ("Set(1, s=1)", R.Bool), ("IncludesColumn(Row(s=1), column=1)", R.Bool),
    ("Sum(field=n)", R.ValCount), ("Min(field=d)", R.ValCount), ("Max(field=t)", R.ValCount),
    ("FieldValue(field=n, column=1)", R.ValCount), ("Percentile(field=n, nth=50)", R.ValCount),
    ("Percentile(Row(s=99), field=n, nth=50)", R.Nil), ("MinRow(field=s)", R.Pair), ("TopN(s)", R.Pairs),
    ("TopK(k)", R.Pairs), ("Rows(s)", R.RowIdentifiers), ("Rows(k)", R.RowIdentifiers),
    ("GroupBy(Rows(s))", R.GroupCounts), ("GroupBy(Rows(s), filter=Row(s=99))", R.GroupCounts),
    ("Distinct(field=s)", R.DistinctRows), ("Distinct(field=n)", R.SignedRow), ("Distinct(field=d)", R.SignedRow),
    ("Distinct(field=t)", R.DistinctValues), ("Extract(All(), Rows(s), Rows(n))", R.ExtractedTable),
    ("Options(Count(All()), shards=[0])", R.Count),
])
def test_each_call_answers_its_type(db, pql, kind):
    got = db.pql("i", pql)
    assert [type(r) for r in got] == [kind]
    assert db.query("i", pql) == [got[0].to_json()]


def test_empty_lists_keep_their_type(db):
    """An empty TopN, GroupBy or Distinct is told apart by type, not by a call name."""
    got = db.pql("i", "TopN(s, Row(s=99)) GroupBy(Rows(s), filter=Row(s=99)) Distinct(Row(s=99), field=t)")
    assert [type(r) for r in got] == [R.Pairs, R.GroupCounts, R.DistinctValues]
    assert [r.to_json() for r in got] == [[], [], []]
