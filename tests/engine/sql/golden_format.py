"""Reading golden files (golden/*.sql) and comparing SQL results with their expectations.

Format (the top of every golden file repeats it in short):

    # comment                      anywhere between cases (at column 0)
    #! mode: sequential            (file header) cases run in order on one private copy of
                                   the fixture, so writes carry over; otherwise every case
                                   runs on the shared read-only fixture
    #! xfail: engine bug: …        the next case is a known engine bug (strict xfail)
    #! ordered                     the next case's rows are compared in order (cases whose
                                   text has ORDER BY are always compared in order)

    <SQL text: one or more lines, possibly several ';'-separated statements; the result
     checked is the last statement's (db.sql)>
    => <expectation>               one or more lines starting with "=>"

    a blank line ends a case.

Expectations:
    => ok                          success, no columns and no rows (DDL)
    => affected N                  success with rows_affected == N (DML)
    => columns: _id id, name string, "" int
                                   the result schema: (name, type) pairs; "" is the empty
                                   name FeatureBase gives an unaliased expression
    => [1, "ann", null]            one row (JSON). Rows are compared as a multiset unless
                                   ordered (see above); a columns line with no row lines
                                   means zero rows. JSON numbers with a fraction are
                                   decimals and must match digit for digit (10.00 ≠ 10.0);
                                   timestamps are RFC3339 strings ("2000-01-01T00:00:00Z");
                                   set values are lists compared as sorted lists;
                                   a FLOAT value is written {"float": 1.5}.
    => error ClassName             the statement raises engine.ClassName (a subclass is fine)
    => error QuerySyntaxError at 2:7   … and reports line 2, column 7

"{data}" in SQL text is replaced by the directory holding the BULK INSERT input files
(golden/data/*, plus people.parquet written by the conftest).
"""
from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

from golden_lib import Block, GoldenFile, error_expectation, scan

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
DATA_DIR = GOLDEN_DIR / "data"
_ORDER_BY = re.compile(r"\bORDER\s+BY\b", re.IGNORECASE)


@dataclass
class Case:
    file: str
    line: int
    sql: str
    ok: bool = False
    affected: Optional[int] = None
    columns: Optional[list[tuple[str, str]]] = None
    rows: list[Any] = field(default_factory=list)
    ordered: bool = False
    error: Optional[str] = None
    error_pos: Optional[tuple[int, int]] = None
    xfail: Optional[str] = None

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


def _columns(text: str) -> list[tuple[str, str]]:
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, typ = part.partition(" ")
        if name == '""':
            name = ""
        out.append((name, typ.strip()))
    return out


def parse_file(path: Path) -> GoldenFile:
    ordered_next = False
    cases: list[Case] = []

    def case(block: Block, xfail: Optional[str]) -> None:
        nonlocal ordered_next
        sql_lines: list[str] = []
        exp: list[tuple[int, str]] = []
        for n, text in block:
            if text.startswith("=>"):
                exp.append((n, text[2:].strip()))
            elif exp:
                raise ValueError(f"{path.name}:{n}: SQL after an expectation")
            else:
                sql_lines.append(text)
        if not exp:
            raise ValueError(f"{path.name}:{block[0][0]}: case without expectation")
        sql = "\n".join(sql_lines)
        c = Case(path.name, block[0][0], sql, xfail=xfail, ordered=ordered_next or bool(_ORDER_BY.search(sql)))
        for n, e in exp:
            error = error_expectation(e)
            if error:
                c.error, c.error_pos = error
            elif e == "ok":
                c.ok = True
            elif e.startswith("affected "):
                c.affected = int(e.split()[1])
            elif e.startswith("columns:"):
                c.columns = _columns(e[len("columns:"):])
            elif e.startswith("["):
                try:
                    c.rows.append(json.loads(e, parse_float=Decimal))
                except ValueError as exc:
                    raise ValueError(f"{path.name}:{n}: bad JSON row {e!r}: {exc}") from None
            else:
                raise ValueError(f"{path.name}:{n}: unknown expectation {e!r}")
        if c.rows and c.columns is None:
            raise ValueError(f"{path.name}:{block[0][0]}: rows without a columns line")
        cases.append(c)
        ordered_next = False

    def directive(key: str, value: str) -> bool:
        nonlocal ordered_next
        if key == "ordered":
            ordered_next = True
            return True
        return False

    sequential = scan(path, case, directive=directive, comment_ends_case=True)
    return GoldenFile(path.name, sequential, cases)


def all_files() -> list[GoldenFile]:
    return [parse_file(p) for p in sorted(GOLDEN_DIR.glob("*.sql"))]


def canon(v: Any) -> Any:
    """A comparable, type-tagged form of a result value (True ≠ 1, 10.00 ≠ 10.0)."""
    if v is None:
        return None
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int):
        return ("int", v)
    if isinstance(v, Decimal):
        return ("dec", str(v))
    if isinstance(v, float):
        return ("float", v)
    if isinstance(v, dict) and set(v) == {"float"}:     # an expected FLOAT: {"float": 1.5}
        return ("float", float(v["float"]))
    if isinstance(v, str):
        return ("str", v)
    if isinstance(v, _dt.datetime):
        return ("str", rfc3339(v))
    if isinstance(v, (list, tuple)):
        return ("set", tuple(sorted((canon(x) for x in v), key=repr)))
    raise TypeError(f"unexpected result value {v!r}")


def rfc3339(v: _dt.datetime) -> str:
    v = v.astimezone(_dt.timezone.utc)
    text = v.strftime("%Y-%m-%dT%H:%M:%S")
    if v.microsecond:
        text += f".{v.microsecond:06d}".rstrip("0")
    return text + "Z"


def canon_rows(rows: list[Any], ordered: bool) -> list[Any]:
    out = [tuple(canon(x) for x in r) for r in rows]
    return out if ordered else sorted(out, key=repr)
