# Bitmaps: sorted keys (high 48 bits) with one container each. Everything here runs
# without the GIL. An `out` bitmap is always consistent (n counts only finished
# containers), so when an operation fails half-way its owner can simply free it.


cdef int rb_init(rb_t* r, int64_t cap) except -1 nogil:
    r.n = 0
    r.cap = 0
    r.keys = NULL
    r.cs = NULL
    if cap > 0:
        rb_reserve(r, cap)
    return 0


cdef void rb_free(rb_t* r) noexcept nogil:
    cdef int64_t i
    for i in range(r.n):
        free(r.cs[i].data)
    free(r.keys)
    free(r.cs)
    r.keys = NULL
    r.cs = NULL
    r.n = 0
    r.cap = 0


cdef int rb_reserve(rb_t* r, int64_t need) except -1 nogil:
    cdef int64_t cap
    if need <= r.cap:
        return 0
    cap = r.cap * 2
    if cap < need:
        cap = need
    if cap < 4:
        cap = 4
    r.keys = <uint64_t*>xrealloc(r.keys, <size_t>cap * sizeof(uint64_t))
    r.cs = <container_t*>xrealloc(r.cs, <size_t>cap * sizeof(container_t))
    r.cap = cap
    return 0


cdef int grow_or_free(rb_t* r, container_t* c) except -1 nogil:
    """Make room for one more container; on failure free c (its owner is us) and raise."""
    cdef bint ok = False
    try:
        rb_reserve(r, r.n + 1)
        ok = True
    finally:
        if not ok:
            c_free(c)
    return 0


cdef int rb_append(rb_t* r, uint64_t key, container_t* c) except -1 nogil:
    """Move c (left empty) to the end of r; empty containers are dropped."""
    if c.card == 0:
        c_free(c)
        return 0
    if r.n == r.cap:
        grow_or_free(r, c)
    r.keys[r.n] = key
    r.cs[r.n] = c[0]
    r.n += 1
    c_zero(c)
    return 0


cdef int rb_append_copy(rb_t* r, uint64_t key, const container_t* c) except -1 nogil:
    cdef container_t tmp
    c_copy(&tmp, c)
    return rb_append(r, key, &tmp)


cdef int rb_copy(rb_t* dst, const rb_t* src) except -1 nogil:
    cdef int64_t i
    rb_init(dst, src.n)
    for i in range(src.n):
        rb_append_copy(dst, src.keys[i], &src.cs[i])
    return 0


cdef uint64_t rb_card(const rb_t* r) noexcept nogil:
    cdef uint64_t card = 0
    cdef int64_t i
    for i in range(r.n):
        card += r.cs[i].card
    return card


cdef int64_t rb_find(const rb_t* r, uint64_t key) noexcept nogil:
    """Index of key, or -(insertion point) - 1."""
    cdef int64_t lo
    if r.n and r.keys[r.n - 1] == key:          # appends and tail lookups are common
        return r.n - 1
    lo = rbk_lower_bound64(r.keys, r.n, key)
    if lo < r.n and r.keys[lo] == key:
        return lo
    return -lo - 1


cdef inline int64_t key_gallop(const uint64_t* keys, int64_t i, int64_t n, uint64_t key) noexcept nogil:
    """First index >= i whose key >= key."""
    cdef int64_t step = 1, lo = i, hi, mid
    if i >= n or keys[i] >= key:
        return i
    while lo + step < n and keys[lo + step] < key:
        lo += step
        step <<= 1
    hi = lo + step if lo + step < n else n
    lo += 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef bint rb_contains(const rb_t* r, uint64_t v) noexcept nogil:
    cdef int64_t i = rb_find(r, v >> 16)
    return i >= 0 and c_contains(&r.cs[i], <uint16_t>(v & 0xFFFF))


cdef int rb_insert_at(rb_t* r, int64_t idx, uint64_t key, container_t* c) except -1 nogil:
    """Move c into position idx (keys stay sorted: the caller found idx by rb_find)."""
    if r.n == r.cap:
        grow_or_free(r, c)
    memmove(r.keys + idx + 1, r.keys + idx, <size_t>(r.n - idx) * sizeof(uint64_t))
    memmove(r.cs + idx + 1, r.cs + idx, <size_t>(r.n - idx) * sizeof(container_t))
    r.keys[idx] = key
    r.cs[idx] = c[0]
    r.n += 1
    c_zero(c)
    return 0


cdef void rb_remove_at(rb_t* r, int64_t idx) noexcept nogil:
    free(r.cs[idx].data)
    memmove(r.keys + idx, r.keys + idx + 1, <size_t>(r.n - idx - 1) * sizeof(uint64_t))
    memmove(r.cs + idx, r.cs + idx + 1, <size_t>(r.n - idx - 1) * sizeof(container_t))
    r.n -= 1


cdef int rb_add(rb_t* r, uint64_t v) except -1 nogil:
    """Add one value; returns 1 if it was absent."""
    cdef container_t c
    cdef uint16_t* a
    cdef int64_t i = rb_find(r, v >> 16)
    if i >= 0:
        return c_add(&r.cs[i], <uint16_t>(v & 0xFFFF))
    c_alloc(&c, KIND_ARRAY, 1)
    a = <uint16_t*>c.data
    a[0] = <uint16_t>(v & 0xFFFF)
    c.n = 1
    c.card = 1
    rb_insert_at(r, -i - 1, v >> 16, &c)
    return 1


cdef int rb_remove(rb_t* r, uint64_t v) except -1 nogil:
    """Remove one value; returns 1 if it was present."""
    cdef int64_t i = rb_find(r, v >> 16)
    cdef int removed
    if i < 0:
        return 0
    removed = c_remove(&r.cs[i], <uint16_t>(v & 0xFFFF))
    if r.cs[i].card == 0:
        rb_remove_at(r, i)
    return removed


# --- binary operations --------------------------------------------------------------------

cdef int rb_and(rb_t* out, const rb_t* a, const rb_t* b) except -1 nogil:
    cdef int64_t i = 0, j = 0
    cdef uint64_t ka, kb
    cdef container_t tmp
    rb_init(out, 0)
    while i < a.n and j < b.n:
        ka = a.keys[i]
        kb = b.keys[j]
        if ka < kb:
            i = key_gallop(a.keys, i, a.n, kb)
        elif kb < ka:
            j = key_gallop(b.keys, j, b.n, ka)
        else:
            c_and(&a.cs[i], &b.cs[j], &tmp)
            rb_append(out, ka, &tmp)
            i += 1
            j += 1
    return 0


cdef uint64_t rb_and_card(const rb_t* a, const rb_t* b) noexcept nogil:
    cdef int64_t i = 0, j = 0
    cdef uint64_t ka, kb, card = 0
    while i < a.n and j < b.n:
        ka = a.keys[i]
        kb = b.keys[j]
        if ka < kb:
            i = key_gallop(a.keys, i, a.n, kb)
        elif kb < ka:
            j = key_gallop(b.keys, j, b.n, ka)
        else:
            card += c_and_card(&a.cs[i], &b.cs[j])
            i += 1
            j += 1
    return card


cdef uint64_t rb_and_card_totals(const rb_t* a, const rb_t* b, uint64_t* card_a,
                                uint64_t* card_b) noexcept nogil:
    """|a ∩ b|, also setting |a| and |b|: one pass over both key arrays."""
    cdef int64_t i = 0, j = 0
    cdef uint64_t ka, kb, card = 0, ca = 0, cb = 0
    while i < a.n and j < b.n:
        ka = a.keys[i]
        kb = b.keys[j]
        if ka < kb:
            ca += a.cs[i].card
            i += 1
        elif kb < ka:
            cb += b.cs[j].card
            j += 1
        else:
            ca += a.cs[i].card
            cb += b.cs[j].card
            card += c_and_card(&a.cs[i], &b.cs[j])
            i += 1
            j += 1
    while i < a.n:
        ca += a.cs[i].card
        i += 1
    while j < b.n:
        cb += b.cs[j].card
        j += 1
    card_a[0] = ca
    card_b[0] = cb
    return card


cdef int rb_or(rb_t* out, const rb_t* a, const rb_t* b) except -1 nogil:
    cdef int64_t i = 0, j = 0
    cdef uint64_t ka, kb
    cdef container_t tmp
    rb_init(out, a.n + b.n)
    while i < a.n and j < b.n:
        ka = a.keys[i]
        kb = b.keys[j]
        if ka < kb:
            rb_append_copy(out, ka, &a.cs[i])
            i += 1
        elif kb < ka:
            rb_append_copy(out, kb, &b.cs[j])
            j += 1
        else:
            c_or(&a.cs[i], &b.cs[j], &tmp)
            rb_append(out, ka, &tmp)
            i += 1
            j += 1
    while i < a.n:
        rb_append_copy(out, a.keys[i], &a.cs[i])
        i += 1
    while j < b.n:
        rb_append_copy(out, b.keys[j], &b.cs[j])
        j += 1
    return 0


cdef int rb_xor(rb_t* out, const rb_t* a, const rb_t* b) except -1 nogil:
    cdef int64_t i = 0, j = 0
    cdef uint64_t ka, kb
    cdef container_t tmp
    rb_init(out, a.n + b.n)
    while i < a.n and j < b.n:
        ka = a.keys[i]
        kb = b.keys[j]
        if ka < kb:
            rb_append_copy(out, ka, &a.cs[i])
            i += 1
        elif kb < ka:
            rb_append_copy(out, kb, &b.cs[j])
            j += 1
        else:
            c_xor(&a.cs[i], &b.cs[j], &tmp)
            rb_append(out, ka, &tmp)
            i += 1
            j += 1
    while i < a.n:
        rb_append_copy(out, a.keys[i], &a.cs[i])
        i += 1
    while j < b.n:
        rb_append_copy(out, b.keys[j], &b.cs[j])
        j += 1
    return 0


cdef int rb_andnot(rb_t* out, const rb_t* a, const rb_t* b) except -1 nogil:
    cdef int64_t i, j = 0
    cdef uint64_t ka
    cdef container_t tmp
    rb_init(out, a.n)
    for i in range(a.n):
        ka = a.keys[i]
        j = key_gallop(b.keys, j, b.n, ka)
        if j < b.n and b.keys[j] == ka:
            c_andnot(&a.cs[i], &b.cs[j], &tmp)
            rb_append(out, ka, &tmp)
        else:
            rb_append_copy(out, ka, &a.cs[i])
    return 0


cdef int rb_or_many(rb_t* out, const rb_t** bms, int64_t k) except -1 nogil:
    """Union of k bitmaps in one pass over their keys (no intermediate bitmaps)."""
    cdef int64_t* pos = <int64_t*>xmalloc(<size_t>k * sizeof(int64_t))
    cdef int64_t t, first, count
    cdef uint64_t key
    cdef bint found
    cdef container_t tmp
    cdef uint64_t* w
    memset(pos, 0, <size_t>k * sizeof(int64_t))
    try:
        rb_init(out, 0)
        while True:
            found = False
            key = 0
            for t in range(k):
                if pos[t] < bms[t].n and (not found or bms[t].keys[pos[t]] < key):
                    key = bms[t].keys[pos[t]]
                    found = True
            if not found:
                break
            count = 0
            first = -1
            for t in range(k):
                if pos[t] < bms[t].n and bms[t].keys[pos[t]] == key:
                    if first < 0:
                        first = t
                    count += 1
            if count == 1:
                rb_append_copy(out, key, &bms[first].cs[pos[first]])
                pos[first] += 1
                continue
            w = <uint64_t*>xmalloc(BITSET_WORDS * 8)
            memset(w, 0, BITSET_WORDS * 8)
            for t in range(first, k):
                if pos[t] < bms[t].n and bms[t].keys[pos[t]] == key:
                    c_or_into_words(&bms[t].cs[pos[t]], w)
                    pos[t] += 1
            c_from_words(&tmp, w, words_card(w))
            rb_append(out, key, &tmp)
    finally:
        free(pos)
    return 0


cdef bint rb_equal(const rb_t* a, const rb_t* b) noexcept nogil:
    cdef int64_t i
    if a.n != b.n:
        return False
    for i in range(a.n):
        if a.keys[i] != b.keys[i] or not c_equal(&a.cs[i], &b.cs[i]):
            return False
    return True


cdef bint rb_subset(const rb_t* a, const rb_t* b) noexcept nogil:
    """a ⊆ b."""
    cdef int64_t i, j = 0
    for i in range(a.n):
        j = key_gallop(b.keys, j, b.n, a.keys[i])
        if j >= b.n or b.keys[j] != a.keys[i]:
            return False
        if a.cs[i].card > b.cs[j].card or c_and_card(&a.cs[i], &b.cs[j]) != a.cs[i].card:
            return False
    return True


# --- construction and export ------------------------------------------------------------

cdef bint sorted_u64(const uint64_t* v, int64_t n) noexcept nogil:
    cdef int64_t i
    for i in range(1, n):
        if v[i] < v[i - 1]:
            return False
    return True


cdef int rb_from_sorted(rb_t* out, const uint64_t* v, int64_t n) except -1 nogil:
    """Build from non-decreasing values (duplicates allowed) the way CRoaring's add_many
    leaves them: an array up to 4096 distinct values per chunk, a bitset above."""
    cdef int64_t i = 0, j, m, t
    cdef uint64_t key
    cdef int32_t k
    cdef uint16_t* a
    cdef uint64_t* w
    cdef uint16_t low
    cdef container_t c
    rb_init(out, 0)
    while i < n:
        key = v[i] >> 16
        j = i + 1
        while j < n and (v[j] >> 16) == key:
            j += 1
        m = j - i
        if m <= MAX_ARRAY:
            c_alloc(&c, KIND_ARRAY, <int32_t>m)
            a = <uint16_t*>c.data
            k = 0
            for t in range(i, j):
                low = <uint16_t>(v[t] & 0xFFFF)
                if k == 0 or a[k - 1] != low:
                    a[k] = low
                    k += 1
            c.n = k
            c.card = k
        else:
            w = <uint64_t*>xmalloc(BITSET_WORDS * 8)
            memset(w, 0, BITSET_WORDS * 8)
            for t in range(i, j):
                low = <uint16_t>(v[t] & 0xFFFF)
                w[low >> 6] |= (<uint64_t>1) << (low & 63)
            c_from_words(&c, w, words_card(w))
        rb_append(out, key, &c)
        i = j
    return 0


cdef int64_t c_to_uint64(const container_t* c, uint64_t high, uint64_t* out) noexcept nogil:
    """Write the container's values | high in order (exactly card of them); returns card."""
    if c.kind == KIND_ARRAY:
        rbk_array_to_u64(<uint16_t*>c.data, c.n, high, out)
        return c.n
    if c.kind == KIND_BITSET:
        return rbk_words_to_u64(<uint64_t*>c.data, c.card, high, out)
    return rbk_runs_to_u64(<uint16_t*>c.data, c.n, c.card, high, out)


cdef int64_t rb_to_uint64(const rb_t* r, uint64_t* out) noexcept nogil:
    cdef int64_t i, k = 0
    for i in range(r.n):
        k += c_to_uint64(&r.cs[i], r.keys[i] << 16, out + k)
    return k


# --- ranges (inclusive [lo, last] so that 2**64 - 1 is reachable) ---------------------------

cdef int range_container(container_t* c, uint64_t key, uint64_t lo, uint64_t last) except -1 nogil:
    """The part of [lo, last] inside chunk `key` as a container (the chunk must overlap)."""
    cdef uint32_t s = 0, e = 65535
    if (lo >> 16) == key:
        s = <uint32_t>(lo & 0xFFFF)
    if (last >> 16) == key:
        e = <uint32_t>(last & 0xFFFF)
    return c_from_range(c, s, e + 1)


cdef int rb_range(rb_t* out, uint64_t lo, uint64_t last) except -1 nogil:
    """out = [lo, last]."""
    cdef uint64_t key
    cdef container_t c
    rb_init(out, <int64_t>((last >> 16) - (lo >> 16) + 1))
    key = lo >> 16
    while True:
        range_container(&c, key, lo, last)
        rb_append(out, key, &c)
        if key == last >> 16:
            break
        key += 1
    return 0


cdef int rb_slice(rb_t* out, const rb_t* r, uint64_t lo, uint64_t last) except -1 nogil:
    """out = r ∩ [lo, last]."""
    cdef int64_t i
    cdef container_t rc, tmp
    cdef uint64_t key
    rb_init(out, 0)
    i = key_gallop(r.keys, 0, r.n, lo >> 16)
    while i < r.n and r.keys[i] <= last >> 16:
        key = r.keys[i]
        if key != lo >> 16 and key != last >> 16:
            rb_append_copy(out, key, &r.cs[i])
        else:
            range_container(&rc, key, lo, last)
            try:
                c_and(&r.cs[i], &rc, &tmp)
            finally:
                c_free(&rc)
            rb_append(out, key, &tmp)
        i += 1
    return 0


cdef uint64_t rb_range_card(const rb_t* r, uint64_t lo, uint64_t last) noexcept nogil:
    cdef int64_t i
    cdef uint64_t key, card = 0
    cdef uint32_t s, e
    i = key_gallop(r.keys, 0, r.n, lo >> 16)
    while i < r.n and r.keys[i] <= last >> 16:
        key = r.keys[i]
        s = <uint32_t>(lo & 0xFFFF) if key == lo >> 16 else 0
        e = <uint32_t>(last & 0xFFFF) + 1 if key == last >> 16 else 65536
        card += c_range_card(&r.cs[i], s, e)
        i += 1
    return card


cdef int range_parts(uint64_t lo, uint64_t last, uint64_t* pkey, uint32_t* ps, uint32_t* pe,
                     uint64_t* f0, uint64_t* f1, bint* middle) noexcept nogil:
    """Split [lo, last] into at most two partly covered chunks (pkey, [ps, pe)) and the
    wholly covered chunk keys [f0, f1] (when middle). Returns the number of partial ones."""
    cdef uint64_t k0 = lo >> 16, k1 = last >> 16
    cdef uint32_t s0 = <uint32_t>(lo & 0xFFFF), e1 = <uint32_t>(last & 0xFFFF) + 1
    cdef int np = 0
    middle[0] = False
    if k0 == k1:
        if s0 == 0 and e1 == 65536:
            middle[0] = True
            f0[0] = k0
            f1[0] = k0
            return 0
        pkey[0] = k0
        ps[0] = s0
        pe[0] = e1
        return 1
    f0[0] = k0
    f1[0] = k1
    if s0 != 0:
        pkey[np] = k0
        ps[np] = s0
        pe[np] = 65536
        np += 1
        f0[0] = k0 + 1
    if e1 != 65536:
        pkey[np] = k1
        ps[np] = 0
        pe[np] = e1
        np += 1
        f1[0] = k1 - 1                        # k1 > k0 >= 0: no wrap
    middle[0] = f0[0] <= f1[0]
    return np


cdef int rb_add_range(rb_t* r, uint64_t lo, uint64_t last) except -1 nogil:
    """Add [lo, last] in place. The (at most two) partly covered containers change in
    place; whole chunks become full runs, spliced in with one memmove. All allocation
    happens before the first change: on MemoryError r is untouched."""
    cdef uint64_t pkey[2]
    cdef uint32_t ps[2]
    cdef uint32_t pe[2]
    cdef int64_t pidx[2]
    cdef void* pbuf[2]
    cdef container_t pnew[2]
    cdef uint64_t f0 = 0, f1 = 0
    cdef bint middle, ok = False
    cdef int np = range_parts(lo, last, pkey, ps, pe, &f0, &f1, &middle), t
    cdef int64_t i0 = 0, i1 = 0, m = 0, extra = 0, j, idx
    cdef void** full = NULL
    for t in range(2):
        pbuf[t] = NULL
        c_zero(&pnew[t])
    for t in range(np):
        pidx[t] = rb_find(r, pkey[t])
        if pidx[t] < 0:
            extra += 1
    if middle:
        i0 = key_gallop(r.keys, 0, r.n, f0)
        i1 = key_gallop(r.keys, i0, r.n, f1 + 1)
        m = <int64_t>(f1 - f0 + 1)
        extra += m - (i1 - i0)
    try:
        rb_reserve(r, r.n + extra)
        for t in range(np):
            if pidx[t] >= 0:
                c_add_range_prepare(&r.cs[pidx[t]], ps[t], pe[t], &pbuf[t])
            else:
                c_from_range(&pnew[t], ps[t], pe[t])
        if middle:
            full = <void**>xmalloc(<size_t>m * sizeof(void*))
            memset(full, 0, <size_t>m * sizeof(void*))
            for j in range(m):
                full[j] = xmalloc(4)
        ok = True
    finally:
        if not ok:
            for t in range(2):
                free(pbuf[t])
                c_free(&pnew[t])
            if full != NULL:
                for j in range(m):
                    free(full[j])
                free(full)
    # nothing below can fail
    if middle:
        for j in range(i0, i1):
            free(r.cs[j].data)
        memmove(r.keys + i0 + m, r.keys + i1, <size_t>(r.n - i1) * sizeof(uint64_t))
        memmove(r.cs + i0 + m, r.cs + i1, <size_t>(r.n - i1) * sizeof(container_t))
        for j in range(m):
            r.keys[i0 + j] = f0 + <uint64_t>j
            c_set_full(&r.cs[i0 + j], full[j])
        r.n += m - (i1 - i0)
        free(full)
    for t in range(np):
        idx = rb_find(r, pkey[t])             # the splice moved indices, not these keys
        if idx >= 0:
            c_add_range_apply(&r.cs[idx], ps[t], pe[t], pbuf[t])
        else:                                 # room reserved above: no growth, no failure
            idx = -idx - 1
            memmove(r.keys + idx + 1, r.keys + idx, <size_t>(r.n - idx) * sizeof(uint64_t))
            memmove(r.cs + idx + 1, r.cs + idx, <size_t>(r.n - idx) * sizeof(container_t))
            r.keys[idx] = pkey[t]
            r.cs[idx] = pnew[t]
            r.n += 1
    return 0


cdef int rb_remove_range(rb_t* r, uint64_t lo, uint64_t last) except -1 nogil:
    """Remove [lo, last] in place. The (at most two) partly covered containers change in
    place; the wholly covered ones and any emptied one leave with one compaction. All
    allocation happens before the first change: on MemoryError r is untouched."""
    cdef uint64_t pkey[2]
    cdef uint32_t ps[2]
    cdef uint32_t pe[2]
    cdef int64_t pidx[2]
    cdef void* pbuf[2]
    cdef uint64_t f0 = 0, f1 = 0, key
    cdef bint middle, ok = False
    cdef int np = range_parts(lo, last, pkey, ps, pe, &f0, &f1, &middle), t
    cdef int64_t i, w, start, end
    for t in range(2):
        pbuf[t] = NULL
        pidx[t] = -1
    try:
        for t in range(np):
            pidx[t] = rb_find(r, pkey[t])
            if pidx[t] >= 0:
                c_remove_range_prepare(&r.cs[pidx[t]], ps[t], pe[t], &pbuf[t])
        ok = True
    finally:
        if not ok:
            free(pbuf[0])
            free(pbuf[1])
    # nothing below can fail
    for t in range(np):
        if pidx[t] >= 0:
            c_remove_range_apply(&r.cs[pidx[t]], ps[t], pe[t], pbuf[t])
    start = key_gallop(r.keys, 0, r.n, lo >> 16)
    end = key_gallop(r.keys, start, r.n, (last >> 16) + 1)
    w = start
    for i in range(start, end):
        key = r.keys[i]
        if (middle and f0 <= key <= f1) or r.cs[i].card == 0:
            free(r.cs[i].data)
            continue
        r.keys[w] = key
        r.cs[w] = r.cs[i]
        w += 1
    if w != end:
        memmove(r.keys + w, r.keys + end, <size_t>(r.n - end) * sizeof(uint64_t))
        memmove(r.cs + w, r.cs + end, <size_t>(r.n - end) * sizeof(container_t))
        r.n -= end - w
    return 0


cdef int rb_merge_container(rb_t* r, uint64_t key, container_t* c, int op) except -1 nogil:
    """r[key] = r[key] op c for op 0 = or, 1 = xor (c is consumed)."""
    cdef int64_t i = rb_find(r, key)
    cdef container_t tmp
    if i < 0:
        return rb_insert_at(r, -i - 1, key, c)
    try:
        if op == 0:
            c_or(&r.cs[i], c, &tmp)
        else:
            c_xor(&r.cs[i], c, &tmp)
    finally:
        c_free(c)
    free(r.cs[i].data)
    if tmp.card == 0:
        r.cs[i].data = NULL
        rb_remove_at(r, i)
    else:
        r.cs[i] = tmp
    return 0


cdef int rb_run_optimize(rb_t* r) except -1 nogil:
    cdef int64_t i
    cdef int any_run = 0
    for i in range(r.n):
        if c_run_optimize(&r.cs[i]):
            any_run = 1
    return any_run
