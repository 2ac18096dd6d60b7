"""tests/engine/sql: the SQL dialect end to end (parse → lower → execute → SqlResult).

The fixture database (sql_fixture.py documents every value) is built once per session into
a template directory; `sql_db` is one shared, read-only Holder over a copy of it, and
`fresh_sql_db()` opens a new private copy for tests that write. `sql_data_dir` is the
directory of BULK INSERT input files ("{data}" in golden files).
"""
from __future__ import annotations

import shutil

import pytest
from fixture_db import build_template, copies

from .golden_format import DATA_DIR
from .sql_fixture import build


@pytest.fixture(scope="session")
def sql_template(tmp_path_factory):
    """A closed data directory holding the fixture tables (people, cities, empty)."""
    return build_template(tmp_path_factory, "sql-template", build)


@pytest.fixture(scope="session")
def fresh_sql_db(sql_template, tmp_path_factory):
    """A factory: fresh_sql_db() → an open Holder on a private copy of the fixture."""
    with copies(sql_template, tmp_path_factory, "sql-copy") as make:
        yield make


@pytest.fixture(scope="session")
def sql_db(fresh_sql_db):
    """The shared fixture database; tests using it must not write."""
    return fresh_sql_db()


@pytest.fixture(scope="session")
def sql_data_dir(tmp_path_factory):
    """golden/data/* plus people.parquet (written here: no binary files in the repository).

    people.parquet columns: id int64, name string, age int64, score double
      (1, 'ann', 31, 1.5), (2, 'bob', 41, 2.25), (90, NULL, NULL, NULL)
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = tmp_path_factory.mktemp("sql-data")
    for f in DATA_DIR.iterdir():
        shutil.copy(f, d / f.name)
    pq.write_table(pa.table({"id": [1, 2, 90], "name": ["ann", "bob", None], "age": [31, 41, None],
                             "score": [1.5, 2.25, None]}), d / "people.parquet")
    (d / "latin1.csv").write_bytes("1,caf\xe9\n".encode("latin-1"))
    return d
