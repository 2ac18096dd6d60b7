# Scalar functions (FeatureBase SQL3 built-ins), SELECT without FROM, CASE, CURRENT_TIMESTAMP.
#
# Format: ../golden_format.py. Fixture: ../sql_fixture.py (answers worked out by hand).
# References: featurebase-client.md §6 (`select toTimeStamp(0)`), featurebase-features.md §(c)
# (string, date and set function lists), and FeatureBase's function pages
# (docs/sql-guide/functions/function-<name>.md) and sql3 test definitions
# (defs_date_functions.go, defs_string_functions.go) for each function's arguments and results.
# born: 1 2000-01-01T00:00:00Z, 2 1990-06-15T12:30:00Z, 4 2010-03-04T05:06:07Z,
#       6 2000-01-01T00:00:00Z, 1048576 1970-01-01T00:00:00Z.

# --- SELECT without FROM ----------------------------------------------------------------------------

# featurebase-client.md §6: the client's own example.
select toTimeStamp(0)
=> columns: "" timestamp
=> ["1970-01-01T00:00:00Z"]

SELECT 1 + 2 AS three, 'a' || 'b', UPPER('x')
=> columns: three int, "" string, "" string
=> [3, "ab", "X"]

SELECT 1 AS x WHERE 1 = 2
=> columns: x int

SELECT 1 AS x LIMIT 0
=> columns: x int

SELECT 1 AS x ORDER BY x
=> columns: x int
=> [1]

SELECT name
=> error ColumnNotFoundError

SELECT *
=> error TypeMismatchError

# An aggregate over the one row of a SELECT without FROM.
SELECT COUNT(*), SUM(2), MAX('x')
=> columns: "" int, "" int, "" string
=> [1, 2, "x"]

EXPLAIN SELECT 1
=> columns: plan string
=> ["Project 1"]
=> ["  Values 1 row"]

# --- TOTIMESTAMP (function-totimestamp.md: int, optional unit s/ms/us/ns, default s) --------------

SELECT TOTIMESTAMP(90061), TOTIMESTAMP(90061, 's'), TOTIMESTAMP(90061000, 'ms'), TOTIMESTAMP(90061000000, 'us'), TOTIMESTAMP(90061000000000, 'ns')
=> columns: "" timestamp, "" timestamp, "" timestamp, "" timestamp, "" timestamp
=> ["1970-01-02T01:01:01Z", "1970-01-02T01:01:01Z", "1970-01-02T01:01:01Z", "1970-01-02T01:01:01Z", "1970-01-02T01:01:01Z"]

SELECT TOTIMESTAMP(-86400), TOTIMESTAMP(1000000000, 'µs'), TOTIMESTAMP(NULL)
=> columns: "" timestamp, "" timestamp, "" timestamp
=> ["1969-12-31T00:00:00Z", "1970-01-01T00:16:40Z", null]

SELECT _id, TOTIMESTAMP(age * 86400) AS t FROM people WHERE _id IN (1, 5)
=> columns: _id id, t timestamp
=> [1, "1970-01-31T00:00:00Z"]
=> [5, null]

# defs_date_functions.go: argument errors
SELECT TOTIMESTAMP()
=> error TypeMismatchError

SELECT TOTIMESTAMP('a')
=> error TypeMismatchError

SELECT TOTIMESTAMP(1, 2)
=> error TypeMismatchError

SELECT TOTIMESTAMP(1, 'x')
=> error InvalidValueError

SELECT TOTIMESTAMP(999999999999999)
=> error ValueOutOfRangeError

# --- DATETIMEPART / DATETIMENAME (function-datetimepart.md, function-datetimename.md) -------------
# 1990-06-15 is a Friday (w = 5, Sunday 0); day of year 31+28+31+30+31+15 = 166; 1990-01-01 was a
# Monday, so ISO week (166-1)//7+1 = 24.

SELECT DATETIMEPART('yy', born), DATETIMEPART('m', born), DATETIMEPART('d', born), DATETIMEPART('hh', born), DATETIMEPART('mi', born), DATETIMEPART('s', born) FROM people WHERE _id = 2
=> columns: "" int, "" int, "" int, "" int, "" int, "" int
=> [1990, 6, 15, 12, 30, 0]

SELECT DATETIMEPART('W', born), DATETIMEPART('yd', born), DATETIMEPART('wk', born), DATETIMEPART('ms', born), DATETIMEPART('us', born), DATETIMEPART('ns', born) FROM people WHERE _id = 2
=> columns: "" int, "" int, "" int, "" int, "" int, "" int
=> [5, 166, 24, 0, 0, 0]

# function-datetimepart.md: 1970-01-01 is a Thursday, w = 4; an integer is Unix seconds.
SELECT DATETIMEPART('w', '1970-01-01T00:00:00Z'), DATETIMEPART('yy', 0), DATETIMEPART('m', 0), DATETIMEPART('ms', '2012-11-01T22:08:41.1002Z'), DATETIMEPART('us', '2012-11-01T22:08:41.1002Z')
=> columns: "" int, "" int, "" int, "" int, "" int
=> [4, 1970, 1, 100, 100200]

SELECT _id, DATETIMEPART('yy', born) FROM people WHERE _id IN (3, 4)
=> columns: _id id, "" int
=> [3, null]
=> [4, 2010]

SELECT DATETIMEPART('1', CURRENT_TIMESTAMP)
=> error InvalidValueError

SELECT DATETIMEPART(1, 2)
=> error TypeMismatchError

SELECT DATETIMEPART('yy', 'nope')
=> error TypeMismatchError

SELECT DATETIMENAME('m', born), DATETIMENAME('w', born), DATETIMENAME('yy', born), DATETIMENAME('d', born) FROM people WHERE _id = 4
=> columns: "" string, "" string, "" string, "" string
=> ["March", "Thursday", "2010", "4"]

# --- DATETIMEADD (function-datetimeadd.md; units yy m d hh mi s ms us ns) -------------------------

SELECT _id, DATETIMEADD('yy', 62, born) AS retire FROM people WHERE _id IN (1, 1048576)
=> columns: _id id, retire timestamp
=> [1, "2062-01-01T00:00:00Z"]
=> [1048576, "2032-01-01T00:00:00Z"]

SELECT DATETIMEADD('hh', 24, '2023-03-01T21:30:00Z'), DATETIMEADD('d', -100, '2023-03-06'), DATETIMEADD('mi', 1440, '2023-03-01'), DATETIMEADD('s', 86400, '2023-03-01')
=> columns: "" timestamp, "" timestamp, "" timestamp, "" timestamp
=> ["2023-03-02T21:30:00Z", "2022-11-26T00:00:00Z", "2023-03-02T00:00:00Z", "2023-03-02T00:00:00Z"]

# A month added to Jan 31 overflows into March, as Go's AddDate (2023: Feb has 28 days).
SELECT DATETIMEADD('m', 1, '2023-01-31T00:00:00Z'), DATETIMEADD('ms', 1500, '2023-01-01'), DATETIMEADD('yy', 1, 0), DATETIMEADD('d', NULL, '2023-01-01')
=> columns: "" timestamp, "" timestamp, "" timestamp, "" timestamp
=> ["2023-03-03T00:00:00Z", "2023-01-01T00:00:01.5Z", "1971-01-01T00:00:00Z", null]

SELECT DATETIMEADD('x', 1, CURRENT_TIMESTAMP)
=> error InvalidValueError

SELECT DATETIMEADD('yy', '2', CURRENT_TIMESTAMP)
=> error TypeMismatchError

SELECT DATETIMEADD('yy', 2, true)
=> error TypeMismatchError

SELECT DATETIMEADD('ms', 7000, 'YYYY-MM-DDTHH:MM:SS')
=> error TypeMismatchError

# --- DATETIMEDIFF (function-datetimediff.md: end - start, truncated; NULL in, NULL out) -----------

SELECT DATETIMEDIFF('d', '2023-02-27T21:30:00Z', '2023-03-01T21:30:00Z'), DATETIMEDIFF('h', '2023-03-01T12:00:00Z', '2023-03-01T09:00:00Z'), DATETIMEDIFF(NULL, '2023-01-01', '2023-01-02')
=> columns: "" int, "" int, "" int
=> [2, -3, null]

# defs_date_functions.go: 2012-11-01T22:08:41.1002003Z to 2022-12-09T18:04:54.3005008Z (here to the
# microsecond): 10 years, 121 months, 3689 days, 88555 hours, 5313356 minutes.
SELECT DATETIMEDIFF('yy', '2012-11-01T22:08:41.100200Z', '2022-12-09T18:04:54.300500Z'), DATETIMEDIFF('m', '2012-11-01T22:08:41.100200Z', '2022-12-09T18:04:54.300500Z'), DATETIMEDIFF('d', '2012-11-01T22:08:41.100200Z', '2022-12-09T18:04:54.300500Z'), DATETIMEDIFF('hh', '2012-11-01T22:08:41.100200Z', '2022-12-09T18:04:54.300500Z'), DATETIMEDIFF('mi', '2012-11-01T22:08:41.100200Z', '2022-12-09T18:04:54.300500Z'), DATETIMEDIFF('s', '2012-11-01T22:08:41.100200Z', '2022-12-09T18:04:54.300500Z'), DATETIMEDIFF('ms', '2012-11-01T22:08:41.100200Z', '2022-12-09T18:04:54.300500Z'), DATETIMEDIFF('us', '2012-11-01T22:08:41.100200Z', '2022-12-09T18:04:54.300500Z')
=> columns: "" int, "" int, "" int, "" int, "" int, "" int, "" int, "" int
=> [10, 121, 3689, 88555, 5313356, 318801373, 318801373200, 318801373200300]

# Whole months and years: Feb 29 2000 to Feb 28 2001 is 11 months, 0 years.
SELECT DATETIMEDIFF('m', '2000-02-29', '2001-02-28'), DATETIMEDIFF('yy', '2000-02-29', '2001-02-28'), DATETIMEDIFF('yy', '2001-03-01', '2000-02-29')
=> columns: "" int, "" int, "" int
=> [11, 0, -1]

SELECT _id, DATETIMEDIFF('d', born, '2000-01-11') FROM people WHERE _id IN (1, 3)
=> columns: _id id, "" int
=> [1, 10]
=> [3, null]

SELECT DATETIMEDIFF('ns', '0001-01-01', '9999-01-01')
=> error ValueOutOfRangeError

SELECT DATETIMEDIFF('yy', 'nope', '2000-01-01')
=> error TypeMismatchError

# --- DATE_TRUNC (function-date_trunc.md: a string cut at the unit) --------------------------------

SELECT DATE_TRUNC('yy', born), DATE_TRUNC('m', born), DATE_TRUNC('d', born), DATE_TRUNC('hh', born), DATE_TRUNC('mi', born), DATE_TRUNC('s', born), DATE_TRUNC('ms', born) FROM people WHERE _id = 4
=> columns: "" string, "" string, "" string, "" string, "" string, "" string, "" string
=> ["2010", "2010-03", "2010-03-04", "2010-03-04T05", "2010-03-04T05:06", "2010-03-04T05:06:07", "2010-03-04T05:06:07.000"]

SELECT DATE_TRUNC('us', '2012-11-01T22:08:41.1002Z'), DATE_TRUNC('ns', '2012-11-01T22:08:41.1002Z')
=> columns: "" string, "" string
=> ["2012-11-01T22:08:41.100200", "2012-11-01T22:08:41.100200000"]

SELECT DATE_TRUNC('1', CURRENT_TIMESTAMP)
=> error InvalidValueError

SELECT DATE_TRUNC(1, 2)
=> error TypeMismatchError

# --- DATETIMEFROMPARTS (year, month, day, hour, minute, second, millisecond) ----------------------

SELECT DATETIMEFROMPARTS(2012, 11, 1, 22, 8, 41, 100) AS datetime
=> columns: datetime timestamp
=> ["2012-11-01T22:08:41.1Z"]

SELECT DATETIMEFROMPARTS(2023, 2, 29, 1, 1, 1, 1)
=> error InvalidValueError

SELECT DATETIMEFROMPARTS(10000, 1, 1, 1, 1, 1, 1)
=> error InvalidValueError

SELECT DATETIMEFROMPARTS(12, 32, 43, 34, 34, 34)
=> error TypeMismatchError

# --- CURRENT_TIMESTAMP / CURRENT_DATE --------------------------------------------------------------
# The values change; their types and relations do not.

SELECT CURRENT_TIMESTAMP >= '2024-01-01', CURRENT_DATE <= CURRENT_TIMESTAMP, DATETIMEPART('hh', CURRENT_DATE), DATETIMEDIFF('d', CURRENT_DATE, CURRENT_TIMESTAMP)
=> columns: "" bool, "" bool, "" int, "" int
=> [true, true, 0, 0]

# --- string functions (defs_string_functions.go, function-<name>.md) ------------------------------

SELECT REVERSE(REVERSE('this')), SUBSTRING('testing', 1, 3), SUBSTRING('testing', 0), SUBSTRING(REVERSE('testing'), 3), SUBSTRING('abc', 2, 10), SUBSTRING('abc', 5)
=> columns: "" string, "" string, "" string, "" string, "" string, "" string
=> ["this", "est", "testing", "tset", "c", ""]

SELECT SUBSTRING('testing', -10, 14)
=> error ValueOutOfRangeError

SELECT STRINGSPLIT('string,split', ','), STRINGSPLIT('string,split,now', STRINGSPLIT(',mid,', 'mid', 1), 2), STRINGSPLIT('red,blue,green', ',', 1), STRINGSPLIT('a,b', ',', 5)
=> columns: "" string, "" string, "" string, "" string
=> ["string", "now", "blue", ""]

SELECT REPLACEALL('hello database', 'data', 'feature'), REPLACEALL('Buffalo Buffalo buffalo buffalo Buffalo', 'Buffalo', 'Buffalo buffalo'), REPLACEALL(REVERSE('gnitset'), SUBSTRING('testing', 4), UPPER('ed'))
=> columns: "" string, "" string, "" string
=> ["hello featurebase", "Buffalo buffalo Buffalo buffalo buffalo buffalo Buffalo buffalo", "testED"]

SELECT REPLACEALL('ab', 'b')
=> error TypeMismatchError

SELECT REPLACEALL('test', 'e', 1)
=> error TypeMismatchError

SELECT PREFIX('string', 0), PREFIX('string', 3), PREFIX('string', 6), SUFFIX('string', 0), SUFFIX('string', 3), SUFFIX('string', 6)
=> columns: "" string, "" string, "" string, "" string, "" string, "" string
=> ["", "str", "string", "", "ing", "string"]

SELECT PREFIX('string', 7)
=> error ValueOutOfRangeError

SELECT SUFFIX('string', -1)
=> error ValueOutOfRangeError

SELECT PREFIX(1, 'string')
=> error TypeMismatchError

SELECT TRIM('  this  '), LTRIM('  this  '), RTRIM('  this  '), SPACE(0), SPACE(3) || '|', REPLICATE('ab', 3), LOWER('AaBb-_01')
=> columns: "" string, "" string, "" string, "" string, "" string, "" string, "" string
=> ["this", "this  ", "  this", "", "   |", "ababab", "aabb-_01"]

SELECT TRIM('  a ', 'b')
=> error TypeMismatchError

SELECT UPPER(1)
=> error TypeMismatchError

SELECT CHAR(82), ASCII('r'), CHARINDEX('is', 'this is great'), CHARINDEX('is', 'this is great', 3), CHARINDEX('zz', 'this')
=> columns: "" string, "" int, "" int, "" int, "" int
=> ["R", 114, 2, 5, -1]

SELECT CHAR('R')
=> error TypeMismatchError

SELECT ASCII('ab')
=> error InvalidValueError

# function-str.md: rounded to the precision, left-padded to the length (default 10), asterisks
# when it does not fit.
SELECT STR(7.543), STR(7.543, 10, 2), STR(987654.321, 7, 2), STR(42, 4)
=> columns: "" string, "" string, "" string, "" string
=> ["         8", "      7.54", "*******", "  42"]

# function-format.md
SELECT FORMAT('%s -> #%x', 'white', 16777215), FORMAT('%d%% of %v, %b, %o, %f', 50, 'x', true, 8, 1.5)
=> columns: "" string, "" string
=> ["white -> #ffffff", "50% of x, true, 10, 1.500000"]

SELECT FORMAT('id = %d, time = %v, ids = %d, tags = %s', _id, born, codes, tags) FROM people WHERE _id = 1
=> columns: "" string
=> ["id = 1, time = 2000-01-01T00:00:00Z, ids = [1 2], tags = [red blue]"]

SELECT FORMAT('%d', 'x')
=> error TypeMismatchError

SELECT _id, SUBSTRING(name, 1), PREFIX(name, 2), CHARINDEX('n', name), REPLICATE(name, 2), ASCII(PREFIX(name, 1)), LEN(name) FROM people WHERE _id IN (1, 5)
=> columns: _id id, "" string, "" string, "" int, "" string, "" int, "" int
=> [1, "nn", "an", 1, "annann", 97, 3]
=> [5, null, null, null, null, null, null]

# --- set functions in the select list (function-setcontains.md, function-setexcludes.md) -----------
# In the select list a record without members has a NULL set, and the set functions give NULL
# (FeatureBase's defs_set_functions: setcontains(ievent, 101) is null for a record without
# ievent). In WHERE a record without members has the empty set (below).

SELECT _id, SETCONTAINS(tags, 'red'), SETEXCLUDES(tags, 'red'), SETCONTAINSANY(tags, ['green', 'x']), SETCONTAINSALL(tags, ['red', 'blue']) FROM people WHERE _id IN (1, 3, 4)
=> columns: _id id, "" bool, "" bool, "" bool, "" bool
=> [1, true, false, false, true]
=> [3, null, null, null, null]
=> [4, false, true, true, false]

SELECT SETCONTAINS(['POST'], 'POST'), SETCONTAINSANY([101], [101, 7]), SETCONTAINSALL([101], [101, 7])
=> columns: "" bool, "" bool, "" bool
=> [true, true, false]

SELECT SETCONTAINS(tags, 1) FROM people
=> error TypeMismatchError

SELECT SETCONTAINS(codes, 'x') FROM people
=> error TypeMismatchError

SELECT SETCONTAINS(tags, ['x']) FROM people
=> error TypeMismatchError

SELECT SETCONTAINS(tags, NULL) FROM people
=> error TypeMismatchError

SELECT SETCONTAINS(NULL, [1])
=> error TypeMismatchError

SELECT SETCONTAINSANY(tags, [1, 2]) FROM people
=> error TypeMismatchError

SELECT SETCONTAINS(tags, [NULL]) FROM people
=> error TypeMismatchError

SELECT _id FROM people WHERE SETEXCLUDES(tags, 'red')
=> columns: _id id
=> [3]
=> [4]
=> [5]
=> [6]
=> [7]

SELECT _id FROM people WHERE SETEXCLUDES(tags, 'red') AND SETEXCLUDES(tags, 'blue')
=> columns: _id id
=> [3]
=> [4]
=> [6]
=> [7]

# --- CASE (featurebase-features.md §(c): CASE) ------------------------------------------------------

SELECT _id, CASE WHEN age >= 40 THEN 'old' WHEN age < 40 THEN 'young' END AS band FROM people
=> columns: _id id, band string
=> [1, "young"]
=> [2, "old"]
=> [3, "old"]
=> [4, "young"]
=> [5, null]
=> [6, "young"]
=> [7, null]
=> [1048576, "old"]

SELECT _id, CASE team WHEN 10 THEN 'ten' WHEN 20 THEN 'twenty' ELSE 'other' END FROM people WHERE _id IN (1, 3, 6, 7)
=> columns: _id id, "" string
=> [1, "ten"]
=> [3, "twenty"]
=> [6, "other"]
=> [7, "other"]

SELECT CASE WHEN NULL THEN 1 ELSE 2 END, CASE NULL WHEN NULL THEN 1 ELSE 2 END, CASE 1 WHEN 2 THEN 3 END
=> columns: "" int, "" int, "" int
=> [2, 2, null]

SELECT team, CASE WHEN COUNT(*) > 2 THEN 'many' ELSE 'few' END AS n FROM people GROUP BY team
=> columns: team id, n string
=> [10, "many"]
=> [20, "few"]
=> [30, "few"]
=> [null, "few"]

SELECT CASE WHEN 1 = 1 THEN 1 END FROM people WHERE _id = 1 ORDER BY CASE WHEN 1 = 1 THEN 1 END
=> columns: "" int
=> [1]

# CASE and END are reserved words.
SELECT case FROM people
=> error QuerySyntaxError

# --- unary plus --------------------------------------------------------------------------------------

SELECT +age, -+age FROM people WHERE _id = 1
=> columns: "" int, "" int
=> [30, -30]

# EXPLAIN shows a WHERE leaf evaluated record by record ("then per record"), on the records
# the bitmap part of the condition leaves.
EXPLAIN SELECT _id FROM people WHERE age + 1 > 41 AND team = 10
=> columns: plan string
=> ["Project _id"]
=> ["  Scan people [_id] where team[row 10] then per record: age + 1 > 41"]
