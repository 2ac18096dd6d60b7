# Statement-level behaviour: several statements in one text, comments, EXPLAIN (plans are
# checked in ../test_api.py), syntax errors with their position.
#
# Format: ../golden_format.py. Fixture: ../sql_fixture.py.

# db.sql returns the last statement's result.
SELECT COUNT(*) FROM people; SELECT COUNT(*) FROM cities
=> columns: "" int
=> [4]

SELECT COUNT(*) FROM people;
=> columns: "" int
=> [8]

-- a comment line
SELECT COUNT(*) FROM empty -- and a trailing comment
=> columns: "" int
=> [0]

-- only a comment: no statement, an empty result
=> ok

# --- EXPLAIN ------------------------------------------------------------------------------------------

EXPLAIN SELECT * FROM nope
=> error TableNotFoundError

EXPLAIN SELECT * FROM people JOIN cities ON people._id = cities._id
=> error TypeMismatchError

EXPLAIN SELECT _id FROM people WHERE nope = 1
=> error ColumnNotFoundError

# --- syntax errors: QuerySyntaxError with line and column ---------------------------------------------

SELEC _id FROM people
=> error QuerySyntaxError at 1:1

# An unfinished statement: the error points just past its end.
SELECT _id FROM people WHERE
=> error QuerySyntaxError at 1:29

SELECT _id
FROM people
WHERE age > >
=> error QuerySyntaxError at 3:13

SELECT _id FROM people WHERE age > 1e5
=> error QuerySyntaxError at 1:37

SELECT _id FROM people;;
=> error QuerySyntaxError at 1:24

SELECT 'unterminated FROM people
=> error QuerySyntaxError at 1:8

SELECT _id FROM people ORDER _id
=> error QuerySyntaxError at 1:30

# FROM is reserved: after a comma it is not a column name.
SELECT _id, FROM people
=> error QuerySyntaxError at 1:13

SELECT COUNT(DISTINCT *) FROM people
=> error QuerySyntaxError at 1:23

# FROM is optional (featurebase-client.md: `select toTimeStamp(0)`); WHERE keeps or drops
# the one row.
SELECT 1 WHERE true
=> columns: "" int
=> [1]

UPDATE people SET age = 1
=> error QuerySyntaxError at 1:1

ALTER TABLE people RENAME COLUMN age TO years
=> error QuerySyntaxError at 1:20

COPY people TO people2
=> error QuerySyntaxError at 1:1

SELECT _id FROM people WHERE age > 1 OVER (PARTITION BY team)
=> error QuerySyntaxError at 1:38
