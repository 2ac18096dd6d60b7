"""Path safety for the LOCAL sandbox directory an administrator may configure.

A user-given path is relative to the sandbox and can never leave it: absolute paths, '..'
components, NUL bytes, backslashes and empty components are refused before any file
system call, and the path is then walked one component at a time with O_NOFOLLOW from
a descriptor of the sandbox itself, so a symlink anywhere on the way (even one made
after the check) is refused by the kernel instead of followed.
"""
from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

from server.sources.errors import resource_not_found, wrong_spec

MAX_PATH = 1024
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def parts(path: object) -> list[str]:
    """The components of a sandbox-relative path. Raises WRONG_DATA_TYPE for anything
    that could name a file outside the sandbox."""
    if not isinstance(path, str) or not path or len(path) > MAX_PATH:
        raise wrong_spec("path must be a non-empty relative path of at most 1024 characters", key="path")
    if "\x00" in path:
        raise wrong_spec("path may not contain NUL bytes", key="path")
    if "\\" in path:
        raise wrong_spec("path uses '/' between components, never '\\'", key="path")
    if path.startswith("/"):
        raise wrong_spec("path must be relative to the sandbox directory, not absolute", key="path")
    out = path.split("/")
    for part in out:
        if part in ("", ".", ".."):
            raise wrong_spec("path may not have empty, '.' or '..' components", key="path")
    return out


def _walk(root: str, comps: list[str], *, create_dirs: bool = False) -> int:
    """A descriptor of the directory holding the last component (caller closes it)."""
    fd = os.open(root, _DIR_FLAGS)
    try:
        for comp in comps[:-1]:
            try:
                nxt = os.open(comp, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create_dirs:
                    raise
                os.mkdir(comp, 0o750, dir_fd=fd)
                nxt = os.open(comp, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
        return fd
    except BaseException:
        os.close(fd)
        raise


def _refuse(exc: OSError, path: str) -> Exception:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        return wrong_spec(f"{path!r} goes through a symlink or a non-directory: refused", key="path")
    if exc.errno == errno.ENOENT:
        return resource_not_found(f"no file {path!r} in the sandbox directory", key="path")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return wrong_spec(f"the server may not read {path!r}", key="path")
    return wrong_spec(f"cannot open {path!r}: {exc.strerror}", key="path")


def open_read(root: str, path: str) -> BinaryIO:
    """A regular file of the sandbox, opened for reading. Raises WRONG_DATA_TYPE (unsafe
    path, symlink, not a regular file) or RESOURCE_NOT_FOUND."""
    comps = parts(path)
    try:
        dfd = _walk(root, comps)
        try:
            fd = os.open(comps[-1], os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), dir_fd=dfd)
        finally:
            os.close(dfd)
    except OSError as exc:
        raise _refuse(exc, path) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise wrong_spec(f"{path!r} is not a regular file", key="path")
    return os.fdopen(fd, "rb")


class AtomicWriter:
    """A file of the sandbox written under a temporary name and renamed into place on
    commit() (a reader never sees half an export); close() without commit removes it."""

    def __init__(self, root: str, path: str) -> None:
        self.comps = parts(path)
        self.path = path
        self.tmp = f".{self.comps[-1]}.{os.getpid()}.{id(self)}.tmp"
        try:
            self.dfd = _walk(root, self.comps, create_dirs=True)
        except OSError as exc:
            raise _refuse(exc, path) from None
        try:
            fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o640, dir_fd=self.dfd)
        except OSError as exc:
            os.close(self.dfd)
            raise _refuse(exc, path) from None
        self.file: BinaryIO = os.fdopen(fd, "wb")
        self.done = False

    def commit(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        try:
            st = os.lstat(self.comps[-1], dir_fd=self.dfd)
            if stat.S_ISLNK(st.st_mode) or stat.S_ISDIR(st.st_mode):
                raise wrong_spec(f"{self.path!r} exists and is not a regular file", key="path")
        except FileNotFoundError:
            pass
        os.rename(self.tmp, self.comps[-1], src_dir_fd=self.dfd, dst_dir_fd=self.dfd)
        self.done = True

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()
        if not self.done:
            try:
                os.unlink(self.tmp, dir_fd=self.dfd)
            except FileNotFoundError:
                pass
        os.close(self.dfd)
