"""tests/engine: the storage engine through its facade (engine.open → Holder → Index).

Expectations come from ../shared/reference/featurebase-semantics.md, engine/storage/format.md
and the engine's docstrings, computed independently (hand values, Python sets, numpy).
Shared helpers live in engine_testlib.py (tests/ has no __init__.py, so module basenames
must be unique across the tests tree).
"""
import pytest
from engine_testlib import DbFactory


@pytest.fixture
def open_db(tmp_path):
    """A factory of Holders (fsync off for speed); every Holder it opened is closed at teardown.

    open_db() opens tmp_path/"data"; open_db(path, **config) another directory;
    open_db.reopen(db) closes db and opens its directory again with the same settings.
    """
    factory = DbFactory(tmp_path / "data")
    yield factory
    factory.close_all()


@pytest.fixture
def db(open_db):
    return open_db()
