"""Bulk import: whole columns of values into fields, in one atomic, durable commit.

Inputs are numpy arrays, pyarrow arrays or Python lists. Nothing loops in Python per value:
keys are dictionary-encoded and only distinct keys are translated, records are grouped by
row with a counting sort in C (ext.group_by_row), and BSI values are split into bit planes
with vectorised numpy, one bitmap per plane.
"""
from __future__ import annotations

import datetime as _dt
import itertools
from typing import Any, Callable

import numpy as np

from engine.arrays import sorted_unique
from engine.errors import InvalidValueError, KeysNotAllowedError, ValueOutOfRangeError
from engine.memory import release_free_memory
from engine.schema import BSI_VIEW, INT64_MAX, STANDARD_VIEW, TIME_UNITS, FieldDef, float_encode_array
from engine.txn import BSI_BIT0_ROW, BSI_EXISTS_ROW, BSI_SIGN_ROW, COLUMN_KEYS, Transaction, check_value_range
from ext import FrozenBitmap, bsi_planes, group_by_row

Progress = Callable[[int, int], None] | None
_MISSING = np.uint64(2**64 - 1)


def import_values(index: Any, fd: FieldDef, columns: Any, values: Any, *, timestamps: Any = None,
                  clear: bool = False, progress: Progress = None) -> int:
    """Import (or with clear=True remove) values of one field for many records.

    Args:
        columns: record ids (unsigned ints) or, on a keyed index, record keys.
        values: row ids / keys (set, mutex, time), bools (bool), numbers (int, decimal),
            timestamps (datetime64, RFC3339 strings or Unix seconds) for timestamp fields.
            Ignored for BSI fields when clear=True. None/null entries are skipped.
        timestamps: per-record times for a time field (quantum views).
        progress: called as progress(done, total) while the batch is built.
    Returns:
        the number of (record, value) pairs imported.
    """
    tracker = _Progress(progress)
    with index.transaction() as tx:
        n = _import_field(tx, fd, columns, values, timestamps, clear, tracker if progress else None)
    del tx
    _after_batch(index)
    tracker.finish(n)           # the batch is durable
    return n


RELEASE_AFTER_BYTES = 4 << 20


def _after_batch(index: Any) -> None:
    """A big batch leaves many freed temporaries in the C heap: hand them back to the OS
    so RSS after an import reflects the data, not the import's peak."""
    if index.last_commit_bytes > RELEASE_AFTER_BYTES:
        release_free_memory()


class _Progress:
    """Forwards progress(done, total) and makes sure the last report is (total, total)."""

    def __init__(self, fn: Progress) -> None:
        self.fn = fn
        self.last: tuple[int, int] | None = None

    def __call__(self, done: int, total: int) -> None:
        self.last = (done, total)
        if self.fn:
            self.fn(done, total)

    def finish(self, n: int) -> None:
        if self.last is None:
            self(n, n)
        elif self.last[0] != self.last[1]:
            self(self.last[1], self.last[1])


def import_records(index: Any, columns: Any, data: dict[str, tuple[FieldDef, Any]], *,
                   progress: Progress = None) -> int:
    """Several fields for the same records, committed together."""
    total = 0
    with index.transaction() as tx:
        for i, (fd, values) in enumerate(data.values()):
            total += _import_field(tx, fd, columns, values, None, False, None)
            if progress:
                progress(i + 1, len(data))
    del tx
    _after_batch(index)
    return total


def import_column(tx: Transaction, fd: FieldDef, cols: np.ndarray, values: Any) -> int:
    """One field's values for records already translated to ids (uint64 `cols`), inside
    the caller's transaction — for callers that translate a batch's keys once and write
    many fields (engine.entities)."""
    return _import_field(tx, fd, cols, values, None, False, None, translated=True)


def translate_columns(tx: Transaction, columns: Any) -> np.ndarray:
    """Record ids (uint64) for a batch's columns, keys created as needed, inside the
    caller's transaction: translate once, then import_column each field."""
    return _column_ids(tx, columns, create=True)


def _import_field(tx: Transaction, fd: FieldDef, columns: Any, values: Any, timestamps: Any,
                  clear: bool, progress: Progress, *, translated: bool = False) -> int:
    cols = columns if translated else _column_ids(tx, columns, create=not clear)
    opts = fd.options
    if opts.is_bsi and clear:
        keep = cols != _MISSING
        cset = FrozenBitmap(cols[keep])
        for row in _bsi_rows(tx, fd):
            tx.remove(fd.id, BSI_VIEW, row, cset)
        return int(keep.sum())
    if values is None:
        raise InvalidValueError("values are required")
    vals, present = _as_array(values)
    if len(vals) != len(cols):
        raise InvalidValueError(f"{len(cols)} columns but {len(vals)} values")
    if present is not None:
        cols, vals = cols[present], vals[present]
        if timestamps is not None:
            timestamps = _as_array(timestamps)[0][present]
    if opts.is_bsi:
        stored = _stored_values(fd, vals)
        check_value_range(fd, stored)
        cols, stored = _last_wins(cols, stored)
        offsets = stored - fd.options.base if _fits_int64(fd) else np.array(
            [int(s) - fd.options.base for s in stored], dtype=object)
        _bsi_import(tx, fd, cols, offsets, progress)
        tx.mark_existing(FrozenBitmap(cols))
        return len(cols)
    rows = _row_ids(tx, fd, vals, create=not clear)
    if clear:
        keep = (rows != _MISSING) & (cols != _MISSING)
        rows, cols = rows[keep], cols[keep]
    if opts.type in ("mutex", "bool") and not clear:
        cols, rows = _last_wins(cols, rows)
        _clear_other_rows(tx, fd, FrozenBitmap(cols))
    if timestamps is not None:
        if opts.type != "time":
            raise InvalidValueError(f"field {fd.name} is not a time field: timestamps are not allowed")
        groups = _time_view_groups(fd, timestamps, len(cols))
    else:
        groups = [(v, None) for v in tx.views_for_write(fd, None)] if not clear else \
            [(v, None) for v in sorted(tx.views_of(fd.id))]
    work = len(groups)
    for gi, (view, mask) in enumerate(groups):
        r, c = (rows, cols) if mask is None else (rows[mask], cols[mask])
        ids, offsets, grouped = group_by_row(r, c)
        for i in range(len(ids)):
            bm = FrozenBitmap(grouped[offsets[i]:offsets[i + 1]])
            if clear:
                tx.remove(fd.id, view, int(ids[i]), bm)
            else:
                tx.add(fd.id, view, int(ids[i]), bm)
        if progress:
            progress(gi + 1, work)
    if not clear:
        tx.mark_existing(FrozenBitmap(cols))
    return len(cols)


# --- translation ------------------------------------------------------------------------------

def _column_ids(tx: Transaction, columns: Any, create: bool) -> np.ndarray:
    if tx.index.definition.options.keys:
        return tx.index.column_keys.translate(columns, create, tx.new_keys.setdefault(COLUMN_KEYS, []))
    arr, present = _as_array(columns)
    if present is not None and not present.all():
        raise InvalidValueError("record ids must not be null")
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "O" and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in arr):
            arr = np.array(arr.tolist(), dtype=np.uint64)
        elif arr.dtype.kind in "OUS" or type(arr).__module__.startswith("pyarrow"):
            raise KeysNotAllowedError(f"index {tx.index.name} uses integer record ids, not string keys")
        else:
            raise InvalidValueError(f"index {tx.index.name} uses integer record ids; got {arr.dtype} values")
    if arr.dtype.kind == "i" and len(arr) and arr.min() < 0:
        raise InvalidValueError("record ids must not be negative")
    out = arr.astype(np.uint64, copy=False)
    return out if out.flags.writeable else out.copy()


def _row_ids(tx: Transaction, fd: FieldDef, vals: np.ndarray, create: bool) -> np.ndarray:
    if fd.options.type == "bool":
        if vals.dtype.kind != "b":
            if vals.dtype.kind == "O" and all(isinstance(v, (bool, np.bool_)) for v in vals):
                vals = vals.astype(bool)
            else:
                raise InvalidValueError(f"field {fd.name} is bool: values must be true or false")
        return vals.astype(np.uint64)
    if fd.options.keys:
        return tx.index.row_keys(fd).translate(vals, create, tx.new_keys.setdefault(fd.id, []))
    if type(vals).__module__.startswith("pyarrow"):
        vals = vals.to_numpy(zero_copy_only=False)  # type: ignore[attr-defined]  # a pyarrow array
    if vals.dtype.kind not in "iu":
        if vals.dtype.kind == "O" and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals):
            vals = np.array(vals.tolist(), dtype=np.uint64)
        elif vals.dtype.kind in "OUS":
            raise KeysNotAllowedError(f"field {fd.name} uses integer row ids, not string keys")
        else:
            raise InvalidValueError(f"field {fd.name} uses integer row ids; got {vals.dtype} values")
    if vals.dtype.kind == "i" and len(vals) and vals.min() < 0:
        raise InvalidValueError("row ids must not be negative")
    return vals.astype(np.uint64, copy=False)


def _as_array(values: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """(values as numpy, mask of non-null entries or None when there are no nulls)."""
    mod = type(values).__module__
    if mod.startswith("pyarrow"):
        import pyarrow as pa

        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        present = None
        if values.null_count:
            present = np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
            values = values.drop_null()
            full = np.empty(len(present), dtype=object)
            full[present] = values.to_numpy(zero_copy_only=False)
            return full, present
        if pa.types.is_dictionary(values.type):
            return values, None  # keys: translated by KeyMap from the dictionary
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            return values, None
        return values.to_numpy(zero_copy_only=False), None
    if isinstance(values, np.ndarray):
        if values.dtype.kind == "O":
            present = np.array([v is not None for v in values], dtype=bool)
            return values, (None if present.all() else present)
        return values, None
    if isinstance(values, (str, bytes)):
        raise InvalidValueError("expected a sequence of values, got a single string")
    lst = list(values)
    present = np.array([v is not None for v in lst], dtype=bool)
    if all(isinstance(v, bool) for v in lst) and lst:
        return np.array(lst, dtype=bool), None
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in lst) and lst:
        arr = np.array(lst)
        if arr.dtype.kind not in "iu":
            arr = np.array(lst, dtype=object)
        return arr, None
    arr = np.empty(len(lst), dtype=object)
    arr[:] = lst
    return arr, (None if present.all() else present)


# --- BSI ------------------------------------------------------------------------------------

def _fits_int64(fd: FieldDef) -> bool:
    base = fd.options.base
    return -(2**63) <= fd.options.min - base and fd.options.max - base <= 2**63 - 1


def _stored_values(fd: FieldDef, vals: Any) -> np.ndarray:
    """The values as stored integers (int64), range-checked against the field before
    anything can overflow; vectorised where the dtype allows."""
    opts = fd.options
    if type(vals).__module__.startswith("pyarrow"):
        vals = vals.to_numpy(zero_copy_only=False)
    kind = vals.dtype.kind
    if opts.type == "int" and opts.max > INT64_MAX:
        # An int field reaching past 2**63-1: the values themselves may not fit int64.
        return np.array([opts.stored_in_range(v.item() if isinstance(v, np.generic) else v) for v in vals],
                        dtype=object)
    if kind in "OU":
        return np.array([opts.stored_in_range(v) for v in vals], dtype=np.int64)
    if opts.type == "float":
        if kind not in "iuf":
            raise InvalidValueError(f"field {fd.name} is float: got {vals.dtype} values")
        return float_encode_array(vals, opts.bits)
    if opts.type == "int":
        if kind not in "iu":
            raise InvalidValueError(f"field {fd.name} is int: got {vals.dtype} values")
        return _checked_ints(fd, vals, 1, 0)
    if opts.type == "decimal":
        if kind in "iu":
            return _checked_ints(fd, vals, 10**opts.scale, 0)
        if kind != "f":
            raise InvalidValueError(f"field {fd.name} is decimal: got {vals.dtype} values")
        x = vals.astype(np.float64)
        if len(x) and not np.isfinite(x).all():
            raise InvalidValueError("decimal values must be finite")
        scaled = x * 10.0**opts.scale
        bad = (scaled < opts.min) | (scaled > opts.max)        # exact check, before rounding
        if bad.any():
            _out_of_range(fd, vals[bad][0])
        stored = np.round(scaled)
        # A float whose shortest repr ends in 5 at the rounding digit (1.015) may sit just
        # below or above the half in binary; round those the way a single write does.
        frac = np.abs(scaled - np.trunc(scaled))
        near = np.flatnonzero(np.abs(frac - 0.5) < 1e-6)
        out = stored.astype(np.int64)
        for i in near.tolist():
            out[i] = opts.to_stored(float(x[i]))
        return out
    mult = TIME_UNITS[opts.time_unit]
    if kind == "M":
        # datetime64 in its own unit -> the field's unit; every unit divides 1 s, so the
        # conversion is a multiply or a floor-divide that cannot overflow for real dates.
        unit = np.datetime_data(vals.dtype)[0]
        src_per_s = TIME_UNITS.get(unit) or {"m": 1, "h": 1, "D": 1}.get(unit)
        if src_per_s is None or unit in ("m", "h", "D"):
            vals = vals.astype("datetime64[s]")
            src_per_s = 1
        raw = vals.astype(np.int64)
        shifted = raw - np.int64(opts.epoch) * np.int64(src_per_s)
        if src_per_s >= mult:
            stored = shifted // np.int64(src_per_s // mult)
        else:
            stored = _checked_ints(fd, shifted, mult // src_per_s, 0)
        check_value_range(fd, stored)
        return stored
    if kind in "iu":
        return _checked_ints(fd, vals, mult, opts.epoch)
    raise InvalidValueError(f"field {fd.name} is timestamp: got {vals.dtype} values")


def _checked_ints(fd: FieldDef, vals: np.ndarray, mult: int, shift: int) -> np.ndarray:
    """(vals - shift) * mult as int64, raising ValueOutOfRangeError for any value whose
    result would leave the field's [min, max] (so nothing overflows on the way)."""
    lo = -((-fd.options.min) // mult) + shift           # smallest allowed input, ceil
    hi = fd.options.max // mult + shift                 # largest allowed input, floor
    if len(vals):
        vmin, vmax = int(vals.min()), int(vals.max())
        if vmin < lo or vmax > hi:
            _out_of_range(fd, vmin if vmin < lo else vmax, mult, shift)
    return (vals.astype(np.int64) - np.int64(shift)) * np.int64(mult)


def _out_of_range(fd: FieldDef, value: Any, mult: int = 0, shift: int = 0) -> None:
    o = fd.options
    shown = value if not mult or fd.options.type != "decimal" else value
    raise ValueOutOfRangeError(f"value {shown} out of range for field {fd.name} "
                               f"[{o.from_stored(o.min)}, {o.from_stored(o.max)}]")


def _bsi_rows(tx: Transaction, fd: FieldDef) -> set[int]:
    rows: set[int] = set()
    for frag in tx.base.views(fd.id).get(BSI_VIEW, {}).values():
        rows.update(frag.rows)
    rows.update(tx.changed_rows(fd.id, BSI_VIEW))
    return rows


def _bsi_import(tx: Transaction, fd: FieldDef, cols: np.ndarray, offsets: np.ndarray, progress: Progress) -> None:
    """Bit-plane decomposition of whole columns (cols strictly increasing) in one C pass."""
    existing_depth = tx.index.bit_depth(fd, tx)
    if offsets.dtype == object:
        # Ranges wider than int64 (values minus base): slice in Python, one plane at a time.
        all_cols, sign, planes = _bsi_planes_big(cols, offsets, existing_depth)
    else:
        all_cols, sign, planes = bsi_planes(cols, offsets, existing_depth)
    depth = len(planes)
    # Only records that already hold a value can lose bits: for the rest (all of them in a
    # first load) there is nothing to remove.
    had = _had_values(tx, fd, all_cols)
    tx.add(fd.id, BSI_VIEW, BSI_EXISTS_ROW, all_cols)
    tx.add(fd.id, BSI_VIEW, BSI_SIGN_ROW, sign)
    if had:
        tx.remove(fd.id, BSI_VIEW, BSI_SIGN_ROW, had - sign)
    for i, ones in enumerate(planes):
        tx.add(fd.id, BSI_VIEW, BSI_BIT0_ROW + i, ones)
        if had:
            tx.remove(fd.id, BSI_VIEW, BSI_BIT0_ROW + i, had - ones)
        if progress:
            progress(i + 1, depth)


def _bsi_planes_big(cols: np.ndarray, offsets: np.ndarray,
                    min_depth: int) -> tuple[FrozenBitmap, FrozenBitmap, list[FrozenBitmap]]:
    neg = np.array([o < 0 for o in offsets], dtype=bool)
    mags = [abs(int(o)) for o in offsets]
    depth = max(max((m.bit_length() for m in mags), default=0), min_depth)
    planes = [FrozenBitmap(cols[np.array([(m >> i) & 1 for m in mags], dtype=bool)]) for i in range(depth)]
    return FrozenBitmap(cols), FrozenBitmap(cols[neg]), planes


def _had_values(tx: Transaction, fd: FieldDef, cols: FrozenBitmap) -> FrozenBitmap:
    """The records of cols that already have a value (committed or earlier in tx)."""
    from engine.state import split_by_shard

    parts = [tx.row_in_shard(fd.id, BSI_VIEW, shard, BSI_EXISTS_ROW) & part for shard, part in split_by_shard(cols)]
    parts = [p for p in parts if p]
    if not parts:
        return FrozenBitmap()
    return FrozenBitmap.union(*parts) if len(parts) > 1 else parts[0]


# --- helpers ------------------------------------------------------------------------------

def _last_wins(cols: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the last value given for each record; returns them sorted by record."""
    if len(cols) < 2:
        return cols, vals
    if np.all(cols[1:] > cols[:-1]):
        return cols, vals
    rev = cols[::-1]
    uniq, idx = np.unique(rev, return_index=True)
    return uniq, vals[::-1][idx]


def _clear_other_rows(tx: Transaction, fd: FieldDef, cset: FrozenBitmap) -> None:
    """Mutex/bool import: take the imported records out of whatever row held them."""
    from engine.state import split_by_shard

    for shard, part in split_by_shard(cset):
        for row, hit in tx.rows_holding(fd.id, STANDARD_VIEW, shard, part):
            tx.remove(fd.id, STANDARD_VIEW, row, hit)


def _time_view_groups(fd: FieldDef, timestamps: Any, n: int) -> list[tuple[str, np.ndarray | None]]:
    """(view, mask of records) for the standard view and each quantum bucket present."""
    ts = _as_datetime64(timestamps)
    if len(ts) != n:
        raise InvalidValueError(f"{n} records but {len(ts)} timestamps")
    groups: list[tuple[str, np.ndarray | None]] = []
    if not fd.options.no_standard_view:
        groups.append((STANDARD_VIEW, None))
    fmt = {"Y": ("datetime64[Y]", 4), "M": ("datetime64[M]", 7), "D": ("datetime64[D]", 10),
           "H": ("datetime64[h]", 13)}
    for unit in fd.options.time_quantum:
        dtype, width = fmt[unit]
        buckets = ts.astype(dtype)
        for b in sorted_unique(buckets):
            stamp = str(b.astype("datetime64[h]"))[:width].replace("-", "").replace("T", "")
            groups.append((f"{STANDARD_VIEW}_{stamp}", buckets == b))
    return groups


def _as_datetime64(timestamps: Any) -> np.ndarray:
    from engine.schema import parse_timestamp

    arr, present = _as_array(timestamps)
    if present is not None:
        raise InvalidValueError("timestamps must not be null")
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[s]")
    if arr.dtype.kind in "iu":
        return arr.astype("datetime64[s]")
    return np.array([np.datetime64(parse_timestamp(t).astimezone(_dt.timezone.utc).replace(tzinfo=None), "s")
                     for t in arr])


# --- whole records (the inverse of engine.records.iter_records) -------------------------------

def write_records(index: Any, records: Any, columns: dict[str, list[Any]], *,
                  progress: Progress = None) -> int:
    """Upsert records field by field, in one atomic, durable commit: for every field in
    `columns`, each given record's value becomes exactly the one given (None clears it; a
    set's or time field's members are replaced, not added to). Fields not in `columns`
    keep their values. Records are created as needed (existence marked).

    Values take the forms engine.records.iter_records gives (stored integers for BSI
    fields, row ids or keys, {view label: members} for time fields), so a batch read there
    is written here exactly.

    Raises InvalidValueError (a record given twice, a malformed value, an unknown time
    view), ValueOutOfRangeError (a stored integer outside the field's range),
    FieldNotFoundError. Nothing is written when it raises.
    """
    fds = [index._fd(name) for name in columns]
    with index.transaction() as tx:
        cols = _column_ids(tx, records, create=True)
        if len(np.unique(cols)) != len(cols):
            raise InvalidValueError("a record is given twice in one batch")
        order = np.argsort(cols, kind="stable")
        sorted_cols = cols[order]
        cset = FrozenBitmap(sorted_cols)
        for i, fd in enumerate(fds):
            values = columns[fd.name]
            if len(values) != len(cols):
                raise InvalidValueError(f"{len(cols)} records but {len(values)} values for field {fd.name}")
            _clear_records(tx, fd, cset)
            _write_column(tx, fd, cols, values)
            if progress:
                progress(i + 1, len(fds))
        tx.mark_existing(cset)
    del tx
    _after_batch(index)
    return len(cols)


def _clear_records(tx: Transaction, fd: FieldDef, cset: FrozenBitmap) -> None:
    """Remove every value the committed state holds for these records in fd, every view."""
    from engine.state import split_by_shard

    for view in list(tx.base.views(fd.id)):
        for shard, part in split_by_shard(cset):
            frag = tx.base.fragment(fd.id, view, shard)
            if frag is None:
                continue
            for row, hit in frag.rows_holding(part):
                tx.remove(fd.id, view, row, hit)


def _write_column(tx: Transaction, fd: FieldDef, cols: np.ndarray, values: list[Any]) -> None:
    opts = fd.options
    present = [i for i, v in enumerate(values) if v is not None]
    if not present:
        return
    if opts.is_bsi:
        stored = [values[i] for i in present]
        lo, hi = opts.min, opts.max
        if not all(type(v) is int for v in stored) or min(stored) < lo or max(stored) > hi:
            for v in stored:
                if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                    raise InvalidValueError(f"field {fd.name}: stored values are integers, got {v!r}")
                if not lo <= v <= hi:
                    opts.check_range(int(v))
        wide = opts.min < -(2**63) or opts.max > INT64_MAX       # an int field past 2**63 - 1
        arr = np.array([int(v) for v in stored], dtype=object) if wide else np.array(stored, dtype=np.int64)
        c = cols[present]
        order = np.argsort(c, kind="stable")
        c, arr = c[order], arr[order]
        base = opts.base
        offsets = np.array([v - base for v in arr.tolist()], dtype=object) if wide else arr - np.int64(base)
        _bsi_import(tx, fd, c, offsets, None)
        return
    groups: dict[str, tuple[Any, list[Any]]] = {}        # view: (record ids, list or numpy; values)
    if opts.type == "time":
        for i in present:
            cell = values[i]
            if not isinstance(cell, dict):
                raise InvalidValueError(f"field {fd.name}: a time field's value is {{view: members}}")
            for label, members in cell.items():
                if not time_label_ok(fd, label):
                    raise InvalidValueError(f"field {fd.name}: no view {str(label)[:20]!r}")
                view = STANDARD_VIEW if label == "standard" else f"{STANDARD_VIEW}_{label}"
                g = groups.setdefault(view, ([], []))
                for m in _members(fd, members):
                    g[0].append(int(cols[i]))
                    g[1].append(m)
    elif opts.type == "set":
        lists = [values[i] for i in present]
        if not all(type(v) is list for v in lists):
            for v in lists:
                _members(fd, v)                        # raises with the reason
        flat = list(itertools.chain.from_iterable(lists))
        _members(fd, flat)
        reps = np.repeat(cols[present], np.fromiter(map(len, lists), dtype=np.int64, count=len(lists)))
        groups[STANDARD_VIEW] = (reps, flat)
    else:                                                        # mutex, bool
        groups[STANDARD_VIEW] = (cols[present], [values[i] for i in present])
    for view, (cs, vs) in groups.items():
        if not len(cs):
            continue
        vals = np.array(vs, dtype=bool) if opts.type == "bool" else (
            np.array(vs, dtype=object) if opts.keys else np.array(vs, dtype=np.uint64))
        if opts.type == "bool" and not all(isinstance(v, (bool, np.bool_)) for v in vs):
            raise InvalidValueError(f"field {fd.name} is bool: values must be true or false")
        rows = _row_ids(tx, fd, vals, create=True)
        ids, offsets, grouped = group_by_row(rows, np.array(cs, dtype=np.uint64))
        for j in range(len(ids)):
            tx.add(fd.id, view, int(ids[j]), FrozenBitmap(grouped[offsets[j]:offsets[j + 1]]))


def _members(fd: FieldDef, members: Any) -> list[Any]:
    if not isinstance(members, (list, tuple)):
        raise InvalidValueError(f"field {fd.name}: members are a list")
    kinds = set(map(type, members))
    if fd.options.keys:
        ok = kinds <= {str}
    else:
        ok = kinds <= {int} and (not members or (min(members) >= 0 and max(members) < 2**64))
    if not ok:
        for m in members:
            good = isinstance(m, str) if fd.options.keys else (
                isinstance(m, (int, np.integer)) and not isinstance(m, bool) and 0 <= m < 2**64)
            if not good:
                raise InvalidValueError(f"field {fd.name}: bad member {m!r}")
    return list(members)


_LABEL_WIDTH = {"Y": 4, "M": 6, "D": 8, "H": 10}


def time_label_ok(fd: FieldDef, label: Any) -> bool:
    """Whether a time field has the view labelled `label`: "standard" (unless
    no_standard_view) or a quantum stamp of one of its units (YYYY, YYYYMM, YYYYMMDD,
    YYYYMMDDHH), as engine.records.iter_records labels them."""
    if label == "standard":
        return not fd.options.no_standard_view
    widths = {_LABEL_WIDTH[u] for u in fd.options.time_quantum}
    return isinstance(label, str) and label.isascii() and label.isdigit() and len(label) in widths
