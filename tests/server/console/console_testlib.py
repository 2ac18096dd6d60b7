"""Helpers for the web console tests (tests/ has no __init__.py: basenames are unique).

`ConsoleServer` is a real server subprocess with the demo database and a second database,
`lab`, holding values JavaScript cannot hold as numbers; `Page` is one browser tab on the
console with the steps a person takes (sign in, run, look) and the checks every test ends
with. `Oracle` computes what the console must show from the demo's generated columns with
numpy — independently of the engine that answers the queries.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import urlparse

import httpx
import numpy as np

import serverlib
from server import console, demo, http_app, http_ops

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts" / "console"
DEMO_RECORDS = demo.DEMO_RECORDS
WAIT_SECONDS = 15.0

# Values a JSON number loses in JavaScript: ids and ints above 2^53, decimals' scale.
BIG_ID = 18446744073709551615          # the largest uint64 record id
ODD_ID = 9007199254740993              # 2^53 + 1: a double rounds it to 2^53
LAB_TABLE = "CREATE TABLE exact (_id ID, amount DECIMAL(2), at TIMESTAMP, n INT, tags STRINGSET, note STRING)"
LAB_ROWS = (f"INSERT INTO exact (_id, amount, at, n, tags, note) VALUES "
            f"(1, -0.05, '1999-12-31T23:59:59Z', -5, ['x'], NULL), "
            f"({ODD_ID}, 10.00, '2024-03-01T12:34:56Z', {ODD_ID}, ['a', 'b,c'], 'say \"hi\"'), "
            f"({BIG_ID}, 0.10, NULL, 1, NULL, 'last')")
# What the console must show for SELECT * FROM exact ORDER BY _id (timestamps in UTC as sent).
LAB_CELLS = [
    ["1", "-0.05", "1999-12-31T23:59:59Z", "-5", "[x]", "NULL"],
    [str(ODD_ID), "10.00", "2024-03-01T12:34:56Z", str(ODD_ID), "[a, b,c]", 'say "hi"'],
    [str(BIG_ID), "0.10", "NULL", "1", "NULL", "last"],
]


def wait_for(what: str, check: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
    """Poll `check` until it returns something truthy (a condition, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _route_patterns() -> list[re.Pattern[str]]:
    paths = [ep.path for ep in (*http_app.ENDPOINTS, *http_ops.OPS_ENDPOINTS)] + list(console.PATHS)
    return [re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(p)) + "$") for p in paths]


DOCUMENTED = _route_patterns()


def documented(path: str) -> bool:
    return any(p.match(path) for p in DOCUMENTED)


class ConsoleServer:
    """The server subprocess and an API client of its own (the test's view, not the
    console's)."""

    def __init__(self, srv: serverlib.ServerProcess, gate: Path, clock: Path) -> None:
        self.srv = srv
        self.gate = gate
        self.clock = clock
        self.http = httpx.Client(base_url=srv.http_url(), timeout=30)
        self.token = self.login()["token"]

    def url(self, path: str = "/") -> str:
        return self.srv.http_url(path)

    @property
    def email(self) -> str:
        return self.srv.root_email

    @property
    def password(self) -> str:
        return self.srv.root_password

    def login(self) -> dict[str, Any]:
        resp = self.http.post("/v2/auth/token", json={"email": self.email, "password": self.password})
        assert resp.status_code == 200, resp.text
        return resp.json()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def database_id(self, name: str) -> str:
        dbs = self.http.get("/v2/databases", headers=self.headers, params={"limit": 64}).json()["resources"]
        return next(d["id"] for d in dbs if d["name"] == name)

    def sql_text(self, database_id: str, text: str) -> str:
        """The SQL answer's JSON text, as sent."""
        resp = self.http.post(f"/v2/databases/{database_id}/query/sql", content=text,
                              headers={**self.headers, "Content-Type": "text/plain",
                                       "Accept": "application/problem+json"})
        assert resp.status_code == 200, resp.text
        return resp.text

    def sql(self, database_id: str, text: str) -> dict[str, Any]:
        return json.loads(self.sql_text(database_id, text))

    def seed(self) -> None:
        resp = self.http.post("/v2/databases", headers=self.headers, json={"name": "lab"})
        assert resp.status_code == 201, resp.text
        self.sql(resp.json()["id"], LAB_TABLE)
        self.sql(resp.json()["id"], LAB_ROWS)

    def recent_queries(self) -> list[dict[str, Any]]:
        resp = self.http.get("/v2/queries", headers=self.headers, params={"limit": 64})
        assert resp.status_code == 200, resp.text
        return resp.json()["resources"]

    def move_clock(self, seconds: float) -> None:
        """Every later clock reading of the server is `seconds` ahead of real time."""
        self.clock.write_text(str(seconds))

    def close(self) -> None:
        self.http.close()


@dataclass
class Page:
    """One tab on the console."""

    page: Any
    server: ConsoleServer
    requests: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("request", lambda r: self.requests.append((r.method, r.url)))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("console", self._console)
        self.page.add_init_script(
            "document.addEventListener('securitypolicyviolation',"
            " (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));")

    def _console(self, message: Any) -> None:
        # A fetch answered 4xx is logged by Chromium as "Failed to load resource"; the
        # console handles those on purpose (wrong password, expired token, /metrics refused).
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console error: {message.text}")

    def open(self) -> "Page":
        self.page.goto(self.server.url("/"))
        self.page.wait_for_selector("#signin-form")
        return self

    def sign_in(self, user: Optional[str] = None, password: Optional[str] = None) -> "Page":
        self.open()
        self.page.fill("#signin-user", user or self.server.email)
        self.page.fill("#signin-password", password or self.server.password)
        self.page.click("#signin-submit")
        if password is None:
            self.page.wait_for_selector("#console-view:not([hidden])")
            self.page.wait_for_selector("details.table")
        return self

    def runs(self) -> int:
        """How many query runs the console has finished (#result's data-runs)."""
        return int(self.page.eval_on_selector("#result", "e => e.dataset.runs || '0'"))

    def wait_run(self, before: int) -> None:
        """Wait for the run after `before` finished runs to finish; it must have succeeded."""
        self.page.wait_for_function(f"() => Number(document.querySelector('#result').dataset.runs || 0) > {before}")
        error = self.page.eval_on_selector("#result-error", "e => e.hidden ? '' : e.textContent")
        assert not error, f"the query failed in the console: {error}"

    def run(self, text: str, language: str = "sql", table: Optional[str] = None, *, view: str = "table") -> None:
        """Type a query, run it with the Run button, wait for its answer, show a view."""
        p = self.page
        p.check(f"#lang-{language}")
        if table is not None:
            p.select_option("#pql-table", table)
        p.fill("#editor-input", text)
        before = self.runs()
        p.click("#run")
        self.wait_run(before)
        p.click(f"#view-{view}")

    def cells(self) -> list[list[str]]:
        return self.page.eval_on_selector_all(
            "#result-grid tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")

    def headers(self) -> list[str]:
        return self.page.eval_on_selector_all("#result-grid thead th", "ths => ths.map(t => t.textContent)")

    def count(self, selector: str) -> int:
        return int(self.page.eval_on_selector_all(selector, "els => els.length"))

    def screenshot(self, name: str, *, full_page: bool = False) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def assert_clean(self) -> None:
        undocumented = [(m, u) for m, u in self.requests if not documented(urlparse(u).path)]
        assert not undocumented, f"the console called routes that are not documented: {undocumented}"
        foreign = [u for _, u in self.requests if not u.startswith(self.server.url("/"))]
        assert not foreign, f"the console reached beyond its server: {foreign}"
        assert not self.problems, self.problems


class Oracle:
    """What the demo holds, from its generated columns (numpy), not from the engine."""

    def __init__(self, records: int = DEMO_RECORDS) -> None:
        self.cols = demo._generate(records, demo.SEED)

    @staticmethod
    def _counts(values: np.ndarray) -> list[tuple[str, int]]:
        keys, counts = np.unique(values, return_counts=True)
        # highest count first; ties by key (TopN's order for keyed fields)
        return sorted(((str(k), int(c)) for k, c in zip(keys, counts)), key=lambda kc: (-kc[1], kc[0]))

    @cached_property
    def regions(self) -> list[tuple[str, int]]:
        return self._counts(self.cols["region"])

    @cached_property
    def hobbies(self) -> list[tuple[str, int]]:
        """Records per hobby (a record drawn the same hobby twice holds it once)."""
        ids, names = self.cols["hobbies"]
        pairs = np.unique(np.rec.fromarrays([ids, names]))
        return self._counts(pairs["f1"])

    @cached_property
    def education(self) -> list[tuple[str, int]]:
        return self._counts(self.cols["education"])

    def distinct(self, name: str) -> int:
        values = self.cols[name]
        return len(np.unique(values[1] if isinstance(values, tuple) else values))

    @cached_property
    def education_by_active(self) -> dict[tuple[str, bool], int]:
        pairs = zip(self.cols["education"].tolist(), self.cols["active"].tolist())
        out: dict[tuple[str, bool], int] = {}
        for pair in pairs:
            out[pair] = out.get(pair, 0) + 1
        return out

    def events_per_month(self, year: int = 2024) -> list[int]:
        """Records with at least one event in each month of the year (UnionRows semantics)."""
        ids, _, times = self.cols["events"]
        months = times.astype("datetime64[M]")
        return [len(np.unique(ids[months == np.datetime64(f"{year}-{m:02d}")])) for m in range(1, 13)]
