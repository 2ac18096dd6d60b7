"""The SQL fixture database: three tables built with SQL (and the Index API for the
time-quantum values, see below). Every golden answer is worked out by hand from this page.

people (_id ID) — two shards (record 1048576 = 2^20 is in shard 1)

  _id     | name | tags            | age | score | active | born                 | team | codes | level | temp
  1       | ann  | red, blue       | 30  |  9.25 | true   | 2000-01-01T00:00:00Z | 10   | 1, 2  | 11    | -11
  2       | bob  | red             | 40  | 10.00 | false  | 1990-06-15T12:30:00Z | 10   | 2     | 22    | -22
  3       | cy   | [] (no members) | 55  | 12.50 | true   | NULL                 | 20   | 3     | NULL  | NULL
  4       | dee  | green           | 30  | -1.75 | NULL   | 2010-03-04T05:06:07Z | 20   | NULL  | 33    | -33
  5       | NULL | blue, green     | NULL| NULL  | false  | NULL                 | NULL | 1     | 100   | -100
  6       | ann  | NULL            | 18  |  0.01 | true   | 2000-01-01T00:00:00Z | 30   | 1, 3  | 10    | -10
  7       | NULL | NULL            | NULL| NULL  | NULL   | NULL                 | NULL | NULL  | NULL  | NULL   (exists, no values)
  1048576 | eve  | red, green, blue| 65  | 10.00 | false  | 1970-01-01T00:00:00Z | 10   | []    | NULL  | NULL

  visits: 1 → 1, 2 @ 2023-01-05T10:00;  2 → 2 @ 2023-02-01T00:00;  3 → 5 (no time: standard
  view only);  4 → 3 @ 2023-12-31T23:00;  the others NULL.

  Types: name STRING, tags STRINGSET, age INT MIN 0 MAX 150, score DECIMAL(2),
  active BOOL, born TIMESTAMP, team ID, codes IDSET, level INT MIN 10 MAX 100 (base 10),
  temp INT MIN -100 MAX -10 (base -10), visits IDSETQ TIMEQUANTUM 'YMD'.
  Key ids of tags follow first insertion: red=1, blue=2, green=3.

  Handy sums: age 30+40+55+30+18+65 = 238 over 6 records; score 9.25+10.00+12.50-1.75+0.01
  +10.00 = 40.01 over 6; level 11+22+33+100+10 = 176 over 5; temp = -176 over 5.

  The visits values with a time are written with Index.set(…, timestamp=…): the SQL tuple
  literal {timestamp, [members]} does not work (engine bug, see golden/insert.sql).

cities (_id STRING)

  _id | state | pop  | zips
  nyc | ny    | 8000 | 10001, 10002
  sf  | ca    | 800  | 94103
  la  | ca    | 4000 | NULL
  buf | ny    | NULL | 14201

empty (_id ID, x INT, s STRING, ss STRINGSET) — no records.
"""
from __future__ import annotations

# The data lives with `roarbase demo` (server/samples.py), so the documented examples and
# these golden tests query the same records.
from server.samples import (  # noqa: F401  (re-exported for the tests)
    SQL_CITIES as CITIES,
    SQL_EMPTY as EMPTY,
    SQL_PEOPLE_DDL as PEOPLE_DDL,
    SQL_PEOPLE_ROWS as PEOPLE_ROWS,
    SQL_VISITS as VISITS,
    build_sql as build,
)
