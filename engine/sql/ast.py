"""The SQL syntax tree: frozen dataclasses built by the parser, nothing more."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union


@dataclass(frozen=True)
class Column:
    name: str
    table: Optional[str] = None


@dataclass(frozen=True)
class Literal:
    value: Any
    kind: str           # int | decimal | string | null | bool | set | tuple | hex


@dataclass(frozen=True)
class Func:
    name: str           # upper-cased
    args: tuple["Expr", ...] = ()
    distinct: bool = False
    star: bool = False


@dataclass(frozen=True)
class TypeName:
    name: str           # upper-cased
    arg: Optional[int] = None


@dataclass(frozen=True)
class Cast:
    expr: "Expr"
    type: TypeName


@dataclass(frozen=True)
class BinOp:
    """operands[0] ops[0] operands[1] ops[1] … applied left to right (one precedence level,
    n-ary so that a long chain is one node)."""

    ops: tuple[str, ...]
    operands: tuple["Expr", ...]


@dataclass(frozen=True)
class Neg:
    expr: "Expr"


@dataclass(frozen=True)
class Compare:
    op: str             # = != < <= > >=  (<> is normalised to !=)
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class IsNull:
    expr: "Expr"
    negated: bool


@dataclass(frozen=True)
class Between:
    expr: "Expr"
    lo: "Expr"
    hi: "Expr"
    negated: bool


@dataclass(frozen=True)
class InList:
    expr: "Expr"
    items: tuple["Expr", ...]
    negated: bool


@dataclass(frozen=True)
class Like:
    expr: "Expr"
    pattern: "Expr"
    negated: bool


@dataclass(frozen=True)
class And:
    terms: tuple["Expr", ...]       # two or more


@dataclass(frozen=True)
class Or:
    terms: tuple["Expr", ...]       # two or more


@dataclass(frozen=True)
class Not:
    expr: "Expr"


@dataclass(frozen=True)
class Case:
    """CASE [operand] WHEN … THEN … [ELSE …] END; without an operand each WHEN is a condition."""

    operand: Optional["Expr"]
    whens: tuple[tuple["Expr", "Expr"], ...]
    default: Optional["Expr"] = None


@dataclass(frozen=True)
class CurrentTime:
    """CURRENT_TIMESTAMP (date=False) or CURRENT_DATE (date=True)."""

    date: bool


@dataclass(frozen=True)
class Unsupported:
    """A construct the grammar recognises only to reject it clearly (joins, subqueries)."""

    what: str


def children(e: Any) -> tuple[Any, ...]:
    """The operand expressions of an expression node (not the items of a set literal)."""
    if isinstance(e, (And, Or)):
        return e.terms
    if isinstance(e, BinOp):
        return e.operands
    if isinstance(e, (Compare, Like)):
        return (e.left, e.right) if isinstance(e, Compare) else (e.expr, e.pattern)
    if isinstance(e, Between):
        return (e.expr, e.lo, e.hi)
    if isinstance(e, InList):
        return (e.expr,) + e.items
    if isinstance(e, (Neg, Not, Cast, IsNull)):
        return (e.expr,)
    if isinstance(e, Func):
        return e.args
    if isinstance(e, Case):
        out = tuple(x for w in e.whens for x in w)
        return ((e.operand,) if e.operand is not None else ()) + out + \
            ((e.default,) if e.default is not None else ())
    return ()


Expr = Union[Column, Literal, Func, Cast, BinOp, Neg, Compare, IsNull, Between, InList, Like, And, Or, Not,
             Case, CurrentTime, Unsupported]


@dataclass(frozen=True)
class SelectItem:
    expr: Optional[Expr]            # None for *
    alias: Optional[str] = None


@dataclass(frozen=True)
class Select:
    items: tuple[SelectItem, ...]
    table: Optional[str]            # None: SELECT without FROM (one row, no columns)
    distinct: bool = False
    top: Optional[int] = None
    flatten: Optional[str] = None
    where: Optional[Expr] = None
    group_by: tuple[Expr, ...] = ()
    having: Optional[Expr] = None
    order_by: tuple[tuple[Expr, bool], ...] = ()    # (expr, descending)
    limit: Optional[int] = None
    offset: int = 0
    unsupported: Optional[str] = None               # join / derived table


@dataclass(frozen=True)
class ColumnDef:
    name: str
    type: TypeName
    words: tuple[Any, ...] = ()                     # constraint words and values, in order


@dataclass(frozen=True)
class CreateTable:
    name: str
    columns: tuple[ColumnDef, ...]
    if_not_exists: bool = False
    comment: str = ""


@dataclass(frozen=True)
class AlterAdd:
    table: str
    column: ColumnDef


@dataclass(frozen=True)
class AlterDrop:
    table: str
    column: str


@dataclass(frozen=True)
class DropTable:
    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class ShowTables:
    pass


@dataclass(frozen=True)
class ShowColumns:
    table: str


@dataclass(frozen=True)
class ShowCreate:
    table: str


@dataclass(frozen=True)
class Insert:
    table: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Expr, ...], ...]
    replace: bool = False


@dataclass(frozen=True)
class BulkInsert:
    table: str
    columns: tuple[str, ...]
    maps: tuple[tuple[Any, TypeName], ...]          # (position or JSONPath, type)
    transform: tuple[Expr, ...]
    source: str
    inline: bool
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    replace: bool = False


@dataclass(frozen=True)
class Delete:
    table: str
    where: Optional[Expr] = None


@dataclass(frozen=True)
class Explain:
    statement: "Statement"


@dataclass(frozen=True)
class Param:
    """@n in a BULK INSERT TRANSFORM: the n-th mapped source value."""

    index: int


Statement = Union[Select, CreateTable, AlterAdd, AlterDrop, DropTable, ShowTables, ShowColumns, ShowCreate, Insert,
                  BulkInsert, Delete, Explain]
