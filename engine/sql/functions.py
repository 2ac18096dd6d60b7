"""Scalar SQL functions (FeatureBase SQL3's built-ins): string, date/time and set functions.

Each function has a fixed parameter list; the binder checks the arguments against it
(count and type, before anything runs) and NULL in gives NULL out. Time units are
case-insensitive strings ('yy', 'm', 'd', 'hh', …).

No string a function builds is longer than MAX_STRING characters: the size is worked out
from the arguments before the string is made (REPLICATE, SPACE, REPLACEALL, FORMAT, STR),
so a statement cannot make the server build a huge value (QueryLimitError).
"""
from __future__ import annotations

import calendar
import datetime as _dt
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any, Callable, Optional

from engine.errors import EngineError, InvalidValueError, QueryLimitError, TypeMismatchError, ValueOutOfRangeError
from engine.results import rfc3339
from engine.schema import UNIX_EPOCH, parse_timestamp
from engine.sql.typecheck import BOOL, INT, STRING, TIMESTAMP, T

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_STRING = 1 << 20        # characters in any string a function or || builds


@dataclass(frozen=True)
class Function:
    params: tuple[str, ...]          # kinds: string, int, timestamp, number, set, member, any
    required: int                    # the first `required` params must be given
    result: T                        # the SQL type of the result
    impl: Callable[..., Any]
    variadic: bool = False           # the last param repeats (FORMAT's values)


def check_length(n: int, what: str) -> None:
    """Refuse to build a string of n characters past MAX_STRING."""
    if n > MAX_STRING:
        raise QueryLimitError(f"{what} would be {n} characters long; a string value holds at most "
                              f"{MAX_STRING} characters")


def _fail_param(name: str, kind: str, v: Any) -> TypeMismatchError:
    expected = {"int": "integer", "number": "numeric"}.get(kind, kind)
    return TypeMismatchError(f"{name}: {expected} expression expected (an expression of type "
                             f"'{type_name(v)}' cannot be passed to a parameter of type '{kind}')")


def type_name(v: Any) -> str:
    """The SQL type name of a value (for messages)."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, Decimal):
        return "decimal"
    if isinstance(v, _dt.datetime):
        return "timestamp"
    if isinstance(v, (list, tuple)):
        return "set"
    return "string"


def to_timestamp_value(v: Any, what: str = "timestamp") -> _dt.datetime:
    """A timestamp parameter: a timestamp, a string in a timestamp format or Unix seconds
    (FeatureBase's implicit conversions)."""
    if isinstance(v, _dt.datetime):
        return v
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise _fail_param(what, "timestamp", v)
    try:
        if isinstance(v, int):
            return UNIX_EPOCH + _dt.timedelta(seconds=v)
        return parse_timestamp(v)
    except (EngineError, OverflowError, ValueError):
        raise TypeMismatchError(f"unable to convert {v!r} to type 'timestamp'") from None


def check_arity(name: str, n: int) -> Function:
    fn = SCALARS[name]
    if n < fn.required or (n > len(fn.params) and not fn.variadic):
        want = str(len(fn.params)) if fn.required == len(fn.params) else f"{fn.required} to {len(fn.params)}"
        raise TypeMismatchError(f"'{name}': count of formal parameters ({want}) does not match count of "
                                f"actual parameters ({n})")
    return fn


# --- strings -----------------------------------------------------------------------------------

def _in_range(v: int, lo: int, hi: int) -> int:
    if not lo <= v <= hi:
        raise ValueOutOfRangeError(f"value '{v}' out of range")
    return v


def _substring(s: str, start: int, length: Optional[int] = None) -> str:
    # FeatureBase: the start index counts from 0; a negative start or length is out of range
    _in_range(start, 0, INT64_MAX)
    if length is None:
        return s[start:]
    return s[start:start + _in_range(length, 0, INT64_MAX)]


def _stringsplit(s: str, sep: str, pos: int = 0) -> str:
    parts = s.split(sep) if sep else list(s)
    return parts[pos] if 0 <= pos < len(parts) else ""


def _charindex(sub: str, s: str, pos: int = 0) -> int:
    _in_range(pos, 0, INT64_MAX)
    return s.find(sub, pos)


def _char(n: int) -> str:
    try:
        return chr(n)
    except (ValueError, OverflowError):
        raise ValueOutOfRangeError(f"value '{n}' out of range") from None


def _ascii(s: str) -> int:
    if len(s) != 1 or ord(s) > 127:
        raise InvalidValueError(f"ASCII needs one character in 0..127, got {s!r}")
    return ord(s)


def _replicate(s: str, n: int) -> str:
    _in_range(n, 0, INT64_MAX)
    check_length(len(s) * n, "REPLICATE's result")
    return s * n


def _replaceall(s: str, old: str, new: str) -> str:
    hits = s.count(old)                      # an empty `old` matches between every character
    check_length(len(s) + hits * (len(new) - len(old)), "REPLACEALL's result")
    return s.replace(old, new)


def _str(v: Any, length: int = 10, precision: int = 0) -> str:
    _in_range(length, 0, 1 << 16)
    _in_range(precision, 0, 1 << 10)
    d = Decimal(v) if not isinstance(v, float) else Decimal(repr(v))
    if d.adjusted() + 1 > length:            # the integer part alone does not fit
        return "*" * length
    with localcontext() as ctx:
        ctx.prec = max(ctx.prec, d.adjusted() + precision + 3)
        d = d.quantize(Decimal(1).scaleb(-precision), rounding=ROUND_HALF_EVEN)
    text = f"{d:f}"
    return "*" * length if len(text) > length else text.rjust(length)


def _format_value(v: Any, spec: str) -> str:
    if spec == "d":
        if isinstance(v, list):
            return set_text(v)
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeMismatchError(f"FORMAT: %d needs an integer, got {type_name(v)}")
        return str(v)
    if spec in ("x", "o"):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeMismatchError(f"FORMAT: %{spec} needs an integer, got {type_name(v)}")
        return format(v, spec)
    if spec == "f":
        if isinstance(v, bool) or not isinstance(v, (int, Decimal, float)):
            raise TypeMismatchError(f"FORMAT: %f needs a number, got {type_name(v)}")
        if isinstance(v, float):
            return f"{v:.6f}"
        d = Decimal(v)
        check_length(max(d.adjusted(), 0) + 8, "FORMAT's %f")
        with localcontext() as ctx:
            ctx.prec = max(ctx.prec, d.adjusted() + 10)
            return f"{d:.6f}"
    if spec == "b":
        if not isinstance(v, bool):
            raise TypeMismatchError(f"FORMAT: %b needs a bool, got {type_name(v)}")
        return "true" if v else "false"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, _dt.datetime):
        return rfc3339(v)
    if isinstance(v, list):
        return set_text(v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


def format_text(spec: str, *values: Any) -> str:
    """FORMAT(specifier, value, …): %s %d %f %b %x %o %v, %% for a percent sign."""
    out: list[str] = []
    size = 0
    it = iter(values)
    i = 0
    while i < len(spec):
        c = spec[i]
        if c != "%":
            out.append(c)
            size += 1
            i += 1
            continue
        if i + 1 >= len(spec):
            raise TypeMismatchError("FORMAT: a specifier ends with '%'")
        verb = spec[i + 1]
        i += 2
        if verb == "%":
            out.append("%")
            continue
        if verb not in "sdfbxov":
            raise TypeMismatchError(f"FORMAT: unknown specifier %{verb}")
        try:
            v = next(it)
        except StopIteration:
            raise TypeMismatchError("FORMAT: more specifiers than values") from None
        piece = _format_value(v, verb)
        size += len(piece)
        check_length(size, "FORMAT's result")
        out.append(piece)
    return "".join(out)


# --- dates ---------------------------------------------------------------------------------------

_PARTS = ("YY", "YD", "M", "D", "W", "WK", "HH", "MI", "S", "MS", "US", "NS")
_ADD_UNITS = ("YY", "M", "D", "HH", "MI", "S", "MS", "US", "NS")
_UNIT_ALIASES = {"H": "HH"}        # the DATETIMEDIFF reference example writes 'h'
_TICKS = {"D": 86_400_000_000, "HH": 3_600_000_000, "MI": 60_000_000, "S": 1_000_000, "MS": 1000, "US": 1}


def _unit(u: str, allowed: tuple[str, ...], param: str) -> str:
    k = u.upper()
    k = _UNIT_ALIASES.get(k, k)
    if k not in allowed:
        raise InvalidValueError(f"invalid value '{u}' for parameter '{param}'")
    return k


def _micros(t: _dt.datetime) -> int:
    """Microseconds since the Unix epoch, exactly."""
    d = t - UNIX_EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def _datetimepart(unit: str, t: _dt.datetime) -> int:
    k = _unit(unit, _PARTS, "interval")
    if k == "YY":
        return t.year
    if k == "YD":
        return t.timetuple().tm_yday
    if k == "M":
        return t.month
    if k == "D":
        return t.day
    if k == "W":
        return (t.weekday() + 1) % 7                 # Sunday is 0
    if k == "WK":
        return t.isocalendar()[1]
    if k == "HH":
        return t.hour
    if k == "MI":
        return t.minute
    if k == "S":
        return t.second
    if k == "MS":
        return t.microsecond // 1000
    if k == "US":
        return t.microsecond
    return t.microsecond * 1000                     # NS: timestamps hold microseconds


def _datetimename(unit: str, t: _dt.datetime) -> str:
    k = _unit(unit, _PARTS, "interval")
    if k == "M":
        return calendar.month_name[t.month]
    if k == "W":
        return calendar.day_name[t.weekday()]
    return str(_datetimepart(k, t))


def _add_months(t: _dt.datetime, months: int) -> _dt.datetime:
    # Go's AddDate: day overflow rolls into the next month (Jan 31 + 1 month = Mar 2 or 3)
    total = t.year * 12 + (t.month - 1) + months
    year, month = divmod(total, 12)
    if not 1 <= year <= 9999:
        raise ValueOutOfRangeError(f"year {year} is outside 1 to 9999")
    first = t.replace(year=year, month=month + 1, day=1)
    return first + _dt.timedelta(days=t.day - 1)


def _datetimeadd(unit: str, n: int, t: _dt.datetime) -> _dt.datetime:
    k = _unit(unit, _ADD_UNITS, "timeunit")
    try:
        if k == "YY":
            return _add_months(t, 12 * n)
        if k == "M":
            return _add_months(t, n)
        if k == "NS":
            return t + _dt.timedelta(microseconds=n // 1000)
        return t + _dt.timedelta(microseconds=n * _TICKS[k])
    except OverflowError:
        raise ValueOutOfRangeError("DATETIMEADD result is outside the years 1 to 9999") from None


def _whole_months(a: _dt.datetime, b: _dt.datetime) -> int:
    """Whole calendar months from a to b (negative when b is before a), truncated."""
    sign = 1
    if b < a:
        a, b, sign = b, a, -1
    months = (b.year - a.year) * 12 + (b.month - a.month)
    if (b.day, b.time()) < (a.day, a.time()):
        months -= 1
    return sign * months


def _datetimediff(unit: str, start: _dt.datetime, end: _dt.datetime) -> int:
    k = _unit(unit, _ADD_UNITS, "timeunit")
    if k in ("YY", "M"):
        months = _whole_months(start, end)
        return int(months / 12) if k == "YY" else months
    diff = _micros(end) - _micros(start)
    if k == "NS":
        out = diff * 1000
    else:
        ticks = _TICKS[k]
        out = abs(diff) // ticks * (1 if diff >= 0 else -1)     # truncated toward zero
    if not INT64_MIN <= out <= INT64_MAX:
        raise ValueOutOfRangeError(f"DATETIMEDIFF in {unit} is out of the int range")
    return out


def _date_trunc(unit: str, t: _dt.datetime) -> str:
    k = _unit(unit, _ADD_UNITS, "interval")
    out = f"{t.year:04d}"
    for part, text in (("M", f"-{t.month:02d}"), ("D", f"-{t.day:02d}"), ("HH", f"T{t.hour:02d}"),
                       ("MI", f":{t.minute:02d}"), ("S", f":{t.second:02d}")):
        if _ADD_UNITS.index(k) < _ADD_UNITS.index(part):
            return out
        out += text
    if k == "MS":
        out += f".{t.microsecond // 1000:03d}"
    elif k == "US":
        out += f".{t.microsecond:06d}"
    elif k == "NS":
        out += f".{t.microsecond * 1000:09d}"
    return out


_TS_UNITS = {"s": 1_000_000, "ms": 1000, "us": 1, "µs": 1, "ns": 0}


def _totimestamp(n: int, unit: str = "s") -> _dt.datetime:
    if unit not in _TS_UNITS:
        raise InvalidValueError(f"invalid value '{unit}' for parameter 'timeunit'")
    micros = n // 1000 if unit == "ns" else n * _TS_UNITS[unit]
    try:
        t = UNIX_EPOCH + _dt.timedelta(microseconds=micros)
    except OverflowError:
        t = None
    if t is None or not 1 <= t.year <= 9999:
        raise ValueOutOfRangeError(f"TOTIMESTAMP({n}, '{unit}') is outside the years 1 to 9999")
    return t


def _datetimefromparts(y: int, mo: int, d: int, h: int, mi: int, s: int, ms: int) -> _dt.datetime:
    for v, lo, hi in ((y, 1, 9999), (mo, 1, 12), (h, 0, 23), (mi, 0, 59), (s, 0, 59), (ms, 0, 999)):
        if not lo <= v <= hi:
            raise InvalidValueError(f"not a valid datetimepart {v}")
    if not 1 <= d <= calendar.monthrange(y, mo)[1]:
        raise InvalidValueError(f"not a valid datetimepart {d}")
    return _dt.datetime(y, mo, d, h, mi, s, ms * 1000, tzinfo=_dt.timezone.utc)


# --- sets ----------------------------------------------------------------------------------------

def set_text(members: Any) -> str:
    """A set as FORMAT and CAST(idset AS STRING) print it: [1 2 3]."""
    return "[" + " ".join(str(x) for x in members) + "]"


def _contains(s: Any, v: Any) -> bool:
    return v in s


def _contains_any(s: Any, vs: Any) -> bool:
    return any(v in s for v in vs)


def _contains_all(s: Any, vs: Any) -> bool:
    return all(v in s for v in vs)


SCALARS: dict[str, Function] = {
    "UPPER": Function(("string",), 1, STRING, str.upper),
    "LOWER": Function(("string",), 1, STRING, str.lower),
    "LEN": Function(("string",), 1, INT, len),
    "REVERSE": Function(("string",), 1, STRING, lambda s: s[::-1]),
    "TRIM": Function(("string",), 1, STRING, lambda s: s.strip(" ")),
    "LTRIM": Function(("string",), 1, STRING, lambda s: s.lstrip(" ")),
    "RTRIM": Function(("string",), 1, STRING, lambda s: s.rstrip(" ")),
    "SUBSTRING": Function(("string", "int", "int"), 2, STRING, _substring),
    "REPLACEALL": Function(("string", "string", "string"), 3, STRING, _replaceall),
    "STRINGSPLIT": Function(("string", "string", "int"), 2, STRING, _stringsplit),
    "PREFIX": Function(("string", "int"), 2, STRING, lambda s, n: s[:_in_range(n, 0, len(s))]),
    "SUFFIX": Function(("string", "int"), 2, STRING,
                       lambda s, n: s[len(s) - _in_range(n, 0, len(s)):]),
    "SPACE": Function(("int",), 1, STRING, lambda n: _replicate(" ", n)),
    "REPLICATE": Function(("string", "int"), 2, STRING, _replicate),
    "CHAR": Function(("int",), 1, STRING, _char),
    "ASCII": Function(("string",), 1, INT, _ascii),
    "CHARINDEX": Function(("string", "string", "int"), 2, INT, _charindex),
    "STR": Function(("number", "int", "int"), 1, STRING, _str),
    "TOTIMESTAMP": Function(("int", "string"), 1, TIMESTAMP, _totimestamp),
    "DATETIMEPART": Function(("string", "timestamp"), 2, INT, _datetimepart),
    "DATETIMENAME": Function(("string", "timestamp"), 2, STRING, _datetimename),
    "DATETIMEADD": Function(("string", "int", "timestamp"), 3, TIMESTAMP, _datetimeadd),
    "DATETIMEDIFF": Function(("string", "timestamp", "timestamp"), 3, INT, _datetimediff),
    "DATE_TRUNC": Function(("string", "timestamp"), 2, STRING, _date_trunc),
    "DATETIMEFROMPARTS": Function(("int",) * 7, 7, TIMESTAMP, _datetimefromparts),
    "FORMAT": Function(("string", "any"), 1, STRING, format_text, variadic=True),
    "SETCONTAINS": Function(("set", "member"), 2, BOOL, _contains),
    "SETEXCLUDES": Function(("set", "member"), 2, BOOL, lambda s, v: not _contains(s, v)),
    "SETCONTAINSANY": Function(("set", "set"), 2, BOOL, _contains_any),
    "SETCONTAINSALL": Function(("set", "set"), 2, BOOL, _contains_all),
}


def now() -> _dt.datetime:
    """CURRENT_TIMESTAMP: the current UTC time (to the microsecond)."""
    return _dt.datetime.now(_dt.timezone.utc)


def today() -> _dt.datetime:
    """CURRENT_DATE: midnight UTC of the current day, as a timestamp."""
    t = now()
    return _dt.datetime(t.year, t.month, t.day, tzinfo=_dt.timezone.utc)
