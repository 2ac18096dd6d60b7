"""The sample datasets every example of docs/pql.md and docs/sql.md runs against.

`roarbase demo --data-dir DIR` loads them as two databases of the data dir's first org:

- `docs-pql`: the PQL reference's indexes — `people` (record ids in three shards; set,
  mutex, bool, int, decimal, timestamp, keyed and time fields), `orders` (string record
  keys) and `bare` (no existence tracking). docs/pql.md has the table of its values.
- `docs-sql`: the SQL reference's tables — `people` (two shards, every column type, NULLs),
  `cities` (string ids) and `empty`. docs/sql.md has the table of its values.

The same data is the fixture of the golden tests (tests/engine/pql, tests/engine/sql),
whose expected answers were worked out by hand from those tables, so a documented example
and its test agree by construction. Writes go through the engine's Index API and SQL,
in a fixed order (key ids depend on first-seen order).
"""
from __future__ import annotations

from typing import Any, Callable

from server.service.context import ServiceContext

# -- docs-pql ------------------------------------------------------------------------------------

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


def build_pql(db: Any) -> None:
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

# -- docs-sql ------------------------------------------------------------------------------------

SQL_PEOPLE_DDL = """
CREATE TABLE people (
  _id ID,
  name STRING,
  tags STRINGSET,
  age INT MIN 0 MAX 150,
  score DECIMAL(2),
  active BOOL,
  born TIMESTAMP,
  team ID,
  codes IDSET,
  level INT MIN 10 MAX 100,
  temp INT MIN -100 MAX -10,
  visits IDSETQ TIMEQUANTUM 'YMD'
) COMMENT 'the SQL fixture'
"""

SQL_PEOPLE_ROWS = """
INSERT INTO people (_id, name, tags, age, score, active, born, team, codes, level, temp) VALUES
  (1, 'ann', ['red', 'blue'], 30, 9.25, true, '2000-01-01T00:00:00Z', 10, [1, 2], 11, -11),
  (2, 'bob', ['red'], 40, 10.00, false, '1990-06-15T12:30:00Z', 10, [2], 22, -22),
  (3, 'cy', [], 55, 12.50, true, NULL, 20, [3], NULL, NULL),
  (4, 'dee', ['green'], 30, -1.75, NULL, '2010-03-04T05:06:07Z', 20, NULL, 33, -33),
  (5, NULL, ['blue', 'green'], NULL, NULL, false, NULL, NULL, [1], 100, -100),
  (6, 'ann', NULL, 18, 0.01, true, '2000-01-01T00:00:00Z', 30, [1, 3], 10, -10),
  (7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (1048576, 'eve', ['red', 'green', 'blue'], 65, 10.00, false, '1970-01-01T00:00:00Z', 10, [], NULL, NULL);
INSERT INTO people (_id, visits) VALUES (3, [5])
"""

# (record, member, minute-precision time) written through the Index API.
SQL_VISITS = [(1, 1, "2023-01-05T10:00"), (1, 2, "2023-01-05T10:00"), (2, 2, "2023-02-01T00:00"),
          (4, 3, "2023-12-31T23:00")]

SQL_CITIES = """
CREATE TABLE cities (_id STRING, state STRING, pop INT, zips IDSET);
INSERT INTO cities (_id, state, pop, zips) VALUES
  ('nyc', 'ny', 8000, [10001, 10002]),
  ('sf', 'ca', 800, [94103]),
  ('la', 'ca', 4000, NULL),
  ('buf', 'ny', NULL, [14201])
"""

SQL_EMPTY = "CREATE TABLE empty (_id ID, x INT, s STRING, ss STRINGSET)"


def build_sql(db: Any) -> None:
    db.sql(SQL_PEOPLE_DDL)
    db.sql_all(SQL_PEOPLE_ROWS)
    people = db.index("people")
    for record, member, when in SQL_VISITS:
        people.set(record, "visits", member, timestamp=when)
    db.sql_all(SQL_CITIES)
    db.sql(SQL_EMPTY)


DATASETS: dict[str, Callable[[Any], None]] = {"docs-pql": build_pql, "docs-sql": build_sql}
_MARKER = "roarbase_sample"


def ensure(ctx: ServiceContext, name: str) -> tuple[str, bool]:
    """The sample database `name` (a key of DATASETS), created and loaded unless this data
    dir has it already: (database id, whether this call loaded it). A load cut short is
    redone from an empty database. Runs as the first org's root account."""
    from server.service import tokens
    from server.service import databases
    from server.service.errors import ResourceNotFound

    owner = tokens.owner_principal(ctx)
    try:
        db = databases.get_database_by_name(ctx, owner, name)
    except ResourceNotFound:
        db = databases.create_database(ctx, owner, name=name, description=f"the {name} sample dataset"
                                                                           " (roarbase demo)")
    if (db.metadata.get(_MARKER) or {}).get("loaded"):
        return db.id, False
    holder = databases.engine_for(ctx, db)
    for index in list(holder.indexes()):
        holder.drop_index(index.name)
    DATASETS[name](holder)
    databases.update_database(ctx, owner, db.id, metadata={_MARKER: {"loaded": True}}, preserve=True)
    return db.id, True
