"""Query errors people can act on: the engine's errors, reworded by the server.

- A syntax error quotes the statement's line with a caret under the column and names what
  was expected in words ("a number", "INSERT or REPLACE", "';'"), not grammar token names.
  The machine-readable form stays in error_data (line, column, expected tokens).
- An unknown PQL call, table or field says "did you mean ...?" when a known name is close.

`improve(exc, text, holder)` rewrites an engine error's message in place; the service
layer calls it before turning the error into the unified envelope.
"""
from __future__ import annotations

import difflib
import re
from typing import Any, Iterable, Optional

PQL_CALLS = (
    "Row", "Range", "Union", "Intersect", "Difference", "Xor", "Not", "All", "Shift", "Limit", "ConstRow",
    "UnionRows", "Distinct", "Sort", "Count", "Sum", "Min", "Max", "MinRow", "MaxRow", "Percentile", "FieldValue",
    "IncludesColumn", "TopN", "TopK", "Rows", "GroupBy", "Extract", "Options", "Set", "Clear", "ClearRow", "Store",
    "Delete",
)

_WORDS = {
    "INSERT_VERB": "INSERT or REPLACE", "SEMICOLON": "';'", "LBRACE": "'{'", "RBRACE": "'}'", "MINUS": "'-'",
    "PLUS": "'+'", "STAR": "'*'", "SLASH": "'/'", "EQUAL": "'='", "HEXSTRING": "a hex string (x'…')",
    "QUOTED_NAME": "a quoted name", "PARAM": "a parameter", "INT": "a whole number", "DECIMAL": "a decimal number",
    "INT_LIST": "a list of numbers", "integer": "a whole number", "decimal": "a decimal number", "name": "a name",
    "string": "a string", "timestamp": "a timestamp", "end of query": "the end of the statement",
    "CURRENT_DATE": "CURRENT_DATE", "CURRENT_TIMESTAMP": "CURRENT_TIMESTAMP", "NUMBER": "a number",
}
_UNEXPECTED = re.compile(r"^(unexpected [^;]*?)(?:; expected one of: .*)?(?: at line \d+, column \d+)?$", re.S)


def expected_words(tokens: Iterable[str]) -> list[str]:
    """Grammar tokens as words, keywords first, in a stable order, without repeats."""
    out: list[str] = []
    for token in tokens:
        if token in _WORDS:
            word = _WORDS[token]
        elif len(token) == 1 or token in ("<=", ">=", "!=", "<>", "=="):
            word = f"'{token}'"
        elif token.isupper():
            word = token
        else:
            word = token.replace("_", " ").lower()
        if word not in out:
            out.append(word)
    return sorted(out, key=lambda w: (not w.isupper(), w.startswith("'"), w))


def caret(text: str, line: int, column: int) -> str:
    """The statement's line `line` (1-based) and a caret under `column` (1-based)."""
    lines = text.splitlines() or [""]
    if not 1 <= line <= len(lines):
        return ""
    source = lines[line - 1].expandtabs(1)
    # A long line is shown around the column only.
    start = max(0, column - 60)
    shown = ("…" if start else "") + source[start:start + 100] + ("…" if len(source) > start + 100 else "")
    pad = (column - 1 - start) + (1 if start else 0)
    return f"  {shown}\n  {' ' * max(0, pad)}^"


def syntax_message(message: str, text: str, line: int, column: int, expected: Iterable[str]) -> str:
    match = _UNEXPECTED.match(message)
    head = match.group(1) if match else message
    words = expected_words(expected)
    out = f"syntax error at line {line}, column {column}: {head}"
    if words:
        out += "; expected " + (words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1])
    shown = caret(text, line, column)
    return out + ("\n" + shown if shown else "")


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """' (did you mean "x"?)' for the closest known names, or ""."""
    close = difflib.get_close_matches(name, list(known), n=2, cutoff=0.6)
    if not close:
        lowered = {k.lower(): k for k in known}
        close = [lowered[name.lower()]] if name.lower() in lowered else []
    if not close:
        return ""
    return " (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)"


_UNKNOWN_CALL = re.compile(r"unknown call (\w+)")
_FIELD = re.compile(r"field '([^']+)' not found")
_COLUMN = re.compile(r"column '([^']+)' not found")
_TABLE = re.compile(r"(?:table '([^']+)'|index (\S+)) not found")


def _schema(holder: Any) -> tuple[list[str], list[str]]:
    """(table names, field names of every table) of an open engine."""
    tables, fields = [], {"_id"}
    try:
        for index in holder.indexes():
            tables.append(index.name)
            fields.update(f.name for f in index.fields())
    except Exception:   # a suggestion is a nicety: never let it hide the real error
        pass
    return tables, sorted(fields)


def improve(exc: Any, text: str, holder: Optional[Any] = None) -> None:
    """Reword an engine error (QuerySyntaxError, unknown call/table/field) in place."""
    message = getattr(exc, "message", None)
    if not isinstance(message, str):
        return
    if getattr(exc, "name", "") == "QUERY_SYNTAX_ERROR" and getattr(exc, "line", 0):
        exc.message = syntax_message(message, text, exc.line, exc.column, getattr(exc, "expected", ()) or ())
        return
    hint = ""
    if (m := _UNKNOWN_CALL.search(message)) is not None:
        hint = did_you_mean(m.group(1), PQL_CALLS)
    elif holder is not None and ((m := _FIELD.search(message)) or (m := _COLUMN.search(message))):
        hint = did_you_mean(m.group(1), _schema(holder)[1])
    elif holder is not None and (m := _TABLE.search(message)) is not None:
        hint = did_you_mean(m.group(1) or m.group(2), _schema(holder)[0])
    if hint:
        exc.message = message + hint
