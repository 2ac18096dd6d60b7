"""engine.check(path): walk every file of a data directory and report what is wrong.

Read-only: nothing is repaired. Each finding names the file and byte offset; a torn log
tail (which opening the database cuts off) is reported as a warning, everything else as an
error.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from typing import Callable, Optional, TypeVar

from engine.errors import DataCorruptedError
from engine.holder import CREATING, DROPPED, is_index_name
from engine.schema import IndexDef
from engine.storage import files, manifest
from engine.storage.manifest import Manifest
from engine.storage.fileio import FileIO
from engine.storage.wal import read_wal
from engine.txn import decode_frame
from ext import CorruptDataError

T = TypeVar("T")


@dataclass(frozen=True)
class Finding:
    severity: str      # "error" or "warning"
    path: str
    offset: int
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.path} at byte {self.offset}: {self.message}"


@dataclass
class CheckReport:
    files_checked: int
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)


def check(path: str, fileio: FileIO | None = None) -> CheckReport:
    """Validate every schema, manifest, fragment, key map and log file under path: each
    file the MANIFEST names must exist and be the version it names, and the log must
    continue where the MANIFEST's snapshot ends."""
    fio = fileio or FileIO()
    findings: list[Finding] = []
    checked = 0

    def run(fpath: str, read: Callable[[], T]) -> Optional[T]:
        nonlocal checked
        checked += 1
        try:
            return read()
        except DataCorruptedError as exc:
            findings.append(Finding("error", exc.path or fpath, max(exc.offset, 0), _bare(exc)))
        except OSError as exc:
            findings.append(Finding("error", fpath, 0, f"unreadable: {exc}"))
        return None

    def decoded(fpath: str, decode: Callable[[bytes, str], T]) -> Callable[[], T]:
        return lambda: decode(fio.read_file(fpath), fpath)

    for name in fio.listdir(path):
        ipath = os.path.join(path, name)
        if not fio.isdir(ipath):
            continue
        if name.startswith((CREATING, DROPPED)):
            findings.append(Finding("warning", ipath, 0, "an interrupted create or drop (removed on open)"))
            continue
        if not is_index_name(name):
            continue                      # not an index directory: never touched
        spath = os.path.join(ipath, "SCHEMA")
        if not fio.exists(spath):
            findings.append(Finding("error", spath, 0, "SCHEMA missing: the index is not opened (nothing is deleted)"))
            continue
        schema = run(spath, decoded(spath, _decode_schema))
        mpath = os.path.join(ipath, "MANIFEST")
        m = run(mpath, lambda: manifest.read(fio, ipath)) if fio.exists(mpath) else Manifest(0, 0)
        if m is not None and m.version == 2:
            live = schema           # field ids (None: SCHEMA unreadable, check every entry)
            for (fid, view, shard), e in sorted(m.frags.items()):
                if live is None or fid in live:
                    rel = manifest.frag_path(fid, view, shard, e.seq)
                    run(os.path.join(ipath, rel), partial(manifest.load, fio, ipath, rel, e, files.decode_fragment))
            for space, e in sorted(m.keys.items()):
                if live is None or space in live or space == manifest.COLUMN_KEYS:
                    rel = manifest.keys_path(space, e.seq)
                    run(os.path.join(ipath, rel), partial(manifest.load, fio, ipath, rel, e, files.decode_keys))
            for rel in sorted(manifest.snapshot_files(fio, ipath) - manifest.named_paths(m)):
                findings.append(Finding("warning", os.path.join(ipath, rel), 0,
                                        "not named by MANIFEST (left by an interrupted checkpoint or a drop; "
                                        "removed by the next checkpoint)"))
        else:
            # Version 1, or no MANIFEST: every snapshot file found is read on open.
            for rel in sorted(manifest.snapshot_files(fio, ipath)):
                decode = files.decode_fragment if rel.endswith(".frag") else files.decode_keys
                run(os.path.join(ipath, rel), decoded(os.path.join(ipath, rel), decode))
        first_seqs = []
        for n in fio.listdir(ipath):
            if n.startswith("wal-") and n.endswith(".log"):
                checked += 1
                first = _check_wal(fio, os.path.join(ipath, n), findings)
                if first is not None:
                    first_seqs.append(first)
        if m is not None:
            _check_log_continues(ipath, m, first_seqs, findings)
    return CheckReport(checked, findings)


def _decode_schema(data: bytes, path: str) -> set[int]:
    """The field ids SCHEMA names, with the existence field's (0)."""
    doc = files.decode_doc(data, path)
    try:
        return {0} | {f.id for f in IndexDef.from_dict(doc).fields.values()}
    except (KeyError, TypeError, ValueError) as exc:
        raise DataCorruptedError(f"malformed SCHEMA: {exc}", path, 0) from None


def _check_log_continues(ipath: str, m: Manifest, first_seqs: list[int], findings: list[Finding]) -> None:
    """The frames after the MANIFEST's seq must be on disk: the log it names exists, and
    the oldest log starts no later than seq + 1 (recovery refuses to open otherwise)."""
    mpath = os.path.join(ipath, "MANIFEST")
    if m.wal is not None and m.wal not in first_seqs:
        findings.append(Finding("error", os.path.join(ipath, manifest.wal_name(m.wal)), 0,
                                "write-ahead log named by MANIFEST is missing"))
    if first_seqs and min(first_seqs) > m.seq + 1:
        what = "MANIFEST missing" if m.version == 0 else f"MANIFEST's seq {m.seq} is older than the log"
        findings.append(Finding("error", mpath, 0, f"{what}: the log starts at {min(first_seqs)}, so commits "
                                                   f"{m.seq + 1}..{min(first_seqs) - 1} are not on disk"))
    elif m.version == 0:
        findings.append(Finding("warning", mpath, 0, "MANIFEST missing; the log holds every commit "
                                                     "(the next checkpoint writes it)"))


def _bare(exc: DataCorruptedError) -> str:
    """The message without the " (path at byte n)" suffix the Finding prints itself."""
    suffix = f" ({exc.path} at byte {exc.offset})"
    return exc.message[:-len(suffix)] if exc.path and exc.message.endswith(suffix) else exc.message


def _check_wal(fio: FileIO, path: str, findings: list[Finding]) -> Optional[int]:
    """Check one log file; its first sequence number (None if it has no valid header)."""
    try:
        contents = read_wal(fio, path)
    except DataCorruptedError as exc:
        findings.append(Finding("error", path, exc.offset, _bare(exc)))
        return None
    for seq, payload in contents.records:
        try:
            decode_frame(payload)
        except (ValueError, TypeError, KeyError, CorruptDataError) as exc:
            findings.append(Finding("error", path, 0, f"undecodable frame {seq}: {exc}"))
    if contents.torn_bytes:
        findings.append(Finding("warning", path, contents.valid_end,
                                f"torn tail of {contents.torn_bytes} bytes (cut off on open)"))
    return contents.first_seq if contents.first_seq >= 0 else None

