"""SELECT → plan (engine/sql/plan.py). Planning resolves names, type-checks every
expression, lowers what it can onto the bitmaps and decides the operators; it reads only
the schema and the statement's snapshots and never runs a query (subqueries become nodes
that run when the statement does, once).

Shapes, single table (the WHERE clause is one row node; what it cannot put on bitmaps is
evaluated record by record inside it):
- aggregates of plain columns, no GROUP BY → BitmapAggregate (engine calls);
- GROUP BY / DISTINCT of plain key columns with such aggregates → BitmapGroupBy, or
  TopNGroups for `c, COUNT(*) … ORDER BY COUNT(*) DESC [, c] LIMIT n`;
- anything else → Scan of the columns needed, then row operators (Aggregate, Filter,
  Project, Sort, Limit, Distinct).
Joins: each table's own conditions go into its scan; an INNER join on `x = t._id` where
t's other columns are not used becomes a semi-join (t's matching ids become a row filter
on x's table, no join at all); otherwise a HashJoin. A subquery in FROM, or a view, that
only selects columns of one table under a WHERE is merged into the outer query (its
conditions join the outer ones on the bitmaps); any other is a Derived node.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, TypeGuard, Union, cast

from engine import plan as P
from engine.errors import ColumnNotFoundError, NotSupportedError, QueryExecutionError, TypeMismatchError
from engine.sql import ast
from engine.sql import plan as N
from engine.sql import typecheck as tc
from engine.sql.aggregates import Agg, aggregates_in, bind_aggregate, pushable
from engine.sql.bind import Binder, Col, Scope, Subqueries
from engine.sql.context import Context, Table
from engine.sql.lower import Lowerer
from engine.sql.run import all_rows
from engine.sql.types import sql_type_of
from engine.sql.typecheck import T

ID_COLUMN = "_id"
MAX_SUBQUERY_DEPTH = 16


# --- FROM items ----------------------------------------------------------------------------------

@dataclass(eq=False)
class TableSrc:
    """A base table (or a view / subquery merged into it): its columns and its filter."""

    table: Table
    alias: str
    cols: list[Col]
    conds: list[Any] = field(default_factory=list)            # (lowerer cols, AST) pairs to AND
    extra: list[P.RowNode] = field(default_factory=list)      # semi-join filters


@dataclass(eq=False)
class NodeSrc:
    """Rows that come from a plan node (a subquery in FROM, a view)."""

    node: N.Node
    alias: str
    cols: list[Col]


@dataclass(eq=False)
class JoinSrc:
    kind: str
    left: "Src"
    right: "Src"
    on: Optional[Any]
    comma: bool


Src = Union[TableSrc, NodeSrc, JoinSrc]


def _items_of(src: Src) -> list[Union[TableSrc, NodeSrc]]:
    if isinstance(src, JoinSrc):
        return _items_of(src.left) + _items_of(src.right)
    return [src]


def _conjuncts(e: Any) -> list[Any]:
    if e is None:
        return []
    if isinstance(e, ast.And):
        return [x for t in e.terms for x in _conjuncts(t)]
    return [e]


def _and(terms: list[Any]) -> Any:
    return None if not terms else terms[0] if len(terms) == 1 else ast.And(tuple(terms))


def _column_refs(e: Any, out: list[ast.Column]) -> None:
    if isinstance(e, ast.Column):
        out.append(e)
        return
    for sub in ast.children(e):
        _column_refs(sub, out)


# --- the planner ---------------------------------------------------------------------------------

class Planner(Subqueries):
    def __init__(self, ctx: Context, depth: int = 0) -> None:
        self.ctx = ctx
        self.depth = depth

    # --- subqueries (the binder and the lowerer call these) ------------------------------------

    def _sub(self, select: ast.Select, outer: Scope) -> N.Node:
        if self.depth >= MAX_SUBQUERY_DEPTH:
            raise QueryExecutionError(f"subqueries nested deeper than {MAX_SUBQUERY_DEPTH}",
                                      name="QUERY_LIMIT_EXCEEDED")
        node = Planner(self.ctx, self.depth + 1).select(select, outer)
        if len(node.cols) != 1:
            raise TypeMismatchError(f"a subquery used as a value returns one column, not {len(node.cols)}")
        return node

    def scalar(self, select: ast.Select, outer: Scope) -> tuple[T, Callable[[], Any]]:
        node = self._sub(select, outer)
        ctx = self.ctx

        def compute() -> Any:
            found = all_rows(N.Limit([*node.cols], node, 2, 0), ctx)
            if len(found) > 1:
                raise QueryExecutionError("a subquery used as a value returned more than one row",
                                          name="SINGLE_ROW_EXPECTED")
            return found[0][0] if found else None

        return node.cols[0].type, lambda: ctx.once(node, compute)

    def column(self, select: ast.Select, outer: Scope) -> tuple[T, Callable[[], tuple[frozenset[Any], bool]]]:
        node = self._sub(select, outer)
        ctx = self.ctx

        def compute() -> tuple[frozenset[Any], bool]:
            values = [r[0] for r in all_rows(node, ctx)]
            return (frozenset(frozenset(v) if isinstance(v, list) else v for v in values if v is not None),
                    any(v is None for v in values))

        return node.cols[0].type, lambda: ctx.once(node, compute)

    def exists(self, select: ast.Select, outer: Scope) -> Callable[[], bool]:
        if self.depth >= MAX_SUBQUERY_DEPTH:
            raise QueryExecutionError(f"subqueries nested deeper than {MAX_SUBQUERY_DEPTH}",
                                      name="QUERY_LIMIT_EXCEEDED")
        node = Planner(self.ctx, self.depth + 1).select(select, outer)
        ctx = self.ctx
        return lambda: ctx.once(node, lambda: bool(all_rows(N.Limit(list(node.cols), node, 1, 0), ctx)))

    # --- SELECT -----------------------------------------------------------------------------------

    def select(self, stmt: ast.Select, outer: Optional[Scope] = None) -> N.Node:
        """The plan of a SELECT; its root's columns are the result's columns."""
        if stmt.top is not None and stmt.limit is not None:
            raise TypeMismatchError("TOP and LIMIT cannot be used together")
        limit = stmt.top if stmt.top is not None else stmt.limit
        src = self._from(stmt.source) if stmt.source is not None else None
        self._hints(stmt, src)
        items = self._items(stmt, src)
        where = stmt.where
        if src is None:
            if stmt.hints:
                raise TypeMismatchError("a query hint needs a FROM clause")
            base: N.Node = N.Values([], [()])
            scope = Scope([], outer)
            if where is not None:
                base = N.Filter([], base, Binder(scope, self, where="WHERE").condition(where))
            return self._pipeline(stmt, items, base, scope, limit, None)
        if isinstance(src, TableSrc):
            return self._single(stmt, items, src, limit, outer)
        builder = _JoinBuilder(self, outer, stmt, items, src)
        reduced, rest = builder.reduce(src, _conjuncts(stmt.where))
        if isinstance(reduced, TableSrc):
            # every other table became a filter on this one (semi-joins)
            return self._single(_with_where(stmt, _and(rest)), items, reduced, limit, outer)
        node, scope = builder.plan(reduced, rest)
        return self._pipeline(stmt, items, node, scope, limit, None)

    # --- FROM ---------------------------------------------------------------------------------------

    def _from(self, f: Any) -> Src:
        if isinstance(f, ast.TableRef):
            from engine.sql.views import view_select

            view = view_select(self.ctx.holder, f.name)
            if view is not None:
                return self._derived(view, f.alias or f.name)
            table = self.ctx.table(f.name)
            alias = f.alias or f.name
            quals = (alias,) if f.alias is None else (alias, f.name)
            return TableSrc(table, alias, table_cols(table, quals))
        if isinstance(f, ast.SubqueryRef):
            return self._derived(f.select, f.alias or "subquery")
        assert isinstance(f, ast.Join)
        if f.kind in ("right", "full"):
            raise NotSupportedError(f"{f.kind.upper()} joins are not supported (INNER, LEFT and CROSS are)")
        left, right = self._from(f.left), self._from(f.right)
        if f.kind == "cross" and f.on is not None:
            raise TypeMismatchError("a CROSS JOIN takes no ON condition")
        if f.kind in ("inner", "left") and f.on is None and not f.comma:
            raise TypeMismatchError(f"{f.kind.upper()} JOIN needs an ON condition")
        names = [i.alias for i in _items_of(left) + _items_of(right)]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise TypeMismatchError(f"table name '{sorted(dupes)[0]}' appears twice in FROM: give one an alias")
        return JoinSrc(f.kind, left, right, f.on, f.comma)

    def _derived(self, select: ast.Select, alias: str) -> Src:
        merged = self._merge(select, alias)
        if merged is not None:
            return merged
        node = Planner(self.ctx, self.depth + 1).select(select)
        cols = [Col(c.name, c.type, (alias,)) for c in node.cols]
        return NodeSrc(N.Derived(cols, node, alias), alias, cols)

    def _merge(self, select: ast.Select, alias: str) -> Optional[TableSrc]:
        """A subquery (or view) `SELECT columns FROM t [WHERE …]` as the table itself with
        renamed columns and its WHERE as an extra condition (so it stays on the bitmaps)."""
        s = select
        if not isinstance(s.source, ast.TableRef) or s.distinct or s.group_by or s.having is not None or \
                s.order_by or s.limit is not None or s.top is not None or s.hints:
            return None
        from engine.sql.views import view_select

        if view_select(self.ctx.holder, s.source.name) is not None:
            return None
        inner = self._from(s.source)
        assert isinstance(inner, TableSrc)
        cols: list[Col] = []
        scope = Scope(inner.cols)
        for it in s.items:
            if it.expr is None:
                if it.star_table is not None and not scope.has_table(it.star_table):
                    return None
                cols += [Col(c.name, c.type, (alias,), c.table, c.fd) for c in inner.cols
                         if it.star_table is None or it.star_table in c.tables]
                continue
            if not isinstance(it.expr, ast.Column):
                return None
            slot = scope.find(it.expr)
            if slot is None:
                Binder(scope, self).bind(it.expr)        # reports the unknown column
                return None
            c = inner.cols[slot]
            cols.append(Col(it.alias or c.name, c.type, (alias,), c.table, c.fd))
        names = [c.name for c in cols]
        if len(set(names)) != len(names):
            return None
        src = TableSrc(inner.table, alias, cols, list(inner.conds), list(inner.extra))
        if s.where is not None:
            src.conds.append((inner.cols, s.where))
        return src

    def _hints(self, stmt: ast.Select, src: Optional[Src]) -> None:
        for name, args in stmt.hints:
            if name != "flatten":
                raise TypeMismatchError(f"unknown query hint '{name}'")
            if len(args) != 1:
                raise TypeMismatchError(f"query hint 'flatten' expected 1 parameter(s) (column name), got "
                                        f"{len(args)} parameters")
            assert src is not None
            cols = [c for i in _items_of(src) for c in i.cols]
            slot = Scope(cols).find(ast.Column(args[0]))
            if slot is None:
                raise TypeMismatchError(f"column '{args[0]}' not found")
            col = cols[slot]
            if not tc.is_set(col.type):
                raise TypeMismatchError(f"flatten needs a set column; {col.name} is {col.type.upper}")
            col.flatten = True

    def _items(self, stmt: ast.Select, src: Optional[Src]) -> list[ast.SelectItem]:
        out: list[ast.SelectItem] = []
        for it in stmt.items:
            if it.expr is not None:
                out.append(it)
                continue
            if src is None:
                raise TypeMismatchError("SELECT * needs a FROM clause")
            found = False
            for item in _items_of(src):
                if it.star_table is not None and it.star_table not in (item.alias,) and \
                        not any(it.star_table in c.tables for c in item.cols):
                    continue
                found = True
                qual = item.alias if isinstance(src, JoinSrc) else None
                out += [ast.SelectItem(ast.Column(c.name, qual), None) for c in item.cols]
            if not found:
                raise ColumnNotFoundError(f"table or alias '{it.star_table}' not found")
        return out

    # --- a single table ---------------------------------------------------------------------------

    def _lowerer(self, src: TableSrc, outer: Optional[Scope]) -> Lowerer:
        return Lowerer(src.table, src.cols, self, outer)

    def _filter(self, src: TableSrc, where: Any, outer: Optional[Scope]) -> P.RowNode:
        """The table's records that pass `where` and the conditions merged into it."""
        nodes: list[P.RowNode] = []
        for cols, cond in src.conds:
            nodes.append(Lowerer(src.table, cols, self, outer).lower(cond))
        if where is not None:
            nodes.append(self._lowerer(src, outer).lower(where))
        nodes += src.extra
        if not nodes:
            return self._lowerer(src, outer).existence()
        return nodes[0] if len(nodes) == 1 else P.Intersect(tuple(nodes))

    def _single(self, stmt: ast.Select, items: list[ast.SelectItem], src: TableSrc, limit: Optional[int],
                outer: Optional[Scope]) -> N.Node:
        filt = self._filter(src, stmt.where, outer)
        scope = Scope(src.cols, outer)
        fast = self._bitmap_shape(stmt, items, src, scope, filt, limit, outer)
        if fast is not None:
            return fast
        needed = self._needed(stmt, items, src.cols, scope)
        pushed_limit = not stmt.order_by and not stmt.distinct and not stmt.group_by and \
            not self._aggs(stmt, items) and stmt.having is None and (limit is not None or stmt.offset)
        scan_filter = P.Limit(filt, limit, stmt.offset) if pushed_limit else filt
        scan = N.Scan(needed, src.table, scan_filter, [c.fd for c in needed])
        if pushed_limit:
            return self._pipeline(stmt, items, scan, Scope(needed, outer), None, src, skip_offset=True)
        return self._pipeline(stmt, items, scan, Scope(needed, outer), limit, src)

    def _needed(self, stmt: ast.Select, items: list[ast.SelectItem], cols: list[Col], scope: Scope) -> list[Col]:
        """The columns of the table the statement reads after WHERE (select list, GROUP BY,
        HAVING, ORDER BY), in table order."""
        refs: list[ast.Column] = []
        for it in items:
            _column_refs(it.expr, refs)
        for e in list(stmt.group_by) + [e for e, _ in stmt.order_by] + ([stmt.having] if stmt.having else []):
            _column_refs(e, refs)
        used = set()
        for r in refs:
            try:
                slot = scope.find(r)
            except TypeMismatchError:
                raise
            if slot is not None:
                used.add(slot)
        return [c for i, c in enumerate(cols) if i in used]

    def _aggs(self, stmt: ast.Select, items: list[ast.SelectItem]) -> list[ast.Func]:
        found: list[ast.Func] = []
        for it in items:
            aggregates_in(it.expr, found)
        if stmt.having is not None:
            aggregates_in(stmt.having, found)
        for e, _ in stmt.order_by:
            aggregates_in(e, found)
        return found

    def _bitmap_shape(self, stmt: ast.Select, items: list[ast.SelectItem], src: TableSrc, scope: Scope,
                      filt: P.RowNode, limit: Optional[int], outer: Optional[Scope]) -> Optional[N.Node]:
        """The plan that answers from the bitmaps alone, when the statement has that shape."""
        calls = self._aggs(stmt, items)
        keys_ast = self._group_keys(stmt, items, scope)
        if not calls and not keys_ast and not stmt.distinct:
            return None
        if stmt.distinct and (calls or stmt.group_by):
            return None                                   # DISTINCT over grouped rows: row operators
        if stmt.distinct:
            keys_ast = [it.expr for it in items]
        binder = Binder(scope, self)
        key_cols: list[Col] = []
        for k in keys_ast:
            if not isinstance(k, ast.Column):
                return None
            slot = scope.find(k)
            if slot is None:
                return None
            col = src.cols[slot]
            if col.fd is None:
                return None
            t = col.fd.options.type
            if t in ("decimal", "float") or (t in ("set", "time") and not col.flatten):
                return None
            key_cols.append(col)
        aggs = [bind_aggregate(f, binder) for f in calls]
        if not all(pushable(a) for a in aggs):
            return None
        lowerer = self._lowerer(src, outer)
        filters = [lowerer.lower(a.call.filter) if a.call.filter is not None else None for a in aggs]
        if key_cols:
            top = self._topn(stmt, items, src, scope, key_cols, aggs, filters, filt, limit)
            if top is not None:
                return top
        cols = [Col(_output_name(k), c.type, (), None, None, c.flatten) for k, c in zip(keys_ast, key_cols)] + \
            [Col("", a.type) for a in aggs]
        if key_cols:
            node: N.Node = N.BitmapGroupBy(cols, src.table, filt, key_cols, aggs, filters)
        else:
            node = N.BitmapAggregate(cols, src.table, filt, aggs, filters)
        return self._after_grouping(stmt, items, node, scope, keys_ast, key_cols, calls, aggs, limit)

    def _topn(self, stmt: ast.Select, items: list[ast.SelectItem], src: TableSrc, scope: Scope,
              key_cols: list[Col], aggs: list[Agg], filters: list[Any], filt: P.RowNode,
              limit: Optional[int]) -> Optional[N.Node]:
        if len(key_cols) != 1 or stmt.having is not None or stmt.distinct or not limit or not stmt.order_by:
            return None
        key = key_cols[0]
        assert key.fd is not None
        if key.fd.options.type not in ("set", "mutex", "time") or key.fd.options.type == "time":
            return None
        star = ast.Func("COUNT", (), False, True)
        kinds: list[Optional[str]] = []
        for it in items:
            e = it.expr
            if e == star:
                kinds.append("count")
            elif isinstance(e, ast.Column) and (slot := scope.find(e)) is not None and src.cols[slot] is key:
                kinds.append("key")
            else:
                kinds.append(None)
        if None in kinds or any(f is not None for f in filters):
            return None
        order = [(self._topn_kind(e, key, items, kinds, scope, src), d) for e, d in stmt.order_by]
        # Ties: TopN orders them by key (string keys as strings), GroupBy by row id, so
        # without `c ASC` only an ID column's order is the same.
        if order not in ([("count", True), ("key", False)], [("count", True)]) or \
                (len(order) == 1 and key.fd.options.keys):
            return None
        cols = [Col(_output_name(it.expr, it.alias), key.type if k == "key" else tc.INT)
                for it, k in zip(items, kinds)]
        return N.TopNGroups(cols, src.table, filt, key, [k for k in kinds if k], limit, stmt.offset,
                            len(order) == 2, stmt.where is not None or bool(src.conds) or bool(src.extra))

    def _topn_kind(self, e: Any, key: Col, items: list[ast.SelectItem], kinds: list[Optional[str]],
                   scope: Scope, src: TableSrc) -> Optional[str]:
        if isinstance(e, ast.Literal) and e.kind == "int":
            return kinds[e.value - 1] if 1 <= e.value <= len(kinds) else None
        if isinstance(e, ast.Func):
            return "count" if e == ast.Func("COUNT", (), False, True) else None
        if isinstance(e, ast.Column):
            for it, k in zip(items, kinds):
                if it.alias is not None and it.alias == e.name and e.table is None:
                    return k
            slot = scope.find(e)
            if slot is not None and src.cols[slot] is key:
                return "key"
        return None

    # --- GROUP BY keys ----------------------------------------------------------------------------

    def _group_keys(self, stmt: ast.Select, items: list[ast.SelectItem], scope: Scope) -> list[Any]:
        """GROUP BY expressions with positions and select-list aliases resolved."""
        out = []
        g: Optional[ast.Expr]                    # may become a select item's expr (None for a star)
        for g in stmt.group_by:
            if isinstance(g, ast.Literal) and g.kind == "int":
                if not 1 <= g.value <= len(items):
                    raise TypeMismatchError(f"GROUP BY position {g.value} is not in the select list")
                g = items[g.value - 1].expr
            elif isinstance(g, ast.Column) and g.table is None and scope.find(g) is None:
                for it in items:
                    if it.alias == g.name:
                        g = it.expr
                        break
            if isinstance(g, ast.Func) and g.name in ("COUNT", "SUM", "AVG", "MIN", "MAX", "PERCENTILE", "CORR",
                                                      "VAR", "STDDEV"):
                raise TypeMismatchError(f"aggregate {g.name}() is not allowed in GROUP BY")
            out.append(g)
        return out

    # --- the row operators ------------------------------------------------------------------------

    def _pipeline(self, stmt: ast.Select, items: list[ast.SelectItem], node: N.Node, scope: Scope,
                  limit: Optional[int], src: Optional[TableSrc], skip_offset: bool = False) -> N.Node:
        calls = self._aggs(stmt, items)
        keys_ast = self._group_keys(stmt, items, scope)
        offset = 0 if skip_offset else stmt.offset
        if calls or keys_ast or stmt.having is not None:
            binder = Binder(scope, self)
            for k in keys_ast:
                inner: list[ast.Func] = []
                aggregates_in(k, inner)
            keys = [binder.bind(k) for k in keys_ast]
            aggs = [bind_aggregate(f, binder) for f in calls]
            for k in keys:
                if k.col is not None and k.col.flatten and tc.is_set(k.type):
                    node = N.Flatten(node.cols, node, k.slot)  # type: ignore[arg-type]
            cols = [Col(_output_name(ka), k.type, (), None, None) for ka, k in zip(keys_ast, keys)] + \
                [Col("", a.type) for a in aggs]
            key_cols = [k.col for k in keys]
            grouped = N.Aggregate(cols, node, keys, aggs)
            return self._after_grouping(stmt, items, grouped, scope, keys_ast, key_cols, calls, aggs, limit,
                                        offset)
        binder = Binder(scope, self)
        exprs = [binder.bind(it.expr) for it in items]
        names = [_output_name(it.expr, it.alias) for it in items]
        if stmt.distinct:
            out = N.Project([Col(n, e.type) for n, e in zip(names, exprs)], node, exprs)
            node2: N.Node = N.Distinct(out.cols, out)
            return self._order_limit(stmt, items, node2, None, limit, offset, distinct=True)
        return self._order_limit(stmt, items, node, binder, limit, offset, exprs=exprs, names=names)

    def _after_grouping(self, stmt: ast.Select, items: list[ast.SelectItem], node: N.Node, scope: Scope,
                        keys_ast: list[Any], key_cols: Sequence[Optional[Col]], calls: list[ast.Func],
                        aggs: list[Agg], limit: Optional[int], offset: Optional[int] = None) -> N.Node:
        """HAVING, the select list, ORDER BY and LIMIT over grouped rows (keys + aggregates)."""
        grouped: dict[Any, int] = {}
        types: dict[Any, T] = {}
        for i, k in enumerate(keys_ast):
            grouped.setdefault(k, i)
            types.setdefault(k, node.cols[i].type)
        for j, (f, a) in enumerate(zip(calls, aggs)):
            grouped[f] = len(keys_ast) + j
            types[f] = a.type
        gcols = {c: i for i, c in enumerate(key_cols) if c is not None}
        binder = Binder(scope, self, grouped, types, gcols)
        if stmt.having is not None:
            having = _substitute_aliases(stmt.having, items, scope)
            node = N.Filter(node.cols, node, binder.condition(having))
        exprs = [binder.bind(it.expr) for it in items]
        names = [_output_name(it.expr, it.alias) for it in items]
        off = stmt.offset if offset is None else offset
        if stmt.distinct:
            out = N.Project([Col(n, e.type) for n, e in zip(names, exprs)], node, exprs)
            return self._order_limit(stmt, items, N.Distinct(out.cols, out), None, limit, off, distinct=True)
        return self._order_limit(stmt, items, node, binder, limit, off, exprs=exprs, names=names, scope=scope)

    def _order_limit(self, stmt: ast.Select, items: list[ast.SelectItem], node: N.Node, binder: Optional[Binder],
                     limit: Optional[int], offset: int, *, exprs: Optional[list[Any]] = None,
                     names: Optional[list[str]] = None, distinct: bool = False,
                     scope: Optional[Scope] = None) -> N.Node:
        """Project the select list (and any ORDER BY expression it lacks, hidden), sort,
        cut to LIMIT/OFFSET, drop the hidden columns."""
        keys: list[tuple[int, bool]] = []
        hidden: list[Any] = []
        n = len(items)
        for e, desc in stmt.order_by:
            slot = self._order_slot(e, items, binder, scope)
            if slot is None:
                if distinct or binder is None:
                    raise TypeMismatchError(f"ORDER BY {ast.to_sql(e)}: with SELECT DISTINCT, ORDER BY takes "
                                            f"columns of the select list")
                grouped = binder.grouped is not None
                b = binder.bind(_substitute_aliases(e, items, binder.scope) if grouped else e)
                if not grouped:
                    _check_sortable(b.type, e)
                hidden.append(b)
                slot = n + len(hidden) - 1
            keys.append((slot, desc))
        if not distinct:
            assert exprs is not None and names is not None
            for s, _ in keys:
                if s < n and (binder is None or binder.grouped is None):
                    _check_sortable(exprs[s].type, items[s].expr)   # a set sorts only as a group key
            cols = [Col(nm, e.type) for nm, e in zip(names, exprs)] + [Col("", h.type) for h in hidden]
            node = N.Project(cols, node, list(exprs) + hidden)
        if keys:
            node = N.Sort(node.cols, node, keys)
        if limit is not None or offset:
            node = N.Limit(node.cols, node, limit, offset)
        if hidden:
            visible = node.cols[:n]
            node = N.Project(visible, node, [_passthrough(i, c.type) for i, c in enumerate(visible)])
        return node

    def _order_slot(self, e: Any, items: list[ast.SelectItem], binder: Optional[Binder],
                    scope: Optional[Scope]) -> Optional[int]:
        if isinstance(e, ast.Literal) and e.kind == "int":
            if not 1 <= e.value <= len(items):
                raise TypeMismatchError(f"ORDER BY position {e.value} is out of range")
            return e.value - 1
        if isinstance(e, ast.Column) and e.table is None:
            for i, it in enumerate(items):
                if it.alias is not None and it.alias == e.name:
                    return i
        for i, it in enumerate(items):
            if it.expr == e:
                return i
        return None


def _on_conditions(src: Src) -> list[Any]:
    if isinstance(src, JoinSrc):
        return _on_conditions(src.left) + _on_conditions(src.right) + _conjuncts(src.on)
    return []


def _passthrough(i: int, t: T) -> Any:
    from engine.sql.bind import BExpr

    return BExpr(t, lambda row: row[i], ast.Column(f"#{i + 1}"), slot=i)


def _check_sortable(t: T, e: Any) -> None:
    if tc.is_set(t):
        raise TypeMismatchError(f"cannot ORDER BY a set ({ast.to_sql(e)})")


def _substitute_aliases(e: Any, items: list[ast.SelectItem], scope: Scope) -> Any:
    """Select-list aliases in HAVING / ORDER BY expressions replaced by what they name
    (a name that is also a column of the table stays the column)."""
    aliases = {it.alias: it.expr for it in items if it.alias is not None and it.expr is not None}
    if not aliases:
        return e

    def sub(x: Any) -> Any:
        if isinstance(x, ast.Column) and x.table is None and x.name in aliases and scope.find(x) is None:
            return aliases[x.name]
        return _rebuild(x, sub)

    return sub(e)


def _rebuild(e: Any, f: Callable[[Any], Any]) -> Any:
    """e with f applied to each child expression."""
    import dataclasses

    if not dataclasses.is_dataclass(e) or isinstance(e, (ast.Select, ast.Column, ast.Literal)):
        if isinstance(e, ast.Literal) and e.kind in ("set", "tuple"):
            return ast.Literal(tuple(f(x) for x in e.value), e.kind)
        return e
    changes = {}
    for fld in dataclasses.fields(e):
        v = getattr(e, fld.name)
        if isinstance(v, tuple):
            nv = tuple(tuple(f(y) for y in x) if isinstance(x, tuple) else f(x) if dataclasses.is_dataclass(x)
                       else x for x in v)
        elif dataclasses.is_dataclass(v) and not isinstance(v, ast.Select):
            nv = f(v)
        else:
            continue
        changes[fld.name] = nv
    return dataclasses.replace(cast(Any, e), **changes)     # an expression instance, never a class


def _output_name(e: Any, alias: Optional[str] = None) -> str:
    if alias is not None:
        return alias
    if isinstance(e, ast.Column):
        return e.name
    return ""                              # FeatureBase leaves unaliased expressions unnamed


def table_cols(table: Table, quals: tuple[str, ...]) -> list[Col]:
    """The columns of a table: _id, then its fields in creation order."""
    idx = table.index
    id_type = tc.STRING if table.keyed else tc.ID
    cols = [Col(ID_COLUMN, id_type, quals, table, None)]
    for fd in idx.definition.fields.values():
        cols.append(Col(fd.name, sql_column_type(fd), quals, table, fd))
    return cols


def sql_column_type(fd: Any) -> T:
    name = sql_type_of(fd.options)
    if name.startswith("decimal("):
        return tc.DECIMAL(fd.options.scale)
    if name.startswith("float"):
        return tc.FLOAT
    return T(name)


# --- joins ---------------------------------------------------------------------------------------

class _JoinBuilder:
    """Plans a FROM with joins: conditions pushed to the tables they read, semi-joins where
    a table joined on its _id contributes nothing else, hash joins for the rest."""

    def __init__(self, planner: Planner, outer: Optional[Scope], stmt: ast.Select, items: list[ast.SelectItem],
                 src: Src) -> None:
        self.p = planner
        self.outer = outer
        exprs = [it.expr for it in items] + list(stmt.group_by) + [e for e, _ in stmt.order_by] + \
            ([stmt.having] if stmt.having is not None else [])
        refs: list[ast.Column] = []
        for e in exprs + _conjuncts(stmt.where) + _on_conditions(src):
            _column_refs(e, refs)
        full = Scope([c for i in _items_of(src) for c in i.cols], outer)
        self.refs = refs
        self.owners = [self._owner(r, full, src) for r in refs]
        self.pushed: dict[int, list[Any]] = {}          # id(item) -> conditions moved into it

    def _owner(self, ref: ast.Column, full: Scope, src: Src) -> Optional[Any]:
        slot = full.find(ref)
        if slot is None:
            return None
        col = full.cols[slot]
        for item in _items_of(src):
            if any(c is col for c in item.cols):
                return item
        return None

    # --- reduce: move conditions, turn joins into semi-joins -------------------------------------

    def reduce(self, src: Src, where: list[Any]) -> tuple[Src, list[Any]]:
        """Conditions that read one table go into it — unless the table is on the NULL side
        of a LEFT JOIN (there WHERE filters the joined rows); each join's ON is split into
        equality keys, pushed conditions and a residual. Returns the FROM left (a join tree,
        or one table when every other one became a semi-join) and the WHERE left."""
        nullable = self._nullable(src)
        rest = []
        for cond in where:
            owner = self._single_owner(cond)
            if owner is not None and owner not in nullable and not _has_subquery(cond):
                self._push(owner, cond)
            else:
                rest.append(cond)
        return self._reduce(src, rest)

    def _reduce(self, src: Src, where: list[Any]) -> tuple[Src, list[Any]]:
        if not isinstance(src, JoinSrc):
            return src, where
        left, where = self._reduce(src.left, where)
        right, where = self._reduce(src.right, where)
        left_items, right_items = _items_of(left), _items_of(right)
        conds = _conjuncts(src.on)
        if src.comma or src.kind == "cross":
            # equality conditions of WHERE that tie this table to the ones before it
            taken = [c for c in where if self._equi(c, left_items, right_items) is not None]
            where = [c for c in where if not any(c is t for t in taken)]
            conds = conds + taken
        keys, residual = [], []
        for c in conds:
            pair = self._equi(c, left_items, right_items)
            if pair is not None:
                keys.append((c, pair))
                continue
            owner = self._single_owner(c)
            if owner is not None and not _has_subquery(c) and (
                    owner in right_items or (src.kind != "left" and owner in left_items)):
                self._push(owner, c)
                continue
            residual.append(c)
        kind = "inner" if src.kind in ("inner", "cross") else src.kind
        if kind == "inner" and len(keys) == 1 and not residual and len(right_items) == 1 and \
                self._semi_join(keys[0], right_items[0]):
            return left, where
        if kind == "inner" and len(keys) == 1 and not residual and len(left_items) == 1 and \
                self._semi_join((keys[0][0], (keys[0][1][1], keys[0][1][0])), left_items[0]):
            return right, where
        joined = JoinSrc(kind, left, right, None, False)
        joined.keys = keys                               # type: ignore[attr-defined]
        joined.residual = residual                       # type: ignore[attr-defined]
        return joined, where

    def _nullable(self, src: Src) -> set[Any]:
        if not isinstance(src, JoinSrc):
            return set()
        out = self._nullable(src.left) | self._nullable(src.right)
        if src.kind == "left":
            out |= set(_items_of(src.right))
        return out

    def _owners_of(self, cond: Any) -> set[Any]:
        refs: list[ast.Column] = []
        _column_refs(cond, refs)
        found: set[Any] = set()
        for r in refs:
            for ref, owner in zip(self.refs, self.owners):
                if ref is r:
                    found.add(owner if owner is not None else "?")
        return found

    def _single_owner(self, cond: Any) -> Optional[Any]:
        owners = self._owners_of(cond)
        if len(owners) == 1:
            o = next(iter(owners))
            return o if o != "?" else None
        return None

    def _push(self, item: Any, cond: Any) -> None:
        self.pushed.setdefault(id(item), []).append(cond)
        if isinstance(item, TableSrc):
            item.conds.append((item.cols, cond))
        else:
            binder = Binder(Scope(item.cols, self.outer), self.p, where="WHERE")
            item.node = N.Filter(item.node.cols, item.node, binder.condition(cond))

    def _equi(self, cond: Any, left: list[Any], right: list[Any]) -> Optional[tuple[Any, Any]]:
        """(left expression, right expression) when cond is `a = b` with a reading only
        tables of `left` and b only of `right` (either order)."""
        if not isinstance(cond, ast.Compare) or cond.op != "=":
            return None
        a, b = self._owners_of(cond.left), self._owners_of(cond.right)
        if not a or not b or "?" in a or "?" in b:
            return None
        if a <= set(left) and b <= set(right):
            return cond.left, cond.right
        if b <= set(left) and a <= set(right):
            return cond.right, cond.left
        return None

    def _semi_join(self, key: tuple[Any, tuple[Any, Any]], right: Any) -> bool:
        """An INNER join on `x = r._id` where nothing else of r is used: r's matching records
        become a filter on x's table (FeatureBase's Distinct(index=…) join, as a row node)."""
        cond, (lexpr, rexpr) = key
        if not isinstance(right, TableSrc) or not isinstance(lexpr, ast.Column) or not isinstance(rexpr, ast.Column):
            return False
        rslot = Scope(right.cols).find(rexpr)
        if rslot is None or right.cols[rslot].fd is not None:
            return False                                  # joined on r._id only
        owners = self._owners_of(lexpr)
        owner = next(iter(owners)) if len(owners) == 1 else None
        if not isinstance(owner, TableSrc) or owner is right:
            return False
        lslot = Scope(owner.cols).find(lexpr)
        if lslot is None:
            return False
        lcol = owner.cols[lslot]
        if not _key_compatible(lcol, right):
            return False
        inside = [cond] + self.pushed.get(id(right), [])
        for ref, o in zip(self.refs, self.owners):          # r's columns used anywhere else?
            if o is right and not any(_within(ref, c) for c in inside):
                return False
        rp, outer = self.p, self.outer
        rfilter = rp._filter(right, None, outer)            # lowered (and type-checked) now

        def resolve(ex: Any) -> P.RowNode:
            ids = right.table.ex.full_row(rfilter).to_numpy()
            keys = right.table.index.column_keys.keys_for(ids.tolist()) if right.table.keyed else None
            return Lowerer(owner.table, owner.cols, rp, outer).in_ids(lcol, ids, keys)

        owner.extra.append(P.Deferred(resolve, f"{lcol.name} IN (_id of {right.alias}"
                                               f" where {_describe_conds(right)})"))
        return True

    # --- plan: scans and hash joins -----------------------------------------------------------------

    def plan(self, src: Src, where: list[Any]) -> tuple[N.Node, Scope]:
        node, scope = self._plan(src)
        if where:
            node = N.Filter(node.cols, node, Binder(scope, self.p, where="WHERE").condition(_and(where)))
        return node, scope

    def _plan(self, src: Src) -> tuple[N.Node, Scope]:
        if not isinstance(src, JoinSrc):
            return self._leaf(src), Scope(self._scan_cols(src), self.outer)
        left, lscope = self._plan(src.left)
        right, rscope = self._plan(src.right)
        both = Scope(lscope.cols + rscope.cols, self.outer)
        lkeys, rkeys = [], []
        for _c, (a, b) in getattr(src, "keys", []):
            lb = Binder(lscope, self.p, where="ON").bind(a)
            rb = Binder(rscope, self.p, where="ON").bind(b)
            tc.compare_type("=", lb.type, rb.type)
            lkeys.append(lb)
            rkeys.append(rb)
        residual = getattr(src, "residual", [])
        res = Binder(both, self.p, where="ON").condition(_and(residual)) if residual else None
        if len(lkeys) == 1 and src.kind in ("inner", "left"):
            # joined on one side's _id: that table is read by id, never scanned whole
            if _by_id(right, rkeys[0], rscope):
                return N.LookupJoin(both.cols, left, right, src.kind, lkeys[0], res, False, rkeys[0]), both
            if src.kind == "inner" and _by_id(left, lkeys[0], lscope):
                return N.LookupJoin(both.cols, right, left, src.kind, rkeys[0], res, True, lkeys[0]), both
        return N.HashJoin(both.cols, left, right, src.kind, lkeys, rkeys, res), both

    def _scan_cols(self, item: Any) -> list[Col]:
        if isinstance(item, NodeSrc):
            return item.cols
        scope = Scope(item.cols)
        used = set()
        for ref, owner in zip(self.refs, self.owners):
            if owner is item:
                slot = scope.find(ref)
                if slot is not None:
                    used.add(slot)
        return [c for i, c in enumerate(item.cols) if i in used]

    def _leaf(self, item: Any) -> N.Node:
        if isinstance(item, NodeSrc):
            return item.node
        cols = self._scan_cols(item)
        filt = self.p._filter(item, None, self.outer)
        return N.Scan(cols, item.table, filt, [c.fd for c in cols])


def _by_id(node: N.Node, key: Any, scope: Scope) -> TypeGuard[N.Scan]:
    """Whether a join key is the _id of a table scanned by `node` (so it can be read by id)."""
    return isinstance(node, N.Scan) and key.slot is not None and scope.cols[key.slot].is_id


def _key_compatible(lcol: Col, right: TableSrc) -> bool:
    """Whether x = r._id can filter x's table by r's ids: x an ID or INT column (r keyed by
    ids), a STRING column (r keyed by strings), or another _id of the same kind."""
    fd = lcol.fd
    if lcol.is_id:
        return bool(lcol.table.keyed == right.table.keyed)
    if fd is None:
        return False
    if right.table.keyed:
        return fd.options.type == "mutex" and bool(fd.options.keys)
    return (fd.options.type == "mutex" and not fd.options.keys) or fd.options.type == "int"


def _describe_conds(src: TableSrc) -> str:
    return " AND ".join(ast.to_sql(c) for _, c in src.conds) or "all"


def _with_where(stmt: ast.Select, where: Any) -> ast.Select:
    import dataclasses

    return dataclasses.replace(stmt, where=where)


def _within(ref: ast.Column, cond: Any) -> bool:
    refs: list[ast.Column] = []
    _column_refs(cond, refs)
    return any(r is ref for r in refs)


def _has_subquery(e: Any) -> bool:
    if isinstance(e, (ast.Subquery, ast.InSelect, ast.Exists)):
        return True
    return any(_has_subquery(c) for c in ast.children(e))
