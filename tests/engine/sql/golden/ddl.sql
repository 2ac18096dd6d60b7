# DDL: CREATE TABLE [IF NOT EXISTS] with every column type and constraint, ALTER TABLE
# ADD/DROP, DROP TABLE [IF EXISTS], SHOW TABLES / COLUMNS / CREATE TABLE.
#
# Format: ../golden_format.py. Cases run in order on a private copy of the fixture
# (../sql_fixture.py: tables people, cities, empty).
#
# SHOW TABLES and SHOW COLUMNS (= DESCRIBE) have FeatureBase's columns:
#   SHOW TABLES: _id, name, owner, updated_by, created_at, keys, description
#   SHOW COLUMNS: _id, name, type, internal_type, created_at, keys, cache_type, cache_size,
#                 scale, min, max, timeunit, epoch, timequantum, ttl
# (roarbase keeps no owner or creation time: "" and NULL; an option a type does not have is
# NULL). SHOW CREATE TABLE gives the DDL in lower case: "<name> <type>" plus, when not the
# default, "min M max N" (INT/DECIMAL, at the column's scale), "timeunit '<u>'" (always,
# for TIMESTAMP), "cachetype <t> size <n>" (ID/STRING/IDSET/STRINGSET), "timequantum '<q>'"
# and "ttl '<seconds>s'" (…SETQ).
#! mode: sequential

SHOW TABLES
=> columns: _id string, name string, owner string, updated_by string, created_at timestamp, keys bool, description string
=> ["cities", "cities", "", "", null, true, ""]
=> ["empty", "empty", "", "", null, false, ""]
=> ["people", "people", "", "", null, false, "the SQL fixture"]

SHOW CREATE TABLE people
=> columns: ddl string
=> ["create table people (_id id, name string, tags stringset, age int min 0 max 150, score decimal(2), active bool, born timestamp timeunit 's', team id, codes idset, level int min 10 max 100, temp int min -100 max -10, visits idsetq timequantum 'YMD') comment 'the SQL fixture';"]

SHOW CREATE TABLE cities
=> columns: ddl string
=> ["create table cities (_id string, state string, pop int, zips idset);"]

# --- every type ------------------------------------------------------------------------------------

CREATE TABLE alltypes (_id ID, a ID, b STRING, c IDSET, d STRINGSET, e IDSETQ TIMEQUANTUM 'YMD', f STRINGSETQ TIMEQUANTUM 'YM' TTL '24h', g INT, h DECIMAL(3), i BOOL, j TIMESTAMP)
=> ok

SHOW COLUMNS FROM alltypes
=> columns: _id string, name string, type string, internal_type string, created_at timestamp, keys bool, cache_type string, cache_size int, scale int, min int, max int, timeunit string, epoch int, timequantum string, ttl int
=> ["_id", "_id", "id", "id", null, false, null, null, null, null, null, null, null, null, null]
=> ["a", "a", "id", "mutex", null, false, "ranked", 50000, null, null, null, null, null, null, null]
=> ["b", "b", "string", "mutex", null, true, "ranked", 50000, null, null, null, null, null, null, null]
=> ["c", "c", "idset", "set", null, false, "ranked", 50000, null, null, null, null, null, null, null]
=> ["d", "d", "stringset", "set", null, true, "ranked", 50000, null, null, null, null, null, null, null]
=> ["e", "e", "idsetq", "time", null, false, null, null, null, null, null, null, null, "YMD", 0]
=> ["f", "f", "stringsetq", "time", null, true, null, null, null, null, null, null, null, "YM", 86400]
=> ["g", "g", "int", "int", null, false, null, null, null, -9223372036854775808, 9223372036854775807, null, null, null, null]
=> ["h", "h", "decimal(3)", "decimal", null, false, null, null, 3, null, null, null, null, null, null]
=> ["i", "i", "bool", "bool", null, false, null, null, null, null, null, null, null, null, null]
=> ["j", "j", "timestamp", "timestamp", null, false, null, null, null, null, null, "s", 0, null, null]

# DESCRIBE is SHOW COLUMNS FROM.
DESCRIBE alltypes
=> columns: _id string, name string, type string, internal_type string, created_at timestamp, keys bool, cache_type string, cache_size int, scale int, min int, max int, timeunit string, epoch int, timequantum string, ttl int
=> ["_id", "_id", "id", "id", null, false, null, null, null, null, null, null, null, null, null]
=> ["a", "a", "id", "mutex", null, false, "ranked", 50000, null, null, null, null, null, null, null]
=> ["b", "b", "string", "mutex", null, true, "ranked", 50000, null, null, null, null, null, null, null]
=> ["c", "c", "idset", "set", null, false, "ranked", 50000, null, null, null, null, null, null, null]
=> ["d", "d", "stringset", "set", null, true, "ranked", 50000, null, null, null, null, null, null, null]
=> ["e", "e", "idsetq", "time", null, false, null, null, null, null, null, null, null, "YMD", 0]
=> ["f", "f", "stringsetq", "time", null, true, null, null, null, null, null, null, null, "YM", 86400]
=> ["g", "g", "int", "int", null, false, null, null, null, -9223372036854775808, 9223372036854775807, null, null, null, null]
=> ["h", "h", "decimal(3)", "decimal", null, false, null, null, 3, null, null, null, null, null, null]
=> ["i", "i", "bool", "bool", null, false, null, null, null, null, null, null, null, null, null]
=> ["j", "j", "timestamp", "timestamp", null, false, null, null, null, null, null, "s", 0, null, null]

SHOW CREATE TABLE alltypes
=> columns: ddl string
=> ["create table alltypes (_id id, a id, b string, c idset, d stringset, e idsetq timequantum 'YMD', f stringsetq timequantum 'YM' ttl '86400s', g int, h decimal(3), i bool, j timestamp timeunit 's');"]

# Every type takes values.
INSERT INTO alltypes VALUES (1, 7, 'x', [1, 2], ['p', 'q'], [3], ['r'], -5, 1.234, true, '2020-02-29T12:00:00Z')
=> affected 1

SELECT * FROM alltypes
=> columns: _id id, a id, b string, c idset, d stringset, e idsetq, f stringsetq, g int, h decimal(3), i bool, j timestamp
=> [1, 7, "x", [1, 2], ["p", "q"], [3], ["r"], -5, 1.234, true, "2020-02-29T12:00:00Z"]

# --- constraints -------------------------------------------------------------------------------------

CREATE TABLE cons (_id STRING, lo INT MIN -5 MAX 5, price DECIMAL(2) MIN 0 MAX 99.5, city STRING CACHETYPE LRU SIZE 100, tagz STRINGSET CACHETYPE RANKED SIZE 10, nid ID CACHETYPE NONE, ms TIMESTAMP TIMEUNIT 'ms', hits IDSETQ TIMEQUANTUM 'YMDH' TTL '48h') COMMENT 'constraints'
=> ok

SHOW CREATE TABLE cons
=> columns: ddl string
=> ["create table cons (_id string, lo int min -5 max 5, price decimal(2) min 0.00 max 99.50, city string cachetype lru size 100, tagz stringset cachetype ranked size 10, nid id cachetype none size 50000, ms timestamp timeunit 'ms', hits idsetq timequantum 'YMDH' ttl '172800s') comment 'constraints';"]

SHOW COLUMNS FROM cons
=> columns: _id string, name string, type string, internal_type string, created_at timestamp, keys bool, cache_type string, cache_size int, scale int, min int, max int, timeunit string, epoch int, timequantum string, ttl int
=> ["_id", "_id", "string", "string", null, true, null, null, null, null, null, null, null, null, null]
=> ["lo", "lo", "int", "int", null, false, null, null, null, -5, 5, null, null, null, null]
=> ["price", "price", "decimal(2)", "decimal", null, false, null, null, 2, null, null, null, null, null, null]
=> ["city", "city", "string", "mutex", null, true, "lru", 100, null, null, null, null, null, null, null]
=> ["tagz", "tagz", "stringset", "set", null, true, "ranked", 10, null, null, null, null, null, null, null]
=> ["nid", "nid", "id", "mutex", null, false, "none", 50000, null, null, null, null, null, null, null]
=> ["ms", "ms", "timestamp", "timestamp", null, false, null, null, null, null, null, "ms", 0, null, null]
=> ["hits", "hits", "idsetq", "time", null, false, null, null, null, null, null, null, null, "YMDH", 172800]

SHOW TABLES
=> columns: _id string, name string, owner string, updated_by string, created_at timestamp, keys bool, description string
=> ["alltypes", "alltypes", "", "", null, false, ""]
=> ["cities", "cities", "", "", null, true, ""]
=> ["cons", "cons", "", "", null, true, "constraints"]
=> ["empty", "empty", "", "", null, false, ""]
=> ["people", "people", "", "", null, false, "the SQL fixture"]

# MIN/MAX are enforced on write.
INSERT INTO cons (_id, lo) VALUES ('a', 6)
=> error ValueOutOfRangeError

INSERT INTO cons (_id, lo, price) VALUES ('a', -5, 99.50)
=> affected 1

INSERT INTO cons (_id, price) VALUES ('b', 99.51)
=> error ValueOutOfRangeError

# TIMEUNIT 'ms' keeps milliseconds.
INSERT INTO cons (_id, ms) VALUES ('a', '2023-01-01T00:00:00.123Z')
=> affected 1

SELECT _id, lo, price, ms FROM cons
=> columns: _id string, lo int, price decimal(2), ms timestamp
=> ["a", -5, 99.50, "2023-01-01T00:00:00.123Z"]

SELECT _id FROM cons WHERE ms > '2023-01-01T00:00:00.12Z'
=> columns: _id string
=> ["a"]

SELECT _id FROM cons WHERE ms > '2023-01-01T00:00:00.123Z'
=> columns: _id string

# DECIMAL columns stored with a base (MIN > 0, MAX < 0) read back, sum and compare as written.
# p: 1.50 2.00 99.99 (Σ 103.49, avg 34.4967); q: -1.5 -50.0 -2.5 (Σ -54.0).
# PERCENTILE(p, 50) over {150, 200, 9999} (×100), N=3, L=G=1 → 200 → 2.00.
CREATE TABLE offs (_id ID, p DECIMAL(2) MIN 1 MAX 100, q DECIMAL(1) MIN -50 MAX -1)
=> ok

INSERT INTO offs (_id, p, q) VALUES (1, 1.50, -1.5), (2, 2.00, -50), (3, 99.99, -2.5)
=> affected 3

SELECT * FROM offs
=> columns: _id id, p decimal(2), q decimal(1)
=> [1, 1.50, -1.5]
=> [2, 2.00, -50.0]
=> [3, 99.99, -2.5]

SELECT SUM(p), MIN(p), MAX(p), AVG(p), SUM(q), MIN(q), MAX(q), PERCENTILE(p, 50) FROM offs
=> columns: "" decimal(2), "" decimal(2), "" decimal(2), "" decimal(4), "" decimal(1), "" decimal(1), "" decimal(1), "" decimal(2)
=> [103.49, 1.50, 99.99, 34.4967, -54.0, -50.0, -1.5, 2.00]

SELECT _id FROM offs WHERE p > 1.99
=> columns: _id id
=> [2]
=> [3]

SELECT _id FROM offs WHERE q BETWEEN -3 AND -1
=> columns: _id id
=> [1]
=> [3]

# GROUP BY a DECIMAL column groups record by record (the engine's GroupBy takes no decimals).
SELECT q, COUNT(*) FROM offs GROUP BY q
=> columns: q decimal(1), "" int
=> [-50.0, 1]
=> [-2.5, 1]
=> [-1.5, 1]

# EPOCH moves the zero of a timestamp column; values still read back as given.
CREATE TABLE epochs (_id ID, since TIMESTAMP TIMEUNIT 's' EPOCH '2000-01-01T00:00:00Z')
=> ok

INSERT INTO epochs (_id, since) VALUES (1, '1999-12-31T23:59:59Z'), (2, '2000-01-01T00:00:01Z')
=> affected 2

SELECT _id, since FROM epochs WHERE since > '2000-01-01T00:00:00Z'
=> columns: _id id, since timestamp
=> [2, "2000-01-01T00:00:01Z"]

SELECT _id, since FROM epochs WHERE since < '2000-01-01'
=> columns: _id id, since timestamp
=> [1, "1999-12-31T23:59:59Z"]

# SHOW CREATE TABLE must recreate the column, epoch included.
SHOW CREATE TABLE epochs
=> columns: ddl string
=> ["create table epochs (_id id, since timestamp timeunit 's' epoch '2000-01-01T00:00:00Z');"]

SHOW COLUMNS FROM epochs
=> columns: _id string, name string, type string, internal_type string, created_at timestamp, keys bool, cache_type string, cache_size int, scale int, min int, max int, timeunit string, epoch int, timequantum string, ttl int
=> ["_id", "_id", "id", "id", null, false, null, null, null, null, null, null, null, null, null]
=> ["since", "since", "timestamp", "timestamp", null, false, null, null, null, null, null, "s", 946684800, null, null]

# The DDL recreates the table: the same stored values read back the same.
CREATE TABLE epochs2 (_id id, since timestamp timeunit 's' epoch '2000-01-01T00:00:00Z')
=> ok

INSERT INTO epochs2 (_id, since) VALUES (1, '1999-12-31T23:59:59Z')
=> affected 1

SHOW CREATE TABLE epochs2
=> columns: ddl string
=> ["create table epochs2 (_id id, since timestamp timeunit 's' epoch '2000-01-01T00:00:00Z');"]

CREATE TABLE epochs3 (_id ID, a TIMESTAMP TIMEUNIT 'ms' EPOCH '1969-12-31T23:59:50Z', b TIMESTAMP EPOCH '1970-01-01T00:00:00Z')
=> ok

SHOW CREATE TABLE epochs3
=> columns: ddl string
=> ["create table epochs3 (_id id, a timestamp timeunit 'ms' epoch '1969-12-31T23:59:50Z', b timestamp timeunit 's');"]

DROP TABLE epochs2; DROP TABLE epochs3
=> ok

# Type aliases: INTEGER, BIGINT → INT; BOOLEAN → BOOL; VARCHAR, TEXT → STRING. KEYPARTITIONS
# is accepted and ignored.
CREATE TABLE aliases (_id STRING, a INTEGER, b BIGINT, c BOOLEAN, d VARCHAR, e TEXT) KEYPARTITIONS 16
=> ok

SHOW CREATE TABLE aliases
=> columns: ddl string
=> ["create table aliases (_id string, a int, b int, c bool, d string, e string);"]

# Keywords are case-insensitive.
create table if not exists lower (_id id, n int min 1 max 9)
=> ok

SHOW CREATE TABLE lower
=> columns: ddl string
=> ["create table lower (_id id, n int min 1 max 9);"]

# Names are case-insensitive: written in any case, stored (and shown) in lower case.
SELECT N, _ID FROM LOWER
=> columns: n int, _id id

# --- IF NOT EXISTS / already exists ------------------------------------------------------------------

DROP TABLE offs
=> ok

CREATE TABLE IF NOT EXISTS alltypes (_id STRING, z INT)
=> ok

SHOW CREATE TABLE alltypes
=> columns: ddl string
=> ["create table alltypes (_id id, a id, b string, c idset, d stringset, e idsetq timequantum 'YMD', f stringsetq timequantum 'YM' ttl '86400s', g int, h decimal(3), i bool, j timestamp timeunit 's');"]

CREATE TABLE alltypes (_id ID, z INT)
=> error AlreadyExistsError

# --- invalid definitions (none of them leaves a table behind) ------------------------------------------

CREATE TABLE bad (x INT)
=> error TypeMismatchError

CREATE TABLE bad (_id INT)
=> error TypeMismatchError

CREATE TABLE bad (_id ID, x DOUBLE)
=> error TypeMismatchError

CREATE TABLE bad (_id ID, x DECIMAL)
=> error TypeMismatchError

CREATE TABLE bad (_id ID, x DECIMAL(20))
=> error InvalidOptionError

CREATE TABLE bad (_id ID, x INT(3))
=> error TypeMismatchError

CREATE TABLE bad (_id ID, x INT MIN 5 MAX 1)
=> error InvalidOptionError

CREATE TABLE bad (_id ID, x INT MIN)
=> error InvalidOptionError

CREATE TABLE bad (_id ID, x INT MIN 'a')
=> error InvalidOptionError

CREATE TABLE bad (_id ID, x INT SIZE 3)
=> error InvalidOptionError

CREATE TABLE bad (_id ID, x INT, x STRING)
=> error TypeMismatchError

CREATE TABLE bad (_id ID, x IDSETQ)
=> error InvalidOptionError

CREATE TABLE bad (_id ID, x IDSETQ TIMEQUANTUM 'DY')
=> error InvalidOptionError

CREATE TABLE bad (_id ID, x STRINGSETQ TIMEQUANTUM 'YMD' TTL 'soon')
=> error InvalidOptionError

CREATE TABLE bad (_id ID, x STRING CACHETYPE FOO)
=> error InvalidOptionError

CREATE TABLE bad (_id ID, x TIMESTAMP TIMEUNIT 'h')
=> error InvalidOptionError

CREATE TABLE bad (_id ID, x TIMESTAMP EPOCH 'yesterday')
=> error InvalidOptionError

CREATE TABLE bad (_id ID, x BOOL MIN 1)
=> error InvalidOptionError

CREATE TABLE bad (_id ID, x INT TIMEQUANTUM 'Y')
=> error InvalidOptionError

CREATE TABLE bad (_id ID, x IDSET TTL '1h')
=> error InvalidOptionError

# A quoted name keeps its case, and names are lower case.
CREATE TABLE bad (_id ID, "X" INT)
=> error InvalidNameError

CREATE TABLE "Bad" (_id ID, x INT)
=> error InvalidNameError

CREATE TABLE bad (_id ID, x INT,)
=> error QuerySyntaxError at 1:33

CREATE TABLE badid (_id ID MIN 5, x INT)
=> error InvalidOptionError

DROP TABLE IF EXISTS badid
=> ok

SHOW TABLES
=> columns: _id string, name string, owner string, updated_by string, created_at timestamp, keys bool, description string
=> ["aliases", "aliases", "", "", null, true, ""]
=> ["alltypes", "alltypes", "", "", null, false, ""]
=> ["cities", "cities", "", "", null, true, ""]
=> ["cons", "cons", "", "", null, true, "constraints"]
=> ["empty", "empty", "", "", null, false, ""]
=> ["epochs", "epochs", "", "", null, false, ""]
=> ["lower", "lower", "", "", null, false, ""]
=> ["people", "people", "", "", null, false, "the SQL fixture"]

# FeatureBase lower-cases a name written in capitals, and takes '-' in table names.
CREATE TABLE Mixed (_id ID, startTime TIMESTAMP, un-keyed INT)
=> ok

INSERT INTO MIXED (_id, STARTTIME, "un-keyed") VALUES (1, '2020-01-01', 5)
=> affected 1

SELECT _id, starttime, "un-keyed" FROM mixed
=> columns: _id id, starttime timestamp, un-keyed int
=> [1, "2020-01-01T00:00:00Z", 5]

CREATE TABLE un-keyed (_id STRING, notes STRING, not_before INT, distinct_users INT)
=> ok

INSERT INTO un-keyed (_id, notes, not_before, distinct_users) VALUES ('a', 'x', 1, 2)
=> affected 1

# Keywords are whole words: notes, not_before and distinct_users are names.
SELECT notes, not_before, distinct_users FROM "un-keyed" WHERE NOT not_before > 5
=> columns: notes string, not_before int, distinct_users int
=> ["x", 1, 2]

DROP TABLE mixed; DROP TABLE un-keyed
=> ok

# --- ALTER TABLE ---------------------------------------------------------------------------------------

ALTER TABLE empty ADD COLUMN n INT MIN 0 MAX 10
=> ok

ALTER TABLE empty ADD flag BOOL
=> ok

SHOW CREATE TABLE empty
=> columns: ddl string
=> ["create table empty (_id id, x int, s string, ss stringset, n int min 0 max 10, flag bool);"]

INSERT INTO empty (_id, n, flag, x) VALUES (1, 10, true, 5)
=> affected 1

ALTER TABLE empty ADD n STRING
=> error AlreadyExistsError

ALTER TABLE empty ADD _id INT
=> error TypeMismatchError

ALTER TABLE empty ADD z DECIMAL
=> error TypeMismatchError

ALTER TABLE nope ADD z INT
=> error TableNotFoundError

ALTER TABLE empty DROP COLUMN x
=> ok

ALTER TABLE empty DROP flag
=> ok

SELECT * FROM empty
=> columns: _id id, s string, ss stringset, n int
=> [1, null, null, 10]

SELECT x FROM empty
=> error ColumnNotFoundError

ALTER TABLE empty DROP nope
=> error NotFoundError

ALTER TABLE empty DROP _id
=> error TypeMismatchError

# A column added again after a drop starts empty.
ALTER TABLE empty ADD x INT
=> ok

SELECT _id, x FROM empty
=> columns: _id id, x int
=> [1, null]

# --- DROP TABLE ----------------------------------------------------------------------------------------

DROP TABLE cons
=> ok

DROP TABLE cons
=> error TableNotFoundError

DROP TABLE IF EXISTS cons
=> ok

SELECT * FROM cons
=> error TableNotFoundError

SHOW COLUMNS FROM cons
=> error TableNotFoundError

SHOW CREATE TABLE cons
=> error TableNotFoundError

# A table created again after a drop starts empty.
CREATE TABLE cons (_id STRING, lo INT)
=> ok

SELECT COUNT(*) FROM cons
=> columns: "" int
=> [0]

DROP TABLE alltypes; DROP TABLE aliases; DROP TABLE epochs; DROP TABLE lower; DROP TABLE cons
=> ok

SHOW TABLES
=> columns: _id string, name string, owner string, updated_by string, created_at timestamp, keys bool, description string
=> ["cities", "cities", "", "", null, true, ""]
=> ["empty", "empty", "", "", null, false, ""]
=> ["people", "people", "", "", null, false, "the SQL fixture"]
