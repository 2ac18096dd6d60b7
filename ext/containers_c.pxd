# cython: language_level=3
"""Declarations of the C kernels in containers.h (as pyroaring declares CRoaring's).

Only ext/_roaring.pyx (through containers.pxi) cimports this: the header's functions are
static, so they exist in that one translation unit. Every one runs without the GIL.
"""
from libc.stdint cimport int32_t, int64_t, uint16_t, uint32_t, uint64_t


cdef extern from "containers.h":
    const uint64_t ALL_ONES "RB_ALL_ONES"
    const uint64_t KEY_LIMIT "RB_KEY_LIMIT"       # 2**48 keys
    int popcount64 "rb_popcount64"(uint64_t x) noexcept nogil
    int ctz64 "rb_ctz64"(uint64_t x) noexcept nogil
    int clz64 "rb_clz64"(uint64_t x) noexcept nogil
    enum:
        RBK_AND
        RBK_OR
        RBK_XOR
        RBK_ANDNOT
    void rbk_init() noexcept nogil
    int rbk_set_level(int level) noexcept nogil
    int32_t rbk_card(const uint64_t* w) noexcept nogil
    int32_t rbk_and_card(const uint64_t* a, const uint64_t* b) noexcept nogil
    int32_t rbk_op(const uint64_t* a, const uint64_t* b, uint64_t* out, int op) noexcept nogil
    int32_t rbk_array_and(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb,
                          uint16_t* out) noexcept nogil
    int32_t rbk_array_andnot(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb,
                             uint16_t* out) noexcept nogil
    void rbk_array_to_u64(const uint16_t* a, int32_t n, uint64_t high, uint64_t* out) noexcept nogil
    int32_t rbk_runs_to_u64(const uint16_t* r, int32_t n, int32_t card, uint64_t high,
                            uint64_t* out) noexcept nogil
    int32_t rbk_words_to_u64(const uint64_t* w, int32_t card, uint64_t high,
                             uint64_t* out) noexcept nogil
    int32_t rbk_words_to_u16(const uint64_t* w, int32_t card, uint16_t* out) noexcept nogil
    int32_t rbk_union16(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb, uint16_t* out) noexcept nogil
    int32_t rbk_xor16(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb, uint16_t* out) noexcept nogil
    void rbk_runs_or_words(const uint16_t* r, int32_t n, uint64_t* w) noexcept nogil
    int32_t rbk_lower_bound16(const uint16_t* a, int32_t n, uint16_t v) noexcept nogil
    int64_t rbk_lower_bound64(const uint64_t* a, int64_t n, uint64_t v) noexcept nogil
    int32_t rbk_lookup16(const uint16_t* a, int32_t n, uint16_t v) noexcept nogil
    int64_t rbk_lookup64(const uint64_t* a, int64_t n, uint64_t v) noexcept nogil
    void rbk_array_or_words(const uint16_t* a, int32_t n, uint64_t* w) noexcept nogil
    void rbk_array_andnot_words(const uint16_t* a, int32_t n, uint64_t* w) noexcept nogil
    void rbk_fill_seq16(uint16_t* out, uint32_t start, uint32_t n) noexcept nogil
    bint rbk_increasing16(const uint16_t* a, int32_t n) noexcept nogil
    int32_t rbk_words_and_to_u16(const uint64_t* w, const uint64_t* w2, int32_t card,
                                 uint16_t* out) noexcept nogil
