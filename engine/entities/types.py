"""Identifier and property value types of the recommender-style data plane
(../shared/reference/crossing-minds-api.md §1–2), and how each is stored.

Identifiers (an entity table's `id_type`) become record keys: every type has one canonical
string (`IdType.key`), the key translation makes it a dense record id, and `IdType.value`
turns the key back into the JSON value clients get.

Property values are validated and canonicalised by `ValueType.check`; `ValueType.field`
says which engine field holds them:

    int, intN, uint, uintN   int field with the width's range (uint64 uses the engine's
                             unsigned range)
    float, floatN            float field of that width (float = float32)
    bool                     bool field
    unicodeN, unicode, text, hexN, urlsafeN, bytesN, uuid
                             keyed mutex field (canonical strings)
    repeated: any type       keyed set field of canonical strings (`ValueType.key`)
"""
from __future__ import annotations

import base64
import binascii
import math
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from engine.errors import InvalidValueError
from engine.schema import float_decode, float_encode

MAX_WIDTH = 64                 # hexN, urlsafeN, bytesN: N ≤ 64
MAX_TEXT = 65536               # unicode/text: code points per value
MAX_TYPE_NAME = 10             # the seed's max length of value_type


class WrongDataType(InvalidValueError):
    """A value, id or type name that does not fit its declared type (CM WRONG_DATA_TYPE)."""

    name = "WRONG_DATA_TYPE"
    data: dict[str, Any]                   # set by entities.errors.wrong_data for clients


_INT_RE = re.compile(r"(u?)int(8|16|32|64)?\Z")
_FLOAT_RE = re.compile(r"float(16|32|64)?\Z")
_SIZED_RE = re.compile(r"(unicode|hex|urlsafe|bytes)([0-9]{1,3})\Z")
_HEX_RE = re.compile(r"[0-9a-fA-F]+\Z")
_URLSAFE_RE = re.compile(r"[0-9A-Za-z._-]+\Z")
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_DIGITS_RE = re.compile(r"-?[0-9]{1,20}\Z")
# Lone surrogates (JSON's "\ud800") cannot be encoded as UTF-8 on disk; NUL ends C strings.
_BAD_TEXT_RE = re.compile("[\x00\ud800-\udfff]")


def _b64url_decode(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))


def b64url(raw: bytes) -> str:
    """Unpadded base64url, the JSON form of bytes ids and values."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Kind:
    """A parsed type name: family plus width/length (0 when the family has none)."""

    family: str                # int uint float bool unicode text hex urlsafe bytes uuid
    width: int = 0

    @property
    def is_integer(self) -> bool:
        return self.family in ("int", "uint")

    @property
    def is_textual(self) -> bool:
        return self.family in ("unicode", "text")


def parse_kind(name: Any, *, for_ids: bool) -> Kind:
    """The Kind of a type name. Ids accept int/uint widths, uuid, hexN, urlsafeN, bytesN;
    properties accept those plus unbounded int/uint, floats, bool, unicode[N] and text."""
    if not isinstance(name, str) or not name or len(name) > MAX_TYPE_NAME:
        raise WrongDataType(f"unknown type {str(name)[:40]!r}")
    m = _INT_RE.match(name)
    if m:
        if for_ids and m.group(2) is None:
            raise WrongDataType(f"id type {name} needs a width, e.g. {name}64")
        return Kind("uint" if m.group(1) else "int", int(m.group(2) or 64))
    if name == "uuid":
        return Kind("uuid")
    m = _SIZED_RE.match(name)
    if m:
        family, width = m.group(1), int(m.group(2))
        if family == "unicode":
            if for_ids:
                raise WrongDataType(f"{name} is not an id type")
            if not 1 <= width <= 999:
                raise WrongDataType(f"unicodeN needs 1 <= N <= 999, got {name}")
        elif not 1 <= width <= MAX_WIDTH:
            raise WrongDataType(f"{family}N needs 1 <= N <= {MAX_WIDTH}, got {name}")
        return Kind(family, width)
    if not for_ids:
        m = _FLOAT_RE.match(name)
        if m:
            return Kind("float", int(m.group(1) or 32))
        if name == "bool":
            return Kind("bool")
        if name in ("unicode", "text"):
            return Kind("text")
    raise WrongDataType(f"unknown {'id' if for_ids else 'value'} type {name!r}")


def _int_range(kind: Kind) -> tuple[int, int]:
    if kind.family == "uint":
        return 0, 2**kind.width - 1
    return -(2 ** (kind.width - 1)), 2 ** (kind.width - 1) - 1


def _check_int(kind: Kind, value: Any, *, lenient_text: bool) -> int:
    if isinstance(value, bool):
        raise WrongDataType(f"expected an integer, got {value!r}")
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        value = int(value)
    elif isinstance(value, np.integer):
        value = int(value)
    elif lenient_text and isinstance(value, str) and _DIGITS_RE.match(value):
        value = int(value)
    if not isinstance(value, int):
        raise WrongDataType(f"expected an integer, got {str(value)[:40]!r}")
    lo, hi = _int_range(kind)
    if not lo <= value <= hi:
        raise WrongDataType(f"{value} is outside the range of {kind.family}{kind.width} [{lo}, {hi}]")
    return value


def _check_string(kind: Kind, value: Any) -> str:
    """The canonical string of a textual/identifier value of `kind`."""
    if kind.family == "bytes":
        if isinstance(value, (bytes, bytearray)):
            raw = bytes(value)
        elif isinstance(value, str):
            try:
                raw = _b64url_decode(value)
            except (ValueError, binascii.Error):
                raise WrongDataType(f"bytes{kind.width} values are unpadded base64url; got {value[:40]!r}") from None
        else:
            raise WrongDataType(f"expected base64url text for bytes{kind.width}, got {str(value)[:40]!r}")
        if not 1 <= len(raw) <= kind.width:
            raise WrongDataType(f"bytes{kind.width} holds 1 to {kind.width} bytes, got {len(raw)}")
        return b64url(raw)
    if not isinstance(value, str):
        raise WrongDataType(f"expected text, got {str(value)[:40]!r}")
    if kind.family == "uuid":
        if not _UUID_RE.match(value):
            raise WrongDataType(f"not a UUID: {value[:40]!r}")
        return str(uuid.UUID(value))
    if kind.family == "hex":
        if not 1 <= len(value) <= kind.width or not _HEX_RE.match(value):
            raise WrongDataType(f"hex{kind.width} is 1 to {kind.width} hex digits; got {value[:40]!r}")
        return value.upper()
    if kind.family == "urlsafe":
        if not 1 <= len(value) <= kind.width or not _URLSAFE_RE.match(value):
            raise WrongDataType(f"urlsafe{kind.width} is 1 to {kind.width} of [0-9A-Za-z._-]; got {value[:40]!r}")
        return value
    limit = kind.width if kind.family == "unicode" else MAX_TEXT
    if len(value) > limit:
        raise WrongDataType(f"{'unicode' + str(kind.width) if kind.family == 'unicode' else 'text'} values hold at "
                            f"most {limit} characters, got {len(value)}")
    if _BAD_TEXT_RE.search(value):
        raise WrongDataType("text values may not hold NUL characters or lone surrogates")
    return value


@dataclass(frozen=True)
class IdType:
    """An entity table's identifier type (item_id_type / user_id_type)."""

    name: str
    kind: Kind

    @classmethod
    def parse(cls, name: Any) -> "IdType":
        return cls(str(name), parse_kind(name, for_ids=True))

    def key(self, value: Any) -> str:
        """The canonical key of an id from a JSON body or a URL path (ints may come as
        digit strings; 0, '' and null are refused — the seed's "falsy" rule)."""
        if value is None or value == "" or (isinstance(value, (int, float)) and not isinstance(value, bool)
                                            and value == 0):
            raise WrongDataType(f"an id cannot be null, empty or 0 (got {value!r})")
        if self.kind.is_integer:
            n = _check_int(self.kind, value, lenient_text=True)
            if n == 0:
                raise WrongDataType("an id cannot be 0")
            return str(n)
        return _check_string(self.kind, value)

    def value(self, key: str) -> Any:
        """The JSON value of a stored key."""
        return int(key) if self.kind.is_integer else key


# Filter operators each family of value type accepts (crossing-minds-api.md §2).
_ORDERING = ("lt", "lte", "gt", "gte")
_CATEGORICAL = ("eq", "neq", "in", "notin")
OPS_BY_FAMILY: dict[str, tuple[str, ...]] = {
    "int": _CATEGORICAL + _ORDERING + ("notempty",),
    "uint": _CATEGORICAL + _ORDERING + ("notempty",),
    "float": _ORDERING + ("notempty",),
    "bool": ("eq", "neq", "notempty"),
    "unicode": _CATEGORICAL + ("notempty", "ftsearch"),
    "text": _CATEGORICAL + ("notempty", "ftsearch"),
    "hex": _CATEGORICAL + ("notempty",),
    "urlsafe": _CATEGORICAL + ("notempty",),
    "bytes": _CATEGORICAL + ("notempty",),
    "uuid": _CATEGORICAL + ("notempty",),
}


@dataclass(frozen=True)
class ValueType:
    """A property's value type and whether it holds a list (`repeated`)."""

    name: str
    kind: Kind
    repeated: bool = False

    @classmethod
    def parse(cls, name: Any, repeated: bool = False) -> "ValueType":
        return cls(str(name), parse_kind(name, for_ids=False), repeated)

    @property
    def ops(self) -> tuple[str, ...]:
        return OPS_BY_FAMILY[self.kind.family]

    @property
    def searchable(self) -> bool:
        """Whether the property gets a token field for ftsearch."""
        return self.kind.is_textual

    def field(self) -> tuple[str, dict[str, Any]]:
        """(engine field type, options) of the field that holds this property."""
        k = self.kind
        if self.repeated:
            return "set", {"keys": True}
        if k.is_integer:
            lo, hi = _int_range(k)
            return "int", {"min": lo, "max": hi}
        if k.family == "float":
            return "float", {"bits": k.width}
        if k.family == "bool":
            return "bool", {}
        return "mutex", {"keys": True}

    def check(self, value: Any) -> Any:
        """One (non-list) value, validated and canonicalised: int, float (rounded to the
        width), bool, or the canonical string."""
        k = self.kind
        if k.is_integer:
            return _check_int(k, value, lenient_text=False)
        if k.family == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, np.integer, np.floating)):
                raise WrongDataType(f"expected a number, got {str(value)[:40]!r}")
            rounded = float_decode(float_encode(_finite(value, k.width), k.width), k.width)
            return rounded
        if k.family == "bool":
            if not isinstance(value, (bool, np.bool_)):
                raise WrongDataType(f"expected true or false, got {str(value)[:40]!r}")
            return bool(value)
        return _check_string(k, value)

    def check_column(self, values: list[Any]) -> Any:
        """Many (non-list, non-null) values at once, as check() would accept them: a numpy
        array for numbers and bools (floats rounded to the width), else a list of
        canonical strings. Raises WrongDataType naming the first bad value."""
        k = self.kind
        if k.family == "float":
            if all(type(v) is float or type(v) is int for v in values):
                arr = np.array(values, dtype=np.float64)
                with np.errstate(over="ignore"):
                    narrow = arr.astype({16: np.float16, 32: np.float32, 64: np.float64}[k.width])
                bad = ~np.isfinite(narrow)
                if bad.any():
                    raise WrongDataType(f"{values[int(bad.argmax())]!r} is not a finite float{k.width}")
                return narrow.astype(np.float64)
            return np.array([self.check(v) for v in values], dtype=np.float64)
        if k.is_integer:
            if all(type(v) is int for v in values):
                lo, hi = _int_range(k)
                if min(values) < lo or max(values) > hi:
                    bad = next(v for v in values if not lo <= v <= hi)
                    raise WrongDataType(f"{bad} is outside the range of {k.family}{k.width} [{lo}, {hi}]")
                return np.array(values, dtype=np.int64 if hi < 2**63 else object)
            return np.array([self.check(v) for v in values], dtype=np.int64 if k.width < 64 or k.family == "int"
                            else object)
        if k.family == "bool":
            if all(type(v) is bool for v in values):
                return np.array(values, dtype=bool)
            return np.array([self.check(v) for v in values], dtype=bool)
        if k.family in ("unicode", "text"):
            limit = k.width if k.family == "unicode" else MAX_TEXT
            # catalogue texts repeat: each distinct one is checked once
            if all(type(v) is str for v in values) and all(
                    len(v) <= limit and not _BAD_TEXT_RE.search(v) for v in set(values)):
                return values
        return [self.check(v) for v in values]

    def key(self, value: Any) -> str:
        """The canonical string of a checked value, as a repeated property stores it."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return repr(value)
        return str(value)

    def from_key(self, key: str) -> Any:
        """The JSON value of a stored key (repeated properties)."""
        k = self.kind
        if k.is_integer:
            return int(key)
        if k.family == "float":
            return float(key)
        if k.family == "bool":
            return key == "true"
        return key

    def parse_text(self, text: str) -> Any:
        """A filter value from a URL (`prop:op:value`): numbers and bools parsed from their
        text (bools case-insensitively, as clients render them with str()), the rest as
        given."""
        k = self.kind
        if k.is_integer:
            if not _DIGITS_RE.match(text.strip()):
                raise WrongDataType(f"expected an integer, got {text[:40]!r}")
            return int(text.strip())
        if k.family == "float":
            try:
                x = float(text)
            except ValueError:
                raise WrongDataType(f"expected a number, got {text[:40]!r}") from None
            return x
        if k.family == "bool":
            low = text.strip().lower()
            if low not in ("true", "false", "1", "0"):
                raise WrongDataType(f"expected true or false, got {text[:40]!r}")
            return low in ("true", "1")
        return text


_NARROW: dict[int, type[np.floating[Any]]] = {16: np.float16, 32: np.float32, 64: np.float64}


def _finite(value: Any, bits: int) -> float:
    try:
        x = float(value)
    except (OverflowError, ValueError):
        x = math.inf
    if not math.isfinite(x):
        raise WrongDataType(f"{value!r} is not a finite number")
    with np.errstate(over="ignore"):
        narrow = float(_NARROW[bits](x))
    if not math.isfinite(narrow):
        raise WrongDataType(f"{value!r} is outside the range of float{bits}")
    return x


WORD_RE = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    """ftsearch's tokens: Unicode-casefolded runs of word characters (letters, digits,
    underscore), distinct, in first-seen order. No stemming, no stop words."""
    return list(dict.fromkeys(WORD_RE.findall(text.casefold())))
