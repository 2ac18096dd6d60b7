"""Where an import's records go: one sink per source resource (seed 002's enum), each
turning a mapped record into engine writes, one atomic commit per batch.

    item, user          the database's entity tables (engine.entities), PATCH semantics:
                        given properties replace, absent ones are kept, new ids created
    rating              index `ratings`: record key "<user>|<item>" (an upsert per pair),
                        fields user_id, item_id (keyed mutex), rating (float64),
                        timestamp (float64 Unix seconds)
    interaction         index `interactions`: key "<user>|<item>|<type>|<timestamp>" (the
                        same event imported twice is stored once), fields user_id, item_id,
                        interaction_type (keyed mutex), timestamp (float64)
    user_id             a whitelist: row <name> of the `whitelists` set field of the users
                        index (membership only: it does not create users); a run replaces
                        the whitelist, its first batch clears it
    user_to_items_reco  index `user_to_items_reco` (and `item_to_items_reco`): one record
    item_to_items_reco  per (id, rank), key "<id>|<rank>", fields user_id / item_id,
                        reco_item_id (keyed mutex), rank (int, 1 = first); an id's list
                        replaces its previous list

Ids are stored as the database's canonical id keys (engine.entities.types.IdType), the
same strings the entity tables use as record keys, so SQL and PQL can relate them.
A value that does not fit raises FieldError (the run reports its row and column); a
batch's good records are then written together or not at all.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Optional, Sequence

import numpy as np

import engine
from engine import STANDARD_VIEW, EntityTable, FrozenBitmap, IdType, ValueType, WrongDataType, import_column, \
    translate_columns
from server.service import databases
from server.sources.errors import wrong_spec

RATINGS, INTERACTIONS, WHITELIST_FIELD = "ratings", "interactions", "whitelists"
RECO_TABLES = {"user_to_items_reco": "user", "item_to_items_reco": "item"}
_INT_TEXT = re.compile(r"\s*-?[0-9]{1,20}\s*\Z")
_BOOLS = {"true": True, "false": False, "1": True, "0": False}


class FieldError(Exception):
    """One value of a record that does not fit its target."""

    def __init__(self, target: str, message: str) -> None:
        super().__init__(message)
        self.target, self.message = target, message


# --- values ---------------------------------------------------------------------------------

def as_list(value: Any, list_delimiter: Optional[str]) -> list[Any]:
    """A list cell: a list already (JSON, Parquet), a JSON array text, or text split on
    the source's list_delimiter."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        text = value.strip()
        if list_delimiter is not None:
            return [p for p in (x.strip() for x in text.split(list_delimiter)) if p] if text else []
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, list):
                return parsed
        raise WrongDataType("expected a list: a JSON array, or set options.list_delimiter")
    raise WrongDataType(f"expected a list, got {str(value)[:40]!r}")


def scalar(vt: ValueType, value: Any) -> Any:
    """One value from a file (CSV text, or a JSON/Parquet value) as the type's checked
    value."""
    fam = vt.kind.family
    if isinstance(value, str):
        if vt.kind.is_integer:
            if not _INT_TEXT.match(value):
                raise WrongDataType(f"expected an integer, got {value[:40]!r}")
            value = int(value)
        elif fam == "float":
            try:
                value = float(value)
            except ValueError:
                raise WrongDataType(f"expected a number, got {value[:40]!r}") from None
        elif fam == "bool":
            low = value.strip().lower()
            if low not in _BOOLS:
                raise WrongDataType(f"expected true or false, got {value[:40]!r}")
            value = _BOOLS[low]
    elif fam not in ("int", "uint", "float", "bool") and isinstance(value, (int, float)) \
            and not isinstance(value, bool):
        value = str(value)
    return vt.check(value)


def convert(vt: ValueType, value: Any, list_delimiter: Optional[str]) -> Any:
    if vt.repeated:
        return [scalar(vt, v) for v in as_list(value, list_delimiter)]
    return scalar(vt, value)


_SHORT_INT: dict[str, int] = {}


def _short_int(id_type: IdType) -> int:
    """Digit strings shorter than this are in range for an integer id type (0: not one)."""
    n = _SHORT_INT.get(id_type.name)
    if n is None:
        k = id_type.kind
        n = len(str(2 ** (k.width - (0 if k.family == "uint" else 1)) - 1)) if k.is_integer else 0
        _SHORT_INT[id_type.name] = n
    return n


def id_key(id_type: IdType, value: Any, target: str) -> str:
    """The canonical key of an id from a file. Fast path: a plain decimal text of an
    integer id type, which is its own key."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and value[0] != "0" \
            and len(value) < _short_int(id_type):
        return value
    try:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and not id_type.kind.is_integer:
            value = str(value)
        return id_type.key(value.strip() if isinstance(value, str) else value)
    except WrongDataType as exc:
        raise FieldError(target, exc.message) from None


def number(value: Any, target: str) -> float:
    if isinstance(value, bool):
        raise FieldError(target, f"expected a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise FieldError(target, f"expected a number, got {str(value)[:40]!r}") from None
    if not math.isfinite(x):
        raise FieldError(target, f"{str(value)[:40]!r} is not a finite number")
    return x


def present(value: Any) -> bool:
    """Whether a cell holds a value (CSV's empty cell and JSON null do not)."""
    return value is not None and value != ""


# --- sinks ----------------------------------------------------------------------------------

class Sink:
    """Base: `required` and `optional` targets (names a columns_mapping maps to columns);
    convert(values by target) -> record; write(records) -> rows written."""

    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    def targets(self) -> tuple[str, ...]:
        return self.required + self.optional

    def identity(self, columns: Sequence[str]) -> dict[str, str]:
        """The mapping when none is given: every target read from the column of its name."""
        return {t: t for t in self.targets() if t in columns}

    def convert(self, values: dict[str, Any]) -> Any:
        raise NotImplementedError

    def write(self, records: list[Any]) -> int:
        raise NotImplementedError


class EntitySink(Sink):
    """Items or users: PATCH of the mapped properties, creating new ids."""

    def __init__(self, table: EntityTable, list_delimiter: Optional[str]) -> None:
        self.table = table
        self.list_delimiter = list_delimiter
        self.props = {p.name.lower(): p for p in table.properties()}
        self.required = (table.id_field,)

    def targets(self) -> tuple[str, ...]:
        return (self.table.id_field, *(p.name for p in self.props.values()))

    def identity(self, columns: Sequence[str]) -> dict[str, str]:
        out = {self.table.id_field: self.table.id_field} if self.table.id_field in columns else {}
        for c in columns:
            p = self.props.get(c.lower())
            if p is not None:
                out[p.name] = c
        return out

    def check_targets(self, mapping: dict[str, str]) -> dict[str, str]:
        """The mapping with property names in their declared spelling. Raises
        WRONG_DATA_TYPE for a target that is neither the id nor a declared property."""
        out = {}
        for target, column in mapping.items():
            if target == self.table.id_field:
                out[target] = column
                continue
            p = self.props.get(target.lower())
            if p is None:
                raise wrong_spec(f"columns_mapping names {target!r}, which is not a declared {self.table.kind}-"
                                 f"property (declare it with POST /v1/{self.table.kind}s-properties/)",
                                 key=f"resource_params.columns_mapping.{target}")
            out[p.name] = column
        return out

    def convert(self, values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        id_field = self.table.id_field
        key = id_key(self.table.id_type, values.get(id_field), id_field)
        out = {}
        for target, raw in values.items():
            if target == id_field or not present(raw):
                continue
            prop = self.props[target.lower()]
            try:
                out[prop.name] = convert(prop.value_type, raw, self.list_delimiter)
            except WrongDataType as exc:
                raise FieldError(target, exc.message) from None
        return key, out

    def write(self, records: list[tuple[str, dict[str, Any]]]) -> int:
        merged: dict[str, dict[str, Any]] = {}
        for key, props in records:          # the same id twice in a batch: later values win
            merged.setdefault(key, {}).update(props)
        if merged:
            self.table.patch([{self.table.id_field: k, **v} for k, v in merged.items()], create_if_missing=True)
        return len(records)


def _table(holder: engine.Holder, name: str, fields: Sequence[tuple[str, str, dict[str, Any]]]) -> engine.Index:
    """An import table, made on first use (keyed records, existence tracked)."""
    try:
        idx = holder.index(name)
    except engine.IndexNotFoundError:
        try:
            idx = holder.create_index(name, keys=True, meta={"source_table": name, "version": 1})
        except engine.IndexExistsError:
            idx = holder.index(name)
    for fname, ftype, opts in fields:
        if fname not in idx.definition.fields:
            try:
                idx.create_field(fname, ftype, **opts)
            except engine.FieldExistsError:
                pass
    return idx


_KEYED: dict[str, Any] = {"keys": True}
_F64: dict[str, Any] = {"bits": 64}


class EventSink(Sink):
    """Ratings and interactions: one record per event key, fields imported column-wise."""

    def __init__(self, holder: engine.Holder, db: databases.Database, resource: str) -> None:
        self.users, self.items = IdType.parse(db.user_id_type), IdType.parse(db.item_id_type)
        self.rating = resource == "rating"
        if self.rating:
            self.required, self.optional = ("user_id", "item_id", "rating"), ("timestamp",)
            fields = [("user_id", "mutex", _KEYED), ("item_id", "mutex", _KEYED), ("rating", "float", _F64),
                      ("timestamp", "float", _F64)]
            self.index = _table(holder, RATINGS, fields)
        else:
            self.required, self.optional = ("user_id", "item_id", "interaction_type"), ("timestamp",)
            fields = [("user_id", "mutex", _KEYED), ("item_id", "mutex", _KEYED),
                      ("interaction_type", "mutex", _KEYED), ("timestamp", "float", _F64)]
            self.index = _table(holder, INTERACTIONS, fields)

    def convert(self, values: dict[str, Any]) -> tuple[Any, ...]:
        user = id_key(self.users, values.get("user_id"), "user_id")
        item = id_key(self.items, values.get("item_id"), "item_id")
        ts = values.get("timestamp")
        ts = number(ts, "timestamp") if present(ts) else None
        if self.rating:
            if not present(values.get("rating")):
                raise FieldError("rating", "a rating needs a value")
            return user, item, number(values["rating"], "rating"), ts
        kind = values.get("interaction_type")
        if not present(kind):
            raise FieldError("interaction_type", "an interaction needs a type")
        kind = str(kind)
        if len(kind) > 64 or "|" in kind or "\x00" in kind:
            raise FieldError("interaction_type", "an interaction type is at most 64 characters, without '|'")
        return user, item, kind, ts

    def write(self, records: list[tuple[Any, ...]]) -> int:
        if not records:
            return 0
        users = [r[0] for r in records]
        items = [r[1] for r in records]
        ts = [r[3] for r in records]
        if self.rating:
            keys = [f"{u}|{i}" for u, i in zip(users, items)]
            data: dict[str, Any] = {"user_id": users, "item_id": items,
                                    "rating": np.array([r[2] for r in records], dtype=np.float64)}
        else:
            keys = [f"{u}|{i}|{r[2]}|{'' if r[3] is None else repr(r[3])}" for u, i, r in zip(users, items, records)]
            data = {"user_id": users, "item_id": items, "interaction_type": [r[2] for r in records]}
        with self.index.transaction() as tx:
            defs = self.index.definition.fields
            cols = translate_columns(tx, keys)          # the record keys, translated once
            for name, values in data.items():
                import_column(tx, defs[name], cols, values)
            timed = [i for i, t in enumerate(ts) if t is not None]
            if timed:
                import_column(tx, defs["timestamp"], cols[np.array(timed)],
                              np.array([ts[i] for i in timed], dtype=np.float64))
        return len(records)


class WhitelistSink(Sink):
    """A named set of users (the users index's `whitelists` field, row = the name)."""

    required = ("user_id",)

    def __init__(self, holder: engine.Holder, db: databases.Database, name: str) -> None:
        self.users = IdType.parse(db.user_id_type)
        self.index = holder.index(databases.USERS_TABLE)
        self.name = name
        self.cleared = False
        found = [fd for fd in self.index.definition.fields.values() if fd.meta.get("whitelists")]
        if found:
            self.field = found[0]
        else:
            fname, n = WHITELIST_FIELD, 1
            while fname in self.index.definition.fields:
                n += 1
                fname = f"{WHITELIST_FIELD}_{n}"
            self.index.create_field(fname, "set", keys=True, meta={"whitelists": True})
            self.field = self.index.definition.fields[fname]

    def convert(self, values: dict[str, Any]) -> str:
        return id_key(self.users, values.get("user_id"), "user_id")

    def write(self, records: list[str]) -> int:
        with self.index.transaction() as tx:
            if not self.cleared:
                tx.clear_row(self.field, self.name)
            if records:
                row = tx.row_id(self.field, self.name, True)
                assert row is not None  # create=True always yields a row id
                cols = [tx.column_id(k, True) for k in dict.fromkeys(records)]
                tx.add(self.field.id, STANDARD_VIEW, row, FrozenBitmap([c for c in cols if c is not None]))
        self.cleared = True
        return len(records)


class RecoSink(Sink):
    """id -> ordered list of item ids, one record per (id, rank)."""

    def __init__(self, holder: engine.Holder, db: databases.Database, resource: str,
                 list_delimiter: Optional[str]) -> None:
        kind = RECO_TABLES[resource]
        self.source_field = f"{kind}_id"
        self.source_ids = IdType.parse(db.user_id_type if kind == "user" else db.item_id_type)
        self.items = IdType.parse(db.item_id_type)
        self.list_delimiter = list_delimiter
        self.required = (self.source_field, "items_id")
        self.index = _table(holder, resource, [(self.source_field, "mutex", _KEYED),
                                               ("reco_item_id", "mutex", _KEYED), ("rank", "int", {"min": 0})])

    def convert(self, values: dict[str, Any]) -> tuple[str, list[str]]:
        src = id_key(self.source_ids, values.get(self.source_field), self.source_field)
        raw = values.get("items_id")
        try:
            items = as_list(raw, self.list_delimiter) if present(raw) else []
        except WrongDataType as exc:
            raise FieldError("items_id", exc.message) from None
        return src, [id_key(self.items, v, "items_id") for v in items]

    def write(self, records: list[tuple[str, list[str]]]) -> int:
        lists = dict(records)                # the same id twice in a batch: the later list wins
        keys: list[str] = []
        srcs: list[str] = []
        recos: list[str] = []
        ranks: list[int] = []
        stale: list[int] = []
        col_ids = self.index.column_keys
        for src, items in lists.items():
            for rank, item in enumerate(items, 1):
                keys.append(f"{src}|{rank}")
                srcs.append(src)
                recos.append(item)
                ranks.append(rank)
            rank = len(items) + 1           # a shorter list: the old tail goes
            while (c := col_ids.id(f"{src}|{rank}")) is not None:
                stale.append(c)
                rank += 1
        defs = self.index.definition.fields
        with self.index.transaction() as tx:
            if stale:
                tx.delete(FrozenBitmap(stale))
            if keys:
                cols = translate_columns(tx, keys)
                for name, values in ((self.source_field, srcs), ("reco_item_id", recos),
                                     ("rank", np.array(ranks, dtype=np.int64))):
                    import_column(tx, defs[name], cols, values)
        return len(records)


def entity_table(holder: engine.Holder, kind: str) -> EntityTable:
    return EntityTable.open(holder, databases.ITEMS_TABLE if kind == "item" else databases.USERS_TABLE)
