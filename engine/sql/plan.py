"""The SQL plan: what a statement runs, as a tree of operators (engine/sql/run.py runs
it; EXPLAIN prints it).

Operators that touch a table work on its bitmaps through the plan IR (engine/plan.py):
Scan reads the records of a row node, BitmapAggregate / BitmapGroupBy / TopNGroups answer
from the bitmaps without reading records. The others work on rows (tuples), batch by
batch: Filter, Project, Aggregate (grouping by hashing), Flatten, Sort, Limit, Distinct,
HashJoin, LookupJoin (a table joined on its _id, read by id), Derived (a subquery in FROM),
Values (rows without a table).

Every node has `cols`: its output columns (name and type), in row order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from engine import plan as P
from engine.sql import ast
from engine.sql.aggregates import Agg
from engine.sql.bind import BExpr, Col


@dataclass(eq=False)
class Node:
    cols: list[Col]

    def children(self) -> list["Node"]:
        return [v for v in vars(self).values() if isinstance(v, Node)]

    def describe(self) -> str:
        return type(self).__name__


@dataclass(eq=False)
class Values(Node):
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def describe(self) -> str:
        return f"Values {len(self.rows)} row{'s' if len(self.rows) != 1 else ''}"


@dataclass(eq=False)
class Scan(Node):
    """The records of `filter` in a table, with the values of `fds` (None: _id); rows come
    in record order."""

    table: Any = None
    filter: Any = None                  # P.RowNode
    fds: list[Any] = field(default_factory=list)

    def describe(self) -> str:
        names = ", ".join(c.name for c in self.cols) or "(no columns)"
        return f"Scan {self.table.name} [{names}] where {describe_row(self.filter, self.table)}"


@dataclass(eq=False)
class BitmapAggregate(Node):
    """One row: aggregates of plain columns answered from the bitmaps."""

    table: Any = None
    filter: Any = None
    aggs: list[Agg] = field(default_factory=list)
    filters: list[Any] = field(default_factory=list)    # per aggregate: its row node

    def describe(self) -> str:
        return (f"BitmapAggregate {self.table.name} [{', '.join(ast.to_sql(a.call) for a in self.aggs)}] "
                f"where {describe_row(self.filter, self.table)}")


@dataclass(eq=False)
class BitmapGroupBy(Node):
    """Groups of key columns (ID, STRING, BOOL, INT, TIMESTAMP; sets member by member)
    counted by the engine's GroupBy, the NULL groups split off; aggregates per group from
    the bitmaps. The filter is evaluated once and shared by every call."""

    table: Any = None
    filter: Any = None
    keys: list[Col] = field(default_factory=list)
    aggs: list[Agg] = field(default_factory=list)
    filters: list[Any] = field(default_factory=list)

    def describe(self) -> str:
        aggs = ", ".join(ast.to_sql(a.call) for a in self.aggs)
        return (f"BitmapGroupBy {self.table.name} by [{', '.join(_key_name(k) for k in self.keys)}]"
                + (f" aggregates [{aggs}]" if aggs else "") + f" where {describe_row(self.filter, self.table)}")


@dataclass(eq=False)
class TopNGroups(Node):
    """GROUP BY one column c selecting c and COUNT(*), ORDER BY COUNT(*) DESC [, c], LIMIT:
    the engine's TopN over c's rows."""

    table: Any = None
    filter: Any = None
    key: Optional[Col] = None
    kinds: list[str] = field(default_factory=list)      # per output column: "key" or "count"
    limit: int = 0
    offset: int = 0
    key_order: bool = True              # ties by key (else by row id)
    filtered: bool = False

    def describe(self) -> str:
        assert self.key is not None
        return (f"TopN {self.table.name} {_key_name(self.key)} n={self.limit + self.offset} "
                f"where {describe_row(self.filter, self.table)}")


@dataclass(eq=False)
class Filter(Node):
    child: Optional[Node] = None
    pred: Optional[BExpr] = None

    def describe(self) -> str:
        assert self.pred is not None
        return f"Filter {ast.to_sql(self.pred.ast)}"


@dataclass(eq=False)
class Project(Node):
    child: Optional[Node] = None
    exprs: list[BExpr] = field(default_factory=list)

    def describe(self) -> str:
        return "Project " + ", ".join(_expr_text(e) for e in self.exprs)


@dataclass(eq=False)
class Aggregate(Node):
    """Rows grouped by key expressions (hashing; NULL is a key of its own, a set by its
    members), then aggregates per group: the output row is keys + aggregate values. Without
    keys, one row."""

    child: Optional[Node] = None
    keys: list[BExpr] = field(default_factory=list)
    aggs: list[Agg] = field(default_factory=list)

    def describe(self) -> str:
        keys = ", ".join(_expr_text(k) for k in self.keys)
        aggs = ", ".join(ast.to_sql(a.call) for a in self.aggs)
        return "Aggregate" + (f" by [{keys}]" if keys else "") + (f" [{aggs}]" if aggs else "")


@dataclass(eq=False)
class Flatten(Node):
    """One row per member of the set in `slot` (the member as a one-member set); a row
    whose set is empty or NULL gives none (WITH (flatten(col)))."""

    child: Optional[Node] = None
    slot: int = 0

    def describe(self) -> str:
        return f"Flatten {self.cols[self.slot].name}"


@dataclass(eq=False)
class Sort(Node):
    child: Optional[Node] = None
    keys: list[tuple[int, bool]] = field(default_factory=list)    # (slot, descending)

    def describe(self) -> str:
        return "Sort " + ", ".join(f"{self.cols[s].name or f'#{s + 1}'}{' DESC' if d else ''}" for s, d in self.keys)


@dataclass(eq=False)
class Limit(Node):
    child: Optional[Node] = None
    limit: Optional[int] = None
    offset: int = 0

    def describe(self) -> str:
        return f"Limit {self.limit if self.limit is not None else 'all'} offset {self.offset}"


@dataclass(eq=False)
class Distinct(Node):
    child: Optional[Node] = None


@dataclass(eq=False)
class HashJoin(Node):
    """left ⋈ right on equal keys: the right side is read into a hash table (bounded by
    the statement's memory budget), the left side streams. LEFT keeps unmatched left rows
    with NULLs; `residual` (over the joined row) decides the rest of ON."""

    left: Optional[Node] = None
    right: Optional[Node] = None
    kind: str = "inner"
    left_keys: list[BExpr] = field(default_factory=list)
    right_keys: list[BExpr] = field(default_factory=list)
    residual: Optional[BExpr] = None

    def describe(self) -> str:
        on = " AND ".join(f"{_expr_text(a)} = {_expr_text(b)}" for a, b in zip(self.left_keys, self.right_keys))
        if self.residual is not None:
            on = (on + " AND " if on else "") + ast.to_sql(self.residual.ast)
        return f"HashJoin {self.kind}" + (f" on {on}" if on else " (every pair)")


@dataclass(eq=False)
class LookupJoin(Node):
    """stream ⋈ table on `key = table._id`: for each batch of the streamed side's rows,
    the table's records named by their keys are read by id (those its filter passes) — no
    scan of the table, no hash table of it. `table_left`: the table is the left side (an
    INNER join written the other way round); the joined row is still left + right. LEFT
    keeps a streamed row without a match, with NULLs."""

    stream: Optional[Node] = None
    table: Optional["Scan"] = None
    kind: str = "inner"
    key: Optional[BExpr] = None          # over the streamed row
    residual: Optional[BExpr] = None     # over the joined row
    table_left: bool = False
    id_key: Optional[BExpr] = None       # the table's _id as the statement names it

    def describe(self) -> str:
        assert self.table is not None and self.key is not None and self.id_key is not None
        a, b = _expr_text(self.key), _expr_text(self.id_key)
        on = f"{b} = {a}" if self.table_left else f"{a} = {b}"
        if self.residual is not None:
            on += " AND " + ast.to_sql(self.residual.ast)
        read = self.table.describe().replace("Scan ", "", 1)
        return f"LookupJoin {self.kind} on {on}, reading by _id {read}"

    def children(self) -> list[Node]:
        return [self.stream] if self.stream is not None else []     # the table is read, not scanned


@dataclass(eq=False)
class Derived(Node):
    """A subquery in FROM (or a view), named `alias`."""

    child: Optional[Node] = None
    alias: str = ""

    def describe(self) -> str:
        return f"Subquery {self.alias}"


# --- EXPLAIN -------------------------------------------------------------------------------------

def explain_lines(node: Node, depth: int = 0) -> list[str]:
    out = ["  " * depth + node.describe()]
    for child in node.children():
        out += explain_lines(child, depth + 1)
    return out


def _expr_text(e: BExpr) -> str:
    return ast.to_sql(e.ast) if e.ast is not None else "?"


def _key_name(c: Col) -> str:
    return f"flatten({c.name})" if c.flatten else c.name


def describe_row(node: Any, table: Any) -> str:
    """A row node with field names (what a filter reads), compact."""
    names = {f.id: f.name for f in table.index.definition.fields.values()} if table is not None else {}

    def show(n: Any) -> str:
        t = type(n)
        if t is P.Existence:
            return "all"
        if t is P.Empty:
            return "none"
        if t in (P.Intersect, P.Union_, P.Difference, P.Xor):
            word = {P.Intersect: "and", P.Union_: "or", P.Difference: "and not", P.Xor: "xor"}[t]
            return "(" + f" {word} ".join(show(c) for c in n.children) + ")"
        if t is P.RowOf:
            return f"{names.get(n.field, n.field)}[row {n.row}]"
        if t is P.AnyRow:
            return f"{names.get(n.field, n.field)} not null"
        if t is P.BsiNotNull:
            return f"{names.get(n.field, n.field)} not null"
        if t is P.BsiRange:
            lo = "" if n.lo is None else f"{n.lo} <= "
            hi = "" if n.hi is None else f" <= {n.hi}"
            return f"{lo}{names.get(n.field, n.field)}{hi} (stored)"
        if t is P.BsiIn:
            return f"{names.get(n.field, n.field)} in {len(n.values)} stored values"
        if t is P.RowSet:
            what = "rows" + (" not" if n.exclude else "") + (f" in {len(n.ids)} ids" if n.ids is not None else "")
            if n.lo is not None or n.hi is not None:
                what += f" {n.lo if n.lo is not None else ''}..{n.hi if n.hi is not None else ''}"
            return f"{names.get(n.field, n.field)} {what}"
        if t is P.ConstRow:
            return f"_id in {len(n.columns)} records"
        if t is P.IdRange:
            return f"{n.lo} <= _id" + (f" <= {n.hi}" if n.hi is not None else "")
        if t is P.Limit:
            return f"first {n.limit} after {n.offset} of {show(n.child)}"
        if t is P.HostFilter:
            return f"{show(n.child)} then per record: {n.label}"
        if t is P.Deferred:
            return f"at run time: {n.label}"
        if t is P.Materialized:
            return f"evaluated once: {n.label}"
        return type(n).__name__

    return show(node)
