"""tests/engine/pql: the PQL language end to end (parse → lower → execute → result shapes).

The fixture database (pql_fixture.py documents every value) is built once per session into
a template directory; `pql_db` is one shared, read-only Holder over a copy of it, and
`fresh_pql_db()` opens a new private copy for tests that write.
"""
from __future__ import annotations

import pytest
from fixture_db import build_template, copies

from .pql_fixture import build


@pytest.fixture(scope="session")
def pql_template(tmp_path_factory):
    """A closed data directory holding the fixture indexes (people, orders, bare)."""
    return build_template(tmp_path_factory, "pql-template", build)


@pytest.fixture(scope="session")
def fresh_pql_db(pql_template, tmp_path_factory):
    """A factory: fresh_pql_db() → an open Holder on a private copy of the fixture."""
    with copies(pql_template, tmp_path_factory, "pql-copy") as make:
        yield make


@pytest.fixture(scope="session")
def pql_db(fresh_pql_db):
    """The shared fixture database; tests using it must not write."""
    return fresh_pql_db()
