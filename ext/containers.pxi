# Containers: the low 16 bits of the values that share one high-48-bit key.
#
# Three kinds with the standard Roaring thresholds: a sorted uint16 array up to 4096 values,
# a 1024-word bitset above that, and a run list (start, length-1 pairs) when it is smaller.
# Every function here runs without the GIL; the allocating ones report failure with -1
# after raising MemoryError. Results are normalised the way CRoaring normalises them, so a
# bitmap built from the same values has the same container kinds (and the same bytes).
# The word, array and search loops with their CPU dispatch are C, in containers.h.

from ext.containers_c cimport *

cdef enum:
    # run lists longer than this are applied to a bitset without per-run counting (one
    # popcount of the words afterwards is cheaper)
    RUNS_COUNT_AFTER = 16

rbk_init()      # pick the CPU's kernels once, at import


cdef void* xmalloc(size_t size) except NULL nogil:
    cdef void* p = malloc(size if size else 1)
    if p == NULL:
        with gil:
            raise MemoryError()
    return p


cdef void* xrealloc(void* old, size_t size) except NULL nogil:
    cdef void* p = realloc(old, size if size else 1)
    if p == NULL:
        with gil:
            raise MemoryError()
    return p


# --- word-level helpers (ranges are half-open [lo, hi), hi <= 65536) ---------------------

cdef inline int32_t words_card(const uint64_t* w) noexcept nogil:
    return rbk_card(w)


cdef inline uint64_t mask_from(uint32_t lo) noexcept nogil:
    return (<uint64_t>ALL_ONES) << (lo & 63)


cdef inline uint64_t mask_upto(uint32_t last) noexcept nogil:
    # bits 0..(last & 63) inclusive
    return (<uint64_t>ALL_ONES) >> (63 - (last & 63))


cdef void words_set_range(uint64_t* w, uint32_t lo, uint32_t hi) noexcept nogil:
    if lo >= hi:
        return
    cdef uint32_t fw = lo >> 6, lw = (hi - 1) >> 6, i
    if fw == lw:
        w[fw] |= mask_from(lo) & mask_upto(hi - 1)
        return
    w[fw] |= mask_from(lo)
    for i in range(fw + 1, lw):
        w[i] = ALL_ONES
    w[lw] |= mask_upto(hi - 1)


cdef void words_clear_range(uint64_t* w, uint32_t lo, uint32_t hi) noexcept nogil:
    if lo >= hi:
        return
    cdef uint32_t fw = lo >> 6, lw = (hi - 1) >> 6, i
    if fw == lw:
        w[fw] &= ~(mask_from(lo) & mask_upto(hi - 1))
        return
    w[fw] &= ~mask_from(lo)
    for i in range(fw + 1, lw):
        w[i] = 0
    w[lw] &= ~mask_upto(hi - 1)


cdef void words_flip_range(uint64_t* w, uint32_t lo, uint32_t hi) noexcept nogil:
    if lo >= hi:
        return
    cdef uint32_t fw = lo >> 6, lw = (hi - 1) >> 6, i
    if fw == lw:
        w[fw] ^= mask_from(lo) & mask_upto(hi - 1)
        return
    w[fw] ^= mask_from(lo)
    for i in range(fw + 1, lw):
        w[i] = ~w[i]
    w[lw] ^= mask_upto(hi - 1)


cdef int32_t words_range_card(const uint64_t* w, uint32_t lo, uint32_t hi) noexcept nogil:
    if lo >= hi:
        return 0
    cdef uint32_t fw = lo >> 6, lw = (hi - 1) >> 6, i
    cdef int32_t card
    if fw == lw:
        return popcount64(w[fw] & mask_from(lo) & mask_upto(hi - 1))
    card = popcount64(w[fw] & mask_from(lo))
    for i in range(fw + 1, lw):
        card += popcount64(w[i])
    return card + popcount64(w[lw] & mask_upto(hi - 1))


cdef int32_t words_to_array(const uint64_t* w, uint16_t* out) noexcept nogil:
    cdef int32_t i, k = 0
    cdef uint64_t x
    for i in range(BITSET_WORDS):
        x = w[i]
        while x:
            out[k] = <uint16_t>((i << 6) + ctz64(x))
            k += 1
            x &= x - 1
    return k


cdef int32_t words_nruns(const uint64_t* w) noexcept nogil:
    # A run starts at every set bit whose predecessor is clear.
    cdef int32_t i, runs = 0
    cdef uint64_t carry = 0, x
    for i in range(BITSET_WORDS):
        x = w[i]
        runs += popcount64(x & ~((x << 1) | carry))
        carry = x >> 63
    return runs


cdef int32_t words_to_runs(const uint64_t* w, uint16_t* out) noexcept nogil:
    cdef int32_t i = 0, k = 0
    cdef uint32_t start, end
    cdef uint64_t cur = w[0]
    while True:
        while cur == 0 and i < BITSET_WORDS - 1:
            i += 1
            cur = w[i]
        if cur == 0:
            return k
        start = (i << 6) + ctz64(cur)
        cur |= cur - 1                       # ones below the run start too
        while cur == ALL_ONES and i < BITSET_WORDS - 1:
            i += 1
            cur = w[i]
        if cur == ALL_ONES:
            end = 65535
            out[2 * k] = <uint16_t>start
            out[2 * k + 1] = <uint16_t>(end - start)
            return k + 1
        end = (i << 6) + ctz64(~cur) - 1
        cur &= cur + 1                       # clear the run's ones
        out[2 * k] = <uint16_t>start
        out[2 * k + 1] = <uint16_t>(end - start)
        k += 1


cdef int32_t array_nruns(const uint16_t* a, int32_t n) noexcept nogil:
    if n == 0:
        return 0
    cdef int32_t i, runs = 1
    for i in range(1, n):
        if a[i] != a[i - 1] + 1:
            runs += 1
    return runs


cdef int32_t array_to_runs(const uint16_t* a, int32_t n, uint16_t* out) noexcept nogil:
    if n == 0:
        return 0
    cdef int32_t i, k = 0
    cdef uint16_t start = a[0], prev = a[0]
    for i in range(1, n):
        if a[i] != prev + 1:
            out[2 * k] = start
            out[2 * k + 1] = prev - start
            k += 1
            start = a[i]
        prev = a[i]
    out[2 * k] = start
    out[2 * k + 1] = prev - start
    return k + 1


# --- container lifecycle ------------------------------------------------------------------

cdef inline void c_zero(container_t* c) noexcept nogil:
    c.data = NULL
    c.card = 0
    c.n = 0
    c.cap = 0
    c.kind = KIND_ARRAY


cdef void c_free(container_t* c) noexcept nogil:
    free(c.data)
    c_zero(c)


cdef int c_alloc(container_t* c, uint8_t kind, int32_t cap) except -1 nogil:
    """Fresh empty container; cap counts values (array) or runs (run)."""
    c.data = NULL
    c.kind = kind
    c.card = 0
    c.n = 0
    if kind == KIND_BITSET:
        c.cap = 0
        c.data = xmalloc(BITSET_WORDS * 8)
    elif kind == KIND_RUN:
        c.cap = cap
        c.data = xmalloc(<size_t>cap * 4)
    else:
        c.cap = cap
        c.data = xmalloc(<size_t>cap * 2)
    return 0


cdef inline size_t c_payload_bytes(const container_t* c) noexcept nogil:
    if c.kind == KIND_BITSET:
        return BITSET_WORDS * 8
    if c.kind == KIND_RUN:
        return <size_t>c.n * 4
    return <size_t>c.n * 2


cdef int c_copy(container_t* dst, const container_t* src) except -1 nogil:
    cdef size_t size = c_payload_bytes(src)
    dst.data = xmalloc(size)
    memcpy(dst.data, src.data, size)
    dst.kind = src.kind
    dst.card = src.card
    dst.n = src.n
    dst.cap = src.n if src.kind != KIND_BITSET else 0
    return 0


cdef void c_fill_words(const container_t* c, uint64_t* w) noexcept nogil:
    memset(w, 0, BITSET_WORDS * 8)
    c_or_into_words(c, w)


cdef void c_or_into_words(const container_t* c, uint64_t* w) noexcept nogil:
    if c.kind == KIND_BITSET:
        rbk_op(w, <uint64_t*>c.data, w, RBK_OR)
    elif c.kind == KIND_RUN:
        rbk_runs_or_words(<uint16_t*>c.data, c.n, w)
    else:
        rbk_array_or_words(<uint16_t*>c.data, c.n, w)


cdef int32_t c_to_uint16(const container_t* c, uint16_t* out) noexcept nogil:
    """Write the container's values in order; returns how many (== card)."""
    cdef int32_t i, k = 0
    cdef uint32_t v, end
    cdef uint16_t* a = <uint16_t*>c.data
    if c.kind == KIND_ARRAY:
        memcpy(out, a, <size_t>c.n * 2)
        return c.n
    if c.kind == KIND_BITSET:
        return rbk_words_to_u16(<uint64_t*>c.data, c.card, out)
    for i in range(c.n):
        v = a[2 * i]
        end = v + a[2 * i + 1]
        while v <= end:
            out[k] = <uint16_t>v
            k += 1
            v += 1
    return k


cdef int c_from_words(container_t* dst, uint64_t* w, int32_t card) except -1 nogil:
    """Take ownership of the malloc'd words `w` and make dst an array or a bitset."""
    cdef uint16_t* a
    if card == 0:
        free(w)
        c_zero(dst)
        return 0
    if card <= MAX_ARRAY:
        a = <uint16_t*>malloc(<size_t>card * 2)
        if a == NULL:
            free(w)
            with gil:
                raise MemoryError()
        rbk_words_to_u16(w, card, a)
        free(w)
        dst.data = a
        dst.kind = KIND_ARRAY
        dst.card = card
        dst.n = card
        dst.cap = card
        return 0
    dst.data = w
    dst.kind = KIND_BITSET
    dst.card = card
    dst.n = 0
    dst.cap = 0
    return 0


cdef uint64_t* c_words(const container_t* c) except NULL nogil:
    """A fresh malloc'd bitset holding c's values (caller frees or hands to c_from_words)."""
    cdef uint64_t* w = <uint64_t*>xmalloc(BITSET_WORDS * 8)
    if c.kind == KIND_BITSET:
        memcpy(w, c.data, BITSET_WORDS * 8)
    else:
        c_fill_words(c, w)
    return w


cdef int c_set_runs(container_t* c, uint16_t* runs, int32_t nruns, int32_t card) noexcept nogil:
    """Make c a run container owning `runs`."""
    c.data = runs
    c.kind = KIND_RUN
    c.n = nruns
    c.cap = nruns
    c.card = card
    return 0


cdef int c_normalize_run(container_t* c) except -1 nogil:
    """CRoaring's convert_run_to_efficient_container: keep a run only if it is smallest."""
    cdef int32_t size_run = 2 + 4 * c.n
    cdef int32_t size_array = 2 * c.card
    cdef int32_t smallest = size_array if size_array < BITSET_WORDS * 8 else BITSET_WORDS * 8
    cdef uint64_t* w
    cdef uint16_t* a
    if c.card == 0:
        c_free(c)
        return 0
    if size_run <= smallest:
        return 0
    if c.card <= MAX_ARRAY:
        a = <uint16_t*>xmalloc(<size_t>c.card * 2)
        c_to_uint16(c, a)
        free(c.data)
        c.data = a
        c.kind = KIND_ARRAY
        c.n = c.card
        c.cap = c.card
        return 0
    w = c_words(c)
    free(c.data)
    c.data = w
    c.kind = KIND_BITSET
    c.n = 0
    c.cap = 0
    return 0


cdef bint c_run_optimize(container_t* c) except -1 nogil:
    """CRoaring's convert_run_optimize: returns True if c is a run container afterwards."""
    cdef int32_t nruns
    cdef uint16_t* runs
    if c.kind == KIND_RUN:
        c_normalize_run(c)
        return c.kind == KIND_RUN
    if c.kind == KIND_ARRAY:
        nruns = array_nruns(<uint16_t*>c.data, c.n)
        if 2 + 4 * nruns >= 2 * c.card:
            return False
        runs = <uint16_t*>xmalloc(<size_t>nruns * 4)
        array_to_runs(<uint16_t*>c.data, c.n, runs)
    else:
        nruns = words_nruns(<uint64_t*>c.data)
        if BITSET_WORDS * 8 <= 2 + 4 * nruns:
            return False
        runs = <uint16_t*>xmalloc(<size_t>nruns * 4)
        words_to_runs(<uint64_t*>c.data, runs)
    free(c.data)
    c_set_runs(c, runs, nruns, c.card)
    return True


cdef int c_shrink(container_t* c) except -1 nogil:
    """Release unused capacity; returns bytes saved."""
    cdef int32_t saved = 0
    if c.kind == KIND_ARRAY and c.cap > c.n:
        saved = (c.cap - c.n) * 2
        c.data = xrealloc(c.data, <size_t>c.n * 2)
        c.cap = c.n
    elif c.kind == KIND_RUN and c.cap > c.n:
        saved = (c.cap - c.n) * 4
        c.data = xrealloc(c.data, <size_t>c.n * 4)
        c.cap = c.n
    return saved


cdef int c_from_range(container_t* c, uint32_t lo, uint32_t hi) except -1 nogil:
    """A container holding [lo, hi) (non-empty): one value as an array, else one run
    (what CRoaring's add_range makes)."""
    cdef uint16_t* a
    cdef uint32_t v
    if hi - lo == 1:
        c_alloc(c, KIND_ARRAY, hi - lo)
        a = <uint16_t*>c.data
        for v in range(lo, hi):
            a[v - lo] = <uint16_t>v
        c.n = hi - lo
        c.card = hi - lo
        return 0
    c_alloc(c, KIND_RUN, 1)
    a = <uint16_t*>c.data
    a[0] = <uint16_t>lo
    a[1] = <uint16_t>(hi - lo - 1)
    c.n = 1
    c.card = hi - lo
    return 0


# --- membership -------------------------------------------------------------------------

cdef inline int32_t lower_bound16(const uint16_t* a, int32_t n, uint16_t v) noexcept nogil:
    """First index i with a[i] >= v (n if none)."""
    return rbk_lower_bound16(a, n, v)


cdef inline int32_t run_index(const uint16_t* r, int32_t n, uint16_t v) noexcept nogil:
    """Index of the last run starting at or before v, or -1."""
    cdef int32_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if r[2 * mid] <= v:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


cdef bint c_contains(const container_t* c, uint16_t v) noexcept nogil:
    cdef int32_t i
    cdef uint16_t* a = <uint16_t*>c.data
    if c.kind == KIND_BITSET:
        return ((<uint64_t*>c.data)[v >> 6] >> (v & 63)) & 1
    if c.kind == KIND_ARRAY:
        i = lower_bound16(a, c.n, v)
        return i < c.n and a[i] == v
    i = run_index(a, c.n, v)
    return i >= 0 and <uint32_t>v <= <uint32_t>a[2 * i] + a[2 * i + 1]


cdef int32_t c_rank(const container_t* c, uint16_t v) noexcept nogil:
    """Number of values <= v."""
    cdef int32_t i, k = 0
    cdef uint16_t* a = <uint16_t*>c.data
    cdef uint32_t end
    if c.kind == KIND_BITSET:
        return words_range_card(<uint64_t*>c.data, 0, <uint32_t>v + 1)
    if c.kind == KIND_ARRAY:
        i = lower_bound16(a, c.n, v)
        return i + 1 if i < c.n and a[i] == v else i
    for i in range(c.n):
        if a[2 * i] > v:
            break
        end = <uint32_t>a[2 * i] + a[2 * i + 1]
        k += (end if end < v else v) - a[2 * i] + 1
    return k


cdef int32_t c_select(const container_t* c, int32_t idx) noexcept nogil:
    """The idx-th value (0 <= idx < card)."""
    cdef int32_t i, cnt
    cdef uint64_t x
    cdef uint16_t* a = <uint16_t*>c.data
    cdef uint64_t* w
    if c.kind == KIND_ARRAY:
        return a[idx]
    if c.kind == KIND_RUN:
        for i in range(c.n):
            if idx <= a[2 * i + 1]:
                return a[2 * i] + idx
            idx -= a[2 * i + 1] + 1
        return -1
    w = <uint64_t*>c.data
    for i in range(BITSET_WORDS):
        cnt = popcount64(w[i])
        if idx < cnt:
            x = w[i]
            while idx > 0:
                x &= x - 1
                idx -= 1
            return (i << 6) + ctz64(x)
        idx -= cnt
    return -1


cdef int32_t c_min(const container_t* c) noexcept nogil:
    return c_select(c, 0)


cdef int32_t c_max(const container_t* c) noexcept nogil:
    cdef uint16_t* a = <uint16_t*>c.data
    cdef uint64_t* w
    cdef int32_t i
    if c.kind == KIND_ARRAY:
        return a[c.n - 1]
    if c.kind == KIND_RUN:
        return a[2 * c.n - 2] + a[2 * c.n - 1]
    w = <uint64_t*>c.data
    i = BITSET_WORDS - 1
    while i >= 0 and w[i] == 0:
        i -= 1
    return (i << 6) + 63 - clz64(w[i])


cdef int32_t c_range_card(const container_t* c, uint32_t lo, uint32_t hi) noexcept nogil:
    """Values v with lo <= v < hi (hi <= 65536)."""
    cdef int32_t i, k = 0
    cdef uint16_t* a = <uint16_t*>c.data
    cdef uint32_t s, e
    if lo >= hi:
        return 0
    if lo == 0 and hi == 65536:
        return c.card
    if c.kind == KIND_BITSET:
        return words_range_card(<uint64_t*>c.data, lo, hi)
    if c.kind == KIND_ARRAY:
        i = lower_bound16(a, c.n, <uint16_t>lo)
        return (c.n if hi > 65535 else lower_bound16(a, c.n, <uint16_t>hi)) - i
    for i in range(c.n):
        s = a[2 * i]
        e = s + a[2 * i + 1] + 1
        if s < lo:
            s = lo
        if e > hi:
            e = hi
        if s < e:
            k += e - s
    return k


# --- single-value mutation ----------------------------------------------------------------

cdef int c_to_bitset(container_t* c) except -1 nogil:
    cdef uint64_t* w
    if c.kind == KIND_BITSET:
        return 0
    w = c_words(c)
    free(c.data)
    c.data = w
    c.kind = KIND_BITSET
    c.n = 0
    c.cap = 0
    return 0


cdef int c_add(container_t* c, uint16_t v) except -1 nogil:
    """Add v; returns 1 if it was absent."""
    cdef int32_t i, newcap
    cdef uint16_t* a
    cdef uint64_t* w
    cdef uint64_t bit
    cdef bint after, before
    if c.kind == KIND_ARRAY:
        a = <uint16_t*>c.data
        i = lower_bound16(a, c.n, v)
        if i < c.n and a[i] == v:
            return 0
        if c.n >= MAX_ARRAY:
            c_to_bitset(c)
            return c_add(c, v)
        if c.n == c.cap:
            newcap = c.cap * 2 if c.cap >= 4 else 4
            if c.cap < 1024 and c.cap >= 64:
                newcap = c.cap * 3 // 2
            if newcap > MAX_ARRAY:
                newcap = MAX_ARRAY
            c.data = xrealloc(c.data, <size_t>newcap * 2)
            c.cap = newcap
            a = <uint16_t*>c.data
        memmove(a + i + 1, a + i, <size_t>(c.n - i) * 2)
        a[i] = v
        c.n += 1
        c.card += 1
        return 1
    if c.kind == KIND_BITSET:
        w = <uint64_t*>c.data
        bit = (<uint64_t>1) << (v & 63)
        if w[v >> 6] & bit:
            return 0
        w[v >> 6] |= bit
        c.card += 1
        return 1
    # run container: extend a neighbour, merge two, or insert a one-value run
    a = <uint16_t*>c.data
    i = run_index(a, c.n, v)
    if i >= 0 and <uint32_t>v <= <uint32_t>a[2 * i] + a[2 * i + 1]:
        return 0
    after = i >= 0 and <uint32_t>a[2 * i] + a[2 * i + 1] + 1 == v
    before = i + 1 < c.n and <uint32_t>a[2 * i + 2] == <uint32_t>v + 1
    if after and before:
        a[2 * i + 1] = <uint16_t>(a[2 * i + 2] + a[2 * i + 3] - a[2 * i])
        memmove(a + 2 * i + 2, a + 2 * i + 4, <size_t>(c.n - i - 2) * 4)
        c.n -= 1
    elif after:
        a[2 * i + 1] += 1
    elif before:
        a[2 * i + 2] = v
        a[2 * i + 3] += 1
    else:
        if c.n == c.cap:
            c.cap = c.cap * 2 if c.cap >= 4 else 4
            c.data = xrealloc(c.data, <size_t>c.cap * 4)
            a = <uint16_t*>c.data
        memmove(a + 2 * i + 4, a + 2 * i + 2, <size_t>(c.n - i - 1) * 4)
        a[2 * i + 2] = v
        a[2 * i + 3] = 0
        c.n += 1
    c.card += 1
    return 1


cdef int c_remove(container_t* c, uint16_t v) except -1 nogil:
    """Remove v; returns 1 if it was present. An emptied container has card 0."""
    cdef int32_t i
    cdef uint16_t* a
    cdef uint64_t* w
    cdef uint64_t bit
    cdef uint32_t s, e
    cdef uint16_t* na
    if c.kind == KIND_ARRAY:
        a = <uint16_t*>c.data
        i = lower_bound16(a, c.n, v)
        if i >= c.n or a[i] != v:
            return 0
        memmove(a + i, a + i + 1, <size_t>(c.n - i - 1) * 2)
        c.n -= 1
        c.card -= 1
        return 1
    if c.kind == KIND_BITSET:
        w = <uint64_t*>c.data
        bit = (<uint64_t>1) << (v & 63)
        if not (w[v >> 6] & bit):
            return 0
        w[v >> 6] &= ~bit
        c.card -= 1
        if c.card <= MAX_ARRAY:
            na = <uint16_t*>xmalloc(<size_t>c.card * 2)
            rbk_words_to_u16(w, c.card, na)
            free(w)
            c.data = na
            c.kind = KIND_ARRAY
            c.n = c.card
            c.cap = c.card
        return 1
    a = <uint16_t*>c.data
    i = run_index(a, c.n, v)
    if i < 0:
        return 0
    s = a[2 * i]
    e = s + a[2 * i + 1]
    if v > e:
        return 0
    if s == e:
        memmove(a + 2 * i, a + 2 * i + 2, <size_t>(c.n - i - 1) * 4)
        c.n -= 1
    elif v == s:
        a[2 * i] += 1
        a[2 * i + 1] -= 1
    elif v == e:
        a[2 * i + 1] -= 1
    else:
        if c.n == c.cap:
            c.cap = c.cap * 2 if c.cap >= 4 else 4
            c.data = xrealloc(c.data, <size_t>c.cap * 4)
            a = <uint16_t*>c.data
        memmove(a + 2 * i + 4, a + 2 * i + 2, <size_t>(c.n - i - 1) * 4)
        a[2 * i + 1] = <uint16_t>(v - 1 - s)
        a[2 * i + 2] = <uint16_t>(v + 1)
        a[2 * i + 3] = <uint16_t>(e - v - 1)
        c.n += 1
    c.card -= 1
    return 1


# --- ranges in place ----------------------------------------------------------------------
# Each change is split in two: *_prepare does every allocation (growing a buffer in place
# is harmless: the contents stay valid), *_apply cannot fail. A bitmap-level range change
# prepares all its containers first, so a MemoryError leaves the bitmap untouched.
# Kinds follow CRoaring's container_add_range / container_remove_range.

cdef inline int32_t runs_end_at_or_after(const uint16_t* r, int32_t n, uint32_t v) noexcept nogil:
    """First run index whose last value is >= v (n if none)."""
    cdef int32_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if <uint32_t>r[2 * mid] + r[2 * mid + 1] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline int32_t runs_start_at_or_before(const uint16_t* r, int32_t n, uint32_t v) noexcept nogil:
    """Last run index whose first value is <= v (-1 if none)."""
    if v > 65535:
        return n - 1
    return run_index(r, n, <uint16_t>v)


cdef inline void c_set_full(container_t* c, void* buf) noexcept nogil:
    """Make c the full run [0, 65535] in buf (4 bytes; c's old data is the caller's)."""
    cdef uint16_t* r = <uint16_t*>buf
    r[0] = 0
    r[1] = 65535
    c_set_runs(c, r, 1, 65536)


cdef inline void array_range_bounds(const container_t* c, uint32_t s, uint32_t e,
                                    int32_t* lo_i, int32_t* hi_i) noexcept nogil:
    """Array indices of the first value >= s and the first >= e (e <= 65536)."""
    cdef const uint16_t* a = <uint16_t*>c.data
    lo_i[0] = lower_bound16(a, c.n, <uint16_t>s)
    hi_i[0] = c.n if e > 65535 else lo_i[0] + lower_bound16(a + lo_i[0], c.n - lo_i[0], <uint16_t>e)


cdef int c_add_range_prepare(container_t* c, uint32_t s, uint32_t e, void** buf) except -1 nogil:
    """Allocate what adding [s, e) (s < e <= 65536) to c will need (buf, or more room)."""
    cdef int32_t card, lo_i, hi_i, f, l, nnew
    buf[0] = NULL
    if c.card == 65536:
        return 0
    if c.kind == KIND_BITSET:
        card = c.card + <int32_t>(e - s) - words_range_card(<uint64_t*>c.data, s, e)
        if card == 65536:
            buf[0] = xmalloc(4)
        return 0
    if c.kind == KIND_ARRAY:
        array_range_bounds(c, s, e, &lo_i, &hi_i)
        card = lo_i + <int32_t>(e - s) + c.n - hi_i
        if card == 65536:
            buf[0] = xmalloc(4)
        elif card > MAX_ARRAY:
            buf[0] = xmalloc(BITSET_WORDS * 8)
        elif card > c.cap:
            c.data = xrealloc(c.data, <size_t>card * 2)
            c.cap = card
        return 0
    f = runs_end_at_or_after(<uint16_t*>c.data, c.n, s - 1 if s else 0)
    l = runs_start_at_or_before(<uint16_t*>c.data, c.n, e)
    nnew = f + c.n - l
    if nnew > c.cap:
        c.data = xrealloc(c.data, <size_t>nnew * 4)
        c.cap = nnew
    return 0


cdef void c_add_range_apply(container_t* c, uint32_t s, uint32_t e, void* buf) noexcept nogil:
    """Add [s, e) to c in place, using what c_add_range_prepare allocated."""
    cdef int32_t card, lo_i, hi_i, f, l, i, removed = 0
    cdef uint32_t v, ns, ne
    cdef uint16_t* a
    cdef uint64_t* w
    if c.card == 65536:
        return
    if c.kind == KIND_BITSET:
        w = <uint64_t*>c.data
        card = c.card + <int32_t>(e - s) - words_range_card(w, s, e)
        if card == 65536:
            free(w)
            c_set_full(c, buf)
            return
        words_set_range(w, s, e)
        c.card = card
        return
    if c.kind == KIND_ARRAY:
        a = <uint16_t*>c.data
        array_range_bounds(c, s, e, &lo_i, &hi_i)
        card = lo_i + <int32_t>(e - s) + c.n - hi_i
        if card == 65536:
            free(a)
            c_set_full(c, buf)
        elif card <= MAX_ARRAY:                 # room was made by the prepare step
            memmove(a + lo_i + (e - s), a + hi_i, <size_t>(c.n - hi_i) * 2)
            for v in range(s, e):
                a[lo_i + <int32_t>(v - s)] = <uint16_t>v
            c.n = card
            c.card = card
        else:
            w = <uint64_t*>buf
            memset(w, 0, BITSET_WORDS * 8)
            c_or_into_words(c, w)
            words_set_range(w, s, e)
            free(a)
            c.data = w
            c.kind = KIND_BITSET
            c.card = card
            c.n = 0
            c.cap = 0
        return
    # run list: runs [f, l] overlap or touch [s, e) and merge with it into one run
    a = <uint16_t*>c.data
    f = runs_end_at_or_after(a, c.n, s - 1 if s else 0)
    l = runs_start_at_or_before(a, c.n, e)
    ns = s
    ne = e - 1
    if f <= l:
        if a[2 * f] < ns:
            ns = a[2 * f]
        if <uint32_t>a[2 * l] + a[2 * l + 1] > ne:
            ne = <uint32_t>a[2 * l] + a[2 * l + 1]
        for i in range(f, l + 1):
            removed += a[2 * i + 1] + 1
    memmove(a + 2 * (f + 1), a + 2 * (l + 1), <size_t>(c.n - 1 - l) * 4)
    a[2 * f] = <uint16_t>ns
    a[2 * f + 1] = <uint16_t>(ne - ns)
    c.n = f + c.n - l
    c.card = c.card - removed + <int32_t>(ne - ns + 1)


cdef int c_remove_range_prepare(container_t* c, uint32_t s, uint32_t e, void** buf) except -1 nogil:
    """Allocate what removing [s, e) (s < e <= 65536) from c will need."""
    cdef int32_t card, rc, f, l, nnew, removed = 0, i
    cdef bint left, right
    cdef const uint16_t* a
    buf[0] = NULL
    if c.kind == KIND_BITSET:
        rc = words_range_card(<uint64_t*>c.data, s, e)
        card = c.card - rc
        if rc and 0 < card <= MAX_ARRAY:
            buf[0] = xmalloc(<size_t>card * 2)
        return 0
    if c.kind == KIND_ARRAY:
        return 0
    a = <uint16_t*>c.data
    f = runs_end_at_or_after(a, c.n, s)
    l = runs_start_at_or_before(a, c.n, e - 1)
    if f > l:
        return 0
    left = a[2 * f] < s
    right = <uint32_t>a[2 * l] + a[2 * l + 1] > e - 1
    nnew = f + left + right + c.n - 1 - l
    if nnew > c.cap:
        c.data = xrealloc(c.data, <size_t>nnew * 4)
        c.cap = nnew
        a = <uint16_t*>c.data
    for i in range(f, l + 1):
        removed += a[2 * i + 1] + 1
    if left:
        removed -= <int32_t>(s - a[2 * f])
    if right:
        removed -= <int32_t>(<uint32_t>a[2 * l] + a[2 * l + 1] - (e - 1))
    card = c.card - removed
    # the run list is kept only if it is the smallest form (c_normalize_run's rule)
    if card > 0 and 2 + 4 * nnew > (2 * card if 2 * card < BITSET_WORDS * 8 else BITSET_WORDS * 8):
        buf[0] = xmalloc(<size_t>card * 2 if card <= MAX_ARRAY else BITSET_WORDS * 8)
    return 0


cdef void c_remove_range_apply(container_t* c, uint32_t s, uint32_t e, void* buf) noexcept nogil:
    """Remove [s, e) from c in place, using what c_remove_range_prepare allocated. An
    emptied container is freed (card 0): the caller drops it."""
    cdef int32_t card, rc, lo_i, hi_i, f, l, i, removed = 0, at
    cdef uint32_t first, last
    cdef bint left, right
    cdef uint16_t* a
    cdef uint64_t* w
    if c.kind == KIND_BITSET:
        w = <uint64_t*>c.data
        rc = words_range_card(w, s, e)
        if rc == 0:
            return
        card = c.card - rc
        if card == 0:
            c_free(c)
            return
        words_clear_range(w, s, e)
        c.card = card
        if card <= MAX_ARRAY:
            rbk_words_to_u16(w, card, <uint16_t*>buf)
            free(w)
            c.data = buf
            c.kind = KIND_ARRAY
            c.n = card
            c.cap = card
        return
    if c.kind == KIND_ARRAY:
        a = <uint16_t*>c.data
        array_range_bounds(c, s, e, &lo_i, &hi_i)
        if hi_i == lo_i:
            return
        memmove(a + lo_i, a + hi_i, <size_t>(c.n - hi_i) * 2)
        c.n -= hi_i - lo_i
        c.card = c.n
        if c.card == 0:
            c_free(c)
        return
    a = <uint16_t*>c.data
    f = runs_end_at_or_after(a, c.n, s)
    l = runs_start_at_or_before(a, c.n, e - 1)
    if f > l:
        return
    first = a[2 * f]
    last = <uint32_t>a[2 * l] + a[2 * l + 1]
    left = first < s
    right = last > e - 1
    for i in range(f, l + 1):
        removed += a[2 * i + 1] + 1
    if left:
        removed -= <int32_t>(s - first)
    if right:
        removed -= <int32_t>(last - (e - 1))
    # the prepare step made room for the one extra run a split needs
    memmove(a + 2 * (f + left + right), a + 2 * (l + 1), <size_t>(c.n - 1 - l) * 4)
    at = f
    if left:
        a[2 * at] = <uint16_t>first
        a[2 * at + 1] = <uint16_t>(s - 1 - first)
        at += 1
    if right:
        a[2 * at] = <uint16_t>e
        a[2 * at + 1] = <uint16_t>(last - e)
    c.n = f + left + right + c.n - 1 - l
    c.card -= removed
    if c.card == 0:
        c_free(c)
        return
    if buf != NULL:                            # a smaller form: array or bitset
        if c.card <= MAX_ARRAY:
            c_to_uint16(c, <uint16_t*>buf)
            free(a)
            c.data = buf
            c.kind = KIND_ARRAY
            c.n = c.card
            c.cap = c.card
        else:
            w = <uint64_t*>buf
            memset(w, 0, BITSET_WORDS * 8)
            c_or_into_words(c, w)
            free(a)
            c.data = w
            c.kind = KIND_BITSET
            c.n = 0
            c.cap = 0


# --- intersection -------------------------------------------------------------------------

cdef inline int32_t gallop16(const uint16_t* a, int32_t i, int32_t n, uint16_t v) noexcept nogil:
    """First index >= i with a[index] >= v, by exponential then binary search."""
    cdef int32_t step = 1, lo = i, hi
    if i >= n or a[i] >= v:
        return i
    while lo + step < n and a[lo + step] < v:
        lo += step
        step <<= 1
    hi = lo + step if lo + step < n else n
    lo += 1
    while lo < hi:
        step = (lo + hi) >> 1
        if a[step] < v:
            lo = step + 1
        else:
            hi = step
    return lo


cdef int32_t array_and(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb,
                       uint16_t* out) noexcept nogil:
    """Sorted intersection; out (room for min(na, nb) values) may be NULL to count only."""
    cdef int32_t i = 0, j = 0, k = 0
    if na == 0 or nb == 0:
        return 0
    if na * 32 < nb or nb * 32 < na:       # skewed sizes: gallop through the larger one
        if na > nb:
            a, b = b, a
            na, nb = nb, na
        for i in range(na):
            j = gallop16(b, j, nb, a[i])
            if j >= nb:
                break
            if b[j] == a[i]:
                if out != NULL:
                    out[k] = a[i]
                k += 1
        return k
    return rbk_array_and(a, na, b, nb, out)     # SIMD block merge where the CPU has it


cdef int32_t array_and_words(const uint16_t* a, int32_t na, const uint64_t* w,
                             uint16_t* out) noexcept nogil:
    cdef int32_t i, k = 0
    cdef uint16_t v
    if out == NULL:
        for i in range(na):
            v = a[i]
            k += (w[v >> 6] >> (v & 63)) & 1
        return k
    for i in range(na):
        v = a[i]
        out[k] = v
        k += (w[v >> 6] >> (v & 63)) & 1
    return k


cdef int32_t array_and_runs(const uint16_t* a, int32_t na, const uint16_t* r, int32_t nr,
                            uint16_t* out) noexcept nogil:
    cdef int32_t i = 0, j = 0, k = 0
    cdef uint32_t v, s, e
    while i < na and j < nr:
        v = a[i]
        s = r[2 * j]
        e = s + r[2 * j + 1]
        if v < s:
            i = gallop16(a, i, na, <uint16_t>s)
        elif v > e:
            j += 1
        else:
            if out != NULL:
                out[k] = <uint16_t>v
            k += 1
            i += 1
    return k


cdef int32_t runs_and(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb,
                      uint16_t* out, int32_t* card) noexcept nogil:
    """Intersection of two run lists into out (may be NULL); returns runs, sets card."""
    cdef int32_t i = 0, j = 0, k = 0
    cdef uint32_t s1, e1, s2, e2, s, e
    card[0] = 0
    while i < na and j < nb:
        s1 = a[2 * i]
        e1 = s1 + a[2 * i + 1]
        s2 = b[2 * j]
        e2 = s2 + b[2 * j + 1]
        s = s1 if s1 > s2 else s2
        e = e1 if e1 < e2 else e2
        if s <= e:
            if out != NULL:
                out[2 * k] = <uint16_t>s
                out[2 * k + 1] = <uint16_t>(e - s)
            k += 1
            card[0] += e - s + 1
        if e1 < e2:
            i += 1
        else:
            j += 1
    return k


cdef inline bint c_is_full(const container_t* c) noexcept nogil:
    return c.card == 65536


cdef int32_t c_and_card(const container_t* a, const container_t* b) noexcept nogil:
    cdef int32_t i, k = 0
    cdef const uint64_t* wa
    cdef const uint64_t* wb
    cdef const uint16_t* r
    if a.kind > b.kind:                      # order the pair: array < bitset < run
        a, b = b, a
    if a.kind == KIND_ARRAY:
        if b.kind == KIND_ARRAY:
            return array_and(<uint16_t*>a.data, a.n, <uint16_t*>b.data, b.n, NULL)
        if b.kind == KIND_BITSET:
            return array_and_words(<uint16_t*>a.data, a.n, <uint64_t*>b.data, NULL)
        return array_and_runs(<uint16_t*>a.data, a.n, <uint16_t*>b.data, b.n, NULL)
    if a.kind == KIND_BITSET:
        wa = <uint64_t*>a.data
        if b.kind == KIND_BITSET:
            return rbk_and_card(wa, <uint64_t*>b.data)
        if c_is_full(b):
            return a.card
        r = <uint16_t*>b.data
        for i in range(b.n):
            k += words_range_card(wa, r[2 * i], <uint32_t>r[2 * i] + r[2 * i + 1] + 1)
        return k
    runs_and(<uint16_t*>a.data, a.n, <uint16_t*>b.data, b.n, NULL, &k)
    return k


cdef int c_and(const container_t* a, const container_t* b, container_t* out) except -1 nogil:
    cdef int32_t i, card, n
    cdef uint64_t* w
    cdef const uint64_t* wa
    cdef const uint64_t* wb
    cdef uint16_t* buf
    cdef const uint16_t* r
    c_zero(out)
    if a.kind > b.kind:
        a, b = b, a
    if a.kind == KIND_ARRAY:
        n = a.n if b.kind != KIND_ARRAY or a.n < b.n else b.n
        buf = <uint16_t*>xmalloc(<size_t>n * 2)
        if b.kind == KIND_ARRAY:
            card = array_and(<uint16_t*>a.data, a.n, <uint16_t*>b.data, b.n, buf)
        elif b.kind == KIND_BITSET:
            card = array_and_words(<uint16_t*>a.data, a.n, <uint64_t*>b.data, buf)
        else:
            card = array_and_runs(<uint16_t*>a.data, a.n, <uint16_t*>b.data, b.n, buf)
        if card == 0:
            free(buf)
            return 0
        out.data = buf
        out.kind = KIND_ARRAY
        out.card = card
        out.n = card
        out.cap = n
        return 0
    if a.kind == KIND_BITSET:
        if b.kind == KIND_RUN and c_is_full(b):
            return c_copy(out, a)
        wa = <uint64_t*>a.data
        if b.kind == KIND_BITSET:
            wb = <uint64_t*>b.data
            card = rbk_and_card(wa, wb)
            if card == 0:
                return 0
            if card <= MAX_ARRAY:
                buf = <uint16_t*>xmalloc(<size_t>card * 2)
                rbk_words_and_to_u16(wa, wb, card, buf)
                out.data = buf
                out.kind = KIND_ARRAY
                out.card = card
                out.n = card
                out.cap = card
                return 0
            w = <uint64_t*>xmalloc(BITSET_WORDS * 8)
            rbk_op(wa, wb, w, RBK_AND)
            out.data = w
            out.kind = KIND_BITSET
            out.card = card
            return 0
        w = c_words(b)                      # b is a run container
        return c_from_words(out, w, rbk_op(w, wa, w, RBK_AND))
    # run & run
    if c_is_full(a):
        return c_copy(out, b)
    if c_is_full(b):
        return c_copy(out, a)
    buf = <uint16_t*>xmalloc(<size_t>(a.n + b.n) * 4)
    n = runs_and(<uint16_t*>a.data, a.n, <uint16_t*>b.data, b.n, buf, &card)
    if n == 0:
        free(buf)
        return 0
    c_set_runs(out, buf, n, card)
    return c_normalize_run(out)


# --- union ------------------------------------------------------------------------------

cdef int32_t runs_or(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb,
                     uint16_t* out, int32_t* card) noexcept nogil:
    """Union of two run lists, merging runs that overlap or touch."""
    cdef int32_t i = 0, j = 0, k = -1
    cdef uint32_t s, e, last_end = 0
    card[0] = 0
    while i < na or j < nb:
        if j >= nb or (i < na and a[2 * i] <= b[2 * j]):
            s = a[2 * i]
            e = s + a[2 * i + 1]
            i += 1
        else:
            s = b[2 * j]
            e = s + b[2 * j + 1]
            j += 1
        if k >= 0 and s <= last_end + 1:
            if e > last_end:
                card[0] += e - last_end
                last_end = e
                out[2 * k + 1] = <uint16_t>(e - out[2 * k])
        else:
            k += 1
            out[2 * k] = <uint16_t>s
            out[2 * k + 1] = <uint16_t>(e - s)
            last_end = e
            card[0] += e - s + 1
    return k + 1


cdef int c_or(const container_t* a, const container_t* b, container_t* out) except -1 nogil:
    cdef int32_t i, card, n
    cdef uint32_t s, e
    cdef uint64_t* w
    cdef const uint64_t* wb
    cdef uint16_t* buf
    cdef uint16_t* tmp
    cdef const uint16_t* av
    c_zero(out)
    if a.kind > b.kind:
        a, b = b, a
    if (a.kind == KIND_RUN and c_is_full(a)) or (b.kind == KIND_RUN and c_is_full(b)):
        return c_copy(out, a if a.kind == KIND_RUN and c_is_full(a) else b)
    if a.kind == KIND_ARRAY and b.kind == KIND_ARRAY:
        # Merge while the result surely fits an array; a bitset (scatter, popcount,
        # extract: about 1024-word passes) only pays for itself beyond that.
        if a.n + b.n <= MAX_ARRAY:
            # + 8: rbk_union16's block stores may write up to 8 lanes past the result
            buf = <uint16_t*>xmalloc(<size_t>(a.n + b.n + 8) * 2)
            card = rbk_union16(<uint16_t*>a.data, a.n, <uint16_t*>b.data, b.n, buf)
            out.data = buf
            out.kind = KIND_ARRAY
            out.card = card
            out.n = card
            out.cap = a.n + b.n + 8
            return 0
        w = <uint64_t*>xmalloc(BITSET_WORDS * 8)
        c_fill_words(a, w)
        c_or_into_words(b, w)
        return c_from_words(out, w, words_card(w))
    if a.kind == KIND_ARRAY and b.kind == KIND_RUN:
        # CRoaring keeps array|run as a run list, then picks the smallest kind. When the
        # run list could outgrow a bitset (over 2047 runs) the union is built as a bitset
        # and its runs counted instead: the same choice, without the long run merge.
        if a.n + b.n > 2047:
            w = c_words(b)
            card = b.card
            av = <uint16_t*>a.data
            for i in range(a.n):
                card += 1 - <int32_t>((w[av[i] >> 6] >> (av[i] & 63)) & 1)
                w[av[i] >> 6] |= (<uint64_t>1) << (av[i] & 63)
            n = words_nruns(w)
            if 2 + 4 * n <= (2 * card if 2 * card < BITSET_WORDS * 8 else BITSET_WORDS * 8):
                buf = <uint16_t*>malloc(<size_t>n * 4)
                if buf == NULL:
                    free(w)
                    with gil:
                        raise MemoryError()
                words_to_runs(w, buf)
                free(w)
                c_set_runs(out, buf, n, card)
                return 0
            return c_from_words(out, w, card)
        tmp = <uint16_t*>xmalloc(<size_t>a.n * 4)
        n = array_to_runs(<uint16_t*>a.data, a.n, tmp)
        buf = <uint16_t*>malloc(<size_t>(n + b.n) * 4)
        if buf == NULL:
            free(tmp)
            with gil:
                raise MemoryError()
        n = runs_or(tmp, n, <uint16_t*>b.data, b.n, buf, &card)
        free(tmp)
        c_set_runs(out, buf, n, card)
        return c_normalize_run(out)
    if a.kind == KIND_RUN:
        buf = <uint16_t*>xmalloc(<size_t>(a.n + b.n) * 4)
        n = runs_or(<uint16_t*>a.data, a.n, <uint16_t*>b.data, b.n, buf, &card)
        c_set_runs(out, buf, n, card)
        return c_normalize_run(out)
    # a is an array or a bitset, b is a bitset or a run: the result is a bitset
    if a.kind == KIND_BITSET and b.kind == KIND_BITSET:
        w = <uint64_t*>xmalloc(BITSET_WORDS * 8)
        card = rbk_op(<uint64_t*>a.data, <uint64_t*>b.data, w, RBK_OR)
    elif a.kind == KIND_BITSET and b.n > RUNS_COUNT_AFTER:
        w = c_words(a)
        c_or_into_words(b, w)
        card = words_card(w)
    elif a.kind == KIND_BITSET:
        w = c_words(a)
        card = a.card
        av = <uint16_t*>b.data
        for i in range(b.n):
            s = av[2 * i]
            e = s + av[2 * i + 1] + 1
            card += <int32_t>(e - s) - words_range_card(w, s, e)
            words_set_range(w, s, e)
    else:
        w = c_words(b)
        av = <uint16_t*>a.data
        card = b.card
        for i in range(a.n):
            card += 1 - ((w[av[i] >> 6] >> (av[i] & 63)) & 1)
            w[av[i] >> 6] |= (<uint64_t>1) << (av[i] & 63)
    out.data = w
    out.kind = KIND_BITSET
    out.card = card
    return 0


# --- symmetric difference and difference ------------------------------------------------

cdef int32_t array_xor(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb,
                       uint16_t* out) noexcept nogil:
    # Branch-free, as array_or: the smaller head is written, and kept only when the heads differ.
    cdef int32_t i = 0, j = 0, k = 0
    cdef uint16_t x, y
    while i < na and j < nb:
        x = a[i]
        y = b[j]
        out[k] = x if x < y else y
        k += x != y
        i += x <= y
        j += y <= x
    if i < na:
        memcpy(out + k, a + i, <size_t>(na - i) * 2)
        k += na - i
    if j < nb:
        memcpy(out + k, b + j, <size_t>(nb - j) * 2)
        k += nb - j
    return k


cdef int32_t array_andnot(const container_t* a, const container_t* b,
                          uint16_t* out) noexcept nogil:
    """Values of array a that are not in b (any kind)."""
    cdef int32_t i, j = 0, k = 0
    cdef const uint16_t* av = <uint16_t*>a.data
    cdef const uint16_t* bv = <uint16_t*>b.data
    cdef const uint64_t* w
    cdef uint32_t v
    if b.kind == KIND_BITSET:
        w = <uint64_t*>b.data
        for i in range(a.n):
            v = av[i]
            out[k] = <uint16_t>v
            k += 1 - ((w[v >> 6] >> (v & 63)) & 1)
        return k
    if b.kind == KIND_ARRAY:
        if a.n * 32 >= b.n:                 # comparable sizes: one linear (SIMD) merge
            return rbk_array_andnot(av, a.n, bv, b.n, out)
        for i in range(a.n):                # b much larger: gallop through it
            j = gallop16(bv, j, b.n, av[i])
            if j < b.n and bv[j] == av[i]:
                continue
            out[k] = av[i]
            k += 1
        return k
    for i in range(a.n):
        v = av[i]
        while j < b.n and <uint32_t>bv[2 * j] + bv[2 * j + 1] < v:
            j += 1
        if j < b.n and bv[2 * j] <= v:
            continue
        out[k] = <uint16_t>v
        k += 1
    return k


cdef int32_t runs_andnot(const uint16_t* a, int32_t na, const uint16_t* b, int32_t nb,
                         uint16_t* out, int32_t* card) noexcept nogil:
    """Run list a minus run list b into out (room for na + nb runs: each b run splits at
    most one a run in two); returns runs, sets card."""
    cdef int32_t i, j = 0, t, k = 0
    cdef uint32_t s, e, cur, bs, be
    card[0] = 0
    for i in range(na):
        s = a[2 * i]
        e = s + a[2 * i + 1]
        while j < nb and <uint32_t>b[2 * j] + b[2 * j + 1] < s:
            j += 1
        cur = s                              # first value of [s, e] not yet decided
        t = j
        while t < nb and b[2 * t] <= e:
            bs = b[2 * t]
            be = bs + b[2 * t + 1]
            if bs > cur:
                out[2 * k] = <uint16_t>cur
                out[2 * k + 1] = <uint16_t>(bs - 1 - cur)
                k += 1
                card[0] += bs - cur
            if be >= e:                      # b's run covers the rest (and may go on)
                cur = e + 1
                break
            cur = be + 1
            t += 1
        if cur <= e:
            out[2 * k] = <uint16_t>cur
            out[2 * k + 1] = <uint16_t>(e - cur)
            k += 1
            card[0] += e - cur + 1
        j = t
    return k


cdef int32_t runs_minus_array(const uint16_t* r, int32_t nr, const uint16_t* v, int32_t nv,
                             uint16_t* out, int32_t* card) noexcept nogil:
    """Run list r without the sorted values v, as runs into out (room for nr + nv runs:
    each value splits at most one run in two); returns runs, sets card."""
    cdef int32_t i, j = 0, k = 0
    cdef uint32_t s, e, cur, x
    card[0] = 0
    for i in range(nr):
        s = r[2 * i]
        e = s + r[2 * i + 1]
        j = gallop16(v, j, nv, <uint16_t>s)
        cur = s
        while j < nv and v[j] <= e:
            x = v[j]
            if x > cur:
                out[2 * k] = <uint16_t>cur
                out[2 * k + 1] = <uint16_t>(x - 1 - cur)
                k += 1
                card[0] += x - cur
            cur = x + 1
            j += 1
        if cur <= e:
            out[2 * k] = <uint16_t>cur
            out[2 * k + 1] = <uint16_t>(e - cur)
            k += 1
            card[0] += e - cur + 1
    return k


cdef int32_t run_values_minus_array(const uint16_t* r, int32_t nr, const uint16_t* v,
                                    int32_t nv, uint16_t* out) noexcept nogil:
    """The values of run list r that are not in the sorted v, into out (room for the
    runs' cardinality); returns how many."""
    cdef int32_t i, j = 0, k = 0
    cdef uint32_t s, e, cur, x
    for i in range(nr):
        s = r[2 * i]
        e = s + r[2 * i + 1]
        while j < nv and v[j] < s:
            j += 1
        cur = s
        while j < nv and v[j] <= e:
            x = v[j]
            rbk_fill_seq16(out + k, cur, x - cur)
            k += <int32_t>(x - cur)
            cur = x + 1
            j += 1
        if cur <= e:
            rbk_fill_seq16(out + k, cur, e + 1 - cur)
            k += <int32_t>(e + 1 - cur)
    return k


cdef int c_xor(const container_t* a, const container_t* b, container_t* out) except -1 nogil:
    cdef int32_t i, card
    cdef uint32_t v, s, e
    cdef uint64_t* w
    cdef const uint64_t* wb
    cdef const uint16_t* av
    cdef uint16_t* buf
    c_zero(out)
    if a.kind > b.kind:
        a, b = b, a
    if a.kind == KIND_ARRAY and b.kind == KIND_ARRAY and a.n + b.n <= MAX_ARRAY:
        buf = <uint16_t*>xmalloc(<size_t>(a.n + b.n + 8) * 2)       # + 8: see rbk_xor16
        card = rbk_xor16(<uint16_t*>a.data, a.n, <uint16_t*>b.data, b.n, buf)
        if card < 0:
            card = array_xor(<uint16_t*>a.data, a.n, <uint16_t*>b.data, b.n, buf)
        if card == 0:
            free(buf)
            return 0
        out.data = buf
        out.kind = KIND_ARRAY
        out.card = card
        out.n = card
        out.cap = a.n + b.n + 8
        return 0
    if a.kind == KIND_ARRAY:
        w = c_words(b)
        card = b.card
        av = <uint16_t*>a.data
        for i in range(a.n):
            v = av[i]
            card += 1 - 2 * <int32_t>((w[v >> 6] >> (v & 63)) & 1)
            w[v >> 6] ^= (<uint64_t>1) << (v & 63)
        return c_from_words(out, w, card)
    if b.kind == KIND_BITSET:           # so a is a bitset too
        w = <uint64_t*>xmalloc(BITSET_WORDS * 8)
        card = rbk_op(<uint64_t*>a.data, <uint64_t*>b.data, w, RBK_XOR)
        return c_from_words(out, w, card)
    w = c_words(a)
    card = a.card
    av = <uint16_t*>b.data
    if b.n > RUNS_COUNT_AFTER:
        for i in range(b.n):
            words_flip_range(w, av[2 * i], <uint32_t>av[2 * i] + av[2 * i + 1] + 1)
        return c_from_words(out, w, words_card(w))
    for i in range(b.n):
        s = av[2 * i]
        e = s + av[2 * i + 1] + 1
        card += <int32_t>(e - s) - 2 * words_range_card(w, s, e)
        words_flip_range(w, s, e)
    return c_from_words(out, w, card)


cdef int c_andnot(const container_t* a, const container_t* b, container_t* out) except -1 nogil:
    cdef int32_t i, card, n
    cdef uint32_t v, s, e
    cdef uint64_t* w
    cdef const uint64_t* wb
    cdef const uint16_t* bv
    cdef uint16_t* buf
    c_zero(out)
    if a.kind == KIND_ARRAY:
        buf = <uint16_t*>xmalloc(<size_t>a.n * 2)
        card = array_andnot(a, b, buf)
        if card == 0:
            free(buf)
            return 0
        out.data = buf
        out.kind = KIND_ARRAY
        out.card = card
        out.n = card
        out.cap = a.n
        return 0
    if b.kind == KIND_RUN and c_is_full(b):
        return 0
    if a.kind == KIND_RUN and b.kind == KIND_RUN:
        buf = <uint16_t*>xmalloc(<size_t>(a.n + b.n) * 4)
        n = runs_andnot(<uint16_t*>a.data, a.n, <uint16_t*>b.data, b.n, buf, &card)
        if n == 0:
            free(buf)
            return 0
        c_set_runs(out, buf, n, card)
        return c_normalize_run(out)
    if a.kind == KIND_RUN and b.kind == KIND_ARRAY:
        # CRoaring's run_array_container_andnot: a tiny run container stays a run list
        # (then the smallest form), else an array of the run's values minus b's while
        # that fits, else a bitset (an array again if it shrinks to 4096 values).
        if a.card <= 32:
            buf = <uint16_t*>xmalloc(<size_t>(a.n + b.n) * 4)
            n = runs_minus_array(<uint16_t*>a.data, a.n, <uint16_t*>b.data, b.n, buf, &card)
            if n == 0:
                free(buf)
                return 0
            c_set_runs(out, buf, n, card)
            return c_normalize_run(out)
        if a.card > MAX_ARRAY:
            w = c_words(a)
            rbk_array_andnot_words(<uint16_t*>b.data, b.n, w)
            return c_from_words(out, w, words_card(w))
        buf = <uint16_t*>xmalloc(<size_t>a.card * 2)
        card = run_values_minus_array(<uint16_t*>a.data, a.n, <uint16_t*>b.data, b.n, buf)
        if card == 0:
            free(buf)
            return 0
        out.data = buf
        out.kind = KIND_ARRAY
        out.card = card
        out.n = card
        out.cap = a.card
        return 0
    if b.kind == KIND_BITSET:
        if a.kind == KIND_BITSET:
            w = <uint64_t*>xmalloc(BITSET_WORDS * 8)
            card = rbk_op(<uint64_t*>a.data, <uint64_t*>b.data, w, RBK_ANDNOT)
        else:
            w = c_words(a)
            card = rbk_op(w, <uint64_t*>b.data, w, RBK_ANDNOT)
        return c_from_words(out, w, card)
    w = c_words(a)
    card = a.card
    bv = <uint16_t*>b.data
    if b.kind == KIND_RUN and b.n > RUNS_COUNT_AFTER:
        for i in range(b.n):
            words_clear_range(w, bv[2 * i], <uint32_t>bv[2 * i] + bv[2 * i + 1] + 1)
        return c_from_words(out, w, words_card(w))
    if b.kind == KIND_RUN:
        for i in range(b.n):
            s = bv[2 * i]
            e = s + bv[2 * i + 1] + 1
            card -= words_range_card(w, s, e)
            words_clear_range(w, s, e)
    else:
        for i in range(b.n):
            v = bv[i]
            card -= <int32_t>((w[v >> 6] >> (v & 63)) & 1)
            w[v >> 6] &= ~((<uint64_t>1) << (v & 63))
    return c_from_words(out, w, card)


cdef bint c_equal(const container_t* a, const container_t* b) noexcept nogil:
    if a.card != b.card:
        return False
    if a.kind == b.kind and a.kind != KIND_BITSET:
        return a.n == b.n and memcmp(a.data, b.data, c_payload_bytes(a)) == 0
    if a.kind == KIND_BITSET and b.kind == KIND_BITSET:
        return memcmp(a.data, b.data, BITSET_WORDS * 8) == 0
    return c_and_card(a, b) == a.card


cdef size_t c_memory(const container_t* c) noexcept nogil:
    if c.kind == KIND_BITSET:
        return BITSET_WORDS * 8
    if c.kind == KIND_RUN:
        return <size_t>c.cap * 4
    return <size_t>c.cap * 2
