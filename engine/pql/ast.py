"""The PQL syntax tree: frozen dataclasses built by the parser's Transformer, nothing more.

Semantic checks (does the field exist, do the types fit) happen later, in lowering, where
the schema is known.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Union


@dataclass(frozen=True)
class Timestamp:
    """An unquoted timestamp literal such as 2024-03-01 or 2024-03-01T10:00."""

    text: str


@dataclass(frozen=True)
class Bare:
    """An unquoted identifier used as a value (true, false, null, or a bare string)."""

    text: str


Literal = Union[int, Decimal, str, Timestamp, Bare, "ListValue"]


@dataclass(frozen=True)
class ListValue:
    items: tuple[Literal, ...]


@dataclass(frozen=True)
class Positional:
    value: Union[Literal, "Call"]


@dataclass(frozen=True)
class Keyword:
    name: str
    value: Union[Literal, "Call"]


@dataclass(frozen=True)
class Condition:
    """field OP value, OP one of == != < <= > >=."""

    field: str
    op: str
    value: Literal


@dataclass(frozen=True)
class Between:
    """lo LOP field HOP hi (LOP, HOP in < <=); `f >< [a, b]` is lo <= f <= hi."""

    field: str
    lo: Literal
    lo_op: str
    hi: Literal
    hi_op: str


Arg = Union[Positional, Keyword, Condition, Between]


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Arg, ...]
    line: int = 0
    column: int = 0

    def keywords(self) -> dict[str, Union[Literal, "Call"]]:
        return {a.name: a.value for a in self.args if isinstance(a, Keyword)}

    def positionals(self) -> list[Union[Literal, "Call"]]:
        return [a.value for a in self.args if isinstance(a, Positional)]

    def conditions(self) -> list[Union[Condition, Between]]:
        return [a for a in self.args if isinstance(a, (Condition, Between))]


@dataclass(frozen=True)
class Query:
    calls: tuple[Call, ...]
