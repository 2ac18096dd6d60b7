# GROUP BY over id, string, bool, int, timestamp and set columns; HAVING; ORDER BY and LIMIT
# over groups; SELECT DISTINCT.
#
# Format: ../golden_format.py. Fixture: ../sql_fixture.py (answers worked out by hand).
#
# SQL semantics (not FeatureBase's PQL GroupBy): COUNT(*) is the number of records in the
# group whatever other aggregates there are; SUM/AVG/MIN/MAX of a group without values are
# NULL; a NULL key is a value of its own: GROUP BY one non-set column has a NULL group for the
# records without a value, and over several columns every combination present, NULLs
# included, is a group. A set column groups by its whole set (FeatureBase: [1, 2] and [2, 1]
# are one group; a record without members is in the NULL group); WITH (flatten(col)) groups
# by member instead: a record counts once per member, shown as a one-member set, and records
# without members are in no group (like UNNEST).
#
#   team 10: records 1 2 1048576 (ages 30 40 65, scores 9.25 10.00 10.00)
#   team 20: records 3 4         (ages 55 30,    scores 12.50 -1.75)
#   team 30: record 6            (age 18, score 0.01)
#   team NULL: records 5 7       (no ages, no scores)

# --- one column of each kind ---------------------------------------------------------------------

SELECT team, COUNT(*) FROM people GROUP BY team
=> columns: team id, "" int
=> [10, 3]
=> [20, 2]
=> [30, 1]
=> [null, 2]

SELECT name, COUNT(*) FROM people GROUP BY name
=> columns: name string, "" int
=> ["ann", 2]
=> ["bob", 1]
=> ["cy", 1]
=> ["dee", 1]
=> ["eve", 1]
=> [null, 2]

SELECT active, COUNT(*), SUM(age) FROM people GROUP BY active
=> columns: active bool, "" int, "" int
=> [false, 3, 105]
=> [true, 3, 103]
=> [null, 2, 30]

SELECT age, COUNT(*) FROM people GROUP BY age
=> columns: age int, "" int
=> [18, 1]
=> [30, 2]
=> [40, 1]
=> [55, 1]
=> [65, 1]
=> [null, 2]

SELECT level, COUNT(*) FROM people GROUP BY level
=> columns: level int, "" int
=> [10, 1]
=> [11, 1]
=> [22, 1]
=> [33, 1]
=> [100, 1]
=> [null, 3]

SELECT temp, COUNT(*) FROM people GROUP BY temp
=> columns: temp int, "" int
=> [-100, 1]
=> [-33, 1]
=> [-22, 1]
=> [-11, 1]
=> [-10, 1]
=> [null, 3]

SELECT born, COUNT(*) FROM people GROUP BY born
=> columns: born timestamp, "" int
=> ["1970-01-01T00:00:00Z", 1]
=> ["1990-06-15T12:30:00Z", 1]
=> ["2000-01-01T00:00:00Z", 2]
=> ["2010-03-04T05:06:07Z", 1]
=> [null, 3]

SELECT state, COUNT(*), SUM(pop) FROM cities GROUP BY state
=> columns: state string, "" int, "" int
=> ["ny", 2, 8000]
=> ["ca", 2, 4800]

# Set columns group by the whole set: tags 1 {red, blue}, 2 {red}, 4 {green}, 5 {blue, green},
# 1048576 {red, green, blue}; 3, 6, 7 have none (the NULL group).
SELECT tags, COUNT(*) FROM people GROUP BY tags
=> columns: tags stringset, "" int
=> [["red", "blue"], 1]
=> [["red"], 1]
=> [["green"], 1]
=> [["blue", "green"], 1]
=> [["red", "blue", "green"], 1]
=> [null, 3]

# Whole sets in key order (members sorted, then NULL): {blue, green} {blue, green, red}
# {blue, red} {green} {red} NULL.
SELECT tags, COUNT(*) FROM people GROUP BY tags ORDER BY tags
=> columns: tags stringset, "" int
=> [null, 3]
=> [["blue", "green"], 1]
=> [["red", "blue", "green"], 1]
=> [["red", "blue"], 1]
=> [["green"], 1]
=> [["red"], 1]

#   codes: 1 {1, 2}, 2 {2}, 3 {3}, 5 {1}, 6 {1, 3}; 4, 7, 1048576 none.
SELECT codes, COUNT(*) FROM people GROUP BY codes
=> columns: codes idset, "" int
=> [[1, 2], 1]
=> [[2], 1]
=> [[3], 1]
=> [[1], 1]
=> [[1, 3], 1]
=> [null, 3]

#   visits (all views): 1 {1, 2}, 2 {2}, 3 {5}, 4 {3}; 5, 6, 7, 1048576 none.
SELECT visits, COUNT(*) FROM people GROUP BY visits
=> columns: visits idsetq, "" int
=> [[1, 2], 1]
=> [[2], 1]
=> [[5], 1]
=> [[3], 1]
=> [null, 4]

SELECT zips, COUNT(*) FROM cities GROUP BY zips
=> columns: zips idset, "" int
=> [[10001, 10002], 1]
=> [[14201], 1]
=> [[94103], 1]
=> [null, 1]

# WITH (flatten(col)): one group per member, shown as a one-member set; records 3, 6, 7 (no
# tags) are in no group.
#   red: 1 2 1048576   blue: 1 5 1048576   green: 4 5 1048576
SELECT tags, COUNT(*) FROM people WITH (flatten(tags)) GROUP BY tags
=> columns: tags stringset, "" int
=> [["red"], 3]
=> [["blue"], 3]
=> [["green"], 3]

# Records with red: 1 (red, blue), 2 (red), 1048576 (red, green, blue): min ages red 30,
# blue 30, green 65; ties keep the group order.
SELECT tags, MIN(age) FROM people WITH (flatten(tags)) WHERE SETCONTAINS(tags, 'red') GROUP BY tags ORDER BY 2 LIMIT 2
=> columns: tags stringset, "" int
=> [["red"], 30]
=> [["blue"], 30]

SELECT tags, COUNT(*), SUM(age), MIN(score) FROM people WITH (flatten(tags)) GROUP BY tags
=> columns: tags stringset, "" int, "" int, "" decimal(2)
=> [["red"], 3, 135, 9.25]
=> [["blue"], 3, 95, 9.25]
=> [["green"], 3, 95, -1.75]

#   codes 1: 1 5 6   2: 1 2   3: 3 6
SELECT codes, COUNT(*) FROM people WITH (flatten(codes)) GROUP BY codes
=> columns: codes idset, "" int
=> [[1], 3]
=> [[2], 2]
=> [[3], 2]

#   visits (all views) 1: 1   2: 1 2   3: 4   5: 3
SELECT visits, COUNT(*) FROM people WITH (flatten(visits)) GROUP BY visits
=> columns: visits idsetq, "" int
=> [[1], 1]
=> [[2], 2]
=> [[3], 1]
=> [[5], 1]

SELECT zips, COUNT(*) FROM cities WITH (flatten(zips)) GROUP BY zips
=> columns: zips idset, "" int
=> [[10001], 1]
=> [[10002], 1]
=> [[14201], 1]
=> [[94103], 1]

# An expression of the members: the row-by-row grouping flattens the same way.
SELECT tags, COUNT(*), SUM(age + 0) FROM people WITH (flatten(tags)) GROUP BY tags
=> columns: tags stringset, "" int, "" int
=> [["red"], 3, 135]
=> [["blue"], 3, 95]
=> [["green"], 3, 95]

SELECT tags FROM people WITH (flatter(tags))
=> error TypeMismatchError

SELECT tags FROM people WITH (flatten(nope))
=> error TypeMismatchError

SELECT tags FROM people WITH (flatten(tags, codes))
=> error TypeMismatchError

SELECT tags FROM people WITH (flatten(name))
=> error TypeMismatchError

# --- aggregates per group: SQL semantics ----------------------------------------------------------

# COUNT(*) stays the group's size even with SUM; the NULL team's SUM/AVG/MIN are NULL.
#   team 10: Σscore 29.25, avg age 135/3 = 45;  team 20: 10.75, 85/2 = 42.5;  team 30: 0.01, 18
SELECT team, COUNT(*), SUM(score), AVG(age), MIN(age), MAX(name) FROM people GROUP BY team
=> columns: team id, "" int, "" decimal(2), "" decimal(4), "" int, "" string
=> [10, 3, 29.25, 45.0000, 30, "eve"]
=> [20, 2, 10.75, 42.5000, 30, "dee"]
=> [30, 1, 0.01, 18.0000, 18, "ann"]
=> [null, 2, null, null, null, null]

#   team 10 names ann bob eve; 20: cy dee; 30: ann; NULL: none. tags: 10 → 3 records with
#   tags, 3 distinct; 20 → record 4 (green); 30 → none; NULL → record 5 (blue, green).
SELECT team, COUNT(name), COUNT(DISTINCT name), COUNT(tags), COUNT(DISTINCT tags) FROM people GROUP BY team
=> columns: team id, "" int, "" int, "" int, "" int
=> [10, 3, 3, 3, 3]
=> [20, 2, 2, 1, 1]
=> [30, 1, 1, 0, 0]
=> [null, 0, 0, 1, 2]

#   team 20 ages {30,55}: N=2, L=G=1, mid 42 → 42.
SELECT team, PERCENTILE(age, 50) FROM people GROUP BY team
=> columns: team id, "" int
=> [10, 40]
=> [20, 42]
=> [30, 18]
=> [null, null]

# WHERE filters records before grouping (no NULL group here: 5 and 7 fail age > 20).
SELECT team, COUNT(*) FROM people WHERE age > 20 GROUP BY team
=> columns: team id, "" int
=> [10, 3]
=> [20, 2]

SELECT age, COUNT(*) FROM people WHERE age IS NULL GROUP BY age
=> columns: age int, "" int
=> [null, 2]

#   age > 30: records 2 3 1048576 → red: 2 1048576; blue: 1048576; green: 1048576.
SELECT tags, COUNT(*) FROM people WITH (flatten(tags)) WHERE age > 30 GROUP BY tags
=> columns: tags stringset, "" int
=> [["red"], 2]
=> [["blue"], 1]
=> [["green"], 1]

# … and by whole sets: 2 {red}, 3 none, 1048576 {red, green, blue}.
SELECT tags, COUNT(*) FROM people WHERE age > 30 GROUP BY tags
=> columns: tags stringset, "" int
=> [["red"], 1]
=> [["red", "blue", "green"], 1]
=> [null, 1]

SELECT name, COUNT(*) FROM people WHERE _id = 99 GROUP BY name
=> columns: name string, "" int

SELECT tags, COUNT(*) FROM people WITH (flatten(tags)) WHERE _id = 3 GROUP BY tags
=> columns: tags stringset, "" int

SELECT tags, COUNT(*) FROM people WHERE _id = 3 GROUP BY tags
=> columns: tags stringset, "" int
=> [null, 1]

SELECT s, COUNT(*) FROM empty GROUP BY s
=> columns: s string, "" int

# A GROUP BY column need not be selected.
SELECT COUNT(*) FROM people GROUP BY active
=> columns: "" int
=> [3]
=> [3]
=> [2]

SELECT name FROM people GROUP BY name
=> columns: name string
=> ["ann"]
=> ["bob"]
=> ["cy"]
=> ["dee"]
=> ["eve"]
=> [null]

# GROUP BY an alias or a select-list position.
SELECT name AS who, COUNT(*) FROM people GROUP BY who
=> columns: who string, "" int
=> ["ann", 2]
=> ["bob", 1]
=> ["cy", 1]
=> ["dee", 1]
=> ["eve", 1]
=> [null, 2]

SELECT active, COUNT(*) FROM people GROUP BY 1
=> columns: active bool, "" int
=> [false, 3]
=> [true, 3]
=> [null, 2]

# --- several columns ------------------------------------------------------------------------------

# Records with both tags and codes: 1 (red,blue × 1,2), 2 (red × 2), 5 (blue,green × 1).
SELECT tags, codes, COUNT(*) FROM people WITH (flatten(tags), flatten(codes)) GROUP BY tags, codes
=> columns: tags stringset, codes idset, "" int
=> [["red"], [1], 1]
=> [["red"], [2], 2]
=> [["blue"], [1], 2]
=> [["blue"], [2], 1]
=> [["green"], [1], 1]

# Whole sets: (tags, codes) per record: 1 ({red, blue}, {1, 2}), 2 ({red}, {2}),
# 3 (NULL, {3}), 4 ({green}, NULL), 5 ({blue, green}, {1}), 6 (NULL, {1, 3}), 7 (NULL, NULL),
# 1048576 ({red, blue, green}, NULL).
SELECT tags, codes, COUNT(*) FROM people GROUP BY tags, codes
=> columns: tags stringset, codes idset, "" int
=> [["red", "blue"], [1, 2], 1]
=> [["red"], [2], 1]
=> [null, [3], 1]
=> [["green"], null, 1]
=> [["blue", "green"], [1], 1]
=> [null, [1, 3], 1]
=> [null, null, 1]
=> [["red", "blue", "green"], null, 1]

# One flattened, one not: members of tags × whole codes.
SELECT tags, codes, COUNT(*) FROM people WITH (flatten(tags)) WHERE team = 10 GROUP BY tags, codes
=> columns: tags stringset, codes idset, "" int
=> [["red"], [1, 2], 1]
=> [["blue"], [1, 2], 1]
=> [["red"], [2], 1]
=> [["red"], null, 1]
=> [["blue"], null, 1]
=> [["green"], null, 1]

SELECT team, tags, COUNT(*) FROM people WITH (flatten(tags)) WHERE team = 10 GROUP BY team, tags
=> columns: team id, tags stringset, "" int
=> [10, ["red"], 3]
=> [10, ["blue"], 2]
=> [10, ["green"], 1]

# Standard SQL keeps the groups with a NULL key: (dee, NULL) is record 4, (NULL, false) is
# record 5 and (NULL, NULL) is record 7.
SELECT name, active, COUNT(*) FROM people GROUP BY name, active
=> columns: name string, active bool, "" int
=> ["ann", true, 2]
=> ["bob", false, 1]
=> ["cy", true, 1]
=> ["eve", false, 1]
=> ["dee", null, 1]
=> [null, false, 1]
=> [null, null, 1]

# (team, active, age) per record: 1 (10,T,30) 2 (10,F,40) 3 (20,T,55) 4 (20,NULL,30)
# 5 (NULL,F,NULL) 6 (30,T,18) 7 (NULL,NULL,NULL) 1048576 (10,F,65).
SELECT team, active, COUNT(*), SUM(age), MIN(name), COUNT(name) FROM people GROUP BY team, active
=> columns: team id, active bool, "" int, "" int, "" string, "" int
=> [10, true, 1, 30, "ann", 1]
=> [10, false, 2, 105, "bob", 2]
=> [20, true, 1, 55, "cy", 1]
=> [20, null, 1, 30, "dee", 1]
=> [null, false, 1, null, null, 0]
=> [30, true, 1, 18, "ann", 1]
=> [null, null, 1, null, null, 0]

# NULLs sort first ascending (ties keep group order: values, then NULL).
SELECT team, active, COUNT(*) FROM people GROUP BY team, active ORDER BY team, active
=> columns: team id, active bool, "" int
=> [null, null, 1]
=> [null, false, 1]
=> [10, false, 2]
=> [10, true, 1]
=> [20, null, 1]
=> [20, true, 1]
=> [30, true, 1]

SELECT team, active, COUNT(*) FROM people GROUP BY team, active ORDER BY team DESC, active DESC
=> columns: team id, active bool, "" int
=> [30, true, 1]
=> [20, true, 1]
=> [20, null, 1]
=> [10, true, 1]
=> [10, false, 2]
=> [null, false, 1]
=> [null, null, 1]

SELECT team, active, COUNT(*) FROM people WHERE age > 20 OR _id = 7 GROUP BY team, active HAVING COUNT(*) < 2
=> columns: team id, active bool, "" int
=> [10, true, 1]
=> [20, true, 1]
=> [20, null, 1]
=> [null, null, 1]

# Three columns, one of them a set (flattened): records 3 (no members), 6 and 7 (NULL tags)
# are in no group; record 5 has no team.
SELECT tags, team, active, COUNT(*) FROM people WITH (flatten(tags)) GROUP BY tags, team, active
=> columns: tags stringset, team id, active bool, "" int
=> [["red"], 10, true, 1]
=> [["red"], 10, false, 2]
=> [["blue"], 10, true, 1]
=> [["blue"], 10, false, 1]
=> [["green"], 10, false, 1]
=> [["green"], 20, null, 1]
=> [["blue"], null, false, 1]
=> [["green"], null, false, 1]

# The same query restricted to records with both values.
SELECT name, active, COUNT(*) FROM people WHERE name IS NOT NULL AND active IS NOT NULL GROUP BY name, active
=> columns: name string, active bool, "" int
=> ["ann", true, 2]
=> ["bob", false, 1]
=> ["cy", true, 1]
=> ["eve", false, 1]

# --- HAVING ------------------------------------------------------------------------------------------

SELECT team, COUNT(*) FROM people GROUP BY team HAVING COUNT(*) > 1
=> columns: team id, "" int
=> [10, 3]
=> [20, 2]
=> [null, 2]

# The NULL group's SUM is NULL: NULL > 50 is unknown, so HAVING drops it.
SELECT team, SUM(age) FROM people GROUP BY team HAVING SUM(age) > 50
=> columns: team id, "" int
=> [10, 135]
=> [20, 85]

SELECT tags, COUNT(*) AS c FROM people WITH (flatten(tags)) GROUP BY tags HAVING c > 2
=> columns: tags stringset, c int
=> [["red"], 3]
=> [["blue"], 3]
=> [["green"], 3]

SELECT tags, COUNT(*) AS c FROM people GROUP BY tags HAVING c > 2
=> columns: tags stringset, c int
=> [null, 3]

SELECT team FROM people GROUP BY team HAVING MAX(name) = 'eve'
=> columns: team id
=> [10]

SELECT name, COUNT(*) FROM people GROUP BY name HAVING name LIKE 'a%'
=> columns: name string, "" int
=> ["ann", 2]

SELECT team, COUNT(*) FROM people GROUP BY team HAVING team = 20 OR COUNT(*) = 1
=> columns: team id, "" int
=> [20, 2]
=> [30, 1]

# --- ORDER BY / LIMIT / OFFSET over groups (NULL sorts first ascending, last descending) -----------

SELECT team, COUNT(*) AS c FROM people GROUP BY team ORDER BY c DESC, team
=> columns: team id, c int
=> [10, 3]
=> [null, 2]
=> [20, 2]
=> [30, 1]

SELECT team, COUNT(*) FROM people GROUP BY team ORDER BY team DESC
=> columns: team id, "" int
=> [30, 1]
=> [20, 2]
=> [10, 3]
=> [null, 2]

# An aggregate that is not selected.
SELECT team, COUNT(*) FROM people GROUP BY team ORDER BY SUM(age) DESC
=> columns: team id, "" int
=> [10, 3]
=> [20, 2]
=> [30, 1]
=> [null, 2]

SELECT team, SUM(age) AS s FROM people GROUP BY team ORDER BY s
=> columns: team id, s int
=> [null, null]
=> [30, 18]
=> [20, 85]
=> [10, 135]

SELECT name, COUNT(*) FROM people GROUP BY name ORDER BY 2 DESC, 1
=> columns: name string, "" int
=> [null, 2]
=> ["ann", 2]
=> ["bob", 1]
=> ["cy", 1]
=> ["dee", 1]
=> ["eve", 1]

SELECT name, COUNT(*) FROM people GROUP BY name ORDER BY name LIMIT 2 OFFSET 1
=> columns: name string, "" int
=> ["ann", 2]
=> ["bob", 1]

SELECT tags, COUNT(*) FROM people WITH (flatten(tags)) GROUP BY tags ORDER BY tags DESC
=> columns: tags stringset, "" int
=> [["red"], 3]
=> [["green"], 3]
=> [["blue"], 3]

SELECT team, COUNT(*) FROM people GROUP BY team ORDER BY team LIMIT 0
=> columns: team id, "" int

# --- GROUP BY a DECIMAL, _id or an expression: grouped record by record ---------------------------

SELECT score, COUNT(*) FROM people GROUP BY score
=> columns: score decimal(2), "" int
=> [-1.75, 1]
=> [0.01, 1]
=> [9.25, 1]
=> [10.00, 2]
=> [12.50, 1]
=> [null, 2]

SELECT _id, COUNT(*) FROM people WHERE team = 20 GROUP BY _id
=> columns: _id id, "" int
=> [3, 1]
=> [4, 1]

SELECT age + 1, COUNT(*) FROM people GROUP BY age + 1
=> columns: "" int, "" int
=> [19, 1]
=> [31, 2]
=> [41, 1]
=> [56, 1]
=> [66, 1]
=> [null, 2]

# Time bucketing: born per decade (DATETIMEPART), and per year as DATE_TRUNC's text.
#   born: 1 2000, 2 1990, 4 2010, 6 2000, 1048576 1970; 3 5 7 none.
SELECT DATETIMEPART('yy', born) / 10 * 10 AS decade, COUNT(*) FROM people GROUP BY decade ORDER BY decade
=> columns: decade int, "" int
=> [null, 3]
=> [1970, 1]
=> [1990, 1]
=> [2000, 2]
=> [2010, 1]

SELECT DATE_TRUNC('yy', born), COUNT(*), MIN(age) FROM people WHERE born IS NOT NULL GROUP BY DATE_TRUNC('yy', born)
=> columns: "" string, "" int, "" int
=> ["1970", 1, 65]
=> ["1990", 1, 40]
=> ["2000", 2, 18]
=> ["2010", 1, 30]

# An expression may repeat a GROUP BY expression, or use its columns inside aggregates only.
SELECT age / 10 * 10 AS band, COUNT(*), SUM(age) FROM people WHERE age IS NOT NULL GROUP BY age / 10 * 10
=> columns: band int, "" int, "" int
=> [10, 1, 18]
=> [30, 2, 60]
=> [40, 1, 40]
=> [50, 1, 55]
=> [60, 1, 65]

SELECT age, COUNT(*) FROM people GROUP BY age + 1
=> error TypeMismatchError

SELECT COUNT(*) FROM people GROUP BY COUNT(*)
=> error TypeMismatchError

# --- what GROUP BY does not do --------------------------------------------------------------------

SELECT name, COUNT(*) FROM people GROUP BY team
=> error TypeMismatchError

SELECT nope, COUNT(*) FROM people GROUP BY nope
=> error ColumnNotFoundError

# --- SELECT DISTINCT ---------------------------------------------------------------------------------

SELECT DISTINCT name FROM people
=> columns: name string
=> ["ann"]
=> ["bob"]
=> ["cy"]
=> ["dee"]
=> ["eve"]
=> [null]

SELECT DISTINCT team FROM people ORDER BY team
=> columns: team id
=> [null]
=> [10]
=> [20]
=> [30]

SELECT DISTINCT age FROM people ORDER BY age DESC LIMIT 2
=> columns: age int
=> [65]
=> [55]

SELECT DISTINCT state FROM cities
=> columns: state string
=> ["ny"]
=> ["ca"]

# DISTINCT on a set column compares whole sets; WITH (flatten(col)) gives its members.
SELECT DISTINCT tags FROM people WITH (flatten(tags))
=> columns: tags stringset
=> [["red"]]
=> [["blue"]]
=> [["green"]]

SELECT DISTINCT codes FROM people
=> columns: codes idset
=> [[1, 2]]
=> [[2]]
=> [[3]]
=> [[1]]
=> [[1, 3]]
=> [null]

SELECT DISTINCT codes FROM people WITH (flatten(codes))
=> columns: codes idset
=> [[1]]
=> [[2]]
=> [[3]]

SELECT DISTINCT name FROM people WHERE team = 10
=> columns: name string
=> ["ann"]
=> ["bob"]
=> ["eve"]

# (team, active) per record: 1 (10,T) 2 (10,F) 3 (20,T) 4 (20,NULL) 5 (NULL,F) 6 (30,T)
# 7 (NULL,NULL) 1048576 (10,F) → seven distinct rows.
SELECT DISTINCT team, active FROM people
=> columns: team id, active bool
=> [10, true]
=> [10, false]
=> [20, true]
=> [20, null]
=> [null, false]
=> [30, true]
=> [null, null]

# (name, team, active): ann 10 T, bob 10 F, cy 20 T, dee 20 NULL, NULL NULL F, ann 30 T,
# NULL NULL NULL, eve 10 F.
SELECT DISTINCT name, team, active FROM people WHERE _id != 6
=> columns: name string, team id, active bool
=> ["ann", 10, true]
=> ["bob", 10, false]
=> ["cy", 20, true]
=> ["dee", 20, null]
=> [null, null, false]
=> [null, null, null]
=> ["eve", 10, false]

SELECT DISTINCT team, active FROM people WHERE team IS NOT NULL AND active IS NOT NULL
=> columns: team id, active bool
=> [10, true]
=> [10, false]
=> [20, true]
=> [30, true]

SELECT DISTINCT COUNT(*) FROM people
=> columns: "" int
=> [8]

SELECT DISTINCT score FROM people
=> columns: score decimal(2)
=> [9.25]
=> [10.00]
=> [12.50]
=> [-1.75]
=> [null]
=> [0.01]

SELECT DISTINCT age / 20 FROM people
=> columns: "" int
=> [1]
=> [2]
=> [3]
=> [0]
=> [null]

SELECT DISTINCT UPPER(name) AS n FROM people ORDER BY n LIMIT 3
=> columns: n string
=> [null]
=> ["ANN"]
=> ["BOB"]

SELECT DISTINCT name FROM people ORDER BY age
=> error TypeMismatchError

SELECT DISTINCT name FROM people LIMIT 0
=> columns: name string
