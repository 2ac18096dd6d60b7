"""Consistent snapshots of a data directory, and putting one back.

A snapshot is a directory laid out exactly like a data directory (engine.open() and
engine.check() read it as one) plus a SNAPSHOT document, written last, naming what it
holds. It is what an import reverts to (a copy-on-write restore point) and what an online
backup is made from.

Why it is cheap and consistent:
- The engine never changes a snapshot file in place: fragments, key maps, SCHEMA and
  MANIFEST are always replaced by writing a new file and renaming it over the old name
  (FileIO.write_atomic). A hard link therefore keeps the old content for as long as the
  snapshot lives, whatever the database does next. Only write-ahead logs are appended to
  in place; those are copied, up to the end of their last committed frame.
- Taking one holds the holder's schema lock and every index's writer lock (in name order),
  so no commit, checkpoint or schema change runs between the first link and the last: the
  files plus the copied log prefixes replay to one committed state per index, the same
  instant for all of them. Writers wait only for the links and the log copies; readers
  never wait.
- Restoring builds the new directory next to the old one from links (and log copies, so the
  snapshot itself stays untouched and can be restored again), then swaps the two with
  renames. A crash at any point leaves the snapshot intact, so restoring again from the
  start finishes the job (restore() is idempotent).

Everything goes through the holder's FileIO, so the fault-injection tests reach every step.
"""
from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass, field
from typing import Any

from engine.errors import DataCorruptedError, InvalidParameterError, StorageFailedError, StorageFullError
from engine.storage import files
from engine.storage.fileio import FileIO
from engine.storage.wal import FULL_ERRNOS

SNAPSHOT_FILE = "SNAPSHOT"
FORMAT = 1
RESTORING_SUFFIX = ".restoring"
OLD_SUFFIX = ".old"
TMP_SUFFIX = ".tmp"
# Errors of os.link that mean "this file system cannot link here": copy instead.
_NO_LINK = frozenset({errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP})


@dataclass
class SnapshotInfo:
    """What a snapshot holds (its SNAPSHOT document)."""

    path: str
    indexes: dict[str, int] = field(default_factory=dict)   # index name -> last log sequence number
    failed: list[str] = field(default_factory=list)          # indexes copied as found (unopenable)
    files: int = 0
    linked_bytes: int = 0
    copied_bytes: int = 0
    created_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "indexes": dict(self.indexes), "failed": list(self.failed), "files": self.files,
                "linked_bytes": self.linked_bytes, "copied_bytes": self.copied_bytes, "created_at": self.created_at}


def _storage_error(what: str, exc: OSError) -> Exception:
    if exc.errno in FULL_ERRNOS:
        return StorageFullError(f"disk full while {what}: {exc.strerror or exc}")
    return StorageFailedError(f"{what} failed: {exc}")


def take(holder: Any, dest: str) -> SnapshotInfo:
    """Snapshot an open Holder into `dest` (which must not exist). See the module
    docstring. Raises InvalidParameterError (dest exists), StorageFullError or
    StorageFailedError (the partial copy is removed)."""
    fio: FileIO = holder.fileio
    dest = os.path.abspath(dest)
    if fio.exists(dest):
        raise InvalidParameterError(f"snapshot destination {dest} exists")
    tmp = dest + TMP_SUFFIX
    info = SnapshotInfo(dest)
    try:
        if fio.exists(tmp):
            fio.rmtree(tmp)
        fio.makedirs(tmp)
        with holder._all_locks() as indexes:
            for idx in indexes:
                wal = idx._wal
                limits = {wal.path: wal.size} if wal is not None else {}
                _copy_tree(fio, idx.path, os.path.join(tmp, idx.name), limits, info, holder.fsync)
                info.indexes[idx.name] = idx.snapshot().seq
            for name in sorted(holder.failed_indexes()):
                src = os.path.join(holder.path, name)
                if fio.isdir(src):
                    _copy_tree(fio, src, os.path.join(tmp, name), {}, info, holder.fsync)
                    info.failed.append(name)
        info.created_at = time.time()
        fio.write_atomic(os.path.join(tmp, SNAPSHOT_FILE), files.encode_doc(info.to_dict()), fsync=holder.fsync)
        fio.rename(tmp, dest)
        if holder.fsync:
            fio.fsync_dir(os.path.dirname(dest))
    except Exception as exc:
        try:
            fio.rmtree(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise _storage_error(f"taking a snapshot into {dest}", exc) from exc
        raise
    return info


def _copy_tree(fio: FileIO, src: str, dst: str, log_limits: dict[str, int], info: SnapshotInfo,
               fsync: bool) -> None:
    """Link every file of src into dst (made), copying write-ahead logs (a live log up to
    log_limits[path], its last committed byte). Leftover temp files and LOCK are skipped."""
    fio.makedirs(dst)
    for name in fio.listdir(src):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if fio.isdir(s):
            _copy_tree(fio, s, d, log_limits, info, fsync)
        elif name == "LOCK" or name.endswith(TMP_SUFFIX):
            continue
        elif name.startswith("wal-") and name.endswith(".log"):
            data = fio.read_file(s)
            if s in log_limits:
                data = data[:log_limits[s]]
            _write_new(fio, d, data, fsync)
            info.files += 1
            info.copied_bytes += len(data)
        else:
            info.files += 1
            size = fio.size(s)
            if _link_or_copy(fio, s, d, fsync):
                info.linked_bytes += size
            else:
                info.copied_bytes += size
    if fsync:
        fio.fsync_dir(dst)


def _write_new(fio: FileIO, path: str, data: bytes, fsync: bool) -> None:
    fio.remove(path)
    f = fio.open_append(path)
    try:
        fio.write(f, data)
        if fsync:
            fio.fsync(f)
    finally:
        fio.close(f)


def _link_or_copy(fio: FileIO, src: str, dst: str, fsync: bool) -> bool:
    """Hard-link src to dst; copy when the file system cannot. True when linked."""
    try:
        fio.link(src, dst)
        return True
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
    _write_new(fio, dst, fio.read_file(src), fsync)
    return False


def read_info(path: str, fileio: FileIO | None = None) -> SnapshotInfo:
    """The SNAPSHOT document of a complete snapshot. Raises DataCorruptedError when it is
    missing (an incomplete snapshot) or damaged."""
    fio = fileio or FileIO()
    doc_path = os.path.join(path, SNAPSHOT_FILE)
    if not fio.exists(doc_path):
        raise DataCorruptedError("not a complete snapshot (no SNAPSHOT document)", doc_path, 0)
    doc = files.decode_doc(fio.read_file(doc_path), doc_path)
    if doc.get("format") != FORMAT:
        raise DataCorruptedError(f"unknown snapshot format {doc.get('format')!r}", doc_path, 0)
    return SnapshotInfo(path, dict(doc.get("indexes") or {}), list(doc.get("failed") or []),
                        int(doc.get("files", 0)), int(doc.get("linked_bytes", 0)), int(doc.get("copied_bytes", 0)),
                        float(doc.get("created_at", 0.0)))


def restore(snapshot: str, data_dir: str, *, fileio: FileIO | None = None, fsync: bool = True) -> SnapshotInfo:
    """Make `data_dir` exactly what `snapshot` holds. No Holder may have data_dir open.

    Steps: build `<data_dir>.restoring` from links (logs copied), then rename data_dir to
    `<data_dir>.old`, the new one into place, and remove the old one. The snapshot is not
    changed, so after a crash at any step calling restore() again completes it.
    Raises DataCorruptedError (not a complete snapshot), StorageFullError/StorageFailedError.
    """
    fio = fileio or FileIO()
    snapshot, data_dir = os.path.abspath(snapshot), os.path.abspath(data_dir)
    info = read_info(snapshot, fio)
    staging, old = data_dir + RESTORING_SUFFIX, data_dir + OLD_SUFFIX
    parent = os.path.dirname(data_dir)
    try:
        for leftover in (staging, old):
            if fio.exists(leftover):
                fio.rmtree(leftover)
        fio.makedirs(staging)
        for name in fio.listdir(snapshot):
            src = os.path.join(snapshot, name)
            if fio.isdir(src):
                _copy_tree(fio, src, os.path.join(staging, name), {}, SnapshotInfo(staging), fsync)
        if fsync:
            fio.fsync_dir(staging)
        if fio.exists(data_dir):
            fio.rename(data_dir, old)
        fio.rename(staging, data_dir)
        if fsync:
            fio.fsync_dir(parent)
        if fio.exists(old):
            fio.rmtree(old)
    except OSError as exc:
        raise _storage_error(f"restoring {data_dir} from {snapshot}", exc) from exc
    return info


def remove(path: str, fileio: FileIO | None = None) -> None:
    """Delete a snapshot (or a partial one left by a crash). Missing is fine."""
    fio = fileio or FileIO()
    try:
        for p in (path + TMP_SUFFIX, path):
            if fio.exists(p):
                fio.rmtree(p)
    except OSError as exc:
        raise _storage_error(f"removing snapshot {path}", exc) from exc
