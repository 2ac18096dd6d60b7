"""The write-ahead log: one append-only file per index, a checksummed frame per commit.

Recovery policy (named, as RocksDB names its own): *point-in-time for the tail*. An
incomplete or unreadable last frame is what an interrupted append leaves, so it is cut off
and everything before it is kept. A bad frame followed by a good one cannot come from an
interrupted append: that is corruption and raises DataCorruptedError.
"""
from __future__ import annotations

import errno
import struct
import time
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable, Optional

from engine.errors import DataCorruptedError, StorageFailedError, StorageFullError
from engine.storage.fileio import FileIO

MAGIC = b"RBWAL01\n"
_HEADER = struct.Struct("<8sQI")          # magic, first sequence number, crc32 of both
_FRAME = struct.Struct("<IQI")            # payload length, sequence number, crc32
MAX_PAYLOAD = 1 << 31                     # a frame is one batch; batches are bounded above
FULL_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def frame_crc(length: int, seq: int, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(struct.pack("<IQ", length, seq)))


def encode_header(first_seq: int) -> bytes:
    return _HEADER.pack(MAGIC, first_seq, zlib.crc32(MAGIC + struct.pack("<Q", first_seq)))


def encode_frame(seq: int, payload: bytes) -> bytes:
    return _FRAME.pack(len(payload), seq, frame_crc(len(payload), seq, payload)) + payload


@dataclass
class WalContents:
    first_seq: int
    records: list[tuple[int, bytes]]   # (seq, payload) in order
    valid_end: int                     # byte offset just past the last good frame
    torn_bytes: int                    # bytes after valid_end (cut off on open)


def read_wal(fileio: FileIO, path: str) -> WalContents:
    """Parse a WAL file, validating every frame (see the module's recovery policy)."""
    data = fileio.read_file(path)
    if len(data) < _HEADER.size:
        # The file was created but its header never became durable: nothing was committed.
        return WalContents(-1, [], 0, len(data))
    magic, first_seq, crc = _HEADER.unpack_from(data, 0)
    if magic != MAGIC or crc != zlib.crc32(MAGIC + struct.pack("<Q", first_seq)):
        if not data.strip(b"\0"):
            # Only zeros: the file's size became durable but its header never did (e.g.
            # ext4 data=writeback after a power loss). Nothing in it was committed.
            return WalContents(-1, [], 0, len(data))
        raise DataCorruptedError("bad write-ahead log header", path, 0)
    records: list[tuple[int, bytes]] = []
    pos = _HEADER.size
    seq_expected = first_seq
    while pos < len(data):
        frame = _parse_frame(data, pos, seq_expected)
        if frame is None:
            # Bad frame: torn tail unless a good frame follows it.
            if _good_frame_follows(data, pos, seq_expected):
                raise DataCorruptedError("corrupt write-ahead log frame", path, pos)
            break
        seq, payload, end = frame
        records.append((seq, payload))
        seq_expected = seq + 1
        pos = end
    return WalContents(first_seq, records, pos, len(data) - pos)


def _parse_frame(data: bytes, pos: int, seq_expected: int) -> tuple[int, bytes, int] | None:
    if len(data) - pos < _FRAME.size:
        return None
    length, seq, crc = _FRAME.unpack_from(data, pos)
    start = pos + _FRAME.size
    if length > MAX_PAYLOAD or length > len(data) - start:
        return None
    payload = data[start:start + length]
    if crc != frame_crc(length, seq, payload) or seq != seq_expected:
        return None
    return seq, payload, start + length


def _good_frame_follows(data: bytes, pos: int, seq_expected: int) -> bool:
    """Is there a valid frame for seq_expected + 1 anywhere after the bad frame at pos?
    (Searching for its sequence number, not trusting the bad frame's own length field,
    which may be exactly what is damaged.)"""
    pattern = struct.pack("<Q", seq_expected + 1)
    i = data.find(pattern, pos + 4)
    while i != -1:
        start = i - 4
        if start > pos and _parse_frame(data, start, seq_expected + 1) is not None:
            return True
        i = data.find(pattern, i + 1)
    return False


# Called after every durable append with (bytes appended, fsync seconds or None when fsync
# is off): the server's metrics. The engine itself keeps no statistics.
append_hook: Optional[Callable[[int, Optional[float]], None]] = None


class WalWriter:
    """Appends frames; a frame is acknowledged only after its fsync returned."""

    def __init__(self, fileio: FileIO, path: str, next_seq: int, size: int, fsync: bool) -> None:
        self.fileio = fileio
        self.path = path
        self.next_seq = next_seq
        self.size = size
        self.fsync_enabled = fsync
        self.failed: str | None = None
        self._f: BinaryIO | None = fileio.open_append(path)

    @classmethod
    def create(cls, fileio: FileIO, path: str, first_seq: int, fsync: bool) -> "WalWriter":
        """Start a new log whose first frame will carry `first_seq`."""
        fileio.remove(path)
        w = cls(fileio, path, first_seq, 0, fsync)
        try:
            w._append_raw(encode_header(first_seq))
        except BaseException:
            w.close()
            try:
                fileio.remove(path)
            except OSError:
                pass
            raise
        return w

    def append(self, payload: bytes) -> int:
        """Write one frame and make it durable; returns its sequence number."""
        if len(payload) > MAX_PAYLOAD:
            raise StorageFailedError("a single commit is larger than 2 GiB; import in batches")
        seq = self.next_seq
        self._append_raw(encode_frame(seq, payload))
        self.next_seq += 1
        return seq

    def _append_raw(self, data: bytes) -> None:
        if self.failed:
            raise StorageFailedError(f"the write-ahead log is read-only after an earlier failure: {self.failed}")
        assert self._f is not None
        try:
            self.fileio.write(self._f, data)
        except OSError as exc:
            self._undo_partial_write(exc)
            if exc.errno in FULL_ERRNOS:
                raise StorageFullError(f"disk full while writing {self.path}: {exc.strerror}") from exc
            self.failed = f"write failed: {exc}"
            raise StorageFailedError(f"write to {self.path} failed: {exc}") from exc
        synced = None
        try:
            if self.fsync_enabled:
                started = time.perf_counter()
                self.fileio.fsync(self._f)
                synced = time.perf_counter() - started
        except OSError as exc:
            # fsyncgate: after a failed fsync the kernel may have dropped the pages and
            # cleared the error, so a retry proves nothing. Stop; reopening recovers.
            self.failed = f"fsync failed: {exc}"
            raise StorageFailedError(f"fsync of {self.path} failed; the index is read-only "
                                     f"until reopened: {exc}") from exc
        self.size += len(data)
        if append_hook is not None:
            append_hook(len(data), synced)

    def _undo_partial_write(self, exc: OSError) -> None:
        """Cut a half-written frame off so the log ends on a frame boundary again."""
        try:
            assert self._f is not None
            self.fileio.close(self._f)
            self._f = None
            self.fileio.truncate(self.path, self.size)
            self._f = self.fileio.open_append(self.path)
        except OSError as exc2:
            self.failed = f"could not undo a partial write ({exc}); then {exc2}"
            raise StorageFailedError(f"{self.path}: {self.failed}") from exc2

    def close(self) -> None:
        if self._f is not None:
            try:
                self.fileio.close(self._f)
            finally:
                self._f = None
