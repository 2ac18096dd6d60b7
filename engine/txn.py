"""Transactions: a change set over one committed state, and the write semantics.

Every write (a single Set, a PQL request's write calls, an import batch) runs in one
Transaction: it reads the committed state through its own pending changes (so later writes
see earlier ones) and records per (field, view, row) which records to add and remove. On
commit the index logs the change set as one frame, fsyncs, then applies it — all or nothing.
"""
from __future__ import annotations

import builtins                          # Transaction defines a method named set
import datetime as _dt
from typing import Any, Iterable, Literal, Mapping, cast, overload

import msgpack
import numpy as np

from engine.errors import (
    InvalidValueError,
    KeysNotAllowedError,
    ValueOutOfRangeError,
)
from engine.schema import BSI_VIEW, EXISTS_FIELD, STANDARD_VIEW, FieldDef, parse_timestamp
from engine.state import EMPTY, SHARD_BITS, SHARD_WIDTH, Fragment, IndexState, shard_of, split_by_shard
from ext import BaseBitmap, Bitmap, FrozenBitmap

EXISTS_ID = 0          # the hidden existence field's id; its row 0 holds every record
BSI_EXISTS_ROW = 0     # BSI planes: 0 = not-null, 1 = sign, 2 + i = bit i of |stored|
BSI_SIGN_ROW = 1
BSI_BIT0_ROW = 2
COLUMN_KEYS = -1       # key-space id of the index's record keys (fields use their own id)

ChangeKey = tuple[int, str, int]        # (field id, view, row id)
_EMPTY_FROZEN = FrozenBitmap()


# A change holds FrozenBitmaps (immutable: safe to share, kept as given) or Bitmaps this
# transaction made itself (mutated in place). A caller's mutable Bitmap is never stored.
# Bulk imports hand over freshly built FrozenBitmaps, which are kept without a copy.

def _keep(cols: BaseBitmap) -> BaseBitmap:
    return cols if isinstance(cols, FrozenBitmap) else Bitmap(cols)


def _union(acc: BaseBitmap, cols: BaseBitmap) -> BaseBitmap:
    if not acc:
        return _keep(cols)
    if isinstance(acc, Bitmap):
        acc |= cols
        return acc
    out = Bitmap(acc)
    out |= cols
    return out


def _minus(acc: BaseBitmap, cols: BaseBitmap) -> BaseBitmap:
    if isinstance(acc, Bitmap):
        acc -= cols
        return acc
    return acc - cols


class Transaction:
    def __init__(self, index: Any, base: IndexState) -> None:
        self.index = index
        self.base = base
        self.changes: dict[ChangeKey, list[BaseBitmap]] = {}
        self.new_keys: dict[int, list[tuple[str, int]]] = {}
        # (field, view) -> rows with a pending change: lookups need them without walking
        # every change of a big import
        self._changed_rows: dict[tuple[int, str], set[int]] = {}

    # --- the change set -------------------------------------------------------------------

    def add(self, fid: int, view: str, row: int, cols: BaseBitmap) -> None:
        if not cols:
            return
        ch = self.changes.get((fid, view, row))
        if ch is None:
            self.changes[(fid, view, row)] = [_keep(cols), _EMPTY_FROZEN]
            self._changed_rows.setdefault((fid, view), set()).add(row)
            return
        ch[0] = _union(ch[0], cols)
        if ch[1]:
            ch[1] = _minus(ch[1], cols)

    def remove(self, fid: int, view: str, row: int, cols: BaseBitmap) -> None:
        if not cols:
            return
        ch = self.changes.get((fid, view, row))
        if ch is None:
            self.changes[(fid, view, row)] = [_EMPTY_FROZEN, _keep(cols)]
            self._changed_rows.setdefault((fid, view), set()).add(row)
            return
        ch[1] = _union(ch[1], cols)
        if ch[0]:
            ch[0] = _minus(ch[0], cols)

    @property
    def empty(self) -> bool:
        return not self.changes and not any(self.new_keys.values())

    # --- reading through the pending changes --------------------------------------------------

    def row_in_shard(self, fid: int, view: str, shard: int, row: int) -> FrozenBitmap:
        frag = self.base.fragment(fid, view, shard)
        cur: FrozenBitmap = frag.row(row) if frag else EMPTY
        ch = self.changes.get((fid, view, row))
        if ch is None:
            return cur
        lo = shard << SHARD_BITS
        add, rem = ch[0].slice(lo, lo + SHARD_WIDTH), ch[1].slice(lo, lo + SHARD_WIDTH)
        return (cur - rem) | add

    def row_ids_in_shard(self, fid: int, view: str, shard: int) -> set[int]:
        frag = self.base.fragment(fid, view, shard)
        ids = set(frag.rows) if frag else set()
        ids.update(self._changed_rows.get((fid, view), ()))
        return ids

    def changed_rows(self, fid: int, view: str) -> set[int]:
        """Rows of (field, view) this transaction has changed (a copy)."""
        return set(self._changed_rows.get((fid, view), ()))

    def rows_holding(self, fid: int, view: str, shard: int, part: BaseBitmap) -> list[tuple[int, FrozenBitmap]]:
        """(row, row & part) for every row that holds any record of `part` (records of one
        shard), through this transaction's changes. One C pass over the committed rows
        (Fragment.rows_holding), so a field with a million rows costs no Python loop."""
        frag = self.base.fragment(fid, view, shard)
        rows = {r for r, _ in frag.rows_holding(part)} if frag is not None else set()
        rows.update(self._changed_rows.get((fid, view), ()))
        out = []
        for r in sorted(rows):
            hit = self.row_in_shard(fid, view, shard, r) & part
            if hit:
                out.append((r, hit))
        return out

    def views_of(self, fid: int) -> set[str]:
        views = set(self.base.views(fid))
        views.update(v for (f, v) in self._changed_rows if f == fid)
        return views

    def contains(self, fid: int, view: str, row: int, col: int) -> bool:
        ch = self.changes.get((fid, view, row))
        if ch is not None:
            if col in ch[0]:
                return True
            if col in ch[1]:
                return False
        frag = self.base.fragment(fid, view, shard_of(col))
        return frag is not None and col in frag.row(row)

    # --- translation --------------------------------------------------------------------------

    @overload
    def column_id(self, col: Any, create: Literal[True]) -> int: ...
    @overload
    def column_id(self, col: Any, create: bool) -> int | None: ...

    def column_id(self, col: Any, create: bool) -> int | None:
        if self.index.definition.options.keys:
            if not isinstance(col, str):
                raise KeysNotAllowedError(f"index {self.index.name} uses string record keys, got {col!r}")
            return self.index.column_keys.create(col, self.new_keys.setdefault(COLUMN_KEYS, [])) \
                if create else self.index.column_keys.id(col)
        if isinstance(col, bool) or not isinstance(col, (int, np.integer)) or not 0 <= col < 2**64:
            raise KeysNotAllowedError(f"record ids are unsigned 64-bit integers, got {col!r}")
        return int(col)

    @overload
    def row_id(self, fd: FieldDef, value: Any, create: Literal[True]) -> int: ...
    @overload
    def row_id(self, fd: FieldDef, value: Any, create: bool) -> int | None: ...

    def row_id(self, fd: FieldDef, value: Any, create: bool) -> int | None:
        if fd.options.type == "bool":
            if not isinstance(value, (bool, np.bool_)):
                raise InvalidValueError(f"field {fd.name} is bool: expected true or false, got {value!r}")
            return int(bool(value))
        if fd.options.keys:
            if not isinstance(value, str):
                raise KeysNotAllowedError(f"field {fd.name} uses string keys, got {value!r}")
            km = self.index.row_keys(fd)
            return km.create(value, self.new_keys.setdefault(fd.id, [])) if create else km.id(value)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < 2**64:
            raise KeysNotAllowedError(f"field {fd.name} uses unsigned integer row ids, got {value!r}")
        return int(value)

    # --- single-record writes ---------------------------------------------------------------

    def set(self, col: Any, fd: FieldDef, value: Any, timestamp: Any = None) -> bool:
        """Set one value (FeatureBase's Set); True if anything changed. Values are
        validated before anything is written (unlike FeatureBase's PQL, see the docs)."""
        opts = fd.options
        if opts.is_bsi:
            if value is None:
                raise InvalidValueError(f"use clear() to null field {fd.name}")
            stored = opts.stored_in_range(value)
            c = self.column_id(col, create=True)
            changed = self.bsi_get(fd, c) != stored
            self._bsi_write(fd, Bitmap([c]), np.array([stored - opts.base], dtype=object))
            return self._exists(c) or changed
        if timestamp is not None and opts.type != "time":
            raise InvalidValueError(f"field {fd.name} is not a time field: timestamps are not allowed")
        row = self.row_id(fd, value, create=True)
        c = self.column_id(col, create=True)
        one = FrozenBitmap([c])
        changed = False
        if opts.type in ("mutex", "bool"):
            for other, _ in self.rows_holding(fd.id, STANDARD_VIEW, shard_of(c), one):
                if other != row:
                    self.remove(fd.id, STANDARD_VIEW, other, one)
                    changed = True
        views = self.views_for_write(fd, timestamp)
        for view in views:
            if not self.contains(fd.id, view, row, c):
                changed = True
            self.add(fd.id, view, row, one)
        return self._exists(c) or changed

    def views_for_write(self, fd: FieldDef, timestamp: Any) -> list[str]:
        opts = fd.options
        views = [] if opts.type == "time" and opts.no_standard_view else [STANDARD_VIEW]
        if opts.type == "time" and timestamp is not None:
            views += opts.time_views(parse_timestamp(timestamp).astimezone(_dt.timezone.utc))
        if not views:
            raise InvalidValueError(f"field {fd.name} has no standard view: a timestamp is required")
        return views

    def clear(self, col: Any, fd: FieldDef, value: Any = None) -> bool:
        """Clear one value (for BSI fields: null the record's value). True if it changed.
        On a time field the bit goes from the standard view and every time view."""
        c = self.column_id(col, create=False)
        if c is None:
            return False
        one = FrozenBitmap([c])
        if fd.options.is_bsi:
            if self.bsi_get(fd, c) is None:
                return False
            for bsi_row in self.row_ids_in_shard(fd.id, BSI_VIEW, shard_of(c)):
                self.remove(fd.id, BSI_VIEW, bsi_row, one)
            return True
        row = self.row_id(fd, value, create=False)
        if row is None:
            return False
        changed = False
        for view in self.views_of(fd.id):
            if self.contains(fd.id, view, row, c):
                changed = True
                self.remove(fd.id, view, row, one)
        return changed

    def clear_row(self, fd: FieldDef, value: Any) -> bool:
        if fd.options.is_bsi:
            raise InvalidValueError(f"ClearRow is not supported on {fd.options.type} field {fd.name}")
        row = self.row_id(fd, value, create=False)
        if row is None:
            return False
        changed = False
        for view in self.views_of(fd.id):
            for shard in self._shards_of(fd.id, view):
                cur = self.row_in_shard(fd.id, view, shard, row)
                if cur:
                    self.remove(fd.id, view, row, cur)
                    changed = True
        return changed

    def store(self, fd: FieldDef, value: Any, cols: BaseBitmap) -> bool:
        """Make a row hold exactly `cols` (FeatureBase's Store)."""
        if fd.options.is_bsi:
            raise InvalidValueError(f"Store is not supported on {fd.options.type} field {fd.name}")
        row = self.row_id(fd, value, create=True)
        shards = set(self._shards_of(fd.id, STANDARD_VIEW)) | {s for s, _ in split_by_shard(cols)}
        for shard in shards:
            lo = shard << SHARD_BITS
            cur = self.row_in_shard(fd.id, STANDARD_VIEW, shard, row)
            part = cols.slice(lo, lo + SHARD_WIDTH)
            self.remove(fd.id, STANDARD_VIEW, row, cur - part)
            self.add(fd.id, STANDARD_VIEW, row, part)
        return True

    def delete(self, cols: BaseBitmap) -> bool:
        """Remove whole records: every field, every view, and existence."""
        found = False
        for fid in [EXISTS_ID] + [f.id for f in self.index.definition.fields.values()]:
            for view in self.views_of(fid):
                for shard, part in split_by_shard(cols):
                    for row, hit in self.rows_holding(fid, view, shard, part):
                        found = True
                        self.remove(fid, view, row, hit)
        return found

    def _shards_of(self, fid: int, view: str) -> builtins.set[int]:
        shards = set(self.base.views(fid).get(view, {}))
        for (f, v, _), (add, _rem) in self.changes.items():
            if f == fid and v == view:
                shards.update(s for s, _ in split_by_shard(add))
        return shards

    def _exists(self, c: int) -> bool:
        """Mark record c as existing; True if it was new."""
        if not self.index.definition.options.track_existence:
            return False
        if self.contains(EXISTS_ID, STANDARD_VIEW, 0, c):
            return False
        self.add(EXISTS_ID, STANDARD_VIEW, 0, FrozenBitmap([c]))
        return True

    def mark_existing(self, cols: BaseBitmap) -> None:
        if self.index.definition.options.track_existence:
            self.add(EXISTS_ID, STANDARD_VIEW, 0, cols)

    # --- BSI -----------------------------------------------------------------------------

    def bsi_get(self, fd: FieldDef, c: int) -> int | None:
        """The stored value (before base removal... i.e. base included) of record c, or None."""
        if not self.contains(fd.id, BSI_VIEW, BSI_EXISTS_ROW, c):
            return None
        mag = 0
        for row in self.row_ids_in_shard(fd.id, BSI_VIEW, shard_of(c)):
            if row >= BSI_BIT0_ROW and self.contains(fd.id, BSI_VIEW, row, c):
                mag |= 1 << (row - BSI_BIT0_ROW)
        if self.contains(fd.id, BSI_VIEW, BSI_SIGN_ROW, c):
            mag = -mag
        return mag + fd.options.base

    def _bsi_write(self, fd: FieldDef, cols: BaseBitmap, offsets: Any) -> None:
        """Write values (already minus base; a numpy int64 or object array aligned with the
        sorted cols) into the bit planes."""
        col_arr = cols.to_numpy()
        neg = np.array([o < 0 for o in offsets], dtype=bool) if offsets.dtype == object else offsets < 0
        mags = [abs(int(o)) for o in offsets] if offsets.dtype == object else None
        if mags is not None:
            depth = max((m.bit_length() for m in mags), default=0)
        else:
            mag_arr = np.abs(offsets.astype(np.int64)).astype(np.uint64)
            depth = int(mag_arr.max()).bit_length() if len(mag_arr) else 0
        depth = max(depth, self.index.bit_depth(fd, self))
        self.add(fd.id, BSI_VIEW, BSI_EXISTS_ROW, cols)
        self.add(fd.id, BSI_VIEW, BSI_SIGN_ROW, Bitmap(col_arr[neg]))
        self.remove(fd.id, BSI_VIEW, BSI_SIGN_ROW, Bitmap(col_arr[~neg]))
        for i in range(depth):
            if mags is not None:
                bit = np.array([(m >> i) & 1 for m in mags], dtype=bool)
            else:
                bit = ((mag_arr >> np.uint64(i)) & np.uint64(1)).astype(bool)
            self.add(fd.id, BSI_VIEW, BSI_BIT0_ROW + i, Bitmap(col_arr[bit]))
            self.remove(fd.id, BSI_VIEW, BSI_BIT0_ROW + i, Bitmap(col_arr[~bit]))

    # --- the log frame ------------------------------------------------------------------------

    def encode(self) -> bytes:
        """The change set as one msgpack document (format.md, "Log frame payload")."""
        keys = [[space, [k for k, _ in pairs], [i for _, i in pairs]]
                for space, pairs in self.new_keys.items() if pairs]
        changes = [[fid, view, row, add.serialize() if add else None, rem.serialize() if rem else None]
                   for (fid, view, row), (add, rem) in self.changes.items() if add or rem]
        return msgpack.packb({"k": keys, "c": changes}, use_bin_type=True)


def decode_frame(payload: bytes) -> tuple[list[Any], list[tuple[int, str, int, FrozenBitmap | None, FrozenBitmap | None]]]:
    """The inverse of Transaction.encode (validating the bitmaps)."""
    doc = msgpack.unpackb(payload, raw=False, strict_map_key=True)
    if not isinstance(doc, dict) or not isinstance(doc.get("k"), list) or not isinstance(doc.get("c"), list):
        raise ValueError("log frame is not a change set")
    changes = []
    for fid, view, row, add, rem in doc["c"]:
        changes.append((int(fid), str(view), int(row),
                        FrozenBitmap.deserialize(add) if add is not None else None,
                        FrozenBitmap.deserialize(rem) if rem is not None else None))
    return doc["k"], changes


def apply_changes(state: IndexState, seq: int,
                  changes: Iterable[tuple[int, str, int, FrozenBitmap | None, FrozenBitmap | None]],
                  dirty: set[tuple[int, str, int]] | None = None) -> IndexState:
    """A new state with the changes applied (copying only the touched paths)."""
    per_frag: dict[tuple[int, str, int], dict[int, list[Any]]] = {}
    for fid, view, row, add, rem in changes:
        for shard, part in split_by_shard(add) if add else ():
            per_frag.setdefault((fid, view, shard), {}).setdefault(row, [None, None])[0] = part
        for shard, part in split_by_shard(rem) if rem else ():
            per_frag.setdefault((fid, view, shard), {}).setdefault(row, [None, None])[1] = part
    if not per_frag:
        return IndexState(seq, state.fields)
    fields = dict(state.fields)
    copied_fields: set[int] = set()
    copied_views: set[tuple[int, str]] = set()
    for (fid, view, shard), rows in per_frag.items():
        if fid not in copied_fields:
            fields[fid] = dict(fields.get(fid, {}))
            copied_fields.add(fid)
        views = cast(dict[str, Mapping[int, Fragment]], fields[fid])   # copied above
        if (fid, view) not in copied_views:
            views[view] = dict(views.get(view, {}))
            copied_views.add((fid, view))
        shards = cast(dict[int, Fragment], views[view])                # copied above
        old = shards.get(shard) or Fragment({})
        new = old.with_changes({r: (a, m) for r, (a, m) in rows.items()})
        if new.rows:
            shards[shard] = new
        else:
            shards.pop(shard, None)
        if dirty is not None:
            dirty.add((fid, view, shard))
    return IndexState(seq, fields)


def check_value_range(fd: FieldDef, stored: np.ndarray) -> None:
    lo, hi = fd.options.min, fd.options.max
    if len(stored) and (stored.min() < lo or stored.max() > hi):
        bad = stored[(stored < lo) | (stored > hi)][0]
        raise ValueOutOfRangeError(
            f"value {fd.options.from_stored(int(bad))} out of range for field {fd.name} "
            f"[{fd.options.from_stored(lo)}, {fd.options.from_stored(hi)}]"
        )


__all__ = ["Transaction", "decode_frame", "apply_changes", "EXISTS_ID", "EXISTS_FIELD", "COLUMN_KEYS"]
