"""The SQL syntax tree: frozen dataclasses built by the parser, and `to_sql`, which prints
a tree back as SQL text that parses to the same tree (EXPLAIN shows expressions with it;
a view is stored as the printed text of its SELECT)."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from decimal import Decimal
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
    filter: Optional["Expr"] = None     # aggregate FILTER (WHERE …)


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
class BitNot:
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
class InSelect:
    """x [NOT] IN (SELECT …): the subquery's one column."""

    expr: "Expr"
    select: "Select"
    negated: bool


@dataclass(frozen=True)
class Exists:
    select: "Select"


@dataclass(frozen=True)
class Subquery:
    """A scalar subquery: one column, at most one row (NULL without one)."""

    select: "Select"


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
class Param:
    """@n in a BULK INSERT TRANSFORM: the n-th mapped source value."""

    index: int


CONDITIONS = ("Compare", "IsNull", "Between", "InList", "InSelect", "Exists", "Like", "And", "Or", "Not")


def children(e: Any) -> tuple[Any, ...]:
    """The operand expressions of an expression node (not the items of a set literal, not
    the inside of a subquery)."""
    if isinstance(e, (And, Or)):
        return e.terms
    if isinstance(e, BinOp):
        return e.operands
    if isinstance(e, Compare):
        return (e.left, e.right)
    if isinstance(e, Like):
        return (e.expr, e.pattern)
    if isinstance(e, Between):
        return (e.expr, e.lo, e.hi)
    if isinstance(e, InList):
        return (e.expr,) + e.items
    if isinstance(e, (Neg, Not, Cast, IsNull, BitNot, InSelect)):
        return (e.expr,)
    if isinstance(e, Func):
        return e.args + ((e.filter,) if e.filter is not None else ())
    if isinstance(e, Case):
        out = tuple(x for w in e.whens for x in w)
        return ((e.operand,) if e.operand is not None else ()) + out + \
            ((e.default,) if e.default is not None else ())
    if isinstance(e, Literal) and e.kind in ("set", "tuple"):
        return tuple(e.value)
    return ()


Expr = Union[Column, Literal, Func, Cast, BinOp, Neg, BitNot, Compare, IsNull, Between, InList, InSelect, Exists,
             Subquery, Like, And, Or, Not, Case, CurrentTime, Param]


# --- FROM ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TableRef:
    name: str
    alias: Optional[str] = None


@dataclass(frozen=True)
class SubqueryRef:
    select: "Select"
    alias: Optional[str] = None


@dataclass(frozen=True)
class Join:
    kind: str                       # inner | left | cross (right and full parse, then are refused)
    left: "FromItem"
    right: "FromItem"
    on: Optional[Expr] = None
    comma: bool = False             # `FROM a, b`: a cross join the WHERE clause may turn inner


FromItem = Union[TableRef, SubqueryRef, Join]


@dataclass(frozen=True)
class SelectItem:
    expr: Optional[Expr]            # None for * (or t.* with `star_table`)
    alias: Optional[str] = None
    star_table: Optional[str] = None


@dataclass(frozen=True)
class Select:
    items: tuple[SelectItem, ...]
    source: Optional[FromItem]      # None: SELECT without FROM (one row, no columns)
    distinct: bool = False
    top: Optional[int] = None
    hints: tuple[tuple[str, tuple[str, ...]], ...] = ()
    where: Optional[Expr] = None
    group_by: tuple[Expr, ...] = ()
    having: Optional[Expr] = None
    order_by: tuple[tuple[Expr, bool], ...] = ()    # (expr, descending)
    limit: Optional[int] = None
    offset: int = 0

    @property
    def table(self) -> Optional[str]:
        """The one table of a single-table SELECT (None otherwise)."""
        return self.source.name if isinstance(self.source, TableRef) else None


# --- other statements --------------------------------------------------------------------------------

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
class CreateView:
    name: str
    select: Select
    if_not_exists: bool = False
    replace: bool = False           # ALTER VIEW


@dataclass(frozen=True)
class DropView:
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
class ShowViews:
    pass


@dataclass(frozen=True)
class ShowDatabases:
    pass


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


Statement = Union[Select, CreateTable, AlterAdd, AlterDrop, DropTable, CreateView, DropView, ShowTables, ShowColumns,
                  ShowCreate, ShowViews, ShowDatabases, Insert, BulkInsert, Delete, Explain]

# Statements that only read (the server's authorization treats anything else as a write).
READS = (Select, ShowTables, ShowColumns, ShowCreate, ShowViews, ShowDatabases, Explain)


# --- printing ------------------------------------------------------------------------------------

def quote_name(name: str) -> str:
    """A name as it must be written to read back the same (quoted unless plain lower case)."""
    import re

    if re.fullmatch(r"[a-z_][a-z0-9_]*", name) and name not in _RESERVED_WORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


# Words that cannot be written bare as a name anywhere (printing quotes them).
_RESERVED_WORDS = frozenset(
    "from where group having order limit offset select case when then else end and or not distinct asc desc "
    "insert replace left right full inner cross join on as with filter is null true false in between like "
    "exists cast current_timestamp current_date top".split())

# Binding strength of each printed construct: a child that binds more loosely than its
# parent's operator is parenthesised.
_LEVEL = {"or": 1, "and": 2, "not": 3, "pred": 4, "bit": 5, "sum": 6, "prod": 7, "concat": 8, "unary": 9, "atom": 10}
_OP_LEVEL = {"&": "bit", "|": "bit", "<<": "bit", ">>": "bit", "+": "sum", "-": "sum", "*": "prod", "/": "prod",
             "%": "prod", "||": "concat"}


def _level(e: Any) -> int:
    if isinstance(e, Or):
        return _LEVEL["or"]
    if isinstance(e, And):
        return _LEVEL["and"]
    if isinstance(e, Not):
        return _LEVEL["not"]
    if isinstance(e, (Compare, IsNull, Between, InList, InSelect, Like, Exists)):
        return _LEVEL["pred"]
    if isinstance(e, BinOp):
        return _LEVEL[_OP_LEVEL[e.ops[0]]]
    if isinstance(e, (Neg, BitNot)):
        return _LEVEL["unary"]
    return _LEVEL["atom"]


def _wrap(e: Any, at_least: int) -> str:
    text = to_sql(e)
    return f"({text})" if _level(e) < at_least else text


def _literal_sql(lit: Literal) -> str:
    v, k = lit.value, lit.kind
    if k == "null":
        return "NULL"
    if k == "bool":
        return "TRUE" if v else "FALSE"
    if k in ("int", "decimal"):
        text = str(v) if k == "int" else format(v, "f")
        if k == "decimal" and "." not in text:
            text += "."
        return f"({text})" if text.startswith("-") else text
    if k == "string":
        return "'" + v.replace("'", "''") + "'"
    if k == "hex":
        return "x'" + v.replace("'", "''") + "'"
    if k == "set":
        return "[" + ", ".join(to_sql(i) for i in v) + "]"
    if k == "tuple":
        return "{" + ", ".join(to_sql(i) for i in v) + "}"
    if k == "timestamp" and isinstance(v, _dt.datetime):
        return "'" + v.isoformat() + "'"
    if isinstance(v, Decimal):
        return format(v, "f")
    return repr(v)


def to_sql(e: Any) -> str:
    """SQL text of an expression or a SELECT (parses back to the same tree)."""
    if isinstance(e, Select):
        return select_sql(e)
    if isinstance(e, Literal):
        return _literal_sql(e)
    if isinstance(e, Column):
        return (quote_name(e.table) + "." if e.table else "") + quote_name(e.name)
    if isinstance(e, Param):
        return f"@{e.index}"
    if isinstance(e, Func):
        if e.star:
            inner = "*"
        else:
            inner = ("DISTINCT " if e.distinct else "") + ", ".join(to_sql(a) for a in e.args)
        text = f"{e.name}({inner})"
        if e.filter is not None:
            text += f" FILTER (WHERE {to_sql(e.filter)})"
        return text
    if isinstance(e, Cast):
        tname = e.type.name + (f"({e.type.arg})" if e.type.arg is not None else "")
        return f"CAST({to_sql(e.expr)} AS {tname})"
    if isinstance(e, BinOp):
        lvl = _level(e)
        parts = [_wrap(e.operands[0], lvl)]
        for op, operand in zip(e.ops, e.operands[1:]):
            parts.append(f" {op} " + _wrap(operand, lvl + 1))
        return "".join(parts)
    if isinstance(e, Neg):
        return "-" + _wrap(e.expr, _LEVEL["unary"])
    if isinstance(e, BitNot):
        return "!" + _wrap(e.expr, _LEVEL["unary"])
    pred = _LEVEL["bit"]
    if isinstance(e, Compare):
        return f"{_wrap(e.left, pred)} {e.op} {_wrap(e.right, pred)}"
    if isinstance(e, IsNull):
        return f"{_wrap(e.expr, pred)} IS {'NOT ' if e.negated else ''}NULL"
    if isinstance(e, Between):
        return (f"{_wrap(e.expr, pred)} {'NOT ' if e.negated else ''}BETWEEN {_wrap(e.lo, pred)} "
                f"AND {_wrap(e.hi, pred)}")
    if isinstance(e, InList):
        return f"{_wrap(e.expr, pred)} {'NOT ' if e.negated else ''}IN ({', '.join(to_sql(i) for i in e.items)})"
    if isinstance(e, InSelect):
        return f"{_wrap(e.expr, pred)} {'NOT ' if e.negated else ''}IN ({select_sql(e.select)})"
    if isinstance(e, Like):
        return f"{_wrap(e.expr, pred)} {'NOT ' if e.negated else ''}LIKE {_wrap(e.pattern, pred)}"
    if isinstance(e, Exists):
        return f"EXISTS ({select_sql(e.select)})"
    if isinstance(e, Subquery):
        return f"({select_sql(e.select)})"
    if isinstance(e, Not):
        return "NOT " + _wrap(e.expr, _LEVEL["not"])
    if isinstance(e, And):
        return " AND ".join(_wrap(t, _LEVEL["and"] + 1) for t in e.terms)
    if isinstance(e, Or):
        return " OR ".join(_wrap(t, _LEVEL["or"] + 1) for t in e.terms)
    if isinstance(e, Case):
        parts = ["CASE"]
        if e.operand is not None:
            parts.append(to_sql(e.operand))
        for w, t in e.whens:
            parts += ["WHEN", to_sql(w), "THEN", to_sql(t)]
        if e.default is not None:
            parts += ["ELSE", to_sql(e.default)]
        parts.append("END")
        return " ".join(parts)
    if isinstance(e, CurrentTime):
        return "CURRENT_DATE" if e.date else "CURRENT_TIMESTAMP"
    raise TypeError(f"cannot print {type(e).__name__}")


def _from_sql(f: Any) -> str:
    if isinstance(f, TableRef):
        return quote_name(f.name) + (f" AS {quote_name(f.alias)}" if f.alias else "")
    if isinstance(f, SubqueryRef):
        return f"({select_sql(f.select)})" + (f" AS {quote_name(f.alias)}" if f.alias else "")
    assert isinstance(f, Join)
    right = _from_sql(f.right)
    if isinstance(f.right, Join):
        raise TypeError("a join's right side is a table or a subquery")
    if f.comma:
        return f"{_from_sql(f.left)}, {right}"
    kind = {"inner": "INNER JOIN", "left": "LEFT JOIN", "cross": "CROSS JOIN", "right": "RIGHT JOIN",
            "full": "FULL JOIN"}[f.kind]
    on = f" ON {to_sql(f.on)}" if f.on is not None else ""
    return f"{_from_sql(f.left)} {kind} {right}{on}"


def select_sql(s: Select) -> str:
    parts = ["SELECT"]
    if s.distinct:
        parts.append("DISTINCT")
    if s.top is not None:
        parts.append(f"TOP({s.top})")
    items = []
    for it in s.items:
        if it.expr is None:
            items.append(f"{quote_name(it.star_table)}.*" if it.star_table else "*")
        else:
            items.append(to_sql(it.expr) + (f" AS {quote_name(it.alias)}" if it.alias is not None else ""))
    parts.append(", ".join(items))
    if s.source is not None:
        parts.append("FROM " + _from_sql(s.source))
    if s.hints:
        parts.append("WITH (" + ", ".join(f"{n}({', '.join(quote_name(a) for a in args)})" for n, args in s.hints)
                     + ")")
    if s.where is not None:
        parts.append("WHERE " + to_sql(s.where))
    if s.group_by:
        parts.append("GROUP BY " + ", ".join(to_sql(g) for g in s.group_by))
    if s.having is not None:
        parts.append("HAVING " + to_sql(s.having))
    if s.order_by:
        parts.append("ORDER BY " + ", ".join(to_sql(e) + (" DESC" if d else "") for e, d in s.order_by))
    if s.limit is not None:
        parts.append(f"LIMIT {s.limit}" + (f" OFFSET {s.offset}" if s.offset else ""))
    return " ".join(parts)
