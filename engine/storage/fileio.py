"""The only module that calls the operating system's file API.

Everything the engine writes or reads goes through a `FileIO` instance, so tests can
swap in one that records operations, fails the k-th with ENOSPC/EIO, or simulates a power
loss by dropping writes that no fsync covered (SQLite's VFS idea).
"""
from __future__ import annotations

import errno
import fcntl
import os
from typing import BinaryIO


class FileIO:
    """Plain OS file access. Subclass and override to inject faults."""

    def read_file(self, path: str) -> bytes:
        with open(path, "rb") as f:
            return f.read()

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def size(self, path: str) -> int:
        return os.path.getsize(path)

    def listdir(self, path: str) -> list[str]:
        return sorted(os.listdir(path)) if os.path.isdir(path) else []

    def isdir(self, path: str) -> bool:
        return os.path.isdir(path)

    def makedirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def open_append(self, path: str) -> BinaryIO:
        """Open for appending (created if missing), unbuffered so write() reaches the OS."""
        return open(path, "ab", buffering=0)

    def write(self, f: BinaryIO, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = f.write(view)
            if n is None or n <= 0:  # pragma: no cover - unbuffered files write or raise
                raise OSError(errno.EIO, "short write")
            view = view[n:]

    def fsync(self, f: BinaryIO) -> None:
        os.fsync(f.fileno())

    def close(self, f: BinaryIO) -> None:
        f.close()

    def truncate(self, path: str, length: int) -> None:
        with open(path, "r+b") as f:
            f.truncate(length)
            os.fsync(f.fileno())

    def rename(self, src: str, dst: str) -> None:
        os.replace(src, dst)

    def link(self, src: str, dst: str) -> None:
        """A second name for an existing file (a hard link). Snapshots share the immutable
        files of a data directory this way: the engine never rewrites a file in place
        except its write-ahead logs, which snapshots copy instead."""
        os.link(src, dst)

    def remove(self, path: str) -> None:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass

    def rmtree(self, path: str) -> None:
        if not os.path.isdir(path):
            return
        for root, dirs, files in os.walk(path, topdown=False):
            for name in files:
                os.remove(os.path.join(root, name))
            for name in dirs:
                os.rmdir(os.path.join(root, name))
        os.rmdir(path)

    def fsync_dir(self, path: str) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def lock(self, path: str) -> BinaryIO:
        """Hold an exclusive advisory lock on path (one process per data directory)."""
        f = open(path, "ab")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            raise
        return f

    def refresh(self, path: str) -> None:
        """Make the local view of a file or directory tree current with what other
        processes made durable. Nothing to do here: the file system is the storage
        (engine/cluster/objstore.py rebuilds a local cache from an object store)."""

    # --- composite helpers (built only from the primitives above, so faults apply) --------

    def write_atomic(self, path: str, data: bytes, fsync: bool = True) -> None:
        """Write a whole file so a crash leaves either the old or the new content:
        temp file, fsync, rename over the target, fsync the directory."""
        tmp = path + ".tmp"
        self.remove(tmp)
        f = self.open_append(tmp)
        try:
            self.write(f, data)
            if fsync:
                self.fsync(f)
        finally:
            self.close(f)
        self.rename(tmp, path)
        if fsync:
            self.fsync_dir(os.path.dirname(path) or ".")
