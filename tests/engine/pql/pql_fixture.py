"""The fixture database the PQL golden files query, described once, as data.

Three indexes. Every expected answer in golden/*.pql was worked out by hand from the
tables below (and ../../../../shared/reference/featurebase-semantics.md), never copied
from the engine's output.

Index `people` (record ids, existence tracked). Shards: ids 1..7 are in shard 0,
1048576 = 2^20 and 1048577 in shard 1, 2097155 = 2^21 + 3 in shard 2.

| record  | color (set) | size (mutex) | active (bool) | age (int) | score (int 10..100) | temp (int -100..-10) | price (decimal, scale 2) | ts (timestamp, s)     | tags (set, keys) | city (mutex, keys) | visits (time YMD)                          |
|---------|-------------|--------------|---------------|-----------|---------------------|----------------------|--------------------------|-----------------------|------------------|--------------------|--------------------------------------------|
| 1       | 1, 2        | 10           | true          | 30        | 11                  | -11                  | 9.25                     | 2020-01-01T00:00:00Z  | zeta, alpha      | nyc                | 1 @ 2023-01-05T10:00, 2 @ 2023-02-01T00:00 |
| 2       | 1           | 10           | false         | 40        | 22                  | -22                  | 10.00                    | 2021-06-15T12:30:00Z  | alpha            | sf                 | 1 @ 2023-01-31T23:00                       |
| 3       | 2, 3        | 20 (was 10)  | true          | 55        | 33                  |                      | 12.50                    |                       | mid              | nyc                | 1 @ 2023-03-10T00:00                       |
| 4       | 3           |              |               | 30        |                     | -33                  | -1.75                    | 2019-12-31T23:59:59Z  |                  | la                 |                                            |
| 5       |             | 20           | true          | -5        | 100                 | -100                 |                          |                       |                  | nyc                |                                            |
| 6       |             |              |               |           |                     |                      |                          |                       | zeta             |                    |                                            |
| 7       | (9, cleared)|              |               |           |                     |                      |                          |                       |                  |                    |                                            |
| 1048576 | 1           | 30           | false         | 40        | 10                  | -10                  | 0.01                     |                       |                  | sf                 | 2 @ 2022-12-31T00:00                       |
| 1048577 | 1, 2, 3     | 10           | true          |           | 55                  |                      |                          | 2022-03-04T05:06:07Z  | alpha, mid       |                    | 1 @ 2023-01-05T00:00, 3 (no time)          |
| 2097155 | 2           | 20           |               | 30        |                     |                      | 10.00                    |                       |                  | la                 |                                            |

Record 7 was given color=9 and then had it cleared: it exists (Clear keeps existence) but
holds no value anywhere. Record 3 was first size=10, then size=20 (mutex replaces).
Keys are first seen in table order, so tags row ids are zeta=1, alpha=2, mid=3 and city
row ids are nyc=1, sf=2, la=3 (FeatureBase allocates row-key ids in first-seen order).
Existence = {1, 2, 3, 4, 5, 6, 7, 1048576, 1048577, 2097155}.

Index `orders` (string record keys), fields `user` (int: a people record id), `amount` (int),
`item` (set, keys):

| record | user    | amount | item        |
|--------|---------|--------|-------------|
| o1     | 1       | 5      | pen         |
| o2     | 3       | 20     | pen, ink    |
| o3     | 1048576 | 15     | ink         |
| o4     | 3       | 50     | paper       |

Index `bare` (record ids, existence NOT tracked), field `f` (set): record 1 → row 1.
"""
from __future__ import annotations

from typing import Any

PEOPLE_FIELDS: list[tuple[str, str, dict[str, Any]]] = [
    ("color", "set", {}),
    ("size", "mutex", {}),
    ("active", "bool", {}),
    ("age", "int", {}),
    ("score", "int", {"min": 10, "max": 100}),
    ("temp", "int", {"min": -100, "max": -10}),
    ("price", "decimal", {"scale": 2}),
    ("ts", "timestamp", {"time_unit": "s"}),
    ("tags", "set", {"keys": True}),
    ("city", "mutex", {"keys": True}),
    ("visits", "time", {"time_quantum": "YMD"}),
]

# (record, field, value[, timestamp]) in the order they are written.
PEOPLE_WRITES: list[tuple[Any, ...]] = [
    (1, "color", 1), (1, "color", 2), (1, "size", 10), (1, "active", True), (1, "age", 30),
    (1, "score", 11), (1, "temp", -11), (1, "price", "9.25"), (1, "ts", "2020-01-01T00:00:00Z"),
    (1, "tags", "zeta"), (1, "tags", "alpha"), (1, "city", "nyc"),
    (1, "visits", 1, "2023-01-05T10:00"), (1, "visits", 2, "2023-02-01T00:00"),

    (2, "color", 1), (2, "size", 10), (2, "active", False), (2, "age", 40), (2, "score", 22),
    (2, "temp", -22), (2, "price", "10.00"), (2, "ts", "2021-06-15T12:30:00Z"), (2, "tags", "alpha"),
    (2, "city", "sf"), (2, "visits", 1, "2023-01-31T23:00"),

    (3, "color", 2), (3, "color", 3), (3, "size", 10), (3, "size", 20), (3, "active", True),
    (3, "age", 55), (3, "score", 33), (3, "price", "12.50"), (3, "tags", "mid"), (3, "city", "nyc"),
    (3, "visits", 1, "2023-03-10T00:00"),

    (4, "color", 3), (4, "age", 30), (4, "temp", -33), (4, "price", "-1.75"),
    (4, "ts", "2019-12-31T23:59:59Z"), (4, "city", "la"),

    (5, "size", 20), (5, "active", True), (5, "age", -5), (5, "score", 100), (5, "temp", -100),
    (5, "city", "nyc"),

    (6, "tags", "zeta"),

    (7, "color", 9),

    (1048576, "color", 1), (1048576, "size", 30), (1048576, "active", False), (1048576, "age", 40),
    (1048576, "score", 10), (1048576, "temp", -10), (1048576, "price", "0.01"), (1048576, "city", "sf"),
    (1048576, "visits", 2, "2022-12-31T00:00"),

    (1048577, "color", 1), (1048577, "color", 2), (1048577, "color", 3), (1048577, "size", 10),
    (1048577, "active", True), (1048577, "score", 55), (1048577, "ts", "2022-03-04T05:06:07Z"),
    (1048577, "tags", "alpha"), (1048577, "tags", "mid"), (1048577, "visits", 1, "2023-01-05T00:00"),
    (1048577, "visits", 3),

    (2097155, "color", 2), (2097155, "size", 20), (2097155, "age", 30), (2097155, "price", "10.00"),
    (2097155, "city", "la"),
]

PEOPLE_CLEARS: list[tuple[Any, str, Any]] = [(7, "color", 9)]

ORDERS_FIELDS: list[tuple[str, str, dict[str, Any]]] = [
    ("user", "int", {"min": 0}),
    ("amount", "int", {}),
    ("item", "set", {"keys": True}),
]

ORDERS_WRITES: list[tuple[Any, ...]] = [
    ("o1", "user", 1), ("o1", "amount", 5), ("o1", "item", "pen"),
    ("o2", "user", 3), ("o2", "amount", 20), ("o2", "item", "pen"), ("o2", "item", "ink"),
    ("o3", "user", 1048576), ("o3", "amount", 15), ("o3", "item", "ink"),
    ("o4", "user", 3), ("o4", "amount", 50), ("o4", "item", "paper"),
]


def build(db: Any) -> None:
    """Create and fill the three indexes in an open, empty Holder."""
    people = db.create_index("people")
    for name, ftype, opts in PEOPLE_FIELDS:
        people.create_field(name, ftype, **opts)
    for w in PEOPLE_WRITES:
        people.set(*w)
    for col, field, value in PEOPLE_CLEARS:
        people.clear(col, field, value)

    orders = db.create_index("orders", keys=True)
    for name, ftype, opts in ORDERS_FIELDS:
        orders.create_field(name, ftype, **opts)
    for w in ORDERS_WRITES:
        orders.set(*w)

    bare = db.create_index("bare", track_existence=False)
    bare.create_field("f", "set")
    bare.set(1, "f", 1)
