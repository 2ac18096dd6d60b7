"""String key <-> integer id translation, for record keys (per index) and row keys (per field).

Ids are allocated monotonically and never reused, so a reader holding an older snapshot is
never confused by a newer key. Record ids start at 0 (filling shard 0 first); row ids start
at 1 in first-seen order, as FeatureBase allocates them. New keys made by a transaction are
written to its log frame and undone if the commit fails.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from engine.errors import InvalidValueError, KeysNotAllowedError


class KeyMap:
    """One key space. Not thread-safe for writers (the index's writer lock serialises
    them); readers may look keys up concurrently. A reader never iterates the live dicts
    (a writer may be adding to them): every iteration goes over a copy made in one C call."""

    def __init__(self, first_id: int, keys: dict[str, int] | None = None, next_id: int | None = None) -> None:
        self.first_id = first_id
        self._ids: dict[str, int] = dict(keys or {})
        self._keys: dict[int, str] = {v: k for k, v in self._ids.items()}
        self.next_id = first_id if next_id is None else next_id
        self.dirty = False

    def __len__(self) -> int:
        return len(self._ids)

    def items(self) -> Iterable[tuple[str, int]]:
        return self.items_snapshot()

    def items_snapshot(self) -> list[tuple[str, int]]:
        """(key, id) pairs as of now, safe to iterate while a writer adds keys (the dict
        is copied in one C call, which no other thread interleaves with)."""
        return list(dict(self._ids).items())

    def id(self, key: str) -> int | None:
        return self._ids.get(key)

    def key(self, ident: int) -> str | None:
        return self._keys.get(ident)

    def keys_for(self, ids: Iterable[int]) -> list[str | None]:
        get = self._keys.get
        return [get(int(i)) for i in ids]

    def create(self, key: str, pending: list[tuple[str, int]]) -> int:
        """The id of key, allocating one (recorded in `pending`) if it is new."""
        ident = self._ids.get(key)
        if ident is None:
            if not isinstance(key, str):
                raise KeysNotAllowedError(f"keys are strings, got {key!r}")
            ident = self.next_id
            self.next_id += 1
            self._ids[key] = ident
            self._keys[ident] = key
            pending.append((key, ident))
            self.dirty = True
        return ident

    def translate(self, keys: Any, create: bool, pending: list[tuple[str, int]]) -> np.ndarray:
        """Translate a whole column of keys to a uint64 id array without a Python-level
        lookup per value: keys are dictionary-encoded first (pyarrow when the input is an
        Arrow array, numpy otherwise) and only the distinct keys go through the map.
        Unknown keys map to 2**64-1 when create is False."""
        uniques, inverse = _dictionary_encode(keys)
        missing = np.uint64(2**64 - 1)
        ids = np.empty(len(uniques), dtype=np.uint64)
        for i, k in enumerate(uniques):
            if not isinstance(k, str):
                raise KeysNotAllowedError(f"keys are strings, got {k!r}")
            ident = self.create(k, pending) if create else self._ids.get(k)
            ids[i] = missing if ident is None else ident
        return ids[inverse] if len(inverse) else np.empty(0, dtype=np.uint64)

    def rollback(self, pending: Sequence[tuple[str, int]]) -> None:
        """Forget keys allocated by a transaction that did not commit."""
        for key, ident in reversed(pending):
            if self._ids.get(key) == ident:
                del self._ids[key]
                del self._keys[ident]
        if pending:
            self.next_id = min(self.next_id, min(i for _, i in pending))

    def apply(self, pairs: Iterable[tuple[str, int]]) -> None:
        """Replay assignments from the log (idempotent)."""
        for key, ident in pairs:
            self._ids[key] = ident
            self._keys[ident] = key
            if ident >= self.next_id:
                self.next_id = ident + 1
            self.dirty = True

    def like(self, pattern: str) -> list[int]:
        """Ids of keys matching a SQL LIKE pattern (% any run, _ one character)."""
        import re

        rx = re.compile("".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern) + r"\Z",
                        re.DOTALL)
        return sorted(i for k, i in self.items_snapshot() if rx.match(k))


def _dictionary_encode(keys: Any) -> tuple[list[Any], np.ndarray]:
    """(distinct values, index of each input value into them)."""
    mod = type(keys).__module__
    if mod.startswith("pyarrow"):
        import pyarrow as pa
        import pyarrow.compute as pc

        if isinstance(keys, pa.ChunkedArray):
            keys = keys.combine_chunks()
        if keys.null_count:
            raise InvalidValueError("null keys are not allowed")
        if not pa.types.is_dictionary(keys.type):
            keys = pc.dictionary_encode(keys)
        return keys.dictionary.to_pylist(), keys.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    if isinstance(keys, np.ndarray):
        if keys.dtype.kind not in "UO":
            raise KeysNotAllowedError(f"keys are strings, got an array of {keys.dtype}")
        if keys.dtype.kind == "O":
            return _encode_list(keys.tolist())
        # Distinct keys in first-seen order, so new ids follow the input's order as they
        # do for lists and Arrow arrays.
        uniques, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        return uniques[order].tolist(), rank[inverse.ravel()]
    if isinstance(keys, str):
        raise InvalidValueError("expected a sequence of keys, got one string")
    return _encode_list(list(keys))


def _encode_list(keys: list[Any]) -> tuple[list[Any], np.ndarray]:
    # Two C-level passes (distinct keys in first-seen order, then a lookup per key) beat
    # one Python-level pass.
    try:
        index = {k: i for i, k in enumerate(dict.fromkeys(keys))}
        inverse = np.fromiter(map(index.__getitem__, keys), dtype=np.int64, count=len(keys))
    except TypeError:
        raise InvalidValueError("keys must be hashable strings") from None
    return list(index), inverse
