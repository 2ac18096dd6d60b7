"""Small shared pieces of the service layer: ids, names, timestamps, JSON merge, pages."""
from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Generic, Mapping, Optional, Sequence, TypeVar

from server.service.context import ServiceContext
from server.service.errors import InvalidParameter, MissingParameter

T = TypeVar("T")

NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}\Z")
# Path words of the HTTP faces (`/v1/databases/current/`) and dot segments.
RESERVED_NAMES = frozenset({"current", ".", ".."})
EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}\Z")
# The deepest nesting of objects and arrays a JSON value sent by a client may have (a
# request body, stored metadata, acl): deep enough for any real document, far from the
# interpreter's recursion limit that every encoder and decoder would otherwise hit later.
MAX_JSON_DEPTH = 32
# A page token is a short base64 cursor; anything longer is not one of ours.
_MAX_PAGE_TOKEN = 256


def new_id() -> str:
    return str(uuid.uuid4())


def id_b64(canonical: str) -> str:
    """The /v1 rendering of an id: unpadded base64url of the UUID's 16 bytes."""
    return base64.urlsafe_b64encode(uuid.UUID(canonical).bytes).rstrip(b"=").decode("ascii")


def check_name(value: Any, what: str) -> str:
    """A user-given resource name: [A-Za-z0-9._-]{1,64}, not a reserved word."""
    if value is None or value == "":
        raise MissingParameter(f"{what} name is required", data={"type": what, "key": "name"})
    if not isinstance(value, str) or not NAME_RE.match(value) or value.lower() in RESERVED_NAMES:
        raise InvalidParameter(
            f"invalid {what} name {value!r}: use 1-64 letters, digits, '.', '_' or '-' (not a reserved word)",
            name="INVALID_NAME", data={"type": what, "key": str(value)[:64]})
    return value


def check_email(value: Any) -> str:
    if not value:
        raise MissingParameter("email is required", data={"key": "email"})
    if not isinstance(value, str) or not EMAIL_RE.match(value):
        raise InvalidParameter(f"invalid email {str(value)[:80]!r}", name="INVALID_EMAIL", data={"key": "email"})
    return value


def check_text(value: Any, what: str, *, max_len: int = 1024) -> str:
    if not isinstance(value, str) or len(value) > max_len:
        raise InvalidParameter(f"{what} must be text of at most {max_len} characters", data={"key": what})
    return value


_SCALARS = (bool, int, float, type(None))
_LEAF_TYPES = frozenset({str, bool, int, float, type(None)})
_CONTAINER_TYPES = frozenset({dict, list, tuple})


def json_value_problem(value: Any, max_depth: int = MAX_JSON_DEPTH, *, text_is_unicode: bool = False) -> Optional[str]:
    """Why a decoded JSON value cannot be accepted, or None: nesting deeper than
    `max_depth`, text that is not valid Unicode (a lone surrogate such as "\\ud800",
    which no UTF-8 encoder or SQLite column takes), or a value JSON has no type for (msgpack
    binary or extension types). Iterative: a hostile depth never recurses.

    text_is_unicode: the caller knows no string can hold a surrogate (it decoded strict
    UTF-8, see surrogate_free), so strings are not re-encoded — a bulk body of thousands
    of values then costs one type test each."""
    if type(value) is str:
        return None if text_is_unicode or _unicode_ok(value) else _NOT_UNICODE
    if type(value) not in (dict, list, tuple) and not isinstance(value, (Mapping, list, tuple)):
        return None if isinstance(value, _SCALARS) else f"a {type(value).__name__} value is not JSON"
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth >= max_depth:
            return f"objects and arrays nest deeper than {max_depth} levels"
        if text_is_unicode and (type(item) is dict or type(item) is list):
            # The common case, a plain decoded body: the types of a container's members
            # are collected at C speed and only nested containers are walked on.
            if type(item) is dict:
                if set(map(type, item)) - {str}:
                    return next(f"a {type(k).__name__} key is not JSON" for k in item if type(k) is not str)
                children: Any = item.values()
            else:
                children = item
            kinds = set(map(type, children))
            if kinds <= _LEAF_TYPES:
                continue
            if not kinds - _LEAF_TYPES <= _CONTAINER_TYPES:      # rare: subclasses, binary
                for c in children:
                    t = type(c)
                    if t not in _LEAF_TYPES and t not in _CONTAINER_TYPES and not isinstance(c, (Mapping, list, tuple)):
                        return f"a {t.__name__} value is not JSON"
            stack.extend([(c, depth + 1) for c in children if type(c) not in _LEAF_TYPES])
            continue
        if isinstance(item, Mapping):
            for key in item:
                if type(key) is not str or not (text_is_unicode or _unicode_ok(key)):
                    return _NOT_UNICODE if type(key) is str else f"a {type(key).__name__} key is not JSON"
            children = item.values()
        else:
            children = item
        for inner in children:
            t = type(inner)
            if t is str:
                if not text_is_unicode and not _unicode_ok(inner):
                    return _NOT_UNICODE
            elif t is dict or t is list or t is tuple or isinstance(inner, Mapping):
                stack.append((inner, depth + 1))
            elif not (t is int or t is float or t is bool or inner is None or isinstance(inner, _SCALARS)):
                return f"a {t.__name__} value is not JSON"
    return None


_NOT_UNICODE = "a string is not valid Unicode (a lone surrogate)"


def _unicode_ok(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def surrogate_free(raw: bytes) -> bool:
    """Whether JSON text can decode to no lone surrogate: it has no \\uD800-\\uDFFF escape
    (any case) and no UTF-8-encoded surrogate bytes (json.loads decodes bytes with
    'surrogatepass'). False means: check the strings."""
    if b"\\u" in raw:
        low = raw.lower()
        for lead in (b"\\ud8", b"\\ud9", b"\\uda", b"\\udb", b"\\udc", b"\\udd", b"\\ude", b"\\udf"):
            if lead in low:
                return False
    return not any(bytes((0xED, b)) in raw for b in range(0xA0, 0xC0)) if b"\xed" in raw else True


def check_object(value: Any, what: str) -> dict[str, Any]:
    """A client-given JSON object (metadata, options), as plain JSON data. Raises
    InvalidParameter (TOO_DEEP for nesting beyond MAX_JSON_DEPTH) before anything is
    stored: a value that cannot be stored and read back is refused here."""
    if not isinstance(value, Mapping):
        raise InvalidParameter(f"{what} must be a JSON object", data={"key": what})
    problem = json_value_problem(value)
    if problem is not None:
        raise InvalidParameter(f"{what}: {problem}", name="INVALID_JSON_VALUE", data={"key": what})
    try:
        return dict(json.loads(dumps(value)))
    except (TypeError, ValueError):
        raise InvalidParameter(f"{what} must be JSON-serialisable", data={"key": what}) from None


def iso(ts: Optional[float]) -> Optional[str]:
    """RFC 3339 UTC with a Z, as in FB's samples (`2019-08-24T14:15:22Z`)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)


def loads(text: str) -> Any:
    return json.loads(text)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, Mapping):
        return patch
    out = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: FB's {next, resources}; next is "" on the last page."""

    resources: list[T]
    next: str = ""


def page_limit(ctx: ServiceContext, limit: Optional[int]) -> int:
    """The page size: the default when absent, capped at limits.max_page_size."""
    limits = ctx.config.limits
    if limit is None:
        return limits.default_page_size
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise InvalidParameter("limit must be a positive integer", data={"key": "limit"})
    return min(limit, limits.max_page_size)


def _encode_cursor(created_at: float, ident: str) -> str:
    return base64.urlsafe_b64encode(dumps([created_at, ident]).encode()).rstrip(b"=").decode("ascii")


def _decode_cursor(token: str) -> tuple[float, str]:
    try:
        if len(token) > _MAX_PAGE_TOKEN:
            raise ValueError("too long")
        created_at, ident = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if isinstance(created_at, (int, float)) and isinstance(ident, str) and json_value_problem(ident) is None:
            return float(created_at), ident
    except (binascii.Error, ValueError, TypeError, RecursionError):
        pass
    raise InvalidParameter("invalid page token", name="INVALID_PAGE_TOKEN", data={"key": "next"})


def paginate(ctx: ServiceContext, select: str, params: Sequence[Any], *, limit: Optional[int],
             next_token: Optional[str], prefix: str = "") -> tuple[list[Any], str]:
    """Rows of `select` (which must end in a WHERE clause) in (created_at, id) order, one
    page at a time; the token names the last row seen, so inserts never shift a page."""
    n = page_limit(ctx, limit)
    sql, args = select, list(params)
    if next_token:
        created_at, ident = _decode_cursor(next_token)
        sql += f" AND ({prefix}created_at > ? OR ({prefix}created_at = ? AND {prefix}id > ?))"
        args += [created_at, created_at, ident]
    sql += f" ORDER BY {prefix}created_at, {prefix}id LIMIT ?"
    rows = ctx.store.all(sql, args + [n + 1])
    if len(rows) <= n:
        return rows, ""
    last = rows[n - 1]
    return rows[:n], _encode_cursor(last["created_at"], last["id"])


def page_offset(page: int, amt: int) -> Optional[int]:
    """The row offset of a checked page/amt listing, or None when the page lies past
    SQLite's integer range (and so past every row): the listing is then empty."""
    offset = (page - 1) * amt
    return offset if offset + amt < 2**63 else None
