"""roarbase's compiled core: roaring bitmaps of unsigned 64-bit integers.

`ext` knows nothing of fields or queries; engine/ builds on it. The API mirrors pyroaring's
BitMap/BitMap64 method names so pyroaring can serve as the test oracle.
"""
try:
    from ext._roaring import (
        BaseBitmap,
        Bitmap,
        CorruptDataError,
        FrozenBitmap,
        Interrupt,
        bsi_extreme,
        bsi_planes,
        bsi_range,
        bsi_sum,
        bsi_values,
        group_by_row,
        group_pairs,
        intersect_counts,
    )
except ImportError as exc:  # pragma: no cover - only hit on an unbuilt checkout
    raise ImportError(
        "ext._roaring is not built: run `make build` (or `pip install -e .`) first"
    ) from exc

__all__ = [
    "BaseBitmap", "Bitmap", "FrozenBitmap", "CorruptDataError", "Interrupt",
    # many-row kernels used by the engine
    "group_by_row", "bsi_extreme", "bsi_planes", "bsi_range", "bsi_sum", "bsi_values", "intersect_counts", "group_pairs",
]
