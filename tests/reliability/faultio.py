"""A recording, faulting FileIO for the reliability tests (SQLite's crash-test VFS idea).

`FaultIO` is a drop-in replacement for engine.storage.fileio.FileIO. Every call reaches the
real file system (so the engine under test behaves exactly as it would), and at the same
time the calls are replayed into an in-memory model of what would survive a power loss:

* files: per inode, the bytes covered by an fsync (`durable`) and the bytes the process
  sees (`current`); writes only append (the engine opens files in append mode), and
  FileIO.truncate fsyncs, so `durable` is always a prefix of `current`;
* directories: per directory, the entries made durable by an fsync of the directory and
  the list of entry operations since (create, rename, unlink). A file's fsync also makes
  its own creation durable (with the entry operations before it in that directory).

Faults:

* ``crash_at=k``: the k-th mutating operation (open/create, write, fsync, fsync_dir,
  truncate, rename, link, remove, rmtree, makedirs, lock) raises `SimulatedCrash` instead of
  running, and so does everything after it. `crash_image(mode)` then gives the directory
  tree a power loss at that moment could leave, and `materialize()` writes it to a fresh
  directory to reopen with the plain FileIO. Modes:
    - "drop":     unsynced writes dropped; directory operations not followed by an fsync
                  undone (files created and never fsynced vanish, renames are undone);
    - "torn":     like drop, except the newest unsynced write keeps a prefix cut at a
                  512-byte file offset, and a random prefix (in order) of the pending
                  directory operations survives;
    - "metakept": unsynced writes dropped, every directory operation kept (ext4's
                  zero-length files after a crash);
    - "zerofill": the unsynced bytes of the newest written file read back as zeros (its
                  size made durable, its data blocks not: XFS/ext4 data=writeback), other
                  unsynced writes dropped, directory operations kept;
    - "keep":     everything the process wrote survives (what kill -9 leaves).
* ``full_at_write=k``: the k-th write (and, with ``sticky``, every later one until
  `clear_faults()`) raises OSError(ENOSPC) (or ``full_errno``, e.g. EFBIG); with
  ``partial`` half the data reaches the file first, as a short write does.
* ``eio_at_fsync=k``: the k-th fsync (file fsyncs, plus directory fsyncs when
  ``count_dir_fsyncs``) raises OSError(EIO) and, as Linux does (fsyncgate), makes nothing
  durable: the model keeps the old durable content while the real file keeps the bytes.

`ops` records every call (reads included) as `Op` entries; `mutating` numbers the
mutating ones from 1, which are the crash points.
"""
from __future__ import annotations

import errno
import hashlib
import os
import random
from dataclasses import dataclass
from typing import Any, BinaryIO

from engine.storage.fileio import FileIO

SECTOR = 512


class SimulatedCrash(BaseException):
    """The simulated machine lost power: no further I/O happens in this 'process'.

    A BaseException so that no `except Exception` in the engine can swallow it."""


@dataclass
class Op:
    seq: int                 # position in the full log, reads included
    mut: int | None          # crash-point number (mutating operations only)
    kind: str
    path: str
    nbytes: int = 0
    detail: str = ""
    error: str = ""


class _File:
    __slots__ = ("durable", "current", "last_write")

    def __init__(self, data: bytes = b"", durable: bool = False) -> None:
        self.current = bytearray(data)
        self.durable = bytes(data) if durable else b""
        self.last_write: tuple[int, int] | None = None    # (start, end) of the newest write


class _Dir:
    __slots__ = ("entries", "durable", "pending")

    def __init__(self) -> None:
        self.entries: dict[str, Any] = {}     # what the process sees
        self.durable: dict[str, Any] = {}     # what survives a power loss
        self.pending: list[tuple[str, str, Any]] = []   # (op, name, node-or-dst) since the last fsync

    def commit(self, upto: int | None = None) -> None:
        """Make pending[:upto] (all when None) durable."""
        n = len(self.pending) if upto is None else upto
        self.durable = _apply(self.durable, self.pending[:n])
        del self.pending[:n]


def _apply(entries: dict[str, Any], ops: list[tuple[str, str, Any]]) -> dict[str, Any]:
    out = dict(entries)
    for op, name, arg in ops:
        if op == "link":
            out[name] = arg
        elif op == "unlink":
            out.pop(name, None)
        elif op == "rename":
            if name in out:
                out[arg] = out.pop(name)
    return out


class FaultIO(FileIO):
    def __init__(self, root: str, *, crash_at: int | None = None,
                 full_at_write: int | None = None, full_errno: int = errno.ENOSPC,
                 sticky: bool = True, partial: bool = False,
                 eio_at_fsync: int | None = None, count_dir_fsyncs: bool = True,
                 real_fsync: bool = False) -> None:
        self.root = os.path.abspath(root)
        self.crash_at = crash_at
        self.full_at_write = full_at_write
        self.full_errno = full_errno
        self.sticky = sticky
        self.partial = partial
        self.eio_at_fsync = eio_at_fsync
        self.count_dir_fsyncs = count_dir_fsyncs
        self.real_fsync = real_fsync          # the model does the durability bookkeeping
        self.ops: list[Op] = []
        self.mutating = 0
        self.writes = 0
        self.fsyncs = 0
        self.crashed = False
        self.faults_injected: list[Op] = []
        self._full_active = False
        self._handles: dict[int, tuple[BinaryIO, _File, str]] = {}
        self._last_written: _File | None = None
        self._tree = _Dir()
        if os.path.isdir(self.root):
            self._load(self.root, self._tree)

    # --- the model ------------------------------------------------------------------------

    def _load(self, real: str, node: _Dir) -> None:
        for name in sorted(os.listdir(real)):
            p = os.path.join(real, name)
            if os.path.isdir(p):
                child: Any = _Dir()
                self._load(p, child)
            else:
                with open(p, "rb") as f:
                    child = _File(f.read(), durable=True)
            node.entries[name] = node.durable[name] = child

    def _rel(self, path: str) -> list[str] | None:
        ap = os.path.abspath(path)
        if ap == self.root:
            return []
        if not ap.startswith(self.root + os.sep):
            return None
        return ap[len(self.root) + 1:].split(os.sep)

    def _lookup(self, path: str) -> Any:
        parts = self._rel(path)
        if parts is None:
            return None
        node: Any = self._tree
        for p in parts:
            if not isinstance(node, _Dir) or p not in node.entries:
                return None
            node = node.entries[p]
        return node

    def _parent(self, path: str) -> tuple[_Dir | None, str]:
        parent = self._lookup(os.path.dirname(os.path.abspath(path)))
        return (parent if isinstance(parent, _Dir) else None), os.path.basename(path)

    def _persist_entry(self, path: str, node: Any) -> None:
        """A file's fsync makes its own directory entry (and the ones before it) durable."""
        parent, _ = self._parent(path)
        if parent is None:
            return
        for i in range(len(parent.pending) - 1, -1, -1):
            op, _name, arg = parent.pending[i]
            if op == "link" and arg is node:
                parent.commit(i + 1)
                return

    # --- bookkeeping ----------------------------------------------------------------------

    def _op(self, kind: str, path: str, nbytes: int = 0, detail: str = "", mutating: bool = True) -> Op:
        if self.crashed:
            raise SimulatedCrash(f"I/O after the simulated crash: {kind} {path}")
        mut = None
        if mutating:
            self.mutating += 1
            mut = self.mutating
            if self.crash_at is not None and mut >= self.crash_at:
                self.crashed = True
                self.close_all()
                raise SimulatedCrash(f"power loss before op {mut}: {kind} {path}")
        op = Op(len(self.ops) + 1, mut, kind, path, nbytes, detail)
        self.ops.append(op)
        return op

    def clear_faults(self) -> None:
        self._full_active = False
        self.full_at_write = None
        self.eio_at_fsync = None

    def close_all(self) -> None:
        """Close every handle the engine left open (after a crash: the process is gone)."""
        for f, _node, _path in list(self._handles.values()):
            try:
                f.close()
            except OSError:
                pass
        self._handles.clear()

    def open_handles(self) -> list[str]:
        """Paths of the files the engine opened through this FileIO and has not closed."""
        return sorted(path for _f, _node, path in self._handles.values())

    def mutating_ops(self) -> list[Op]:
        return [o for o in self.ops if o.mut is not None]

    # --- reads (recorded, never faulted) ---------------------------------------------------

    def read_file(self, path: str) -> bytes:
        self._op("read", path, mutating=False)
        return super().read_file(path)

    def exists(self, path: str) -> bool:
        self._op("exists", path, mutating=False)
        return super().exists(path)

    def size(self, path: str) -> int:
        self._op("size", path, mutating=False)
        return super().size(path)

    def listdir(self, path: str) -> list[str]:
        self._op("listdir", path, mutating=False)
        return super().listdir(path)

    def isdir(self, path: str) -> bool:
        self._op("isdir", path, mutating=False)
        return super().isdir(path)

    # --- mutating operations -------------------------------------------------------------------

    def makedirs(self, path: str) -> None:
        self._op("makedirs", path)
        super().makedirs(path)
        parts = self._rel(path)
        if parts is None:
            return
        node = self._tree
        for p in parts:
            child = node.entries.get(p)
            if child is None:
                child = _Dir()
                node.entries[p] = child
                node.pending.append(("link", p, child))
            node = child

    def _open_model(self, path: str) -> _File | None:
        node = self._lookup(path)
        if isinstance(node, _File):
            return node
        parent, name = self._parent(path)
        if parent is None:
            return None
        node = _File()
        parent.entries[name] = node
        parent.pending.append(("link", name, node))
        return node

    def open_append(self, path: str) -> BinaryIO:
        self._op("open", path)
        f = super().open_append(path)
        node = self._open_model(path)
        self._handles[id(f)] = (f, node, path)    # type: ignore[assignment]
        return f

    def lock(self, path: str) -> BinaryIO:
        self._op("lock", path)
        f = super().lock(path)
        node = self._open_model(path)
        self._handles[id(f)] = (f, node, path)    # type: ignore[assignment]
        return f

    def close(self, f: BinaryIO) -> None:
        self._op("close", getattr(f, "name", "?"), mutating=False)
        self._handles.pop(id(f), None)
        super().close(f)

    def write(self, f: BinaryIO, data: bytes) -> None:
        _, node, path = self._handles.get(id(f), (f, None, getattr(f, "name", "?")))
        op = self._op("write", path, len(data))
        self.writes += 1
        if (self.full_at_write is not None and self.writes >= self.full_at_write
                and (self._full_active or self.writes == self.full_at_write)):
            self._full_active = self.sticky
            if not self.sticky:
                self.full_at_write = None
            part = bytes(data[:len(data) // 2]) if self.partial else b""
            if part:
                super().write(f, part)
                self._model_write(node, part)
            op.error = f"{errno.errorcode[self.full_errno]} after {len(part)} bytes"
            self.faults_injected.append(op)
            raise OSError(self.full_errno, os.strerror(self.full_errno))
        super().write(f, data)
        self._model_write(node, bytes(data))

    def _model_write(self, node: _File | None, data: bytes) -> None:
        if node is None:
            return
        start = len(node.current)
        node.current += data
        node.last_write = (start, len(node.current))
        self._last_written = node

    def _fsync_fault(self, op: Op) -> None:
        self.fsyncs += 1
        if self.eio_at_fsync is not None and self.fsyncs == self.eio_at_fsync:
            op.error = "EIO"
            self.faults_injected.append(op)
            raise OSError(errno.EIO, os.strerror(errno.EIO))

    def fsync(self, f: BinaryIO) -> None:
        _, node, path = self._handles.get(id(f), (f, None, getattr(f, "name", "?")))
        op = self._op("fsync", path)
        self._fsync_fault(op)
        if self.real_fsync:
            super().fsync(f)
        if node is not None:
            node.durable = bytes(node.current)
            self._persist_entry(path, node)

    def fsync_dir(self, path: str) -> None:
        op = self._op("fsync_dir", path)
        if self.count_dir_fsyncs:
            self._fsync_fault(op)
        if self.real_fsync:
            super().fsync_dir(path)
        node = self._lookup(path)
        if isinstance(node, _Dir):
            node.commit()

    def truncate(self, path: str, length: int) -> None:
        self._op("truncate", path, length)
        if self.real_fsync:
            super().truncate(path, length)
        else:
            with open(path, "r+b") as f:
                f.truncate(length)
        node = self._lookup(path)
        if isinstance(node, _File):
            del node.current[length:]
            node.durable = bytes(node.current)     # FileIO.truncate fsyncs
            node.last_write = None
            self._persist_entry(path, node)

    def rename(self, src: str, dst: str) -> None:
        self._op("rename", src, detail=dst)
        super().rename(src, dst)
        sp, sname = self._parent(src)
        dp, dname = self._parent(dst)
        if sp is None or dp is None:
            return
        node = sp.entries.pop(sname)
        dp.entries[dname] = node
        if sp is dp:
            sp.pending.append(("rename", sname, dname))
        else:  # never done by the engine; model as unlink + link
            sp.pending.append(("unlink", sname, None))
            dp.pending.append(("link", dname, node))

    def link(self, src: str, dst: str) -> None:
        self._op("link", src, detail=dst)
        super().link(src, dst)
        node = self._lookup(src)
        parent, name = self._parent(dst)
        if parent is None or not isinstance(node, _File):
            return
        # One inode, two names: the new entry is durable once its directory is fsynced
        # (the file's content already is as durable as it was).
        parent.entries[name] = node
        parent.pending.append(("link", name, node))

    def remove(self, path: str) -> None:
        self._op("remove", path)
        super().remove(path)
        self._unlink(path)

    def rmtree(self, path: str) -> None:
        self._op("rmtree", path)
        super().rmtree(path)
        self._unlink(path)

    def _unlink(self, path: str) -> None:
        parent, name = self._parent(path)
        if parent is not None and name in parent.entries:
            del parent.entries[name]
            parent.pending.append(("unlink", name, None))

    # --- crash images ------------------------------------------------------------------------

    def crash_image(self, mode: str = "drop", rng: random.Random | None = None) -> dict[str, Any]:
        """The tree (name -> bytes or nested dict) a power loss now could leave."""
        rng = rng or random.Random(0)
        last = self._last_written
        if mode == "keep":
            return self._image(self._tree, lambda d: list(d.pending), lambda n: bytes(n.current))

        def content(n: _File) -> bytes:
            if n is last and n.last_write is not None and len(n.current) > len(n.durable):
                start, end = n.last_write
                lo = max(start, len(n.durable))
                if mode == "torn":
                    cut = (end - 1) // SECTOR * SECTOR          # a sector boundary inside the write
                    if cut > lo:
                        return bytes(n.current[:cut])
                elif mode == "zerofill":
                    return n.durable + bytes(len(n.current) - len(n.durable))
            return n.durable

        if mode == "drop":
            def pending(d: _Dir) -> list[Any]:
                return []
        elif mode in ("zerofill", "metakept"):
            def pending(d: _Dir) -> list[Any]:
                return list(d.pending)
        elif mode == "torn":
            def pending(d: _Dir) -> list[Any]:
                return d.pending[:rng.randint(0, len(d.pending))]
        else:
            raise ValueError(mode)
        return self._image(self._tree, pending, content)

    def _image(self, d: _Dir, pending: Any, content: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, node in _apply(d.durable, pending(d)).items():
            out[name] = self._image(node, pending, content) if isinstance(node, _Dir) else content(node)
        return out

    def model_matches_disk(self) -> list[str]:
        """Differences between the model's `current` view and the real directory (self-check)."""
        diffs: list[str] = []
        _compare(_current_tree(self._tree), self.root, diffs)
        return diffs


def _current_tree(d: _Dir) -> dict[str, Any]:
    return {name: (_current_tree(n) if isinstance(n, _Dir) else bytes(n.current)) for name, n in d.entries.items()}


def _compare(tree: dict[str, Any], real: str, diffs: list[str]) -> None:
    names = set(os.listdir(real)) if os.path.isdir(real) else set()
    for name in sorted(names | set(tree)):
        p = os.path.join(real, name)
        if name not in tree:
            diffs.append(f"on disk, not in model: {p}")
        elif name not in names:
            diffs.append(f"in model, not on disk: {p}")
        elif isinstance(tree[name], dict):
            _compare(tree[name], p, diffs)
        else:
            with open(p, "rb") as f:
                if f.read() != tree[name]:
                    diffs.append(f"content differs: {p}")


def materialize(image: dict[str, Any], dest: str) -> None:
    """Write a crash image to a fresh directory (created)."""
    os.makedirs(dest, exist_ok=True)
    for name, node in image.items():
        p = os.path.join(dest, name)
        if isinstance(node, dict):
            materialize(node, p)
        else:
            with open(p, "wb") as f:
                f.write(node)


def image_digest(image: dict[str, Any]) -> str:
    h = hashlib.sha256()

    def walk(node: dict[str, Any], prefix: str) -> None:
        for name in sorted(node):
            v = node[name]
            if isinstance(v, dict):
                h.update(f"D{prefix}/{name}\0".encode())
                walk(v, f"{prefix}/{name}")
            else:
                h.update(f"F{prefix}/{name}\0{len(v)}\0".encode())
                h.update(v)

    walk(image, "")
    return h.hexdigest()
