"""The session fixture databases of tests/engine/pql and tests/engine/sql (their conftests):
built once into a template directory, then handed out as private copies."""
from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Callable, Iterator

import pytest

import engine


def build_template(tmp_path_factory: pytest.TempPathFactory, name: str,
                   build: Callable[[engine.Holder], None]) -> Path:
    """A closed data directory that build(db) filled."""
    path = tmp_path_factory.mktemp(name) / "data"
    with engine.open(str(path), fsync=False) as db:
        build(db)
    return path


@contextlib.contextmanager
def copies(template: Path, tmp_path_factory: pytest.TempPathFactory,
           name: str) -> Iterator[Callable[[], engine.Holder]]:
    """A factory: make() → an open Holder on a private copy of the template; every Holder it
    opened is closed on exit."""
    opened: list[engine.Holder] = []

    def make() -> engine.Holder:
        dest = tmp_path_factory.mktemp(name) / "data"
        shutil.copytree(template, dest)
        db = engine.open(str(dest), fsync=False)
        opened.append(db)
        return db

    try:
        yield make
    finally:
        for db in opened:
            db.close()
