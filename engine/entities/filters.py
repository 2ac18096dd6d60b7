"""Property filters (crossing-minds-api.md §3) lowered into the plan IR, so a filtered
listing costs bitmap operations, not a scan.

A filter is `{"property_name": p, "op": op, "value": v}` or its URL form `p:op[:value]`
(list values comma-separated; a `%2C`/`%3A` inside a value is percent-decoded after the
split). Filters are AND-ed. Semantics, for a property that holds one value:

    eq neq lt lte gt gte in notin    compare the value; a record without one matches only
                                     neq and notin (CM: "also returns items where the
                                     property is missing")
    notempty                         the record has a value
    ftsearch                         every query token is among the value's tokens
                                     (types.tokens: casefolded words, no stemming)

and for a repeated property: eq, lt..gte, in and ftsearch hold when SOME element matches;
neq and notin when NO element matches (an empty or missing list matches); notempty when the
list has an element. Floats accept only ordering and notempty (equality on floats is
refused, as Crossing Minds does); filter values are rounded to the property's width first.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Sequence
from urllib.parse import unquote

from engine import plan as P
from engine.entities.errors import wrong_data
from engine.entities.types import ValueType, WrongDataType, tokens
from engine.schema import FieldDef

if TYPE_CHECKING:
    from engine.entities.table import EntityTable, Property

OPS = ("eq", "neq", "lt", "lte", "gt", "gte", "in", "notin", "notempty", "ftsearch")
_LIST_OPS = ("in", "notin")
_ORDER = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
MAX_FILTERS = 64
MAX_LIST = 10000


def parse_filter(spec: Any) -> tuple[str, str, Any, bool]:
    """(property name, op, raw value, value is URL text) of one filter in either form."""
    if isinstance(spec, str):
        text = spec.strip()
        if text.startswith("{"):
            try:
                spec = json.loads(text)
            except ValueError:
                raise wrong_data(f"filter {text[:60]!r} is not valid JSON") from None
        else:
            parts = text.split(":", 2)
            if len(parts) < 2 or not parts[0]:
                raise wrong_data(f"filter {text[:60]!r} is not of the form property:op[:value]")
            return parts[0], parts[1], (parts[2] if len(parts) == 3 else None), True
    if not isinstance(spec, dict):
        raise wrong_data("a filter is an object {property_name, op, value} or the text property:op[:value]")
    unknown = set(spec) - {"property_name", "op", "value"}
    if unknown:
        raise wrong_data(f"unknown filter keys {sorted(unknown)}")
    name, op = spec.get("property_name"), spec.get("op")
    if not isinstance(name, str) or not isinstance(op, str):
        raise wrong_data("a filter needs property_name and op as text")
    if isinstance(spec.get("value"), dict):
        raise wrong_data("object-valued filters are reserved to scenarios")
    return name, op, spec.get("value"), False


class FilterLowering:
    """Lowers filters against one table's committed state (`state`: the snapshot the
    listing runs on, for key lookups that must agree with the bitmaps read)."""

    def __init__(self, table: "EntityTable") -> None:
        self.table = table
        self.index = table.index

    def lower(self, specs: Sequence[Any]) -> P.RowNode:
        if len(specs) > MAX_FILTERS:
            raise wrong_data(f"at most {MAX_FILTERS} filters per request")
        nodes: list[P.RowNode] = [P.Existence()]
        for spec in specs:
            nodes.append(self.one(*parse_filter(spec)))
        return nodes[0] if len(nodes) == 1 else P.Intersect(tuple(nodes))

    def one(self, name: str, op: str, raw: Any, from_url: bool) -> P.RowNode:
        prop = self.table.property(name)
        vt = prop.value_type
        if op not in OPS:
            raise wrong_data(f"unknown filter op {op[:20]!r}; use one of {', '.join(OPS)}", key=name)
        if op not in vt.ops:
            raise wrong_data(f"op {op} is not allowed on {vt.name} property {prop.name} "
                             f"(allowed: {', '.join(vt.ops)})", key=name)
        if op == "notempty":
            if raw not in (None, ""):
                raise wrong_data("notempty takes no value", key=name)
            return self._not_empty(prop)
        if raw is None:
            raise wrong_data(f"op {op} needs a value", key=name)
        if op == "ftsearch":
            if not isinstance(raw, str):
                raise wrong_data("ftsearch takes a text value", key=name)
            words = tokens(unquote(raw) if from_url else raw)
            if not words:
                raise wrong_data("ftsearch needs at least one word", key=name)
            return self._words(prop, words)
        if op in _LIST_OPS:
            items = [unquote(t) for t in raw.split(",")] if from_url and isinstance(raw, str) else raw
            if not isinstance(items, list):
                raise wrong_data(f"op {op} takes a list of values", key=name)
            if len(items) > MAX_LIST:
                raise wrong_data(f"op {op} takes at most {MAX_LIST} values", key=name)
            values = [self._value(vt, v, from_url, name) for v in items]
            hit = self._any_equal(prop, values)
            return hit if op == "in" else P.Difference((P.Existence(), hit))
        if isinstance(raw, list):
            raise wrong_data(f"op {op} takes one value, not a list", key=name)
        value = self._value(vt, unquote(raw) if from_url and isinstance(raw, str) else raw, from_url, name)
        if op == "eq":
            return self._any_equal(prop, [value])
        if op == "neq":
            return P.Difference((P.Existence(), self._any_equal(prop, [value])))
        return self._ordered(prop, _ORDER[op], value)

    # --- values and leaves -------------------------------------------------------------

    def _value(self, vt: ValueType, raw: Any, from_url: bool, name: str) -> Any:
        try:
            return vt.check(vt.parse_text(raw) if from_url and isinstance(raw, str) else raw)
        except WrongDataType as exc:
            raise wrong_data(f"filter on {name}: {exc.message}", key=name) from None

    def _not_empty(self, prop: "Property") -> P.RowNode:
        fd = prop.field
        return P.BsiNotNull(fd.id) if fd.options.is_bsi else P.AnyRow(fd.id)

    def _row(self, fd: FieldDef, key: Any) -> P.RowNode:
        if fd.options.type == "bool":
            return P.RowOf(fd.id, int(bool(key)))
        row = self.index.row_keys(fd).id(key)
        return P.Empty() if row is None else P.RowOf(fd.id, row)

    def _any_equal(self, prop: "Property", values: list[Any]) -> P.RowNode:
        fd, vt = prop.field, prop.value_type
        parts: list[P.RowNode] = []
        for v in dict.fromkeys(values):
            if vt.repeated:
                parts.append(self._row(fd, vt.key(v)))
            elif fd.options.is_bsi:
                s = fd.options.to_stored(v)
                parts.append(P.BsiRange(fd.id, s, s))
            else:
                parts.append(self._row(fd, v))
        parts = [p for p in parts if not isinstance(p, P.Empty)]
        if not parts:
            return P.Empty()
        return parts[0] if len(parts) == 1 else P.Union_(tuple(parts))

    def _ordered(self, prop: "Property", op: str, value: Any) -> P.RowNode:
        fd, vt = prop.field, prop.value_type
        if vt.repeated:
            # A keyed set of canonical strings: the rows whose value satisfies the bound.
            test = {"<": lambda x: x < value, "<=": lambda x: x <= value,
                    ">": lambda x: x > value, ">=": lambda x: x >= value}[op]
            rows = [row for key, row in self.index.row_keys(fd).items_snapshot() if test(vt.from_key(key))]
            if not rows:
                return P.Empty()
            return P.Union_(tuple(P.RowOf(fd.id, r) for r in sorted(rows)))
        if fd.options.type == "float":
            bounds = fd.options.float_range(op, value)
            if bounds is None:
                return P.Empty()
            return P.BsiNotNull(fd.id) if bounds == (None, None) else P.BsiRange(fd.id, *bounds)
        s = fd.options.to_stored(value)
        lo, hi = {"<": (None, s - 1), "<=": (None, s), ">": (s + 1, None), ">=": (s, None)}[op]
        return P.BsiRange(fd.id, lo, hi)

    def _words(self, prop: "Property", words: list[str]) -> P.RowNode:
        tok = prop.tokens
        assert tok is not None
        parts = [self._row(tok, w) for w in words]
        if any(isinstance(p, P.Empty) for p in parts):
            return P.Empty()
        return parts[0] if len(parts) == 1 else P.Intersect(tuple(parts))
