# INSERT INTO / REPLACE INTO … VALUES.
#
# Format: ../golden_format.py. Cases run in order on a private copy of the fixture.
#
# Semantics: a statement writes only the columns it lists, for the given _id (creating the
# record if new). Scalar columns (ID, STRING, BOOL, INT, DECIMAL, TIMESTAMP) are replaced,
# and NULL clears them. Set columns: INSERT adds the members to the set (union), REPLACE
# makes the set exactly the given members; NULL (either verb) clears the set. The whole
# statement commits atomically: one bad row and nothing is written.
#! mode: sequential

CREATE TABLE t (_id ID, s STRING, ss STRINGSET, i INT MIN 0 MAX 100, d DECIMAL(2) MIN -10 MAX 10, b BOOL, ts TIMESTAMP, ids IDSET, m ID, tq IDSETQ TIMEQUANTUM 'YMD')
=> ok

INSERT INTO t (_id, s, ss, i) VALUES (1, 'a', ['x'], 5)
=> affected 1

# INSERT: scalars replaced, sets unioned; unlisted columns untouched.
INSERT INTO t (_id, ss, i) VALUES (1, ['y'], 6)
=> affected 1

SELECT _id, s, ss, i FROM t
=> columns: _id id, s string, ss stringset, i int
=> [1, "a", ["x", "y"], 6]

# A single value for a set column is one member.
INSERT INTO t (_id, ss, ids) VALUES (1, 'z', 7)
=> affected 1

SELECT ss, ids FROM t WHERE _id = 1
=> columns: ss stringset, ids idset
=> [["x", "y", "z"], [7]]

# INSERT of an empty list adds nothing.
INSERT INTO t (_id, ss) VALUES (1, [])
=> affected 1

SELECT ss FROM t WHERE _id = 1
=> columns: ss stringset
=> [["x", "y", "z"]]

# REPLACE: the set becomes exactly the given members; other columns stay.
REPLACE INTO t (_id, ss) VALUES (1, ['w'])
=> affected 1

SELECT _id, s, ss, i, ids FROM t
=> columns: _id id, s string, ss stringset, i int, ids idset
=> [1, "a", ["w"], 6, [7]]

REPLACE INTO t (_id, ss) VALUES (1, [])
=> affected 1

SELECT ss FROM t WHERE _id = 1
=> columns: ss stringset
=> [null]

# NULL clears a set (INSERT or REPLACE) and a scalar.
INSERT INTO t (_id, ids, s) VALUES (1, NULL, NULL)
=> affected 1

SELECT _id, s, ids, i FROM t
=> columns: _id id, s string, ids idset, i int
=> [1, null, null, 6]

# REPLACE of scalar columns is the same as INSERT.
REPLACE INTO t (_id, i, b) VALUES (1, 7, false)
=> affected 1

SELECT i, b FROM t WHERE _id = 1
=> columns: i int, b bool
=> [7, false]

# Several rows; the same _id twice: scalars keep the last value, sets get both.
INSERT INTO t (_id, s, ss) VALUES (2, 'p', ['a']), (3, 'q', ['b']), (2, 'r', ['c'])
=> affected 3

SELECT _id, s, ss FROM t WHERE _id > 1
=> columns: _id id, s string, ss stringset
=> [2, "r", ["a", "c"]]
=> [3, "q", ["b"]]

# Without a column list the values follow the table's columns in order.
INSERT INTO t VALUES (4, 'v', ['k'], 100, -10, true, '2020-01-01', [1, 2], 9, [3])
=> affected 1

SELECT * FROM t WHERE _id = 4
=> columns: _id id, s string, ss stringset, i int, d decimal(2), b bool, ts timestamp, ids idset, m id, tq idsetq
=> [4, "v", ["k"], 100, -10.00, true, "2020-01-01T00:00:00Z", [1, 2], 9, [3]]

# Values may be expressions.
INSERT INTO t (_id, i, s) VALUES (2 + 3, 4 * 5 - 1, 'x' || 'y'), (6, CAST('12' AS INT), UPPER('z'))
=> affected 2

SELECT _id, i, s FROM t WHERE _id IN (5, 6)
=> columns: _id id, i int, s string
=> [5, 19, "xy"]
=> [6, 12, "Z"]

# A record may be created with only NULLs: it exists.
INSERT INTO t (_id, s) VALUES (7, NULL)
=> affected 1

SELECT COUNT(*) FROM t
=> columns: "" int
=> [7]

# --- decimals and timestamps ---------------------------------------------------------------------------

# Decimals are rounded half to even at the column's scale; an int is a whole number.
INSERT INTO t (_id, d) VALUES (10, 1.005), (11, 1.015), (12, 3), (13, -9.999)
=> affected 4

SELECT _id, d FROM t WHERE _id >= 10
=> columns: _id id, d decimal(2)
=> [10, 1.00]
=> [11, 1.02]
=> [12, 3.00]
=> [13, -10.00]

# Timestamps: RFC3339, a date, or integer Unix seconds.
INSERT INTO t (_id, ts) VALUES (14, '2023-06-30T23:59:59Z'), (15, '2023-01-01'), (16, 1672531200), (17, '1969-12-31T23:59:59Z')
=> affected 4

SELECT _id, ts FROM t WHERE _id >= 14
=> columns: _id id, ts timestamp
=> [14, "2023-06-30T23:59:59Z"]
=> [15, "2023-01-01T00:00:00Z"]
=> [16, "2023-01-01T00:00:00Z"]
=> [17, "1969-12-31T23:59:59Z"]

# A time-quantum column takes {timestamp, [members]} (or a plain set: no time view).
INSERT INTO t (_id, tq) VALUES (18, [4])
=> affected 1

INSERT INTO t (_id, tq) VALUES (19, {'2023-01-05T00:00:00Z', [1, 2]}), (20, {1672876800, [3]})
=> affected 2

SELECT _id FROM t WHERE RANGEQ(tq, '2023-01-05', '2023-01-06')
=> columns: _id id
=> [19]
=> [20]

INSERT INTO t (_id, ss) VALUES (21, {'2023-01-05T00:00:00Z', ['a']})
=> error TypeMismatchError

# --- atomicity -------------------------------------------------------------------------------------------

# Row 2 is out of range: row 1 is not written either.
INSERT INTO t (_id, i) VALUES (30, 1), (31, 101)
=> error ValueOutOfRangeError

SELECT _id FROM t WHERE _id IN (30, 31)
=> columns: _id id

# --- string-keyed table --------------------------------------------------------------------------------

INSERT INTO cities (_id, state, pop) VALUES ('bos', 'ma', 650), ('sf', NULL, 801)
=> affected 2

SELECT * FROM cities WHERE state IS NULL OR state = 'ma'
=> columns: _id string, state string, pop int, zips idset
=> ["sf", null, 801, [94103]]
=> ["bos", "ma", 650, null]

INSERT INTO cities (_id, pop) VALUES (5, 1)
=> error KeysNotAllowedError

# --- invalid INSERTs ---------------------------------------------------------------------------------

INSERT INTO t (_id, i) VALUES (40, 101)
=> error ValueOutOfRangeError

INSERT INTO t (_id, i) VALUES (40, -1)
=> error ValueOutOfRangeError

INSERT INTO t (_id, d) VALUES (40, 10.001)
=> error ValueOutOfRangeError

INSERT INTO t (_id, i) VALUES (40, 'x')
=> error TypeMismatchError

INSERT INTO t (_id, i) VALUES (40, 1.5)
=> error TypeMismatchError

INSERT INTO t (_id, b) VALUES (40, 1)
=> error TypeMismatchError

INSERT INTO t (_id, s) VALUES (40, 5)
=> error TypeMismatchError

INSERT INTO t (_id, m) VALUES (40, 'x')
=> error TypeMismatchError

INSERT INTO t (_id, ss) VALUES (40, [1])
=> error TypeMismatchError

INSERT INTO t (_id, ts) VALUES (40, 'noon')
=> error InvalidValueError

INSERT INTO t (_id, ts) VALUES (40, 1.5)
=> error TypeMismatchError

INSERT INTO t (_id, m) VALUES (40, -1)
=> error InvalidParameterError

INSERT INTO t (_id) VALUES (40)
=> error TypeMismatchError

INSERT INTO t (s) VALUES ('a')
=> error TypeMismatchError

INSERT INTO t (_id, s) VALUES (NULL, 'a')
=> error TypeMismatchError

INSERT INTO t (_id, s, s) VALUES (40, 'a', 'b')
=> error TypeMismatchError

INSERT INTO t (_id, s) VALUES (40, 'a', 'b')
=> error TypeMismatchError

INSERT INTO t VALUES (40, 'a')
=> error TypeMismatchError

INSERT INTO t (_id, nope) VALUES (40, 1)
=> error ColumnNotFoundError

INSERT INTO nope (_id, s) VALUES (40, 'a')
=> error TableNotFoundError

INSERT INTO t (_id, s) VALUES (-1, 'a')
=> error InvalidParameterError

INSERT INTO t (_id, s) SELECT _id, name FROM people
=> error QuerySyntaxError

SELECT COUNT(*) FROM t WHERE _id >= 30
=> columns: "" int
=> [0]
