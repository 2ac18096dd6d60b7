"""tests/engine/pql: the PQL language end to end (parse → lower → execute → result shapes).

The fixture database (pql_fixture.py documents every value) is built once per session into
a template directory; `pql_db` is one shared, read-only Holder over a copy of it, and
`fresh_pql_db()` opens a new private copy for tests that write.
"""
from __future__ import annotations

import shutil

import pytest

import engine

from .pql_fixture import build


@pytest.fixture(scope="session")
def pql_template(tmp_path_factory):
    """A closed data directory holding the fixture indexes (people, orders, bare)."""
    path = tmp_path_factory.mktemp("pql-template") / "data"
    with engine.open(str(path), fsync=False) as db:
        build(db)
    return path


@pytest.fixture(scope="session")
def fresh_pql_db(pql_template, tmp_path_factory):
    """A factory: fresh_pql_db() → an open Holder on a private copy of the fixture."""
    opened: list[engine.Holder] = []

    def make() -> engine.Holder:
        dest = tmp_path_factory.mktemp("pql-copy") / "data"
        shutil.copytree(pql_template, dest)
        db = engine.open(str(dest), fsync=False)
        opened.append(db)
        return db

    yield make
    for db in opened:
        db.close()


@pytest.fixture(scope="session")
def pql_db(fresh_pql_db):
    """The shared fixture database; tests using it must not write."""
    return fresh_pql_db()
