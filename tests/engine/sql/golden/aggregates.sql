# Aggregates without GROUP BY: COUNT(*), COUNT(col), COUNT(DISTINCT col), SUM, AVG, MIN,
# MAX, PERCENTILE; expressions over aggregates; aggregates over an empty filter.
#
# Format: ../golden_format.py. Fixture: ../sql_fixture.py (answers worked out by hand).
# An unaliased expression's column name is "" (as in FeatureBase).
#
#   age    30 40 55 30 18 65        (records 1 2 3 4 6 1048576)  Σ 238, n 6, distinct 5
#   score  9.25 10.00 12.50 -1.75 0.01 10.00                       Σ 40.01, n 6, distinct 5
#   level  11 22 33 100 10          (records 1 2 4 5 6)           Σ 176, n 5
#   temp   -11 -22 -33 -100 -10                                   Σ -176, n 5

# --- COUNT ------------------------------------------------------------------------------------------

SELECT COUNT(*) FROM people
=> columns: "" int
=> [8]

SELECT count(*) AS n FROM people
=> columns: n int
=> [8]

SELECT COUNT(*) FROM people WHERE age > 30
=> columns: "" int
=> [3]

SELECT COUNT(*) FROM people WHERE _id = 99
=> columns: "" int
=> [0]

SELECT COUNT(*) FROM empty
=> columns: "" int
=> [0]

# COUNT(col) counts non-NULL values; a set column counts records with at least one member.
SELECT COUNT(name), COUNT(age), COUNT(score), COUNT(active), COUNT(born), COUNT(team) FROM people
=> columns: "" int, "" int, "" int, "" int, "" int, "" int
=> [6, 6, 6, 6, 5, 6]

SELECT COUNT(tags), COUNT(codes), COUNT(visits), COUNT(_id) FROM people
=> columns: "" int, "" int, "" int, "" int
=> [5, 5, 4, 8]

# COUNT(DISTINCT col): distinct values; for a set column, distinct members.
#   name: ann bob cy dee eve → 5; team: 10 20 30 → 3; active: false true → 2;
#   born: 2000-01-01 1990-06-15 2010-03-04 1970-01-01 → 4; tags: red blue green → 3;
#   codes: 1 2 3 → 3.
SELECT COUNT(DISTINCT name), COUNT(DISTINCT age), COUNT(DISTINCT team), COUNT(DISTINCT active) FROM people
=> columns: "" int, "" int, "" int, "" int
=> [5, 5, 3, 2]

SELECT COUNT(DISTINCT score), COUNT(DISTINCT born), COUNT(DISTINCT tags), COUNT(DISTINCT codes) FROM people
=> columns: "" int, "" int, "" int, "" int
=> [5, 4, 3, 3]

SELECT COUNT(DISTINCT state) FROM cities
=> columns: "" int
=> [2]

# --- SUM / AVG (AVG is DECIMAL(4)) ------------------------------------------------------------------

SELECT SUM(age), AVG(age) FROM people
=> columns: "" int, "" decimal(4)
=> [238, 39.6667]

# 40.01 / 6 = 6.66833… → 6.6683
SELECT SUM(score), AVG(score) FROM people
=> columns: "" decimal(2), "" decimal(4)
=> [40.01, 6.6683]

SELECT SUM(level), SUM(temp), AVG(temp) FROM people
=> columns: "" int, "" int, "" decimal(4)
=> [176, -176, -35.2000]

SELECT SUM(age) FROM people WHERE team = 10
=> columns: "" int
=> [135]

# SUM over no values is NULL (and AVG too), while COUNT is 0.
SELECT SUM(age), AVG(age), COUNT(age) FROM people WHERE _id = 7
=> columns: "" int, "" decimal(4), "" int
=> [null, null, 0]

SELECT SUM(x), COUNT(*) FROM empty
=> columns: "" int, "" int
=> [null, 0]

SELECT SUM(name) FROM people
=> error TypeMismatchError

SELECT AVG(active) FROM people
=> error TypeMismatchError

SELECT SUM(_id) FROM people
=> error TypeMismatchError

# An aggregate over an expression is computed record by record: ages 30 40 55 30 18 65, each + 1.
SELECT SUM(age + 1) FROM people
=> columns: "" int
=> [244]

SELECT SUM(DISTINCT age) FROM people
=> columns: "" int
=> [208]

# ages {18, 30, 40, 55, 65} (30 twice); scores {-1.75, 0.01, 9.25, 10.00, 12.50} (10.00 twice)
SELECT SUM(DISTINCT age), AVG(DISTINCT age), COUNT(DISTINCT age), SUM(DISTINCT score), AVG(DISTINCT score), MIN(DISTINCT age), MAX(DISTINCT score) FROM people
=> columns: "" int, "" decimal(4), "" int, "" decimal(2), "" decimal(4), "" int, "" decimal(2)
=> [208, 41.6000, 5, 30.01, 6.0020, 18, 12.50]

SELECT SUM(DISTINCT age), AVG(DISTINCT score) FROM people WHERE _id = 7
=> columns: "" int, "" decimal(4)
=> [null, null]

# team 10: ages 30 40 65, scores 9.25 10.00 10.00; team 20: 55 30, 12.50 -1.75; team 30: 18, 0.01
SELECT team, SUM(score), SUM(DISTINCT score), AVG(DISTINCT score), SUM(DISTINCT age) FROM people GROUP BY team
=> columns: team id, "" decimal(2), "" decimal(2), "" decimal(4), "" int
=> [10, 29.25, 19.25, 9.6250, 135]
=> [20, 10.75, 10.75, 5.3750, 85]
=> [30, 0.01, 0.01, 0.0100, 18]
=> [null, null, null, null, null]

SELECT PERCENTILE(DISTINCT age, 50) FROM people
=> error NotSupportedError

SELECT SUM(age, score) FROM people
=> error TypeMismatchError

SELECT COUNT(age, name) FROM people
=> error TypeMismatchError

SELECT AVG(DISTINCT age, 1) FROM people
=> error TypeMismatchError

SELECT team, MAX(age, 1) FROM people GROUP BY team
=> error TypeMismatchError

SELECT PERCENTILE(age, 50, 1) FROM people
=> error TypeMismatchError

# --- MIN / MAX: int, decimal, timestamp, string, bool, id ---------------------------------------------

SELECT MIN(age), MAX(age), MIN(level), MAX(temp) FROM people
=> columns: "" int, "" int, "" int, "" int
=> [18, 65, 10, -10]

SELECT MIN(score), MAX(score) FROM people
=> columns: "" decimal(2), "" decimal(2)
=> [-1.75, 12.50]

SELECT MIN(born), MAX(born) FROM people
=> columns: "" timestamp, "" timestamp
=> ["1970-01-01T00:00:00Z", "2010-03-04T05:06:07Z"]

SELECT MIN(name), MAX(name) FROM people
=> columns: "" string, "" string
=> ["ann", "eve"]

SELECT MIN(active), MAX(active), MIN(team), MAX(team) FROM people
=> columns: "" bool, "" bool, "" id, "" id
=> [false, true, 10, 30]

SELECT MAX(age) FROM people WHERE active = false
=> columns: "" int
=> [65]

SELECT MIN(age), MAX(name) FROM people WHERE _id = 7
=> columns: "" int, "" string
=> [null, null]

SELECT MIN(tags) FROM people
=> error TypeMismatchError

SELECT MAX(visits) FROM people
=> error TypeMismatchError

SELECT MIN(_id) FROM people
=> error TypeMismatchError

# --- PERCENTILE(col, nth): FeatureBase's bisection (the answer need not be a stored value) ---------
# age {18,30,30,40,55,65}, nth 50: N=6, L=G=3; bisect [18,65]: mid 41 (4 below > 3 → max 40),
#   mid 29 (5 above > 3 → min 30), mid 35 (3 below, 3 above) → 35.
SELECT PERCENTILE(age, 50) FROM people
=> columns: "" int
=> [35]

# nth 0 → the minimum, nth 100 → the maximum.
SELECT PERCENTILE(age, 0), PERCENTILE(age, 100) FROM people
=> columns: "" int, "" int
=> [18, 65]

# score ×100 {-175,1,925,1000,1000,1250}: mids 538 (min 539), 894 (min 895), 1072 (max 1071),
#   983 (3 below, 3 above) → 9.83.
SELECT PERCENTILE(score, 50) FROM people
=> columns: "" decimal(2)
=> [9.83]

# Columns stored with a base (level: MIN 10, base 10; temp: MAX -10, base -10).
# level {10,11,22,33,100}: N=5, L=G=2; mids 55 (max 54), 32 (max 31), 20 (min 21), 26 (max 25),
#   23 (max 22), 21 (min 22), 22 → 22.  temp {-100,-33,-22,-11,-10} (Go division truncates):
#   mids -55 (min -54), -32 (min -31), -20 (max -21), -26 (min -25), -23 (min -22), -21 (max -22), -22 → -22.
SELECT PERCENTILE(level, 50), PERCENTILE(temp, 50) FROM people
=> columns: "" int, "" int
=> [22, -22]

# team 10's ages {30,40,65}: N=3, L=G=1; mids 47 (max 46), 38 (min 39), 42 (max 41), 40 → 40.
SELECT PERCENTILE(age, 50) FROM people WHERE team = 10
=> columns: "" int
=> [40]

SELECT PERCENTILE(age, 50) FROM people WHERE _id = 7
=> columns: "" int
=> [null]

SELECT PERCENTILE(age, 101) FROM people
=> error TypeMismatchError

SELECT PERCENTILE(age) FROM people
=> error TypeMismatchError

# PERCENTILE of a timestamp (FeatureBase allows it): the bisection over Unix seconds 0,
# 645453000, 946684800 ×2, 1267679167 (N 5, L = G = 2) stops at 946684800 (2 below, 1 above).
SELECT PERCENTILE(born, 50) FROM people
=> columns: "" timestamp
=> ["2000-01-01T00:00:00Z"]

# --- expressions over aggregates ---------------------------------------------------------------------

SELECT COUNT(*) + 1, SUM(age) * 2, SUM(age) / COUNT(age) FROM people
=> columns: "" int, "" int, "" int
=> [9, 476, 39]

SELECT COUNT(*) AS n, MAX(age) - MIN(age) AS spread FROM people
=> columns: n int, spread int
=> [8, 47]

# A plain column next to an aggregate needs GROUP BY.
SELECT _id, COUNT(*) FROM people
=> error TypeMismatchError

# HAVING without GROUP BY filters the one group of the whole table (standard SQL).
SELECT COUNT(*) FROM people HAVING COUNT(*) > 1
=> columns: "" int
=> [8]

SELECT COUNT(*) FROM people HAVING COUNT(*) > 8
=> columns: "" int

# LIMIT/OFFSET apply to the single result row.
SELECT COUNT(*) FROM people LIMIT 1 OFFSET 1
=> columns: "" int

SELECT COUNT(*) FROM people LIMIT 0
=> columns: "" int

SELECT SUM(COUNT(*)) FROM people
=> error TypeMismatchError

SELECT FOO(age) FROM people
=> error NotSupportedError
