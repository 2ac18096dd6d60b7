"""Index and field definitions: option validation and value conversion.

Field types follow FeatureBase (../shared/reference/featurebase-features.md (b)):
set, mutex, bool, int, decimal, timestamp and time. BSI-backed types (int, decimal,
timestamp) store an integer `stored = value - base` in sign-magnitude bit planes.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import asdict, dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import numpy as np

from engine.errors import InvalidNameError, InvalidOptionError, InvalidValueError, ValueOutOfRangeError

FIELD_TYPES = ("set", "mutex", "bool", "int", "decimal", "timestamp", "time")
BSI_TYPES = ("int", "decimal", "timestamp")
ROW_TYPES = ("set", "mutex", "bool", "time")
CACHE_TYPES = ("ranked", "lru", "none")
TIME_UNITS = {"s": 1, "ms": 10**3, "us": 10**6, "µs": 10**6, "ns": 10**9}
QUANTUM_ORDER = "YMDH"
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
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
        base = cls(**kw)
        if type in BSI_TYPES:
            try:
                lo = base.to_stored(opts["min"]) if "min" in opts else INT64_MIN
                hi = base.to_stored(opts["max"]) if "max" in opts else INT64_MAX
            except (InvalidValueError, ValueOutOfRangeError) as exc:
                raise InvalidOptionError(f"bad min/max option: {exc.message}") from None
            if not INT64_MIN <= lo <= INT64_MAX or not INT64_MIN <= hi <= INT64_MAX:
                raise InvalidOptionError("min and max must fit in a signed 64-bit integer (after scaling)")
            if lo > hi:
                raise InvalidOptionError("min must not be greater than max")
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
        """FeatureBase's base: min if min > 0, max if max < 0, else 0."""
        if self.min > 0:
            return self.min
        if self.max < 0:
            return self.max
        return 0

    def to_stored(self, value: Any) -> int:
        """A user value as the integer the BSI holds before the base is subtracted
        (scaled for decimals, units since epoch for timestamps). Range is not checked."""
        if self.type == "int":
            return _as_int(value)
        if self.type == "decimal":
            return _scaled(value, self.scale)
        if self.type == "timestamp":
            return timestamp_to_units(value, self.time_unit, self.epoch)
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
        return stored

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
        ns = _string_to_ns(value)
        if ns is not None:
            return (ns - epoch * 10**9) * TIME_UNITS[unit] // 10**9
    dt = parse_timestamp(value)
    delta = dt - UNIX_EPOCH
    micros = (delta.days * 86400 + delta.seconds) * 10**6 + delta.microseconds - epoch * 10**6
    return micros * TIME_UNITS[unit] // 10**6


def units_to_datetime(units: int, unit: str, epoch: int) -> _dt.datetime:
    micros = units * 10**6 // TIME_UNITS[unit] + epoch * 10**6
    return UNIX_EPOCH + _dt.timedelta(microseconds=micros)


@dataclass
class FieldDef:
    """A field as stored in the schema: a name, a never-reused id and its options."""

    name: str
    id: int
    options: FieldOptions
    bit_depth: int = 0            # BSI planes in use; grows on demand, never shrinks

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "id": self.id, "options": self.options.to_dict(),
                "bit_depth": self.bit_depth}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FieldDef":
        return cls(d["name"], d["id"], FieldOptions.from_dict(d["options"]), d.get("bit_depth", 0))


@dataclass
class IndexDef:
    name: str
    options: IndexOptions
    fields: dict[str, FieldDef] = field(default_factory=dict)
    next_field_id: int = 1        # 0 is the existence field

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "options": asdict(self.options),
                "fields": [f.to_dict() for f in self.fields.values()],
                "next_field_id": self.next_field_id}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "IndexDef":
        fields = {f["name"]: FieldDef.from_dict(f) for f in d["fields"]}
        return cls(d["name"], IndexOptions(**d["options"]), fields, d["next_field_id"])
