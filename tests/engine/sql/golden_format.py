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

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
DATA_DIR = GOLDEN_DIR / "data"
_ERROR_RE = re.compile(r"^error\s+(\w+)(?:\s+at\s+(\d+):(\d+))?\s*$")
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


@dataclass
class GoldenFile:
    name: str
    sequential: bool
    cases: list[Case]


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
    sequential = False
    pending_xfail: Optional[str] = None
    pending_ordered = False
    cases: list[Case] = []
    block: list[tuple[int, str]] = []

    def flush() -> None:
        nonlocal block, pending_xfail, pending_ordered
        if not block:
            return
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
        case = Case(path.name, block[0][0], sql, xfail=pending_xfail,
                    ordered=pending_ordered or bool(_ORDER_BY.search(sql)))
        for n, e in exp:
            m = _ERROR_RE.match(e)
            if m:
                case.error = m.group(1)
                if m.group(2):
                    case.error_pos = (int(m.group(2)), int(m.group(3)))
            elif e == "ok":
                case.ok = True
            elif e.startswith("affected "):
                case.affected = int(e.split()[1])
            elif e.startswith("columns:"):
                case.columns = _columns(e[len("columns:"):])
            elif e.startswith("["):
                try:
                    case.rows.append(json.loads(e, parse_float=Decimal))
                except ValueError as exc:
                    raise ValueError(f"{path.name}:{n}: bad JSON row {e!r}: {exc}") from None
            else:
                raise ValueError(f"{path.name}:{n}: unknown expectation {e!r}")
        if case.rows and case.columns is None:
            raise ValueError(f"{path.name}:{block[0][0]}: rows without a columns line")
        cases.append(case)
        block = []
        pending_xfail = None
        pending_ordered = False

    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.rstrip()
        if line.startswith("#!"):
            flush()
            key, _, value = line[2:].partition(":")
            key, value = key.strip(), value.strip()
            if key == "mode":
                sequential = value == "sequential"
            elif key == "xfail":
                pending_xfail = value
            elif key == "ordered":
                pending_ordered = True
            else:
                raise ValueError(f"{path.name}:{n}: unknown directive {line!r}")
        elif line.startswith("#"):
            flush()
        elif not line.strip():
            flush()
        else:
            block.append((n, line))
    flush()
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
