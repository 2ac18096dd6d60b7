"""SQL results: a schema and rows, produced in batches so a server can stream them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

BATCH_ROWS = 1024


@dataclass
class SqlResult:
    """schema: (column name, SQL type) pairs; rows: tuples, NULL as None.

    Rows come from `batches()` (lists of up to BATCH_ROWS tuples, computed as they are
    consumed) or all at once from `.rows`. `rows_affected` counts what a write changed.
    """

    schema: list[tuple[str, str]]
    _produce: Optional[Callable[[], Iterator[list[tuple[Any, ...]]]]] = None
    _rows: Optional[list[tuple[Any, ...]]] = None
    rows_affected: Optional[int] = None
    plan: Optional[str] = None
    warnings: list[str] = field(default_factory=list)
    _source: Optional[Iterator[list[tuple[Any, ...]]]] = field(default=None, repr=False)
    _seen: list[list[tuple[Any, ...]]] = field(default_factory=list, repr=False)

    @classmethod
    def of_rows(cls, schema: list[tuple[str, str]], rows: list[tuple[Any, ...]], **kw: Any) -> "SqlResult":
        return cls(schema, None, rows, **kw)

    def batches(self) -> Iterator[list[tuple[Any, ...]]]:
        """The rows in batches; batches already produced are kept, so reading the result
        again (or `.rows` afterwards) sees every row."""
        if self._rows is not None:
            for i in range(0, len(self._rows), BATCH_ROWS):
                yield self._rows[i:i + BATCH_ROWS]
            return
        if self._produce is None:
            return
        if self._source is None:
            self._source = self._produce()
        i = 0
        while True:
            if i < len(self._seen):
                yield self._seen[i]
                i += 1
                continue
            batch = next(self._source, None)
            if batch is None:
                self._rows = [r for b in self._seen for r in b]
                return
            self._seen.append(batch)

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            for _ in self.batches():
                pass
            if self._rows is None:
                self._rows = []
        return self._rows

    @property
    def pending(self) -> bool:
        """Whether rows remain to be produced: reading them runs the statement's lazy part."""
        return self._rows is None and self._produce is not None

    @property
    def columns(self) -> list[str]:
        return [name for name, _ in self.schema]

    def to_dict(self) -> dict[str, Any]:
        """FeatureBase's /sql response shape (values left as Python objects)."""
        out: dict[str, Any] = {"schema": {"fields": [{"name": n, "type": t} for n, t in self.schema]},
                               "data": [list(r) for r in self.rows]}
        if self.rows_affected is not None:
            out["rows-affected"] = self.rows_affected
        if self.plan is not None:
            out["query-plan"] = self.plan
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out
