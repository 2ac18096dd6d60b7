"""What the PQL and SQL golden-file formats share (pql/golden_format.py, sql/golden_format.py):
the file's layout and the error expectation.

A golden file is cases separated by blank lines; `#! key: value` lines are directives
(`mode: sequential` for the whole file, `xfail: reason` for the next case, and the
language's own); `# …` lines are comments between cases. An expectation `error ClassName`
(optionally `at line:column`) says the case raises engine.ClassName.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

_ERROR_RE = re.compile(r"^error\s+(\w+)(?:\s+at\s+(\d+):(\d+))?\s*$")

Block = list[tuple[int, str]]          # a case's lines with their line numbers


@dataclass
class GoldenFile:
    name: str
    sequential: bool
    cases: list[Any]


def error_expectation(text: str) -> Optional[tuple[str, Optional[tuple[int, int]]]]:
    """(class name, (line, column) or None) when `text` is an error expectation, else None."""
    m = _ERROR_RE.match(text)
    if not m:
        return None
    return m.group(1), (int(m.group(2)), int(m.group(3))) if m.group(2) else None


def scan(path: Path, case: Callable[[Block, Optional[str]], None], *,
         directive: Optional[Callable[[str, str], bool]] = None, comment_ends_case: bool) -> bool:
    """Walk the file, calling case(block, xfail reason) for each case and directive(key, value)
    for each directive other than mode and xfail (it returns whether it knew the key). A
    comment line ends the case before it when comment_ends_case, else one inside a case is
    an error. Returns whether the file is `#! mode: sequential`."""
    sequential = False
    xfail: Optional[str] = None
    block: Block = []

    def flush() -> None:
        nonlocal block, xfail
        if block:
            case(block, xfail)
            block, xfail = [], None

    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.rstrip()
        if not line.strip():
            flush()
        elif line.startswith("#!"):
            flush()
            key, _, value = line[2:].partition(":")
            key, value = key.strip(), value.strip()
            if key == "mode":
                sequential = value == "sequential"
            elif key == "xfail":
                xfail = value
            elif directive is None or not directive(key, value):
                raise ValueError(f"{path.name}:{n}: unknown directive {key!r}")
        elif line.startswith("#"):
            if comment_ends_case:
                flush()
            elif block:
                raise ValueError(f"{path.name}:{n}: comment inside a case")
        else:
            block.append((n, line))
    flush()
    return sequential
