# WHERE: every predicate, with SQL's three-valued logic.
#
# Format: SQL text, then "=>" expectation lines (columns, rows as JSON, affected, ok, or
# "error Class [at line:col]"); a blank line ends a case; "#!" lines are directives.
# Full description: ../golden_format.py. Fixture: ../sql_fixture.py (every answer below was
# worked out by hand from that table).
#
# Rules used throughout:
#   * a comparison with a NULL value is unknown, and unknown never passes WHERE;
#   * NOT flips true and false and leaves unknown unknown, so NOT (age = 30) keeps only the
#     records that HAVE an age other than 30;
#   * a set column is never NULL for SETCONTAINS*: a record without members has the empty
#     set, so NOT SETCONTAINS(tags, 'red') includes records 3, 6, 7 (no tags);
#   * records (existence) of people: 1 2 3 4 5 6 7 1048576.

# --- no WHERE, TRUE, FALSE ---------------------------------------------------------------------

SELECT _id FROM people
=> columns: _id id
=> [1]
=> [2]
=> [3]
=> [4]
=> [5]
=> [6]
=> [7]
=> [1048576]

SELECT _id FROM people WHERE true
=> columns: _id id
=> [1]
=> [2]
=> [3]
=> [4]
=> [5]
=> [6]
=> [7]
=> [1048576]

SELECT _id FROM people WHERE false
=> columns: _id id

SELECT _id FROM people WHERE NOT false
=> columns: _id id
=> [1]
=> [2]
=> [3]
=> [4]
=> [5]
=> [6]
=> [7]
=> [1048576]

# --- = != <> < <= > >= on an INT column ---------------------------------------------------------

SELECT _id FROM people WHERE age = 30
=> columns: _id id
=> [1]
=> [4]

# != never matches NULL: records 5 and 7 (no age) are not in the answer.
SELECT _id FROM people WHERE age != 30
=> columns: _id id
=> [2]
=> [3]
=> [6]
=> [1048576]

SELECT _id FROM people WHERE age <> 30
=> columns: _id id
=> [2]
=> [3]
=> [6]
=> [1048576]

SELECT _id FROM people WHERE age < 30
=> columns: _id id
=> [6]

SELECT _id FROM people WHERE age <= 30
=> columns: _id id
=> [1]
=> [4]
=> [6]

SELECT _id FROM people WHERE age > 40
=> columns: _id id
=> [3]
=> [1048576]

SELECT _id FROM people WHERE age >= 40
=> columns: _id id
=> [2]
=> [3]
=> [1048576]

# The literal may come first.
SELECT _id FROM people WHERE 40 <= age
=> columns: _id id
=> [2]
=> [3]
=> [1048576]

# Literals outside the column's MIN/MAX (0..150).
SELECT _id FROM people WHERE age > 1000
=> columns: _id id

SELECT _id FROM people WHERE age < 1000
=> columns: _id id
=> [1]
=> [2]
=> [3]
=> [4]
=> [6]
=> [1048576]

SELECT _id FROM people WHERE age != -5
=> columns: _id id
=> [1]
=> [2]
=> [3]
=> [4]
=> [6]
=> [1048576]

# Comparing with NULL is unknown, whatever the operator, and NOT does not change that.
SELECT _id FROM people WHERE age = NULL
=> columns: _id id

SELECT _id FROM people WHERE NOT (age != NULL)
=> columns: _id id

# --- INT columns with MIN > 0 (base = min) and MAX < 0 (base = max): values round-trip -----------

SELECT _id FROM people WHERE level > 20
=> columns: _id id
=> [2]
=> [4]
=> [5]

SELECT _id FROM people WHERE level = 10
=> columns: _id id
=> [6]

SELECT _id FROM people WHERE temp <= -22
=> columns: _id id
=> [2]
=> [4]
=> [5]

SELECT _id FROM people WHERE temp = -10
=> columns: _id id
=> [6]

# --- DECIMAL(2): literals compare at the column's scale -----------------------------------------

SELECT _id FROM people WHERE score = 10
=> columns: _id id
=> [2]
=> [1048576]

SELECT _id FROM people WHERE score > 9.5
=> columns: _id id
=> [2]
=> [3]
=> [1048576]

SELECT _id FROM people WHERE score < 0
=> columns: _id id
=> [4]

SELECT _id FROM people WHERE score <= 0.01
=> columns: _id id
=> [4]
=> [6]

SELECT _id FROM people WHERE score != 10.00
=> columns: _id id
=> [1]
=> [3]
=> [4]
=> [6]

# --- TIMESTAMP: RFC3339 strings, dates, or integer Unix seconds ----------------------------------

SELECT _id FROM people WHERE born > '2000-01-01T00:00:00Z'
=> columns: _id id
=> [4]

SELECT _id FROM people WHERE born >= '2000-01-01'
=> columns: _id id
=> [1]
=> [4]
=> [6]

SELECT _id FROM people WHERE born < '1990-06-15T12:30:00Z'
=> columns: _id id
=> [1048576]

# 946684800 = 2000-01-01T00:00:00Z in Unix seconds.
SELECT _id FROM people WHERE born = 946684800
=> columns: _id id
=> [1]
=> [6]

SELECT _id FROM people WHERE born = 0
=> columns: _id id
=> [1048576]

SELECT _id FROM people WHERE born = 'not a time'
=> error TypeMismatchError

# --- ID columns (team): = != < > on row ids ----------------------------------------------------------

SELECT _id FROM people WHERE team = 10
=> columns: _id id
=> [1]
=> [2]
=> [1048576]

SELECT _id FROM people WHERE team != 10
=> columns: _id id
=> [3]
=> [4]
=> [6]

SELECT _id FROM people WHERE team > 10
=> columns: _id id
=> [3]
=> [4]
=> [6]

SELECT _id FROM people WHERE team <= 20
=> columns: _id id
=> [1]
=> [2]
=> [3]
=> [4]
=> [1048576]

SELECT _id FROM people WHERE team = -1
=> columns: _id id

# --- STRING columns: = and != (ordering comparisons are not defined) -------------------------------

SELECT _id FROM people WHERE name = 'ann'
=> columns: _id id
=> [1]
=> [6]

SELECT _id FROM people WHERE name != 'ann'
=> columns: _id id
=> [2]
=> [3]
=> [4]
=> [1048576]

SELECT _id FROM people WHERE name = 'nobody'
=> columns: _id id

SELECT _id FROM people WHERE name > 'b'
=> error TypeMismatchError

SELECT _id FROM people WHERE name = 5
=> error TypeMismatchError

# --- BOOL columns ------------------------------------------------------------------------------------

SELECT _id FROM people WHERE active = true
=> columns: _id id
=> [1]
=> [3]
=> [6]

SELECT _id FROM people WHERE active = false
=> columns: _id id
=> [2]
=> [5]
=> [1048576]

# A bare bool column is a condition; NOT of it keeps only records that are false (4 and 7
# have no value: unknown).
SELECT _id FROM people WHERE active
=> columns: _id id
=> [1]
=> [3]
=> [6]

SELECT _id FROM people WHERE NOT active
=> columns: _id id
=> [2]
=> [5]
=> [1048576]

SELECT _id FROM people WHERE active != true
=> columns: _id id
=> [2]
=> [5]
=> [1048576]

SELECT _id FROM people WHERE active = 1
=> error TypeMismatchError

SELECT _id FROM people WHERE active > false
=> error TypeMismatchError

# --- _id ---------------------------------------------------------------------------------------------

SELECT _id FROM people WHERE _id = 4
=> columns: _id id
=> [4]

SELECT _id FROM people WHERE _id = 99
=> columns: _id id

SELECT _id FROM people WHERE _id != 1
=> columns: _id id
=> [2]
=> [3]
=> [4]
=> [5]
=> [6]
=> [7]
=> [1048576]

SELECT _id FROM people WHERE _id > 5
=> columns: _id id
=> [6]
=> [7]
=> [1048576]

SELECT _id FROM people WHERE _id <= 2
=> columns: _id id
=> [1]
=> [2]

SELECT _id FROM people WHERE NOT (_id < 4)
=> columns: _id id
=> [4]
=> [5]
=> [6]
=> [7]
=> [1048576]

SELECT _id FROM people WHERE _id IS NOT NULL
=> columns: _id id
=> [1]
=> [2]
=> [3]
=> [4]
=> [5]
=> [6]
=> [7]
=> [1048576]

SELECT _id FROM people WHERE _id IS NULL
=> columns: _id id

SELECT _id FROM people WHERE _id = 'a'
=> error TypeMismatchError

# String _id (cities): = != IN; ordering is not defined.
SELECT _id FROM cities WHERE _id = 'sf'
=> columns: _id string
=> ["sf"]

SELECT _id FROM cities WHERE _id != 'sf'
=> columns: _id string
=> ["nyc"]
=> ["la"]
=> ["buf"]

SELECT _id FROM cities WHERE _id IN ('la', 'nowhere', 'buf')
=> columns: _id string
=> ["la"]
=> ["buf"]

SELECT _id FROM cities WHERE _id > 'a'
=> error TypeMismatchError

SELECT _id FROM cities WHERE _id = 1
=> error TypeMismatchError

# --- AND / OR / NOT ----------------------------------------------------------------------------------

SELECT _id FROM people WHERE age = 30 AND name = 'ann'
=> columns: _id id
=> [1]

SELECT _id FROM people WHERE age = 30 OR name = 'ann'
=> columns: _id id
=> [1]
=> [4]
=> [6]

# NOT (A OR B) is true only where both A and B are known false: age ≠ 30 and name ≠ 'cy'.
# age ≠ 30: 2 3 6 1048576; name ≠ 'cy': 1 2 4 6 1048576 → 2 6 1048576.
SELECT _id FROM people WHERE NOT (age = 30 OR name = 'cy')
=> columns: _id id
=> [2]
=> [6]
=> [1048576]

# NOT (A AND B) is true where either is known false: age ≠ 30 (2 3 6 1048576) or
# active = false (2 5 1048576).
SELECT _id FROM people WHERE NOT (age = 30 AND active = true)
=> columns: _id id
=> [2]
=> [3]
=> [5]
=> [6]
=> [1048576]

# unknown OR true is true: record 5 has no age but is false.
SELECT _id FROM people WHERE age > 50 OR active = false
=> columns: _id id
=> [2]
=> [3]
=> [5]
=> [1048576]

SELECT _id FROM people WHERE NOT NOT (team = 20)
=> columns: _id id
=> [3]
=> [4]

SELECT _id FROM people WHERE (age < 35 OR age > 60) AND NOT (team = 10)
=> columns: _id id
=> [4]
=> [6]

# --- [NOT] BETWEEN (inclusive) -----------------------------------------------------------------------

SELECT _id FROM people WHERE age BETWEEN 30 AND 40
=> columns: _id id
=> [1]
=> [2]
=> [4]

SELECT _id FROM people WHERE age NOT BETWEEN 30 AND 40
=> columns: _id id
=> [3]
=> [6]
=> [1048576]

# Reversed bounds: BETWEEN is empty, NOT BETWEEN is every record with a value.
SELECT _id FROM people WHERE age BETWEEN 40 AND 30
=> columns: _id id

SELECT _id FROM people WHERE age NOT BETWEEN 40 AND 30
=> columns: _id id
=> [1]
=> [2]
=> [3]
=> [4]
=> [6]
=> [1048576]

SELECT _id FROM people WHERE score BETWEEN 0 AND 10
=> columns: _id id
=> [1]
=> [2]
=> [6]
=> [1048576]

SELECT _id FROM people WHERE born BETWEEN '1980-01-01' AND '2005-01-01'
=> columns: _id id
=> [1]
=> [2]
=> [6]

SELECT _id FROM people WHERE _id BETWEEN 2 AND 4
=> columns: _id id
=> [2]
=> [3]
=> [4]

SELECT _id FROM people WHERE _id NOT BETWEEN 2 AND 6
=> columns: _id id
=> [1]
=> [7]
=> [1048576]

SELECT _id FROM people WHERE age BETWEEN NULL AND 40
=> columns: _id id

SELECT _id FROM people WHERE name BETWEEN 'a' AND 'c'
=> error TypeMismatchError

SELECT _id FROM people WHERE tags BETWEEN 1 AND 2
=> error TypeMismatchError

# --- [NOT] IN ----------------------------------------------------------------------------------------

SELECT _id FROM people WHERE age IN (30, 55)
=> columns: _id id
=> [1]
=> [3]
=> [4]

SELECT _id FROM people WHERE age NOT IN (30, 55)
=> columns: _id id
=> [2]
=> [6]
=> [1048576]

SELECT _id FROM people WHERE name IN ('ann', 'eve', 'zed')
=> columns: _id id
=> [1]
=> [6]
=> [1048576]

SELECT _id FROM people WHERE name NOT IN ('ann', 'eve')
=> columns: _id id
=> [2]
=> [3]
=> [4]

SELECT _id FROM people WHERE team IN (20, 30)
=> columns: _id id
=> [3]
=> [4]
=> [6]

SELECT _id FROM people WHERE active IN (false)
=> columns: _id id
=> [2]
=> [5]
=> [1048576]

SELECT _id FROM people WHERE _id IN (1, 7, 99)
=> columns: _id id
=> [1]
=> [7]

SELECT _id FROM people WHERE _id NOT IN (1, 2)
=> columns: _id id
=> [3]
=> [4]
=> [5]
=> [6]
=> [7]
=> [1048576]

# x IN (30, NULL) is true for 30 and unknown otherwise.
SELECT _id FROM people WHERE age IN (30, NULL)
=> columns: _id id
=> [1]
=> [4]

# x NOT IN (30, NULL) = x <> 30 AND x <> NULL: never true (standard SQL).
SELECT _id FROM people WHERE age NOT IN (30, NULL)
=> columns: _id id

SELECT _id FROM people WHERE NOT (age IN (30, NULL))
=> columns: _id id

SELECT _id FROM people WHERE age IN ('a')
=> error TypeMismatchError

# --- [NOT] LIKE (STRING columns; % any run, _ one character) -------------------------------------

SELECT _id FROM people WHERE name LIKE 'a%'
=> columns: _id id
=> [1]
=> [6]

SELECT _id FROM people WHERE name LIKE '_o_'
=> columns: _id id
=> [2]

SELECT _id FROM people WHERE name LIKE '%e%'
=> columns: _id id
=> [4]
=> [1048576]

SELECT _id FROM people WHERE name LIKE 'ANN'
=> columns: _id id

SELECT _id FROM people WHERE name NOT LIKE 'a%'
=> columns: _id id
=> [2]
=> [3]
=> [4]
=> [1048576]

SELECT _id FROM cities WHERE state LIKE 'c_'
=> columns: _id string
=> ["sf"]
=> ["la"]

SELECT _id FROM people WHERE age LIKE '3%'
=> error TypeMismatchError

SELECT _id FROM people WHERE tags LIKE 'r%'
=> error TypeMismatchError

# --- IS [NOT] NULL -----------------------------------------------------------------------------------

SELECT _id FROM people WHERE age IS NULL
=> columns: _id id
=> [5]
=> [7]

SELECT _id FROM people WHERE age IS NOT NULL
=> columns: _id id
=> [1]
=> [2]
=> [3]
=> [4]
=> [6]
=> [1048576]

SELECT _id FROM people WHERE name IS NULL
=> columns: _id id
=> [5]
=> [7]

SELECT _id FROM people WHERE active IS NULL
=> columns: _id id
=> [4]
=> [7]

SELECT _id FROM people WHERE born IS NULL
=> columns: _id id
=> [3]
=> [5]
=> [7]

SELECT _id FROM people WHERE team IS NULL
=> columns: _id id
=> [5]
=> [7]

SELECT _id FROM people WHERE score IS NOT NULL
=> columns: _id id
=> [1]
=> [2]
=> [3]
=> [4]
=> [6]
=> [1048576]

# A set column IS NULL when it has no members (inserted [] or NULL, or never written).
SELECT _id FROM people WHERE tags IS NULL
=> columns: _id id
=> [3]
=> [6]
=> [7]

SELECT _id FROM people WHERE codes IS NOT NULL
=> columns: _id id
=> [1]
=> [2]
=> [3]
=> [5]
=> [6]

SELECT _id FROM people WHERE visits IS NOT NULL
=> columns: _id id
=> [1]
=> [2]
=> [3]
=> [4]

SELECT _id FROM people WHERE NOT (age IS NULL)
=> columns: _id id
=> [1]
=> [2]
=> [3]
=> [4]
=> [6]
=> [1048576]

# --- SETCONTAINS / SETCONTAINSANY / SETCONTAINSALL ------------------------------------------------

SELECT _id FROM people WHERE SETCONTAINS(tags, 'red')
=> columns: _id id
=> [1]
=> [2]
=> [1048576]

SELECT _id FROM people WHERE NOT SETCONTAINS(tags, 'red')
=> columns: _id id
=> [3]
=> [4]
=> [5]
=> [6]
=> [7]

SELECT _id FROM people WHERE SETCONTAINS(tags, 'purple')
=> columns: _id id

SELECT _id FROM people WHERE NOT SETCONTAINS(tags, 'purple')
=> columns: _id id
=> [1]
=> [2]
=> [3]
=> [4]
=> [5]
=> [6]
=> [7]
=> [1048576]

SELECT _id FROM people WHERE SETCONTAINS(codes, 1)
=> columns: _id id
=> [1]
=> [5]
=> [6]

SELECT _id FROM people WHERE SETCONTAINSANY(tags, ['red', 'green'])
=> columns: _id id
=> [1]
=> [2]
=> [4]
=> [5]
=> [1048576]

SELECT _id FROM people WHERE NOT SETCONTAINSANY(tags, ['red', 'blue'])
=> columns: _id id
=> [3]
=> [4]
=> [6]
=> [7]

SELECT _id FROM people WHERE SETCONTAINSALL(tags, ['red', 'blue'])
=> columns: _id id
=> [1]
=> [1048576]

SELECT _id FROM people WHERE NOT SETCONTAINSALL(tags, ['red', 'blue'])
=> columns: _id id
=> [2]
=> [3]
=> [4]
=> [5]
=> [6]
=> [7]

SELECT _id FROM people WHERE SETCONTAINSALL(codes, [1, 3])
=> columns: _id id
=> [6]

SELECT _id FROM people WHERE SETCONTAINSANY(codes, [2, 3])
=> columns: _id id
=> [1]
=> [2]
=> [3]
=> [6]

# An empty set literal is refused (FeatureBase: "set literal must contain at least one member").
SELECT _id FROM people WHERE SETCONTAINSANY(tags, [])
=> error TypeMismatchError

SELECT _id FROM people WHERE SETCONTAINSALL(tags, [])
=> error TypeMismatchError

SELECT _id FROM people WHERE SETCONTAINSALL(codes, [1]) AND _id < 5
=> columns: _id id
=> [1]

# The time-quantum column is a set too (all its views).
SELECT _id FROM people WHERE SETCONTAINS(visits, 2)
=> columns: _id id
=> [1]
=> [2]

SELECT _id FROM people WHERE SETCONTAINS(age, 30)
=> error TypeMismatchError

SELECT _id FROM people WHERE SETCONTAINS(tags, 1)
=> error TypeMismatchError

SELECT _id FROM people WHERE SETCONTAINSANY(tags, 'red')
=> error TypeMismatchError

SELECT _id FROM people WHERE SETCONTAINS(tags)
=> error TypeMismatchError

SELECT _id FROM people WHERE tags = 'red'
=> error TypeMismatchError

# --- RANGEQ(col, from, to): time-quantum range [from, to); one bound may be NULL ------------------

SELECT _id FROM people WHERE RANGEQ(visits, '2023-01-01', '2023-02-01')
=> columns: _id id
=> [1]

SELECT _id FROM people WHERE RANGEQ(visits, '2023-01-01', '2024-01-01')
=> columns: _id id
=> [1]
=> [2]
=> [4]

# From 2023-02-01 to the end of the latest view.
SELECT _id FROM people WHERE RANGEQ(visits, '2023-02-01', NULL)
=> columns: _id id
=> [2]
=> [4]

# From the earliest view up to 2023-02-01 (exclusive).
SELECT _id FROM people WHERE RANGEQ(visits, NULL, '2023-02-01')
=> columns: _id id
=> [1]

# Integer bounds are Unix seconds: 1675209600 = 2023-02-01T00:00:00Z.
SELECT _id FROM people WHERE RANGEQ(visits, 1675209600, NULL)
=> columns: _id id
=> [2]
=> [4]

SELECT _id FROM people WHERE NOT RANGEQ(visits, '2023-01-01', '2023-02-01')
=> columns: _id id
=> [2]
=> [3]
=> [4]
=> [5]
=> [6]
=> [7]
=> [1048576]

SELECT _id FROM people WHERE RANGEQ(visits, NULL, NULL)
=> error TypeMismatchError

SELECT _id FROM people WHERE RANGEQ(tags, '2023-01-01', NULL)
=> error TypeMismatchError

SELECT _id FROM people WHERE RANGEQ(visits, 'soon', NULL)
=> error TypeMismatchError

# --- what WHERE does not accept ------------------------------------------------------------------------

SELECT _id FROM people WHERE nope = 1
=> error ColumnNotFoundError

# --- expressions in WHERE, evaluated record by record (function-totimestamp.md uses
# `where TOTIMESTAMP(int_ts, 's') > '1970-01-02T00:00:00Z'`) ---------------------------------------
# NULL makes a comparison unknown: records 5 and 7 (no age) never pass, negated or not.

SELECT _id FROM people WHERE age = age
=> columns: _id id
=> [1]
=> [2]
=> [3]
=> [4]
=> [6]
=> [1048576]

SELECT _id FROM people WHERE age + 1 > 41
=> columns: _id id
=> [3]
=> [1048576]

SELECT _id FROM people WHERE NOT (age + 1 > 41)
=> columns: _id id
=> [1]
=> [2]
=> [4]
=> [6]

SELECT _id FROM people WHERE UPPER(name) = 'ANN'
=> columns: _id id
=> [1]
=> [6]

SELECT _id FROM people WHERE level > age / 2 AND team = 20
=> columns: _id id
=> [4]

SELECT _id FROM people WHERE TOTIMESTAMP(age * 86400) > '1970-02-01T00:00:00Z'
=> columns: _id id
=> [2]
=> [3]
=> [1048576]

SELECT _id FROM people WHERE DATETIMEPART('yy', born) = 2000 OR LEN(name) = 2
=> columns: _id id
=> [1]
=> [3]
=> [6]

SELECT _id FROM people WHERE CASE WHEN age > 50 THEN true ELSE false END
=> columns: _id id
=> [3]
=> [1048576]

# 18.50 > 10, 20.00 > 13, 25.00 > 18 pass; -3.50 > 10, 0.02 > 6, 20.00 > 21 do not.
SELECT COUNT(*) FROM people WHERE score * 2 > age / 3
=> columns: "" int
=> [3]

SELECT _id FROM people WHERE SUM(age) > 3
=> error TypeMismatchError

SELECT _id FROM people WHERE UPPER(nope) = 'A'
=> error ColumnNotFoundError

SELECT _id FROM people WHERE UPPER(age) = 'A'
=> error TypeMismatchError

# (DELETE takes any condition: delete.sql.)

SELECT _id FROM people WHERE age
=> error TypeMismatchError

SELECT _id FROM people WHERE 1
=> error TypeMismatchError

# An INT compares with a DECIMAL (FeatureBase: the types are comparable): 30.5 is no age.
SELECT _id FROM people WHERE age = 30.5
=> columns: _id id

SELECT _id FROM people WHERE age > 54.5 AND age <= 65.0
=> columns: _id id
=> [3]
=> [1048576]

SELECT _id FROM people WHERE age != 30.5 AND age BETWEEN 29.5 AND 40.2
=> columns: _id id
=> [1]
=> [2]
=> [4]

SELECT _id FROM people WHERE team IN (10.0, 20.5)
=> columns: _id id
=> [1]
=> [2]
=> [1048576]

SELECT _id FROM people WHERE p._id = 1
=> error ColumnNotFoundError
