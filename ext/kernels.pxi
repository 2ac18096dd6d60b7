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
