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

# Keywords and names are case-insensitive: a name is stored (and shown) in lower case
# (FeatureBase lower-cases `startTime`); a quoted name keeps its case.
select _id from people where _id = 2
=> columns: _id id
=> [2]

SELECT _ID, Name AS Who, "name" FROM People WHERE _id = 2
=> columns: _id id, who string, name string
=> [2, "bob", "bob"]

SELECT "Name" FROM people
=> error ColumnNotFoundError

SELECT nope FROM people
=> error ColumnNotFoundError

SELECT _id FROM nope
=> error TableNotFoundError

SELECT p._id FROM people
=> error ColumnNotFoundError

# A table alias, and the table's own name, qualify its columns.
SELECT p._id, people.name, p.age FROM people AS p WHERE p._id = 2
=> columns: _id id, name string, age int
=> [2, "bob", 40]

SELECT x.name FROM people p
=> error ColumnNotFoundError

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
# Integer / truncates toward zero; % takes the dividend's sign; division by zero is an error
# (FeatureBase's ErrDivideByZero) — once a row has a divisor of 0, not for a NULL operand;
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

SELECT age / team, age % team FROM people WHERE _id IN (1, 5)
=> columns: "" int, "" int
=> [3, 0]
=> [null, null]

SELECT COALESCE(age / 0, -1) FROM people WHERE _id IN (1, 5)
=> error QueryExecutionError

SELECT age % (team - 10) FROM people WHERE _id = 1
=> error QueryExecutionError

SELECT age / 0 FROM people WHERE _id = 7
=> columns: "" int
=> [null]

SELECT score / 0.0 FROM people WHERE _id = 1
=> error QueryExecutionError

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

SELECT CAST('12' AS INT), CAST(born AS INT), CAST(_id AS INT), CAST(1 AS BOOL), CAST('false' AS BOOL) FROM people WHERE _id = 1
=> columns: "" int, "" int, "" int, "" bool, "" bool
=> [12, 946684800, 1, true, false]

# The CAST matrix is FeatureBase's (typesCanBeCast): an ID casts to INT, BOOL, DECIMAL or ID
# only; a set to its own type or STRING ([1 2], or JSON for strings); DECIMAL only to a scale
# at least its own, or STRING.
SELECT CAST(codes AS IDSET), CAST(codes AS STRING), CAST(tags AS STRINGSET), CAST(tags AS STRING) FROM people WHERE _id = 1
=> columns: "" idset, "" string, "" stringset, "" string
=> [[1, 2], "[1 2]", ["red", "blue"], "[\"red\",\"blue\"]"]

SELECT CAST(_id AS STRING) FROM people
=> error TypeMismatchError

SELECT CAST(codes AS BOOL) FROM people
=> error TypeMismatchError

SELECT CAST(born AS BOOL) FROM people
=> error TypeMismatchError

SELECT CAST(score AS INT) FROM people
=> error TypeMismatchError

SELECT CAST(active AS DECIMAL(2)) FROM people
=> error TypeMismatchError

SELECT CAST(1 AS IDSET)
=> error TypeMismatchError

SELECT CAST(0 AS TIMESTAMP), CAST('2023-01-01' AS TIMESTAMP), CAST(born AS STRING) FROM people WHERE _id = 4
=> columns: "" timestamp, "" timestamp, "" string
=> ["1970-01-01T00:00:00Z", "2023-01-01T00:00:00Z", "2010-03-04T05:06:07Z"]

SELECT CAST(score AS DECIMAL(3)), CAST(age AS DECIMAL(1)), CAST('9.25' AS DECIMAL(1)) FROM people WHERE _id = 1
=> columns: "" decimal(3), "" decimal(1), "" decimal(1)
=> [9.250, 30.0, 9.2]

SELECT CAST(score AS DECIMAL(1)) FROM people WHERE _id = 1
=> error TypeMismatchError

SELECT CAST(name AS INT) FROM people WHERE _id = 1
=> error TypeMismatchError

SELECT CAST(name AS BOOL) FROM people WHERE _id = 1
=> error TypeMismatchError

# FLOAT is roarbase's (the /v1 data plane's float columns): to and from numbers and strings.
SELECT CAST(age AS FLOAT), CAST('1.5' AS FLOAT), CAST(score AS FLOAT) FROM people WHERE _id = 1
=> columns: "" float, "" float, "" float
=> [{"float": 30.0}, {"float": 1.5}, {"float": 9.25}]

SELECT CAST(name AS FLOAT) FROM people WHERE _id = 1
=> error TypeMismatchError

# || joins strings only (FeatureBase: operator '||' incompatible with type 'INT').
SELECT name || '!', name || CAST(age AS STRING), UPPER(name), LOWER('AbC'), LEN(name), REVERSE(name) FROM people WHERE _id = 2
=> columns: "" string, "" string, "" string, "" string, "" int, "" string
=> ["bob!", "bob40", "BOB", "abc", 3, "bob"]

SELECT name || age FROM people
=> error TypeMismatchError

SELECT name || active FROM people
=> error TypeMismatchError

SELECT tags || 'x' FROM people
=> error TypeMismatchError

SELECT name || NULL FROM people WHERE _id = 2
=> columns: "" string
=> [null]

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
=> error QueryExecutionError

# Static types (record 7 has no values, so every value is NULL): FeatureBase's rules —
# integers stay INT (ID op ID is ID), a DECIMAL gives the larger scale of its operands
# under + - * / (so score * score is DECIMAL(2)), % takes no DECIMAL, || is a STRING,
# conditions BOOL, COALESCE and CASE the type of their first typed argument.
SELECT age + 1, score * 2, score * score, score - age, score / 4, -score, ABS(temp), team + 1, team + team, _id * 2, age + NULL FROM people WHERE _id = 7
=> columns: "" int, "" decimal(2), "" decimal(2), "" decimal(2), "" decimal(2), "" decimal(2), "" int, "" int, "" id, "" int, "" int
=> [null, null, null, null, null, null, null, null, null, 14, null]

SELECT name || 'x', UPPER(name), LEN(name), age > 1, name IS NULL, age IN (1, 2), COALESCE(score, age), CAST(age AS INTEGER), CAST(name AS VARCHAR), CAST(age AS BOOLEAN) FROM people WHERE _id = 7
=> columns: "" string, "" string, "" int, "" bool, "" bool, "" bool, "" decimal(2), "" int, "" string, "" bool
=> [null, null, null, null, true, null, null, null, null, null]

SELECT score % 2 FROM people
=> error TypeMismatchError

SELECT COALESCE(age, score) FROM people
=> error TypeMismatchError

SELECT CASE WHEN age > 30 THEN 1 ELSE 2.5 END FROM people
=> error TypeMismatchError

SELECT _id, CASE WHEN age > 30 THEN 2.5 ELSE 1 END FROM people WHERE _id IN (1, 2)
=> columns: _id id, "" decimal(1)
=> [1, 1.0]
=> [2, 2.5]

# A decimal result has its type's scale (FeatureBase: 20 / 12.34 is DECIMAL(2) 1.62), the
# quotient rounded half to even: 0.01 / 4 = 0.0025 → 0.00.
SELECT _id, age * 2, score + 1, score / 4, age / score FROM people WHERE _id > 4 ORDER BY _id DESC
=> columns: _id id, "" int, "" decimal(2), "" decimal(2), "" decimal(2)
=> [1048576, 130, 11.00, 2.50, 6.50]
=> [7, null, null, null, null]
=> [6, 36, 1.01, 0.00, 1800.00]
=> [5, null, null, null, null]

# --- the select list is type-checked like WHERE (FeatureBase's operator table) ------------------------

SELECT age = born FROM people
=> error TypeMismatchError

SELECT age = active FROM people
=> error TypeMismatchError

SELECT name < 'g' FROM people
=> error TypeMismatchError

SELECT active < true FROM people
=> error TypeMismatchError

SELECT codes = 1 FROM people
=> error TypeMismatchError

SELECT age & active FROM people
=> error TypeMismatchError

SELECT score & 1 FROM people
=> error TypeMismatchError

SELECT name LIKE 1 FROM people
=> error TypeMismatchError

SELECT age LIKE 'a%' FROM people
=> error TypeMismatchError

SELECT age AND true FROM people
=> error TypeMismatchError

SELECT name BETWEEN 'a' AND 'c' FROM people
=> error TypeMismatchError

SELECT age IN ('a') FROM people
=> error TypeMismatchError

# A timestamp compares with a timestamp literal string (or Unix seconds) in the select list as
# in WHERE, IN included (FeatureBase's defs_in: t1 IN ('2010-11-01T22:08:41+00:00', …)).
SELECT _id, born = '2000-01-01T00:00:00Z', born IN ('1990-06-15T12:30:00+00:00', '2000-01-01T00:00:00+00:00'), born > 946684800, born BETWEEN '1990' AND '2000' FROM people WHERE _id IN (1, 2, 3, 4)
=> columns: _id id, "" bool, "" bool, "" bool, "" bool
=> [1, true, true, false, true]
=> [2, false, true, false, true]
=> [3, null, null, null, null]
=> [4, false, false, true, false]

SELECT born IN ('not a time') FROM people
=> error TypeMismatchError

# Sets compare as sets; ids and decimals compare across types.
SELECT _id, codes = [2, 1], codes IN ([3], [1, 2]), team = 10.0, age > score FROM people WHERE _id IN (1, 3)
=> columns: _id id, "" bool, "" bool, "" bool, "" bool
=> [1, true, true, true, true]
=> [3, false, true, false, true]

# Bit operators (integers): & | << >> and unary ! (bitwise NOT).
SELECT age & 12, age | 1, age << 2, age >> 1, !age, team & age FROM people WHERE _id = 2
=> columns: "" int, "" int, "" int, "" int, "" int, "" int
=> [8, 41, 160, 20, -41, 8]

SELECT 1 << 64
=> error QueryExecutionError

# --- joins, derived tables and subqueries: joins.sql ------------------------------------------------

SELECT * FROM people RIGHT JOIN cities ON people.name = cities._id
=> error NotSupportedError

SELECT * FROM people FULL OUTER JOIN cities ON people.name = cities._id
=> error NotSupportedError

SELECT _id FROM people WITH (nolock(name))
=> error TypeMismatchError
