# The portable Roaring serialisation (the format CRoaring, Java and Go share).
#
# 32-bit format, all integers little-endian:
#   cookie      uint32 12346, then uint32 container count           (no run containers)
#            or uint16 12347, uint16 count-1, then ceil(count/8) bytes of run flags
#   header      per container: uint16 key (high 16 bits), uint16 cardinality-1
#   offsets     per container: uint32 byte offset of its data from the start of the
#               stream; present unless there are runs and fewer than 4 containers
#   data        array: card x uint16; bitset: 1024 x uint64; run: uint16 n, n x (start, len-1)
# 64-bit format: uint64 bucket count, then per bucket a uint32 high-32-bit key followed by
# that bucket's 32-bit serialisation.
#
# Reading validates every length against the bytes that remain before allocating, so a
# hostile input can neither crash us nor make us allocate more than its own size.

cdef enum:
    COOKIE_NO_RUN = 12346
    COOKIE_RUN = 12347
    NO_OFFSET_THRESHOLD = 4

cdef inline void put16(uint8_t* p, uint16_t v) noexcept nogil:
    memcpy(p, &v, 2)

cdef inline void put32(uint8_t* p, uint32_t v) noexcept nogil:
    memcpy(p, &v, 4)

cdef inline void put64(uint8_t* p, uint64_t v) noexcept nogil:
    memcpy(p, &v, 8)

cdef inline uint16_t get16(const uint8_t* p) noexcept nogil:
    cdef uint16_t v
    memcpy(&v, p, 2)
    return v

cdef inline uint32_t get32(const uint8_t* p) noexcept nogil:
    cdef uint32_t v
    memcpy(&v, p, 4)
    return v

cdef inline uint64_t get64(const uint8_t* p) noexcept nogil:
    cdef uint64_t v
    memcpy(&v, p, 8)
    return v


cdef int corrupt(const char* what, size_t offset) except -1 with gil:
    raise CorruptDataError(f"corrupt roaring data: {what.decode()} at byte {offset}", offset)


cdef inline size_t c_serialized_bytes(const container_t* c) noexcept nogil:
    if c.kind == KIND_RUN:
        return 2 + <size_t>c.n * 4
    if c.kind == KIND_BITSET:
        return BITSET_WORDS * 8
    return <size_t>c.card * 2


cdef size_t ser32_size(const rb_t* r, int64_t lo, int64_t hi) noexcept nogil:
    cdef int64_t i, n = hi - lo
    cdef size_t size = 0
    cdef bint hasrun = False
    for i in range(lo, hi):
        if r.cs[i].kind == KIND_RUN:
            hasrun = True
        size += c_serialized_bytes(&r.cs[i])
    if hasrun:
        size += 4 + <size_t>(n + 7) // 8 + 4 * <size_t>n
        if n >= NO_OFFSET_THRESHOLD:
            size += 4 * <size_t>n
    else:
        size += 8 + 8 * <size_t>n
    return size


cdef uint8_t* ser32_write(const rb_t* r, int64_t lo, int64_t hi, uint8_t* out) noexcept nogil:
    cdef int64_t i, n = hi - lo
    cdef bint hasrun = False, offsets
    cdef uint8_t* p = out
    cdef uint8_t* header
    cdef uint8_t* offs = NULL
    cdef const container_t* c
    for i in range(lo, hi):
        if r.cs[i].kind == KIND_RUN:
            hasrun = True
            break
    if hasrun:
        put32(p, COOKIE_RUN | (<uint32_t>(n - 1) << 16))
        p += 4
        memset(p, 0, <size_t>(n + 7) // 8)
        for i in range(lo, hi):
            if r.cs[i].kind == KIND_RUN:
                p[(i - lo) >> 3] |= 1 << ((i - lo) & 7)
        p += (n + 7) // 8
    else:
        put32(p, COOKIE_NO_RUN)
        put32(p + 4, <uint32_t>n)
        p += 8
    header = p
    p += 4 * n
    offsets = not hasrun or n >= NO_OFFSET_THRESHOLD
    if offsets:
        offs = p
        p += 4 * n
    for i in range(lo, hi):
        c = &r.cs[i]
        put16(header + 4 * (i - lo), <uint16_t>(r.keys[i] & 0xFFFF))
        put16(header + 4 * (i - lo) + 2, <uint16_t>(c.card - 1))
        if offsets:
            put32(offs + 4 * (i - lo), <uint32_t>(p - out))
        if c.kind == KIND_RUN:
            put16(p, <uint16_t>c.n)
            memcpy(p + 2, c.data, <size_t>c.n * 4)
            p += 2 + <size_t>c.n * 4
        elif c.kind == KIND_BITSET:
            memcpy(p, c.data, BITSET_WORDS * 8)
            p += BITSET_WORDS * 8
        else:
            memcpy(p, c.data, <size_t>c.n * 2)
            p += <size_t>c.n * 2
    return p


cdef bint rb_is_32bit(const rb_t* r) noexcept nogil:
    return r.n == 0 or r.keys[r.n - 1] <= 0xFFFF


cdef size_t rb_serialized_size(const rb_t* r) noexcept nogil:
    cdef int64_t lo = 0, hi
    cdef size_t size = 8
    if rb_is_32bit(r):
        return ser32_size(r, 0, r.n)
    while lo < r.n:
        hi = lo + 1
        while hi < r.n and (r.keys[hi] >> 16) == (r.keys[lo] >> 16):
            hi += 1
        size += 4 + ser32_size(r, lo, hi)
        lo = hi
    return size


cdef void rb_serialize(const rb_t* r, uint8_t* out) noexcept nogil:
    cdef int64_t lo = 0, hi, buckets = 0
    cdef uint8_t* p = out + 8
    if rb_is_32bit(r):
        ser32_write(r, 0, r.n, out)
        return
    while lo < r.n:
        hi = lo + 1
        while hi < r.n and (r.keys[hi] >> 16) == (r.keys[lo] >> 16):
            hi += 1
        put32(p, <uint32_t>(r.keys[lo] >> 16))
        p = ser32_write(r, lo, hi, p + 4)
        buckets += 1
        lo = hi
    put64(out, <uint64_t>buckets)


cdef int read_container(container_t* c, const uint8_t* buf, size_t length, size_t* pos,
                        int32_t card, bint isrun) except -1 nogil:
    """Read and validate one container at buf[pos]; advances pos."""
    cdef size_t p = pos[0]
    cdef int32_t i, nruns, total = 0
    cdef uint32_t s, e, prev_end = 0
    cdef uint16_t* a
    if isrun:
        if length - p < 2:
            corrupt("truncated run count", p)
        nruns = get16(buf + p)
        if nruns == 0:
            corrupt("run container without runs", p)
        if nruns > 32768:
            corrupt("too many runs", p)
        p += 2
        if length - p < <size_t>nruns * 4:
            corrupt("truncated runs", p)
        c_alloc(c, KIND_RUN, nruns)
        a = <uint16_t*>c.data
        memcpy(a, buf + p, <size_t>nruns * 4)
        for i in range(nruns):
            s = a[2 * i]
            e = s + a[2 * i + 1]
            if e > 65535:
                c_free(c)
                corrupt("run past the end of its chunk", p + 4 * i)
            if i > 0 and s <= prev_end + 1:
                c_free(c)
                corrupt("runs overlap, touch or are unsorted", p + 4 * i)
            prev_end = e
            total += <int32_t>(e - s + 1)
        if total != card:
            c_free(c)
            corrupt("run cardinality differs from the header", p)
        c.n = nruns
        c.card = card
        pos[0] = p + <size_t>nruns * 4
        return 0
    if card <= MAX_ARRAY:
        if length - p < <size_t>card * 2:
            corrupt("truncated array container", p)
        c_alloc(c, KIND_ARRAY, card)
        a = <uint16_t*>c.data
        memcpy(a, buf + p, <size_t>card * 2)
        if not rbk_increasing16(a, card):      # vectorised check; find the place only if bad
            for i in range(1, card):
                if a[i] <= a[i - 1]:
                    c_free(c)
                    corrupt("array values not strictly increasing", p + 2 * i)
        c.n = card
        c.card = card
        pos[0] = p + <size_t>card * 2
        return 0
    if length - p < BITSET_WORDS * 8:
        corrupt("truncated bitset container", p)
    c_alloc(c, KIND_BITSET, 0)
    memcpy(c.data, buf + p, BITSET_WORDS * 8)
    if words_card(<uint64_t*>c.data) != card:
        c_free(c)
        corrupt("bitset cardinality differs from the header", p)
    c.card = card
    pos[0] = p + BITSET_WORDS * 8
    return 0


cdef size_t deser32(rb_t* out, const uint8_t* buf, size_t length, size_t start,
                    uint64_t high) except 0 nogil:
    """Append the 32-bit stream at buf[start:] to out (keys get `high` << 16); returns the
    position just past it."""
    cdef size_t p = start
    cdef uint32_t cookie, n = 0, i, key, prev_key = 0
    cdef int32_t card
    cdef bint hasrun = False, isrun
    cdef const uint8_t* flags = NULL
    cdef const uint8_t* header
    cdef const uint8_t* offs = NULL
    cdef container_t c
    if length - p < 4:
        corrupt("truncated cookie", p)
    cookie = get32(buf + p)
    if (cookie & 0xFFFF) == COOKIE_RUN:
        hasrun = True
        n = (cookie >> 16) + 1
        p += 4
        if length - p < (n + 7) // 8:
            corrupt("truncated run flags", p)
        flags = buf + p
        p += (n + 7) // 8
    elif cookie == COOKIE_NO_RUN:
        if length - p < 8:
            corrupt("truncated container count", p)
        n = get32(buf + p + 4)
        if n > 65536:
            corrupt("more than 65536 containers", p + 4)
        p += 8
    else:
        corrupt("unknown cookie", p)
    if length - p < 4 * <size_t>n:
        corrupt("truncated container headers", p)
    header = buf + p
    p += 4 * <size_t>n
    if not hasrun or n >= NO_OFFSET_THRESHOLD:
        if length - p < 4 * <size_t>n:
            corrupt("truncated offsets", p)
        offs = buf + p
        p += 4 * <size_t>n
    rb_reserve(out, out.n + n)
    for i in range(n):
        key = get16(header + 4 * i)
        card = <int32_t>get16(header + 4 * i + 2) + 1
        if i > 0 and key <= prev_key:
            corrupt("container keys not strictly increasing", <size_t>(header - buf) + 4 * i)
        prev_key = key
        if offs != NULL and get32(offs + 4 * i) != p - start:
            corrupt("container offset does not match its position", <size_t>(offs - buf) + 4 * i)
        isrun = hasrun and (flags[i >> 3] >> (i & 7)) & 1
        read_container(&c, buf, length, &p, card, isrun)
        rb_append(out, (high << 16) | key, &c)
    return p


cdef size_t deser64(rb_t* out, const uint8_t* buf, size_t length) except 0 nogil:
    cdef size_t p = 8
    cdef uint64_t nb, b
    cdef uint32_t high
    cdef int64_t prev = -1
    if length < 8:
        corrupt("truncated bucket count", 0)
    nb = get64(buf)
    if nb > (length - 8) // 12:      # each bucket needs a key and an 8-byte header at least
        corrupt("bucket count larger than the data", 0)
    for b in range(nb):
        if length - p < 4:
            corrupt("truncated bucket key", p)
        high = get32(buf + p)
        if <int64_t>high <= prev:
            corrupt("bucket keys not strictly increasing", p)
        prev = high
        p = deser32(out, buf, length, p + 4, high)
    return p
