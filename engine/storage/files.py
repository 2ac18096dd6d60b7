"""Snapshot files: fragments, key maps, and checksummed metadata documents.

Every file ends with a CRC-32 of everything before it and a trailer magic, and every
length is checked against the bytes present before it is used, so a damaged file raises
DataCorruptedError naming the file and byte offset instead of producing a wrong answer.
The byte layouts are documented in format.md beside this module.
"""
from __future__ import annotations

import json
import struct
import zlib
from typing import Any, Iterable

from engine.errors import DataCorruptedError
from ext import CorruptDataError, FrozenBitmap

FRAG_MAGIC = b"RBFRAG1\n"
FRAG_END = b"RBFEND1\n"
KEYS_MAGIC = b"RBKEYS1\n"
KEYS_END = b"RBKEND1\n"
DOC_MAGIC = b"RBDOC01\n"
_TRAILER = struct.Struct("<I8s")
_ROW = struct.Struct("<QII")             # row id, byte length, crc32 of the bitmap bytes
_KEY = struct.Struct("<QI")              # id, utf-8 byte length


def _seal(body: bytes, end_magic: bytes) -> bytes:
    return body + _TRAILER.pack(zlib.crc32(body), end_magic)


def _unseal(data: bytes, magic: bytes, end_magic: bytes, path: str) -> memoryview:
    """Check magic, trailer and whole-file CRC; return the body after the magic."""
    if len(data) < len(magic) + _TRAILER.size or data[:len(magic)] != magic:
        raise DataCorruptedError("bad file header", path, 0)
    crc, end = _TRAILER.unpack_from(data, len(data) - _TRAILER.size)
    if end != end_magic:
        raise DataCorruptedError("bad file trailer", path, len(data) - _TRAILER.size)
    body = memoryview(data)[:len(data) - _TRAILER.size]
    if zlib.crc32(body) != crc:
        raise DataCorruptedError("checksum mismatch", path, len(data) - _TRAILER.size)
    return body


# --- fragments: the rows of one (field, view, shard) ---------------------------------------

def encode_fragment(rows: Iterable[tuple[int, FrozenBitmap]]) -> bytes:
    parts = [FRAG_MAGIC, b""]
    n = 0
    for row_id, bm in rows:
        data = bm.serialize()
        parts.append(_ROW.pack(row_id, len(data), zlib.crc32(data)))
        parts.append(data)
        n += 1
    parts[1] = struct.pack("<I", n)
    return _seal(b"".join(parts), FRAG_END)


def decode_fragment(data: bytes, path: str) -> dict[int, FrozenBitmap]:
    body = _unseal(data, FRAG_MAGIC, FRAG_END, path)
    pos = len(FRAG_MAGIC)
    if len(body) - pos < 4:
        raise DataCorruptedError("truncated row count", path, pos)
    (n,) = struct.unpack_from("<I", body, pos)
    pos += 4
    rows: dict[int, FrozenBitmap] = {}
    for _ in range(n):
        if len(body) - pos < _ROW.size:
            raise DataCorruptedError("truncated row header", path, pos)
        row_id, length, crc = _ROW.unpack_from(body, pos)
        pos += _ROW.size
        if length > len(body) - pos:
            raise DataCorruptedError("row length past the end of the file", path, pos)
        chunk = body[pos:pos + length]
        if zlib.crc32(chunk) != crc:
            raise DataCorruptedError("row checksum mismatch", path, pos)
        if row_id in rows:
            raise DataCorruptedError("duplicate row", path, pos)
        try:
            rows[row_id] = FrozenBitmap.deserialize(chunk)
        except CorruptDataError as exc:
            raise DataCorruptedError(f"bad bitmap: {exc}", path, pos + max(exc.offset, 0)) from None
        pos += length
    if pos != len(body):
        raise DataCorruptedError("trailing bytes", path, pos)
    return rows


# --- key maps: string key <-> id -----------------------------------------------------------

def encode_keys(pairs: Iterable[tuple[str, int]], next_id: int) -> bytes:
    parts = [KEYS_MAGIC, b""]
    n = 0
    for key, ident in pairs:
        raw = key.encode("utf-8")
        parts.append(_KEY.pack(ident, len(raw)))
        parts.append(raw)
        n += 1
    parts[1] = struct.pack("<QQ", n, next_id)
    return _seal(b"".join(parts), KEYS_END)


def decode_keys(data: bytes, path: str) -> tuple[dict[str, int], int]:
    body = _unseal(data, KEYS_MAGIC, KEYS_END, path)
    pos = len(KEYS_MAGIC)
    if len(body) - pos < 16:
        raise DataCorruptedError("truncated key count", path, pos)
    n, next_id = struct.unpack_from("<QQ", body, pos)
    pos += 16
    if n > (len(body) - pos) // _KEY.size:
        raise DataCorruptedError("key count larger than the file", path, pos - 16)
    keys: dict[str, int] = {}
    for _ in range(n):
        if len(body) - pos < _KEY.size:
            raise DataCorruptedError("truncated key header", path, pos)
        ident, length = _KEY.unpack_from(body, pos)
        pos += _KEY.size
        if length > len(body) - pos:
            raise DataCorruptedError("key length past the end of the file", path, pos)
        try:
            key = bytes(body[pos:pos + length]).decode("utf-8")
        except UnicodeDecodeError:
            raise DataCorruptedError("key is not UTF-8", path, pos) from None
        if ident >= next_id or key in keys:
            raise DataCorruptedError("inconsistent key map", path, pos)
        keys[key] = ident
        pos += length
    if pos != len(body):
        raise DataCorruptedError("trailing bytes", path, pos)
    return keys, next_id


# --- small JSON documents (schema, manifest) -------------------------------------------------

def encode_doc(doc: dict[str, Any]) -> bytes:
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return _seal(DOC_MAGIC + struct.pack("<I", len(raw)) + raw, b"RBDEND1\n")


def decode_doc(data: bytes, path: str) -> dict[str, Any]:
    body = _unseal(data, DOC_MAGIC, b"RBDEND1\n", path)
    pos = len(DOC_MAGIC)
    if len(body) - pos < 4:
        raise DataCorruptedError("truncated document", path, pos)
    (length,) = struct.unpack_from("<I", body, pos)
    if length != len(body) - pos - 4:
        raise DataCorruptedError("document length mismatch", path, pos)
    try:
        doc = json.loads(bytes(body[pos + 4:]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise DataCorruptedError("document is not JSON", path, pos + 4) from None
    if not isinstance(doc, dict):
        raise DataCorruptedError("document is not an object", path, pos + 4)
    return doc
