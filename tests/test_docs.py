"""Docs that run: every fenced example of README.md and docs/*.md of a runnable kind is
executed, and where it states a result, the result is checked (README "Docs that run").

The convention (by the fence's language):
- ```pql: lines `QUERY → RESULT` (a line starting with whitespace or → continues the one
  before) run against the `docs-pql` sample data (server/samples.py, `roarbase demo`),
  index `people` unless the marker names another; RESULT is JSON, or an error class name.
  A line without → only has to run.
- ```sql: lines `STATEMENT → RESULT` against the `docs-sql` sample data; RESULT is the
  rows (values in order, `(no rows)`, `…` = more follow), `rows_affected N`, or an error
  class name. A block's statements run in order; from its first write on, on a copy of
  the data of its own.
- ```python: each block runs on its own, in an empty temporary directory.
- anything else (sh, text, toml, json, no language): illustrative, not run.
A marker comment on the line before a fence changes that: `<!-- docs: skip (why) -->`
(not run), `<!-- docs: server -->` (needs a running server: not run here; the same calls
are tested against real servers in tests/server), `<!-- docs: run-only -->` (run, results
not compared), `<!-- docs: index NAME -->` (the PQL index), `<!-- docs: data pql|sql -->`
(a python block finds a copy of that sample data at ./data).
"""
from __future__ import annotations

import ast
import datetime as _dt
import json
import re
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest

import engine
from server import samples
from server.service.query import pql_writes, sql_writes

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_MARKER = re.compile(r"<!--\s*docs:\s*(\S+)\s*(.*?)\s*-->")


def _blocks(path: Path) -> Iterator[tuple[int, str, dict[str, str], str]]:
    """(line, language, markers, text) of each fenced block."""
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            lang = line[3:].strip()
            markers: dict[str, str] = {}
            if i > 0 and (m := _MARKER.search(lines[i - 1])):
                markers[m.group(1)] = m.group(2)
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            yield i + 1, lang, markers, "\n".join(lines[i + 1:j])
            i = j + 1
            continue
        i += 1


def _examples(text: str) -> list[tuple[str, str]]:
    """(query, stated result) pairs; continuation lines join the example before."""
    out: list[list[str]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if out and (line[0].isspace() or line.lstrip().startswith("→")):
            out[-1].append(line.strip())
        else:
            out.append([line.rstrip()])
    pairs = []
    for parts in out:
        joined = "\n".join(parts)
        query, arrow, result = joined.partition("→")
        pairs.append((query.strip(), result.strip() if arrow else ""))
    return pairs


def _cases() -> list[Any]:
    cases = []
    for path in DOCS:
        for line, lang, markers, text in _blocks(path):
            if lang in ("pql", "sql", "python") and not {"skip", "server"} & set(markers):
                cases.append(pytest.param(path, line, lang, markers, text, id=f"{path.name}:{line}"))
    return cases


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for name, build in (("pql", samples.build_pql), ("sql", samples.build_sql)):
        path = tmp_path_factory.mktemp(f"docs-{name}") / "data"
        with engine.open(str(path), fsync=False) as db:
            build(db)
        out[name] = path
    return out


@pytest.fixture(scope="module")
def readers(templates: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    dbs = {}
    for name, template in templates.items():
        copy = tmp_path_factory.mktemp(f"read-{name}") / "data"
        shutil.copytree(template, copy)
        dbs[name] = engine.open(str(copy), fsync=False)
    yield dbs
    for db in dbs.values():
        db.close()


def _fresh(templates: dict[str, Path], name: str, tmp_path: Path) -> Any:
    copy = tmp_path / f"w{len(list(tmp_path.iterdir()))}"
    shutil.copytree(templates[name], copy)
    return engine.open(str(copy), fsync=False)


# -- comparing -------------------------------------------------------------------------------------

_ERROR = re.compile(r"^([A-Z][A-Za-z]*Error)\b")
_TRAILING_NOTE = re.compile(r"(\s{2,}\(.*\)|\s+--.*|\s+#.*)$")
_TOKEN = re.compile(r"Decimal\('([^']*)'\)|'((?:[^']|'')*)'|\"([^\"]*)\"|([\w:.+\-]+)")


def _flat(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _flat(v)]
    if isinstance(value, _dt.datetime):
        return [value.strftime("%Y-%m-%dT%H:%M:%S") + "Z"]
    if value is None:
        return ["None"]
    return [str(value)]


def _doc_tokens(result: str) -> tuple[list[str], bool]:
    """The values a stated SQL result lists, and whether it ends with … (more follow)."""
    more = "…" in result
    result = result.replace("…", " ")
    tokens = []
    for m in _TOKEN.finditer(result):
        dec, single, double, bare = m.groups()
        tokens.append(dec if dec is not None else single.replace("''", "'") if single is not None
                      else double if double is not None else bare)
    return tokens, more


def _check_error(exc: BaseException, result: str, query: str) -> None:
    m = _ERROR.match(result)
    assert m, f"{query!r} raised {type(exc).__name__}: {exc}, but the docs state {result!r}"
    names = {cls.__name__ for cls in type(exc).__mro__}
    assert m.group(1) in names, f"{query!r} raised {type(exc).__name__}, the docs say {m.group(1)}"


def _run_pql(db: Any, index: str, query: str, result: str, compare: bool) -> None:
    query = _TRAILING_NOTE.sub("", query).strip()
    try:
        got = db.query(index, query)
    except engine.EngineError as exc:
        _check_error(exc, result, query)
        return
    assert not _ERROR.match(result), f"{query!r} answered {got!r}; the docs state an error: {result!r}"
    if not result or not compare:
        return
    stated = _TRAILING_NOTE.sub("", result).strip()
    want = json.loads(stated)
    assert json.loads(json.dumps(got, default=lambda v: float(v) if isinstance(v, Decimal) else str(v))) == want, \
        f"{query!r}: got {got!r}, the docs state {stated}"


def _run_sql(db: Any, query: str, result: str, compare: bool) -> None:
    schema_m = re.search(r"\s{2,}schema (\[.*\])\s*$", query)
    if schema_m:
        query = query[:schema_m.start()]
    query = _TRAILING_NOTE.sub("", query).strip()
    try:
        got = db.sql(query)
    except engine.EngineError as exc:
        _check_error(exc, result, query)
        return
    assert not _ERROR.match(result), f"{query!r} succeeded; the docs state an error: {result!r}"
    if schema_m:
        assert [tuple(c) for c in got.schema] == ast.literal_eval(schema_m.group(1)), query
    if not result or not compare:
        return
    stated = _TRAILING_NOTE.sub("", result).strip()
    if (m := re.match(r"rows_affected (\d+)", stated)) is not None:
        assert got.rows_affected == int(m.group(1)), f"{query!r}: rows_affected {got.rows_affected}"
        return
    if stated == "(no rows)":
        assert got.rows == [], f"{query!r}: got {got.rows!r}"
        return
    tokens, more = _doc_tokens(stated)
    actual = _flat(got.rows)
    if more:
        actual = actual[:len(tokens)]
    assert actual == tokens, f"{query!r}: got {got.rows!r}, the docs state {stated}"


@pytest.mark.parametrize("path,line,lang,markers,text", _cases())
def test_documented_example_runs(path: Path, line: int, lang: str, markers: dict[str, str], text: str,
                                 templates: dict[str, Path], readers: dict[str, Any], tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    compare = "run-only" not in markers
    if lang == "python":
        monkeypatch.chdir(tmp_path)
        if "data" in markers:
            shutil.copytree(templates[markers["data"]], tmp_path / "data")
        namespace: dict[str, Any] = {"__name__": "docs_example"}
        try:
            exec(compile(text, f"{path.name}:{line}", "exec"), namespace)
        finally:   # an example may leave a database open, as a reader's session would
            for value in namespace.values():
                if isinstance(value, engine.Holder):
                    value.close()
        return
    name = "pql" if lang == "pql" else "sql"
    written = None   # the block's own copy, made at its first write: later statements see the writes
    try:
        for query, result in _examples(text):
            bare = _TRAILING_NOTE.sub("", query)
            try:
                writes = pql_writes(bare) if lang == "pql" else sql_writes(bare)
            except Exception:   # a statement that does not parse: its error is what is checked
                writes = False
            if writes and written is None:
                written = _fresh(templates, name, tmp_path)
            db = written if written is not None else readers[name]
            if lang == "pql":
                _run_pql(db, markers.get("index") or "people", query, result, compare)
            else:
                _run_sql(db, query, result, compare)
    finally:
        if written is not None:
            written.close()


def test_the_convention_finds_examples() -> None:
    """Guard against a convention that silently runs nothing."""
    langs = [lang for path in DOCS for _, lang, markers, _ in _blocks(path) if not {"skip", "server"} & set(markers)]
    assert langs.count("sql") >= 10 and langs.count("python") >= 3 and langs.count("pql") >= 30


def test_a_wrong_stated_result_fails(readers: dict[str, Any]) -> None:
    with pytest.raises(AssertionError):
        _run_pql(readers["pql"], "people", "Count(Row(color=1))", "[5]", True)
    with pytest.raises(AssertionError):
        _run_sql(readers["sql"], "SELECT _id FROM people WHERE age > 50", "3, 7", True)
    _run_sql(readers["sql"], "SELECT _id FROM people WHERE age > 50", "3, 1048576", True)
