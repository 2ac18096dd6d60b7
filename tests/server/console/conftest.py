"""tests/server/console: the web console — its static files and headers in process, and the
real thing in a real browser: Debian's Chromium driven by Playwright against a server
subprocess on loopback.

One server serves the whole session and one browser each module (a few pages each); a page records
every request it makes and every console error or CSP violation, and fails its test on
one (the console calls only documented routes).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import console_testlib as lib
import pytest
import serverlib

CHROMIUM = os.environ.get("ROARBASE_CHROMIUM", "/usr/bin/chromium")
# Chromium without anything that reaches out: no QUIC, no first-run, no component updates,
# no sync; a fresh profile directory per session (Playwright's persistent context).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]  # containers often have a tiny /dev/shm


@pytest.fixture(scope="session")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lib.ConsoleServer]:
    """A server with the demo database (demo.DEMO_RECORDS records, as `make run` has), a
    shard gate for holding queries and a clock the tests can move."""
    root = tmp_path_factory.mktemp("console")
    gate, clock = root / "gate", root / "clock"
    with serverlib.running_server(root / "data", demo=lib.DEMO_RECORDS, shard_gate=str(gate),
                                  clock_file=str(clock)) as srv:
        server = lib.ConsoleServer(srv, gate, clock)
        try:
            server.seed()
            yield server
        finally:
            gate.unlink(missing_ok=True)  # never leave a query held: the server must stop
            clock.unlink(missing_ok=True)
            server.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium per test module (Debian's package; never downloaded).

    Module scope, not session: Playwright's sync API keeps an event loop running in the main
    thread (on a greenlet) while it is open, which would break every later test that calls
    asyncio.run(); it is closed before the next module's tests start."""
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        message = (f"{CHROMIUM} is missing: `make test` installs Debian's chromium when run as root "
                   "(apt-get install -y chromium)")
        if os.environ.get("CI") or os.environ.get("ROARBASE_REQUIRE_BROWSER"):   # .ci/run sets it
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, args=CHROMIUM_ARGS,
            headless=True, viewport={"width": 1280, "height": 800}, timezone_id="America/New_York",
            locale="en-US", accept_downloads=True)
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: Any, console_server: lib.ConsoleServer) -> Iterator[lib.Page]:
    """A fresh tab on the console; at the end, every request it made went to a documented
    route and nothing broke (no page error, no CSP violation)."""
    tab = lib.Page(browser.new_page(), console_server)
    try:
        yield tab
        tab.assert_clean()
    finally:
        tab.page.close()
