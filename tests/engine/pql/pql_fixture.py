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

# The data lives with `roarbase demo` (server/samples.py), so the documented examples and
# these golden tests query the same records.
from server.samples import (  # noqa: F401  (re-exported for the tests)
    ORDERS_FIELDS,
    ORDERS_WRITES,
    PEOPLE_CLEARS,
    PEOPLE_FIELDS,
    PEOPLE_WRITES,
    build_pql as build,
)
