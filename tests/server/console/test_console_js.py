"""The console's JavaScript modules, run in the browser on many inputs at once and checked
against Python: the exact JSON parser (Python's json with numbers kept as text is the
oracle), the PQL call splitter, the highlighter's tokens, CSV (Python's csv reader), the
time buckets, the Prometheus text parser."""
from __future__ import annotations

import csv
import io
import json
import random
import string

import pytest

EXACT = {"parse_float": str, "parse_int": str}


@pytest.fixture(scope="module")
def tab(browser, console_server):
    """A console page to import the modules in (no sign-in needed)."""
    page = browser.new_page()
    page.goto(console_server.url("/"))
    page.wait_for_selector("#signin-form")
    yield page
    page.close()


def _module_call(tab, module: str, body: str, arg):
    return tab.evaluate(f"async (arg) => {{ const m = await import('/console/{module}'); {body} }}", arg)


def _number(rng: random.Random) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        return str(rng.randrange(-2**53, 2**53))                       # exact as a double
    if kind == 1:
        return str(rng.choice([1, -1]) * rng.randrange(2**53, 2**64))   # beyond 2^53
    if kind == 2:
        scale = rng.randrange(1, 6)
        return f"{rng.randrange(-10**8, 10**8) / 10**scale:.{scale}f}"  # decimal: trailing zeros kept
    if kind == 3:
        return f"{rng.randrange(1, 10)}.{rng.randrange(0, 100):02d}e{rng.choice(['', '+', '-'])}{rng.randrange(0, 30)}"
    if kind == 4:
        return rng.choice(["0", "-0", "0.0", "10.00", "9007199254740993", "18446744073709551615"])
    return str(rng.randrange(0, 1000))


def _string(rng: random.Random) -> str:
    alphabet = string.printable + "é漢\u2028\"\\/\x00\x1f😀"
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))


def _value(rng: random.Random, depth: int = 0) -> str:
    """A JSON text made by hand (so numbers keep the spelling chosen here)."""
    kind = rng.randrange(7 if depth < 4 else 4)
    if kind == 0:
        return _number(rng)
    if kind == 1:
        return json.dumps(_string(rng), ensure_ascii=rng.random() < 0.5)
    if kind == 2:
        return rng.choice(["true", "false", "null"])
    if kind == 3:
        return _number(rng)
    ws = rng.choice(["", " ", "\n  ", "\t"])
    if kind in (4, 5):
        return "[" + ws + ("," + ws).join(_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))) + ws + "]"
    items = [json.dumps(_string(rng)) + ws + ":" + ws + _value(rng, depth + 1) for _ in range(rng.randrange(0, 5))]
    return "{" + ws + ("," + ws).join(items) + ws + "}"


def test_exact_json_round_trips_every_number_as_sent(tab):
    rng = random.Random(18)
    docs = [_value(rng) for _ in range(400)] + [
        '{"data": [[18446744073709551615, 10.00, "2024-03-01T12:34:56Z", -0.05]]}', "  [1e400, -1E-7, 0]  "]
    out = _module_call(tab, "exact-json.js", "return arg.map(t => m.toJSON(m.parseJSON(t)));", docs)
    for doc, back in zip(docs, out):
        assert json.loads(back, **EXACT) == json.loads(doc, **EXACT), doc
    kinds = _module_call(tab, "exact-json.js", """return arg.map(t => { const v = m.parseJSON(t);
        return [typeof v, v instanceof m.Exact, String(v), Number(v) === Number(t)]; });""",
                         ["9007199254740991", "9007199254740992", "18446744073709551615", "10.00", "-0.05", "7"])
    # plain numbers where a double is exact, Exact (the text; Number() for charts) elsewhere
    assert kinds == [["number", False, "9007199254740991", True], ["object", True, "9007199254740992", True],
                     ["object", True, "18446744073709551615", True], ["object", True, "10.00", True],
                     ["object", True, "-0.05", True], ["number", False, "7", True]]


def test_exact_json_refuses_what_json_refuses(tab):
    bad = ["", "[1,]", "{\"a\" 1}", "01", "1.", ".5", "NaN", "[1] x", "\"a\x01\"", "{'a': 1}", "tru", "[", "\"abc"]
    out = _module_call(tab, "exact-json.js", """return arg.map(t => { try { m.parseJSON(t); return 'parsed'; }
        catch (e) { return e instanceof SyntaxError ? 'SyntaxError' : String(e); } });""", bad)
    assert out == ["SyntaxError"] * len(bad)
    def no_constants(name):  # Python alone also reads NaN and Infinity; JSON does not
        raise ValueError(name)

    for text in bad:
        with pytest.raises(ValueError):
            json.loads(text, parse_constant=no_constants)


def test_pql_calls_are_split_at_the_top_level(tab):
    cases = {
        'Count(Row(a="x)y")) TopN(b, n=3)': ['Count(Row(a="x)y"))', "TopN(b, n=3)"],
        "  GroupBy(Rows(a),\n Rows(b))\n\nCount(All())": ["GroupBy(Rows(a),\n Rows(b))", "Count(All())"],
        "Row(s='it\\'s (ok)') # a comment (with parens)\nCount(All())": ["Row(s='it\\'s (ok)')", "Count(All())"],
        "": [],
    }
    out = _module_call(tab, "results.js", "return arg.map(s => m.splitCalls(s));", list(cases))
    assert out == list(cases.values())


def test_highlighter_tokens_cover_the_text_and_classify_it(tab):
    rng = random.Random(7)
    texts = ["".join(rng.choice(string.printable + "é'\"") for _ in range(rng.randrange(0, 60))) for _ in range(200)]
    out = _module_call(tab, "highlight.js", """return arg.map(([t, lang]) => m.tokenize(t, lang));""",
                       [[t, "sql" if i % 2 else "pql"] for i, t in enumerate(texts)])
    for text, tokens in zip(texts, out):
        assert "".join(part for _, part in tokens) == text
    sql = _module_call(tab, "highlight.js", "return m.tokenize(arg, 'sql').filter(t => t[0]);",
                       "SELECT a, 'x''y' FROM t -- note\nWHERE n >= 1.5")
    assert sql == [["keyword", "SELECT"], ["string", "'x''y'"], ["keyword", "FROM"], ["comment", "-- note"],
                   ["keyword", "WHERE"], ["op", ">="], ["number", "1.5"]]
    pql = _module_call(tab, "highlight.js", "return m.tokenize(arg, 'pql').filter(t => t[0]);",
                       'Count(Row(seen >= 2024-01-02, tag="a b", active=true))')
    assert pql == [["call", "Count"], ["call", "Row"], ["op", ">="], ["time", "2024-01-02"], ["arg", "tag"],
                   ["op", "="], ["string", '"a b"'], ["arg", "active"], ["op", "="], ["literal", "true"]]


def test_csv_is_what_a_csv_reader_reads_back(tab):
    rows = [["1", 'say "hi"', "a,b", " padded ", "line\nbreak", None, "18446744073709551615", "é"],
            ["2", "", "x", "y", "z", None, "10.00", "\r"]]
    model = {"title": "t", "columns": [{"name": f"c{i}"} for i in range(8)], "rows": rows}
    text = _module_call(tab, "results.js", """const ex = await import('/console/exact-json.js');
        for (const row of arg.rows) row[6] = new ex.Exact(row[6]);  // numbers as the parser keeps them
        return m.toCsv(arg);""", model)
    assert text.endswith("\r\n")
    back = list(csv.reader(io.StringIO(text, newline="")))
    assert back[0] == [f"c{i}" for i in range(8)]
    assert back[1:] == [[("" if v is None else v) for v in r] for r in rows]


def test_time_buckets_follow_the_calendar_in_utc(tab):
    out = _module_call(tab, "schema.js", """return arg.map(([a, b, unit]) =>
        [m.buckets(new Date(a), new Date(b), unit), m.unitFor(new Date(a), new Date(b), unit ? undefined : 'YMD')]);""",
                       [["2024-01-15T10:00:00Z", "2024-04-02T00:00:00Z", "M"],
                        ["2023-12-31T23:00:00Z", "2024-01-02T01:00:00Z", "D"],
                        ["2024-02-28T22:30:00Z", "2024-02-29T01:00:00Z", "H"],
                        ["2019-06-01T00:00:00Z", "2024-06-01T00:00:00Z", "Y"]])
    assert out[0][0] == ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01"]
    assert out[1][0] == ["2023-12-31", "2024-01-01", "2024-01-02", "2024-01-03"]
    assert out[2][0] == ["2024-02-28T22:00", "2024-02-28T23:00", "2024-02-29T00:00", "2024-02-29T01:00",
                         "2024-02-29T02:00"]
    assert out[3][0] == [f"{y}-01-01" for y in range(2019, 2026)]
    assert [unit for _, unit in out] == ["M", "H", "H", "Y"]
    # a quantum without hours never asks for hour views
    assert _module_call(tab, "schema.js", "return m.unitFor(new Date(arg[0]), new Date(arg[1]), 'YMD');",
                        ["2024-02-28T22:30:00Z", "2024-02-29T01:00:00Z"]) == "D"


def test_prometheus_text_is_grouped_into_families(tab):
    text = """# HELP up Whether it is up.
# TYPE up gauge
up 1
# TYPE rpc_seconds summary
rpc_seconds{quantile="0.5"} 0.2
rpc_seconds_sum 4
rpc_seconds_count 9
# TYPE hits counter
hits_total{route="/a b"} 3
untyped_thing 5 1700000000
garbage line here
"""
    out = _module_call(tab, "server-panel.js", "return m.parseMetrics(arg);", text)
    assert [(f["name"], f["type"], f["help"]) for f in out] == [
        ("up", "gauge", "Whether it is up."), ("rpc_seconds", "summary", ""), ("hits", "counter", ""),
        ("untyped_thing", "untyped", "")]
    assert out[1]["samples"] == [['{quantile="0.5"}', "0.2"], ["_sum", "4"], ["_count", "9"]]
    assert out[2]["samples"] == [['_total{route="/a b"}', "3"]]


def test_axis_ticks_cover_the_largest_value(tab):
    maxima = [0, 1, 7, 10, 21_000, 20_000, 99_999, 0.3, 123_456_789]
    out = _module_call(tab, "charts.js", "return arg.map(v => m.ticks(v));", maxima)
    assert out[0] == [0] and out[4] == [0, 5000, 10000, 15000, 20000, 25000] and out[5][-1] == 20000
    for top, marks in zip(maxima[1:], out[1:]):
        step = marks[1] - marks[0]
        assert marks[0] == 0 and marks[-1] >= top and marks[-1] - step < top and 4 <= len(marks) <= 12, (top, marks)


def test_headline_figures_read_counters_however_their_type_line_names_them(tab):
    # prometheus_client names a counter's family with _total, OpenMetrics without; a metric
    # the server does not expose leaves its figure out
    text = """# TYPE roarbase_queries_total counter
roarbase_queries_total{kind="read",language="sql"} 3
roarbase_queries_total{kind="write",language="sql"} 2
roarbase_queries_total{kind="read",language="pql"} 1250
# TYPE roarbase_http_requests counter
roarbase_http_requests_total{method="GET",route="/v2/queries",status="200"} 4
roarbase_http_requests_total{method="POST",route="/v2/x",status="503"} 1
roarbase_http_requests_created{method="GET",route="/v2/queries",status="200"} 1.7e+09
# TYPE roarbase_query_duration_seconds histogram
roarbase_query_duration_seconds_bucket{language="sql",le="+Inf"} 4
roarbase_query_duration_seconds_sum{language="sql"} 0.01
roarbase_query_duration_seconds_count{language="sql"} 4
# TYPE roarbase_requests_in_progress gauge
roarbase_requests_in_progress 3
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.12459776e+08
"""
    out = _module_call(tab, "server-panel.js", "return m.summarize(m.parseMetrics(arg));", text)
    assert out == [["Queries run", "1,255 (SQL 5, PQL 1,250; 2 writes)"], ["Mean query time", "2.5 ms"],
                   ["HTTP requests", "5 (1 server error)"], ["In progress", "3"],
                   ["Memory (resident)", "107.3 MiB"]]


OPTIONS_DDL = ("CREATE TABLE opts (_id ID, n INT MIN -5 MAX 5, d DECIMAL(2), t TIMESTAMP TIMEUNIT 'ms'"
               " EPOCH '2000-01-01T00:00:00Z', q IDSETQ TIMEQUANTUM 'YMDH' TTL '48h', s STRINGSET, b BOOL, f FLOAT,"
               " r TIMESTAMP)")


def test_fields_and_their_options_are_read_from_show_columns_by_name(tab, console_server):
    """The schema browser reads SHOW COLUMNS' answer by column name and writes each field's
    options as the DDL that made them."""
    srv = console_server
    lab = srv.database_id("lab")
    srv.sql(lab, OPTIONS_DDL)
    try:
        body = json.loads(srv.sql_text(lab, "SHOW COLUMNS FROM opts"))
        out = _module_call(tab, "schema.js", "return m.fieldsOf(arg);", body)
    finally:
        srv.sql(lab, "DROP TABLE opts")
    assert [(f["name"], f["type"], f["kind"], f["options"]) for f in out] == [
        ("n", "int", "int", "min -5 max 5"),
        ("d", "decimal(2)", "decimal", ""),
        ("t", "timestamp", "timestamp", "timeunit 'ms' epoch '2000-01-01T00:00:00Z'"),
        ("q", "idsetq", "time", "timequantum 'YMDH' ttl '2d'"),
        ("s", "stringset", "set", ""),
        ("b", "bool", "bool", ""),
        ("f", "float", "float64", ""),
        ("r", "timestamp", "timestamp", "timeunit 's'"),
    ]
