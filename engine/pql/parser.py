"""Parse PQL text into the syntax tree, mapping every Lark error to QuerySyntaxError."""
from __future__ import annotations

import functools
import pathlib
import re
from decimal import Decimal
from typing import cast

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from engine.errors import QueryLimitError, QuerySyntaxError
from engine.pql import ast

MAX_QUERY_BYTES = 96 << 10       # room for 5,000 short write calls; parses in well under a second here
MAX_DEPTH = 64
CACHE_TEXT_LIMIT = 4096          # longer texts are parsed every time rather than kept
_ESCAPES = re.compile(r"\\(.)", re.DOTALL)
_INTS = re.compile(r"[+-]?[0-9]+")
MAX_CALLS_IN_TEXT = 10_000       # opening parentheses, counted before parsing


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    # The Transformer runs inside the LALR parser (no intermediate parse tree); call
    # positions come from the call name's token.
    grammar = (pathlib.Path(__file__).parent / "pql.lark").read_text()
    return Lark(grammar, parser="lalr", maybe_placeholders=False, transformer=_ToAst())


def grammar_text() -> str:
    return (pathlib.Path(__file__).parent / "pql.lark").read_text()


@v_args(inline=True)
class _ToAst(Transformer):
    """Builds the syntax tree; runs inside the parser, so it gets tokens and results."""

    def start(self, *calls: ast.Call) -> ast.Query:
        return ast.Query(tuple(calls))

    def call(self, name: Token, args: tuple[ast.Arg, ...] = ()) -> ast.Call:
        return ast.Call(str(name), tuple(args), name.line or 0, name.column or 0)

    def args(self, *args: ast.Arg) -> tuple[ast.Arg, ...]:
        return tuple(args)

    def pos_call(self, c: ast.Call) -> ast.Positional:
        return ast.Positional(c)

    def pos_value(self, v: ast.Literal) -> ast.Positional:
        return ast.Positional(v)

    def kwarg(self, name: Token, v: ast.Literal) -> ast.Keyword:
        return ast.Keyword(str(name), v)

    def kwarg_call(self, name: Token, c: ast.Call) -> ast.Keyword:
        return ast.Keyword(str(name), c)

    def condition(self, name: Token, op: Token, v: ast.Literal) -> ast.Condition:
        return ast.Condition(str(name), str(op), v)

    def between_list(self, name: Token, _op: Token, lst: ast.ListValue) -> ast.Between:
        if len(lst.items) != 2:
            raise QuerySyntaxError(f"{name} >< needs a list of two bounds", name.line or 0, name.column or 0)
        return ast.Between(str(name), lst.items[0], "<=", lst.items[1], "<=")

    def between(self, lo: ast.Literal, lo_op: Token, name: Token, hi_op: Token, hi: ast.Literal) -> ast.Between:
        return ast.Between(str(name), lo, str(lo_op), hi, str(hi_op))

    def int_(self, tok: Token) -> int:
        try:
            return int(tok)
        except ValueError:          # beyond Python's digit limit for int()
            raise QuerySyntaxError("integer literal too long", tok.line or 0, tok.column or 0) from None

    def decimal_(self, tok: Token) -> Decimal:
        return Decimal(str(tok))

    def timestamp(self, tok: Token) -> ast.Timestamp:
        return ast.Timestamp(str(tok))

    def string(self, tok: Token) -> str:
        return _ESCAPES.sub(r"\1", str(tok)[1:-1])

    def bare(self, tok: Token) -> ast.Bare:
        return ast.Bare(str(tok))

    def int_list(self, tok: Token) -> ast.ListValue:
        try:
            return ast.ListValue(tuple(int(x) for x in _INTS.findall(str(tok))))
        except ValueError:          # beyond Python's digit limit for int()
            raise QuerySyntaxError("integer literal too long", tok.line or 0, tok.column or 0) from None

    def list(self, *items: ast.Literal) -> ast.ListValue:
        return ast.ListValue(tuple(items))


def _check_limits(text: str) -> None:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_QUERY_BYTES:
        raise QueryLimitError(f"query longer than {MAX_QUERY_BYTES} bytes")
    depth = 0
    calls = 0
    quote = ""
    escaped = False
    for i, ch in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
            if ch == "(":
                calls += 1
                if calls > MAX_CALLS_IN_TEXT:
                    raise QueryLimitError(f"more than {MAX_CALLS_IN_TEXT} calls in one request")
            if depth > MAX_DEPTH:
                line = text.count("\n", 0, i) + 1
                raise QueryLimitError(f"query nested deeper than {MAX_DEPTH} levels (line {line})")
        elif ch in ")]":
            depth -= 1


def parse(text: str) -> ast.Query:
    """Parse a PQL request (one or more calls). The syntax tree is immutable and depends
    only on the text, so recently parsed texts are answered from a small cache.

    Raises:
        QuerySyntaxError: with line, column and the expected tokens.
        QueryLimitError: text too long or nested too deeply.
    """
    if not isinstance(text, str):
        raise QuerySyntaxError("a query must be text")
    if len(text) > CACHE_TEXT_LIMIT:
        return _parse_cached.__wrapped__(text)
    return _parse_cached(text)


@functools.lru_cache(maxsize=512)
def _parse_cached(text: str) -> ast.Query:
    _check_limits(text)
    try:
        return cast(ast.Query, _parser().parse(text))  # the Transformer builds the Query
    except VisitError as exc:  # an error raised inside the Transformer
        if isinstance(exc.orig_exc, (QuerySyntaxError, QueryLimitError)):
            raise exc.orig_exc from None
        raise QuerySyntaxError(f"invalid query: {exc.orig_exc}") from None
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    except LarkError as exc:
        raise QuerySyntaxError(f"invalid query: {exc}") from None


def _syntax_error(exc: UnexpectedInput, text: str) -> QuerySyntaxError:
    expected: set[str] = set()
    at_end = False
    if isinstance(exc, UnexpectedToken):
        expected = set(exc.expected)
        tok = exc.token
        at_end = tok.type == "$END"
        what = "end of query" if at_end else f"{tok.value!r}"
        msg = f"unexpected {what}"
    elif isinstance(exc, UnexpectedCharacters):
        expected = set(exc.allowed or ())
        pos = exc.pos_in_stream
        msg = f"unexpected character {text[pos]!r}" if pos is not None and 0 <= pos < len(text) \
            else "unexpected character"
    elif isinstance(exc, UnexpectedEOF):
        expected = set(exc.expected)
        at_end = True
        msg = "unexpected end of query"
    else:
        msg = "invalid query"
    names = tuple(sorted(_pretty(e) for e in expected))
    if names:
        msg += f"; expected one of: {', '.join(names)}"
    line = getattr(exc, "line", 0) or 0
    column = getattr(exc, "column", 0) or 0
    if line <= 0 or at_end:  # end of input: point just past the text
        line = text.count("\n") + 1
        column = len(text) - (text.rfind("\n") + 1) + 1
    return QuerySyntaxError(msg, line, column, names)


_PRETTY = {"LPAR": "(", "RPAR": ")", "COMMA": ",", "EQUAL": "=", "LSQB": "[", "RSQB": "]",
           "NAME": "name", "SIGNED_INT": "integer", "SIGNED_DECIMAL": "decimal", "STRING": "string",
           "TIMESTAMP": "timestamp", "COMPOP": "comparison", "LTOP": "< or <=", "BETWEEN": "><",
           "$END": "end of query"}


def _pretty(name: str) -> str:
    return _PRETTY.get(name, name)
