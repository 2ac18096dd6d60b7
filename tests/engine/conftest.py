"""tests/engine: the storage engine through its facade (engine.open → Holder → Index).

Expectations come from ../shared/reference/featurebase-semantics.md, engine/storage/format.md
and the engine's docstrings, computed independently (hand values, Python sets, numpy).
Shared helpers live in engine_testlib.py (tests/ has no __init__.py, so module basenames
must be unique across the tests tree).
"""
import sys
from pathlib import Path

import pytest

# `import engine` must find the repository's engine package, never a namespace package made
# of tests/engine, even when pytest is started as `pytest` rather than `python -m pytest`.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from engine_testlib import DbFactory  # noqa: E402


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
