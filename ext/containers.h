/* containers.h: the C kernels under ext/containers.pxi (roaring containers' word, array
   and search loops), declared for Cython in ext/containers_c.pxd.

   Header-only on purpose: every function is static and the header is included once, into
   the Cython module's translation unit (ext/_roaring.c), so the compiler can inline the
   small helpers (lookups, popcounts) into their Cython callers exactly as before.
   tests/ext/test_c_warnings.py compiles it alone with -Wall -Wextra -Werror.
   Nothing here touches Python: every function may run without the GIL. */
#ifndef ROARBASE_CONTAINERS_H
#define ROARBASE_CONTAINERS_H

/* ---- C kernels with runtime CPU dispatch -------------------------------------------
   Level 0: portable C (four independent popcount accumulators, branch-free merges).
   Level 1: x86-64 with SSSE3 (8x8 block compares for sorted arrays).
   Level 2: AVX2 (Harley-Seal popcount; 8x8 all-pairs array compares; vectorised
            export loops).
   Level 3: AVX-512 F, BW, VL, VBMI2 and VPOPCNTDQ (vector popcount for bitsets,
            16x16 array compares, compress-based bitset extraction, counted lookups).
   The level is chosen once at import with __builtin_cpu_supports (which also checks
   that the OS saves the vector state); nothing is compiled for the host CPU, so the
   build runs on any x86-64, and other architectures get level 0 only.
   Every vector load reads whole 1024-word bitsets, array blocks known to exist, or
   (masked) only the elements of a window; every store stays inside the caller's
   buffer, as argued at each kernel. */
#include <stdint.h>
#include <string.h>
#if !defined(RBK_NO_SIMD) && defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && \
    ((defined(__clang__) && __clang_major__ >= 8) || (!defined(__clang__) && __GNUC__ >= 8))
#  define RBK_X86 1
#  include <immintrin.h>
#else
#  define RBK_X86 0
#endif

#define RBK_WORDS 1024
enum { RBK_CARD = 0, RBK_AND = 1, RBK_OR = 2, RBK_XOR = 3, RBK_ANDNOT = 4 };

static int rbk_level = -1;        /* chosen once at import (rbk_init); tests may lower it */
static int rbk_best_level = 0;

/* -- portable ------------------------------------------------------------------------ */
static inline __attribute__((always_inline)) uint64_t
rbk_word(const uint64_t* a, const uint64_t* b, size_t i, const int op) {
    switch (op) {
    case RBK_AND: return a[i] & b[i];
    case RBK_OR: return a[i] | b[i];
    case RBK_XOR: return a[i] ^ b[i];
    case RBK_ANDNOT: return a[i] & ~b[i];
    default: return a[i];
    }
}

static inline __attribute__((always_inline)) int32_t
rbk_words_scalar(const uint64_t* a, const uint64_t* b, uint64_t* out, const int op) {
    uint64_t c0 = 0, c1 = 0, c2 = 0, c3 = 0, x0, x1, x2, x3;
    size_t i;
    for (i = 0; i < RBK_WORDS; i += 4) {
        x0 = rbk_word(a, b, i, op);
        x1 = rbk_word(a, b, i + 1, op);
        x2 = rbk_word(a, b, i + 2, op);
        x3 = rbk_word(a, b, i + 3, op);
        if (out) { out[i] = x0; out[i + 1] = x1; out[i + 2] = x2; out[i + 3] = x3; }
        c0 += (uint64_t)__builtin_popcountll(x0);
        c1 += (uint64_t)__builtin_popcountll(x1);
        c2 += (uint64_t)__builtin_popcountll(x2);
        c3 += (uint64_t)__builtin_popcountll(x3);
    }
    return (int32_t)(c0 + c1 + c2 + c3);
}

/* Sorted-array merges (scalar, branch-free steps). out, when not NULL, has room for
   min(na, nb) values (intersection) or na values (difference). */
static int32_t rbk_array_and_scalar(const uint16_t* a, int32_t na, const uint16_t* b,
                                    int32_t nb, uint16_t* out) {
    int32_t i = 0, j = 0, k = 0;
    uint16_t x, y;
    if (out) {
        while (i < na && j < nb) {
            x = a[i]; y = b[j];
            if (x == y) out[k++] = x;    /* writes only matches: k stays <= cap */
            i += x <= y;
            j += y <= x;
        }
    } else {
        while (i < na && j < nb) {
            x = a[i]; y = b[j];
            k += x == y;
            i += x <= y;
            j += y <= x;
        }
    }
    return k;
}

static int32_t rbk_array_andnot_scalar(const uint16_t* a, int32_t na, const uint16_t* b,
                                       int32_t nb, uint16_t* out) {
    int32_t i = 0, j = 0, k = 0;
    uint16_t x, y;
    while (i < na && j < nb) {
        x = a[i]; y = b[j];
        out[k] = x;                      /* k <= i < na */
        k += x < y;
        i += x <= y;
        j += y <= x;
    }
    if (i < na) {
        memcpy(out + k, a + i, (size_t)(na - i) * 2);
        k += na - i;
    }
    return k;
}

#define RBK_SMALL_ARRAYS 256      /* na + nb up to this use the branchy kernels */

/* Branchy scalar merges: the small-array path (also the remainders of the small
   SIMD kernels). */
static inline int32_t rbk_scalarb_card(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb) {
    int32_t i = 0, j = 0, k = 0;
    while (i < na && j < nb) {
        if (a[i] < b[j]) i++;
        else if (b[j] < a[i]) j++;
        else { k++; i++; j++; }
    }
    return k;
}
static inline int32_t rbk_scalarb_and(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb,
                                      uint16_t* out, int32_t cap) {
    int32_t i = 0, j = 0, k = 0;
    (void)cap;
    while (i < na && j < nb) {
        if (a[i] < b[j]) i++;
        else if (b[j] < a[i]) j++;
        else { out[k++] = a[i]; i++; j++; }
    }
    return k;
}
static inline int32_t rbk_scalarb_andnot(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb,
                                         uint16_t* out) {
    int32_t i, j = 0, k = 0;
    for (i = 0; i < na; i++) {
        while (j < nb && b[j] < a[i]) j++;
        if (j < nb && b[j] == a[i]) continue;
        out[k++] = a[i];
    }
    return k;
}
#if RBK_X86
/* pshufb controls that move the 16-bit lanes selected by an 8-bit mask to the front */
static uint8_t rbk_pack16[256][16];

static void rbk_init_tables(void) {
    int m, bit, k;
    for (m = 0; m < 256; m++) {
        k = 0;
        for (bit = 0; bit < 8; bit++) {
            if ((m >> bit) & 1) {
                rbk_pack16[m][2 * k] = (uint8_t)(2 * bit);
                rbk_pack16[m][2 * k + 1] = (uint8_t)(2 * bit + 1);
                k++;
            }
        }
        for (; k < 8; k++) {
            rbk_pack16[m][2 * k] = 0x80;
            rbk_pack16[m][2 * k + 1] = 0x80;
        }
    }
}

/* -- AVX-512 popcount ---------------------------------------------------------------- */
static inline __attribute__((always_inline, target("avx512f,avx512vpopcntdq"))) __m512i
rbk_v512(const uint64_t* a, const uint64_t* b, uint64_t* out, size_t i, const int op) {
    __m512i x = _mm512_loadu_si512((const void*)(a + i)), y;
    if (op != RBK_CARD) {
        y = _mm512_loadu_si512((const void*)(b + i));
        switch (op) {
        case RBK_AND: x = _mm512_and_si512(x, y); break;
        case RBK_OR: x = _mm512_or_si512(x, y); break;
        case RBK_XOR: x = _mm512_xor_si512(x, y); break;
        default: x = _mm512_andnot_si512(y, x); break;
        }
    }
    if (out) _mm512_storeu_si512((void*)(out + i), x);
    return _mm512_popcnt_epi64(x);
}

static inline __attribute__((always_inline, target("avx512f,avx512vpopcntdq"))) int32_t
rbk_words_avx512(const uint64_t* a, const uint64_t* b, uint64_t* out, const int op) {
    __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
    __m512i s2 = _mm512_setzero_si512(), s3 = _mm512_setzero_si512();
    size_t i;
    for (i = 0; i < RBK_WORDS; i += 32) {
        s0 = _mm512_add_epi64(s0, rbk_v512(a, b, out, i, op));
        s1 = _mm512_add_epi64(s1, rbk_v512(a, b, out, i + 8, op));
        s2 = _mm512_add_epi64(s2, rbk_v512(a, b, out, i + 16, op));
        s3 = _mm512_add_epi64(s3, rbk_v512(a, b, out, i + 24, op));
    }
    s0 = _mm512_add_epi64(_mm512_add_epi64(s0, s1), _mm512_add_epi64(s2, s3));
    return (int32_t)_mm512_reduce_add_epi64(s0);
}

/* -- AVX2 Harley-Seal popcount ------------------------------------------------------- */
static inline __attribute__((always_inline, target("avx2"))) __m256i
rbk_pc256(__m256i v) {
    /* per-byte counts by nibble lookup, summed per 64-bit lane */
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256i lo = _mm256_and_si256(v, low);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    __m256i cnt = _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
    return _mm256_sad_epu8(cnt, _mm256_setzero_si256());
}

static inline __attribute__((always_inline, target("avx2"))) __m256i
rbk_v256(const uint64_t* a, const uint64_t* b, uint64_t* out, size_t i, const int op) {
    __m256i x = _mm256_loadu_si256((const __m256i*)(a + i)), y;
    if (op != RBK_CARD) {
        y = _mm256_loadu_si256((const __m256i*)(b + i));
        switch (op) {
        case RBK_AND: x = _mm256_and_si256(x, y); break;
        case RBK_OR: x = _mm256_or_si256(x, y); break;
        case RBK_XOR: x = _mm256_xor_si256(x, y); break;
        default: x = _mm256_andnot_si256(y, x); break;
        }
    }
    if (out) _mm256_storeu_si256((__m256i*)(out + i), x);
    return x;
}

/* carry-save adder: (h, l) = the two-bit sums of a + b + c, bit by bit */
#define RBK_CSA(h, l, a, b, c) do {                                                  \
        __m256i a_ = (a), b_ = (b), c_ = (c), u_ = _mm256_xor_si256(a_, b_);        \
        (h) = _mm256_or_si256(_mm256_and_si256(a_, b_), _mm256_and_si256(u_, c_));  \
        (l) = _mm256_xor_si256(u_, c_);                                             \
    } while (0)

static inline __attribute__((always_inline, target("avx2"))) int32_t
rbk_words_avx2(const uint64_t* a, const uint64_t* b, uint64_t* out, const int op) {
    __m256i total = _mm256_setzero_si256(), ones = _mm256_setzero_si256();
    __m256i twos = _mm256_setzero_si256(), fours = _mm256_setzero_si256();
    __m256i eights = _mm256_setzero_si256(), sixteens;
    __m256i twosA, twosB, foursA, foursB, eightsA, eightsB;
    uint64_t lanes[4];
    size_t i;
    for (i = 0; i < RBK_WORDS; i += 64) {            /* 16 vectors of 4 words */
        RBK_CSA(twosA, ones, ones, rbk_v256(a, b, out, i, op), rbk_v256(a, b, out, i + 4, op));
        RBK_CSA(twosB, ones, ones, rbk_v256(a, b, out, i + 8, op), rbk_v256(a, b, out, i + 12, op));
        RBK_CSA(foursA, twos, twos, twosA, twosB);
        RBK_CSA(twosA, ones, ones, rbk_v256(a, b, out, i + 16, op), rbk_v256(a, b, out, i + 20, op));
        RBK_CSA(twosB, ones, ones, rbk_v256(a, b, out, i + 24, op), rbk_v256(a, b, out, i + 28, op));
        RBK_CSA(foursB, twos, twos, twosA, twosB);
        RBK_CSA(eightsA, fours, fours, foursA, foursB);
        RBK_CSA(twosA, ones, ones, rbk_v256(a, b, out, i + 32, op), rbk_v256(a, b, out, i + 36, op));
        RBK_CSA(twosB, ones, ones, rbk_v256(a, b, out, i + 40, op), rbk_v256(a, b, out, i + 44, op));
        RBK_CSA(foursA, twos, twos, twosA, twosB);
        RBK_CSA(twosA, ones, ones, rbk_v256(a, b, out, i + 48, op), rbk_v256(a, b, out, i + 52, op));
        RBK_CSA(twosB, ones, ones, rbk_v256(a, b, out, i + 56, op), rbk_v256(a, b, out, i + 60, op));
        RBK_CSA(foursB, twos, twos, twosA, twosB);
        RBK_CSA(eightsB, fours, fours, foursA, foursB);
        RBK_CSA(sixteens, eights, eights, eightsA, eightsB);
        total = _mm256_add_epi64(total, rbk_pc256(sixteens));
    }
    total = _mm256_slli_epi64(total, 4);
    total = _mm256_add_epi64(total, _mm256_slli_epi64(rbk_pc256(eights), 3));
    total = _mm256_add_epi64(total, _mm256_slli_epi64(rbk_pc256(fours), 2));
    total = _mm256_add_epi64(total, _mm256_slli_epi64(rbk_pc256(twos), 1));
    total = _mm256_add_epi64(total, rbk_pc256(ones));
    _mm256_storeu_si256((__m256i*)lanes, total);
    return (int32_t)(lanes[0] + lanes[1] + lanes[2] + lanes[3]);
}

/* -- sorted uint16 arrays: all-pairs block compares ----------------------------------
   A match function returns a lane mask: bit t is set when lane t of va equals some
   lane of vb. 8x8 blocks with SSSE3 or AVX2, 16x16 blocks with AVX-512BW. */
static inline __attribute__((always_inline, target("ssse3"))) unsigned
rbk_match_sse(__m128i va, __m128i vb) {
    __m128i m = _mm_cmpeq_epi16(va, vb);
    m = _mm_or_si128(m, _mm_cmpeq_epi16(va, _mm_alignr_epi8(vb, vb, 2)));
    m = _mm_or_si128(m, _mm_cmpeq_epi16(va, _mm_alignr_epi8(vb, vb, 4)));
    m = _mm_or_si128(m, _mm_cmpeq_epi16(va, _mm_alignr_epi8(vb, vb, 6)));
    m = _mm_or_si128(m, _mm_cmpeq_epi16(va, _mm_alignr_epi8(vb, vb, 8)));
    m = _mm_or_si128(m, _mm_cmpeq_epi16(va, _mm_alignr_epi8(vb, vb, 10)));
    m = _mm_or_si128(m, _mm_cmpeq_epi16(va, _mm_alignr_epi8(vb, vb, 12)));
    m = _mm_or_si128(m, _mm_cmpeq_epi16(va, _mm_alignr_epi8(vb, vb, 14)));
    return (unsigned)_mm_movemask_epi8(_mm_packs_epi16(m, _mm_setzero_si128()));
}

static inline __attribute__((always_inline, target("avx2"))) unsigned
rbk_match_avx2(__m128i va, __m128i vb) {
    /* lane 0 of B holds vb, lane 1 vb rotated by four values; four in-lane rotations
       then cover all eight rotations */
    __m256i A = _mm256_broadcastsi128_si256(va);
    __m256i B = _mm256_inserti128_si256(_mm256_castsi128_si256(vb), _mm_alignr_epi8(vb, vb, 8), 1);
    __m256i m = _mm256_cmpeq_epi16(A, B);
    __m128i m2;
    m = _mm256_or_si256(m, _mm256_cmpeq_epi16(A, _mm256_alignr_epi8(B, B, 2)));
    m = _mm256_or_si256(m, _mm256_cmpeq_epi16(A, _mm256_alignr_epi8(B, B, 4)));
    m = _mm256_or_si256(m, _mm256_cmpeq_epi16(A, _mm256_alignr_epi8(B, B, 6)));
    m2 = _mm_or_si128(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
    return (unsigned)_mm_movemask_epi8(_mm_packs_epi16(m2, _mm_setzero_si128()));
}

#define RBK_AVX512_ARRAYS "avx512f,avx512bw,avx512vl,avx512vbmi2,popcnt"

static inline __attribute__((always_inline, target(RBK_AVX512_ARRAYS))) unsigned
rbk_match_avx512(__m256i va, __m256i vb) {
    /* 128-bit lanes: A = [a_lo, a_hi, a_lo, a_hi], B = [b_lo, b_hi, b_hi, b_lo]; the
       eight in-lane rotations of B meet every (a, b) pair in one of the four lanes */
    __m512i A = _mm512_broadcast_i64x4(va);
    __m512i B = _mm512_inserti64x4(_mm512_castsi256_si512(vb), _mm256_permute4x64_epi64(vb, 0x4E), 1);
    __mmask32 m = _mm512_cmpeq_epi16_mask(A, B);
    m |= _mm512_cmpeq_epi16_mask(A, _mm512_alignr_epi8(B, B, 2));
    m |= _mm512_cmpeq_epi16_mask(A, _mm512_alignr_epi8(B, B, 4));
    m |= _mm512_cmpeq_epi16_mask(A, _mm512_alignr_epi8(B, B, 6));
    m |= _mm512_cmpeq_epi16_mask(A, _mm512_alignr_epi8(B, B, 8));
    m |= _mm512_cmpeq_epi16_mask(A, _mm512_alignr_epi8(B, B, 10));
    m |= _mm512_cmpeq_epi16_mask(A, _mm512_alignr_epi8(B, B, 12));
    m |= _mm512_cmpeq_epi16_mask(A, _mm512_alignr_epi8(B, B, 14));
    return (unsigned)((m | (m >> 16)) & 0xFFFFu);
}

#define RBK_LD128(p) _mm_loadu_si128((const __m128i*)(p))
#define RBK_ST128(p, v) _mm_storeu_si128((__m128i*)(p), (v))
#define RBK_PACK8(v, m) _mm_shuffle_epi8((v), _mm_loadu_si128((const __m128i*)rbk_pack16[(m)]))
#define RBK_LD256(p) _mm256_loadu_si256((const __m256i*)(p))
#define RBK_ST256(p, v) _mm256_storeu_si256((__m256i*)(p), (v))
#define RBK_PACK16(v, m) _mm256_maskz_compress_epi16((__mmask16)(m), (v))

/* Three kernels per instruction set, on blocks of W values from each side.

   Intersection: the block with the smaller last value moves on (both on a tie). A
   common value is found exactly once: the two blocks holding its copies are current
   together at some step, and no other pair of blocks contains both. When the loop
   stops, the current pair has not been compared yet, so the scalar merge of the two
   remainders neither misses nor repeats a value. All loads read W values at i + W <= na
   or j + W <= nb. Stores write W lanes at out + k only while k + W <= cap; otherwise
   the c found values go through a local buffer (k + c never exceeds the true size).

   Difference a - b: `found` collects the current a block's matches over the b blocks
   it meets; when the a block is done its unmatched lanes are written. k <= i always,
   so the W-lane store at out + k ends at or before na (out has room for na values).
   Earlier b blocks cannot hold a value of the current a block or of later ones (they
   ended below an earlier a block's last value), so the remainders start at j. They go
   to TAIL, the next narrower kernel (scalar after 8 lanes, 8 lanes after 16). */
#define RBK_ARRAY_KERNELS(SFX, TARGET, W, VEC, LOAD, STORE, MATCH, PACK, TAIL)          \
static __attribute__((target(TARGET))) int32_t                                         \
rbk_arr_and_card_##SFX(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb) {     \
    int32_t i = 0, j = 0, k = 0;                                                       \
    uint16_t amax, bmax;                                                               \
    if (na >= W && nb >= W) {                                                          \
        for (;;) {                                                                     \
            k += __builtin_popcount(MATCH(LOAD(a + i), LOAD(b + j)));                  \
            amax = a[i + W - 1];                                                       \
            bmax = b[j + W - 1];                                                       \
            i += amax <= bmax ? W : 0;                                                 \
            j += bmax <= amax ? W : 0;                                                 \
            if (i + W > na || j + W > nb) break;                                       \
        }                                                                              \
    }                                                                                  \
    return k + TAIL##_card(a + i, na - i, b + j, nb - j);                             \
}                                                                                      \
static __attribute__((target(TARGET))) int32_t                                         \
rbk_arr_and_##SFX(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb,            \
              uint16_t* out, int32_t cap) {                                            \
    int32_t i = 0, j = 0, k = 0, c;                                                    \
    uint16_t amax, bmax, tmp[W];                                                       \
    VEC va, packed;                                                                    \
    unsigned m;                                                                        \
    if (na >= W && nb >= W) {                                                          \
        for (;;) {                                                                     \
            va = LOAD(a + i);                                                          \
            m = MATCH(va, LOAD(b + j));                                                \
            amax = a[i + W - 1];                                                       \
            bmax = b[j + W - 1];                                                       \
            c = __builtin_popcount(m);                                                 \
            packed = PACK(va, m);                                                      \
            if (k + W <= cap) {                                                        \
                STORE(out + k, packed);                                                \
            } else {                                                                   \
                STORE(tmp, packed);                                                    \
                memcpy(out + k, tmp, (size_t)c * 2);                                   \
            }                                                                          \
            k += c;                                                                    \
            i += amax <= bmax ? W : 0;                                                 \
            j += bmax <= amax ? W : 0;                                                 \
            if (i + W > na || j + W > nb) break;                                       \
        }                                                                              \
    }                                                                                  \
    return k + TAIL##_and(a + i, na - i, b + j, nb - j, out + k, cap - k);             \
}                                                                                      \
static __attribute__((target(TARGET))) int32_t                                         \
rbk_arr_andnot_##SFX(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb,         \
                 uint16_t* out) {                                                      \
    int32_t i = 0, j = 0, k = 0, t;                                                    \
    uint16_t amax, bmax, x;                                                            \
    VEC va;                                                                            \
    unsigned found = 0, keep, adv;                                                     \
    if (na >= W && nb >= W) {                                                          \
        for (;;) {                                                                     \
            va = LOAD(a + i);                                                          \
            found |= MATCH(va, LOAD(b + j));                                           \
            amax = a[i + W - 1];                                                       \
            bmax = b[j + W - 1];                                                       \
            adv = amax <= bmax;                                                        \
            keep = adv ? (~found & ((1u << W) - 1u)) : 0u;                             \
            STORE(out + k, PACK(va, keep));                                            \
            k += __builtin_popcount(keep);                                             \
            found = adv ? 0u : found;                                                  \
            i += adv ? W : 0;                                                          \
            j += bmax <= amax ? W : 0;                                                 \
            if (i + W > na || j + W > nb) break;                                       \
        }                                                                              \
    }                                                                                  \
    if (found) {            /* finish the current a block: its lanes not yet found */ \
        for (t = 0; t < W; t++) {                                                      \
            if ((found >> t) & 1u) continue;                                           \
            x = a[i + t];                                                              \
            while (j < nb && b[j] < x) j++;                                            \
            if (j < nb && b[j] == x) continue;                                         \
            out[k++] = x;                                                              \
        }                                                                              \
        i += W;                                                                        \
    }                                                                                  \
    return k + TAIL##_andnot(a + i, na - i, b + j, nb - j, out + k);                  \
}

/* the remainders after a wide loop go to the next narrower kernel */
static inline int32_t rbk_scalar_card(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb) {
    return rbk_array_and_scalar(a, na, b, nb, NULL);
}
static inline int32_t rbk_scalar_and(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb,
                                     uint16_t* out, int32_t cap) {
    (void)cap;
    return rbk_array_and_scalar(a, na, b, nb, out);
}
static inline int32_t rbk_scalar_andnot(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb,
                                        uint16_t* out) {
    return rbk_array_andnot_scalar(a, na, b, nb, out);
}
RBK_ARRAY_KERNELS(sse, "ssse3,popcnt", 8, __m128i, RBK_LD128, RBK_ST128, rbk_match_sse, RBK_PACK8, rbk_scalar)
RBK_ARRAY_KERNELS(avx2, "avx2,popcnt", 8, __m128i, RBK_LD128, RBK_ST128, rbk_match_avx2, RBK_PACK8, rbk_scalar)
/* Small arrays: the same block merges with branches instead of selects. They load a
   block only when it moves on; when a small intersection is repeated the branch
   predictor learns its pattern, and for short inputs that beats the select chain.
   The loop may stop with one side's advance not yet applied: the current pair of
   blocks is then still uncompared, which is all the remainder step needs. */
#define RBK_ARRAY_KERNELS_BRANCHY(SFX, TARGET, W, VEC, LOAD, STORE, MATCH, PACK, TAIL)  \
static __attribute__((target(TARGET))) int32_t                                         \
rbk_arrb_and_card_##SFX(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb) { \
    int32_t i = 0, j = 0, k = 0, adva, advb;                                           \
    uint16_t amax, bmax;                                                               \
    VEC va, vb;                                                                        \
    if (na >= W && nb >= W) {                                                          \
        va = LOAD(a); vb = LOAD(b); amax = a[W - 1]; bmax = b[W - 1];                  \
        for (;;) {                                                                     \
            k += __builtin_popcount(MATCH(va, vb));                                    \
            adva = amax <= bmax;                                                       \
            advb = bmax <= amax;                                                       \
            if (adva) {                                                                \
                i += W;                                                                \
                if (i + W > na) break;                                                 \
                va = LOAD(a + i); amax = a[i + W - 1];                                 \
            }                                                                          \
            if (advb) {                                                                \
                j += W;                                                                \
                if (j + W > nb) break;                                                 \
                vb = LOAD(b + j); bmax = b[j + W - 1];                                 \
            }                                                                          \
        }                                                                              \
    }                                                                                  \
    return k + TAIL##_card(a + i, na - i, b + j, nb - j);                             \
}                                                                                      \
static __attribute__((target(TARGET))) int32_t                                         \
rbk_arrb_and_##SFX(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb,       \
                   uint16_t* out, int32_t cap) {                                       \
    int32_t i = 0, j = 0, k = 0, c, adva, advb;                                        \
    uint16_t amax, bmax, tmp[W];                                                       \
    VEC va, vb, packed;                                                                \
    unsigned m;                                                                        \
    if (na >= W && nb >= W) {                                                          \
        va = LOAD(a); vb = LOAD(b); amax = a[W - 1]; bmax = b[W - 1];                  \
        for (;;) {                                                                     \
            m = MATCH(va, vb);                                                         \
            if (m) {                                                                   \
                c = __builtin_popcount(m);                                             \
                packed = PACK(va, m);                                                  \
                if (k + W <= cap) {                                                    \
                    STORE(out + k, packed);                                            \
                } else {                                                               \
                    STORE(tmp, packed);                                                \
                    memcpy(out + k, tmp, (size_t)c * 2);                               \
                }                                                                      \
                k += c;                                                                \
            }                                                                          \
            adva = amax <= bmax;                                                       \
            advb = bmax <= amax;                                                       \
            if (adva) {                                                                \
                i += W;                                                                \
                if (i + W > na) break;                                                 \
                va = LOAD(a + i); amax = a[i + W - 1];                                 \
            }                                                                          \
            if (advb) {                                                                \
                j += W;                                                                \
                if (j + W > nb) break;                                                 \
                vb = LOAD(b + j); bmax = b[j + W - 1];                                 \
            }                                                                          \
        }                                                                              \
    }                                                                                  \
    return k + TAIL##_and(a + i, na - i, b + j, nb - j, out + k, cap - k);             \
}                                                                                      \
static __attribute__((target(TARGET))) int32_t                                         \
rbk_arrb_andnot_##SFX(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb,    \
                      uint16_t* out) {                                                 \
    int32_t i = 0, j = 0, k = 0, t, adva, advb;                                        \
    uint16_t amax, bmax, x;                                                            \
    VEC va, vb;                                                                        \
    unsigned found = 0, keep;                                                          \
    if (na >= W && nb >= W) {                                                          \
        va = LOAD(a); vb = LOAD(b); amax = a[W - 1]; bmax = b[W - 1];                  \
        for (;;) {                                                                     \
            found |= MATCH(va, vb);                                                    \
            adva = amax <= bmax;                                                       \
            advb = bmax <= amax;                                                       \
            if (adva) {                  /* k <= i and i + W <= na: store in bounds */ \
                keep = ~found & ((1u << W) - 1u);                                      \
                STORE(out + k, PACK(va, keep));                                        \
                k += __builtin_popcount(keep);                                         \
                found = 0;                                                             \
                i += W;                                                                \
                if (i + W > na) break;                                                 \
                va = LOAD(a + i); amax = a[i + W - 1];                                 \
            }                                                                          \
            if (advb) {                                                                \
                j += W;                                                                \
                if (j + W > nb) break;                                                 \
                vb = LOAD(b + j); bmax = b[j + W - 1];                                 \
            }                                                                          \
        }                                                                              \
    }                                                                                  \
    if (found) {                                                                       \
        for (t = 0; t < W; t++) {                                                      \
            if ((found >> t) & 1u) continue;                                           \
            x = a[i + t];                                                              \
            while (j < nb && b[j] < x) j++;                                            \
            if (j < nb && b[j] == x) continue;                                         \
            out[k++] = x;                                                              \
        }                                                                              \
        i += W;                                                                        \
    }                                                                                  \
    return k + TAIL##_andnot(a + i, na - i, b + j, nb - j, out + k);                  \
}

RBK_ARRAY_KERNELS_BRANCHY(sse, "ssse3,popcnt", 8, __m128i, RBK_LD128, RBK_ST128, rbk_match_sse, RBK_PACK8, rbk_scalarb)
RBK_ARRAY_KERNELS_BRANCHY(avx2, "avx2,popcnt", 8, __m128i, RBK_LD128, RBK_ST128, rbk_match_avx2, RBK_PACK8, rbk_scalarb)

static inline int32_t rbk_arr_avx2_card(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb) {
    return rbk_arr_and_card_avx2(a, na, b, nb);
}
static inline int32_t rbk_arr_avx2_and(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb,
                                       uint16_t* out, int32_t cap) {
    return rbk_arr_and_avx2(a, na, b, nb, out, cap);
}
static inline int32_t rbk_arr_avx2_andnot(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb,
                                          uint16_t* out) {
    return rbk_arr_andnot_avx2(a, na, b, nb, out);
}
RBK_ARRAY_KERNELS(avx512, RBK_AVX512_ARRAYS, 16, __m256i, RBK_LD256, RBK_ST256, rbk_match_avx512, RBK_PACK16, rbk_arr_avx2)

static __attribute__((target("avx512f,avx512vpopcntdq"))) int32_t
rbk_card_avx512(const uint64_t* a) { return rbk_words_avx512(a, NULL, NULL, RBK_CARD); }
static __attribute__((target("avx512f,avx512vpopcntdq"))) int32_t
rbk_and_card_avx512(const uint64_t* a, const uint64_t* b) { return rbk_words_avx512(a, b, NULL, RBK_AND); }
static __attribute__((target("avx512f,avx512vpopcntdq"))) int32_t
rbk_op_avx512(const uint64_t* a, const uint64_t* b, uint64_t* out, int op) {
    switch (op) {
    case RBK_AND: return rbk_words_avx512(a, b, out, RBK_AND);
    case RBK_OR: return rbk_words_avx512(a, b, out, RBK_OR);
    case RBK_XOR: return rbk_words_avx512(a, b, out, RBK_XOR);
    default: return rbk_words_avx512(a, b, out, RBK_ANDNOT);
    }
}
static __attribute__((target("avx2"))) int32_t
rbk_card_avx2(const uint64_t* a) { return rbk_words_avx2(a, NULL, NULL, RBK_CARD); }
static __attribute__((target("avx2"))) int32_t
rbk_and_card_avx2(const uint64_t* a, const uint64_t* b) { return rbk_words_avx2(a, b, NULL, RBK_AND); }
static __attribute__((target("avx2"))) int32_t
rbk_op_avx2(const uint64_t* a, const uint64_t* b, uint64_t* out, int op) {
    switch (op) {
    case RBK_AND: return rbk_words_avx2(a, b, out, RBK_AND);
    case RBK_OR: return rbk_words_avx2(a, b, out, RBK_OR);
    case RBK_XOR: return rbk_words_avx2(a, b, out, RBK_XOR);
    default: return rbk_words_avx2(a, b, out, RBK_ANDNOT);
    }
}
#endif /* RBK_X86 */

static int32_t rbk_card_scalar(const uint64_t* a) { return rbk_words_scalar(a, NULL, NULL, RBK_CARD); }
static int32_t rbk_and_card_scalar(const uint64_t* a, const uint64_t* b) { return rbk_words_scalar(a, b, NULL, RBK_AND); }
static int32_t rbk_op_scalar(const uint64_t* a, const uint64_t* b, uint64_t* out, int op) {
    switch (op) {
    case RBK_AND: return rbk_words_scalar(a, b, out, RBK_AND);
    case RBK_OR: return rbk_words_scalar(a, b, out, RBK_OR);
    case RBK_XOR: return rbk_words_scalar(a, b, out, RBK_XOR);
    default: return rbk_words_scalar(a, b, out, RBK_ANDNOT);
    }
}

/* -- sorted-array union ------------------------------------------------------------
   Scalar: a branch-free merge (the smaller head is written; the side(s) it came from
   advance by the comparison results, no jumps). SSE4.1: 8-lane blocks merged with a
   bitonic min/max network (the smallest 8 of two sorted blocks come out sorted), taking
   the next block from whichever array has the smaller head, so every block written is
   no larger than anything still to come; duplicates are dropped by comparing each
   block with itself shifted one lane (lane 0 against the last value written) and
   packing the kept lanes with rbk_pack16. The tail (fewer than 8 left on one side)
   is a three-way scalar merge. `out` needs room for na + nb + 8 values: a block store
   writes 8 lanes wherever the result ends. */
static int32_t rbk_union16_scalar(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb,
                                  uint16_t* out) {
    int32_t i = 0, j = 0, k = 0;
    while (i < na && j < nb) {
        uint16_t x = a[i], y = b[j];
        out[k++] = x < y ? x : y;
        i += x <= y;
        j += y <= x;
    }
    if (i < na) { memcpy(out + k, a + i, (size_t)(na - i) * 2); k += na - i; }
    if (j < nb) { memcpy(out + k, b + j, (size_t)(nb - j) * 2); k += nb - j; }
    return k;
}

#if RBK_X86
static inline __attribute__((always_inline, target("sse4.1,ssse3"))) __m128i
rbk_bitonic8(__m128i v) {
    __m128i y, lo, hi;
    y = _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2));                 /* lanes i <-> i+4 */
    lo = _mm_min_epu16(v, y); hi = _mm_max_epu16(v, y);
    v = _mm_blend_epi16(lo, hi, 0xF0);
    y = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1));                 /* lanes i <-> i+2 */
    lo = _mm_min_epu16(v, y); hi = _mm_max_epu16(v, y);
    v = _mm_blend_epi16(lo, hi, 0xCC);
    y = _mm_shufflehi_epi16(_mm_shufflelo_epi16(v, 0xB1), 0xB1);       /* lanes i <-> i+1 */
    lo = _mm_min_epu16(v, y); hi = _mm_max_epu16(v, y);
    return _mm_blend_epi16(lo, hi, 0xAA);
}

/* two sorted blocks in, the 8 smallest (sorted) in *lo and the 8 largest (sorted) in *hi */
static inline __attribute__((always_inline, target("sse4.1,ssse3"))) void
rbk_merge8(__m128i* lo, __m128i* hi) {
    const __m128i rev = _mm_setr_epi8(14, 15, 12, 13, 10, 11, 8, 9, 6, 7, 4, 5, 2, 3, 0, 1);
    __m128i r = _mm_shuffle_epi8(*hi, rev);        /* ascending min descending: bitonic */
    __m128i l = _mm_min_epu16(*lo, r), h = _mm_max_epu16(*lo, r);
    *lo = rbk_bitonic8(l);
    *hi = rbk_bitonic8(h);
}

/* write the lanes of sorted block v that differ from their predecessor (lane 7 of
   *last for lane 0); returns how many */
static inline __attribute__((always_inline, target("sse4.1,ssse3"))) int32_t
rbk_emit_unique8(__m128i v, __m128i* last, uint16_t* out) {
    __m128i prev = _mm_alignr_epi8(v, *last, 14);
    __m128i same = _mm_cmpeq_epi16(v, prev);
    unsigned keep = (unsigned)_mm_movemask_epi8(_mm_packs_epi16(same, _mm_setzero_si128())) ^ 0xFFu;
    _mm_storeu_si128((__m128i*)out, _mm_shuffle_epi8(v, _mm_loadu_si128((const __m128i*)rbk_pack16[keep])));
    *last = v;
    return __builtin_popcount(keep);
}

static __attribute__((target("sse4.1,ssse3"))) int32_t
rbk_union16_sse41(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb, uint16_t* out) {
    int32_t i = 8, j = 8, k = 0;
    uint32_t lastv, x, y, z, m;
    uint16_t rest[8];
    int32_t r = 0;
    __m128i lo, hi, last;
    if (na < 8 || nb < 8) return rbk_union16_scalar(a, na, b, nb, out);
    lo = _mm_loadu_si128((const __m128i*)a);
    hi = _mm_loadu_si128((const __m128i*)b);
    last = _mm_set1_epi16((short)((a[0] < b[0] ? a[0] : b[0]) ^ 1));   /* differs from the first value */
    rbk_merge8(&lo, &hi);
    k += rbk_emit_unique8(lo, &last, out + k);
    while (i + 8 <= na && j + 8 <= nb) {
        if (a[i] <= b[j]) { lo = _mm_loadu_si128((const __m128i*)(a + i)); i += 8; }
        else { lo = _mm_loadu_si128((const __m128i*)(b + j)); j += 8; }
        rbk_merge8(&lo, &hi);
        k += rbk_emit_unique8(lo, &last, out + k);
    }
    /* tail: the 8 values of hi, a[i..], b[j..]; everything written is <= all of them */
    lastv = (uint32_t)_mm_extract_epi16(last, 7);
    _mm_storeu_si128((__m128i*)rest, hi);
    for (;;) {
        x = r < 8 ? rest[r] : 0x10000u;
        y = i < na ? a[i] : 0x10000u;
        z = j < nb ? b[j] : 0x10000u;
        m = x < y ? x : y;
        m = m < z ? m : z;
        if (m == 0x10000u) break;
        r += x == m; i += y == m; j += z == m;
        out[k] = (uint16_t)m;
        k += m != lastv;
        lastv = m;
    }
    return k;
}

/* a xor b with the union's block merge: in the merged stream a value common to both
   arrays appears as two equal neighbours, so a lane is kept when it differs from both
   of its neighbours. A block is written one merge late, once the first lane of the
   block after it (its right neighbour) is known. Same `out` slack as the union. */
static __attribute__((target("sse4.1,ssse3"))) int32_t
rbk_xor16_sse41(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb, uint16_t* out) {
    int32_t i = 8, j = 8, k = 0, r = 0;
    uint32_t prevv, x, y, z, m, cur = 0;
    int have = 0, dup = 0;
    uint16_t rest[16];
    __m128i lo, hi, pending, before, left, right, same;
    unsigned keep;
    if (na < 8 || nb < 8) return -1;
    lo = _mm_loadu_si128((const __m128i*)a);
    hi = _mm_loadu_si128((const __m128i*)b);
    rbk_merge8(&lo, &hi);
    pending = lo;
    before = _mm_set1_epi16((short)(_mm_extract_epi16(lo, 0) ^ 1));   /* no left neighbour */
    while (i + 8 <= na && j + 8 <= nb) {
        if (a[i] <= b[j]) { lo = _mm_loadu_si128((const __m128i*)(a + i)); i += 8; }
        else { lo = _mm_loadu_si128((const __m128i*)(b + j)); j += 8; }
        rbk_merge8(&lo, &hi);
        left = _mm_alignr_epi8(pending, before, 14);
        right = _mm_alignr_epi8(lo, pending, 2);
        same = _mm_or_si128(_mm_cmpeq_epi16(pending, left), _mm_cmpeq_epi16(pending, right));
        keep = (unsigned)_mm_movemask_epi8(_mm_packs_epi16(same, _mm_setzero_si128())) ^ 0xFFu;
        _mm_storeu_si128((__m128i*)(out + k),
                         _mm_shuffle_epi8(pending, _mm_loadu_si128((const __m128i*)rbk_pack16[keep])));
        k += __builtin_popcount(keep);
        before = pending;
        pending = lo;
    }
    /* tail: pending then hi (16 sorted values, pending <= hi), a[i..], b[j..]; a value
       equal to the last lane of `before` was dropped there and is dropped again here */
    prevv = (uint32_t)_mm_extract_epi16(before, 7);
    _mm_storeu_si128((__m128i*)rest, pending);
    _mm_storeu_si128((__m128i*)(rest + 8), hi);
    for (;;) {
        x = r < 16 ? rest[r] : 0x10000u;
        y = i < na ? a[i] : 0x10000u;
        z = j < nb ? b[j] : 0x10000u;
        m = x < y ? x : y;
        m = m < z ? m : z;
        if (m == 0x10000u) break;
        if (x == m) { r++; } else if (y == m) { i++; } else { j++; }
        if (have && m == cur) { dup = 1; continue; }
        if (have && !dup) out[k++] = (uint16_t)cur;
        dup = !have && m == prevv;
        cur = m;
        have = 1;
    }
    if (have && !dup) out[k++] = (uint16_t)cur;
    return k;
}
#endif

/* -- dispatch ---------------------------------------------------------------------- */
static void rbk_init(void) {
    int level = 0;
#if RBK_X86
    rbk_init_tables();
    __builtin_cpu_init();
    if (__builtin_cpu_supports("ssse3") && __builtin_cpu_supports("popcnt")) level = 1;
    if (level == 1 && __builtin_cpu_supports("avx2")) level = 2;
    if (level == 2 && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512vbmi2") &&
        __builtin_cpu_supports("avx512vpopcntdq")) level = 3;
#endif
    rbk_best_level = level;
    rbk_level = level;
}

/* Select a lower level (tests exercise every code path); returns the level in use. */
static int rbk_set_level(int level) {
    if (rbk_level < 0) rbk_init();
    if (level >= 0) rbk_level = level < rbk_best_level ? level : rbk_best_level;
    return rbk_level;
}

static inline int rbk_lvl(void) {
    if (__builtin_expect(rbk_level < 0, 0)) rbk_init();
    return rbk_level;
}

/* sorted uint16 arrays a xor b into out (room for na + nb + 8); -1: use the scalar merge */
static int32_t rbk_xor16(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb, uint16_t* out) {
#if RBK_X86
    if (rbk_lvl() >= 2) return rbk_xor16_sse41(a, na, b, nb, out);
#endif
    (void)a; (void)na; (void)b; (void)nb; (void)out;
    return -1;
}

/* sorted uint16 arrays a ∪ b into out (room for na + nb + 8); returns the count */
static int32_t rbk_union16(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb, uint16_t* out) {
#if RBK_X86
    if (rbk_lvl() >= 2) return rbk_union16_sse41(a, na, b, nb, out);
#endif
    return rbk_union16_scalar(a, na, b, nb, out);
}


/* popcount of a 1024-word bitset */
static int32_t rbk_card(const uint64_t* w) {
#if RBK_X86
    switch (rbk_lvl()) {
    case 3: return rbk_card_avx512(w);
    case 2: return rbk_card_avx2(w);
    default: break;
    }
#endif
    return rbk_card_scalar(w);
}

/* popcount of a & b */
static int32_t rbk_and_card(const uint64_t* a, const uint64_t* b) {
#if RBK_X86
    switch (rbk_lvl()) {
    case 3: return rbk_and_card_avx512(a, b);
    case 2: return rbk_and_card_avx2(a, b);
    default: break;
    }
#endif
    return rbk_and_card_scalar(a, b);
}

/* out = a op b (op: RBK_AND, RBK_OR, RBK_XOR, RBK_ANDNOT); returns popcount(out) */
static int32_t rbk_op(const uint64_t* a, const uint64_t* b, uint64_t* out, int op) {
#if RBK_X86
    switch (rbk_lvl()) {
    case 3: return rbk_op_avx512(a, b, out, op);
    case 2: return rbk_op_avx2(a, b, out, op);
    default: break;
    }
#endif
    return rbk_op_scalar(a, b, out, op);
}

/* |a ∩ b| for sorted uint16 arrays, written to out (room for min(na, nb)) unless NULL */
static int32_t rbk_array_and(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb,
                             uint16_t* out) {
    int32_t cap = na < nb ? na : nb;
    int level = rbk_lvl();
    (void)level;
    if (na + nb <= RBK_SMALL_ARRAYS) {
#if RBK_X86
        if (level >= 2)
            return out ? rbk_arrb_and_avx2(a, na, b, nb, out, cap) : rbk_arrb_and_card_avx2(a, na, b, nb);
        if (level == 1)
            return out ? rbk_arrb_and_sse(a, na, b, nb, out, cap) : rbk_arrb_and_card_sse(a, na, b, nb);
#endif
        return out ? rbk_scalarb_and(a, na, b, nb, out, cap) : rbk_scalarb_card(a, na, b, nb);
    }
#if RBK_X86
    switch (level) {
    case 3: return out ? rbk_arr_and_avx512(a, na, b, nb, out, cap) : rbk_arr_and_card_avx512(a, na, b, nb);
    case 2: return out ? rbk_arr_and_avx2(a, na, b, nb, out, cap) : rbk_arr_and_card_avx2(a, na, b, nb);
    case 1: return out ? rbk_arr_and_sse(a, na, b, nb, out, cap) : rbk_arr_and_card_sse(a, na, b, nb);
    default: break;
    }
#endif
    return rbk_array_and_scalar(a, na, b, nb, out);
}

/* a - b for sorted uint16 arrays into out (room for na) */
static int32_t rbk_array_andnot(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb,
                                uint16_t* out) {
    int level = rbk_lvl();
    (void)level;
    if (na + nb <= RBK_SMALL_ARRAYS) {
#if RBK_X86
        if (level >= 2) return rbk_arrb_andnot_avx2(a, na, b, nb, out);
        if (level == 1) return rbk_arrb_andnot_sse(a, na, b, nb, out);
#endif
        return rbk_scalarb_andnot(a, na, b, nb, out);
    }
#if RBK_X86
    switch (level) {
    case 3: return rbk_arr_andnot_avx512(a, na, b, nb, out);
    case 2: return rbk_arr_andnot_avx2(a, na, b, nb, out);
    case 1: return rbk_arr_andnot_sse(a, na, b, nb, out);
    default: break;
    }
#endif
    return rbk_array_andnot_scalar(a, na, b, nb, out);
}

/* -- export: container values as uint64 (high | low) -----------------------------------
   Each writes exactly the container's values. Arrays and runs are plain loops that the
   compiler vectorises for each target; bitsets write eight candidate values per word
   unconditionally (only the first popcount of them count) while a whole word still
   fits in the output, then finish value by value. */
static inline __attribute__((always_inline)) void
rbk_array_u64_body(const uint16_t* a, int32_t n, uint64_t high, uint64_t* out) {
    size_t i;
    for (i = 0; i < (size_t)n; i++) out[i] = high | a[i];
}

/* runs: card is the container's cardinality (out has room for card values); no run
   writes past it even if the runs disagree with card */
static inline __attribute__((always_inline)) int32_t
rbk_runs_u64_body(const uint16_t* r, int32_t n, int32_t card, uint64_t high, uint64_t* out) {
    int32_t i;
    size_t t, len, k = 0, room = (size_t)card;
    uint64_t base;
    for (i = 0; i < n && k < room; i++) {
        base = high | r[2 * i];          /* start + t stays below 65536: + is | */
        len = (size_t)r[2 * i + 1] + 1;
        if (len > room - k) len = room - k;
        for (t = 0; t < len; t++) out[k + t] = base + t;
        k += len;
    }
    return (int32_t)k;
}

static void rbk_array_u64_plain(const uint16_t* a, int32_t n, uint64_t high, uint64_t* out) {
    rbk_array_u64_body(a, n, high, out);
}
static int32_t rbk_runs_u64_plain(const uint16_t* r, int32_t n, int32_t card, uint64_t high, uint64_t* out) {
    return rbk_runs_u64_body(r, n, card, high, out);
}
#if RBK_X86
static __attribute__((target("avx2"))) void
rbk_array_u64_avx2(const uint16_t* a, int32_t n, uint64_t high, uint64_t* out) {
    rbk_array_u64_body(a, n, high, out);
}
/* Vector runs: whole vectors of consecutive values, the last one running on into
   the next run's place (rewritten by it); only while the rounded-up run still fits
   in the container's room, else value by value. */
#define RBK_RUNS_VEC(NAME, TARGET, VEC, L, SET1, SETIOTA, ADD, STORE)                   \
static __attribute__((target(TARGET))) int32_t                                         \
NAME(const uint16_t* r, int32_t n, int32_t card, uint64_t high, uint64_t* out) {       \
    int32_t i;                                                                         \
    size_t t, len, k = 0, room = (size_t)card;                                         \
    uint64_t base;                                                                     \
    const VEC step = SET1((long long)L), iota = SETIOTA;                               \
    VEC v;                                                                             \
    for (i = 0; i < n && k < room; i++) {                                              \
        base = high | r[2 * i];                                                        \
        len = (size_t)r[2 * i + 1] + 1;                                                \
        if (k + ((len + L - 1) & ~(size_t)(L - 1)) <= room) {                          \
            v = ADD(SET1((long long)base), iota);                                      \
            for (t = 0; t < len; t += L) {                                             \
                STORE(out + k + t, v);                                                 \
                v = ADD(v, step);                                                      \
            }                                                                          \
        } else {                                                                       \
            if (len > room - k) len = room - k;                                        \
            for (t = 0; t < len; t++) out[k + t] = base + t;                           \
        }                                                                              \
        k += len;                                                                      \
    }                                                                                  \
    return (int32_t)k;                                                                 \
}
#define RBK_ST256Q(p, v) _mm256_storeu_si256((__m256i*)(p), (v))
#define RBK_ST512Q(p, v) _mm512_storeu_si512((void*)(p), (v))
RBK_RUNS_VEC(rbk_runs_u64_avx2, "avx2", __m256i, 4, _mm256_set1_epi64x,
             _mm256_setr_epi64x(0, 1, 2, 3), _mm256_add_epi64, RBK_ST256Q)
static __attribute__((target("avx512f,avx512bw,avx512vl"))) void
rbk_array_u64_avx512(const uint16_t* a, int32_t n, uint64_t high, uint64_t* out) {
    rbk_array_u64_body(a, n, high, out);
}
RBK_RUNS_VEC(rbk_runs_u64_avx512, "avx512f", __m512i, 8, _mm512_set1_epi64,
             _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7), _mm512_add_epi64, RBK_ST512Q)
#endif

static void rbk_array_to_u64(const uint16_t* a, int32_t n, uint64_t high, uint64_t* out) {
#if RBK_X86
    switch (rbk_lvl()) {
    case 3: rbk_array_u64_avx512(a, n, high, out); return;
    case 2: rbk_array_u64_avx2(a, n, high, out); return;
    default: break;
    }
#endif
    rbk_array_u64_plain(a, n, high, out);
}

static int32_t rbk_runs_to_u64(const uint16_t* r, int32_t n, int32_t card, uint64_t high, uint64_t* out) {
#if RBK_X86
    switch (rbk_lvl()) {
    case 3: return rbk_runs_u64_avx512(r, n, card, high, out);
    case 2: return rbk_runs_u64_avx2(r, n, card, high, out);
    default: break;
    }
#endif
    return rbk_runs_u64_plain(r, n, card, high, out);
}

/* Bitsets to values. w2 == NULL: the bits of w; else of w & w2. card is that popcount
   and out has room for exactly card values. While a whole word (64 values) still
   fits, the portable code writes eight candidates per word unconditionally (only the
   first popcount of them count: ctz of x | top is x's lowest bit while x != 0) and
   AVX-512 compresses the word's bit positions as bytes (VBMI2) and widens them; the
   last words go value by value. */
static inline __attribute__((always_inline)) uint64_t
rbk_wsel(const uint64_t* w, const uint64_t* w2, size_t i) {
    return w2 ? w[i] & w2[i] : w[i];
}

#define RBK_EXTRACT_TAIL(T, BASE)                                                      \
    for (; i < RBK_WORDS; i++) {                                                       \
        x = rbk_wsel(w, w2, i);                                                        \
        while (x && k < card) {             /* never more than card, even if wrong */ \
            out[k++] = (T)((BASE) + (uint64_t)__builtin_ctzll(x));                     \
            x &= x - 1;                                                                \
        }                                                                              \
    }

static inline __attribute__((always_inline)) int32_t
rbk_extract_u64_plain(const uint64_t* w, const uint64_t* w2, int32_t card, uint64_t high, uint64_t* out) {
    const uint64_t top = (uint64_t)1 << 63;
    size_t i = 0;
    int32_t k = 0, c, t;
    uint64_t x;
    for (; i < RBK_WORDS && k + 64 <= card; i++) {
        uint64_t base = high | ((uint64_t)i << 6);
        x = rbk_wsel(w, w2, i);
        c = __builtin_popcountll(x);
        for (t = 0; t < 8; t++) {
            out[k + t] = base + (uint64_t)__builtin_ctzll(x | top);
            x &= x - 1;
        }
        for (t = 8; t < c; t++) {
            out[k + t] = base + (uint64_t)__builtin_ctzll(x);
            x &= x - 1;
        }
        k += c;
    }
    RBK_EXTRACT_TAIL(uint64_t, high | ((uint64_t)i << 6))
    return k;
}

static inline __attribute__((always_inline)) int32_t
rbk_extract_u16_plain(const uint64_t* w, const uint64_t* w2, int32_t card, uint16_t* out) {
    const uint64_t top = (uint64_t)1 << 63;
    size_t i = 0;
    int32_t k = 0, c, t;
    uint64_t x;
    for (; i < RBK_WORDS && k + 64 <= card; i++) {
        uint32_t base = (uint32_t)(i << 6);
        x = rbk_wsel(w, w2, i);
        c = __builtin_popcountll(x);
        for (t = 0; t < 8; t++) {
            out[k + t] = (uint16_t)(base + (uint32_t)__builtin_ctzll(x | top));
            x &= x - 1;
        }
        for (t = 8; t < c; t++) {
            out[k + t] = (uint16_t)(base + (uint32_t)__builtin_ctzll(x));
            x &= x - 1;
        }
        k += c;
    }
    RBK_EXTRACT_TAIL(uint16_t, (uint64_t)(i << 6))
    return k;
}

#if RBK_X86
#define RBK_IOTA64 _mm512_set_epi8(63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, \
    47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24,    \
    23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)

/* eight words at a time: zero words are skipped with one test (worth it below about
   two values per word on average) */
#define RBK_SPARSE_BITSET 2048
static inline __attribute__((always_inline, target(RBK_AVX512_ARRAYS))) __mmask8
rbk_nonzero8(const uint64_t* w, const uint64_t* w2, size_t i) {
    __m512i v = _mm512_loadu_si512((const void*)(w + i));
    if (w2) v = _mm512_and_si512(v, _mm512_loadu_si512((const void*)(w2 + i)));
    return _mm512_test_epi64_mask(v, v);
}

static inline __attribute__((always_inline, target(RBK_AVX512_ARRAYS))) int32_t
rbk_extract_u64_avx512(const uint64_t* w, const uint64_t* w2, int32_t card, uint64_t high, uint64_t* out) {
    const __m512i iota = RBK_IOTA64;
    uint8_t pos[64];
    size_t i = 0, wi;
    int32_t k = 0, c, t;
    uint64_t x;
    unsigned nz;
    __m512i base, cv;
    /* sparse: visit nonzero words only; dense: every word */
    for (; i < RBK_WORDS; i += 8) {
        nz = card < RBK_SPARSE_BITSET ? rbk_nonzero8(w, w2, i) : 0xFFu;
        while (nz) {
            wi = i + (size_t)__builtin_ctz(nz);
            if (k + 64 > card) {          /* a whole word might not fit any more */
                i = wi;
                goto tail;
            }
            nz &= nz - 1;
            x = rbk_wsel(w, w2, wi);
            base = _mm512_set1_epi64((long long)(high | ((uint64_t)wi << 6)));
            cv = _mm512_maskz_compress_epi8((__mmask64)x, iota);  /* set bit positions */
            c = __builtin_popcountll(x);
            /* 8 values per store at out + k + t, t <= 56: inside the 64 that fit */
            _mm512_storeu_si512((void*)(out + k), _mm512_add_epi64(base, _mm512_cvtepu8_epi64(_mm512_castsi512_si128(cv))));
            if (c > 8) {
                _mm512_storeu_si512((void*)pos, cv);
                for (t = 8; t < c; t += 8)
                    _mm512_storeu_si512((void*)(out + k + t),
                        _mm512_add_epi64(base, _mm512_cvtepu8_epi64(_mm_loadl_epi64((const __m128i*)(pos + t)))));
            }
            k += c;
        }
    }
    return k;
tail:
    RBK_EXTRACT_TAIL(uint64_t, high | ((uint64_t)i << 6))
    return k;
}

static inline __attribute__((always_inline, target(RBK_AVX512_ARRAYS))) int32_t
rbk_extract_u16_avx512(const uint64_t* w, const uint64_t* w2, int32_t card, uint16_t* out) {
    const __m512i iota = RBK_IOTA64;
    size_t i = 0, wi;
    int32_t k = 0, c;
    uint64_t x;
    unsigned nz;
    __m512i base, cv;
    for (; i < RBK_WORDS; i += 8) {
        nz = card < RBK_SPARSE_BITSET ? rbk_nonzero8(w, w2, i) : 0xFFu;
        while (nz) {
            wi = i + (size_t)__builtin_ctz(nz);
            if (k + 64 > card) {
                i = wi;
                goto tail;
            }
            nz &= nz - 1;
            x = rbk_wsel(w, w2, wi);
            base = _mm512_set1_epi16((short)(wi << 6));
            cv = _mm512_maskz_compress_epi8((__mmask64)x, iota);
            c = __builtin_popcountll(x);
            /* 32 values per store; the second one only when more than 32 are set */
            _mm512_storeu_si512((void*)(out + k), _mm512_add_epi16(base, _mm512_cvtepu8_epi16(_mm512_castsi512_si256(cv))));
            if (c > 32)
                _mm512_storeu_si512((void*)(out + k + 32), _mm512_add_epi16(base, _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(cv, 1))));
            k += c;
        }
    }
    return k;
tail:
    RBK_EXTRACT_TAIL(uint16_t, (uint64_t)(i << 6))
    return k;
}

static __attribute__((target(RBK_AVX512_ARRAYS))) int32_t
rbk_words_u64_avx512(const uint64_t* w, int32_t card, uint64_t high, uint64_t* out) {
    return rbk_extract_u64_avx512(w, NULL, card, high, out);
}
static __attribute__((target(RBK_AVX512_ARRAYS))) int32_t
rbk_words_u16_avx512(const uint64_t* w, int32_t card, uint16_t* out) {
    return rbk_extract_u16_avx512(w, NULL, card, out);
}
static __attribute__((target(RBK_AVX512_ARRAYS))) int32_t
rbk_words_and_u16_avx512(const uint64_t* w, const uint64_t* w2, int32_t card, uint16_t* out) {
    return rbk_extract_u16_avx512(w, w2, card, out);
}
#endif

static int32_t rbk_words_to_u64(const uint64_t* w, int32_t card, uint64_t high, uint64_t* out) {
#if RBK_X86
    if (rbk_lvl() == 3) return rbk_words_u64_avx512(w, card, high, out);
#endif
    return rbk_extract_u64_plain(w, NULL, card, high, out);
}

static int32_t rbk_words_to_u16(const uint64_t* w, int32_t card, uint16_t* out) {
#if RBK_X86
    if (rbk_lvl() == 3) return rbk_words_u16_avx512(w, card, out);
#endif
    return rbk_extract_u16_plain(w, NULL, card, out);
}

/* the values of w & w2 (card of them) */
static int32_t rbk_words_and_to_u16(const uint64_t* w, const uint64_t* w2, int32_t card, uint16_t* out) {
#if RBK_X86
    if (rbk_lvl() == 3) return rbk_words_and_u16_avx512(w, w2, card, out);
#endif
    return rbk_extract_u16_plain(w, w2, card, out);
}

/* -- searches --------------------------------------------------------------------------
   Branch-free lower bounds (the select compiles to a conditional move): the position
   of the first element >= v, n when there is none. */
static inline int32_t rbk_lower_bound16(const uint16_t* a, int32_t n, uint16_t v) {
    const uint16_t* base = a;
    int32_t half;
    if (n <= 0) return 0;
    while (n > 1) {
        half = n >> 1;
        base = base[half] < v ? base + half : base;
        n -= half;
    }
    return (int32_t)(base - a) + (*base < v);
}

static inline int64_t rbk_lower_bound64(const uint64_t* a, int64_t n, uint64_t v) {
    const uint64_t* base = a;
    int64_t half;
    if (n <= 0) return 0;
    while (n > 1) {
        half = n >> 1;
        base = base[half] < v ? base + half : base;
        n -= half;
    }
    return (int64_t)(base - a) + (*base < v);
}

/* The same searches for a single lookup (membership): with AVX-512 the last window
   of up to 64 values (16 keys) is counted with one or two masked compares instead
   of six (four) dependent steps. Masked loads touch only the window's elements. */
#if RBK_X86
static __attribute__((target(RBK_AVX512_ARRAYS))) int32_t
rbk_lb16_avx512(const uint16_t* a, int32_t n, uint16_t v) {
    const uint16_t* base = a;
    int32_t half, len = n;
    __m512i V = _mm512_set1_epi16((short)v);
    __mmask32 m;
    int32_t cnt;
    while (len > 64) {
        half = len >> 1;
        base = base[half] < v ? base + half : base;
        len -= half;
    }
    /* the answer is base + (how many of base[0..len) are < v) */
    m = len >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << len) - 1u);
    cnt = __builtin_popcount(_mm512_mask_cmplt_epu16_mask(m, _mm512_maskz_loadu_epi16(m, base), V));
    if (len > 32) {
        m = len >= 64 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << (len - 32)) - 1u);
        cnt += __builtin_popcount(_mm512_mask_cmplt_epu16_mask(m, _mm512_maskz_loadu_epi16(m, base + 32), V));
    }
    return (int32_t)(base - a) + cnt;
}

static __attribute__((target(RBK_AVX512_ARRAYS))) int64_t
rbk_lb64_avx512(const uint64_t* a, int64_t n, uint64_t v) {
    const uint64_t* base = a;
    int64_t half, len = n;
    __m512i V = _mm512_set1_epi64((long long)v);
    __mmask8 m;
    int64_t cnt;
    while (len > 16) {
        half = len >> 1;
        base = base[half] < v ? base + half : base;
        len -= half;
    }
    m = len >= 8 ? (__mmask8)0xFFu : (__mmask8)((1u << len) - 1u);
    cnt = __builtin_popcount(_mm512_mask_cmplt_epu64_mask(m, _mm512_maskz_loadu_epi64(m, base), V));
    if (len > 8) {
        m = len >= 16 ? (__mmask8)0xFFu : (__mmask8)((1u << (len - 8)) - 1u);
        cnt += __builtin_popcount(_mm512_mask_cmplt_epu64_mask(m, _mm512_maskz_loadu_epi64(m, base + 8), V));
    }
    return (int64_t)(base - a) + cnt;
}
#endif

static inline int32_t rbk_lookup16(const uint16_t* a, int32_t n, uint16_t v) {
#if RBK_X86
    if (rbk_level == 3) return rbk_lb16_avx512(a, n, v);
#endif
    return rbk_lower_bound16(a, n, v);
}

static inline int64_t rbk_lookup64(const uint64_t* a, int64_t n, uint64_t v) {
#if RBK_X86
    if (rbk_level == 3) return rbk_lb64_avx512(a, n, v);
#endif
    return rbk_lower_bound64(a, n, v);
}

/* -- values into a bitset ----------------------------------------------------------- */
/* w |= the runs (start, length - 1 pairs) */
static void rbk_runs_or_words(const uint16_t* r, int32_t n, uint64_t* w) {
    int32_t i;
    uint32_t s, e, fw, lw, k;
    uint64_t lo_mask, hi_mask;
    for (i = 0; i < n; i++) {
        s = r[2 * i];
        e = s + r[2 * i + 1];            /* inclusive, <= 65535 */
        fw = s >> 6;
        lw = e >> 6;
        lo_mask = ~(uint64_t)0 << (s & 63);
        hi_mask = ~(uint64_t)0 >> (63 - (e & 63));
        if (fw == lw) {
            w[fw] |= lo_mask & hi_mask;
        } else {
            w[fw] |= lo_mask;
            for (k = fw + 1; k < lw; k++) w[k] = ~(uint64_t)0;
            w[lw] |= hi_mask;
        }
    }
}

/* 1 if a[0..n) is strictly increasing: one pass without an early exit, which the
   compiler vectorises for each target (the codec checks every array it reads) */
static inline __attribute__((always_inline)) int
rbk_increasing16_body(const uint16_t* a, int32_t n) {
    int32_t i;
    unsigned bad = 0;
    for (i = 1; i < n; i++) bad |= (unsigned)(a[i] <= a[i - 1]);
    return !bad;
}
static int rbk_increasing16_plain(const uint16_t* a, int32_t n) { return rbk_increasing16_body(a, n); }
#if RBK_X86
static __attribute__((target("avx2"))) int
rbk_increasing16_avx2(const uint16_t* a, int32_t n) { return rbk_increasing16_body(a, n); }
static __attribute__((target("avx512f,avx512bw,avx512vl"))) int
rbk_increasing16_avx512(const uint16_t* a, int32_t n) { return rbk_increasing16_body(a, n); }
#endif
static int rbk_increasing16(const uint16_t* a, int32_t n) {
#if RBK_X86
    switch (rbk_lvl()) {
    case 3: return rbk_increasing16_avx512(a, n);
    case 2: return rbk_increasing16_avx2(a, n);
    default: break;
    }
#endif
    return rbk_increasing16_plain(a, n);
}

/* out[0..n) = start, start + 1, ... (values below 65536) */
static inline void rbk_fill_seq16(uint16_t* out, uint32_t start, uint32_t n) {
    uint32_t t;
    for (t = 0; t < n; t++) out[t] = (uint16_t)(start + t);
}

/* w &= ~(the array's values) */
static void rbk_array_andnot_words(const uint16_t* a, int32_t n, uint64_t* w) {
    int32_t i;
    for (i = 0; i < n; i++) w[a[i] >> 6] &= ~((uint64_t)1 << (a[i] & 63));
}

/* w |= the array's values */
static void rbk_array_or_words(const uint16_t* a, int32_t n, uint64_t* w) {
    int32_t i;
    for (i = 0; i < n; i++) w[a[i] >> 6] |= (uint64_t)1 << (a[i] & 63);
}

static inline int rb_popcount64(uint64_t x) { return __builtin_popcountll(x); }
static inline int rb_ctz64(uint64_t x) { return __builtin_ctzll(x); }
static inline int rb_clz64(uint64_t x) { return __builtin_clzll(x); }
#define RB_ALL_ONES 0xFFFFFFFFFFFFFFFFULL
#define RB_KEY_LIMIT 0x1000000000000ULL

#endif /* ROARBASE_CONTAINERS_H */
