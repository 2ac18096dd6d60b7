"""SQL types and FeatureBase SQL3's typing rules: which operator takes which types, what
type it gives, which CASTs are allowed (FeatureBase's planner tables, restated).

A type is a `T`: its kind (`int`, `id`, `decimal`, `string`, `bool`, `timestamp`, `idset`,
`stringset`, `idsetq`, `stringsetq`, `float`, `void` — the type of NULL) and, for a
decimal, its scale. `str(T)` is the name a result schema reports (`decimal(2)`).

Every rule is a plain function of types, so the binder (engine/sql/bind.py) applies the
same table in every expression position, and tests can check the table itself
(tests/engine/sql/test_types.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from engine.errors import TypeMismatchError


@dataclass(frozen=True)
class T:
    kind: str
    scale: int = 0

    def __str__(self) -> str:
        return f"decimal({self.scale})" if self.kind == "decimal" else self.kind

    @property
    def upper(self) -> str:
        """FeatureBase's spelling in messages: 'INT', 'DECIMAL(2)'."""
        return str(self).upper()


INT, ID, STRING, BOOL, TIMESTAMP = T("int"), T("id"), T("string"), T("bool"), T("timestamp")
IDSET, STRINGSET, IDSETQ, STRINGSETQ = T("idset"), T("stringset"), T("idsetq"), T("stringsetq")
FLOAT, VOID = T("float"), T("void")


def DECIMAL(scale: int) -> T:  # reads as the SQL type
    return T("decimal", scale)


KINDS = ("int", "id", "decimal", "string", "bool", "timestamp", "idset", "stringset", "idsetq", "stringsetq",
         "float", "void")
SET_KINDS = ("idset", "stringset", "idsetq", "stringsetq")
INTEGER_KINDS = ("int", "id")
NUMERIC_KINDS = ("int", "id", "decimal", "float")

# The type names of CAST (and of column definitions, BULK INSERT MAP): name -> type.
_TYPE_NAMES = {"INT": INT, "INTEGER": INT, "BIGINT": INT, "ID": ID, "STRING": STRING, "VARCHAR": STRING,
               "TEXT": STRING, "BOOL": BOOL, "BOOLEAN": BOOL, "TIMESTAMP": TIMESTAMP, "IDSET": IDSET,
               "STRINGSET": STRINGSET, "IDSETQ": IDSETQ, "STRINGSETQ": STRINGSETQ, "FLOAT": FLOAT}


def type_named(name: str, arg: Optional[int]) -> T:
    """The type a type name (`DECIMAL(2)`, `VARCHAR`) denotes."""
    n = name.upper()
    if n == "DECIMAL":
        if arg is None:
            raise TypeMismatchError("DECIMAL needs a scale, e.g. DECIMAL(2)")
        if not 0 <= arg <= 19:
            raise TypeMismatchError(f"decimal scale {arg} is outside 0..19")
        return DECIMAL(arg)
    t = _TYPE_NAMES.get(n)
    if t is None:
        raise TypeMismatchError(f"unknown type '{name}'")
    if arg is not None:
        raise TypeMismatchError(f"type {n} takes no size")
    return t


def is_set(t: T) -> bool:
    return t.kind in SET_KINDS


def is_integer(t: T) -> bool:
    return t.kind in INTEGER_KINDS


def is_numeric(t: T) -> bool:
    return t.kind in NUMERIC_KINDS


def element_of(t: T) -> T:
    """The member type of a set type: IDSET → ID, STRINGSET → STRING."""
    return ID if t.kind in ("idset", "idsetq") else STRING


def plain_set(t: T) -> T:
    """A time-quantum set reads as its plain set type (IDSETQ → IDSET)."""
    return {"idsetq": IDSET, "stringsetq": STRINGSET}.get(t.kind, t)


# --- operators -----------------------------------------------------------------------------------

def _incompatible(op: str, t: T) -> TypeMismatchError:
    return TypeMismatchError(f"operator '{op}' incompatible with type '{t.upper}'")


def not_equatable(a: T, b: T) -> TypeMismatchError:
    return TypeMismatchError(f"types '{a.upper}' and '{b.upper}' are not equatable")


_EQUALITY = ("int", "id", "decimal", "bool", "string", "timestamp", "idset", "stringset", "idsetq", "stringsetq",
             "float", "void")
_ORDERING = ("int", "id", "decimal", "timestamp", "float", "void")


def comparable(a: T, b: T) -> bool:
    """FeatureBase's typesAreComparable, with NULL (void) comparable to everything and the
    float extension comparable to the numbers; a time-quantum set compares as its set."""
    if a.kind == "void" or b.kind == "void":
        return True
    ka, kb = plain_set(a).kind, plain_set(b).kind
    if ka in NUMERIC_KINDS and kb in NUMERIC_KINDS:
        return True
    return ka == kb and ka in ("bool", "timestamp", "string", "idset", "stringset")


def compare_type(op: str, a: T, b: T) -> T:
    """The type of a op b for a comparison operator (= != < <= > >=): BOOL, or an error."""
    allowed = _EQUALITY if op in ("=", "!=") else _ORDERING
    for t in (a, b):
        if t.kind not in allowed:
            raise _incompatible(op, t)
    if not comparable(a, b):
        raise not_equatable(a, b)
    return BOOL


def logical_type(op: str, a: T) -> T:
    """An operand of AND / OR / NOT: a BOOL (or NULL)."""
    if a.kind not in ("bool", "void"):
        raise _incompatible(op, a)
    return BOOL


def arithmetic_type(op: str, a: T, b: T) -> T:
    """The type of a op b for + - * / %: integers give the integer type (INT unless both
    are ID), a DECIMAL gives the larger scale, a FLOAT gives FLOAT; % takes no DECIMAL."""
    for t in (a, b):
        if not (t.kind in ("int", "id", "float", "void") or (t.kind == "decimal" and op != "%")):
            raise _incompatible(op, t)
    if a.kind == "void":
        return b if b.kind != "void" else INT
    if b.kind == "void":
        return a
    if a.kind == "float" or b.kind == "float":
        return FLOAT
    if a.kind == "decimal" or b.kind == "decimal":
        return DECIMAL(max(a.scale if a.kind == "decimal" else 0, b.scale if b.kind == "decimal" else 0))
    return ID if a.kind == b.kind == "id" else INT


def bitwise_type(op: str, a: T, b: Optional[T] = None) -> T:
    """& | << >> (and unary !): integers only."""
    for t in (a,) if b is None else (a, b):
        if t.kind not in ("int", "id", "void"):
            raise _incompatible(op, t)
    if b is None:
        return a if a.kind != "void" else INT
    if a.kind == "void":
        return b if b.kind != "void" else INT
    if b.kind == "void":
        return a
    return ID if a.kind == b.kind == "id" else INT


def negate_type(op: str, a: T) -> T:
    """Unary - and +."""
    if a.kind not in ("int", "id", "decimal", "float", "void"):
        raise _incompatible(op, a)
    return INT if a.kind in ("id", "void") else a


def concat_type(a: T, b: T) -> T:
    for t in (a, b):
        if t.kind not in ("string", "void"):
            raise _incompatible("||", t)
    return STRING


def like_type(op: str, a: T, b: T) -> T:
    for t in (a, b):
        if t.kind not in ("string", "void"):
            raise _incompatible(op, t)
    return BOOL


def between_type(a: T, lo: T, hi: T) -> T:
    """x BETWEEN lo AND hi: integers, timestamps, and (a roarbase extension) decimals and
    floats, with bounds of a type comparable to x."""
    for t in (a, lo, hi):
        if t.kind not in ("int", "id", "timestamp", "decimal", "float", "void"):
            raise TypeMismatchError(f"operator 'BETWEEN' incompatible with type '{t.upper}'")
    for t in (lo, hi):
        if not comparable(a, t):
            raise not_equatable(a, t)
    return BOOL


def in_type(a: T, items: list[T]) -> T:
    for t in items:
        if t.kind not in _EQUALITY:
            raise _incompatible("IN", t)
        if not comparable(a, t):
            raise not_equatable(a, t)
    return BOOL


def assignable(target: T, source: T) -> bool:
    """FeatureBase's typesAreAssignmentCompatible: can a value of `source` stand where a
    `target` is expected (CASE branches, COALESCE arguments)."""
    if source.kind == "void":
        return True
    k = target.kind
    if k == "decimal":
        return (source.kind == "decimal" and target.scale >= source.scale) or source.kind in INTEGER_KINDS
    if k in INTEGER_KINDS:              # (FeatureBase refuses an ID where an INT is expected)
        return source.kind in INTEGER_KINDS
    if k == "timestamp":
        return source.kind in ("timestamp", "string")
    if k in ("idsetq", "stringsetq"):
        return plain_set(source).kind == plain_set(target).kind
    if k == "float":
        return source.kind in NUMERIC_KINDS
    return source.kind == k


def common_type(types: list[T]) -> T:
    """The type of CASE / COALESCE: the first non-NULL branch's; every other branch must
    be assignable to it (FeatureBase: `CASE … THEN 1 ELSE 2.5` is an error, `THEN 2.5
    ELSE 1` is DECIMAL(1))."""
    known = [t for t in types if t.kind != "void"]
    if not known:
        return VOID
    result = known[0]
    for t in known[1:]:
        if not assignable(result, t):
            raise TypeMismatchError(f"an expression of type '{t.upper}' cannot be assigned to type "
                                    f"'{result.upper}'")
    return result


# --- CAST ----------------------------------------------------------------------------------------

# source kind -> target kinds (FeatureBase's typesCanBeCast; decimal -> decimal needs a
# scale at least the source's). FLOAT is roarbase's: to and from the numbers and strings.
_CASTS = {
    "int": ("int", "bool", "decimal", "id", "string", "timestamp", "float"),
    "bool": ("bool", "int", "string"),
    "decimal": ("decimal", "string", "float"),
    "id": ("int", "bool", "decimal", "id"),
    "idset": ("idset", "string"),
    "idsetq": ("idset", "idsetq", "string"),
    "string": ("int", "bool", "decimal", "id", "string", "timestamp", "float"),
    "stringset": ("stringset", "string"),
    "stringsetq": ("stringset", "stringsetq", "string"),
    "timestamp": ("int", "timestamp", "string"),
    "float": ("float", "string", "decimal", "int"),
    "void": KINDS,
}


def can_cast(source: T, target: T) -> bool:
    if target.kind not in _CASTS.get(source.kind, ()):
        return False
    if source.kind == "decimal" and target.kind == "decimal":
        return target.scale >= source.scale
    return True


def cast_type(source: T, target: T) -> T:
    if not can_cast(source, target):
        raise TypeMismatchError(f"'{source.upper}' cannot be cast to '{target.upper}'")
    return target
