"""A pyroaring-backed stand-in for ext._roaring, used ONLY to check the tests themselves.

Select it with ROARBASE_EXT_IMPL=pyroaring-shim. Running the suite against it must pass
(apart from the few contract points pyroaring cannot express, e.g. that the common base of
Bitmap and FrozenBitmap cannot be instantiated); a failure under the shim means the test,
not the extension, is wrong.
It is never used when the real extension is tested.
"""
from __future__ import annotations

import numpy as np
import pyroaring

_COOKIES32 = (b"\x3a\x30", b"\x3b\x30")


class CorruptDataError(ValueError):
    offset = 0


def _load(data) -> pyroaring.BitMap64:
    data = bytes(data)
    try:
        if len(data) >= 4 and data[:2] in _COOKIES32:
            return pyroaring.BitMap64(pyroaring.BitMap.deserialize(data))
        return pyroaring.BitMap64.deserialize(data)
    except (ValueError, IndexError, OverflowError) as exc:
        raise CorruptDataError(str(exc)) from None


class _Mixin:
    def select(self, index):
        if index < 0:
            raise IndexError("negative select")
        return self[index]

    def freeze(self):
        return self if isinstance(self, FrozenBitmap) else FrozenBitmap(self)

    def slice(self, start, stop):
        import itertools
        vals = itertools.takewhile(lambda v: v < stop, self.iter_equal_or_larger(start)) \
            if start < 2**64 else []
        return type(self)(list(vals))

    def to_numpy(self):
        return np.frombuffer(self.to_array(), dtype=np.uint64).copy()

    def serialize(self):
        if len(self) == 0 or self.max() < 2**32:
            return pyroaring.BitMap(self).serialize()
        return pyroaring.BitMap64(self).serialize()

    @classmethod
    def deserialize(cls, data):
        return cls(_load(data))

    def get_memory_size(self):
        return len(pyroaring.BitMap64(self).serialize()) + 48

    def __reduce__(self):
        return (type(self).deserialize, (self.serialize(),))

    def __repr__(self):
        return f"{type(self).__name__}(<{len(self)} values>)"


BaseBitmap = pyroaring.AbstractBitMap64


class FrozenBitmap(_Mixin, pyroaring.FrozenBitMap64):
    pass


class Bitmap(_Mixin, pyroaring.BitMap64):
    pass
