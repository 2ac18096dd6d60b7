"""SELECT: lowered onto the plan IR and run by the same executor as PQL.

WHERE becomes one row node (engine.sql.where). Then, by shape:
- aggregates without GROUP BY → Count / Sum / MinMax / Percentile / CountDistinct calls;
- GROUP BY (and DISTINCT) → the GroupBy call (a record counts once per set member), with
  other aggregates computed per group on the group's records, SQL-style: COUNT(*) is never
  changed by SUM, and SUM over a group without values is NULL;
- plain projections → record ids from the filter (LIMIT pushed down when there is no
  ORDER BY) and their values fetched in batches of 1024.
"""
from __future__ import annotations

import datetime as _dt
import threading
from decimal import Decimal
from typing import Any, Iterator, Optional

import numpy as np

from engine import plan as P
from engine.errors import ColumnNotFoundError, NotSupportedError, TypeMismatchError
from engine.executor import Executor
from engine.groupby import group_counts
from engine.schema import STANDARD_VIEW, FieldDef
from engine.sql import ast, functions
from engine.sql.expr import condition, evaluate
from engine.sql.result import BATCH_ROWS, SqlResult
from engine.sql.types import _ALIASES, sql_type_of
from engine.sql.where import ID_COLUMN, SET_TYPES, Where
from ext import FrozenBitmap

AGGREGATES = ("COUNT", "SUM", "AVG", "MIN", "MAX", "PERCENTILE")


def run_select(holder: Any, index: Any, stmt: ast.Select, *, deadline: Optional[float] = None,
               cancel: Optional[threading.Event] = None) -> SqlResult:
    if stmt.unsupported:
        raise NotSupportedError(f"{stmt.unsupported} are not supported")
    if stmt.table is None:
        return _constant_select(stmt)
    if stmt.top is not None and stmt.limit is not None:
        raise TypeMismatchError("TOP and LIMIT cannot be used together")
    sel = _Select(holder, index, stmt, deadline, cancel)
    return sel.run()


def _constant_select(stmt: ast.Select) -> SqlResult:
    """SELECT without FROM: one row of expressions over no table (FeatureBase's
    `select toTimeStamp(0)`); WHERE keeps or drops that row."""
    for it in stmt.items:
        if it.expr is None:
            raise TypeMismatchError("SELECT * needs a FROM clause")
    if stmt.group_by or stmt.having is not None:
        raise TypeMismatchError("GROUP BY and HAVING need a FROM clause")
    if stmt.flatten is not None:
        raise TypeMismatchError("a query hint needs a FROM clause")
    aliases = {it.alias for it in stmt.items if it.alias}
    order = [e for e, _ in stmt.order_by if not (isinstance(e, ast.Literal) and e.kind == "int")]
    for e in [it.expr for it in stmt.items] + ([stmt.where] if stmt.where is not None else []) + order:
        names: list[str] = []
        _columns_in(e, names)
        missing = [n for n in names if e not in order or n not in aliases]
        if missing:
            raise ColumnNotFoundError(f"column '{missing[0]}' not found (the statement has no FROM)")
        aggs: list[ast.Func] = []
        _aggregates_in(e, aggs)
        if aggs:
            raise NotSupportedError(f"aggregate {aggs[0].name} needs a FROM clause")
    if stmt.top is not None and stmt.limit is not None:
        raise TypeMismatchError("TOP and LIMIT cannot be used together")
    env: dict[Any, Any] = {}
    row = tuple(evaluate(it.expr, env) for it in stmt.items)  # type: ignore[arg-type]
    keep = stmt.where is None or condition(stmt.where, env) is True
    limit = stmt.top if stmt.top is not None else stmt.limit
    rows = [row] if keep and stmt.offset == 0 and limit != 0 else []
    typer = _Select.__new__(_Select)    # typing expressions without columns reads no table state
    schema = [(it.alias or ("" if not isinstance(it.expr, ast.Column) else it.expr.name),
               typer.type_of(it.expr, v)) for it, v in zip(stmt.items, row)]  # type: ignore[arg-type]
    return SqlResult.of_rows(schema, rows)


def _aggregates_in(e: Any, out: list[ast.Func]) -> None:
    if isinstance(e, ast.Func) and e.name in AGGREGATES:
        if e not in out:
            out.append(e)
        return
    for sub in ast.children(e):
        _aggregates_in(sub, out)


class _Select:
    def __init__(self, holder: Any, index: Any, stmt: ast.Select, deadline: Optional[float],
                 cancel: Optional[threading.Event]) -> None:
        self.holder = holder
        self.index = index
        self.stmt = stmt
        self.where = Where(index, self._scan)
        self.ex = Executor(index, index.snapshot(), holder=holder, deadline=deadline, cancel=cancel)
        self.items = self._expand(stmt.items)
        self.limit = stmt.top if stmt.top is not None else stmt.limit

    def _expand(self, items: tuple[ast.SelectItem, ...]) -> list[ast.SelectItem]:
        out: list[ast.SelectItem] = []
        for it in items:
            if it.expr is None:
                out.append(ast.SelectItem(ast.Column(ID_COLUMN), None))
                out.extend(ast.SelectItem(ast.Column(name), None) for name in self.index.definition.fields)
            else:
                out.append(it)
        return out

    def _scan(self, cond: ast.Expr, negate: bool) -> P.RowNode:
        """The records for which cond is true (false when negated; unknown is neither),
        evaluating it on each record's values."""
        names: list[str] = []
        _columns_in(cond, names)
        aggs: list[ast.Func] = []
        _aggregates_in(cond, aggs)
        if aggs:
            raise TypeMismatchError(f"aggregate {aggs[0].name} is not allowed in WHERE (use HAVING)")
        for name in names:
            if name != ID_COLUMN and name not in self.index.definition.fields:
                raise ColumnNotFoundError(f"column '{name}' not found in table {self.index.name}")
        want = not negate
        ids = self.ex.full_row(self.where.existence()).to_numpy()
        keep: list[int] = []
        for start, envs in zip(range(0, len(ids), BATCH_ROWS), self._fetch_batches(ids, list(dict.fromkeys(names)))):
            for col, env in zip(ids[start:start + BATCH_ROWS].tolist(), envs):
                if condition(cond, env) is want:
                    keep.append(col)
        return P.ConstRow(tuple(keep), False)

    def filter(self) -> P.RowNode:
        if self.stmt.where is None:
            return self.where.existence()
        return self.where.lower(self.stmt.where)

    def run(self) -> SqlResult:
        aggs: list[ast.Func] = []
        for it in self.items:
            _aggregates_in(it.expr, aggs)
        if self.stmt.having is not None:
            _aggregates_in(self.stmt.having, aggs)
        for e, _ in self.stmt.order_by:
            _aggregates_in(e, aggs)
        if self.stmt.group_by or (self.stmt.distinct and not aggs):
            return self._topn() or self._grouped(aggs)
        if aggs:
            if self.stmt.having is not None:
                raise TypeMismatchError("HAVING needs GROUP BY")
            return self._aggregate_row(aggs)
        return self._projection()

    # --- names and types -----------------------------------------------------------------------

    def name_of(self, it: ast.SelectItem) -> str:
        if it.alias:
            return it.alias
        if isinstance(it.expr, ast.Column):
            return it.expr.name
        return ""                         # FeatureBase leaves unaliased expressions unnamed

    def fd(self, col: ast.Column) -> Optional[FieldDef]:
        return self.where.field(col)

    def type_of(self, e: ast.Expr, sample: Any = None) -> str:
        """A result column's SQL type: the expression's static type. `sample` (a value of the
        column) only decides a decimal quotient's scale, and a type nothing else gives
        (SELECT NULL)."""
        t = self.static_type(e)
        if t is not None and t.startswith(_QUOTIENT):
            return _type_of_value(sample) if isinstance(sample, Decimal) else f"decimal({_scale(t)})"
        return t if t is not None else _type_of_value(sample)

    def static_type(self, e: ast.Expr) -> Optional[str]:
        """The type of e's values whatever the rows (None: only NULL, or not typed)."""
        if isinstance(e, ast.Column):
            fd = self.fd(e)
            if fd is None:
                return "string" if self.index.definition.options.keys else "id"
            return sql_type_of(fd.options)
        if isinstance(e, ast.Literal):
            if e.kind == "decimal":
                return _type_of_value(e.value)
            return {"int": "int", "string": "string", "bool": "bool"}.get(e.kind)
        if isinstance(e, ast.Func) and e.name in AGGREGATES:
            if e.name == "COUNT":
                return "int"
            if e.name == "AVG":
                return "decimal(4)"
            if e.args and isinstance(e.args[0], ast.Column):
                return self.static_type(e.args[0])
            return None
        if isinstance(e, ast.Cast):
            t = _ALIASES.get(e.type.name, e.type.name)
            return f"decimal({e.type.arg or 0})" if t == "DECIMAL" else t.lower()
        if isinstance(e, ast.BinOp):
            acc = self.static_type(e.operands[0])
            for op, operand in zip(e.ops, e.operands[1:]):
                acc = "string" if op == "||" else _arith_type(op, acc, self.static_type(operand))
            return acc
        if isinstance(e, ast.Neg):
            return _arith_type("+", self.static_type(e.expr), "int")
        if isinstance(e, (ast.Compare, ast.And, ast.Or, ast.Not, ast.IsNull, ast.Between, ast.InList, ast.Like)):
            return "bool"
        if isinstance(e, ast.CurrentTime):
            return "timestamp"
        if isinstance(e, ast.Case):
            results = [then for _, then in e.whens] + ([e.default] if e.default is not None else [])
            return next((t for t in map(self.static_type, results) if t is not None), None)
        if isinstance(e, ast.Func):
            if e.name in functions.SCALARS:
                return functions.SCALARS[e.name].result
            if e.name == "ABS" and len(e.args) == 1:
                return _arith_type("+", self.static_type(e.args[0]), "int")
            if e.name == "COALESCE":
                return next((t for t in map(self.static_type, e.args) if t is not None), None)
        return None

    # --- aggregates -----------------------------------------------------------------------------

    def aggregate(self, f: ast.Func, filt: P.RowNode) -> Any:
        name = f.name
        if name == "COUNT":
            if f.star:
                return self.ex.run(P.Count(filt))
            col = self._agg_column(f)
            fd = self.fd(col)
            if f.distinct and fd is not None:
                return self.ex.run(P.CountDistinct(filt, fd.id))
            if fd is None:
                return self.ex.run(P.Count(filt))
            return self.ex.run(P.Count(P.Intersect((filt, self.where.not_null(col)))))
        col = self._agg_column(f)
        fd = self.fd(col)
        if fd is None:
            raise TypeMismatchError(f"_id cannot be aggregated with {name}")
        opts = fd.options
        if name in ("SUM", "AVG"):
            if opts.type not in ("int", "decimal", "float"):
                raise TypeMismatchError(f"{name} needs an int, decimal or float column; "
                                        f"{fd.name} is {sql_type_of(opts)}")
            if f.distinct:
                values = [opts.from_stored(v) for v in self.ex.distinct_values(P.Distinct(filt, fd.id))]
                total, count = sum(values), len(values)
            else:
                vc = self.ex.run(P.Sum(filt, fd.id))
                total, count = _valcount_value(vc, opts.type), vc["count"]
            if count == 0:
                return None
            if name == "SUM":
                return total
            if opts.type == "float":
                return total / count
            return (Decimal(total) / count).quantize(Decimal("0.0001"))
        if name in ("MIN", "MAX"):
            if opts.is_bsi:
                vc = self.ex.run(P.MinMax(filt, fd.id, name == "MAX"))
                return _valcount_value(vc, opts.type) if vc["count"] else None
            if opts.type in ("mutex", "bool"):
                counts = self.ex._row_counts(fd.id, (STANDARD_VIEW,), filt)
                present = [r for r, c in counts.items() if c]
                if not present:
                    return None
                values = [self._row_value(fd, r) for r in present]
                return max(values) if name == "MAX" else min(values)
            raise TypeMismatchError(f"{name} is not defined for {sql_type_of(opts)} column {fd.name}")
        if name == "PERCENTILE":
            if f.distinct:
                raise NotSupportedError("PERCENTILE(DISTINCT …) is not supported")
            if len(f.args) != 2 or not isinstance(f.args[1], ast.Literal) or f.args[1].kind not in ("int", "decimal"):
                raise TypeMismatchError("PERCENTILE takes a column and a literal nth (0-100)")
            if opts.type not in ("int", "decimal"):
                raise TypeMismatchError("PERCENTILE needs an int or decimal column")
            nth = f.args[1].value
            if not 0 <= nth <= 100:
                raise TypeMismatchError("PERCENTILE's nth must be between 0 and 100")
            vc = self.ex.run(P.Percentile(filt, fd.id, nth))
            return None if vc is None else _valcount_value(vc, opts.type)
        raise NotSupportedError(f"aggregate {name} is not supported")

    def _agg_column(self, f: ast.Func) -> ast.Column:
        if len(f.args) > (2 if f.name == "PERCENTILE" else 1):
            raise TypeMismatchError(f"{f.name} takes one column, got {len(f.args)} arguments")
        if not f.args or not isinstance(f.args[0], ast.Column):
            raise NotSupportedError(f"{f.name} takes a column")
        if f.args[0].table is not None:
            raise NotSupportedError("qualified column names (joins) are not supported")
        return f.args[0]

    def _row_value(self, fd: FieldDef, row: int) -> Any:
        if fd.options.type == "bool":
            return bool(row)
        if fd.options.keys:
            return self.index.row_keys(fd).key(row)
        return row

    def _aggregate_row(self, aggs: list[ast.Func]) -> SqlResult:
        filt = self.filter()
        env: dict[Any, Any] = {f: self.aggregate(f, filt) for f in aggs}
        for it in self.items:
            if isinstance(it.expr, ast.Column):
                raise TypeMismatchError(f"column {it.expr.name} must be in GROUP BY or inside an aggregate")
        row = tuple(evaluate(it.expr, env) for it in self.items)  # type: ignore[arg-type]
        schema = [(self.name_of(it), self.type_of(it.expr, v)) for it, v in zip(self.items, row)]  # type: ignore[arg-type]
        rows = [row][self.stmt.offset:]
        if self.limit is not None:
            rows = rows[:self.limit]
        return SqlResult.of_rows(schema, rows)

    # --- GROUP BY / DISTINCT --------------------------------------------------------------------------

    def _grouped(self, aggs: list[ast.Func]) -> SqlResult:
        keys = list(self.stmt.group_by) if self.stmt.group_by else [it.expr for it in self.items]
        cols: list[ast.Column] = []
        for k in keys:
            k = self._resolve_alias(k)
            if not isinstance(k, ast.Column):
                raise NotSupportedError("GROUP BY supports columns only")
            cols.append(k)
        fds = []
        for c in cols:
            fd = self.fd(c)
            if fd is None:
                raise NotSupportedError("GROUP BY _id is not supported")
            if fd.options.type == "decimal":
                raise NotSupportedError(f"GROUP BY a decimal column ({fd.name}) is not supported")
            fds.append(fd)
        filt = self.filter()
        need_nodes = any(not (f.name == "COUNT" and f.star) for f in aggs)
        # Without WHERE every row's records are the group's records: no filter to apply
        # (each write marks its record as existing, so rows never leave existence).
        groups = self._key_groups(fds, filt, filt if self.stmt.where is not None else None, (), need_nodes)
        # SQL keeps the groups with NULL keys (FeatureBase's GroupBy has none): the records
        # are split by which non-set key columns they lack, and each part is grouped by the
        # columns it has. Set columns are flattened, so a record without members is in no
        # group, as with UNNEST.
        for part, nulls, n in self._null_parts(cols, fds, filt):
            groups += self._key_groups(fds, part, part, nulls, need_nodes)
        groups.sort(key=lambda g: tuple((k is None, k or 0) for k in g[0]))   # NULL after values
        out_groups = [g[1:] for g in groups]
        names = {c.name: i for i, c in enumerate(cols)}
        rows_env = []
        for values, count, node in out_groups:
            env: dict[Any, Any] = {}
            for c, v in zip(cols, values):
                env[c.name] = v
            for f in aggs:
                env[f] = count if (f.name == "COUNT" and f.star) else self.aggregate(f, node)  # type: ignore[arg-type]
            rows_env.append(env)
        for it in self.items:
            if isinstance(it.expr, ast.Column) and it.expr.name not in names and \
                    (it.alias is None or it.alias not in names):
                raise TypeMismatchError(f"column {it.expr.name} must be in GROUP BY or inside an aggregate")
        return self._finish(rows_env)

    def _topn(self) -> Optional[SqlResult]:
        """GROUP BY one set or ID/STRING column c selecting c and COUNT(*), ORDER BY COUNT(*)
        DESC [, c ASC], with a LIMIT: the engine's TopN (one pass counting c's rows) gives
        the rows GroupBy would, ties in the same order; None for any other shape."""
        st = self.stmt
        if len(st.group_by) != 1 or st.having is not None or st.distinct or not self.limit or not st.order_by:
            return None
        key = self._resolve_alias(st.group_by[0])
        fd = self.index.definition.fields.get(key.name) if isinstance(key, ast.Column) and not key.table else None
        if fd is None or fd.options.type not in ("set", "mutex"):
            return None
        star = ast.Func("COUNT", (), False, True)
        kinds = ["key" if it.expr == key else "count" if it.expr == star else None for it in self.items]
        order = [(self._topn_kind(e, key, kinds), desc) for e, desc in st.order_by]
        # Ties: TopN orders them by key (string keys as strings), GroupBy by row id, so
        # without `c ASC` only an ID column's order is the same.
        if None in kinds or order not in ([("count", True), ("key", False)], [("count", True)]) or \
                (len(order) == 1 and fd.options.keys):
            return None
        filt = self.filter()
        pairs = self.ex.run(P.TopN(fd.id, filt if st.where is not None else None, self.limit + st.offset))
        groups: list[tuple[int, int, Any]] = [(-p["count"], 1, p["key"] if fd.options.keys else p["id"])
                                              for p in pairs]
        if fd.options.type == "mutex":         # the NULL group: first among equal counts when
            n = self.ex.run(P.Count(P.Difference((filt, self.where.not_null(key)))))   # c ASC
            if n:                                                   # sorts it, else last
                groups.append((-n, 0 if len(order) == 2 else 2, None))
        groups.sort(key=lambda g: g[:2])       # stable: TopN's order within equal counts
        rows = [tuple(-g[0] if k == "count" else g[2] for k in kinds)
                for g in groups[st.offset:st.offset + self.limit]]
        return SqlResult.of_rows([(self.name_of(it), self.type_of(it.expr)) for it in self.items], rows)

    def _topn_kind(self, e: ast.Expr, key: ast.Column, kinds: list[Optional[str]]) -> Optional[str]:
        """What an ORDER BY item of the TopN shape sorts by: "key", "count" or None."""
        if isinstance(e, ast.Literal) and e.kind == "int":
            return kinds[e.value - 1] if 1 <= e.value <= len(kinds) else None
        if isinstance(e, ast.Func):
            return "count" if e == ast.Func("COUNT", (), False, True) else None
        if isinstance(e, ast.Column) and e.table is None:
            if e.name == key.name:
                return "key"
            return next((k for it, k in zip(self.items, kinds) if it.alias == e.name), None)
        return None

    def _key_groups(self, fds: list[FieldDef], filt: P.RowNode, call_filter: Optional[P.RowNode],
                    nulls: tuple[int, ...], need_nodes: bool) -> list[tuple[Any, ...]]:
        """(sort key, key values, count, records node) of the groups of the records in filt
        that have a value in every key column but those at positions `nulls` (NULL there)."""
        rest = [i for i in range(len(fds)) if i not in nulls]
        if not rest:
            n = self.ex.run(P.Count(filt))
            return [((None,) * len(fds), (None,) * len(fds), n, filt)] if n else []
        call = P.GroupBy(tuple(P.RowsCall(fds[i].id) for i in rest), call_filter)
        children, merged = group_counts(self.ex, call)
        labels = [self._labels(fds[i], child.ids) for i, child in zip(rest, children)]
        out = []
        for n, key in enumerate(merged):
            if n % 4096 == 0:
                self.ex.check_deadline()
            full: list[Optional[int]] = [None] * len(fds)
            values: list[Any] = [None] * len(fds)
            for i, lab, k in zip(rest, labels, key):
                full[i], values[i] = k, lab[k]
            node = P.Intersect((filt,) + tuple(child.node(k) for child, k in zip(children, key))) \
                if need_nodes else None
            out.append((tuple(full), tuple(values), merged[key][0], node))
        return out

    def _null_parts(self, cols: list[ast.Column], fds: list[FieldDef],
                    filt: P.RowNode) -> list[tuple[P.RowNode, tuple[int, ...], int]]:
        """The records of filt lacking a value in some non-set key column, split by which
        ones: (records node, positions of the missing columns, count) per non-empty part."""
        total = self.ex.run(P.Count(filt))
        parts: list[tuple[P.RowNode, tuple[int, ...], int]] = [(filt, (), total)] if total else []
        for i, (c, fd) in enumerate(zip(cols, fds)):
            if fd.options.type in SET_TYPES:
                continue
            has = self.where.not_null(c)
            split = []
            for node, nulls, n in parts:
                lacking = P.Difference((node, has))
                m = self.ex.run(P.Count(lacking))
                if m:
                    split.append((lacking, nulls + (i,), m))
                if n - m:
                    split.append((P.Intersect((node, has)) if m else node, nulls, n - m))
            parts = split
        return [p for p in parts if p[1]]

    def _resolve_alias(self, e: ast.Expr) -> ast.Expr:
        if isinstance(e, ast.Column):
            for it in self.items:
                if it.alias == e.name and it.expr is not None and not (
                        isinstance(e, ast.Column) and e.name in self.index.definition.fields):
                    return it.expr
        if isinstance(e, ast.Literal) and e.kind == "int" and 1 <= e.value <= len(self.items):
            return self.items[e.value - 1].expr  # type: ignore[return-value]
        return e

    def _labels(self, fd: FieldDef, ids: list[int]) -> list[Any]:
        """SQL values of a GROUP BY column's candidate rows (ids, or stored BSI values)."""
        opts = fd.options
        if opts.is_bsi:
            return [opts.from_stored(v) for v in ids] if opts.type != "int" else list(ids)
        if opts.keys:
            return self.index.row_keys(fd).keys_for(ids)
        if opts.type == "bool":
            return [bool(i) for i in ids]
        return list(ids)

    # --- projections -----------------------------------------------------------------------------

    def _projection(self) -> SqlResult:
        filt = self.filter()
        needed: list[str] = []
        for it in self.items:
            _columns_in(it.expr, needed)
        order_cols: list[str] = []
        for e, _ in self.stmt.order_by:
            _columns_in(self._resolve_alias(e), order_cols)
        for name in needed + order_cols:
            if name != ID_COLUMN and name not in self.index.definition.fields:
                if not any(it.alias == name for it in self.items):
                    raise ColumnNotFoundError(f"column '{name}' not found in table {self.index.name}")
        fetch = [n for n in dict.fromkeys(needed + order_cols)
                 if n == ID_COLUMN or n in self.index.definition.fields]
        schema_probe = [(self.name_of(it), it.expr) for it in self.items]
        if self.stmt.order_by or self.stmt.distinct:
            ids = self.ex.full_row(filt).to_numpy()
            envs = [env for batch in self._fetch_batches(ids, fetch) for env in batch]
            return self._finish(envs)
        limited = self.limit is not None or self.stmt.offset
        full = self.ex.full_row(P.Limit(filt, self.limit, self.stmt.offset) if limited else filt)
        ids = full.to_numpy()

        batches = (
            [tuple(evaluate(e, env) for _, e in schema_probe) for env in envs]  # type: ignore[arg-type]
            for envs in self._fetch_batches(ids, fetch))
        # The first batch is computed now (it types expression columns); the rest stream.
        first = next(batches, [])
        sample = _first_values(first, len(schema_probe))
        schema = [(name, self.type_of(e, v)) for (name, e), v in zip(schema_probe, sample)]  # type: ignore[arg-type]

        def produce() -> Iterator[list[tuple[Any, ...]]]:
            if first:
                yield first
            yield from batches

        return SqlResult(schema, produce)

    def _fetch_batches(self, ids: np.ndarray, names: list[str]) -> Iterator[list[dict[str, Any]]]:
        """Environments (column name → value) for the records, BATCH_ROWS at a time."""
        keyed = self.index.definition.options.keys
        for start in range(0, len(ids), BATCH_ROWS):
            chunk = ids[start:start + BATCH_ROWS]
            cols = chunk.tolist()
            envs: list[dict[str, Any]] = [{} for _ in cols]
            if ID_COLUMN in names:
                idv = self.index.column_keys.keys_for(cols) if keyed else cols
                for env, v in zip(envs, idv):
                    env[ID_COLUMN] = v
            wanted = FrozenBitmap(chunk)
            pos = {c: i for i, c in enumerate(cols)}
            for name in names:
                if name == ID_COLUMN:
                    continue
                fd = self.index.definition.fields[name]
                values = self._values(fd, wanted, pos, len(cols))
                for env, v in zip(envs, values):
                    env[name] = v
            yield envs

    def _values(self, fd: FieldDef, wanted: FrozenBitmap, pos: dict[int, int], n: int) -> list[Any]:
        opts = fd.options
        if opts.is_bsi:
            out: list[Any] = [None] * n
            vcols, vals = self.ex.bsi_columns_values(fd.id, P.ConstRow(tuple(wanted.to_numpy().tolist()), False))
            for c, v in zip(vcols.tolist(), vals.tolist()):
                out[pos[c]] = opts.from_stored(int(v) + opts.base)
            return out
        multi = opts.type in ("set", "time")
        out = [[] if multi else None for _ in range(n)]
        views = tuple(self.ex.state.views(fd.id)) if opts.type == "time" else (STANDARD_VIEW,)
        km = self.index.row_keys(fd) if opts.keys else None
        for r in self.ex.rows_list(P.RowsCall(fd.id, views)):
            members = self.ex.full_row(P.RowOf(fd.id, r, views)) & wanted
            if not members:
                continue
            label: Any = km.key(r) if km is not None else (bool(r) if opts.type == "bool" else r)
            for c in members.to_numpy().tolist():
                if multi:
                    out[pos[c]].append(label)
                else:
                    out[pos[c]] = label
        if multi:
            return [v if v else None for v in out]
        return out

    # --- HAVING / ORDER BY / LIMIT ----------------------------------------------------------------

    def _finish(self, envs: list[dict[Any, Any]]) -> SqlResult:
        for env in envs:
            for it in self.items:
                if it.alias and it.expr is not None:
                    env.setdefault(it.alias, evaluate(it.expr, env))
        if self.stmt.having is not None:
            envs = [env for env in envs if condition(self.stmt.having, env) is True]
        getters = [_getter(it.expr) for it in self.items]
        rows = [(env, tuple(g(env) for g in getters)) for env in envs]
        if self.stmt.distinct:
            seen: set[Any] = set()
            uniq = []
            for env, row in rows:
                key = tuple(tuple(v) if isinstance(v, list) else v for v in row)
                if key not in seen:
                    seen.add(key)
                    uniq.append((env, row))
            rows = uniq
        for e, desc in reversed(self.stmt.order_by):
            target = self._order_expr(e)
            if isinstance(target, int):
                rows.sort(key=lambda er: _sort_key(er[1][target]), reverse=desc)
            else:
                get = _getter(target)
                rows.sort(key=lambda er: _sort_key(get(er[0])), reverse=desc)
        out = [row for _, row in rows][self.stmt.offset:]
        if self.limit is not None:
            out = out[:self.limit]
        sample = _first_values(out, len(self.items))
        schema = [(self.name_of(it), self.type_of(it.expr, v)) for it, v in zip(self.items, sample)]  # type: ignore[arg-type]
        return SqlResult.of_rows(schema, out)

    def _order_expr(self, e: ast.Expr) -> Any:
        if isinstance(e, ast.Literal) and e.kind == "int":
            if not 1 <= e.value <= len(self.items):
                raise TypeMismatchError(f"ORDER BY position {e.value} is out of range")
            return e.value - 1
        if isinstance(e, ast.Column):
            fd = self.index.definition.fields.get(e.name)
            if fd is not None and fd.options.type in ("set", "time") and not self.stmt.group_by:
                raise TypeMismatchError(f"cannot ORDER BY set column {e.name}")
        return e


def _getter(e: Any) -> Any:
    """A fast reader of e's value from a row environment (plain columns and aggregates are
    looked up directly; anything else is evaluated)."""
    if isinstance(e, ast.Column) and e.table is None:
        name = e.name
        return lambda env: env[name] if name in env else evaluate(e, env)
    return lambda env: env[e] if e in env else evaluate(e, env)


def _columns_in(e: Any, out: list[str]) -> None:
    if isinstance(e, ast.Column):
        if e.table is not None:
            raise NotSupportedError("qualified column names (joins) are not supported")
        out.append(e.name)
        return
    if isinstance(e, ast.Unsupported):
        raise NotSupportedError(f"{e.what} are not supported")
    for sub in ast.children(e):
        _columns_in(sub, out)


def _valcount_value(vc: dict[str, Any], kind: str) -> Any:
    if kind == "decimal":
        return vc["decimalValue"]
    if kind == "timestamp":
        from engine.schema import parse_timestamp

        return parse_timestamp(vc["timestampValue"])
    if kind == "float":
        return vc["floatValue"]
    return vc["value"]


def _sort_key(v: Any) -> tuple[int, Any]:
    """NULLs sort first ascending (last descending), as in FeatureBase."""
    if v is None:
        return (0, 0)
    if isinstance(v, list):
        return (1, tuple(v))
    return (1, v)


def _first_values(rows: list[tuple[Any, ...]], n: int) -> list[Any]:
    """Each column's first non-NULL value in rows (None when it has none)."""
    return [next((r[i] for r in rows if r[i] is not None), None) for i in range(n)]


_QUOTIENT = "decimal(?"      # decimal(?s): a decimal quotient, whose scale is its value's (s: the operands')
_INTS = ("int", "id")


def _arith_type(op: str, a: Optional[str], b: Optional[str]) -> Optional[str]:
    """The type of a op b (+ - * / %) from the operands' types; NULL (None) takes the other's."""
    if a is None or b is None:
        known = a or b
        return known if known is not None and (known in _INTS or known.startswith("decimal")) else None
    if a in _INTS and b in _INTS:
        return "int"
    if not (a.startswith("decimal") or a in _INTS) or not (b.startswith("decimal") or b in _INTS):
        return None                     # not numbers: evaluating fails
    sa, sb = _scale(a), _scale(b)
    if op == "/" or a.startswith(_QUOTIENT) or b.startswith(_QUOTIENT):
        return f"{_QUOTIENT}{max(sa, sb)})"
    return f"decimal({sa + sb if op == '*' else max(sa, sb)})"


def _scale(t: str) -> int:
    return 0 if t in _INTS else int(t.rstrip(")").split("(")[1].lstrip("?"))    # decimal(s), decimal(?s)


def _type_of_value(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, Decimal):
        return f"decimal({max(-v.as_tuple().exponent, 0)})"  # type: ignore[operator]
    if isinstance(v, float):
        return "decimal(6)"
    if isinstance(v, _dt.datetime):
        return "timestamp"
    if isinstance(v, list):
        return "stringset" if v and isinstance(v[0], str) else "idset"
    return "string"



