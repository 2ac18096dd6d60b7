"""EntityTable: one kind of entity (items or users) of a recommender-style database, stored
as an engine index.

The index is keyed: an entity's id (of the table's flexible id type, types.IdType) is its
record key, translated to a dense record id; the index's existence row says which
entities exist. Each property is one field whose `meta` records the property's display
name, value type, `repeated` and `indexed` flags; textual properties get a second,
hidden field of ftsearch tokens (meta `tokens_of`). SQL and PQL see the same index under
its name (`items`, `users`), with fields named after the properties (lower-cased; see
`_field_name`).

Writes validate every entity first, then apply in ONE engine transaction: a bulk request
is all-or-nothing. Reads run on one committed snapshot.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence, cast

import numpy as np

from engine.entities.errors import (
    DuplicatedId,
    DuplicatedProperty,
    EntityNotFound,
    PropertyNotFound,
    wrong_data,
)
from engine.entities.filters import FilterLowering
from engine.entities.types import IdType, ValueType, WrongDataType, tokens
from engine.errors import InvalidParameterError
from engine.executor import Executor, Planes
from engine.index import Index
from engine.ingest import import_column
from engine.schema import BSI_VIEW, STANDARD_VIEW, FieldDef, FieldOptions, float_decode_array
from engine.state import IndexState, split_by_shard
from engine.txn import EXISTS_ID, Transaction
from ext import Bitmap, FrozenBitmap, bsi_values

KINDS = ("item", "user")
PROPERTY_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}\Z")
RESERVED = frozenset({"item_id", "user_id"})
DEFAULT_AMT = 300
MAX_AMT = 500
MAX_BATCH = 100_000


@dataclass(frozen=True)
class Property:
    """A declared property: its display name, value type and the fields that hold it."""

    name: str
    value_type: ValueType
    indexed: bool
    field: FieldDef
    tokens: Optional[FieldDef]

    @property
    def repeated(self) -> bool:
        return self.value_type.repeated

    def to_dict(self, kind: str) -> dict[str, Any]:
        out: dict[str, Any] = {"property_name": self.name, "value_type": self.value_type.name,
                               "repeated": self.repeated}
        if kind == "user":
            out["indexed"] = self.indexed
        return out


@dataclass
class _Column:
    """One property's values in a write: the positions (in the batch) of the entities
    that mention it, and for those with a value, their positions and checked values (a
    numpy array for numbers and bools, a list otherwise; lists of values when repeated)."""

    mentioned: list[int]
    positions: list[int]
    values: Any


@dataclass
class _Batch:
    """Validated entities of one write: canonical keys, and per property display name the
    column of values (a mention without a value is null: PATCH removes that value)."""

    keys: list[str]
    columns: dict[str, _Column]


@dataclass(frozen=True)
class Page:
    """One page of a cursor listing."""

    entities: list[dict[str, Any]]
    has_next: bool
    next_cursor: str


def encode_cursor(after: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"v": 1, "after": after}, separators=(",", ":")).encode()) \
        .rstrip(b"=").decode("ascii")


def decode_cursor(cursor: Any) -> int:
    """The last record id of the previous page. Raises WRONG_DATA_TYPE for anything
    that is not a cursor this server made."""
    if not isinstance(cursor, str) or len(cursor) > 200:
        raise wrong_data("invalid cursor", key="cursor")
    try:
        doc = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise wrong_data("invalid cursor", key="cursor") from None
    after = doc.get("after") if isinstance(doc, dict) and doc.get("v") == 1 else None
    if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after < 2**64:
        raise wrong_data("invalid cursor", key="cursor")
    return after


class EntityTable:
    """Items or users of one database. Build with create() or open()."""

    def __init__(self, index: Index) -> None:
        meta = index.definition.meta.get("entity")
        if not isinstance(meta, dict) or meta.get("kind") not in KINDS:
            raise InvalidParameterError(f"index {index.name} is not an entity table")
        self.index = index
        self.kind: str = meta["kind"]
        self.id_type = IdType.parse(meta["id_type"])
        self.id_field = f"{self.kind}_id"

    @classmethod
    def create(cls, holder: Any, name: str, *, kind: str, id_type: str) -> "EntityTable":
        """A new, empty table (a keyed index with existence tracking)."""
        if kind not in KINDS:
            raise InvalidParameterError(f"kind must be one of {KINDS}")
        IdType.parse(id_type)
        idx = holder.create_index(name, keys=True, meta={"entity": {"kind": kind, "id_type": id_type, "version": 1}})
        return cls(idx)

    @classmethod
    def open(cls, holder: Any, name: str) -> "EntityTable":
        return cls(holder.index(name))

    # --- properties ------------------------------------------------------------------------

    def properties(self) -> list[Property]:
        """Declared properties, in creation order."""
        fields = list(self.index.definition.fields.values())
        tokens_of = {fd.meta.get("tokens_of"): fd for fd in fields if fd.meta.get("tokens_of")}
        out = []
        for fd in sorted(fields, key=lambda f: f.id):
            m = fd.meta
            if "property" not in m:
                continue
            out.append(Property(m["property"], ValueType.parse(m["value_type"], bool(m.get("repeated"))),
                                bool(m.get("indexed")), fd, tokens_of.get(fd.name)))
        return out

    def property(self, name: Any) -> Property:
        """A property by name (case-insensitive). Raises PropertyNotFound."""
        if isinstance(name, str):
            low = name.lower()
            for p in self.properties():
                if p.name.lower() == low:
                    return p
        raise PropertyNotFound(self.kind, str(name)[:64])

    def create_property(self, name: Any, value_type: Any, *, repeated: Any = False,
                        indexed: Any = False) -> Property:
        """Declare a property. Raises WRONG_DATA_TYPE (bad name or type) or
        DuplicatedProperty (the name, case-insensitively, exists)."""
        if not isinstance(name, str) or not PROPERTY_NAME_RE.match(name):
            raise wrong_data("property names are 1 to 64 letters, digits, '.', '_' or '-'",
                             key=str(name)[:64], kind=f"{self.kind}-property")
        if name.lower() in RESERVED:
            raise wrong_data(f"{name} is a reserved name", key=name, kind=f"{self.kind}-property")
        for flag, what in ((repeated, "repeated"), (indexed, "indexed")):
            if not isinstance(flag, bool):
                raise wrong_data(f"{what} must be true or false", key=what)
        try:
            vt = ValueType.parse(value_type, repeated)
        except WrongDataType as exc:
            raise wrong_data(exc.message, key="value_type", kind=f"{self.kind}-property") from None
        with self.index._lock:          # one schema change at a time (check, then create)
            if any(p.name.lower() == name.lower() for p in self.properties()):
                raise DuplicatedProperty(self.kind, name)
            field_name = self._field_name(name)
            ftype, options = vt.field()
            specs = [(field_name, FieldOptions.make(ftype, **options),
                      {"property": name, "value_type": vt.name, "repeated": vt.repeated, "indexed": indexed})]
            if vt.searchable:
                specs.append((self._free_name(f"{field_name}__fts"), FieldOptions.make("set", keys=True),
                              {"tokens_of": field_name}))
            self.index.create_fields(specs)          # one schema write: a property and its tokens
        return self.property(name)

    def delete_property(self, name: Any) -> None:
        """Drop a property and every value it holds. Raises PropertyNotFound."""
        with self.index._lock:
            prop = self.property(name)
            self.index.drop_field(prop.field.name)
            if prop.tokens is not None:
                self.index.drop_field(prop.tokens.name)
            for fd in list(self.index.definition.fields.values()):   # tokens of a property
                if fd.meta.get("tokens_of") == prop.field.name:       # lost to a crash
                    self.index.drop_field(fd.name)

    def _field_name(self, prop: str) -> str:
        base = prop.lower().replace(".", "_")
        if not re.match(r"[a-z]", base):
            base = "p_" + base
        return self._free_name(base[:200])

    def _free_name(self, base: str) -> str:
        taken = self.index.definition.fields
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        return name

    # --- writes ----------------------------------------------------------------------------

    def validate(self, entities: Sequence[Any], m2m: Optional[Sequence[Any]] = None, *, patch: bool) -> int:
        """Check a write without applying it (the checks put/patch run first); returns
        the number of entities."""
        return len(self._parse(entities, m2m, patch=patch).keys)

    def put(self, entities: Sequence[Any], m2m: Optional[Sequence[Any]] = None) -> None:
        """Create or replace entities: each one's values become exactly those given."""
        batch = self._parse(entities, m2m, patch=False)
        with self.index.transaction() as tx:
            cols = self._translate(tx, batch.keys)
            existing = self._existing(tx, cols)
            if existing:
                for prop in self.properties():
                    self._clear(tx, prop.field, existing)
                    if prop.tokens is not None:
                        self._clear(tx, prop.tokens, existing)
            self._write(tx, batch, cols)
            tx.mark_existing(FrozenBitmap(cols))

    def patch(self, entities: Sequence[Any], m2m: Optional[Sequence[Any]] = None, *,
              create_if_missing: bool = False) -> list[bool]:
        """Update the given properties of entities (a repeated property's list is
        replaced; null removes a value). Returns, per entity, whether it was created.
        Raises EntityNotFound (the first missing one) unless create_if_missing."""
        batch = self._parse(entities, m2m, patch=True)
        with self.index.transaction() as tx:
            known = [self.index.column_keys.id(k) for k in batch.keys]
            exists = self._existing(tx, np.array([c for c in known if c is not None], dtype=np.uint64))
            created = [c is None or c not in exists for c in known]
            if not create_if_missing:
                for key, new in zip(batch.keys, created):
                    if new:
                        raise EntityNotFound(self.kind, key)
            cols = self._translate(tx, batch.keys)
            if exists:
                for prop in self.properties():
                    # The given properties of existing entities are replaced: their old
                    # values (a repeated list, the tokens, a value set to null) go first.
                    column = batch.columns.get(prop.name)
                    if column is None or not column.mentioned:
                        continue
                    part = FrozenBitmap(cols[np.array(column.mentioned, dtype=np.int64)]) & exists
                    if part:
                        self._clear(tx, prop.field, part)
                        if prop.tokens is not None:
                            self._clear(tx, prop.tokens, part)
            self._write(tx, batch, cols)
            tx.mark_existing(FrozenBitmap(cols))
        return created

    def delete(self, ids: Iterable[Any]) -> int:
        """Delete entities (all their values and their existence); unknown ids are
        ignored. Returns how many existed."""
        keys = list(dict.fromkeys(self.id_type.key(i) for i in ids))
        with self.index.transaction() as tx:
            cols = [c for c in (self.index.column_keys.id(k) for k in keys) if c is not None]
            present = self._existing(tx, np.array(cols, dtype=np.uint64))
            if present:
                for fd in list(self.index.definition.fields.values()):
                    self._clear(tx, fd, present)
                tx.remove(EXISTS_ID, STANDARD_VIEW, 0, present)
            return len(present)

    def _parse(self, entities: Sequence[Any], m2m: Optional[Sequence[Any]], *, patch: bool) -> _Batch:
        """Validate a write (nothing is applied): ids, property names and every value,
        column by column."""
        if not isinstance(entities, (list, tuple)):
            raise wrong_data(f"{self.kind}s must be a list")
        if len(entities) > MAX_BATCH:
            raise wrong_data(f"at most {MAX_BATCH} {self.kind}s per request")
        props = {p.name.lower(): p for p in self.properties()}
        keys: list[str] = []
        seen: set[str] = set()
        raw: dict[str, tuple[list[int], list[Any]]] = {}
        id_field = self.id_field
        # Each spelling of a property name met in the batch -> its (positions, values)
        # lists: the name is resolved once per batch, not once per value.
        slots: dict[Any, tuple[list[int], list[Any]]] = {}
        for i, ent in enumerate(entities):
            if not isinstance(ent, dict):
                raise wrong_data(f"each {self.kind} must be an object")
            if id_field not in ent:
                raise wrong_data(f"each {self.kind} needs {id_field}", key=id_field)
            key = self._key(ent[id_field])
            if key in seen:
                raise DuplicatedId(self.kind, self.id_type.value(key))
            seen.add(key)
            keys.append(key)
            for name, value in ent.items():
                slot = slots.get(name)
                if slot is None:
                    if name == id_field:
                        continue
                    prop = props.get(name.lower()) if isinstance(name, str) else None
                    if prop is None:
                        raise wrong_data(f"{self.kind} {self.id_type.value(key)}: unknown property "
                                         f"{str(name)[:64]!r}", key=str(name)[:64], kind=self.kind)
                    slot = slots[name] = raw.setdefault(prop.name, ([], []))
                pos = slot[0]
                if pos and pos[-1] == i:      # two spellings of one property in an entity
                    raise wrong_data(f"property {name} given twice", key=str(name)[:64], kind=self.kind)
                pos.append(i)
                slot[1].append(value)
        extra = self._m2m_lists(m2m, props, len(keys))
        columns: dict[str, _Column] = {}
        for name in set(raw) | set(extra):
            prop = props[name.lower()]
            pos, vals = raw.get(name, ([], []))
            columns[name] = self._column(prop, keys, pos, vals, extra.get(name, {}), patch)
        return _Batch(keys, columns)

    def _column(self, prop: Property, keys: list[str], pos: list[int], vals: list[Any],
                appended: dict[int, list[Any]], patch: bool) -> _Column:
        vt = prop.value_type
        try:
            if vt.repeated:
                given: dict[int, Any] = {}
                for i, v in zip(pos, vals):
                    if v is None:
                        continue
                    if not isinstance(v, (list, tuple)):
                        raise wrong_data(f"{self.kind} {self.id_type.value(keys[i])}, property {prop.name}: "
                                         f"expected a list of {vt.name}", key=prop.name, kind=self.kind)
                    given[i] = v
                # every element of every list checked as one column, then dealt back
                elements = [x for v in given.values() for x in v]
                if vt.kind.family == "float":      # stored as keys: check()'s shortest repr
                    flat = [vt.check(x) for x in elements]
                else:
                    flat = vt.check_column(elements) if elements else []
                    flat = flat.tolist() if isinstance(flat, np.ndarray) else flat
                lists: dict[int, list[Any]] = {}
                at = 0
                for i, v in given.items():
                    lists[i] = flat[at:at + len(v)]
                    at += len(v)
                for i, more in appended.items():
                    lists[i] = lists.get(i, []) + more
                mentioned = sorted(set(pos) | set(appended))
                with_values = [i for i in mentioned if i in lists]
                return _Column(mentioned if patch else with_values, with_values, [lists[i] for i in with_values])
            present = [(i, v) for i, v in zip(pos, vals) if v is not None]
            checked = vt.check_column([v for _, v in present]) if present else []
            return _Column(pos if patch else [i for i, _ in present], [i for i, _ in present], checked)
        except WrongDataType as exc:
            if getattr(exc, "data", None):
                raise
            raise wrong_data(f"property {prop.name}: {exc.message}", key=prop.name, kind=self.kind) from None

    def _m2m_lists(self, m2m: Optional[Sequence[Any]], props: dict[str, Property],
                   n: int) -> dict[str, dict[int, list[Any]]]:
        """items_m2m rows, checked, by property and entity position, in array order: they
        are appended to the entity's list (crossing-minds-api.md §7)."""
        out: dict[str, dict[int, list[Any]]] = {}
        index_key = f"{self.kind}_index"
        for group in m2m or ():
            if not isinstance(group, dict) or not isinstance(group.get("name"), str) \
                    or not isinstance(group.get("array"), list):
                raise wrong_data(f"each {self.kind}s_m2m entry is {{name, array}}")
            prop = props.get(group["name"].lower())
            if prop is None or not prop.repeated:
                raise wrong_data(f"{self.kind}s_m2m names {group['name'][:64]!r}, which is not a repeated property",
                                 key=group["name"][:64], kind=self.kind)
            lists = out.setdefault(prop.name, {})
            for row in group["array"]:
                if not isinstance(row, dict) or set(row) != {index_key, "value_id"}:
                    raise wrong_data(f"each m2m row is {{{index_key}, value_id}}", key=prop.name)
                i = row[index_key]
                if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n:
                    raise wrong_data(f"m2m {index_key} {str(i)[:20]} is out of range", key=prop.name)
                try:
                    lists.setdefault(i, []).append(prop.value_type.check(row["value_id"]))
                except WrongDataType as exc:
                    raise wrong_data(f"{prop.name}: {exc.message}", key=prop.name, kind=self.kind) from None
        return out

    def _key(self, value: Any) -> str:
        try:
            return self.id_type.key(value)
        except WrongDataType as exc:
            raise wrong_data(f"{self.id_field}: {exc.message}", key=self.id_field, kind=self.kind) from None

    def _translate(self, tx: Transaction, keys: list[str]) -> np.ndarray:
        from engine.txn import COLUMN_KEYS

        return self.index.column_keys.translate(keys, True, tx.new_keys.setdefault(COLUMN_KEYS, []))

    def _existing(self, tx: Transaction, cols: np.ndarray) -> FrozenBitmap:
        """The records of cols that exist (committed, or earlier in this transaction)."""
        if not len(cols):
            return FrozenBitmap()
        wanted = FrozenBitmap(cols)
        parts = [tx.row_in_shard(EXISTS_ID, STANDARD_VIEW, shard, 0) & part for shard, part in split_by_shard(wanted)]
        parts = [p for p in parts if p]
        return Bitmap.union(Bitmap(), *parts).freeze() if parts else FrozenBitmap()

    def _clear(self, tx: Transaction, fd: FieldDef, cols: FrozenBitmap) -> None:
        """Remove every value `fd` holds for the records `cols`, in every view."""
        for view in tx.views_of(fd.id):
            for shard, part in split_by_shard(cols):
                for r, hit in tx.rows_holding(fd.id, view, shard, part):
                    tx.remove(fd.id, view, r, hit)

    def _write(self, tx: Transaction, batch: _Batch, cols: np.ndarray) -> None:
        """Columnar imports, one per field, of every value in the batch (`cols`: the
        batch's record ids, aligned with its keys)."""
        for prop in self.properties():
            column = batch.columns.get(prop.name)
            if column is None or not column.positions:
                continue
            vt = prop.value_type
            where = cols[np.array(column.positions, dtype=np.int64)]
            if vt.repeated:
                lengths = np.array([len(v) for v in column.values], dtype=np.int64)
                items = [x for v in column.values for x in v]
                if items:
                    import_column(tx, prop.field, np.repeat(where, lengths), [vt.key(x) for x in items])
                texts = column.values
            else:
                import_column(tx, prop.field, where, column.values)
                texts = [[v] for v in column.values] if prop.tokens is not None else []
            if prop.tokens is not None:
                self._write_tokens(tx, prop.tokens, where, texts)

    @staticmethod
    def _write_tokens(tx: Transaction, fd: FieldDef, where: np.ndarray, texts: Sequence[Sequence[str]]) -> None:
        """The ftsearch tokens of each record's text(s). A catalogue repeats its texts
        (categories, brands, tags), so each distinct text is tokenised once per batch."""
        known: dict[Any, list[str]] = {}
        counts = np.empty(len(texts), dtype=np.int64)
        words: list[str] = []
        for i, vs in enumerate(texts):
            text = vs[0] if len(vs) == 1 else " ".join(vs) if vs else ""
            ws = known.get(text)
            if ws is None:
                ws = known[text] = tokens(text)
            counts[i] = len(ws)
            words += ws
        if words:
            import_column(tx, fd, np.repeat(where, counts), words)

    # --- reads -----------------------------------------------------------------------------

    def count(self) -> int:
        """How many entities exist."""
        state = self.index.snapshot()
        return sum(len(frag.row(0)) for frag in state.views(EXISTS_ID).get(STANDARD_VIEW, {}).values())

    def get(self, entity_id: Any, properties: Optional[Sequence[str]] = None) -> dict[str, Any]:
        """One entity's id and set values. Raises EntityNotFound."""
        key = self._key(entity_id)
        found = self.get_many([key], properties, keys_checked=True)
        if not found:
            raise EntityNotFound(self.kind, str(self.id_type.value(key)))
        return found[0]

    def get_many(self, ids: Sequence[Any], properties: Optional[Sequence[str]] = None, *,
                 keys_checked: bool = False) -> list[dict[str, Any]]:
        """The entities among `ids` that exist, in the order asked (missing ones left
        out, duplicates once)."""
        keys = list(dict.fromkeys(ids if keys_checked else (self._key(i) for i in ids)))
        props = self._wanted(properties)
        state = self.index.snapshot()
        cols = [c for c in (self.index.column_keys.id(k) for k in keys) if c is not None]
        present = _existing_in(state, FrozenBitmap(cols))
        values = self._read(state, present, props)
        out = []
        for key in keys:
            c = self.index.column_keys.id(key)
            if c is not None and c in present:
                out.append({self.id_field: self.id_type.value(key), **values.get(c, {})})
        return out

    def scan(self, filters: Sequence[Any] = (), *, cursor: Optional[str] = None, amt: Any = None,
             properties: Optional[Sequence[str]] = None) -> Page:
        """A page of entities matching every filter, in record-id order (stable under
        concurrent inserts: the cursor is the last record id returned)."""
        if amt is None:
            amt = DEFAULT_AMT
        if isinstance(amt, bool) or not isinstance(amt, int) or not 1 <= amt <= MAX_AMT:
            raise wrong_data(f"amt must be an integer from 1 to {MAX_AMT}", key="amt")
        after = decode_cursor(cursor) if cursor else None
        props = self._wanted(properties)
        node = FilterLowering(self).lower(list(filters))
        state = self.index.snapshot()
        matched = Executor(self.index, state).full_row(node)
        if after is not None:
            matched = matched.slice(after + 1, 2**64)
        page = matched[0:amt]
        has_next = len(matched) > amt
        values = self._read(state, page.freeze(), props)
        cols = page.to_numpy().tolist()
        keys = self.index.column_keys.keys_for(cols)
        entities = [{self.id_field: self.id_type.value(k), **values.get(c, {})} for c, k in zip(cols, keys)
                    if k is not None]
        return Page(entities, has_next, encode_cursor(cols[-1]) if cols and has_next else "")

    def _wanted(self, properties: Optional[Sequence[str]]) -> list[Property]:
        if properties is None:
            return self.properties()
        if isinstance(properties, str) or not isinstance(properties, (list, tuple)):
            raise wrong_data("properties must be a list of names", key="properties")
        return list({p.name: p for p in (self.property(n) for n in properties)}.values())

    def _read(self, state: IndexState, cols: FrozenBitmap, props: list[Property]) -> dict[int, dict[str, Any]]:
        """record -> {property: value} for the records `cols` (values they have only)."""
        out: dict[int, dict[str, Any]] = {}
        if not cols:
            return out
        for prop in props:
            fd, vt = prop.field, prop.value_type
            name = prop.name
            if fd.options.is_bsi:
                for shard, part in split_by_shard(cols):
                    frag = state.fragment(fd.id, BSI_VIEW, shard)
                    if frag is None:
                        continue
                    pl = Planes(frag.rows)
                    if pl.exists is None:
                        continue
                    rcols, neg, mag = bsi_values(pl.exists, pl.sign, pl.bits, part)
                    for c, v in zip(rcols.tolist(), _bsi_decode(fd, neg, mag)):
                        out.setdefault(c, {})[name] = v
                continue
            km = self.index.row_keys(fd) if fd.options.keys else None
            rcols, rrows = state.values_in(fd.id, (STANDARD_VIEW,), cols)
            for c, row in zip(rcols.tolist(), rrows.tolist()):
                if km is not None:
                    key = km.key(row)
                    value = vt.from_key(cast(str, key)) if vt.repeated else key  # a set row has a key
                else:
                    value = bool(row)
                if vt.repeated:
                    out.setdefault(c, {}).setdefault(name, []).append(value)
                else:
                    out.setdefault(c, {})[name] = value
        return out


def _bsi_decode(fd: FieldDef, neg: np.ndarray, mag: np.ndarray) -> list[Any]:
    """The values of a BSI field from bsi_values' sign and magnitude arrays, vectorised
    for floats (float16/32 as the shortest decimal of their width, as from_stored does)."""
    opts = fd.options
    if opts.type == "float" and len(mag) and int(mag.max()) < 2**63:
        stored = mag.astype(np.int64)
        stored[neg] = -stored[neg]
        values = float_decode_array(stored, opts.bits)
        if opts.bits == 64:
            return values.tolist()
        narrow = values.astype(np.float32 if opts.bits == 32 else np.float16)
        return [float(str(x)) for x in narrow]
    base = opts.base
    return [opts.from_stored((-m if n else m) + base) for n, m in zip(neg.tolist(), mag.tolist())]


def _existing_in(state: IndexState, cols: FrozenBitmap) -> FrozenBitmap:
    parts = []
    for shard, part in split_by_shard(cols):
        frag = state.fragment(EXISTS_ID, STANDARD_VIEW, shard)
        if frag is not None:
            hit = frag.row(0) & part
            if hit:
                parts.append(hit)
    return Bitmap.union(Bitmap(), *parts).freeze() if parts else FrozenBitmap()
