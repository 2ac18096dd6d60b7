"""Parse SQL text into statements, mapping every Lark error to QuerySyntaxError."""
from __future__ import annotations

import contextvars
import dataclasses
import functools
import pathlib
import re
import sys
from decimal import Decimal
from typing import Any, Optional, cast

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedInput, VisitError

from engine.errors import QueryLimitError, QuerySyntaxError
from engine.pql.parser import CACHE_TEXT_LIMIT, MAX_QUERY_BYTES, _syntax_error
from engine.sql import ast

MAX_DEPTH = 64
_INT_DIGITS = sys.get_int_max_str_digits() or 4300
MAX_TREE_DEPTH = 256        # levels of the syntax tree; a chain of AND/OR/+/||/* … is one level


def _unquote(text: str, q: str) -> str:
    return text[1:-1].replace(q + q, q)


def _int(tok: Token, digits: Optional[str] = None) -> int:
    """The integer of tok (or of `digits`, a part of it) as a syntax error when too long."""
    try:
        return int(tok if digits is None else digits)
    except ValueError:              # beyond Python's digit limit for int()
        raise QuerySyntaxError("integer literal too long", tok.line or 0, tok.column or 0) from None


def _negate(v: Any) -> Any:
    """-v, exactly (unary minus on a Decimal rounds to the context's 28 digits)."""
    return v.copy_negate() if isinstance(v, Decimal) else -v


def _name(tok: Any) -> str:
    """A name as written: quoted keeps its case, bare is lower-cased (FeatureBase)."""
    s = str(tok)
    if s[:1] in ('"', "`"):
        return _unquote(s, s[0])
    return s.lower()


_CONDITIONS = (ast.Compare, ast.IsNull, ast.Between, ast.InList, ast.InSelect, ast.Like, ast.And, ast.Or,
               ast.Not, ast.Exists)
_JOIN_KINDS = {"inner": "inner", "left": "left", "right": "right", "full": "full", "cross": "cross"}


@v_args(inline=True)
class _ToAst(Transformer):
    """Builds the statement tree; runs inside the LALR parser."""

    def start(self, *stmts: Any) -> tuple[ast.Statement, ...]:
        return tuple(s for s in stmts if s is not None)

    def name(self, tok: Token) -> str:
        return _name(tok)

    def table_name(self, n: Any) -> str:
        return _name(n) if isinstance(n, Token) else n

    column_name = table_name

    # --- SELECT ---------------------------------------------------------------------------
    def select(self, distinct: Any, top: Any, items: list[ast.SelectItem], source: Any, hints: Any,
               where: Any, group_by: Any, having: Any, order_by: Any, limit: Any) -> ast.Select:
        lim, off = limit if limit is not None else (None, 0)
        return ast.Select(tuple(items), source, distinct is not None, top, tuple(hints or ()), where,
                          tuple(group_by or ()), having, tuple(order_by or ()), lim, off)

    def top(self, n: Token) -> int:
        return _int(n)

    def select_list(self, *items: ast.SelectItem) -> list[ast.SelectItem]:
        return list(items)

    def star(self, _tok: Token) -> ast.SelectItem:
        return ast.SelectItem(None)

    def qualified_star(self, table: str, _tok: Token) -> ast.SelectItem:
        return ast.SelectItem(None, None, table)

    def item(self, expr: ast.Expr, alias: Optional[str]) -> ast.SelectItem:
        return ast.SelectItem(expr, alias)

    def from_clause(self, first: ast.FromItem, *rest: ast.FromItem) -> ast.FromItem:
        out = first
        for r in rest:
            out = ast.Join("cross", out, r, None, comma=True)
        return out

    def table(self, name: str, alias: Optional[str]) -> ast.FromItem:
        return ast.TableRef(name, alias)

    def subquery(self, sel: ast.Select, alias: Optional[str]) -> ast.FromItem:
        return ast.SubqueryRef(sel, alias)

    def join_kind(self, tok: Optional[Token]) -> str:
        return "inner" if tok is None else _JOIN_KINDS[str(tok).split()[0].lower()]

    def join(self, left: ast.FromItem, kind: str, right: ast.FromItem, on: Optional[ast.Expr]) -> ast.FromItem:
        return ast.Join(kind, left, right, on)

    def hint(self, *items: tuple[str, tuple[str, ...]]) -> list[tuple[str, tuple[str, ...]]]:
        return list(items)

    def hint_item(self, fn: str, *args: Optional[str]) -> tuple[str, tuple[str, ...]]:
        return fn, tuple(a for a in args if a is not None)

    def where(self, e: ast.Expr) -> ast.Expr:
        return e

    def having(self, e: ast.Expr) -> ast.Expr:
        return e

    def group_by(self, *exprs: ast.Expr) -> list[ast.Expr]:
        return list(exprs)

    def order_by(self, *items: tuple[ast.Expr, bool]) -> list[tuple[ast.Expr, bool]]:
        return list(items)

    def order_item(self, e: ast.Expr, direction: Optional[Token]) -> tuple[ast.Expr, bool]:
        return e, direction is not None and str(direction).upper() == "DESC"

    def limit(self, n: Token, off: Optional[Token]) -> tuple[int, int]:
        return _int(n), _int(off) if off is not None else 0

    # --- expressions -------------------------------------------------------------------------
    def or_(self, *terms: ast.Expr) -> ast.Expr:
        return ast.Or(terms)

    def and_(self, *terms: ast.Expr) -> ast.Expr:
        return ast.And(terms)

    def not_(self, _tok: Token, e: ast.Expr) -> ast.Expr:
        # NOT NOT p is p for a condition p, in three-valued logic too: folding keeps a long
        # NOT chain shallow (a NOT over a column or value stays, it may not be a condition).
        if isinstance(e, ast.Not) and isinstance(e.expr, _CONDITIONS):
            return e.expr
        return ast.Not(e)

    def compare(self, a: ast.Expr, op: Token, b: ast.Expr) -> ast.Expr:
        o = str(op)
        return ast.Compare("!=" if o == "<>" else o, a, b)

    def is_null(self, e: ast.Expr, neg: Optional[Token]) -> ast.Expr:
        return ast.IsNull(e, neg is not None)

    def between(self, e: ast.Expr, neg: Optional[Token], lo: ast.Expr, hi: ast.Expr) -> ast.Expr:
        return ast.Between(e, lo, hi, neg is not None)

    def in_(self, e: ast.Expr, neg: Optional[Token], items: list[ast.Expr]) -> ast.Expr:
        return ast.InList(e, tuple(items), neg is not None)

    def in_run(self, e: ast.Expr, neg: Optional[Token], tok: Token) -> ast.Expr:
        runs = _RUNS.get()
        i = int(str(tok)[1:-1])
        if runs is None or i >= len(runs):
            raise QuerySyntaxError("unexpected NUL character", tok.line or 0, tok.column or 0)
        return ast.InList(e, runs[i], neg is not None)

    def in_subquery(self, e: ast.Expr, neg: Optional[Token], sel: ast.Select) -> ast.Expr:
        return ast.InSelect(e, sel, neg is not None)

    def exists(self, sel: ast.Select) -> ast.Expr:
        return ast.Exists(sel)

    def like(self, e: ast.Expr, neg: Optional[Token], pattern: ast.Expr) -> ast.Expr:
        return ast.Like(e, pattern, neg is not None)

    def binop(self, *parts: Any) -> ast.Expr:
        return ast.BinOp(tuple(str(op) for op in parts[1::2]), tuple(parts[0::2]))

    def neg(self, e: ast.Expr) -> ast.Expr:
        if isinstance(e, ast.Literal) and e.kind in ("int", "decimal"):
            return ast.Literal(_negate(e.value), e.kind)
        return ast.Neg(e)

    def bitnot(self, e: ast.Expr) -> ast.Expr:
        return ast.BitNot(e)

    def column(self, n: str) -> ast.Expr:
        return ast.Column(n)

    def qualified_column(self, t: str, n: str) -> ast.Expr:
        return ast.Column(n, t)

    def func(self, n: str, args: Optional[tuple[bool, bool, tuple[ast.Expr, ...]]],
             filt: Optional[ast.Expr]) -> ast.Expr:
        star, distinct, exprs = args if args is not None else (False, False, ())
        return ast.Func(n.upper(), exprs, distinct, star, filt)

    def agg_filter(self, e: ast.Expr) -> ast.Expr:
        return e

    def star_args(self, _tok: Token) -> tuple[bool, bool, tuple[ast.Expr, ...]]:
        return True, False, ()

    def args(self, distinct: Optional[Token], *exprs: ast.Expr) -> tuple[bool, bool, tuple[ast.Expr, ...]]:
        return False, distinct is not None, tuple(exprs)

    def cast(self, e: ast.Expr, t: ast.TypeName) -> ast.Expr:
        return ast.Cast(e, t)

    def case(self, operand: Optional[ast.Expr], *rest: Any) -> ast.Expr:
        whens = tuple(r for r in rest if isinstance(r, tuple))
        default = rest[-1] if rest and not isinstance(rest[-1], tuple) else None
        return ast.Case(operand, whens, default)

    def when_clause(self, cond: ast.Expr, then: ast.Expr) -> tuple[ast.Expr, ast.Expr]:
        return cond, then

    def current_timestamp(self) -> ast.Expr:
        return ast.CurrentTime(False)

    def current_date(self) -> ast.Expr:
        return ast.CurrentTime(True)

    def pos(self, e: ast.Expr) -> ast.Expr:
        # +x is an expression over x (a number): 0 + x keeps its value and type, and an
        # unaliased +x is unnamed like any other expression
        if isinstance(e, ast.Literal) and e.kind in ("int", "decimal"):
            return e
        return ast.BinOp(("+",), (ast.Literal(0, "int"), e))

    def scalar_subquery(self, sel: ast.Select) -> ast.Expr:
        return ast.Subquery(sel)

    def param(self, tok: Token) -> Any:
        return ast.Param(_int(tok, str(tok)[1:]))

    def expr_list(self, *items: ast.Expr) -> list[ast.Expr]:
        return list(items)

    def int_(self, tok: Token) -> ast.Literal:
        return ast.Literal(_int(tok), "int")

    def decimal_(self, tok: Token) -> ast.Literal:
        return ast.Literal(Decimal(str(tok)), "decimal")

    def string(self, tok: Token) -> ast.Literal:
        return ast.Literal(_unquote(str(tok), "'"), "string")

    def hexstring(self, tok: Token) -> ast.Literal:
        return ast.Literal(_unquote(str(tok)[1:], "'"), "hex")

    def null(self) -> ast.Literal:
        return ast.Literal(None, "null")

    def true(self) -> ast.Literal:
        return ast.Literal(True, "bool")

    def false(self) -> ast.Literal:
        return ast.Literal(False, "bool")

    def set_literal(self, *items: Any) -> ast.Literal:
        return ast.Literal(tuple(i for i in items if i is not None), "set")

    def tuple_literal(self, a: ast.Expr, b: ast.Expr) -> ast.Literal:
        return ast.Literal((a, b), "tuple")

    # --- DDL -----------------------------------------------------------------------------------
    def type_name(self, n: str, arg: Optional[Token]) -> ast.TypeName:
        return ast.TypeName(n.upper(), _int(arg) if arg is not None else None)

    def cword(self, n: str) -> Any:
        return n.upper()

    def cint(self, tok: Token) -> int:
        return _int(tok)

    def cnegint(self, tok: Token) -> int:
        return -_int(tok)

    def cdec(self, tok: Token) -> Decimal:
        return Decimal(str(tok))

    def cnegdec(self, tok: Token) -> Decimal:
        return Decimal("-" + str(tok))

    def cstr(self, tok: Token) -> Any:
        return ("str", _unquote(str(tok), "'"))

    def column_def(self, n: str, t: ast.TypeName, *words: Any) -> ast.ColumnDef:
        return ast.ColumnDef(n, t, tuple(words))

    def comment(self, tok: Token) -> tuple[str, str]:
        return "comment", _unquote(str(tok), "'")

    def keypartitions(self, tok: Token) -> tuple[str, int]:
        return "keypartitions", _int(tok)

    def table_option(self, opt: Any) -> Any:
        return opt

    def if_not_exists(self, *_: Any) -> bool:
        return True

    def if_exists(self) -> bool:
        return True

    def create_table(self, ine: Optional[bool], n: str, *rest: Any) -> ast.Statement:
        cols = tuple(r for r in rest if isinstance(r, ast.ColumnDef))
        opts: dict[str, Any] = dict(r for r in rest if isinstance(r, tuple))
        return ast.CreateTable(n, cols, bool(ine), str(opts.get("comment", "")))

    def alter_add(self, t: str, c: ast.ColumnDef) -> ast.Statement:
        return ast.AlterAdd(t, c)

    def alter_drop(self, t: str, c: str) -> ast.Statement:
        return ast.AlterDrop(t, c)

    def drop_table(self, ie: Optional[bool], n: str) -> ast.Statement:
        return ast.DropTable(n, bool(ie))

    def create_view(self, ine: Optional[bool], n: str, sel: ast.Select) -> ast.Statement:
        return ast.CreateView(n, sel, bool(ine))

    def alter_view(self, n: str, sel: ast.Select) -> ast.Statement:
        return ast.CreateView(n, sel, replace=True)

    def drop_view(self, ie: Optional[bool], n: str) -> ast.Statement:
        return ast.DropView(n, bool(ie))

    def show_tables(self) -> ast.Statement:
        return ast.ShowTables()

    def show_columns(self, t: str) -> ast.Statement:
        return ast.ShowColumns(t)

    def show_create(self, t: str) -> ast.Statement:
        return ast.ShowCreate(t)

    def show_views(self) -> ast.Statement:
        return ast.ShowViews()

    def show_databases(self) -> ast.Statement:
        return ast.ShowDatabases()

    def describe(self, t: str) -> ast.Statement:
        return ast.ShowColumns(t)

    # --- DML -------------------------------------------------------------------------------------
    def row_values(self, *exprs: ast.Expr) -> tuple[ast.Expr, ...]:
        return tuple(exprs)

    def insert(self, verb: Token, t: str, *rest: Any) -> ast.Statement:
        cols = tuple(r for r in rest if isinstance(r, str))
        rows = tuple(r for r in rest if isinstance(r, tuple))
        return ast.Insert(t, cols, rows, str(verb).upper() == "REPLACE")

    def map_item(self, src: Token, t: ast.TypeName) -> tuple[Any, ast.TypeName]:
        s = str(src)
        return (_int(src) if s.isdigit() else _unquote(s, "'")), t

    # the grammar rule `transform`; lark dispatches on the rule name, so it must shadow
    # Transformer.transform (never called: the parser runs the Transformer inline)
    def transform(self, *exprs: ast.Expr) -> tuple[str, tuple[ast.Expr, ...]]:  # type: ignore[override]
        return "transform", tuple(exprs)

    def opt_format(self, tok: Token) -> tuple[str, Any]:
        return "format", _unquote(str(tok), "'").upper()

    def opt_input(self, tok: Token) -> tuple[str, Any]:
        return "input", _unquote(str(tok), "'").upper()

    def opt_header(self) -> tuple[str, Any]:
        return "header_row", True

    def opt_batchsize(self, tok: Token) -> tuple[str, Any]:
        return "batchsize", _int(tok)

    def opt_rowslimit(self, tok: Token) -> tuple[str, Any]:
        return "rowslimit", _int(tok)

    def opt_allow_missing(self) -> tuple[str, Any]:
        return "allow_missing_values", True

    def bulk_insert(self, verb: Token, t: str, *rest: Any) -> ast.Statement:
        cols: list[str] = []
        maps: list[tuple[Any, ast.TypeName]] = []
        transform: tuple[ast.Expr, ...] = ()
        source, inline = "", False
        options: dict[str, Any] = {}
        for r in rest:
            if isinstance(r, Token):
                text = str(r)
                inline = text[:1] in "xX"
                source = _unquote(text[1:] if inline else text, "'")
            elif isinstance(r, str):
                cols.append(r)
            elif isinstance(r, tuple) and len(r) == 2 and isinstance(r[1], ast.TypeName):
                maps.append(r)
            elif isinstance(r, tuple) and r and r[0] == "transform":
                transform = r[1]
            elif isinstance(r, tuple):
                options[r[0]] = r[1]
        return ast.BulkInsert(t, tuple(cols), tuple(maps), transform, source, inline, options,
                              str(verb).upper() == "REPLACE")

    def delete(self, t: str, where: Optional[ast.Expr]) -> ast.Statement:
        return ast.Delete(t, where)

    def explain(self, stmt: ast.Statement) -> ast.Statement:
        return ast.Explain(stmt)


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _keywords_as_words(t: Any) -> None:
    """Lark edit_terminals hook: a keyword string (`"NOT"i`) matches only as a whole word
    and wins over a name wherever the grammar accepts both, so `notes` is never `NOT es`."""
    from lark.lexer import PatternRE, PatternStr

    if isinstance(t.pattern, PatternStr) and _WORD.fullmatch(t.pattern.value):
        t.pattern = PatternRE(re.escape(t.pattern.value) + r"(?![A-Za-z0-9_])", t.pattern.flags)
        t.priority = max(t.priority, 2)


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = (pathlib.Path(__file__).parent / "sql.lark").read_text()
    return Lark(grammar, parser="lalr", maybe_placeholders=True, transformer=_ToAst(),
                edit_terminals=_keywords_as_words)


def grammar_text() -> str:
    return (pathlib.Path(__file__).parent / "sql.lark").read_text()


def parse(text: str) -> tuple[ast.Statement, ...]:
    """Parse one or more ';'-separated statements (recent texts come from a cache)."""
    if not isinstance(text, str):
        raise QuerySyntaxError("a statement must be text")
    if len(text) > CACHE_TEXT_LIMIT:
        return _parse_cached.__wrapped__(text)
    return _parse_cached(text)


@functools.lru_cache(maxsize=512)
def _parse_cached(text: str) -> tuple[ast.Statement, ...]:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_QUERY_BYTES:
        raise QueryLimitError(f"statement longer than {MAX_QUERY_BYTES} bytes")
    _check_depth(text)
    short, runs = _literal_runs(text)
    if runs:
        token = _RUNS.set(runs)
        try:
            stmts = cast(tuple[ast.Statement, ...], _parser().parse(short))  # the Transformer builds them
        except (LarkError, QuerySyntaxError):
            pass                    # report the error as the whole text has it, positions right
        else:
            _check_tree_depth(stmts)
            return stmts
        finally:
            _RUNS.reset(token)
    try:
        stmts = cast(tuple[ast.Statement, ...], _parser().parse(text))
    except VisitError as exc:
        if isinstance(exc.orig_exc, (QuerySyntaxError, QueryLimitError)):
            raise exc.orig_exc from None
        raise QuerySyntaxError(f"invalid statement: {exc.orig_exc}") from None
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    except (LarkError, RecursionError) as exc:
        raise QuerySyntaxError(f"invalid statement: {exc}") from None
    _check_tree_depth(stmts)
    return stmts


# IN lists of many literals: the LALR parser takes ~14 µs a token (a 96 KiB list of 49,000
# integers ≈ 1.3 s), so a run of at least MIN_RUN literals in IN (…) is read here with one
# regular expression and reaches the grammar as one LITERAL_RUN token (NUL, index, NUL).
# Strings, quoted names and comments are skipped whole, so only real IN lists are seen; the
# list is matched atomically (no backtracking: linear time whatever follows it).
MIN_RUN = 32
_LIT = r"(?:-\s*)?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)|'(?:[^']|'')*'|NULL\b"
_SCAN = re.compile(
    r"(?P<skip>'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`(?:[^`]|``)*`|--[^\n]*)"
    rf"|(?P<head>\bIN\s*\(\s*)(?P<items>(?>{_LIT})(?:\s*,\s*(?>{_LIT})){{{MIN_RUN - 1},}}+)\s*\)",
    re.IGNORECASE)
_ITEM = re.compile(_LIT, re.IGNORECASE)
_RUNS: contextvars.ContextVar[Optional[list[tuple[ast.Literal, ...]]]] = contextvars.ContextVar("_RUNS", default=None)


def _literal_runs(text: str) -> tuple[str, list[tuple[ast.Literal, ...]]]:
    """text with each long IN list replaced by a LITERAL_RUN token, and the lists' literals
    (as the grammar would build them)."""
    if len(text) < MIN_RUN * 2:
        return text, []
    runs: list[tuple[ast.Literal, ...]] = []
    out: list[str] = []
    last = 0
    for m in _SCAN.finditer(text):
        if m.group("items") is None:
            continue
        items = _run_literals(m.group("items"))
        if items is None:
            continue
        out += [text[last:m.end("head")], f"\x00{len(runs)}\x00)"]
        runs.append(items)
        last = m.end()
    if not runs:
        return text, []
    out.append(text[last:])
    return "".join(out), runs


def _run_literals(items: str) -> Optional[tuple[ast.Literal, ...]]:
    """The literals of a run, each distinct token once (repeating an IN item changes nothing)."""
    out: dict[str, ast.Literal] = {}
    for tok in _ITEM.findall(items):
        if tok in out:
            continue
        if tok[0] == "'":
            out[tok] = ast.Literal(_unquote(tok, "'"), "string")
        elif tok[0] in "nN":
            out[tok] = ast.Literal(None, "null")
        else:
            neg = tok[0] == "-"
            digits = tok.lstrip("-").lstrip()
            if "." in digits:
                d = Decimal(digits)
                out[tok] = ast.Literal(d.copy_negate() if neg else d, "decimal")
            elif len(digits) > _INT_DIGITS:
                return None         # the parser reports it, with its position
            else:
                out[tok] = ast.Literal(-int(digits) if neg else int(digits), "int")
    return tuple(out.values())


def _check_tree_depth(root: Any) -> None:
    """Refuse a syntax tree deeper than MAX_TREE_DEPTH (every later pass — lowering,
    evaluation, hashing — recurses over it). Walked iteratively; `(` nesting is already
    bounded, so only long NOT or unary-minus chains and EXPLAIN EXPLAIN … get here."""
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (tuple, list)):
            # plain literals are leaves: skipping them keeps a long IN list cheap
            stack.extend((n, depth) for n in node if type(n) is not ast.Literal or n.kind in _NESTED)
        elif dataclasses.is_dataclass(node):
            if depth >= MAX_TREE_DEPTH:
                raise QueryLimitError(f"expression nested deeper than {MAX_TREE_DEPTH} levels")
            stack.extend((getattr(node, f.name), depth + 1) for f in dataclasses.fields(node))


_NESTED = ("set", "tuple")      # literal kinds that hold expressions


def _check_depth(text: str) -> None:
    depth = 0
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                raise QueryLimitError(f"statement nested deeper than {MAX_DEPTH} levels "
                                      f"(line {text.count(chr(10), 0, i) + 1})")
        elif ch in ")]}":
            depth -= 1
