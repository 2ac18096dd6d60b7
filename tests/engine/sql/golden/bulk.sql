# BULK INSERT / BULK REPLACE … MAP … [TRANSFORM] FROM 'path' | x'inline'
#   WITH FORMAT 'CSV'|'NDJSON'|'PARQUET' INPUT 'FILE'|'STREAM' [HEADER_ROW] [BATCHSIZE n]
#   [ROWSLIMIT n] [ALLOW_MISSING_VALUES]
#
# Format: ../golden_format.py. Cases run in order on a private copy of the fixture.
# {data} is the directory of the input files:
#   people.csv      id,name,tags,age,born (header) / 1,ann,red|blue,30,2000-01-01T00:00:00Z /
#                   2,bob,,40, / 3,,green,,2023-06-01
#   people.ndjson   {"id":1,"name":"ann","tags":["red","blue"],"age":30,"extra":{"n":5}}
#                   {"id":2,"name":"bob","age":40,"extra":{"n":6}}   (no "tags")
#                   (a blank line)
#                   {"id":3,"tags":[],"age":null,"extra":{"n":7}}    (no "name")
#   people.parquet  id, name, age, score: (1, ann, 31, 1.5) (2, bob, 41, 2.25) (90, NULL, NULL, NULL)
#   latin1.csv      1,café   in Latin-1 (not UTF-8)
#
# MAP gives each target column's source — a 0-based position for CSV and PARQUET, a
# JSONPath string for NDJSON — and its type. CSV sets are '|'-separated; an empty CSV
# field is NULL. Semantics as INSERT (sets unioned) / REPLACE (sets replaced); each batch
# (BATCHSIZE rows, default 1000) commits atomically.
#! mode: sequential

CREATE TABLE b (_id ID, name STRING, tags STRINGSET, age INT, born TIMESTAMP, score DECIMAL(2), n INT)
=> ok

# --- CSV ---------------------------------------------------------------------------------------------------

BULK INSERT INTO b (_id, name, tags, age, born) MAP (0 ID, 1 STRING, 2 STRINGSET, 3 INT, 4 TIMESTAMP) FROM '{data}/people.csv' WITH FORMAT 'CSV' INPUT 'FILE' HEADER_ROW
=> affected 3

SELECT _id, name, tags, age, born FROM b
=> columns: _id id, name string, tags stringset, age int, born timestamp
=> [1, "ann", ["blue", "red"], 30, "2000-01-01T00:00:00Z"]
=> [2, "bob", null, 40, null]
=> [3, null, ["green"], null, "2023-06-01T00:00:00Z"]

# Without HEADER_ROW the header line is data: 'id' is not an ID, and nothing is written.
BULK INSERT INTO b (_id, name) MAP (0 ID, 1 STRING) FROM '{data}/people.csv' WITH FORMAT 'CSV' INPUT 'FILE'
=> error TypeMismatchError

# Inline data (x'…'): INPUT 'STREAM', which is also the default for inline data.
BULK INSERT INTO b (_id, name) MAP (0 ID, 1 STRING) FROM x'10,zed
11,amy' WITH FORMAT 'CSV' INPUT 'STREAM'
=> affected 2

BULK INSERT INTO b (_id, name) MAP (0 ID, 1 STRING) FROM x'12,"quoted, comma"' WITH FORMAT 'CSV'
=> affected 1

SELECT _id, name FROM b WHERE _id >= 10
=> columns: _id id, name string
=> [10, "zed"]
=> [11, "amy"]
=> [12, "quoted, comma"]

# BULK INSERT unions into sets; BULK REPLACE replaces them.
BULK INSERT INTO b (_id, tags) MAP (0 ID, 1 STRINGSET) FROM x'1,green' WITH FORMAT 'CSV' INPUT 'STREAM'
=> affected 1

SELECT tags FROM b WHERE _id = 1
=> columns: tags stringset
=> [["blue", "green", "red"]]

BULK REPLACE INTO b (_id, tags) MAP (0 ID, 1 STRINGSET) FROM x'1,pink|red' WITH FORMAT 'CSV' INPUT 'STREAM'
=> affected 1

SELECT _id, name, tags FROM b WHERE _id = 1
=> columns: _id id, name string, tags stringset
=> [1, "ann", ["pink", "red"]]

# An empty CSV field (NULL) for a set column adds nothing with BULK INSERT (INSERT … VALUES
# with NULL clears the set) and empties the set with BULK REPLACE.
BULK INSERT INTO b (_id, tags) MAP (0 ID, 1 STRINGSET) FROM x'3,' WITH FORMAT 'CSV' INPUT 'STREAM'
=> affected 1

SELECT tags FROM b WHERE _id = 3
=> columns: tags stringset
=> [["green"]]

# An empty field clears a scalar.
BULK INSERT INTO b (_id, age) MAP (0 ID, 1 INT) FROM x'2,' WITH FORMAT 'CSV' INPUT 'STREAM'
=> affected 1

SELECT age FROM b WHERE _id = 2
=> columns: age int
=> [null]

# TRANSFORM computes each target column from the mapped values @0, @1, … (a source value may
# be mapped twice, with two types; || takes strings only).
BULK INSERT INTO b (_id, n, name) MAP (0 ID, 1 INT, 0 STRING) TRANSFORM (@0 + 100, @1 * 2, 'row' || @2)
FROM x'1,5
2,6' WITH FORMAT 'CSV' INPUT 'STREAM'
=> affected 2

BULK INSERT INTO b (_id, name) MAP (0 ID) TRANSFORM (@0, 'row' || @0) FROM x'1' WITH FORMAT 'CSV'
=> error TypeMismatchError

SELECT _id, n, name FROM b WHERE _id > 100
=> columns: _id id, n int, name string
=> [101, 10, "row1"]
=> [102, 12, "row2"]

# ROWSLIMIT reads at most n records; BATCHSIZE sets the commit size.
BULK INSERT INTO b (_id, n) MAP (0 ID, 1 INT) FROM x'30,1
31,2
32,3
33,4' WITH FORMAT 'CSV' INPUT 'STREAM' ROWSLIMIT 2 BATCHSIZE 1
=> affected 2

SELECT _id, n FROM b WHERE _id BETWEEN 30 AND 39
=> columns: _id id, n int
=> [30, 1]
=> [31, 2]

# A bad record fails the statement; batches committed before it stay.
BULK INSERT INTO b (_id, n) MAP (0 ID, 1 INT) FROM x'40,1
41,x' WITH FORMAT 'CSV' INPUT 'STREAM' BATCHSIZE 1
=> error TypeMismatchError

SELECT _id, n FROM b WHERE _id BETWEEN 40 AND 49
=> columns: _id id, n int
=> [40, 1]

BULK INSERT INTO b (_id, n) MAP (0 ID, 1 INT) FROM x'50,1
51,x' WITH FORMAT 'CSV' INPUT 'STREAM'
=> error TypeMismatchError

SELECT _id, n FROM b WHERE _id BETWEEN 50 AND 59
=> columns: _id id, n int

# A short record is an error unless ALLOW_MISSING_VALUES (then the value is NULL).
BULK INSERT INTO b (_id, n) MAP (0 ID, 1 INT) FROM x'60' WITH FORMAT 'CSV' INPUT 'STREAM'
=> error TypeMismatchError

BULK INSERT INTO b (_id, n) MAP (0 ID, 1 INT) FROM x'60' WITH FORMAT 'CSV' INPUT 'STREAM' ALLOW_MISSING_VALUES
=> affected 1

SELECT _id, n FROM b WHERE _id = 60
=> columns: _id id, n int
=> [60, null]

# --- NDJSON ------------------------------------------------------------------------------------------------

# Record 2 has no "tags" and record 3 no "name": an error without ALLOW_MISSING_VALUES.
BULK INSERT INTO b (_id, name, tags, age, n) MAP ('$.id' ID, '$.name' STRING, '$.tags' STRINGSET, '$.age' INT, '$.extra.n' INT) FROM '{data}/people.ndjson' WITH FORMAT 'NDJSON' INPUT 'FILE'
=> error TypeMismatchError

BULK INSERT INTO b (_id, name, tags, age, n) MAP ('$.id' ID, '$.name' STRING, '$.tags' STRINGSET, '$.age' INT, '$.extra.n' INT) FROM '{data}/people.ndjson' WITH FORMAT 'NDJSON' INPUT 'FILE' ALLOW_MISSING_VALUES
=> affected 3

# 1: tags pink red ∪ red blue; name ann. 2: name bob, age 40 (was NULL), n 6. 3: tags [] adds
# nothing, "age": null clears (it was NULL), missing name → NULL clears (it was NULL).
SELECT _id, name, tags, age, n FROM b WHERE _id <= 3
=> columns: _id id, name string, tags stringset, age int, n int
=> [1, "ann", ["blue", "pink", "red"], 30, 5]
=> [2, "bob", null, 40, 6]
=> [3, null, ["green"], null, 7]

BULK INSERT INTO b (_id, name) MAP ('$.k' ID, '$.v' STRING) FROM x'{"k": 70, "v": "from stream"}
{"k": 71, "v": "two"}' WITH FORMAT 'NDJSON' INPUT 'STREAM'
=> affected 2

SELECT _id, name FROM b WHERE _id >= 70 AND _id < 100
=> columns: _id id, name string
=> [70, "from stream"]
=> [71, "two"]

BULK INSERT INTO b (_id, n) MAP ('$.a' ID, '$.b' INT) FROM x'{bad' WITH FORMAT 'NDJSON' INPUT 'STREAM'
=> error TypeMismatchError

BULK INSERT INTO b (_id, n) MAP (0 ID, 1 INT) FROM x'{"a": 1}' WITH FORMAT 'NDJSON' INPUT 'STREAM'
=> error TypeMismatchError

# --- PARQUET (FILE only) --------------------------------------------------------------------------------------

BULK INSERT INTO b (_id, name, age, score) MAP (0 ID, 1 STRING, 2 INT, 3 DECIMAL(2)) FROM '{data}/people.parquet' WITH FORMAT 'PARQUET' INPUT 'FILE'
=> affected 3

SELECT _id, name, age, score FROM b WHERE _id IN (1, 2, 90)
=> columns: _id id, name string, age int, score decimal(2)
=> [1, "ann", 31, 1.50]
=> [2, "bob", 41, 2.25]
=> [90, null, null, null]

BULK INSERT INTO b (_id, n) MAP (0 ID, 1 INT) FROM x'1,2' WITH FORMAT 'PARQUET' INPUT 'STREAM'
=> error NotSupportedError

# --- string-keyed table ---------------------------------------------------------------------------------------

BULK INSERT INTO cities (_id, state, pop, zips) MAP (0 STRING, 1 STRING, 2 INT, 3 IDSET) FROM x'bos,ma,650,02108|02109
sf,ca,,' WITH FORMAT 'CSV' INPUT 'STREAM'
=> affected 2

SELECT * FROM cities WHERE _id IN ('bos', 'sf')
=> columns: _id string, state string, pop int, zips idset
=> ["bos", "ma", 650, [2108, 2109]]
=> ["sf", "ca", null, [94103]]

# --- invalid statements -------------------------------------------------------------------------------------

BULK INSERT INTO b (_id, n) MAP (0 ID, 1 INT) FROM '{data}/no-such-file.csv' WITH FORMAT 'CSV' INPUT 'FILE'
=> error TypeMismatchError

BULK INSERT INTO b (_id, n) MAP (0 ID, 1 INT) FROM '{data}' WITH FORMAT 'CSV' INPUT 'FILE'
=> error TypeMismatchError

BULK INSERT INTO b (_id, n) MAP (0 ID, 1 INT) FROM 'http://example.com/x.csv' WITH FORMAT 'CSV' INPUT 'URL'
=> error NotSupportedError

BULK INSERT INTO b (_id, n) MAP (0 ID, 1 INT) FROM x'1,2' WITH FORMAT 'XML' INPUT 'STREAM'
=> error TypeMismatchError

BULK INSERT INTO b (_id, n) MAP (0 ID, 1 INT) FROM x'1,2' WITH INPUT 'STREAM'
=> error TypeMismatchError

BULK INSERT INTO b (_id, n) MAP (0 ID, 1 INT) FROM x'1,2' WITH FORMAT 'CSV' INPUT 'PIPE'
=> error TypeMismatchError

BULK INSERT INTO b (_id, n) MAP (0 ID) FROM x'1,2' WITH FORMAT 'CSV' INPUT 'STREAM'
=> error TypeMismatchError

BULK INSERT INTO b (_id, n) MAP (0 ID, 1 INT) TRANSFORM (@0) FROM x'1,2' WITH FORMAT 'CSV' INPUT 'STREAM'
=> error TypeMismatchError

BULK INSERT INTO b (_id, n) MAP ('$.a' ID, 1 INT) FROM x'1,2' WITH FORMAT 'CSV' INPUT 'STREAM'
=> error TypeMismatchError

BULK INSERT INTO b (n) MAP (0 INT) FROM x'1' WITH FORMAT 'CSV' INPUT 'STREAM'
=> error TypeMismatchError

BULK INSERT INTO b (_id, nope) MAP (0 ID, 1 INT) FROM x'1,2' WITH FORMAT 'CSV' INPUT 'STREAM'
=> error ColumnNotFoundError

BULK INSERT INTO nope (_id, n) MAP (0 ID, 1 INT) FROM x'1,2' WITH FORMAT 'CSV' INPUT 'STREAM'
=> error TableNotFoundError

BULK INSERT INTO b (_id, n) MAP (0 ID, 1 INT) FROM x',2' WITH FORMAT 'CSV' INPUT 'STREAM'
=> error TypeMismatchError

BULK INSERT INTO b (_id, n) MAP (0 ID, 1 FOO) FROM x'1,2' WITH FORMAT 'CSV' INPUT 'STREAM'
=> error TypeMismatchError

BULK INSERT INTO b (_id, n) MAP (0 ID, 1 INT) FROM x'1,2' WITH FORMAT 'CSV' INPUT 'STREAM' ROWSLIMIT
=> error QuerySyntaxError

# A file that is not UTF-8 (latin1.csv holds "1,caf\xe9"), and one that is not Parquet.
BULK INSERT INTO b (_id, name) MAP (0 ID, 1 STRING) FROM '{data}/latin1.csv' WITH FORMAT 'CSV' INPUT 'FILE'
=> error TypeMismatchError

BULK INSERT INTO b (_id, n) MAP (0 ID, 1 INT) FROM '{data}/people.csv' WITH FORMAT 'PARQUET' INPUT 'FILE'
=> error TypeMismatchError

# @5 does not exist (two MAP entries).
BULK INSERT INTO b (_id, n) MAP (0 ID, 1 INT) TRANSFORM (@0, @5) FROM x'1,2' WITH FORMAT 'CSV' INPUT 'STREAM'
=> error QueryExecutionError

# 1 2 3, 10 11 12, 101 102, 30 31, 40, 60, 70 71, 90
SELECT COUNT(*) FROM b
=> columns: "" int
=> [15]
