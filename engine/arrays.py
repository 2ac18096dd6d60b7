"""Small numpy helpers shared by the bulk paths."""
from __future__ import annotations

import numpy as np

# Below this many values a sort is as cheap as anything else.
_DENSE_MIN_VALUES = 1024
# The dense path allocates one byte per integer of the span: allowed up to this many bytes,
# or up to 4 bytes per value when the input is larger than that anyway.
_DENSE_MAX_SPAN = 1 << 22


def sorted_unique(vals: np.ndarray) -> np.ndarray:
    """The distinct values of vals, ascending, same dtype.

    Integers whose span is small next to their number (BSI values: ages, incomes, prices)
    are marked in a byte map and read back in order — O(n + span) instead of a sort (10 ms
    against 210 ms for 3.4M incomes within 0..1,000,000). Anything else is sorted: numpy 2's
    hash-based np.unique is pathologically slow on some integer distributions (0.5 s for 900k
    lognormal ints here, against 0.08 s to sort)."""
    if len(vals) == 0:
        return vals
    if vals.dtype.kind in "iu" and len(vals) >= _DENSE_MIN_VALUES:
        lo, hi = vals.min(), vals.max()
        span = int(hi) - int(lo)
        if span < max(_DENSE_MAX_SPAN, 4 * len(vals)):
            seen = np.zeros(span + 1, dtype=np.bool_)
            seen[vals - lo] = True  # lo has vals' dtype: no overflow, offsets within 0..span
            return np.flatnonzero(seen).astype(vals.dtype) + lo
    s = np.sort(vals)
    keep = np.empty(len(s), dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]
