"""The 14 benchmark queries of PERFORMANCE.md as data, and their canonical answer forms.

Each Query carries its PQL text and FeatureBase-style SQL text (for front doors that parse
text) and the same parameters as plain values (for peers that call an API). Parameters are
picked by popularity rank from schema.json — H[r] hobbies, R[r] regions, T[r] tags — so a
query means the same at every N.

Answers are compared exactly, so every peer returns the normalised form of its kind:

| kind     | answer                                                                   |
|----------|--------------------------------------------------------------------------|
| count    | int                                                                      |
| topn     | ((key, count), …): count desc, then key asc; zero counts dropped; first n |
| groupby  | (((key1, key2), count), …): sorted by the key tuple; zero counts dropped  |
| sum      | (sum, count): count = filtered records with a value; (0, 0) when none     |
| minmax   | (min, max); (None, None) when no filtered record has a value              |
| distinct | int: number of distinct values among filtered records with a value       |

Semantics shared by all peers: nulls never match a comparison and are excluded from
Sum/Min/Max/Distinct; Not is relative to the existence set (all N records exist); a
set-field GroupBy/TopN counts a record once per member; time bounds are UTC seconds,
the lower one inclusive and the upper one exclusive.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

Kind = Literal["count", "topn", "groupby", "sum", "minmax", "distinct"]
TopN = tuple[tuple[str, int], ...]
GroupBy = tuple[tuple[tuple[str, ...], int], ...]
Answer = int | TopN | GroupBy | tuple[int, int] | tuple[int | None, int | None]

TOPN_N = 10
TIME_FROM = datetime(2024, 3, 1, tzinfo=timezone.utc)
TIME_TO = datetime(2024, 6, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Query:
    """One benchmark query: what to ask, in every form a peer may need."""

    number: int
    name: str
    kind: Kind
    pql: str
    sql: str
    params: Mapping[str, Any]


def _rfc3339(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _setcontains(field: str, key: str) -> str:
    return f"SETCONTAINS({field}, '{key}')"


def build_queries(schema: Mapping[str, Any]) -> list[Query]:
    """The 14 queries with H/R/T substituted from a dataset's schema.json."""
    H, R, T = schema["params"]["H"], schema["params"]["R"], schema["params"]["T"]
    t0, t1 = _rfc3339(TIME_FROM), _rfc3339(TIME_TO)
    union = H[10:15]
    count = "SELECT COUNT(*) FROM seg WHERE "
    return [
        Query(1, "count_row", "count",
              f'Count(Row(hobbies="{H[3]}"))',
              count + _setcontains("hobbies", H[3]),
              {"hobby": H[3]}),
        Query(2, "count_intersect3", "count",
              f'Count(Intersect(Row(hobbies="{H[1]}"), Row(education="bachelor"), '
              f'Row(active=true)))',
              count + f"{_setcontains('hobbies', H[1])} AND education = 'bachelor' "
              f"AND active = true",
              {"hobby": H[1], "education": "bachelor", "active": True}),
        Query(3, "count_union5", "count",
              "Count(Union(" + ", ".join(f'Row(hobbies="{h}")' for h in union) + "))",
              count + "SETCONTAINSANY(hobbies, [" + ", ".join(f"'{h}'" for h in union) + "])",
              {"hobbies": tuple(union)}),
        Query(4, "count_difference", "count",
              f'Count(Difference(Row(hobbies="{H[0]}"), Row(tags="{T[0]}")))',
              count + f"{_setcontains('hobbies', H[0])} AND NOT {_setcontains('tags', T[0])}",
              {"hobby": H[0], "tag": T[0]}),
        Query(5, "count_not", "count",
              f'Count(Not(Row(hobbies="{H[0]}")))',
              count + f"NOT {_setcontains('hobbies', H[0])}",
              {"hobby": H[0]}),
        Query(6, "count_int_range", "count",
              "Count(Intersect(Row(30 <= age <= 40), Row(income > 100000)))",
              count + "age BETWEEN 30 AND 40 AND income > 100000",
              {"age_min": 30, "age_max": 40, "income_gt": 100_000}),
        Query(7, "count_time_range", "count",
              f'Count(Intersect(Row("{t0}" <= last_seen < "{t1}"), Row(region="{R[0]}")))',
              count + f"last_seen >= '{t0}' AND last_seen < '{t1}' AND region = '{R[0]}'",
              {"from": int(TIME_FROM.timestamp()), "to": int(TIME_TO.timestamp()),
               "region": R[0]}),
        Query(8, "topn", "topn",
              f"TopN(hobbies, n={TOPN_N})",
              "SELECT hobbies, COUNT(*) AS count FROM seg WITH (flatten(hobbies)) "
              f"GROUP BY hobbies ORDER BY count DESC, hobbies LIMIT {TOPN_N}",
              {"n": TOPN_N}),
        Query(9, "topn_filtered", "topn",
              f'TopN(hobbies, Intersect(Row(region="{R[3]}"), Row(active=true)), n={TOPN_N})',
              "SELECT hobbies, COUNT(*) AS count FROM seg WITH (flatten(hobbies)) "
              f"WHERE region = '{R[3]}' AND active = true "
              f"GROUP BY hobbies ORDER BY count DESC, hobbies LIMIT {TOPN_N}",
              {"n": TOPN_N, "region": R[3], "active": True}),
        Query(10, "groupby_2", "groupby",
              "GroupBy(Rows(education), Rows(region))",
              "SELECT education, region, COUNT(*) FROM seg GROUP BY education, region",
              {}),
        Query(11, "groupby_filtered", "groupby",
              "GroupBy(Rows(education), Rows(hobbies), filter=Row(age > 60))",
              "SELECT education, hobbies, COUNT(*) FROM seg WITH (flatten(hobbies)) "
              "WHERE age > 60 GROUP BY education, hobbies",
              {"age_gt": 60}),
        Query(12, "sum_filtered", "sum",
              'Sum(Row(education="master"), field=income)',
              "SELECT SUM(income), COUNT(income) FROM seg WHERE education = 'master'",
              {"education": "master"}),
        Query(13, "minmax_filtered", "minmax",
              f'Min(Row(tags="{T[7]}"), field=income) Max(Row(tags="{T[7]}"), field=income)',
              f"SELECT MIN(income), MAX(income) FROM seg WHERE {_setcontains('tags', T[7])}",
              {"tag": T[7]}),
        Query(14, "distinct_filtered", "distinct",
              f'Count(Distinct(Row(hobbies="{H[0]}"), field=income))',
              f"SELECT COUNT(DISTINCT income) FROM seg WHERE {_setcontains('hobbies', H[0])}",
              {"hobby": H[0]}),
    ]


def topn_answer(pairs: Iterable[tuple[str, int]], n: int) -> TopN:
    """Canonical TopN: the n largest non-zero counts, count desc then key asc."""
    ranked = sorted(((str(k), int(c)) for k, c in pairs if c), key=lambda p: (-p[1], p[0]))
    return tuple(ranked[:n])


def groupby_answer(groups: Iterable[tuple[Sequence[str], int]]) -> GroupBy:
    """Canonical GroupBy: non-zero groups sorted by their key tuple."""
    return tuple(sorted((tuple(str(k) for k in keys), int(c)) for keys, c in groups if c))


def sum_answer(total: int | None, count: int) -> tuple[int, int]:
    """Canonical Sum: (sum, count of filtered records with a value); SQL's NULL sum is 0."""
    return (int(total or 0), int(count))


def minmax_answer(lo: int | None, hi: int | None) -> tuple[int | None, int | None]:
    """Canonical Min/Max pair; None when no filtered record has a value."""
    return (None if lo is None else int(lo), None if hi is None else int(hi))


def describe_mismatch(a: Answer, b: Answer) -> str:
    """Where two answers first differ, for long answers a human cannot diff by eye."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return f"first difference at item {i}: {x!r} vs {y!r} (lengths {len(a)}, {len(b)})"
        return f"one is a prefix of the other (lengths {len(a)}, {len(b)})"
    return f"{a!r} vs {b!r}"
