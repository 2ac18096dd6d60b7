"""Reading golden files (golden/*.pql) and comparing results with their expectations.

Format (the top of every golden file repeats it):

    # comment                      anywhere between cases
    #! index: people               switches the index the following cases query
    #! mode: sequential            (file header) cases run in order on one private copy of
                                   the fixture, so writes carry over; otherwise every case
                                   runs on the shared read-only fixture
    #! xfail: engine bug: …        the next case is a known engine bug (strict xfail)

    <PQL request: one or more lines>
    ; <JSON: the list of results, one per call>
    ; <more JSON>                  (a long expectation continues on lines starting with ";")

    a blank line ends a case.

Expectation forms:
    ; [ … ]                        exact (JSON numbers with a fraction are decimals and must
                                   match digit for digit: 12.50 ≠ 12.5)
    ;~ [ … ]                       the same, but record keys are compared as sets: the
                                   "keys" of row results and the "column" order of Extract on
                                   a keyed index (FeatureBase's record-key order is arbitrary)
    ; error ClassName              the request raises engine.ClassName (a subclass is fine)
    ; error QuerySyntaxError at 2:7    … and reports line 2, column 7
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

from golden_lib import Block, GoldenFile, error_expectation, scan

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


@dataclass
class Case:
    file: str
    line: int
    index: str
    query: str
    expect: Any = None
    unordered_keys: bool = False
    error: Optional[str] = None
    error_pos: Optional[tuple[int, int]] = None
    xfail: Optional[str] = None

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


def parse_file(path: Path) -> GoldenFile:
    index = "people"
    cases: list[Case] = []

    def case(block: Block, xfail: Optional[str]) -> None:
        query_lines = []
        exp_lines: list[str] = []
        first = block[0][0]
        for _, text in block:
            if exp_lines or text.startswith(";"):
                exp_lines.append(text)
            else:
                query_lines.append(text)
        if not exp_lines:
            raise ValueError(f"{path.name}:{first}: case without a '; expected' line")
        head = exp_lines[0]
        unordered = head.startswith(";~")
        body = (head[2:] if unordered else head[1:]).strip()
        body = "\n".join([body] + [t[1:] if t.startswith(";") else t for t in exp_lines[1:]])
        c = Case(path.stem, first, index, "\n".join(query_lines), unordered_keys=unordered, xfail=xfail)
        error = error_expectation(body)
        if error:
            c.error, c.error_pos = error
        else:
            try:
                c.expect = json.loads(body, parse_float=Decimal)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path.name}:{first}: bad expected JSON: {exc}") from None
        cases.append(c)

    def directive(key: str, value: str) -> bool:
        nonlocal index
        if key == "index":
            index = value
            return True
        return False

    sequential = scan(path, case, directive=directive, comment_ends_case=False)
    return GoldenFile(path.stem, sequential, cases)


def all_files() -> list[GoldenFile]:
    return [parse_file(p) for p in sorted(GOLDEN_DIR.glob("*.pql"))]


def canon(x: Any, unordered_keys: bool = False) -> Any:
    """A comparable form of a result: bools tagged (so true ≠ 1), numbers with a fraction
    as their exact decimal text, record keys sorted when asked."""
    if isinstance(x, bool):
        return ("bool", x)
    if isinstance(x, Decimal):
        return ("dec", str(x))
    if isinstance(x, float):
        return ("dec", str(Decimal(repr(x))))
    if isinstance(x, list):
        return [canon(v, unordered_keys) for v in x]
    if isinstance(x, dict):
        out = {k: canon(v, unordered_keys) for k, v in x.items()}
        if unordered_keys:
            if isinstance(x.get("keys"), list) and x.get("columns") == []:
                out["keys"] = sorted(out["keys"])
            if "fields" in x and isinstance(x.get("columns"), list):
                out["columns"] = sorted(out["columns"], key=lambda c: str(c.get("column")))
        return out
    return x
