# cython: language_level=3
"""Roaring bitmaps of unsigned 64-bit integers, in Cython.

One extension module assembled from .pxi fragments (see STYLE.md):
containers.pxi (the three container kinds), rb.pxi (bitmaps as sorted key/container
arrays), codec.pxi (portable serialisation with validation), bitmap.pxi (the Python API),
kernels.pxi (many-row loops for the engine's bulk paths).
"""
cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcmp, memcpy, memmove, memset

include "containers.pxi"
include "rb.pxi"
include "codec.pxi"
include "bitmap.pxi"
include "kernels.pxi"
