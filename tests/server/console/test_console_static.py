"""The console's files as the HTTP face serves them (in process, no browser): the security
headers on every response, conditional GETs, only the directory's own files, every
reference resolving, no inline code, nothing from another origin, only documented routes
called, and the files shipped as package data."""
from __future__ import annotations

import fnmatch
import re
import tomllib

import pytest
from console_testlib import ROOT, documented
from http_testlib import InProcess, assert_envelope

from server import console

ASSETS = console.load_assets()
# what Chromium sends for a page
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"}
JS = {name: a.body.decode("utf-8") for name, a in ASSETS.items() if name.endswith(".js")}
HTML = ASSETS[console.INDEX].body.decode("utf-8")
CSS = ASSETS["console.css"].body.decode("utf-8")


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    app = InProcess(tmp_path_factory.mktemp("console-static") / "data")
    yield app
    app.close()


def test_index_and_assets_carry_the_security_headers(web):
    for path, media in (("/", "text/html"), ("/console/app.js", "text/javascript"),
                        ("/console/console.css", "text/css"), ("/console/icon.svg", "image/svg+xml")):
        resp = web.client.get(path, headers=BROWSER)
        assert resp.status_code == 200 and resp.headers["content-type"].startswith(media), path
        for name, value in console.SECURITY_HEADERS.items():
            assert resp.headers[name] == value, (path, name)
        assert resp.headers["etag"] and resp.headers["x-request-id"]
    csp = dict(part.split(" ", 1) for part in console.CSP.split("; "))
    assert csp["default-src"] == "'none'" and csp["script-src"] == "'self'" and csp["connect-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and csp["form-action"] == "'none'"
    assert not any("unsafe" in value or "*" in value or "data:" in value for value in csp.values())


def test_conditional_get_and_head(web):
    first = web.client.get("/console/app.js")
    again = web.client.get("/console/app.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == first.headers["etag"]
    assert again.headers["content-security-policy"] == console.CSP
    other = web.client.get("/console/app.js", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == ASSETS["app.js"].body
    head = web.client.request("HEAD", "/", headers=BROWSER)
    assert head.status_code == 200 and head.content == b"" and head.headers["content-type"].startswith("text/html")


def test_only_the_directorys_own_files_are_served(web, tmp_path):
    for path in ("/console/nope.js", "/console/..%2Fconsole.py", "/console/%2e%2e%2fhttp_app.py", "/console",
                 "/console/app.js/x", "/index.html"):
        assert_envelope(web.client.get(path), 404, "ResourceNotFound", "ROUTE_NOT_FOUND")
    resp = web.client.post("/", content=b"x")
    assert_envelope(resp, 405, "MethodNotAllowed")
    assert set(resp.headers["allow"].split(", ")) == {"GET", "HEAD"}
    assert web.client.get("/console/app.js/").status_code == 200  # a trailing slash is stripped, as everywhere
    # the listing is the directory's known file types, nothing else
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "notes.md").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.js").write_text("x")
    assert set(console.load_assets(tmp_path)) == {"index.html"}
    (tmp_path / "index.html").unlink()
    with pytest.raises(RuntimeError, match="index.html"):
        console.load_assets(tmp_path)


def _references() -> set[str]:
    refs = set(re.findall(r'(?:src|href)="/console/([^"]+)"', HTML))
    for text in JS.values():
        refs |= set(re.findall(r'(?:from\s+|import\(\s*)"\./([^"]+)"', text))
    return refs


def test_every_reference_resolves_and_every_file_is_used():
    refs = _references()
    assert refs == set(ASSETS) - {console.INDEX}


def test_no_inline_code_and_nothing_from_elsewhere():
    assert all(re.search(r'\ssrc="', tag) for tag in re.findall(r"<script[^>]*>", HTML))
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", HTML)
    for name, text in JS.items():
        code = re.sub(r"(?m)(^\s*//.*$|\s//\s.*$|/\*[\s\S]*?\*/)", "", text)  # comments may name them
        for banned in ("innerHTML", "outerHTML =", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                       'setAttribute("style"', "localStorage.setItem", "document.cookie"):
            assert banned not in code, (name, banned)
    everything = HTML + CSS + "".join(JS.values()) + ASSETS["icon.svg"].body.decode()
    urls = set(re.findall(r"\b(?:https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}[^\s\"'`)]*", everything))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    assert "@import" not in CSS and "url(" not in CSS


def test_the_console_calls_only_documented_routes():
    called = set()
    for text in JS.values():
        for literal in re.findall(r'["`](/(?:v2|health|ready|version|status|metrics|sql|databases|v1)[^"`\s]*)["`]',
                                  text):
            path = re.sub(r"\$\{[^}]*\}", "x", literal).split("?")[0]
            called.add(path)
    assert {"/v2/auth/token", "/v2/auth/refresh", "/v2/auth/logout", "/v2/databases", "/v2/queries",
            "/v2/databases/x/query/sql", "/v2/databases/x/query/pql", "/ready", "/version", "/metrics"} <= called
    assert all(documented(p) for p in called), sorted(p for p in called if not documented(p))


def test_the_files_ship_as_package_data():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["server"]
    for name in ASSETS:
        assert any(fnmatch.fnmatch(f"console/{name}", p) for p in patterns), name
    files = {p.name for p in console.STATIC_DIR.iterdir()}
    assert files == set(ASSETS), "a file in server/console/ that is neither served nor shipped"


def test_the_javascript_stays_small():
    # plain modules, no dependencies, no build step: a budget keeps it that way
    assert sum(len(a.body) for n, a in ASSETS.items() if n.endswith(".js")) < 96_000


@pytest.mark.parametrize("accept, page", [
    (BROWSER["Accept"], True),
    ("text/html", True),
    ("*/*", False),                                   # curl
    ("", False),                                      # no Accept header at all
    ("application/json", False),
    ("application/json, text/html;q=0.5", False),
    ("text/html;q=0, */*", False),
])
def test_slash_is_the_console_for_browsers_and_the_json_index_for_api_clients(web, accept, page):
    resp = web.client.get("/", headers={"Accept": accept} if accept else {})
    assert resp.status_code == 200 and resp.headers["vary"] == "Accept"   # caches keep the two apart
    if page:
        assert resp.headers["content-type"].startswith("text/html") and resp.content == ASSETS["index.html"].body
    else:
        assert resp.headers["content-type"].startswith("application/json")
        assert resp.json()["name"] == "roarbase" and "openapi" in resp.json()["links"]


def test_openapi_describes_both_answers_at_slash(web):
    doc = web.client.get("/openapi.json").json()
    op = doc["paths"]["/"]["get"]
    assert set(op["responses"]["200"]["content"]) == {"application/json", "text/html"}
    assert "text/html" in op["description"] and "Vary: Accept" in op["description"]
