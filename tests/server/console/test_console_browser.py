"""The web console in a real browser (Debian's Chromium through Playwright) against a real
server on loopback, as a person uses it: sign in (and fail to), browse the schema, run SQL
and PQL, read the table and the charts, page, export CSV, cancel a query held in the
engine, outlive an expired token, sign out, watch the server panel — at a desktop's and a
phone's width, by keyboard, with labels, contrast and a Content-Security-Policy that holds.

Expected values come from the demo's generated columns (numpy, console_testlib.Oracle) or
from the test's own API client, never from the page itself. Screenshots land in
test-artifacts/console/.
"""
from __future__ import annotations

import csv
import io
import json
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

import console_testlib as lib
from console_testlib import Oracle, wait_for
from server import console


@pytest.fixture(scope="module")
def oracle() -> Oracle:
    return Oracle()


def _bars(page: lib.Page) -> list[str]:
    return page.page.eval_on_selector_all("#result-chart rect.bar title", "ts => ts.map(t => t.textContent)")


def test_wrong_password_is_refused_then_signing_in_works(page, console_server):
    p = page.page
    page.sign_in(password="not-the-password")
    p.wait_for_selector("#signin-error:not([hidden])")
    assert "do not match" in p.text_content("#signin-error")
    assert p.is_hidden("#console-view") and p.input_value("#signin-password") == ""

    page.sign_in()
    assert p.text_content("#who") == f"{console_server.email} (root)"
    assert p.is_hidden("#signin-error")
    # the session is in memory only: no cookie, nothing in localStorage
    assert p.evaluate("() => [document.cookie, localStorage.length]") == ["", 0]
    options = p.eval_on_selector_all("#database option", "os => os.map(o => o.textContent)")
    assert options == ["demo", "lab"]
    assert p.eval_on_selector("#database", "s => s.options[s.selectedIndex].text") == "demo"


def test_schema_browser_shows_fields_counts_and_cardinality(page, oracle):
    p = page.sign_in().page
    p.click("details[data-table='seg'] summary")
    p.wait_for_selector("details[data-table='seg'] .fields-table")
    assert p.text_content("details[data-table='seg'] .count") == f"{lib.DEMO_RECORDS:,} records"
    rows = {r[0]: r[1:] for r in p.eval_on_selector_all(
        "details[data-table='seg'] tbody tr",
        "rows => rows.map(r => [r.dataset.field, r.querySelector('.type').textContent, r.cells[1].textContent,"
        " r.querySelector('.options') ? r.querySelector('.options').textContent : ''])")}
    assert list(rows) == ["hobbies", "education", "region", "active", "age", "income", "last_seen", "events"]
    assert {name: rows[name][0] for name in rows} == {
        "hobbies": "stringset", "education": "string", "region": "string", "active": "bool", "age": "int",
        "income": "int", "last_seen": "timestamp", "events": "stringsetq"}
    for name in ("hobbies", "education", "region", "active", "events"):
        assert rows[name][1] == f"{oracle.distinct(name):,}", name
    assert rows["age"][1] == "" and rows["age"][2] == "min 0 max 150"
    assert rows["events"][2] == "timequantum 'YMD'"
    page.screenshot("schema")


def test_sql_query_as_table_bar_chart_and_csv(page, oracle):
    p = page.sign_in().page
    page.run("SELECT region, COUNT(*) AS records FROM seg GROUP BY region ORDER BY records DESC")
    assert page.headers() == ["region", "records"]
    cells = page.cells()
    assert {r: int(n) for r, n in cells} == dict(oracle.regions)
    assert [int(n) for _, n in cells] == sorted((n for _, n in oracle.regions), reverse=True)
    assert re.fullmatch(r"20 rows · [\d.]+ m?s \(server [\d.]+ m?s\)", p.text_content("#result-meta"))

    p.click("#view-chart")
    assert page.count("#result-chart svg rect.bar") == 20
    assert _bars(page)[0] == f"{oracle.regions[0][0]}: {oracle.regions[0][1]:,}"
    assert p.get_attribute("#result-chart svg", "role") == "img"
    page.screenshot("sql-bars")

    with p.expect_download() as download:
        p.click("#export")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["region", "records"] and [[r, int(n)] for r, n in rows[1:]] == [[r, int(n)] for r, n in cells]

    # a statement that fails says why, with the error code, and leaves no stale result
    before = page.runs()
    p.fill("#editor-input", "SELEC region FROM seg")
    p.click("#run")
    p.wait_for_function(f"() => Number(document.querySelector('#result').dataset.runs) > {before}")
    error = p.text_content("#result-error")
    assert "line 1, column 1" in error and "— BadRequest, request " in error
    assert p.is_hidden("#result-table") and p.is_hidden("#result-chart") and p.is_hidden("#export")


def test_pql_topn_groupby_and_counts_over_time(page, oracle):
    p = page.sign_in().page
    p.click("details[data-table='seg'] summary")
    p.wait_for_selector("details[data-table='seg'] .fields-table")
    page.run("TopN(hobbies, n=10)", "pql", "seg", view="chart")
    assert _bars(page) == [f"{k}: {n:,}" for k, n in oracle.hobbies[:10]]
    page.screenshot("console")          # the README's picture (docs/console.png)

    page.run("TopN(education, n=5)", "pql", "seg", view="chart")
    assert page.count("#result-chart svg rect.bar") == 5
    assert _bars(page) == [f"{k}: {n:,}" for k, n in oracle.education[:5]]
    p.click("#view-table")
    assert page.cells() == [[k, str(n)] for k, n in oracle.education[:5]]

    # a two-field GroupBy is a heat map: one cell per group
    page.run("GroupBy(Rows(education), Rows(active))", "pql", "seg", view="chart")
    groups = oracle.education_by_active
    assert page.count("#result-chart svg rect.cell") == len(groups) == 16
    titles = p.eval_on_selector_all("#result-chart rect.cell title", "ts => ts.map(t => t.textContent)")
    assert f"bachelor · true: {groups[('bachelor', True)]:,}" in titles
    page.screenshot("groupby-heatmap")

    # a time field's records per month, written and run by the schema browser
    before = page.runs()
    p.click("tr[data-field='events'] button:has-text('Over time')")
    page.wait_run(before)
    assert page.count("#result-chart circle.point") == 12
    assert p.input_value("#editor-input").splitlines()[0] == \
        "Count(UnionRows(Rows(events, from=2024-01-01, to=2024-02-01)))"
    p.click("#view-table")
    assert [int(r[1]) for r in page.cells()] == oracle.events_per_month()
    p.click("#view-chart")
    page.screenshot("time-series")

    # a timestamp field the same way, by range
    before = page.runs()
    p.click("tr[data-field='last_seen'] button:has-text('Over time')")
    page.wait_run(before)
    assert p.input_value("#editor-input").startswith("Count(Row(2024-01-01 <= last_seen < 2024-02-01))")
    assert page.count("#result-chart svg.chart-line circle.point") == 12
    p.click("#view-table")
    months = oracle.cols["last_seen"].astype("datetime64[M]")
    assert [int(r[1]) for r in page.cells()] == [int((months == m).sum()) for m in sorted(set(months))]


def test_ids_decimals_and_times_are_exact_in_table_json_and_csv(page, console_server):
    p = page.sign_in().page
    p.select_option("#database", label="lab")
    p.wait_for_selector("details[data-table='exact']")
    page.run("SELECT * FROM exact ORDER BY _id")
    # the browser runs in New York time; the console shows the UTC times the server sent
    assert p.evaluate("() => new Date(0).getTimezoneOffset()") == 300
    assert page.cells() == lib.LAB_CELLS
    assert p.eval_on_selector("#result-grid tbody tr:nth-child(2) td:nth-child(2)", "e => e.className") == "num"

    p.click("#view-json")
    shown = p.text_content("#result-json-text")
    assert f'[\n      {lib.BIG_ID},\n      0.10,' in shown and "10.00" in shown
    # every number in the JSON view is the server's text, digit for digit
    sent = console_server.sql_text(console_server.database_id("lab"), "SELECT * FROM exact ORDER BY _id")
    exact = {"parse_float": str, "parse_int": str}
    shown_doc, sent_doc = json.loads(shown, **exact), json.loads(sent, **exact)
    assert shown_doc["data"] == sent_doc["data"] and shown_doc["schema"] == sent_doc["schema"]

    with p.expect_download() as download:
        p.click("#export")
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert rows[0] == ["_id", "amount", "at", "n", "tags", "note"]
    assert rows[1:] == [[("" if c == "NULL" else c) for c in r] for r in lib.LAB_CELLS]

    page.run("Row(n > 0)", "pql", "exact")
    assert page.cells() == [[str(lib.ODD_ID)], [str(lib.BIG_ID)]]


def test_results_are_paged(page, oracle):
    p = page.sign_in().page
    page.run("SELECT _id, age FROM seg WHERE _id < 120 ORDER BY _id")
    ages = oracle.cols["age"]
    assert page.cells() == [[str(i), str(ages[i])] for i in range(50)]
    assert p.text_content("#page-info") == "Rows 1–50 of 120 · page 1 of 3"
    assert p.is_disabled("#page-prev")
    p.click("#page-next")
    p.click("#page-next")
    assert page.cells() == [[str(i), str(ages[i])] for i in range(100, 120)]
    assert p.text_content("#page-info") == "Rows 101–120 of 120 · page 3 of 3"
    assert p.is_disabled("#page-next")
    p.click("#page-prev")
    assert page.cells()[0] == ["50", str(ages[50])]


def test_cancel_a_query_held_in_the_engine(page, console_server):
    srv = console_server
    p = page.sign_in().page
    statement = "Count(All()) Count(Row(active=true))"
    entered = srv.gate.with_name(srv.gate.name + ".entered")
    entered.unlink(missing_ok=True)
    srv.gate.touch()   # every shard now waits: until the query is cancelled (or the gate goes)
    try:
        p.check("#lang-pql")
        p.select_option("#pql-table", "seg")
        p.fill("#editor-input", statement)
        p.click("#run")
        wait_for("the query to reach the engine", entered.exists)
        assert p.is_disabled("#run") and p.is_enabled("#cancel")
        held = [q for q in srv.recent_queries() if q["statement"] == statement]
        assert len(held) == 1 and held[0]["status"] == "running" and held[0]["duration_ms"] is None
        page.screenshot("running")

        p.click("#cancel")
        p.wait_for_selector("#result-error:not([hidden])")
        assert p.text_content("#result-error").startswith("Cancelled after ")
        assert p.is_enabled("#run") and p.is_disabled("#cancel")
        # the browser went away mid-request; the server stopped the query between shards
        done = wait_for("the server to stop the query", lambda: [
            q for q in srv.recent_queries() if q["statement"] == statement and q["status"] != "running"])
        assert done[0]["status"] == "cancelled" and done[0]["duration_ms"] > 0
    finally:
        srv.gate.unlink(missing_ok=True)

    p.click("#tab-server")
    p.wait_for_selector("#server-query-table")
    row = p.eval_on_selector_all(
        "#server-query-table tbody tr",
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    mine = [r for r in row if r[3] == statement]
    assert mine and mine[0][1] == "demo" and mine[0][2] == "PQL · seg" and mine[0][5] == "cancelled"
    assert not mine[0][4].endswith("so far")


def test_an_expired_token_is_renewed_then_an_expired_session_ends(page, console_server):
    srv = console_server
    p = page.sign_in().page
    try:
        srv.move_clock(3600)   # the access token (15 min) has expired, the refresh token (30 days) not
        page.run("SELECT COUNT(*) FROM seg")
        assert page.cells() == [[str(lib.DEMO_RECORDS)]]
        assert sum(u.endswith("/v2/auth/refresh") for _, u in page.requests) == 1

        srv.move_clock(31 * 86400)  # and now the refresh token too
        p.fill("#editor-input", "SELECT COUNT(*) FROM seg WHERE active = true")
        p.click("#run")
        p.wait_for_selector("#signin-view:not([hidden])")
        assert p.text_content("#signin-error") == "Your session has expired. Sign in again."
        assert p.is_hidden("#console-view") and p.is_hidden("#session")
        assert p.eval_on_selector("#result-table", "e => e.childElementCount") == 0   # no data left behind
    finally:
        srv.move_clock(0)
    page.sign_in()
    page.run("SELECT COUNT(*) FROM seg WHERE active = true")
    assert int(page.cells()[0][0]) > 0


def test_sign_out_revokes_the_session_and_forgets_history(page, console_server):
    p = page.sign_in().page
    page.run("SELECT COUNT(*) FROM seg")
    assert p.evaluate("() => Object.keys(sessionStorage).some(k => k.startsWith('roarbase.history.'))")
    with p.expect_request(lambda r: r.url.endswith("/v2/auth/logout")) as logout:
        p.click("#signout")
    p.wait_for_selector("#signin-view:not([hidden])")
    assert p.is_hidden("#console-view") and p.is_hidden("#session") and p.is_hidden("#signin-error")
    assert not p.evaluate("() => Object.keys(sessionStorage).some(k => k.startsWith('roarbase.history.'))")
    refresh_token = json.loads(logout.value.post_data)["refresh_token"]
    resp = console_server.http.post("/v2/auth/refresh", json={"refresh_token": refresh_token})
    assert resp.status_code == 401 and resp.json()["code"] == "RefreshTokenExpired"


def test_history_recalls_earlier_queries(page):
    p = page.sign_in().page
    page.run("SELECT COUNT(*) FROM seg WHERE age > 60")
    page.run("TopN(region, n=3)", "pql", "seg")
    p.click("#history summary")
    items = p.eval_on_selector_all("#history-list .history-item", "bs => bs.map(b => b.textContent)")
    assert items == ["PQL TopN(region, n=3)", "SQL SELECT COUNT(*) FROM seg WHERE age > 60"]
    p.click("#history-list li:nth-child(2) .history-item")
    assert p.input_value("#editor-input") == "SELECT COUNT(*) FROM seg WHERE age > 60"
    assert p.is_checked("#lang-sql")
    p.focus("#editor-input")
    p.keyboard.press("Alt+ArrowUp")
    assert p.input_value("#editor-input") == "TopN(region, n=3)" and p.is_checked("#lang-pql")


def _figures_from(text: str) -> dict[str, str]:
    """The panel's headline figures, computed from the same Prometheus text by
    prometheus_client's parser (not the console's)."""
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))

    def total(name: str, **want: str) -> int:
        return int(sum(v for labels, v in samples[name] if all(labels.get(k) == x for k, x in want.items())))

    queries = "roarbase_queries_total"
    out = {"Queries run": f"{total(queries):,} (SQL {total(queries, language='sql'):,},"
                          f" PQL {total(queries, language='pql'):,}; {total(queries, kind='write'):,} writes)"}
    failed = sum(int(v) for labels, v in samples["roarbase_http_requests_total"] if labels["status"].startswith("5"))
    out["HTTP requests"] = (f"{total('roarbase_http_requests_total'):,}"
                            f" ({failed:,} server error{'' if failed == 1 else 's'})")
    if "roarbase_grpc_calls_total" in samples:
        out["gRPC calls"] = f"{total('roarbase_grpc_calls_total'):,}"
    out["In progress"] = (f"{total('roarbase_requests_in_progress'):,} of "
                          f"{total('roarbase_admission_capacity'):,} admitted")
    out["Open databases"] = f"{total('roarbase_open_databases'):,}"
    out["Records written"] = f"{total('roarbase_ingest_rows_total'):,}"
    for name, metric in (("Refused by limits", "roarbase_rate_limited_requests_total"),
                         ("Failed sign-ins", "roarbase_auth_failures_total")):
        if metric in samples:
            out[name] = f"{total(metric):,}"
    # JavaScript's toFixed rounds a tie up (x.25 MiB is common: RSS counts 4 KiB pages)
    mib = Decimal(samples["process_resident_memory_bytes"][0][1] / 1048576).quantize(Decimal("0.1"), ROUND_HALF_UP)
    out["Memory (resident)"] = f"{mib} MiB"
    return out


def test_server_panel_shows_status_databases_queries_and_metrics(page, console_server):
    srv = console_server
    p = page.sign_in().page
    page.run("SELECT COUNT(*) FROM seg WHERE age > 40")
    # keep the exact /metrics text the panel was given, to compute its figures independently
    scraped: list[str] = []

    def keep(route):
        answer = route.fetch()
        scraped.append(answer.text())
        route.fulfill(response=answer)

    p.route("**/metrics", keep)
    p.click("#tab-server")
    for table in ("#server-db-table", "#server-query-table", "#server-figures", "#server-status .status-line"):
        p.wait_for_selector(table, state="attached")
    dbs = p.eval_on_selector_all("#server-db-table tbody tr", "rows => rows.map(r => [r.cells[0].textContent,"
                                 " r.cells[1].textContent, r.cells[2].textContent])")
    assert dbs == [["demo", "RUNNING", srv.database_id("demo")], ["lab", "RUNNING", srv.database_id("lab")]]
    first = p.eval_on_selector("#server-query-table tbody tr", "r => [...r.cells].map(c => c.textContent)")
    assert first[1:4] == ["demo", "SQL", "SELECT COUNT(*) FROM seg WHERE age > 40"] and first[5] == "ok"
    assert re.fullmatch(r"[\d.]+ m?s", first[4])

    # status: /ready and /version as the server answers them to the test's own client
    ready, version = srv.http.get("/ready").json(), srv.http.get("/version").json()["version"]
    assert ready["open_databases"] == 2
    assert p.text_content("#server-status") == f"ready 2 databases open · roarbase {version}"

    # the headline figures, from the Prometheus text the panel read
    assert len(scraped) == 1
    shown = dict(p.eval_on_selector_all("#server-figures > div", "ds => ds.map(d => [d.querySelector('dt')"
                                        ".textContent, d.querySelector('dd').textContent])"))
    expected = _figures_from(scraped[0])
    mean = shown.pop("Mean query time")
    assert shown == expected, (shown, expected, scraped[0])
    assert int(expected["Queries run"].split()[0].replace(",", "")) >= 2           # this test's query, SHOW TABLES
    families = {f.name: f for f in text_string_to_metric_families(scraped[0])}
    seconds = sum(s.value for s in families["roarbase_query_duration_seconds"].samples if s.name.endswith("_sum"))
    count = sum(s.value for s in families["roarbase_query_duration_seconds"].samples if s.name.endswith("_count"))
    value, unit = re.fullmatch(r"([\d.]+) (m?s)", mean).groups()
    scale = 1 if unit == "ms" else 1000
    half_digit = 0.5 * 10 ** -len(value.partition(".")[2]) * scale     # what rounding to the shown digits allows
    assert abs(float(value) * scale - seconds / count * 1000) <= half_digit + 1e-9, (mean, seconds / count)
    # and every family in the table behind "All metrics"
    listed = p.eval_on_selector_all("#server-metrics-table tbody tr td:first-child .mono",
                                    "es => es.map(e => e.textContent)")
    assert len(listed) == sum(1 for f in families.values() if f.samples)
    assert {"roarbase_queries_total", "roarbase_query_duration_seconds", "roarbase_open_databases"} <= set(listed)
    p.click("#server-metrics-all summary")
    p.wait_for_selector("#server-metrics-table", state="visible")
    assert p.evaluate(LOW_CONTRAST) == [] and p.evaluate(UNLABELLED) == []
    page.screenshot("server-panel")


def test_server_panel_while_starting_and_without_metrics_access(page):
    """A server still opening its databases (/ready 503 NOT_READY) and an account that may
    not read /metrics from afar (403): the panel says so instead of failing."""
    p = page.sign_in().page
    envelope = {"code": "ServiceUnavailable", "message": "the server is still opening its databases",
                "error_data": {"name": "NOT_READY"}}
    p.route("**/ready", lambda route: route.fulfill(status=503, body=json.dumps(envelope),
                                                    content_type="application/json"))
    refused = {"code": "PermissionDenied", "message": "/metrics needs a root or manager token from a non-loopback"
               " address", "error_data": {"name": "METRICS_FORBIDDEN"}}
    p.route("**/metrics", lambda route: route.fulfill(status=403, body=json.dumps(refused),
                                                      content_type="application/json"))
    p.click("#tab-server")
    p.wait_for_selector("#server-status .badge.warn")
    assert p.text_content("#server-status").startswith("starting the server is still opening its databases · ")
    p.wait_for_selector("#server-metrics .note")
    assert "root and manager accounts" in p.text_content("#server-metrics")
    assert page.count("#server-figures") == 0


def test_layout_at_desktop_and_phone_width(page):
    p = page.sign_in().page
    page.run("SELECT education, COUNT(*) FROM seg GROUP BY education", view="chart")
    schema, bench = p.locator("aside.schema").bounding_box(), p.locator("section.workbench").bounding_box()
    assert schema["x"] + schema["width"] <= bench["x"]            # side by side at 1280x800
    assert p.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")

    p.set_viewport_size({"width": 390, "height": 844})
    schema, bench = p.locator("aside.schema").bounding_box(), p.locator("section.workbench").bounding_box()
    assert schema["y"] + schema["height"] <= bench["y"]           # stacked on a phone
    assert p.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    for button in ("#run", "#cancel", "#signout", "#export"):
        box = p.locator(button).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, button
    # the chart is drawn again at the phone's width, so its text keeps its size
    p.wait_for_function("() => { const s = document.querySelector('#result-chart svg');"
                        " return s && Math.abs(s.viewBox.baseVal.width - s.parentElement.clientWidth) <= 1; }")
    assert page.count("#result-chart svg rect.bar") == 8
    label = p.eval_on_selector("#result-chart svg text.label", "t => t.getBoundingClientRect().height")
    assert label >= 12, label      # 12px text, not a desktop drawing shrunk to a third
    page.screenshot("phone", full_page=True)
    # the server panel too: its wide tables scroll inside their cards, never the page
    p.click("#tab-server")
    for selector in ("#server-query-table", "#server-figures", "#server-status .status-line"):
        p.wait_for_selector(selector, state="attached")
    assert p.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot("phone-server", full_page=True)


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter(e => e.getClientRects().length && e.type !== 'hidden')
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby')
               && !(e.tagName === 'BUTTON' && e.textContent.trim()))
  .map(e => e.outerHTML.slice(0, 80))"""

# Text contrast (WCAG 2.1 AA): every visible HTML text against the first opaque background
# behind it; disabled controls are exempt. SVG labels are checked separately.
LOW_CONTRAST = """() => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || el.closest('svg') || el.closest('[hidden]') || !el.getClientRects().length) continue;
    if (el.closest(':disabled') || el.closest('.visually-hidden') || el.closest('textarea')) continue;
    const style = getComputedStyle(el);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const r = ratio(rgb(style.color).slice(0, 3), background(el));
    if (r < (large ? 3 : 4.5)) bad.push(`${r.toFixed(2)} ${el.tagName}.${el.className}: ${node.textContent.trim().slice(0, 30)}`);
  }
  return bad;
}"""


def test_keyboard_labels_and_contrast(page, console_server):
    p = page.open().page
    assert p.evaluate("() => document.activeElement.id") == "signin-user"
    assert p.evaluate(LOW_CONTRAST) == []
    # keyboard only: type, Tab, type, Enter
    p.keyboard.type(console_server.email)
    p.keyboard.press("Tab")
    p.keyboard.type(console_server.password)
    p.keyboard.press("Enter")
    p.wait_for_selector("details.table")
    assert p.evaluate("() => document.activeElement.id") == "editor-input"
    p.keyboard.press("Control+A")
    p.keyboard.type("SELECT education, active, COUNT(*) FROM seg GROUP BY education, active")
    before = page.runs()
    p.keyboard.press("Control+Enter")
    page.wait_run(before)
    assert page.count("#result-grid tbody tr") == 16
    # the result views are tabs: arrow keys move between them
    p.focus("#view-table")
    p.keyboard.press("ArrowRight")
    assert p.evaluate("() => document.activeElement.id") == "view-chart"
    assert p.get_attribute("#view-chart", "aria-selected") == "true" and p.is_visible("#result-chart svg")
    assert page.count("#result-chart svg rect.cell") == 16        # two label columns and a count: a heat map
    # a table of the schema opens from the keyboard
    p.focus("details[data-table='seg'] summary")
    p.keyboard.press("Enter")
    p.wait_for_selector("details[data-table='seg'] .fields-table")

    assert p.evaluate(UNLABELLED) == []
    assert p.evaluate("() => [...document.images].filter(i => !i.hasAttribute('alt')).length") == 0
    assert p.evaluate(LOW_CONTRAST) == []
    # the heat map's value labels against their cells
    pairs = p.eval_on_selector_all("#result-chart g:has(> text.cell-text)", """gs => gs.map(g => [
        getComputedStyle(g.querySelector('text')).fill, g.querySelector('rect').getAttribute('fill')])""")
    assert pairs and all(_contrast(fill, cell) >= 4.5 for fill, cell in pairs), pairs
    page.screenshot("keyboard")


def _contrast(a: str, b: str) -> float:
    def rgb(c: str) -> list[float]:
        return [int(c[i:i + 2], 16) for i in (1, 3, 5)] if c.startswith("#") else \
            [float(v) for v in re.findall(r"[\d.]+", c)[:3]]

    def lum(c: list[float]) -> float:
        lin = [v / 255 / 12.92 if v / 255 <= 0.03928 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((lum(rgb(a)), lum(rgb(b))), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# Runs as a script of the page's own origin (served by the test through Playwright's
# routing), so the policy applies to it as to the console's own code.
PROBE = "try { eval('1 + 1'); window.__eval = 'ran'; } catch (e) { window.__eval = e.name; }"

VIOLATIONS = """() => new Promise((resolve) => {
  const seen = [];
  const done = () => resolve({ seen, evalResult: window.__eval, inline: window.__inline === 1 });
  document.addEventListener('securitypolicyviolation', (e) => {
    seen.push(e.effectiveDirective);
    if (seen.length === 4) done();
  });
  const probe = document.createElement('script');
  probe.src = '/console/csp-probe.js';
  document.body.append(probe);
  const script = document.createElement('script');
  script.textContent = 'window.__inline = 1';
  document.body.append(script);
  const img = new Image();
  img.src = 'http://127.0.0.2:9/x.png';
  document.body.append(img);
  fetch('http://127.0.0.2:9/x').catch(() => {});
  setTimeout(done, 10000);
})"""


def test_content_security_policy_is_sent_and_enforced(page, console_server):
    resp = console_server.http.get("/", headers={"Accept": "text/html"})
    assert resp.headers["content-security-policy"] == console.CSP
    assert resp.headers["x-content-type-options"] == "nosniff" and resp.headers["x-frame-options"] == "DENY"
    p = page.open().page
    p.route("**/console/csp-probe.js", lambda route: route.fulfill(status=200, body=PROBE,
                                                                   content_type="text/javascript"))
    try:
        result = p.evaluate(VIOLATIONS)
        # eval refused, the inline script never ran, nothing loaded from another origin
        assert result["evalResult"] == "EvalError" and result["inline"] is False
        assert set(result["seen"]) == {"connect-src", "img-src", "script-src", "script-src-elem"}, result
    finally:
        # these violations and blocked requests were the point: not failures of the page
        page.problems.clear()
        page.requests[:] = [r for r in page.requests if "127.0.0.2" not in r[1]]
