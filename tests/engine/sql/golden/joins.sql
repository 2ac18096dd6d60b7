# Joins (INNER, LEFT, CROSS, comma joins; aliases; several tables) and subqueries (scalar,
# IN, EXISTS, in FROM), worked out by hand. The first four cases are FeatureBase's
# defs_join.go (users / orders), with an order 6 for a user that does not exist and a user 4
# without orders added.
#
# Format: ../golden_format.py. Cases run in order on a private copy of the fixture.
#
#   users  _id name age city      orders _id userid price itemid    items _id title
#          0   a    21  nyc              0   1      9.99  10              10  pen
#          1   b    18  sf               1   0      3.99  11              11  ink
#          2   c    28  nyc              2   2      14.99 10              12  pad
#          3   d    34  NULL             3   3      5.99  12
#          4   e    40  la               4   1      12.99 11         places _id state
#                                        5   2      1.99  12                nyc ny
#                                        6   9      2.50  10                sf  ca
#                                                                           bos ma
#! mode: sequential

CREATE TABLE users (_id ID, name STRING, age INT, city STRING); CREATE TABLE orders (_id ID, userid INT, price DECIMAL(2), itemid ID); CREATE TABLE items (_id ID, title STRING); CREATE TABLE places (_id STRING, state STRING)
=> ok

INSERT INTO users (_id, name, age, city) VALUES (0, 'a', 21, 'nyc'), (1, 'b', 18, 'sf'), (2, 'c', 28, 'nyc'), (3, 'd', 34, NULL), (4, 'e', 40, 'la'); INSERT INTO orders (_id, userid, price, itemid) VALUES (0, 1, 9.99, 10), (1, 0, 3.99, 11), (2, 2, 14.99, 10), (3, 3, 5.99, 12), (4, 1, 12.99, 11), (5, 2, 1.99, 12), (6, 9, 2.50, 10); INSERT INTO items (_id, title) VALUES (10, 'pen'), (11, 'ink'), (12, 'pad'); INSERT INTO places (_id, state) VALUES ('nyc', 'ny'), ('sf', 'ca'), ('bos', 'ma')
=> affected 3

# --- FeatureBase's join cases -------------------------------------------------------------------------

# A table is named by its alias or its own name (orders.price with alias o).
SELECT u._id, SUM(orders.price) FROM orders o INNER JOIN users u ON o.userid = u._id GROUP BY u._id
=> columns: _id id, "" decimal(2)
=> [0, 3.99]
=> [1, 22.98]
=> [2, 16.98]
=> [3, 5.99]

# users older than 20: 0 2 3 4; their orders 1 2 3 5 (3.99 + 14.99 + 5.99 + 1.99).
SELECT SUM(price) FROM orders o INNER JOIN users u ON o.userid = u._id WHERE u.age > 20
=> columns: "" decimal(2)
=> [26.96]

# orders over 10: 2 (user c) and 4 (user b).
SELECT COUNT(DISTINCT u.name) FROM orders o JOIN users u ON o.userid = u._id WHERE o.price > 10
=> columns: "" int
=> [2]

SELECT COUNT(u.name) FROM orders o JOIN users u ON o.userid = u._id WHERE o.price > 10
=> columns: "" int
=> [2]

# --- semi-joins: users contributes only its _id, so it becomes a filter on orders ------------------

SELECT COUNT(*) FROM orders o JOIN users u ON o.userid = u._id WHERE u.age > 20
=> columns: "" int
=> [4]

EXPLAIN SELECT COUNT(*) FROM orders o JOIN users u ON o.userid = u._id WHERE u.age > 20
=> columns: plan string
=> ["Project COUNT(*)"]
=> ["  BitmapAggregate orders [COUNT(*)] where at run time: userid IN (_id of u where u.age > 20)"]

# The join on either side of =, and with the tables in the other order.
SELECT COUNT(*) FROM users u JOIN orders o ON u._id = o.userid WHERE u.age > 20
=> columns: "" int
=> [4]

# Groups and TopN of the filtered orders: items 11 (order 1), 10 (order 2), 12 (orders 3, 5).
SELECT itemid, COUNT(*) FROM orders o JOIN users u ON o.userid = u._id WHERE u.age > 20 GROUP BY itemid
=> columns: itemid id, "" int
=> [10, 1]
=> [11, 1]
=> [12, 2]

SELECT itemid, COUNT(*) FROM orders o JOIN users u ON o.userid = u._id WHERE u.age > 20 GROUP BY itemid ORDER BY COUNT(*) DESC LIMIT 1
=> columns: itemid id, "" int
=> [12, 2]

# Three tables, both joins semi-joins: item pen (orders 0 2 6) and users older than 20 → order 2.
SELECT COUNT(*) FROM orders o JOIN users u ON o.userid = u._id JOIN items i ON o.itemid = i._id WHERE i.title = 'pen' AND u.age > 20
=> columns: "" int
=> [1]

# A comma join whose WHERE ties the tables: user b's orders.
SELECT o._id FROM orders o, users u WHERE o.userid = u._id AND u.name = 'b'
=> columns: _id id
=> [0]
=> [4]

# String keys: users.city against places._id (ny: nyc users a and c).
SELECT COUNT(*) FROM users u JOIN places p ON u.city = p._id WHERE p.state = 'ny'
=> columns: "" int
=> [2]

# --- hash joins -------------------------------------------------------------------------------------------

SELECT u.name, i.title, o.price FROM orders o JOIN users u ON o.userid = u._id JOIN items i ON o.itemid = i._id WHERE i.title = 'pen'
=> columns: name string, title string, price decimal(2)
=> ["b", "pen", 9.99]
=> ["c", "pen", 14.99]

SELECT u.name, p.state FROM users u JOIN places p ON u.city = p._id
=> columns: name string, state string
=> ["a", "ny"]
=> ["b", "ca"]
=> ["c", "ny"]

SELECT * FROM users u JOIN places p ON u.city = p._id WHERE u._id = 0
=> columns: _id id, name string, age int, city string, _id string, state string
=> [0, "a", 21, "nyc", "nyc", "ny"]

SELECT u.*, o.price FROM users u JOIN orders o ON o.userid = u._id WHERE o._id = 3
=> columns: _id id, name string, age int, city string, price decimal(2)
=> [3, "d", 34, null, 5.99]

SELECT u.name, COUNT(*) FROM users u JOIN orders o ON o.userid = u._id GROUP BY u.name ORDER BY u.name
=> columns: name string, "" int
=> ["a", 1]
=> ["b", 2]
=> ["c", 2]
=> ["d", 1]

# A self-join with aliases, on columns that are not keys: ages 28 = 21 + 7.
SELECT a._id, b._id FROM users a JOIN users b ON a.age = b.age + 7
=> columns: _id id, _id id
=> [2, 0]

# Joined on places' _id: places is read by id for each batch of users' rows (never
# scanned whole, no hash table); the other join keys need a hash join.
EXPLAIN SELECT u.name, p.state FROM users u JOIN places p ON u.city = p._id
=> columns: plan string
=> ["Project u.name, p.state"]
=> ["  LookupJoin inner on u.city = p._id, reading by _id places [_id, state] where all"]
=> ["    Scan users [name, city] where all"]

EXPLAIN SELECT u.name, p.state FROM users u JOIN places p ON u.city = p.state
=> columns: plan string
=> ["Project u.name, p.state"]
=> ["  HashJoin inner on u.city = p.state"]
=> ["    Scan users [name, city] where all"]
=> ["    Scan places [state] where all"]

# An ID equals a DECIMAL of its value: 1.99 + 8.01 and 3.99 + 8.01 name items 10 and 12;
# 2.50 + 8.01 names none. items, written first, is the table read by _id.
SELECT i.title, o._id FROM items i JOIN orders o ON o.price + 8.01 = i._id
=> columns: title string, _id id
=> ["pen", 5]
=> ["pad", 1]

# --- LEFT JOIN ------------------------------------------------------------------------------------------

SELECT u._id, COUNT(o._id) FROM users u LEFT JOIN orders o ON o.userid = u._id GROUP BY u._id
=> columns: _id id, "" int
=> [0, 1]
=> [1, 2]
=> [2, 2]
=> [3, 1]
=> [4, 0]

# ON decides which orders match; every user stays.
SELECT u._id, o._id FROM users u LEFT JOIN orders o ON o.userid = u._id AND o.price > 10
=> columns: _id id, _id id
=> [0, null]
=> [1, 4]
=> [2, 2]
=> [3, null]
=> [4, null]

# WHERE filters the joined rows: the users without orders.
SELECT u.name FROM users u LEFT OUTER JOIN orders o ON o.userid = u._id WHERE o._id IS NULL
=> columns: name string
=> ["e"]

# --- CROSS JOIN ------------------------------------------------------------------------------------------

SELECT COUNT(*) FROM users CROSS JOIN items
=> columns: "" int
=> [15]

SELECT COUNT(*) FROM users, items
=> columns: "" int
=> [15]

# --- errors -----------------------------------------------------------------------------------------------

SELECT _id FROM users u JOIN places p ON u.city = p._id
=> error TypeMismatchError

SELECT COUNT(*) FROM users u JOIN places p ON u.age = p._id
=> error TypeMismatchError

SELECT COUNT(*) FROM users u JOIN places u ON u.city = u._id
=> error TypeMismatchError

SELECT * FROM users u RIGHT JOIN places p ON u.city = p._id
=> error NotSupportedError

SELECT * FROM users u JOIN places p
=> error TypeMismatchError

SELECT z.name FROM users u JOIN places p ON u.city = p._id
=> error ColumnNotFoundError

# --- subqueries ---------------------------------------------------------------------------------------------

# IN (SELECT …): users with an order over 10.
SELECT name FROM users WHERE _id IN (SELECT userid FROM orders WHERE price > 10)
=> columns: name string
=> ["b"]
=> ["c"]

# NOT IN: userids 0 1 2 3 9 → only user 4 has none.
SELECT name FROM users WHERE _id NOT IN (SELECT userid FROM orders)
=> columns: name string
=> ["e"]

SELECT name, _id IN (SELECT userid FROM orders WHERE price > 10) FROM users WHERE _id < 3
=> columns: name string, "" bool
=> ["a", false]
=> ["b", true]
=> ["c", true]

# IN over a subquery with no rows is false even for a NULL operand (user 3 has no city), so
# NOT IN is true for every record: in WHERE and in the select list.
SELECT _id FROM users WHERE city NOT IN (SELECT state FROM places WHERE state = 'tx')
=> columns: _id id
=> [0]
=> [1]
=> [2]
=> [3]
=> [4]

SELECT _id, city IN (SELECT state FROM places WHERE state = 'tx'), city NOT IN (SELECT state FROM places WHERE state = 'tx') FROM users WHERE _id IN (2, 3)
=> columns: _id id, "" bool, "" bool
=> [2, false, true]
=> [3, false, true]

# …and with rows, NOT IN of a NULL operand is unknown: user 3 is left out.
SELECT _id FROM users WHERE city NOT IN (SELECT _id FROM places WHERE state = 'ca')
=> columns: _id id
=> [0]
=> [2]
=> [4]

# Scalar subqueries: AVG(age) = 141 / 5 = 28.2; MIN(age) = 18.
SELECT name, age - (SELECT MIN(age) FROM users) FROM users WHERE age > (SELECT AVG(age) FROM users)
=> columns: name string, "" int
=> ["d", 16]
=> ["e", 22]

SELECT (SELECT COUNT(*) FROM orders), (SELECT MAX(title) FROM items WHERE _id = 99)
=> columns: "" int, "" string
=> [7, null]

SELECT COUNT(*) FROM users WHERE EXISTS (SELECT 1 FROM orders WHERE price > 100)
=> columns: "" int
=> [0]

SELECT COUNT(*) FROM users WHERE NOT EXISTS (SELECT 1 FROM orders WHERE price > 100)
=> columns: "" int
=> [5]

# A subquery in FROM (FeatureBase's defs_subquery: no name needed): five users in four city
# groups (nyc ×2, sf, la, NULL).
SELECT SUM(n) AS total FROM (SELECT COUNT(*) AS n, city FROM users GROUP BY city)
=> columns: total int
=> [5]

SELECT COUNT(*) FROM (SELECT DISTINCT city FROM users) AS c
=> columns: "" int
=> [4]

# One that only selects columns of a table under a WHERE is merged into the query (it stays on
# the bitmaps): ages 21 28 34.
SELECT COUNT(*) FROM (SELECT _id, age AS years FROM users WHERE age > 20) AS x WHERE years < 35
=> columns: "" int
=> [3]

EXPLAIN SELECT COUNT(*) FROM (SELECT _id, age AS years FROM users WHERE age > 20) AS x WHERE years < 35
=> columns: plan string
=> ["Project COUNT(*)"]
=> ["  BitmapAggregate users [COUNT(*)] where (21 <= age (stored) and age <= 34 (stored))"]

# A join with a subquery: users older than 20 (0 nyc, 2 nyc, 3 NULL, 4 la) and their orders
# 1 (0), 2 and 5 (2), 3 (3).
SELECT x.city, COUNT(*) FROM orders o JOIN (SELECT _id, city FROM users WHERE age > 20) AS x ON o.userid = x._id GROUP BY x.city
=> columns: city string, "" int
=> ["nyc", 3]
=> [null, 1]

SELECT (SELECT _id FROM users)
=> error QueryExecutionError

SELECT name FROM users WHERE _id IN (SELECT userid, price FROM orders)
=> error TypeMismatchError

SELECT name FROM users WHERE name IN (SELECT userid FROM orders)
=> error TypeMismatchError

SELECT name FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.userid = u._id)
=> error NotSupportedError

DROP TABLE users; DROP TABLE orders; DROP TABLE items; DROP TABLE places
=> ok
