"""Give freed heap memory back to the operating system after large writes.

A bulk import allocates and frees many temporary containers (the change set, merged
rows); glibc keeps the freed pages in its arenas, so RSS stays at the import's peak.
malloc_trim(0) returns them. Other C libraries have no such call: then this does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

_trim = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _trim = _libc.malloc_trim
        _trim.argtypes = [ctypes.c_size_t]
        _trim.restype = ctypes.c_int
    except (OSError, AttributeError):
        _trim = None


def release_free_memory() -> None:
    if _trim is not None:
        _trim(0)
