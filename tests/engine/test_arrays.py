"""engine.arrays.sorted_unique against np.unique, on both of its paths (dense byte map and
sort) and at the dtypes' edges."""
import numpy as np
import pytest

from engine.arrays import sorted_unique


@pytest.mark.parametrize("dtype", [np.int64, np.uint64, np.int32, np.uint16])
@pytest.mark.parametrize("n,span", [(0, 10), (5, 10), (1023, 50), (5000, 100), (20000, 1 << 23),
                                    (3000, 1 << 30), (100000, 1_000_000)])
def test_matches_np_unique(dtype, n, span):
    info = np.iinfo(dtype)
    span = min(span, int(info.max) - max(int(info.min), -(1 << 40)))
    rng = np.random.default_rng(n + span)
    lo = int(info.min) if info.min < 0 and span < (1 << 20) else max(int(info.min), 0)
    vals = (rng.integers(0, span + 1, n, dtype=np.uint64).astype(object) + lo)
    arr = np.array(vals.tolist(), dtype=dtype) if n else np.empty(0, dtype)
    got = sorted_unique(arr)
    assert got.dtype == arr.dtype
    np.testing.assert_array_equal(got, np.unique(arr))


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_extremes_of_the_dtype(dtype):
    info = np.iinfo(dtype)
    near_top = np.array([info.max - k for k in range(2000)] * 2, dtype=dtype)
    np.testing.assert_array_equal(sorted_unique(near_top), np.unique(near_top))
    both_ends = np.array([info.min, info.max] * 1000, dtype=dtype)  # a huge span: sorted
    np.testing.assert_array_equal(sorted_unique(both_ends), np.array([info.min, info.max], dtype=dtype))


def test_non_integers_are_sorted():
    vals = np.array([3.5, -1.0, 3.5, 2.0] * 600)
    np.testing.assert_array_equal(sorted_unique(vals), [-1.0, 2.0, 3.5])
    objs = np.array([10**30, 5, 10**30, -7] * 300, dtype=object)
    assert sorted_unique(objs).tolist() == [-7, 5, 10**30]
