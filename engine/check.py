"""engine.check(path): walk every file of a data directory and report what is wrong.

Read-only: nothing is repaired. Each finding names the file and byte offset; a torn log
tail (which opening the database cuts off) is reported as a warning, everything else as an
error.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from engine.errors import DataCorruptedError
from engine.holder import CREATING, DROPPED, is_index_name
from engine.storage import files
from engine.storage.fileio import FileIO
from engine.storage.wal import read_wal
from engine.txn import decode_frame
from ext import CorruptDataError


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
    """Validate every schema, manifest, fragment, key map and log file under path."""
    fio = fileio or FileIO()
    findings: list[Finding] = []
    checked = 0

    def run(fpath: str, decode) -> None:  # type: ignore[no-untyped-def]
        nonlocal checked
        checked += 1
        try:
            decode(fio.read_file(fpath), fpath)
        except DataCorruptedError as exc:
            findings.append(Finding("error", fpath, exc.offset, exc.message))
        except OSError as exc:
            findings.append(Finding("error", fpath, 0, f"unreadable: {exc}"))

    for name in fio.listdir(path):
        ipath = os.path.join(path, name)
        if not fio.isdir(ipath):
            continue
        if name.startswith((CREATING, DROPPED)):
            findings.append(Finding("warning", ipath, 0, "an interrupted create or drop (removed on open)"))
            continue
        if not is_index_name(name):
            continue                      # not an index directory: never touched
        if not fio.exists(os.path.join(ipath, "SCHEMA")):
            findings.append(Finding("error", os.path.join(ipath, "SCHEMA"), 0,
                                    "SCHEMA missing: the index is not opened (nothing is deleted)"))
            continue
        run(os.path.join(ipath, "SCHEMA"), files.decode_doc)
        if fio.exists(os.path.join(ipath, "MANIFEST")):
            run(os.path.join(ipath, "MANIFEST"), files.decode_doc)
        for root, _dirs, names in _walk(fio, os.path.join(ipath, "frag")):
            for n in names:
                if n.endswith(".frag"):
                    run(os.path.join(root, n), files.decode_fragment)
        for n in fio.listdir(os.path.join(ipath, "keys")):
            if n.endswith(".keys"):
                run(os.path.join(ipath, "keys", n), files.decode_keys)
        for n in fio.listdir(ipath):
            if n.startswith("wal-") and n.endswith(".log"):
                checked += 1
                _check_wal(fio, os.path.join(ipath, n), findings)
    return CheckReport(checked, findings)


def _check_wal(fio: FileIO, path: str, findings: list[Finding]) -> None:
    try:
        contents = read_wal(fio, path)
    except DataCorruptedError as exc:
        findings.append(Finding("error", path, exc.offset, exc.message))
        return
    for seq, payload in contents.records:
        try:
            decode_frame(payload)
        except (ValueError, TypeError, KeyError, CorruptDataError) as exc:
            findings.append(Finding("error", path, 0, f"undecodable frame {seq}: {exc}"))
    if contents.torn_bytes:
        findings.append(Finding("warning", path, contents.valid_end,
                                f"torn tail of {contents.torn_bytes} bytes (cut off on open)"))


def _walk(fio: FileIO, top: str):  # type: ignore[no-untyped-def]
    names = fio.listdir(top)
    dirs = [n for n in names if fio.isdir(os.path.join(top, n))]
    yield top, dirs, [n for n in names if n not in dirs]
    for d in dirs:
        yield from _walk(fio, os.path.join(top, d))
