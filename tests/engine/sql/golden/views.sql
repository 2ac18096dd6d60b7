# Views: CREATE [IF NOT EXISTS] / ALTER / DROP [IF EXISTS] VIEW, SHOW VIEWS; a view is
# planned where it is named (FeatureBase's defs_views.go, on the joins.sql tables).
#
# Format: ../golden_format.py. Cases run in order on a private copy of the fixture.
#
#   users  _id name age city      orders _id userid price
#          0   a    21  nyc              1   0      3.99
#          1   b    18  sf               3   3      5.99
#          2   c    28  nyc
#          3   d    34  NULL
#          4   e    40  la
#! mode: sequential

CREATE TABLE users (_id ID, name STRING, age INT, city STRING); CREATE TABLE orders (_id ID, userid INT, price DECIMAL(2))
=> ok

INSERT INTO users (_id, name, age, city) VALUES (0, 'a', 21, 'nyc'), (1, 'b', 18, 'sf'), (2, 'c', 28, 'nyc'), (3, 'd', 34, NULL), (4, 'e', 40, 'la'); INSERT INTO orders (_id, userid, price) VALUES (1, 0, 3.99), (3, 3, 5.99)
=> affected 2

CREATE VIEW adults AS SELECT _id, name, age FROM users WHERE age >= 21
=> ok

CREATE VIEW adults AS SELECT _id, name, age FROM users WHERE age >= 21
=> error AlreadyExistsError

CREATE VIEW IF NOT EXISTS adults AS SELECT _id FROM users
=> ok

SELECT * FROM adults
=> columns: _id id, name string, age int
=> [0, "a", 21]
=> [2, "c", 28]
=> [3, "d", 34]
=> [4, "e", 40]

SELECT _id, name, age FROM adults WHERE name > 'b'
=> error TypeMismatchError

SELECT name FROM adults WHERE age < 30
=> columns: name string
=> ["a"]
=> ["c"]

# A view that only selects columns of one table under a WHERE is merged into the query.
EXPLAIN SELECT COUNT(*) FROM adults WHERE age < 30
=> columns: plan string
=> ["Project COUNT(*)"]
=> ["  BitmapAggregate users [COUNT(*)] where (21 <= age (stored) and age <= 29 (stored))"]

SHOW VIEWS
=> columns: _id string, name string, statement string
=> ["adults", "adults", "SELECT _id, name, age FROM users WHERE age >= 21"]

ALTER VIEW adults AS SELECT _id, name, age FROM users WHERE age > 30
=> ok

SELECT * FROM adults
=> columns: _id id, name string, age int
=> [3, "d", 34]
=> [4, "e", 40]

# A view on a view, a view with GROUP BY, a join with a view.
CREATE VIEW old_names AS SELECT name AS who FROM adults
=> ok

SELECT who FROM old_names
=> columns: who string
=> ["d"]
=> ["e"]

CREATE VIEW by_city AS SELECT city, COUNT(*) AS n FROM users GROUP BY city
=> ok

SELECT * FROM by_city WHERE n > 1
=> columns: city string, n int
=> ["nyc", 2]

SELECT a.name, o.price FROM adults a JOIN orders o ON o.userid = a._id
=> columns: name string, price decimal(2)
=> ["d", 5.99]

# A view names CURRENT_TIMESTAMP: evaluated when the view is used (FeatureBase's test).
CREATE VIEW IF NOT EXISTS past AS SELECT _id FROM users WHERE age < 30 OR CURRENT_TIMESTAMP < CURRENT_DATE
=> ok

SELECT COUNT(*) FROM past
=> columns: "" int
=> [3]

# Names: a view and a table share one namespace; a view is checked when it is made.
CREATE VIEW users AS SELECT 1
=> error AlreadyExistsError

CREATE TABLE adults (_id ID, x INT)
=> error AlreadyExistsError

CREATE VIEW broken AS SELECT nope FROM users
=> error ColumnNotFoundError

CREATE VIEW Mixed_Case AS SELECT 1 AS one
=> ok

SELECT * FROM MIXED_CASE
=> columns: one int
=> [1]

ALTER VIEW nope AS SELECT 1
=> error TableNotFoundError

INSERT INTO adults (_id, name) VALUES (9, 'z')
=> error TableNotFoundError

DROP VIEW adults
=> ok

SELECT * FROM adults
=> error TableNotFoundError

# The views built on it fail when used, not before.
SELECT * FROM old_names
=> error TableNotFoundError

DROP VIEW adults
=> error TableNotFoundError

DROP VIEW IF EXISTS adults
=> ok

DROP VIEW old_names; DROP VIEW by_city; DROP VIEW past; DROP VIEW mixed_case
=> ok

SHOW VIEWS
=> columns: _id string, name string, statement string

DROP TABLE users; DROP TABLE orders
=> ok
