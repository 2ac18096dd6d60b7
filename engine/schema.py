"""Index and field definitions: option validation and value conversion.

Field types follow FeatureBase (../shared/reference/featurebase-features.md (b)):
set, mutex, bool, int, decimal, timestamp and time. BSI-backed types (int, decimal,
timestamp) store an integer `stored = value - base` in sign-magnitude bit planes.

Two roarbase extensions serve the /v1 data plane (exact floats and unsigned 64-bit
integers; DESIGN.md "Data model mapping"):
- `float` (option `bits` = 16, 32 or 64): a BSI over an order-preserving integer encoding
  of the IEEE bits at that width, so values round-trip exactly and range comparisons are
  exact bitmap operations (see `float_encode`).
- `int` fields may span the unsigned 64-bit range (`max` up to 2**64-1): when FeatureBase's
  base would leave offsets outside int64, the base moves to `min + 2**63`.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import re
from dataclasses import asdict, dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import numpy as np

from engine.errors import InvalidNameError, InvalidOptionError, InvalidValueError, ValueOutOfRangeError

FIELD_TYPES = ("set", "mutex", "bool", "int", "decimal", "timestamp", "time", "float")
BSI_TYPES = ("int", "decimal", "timestamp", "float")
FLOAT_BITS = (16, 32, 64)
ROW_TYPES = ("set", "mutex", "bool", "time")
CACHE_TYPES = ("ranked", "lru", "none")
TIME_UNITS = {"s": 1, "ms": 10**3, "us": 10**6, "µs": 10**6, "ns": 10**9}
QUANTUM_ORDER = "YMDH"
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1
UNIX_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
# Names as FeatureBase allows them: lower-case letter first, then [a-z0-9_-], at most 230.
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,229}$")
_TTL_RE = re.compile(r"^(\d+)(s|m|h|d)?$")
_TTL_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}

EXISTS_FIELD = "_exists"
STANDARD_VIEW = "standard"
BSI_VIEW = "bsi"


def check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidNameError(
            f"invalid {what} name {name!r}: use a lower-case letter, then letters, digits, '_' or '-'"
        )
    return name


@dataclass(frozen=True)
class IndexOptions:
    keys: bool = False
    track_existence: bool = True
    description: str = ""

    @classmethod
    def make(cls, **opts: Any) -> "IndexOptions":
        unknown = set(opts) - {"keys", "track_existence", "description"}
        if unknown:
            raise InvalidOptionError(f"unknown index option(s): {', '.join(sorted(unknown))}")
        for flag in ("keys", "track_existence"):
            if flag in opts and not isinstance(opts[flag], bool):
                raise InvalidOptionError(f"index option {flag} must be true or false")
        if not isinstance(opts.get("description", ""), str):
            raise InvalidOptionError("index option description must be a string")
        return cls(**opts)


@dataclass(frozen=True)
class FieldOptions:
    """A field's type and options, validated; immutable once the field exists."""

    type: str = "set"
    keys: bool = False
    cache_type: str = "ranked"
    cache_size: int = 50000
    min: int = INT64_MIN          # BSI bounds in stored units (scaled for decimal)
    max: int = INT64_MAX
    scale: int = 0
    time_unit: str = "s"
    epoch: int = 0                # seconds since the Unix epoch
    time_quantum: str = ""
    ttl: int = 0                  # seconds; 0 = keep forever
    no_standard_view: bool = False
    bits: int = 64                # float fields: IEEE width (16, 32 or 64)

    # --- construction and validation ------------------------------------------------------

    @classmethod
    def make(cls, type: str = "set", **opts: Any) -> "FieldOptions":
        if type not in FIELD_TYPES:
            raise InvalidOptionError(f"unknown field type {type!r}; use one of {', '.join(FIELD_TYPES)}")
        allowed = {
            "set": {"keys", "cache_type", "cache_size"},
            "mutex": {"keys", "cache_type", "cache_size"},
            "bool": set(),
            "int": {"min", "max"},
            "decimal": {"scale", "min", "max"},
            "timestamp": {"time_unit", "epoch", "min", "max"},
            "time": {"keys", "time_quantum", "ttl", "no_standard_view"},
            "float": {"bits"},
        }[type]
        unknown = set(opts) - allowed
        if unknown:
            raise InvalidOptionError(
                f"option(s) {', '.join(sorted(unknown))} not allowed on a {type} field"
                + (f" (allowed: {', '.join(sorted(allowed))})" if allowed else "")
            )
        kw: dict[str, Any] = {"type": type}
        if "keys" in opts:
            kw["keys"] = _bool(opts["keys"], "keys")
        if "cache_type" in opts:
            if opts["cache_type"] not in CACHE_TYPES:
                raise InvalidOptionError(f"cache_type must be one of {', '.join(CACHE_TYPES)}")
            kw["cache_type"] = opts["cache_type"]
        if "cache_size" in opts:
            kw["cache_size"] = _int(opts["cache_size"], "cache_size", 0, 2**31 - 1)
        if type == "decimal":
            if "scale" not in opts:
                raise InvalidOptionError("a decimal field needs a scale (0..19)")
            kw["scale"] = _int(opts["scale"], "scale", 0, 19)
        if type == "timestamp":
            unit = opts.get("time_unit", "s")
            if unit not in TIME_UNITS:
                raise InvalidOptionError("time_unit must be one of s, ms, us, ns")
            kw["time_unit"] = "us" if unit == "µs" else unit
            if "epoch" in opts:
                kw["epoch"] = _epoch_seconds(opts["epoch"])
        if type == "time":
            q = opts.get("time_quantum", "")
            if not isinstance(q, str) or not q or not _ordered_subset(q.upper()):
                raise InvalidOptionError(
                    "a time field needs time_quantum: an ordered subset of Y, M, D, H (e.g. 'YMD')"
                )
            kw["time_quantum"] = q.upper()
            if "ttl" in opts:
                kw["ttl"] = _ttl_seconds(opts["ttl"])
            if "no_standard_view" in opts:
                kw["no_standard_view"] = _bool(opts["no_standard_view"], "no_standard_view")
        if type == "float":
            bits = opts.get("bits", 64)
            if isinstance(bits, bool) or bits not in FLOAT_BITS:
                raise InvalidOptionError("a float field's bits must be 16, 32 or 64")
            finite_max = float(np.finfo(_FLOAT_DTYPES[bits]).max)
            return cls(type="float", bits=int(bits), min=float_encode(-finite_max, int(bits)),
                       max=float_encode(finite_max, int(bits)))
        base = cls(**kw)
        if type in BSI_TYPES:
            try:
                lo = base.to_stored(opts["min"]) if "min" in opts else INT64_MIN
                hi = base.to_stored(opts["max"]) if "max" in opts else INT64_MAX
            except (InvalidValueError, ValueOutOfRangeError) as exc:
                raise InvalidOptionError(f"bad min/max option: {exc.message}") from None
            top = UINT64_MAX if type == "int" else INT64_MAX
            if not INT64_MIN <= lo <= top or not INT64_MIN <= hi <= top:
                raise InvalidOptionError("min and max must fit in a signed 64-bit integer (after scaling)"
                                         + (", or max up to 2**64-1 for an int field" if type == "int" else ""))
            if lo > hi:
                raise InvalidOptionError("min must not be greater than max")
            if hi - lo > UINT64_MAX:
                raise InvalidOptionError("max - min must fit in 64 bits")
            base = replace(base, min=lo, max=hi)
        return base

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FieldOptions":
        return cls(**d)

    # --- BSI representation -------------------------------------------------------------

    @property
    def is_bsi(self) -> bool:
        return self.type in BSI_TYPES

    @property
    def base(self) -> int:
        """FeatureBase's base: min if min > 0, max if max < 0, else 0 — unless that leaves
        offsets (value - base) outside int64 (an int field reaching past 2**63-1), where
        the base is min + 2**63 so every offset fits."""
        if self.type == "float":
            return 0
        base = self.min if self.min > 0 else self.max if self.max < 0 else 0
        if self.min - base < INT64_MIN or self.max - base > INT64_MAX:
            return self.min + 2**63
        return base

    def to_stored(self, value: Any) -> int:
        """A user value as the integer the BSI holds before the base is subtracted
        (scaled for decimals, units since epoch for timestamps). Range is not checked."""
        if self.type == "int":
            return _as_int(value)
        if self.type == "decimal":
            return _scaled(value, self.scale)
        if self.type == "timestamp":
            return timestamp_to_units(value, self.time_unit, self.epoch)
        if self.type == "float":
            return float_encode(_as_float(value, self.bits), self.bits)
        raise InvalidValueError(f"a {self.type} field has no integer values")

    def stored_in_range(self, value: Any) -> int:
        """to_stored, then the field's range check. Decimals are checked exactly, before
        rounding to the scale (FeatureBase rejects 1000.005 in a max=1000 field)."""
        if self.type == "decimal":
            exact = _exact_decimal(value) * (Decimal(10) ** self.scale)
            if exact < self.min or exact > self.max:
                raise ValueOutOfRangeError(
                    f"value {value} out of range [{self.from_stored(self.min)}, {self.from_stored(self.max)}]")
        return self.check_range(self.to_stored(value))

    def check_range(self, stored: int) -> int:
        if stored < self.min or stored > self.max:
            raise ValueOutOfRangeError(
                f"value {self.from_stored(stored)} out of range "
                f"[{self.from_stored(self.min)}, {self.from_stored(self.max)}]"
            )
        return stored

    def from_stored(self, stored: int) -> Any:
        """The user-facing value of a stored integer."""
        if self.type == "decimal":
            return Decimal(stored).scaleb(-self.scale)
        if self.type == "timestamp":
            return units_to_datetime(stored, self.time_unit, self.epoch)
        if self.type == "float":
            return float_decode(stored, self.bits)
        return stored

    def float_range(self, op: str, value: Any) -> tuple[int | None, int | None] | None:
        """Inclusive stored bounds (None = unbounded) of the values of a float field that
        satisfy `v op value` (op one of == < <= > >=), or None when none can.

        The bound is rounded to the field's width first, as stored values were, so a
        float32 field holding 9.99 matches `>= 9.99`. -0.0 and +0.0 are distinct stored
        values (both round-trip) but compare equal, as IEEE says.
        """
        x = _as_float(value, self.bits, finite=False)
        if math.isinf(x):
            everything = (op in ("<", "<=")) == (x > 0)
            return (None, None) if everything else None
        if x == 0.0:
            neg_zero, pos_zero = float_encode(-0.0, self.bits), float_encode(0.0, self.bits)
            lo_eq, hi_eq = neg_zero, pos_zero
        else:
            lo_eq = hi_eq = float_encode(x, self.bits)
        return {"==": (lo_eq, hi_eq), ">=": (lo_eq, None), ">": (hi_eq + 1, None),
                "<=": (None, hi_eq), "<": (None, lo_eq - 1)}[op]

    # --- time views -----------------------------------------------------------------------

    def time_views(self, when: _dt.datetime) -> list[str]:
        """The quantum views a write at `when` lands in (standard_YYYY, …MM, …DD, …HH)."""
        stamp = {"Y": f"{when.year:04d}", "M": f"{when.year:04d}{when.month:02d}",
                 "D": f"{when.year:04d}{when.month:02d}{when.day:02d}",
                 "H": f"{when.year:04d}{when.month:02d}{when.day:02d}{when.hour:02d}"}
        return [f"{STANDARD_VIEW}_{stamp[u]}" for u in self.time_quantum]


def _bool(v: Any, name: str) -> bool:
    if not isinstance(v, bool):
        raise InvalidOptionError(f"option {name} must be true or false")
    return v


def _int(v: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= int(v) <= hi:
        raise InvalidOptionError(f"option {name} must be an integer in [{lo}, {hi}]")
    return int(v)


def _ordered_subset(q: str) -> bool:
    positions = [QUANTUM_ORDER.find(c) for c in q]
    return all(p >= 0 for p in positions) and positions == sorted(set(positions))


def _ttl_seconds(v: Any) -> int:
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0:
        return int(v)
    m = _TTL_RE.match(str(v).strip().lower())
    if not m:
        raise InvalidOptionError("ttl must be seconds or a duration like '48h', '30d', '90m'")
    return int(m.group(1)) * _TTL_SECONDS[m.group(2)]


def _epoch_seconds(v: Any) -> int:
    try:
        dt = parse_timestamp(v)
    except InvalidValueError as exc:
        raise InvalidOptionError(f"bad epoch option: {exc.message}") from None
    return int((dt - UNIX_EPOCH).total_seconds())


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidValueError(f"expected an integer, got {value!r}")
    return int(value)


_FLOAT_DTYPES: dict[int, type[np.floating[Any]]] = {16: np.float16, 32: np.float32, 64: np.float64}
_UINT_DTYPES = {16: np.uint16, 32: np.uint32, 64: np.uint64}


def _as_float(value: Any, bits: int, *, finite: bool = True) -> float:
    """A number rounded to a float of `bits` (returned as a Python float). Non-finite
    results (NaN, inf, or a value beyond the width's range) are refused when `finite`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, np.integer, np.floating)):
        raise InvalidValueError(f"expected a number, got {value!r}")
    try:
        wide = float(value)
    except OverflowError:
        wide = math.inf if value > 0 else -math.inf
    with np.errstate(over="ignore"):
        x = float(_FLOAT_DTYPES[bits](wide))
    if math.isnan(x) or (finite and math.isinf(x)):
        raise InvalidValueError(f"value {value!r} is not a finite float{bits}")
    return x


def float_encode(x: float, bits: int) -> int:
    """The order-preserving signed integer of a float's IEEE bits at `bits` width:
    +0.0 -> 0, the next float up -> 1, ..., -0.0 -> -1, the next float down -> -2, ...
    Integer order equals float order (with -0.0 just below +0.0)."""
    u = int(np.array([x], dtype=_FLOAT_DTYPES[bits]).view(_UINT_DTYPES[bits])[0])
    sign = 1 << (bits - 1)
    return u if not u & sign else -(u & (sign - 1)) - 1


def float_decode(stored: int, bits: int) -> float:
    """The inverse of float_encode, as a Python float. Narrow widths come back as the
    shortest decimal that reads as the same float16/float32 (9.99, not 9.98999977)."""
    sign = 1 << (bits - 1)
    u = stored if stored >= 0 else (-(stored + 1)) | sign
    f = np.array([u], dtype=_UINT_DTYPES[bits]).view(_FLOAT_DTYPES[bits])[0]
    return float(f) if bits == 64 else float(str(f))


def float_encode_array(values: np.ndarray, bits: int) -> np.ndarray:
    """float_encode over a numpy array (any numeric dtype) as int64; raises
    InvalidValueError for non-finite results."""
    with np.errstate(over="ignore", invalid="ignore"):
        f = np.asarray(values).astype(_FLOAT_DTYPES[bits])
    if len(f) and not np.isfinite(f).all():
        bad = values[~np.isfinite(f)][0]
        raise InvalidValueError(f"value {bad!r} is not a finite float{bits}")
    u = f.view(_UINT_DTYPES[bits]).astype(np.uint64)
    sign = np.uint64(1 << (bits - 1))
    neg = (u & sign) != 0
    out = u.astype(np.int64)
    out[neg] = -((u[neg] & (sign - np.uint64(1))).astype(np.int64)) - 1
    return out


def float_decode_array(stored: np.ndarray, bits: int) -> np.ndarray:
    """float_decode over an int64 array, as float64 values of the field's width."""
    s = np.asarray(stored, dtype=np.int64)
    sign = np.uint64(1 << (bits - 1))
    neg = s < 0
    u = s.astype(np.uint64)
    u[neg] = (-(s[neg] + 1)).astype(np.uint64) | sign
    return u.astype(_UINT_DTYPES[bits]).view(_FLOAT_DTYPES[bits]).astype(np.float64)


def _exact_decimal(value: Any) -> Decimal:
    """A number as the Decimal it reads as (a float by its shortest repr: 1.015 is 1.015)."""
    if isinstance(value, bool):
        raise InvalidValueError(f"expected a decimal number, got {value!r}")
    try:
        if isinstance(value, (float, np.floating)):
            d = Decimal(repr(float(value)))
        elif isinstance(value, Decimal):
            d = value
        elif isinstance(value, (int, np.integer)):
            d = Decimal(int(value))
        elif isinstance(value, str):
            d = Decimal(value.strip())
        else:
            raise InvalidValueError(f"expected a decimal number, got {value!r}")
    except InvalidOperation:
        raise InvalidValueError(f"expected a decimal number, got {value!r}") from None
    if not d.is_finite():
        raise InvalidValueError(f"expected a finite decimal, got {value!r}")
    return d


def _scaled(value: Any, scale: int) -> int:
    """value × 10^scale rounded half-to-even, reading floats by their shortest repr (the
    bulk import path applies the same rule)."""
    return int(_exact_decimal(value).scaleb(scale).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def parse_timestamp(value: Any) -> _dt.datetime:
    """A timezone-aware UTC datetime from a datetime, an RFC3339/ISO string (partial
    forms like '2023', '2023-01', '2023-01-05T10' accepted) or integer Unix seconds."""
    if isinstance(value, _dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day, tzinfo=_dt.timezone.utc)
    if isinstance(value, np.datetime64):
        ns = int(value.astype("datetime64[ns]").astype(np.int64))
        return UNIX_EPOCH + _dt.timedelta(microseconds=ns // 1000)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return UNIX_EPOCH + _dt.timedelta(seconds=int(value))
    if isinstance(value, str):
        s = value.strip()
        for fmt in ("%Y", "%Y-%m", "%Y-%m-%d", "%Y-%m-%dT%H"):
            try:
                return _dt.datetime.strptime(s, fmt).replace(tzinfo=_dt.timezone.utc)
            except ValueError:
                pass
        try:
            dt = _dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidValueError(f"invalid timestamp {value!r} (use RFC3339)") from None
        return dt if dt.tzinfo else dt.replace(tzinfo=_dt.timezone.utc)
    raise InvalidValueError(f"invalid timestamp {value!r}")


_TZ_SUFFIX = re.compile(r"(Z|z|[+-]\d\d:?\d\d)$")


_FRACTION = re.compile(r"^(.*?)(?:\.(\d{1,9}))?$")


def _string_to_ns(text: str) -> int | None:
    """Nanoseconds since the Unix epoch of an RFC3339 string, keeping all nine fractional
    digits (datetime keeps six); None when numpy cannot read it. Whole seconds are parsed
    at second precision, so dates far outside datetime64[ns]'s range do not wrap."""
    s = text.strip()
    offset = 0
    m = _TZ_SUFFIX.search(s)
    if m:
        tz = m.group(1)
        s = s[:m.start()]
        if tz not in ("Z", "z"):
            digits = tz[1:].replace(":", "")
            offset = (1 if tz[0] == "+" else -1) * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    f = _FRACTION.match(s)
    assert f is not None
    try:
        seconds = int(np.datetime64(f.group(1), "s").astype(np.int64))
    except (ValueError, OverflowError):
        return None
    frac = int((f.group(2) or "").ljust(9, "0"))
    return (seconds - offset) * 10**9 + frac


def timestamp_to_units(value: Any, unit: str, epoch: int) -> int:
    """Units of `unit` since `epoch` (Unix seconds). Integers are Unix seconds, as in
    FeatureBase; use datetimes, numpy datetime64 or strings for sub-second precision
    (strings and datetime64 keep nanoseconds)."""
    if isinstance(value, np.datetime64):
        ns = int(value.astype("datetime64[ns]").astype(np.int64))
        return (ns - epoch * 10**9) * TIME_UNITS[unit] // 10**9
    if isinstance(value, str) and "T" in value:
        parsed = _string_to_ns(value)
        if parsed is not None:
            return (parsed - epoch * 10**9) * TIME_UNITS[unit] // 10**9
    dt = parse_timestamp(value)
    delta = dt - UNIX_EPOCH
    micros = (delta.days * 86400 + delta.seconds) * 10**6 + delta.microseconds - epoch * 10**6
    return micros * TIME_UNITS[unit] // 10**6


def units_to_datetime(units: int, unit: str, epoch: int) -> _dt.datetime:
    micros = units * 10**6 // TIME_UNITS[unit] + epoch * 10**6
    return UNIX_EPOCH + _dt.timedelta(microseconds=micros)


def check_meta(meta: Any, what: str) -> dict[str, Any]:
    """Opaque metadata the engine stores with a schema and never interprets (the entity
    layer keeps property names and value types there): a JSON object of plain values."""
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise InvalidOptionError(f"{what} meta must be a JSON object")
    try:
        text = json.dumps(meta, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError):
        raise InvalidOptionError(f"{what} meta must hold only JSON values") from None
    if len(text) > 65536:
        raise InvalidOptionError(f"{what} meta is larger than 64 KiB")
    return dict(json.loads(text))


@dataclass
class FieldDef:
    """A field as stored in the schema: a name, a never-reused id, its options and opaque
    metadata (check_meta)."""

    name: str
    id: int
    options: FieldOptions
    bit_depth: int = 0            # BSI planes in use; grows on demand, never shrinks
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "id": self.id, "options": self.options.to_dict(), "bit_depth": self.bit_depth}
        if self.meta:
            out["meta"] = self.meta
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FieldDef":
        return cls(d["name"], d["id"], FieldOptions.from_dict(d["options"]), d.get("bit_depth", 0),
                   dict(d.get("meta") or {}))


@dataclass
class IndexDef:
    name: str
    options: IndexOptions
    fields: dict[str, FieldDef] = field(default_factory=dict)
    next_field_id: int = 1        # 0 is the existence field
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "options": asdict(self.options),
               "fields": [f.to_dict() for f in self.fields.values()],
               "next_field_id": self.next_field_id}
        if self.meta:
            out["meta"] = self.meta
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "IndexDef":
        fields = {f["name"]: FieldDef.from_dict(f) for f in d["fields"]}
        return cls(d["name"], IndexOptions(**d["options"]), fields, d["next_field_id"], dict(d.get("meta") or {}))
