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

    @classmethod
    def of_rows(cls, schema: list[tuple[str, str]], rows: list[tuple[Any, ...]], **kw: Any) -> "SqlResult":
        return cls(schema, None, rows, **kw)

    def batches(self) -> Iterator[list[tuple[Any, ...]]]:
        if self._rows is not None:
            for i in range(0, len(self._rows), BATCH_ROWS):
                yield self._rows[i:i + BATCH_ROWS]
            return
        if self._produce is not None:
            yield from self._produce()

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            self._rows = [r for batch in self.batches() for r in batch]
        return self._rows

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
