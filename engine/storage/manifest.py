"""MANIFEST: which snapshot files make up an index, so that a missing or stale one is
detected instead of being read as "no rows".

Version 2 (format.md, "MANIFEST") names every fragment and key-map file the snapshot
consists of, with its size and checksum, and the log file that continues after the
snapshot's sequence number. Snapshot files are never overwritten: each checkpoint writes
changed fragments and key maps under new names (carrying its sequence number), then the
manifest, then removes the files the new manifest no longer names. Version 1 (`{"seq": N}`,
files found by listing the directories) is still read; the next checkpoint writes version 2.
"""
from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from engine.errors import DataCorruptedError
from engine.storage import files
from engine.storage.fileio import FileIO

VERSION = 2
COLUMN_KEYS = -1                   # key space of the index's record keys (fields use their id)
_VIEW_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_V1_FRAG_RE = re.compile(r"^(\d+)\.frag$")
_FRAG_RE = re.compile(r"^(\d+)-([0-9a-f]{16})\.frag$")
_KEYS_RE = re.compile(r"^(columns|\d+)(?:-([0-9a-f]{16}))?\.keys$")
T = TypeVar("T")

FragKey = tuple[int, str, int]     # (field id, view, shard)


@dataclass(frozen=True)
class FileEntry:
    """One snapshot file: the checkpoint that wrote it (None: a version-1 name), its size,
    and the CRC-32 its trailer holds (of every byte before the trailer)."""

    seq: int | None
    size: int
    crc: int


@dataclass
class Manifest:
    version: int                   # 0: no MANIFEST file; 1: legacy; 2: current
    seq: int                       # the snapshot includes every log frame <= seq
    wal: int | None = None         # first seq of the log file that continues after seq (v2)
    frags: dict[FragKey, FileEntry] = field(default_factory=dict)
    keys: dict[int, FileEntry] = field(default_factory=dict)    # key space -> file

    def to_doc(self) -> dict[str, Any]:
        return {"version": VERSION, "seq": self.seq, "wal": self.wal,
                "frag": [[fid, view, shard, e.seq, e.size, e.crc]
                         for (fid, view, shard), e in sorted(self.frags.items())],
                "keys": [[space, e.seq, e.size, e.crc] for space, e in sorted(self.keys.items())]}


# --- names ----------------------------------------------------------------------------------

def frag_path(fid: int, view: str, shard: int, seq: int | None) -> str:
    """A fragment file's path relative to the index directory."""
    name = f"{shard}.frag" if seq is None else f"{shard}-{seq:016x}.frag"
    return os.path.join("frag", str(fid), view, name)


def keys_path(space: int, seq: int | None) -> str:
    base = "columns" if space == COLUMN_KEYS else str(space)
    return os.path.join("keys", f"{base}.keys" if seq is None else f"{base}-{seq:016x}.keys")


def wal_name(first_seq: int) -> str:
    return f"wal-{first_seq:016x}.log"


def sealed_crc(data: bytes) -> int:
    """The CRC-32 a sealed snapshot file's trailer holds (checked against the body when the
    file is decoded, so comparing it with the manifest's identifies the file's version)."""
    return struct.unpack_from("<I", data, len(data) - 12)[0] if len(data) >= 12 else -1


# --- reading --------------------------------------------------------------------------------

def read(fio: FileIO, ipath: str) -> Manifest:
    """The index's MANIFEST (version 0 when the file does not exist)."""
    path = os.path.join(ipath, "MANIFEST")
    if not fio.exists(path):
        return Manifest(0, 0)
    doc = files.decode_doc(fio.read_file(path), path)
    try:
        return _from_doc(doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataCorruptedError(f"malformed MANIFEST: {exc}", path, 0) from None


def _from_doc(doc: dict[str, Any]) -> Manifest:
    version = doc.get("version", 1)
    if version == 1:
        return Manifest(1, _uint(doc.get("seq", 0)))
    if version != VERSION:
        raise ValueError(f"format version {version} is newer than this roarbase understands ({VERSION})")
    m = Manifest(2, _uint(doc["seq"]), _uint(doc["wal"]))
    for fid, view, shard, seq, size, crc in doc["frag"]:
        if not isinstance(view, str) or not _VIEW_RE.match(view):
            raise ValueError(f"bad view name {view!r}")
        m.frags[(_uint(fid), view, _uint(shard))] = FileEntry(_opt_uint(seq), _uint(size), _uint(crc))
    for space, seq, size, crc in doc["keys"]:
        if space != COLUMN_KEYS:
            space = _uint(space)
        m.keys[space] = FileEntry(_opt_uint(seq), _uint(size), _uint(crc))
    return m


def _uint(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"expected a non-negative integer, got {v!r}")
    return v


def _opt_uint(v: Any) -> int | None:
    return None if v is None else _uint(v)


def load(fio: FileIO, ipath: str, rel: str, entry: FileEntry, decode: Callable[[bytes, str], T]) -> T:
    """Decode a file the manifest names, after checking it exists and is the version the
    manifest names (size and checksum); anything else is DataCorruptedError naming it."""
    path = os.path.join(ipath, rel)
    if not fio.exists(path):
        raise DataCorruptedError("file named by MANIFEST is missing", path, 0)
    data = fio.read_file(path)
    if len(data) != entry.size:
        raise DataCorruptedError(f"size {len(data)} differs from the {entry.size} bytes MANIFEST names", path, 0)
    if sealed_crc(data) != entry.crc:
        raise DataCorruptedError("not the version of the file MANIFEST names (checksum differs)",
                                 path, max(len(data) - 12, 0))
    return decode(data, path)


def legacy_files(fio: FileIO, ipath: str) -> tuple[dict[FragKey, str], dict[int, str]]:
    """Version-1 snapshot files found by listing: ((fid, view, shard) -> relative path,
    key space -> relative path)."""
    frags: dict[FragKey, str] = {}
    root = os.path.join(ipath, "frag")
    for fid_name in fio.listdir(root):
        if not fid_name.isdigit():
            continue
        for view in fio.listdir(os.path.join(root, fid_name)):
            for fname in fio.listdir(os.path.join(root, fid_name, view)):
                m = _V1_FRAG_RE.match(fname)
                if m:
                    frags[(int(fid_name), view, int(m.group(1)))] = os.path.join("frag", fid_name, view, fname)
    keys: dict[int, str] = {}
    for fname in fio.listdir(os.path.join(ipath, "keys")):
        m = _KEYS_RE.match(fname)
        if m and m.group(2) is None:
            keys[COLUMN_KEYS if m.group(1) == "columns" else int(m.group(1))] = os.path.join("keys", fname)
    return frags, keys


def snapshot_files(fio: FileIO, ipath: str) -> set[str]:
    """Every fragment and key-map file present (relative paths), named or not."""
    found: set[str] = set()
    root = os.path.join(ipath, "frag")
    for fid_name in fio.listdir(root):
        for view in fio.listdir(os.path.join(root, fid_name)):
            for fname in fio.listdir(os.path.join(root, fid_name, view)):
                if _FRAG_RE.match(fname) or _V1_FRAG_RE.match(fname):
                    found.add(os.path.join("frag", fid_name, view, fname))
    for fname in fio.listdir(os.path.join(ipath, "keys")):
        if _KEYS_RE.match(fname):
            found.add(os.path.join("keys", fname))
    return found


def named_paths(m: Manifest) -> set[str]:
    return {frag_path(fid, view, shard, e.seq) for (fid, view, shard), e in m.frags.items()} | \
        {keys_path(space, e.seq) for space, e in m.keys.items()}
