# DELETE FROM t [WHERE …]: removes whole records (every column, and existence).
#
# Format: ../golden_format.py. Cases run in order on a private copy of the fixture
# (../sql_fixture.py). rows_affected is the number of records deleted.
#! mode: sequential

# age > 50: records 3 and 1048576.
DELETE FROM people WHERE age > 50
=> affected 2

SELECT _id FROM people
=> columns: _id id
=> [1]
=> [2]
=> [4]
=> [5]
=> [6]
=> [7]

# The deleted records leave every column: groups, counts and set members.
SELECT tags, COUNT(*) FROM people WITH (flatten(tags)) GROUP BY tags
=> columns: tags stringset, "" int
=> [["red"], 2]
=> [["blue"], 2]
=> [["green"], 2]

SELECT COUNT(*), COUNT(age), SUM(age), COUNT(DISTINCT name) FROM people
=> columns: "" int, "" int, "" int, "" int
=> [6, 4, 118, 3]

# Three-valued WHERE: NOT active deletes only the records that are false (2 and 5).
DELETE FROM people WHERE NOT active
=> affected 2

SELECT _id FROM people
=> columns: _id id
=> [1]
=> [4]
=> [6]
=> [7]

DELETE FROM people WHERE _id = 99
=> affected 0

DELETE FROM people WHERE SETCONTAINS(tags, 'green') OR name IS NULL
=> affected 2

SELECT _id, name FROM people
=> columns: _id id, name string
=> [1, "ann"]
=> [6, "ann"]

# A deleted _id inserted again is a new record: nothing of the old one comes back.
INSERT INTO people (_id, age) VALUES (3, 1)
=> affected 1

SELECT _id, name, tags, age, score, codes, visits FROM people WHERE _id = 3
=> columns: _id id, name string, tags stringset, age int, score decimal(2), codes idset, visits idsetq
=> [3, null, null, 1, null, null, null]

DELETE FROM cities WHERE state = 'ca'
=> affected 2

SELECT _id FROM cities
=> columns: _id string
=> ["nyc"]
=> ["buf"]

DELETE FROM people WHERE nope = 1
=> error ColumnNotFoundError

DELETE FROM nope
=> error TableNotFoundError

# A subquery picks the records (FeatureBase: `_id IN (SELECT …)`); it reads the table as it
# was before the DELETE.
DELETE FROM people WHERE _id IN (SELECT _id FROM people WHERE age = 1)
=> affected 1

DELETE FROM people WHERE age > (SELECT MAX(age) FROM people)
=> affected 0

# Any condition: expressions and functions are evaluated record by record (record 6: ann, 18).
DELETE FROM people WHERE age * 2 < 40 AND UPPER(name) = 'ANN'
=> affected 1

EXPLAIN DELETE FROM people WHERE age * 2 < 40 AND UPPER(name) = 'ANN'
=> columns: plan string
=> ["Delete from people"]
=> ["  records all then per record: age * 2 < 40 AND UPPER(name) = 'ANN'"]

DELETE people WHERE _id = 1
=> error QuerySyntaxError at 1:8

# Without WHERE every record goes.
DELETE FROM people
=> affected 1

SELECT COUNT(*) FROM people
=> columns: "" int
=> [0]

SELECT name, COUNT(*) FROM people GROUP BY name
=> columns: name string, "" int
