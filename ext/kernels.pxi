# Many-row loops over whole arrays, for the engine's bulk paths (no Python per value).


def group_by_row(rows, cols):
    """Stable grouping of `cols` by `rows` (two equal-length uint64 arrays).

    Returns (row_ids, offsets, grouped_cols): the distinct rows ascending, int64 offsets of
    length len(row_ids) + 1, and cols reordered so that group i is
    grouped_cols[offsets[i]:offsets[i + 1]], in input order within the group. A counting
    sort in C when the row ids are dense enough, numpy's stable sort otherwise.
    """
    cdef const uint64_t[::1] r = np.ascontiguousarray(rows, dtype=np.uint64)
    cdef const uint64_t[::1] c = np.ascontiguousarray(cols, dtype=np.uint64)
    cdef Py_ssize_t n = r.shape[0], i
    cdef uint64_t maxrow = 0
    cdef int64_t[::1] counts
    cdef uint64_t[::1] out
    cdef int64_t pos
    if c.shape[0] != n:
        raise ValueError("rows and cols must have the same length")
    if n == 0:
        return np.empty(0, np.uint64), np.zeros(1, np.int64), np.empty(0, np.uint64)
    with nogil:
        for i in range(n):
            if r[i] > maxrow:
                maxrow = r[i]
    if maxrow < (1 << 26) and maxrow <= 4 * <uint64_t>n + 4096:
        counts_arr = np.zeros(maxrow + 2, dtype=np.int64)
        counts = counts_arr
        out_arr = np.empty(n, dtype=np.uint64)
        out = out_arr
        with nogil:
            for i in range(n):
                counts[r[i] + 1] += 1
            for i in range(1, <Py_ssize_t>maxrow + 2):
                counts[i] += counts[i - 1]
            # counts[row] is now the start of row's group; scatter in input order.
            for i in range(n):
                pos = counts[r[i]]
                out[pos] = c[i]
                counts[r[i]] = pos + 1
        # counts[row] now holds the end of row's group; starts are the previous row's ends.
        ends = counts_arr[:maxrow + 1]
        starts = np.concatenate(([0], ends[:-1]))
        present = np.flatnonzero(ends - starts)
        offsets = np.concatenate((starts[present], [n])).astype(np.int64)
        return present.astype(np.uint64), offsets, out_arr
    order = np.argsort(np.asarray(r), kind="stable")
    sorted_rows = np.asarray(r)[order]
    bounds = np.flatnonzero(np.diff(sorted_rows)) + 1
    offsets = np.concatenate(([0], bounds, [n])).astype(np.int64)
    return sorted_rows[offsets[:-1]], offsets, np.asarray(c)[order]


# --- shared helpers for the many-row kernels ------------------------------------------------

cdef const uint64_t* key_words(const rb_t* r, uint64_t key, uint64_t* scratch) noexcept nogil:
    """The 1024 words of r's container for key (a bitset's own words, or scratch filled
    from an array/run container); NULL when r has no such container."""
    cdef int64_t i
    cdef const container_t* c
    if r == NULL:
        return NULL
    i = rb_find(r, key)
    if i < 0:
        return NULL
    c = &r.cs[i]
    if c.kind == KIND_BITSET:
        return <uint64_t*>c.data
    c_fill_words(c, scratch)
    return scratch


cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    cdef struct timespec:
        time_t tv_sec
        long tv_nsec
    int clock_gettime(int clk_id, timespec* tp)
    int CLOCK_MONOTONIC


cdef class Interrupt:
    """When a long kernel must stop: a deadline and a check, polled between containers.

    `deadline` is a time.monotonic() value (None: none). `check` is called with the GIL
    (a callable that raises the caller's error when the work must stop: a set cancel
    Event, a passed deadline; without one a passed deadline raises TimeoutError); the
    kernel lets that exception out, freeing what it allocated, and returns nothing partial. Polls come every POLL_WORK containers; each
    reads the monotonic clock without the GIL, and takes the GIL to call `check` only
    when the deadline has passed or `poll_every` seconds went by since the last call —
    so a deadline fires within one poll of its expiry and a cancel within poll_every."""

    cdef double deadline
    cdef double poll_every
    cdef double next_poll
    cdef object check
    cdef public long long polls      # calls of check made so far (for tests and metrics)

    def __init__(self, deadline=None, check=None, double poll_every=0.01):
        self.deadline = float("inf") if deadline is None else float(deadline)
        self.poll_every = poll_every
        self.next_poll = 0.0
        self.check = check
        self.polls = 0


cdef enum:
    POLL_WORK = 256          # containers between two polls (~0.1-1 ms of kernel work)


cdef int _poll(Interrupt it) except -1 nogil:
    cdef timespec ts
    cdef double now
    clock_gettime(CLOCK_MONOTONIC, &ts)
    now = <double>ts.tv_sec + <double>ts.tv_nsec * 1e-9
    if now < it.next_poll and now <= it.deadline:
        return 0
    it.next_poll = now + it.poll_every
    with gil:
        it.polls += 1
        if it.check is not None:
            it.check()                   # the caller's clock and error decide
        elif now > it.deadline:
            raise TimeoutError("deadline exceeded")
    return 0


cdef inline Interrupt _interrupt(object o):
    if o is None:
        return None
    if not isinstance(o, Interrupt):
        raise TypeError(f"expected an Interrupt or None, not {type(o).__name__}")
    return <Interrupt>o


cdef class _Operands:
    """Holds the rb_t pointers of a list of bitmaps (None -> NULL) and pins them while a
    kernel runs without the GIL."""
    cdef const rb_t** ptrs
    cdef list objs
    cdef Py_ssize_t n

    def __cinit__(self, items):
        cdef Py_ssize_t i
        self.objs = list(items)
        self.n = len(self.objs)
        self.ptrs = <const rb_t**>xmalloc(<size_t>(self.n if self.n else 1) * sizeof(rb_t*))
        for i in range(self.n):
            o = self.objs[i]
            if o is None:
                self.ptrs[i] = NULL
            elif isinstance(o, BaseBitmap):
                self.ptrs[i] = &(<BaseBitmap>o).rb
                (<BaseBitmap>o).pins += 1
            else:
                free(self.ptrs)
                self.ptrs = NULL
                raise TypeError(f"expected a bitmap or None, not {type(o).__name__}")

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.ptrs != NULL:
            for i in range(self.n):
                if self.ptrs[i] != NULL:
                    (<BaseBitmap>self.objs[i]).pins -= 1
            free(self.ptrs)


cdef inline const rb_t* _rb_or_null(object o) except? NULL:
    if o is None:
        return NULL
    if not isinstance(o, BaseBitmap):
        raise TypeError(f"expected a bitmap or None, not {type(o).__name__}")
    return &(<BaseBitmap>o).rb


# --- BSI: bit-sliced integers --------------------------------------------------------------
#
# A BSI column is planes: exists (has a value), sign (value < 0), and bit i of |value|.
# The kernels below work container by container on whole 64-record words, so a range
# predicate over d planes costs about d word operations per 64 records and builds no
# intermediate bitmaps.

cdef inline void _mag_cmp(const uint64_t** pw, int d, uint64_t c, bint above, int w,
                          uint64_t* lt, uint64_t* gt) noexcept nogil:
    """Per record of word w: lt = |value| < c, gt = |value| > c."""
    cdef uint64_t l = 0, g = 0, p, eq
    cdef int i
    if above:                      # c has a bit above the top plane: every |value| < c
        lt[0] = ALL_ONES
        gt[0] = 0
        return
    for i in range(d - 1, -1, -1):
        eq = ~(l | g)
        if eq == 0:
            break
        p = pw[i][w] if pw[i] != NULL else 0
        if (c >> i) & 1:
            l |= eq & ~p
        else:
            g |= eq & p
    lt[0] = l
    gt[0] = g


cdef bint _split_bound(object v, bint* neg, uint64_t* mag) except -1:
    """Python int -> sign and magnitude, magnitude clamped to 2**64-1."""
    neg[0] = v < 0
    a = -v if v < 0 else v
    mag[0] = a if a < U64_LIMIT else <uint64_t>0xFFFFFFFFFFFFFFFF
    return 0


def bsi_range(exists, sign, planes, lo, hi, filter=None, bint count_only=False):
    """Records whose value v (sign-magnitude over `planes`) satisfies lo <= v <= hi.

    lo/hi are Python ints or None (unbounded). With a filter only its records are
    considered. Returns a Bitmap, or the count when count_only.
    """
    cdef const rb_t* E = _rb_or_null(exists)
    cdef const rb_t* S = _rb_or_null(sign)
    cdef const rb_t* F = _rb_or_null(filter)
    cdef _Operands ops = _Operands(list(planes) + [exists, sign, filter])
    cdef int d = len(planes), i, j
    cdef bint has_lo = lo is not None, has_hi = hi is not None
    cdef bint lo_neg = False, hi_neg = False, lo_above = False, hi_above = False
    cdef uint64_t lo_mag = 0, hi_mag = 0, total = 0
    cdef uint64_t* scratch
    cdef const uint64_t** pw
    cdef const uint64_t* ew
    cdef const uint64_t* sw
    cdef const uint64_t* fw
    cdef uint64_t* outw
    cdef uint64_t e, s, pos, neg, ge, le, l, g, key
    cdef int32_t card
    cdef container_t tmp
    cdef Bitmap res = Bitmap.__new__(Bitmap)
    if has_lo:
        _split_bound(lo, &lo_neg, &lo_mag)
        lo_above = d < 64 and (lo_mag >> d) != 0
    if has_hi:
        _split_bound(hi, &hi_neg, &hi_mag)
        hi_above = d < 64 and (hi_mag >> d) != 0
    if E == NULL or (has_lo and has_hi and lo > hi):
        return 0 if count_only else res
    scratch = <uint64_t*>xmalloc(<size_t>(d + 3) * BITSET_WORDS * 8)
    pw = <const uint64_t**>xmalloc(<size_t>(d if d else 1) * sizeof(uint64_t*))
    try:
        with nogil:
            for i in range(E.n):
                key = E.keys[i]
                fw = NULL
                if F != NULL:
                    fw = key_words(F, key, scratch + (d + 2) * BITSET_WORDS)
                    if fw == NULL:
                        continue
                ew = key_words(E, key, scratch + d * BITSET_WORDS)
                sw = key_words(S, key, scratch + (d + 1) * BITSET_WORDS)
                for j in range(d):
                    pw[j] = key_words(ops.ptrs[j], key, scratch + j * BITSET_WORDS)
                outw = <uint64_t*>xmalloc(BITSET_WORDS * 8)
                card = 0
                for j in range(BITSET_WORDS):
                    e = ew[j]
                    if fw != NULL:
                        e &= fw[j]
                    if e == 0:
                        outw[j] = 0
                        continue
                    s = sw[j] if sw != NULL else 0
                    pos = e & ~s
                    neg = e & s
                    ge = ALL_ONES
                    le = ALL_ONES
                    if has_lo:
                        _mag_cmp(pw, d, lo_mag, lo_above, j, &l, &g)
                        ge = (pos | (neg & ~g)) if lo_neg else (pos & ~l)
                    if has_hi:
                        _mag_cmp(pw, d, hi_mag, hi_above, j, &l, &g)
                        le = (neg & ~l) if hi_neg else (neg | (pos & ~g))
                    outw[j] = e & ge & le
                    card += popcount64(outw[j])
                if count_only:
                    total += card
                    free(outw)
                else:
                    c_from_words(&tmp, outw, card)
                    rb_append(&res.rb, key, &tmp)
    finally:
        free(scratch)
        free(pw)
    return total if count_only else res


def bsi_sum(exists, sign, planes, filter=None):
    """(count, sum) of the values of the filtered records that have one."""
    cdef const rb_t* E = _rb_or_null(exists)
    cdef const rb_t* S = _rb_or_null(sign)
    cdef const rb_t* F = _rb_or_null(filter)
    cdef _Operands ops = _Operands(list(planes) + [exists, sign, filter])
    cdef int d = len(planes), i, j
    cdef uint64_t count = 0, e, s, p, key
    cdef uint64_t* scratch
    cdef const uint64_t* ew
    cdef const uint64_t* sw
    cdef const uint64_t* fw
    cdef const uint64_t* pwj
    if E == NULL:
        return 0, 0
    pos_counts = np.zeros(max(d, 1), dtype=np.uint64)
    neg_counts = np.zeros(max(d, 1), dtype=np.uint64)
    cdef uint64_t[::1] pc = pos_counts
    cdef uint64_t[::1] nc = neg_counts
    cdef uint64_t* posw
    cdef uint64_t* negw
    scratch = <uint64_t*>xmalloc(<size_t>(d + 5) * BITSET_WORDS * 8)
    posw = scratch + (d + 3) * BITSET_WORDS
    negw = scratch + (d + 4) * BITSET_WORDS
    try:
        with nogil:
            for i in range(E.n):
                key = E.keys[i]
                fw = NULL
                if F != NULL:
                    fw = key_words(F, key, scratch + (d + 2) * BITSET_WORDS)
                    if fw == NULL:
                        continue
                ew = key_words(E, key, scratch + d * BITSET_WORDS)
                sw = key_words(S, key, scratch + (d + 1) * BITSET_WORDS)
                for j in range(BITSET_WORDS):
                    e = ew[j]
                    if fw != NULL:
                        e &= fw[j]
                    s = sw[j] if sw != NULL else 0
                    posw[j] = e & ~s
                    negw[j] = e & s
                    count += popcount64(e)
                for p in range(<uint64_t>d):
                    pwj = key_words(ops.ptrs[p], key, scratch + p * BITSET_WORDS)
                    if pwj == NULL:
                        continue
                    for j in range(BITSET_WORDS):
                        pc[p] += popcount64(pwj[j] & posw[j])
                        nc[p] += popcount64(pwj[j] & negw[j])
    finally:
        free(scratch)
    total = 0
    for i in range(d):
        total += (int(pos_counts[i]) - int(neg_counts[i])) << i
    return count, total


cdef uint64_t _SPREAD[256]       # bit i of a byte moved to bit 0 of byte i (the dense decode)


cdef void _init_spread() noexcept:
    cdef int v, i
    cdef uint64_t x
    for v in range(256):
        x = 0
        for i in range(8):
            if v & (1 << i):
                x |= (<uint64_t>1) << (8 * i)
        _SPREAD[v] = x


_init_spread()


cdef inline void _decode_dense_word(const uint64_t** pws, int d, int j, uint64_t* out) noexcept nogil:
    """The d-bit values of 64 consecutive records (word j of every plane, a NULL plane
    empty) into out[0..63]: eight records at a time, eight planes at a time, each plane's
    byte spread by a table to one bit per byte, so the work is per record, not per bit."""
    cdef int g, c, q, k, chunks = (d + 7) >> 3
    cdef uint64_t acc
    cdef uint64_t w[64]
    cdef uint64_t vals[8]
    for q in range(chunks * 8):          # the planes' words, zero-padded to whole bytes
        w[q] = pws[q][j] if q < d and pws[q] != NULL else 0
    for g in range(8):
        for k in range(8):
            vals[k] = 0
        for c in range(chunks):
            acc = 0
            for q in range(8):
                acc |= _SPREAD[(w[c * 8 + q] >> (8 * g)) & 0xFF] << q
            for k in range(8):
                vals[k] |= ((acc >> (8 * k)) & 0xFF) << (8 * c)
        for k in range(8):
            out[g * 8 + k] = vals[k]


@cython.boundscheck(False)     # every index is below n, the records counted up front
@cython.wraparound(False)
def bsi_values(exists, sign, planes, filter=None):
    """(records, negative, magnitude) for every filtered record with a value: three
    aligned numpy arrays (uint64, bool, uint64) in record order."""
    cdef const rb_t* E = _rb_or_null(exists)
    cdef const rb_t* S = _rb_or_null(sign)
    cdef const rb_t* F = _rb_or_null(filter)
    cdef _Operands ops = _Operands(list(planes) + [exists, sign, filter])
    cdef int d = len(planes), i, j, p
    cdef uint64_t n = 0, key, x, e, idx, base_idx
    cdef uint64_t* scratch
    cdef uint64_t* efw
    cdef uint32_t* prefix
    cdef const uint64_t** pws
    cdef const uint64_t* ew
    cdef const uint64_t* sw
    cdef const uint64_t* fw
    if d > 64:          # magnitudes are uint64 (and the dense decode holds 64 plane words)
        raise ValueError(f"{d} bit planes: at most 64")
    if E == NULL:
        return np.empty(0, np.uint64), np.empty(0, bool), np.empty(0, np.uint64)
    n = rb_and_card(E, F) if F != NULL else rb_card(E)
    cols_arr = np.empty(n, dtype=np.uint64)
    neg_arr = np.zeros(n, dtype=np.uint8)
    mag_arr = np.zeros(n, dtype=np.uint64)
    cdef uint64_t[::1] cols = cols_arr
    cdef uint8_t[::1] negs = neg_arr
    cdef uint64_t[::1] mags = mag_arr
    scratch = <uint64_t*>xmalloc(<size_t>(d + 4) * BITSET_WORDS * 8 + BITSET_WORDS * 4)
    efw = scratch + (d + 3) * BITSET_WORDS
    prefix = <uint32_t*>(scratch + (d + 4) * BITSET_WORDS)
    pws = NULL
    base_idx = 0
    try:
        pws = <const uint64_t**>xmalloc(<size_t>(d if d else 1) * sizeof(uint64_t*))
        with nogil:
            for i in range(E.n):
                key = E.keys[i]
                fw = NULL
                if F != NULL:
                    fw = key_words(F, key, scratch + (d + 2) * BITSET_WORDS)
                    if fw == NULL:
                        continue
                ew = key_words(E, key, scratch + d * BITSET_WORDS)
                idx = 0
                for j in range(BITSET_WORDS):
                    efw[j] = ew[j] & (fw[j] if fw != NULL else ALL_ONES)
                    prefix[j] = <uint32_t>idx
                    x = efw[j]
                    if x == ALL_ONES:
                        for p in range(64):
                            cols[base_idx + idx + p] = (key << 16) | <uint64_t>((j << 6) + p)
                        idx += 64
                        continue
                    while x:
                        cols[base_idx + idx] = (key << 16) | <uint64_t>((j << 6) + ctz64(x))
                        idx += 1
                        x &= x - 1
                if idx == 0:
                    continue
                sw = key_words(S, key, scratch + (d + 1) * BITSET_WORDS)
                if sw != NULL:
                    for j in range(BITSET_WORDS):
                        x = sw[j] & efw[j]
                        while x:
                            negs[base_idx + prefix[j] + popcount64(efw[j] & ((x & (~x + 1)) - 1))] = 1
                            x &= x - 1
                for p in range(d):
                    pws[p] = key_words(ops.ptrs[p], key, scratch + p * BITSET_WORDS)
                for j in range(BITSET_WORDS):
                    e = efw[j]
                    if e == 0:
                        continue
                    if e == ALL_ONES:      # 64 records in a row: decoded together
                        _decode_dense_word(pws, d, j, &mags[base_idx + prefix[j]])
                        continue
                    for p in range(d):     # a sparse word: each set bit to its record's rank
                        if pws[p] == NULL:
                            continue
                        x = pws[p][j] & e
                        while x:
                            mags[base_idx + prefix[j] + popcount64(e & ((x & (~x + 1)) - 1))] |= (<uint64_t>1) << p
                            x &= x - 1
                base_idx += idx
    finally:
        free(pws)
        free(scratch)
    return cols_arr, neg_arr.astype(bool), mag_arr


# --- counting kernels for TopN and GroupBy ---------------------------------------------------

def intersect_counts(rows, filter=None, stop=None):
    """len(row & filter) (or len(row)) for every row, as a uint64 array.

    The filter is expanded once into 1024-word bitsets per container, so each row
    container costs one bit test per array value (or one AND-popcount pass for a bitset),
    whatever the filter's own container kinds — TopN's many rows against one filter.
    `stop` (an Interrupt) is polled between rows, every POLL_WORK containers."""
    cdef Interrupt it = _interrupt(stop)
    cdef int64_t work = 0
    cdef _Operands ops = _Operands(list(rows) + [filter])
    cdef const rb_t* F = _rb_or_null(filter)
    cdef const rb_t* Rw
    cdef Py_ssize_t n = len(rows), i
    cdef int64_t k, j, nf
    cdef int32_t t
    cdef uint64_t total
    cdef const uint64_t** fwords = NULL
    cdef uint64_t* fbuf = NULL
    cdef const uint64_t* fw
    cdef const uint64_t* rw
    cdef const uint16_t* a
    cdef const container_t* c
    out_arr = np.zeros(n, dtype=np.uint64)
    cdef uint64_t[::1] out = out_arr
    if F == NULL:
        with nogil:
            for i in range(n):
                if ops.ptrs[i] != NULL:
                    out[i] = rb_card(ops.ptrs[i])
                    work += ops.ptrs[i].n
                    if it is not None and work >= POLL_WORK:
                        work = 0
                        _poll(it)
        return out_arr
    nf = F.n
    fwords = <const uint64_t**>xmalloc(<size_t>(nf if nf else 1) * sizeof(uint64_t*))
    fbuf = <uint64_t*>xmalloc(<size_t>(nf if nf else 1) * BITSET_WORDS * 8)
    try:
        with nogil:
            for k in range(nf):
                if F.cs[k].kind == KIND_BITSET:
                    fwords[k] = <uint64_t*>F.cs[k].data
                else:
                    c_fill_words(&F.cs[k], fbuf + k * BITSET_WORDS)
                    fwords[k] = fbuf + k * BITSET_WORDS
            for i in range(n):
                Rw = ops.ptrs[i]
                if Rw == NULL:
                    continue
                work += Rw.n
                if it is not None and work >= POLL_WORK:
                    work = 0
                    _poll(it)
                total = 0
                j = 0
                for k in range(Rw.n):
                    j = key_gallop(F.keys, j, nf, Rw.keys[k])
                    if j >= nf:
                        break
                    if F.keys[j] != Rw.keys[k]:
                        continue
                    fw = fwords[j]
                    c = &Rw.cs[k]
                    if c.kind == KIND_ARRAY:
                        a = <uint16_t*>c.data
                        for t in range(c.n):
                            total += (fw[a[t] >> 6] >> (a[t] & 63)) & 1
                    elif c.kind == KIND_BITSET:
                        rw = <uint64_t*>c.data
                        for t in range(BITSET_WORDS):
                            total += popcount64(rw[t] & fw[t])
                    else:
                        a = <uint16_t*>c.data
                        for t in range(c.n):
                            total += words_range_card(fw, a[2 * t], <uint32_t>a[2 * t] + a[2 * t + 1] + 1)
                out[i] = total
    finally:
        free(fwords)
        free(fbuf)
    return out_arr


cdef enum:
    DENSE_WORD = 8   # records in one word from which transposing beats setting bit by bit


@cython.boundscheck(False)
@cython.wraparound(False)
def bsi_planes(cols, offsets, int min_depth=0):
    """Bit-slice whole columns in one pass: (exists, sign, [plane 0 .. depth-1]) as new
    FrozenBitmaps, for strictly increasing record ids `cols` with signed int64 `offsets`
    (value minus base). depth = max(min_depth, bits of the largest magnitude)."""
    cdef const uint64_t[::1] c = np.ascontiguousarray(cols, dtype=np.uint64)
    cdef const int64_t[::1] off = np.ascontiguousarray(offsets, dtype=np.int64)
    cdef Py_ssize_t n = c.shape[0], s, e, t, u
    cdef int i, depth
    cdef uint64_t key, x, maxmag = 0
    cdef uint16_t low
    cdef uint64_t* words
    cdef FrozenBitmap exists, sign
    if off.shape[0] != n:
        raise ValueError("cols and offsets must have the same length")
    if min_depth < 0 or min_depth > 64:
        raise ValueError("min_depth must be in [0, 64]")
    for t in range(1, n):
        if c[t] <= c[t - 1]:
            raise ValueError("cols must be strictly increasing")
    with nogil:
        for t in range(n):
            # |offset| without overflow at INT64_MIN
            x = <uint64_t>(-(off[t] + 1)) + 1 if off[t] < 0 else <uint64_t>off[t]
            if x > maxmag:
                maxmag = x
    depth = min_depth
    while depth < 64 and (maxmag >> depth) != 0:
        depth += 1
    exists = FrozenBitmap(cols)
    sign = FrozenBitmap.__new__(FrozenBitmap)
    planes = [FrozenBitmap.__new__(FrozenBitmap) for _ in range(depth)]
    cdef _Operands outs = _Operands([sign] + planes)
    # plane and sign words of one container at a time: (depth + 1) x 1024 words
    words = <uint64_t*>xmalloc(<size_t>(depth + 1) * BITSET_WORDS * 8)
    try:
        with nogil:
            s = 0
            while s < n:
                key = c[s] >> 16
                e = s
                while e < n and (c[e] >> 16) == key:
                    e += 1
                memset(words, 0, <size_t>(depth + 1) * BITSET_WORDS * 8)
                t = s
                while t < e:
                    low = <uint16_t>(c[t] & 0xFFFF)
                    # A word holding many records (dense columns): transpose their
                    # magnitudes into one word per plane, with no per-bit branches.
                    u = t + 1
                    while u < e and u - t < 64 and (c[u] >> 6) == (c[t] >> 6):
                        u += 1
                    if u - t >= DENSE_WORD:
                        _planes_of_word(&c[t], &off[t], u - t, words, depth, low >> 6)
                        t = u
                        continue
                    if off[t] < 0:
                        words[depth * BITSET_WORDS + (low >> 6)] |= (<uint64_t>1) << (low & 63)
                        x = <uint64_t>(-(off[t] + 1)) + 1
                    else:
                        x = <uint64_t>off[t]
                    while x:
                        i = ctz64(x)
                        words[i * BITSET_WORDS + (low >> 6)] |= (<uint64_t>1) << (low & 63)
                        x &= x - 1
                    t += 1
                for i in range(depth + 1):
                    _append_words(<rb_t*>outs.ptrs[0 if i == depth else i + 1], key,
                                  words + i * BITSET_WORDS)
                s = e
    finally:
        free(words)
    return exists, sign, planes


cdef inline void _transpose64(uint64_t* a) noexcept nogil:
    """In place: afterwards bit j of a[i] is what bit i of a[j] was. Swaps the off-diagonal
    j-bit blocks of each pair of rows (k, k + j), for j = 32, 16, ..., 1."""
    cdef uint64_t m = 0x00000000FFFFFFFFULL, t
    cdef int j = 32, k
    while j:
        for k in range(64):
            if not (k & j):
                t = ((a[k] >> j) ^ a[k | j]) & m
                a[k | j] ^= t
                a[k] ^= t << j
        j >>= 1
        m ^= m << j
    return


cdef inline void _planes_of_word(const uint64_t* c, const int64_t* off, Py_ssize_t count, uint64_t* words,
                                 int depth, int w) noexcept nogil:
    """OR the bits of the offsets of `count` records that share word w of their container
    into word w of each plane (rows 0..depth-1) and of the sign row (row depth)."""
    cdef uint64_t a[64]
    cdef uint64_t sign = 0
    cdef Py_ssize_t j
    cdef int b
    memset(a, 0, sizeof(a))
    for j in range(count):
        b = <int>(c[j] & 63)
        if off[j] < 0:
            sign |= (<uint64_t>1) << b
            a[b] = <uint64_t>(-(off[j] + 1)) + 1
        else:
            a[b] = <uint64_t>off[j]
    _transpose64(a)
    for b in range(depth):
        words[b * BITSET_WORDS + w] |= a[b]
    words[depth * BITSET_WORDS + w] |= sign


cdef int _append_words(rb_t* r, uint64_t key, const uint64_t* w) except -1 nogil:
    """Append a copy of 1024 words as key's container (skipped when empty)."""
    cdef int32_t card = words_card(w)
    cdef uint64_t* copy
    cdef container_t tmp
    if card == 0:
        return 0
    copy = <uint64_t*>xmalloc(BITSET_WORDS * 8)
    memcpy(copy, w, BITSET_WORDS * 8)
    c_from_words(&tmp, copy, card)
    return rb_append(r, key, &tmp)


@cython.boundscheck(False)
@cython.wraparound(False)
def bsi_extreme(exists, sign, planes, filter=None, bint want_max=True):
    """The largest (or smallest) value among the filtered records that have one, and how
    many records hold it: (value, count), or None. One pass over each container's words,
    walking the planes from the top bit down, with no intermediate bitmaps."""
    cdef const rb_t* E = _rb_or_null(exists)
    cdef const rb_t* S = _rb_or_null(sign)
    cdef const rb_t* F = _rb_or_null(filter)
    cdef _Operands ops = _Operands(list(planes) + [exists, sign, filter])
    cdef int d = len(planes), p
    cdef int64_t i
    cdef Py_ssize_t j
    cdef uint64_t key, any_bits, mag, count, best_mag = 0, best_count = 0
    cdef bint negative, largest, found = False, best_neg = False, better
    cdef uint64_t* scratch
    cdef uint64_t* group
    cdef uint64_t* tmp
    cdef uint64_t* swap
    cdef const uint64_t* ew
    cdef const uint64_t* sw
    cdef const uint64_t* fw
    cdef const uint64_t* pw
    if E == NULL:
        return None
    scratch = <uint64_t*>xmalloc(<size_t>(d + 5) * BITSET_WORDS * 8)
    group = scratch + (d + 3) * BITSET_WORDS
    tmp = scratch + (d + 4) * BITSET_WORDS
    try:
        with nogil:
            for i in range(E.n):
                key = E.keys[i]
                fw = NULL
                if F != NULL:
                    fw = key_words(F, key, scratch + (d + 2) * BITSET_WORDS)
                    if fw == NULL:
                        continue
                ew = key_words(E, key, scratch + d * BITSET_WORDS)
                sw = key_words(S, key, scratch + (d + 1) * BITSET_WORDS)
                # which sign group holds the extreme: non-negatives for a max when any, etc.
                any_bits = 0
                for j in range(BITSET_WORDS):
                    group[j] = ew[j] & (fw[j] if fw != NULL else ALL_ONES)
                    tmp[j] = group[j] & (sw[j] if sw != NULL else 0)        # negatives
                    any_bits |= group[j]
                if any_bits == 0:
                    continue
                any_bits = 0
                for j in range(BITSET_WORDS):
                    any_bits |= tmp[j]
                if want_max:
                    negative = any_bits != 0 and _only(group, tmp)
                else:
                    negative = any_bits != 0
                if negative:
                    memcpy(group, tmp, BITSET_WORDS * 8)
                else:
                    for j in range(BITSET_WORDS):
                        group[j] &= ~tmp[j]
                # the largest magnitude for a max of non-negatives or a min of negatives
                largest = want_max != negative
                mag = 0
                for p in range(d - 1, -1, -1):
                    pw = key_words(ops.ptrs[p], key, scratch + p * BITSET_WORDS)
                    any_bits = 0
                    for j in range(BITSET_WORDS):
                        if largest:
                            tmp[j] = group[j] & (pw[j] if pw != NULL else 0)
                        else:
                            tmp[j] = group[j] & ~(pw[j] if pw != NULL else 0)
                        any_bits |= tmp[j]
                    if any_bits:
                        swap = group
                        group = tmp
                        tmp = swap
                        if largest:
                            mag |= (<uint64_t>1) << p
                    elif not largest:
                        mag |= (<uint64_t>1) << p
                count = 0
                for j in range(BITSET_WORDS):
                    count += popcount64(group[j])
                if not found:
                    better = True
                elif negative != best_neg:
                    better = (not negative) if want_max else negative
                elif negative:
                    better = (mag < best_mag) if want_max else (mag > best_mag)
                else:
                    better = (mag > best_mag) if want_max else (mag < best_mag)
                if better:
                    found = True
                    best_neg = negative
                    best_mag = mag
                    best_count = count
                elif negative == best_neg and mag == best_mag:
                    best_count += count
    finally:
        free(scratch)
    if not found:
        return None
    return (-<object>best_mag if best_neg else <object>best_mag), best_count


cdef inline bint _only(const uint64_t* group, const uint64_t* negs) noexcept nogil:
    """True if every record in group is negative (group ⊆ negs)."""
    cdef Py_ssize_t j
    for j in range(BITSET_WORDS):
        if group[j] & ~negs[j]:
            return False
    return True


@cython.boundscheck(False)
@cython.wraparound(False)
def group_pairs(code_rows, rows, filter=None, stop=None):
    """counts[r, c] = records in rows[r] ∩ code_rows[c] (∩ filter), where the code rows
    hold each record at most once (a mutex or bool field).

    Works one 65536-record chunk at a time: the chunk's codes sit in a 256 KiB array that
    stays in cache while every row's container for that chunk is walked — one load and
    one increment per record (after a filter bit test when there is a filter).
    `stop` (an Interrupt) is polled every POLL_WORK row containers.
    """
    cdef Interrupt it = _interrupt(stop)
    cdef int64_t work = 0
    cdef _Operands cops = _Operands(code_rows)
    cdef _Operands rops = _Operands(list(rows) + [filter])
    cdef const rb_t* F = _rb_or_null(filter)
    cdef Py_ssize_t nc = len(code_rows), nr = len(rows), i, r
    cdef int64_t k, t, m
    cdef int32_t j
    cdef uint64_t key, x
    cdef bint found
    cdef uint32_t* local
    cdef int64_t* ccur
    cdef int64_t* rcur
    cdef uint64_t* buf16
    cdef const uint64_t* fw
    cdef const uint64_t* rw
    cdef const container_t* c
    cdef const uint16_t* a
    cdef uint16_t v
    # Column 0 takes records without a code; it is dropped on return.
    out_arr = np.zeros((nr, nc + 1), dtype=np.uint64)
    # Bounds: r < nr; local[] is indexed by uint16 values (< 65536); its entries are
    # 0..nc, the output's column range.
    cdef uint64_t[:, ::1] out = out_arr
    local = <uint32_t*>xmalloc(65536 * sizeof(uint32_t))
    ccur = <int64_t*>xmalloc(<size_t>(nc + 1) * sizeof(int64_t))
    rcur = <int64_t*>xmalloc(<size_t>(nr + 1) * sizeof(int64_t))
    buf16 = <uint64_t*>xmalloc(BITSET_WORDS * 8 * 2)
    try:
        with nogil:
            memset(ccur, 0, <size_t>(nc + 1) * sizeof(int64_t))
            memset(rcur, 0, <size_t>(nr + 1) * sizeof(int64_t))
            while True:
                # next chunk key held by any code row, in increasing order
                key = 0
                found = False
                for i in range(nc):
                    if cops.ptrs[i] != NULL and ccur[i] < cops.ptrs[i].n:
                        if not found or cops.ptrs[i].keys[ccur[i]] < key:
                            key = cops.ptrs[i].keys[ccur[i]]
                            found = True
                if not found:
                    break
                memset(local, 0, 65536 * sizeof(uint32_t))
                for i in range(nc):
                    if cops.ptrs[i] == NULL or ccur[i] >= cops.ptrs[i].n or cops.ptrs[i].keys[ccur[i]] != key:
                        continue
                    c = &cops.ptrs[i].cs[ccur[i]]
                    ccur[i] += 1
                    if c.kind == KIND_ARRAY:
                        a = <uint16_t*>c.data
                        for j in range(c.n):
                            local[a[j]] = <uint32_t>(i + 1)
                    elif c.kind == KIND_BITSET:
                        rw = <uint64_t*>c.data
                        for j in range(BITSET_WORDS):
                            x = rw[j]
                            while x:
                                local[(j << 6) + ctz64(x)] = <uint32_t>(i + 1)
                                x &= x - 1
                    else:
                        a = <uint16_t*>c.data
                        for j in range(c.n):
                            for m in range(a[2 * j], <int64_t>a[2 * j] + a[2 * j + 1] + 1):
                                local[m] = <uint32_t>(i + 1)
                fw = NULL
                if F != NULL:
                    fw = key_words(F, key, buf16)
                    if fw == NULL:
                        continue
                for r in range(nr):
                    if rops.ptrs[r] == NULL:
                        continue
                    work += 1
                    if it is not None and work >= POLL_WORK:
                        work = 0
                        _poll(it)
                    rcur[r] = key_gallop(rops.ptrs[r].keys, rcur[r], rops.ptrs[r].n, key)
                    if rcur[r] >= rops.ptrs[r].n or rops.ptrs[r].keys[rcur[r]] != key:
                        continue
                    c = &rops.ptrs[r].cs[rcur[r]]
                    if c.kind == KIND_ARRAY:
                        a = <uint16_t*>c.data
                        if fw == NULL:
                            for j in range(c.n):
                                out[r, local[a[j]]] += 1
                        else:
                            # the filter test first: most values fail it, and a bit of an
                            # 8 KiB word array is cheaper to read than a code
                            for j in range(c.n):
                                v = a[j]
                                if (fw[v >> 6] >> (v & 63)) & 1:
                                    out[r, local[v]] += 1
                    else:
                        rw = key_words(rops.ptrs[r], key, buf16 + BITSET_WORDS)
                        for j in range(BITSET_WORDS):
                            x = rw[j] & (fw[j] if fw != NULL else ALL_ONES)
                            while x:
                                out[r, local[(j << 6) + ctz64(x)]] += 1
                                x &= x - 1
    finally:
        free(local)
        free(ccur)
        free(rcur)
        free(buf16)
    return np.ascontiguousarray(out_arr[:, 1:nc + 1])
