"""Lower PQL calls to the plan IR, checking them against the schema.

Lowering is where names become ids: unknown indexes/fields raise QueryExecutionError, row
keys translate to row ids (an unknown key on a read becomes Empty, as in FeatureBase), BSI
literals become stored integers at the field's precision, and time ranges become the list
of quantum views that covers them.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Optional

from engine import lowering
from engine import plan as P
from engine.errors import EngineError, QueryExecutionError
from engine.pql import ast
from engine.schema import BSI_TYPES, STANDARD_VIEW, FieldDef, parse_timestamp
from engine.timeviews import views_for_range

_NULL = object()


class Lowerer:
    """Lowers calls for one index (a holder is needed for Distinct(index=…))."""

    def __init__(self, index: Any, holder: Any = None) -> None:
        self.index = index
        self.holder = holder
        self.state: Any = None          # the state calls are lowered against (None: committed)

    def snapshot(self) -> Any:
        return self.state if self.state is not None else self.index.snapshot()

    # --- helpers -------------------------------------------------------------------------

    def error(self, msg: str, node: Any = None) -> QueryExecutionError:
        line = getattr(node, "line", 0)
        col = getattr(node, "column", 0)
        return QueryExecutionError(msg, line, col)

    def field(self, name: Any, call: ast.Call) -> FieldDef:
        if isinstance(name, ast.Bare):
            name = name.text
        if not isinstance(name, str):
            raise self.error(f"{call.name}: expected a field name, got {_show(name)}", call)
        fd = self.index.definition.fields.get(name)
        if fd is None:
            raise self.error(f"{call.name}: field {name!r} not found in index {self.index.name}", call)
        return fd

    def literal(self, v: Any) -> Any:
        """A PQL literal as a Python value (bare true/false/null → bool/None marker)."""
        if isinstance(v, ast.Bare):
            low = v.text.lower()
            if low == "true":
                return True
            if low == "false":
                return False
            if low == "null":
                return _NULL
            return v.text
        if isinstance(v, ast.Timestamp):
            return v.text
        if isinstance(v, ast.ListValue):
            return [self.literal(i) for i in v.items]
        return v

    def int_arg(self, call: ast.Call, kw: dict[str, Any], name: str, default: Optional[int] = None,
                minimum: int = 0) -> Optional[int]:
        if name not in kw:
            return default
        v = self.literal(kw[name])
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise self.error(f"{call.name}: {name} must be an integer >= {minimum}, got {_show(kw[name])}", call)
        return v

    def row_id(self, fd: FieldDef, value: Any, call: ast.Call, create: bool = False) -> Optional[int]:
        """A row value as a row id; None when it is a key that does not exist."""
        value = self.literal(value)
        opts = fd.options
        if opts.type == "bool":
            if not isinstance(value, bool):
                raise self.error(f"{call.name}: field {fd.name} is bool; use true or false", call)
            return int(value)
        if opts.keys:
            if not isinstance(value, str) or value is _NULL:
                raise self.error(f"{call.name}: field {fd.name} uses string keys, got {_show(value)}", call)
            return self.index.row_keys(fd).id(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.error(f"{call.name}: field {fd.name} uses unsigned integer row ids, got {_show(value)}",
                             call)
        return value

    def column_id(self, value: Any, call: ast.Call) -> Optional[int]:
        value = self.literal(value)
        if self.index.definition.options.keys:
            if not isinstance(value, str):
                raise self.error(f"{call.name}: index {self.index.name} uses string record keys", call)
            return self.index.column_keys.id(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 64:
            raise self.error(f"{call.name}: record ids are unsigned 64-bit integers, got {_show(value)}", call)
        return value

    def stored(self, fd: FieldDef, value: Any, call: ast.Call) -> int:
        value = self.literal(value)
        if value is _NULL or isinstance(value, bool):
            raise self.error(f"{call.name}: {_show(value)} is not a value of {fd.options.type} field {fd.name}",
                             call)
        try:
            return fd.options.to_stored(value)
        except EngineError as exc:
            raise self.error(f"{call.name}: {exc.message}", call) from None

    def row_arg(self, v: Any, call: ast.Call, what: str = "a row call") -> P.RowNode:
        if not isinstance(v, ast.Call):
            raise self.error(f"{call.name}: expected {what}, got {_show(v)}", call)
        node = self.lower_row(v)
        return node

    def filter_from(self, call: ast.Call, allow_positional: bool = True) -> Optional[P.RowNode]:
        kw = call.keywords()
        calls = [p for p in call.positionals() if isinstance(p, ast.Call)]
        if "filter" in kw:
            return self.row_arg(kw["filter"], call)
        if allow_positional and calls:
            if len(calls) > 1:
                raise self.error(f"{call.name}: at most one filter row call", call)
            return self.row_arg(calls[0], call)
        return None

    def check_args(self, call: ast.Call, allowed: set[str], max_pos: int = 0, conditions: bool = False) -> None:
        for a in call.args:
            if isinstance(a, ast.Keyword) and a.name not in allowed:
                raise self.error(f"{call.name}: unknown argument {a.name!r}", call)
            if isinstance(a, (ast.Condition, ast.Between)) and not conditions:
                raise self.error(f"{call.name}: comparisons are not allowed here", call)
        if len(call.positionals()) > max_pos:
            raise self.error(f"{call.name}: too many positional arguments", call)

    # --- row calls ------------------------------------------------------------------------

    def lower_row(self, call: ast.Call) -> P.RowNode:
        fn = _ROW_CALLS.get(call.name)
        if fn is None:
            if call.name in _CALLS:
                raise self.error(f"{call.name} does not return a row and cannot be used here", call)
            raise self.error(f"unknown call {call.name}", call)
        return fn(self, call)

    def _row(self, call: ast.Call) -> P.RowNode:
        kw = call.keywords()
        views_override = None
        if "from" in kw or "to" in kw:
            views_override = (kw.pop("from", None), kw.pop("to", None))
        parts: list[P.RowNode] = []
        for a in call.args:
            if isinstance(a, ast.Keyword):
                if a.name in ("from", "to"):
                    continue
                parts.append(self._row_equals(a.name, a.value, call, views_override))
            elif isinstance(a, ast.Condition):
                parts.append(self._row_condition(a, call))
            elif isinstance(a, ast.Between):
                parts.append(self._row_between(a, call))
            else:
                raise self.error(f"{call.name}: unexpected argument {_show(a.value)}", call)
        if not parts:
            raise self.error(f"{call.name} needs a field argument such as {call.name}(f=1) or {call.name}(f > 3)",
                             call)
        if views_override is not None and not any(isinstance(p, (P.RowOf, P.Empty, P.Union_)) for p in parts):
            raise self.error(f"{call.name}: from/to need a time field", call)
        return parts[0] if len(parts) == 1 else P.Intersect(tuple(parts))

    def _row_equals(self, name: str, value: Any, call: ast.Call, time_range: Any) -> P.RowNode:
        fd = self.field(name, call)
        lit = self.literal(value)
        if fd.options.is_bsi:
            if time_range is not None:
                raise self.error(f"{call.name}: field {fd.name} is not a time field", call)
            if lit is _NULL:
                return self._null(fd, call)
            if fd.options.type == "float":
                return self._float_condition(fd, "==", value, call)
            return lowering.bsi_compare(fd, "=", self.stored(fd, value, call))
        if lit is _NULL:
            if time_range is not None:
                raise self.error(f"{call.name}: null checks cannot be combined with from/to", call)
            return self._null(fd, call)
        views: tuple[str, ...] = (STANDARD_VIEW,)
        if time_range is not None:
            if fd.options.type != "time":
                raise self.error(f"{call.name}: field {fd.name} is not a time field", call)
            views = self.time_views(fd, time_range[0], time_range[1], call)
        elif fd.options.type == "time" and fd.options.no_standard_view:
            views = tuple(v for v in self.snapshot().views(fd.id) if v != STANDARD_VIEW)
        if not views:
            return P.Empty()
        return lowering.row_equals(fd, self.row_id(fd, value, call), views)

    def _null(self, fd: FieldDef, call: ast.Call) -> P.RowNode:
        if not self.index.definition.options.track_existence:
            raise self.error(f"{call.name}: index {self.index.name} does not track existence, "
                             f"so null cannot be queried", call)
        return lowering.is_null(fd)

    def _not_null(self, fd: FieldDef) -> P.RowNode:
        return lowering.not_null(fd)

    def _row_condition(self, c: ast.Condition, call: ast.Call) -> P.RowNode:
        fd = self.field(c.field, call)
        lit = self.literal(c.value)
        if lit is _NULL:
            if c.op == "==":
                return self._null(fd, call)
            if c.op == "!=":
                return self._not_null(fd)
            raise self.error(f"{call.name}: null can only be compared with == or !=", call)
        if not fd.options.is_bsi:
            if c.op == "==":
                return self._row_equals(c.field, c.value, call, None)
            raise self.error(f"{call.name}: {c.op} needs an int, decimal or timestamp field; "
                             f"{fd.name} is {fd.options.type}", call)
        op = c.op
        if fd.options.type == "float":
            return self._float_condition(fd, op, c.value, call)
        return lowering.bsi_compare(fd, op, self.stored(fd, c.value, call))

    def _float_condition(self, fd: FieldDef, op: str, value: Any, call: ast.Call) -> P.RowNode:
        """A comparison on a float field: ±0 compare equal (FieldOptions.float_range)."""
        lit = self.literal(value)
        if isinstance(lit, bool) or not isinstance(lit, (int, Decimal)):
            raise self.error(f"{call.name}: {_show(lit)} is not a value of float field {fd.name}", call)
        return lowering.float_compare(fd, op, lit)

    def _row_between(self, b: ast.Between, call: ast.Call) -> P.RowNode:
        fd = self.field(b.field, call)
        if not fd.options.is_bsi:
            raise self.error(f"{call.name}: ranges need an int, decimal or timestamp field; "
                             f"{fd.name} is {fd.options.type}", call)
        if fd.options.type == "float":
            return P.Intersect((self._float_condition(fd, ">" if b.lo_op == "<" else ">=", b.lo, call),
                                self._float_condition(fd, "<" if b.hi_op == "<" else "<=", b.hi, call)))
        lo = self.stored(fd, b.lo, call)
        hi = self.stored(fd, b.hi, call)
        if b.lo_op == "<":
            lo += 1
        if b.hi_op == "<":
            hi -= 1
        return lowering.bsi_between(fd, lo, hi)

    def time_views(self, fd: FieldDef, frm: Any, to: Any, call: ast.Call) -> tuple[str, ...]:
        existing = sorted(v for v in self.snapshot().views(fd.id) if v != STANDARD_VIEW)
        try:
            start = parse_timestamp(self._time_literal(frm)) if frm is not None else None
            end = parse_timestamp(self._time_literal(to)) if to is not None else None
        except EngineError as exc:
            raise self.error(f"{call.name}: {exc.message}", call) from None
        return tuple(views_for_range(fd.options.time_quantum, start, end, existing))

    def _time_literal(self, v: Any) -> Any:
        lit = self.literal(v)
        if isinstance(lit, Decimal):
            raise QueryExecutionError(f"invalid time {lit}")
        return lit

    def _union(self, call: ast.Call) -> P.RowNode:
        self.check_args(call, set(), max_pos=10**6)
        kids = tuple(self.row_arg(c, call) for c in call.positionals())
        return P.Union_(kids) if kids else P.Empty()

    def _nary(self, node_type: type, minimum: int = 1) -> Callable[["Lowerer", ast.Call], P.RowNode]:
        def lower(self: "Lowerer", call: ast.Call) -> P.RowNode:
            self.check_args(call, set(), max_pos=10**6)
            kids = tuple(self.row_arg(c, call) for c in call.positionals())
            if len(kids) < minimum:
                raise self.error(f"{call.name} needs at least {minimum} row call(s)", call)
            return kids[0] if len(kids) == 1 and node_type is not P.Xor else node_type(kids)
        return lower

    def _not(self, call: ast.Call) -> P.RowNode:
        self.check_args(call, set(), max_pos=1)
        pos = call.positionals()
        if len(pos) != 1:
            raise self.error("Not takes exactly one row call", call)
        self._need_existence(call)
        return P.Difference((P.Existence(), self.row_arg(pos[0], call)))

    def _need_existence(self, call: ast.Call) -> None:
        if not self.index.definition.options.track_existence:
            raise self.error(f"{call.name}: index {self.index.name} does not track existence", call)

    def _all(self, call: ast.Call) -> P.RowNode:
        self.check_args(call, {"limit", "offset"})
        self._need_existence(call)
        kw = call.keywords()
        if "limit" in kw or "offset" in kw:
            return P.Limit(P.Existence(), self.int_arg(call, kw, "limit"), self.int_arg(call, kw, "offset", 0) or 0)
        return P.Existence()

    def _shift(self, call: ast.Call) -> P.RowNode:
        self.check_args(call, {"n"}, max_pos=1)
        pos = call.positionals()
        if len(pos) != 1:
            raise self.error("Shift takes one row call", call)
        n = self.int_arg(call, call.keywords(), "n", 0) or 0
        return P.Shift(self.row_arg(pos[0], call), n)

    def _limit(self, call: ast.Call) -> P.RowNode:
        self.check_args(call, {"limit", "offset"}, max_pos=1)
        pos = call.positionals()
        if len(pos) != 1:
            raise self.error("Limit takes one row call", call)
        kw = call.keywords()
        return P.Limit(self.row_arg(pos[0], call), self.int_arg(call, kw, "limit"),
                       self.int_arg(call, kw, "offset", 0) or 0)

    def _const_row(self, call: ast.Call) -> P.RowNode:
        self.check_args(call, {"columns"})
        kw = call.keywords()
        cols = self.literal(kw.get("columns", ast.ListValue(())))
        if not isinstance(cols, list):
            raise self.error("ConstRow: columns must be a list", call)
        ids = [self.column_id(c, call) for c in cols]
        return P.ConstRow(tuple(sorted({i for i in ids if i is not None})),
                          self.index.definition.options.track_existence)

    def _union_rows(self, call: ast.Call) -> P.RowNode:
        self.check_args(call, set(), max_pos=10**6)
        kids: list[P.RowNode] = []
        for c in call.positionals():
            if not isinstance(c, ast.Call) or c.name not in ("Rows", "TopN", "TopK"):
                raise self.error("UnionRows takes Rows(…) or TopN(…) calls", call)
            inner = self.lower_call(c)
            assert isinstance(inner, (P.RowsCall, P.TopN))
            kids.append(P.UnionRows(inner))
        return P.Union_(tuple(kids)) if kids else P.Empty()

    def _distinct_row(self, call: ast.Call) -> P.RowNode:
        d = self._distinct(call)
        return P.DistinctRow(d.filter, d.field, d.index)

    # --- other calls ------------------------------------------------------------------------

    def lower_call(self, call: ast.Call) -> P.CallNode:
        if call.name in _ROW_CALLS and call.name not in ("Distinct",):
            return P.RowCall(self.lower_row(call))
        fn = _CALLS.get(call.name)
        if fn is None:
            raise self.error(f"unknown call {call.name}", call)
        return fn(self, call)

    def _count(self, call: ast.Call) -> P.CallNode:
        self.check_args(call, set(), max_pos=1)
        pos = call.positionals()
        if len(pos) != 1 or not isinstance(pos[0], ast.Call):
            raise self.error("Count takes exactly one row call", call)
        if pos[0].name == "Distinct":
            d = self._distinct(pos[0])
            return P.CountDistinct(d.filter, d.field, d.index)
        return P.Count(self.lower_row(pos[0]))

    def _bsi_field_arg(self, call: ast.Call, types: tuple[str, ...] = BSI_TYPES) -> FieldDef:
        kw = call.keywords()
        name = kw.get("field", kw.get("_field"))
        if name is None:
            bare = [p for p in call.positionals() if isinstance(p, (ast.Bare, str))]
            if not bare:
                raise self.error(f"{call.name} needs field=…", call)
            name = bare[0]
        fd = self.field(name, call)
        if fd.options.type not in types:
            raise self.error(f"{call.name}: field {fd.name} is {fd.options.type}; "
                             f"it needs one of {', '.join(types)}", call)
        return fd

    def _sum(self, call: ast.Call) -> P.CallNode:
        self.check_args(call, {"field", "filter"}, max_pos=2)
        fd = self._bsi_field_arg(call, ("int", "decimal", "float"))
        return P.Sum(self.filter_from(call), fd.id)

    def _minmax(self, want_max: bool) -> Callable[["Lowerer", ast.Call], P.CallNode]:
        def lower(self: "Lowerer", call: ast.Call) -> P.CallNode:
            self.check_args(call, {"field", "filter"}, max_pos=2)
            return P.MinMax(self.filter_from(call), self._bsi_field_arg(call).id, want_max)
        return lower

    def _minmax_row(self, want_max: bool) -> Callable[["Lowerer", ast.Call], P.CallNode]:
        def lower(self: "Lowerer", call: ast.Call) -> P.CallNode:
            self.check_args(call, {"field", "filter"}, max_pos=2)
            fd = self._bsi_field_arg(call, ("set", "mutex", "bool", "time"))
            return P.MinMaxRow(self.filter_from(call), fd.id, want_max)
        return lower

    def _percentile(self, call: ast.Call) -> P.CallNode:
        self.check_args(call, {"field", "nth", "filter"}, max_pos=2)
        fd = self._bsi_field_arg(call, ("int", "decimal"))
        kw = call.keywords()
        nth = self.literal(kw.get("nth", ast.Bare("null")))
        if isinstance(nth, bool) or not isinstance(nth, (int, Decimal)) or not 0 <= nth <= 100:
            raise self.error("Percentile: nth must be a number from 0 to 100", call)
        return P.Percentile(self.filter_from(call), fd.id, nth)

    def _field_value(self, call: ast.Call) -> P.CallNode:
        self.check_args(call, {"field", "column"}, max_pos=0)
        kw = call.keywords()
        if "column" not in kw:
            raise self.error("FieldValue needs column=…", call)
        fd = self._bsi_field_arg(call)
        return P.FieldValue(fd.id, self.column_id(kw["column"], call))

    def _includes(self, call: ast.Call) -> P.CallNode:
        self.check_args(call, {"column"}, max_pos=1)
        kw = call.keywords()
        pos = call.positionals()
        if len(pos) != 1 or "column" not in kw:
            raise self.error("IncludesColumn takes a row call and column=…", call)
        return P.IncludesColumn(self.row_arg(pos[0], call), self.column_id(kw["column"], call))

    def _topn(self, call: ast.Call, exact_k: bool = False) -> P.CallNode:
        allowed = {"n", "ids", "threshold", "tanimotoThreshold", "filter", "field", "_field"}
        if exact_k:
            allowed = {"k", "filter", "field", "_field", "from", "to"}
        self.check_args(call, allowed, max_pos=2)
        kw = call.keywords()
        fd = self._bsi_field_arg(call, ("set", "mutex", "bool", "time"))
        if fd.options.cache_type == "none" and not exact_k:
            raise self.error(f"TopN: field {fd.name} has cache type none; use TopK", call)
        ids = None
        if "ids" in kw:
            lst = self.literal(kw["ids"])
            if not isinstance(lst, list):
                raise self.error("TopN: ids must be a list", call)
            got = [self.row_id(fd, v, call) for v in lst]
            ids = tuple(i for i in got if i is not None)
        views: tuple[str, ...] = (STANDARD_VIEW,)
        if "from" in kw or "to" in kw:
            if fd.options.type != "time":
                raise self.error(f"{call.name}: field {fd.name} is not a time field", call)
            views = self.time_views(fd, kw.get("from"), kw.get("to"), call)
        n = self.int_arg(call, kw, "k" if exact_k else "n", 0) or 0
        return P.TopN(fd.id, self.filter_from(call), n, ids,
                      self.int_arg(call, kw, "threshold", 1) or 1,
                      self.int_arg(call, kw, "tanimotoThreshold", 0) or 0, views)

    def _rows(self, call: ast.Call, in_groupby: bool = False) -> P.RowsCall:
        self.check_args(call, {"field", "_field", "previous", "limit", "column", "like", "in", "from", "to"},
                        max_pos=1)
        kw = call.keywords()
        types = ("set", "mutex", "bool", "time") + (("int", "timestamp") if in_groupby else ())
        fd = self._bsi_field_arg(call, types)
        if "in" in kw and len([k for k in kw if k not in ("field", "_field")]) > 1:
            raise self.error("Rows: in= cannot be combined with other arguments", call)
        previous = None
        if "previous" in kw:
            if fd.options.is_bsi:
                previous = self.stored(fd, kw["previous"], call)
            else:
                previous = self.row_id(fd, kw["previous"], call)
                if previous is None:
                    raise self.error(f"Rows: previous key {_show(kw['previous'])} not found", call)
        like = None
        if "like" in kw:
            like = self.literal(kw["like"])
            if not fd.options.keys or not isinstance(like, str):
                raise self.error("Rows: like= needs a keyed field and a pattern string", call)
        in_ = None
        if "in" in kw:
            lst = self.literal(kw["in"])
            if not isinstance(lst, list):
                raise self.error("Rows: in must be a list", call)
            got = [self.row_id(fd, v, call) for v in lst]
            in_ = tuple(i for i in got if i is not None)
        column = None
        missing = False
        if "column" in kw:
            column = self.column_id(kw["column"], call)
            missing = column is None
        views: tuple[str, ...] = (STANDARD_VIEW,)
        if "from" in kw or "to" in kw:
            if fd.options.type != "time":
                raise self.error(f"Rows: field {fd.name} is not a time field", call)
            views = self.time_views(fd, kw.get("from"), kw.get("to"), call)
        return P.RowsCall(fd.id, views, previous, self.int_arg(call, kw, "limit"), column, like, in_, missing)

    def _groupby(self, call: ast.Call) -> P.CallNode:
        self.check_args(call, {"filter", "limit", "offset", "aggregate", "having", "sort"}, max_pos=10**6)
        kw = call.keywords()
        rows = []
        for p in call.positionals():
            if not isinstance(p, ast.Call) or p.name != "Rows":
                raise self.error("GroupBy: every positional argument must be Rows(…)", call)
            r = self._rows(p, in_groupby=True)
            fd = self._fd_by_id(r.field)
            if fd.options.type == "decimal":
                raise self.error("GroupBy on a decimal field is not supported", call)
            rows.append(r)
        if not rows:
            raise self.error("GroupBy needs at least one Rows(…)", call)
        agg = None
        if "aggregate" in kw:
            a = kw["aggregate"]
            if isinstance(a, ast.Call) and a.name == "Sum":
                s = self._sum(a)
                assert isinstance(s, P.Sum)
                if self.index.fields_by_id()[s.field].options.type == "float":
                    raise self.error("GroupBy: a Sum aggregate over a float field is not supported", call)
                agg = P.Aggregate("sum", s.field, s.filter)
            elif isinstance(a, ast.Call) and a.name == "Count" and a.positionals() and \
                    isinstance(inner := a.positionals()[0], ast.Call) and inner.name == "Distinct":
                d = self._distinct(inner)
                agg = P.Aggregate("count_distinct", d.field, d.filter)
            else:
                raise self.error("GroupBy: aggregate must be Sum(field=…) or Count(Distinct(field=…))", call)
        having = None
        if "having" in kw:
            having = self._having(kw["having"], call)
        sort: list[tuple[str, bool]] = []
        if "sort" in kw:
            spec = self.literal(kw["sort"])
            if not isinstance(spec, str):
                raise self.error("GroupBy: sort must be a string like 'count desc'", call)
            for part in spec.split(","):
                words = part.split()
                if not words or words[0] not in ("count", "sum", "aggregate") or len(words) > 2 or \
                        (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
                    raise self.error(f"GroupBy: bad sort {part.strip()!r}", call)
                sort.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
        return P.GroupBy(tuple(rows), self.filter_from(call, allow_positional=False),
                         self.int_arg(call, kw, "limit"), self.int_arg(call, kw, "offset", 0) or 0,
                         agg, having, tuple(sort))

    def _having(self, v: Any, call: ast.Call) -> P.Having:
        if not isinstance(v, ast.Call) or v.name != "Condition" or len(v.args) != 1:
            raise self.error("GroupBy: having must be Condition(count > n) or Condition(sum < n)", call)
        c = v.args[0]
        if isinstance(c, ast.Condition) and c.field in ("count", "sum"):
            val = self.literal(c.value)
            if isinstance(val, bool) or not isinstance(val, (int, Decimal)):
                raise self.error("Condition needs a number", call)
            ops = {">": (val, False, None, False), ">=": (val, True, None, False),
                   "<": (None, False, val, False), "<=": (None, False, val, True),
                   "==": (val, True, val, True)}
            if c.op not in ops:
                raise self.error(f"Condition: unsupported operator {c.op}", call)
            lo, loi, hi, hii = ops[c.op]
            return P.Having(c.field, lo, loi, hi, hii)
        if isinstance(c, ast.Between) and c.field in ("count", "sum"):
            return P.Having(c.field, self.literal(c.lo), c.lo_op == "<=", self.literal(c.hi), c.hi_op == "<=")
        raise self.error("Condition must compare count or sum", call)

    def _distinct(self, call: ast.Call) -> P.Distinct:
        self.check_args(call, {"field", "index", "filter"}, max_pos=1)
        kw = call.keywords()
        index = self.index
        other = None
        if "index" in kw:
            other = self.literal(kw["index"])
            if not isinstance(other, str) or self.holder is None:
                raise self.error("Distinct: index must name an index", call)
            try:
                index = self.holder.index(other)
            except EngineError as exc:
                raise self.error(f"Distinct: {exc.message}", call) from None
        sub = Lowerer(index, self.holder)
        if "field" not in kw:
            raise self.error("Distinct needs field=…", call)
        fd = sub.field(kw["field"], call)
        filt = None
        pos = [p for p in call.positionals() if isinstance(p, ast.Call)]
        if pos:
            filt = sub.lower_row(pos[0])
        elif "filter" in kw:
            filt = sub.row_arg(kw["filter"], call)
        return P.Distinct(filt, fd.id, other)

    def _sort(self, call: ast.Call) -> P.SortRows:
        self.check_args(call, {"field", "sort-desc", "sort_desc", "limit", "offset"}, max_pos=1)
        kw = call.keywords()
        pos = call.positionals()
        if len(pos) != 1:
            raise self.error("Sort takes one row call", call)
        fd = self._bsi_field_arg(call, ("int", "decimal", "timestamp", "bool", "mutex"))
        desc = self.literal(kw.get("sort-desc", kw.get("sort_desc", ast.Bare("false"))))
        if not isinstance(desc, bool):
            raise self.error("Sort: sort-desc must be true or false", call)
        return P.SortRows(self.row_arg(pos[0], call), fd.id, desc, self.int_arg(call, kw, "limit"),
                          self.int_arg(call, kw, "offset", 0) or 0)

    def _extract(self, call: ast.Call) -> P.CallNode:
        self.check_args(call, set(), max_pos=10**6)
        pos = call.positionals()
        if not pos or not isinstance(pos[0], ast.Call):
            raise self.error("Extract takes a row call (or Sort) then Rows(field) calls", call)
        first = pos[0]
        filt: Any = self._sort(first) if first.name == "Sort" else self.lower_row(first)
        fields = []
        for p in pos[1:]:
            if not isinstance(p, ast.Call) or p.name != "Rows" or len(p.args) != 1:
                raise self.error("Extract: only plain Rows(field) calls may follow the filter", call)
            fields.append(self.field(p.positionals()[0] if p.positionals() else p.keywords().get("field"), call).id)
        return P.Extract(filt, tuple(fields))

    def _options(self, call: ast.Call) -> P.CallNode:
        self.check_args(call, {"shards"}, max_pos=1)
        pos = call.positionals()
        if len(pos) != 1 or not isinstance(pos[0], ast.Call):
            raise self.error("Options takes one call", call)
        shards = None
        kw = call.keywords()
        if "shards" in kw:
            lst = self.literal(kw["shards"])
            if not isinstance(lst, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                                    for s in lst):
                raise self.error("Options: shards must be a list of shard numbers", call)
            shards = tuple(sorted(set(lst)))
        return P.Options(self.lower_call(pos[0]), shards)

    def _fd_by_id(self, fid: int) -> FieldDef:
        for fd in self.index.definition.fields.values():
            if fd.id == fid:
                return fd
        raise KeyError(fid)

    # --- writes -------------------------------------------------------------------------------

    def _write_target(self, call: ast.Call, need_col: bool) -> tuple[Any, str, Any, Any]:
        pos = call.positionals()
        kws = [a for a in call.args if isinstance(a, ast.Keyword)]
        col = None
        if need_col:
            if len(pos) < 1 or isinstance(pos[0], ast.Call):
                raise self.error(f"{call.name} needs a record id or key first", call)
            col = self.literal(pos[0])
            if col is _NULL or isinstance(col, (bool, list, Decimal)):
                raise self.error(f"{call.name}: bad record {_show(pos[0])}", call)
        ts = None
        if need_col and len(pos) == 2:
            ts = self.literal(pos[1])
        elif len(pos) > (2 if need_col else 0):
            raise self.error(f"{call.name}: too many positional arguments", call)
        field_kws = [k for k in kws]
        if len(field_kws) != 1:
            raise self.error(f"{call.name} needs exactly one field=value argument", call)
        fd = self.field(field_kws[0].name, call)
        value = self.literal(field_kws[0].value)
        if value is _NULL:
            value = None
        return col, fd.name, value, ts

    def _set(self, call: ast.Call) -> P.CallNode:
        col, field, value, ts = self._write_target(call, True)
        if value is None:
            raise self.error("Set: null is not a value (use Clear)", call)
        return P.SetValue(col, field, value, ts)

    def _clear(self, call: ast.Call) -> P.CallNode:
        col, field, value, _ = self._write_target(call, True)
        return P.ClearValue(col, field, value)

    def _clear_row(self, call: ast.Call) -> P.CallNode:
        _, field, value, _ = self._write_target(call, False)
        return P.ClearRow(field, value)

    def _store(self, call: ast.Call) -> P.CallNode:
        pos = call.positionals()
        if len(pos) != 1 or not isinstance(pos[0], ast.Call):
            raise self.error("Store takes a row call and field=row", call)
        kws = call.keywords()
        if len(kws) != 1:
            raise self.error("Store needs exactly one field=row argument", call)
        (name, value), = kws.items()
        fd = self.field(name, call)
        return P.Store(self.lower_row(pos[0]), fd.name, self.literal(value))

    def _delete(self, call: ast.Call) -> P.CallNode:
        self.check_args(call, set(), max_pos=1)
        pos = call.positionals()
        if len(pos) != 1 or not isinstance(pos[0], ast.Call):
            raise self.error("Delete takes one row call", call)
        return P.Delete(self.lower_row(pos[0]))


def _show(v: Any) -> str:
    if v is _NULL:
        return "null"
    if isinstance(v, ast.Bare):
        return v.text
    if isinstance(v, ast.Timestamp):
        return v.text
    if isinstance(v, ast.Call):
        return f"{v.name}(…)"
    return repr(v)


_ROW_CALLS: dict[str, Callable[[Lowerer, ast.Call], P.RowNode]] = {
    "Row": Lowerer._row,
    "Range": Lowerer._row,
    "Union": Lowerer._union,
    "Intersect": Lowerer._nary(Lowerer, P.Intersect),  # type: ignore[arg-type]
    "Difference": Lowerer._nary(Lowerer, P.Difference),  # type: ignore[arg-type]
    "Xor": Lowerer._nary(Lowerer, P.Xor),  # type: ignore[arg-type]
    "Not": Lowerer._not,
    "All": Lowerer._all,
    "Shift": Lowerer._shift,
    "Limit": Lowerer._limit,
    "ConstRow": Lowerer._const_row,
    "UnionRows": Lowerer._union_rows,
    "Distinct": Lowerer._distinct_row,
}

_CALLS: dict[str, Callable[[Lowerer, ast.Call], P.CallNode]] = {
    "Count": Lowerer._count,
    "Sum": Lowerer._sum,
    "Min": Lowerer._minmax(Lowerer, False),  # type: ignore[arg-type]
    "Max": Lowerer._minmax(Lowerer, True),  # type: ignore[arg-type]
    "MinRow": Lowerer._minmax_row(Lowerer, False),  # type: ignore[arg-type]
    "MaxRow": Lowerer._minmax_row(Lowerer, True),  # type: ignore[arg-type]
    "Percentile": Lowerer._percentile,
    "FieldValue": Lowerer._field_value,
    "IncludesColumn": Lowerer._includes,
    "TopN": Lowerer._topn,
    "TopK": lambda self, call: self._topn(call, exact_k=True),
    "Rows": Lowerer._rows,
    "GroupBy": Lowerer._groupby,
    "Distinct": Lowerer._distinct,
    "Sort": Lowerer._sort,
    "Extract": Lowerer._extract,
    "Options": Lowerer._options,
    "Set": Lowerer._set,
    "SetBit": Lowerer._set,
    "Clear": Lowerer._clear,
    "ClearRow": Lowerer._clear_row,
    "Store": Lowerer._store,
    "Delete": Lowerer._delete,
}

