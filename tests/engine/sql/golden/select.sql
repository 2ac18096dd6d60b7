# Projections: *, columns, aliases, ORDER BY, LIMIT/OFFSET, TOP, CAST, arithmetic and
# scalar functions in the select list; the string-keyed table.
#
# Format: ../golden_format.py. Fixture: ../sql_fixture.py (answers worked out by hand).
# Projected values: a set column lists its members (NULL when it has none), a timestamp is
# shown here as RFC3339, a decimal keeps its column's scale.

# --- SELECT * --------------------------------------------------------------------------------------

SELECT * FROM people WHERE _id IN (1, 3, 7)
=> columns: _id id, name string, tags stringset, age int, score decimal(2), active bool, born timestamp, team id, codes idset, level int, temp int, visits idsetq
=> [1, "ann", ["blue", "red"], 30, 9.25, true, "2000-01-01T00:00:00Z", 10, [1, 2], 11, -11, [1, 2]]
=> [3, "cy", null, 55, 12.50, true, null, 20, [3], null, null, [5]]
=> [7, null, null, null, null, null, null, null, null, null, null, null]

SELECT * FROM cities
=> columns: _id string, state string, pop int, zips idset
=> ["nyc", "ny", 8000, [10001, 10002]]
=> ["sf", "ca", 800, [94103]]
=> ["la", "ca", 4000, null]
=> ["buf", "ny", null, [14201]]

SELECT * FROM empty
=> columns: _id id, x int, s string, ss stringset

# --- columns, aliases, quoted names ----------------------------------------------------------------

SELECT name, age, _id FROM people WHERE team = 20
=> columns: name string, age int, _id id
=> ["cy", 55, 3]
=> ["dee", 30, 4]

SELECT _id AS id, name AS "Who" FROM people WHERE _id = 2
=> columns: id id, Who string
=> [2, "bob"]

SELECT "name", `age` FROM "people" WHERE "age" = 18
=> columns: name string, age int
=> ["ann", 18]

SELECT score, born, level, temp FROM people WHERE _id = 4
=> columns: score decimal(2), born timestamp, level int, temp int
=> [-1.75, "2010-03-04T05:06:07Z", 33, -33]

SELECT _id, tags, codes FROM people WHERE _id = 1048576
=> columns: _id id, tags stringset, codes idset
=> [1048576, ["blue", "green", "red"], null]

SELECT _id, name, name FROM people WHERE _id = 6
=> columns: _id id, name string, name string
=> [6, "ann", "ann"]

# Identifiers are case-sensitive; keywords are not.
select _id from people where _id = 2
=> columns: _id id
=> [2]

SELECT _id FROM People
=> error TableNotFoundError

SELECT nope FROM people
=> error ColumnNotFoundError

SELECT _id FROM nope
=> error TableNotFoundError

SELECT p._id FROM people
=> error NotSupportedError

# --- ORDER BY: column, alias, position, expression, a column not selected; NULLs first ASC -------

SELECT _id, age FROM people ORDER BY age, _id
=> columns: _id id, age int
=> [5, null]
=> [7, null]
=> [6, 18]
=> [1, 30]
=> [4, 30]
=> [2, 40]
=> [3, 55]
=> [1048576, 65]

SELECT _id, age FROM people ORDER BY age DESC, _id DESC
=> columns: _id id, age int
=> [1048576, 65]
=> [3, 55]
=> [2, 40]
=> [4, 30]
=> [1, 30]
=> [6, 18]
=> [7, null]
=> [5, null]

SELECT name AS n FROM people WHERE name IS NOT NULL ORDER BY n DESC
=> columns: n string
=> ["eve"]
=> ["dee"]
=> ["cy"]
=> ["bob"]
=> ["ann"]
=> ["ann"]

SELECT _id, score FROM people WHERE score IS NOT NULL ORDER BY 2, 1
=> columns: _id id, score decimal(2)
=> [4, -1.75]
=> [6, 0.01]
=> [1, 9.25]
=> [2, 10.00]
=> [1048576, 10.00]
=> [3, 12.50]

SELECT _id FROM people WHERE born IS NOT NULL ORDER BY born DESC, _id
=> columns: _id id
=> [4]
=> [1]
=> [6]
=> [2]
=> [1048576]

SELECT _id, age FROM people WHERE age IS NOT NULL ORDER BY age * -1, _id LIMIT 3
=> columns: _id id, age int
=> [1048576, 65]
=> [3, 55]
=> [2, 40]

SELECT _id FROM people WHERE name IS NOT NULL ORDER BY name, _id DESC
=> columns: _id id
=> [6]
=> [1]
=> [2]
=> [3]
=> [4]
=> [1048576]

SELECT _id, active FROM people ORDER BY active DESC, _id
=> columns: _id id, active bool
=> [1, true]
=> [3, true]
=> [6, true]
=> [2, false]
=> [5, false]
=> [1048576, false]
=> [4, null]
=> [7, null]

SELECT _id FROM cities ORDER BY _id
=> columns: _id string
=> ["buf"]
=> ["la"]
=> ["nyc"]
=> ["sf"]

SELECT _id, tags FROM people ORDER BY tags
=> error TypeMismatchError

SELECT _id FROM people ORDER BY 9
=> error TypeMismatchError

# --- LIMIT / OFFSET / TOP ------------------------------------------------------------------------------

SELECT _id FROM people ORDER BY _id LIMIT 3
=> columns: _id id
=> [1]
=> [2]
=> [3]

SELECT _id FROM people ORDER BY _id LIMIT 2 OFFSET 5
=> columns: _id id
=> [6]
=> [7]

SELECT _id FROM people ORDER BY _id DESC LIMIT 2 OFFSET 1
=> columns: _id id
=> [7]
=> [6]

SELECT _id FROM people ORDER BY _id LIMIT 5 OFFSET 7
=> columns: _id id
=> [1048576]

SELECT _id FROM people ORDER BY _id LIMIT 0
=> columns: _id id

# Without ORDER BY, records come in _id order (so LIMIT keeps the smallest ids).
#! ordered
SELECT _id FROM people LIMIT 3
=> columns: _id id
=> [1]
=> [2]
=> [3]

#! ordered
SELECT _id, name FROM people WHERE name = 'ann' LIMIT 1
=> columns: _id id, name string
=> [1, "ann"]

#! ordered
SELECT _id FROM people LIMIT 2 OFFSET 1
=> columns: _id id
=> [2]
=> [3]

SELECT _id FROM people LIMIT 0
=> columns: _id id

#! ordered
SELECT TOP(2) _id FROM people
=> columns: _id id
=> [1]
=> [2]

SELECT TOP(3) _id, age FROM people ORDER BY age DESC
=> columns: _id id, age int
=> [1048576, 65]
=> [3, 55]
=> [2, 40]

SELECT TOP(0) _id FROM people
=> columns: _id id

SELECT TOP(2) _id FROM people LIMIT 3
=> error TypeMismatchError

# --- arithmetic, CAST and functions in the select list ----------------------------------------------
# Integer / truncates toward zero; % takes the dividend's sign; division by zero is NULL;
# NULL in, NULL out.

SELECT _id, age + 1, (age) - 100, age * 2, age / 7, age % 7, -age FROM people WHERE _id IN (1, 5)
=> columns: _id id, "" int, "" int, "" int, "" int, "" int, "" int
=> [1, 31, -70, 60, 4, 2, -30]
=> [5, null, null, null, null, null, null]

# Binary minus right after a column name (a syntax error until commit 5556f16).
SELECT age - 100, age-1 FROM people WHERE _id = 1
=> columns: "" int, "" int
=> [-70, 29]

SELECT 7 / -2, -7 / 2, -7 % 3, 7 % -3 FROM people WHERE _id = 1
=> columns: "" int, "" int, "" int, "" int
=> [-3, -3, -1, 1]

SELECT COALESCE(age / 0, -1), COALESCE(age % 0, -2), age / team FROM people WHERE _id IN (1, 5)
=> columns: "" int, "" int, "" int
=> [-1, -2, 3]
=> [-1, -2, null]

# int + decimal is a decimal.
SELECT age + score, score * 2, score - 1 FROM people WHERE _id = 1
=> columns: "" decimal(2), "" decimal(2), "" decimal(2)
=> [39.25, 18.50, 8.25]

SELECT 1 + 2 AS three, 'x' AS s FROM people WHERE _id = 1
=> columns: three int, s string
=> [3, "x"]

SELECT CAST(age AS STRING), CAST(age AS DECIMAL(2)), CAST(score AS STRING), CAST(active AS STRING) FROM people WHERE _id = 2
=> columns: "" string, "" decimal(2), "" string, "" string
=> ["40", 40.00, "10.00", "false"]

SELECT CAST('12' AS INT), CAST(born AS INT), CAST(_id AS STRING), CAST(1 AS BOOL), CAST('false' AS BOOL) FROM people WHERE _id = 1
=> columns: "" int, "" int, "" string, "" bool, "" bool
=> [12, 946684800, "1", true, false]

SELECT CAST(0 AS TIMESTAMP), CAST('2023-01-01' AS TIMESTAMP), CAST(born AS STRING) FROM people WHERE _id = 4
=> columns: "" timestamp, "" timestamp, "" string
=> ["1970-01-01T00:00:00Z", "2023-01-01T00:00:00Z", "2010-03-04T05:06:07Z"]

# 9.25 at one decimal rounds half to even.
SELECT CAST(score AS DECIMAL(1)), CAST(age AS DECIMAL(1)) FROM people WHERE _id = 1
=> columns: "" decimal(1), "" decimal(1)
=> [9.2, 30.0]

SELECT CAST(name AS INT) FROM people WHERE _id = 1
=> error TypeMismatchError

SELECT CAST(name AS BOOL) FROM people WHERE _id = 1
=> error TypeMismatchError

SELECT CAST(age AS FLOAT) FROM people WHERE _id = 1
=> error TypeMismatchError

SELECT name || '!', name || age, UPPER(name), LOWER('AbC'), LEN(name), REVERSE(name) FROM people WHERE _id = 2
=> columns: "" string, "" string, "" string, "" string, "" int, "" string
=> ["bob!", "bob40", "BOB", "abc", 3, "bob"]

SELECT TRIM('  x '), LTRIM('  x '), RTRIM('  x '), ABS(temp), COALESCE(age, -1) FROM people WHERE _id = 5
=> columns: "" string, "" string, "" string, "" int, "" int
=> ["x", "x ", "  x", 100, -1]

SELECT COALESCE(name, 'nobody'), UPPER(name) FROM people WHERE _id = 7
=> columns: "" string, "" string
=> ["nobody", null]

SELECT age > 30, age IS NULL, name LIKE 'a%', age BETWEEN 1 AND 30, age IN (30, 40) FROM people WHERE _id = 1
=> columns: "" bool, "" bool, "" bool, "" bool, "" bool
=> [false, false, true, true, true]

SELECT _id, age + 1 AS next FROM people WHERE _id < 3 ORDER BY next DESC
=> columns: _id id, next int
=> [2, 41]
=> [1, 31]

SELECT name + 1 FROM people WHERE _id = 1
=> error TypeMismatchError

SELECT UPPER(age) FROM people WHERE _id = 1
=> error TypeMismatchError

SELECT NOSUCHFUNC(age) FROM people WHERE _id = 1
=> error NotSupportedError

# A NULL-valued expression column is typed from the expression, not from its first value.
SELECT age + 1 FROM people WHERE _id = 7
=> columns: "" int
=> [null]

SELECT age / 0 FROM people WHERE _id = 1
=> columns: "" int
=> [null]

# Static types of NULL-valued expressions (record 7 has no values): arithmetic keeps int,
# a decimal's scale adds up under * and is the larger one under + - %, a quotient's scale
# is its value's (the operands' larger one without a value), || is a string, conditions bool.
SELECT age + 1, score * 2, score * score, score - age, score % 2, score / 4, -score, ABS(temp), team + 1, _id * 2, age + NULL FROM people WHERE _id = 7
=> columns: "" int, "" decimal(2), "" decimal(4), "" decimal(2), "" decimal(2), "" decimal(2), "" decimal(2), "" int, "" int, "" int, "" int
=> [null, null, null, null, null, null, null, null, null, 14, null]

SELECT name || 'x', UPPER(name), LEN(name), age > 1, name IS NULL, age IN (1, 2), COALESCE(age, score), CAST(age AS INTEGER), CAST(name AS VARCHAR), CAST(age AS BOOLEAN) FROM people WHERE _id = 7
=> columns: "" string, "" string, "" int, "" bool, "" bool, "" bool, "" int, "" int, "" string, "" bool
=> [null, null, null, null, true, null, null, null, null, null]

# The first values are NULL: the type still comes from the expression.
SELECT _id, age * 2, score + 1, score / 4 FROM people WHERE _id > 4 ORDER BY _id DESC
=> columns: _id id, "" int, "" decimal(2), "" decimal(2)
=> [1048576, 130, 11.00, 2.50]
=> [7, null, null, null]
=> [6, 36, 1.01, 0.0025]
=> [5, null, null, null]

# --- joins, derived tables and subqueries are not supported ---------------------------------------

SELECT * FROM people JOIN cities ON people.name = cities._id
=> error NotSupportedError

SELECT * FROM people p LEFT OUTER JOIN cities c ON p.name = c._id
=> error NotSupportedError

SELECT * FROM people, cities
=> error NotSupportedError

SELECT * FROM (SELECT _id FROM people) AS sub
=> error NotSupportedError

SELECT (SELECT COUNT(*) FROM people) FROM people
=> error NotSupportedError

SELECT _id FROM people WITH (nolock(name))
=> error NotSupportedError
