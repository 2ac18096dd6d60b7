"""What one statement runs against: the holder, one snapshot per table (taken when the
statement is planned, so planning and execution read the same state), an executor per
table carrying the statement's deadline and cancel event, the answers of its subqueries
(each run once), and the memory budget of the operators that hold rows."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional

from engine.errors import IndexNotFoundError, QueryCancelledError, QueryLimitError, TableNotFoundError
from engine.executor import Executor
from engine.groupby import DEFAULT_MAX_GROUPS

# Rows an operator may hold at once (sort, distinct, grouping, a join's build side),
# estimated in bytes: past it the statement stops with QueryLimitError (docs/sql.md, Limits).
MEMORY_LIMIT = 256 << 20


class Table:
    """A table as one statement sees it: the index, its snapshot and its executor."""

    def __init__(self, ctx: "Context", index: Any, state: Any = None) -> None:
        self.index = index
        self.name: str = index.name
        self.definition = index.definition       # before the plan reads it (plan_cache)
        self.state = index.snapshot() if state is None else state
        self.arm(ctx)

    def arm(self, ctx: "Context") -> None:
        """A new executor, with the statement's deadline and cancel event."""
        self.ex = Executor(self.index, self.state, holder=ctx.holder, deadline=ctx.deadline, cancel=ctx.cancel)

    @property
    def keyed(self) -> bool:
        return bool(self.index.definition.options.keys)


class Context:
    def __init__(self, holder: Any, deadline: Optional[float] = None,
                 cancel: Optional[threading.Event] = None) -> None:
        self.holder = holder
        self.deadline = deadline
        self.cancel = cancel
        self._tables: dict[str, Table] = {}
        self._answers: dict[int, Any] = {}
        self._lock = threading.Lock()
        self.held = 0                    # estimated bytes held by operators now

    def table(self, name: str) -> Table:
        t = self._tables.get(name)
        if t is None:
            try:
                index = self.holder.index(name)
            except IndexNotFoundError:
                raise TableNotFoundError(f"table or view '{name}' not found") from None
            t = self._tables[name] = Table(self, index)
        return t

    def tables(self) -> dict[str, Table]:
        return dict(self._tables)

    def park(self) -> None:
        """Drop what one run of a plan computed (executors with their bitmaps, subquery
        answers), so the plan can be kept for the next run."""
        for t in self._tables.values():
            t.ex = None  # type: ignore[assignment]  # arm() gives it a new one
        self._answers = {}
        self.held = 0

    def rearm(self, deadline: Optional[float], cancel: Optional[threading.Event]) -> None:
        """Ready a kept plan's context for another run."""
        self.deadline, self.cancel = deadline, cancel
        self._answers = {}
        self.held = 0
        for t in self._tables.values():
            t.arm(self)

    def check(self) -> None:
        """Stop here if the deadline passed or the statement was cancelled."""
        if self.cancel is not None and self.cancel.is_set():
            raise QueryCancelledError("query cancelled")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise QueryCancelledError("query deadline exceeded")

    def count_groups(self, n: int) -> None:
        """A grouping now holds n groups: past the holder's max_groups it stops (the same
        cap as PQL's GroupBy)."""
        cap = getattr(self.holder, "max_groups", DEFAULT_MAX_GROUPS)
        if n > cap:
            raise QueryLimitError(f"GROUP BY: more than {cap:,} groups (the max_groups limit); narrow it "
                                  "with WHERE or group by fewer columns")

    def once(self, key: Any, compute: Callable[[], Any]) -> Any:
        """compute() the first time `key` is asked for (a subquery's answer), then the
        same answer."""
        k = id(key)
        if k not in self._answers:
            value = compute()
            with self._lock:
                self._answers.setdefault(k, (key, value))
        return self._answers[k][1]

    def hold(self, nbytes: int, what: str) -> None:
        self.held += nbytes
        if self.held > MEMORY_LIMIT:
            raise QueryLimitError(f"{what} needs more than the {MEMORY_LIMIT >> 20} MiB a statement may hold; "
                                  "narrow it with WHERE or LIMIT")

    def release(self, nbytes: int) -> None:
        self.held = max(0, self.held - nbytes)


def row_bytes(row: tuple[Any, ...]) -> int:
    """A rough size of a row held in memory (for the budget, not an exact count)."""
    n = 56 + 8 * len(row)
    for v in row:
        if isinstance(v, str):
            n += 49 + len(v)
        elif isinstance(v, (list, tuple, frozenset)):
            n += 56 + 40 * len(v) + sum(len(x) for x in v if isinstance(x, str))
        elif v is not None:
            n += 32
    return n
