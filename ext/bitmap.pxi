# The Python face: FrozenBitmap (immutable, hashable) and Bitmap (mutable), siblings under
# BaseBitmap, which holds the values and every operation that only reads them.
#
# Thread safety: operations on large bitmaps release the GIL. While one runs, its operands
# are "pinned"; a mutation of a pinned Bitmap from another thread raises RuntimeError
# instead of freeing memory under the running operation. In-place operators compute into
# a fresh bitmap without the GIL and swap it in with the GIL held.

from cpython.buffer cimport PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer

import array as _array
import sys as _sys

import numpy as np

if _sys.byteorder != "little":  # the codec writes native integers as the format's LE ones
    raise ImportError("ext._roaring supports little-endian machines only")

cdef enum:
    NOGIL_CONTAINERS = 32          # release the GIL above this many containers in play
cdef object U64_LIMIT = 1 << 64

cdef extern from "pylong.h":
    bint rb_int_as_u64(object o, uint64_t* out) noexcept
cdef object _np_empty = np.empty
cdef object _U64_DTYPE = np.dtype(np.uint64)


class CorruptDataError(ValueError):
    """Bytes that are not a valid portable Roaring serialisation; `offset` is where."""

    def __init__(self, message: str, offset: int = -1) -> None:
        super().__init__(message)
        self.offset = offset


cdef object _int(object value):
    """value as a Python int (ints and integer-like objects such as numpy integers);
    TypeError for anything else — a float is never silently truncated."""
    if isinstance(value, int):
        return value
    if isinstance(value, float) or not hasattr(type(value), "__index__"):
        raise TypeError(f"expected an integer, not {type(value).__name__}")
    return value.__index__()


cdef object _index_or_none(object value):
    """value as a Python int in [0, 2**64), or None if it cannot be a member."""
    if not isinstance(value, int):
        if isinstance(value, float) or not hasattr(value, "__index__"):
            return None
        value = value.__index__()
    if value < 0 or value >= U64_LIMIT:
        return None
    return value


cdef inline bint _has(const rb_t* r, uint64_t v) noexcept nogil:
    """rb_contains with the key and array searches inlined (the membership test's path)."""
    cdef uint64_t key = v >> 16
    cdef uint16_t low = <uint16_t>(v & 0xFFFF)
    cdef int64_t i
    cdef int32_t j
    cdef const container_t* c
    cdef const uint16_t* a
    if r.n == 0:
        return False
    i = rbk_lookup64(r.keys, r.n, key)
    if i >= r.n or r.keys[i] != key:
        return False
    c = &r.cs[i]
    if c.kind == KIND_BITSET:
        return ((<const uint64_t*>c.data)[low >> 6] >> (low & 63)) & 1
    if c.kind == KIND_ARRAY:
        a = <const uint16_t*>c.data
        j = rbk_lookup16(a, c.n, low)
        return j < c.n and a[j] == low
    return c_contains(c, low)


cdef inline bint _big(const rb_t* a, const rb_t* b) noexcept nogil:
    return a.n + b.n > NOGIL_CONTAINERS


cdef inline void _pin(BaseBitmap a, BaseBitmap b):
    a.pins += 1
    b.pins += 1


cdef inline void _unpin(BaseBitmap a, BaseBitmap b):
    a.pins -= 1
    b.pins -= 1


cdef inline BaseBitmap _new(type cls):
    if cls is Bitmap:
        return Bitmap.__new__(Bitmap)
    if cls is FrozenBitmap:
        return FrozenBitmap.__new__(FrozenBitmap)
    return cls.__new__(cls)


cdef inline BaseBitmap _other(object other):
    if not isinstance(other, BaseBitmap):
        raise TypeError(f"expected a Bitmap or FrozenBitmap, not {type(other).__name__}")
    return <BaseBitmap>other


cdef object _as_u64_array(object values):
    """A C-contiguous uint64 ndarray of the values (not yet sorted)."""
    cdef Py_ssize_t i, n
    cdef uint64_t[::1] view
    if isinstance(values, np.ndarray):
        arr = values.ravel()
        kind = arr.dtype.kind
        if kind == "u":
            return np.ascontiguousarray(arr, dtype=np.uint64)
        if kind == "i":
            if arr.size and arr.min() < 0:
                raise OverflowError("can't convert negative value to uint64")
            return np.ascontiguousarray(arr, dtype=np.uint64)
        if kind != "O":
            raise TypeError(f"expected an integer array, not dtype {arr.dtype}")
        values = arr.tolist()
    if not isinstance(values, (list, tuple)):
        values = list(values)
    n = len(values)
    out = np.empty(n, dtype=np.uint64)
    view = out
    for i in range(n):
        v = values[i]
        if isinstance(v, float):
            raise TypeError(f"expected an integer, not float ({v!r})")
        view[i] = v
    return out


cdef int _rb_from_values(rb_t* out, object values) except -1:
    """Build out from any supported value collection (numpy fast path, no Python loop)."""
    cdef uint64_t[::1] view
    cdef Py_ssize_t n
    cdef bint is_sorted
    if isinstance(values, range):
        step = values.step
        if step == 1:
            if values.start < values.stop:
                _check_range(values.start, values.stop)
                rb_range(out, values.start, values.stop - 1)
            else:
                rb_init(out, 0)
            return 0
        if len(values) and min(values[0], values[-1]) < 0:
            raise OverflowError("can't convert negative value to uint64")
        values = np.arange(values.start, values.stop, step, dtype=np.uint64) if len(values) else []
    arr = _as_u64_array(values)
    view = arr
    n = view.shape[0]
    if n == 0:
        rb_init(out, 0)
        return 0
    with nogil:
        is_sorted = sorted_u64(&view[0], n)
    if not is_sorted:
        arr = np.sort(arr)
        view = arr
    if n > 65536:
        with nogil:
            rb_from_sorted(out, &view[0], n)
    else:
        rb_from_sorted(out, &view[0], n)
    return 0


cdef int _check_range(object start, object stop) except -1:
    if start < 0:
        raise OverflowError("can't convert negative value to uint64")
    if stop > U64_LIMIT:
        raise OverflowError("range end beyond 2**64")
    if (stop - 1) // 65536 - start // 65536 >= (1 << 31):
        raise ValueError("range spans more than 2**31 containers")
    return 0


cdef class _Iterator:
    """Ordered (or reversed) iteration that decodes one container at a time. It re-finds
    its place by key for every container, so it never holds a pointer into the bitmap."""
    cdef BaseBitmap bm
    cdef uint64_t* buf
    cdef int64_t buf_len, buf_pos
    cdef uint64_t last_key
    cdef bint started, reverse, done

    def __cinit__(self):
        self.buf = NULL

    def __dealloc__(self):
        free(self.buf)

    cdef int _load(self) except -1:
        cdef rb_t* r = &self.bm.rb
        cdef int64_t i
        if not self.started:
            i = r.n - 1 if self.reverse else 0
            self.started = True
        elif self.reverse:
            i = rb_find(r, self.last_key)
            i = i - 1 if i >= 0 else -i - 2
        else:
            i = rb_find(r, self.last_key)
            i = i + 1 if i >= 0 else -i - 1
        if i < 0 or i >= r.n:
            self.done = True
            return 0
        self.last_key = r.keys[i]
        self.buf = <uint64_t*>xrealloc(self.buf, <size_t>r.cs[i].card * 8)
        self.buf_len = c_to_uint64(&r.cs[i], r.keys[i] << 16, self.buf)
        self.buf_pos = self.buf_len - 1 if self.reverse else 0
        return 0

    cdef int _seek(self, uint64_t value) except -1:
        """Start at the first value >= value (forward iteration only)."""
        cdef rb_t* r = &self.bm.rb
        cdef int64_t i = rb_find(r, value >> 16)
        if i < 0:
            i = -i - 1
        self.started = True
        if i >= r.n:
            self.done = True
            return 0
        self.last_key = r.keys[i]
        self.buf = <uint64_t*>xrealloc(self.buf, <size_t>r.cs[i].card * 8)
        self.buf_len = c_to_uint64(&r.cs[i], r.keys[i] << 16, self.buf)
        self.buf_pos = 0
        while self.buf_pos < self.buf_len and self.buf[self.buf_pos] < value:
            self.buf_pos += 1
        return 0

    def __iter__(self):
        return self

    def __next__(self):
        cdef uint64_t v
        while True:
            if self.done:
                raise StopIteration
            if self.started and 0 <= self.buf_pos < self.buf_len:
                v = self.buf[self.buf_pos]
                self.buf_pos += -1 if self.reverse else 1
                return v
            self._load()


cdef _Iterator _make_iterator(BaseBitmap bm, bint reverse):
    cdef _Iterator it = _Iterator.__new__(_Iterator)
    it.bm = bm
    it.reverse = reverse
    return it


cdef class BaseBitmap:
    """A roaring bitmap of unsigned 64-bit integers: what FrozenBitmap and Bitmap share
    (queries, comparisons, operators that return new bitmaps, export). Abstract:
    isinstance(x, BaseBitmap) accepts either kind."""

    def __cinit__(self, *args, **kwargs):
        if type(self) is BaseBitmap:
            raise TypeError("BaseBitmap is abstract: make a Bitmap or a FrozenBitmap")
        rb_init(&self.rb, 0)
        self.pins = 0

    def __dealloc__(self):
        rb_free(&self.rb)

    cdef int _assign(self, object values) except -1:
        cdef rb_t tmp
        if isinstance(values, BaseBitmap):
            rb_copy(&tmp, &(<BaseBitmap>values).rb)
        else:
            rb_init(&tmp, 0)
            try:
                _rb_from_values(&tmp, values)
                rb_run_optimize(&tmp)
            except BaseException:
                rb_free(&tmp)
                raise
        if self.pins:           # building ran Python code: a reader may have pinned self since
            rb_free(&tmp)
            raise RuntimeError("Bitmap is being read by another thread; it cannot change now")
        rb_free(&self.rb)
        self.rb = tmp
        return 0

    # --- pickling and representation ------------------------------------------------------

    def __reduce__(self):
        return (type(self).deserialize, (self.serialize(),))

    def __repr__(self):
        cdef uint64_t n = rb_card(&self.rb)
        name = type(self).__name__
        if n <= 16:
            return f"{name}({list(self)})"
        head = ", ".join(str(v) for v in self[:8].to_numpy().tolist())
        return f"{name}([{head}, ... {self.max()}], len={n})"

    # --- size and membership --------------------------------------------------------------

    def __len__(self):
        return rb_card(&self.rb)

    def __bool__(self):
        return self.rb.n > 0

    def __contains__(self, value):
        cdef uint64_t v
        if type(value) is int:                # the common case, without Python compares
            if not rb_int_as_u64(value, &v):  # negative or >= 2**64: never a member
                return False
            return _has(&self.rb, v)
        value = _index_or_none(value)
        if value is None:
            return False
        return rb_contains(&self.rb, <uint64_t>value)

    def __iter__(self):
        return _make_iterator(self, False)

    def __reversed__(self):
        return _make_iterator(self, True)

    def iter_equal_or_larger(self, value):
        """Iterate over the values >= value, in order."""
        value = _int(value)
        cdef _Iterator it = _make_iterator(self, False)
        if value < 0:
            value = 0
        if value < U64_LIMIT:
            it._seek(<uint64_t>value)
        else:
            it.started = True
            it.done = True
        return it

    def min(self):
        if self.rb.n == 0:
            raise ValueError("Empty roaring bitmap, there is no minimum.")
        return (self.rb.keys[0] << 16) | <uint64_t>c_min(&self.rb.cs[0])

    def max(self):
        if self.rb.n == 0:
            raise ValueError("Empty roaring bitmap, there is no maximum.")
        return (self.rb.keys[self.rb.n - 1] << 16) | <uint64_t>c_max(&self.rb.cs[self.rb.n - 1])

    def rank(self, value):
        """Number of values <= value."""
        value = _int(value)
        cdef uint64_t v, card = 0
        cdef int64_t i
        if value < 0:
            return 0
        if value >= U64_LIMIT:
            return len(self)
        v = value
        for i in range(self.rb.n):
            if self.rb.keys[i] < (v >> 16):
                card += self.rb.cs[i].card
            elif self.rb.keys[i] == (v >> 16):
                card += c_rank(&self.rb.cs[i], <uint16_t>(v & 0xFFFF))
                break
            else:
                break
        return card

    def select(self, index):
        """The index-th smallest value (0-based)."""
        index = _int(index)
        cdef uint64_t card = rb_card(&self.rb), idx
        cdef int64_t i
        if index < 0:
            index += card
        if not 0 <= index < card:
            raise IndexError("Index out of bound")
        idx = index
        for i in range(self.rb.n):
            if idx < <uint64_t>self.rb.cs[i].card:
                return (self.rb.keys[i] << 16) | <uint64_t>c_select(&self.rb.cs[i], <int32_t>idx)
            idx -= self.rb.cs[i].card
        raise IndexError("Index out of bound")

    def __getitem__(self, index):
        if isinstance(index, slice):
            values = self.to_numpy()[index]
            result = _new(type(self))
            (<BaseBitmap>result)._assign(values)
            return result
        return self.select(index)

    def next_set_bit(self, value):
        """The smallest value >= value; ValueError if there is none."""
        for v in self.iter_equal_or_larger(value):
            return v
        raise ValueError("no value at or after the given one")

    def contains_range(self, start, end):
        """True if every value in [start, end) is present."""
        start, end = _int(start), _int(end)
        if start >= end:
            return True
        if start < 0 or end > U64_LIMIT:
            return False
        return rb_range_card(&self.rb, start, end - 1) == end - start

    def range_cardinality(self, start, end):
        """Number of values in [start, end)."""
        start, end = _int(start), _int(end)
        if start < 0:
            start = 0
        if end > U64_LIMIT:
            end = U64_LIMIT
        if start >= end:
            return 0
        return rb_range_card(&self.rb, start, end - 1)

    # --- comparisons ----------------------------------------------------------------------

    def __eq__(self, other):
        if not isinstance(other, BaseBitmap):
            return NotImplemented
        return rb_equal(&self.rb, &(<BaseBitmap>other).rb)

    def __ne__(self, other):
        if not isinstance(other, BaseBitmap):
            return NotImplemented
        return not rb_equal(&self.rb, &(<BaseBitmap>other).rb)

    def __le__(self, other):
        return self.issubset(other)

    def __ge__(self, other):
        return self.issuperset(other)

    def __lt__(self, other):
        cdef BaseBitmap o = _other(other)
        return rb_card(&self.rb) < rb_card(&o.rb) and rb_subset(&self.rb, &o.rb)

    def __gt__(self, other):
        cdef BaseBitmap o = _other(other)
        return rb_card(&o.rb) < rb_card(&self.rb) and rb_subset(&o.rb, &self.rb)

    def issubset(self, other):
        return rb_subset(&self.rb, &_other(other).rb)

    def issuperset(self, other):
        return rb_subset(&_other(other).rb, &self.rb)

    def isdisjoint(self, other):
        return rb_and_card(&self.rb, &_other(other).rb) == 0

    def intersect(self, other):
        """True if the two bitmaps share a value."""
        return rb_and_card(&self.rb, &_other(other).rb) != 0

    # One __hash__ slot for both kinds (FrozenBitmap hashes its values, Bitmap refuses):
    # CPython does not give a subclass that defines __hash__ the comparisons above.
    def __hash__(self):
        return self._hash()

    cdef Py_hash_t _hash(self) except -1:
        raise TypeError(f"unhashable type: '{type(self).__name__}'")

    # --- cardinalities without materialising ------------------------------------------------

    cdef uint64_t _and_card(self, BaseBitmap o, uint64_t* card_self, uint64_t* card_o):
        """|self ∩ o|; with card_self (then card_o too) not NULL, also |self| and |o| from
        the same pass. Large operands are read without the GIL (pinned meanwhile)."""
        cdef uint64_t card
        cdef bint big = _big(&self.rb, &o.rb)
        if big:
            _pin(self, o)
            with nogil:
                if card_self == NULL:
                    card = rb_and_card(&self.rb, &o.rb)
                else:
                    card = rb_and_card_totals(&self.rb, &o.rb, card_self, card_o)
            _unpin(self, o)
            return card
        if card_self == NULL:
            return rb_and_card(&self.rb, &o.rb)
        return rb_and_card_totals(&self.rb, &o.rb, card_self, card_o)

    def intersection_cardinality(self, other):
        return self._and_card(_other(other), NULL, NULL)

    def union_cardinality(self, other):
        cdef uint64_t ca, cb, inter = self._and_card(_other(other), &ca, &cb)
        return ca + cb - inter

    def difference_cardinality(self, other):
        cdef uint64_t ca, cb, inter = self._and_card(_other(other), &ca, &cb)
        return ca - inter

    def symmetric_difference_cardinality(self, other):
        cdef uint64_t ca, cb, inter = self._and_card(_other(other), &ca, &cb)
        return ca + cb - 2 * inter

    def jaccard_index(self, other):
        cdef uint64_t ca, cb, inter = self._and_card(_other(other), &ca, &cb)
        if ca + cb - inter == 0:
            return float("nan")
        return <double>inter / <double>(ca + cb - inter)

    # --- producing new bitmaps ------------------------------------------------------------

    cdef BaseBitmap _binop(self, object other, int op):
        cdef BaseBitmap o = _other(other)
        cdef BaseBitmap res = _new(type(self))
        rb_free(&res.rb)
        if _big(&self.rb, &o.rb):
            _pin(self, o)
            try:
                with nogil:
                    _dispatch(op, &res.rb, &self.rb, &o.rb)
            finally:
                _unpin(self, o)
        else:
            _dispatch(op, &res.rb, &self.rb, &o.rb)
        return res

    def __and__(self, other):
        if not isinstance(other, BaseBitmap):
            return NotImplemented
        return self._binop(other, OP_AND)

    def __or__(self, other):
        if not isinstance(other, BaseBitmap):
            return NotImplemented
        return self._binop(other, OP_OR)

    def __xor__(self, other):
        if not isinstance(other, BaseBitmap):
            return NotImplemented
        return self._binop(other, OP_XOR)

    def __sub__(self, other):
        if not isinstance(other, BaseBitmap):
            return NotImplemented
        return self._binop(other, OP_ANDNOT)

    def union(self, *others):
        """Union of this bitmap and all the others, in one pass for three or more."""
        cdef BaseBitmap res
        cdef const rb_t** ptrs
        cdef Py_ssize_t k, t
        cdef list operands
        if len(others) == 0:
            return self.copy()
        if len(others) == 1:
            return self._binop(others[0], OP_OR)
        operands = [self] + [_other(o) for o in others]
        k = len(operands)
        res = _new(type(self))
        rb_free(&res.rb)
        ptrs = <const rb_t**>xmalloc(<size_t>k * sizeof(rb_t*))
        for t in range(k):
            ptrs[t] = &(<BaseBitmap>operands[t]).rb
            (<BaseBitmap>operands[t]).pins += 1
        try:
            with nogil:
                rb_or_many(&res.rb, ptrs, k)
        finally:
            for t in range(k):
                (<BaseBitmap>operands[t]).pins -= 1
            free(ptrs)
        return res

    def intersection(self, *others):
        """Intersection of this bitmap and all the others (smallest first)."""
        cdef BaseBitmap res
        if len(others) == 0:
            return self.copy()
        operands = sorted([_other(o) for o in others], key=len)
        res = self._binop(operands[0], OP_AND)
        for o in operands[1:]:
            if not res.rb.n:
                break
            res = res._binop(o, OP_AND)
        return res

    def difference(self, *others):
        cdef BaseBitmap res = self.copy()
        for o in others:
            res = res._binop(o, OP_ANDNOT)
        return res

    def symmetric_difference(self, other):
        return self._binop(other, OP_XOR)

    def copy(self):
        cdef BaseBitmap res = _new(type(self))
        rb_free(&res.rb)
        rb_copy(&res.rb, &self.rb)
        return res

    def freeze(self):
        """An immutable copy (or self, if already frozen)."""
        cdef BaseBitmap res
        if type(self) is FrozenBitmap:
            return self
        res = FrozenBitmap.__new__(FrozenBitmap)
        rb_free(&res.rb)
        rb_copy(&res.rb, &self.rb)
        return res

    def slice(self, start, stop):
        """The values v with start <= v < stop, as a new bitmap of the same type."""
        start, stop = _int(start), _int(stop)
        cdef BaseBitmap res = _new(type(self))
        if start < 0:
            start = 0
        if stop > U64_LIMIT:
            stop = U64_LIMIT
        if start < stop:
            rb_free(&res.rb)
            rb_slice(&res.rb, &self.rb, start, stop - 1)
        return res

    def shift(self, offset):
        """Every value + offset; values that would leave [0, 2**64) are dropped."""
        offset = _int(offset)
        cdef BaseBitmap res = _new(type(self))
        cdef uint64_t[::1] view
        cdef uint64_t off
        if offset == 0:
            rb_free(&res.rb)
            rb_copy(&res.rb, &self.rb)
            return res
        if abs(offset) >= U64_LIMIT or not self.rb.n:
            return res
        values = self.to_numpy()
        if offset > 0:
            off = offset
            values = values[values <= np.uint64(U64_LIMIT - 1 - offset)] + np.uint64(off)
        else:
            off = -offset
            values = values[values >= np.uint64(off)] - np.uint64(off)
        if len(values):
            view = values
            rb_free(&res.rb)
            with nogil:
                rb_from_sorted(&res.rb, &view[0], view.shape[0])
        return res

    def flip(self, start, end):
        """Complement within [start, end); values outside are unchanged."""
        start, end = _int(start), _int(end)
        cdef BaseBitmap res = self.copy()
        res._flip(start, end)
        return res

    cdef int _flip(self, object start, object end) except -1:
        cdef rb_t rng, out
        if start >= end:
            return 0
        _check_range(start, end)
        rb_range(&rng, start, end - 1)
        try:
            rb_xor(&out, &self.rb, &rng)
        finally:
            rb_free(&rng)
        if self.pins:
            rb_free(&out)
            raise RuntimeError("Bitmap is being read by another thread; it cannot change now")
        rb_free(&self.rb)
        self.rb = out
        return 0

    # --- export ---------------------------------------------------------------------------

    def to_numpy(self):
        """All values in order, as a uint64 ndarray."""
        cdef uint64_t card = rb_card(&self.rb)
        cdef Py_buffer buf
        cdef uint64_t* p
        out = _np_empty(card, _U64_DTYPE)
        if not card:
            return out
        # The raw buffer protocol: a typed memoryview costs more than a small export.
        PyObject_GetBuffer(out, &buf, PyBUF_WRITABLE)
        try:
            if <uint64_t>buf.len != card * 8:
                raise SystemError("numpy.empty returned an unexpected buffer")
            p = <uint64_t*>buf.buf
            if card > 65536:
                self.pins += 1
                try:
                    with nogil:
                        rb_to_uint64(&self.rb, p)
                finally:
                    self.pins -= 1
            else:
                rb_to_uint64(&self.rb, p)
        finally:
            PyBuffer_Release(&buf)
        return out

    def to_array(self):
        """All values in order, as an array.array('Q')."""
        return _array.array("Q", self.to_numpy().tobytes())

    def serialize(self):
        """Portable Roaring bytes: the 32-bit format (pyroaring.BitMap's bytes) when every
        value is below 2**32, else the 64-bit format (pyroaring.BitMap64's bytes)."""
        cdef size_t size = rb_serialized_size(&self.rb)
        out = PyBytes_FromStringAndSize(NULL, size)
        cdef uint8_t* p = <uint8_t*>PyBytes_AS_STRING(out)
        if size > 1 << 20:
            self.pins += 1
            try:
                with nogil:
                    rb_serialize(&self.rb, p)
            finally:
                self.pins -= 1
        else:
            rb_serialize(&self.rb, p)
        return out

    @classmethod
    def deserialize(cls, data):
        """Load either portable format after validating every byte; bad bytes raise
        CorruptDataError (never a crash, never an allocation beyond the input's size)."""
        cdef const uint8_t[::1] view
        cdef BaseBitmap res
        cdef size_t length, end
        cdef const uint8_t* p
        if isinstance(data, str) or not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"expected bytes, not {type(data).__name__}")
        view = memoryview(data).cast("B")
        length = view.shape[0]
        p = &view[0] if length else <const uint8_t*>b""
        res = _new(cls)
        first_error = None
        if length >= 4 and ((get32(p) & 0xFFFF) == COOKIE_RUN or get32(p) == COOKIE_NO_RUN):
            try:
                end = _deser(&res.rb, p, length, 32)
                if end == length:
                    return res
                corrupt("trailing bytes after the bitmap", end)
            except CorruptDataError as exc:
                first_error = exc
            rb_free(&res.rb)
        try:
            end = _deser(&res.rb, p, length, 64)
            if end != length:
                corrupt("trailing bytes after the bitmap", end)
        except CorruptDataError:
            rb_free(&res.rb)
            if first_error is not None:
                raise first_error from None
            raise
        return res

    # --- introspection --------------------------------------------------------------------

    def get_statistics(self):
        """Container counts, values and bytes per kind (pyroaring's keys)."""
        cdef int64_t i
        cdef const container_t* c
        stats = dict.fromkeys(
            ["n_containers", "n_array_containers", "n_run_containers", "n_bitset_containers",
             "n_values_array_containers", "n_values_run_containers",
             "n_values_bitset_containers", "n_bytes_array_containers",
             "n_bytes_run_containers", "n_bytes_bitset_containers", "max_value",
             "min_value", "cardinality"], 0)
        stats["n_containers"] = self.rb.n
        for i in range(self.rb.n):
            c = &self.rb.cs[i]
            if c.kind == KIND_ARRAY:
                stats["n_array_containers"] += 1
                stats["n_values_array_containers"] += c.card
                stats["n_bytes_array_containers"] += 2 * c.card
            elif c.kind == KIND_RUN:
                stats["n_run_containers"] += 1
                stats["n_values_run_containers"] += c.card
                stats["n_bytes_run_containers"] += 2 + 4 * c.n
            else:
                stats["n_bitset_containers"] += 1
                stats["n_values_bitset_containers"] += c.card
                stats["n_bytes_bitset_containers"] += BITSET_WORDS * 8
        stats["cardinality"] = rb_card(&self.rb)
        if self.rb.n:
            stats["min_value"] = self.min()
            stats["max_value"] = self.max()
        return stats

    def get_memory_size(self):
        """Heap bytes owned by this bitmap: containers plus the key and container arrays."""
        cdef size_t size = <size_t>self.rb.cap * (sizeof(uint64_t) + sizeof(container_t))
        cdef int64_t i
        for i in range(self.rb.n):
            size += c_memory(&self.rb.cs[i])
        return size

    def __sizeof__(self):
        return object.__sizeof__(self) + self.get_memory_size()


cdef size_t _deser(rb_t* out, const uint8_t* p, size_t length, int fmt) except 0:
    if length > 1 << 20:
        with nogil:
            return deser32(out, p, length, 0, 0) if fmt == 32 else deser64(out, p, length)
    return deser32(out, p, length, 0, 0) if fmt == 32 else deser64(out, p, length)


cdef enum:
    OP_AND = 0
    OP_OR = 1
    OP_XOR = 2
    OP_ANDNOT = 3


cdef int _dispatch(int op, rb_t* out, const rb_t* a, const rb_t* b) except -1 nogil:
    if op == OP_AND:
        return rb_and(out, a, b)
    if op == OP_OR:
        return rb_or(out, a, b)
    if op == OP_XOR:
        return rb_xor(out, a, b)
    return rb_andnot(out, a, b)


cdef class FrozenBitmap(BaseBitmap):
    """An immutable roaring bitmap of unsigned 64-bit integers (hashable, shareable)."""

    def __init__(self, values=None):
        """Build from an iterable of ints, a range, a uint32/uint64 numpy array or a bitmap.

        Containers are run-optimised, as pyroaring's constructor does, so the same values
        give the same serialisation.
        """
        if self.rb.n:
            raise TypeError("a FrozenBitmap cannot be re-initialised")
        if values is not None:
            self._assign(values)

    cdef Py_hash_t _hash(self) except -1:
        cdef uint64_t h = 0xcbf29ce484222325ULL, x
        cdef uint64_t* w
        cdef int64_t i
        cdef int32_t j
        if self.hashed:
            return self.hash_value
        # Hash the values, not the container kinds: equal sets must hash equal.
        w = <uint64_t*>xmalloc(BITSET_WORDS * 8)
        try:
            for i in range(self.rb.n):
                c_fill_words(&self.rb.cs[i], w)
                h = (h ^ self.rb.keys[i]) * 0x100000001b3ULL
                for j in range(BITSET_WORDS):
                    x = w[j]
                    if x:
                        h = (h ^ x ^ <uint64_t>j) * 0x100000001b3ULL
        finally:
            free(w)
        self.hash_value = <Py_hash_t>(h >> 2)
        if self.hash_value == -1:
            self.hash_value = -2
        self.hashed = True
        return self.hash_value


cdef class Bitmap(BaseBitmap):
    """A mutable roaring bitmap of unsigned 64-bit integers (pyroaring's method names)."""

    cdef Py_hash_t _hash(self) except -1:
        raise TypeError("unhashable type: 'Bitmap' (use freeze())")

    def __init__(self, values=None):
        self._check_writable()
        if values is None:
            rb_free(&self.rb)
        else:
            self._assign(values)        # builds first, then checks the pins again and swaps

    cdef inline int _check_writable(self) except -1:
        if self.pins:
            raise RuntimeError("Bitmap is being read by another thread; it cannot change now")
        return 0

    cdef int _replace(self, rb_t* fresh) except -1:
        """Swap in a freshly computed content (the GIL is held: no reader sees a torn state)."""
        if self.pins:
            rb_free(fresh)
            raise RuntimeError("Bitmap is being read by another thread; it cannot change now")
        rb_free(&self.rb)
        self.rb = fresh[0]
        return 0

    cdef int _inplace(self, object other, int op) except -1:
        cdef BaseBitmap o = _other(other)
        cdef rb_t out
        self._check_writable()
        out.n = 0
        out.keys = NULL
        out.cs = NULL
        if _big(&self.rb, &o.rb):
            _pin(self, o)
            try:
                with nogil:
                    _dispatch(op, &out, &self.rb, &o.rb)
            except BaseException:
                rb_free(&out)
                raise
            finally:
                _unpin(self, o)
        else:
            try:
                _dispatch(op, &out, &self.rb, &o.rb)
            except BaseException:
                rb_free(&out)
                raise
        return self._replace(&out)

    # --- single values --------------------------------------------------------------------

    def add(self, value):
        cdef uint64_t v = _int(value)
        self._check_writable()
        rb_add(&self.rb, v)

    def add_checked(self, value):
        """Add value; KeyError if it is already present."""
        cdef uint64_t v = _int(value)
        self._check_writable()
        if not rb_add(&self.rb, v):
            raise KeyError(value)

    def discard(self, value):
        """Remove value if present (an integer outside [0, 2**64) is never present)."""
        v = _index_or_none(_int(value))     # may run Python code (__index__): check after it
        self._check_writable()
        if v is not None:
            rb_remove(&self.rb, <uint64_t>v)

    def remove(self, value):
        """Remove value; KeyError if it is absent."""
        v = _index_or_none(_int(value))
        self._check_writable()
        if v is None or not rb_remove(&self.rb, <uint64_t>v):
            raise KeyError(value)

    def pop(self):
        """Remove and return the smallest value."""
        if self.rb.n == 0:
            raise KeyError("pop from an empty Bitmap")
        value = self.min()
        self.remove(value)
        return value

    def clear(self):
        self._check_writable()
        rb_free(&self.rb)

    # --- many values ----------------------------------------------------------------------

    def update(self, *values):
        """Add every value of each argument (iterables, ranges, numpy arrays, bitmaps)."""
        cdef rb_t tmp
        for vals in values:
            self._check_writable()
            if isinstance(vals, BaseBitmap):
                self._inplace(vals, OP_OR)
                continue
            rb_init(&tmp, 0)
            try:
                _rb_from_values(&tmp, vals)
            except BaseException:
                rb_free(&tmp)
                raise
            if self.rb.n == 0:
                self._replace(&tmp)
                continue
            self._merge_rb(&tmp)

    cdef int _merge_rb(self, rb_t* tmp) except -1:
        """self |= tmp, consuming tmp."""
        cdef rb_t out
        out.n = 0
        out.keys = NULL
        out.cs = NULL
        try:
            if _big(&self.rb, tmp):
                self.pins += 1
                try:
                    with nogil:
                        rb_or(&out, &self.rb, tmp)
                finally:
                    self.pins -= 1
            else:
                rb_or(&out, &self.rb, tmp)
        except BaseException:
            rb_free(&out)
            raise
        finally:
            rb_free(tmp)
        return self._replace(&out)

    def add_range(self, start, end):
        """Add every value in [start, end)."""
        cdef uint64_t lo, last
        start, end = _int(start), _int(end)
        if start >= end:
            return
        if start < 0:
            raise OverflowError("can't convert negative value to uint64")
        if end > U64_LIMIT:
            raise OverflowError("range end beyond 2**64")
        lo = start
        last = end - 1
        if (last >> 16) - (lo >> 16) >= (<uint64_t>1 << 31):
            raise ValueError("range spans more than 2**31 containers")
        self._check_writable()                # nothing between the check and the change
        rb_add_range(&self.rb, lo, last)

    def remove_range(self, start, end):
        """Remove every value in [start, end)."""
        cdef uint64_t lo, last
        start, end = _int(start), _int(end)
        if start < 0:
            raise OverflowError("can't convert negative value to uint64")
        if end > U64_LIMIT:
            raise OverflowError("range end beyond 2**64")
        if start < end:
            lo = start
            last = end - 1
            self._check_writable()
            rb_remove_range(&self.rb, lo, last)

    def flip_inplace(self, start, end):
        """Complement within [start, end), in place."""
        start, end = _int(start), _int(end)
        self._check_writable()
        self._flip(start, end)

    def intersection_update(self, *others):
        for o in others:
            self._inplace(o, OP_AND)

    def difference_update(self, *others):
        for o in others:
            self._inplace(o, OP_ANDNOT)

    def symmetric_difference_update(self, other):
        self._inplace(other, OP_XOR)

    def __iand__(self, other):
        if not isinstance(other, BaseBitmap):
            return NotImplemented
        self._inplace(other, OP_AND)
        return self

    def __ior__(self, other):
        if not isinstance(other, BaseBitmap):
            return NotImplemented
        self._inplace(other, OP_OR)
        return self

    def __ixor__(self, other):
        if not isinstance(other, BaseBitmap):
            return NotImplemented
        self._inplace(other, OP_XOR)
        return self

    def __isub__(self, other):
        if not isinstance(other, BaseBitmap):
            return NotImplemented
        self._inplace(other, OP_ANDNOT)
        return self

    def run_optimize(self):
        """Convert containers to runs where smaller (CRoaring's rule); True if any is a run."""
        self._check_writable()
        return bool(rb_run_optimize(&self.rb))

    def shrink_to_fit(self):
        """Release unused capacity; returns the bytes saved."""
        cdef int64_t i
        cdef size_t saved = 0
        self._check_writable()
        for i in range(self.rb.n):
            saved += c_shrink(&self.rb.cs[i])
        if self.rb.cap > self.rb.n and self.rb.n:
            saved += <size_t>(self.rb.cap - self.rb.n) * (sizeof(uint64_t) + sizeof(container_t))
            self.rb.keys = <uint64_t*>xrealloc(self.rb.keys, <size_t>self.rb.n * sizeof(uint64_t))
            self.rb.cs = <container_t*>xrealloc(self.rb.cs, <size_t>self.rb.n * sizeof(container_t))
            self.rb.cap = self.rb.n
        return saved


def _simd_level(int level=-1):
    """The word-kernel level in use: 0 portable C, 1 SSSE3, 2 AVX2, 3 AVX-512 (chosen
    from the CPU at import). Passing a lower level forces it, so that tests can run every
    code path on one machine; never raises above what the CPU supports."""
    return rbk_set_level(level)
