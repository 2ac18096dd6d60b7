# cython: language_level=3
"""C-level API of ext._roaring for kernels that loop over many bitmaps at C speed.

A bitmap (rb_t) is two parallel arrays sorted by key: `keys` holds the high 48 bits of the
values in each container, `cs` the containers holding the low 16 bits. Containers own a
single malloc'd buffer; there is no Python object per container.
"""
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

cdef enum:
    KIND_ARRAY = 1       # sorted uint16 values, card <= MAX_ARRAY
    KIND_BITSET = 2      # BITSET_WORDS uint64 words, card > MAX_ARRAY (after normalisation)
    KIND_RUN = 3         # n pairs (start, length - 1) of uint16, sorted, not touching
    MAX_ARRAY = 4096
    BITSET_WORDS = 1024

ctypedef struct container_t:
    void* data           # uint16_t* (array, run pairs) or uint64_t* (bitset); NULL when empty
    int32_t card         # number of values, 0..65536 (0 only transiently)
    int32_t n            # array: values used; run: runs used; bitset: unused
    int32_t cap          # array: value capacity; run: run capacity; bitset: unused
    uint8_t kind

ctypedef struct rb_t:
    uint64_t* keys       # strictly increasing high-48-bit keys
    container_t* cs      # cs[i] holds the low 16 bits of values whose high bits are keys[i]
    int64_t n
    int64_t cap

# --- containers -------------------------------------------------------------------------
cdef int c_copy(container_t* dst, const container_t* src) except -1 nogil
cdef void c_free(container_t* c) noexcept nogil
cdef bint c_contains(const container_t* c, uint16_t v) noexcept nogil
cdef int32_t c_and_card(const container_t* a, const container_t* b) noexcept nogil
cdef int c_and(const container_t* a, const container_t* b, container_t* out) except -1 nogil
cdef int c_or(const container_t* a, const container_t* b, container_t* out) except -1 nogil
cdef int c_xor(const container_t* a, const container_t* b, container_t* out) except -1 nogil
cdef int c_andnot(const container_t* a, const container_t* b, container_t* out) except -1 nogil
cdef void c_fill_words(const container_t* c, uint64_t* w) noexcept nogil
cdef void c_or_into_words(const container_t* c, uint64_t* w) noexcept nogil
cdef int32_t c_to_uint16(const container_t* c, uint16_t* out) noexcept nogil

# --- bitmaps ----------------------------------------------------------------------------
cdef int rb_init(rb_t* r, int64_t cap) except -1 nogil
cdef void rb_free(rb_t* r) noexcept nogil
cdef int rb_copy(rb_t* dst, const rb_t* src) except -1 nogil
cdef uint64_t rb_card(const rb_t* r) noexcept nogil
cdef int64_t rb_find(const rb_t* r, uint64_t key) noexcept nogil
cdef bint rb_contains(const rb_t* r, uint64_t v) noexcept nogil
cdef int rb_and(rb_t* out, const rb_t* a, const rb_t* b) except -1 nogil
cdef int rb_or(rb_t* out, const rb_t* a, const rb_t* b) except -1 nogil
cdef int rb_xor(rb_t* out, const rb_t* a, const rb_t* b) except -1 nogil
cdef int rb_andnot(rb_t* out, const rb_t* a, const rb_t* b) except -1 nogil
cdef uint64_t rb_and_card(const rb_t* a, const rb_t* b) noexcept nogil
cdef int rb_from_sorted(rb_t* out, const uint64_t* v, int64_t n) except -1 nogil
cdef int64_t rb_to_uint64(const rb_t* r, uint64_t* out) noexcept nogil

# FrozenBitmap and Bitmap (bitmap.pxi) are siblings: accept either as a BaseBitmap.
cdef class BaseBitmap:
    cdef rb_t rb
    cdef int pins            # > 0 while a GIL-free operation reads rb: mutation must wait
    cdef int _assign(self, object values) except -1
    cdef BaseBitmap _binop(self, object other, int op)
    cdef uint64_t _and_card(self, BaseBitmap o, uint64_t* card_self, uint64_t* card_o)
    cdef int _flip(self, object start, object end) except -1
    cdef Py_hash_t _hash(self) except -1

cdef class FrozenBitmap(BaseBitmap):
    cdef Py_hash_t hash_value
    cdef bint hashed
