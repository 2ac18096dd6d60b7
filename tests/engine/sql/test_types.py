"""The type checker over the full operator × type and CAST matrices, against a table written
here from FeatureBase's planner rules (sql3/planner/expressiontypes.go and
expressionanalyzer.go: typeIsCompatibleWith…Operator, typesAreComparable,
typesCoercedFor…Operator, typesCanBeCast), restated — not computed by engine code.

Every cell runs as SQL over a one-record table with a column of each type, in the select
list (`SELECT a op b`) and, for conditions, in WHERE (`WHERE a op b`): both positions give
the same verdict, the same result type, and a refused cell is a TypeMismatchError.

roarbase's deliberate differences (docs/sql.md, "Differences from FeatureBase") are listed in
EXTENSIONS and checked as such: each is a cell FeatureBase refuses that roarbase accepts.
"""
from __future__ import annotations

from typing import Optional

import pytest

import engine
from engine.errors import TypeMismatchError

TYPES = ["int", "id", "decimal(2)", "string", "bool", "timestamp", "idset", "stringset"]
COLUMN = {"int": "i", "id": "m", "decimal(2)": "d", "string": "s", "bool": "b", "timestamp": "ts",
          "idset": "ids", "stringset": "ss"}

# --- FeatureBase's rules, restated -------------------------------------------------------------------

EQUALITY_OK = {"int", "id", "decimal(2)", "bool", "string", "timestamp", "idset", "stringset"}
ORDERING_OK = {"int", "id", "decimal(2)", "timestamp"}
NUMERIC = {"int", "id", "decimal(2)"}


def comparable(a: str, b: str) -> bool:
    if a in NUMERIC and b in NUMERIC:
        return True
    return a == b and a in ("bool", "timestamp", "idset", "string", "stringset")


def fb_compare(op: str, a: str, b: str) -> Optional[str]:
    ok = EQUALITY_OK if op in ("=", "!=") else ORDERING_OK
    return "bool" if a in ok and b in ok and comparable(a, b) else None


def fb_arith(op: str, a: str, b: str) -> Optional[str]:
    allowed = {"int", "id"} if op == "%" else NUMERIC
    if a not in allowed or b not in allowed:
        return None
    if a == "int":
        return {"int": "int", "id": "int", "decimal(2)": "decimal(2)"}[b]
    if a == "id":
        return {"id": "id", "int": "int"}.get(b)             # ID with DECIMAL: a type mismatch
    return "decimal(2)"                                      # DECIMAL with INT, ID or DECIMAL(2)


def fb_bitwise(a: str, b: str) -> Optional[str]:
    if a not in ("int", "id") or b not in ("int", "id"):
        return None
    return "id" if a == b == "id" else "int"


def fb_concat(a: str, b: str) -> Optional[str]:
    return "string" if a == b == "string" else None


def fb_like(a: str, b: str) -> Optional[str]:
    return "bool" if a == b == "string" else None


def fb_logical(a: str, b: str) -> Optional[str]:
    ok = {"int", "id", "bool"}
    return "bool" if a in ok and b in ok else None


CASTS = {
    "int": {"int", "bool", "decimal(2)", "id", "string", "timestamp"},
    "bool": {"bool", "int", "string"},
    "decimal(2)": {"decimal(2)", "string"},
    "id": {"int", "bool", "decimal(2)", "id"},
    "idset": {"idset", "string"},
    "string": {"int", "bool", "decimal(2)", "id", "string", "timestamp"},
    "stringset": {"stringset", "string"},
    "timestamp": {"int", "timestamp", "string"},
}

OPERATORS = {"=": fb_compare, "!=": fb_compare, "<": fb_compare, "<=": fb_compare, ">": fb_compare,
             ">=": fb_compare, "+": fb_arith, "-": fb_arith, "*": fb_arith, "/": fb_arith, "%": fb_arith,
             "&": lambda op, a, b: fb_bitwise(a, b), "|": lambda op, a, b: fb_bitwise(a, b),
             "<<": lambda op, a, b: fb_bitwise(a, b), ">>": lambda op, a, b: fb_bitwise(a, b),
             "||": lambda op, a, b: fb_concat(a, b), "LIKE": lambda op, a, b: fb_like(a, b),
             "AND": lambda op, a, b: fb_logical(a, b), "OR": lambda op, a, b: fb_logical(a, b)}

# roarbase's differences: (op, left, right) → the result roarbase gives (None: refused).
EXTENSIONS: dict[tuple[str, str, str], Optional[str]] = {}
for _op in "+-*/":
    EXTENSIONS[(_op, "id", "decimal(2)")] = "decimal(2)"     # FeatureBase refuses ID op DECIMAL only
for _a in ("int", "id"):                                       # AND/OR take BOOL only (an integer
    for _b in ("int", "id", "bool"):                           # has no truth value in roarbase)
        EXTENSIONS[("AND", _a, _b)] = EXTENSIONS[("OR", _a, _b)] = None
        EXTENSIONS[("AND", _b, _a)] = EXTENSIONS[("OR", _b, _a)] = None


def expected(op: str, a: str, b: str) -> Optional[str]:
    if (op, a, b) in EXTENSIONS:
        return EXTENSIONS[(op, a, b)]
    return OPERATORS[op](op, a, b)


# --- the table ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tdb(tmp_path_factory):
    db = engine.open(str(tmp_path_factory.mktemp("types") / "d"), fsync=False)
    db.sql("CREATE TABLE t (_id ID, i INT, m ID, d DECIMAL(2), s STRING, b BOOL, ts TIMESTAMP, ids IDSET, "
           "ss STRINGSET, f FLOAT)")
    db.sql("INSERT INTO t VALUES (1, 10, 20, 12.34, 'foo', true, '2012-11-01T22:08:41Z', [101, 102], "
           "['101', '102'], 1.5)")
    yield db
    db.close()


def _verdict(db: engine.Holder, text: str) -> Optional[str]:
    """The result type of the one column, or None when the statement is a type error."""
    try:
        res = db.sql(text)
        res.rows
    except TypeMismatchError:
        return None
    return res.schema[-1][1]


CELLS = [(op, a, b) for op in OPERATORS for a in TYPES for b in TYPES]


@pytest.mark.parametrize("op", list(OPERATORS))
def test_operator_matrix(tdb, op):
    wrong = []
    for a in TYPES:
        for b in TYPES:
            want = expected(op, a, b)
            got = _verdict(tdb, f"SELECT {COLUMN[a]} {op} {COLUMN[b]} FROM t")
            if got != want:
                wrong.append(f"{a} {op} {b}: got {got}, FeatureBase's table says {want}")
            if want == "bool" or got == "bool":
                where = _verdict(tdb, f"SELECT _id FROM t WHERE {COLUMN[a]} {op} {COLUMN[b]}")
                if (where is not None) != (got is not None):
                    wrong.append(f"{a} {op} {b}: the select list says {got}, WHERE says {where}")
    assert not wrong, "\n".join(wrong)


def test_extensions_are_cells_featurebase_refuses_or_accepts_otherwise():
    for (op, a, b), ours in EXTENSIONS.items():
        assert OPERATORS[op](op, a, b) != ours, (op, a, b)


@pytest.mark.parametrize("source", TYPES)
def test_cast_matrix(tdb, source):
    wrong = []
    # a NULL of the source type: only the types decide ('foo' AS INT is a value error)
    value = f"CASE WHEN b THEN NULL ELSE {COLUMN[source]} END"
    for target in TYPES:
        want = target if target in CASTS[source] else None
        got = _verdict(tdb, f"SELECT CAST({value} AS {target.upper()}) FROM t")
        if got != want:
            wrong.append(f"CAST({source} AS {target}): got {got}, FeatureBase's table says {want}")
    assert not wrong, "\n".join(wrong)


def test_cast_to_a_smaller_decimal_scale_is_refused(tdb):
    assert _verdict(tdb, "SELECT CAST(d AS DECIMAL(1)) FROM t") is None
    assert _verdict(tdb, "SELECT CAST(d AS DECIMAL(4)) FROM t") == "decimal(4)"


# Values of the allowed casts (FeatureBase's defs_cast.go, on the same record).
@pytest.mark.parametrize("text, value", [
    ("CAST(i AS BOOL)", True), ("CAST(i AS DECIMAL(2))", "1000"), ("CAST(i AS STRING)", "10"),
    ("CAST(i AS TIMESTAMP)", "1970-01-01T00:00:10+00:00"), ("CAST(b AS INT)", 1), ("CAST(b AS STRING)", "true"),
    ("CAST(d AS STRING)", "12.34"), ("CAST(m AS BOOL)", True), ("CAST(m AS DECIMAL(2))", "2000"),
    ("CAST(ids AS STRING)", "[101 102]"), ("CAST(ss AS STRING)", '["101","102"]'),
    ("CAST('11' AS INT)", 11), ("CAST('true' AS BOOL)", True), ("CAST('12.34' AS DECIMAL(2))", "1234"),
    ("CAST('1970-01-01T00:16:40Z' AS TIMESTAMP)", "1970-01-01T00:16:40+00:00"),
    ("CAST(ts AS INT)", 1351807721), ("CAST(ts AS STRING)", "2012-11-01T22:08:41Z"),
])
def test_cast_values(tdb, text, value):
    (got,) = tdb.sql(f"SELECT {text} FROM t").rows[0]
    if hasattr(got, "isoformat"):
        got = got.isoformat()
    elif hasattr(got, "as_tuple"):
        got = str(got.scaleb(2))
    assert got == value


@pytest.mark.parametrize("text", ["CAST(s AS INT)", "CAST(s AS BOOL)", "CAST(s AS DECIMAL(2))",
                                  "CAST(s AS TIMESTAMP)", "CAST(s AS ID)"])
def test_cast_of_a_value_that_does_not_convert(tdb, text):
    with pytest.raises(TypeMismatchError):
        tdb.sql(f"SELECT {text} FROM t").rows


@pytest.mark.parametrize("text, result", [
    # FeatureBase's defs_binops.go results for a = 10, b = 20 / d = 12.34 / _id = 10, b = 20
    ("i & 20", 0), ("i | 20", 30), ("i << 20", 10485760), ("i >> 20", 0), ("i + d", "22.34"), ("i - d", "-2.34"),
    ("i * d", "123.40"), ("20 / d", "1.62"), ("m / 2", 10), ("m % 3", 2),
])
def test_binop_values(tdb, text, result):
    (got,) = tdb.sql(f"SELECT {text} FROM t").rows[0]
    assert (str(got) if hasattr(got, "as_tuple") else got) == result


def test_float_columns_are_numbers(tdb):
    assert tdb.sql("SELECT f + i, f * d, f > i, CAST(f AS STRING) FROM t").schema == [
        ("", "float"), ("", "float"), ("", "bool"), ("", "string")]
    assert tdb.sql("SELECT f + i, f * 2, f > 1, CAST(f AS STRING) FROM t").rows == [(11.5, 3.0, True, "1.5")]
    assert tdb.sql("SELECT _id FROM t WHERE f > 1.25 AND f BETWEEN 1 AND 2").rows == [(1,)]
    assert _verdict(tdb, "SELECT f || 'x' FROM t") is None
    assert _verdict(tdb, "SELECT f % 2 FROM t") == "float"


LITERALS = {"int": "5", "decimal": "1.5", "string": "'x'", "time": "'2012-11-01T22:08:41Z'", "bool": "true",
            "idset": "[101]", "stringset": "['101']", "null": "NULL"}


@pytest.mark.parametrize("op", ["=", "!=", "<", ">=", "IN", "BETWEEN", "LIKE"])
def test_a_column_against_a_literal_is_typed_alike_in_where_and_the_select_list(tdb, op):
    """WHERE puts column-against-literal conditions on the bitmaps, the select list evaluates
    them per row: the verdict (and the answer) is the same."""
    wrong = []
    for t, col in COLUMN.items():
        for kind, lit in LITERALS.items():
            cond = f"{col} IN ({lit})" if op == "IN" else f"{col} BETWEEN {lit} AND {lit}" if op == "BETWEEN" \
                else f"{col} {op} {lit}"
            select = _verdict(tdb, f"SELECT {cond} FROM t")
            try:
                where = tdb.sql(f"SELECT COUNT(*) FROM t WHERE {cond}").rows[0][0]
            except TypeMismatchError:
                where = None
            if (select is None) != (where is None):
                wrong.append(f"{t} {op} {kind}: select list {select}, WHERE {where}")
            elif select is not None:
                (value,) = tdb.sql(f"SELECT {cond} FROM t").rows[0]
                if (value is True) != (where == 1):
                    wrong.append(f"{t} {op} {kind}: select list {value}, WHERE counts {where}")
    assert not wrong, "\n".join(wrong)
