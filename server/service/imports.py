"""Running a source: the import loop (read -> map -> convert -> write, one batch at a
time) and the analytics_report export. Runs on the context's import pool as a tracked
task (service.tasks.start_tracked); everything here is synchronous.

Guarantees:
- Atomic per batch: a batch's good records commit together (one engine transaction) or
  not at all; an import that stops (error budget spent, cancel, a failure) leaves whole
  batches only. DEFAULT_BATCH_ROWS records per batch unless the run says otherwise.
- Bounded memory: one batch of records (formats.MAX_BATCH_BYTES of text at most) plus the
  reader's buffers, whatever the file's size.
- Per-row errors: a record whose value does not fit is skipped and reported with its row
  number, column and file; the first MAX_REPORTED are kept on the task. The error budget
  (max_errors, default 0) says how many may be skipped: one more fails the run, before
  the batch holding it is written.
- Progress: rows read, written and skipped, bytes read of the total, batches and rate,
  reported on the task after every batch (at most every REPORT_SECONDS).
- Cancel: checked before every batch; a cancelled run stops with whole batches written.
"""
from __future__ import annotations

import csv
import gzip
import io
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Iterator, Optional, Protocol, TypeVar

from engine import EngineError
from server.service.errors import IncorrectState, InvalidParameter, ServiceError, from_engine
from server.service.sinks import FieldError, Sink
from server.service.tasks import Tracker
from server.sources import formats
from server.sources.backends import StoredObject
from server.sources.errors import wrong_spec
from server.sources.formats import Batch, RowError
from server.sources.spec import FileSpec

DEFAULT_BATCH_ROWS = 10_000
MAX_BATCH_ROWS = 100_000
DEFAULT_MAX_ERRORS = 0
MAX_REPORTED = 100
REPORT_SECONDS = 0.5
PREVIEW_ROWS = 20
E = TypeVar("E", bound=BaseException)


class Store(Protocol):
    """What an import reads: the source's objects and how to open each."""

    def objects(self) -> list[StoredObject]: ...

    def open(self, obj: StoredObject, *, seekable: bool = False) -> BinaryIO: ...


@dataclass
class Stats:
    """An import's figures (the task's `details`)."""

    started: float
    bytes_total: Optional[int] = None
    files: int = 0
    rows_read: int = 0
    rows_written: int = 0
    rows_skipped: int = 0
    bytes_read: int = 0
    batches: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    batch_rows: int = DEFAULT_BATCH_ROWS
    max_errors: int = DEFAULT_MAX_ERRORS
    cancelled: bool = False

    def add_errors(self, errors: list[RowError]) -> None:
        self.rows_skipped += len(errors)
        room = MAX_REPORTED - len(self.errors)
        if room > 0:
            self.errors.extend(e.to_dict() for e in errors[:room])

    def to_dict(self) -> dict[str, Any]:
        elapsed = max(1e-9, time.monotonic() - self.started)
        return {"rows_read": self.rows_read, "rows_written": self.rows_written, "rows_skipped": self.rows_skipped,
                "bytes_read": self.bytes_read, "bytes_total": self.bytes_total, "files": self.files,
                "batches": self.batches, "batch_rows": self.batch_rows, "max_errors": self.max_errors,
                "elapsed_seconds": round(elapsed, 3), "rows_per_second": round(self.rows_written / elapsed, 1),
                "errors": list(self.errors), "cancelled": self.cancelled}

    def text(self) -> str:
        total = f" of {self.bytes_total:,}" if self.bytes_total else ""
        return (f"{self.rows_written:,} rows written, {self.rows_skipped:,} skipped; "
                f"{self.bytes_read:,}{total} bytes read")


def run_options(body: dict[str, Any], defaults: dict[str, Any]) -> tuple[int, int]:
    """(batch_rows, max_errors) of a run: the run's body, else the source's
    resource_params, else the defaults."""
    out = []
    for key, default, hi in (("batch_size", DEFAULT_BATCH_ROWS, MAX_BATCH_ROWS), ("max_errors", DEFAULT_MAX_ERRORS,
                                                                                  2**62)):
        value = body.get(key, defaults.get(key, default))
        lo = 1 if key == "batch_size" else 0
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise InvalidParameter(f"{key} must be an integer from {lo} to {hi}", name="WRONG_DATA_TYPE",
                                   data={"key": key})
        out.append(value)
    return out[0], out[1]


def _failure(exc: E, stats: Stats) -> E:
    """The error, carrying the figures reached (the task records them)."""
    exc.details_so_far = stats.to_dict()          # type: ignore[attr-defined]
    exc.progress_so_far = stats.text()            # type: ignore[attr-defined]
    return exc


class Mapper:
    """columns_mapping applied to a batch: {target: getter}, resolved once per layout."""

    def __init__(self, sink: Sink, mapping: dict[str, str]) -> None:
        self.sink, self.mapping = sink, mapping
        self._cache: dict[tuple[str, tuple[str, ...]], dict[str, Callable[[Any], Any]]] = {}

    def getters(self, batch: Batch) -> dict[str, Callable[[Any], Any]]:
        key = (batch.file, tuple(batch.columns) if not batch.by_name else ("<json>",))
        found = self._cache.get(key)
        if found is not None:
            return found
        mapping = self.mapping or self.sink.identity(batch.columns)
        getters = {}
        for target, column in mapping.items():
            g = batch.getter(column)
            if g is None:
                if target in self.sink.required:
                    raise wrong_spec(f"{batch.file} has no column {column!r} (mapped to {target}); its columns: "
                                     f"{', '.join(batch.columns[:50])}", key=f"resource_params.columns_mapping.{target}")
                continue
            getters[target] = g
        missing = [t for t in self.sink.required if t not in getters]
        if missing:
            raise wrong_spec(f"{batch.file}: nothing maps to {', '.join(missing)} (name the columns in "
                             "resource_params.columns_mapping)", key="resource_params.columns_mapping")
        self._cache[key] = getters
        return getters

    def records(self, batch: Batch, getters: dict[str, Callable[[Any], Any]]) -> tuple[list[Any], list[RowError]]:
        """The batch's converted records, and a RowError per record that did not fit."""
        out, errors = [], []
        convert = self.sink.convert
        items = list(getters.items())
        for row, number in zip(batch.rows, batch.numbers):
            values = {t: g(row) for t, g in items}
            try:
                out.append(convert(values))
            except FieldError as exc:
                column = (self.mapping or {}).get(exc.target, exc.target)
                errors.append(RowError(number, column, exc.message, batch.file))
        return out, errors


def read_batches(store: Store, spec: FileSpec, batch_rows: int, stats: Stats, *,
                 limit: Optional[int] = None) -> Iterator[Batch]:
    """Every batch of every object of a source, counting bytes into stats."""
    objects = store.objects()
    stats.bytes_total = sum(o.size or 0 for o in objects) or None
    seekable = spec.file_format == "parquet" or spec.compression == "zip"
    left = limit
    for obj in objects:
        raw = store.open(obj, seekable=seekable)
        counting = formats.Counting(raw, on_read=lambda n: setattr(stats, "bytes_read", stats.bytes_read + n))
        stream: BinaryIO = io.BufferedReader(counting, 1 << 16)
        try:
            for name, member in formats.expand(obj.name, stream, spec):
                stats.files += 1
                for batch in formats.batches(name, member, spec, batch_rows, limit=left):
                    yield batch
                    if left is not None:
                        left -= len(batch) + len(batch.errors)
                        if left <= 0:
                            return
        finally:
            stream.close()


def run_import(tracker: Tracker, store: Store, spec: FileSpec, sink: Sink, mapping: dict[str, str], *,
               batch_rows: int, max_errors: int, check: Callable[[], None]) -> tuple[str, dict[str, Any]]:
    """The import loop. `check` re-checks, before every write, that the database still
    takes writes. Returns (progress text, details); raises with the figures reached."""
    stats = Stats(time.monotonic(), batch_rows=batch_rows, max_errors=max_errors)
    mapper = Mapper(sink, mapping)
    last_report = 0.0
    try:
        for batch in read_batches(store, spec, batch_rows, stats):
            if tracker.cancelled:
                stats.cancelled = True
                raise IncorrectState("the import was cancelled; whole batches before it are written",
                                     name="CANCELLED")
            stats.rows_read += len(batch) + len(batch.errors)
            records, errors = mapper.records(batch, mapper.getters(batch)) if len(batch) else ([], [])
            errors = batch.errors + errors
            stats.add_errors(errors)
            if stats.rows_skipped > max_errors:
                first = errors[0]
                raise InvalidParameter(
                    f"{stats.rows_skipped} rows did not fit, more than the error budget ({max_errors}); first here: "
                    f"row {first.row}{f', column {first.column}' if first.column else ''} of {first.file}: "
                    f"{first.message}", name="ERROR_BUDGET_EXCEEDED",
                    data={"row": first.row, "column": first.column, "file": first.file})
            check()
            stats.rows_written += sink.write(records)
            stats.batches += 1
            now = time.monotonic()
            if now - last_report >= REPORT_SECONDS:
                tracker.report(stats.text(), stats.to_dict())
                last_report = now
    except ServiceError as exc:
        raise _failure(exc, stats) from None
    except EngineError as exc:
        raise _failure(from_engine(exc), stats) from exc
    except Exception as exc:         # unexpected: recorded (and logged) with the figures
        raise _failure(exc, stats)
    return stats.text(), stats.to_dict()


def preview(store: Store, spec: FileSpec, sink: Sink, mapping: dict[str, str],
            rows: int = PREVIEW_ROWS) -> dict[str, Any]:
    """The header and first rows, mapped and type-checked: per-target findings, the
    mapped rows, and the row errors met (no write)."""
    stats = Stats(time.monotonic())
    mapper = Mapper(sink, mapping)
    columns: list[str] = []
    shown: list[dict[str, Any]] = []
    errors: list[RowError] = []
    checked: dict[str, int] = {}
    bad: dict[str, int] = {}
    getters: dict[str, Any] = {}
    for batch in read_batches(store, spec, rows, stats, limit=rows):
        columns = columns or list(batch.columns)
        errors.extend(batch.errors)
        if not len(batch):
            continue
        getters = mapper.getters(batch)
        records, row_errors = mapper.records(batch, getters)
        errors.extend(row_errors)
        for e in row_errors:
            bad[e.column or ""] = bad.get(e.column or "", 0) + 1
        for row in batch.rows:
            shown.append({t: g(row) for t, g in getters.items()})
            for t, g in getters.items():
                checked[t] = checked.get(t, 0) + 1
    mapping_used = mapper.mapping or sink.identity(columns)
    findings = []
    for target, column in mapping_used.items():
        col_bad = bad.get(column, 0)
        state = "ok" if target in getters and not col_bad else "missing" if target not in getters else "bad_values"
        findings.append({"target": target, "column": column, "status": state, "rows_checked": checked.get(target, 0),
                         "bad_values": col_bad})
    for target in sink.required:
        if target not in mapping_used:
            findings.append({"target": target, "column": None, "status": "missing", "rows_checked": 0,
                             "bad_values": 0})
    ignored = [c for c in columns if c not in set(mapping_used.values())]
    return {"columns": columns, "rows": shown, "findings": findings, "ignored_columns": ignored,
            "errors": [e.to_dict() for e in errors[:MAX_REPORTED]], "files": stats.files,
            "bytes_total": stats.bytes_total}


# --- export ---------------------------------------------------------------------------------

def write_export(rows: Iterator[list[tuple[Any, ...]]], columns: list[str], spec: FileSpec,
                 out: BinaryIO) -> int:
    """A SQL result as CSV (optionally gzip) or Parquet, streamed batch by batch;
    returns the number of rows."""
    n = 0
    if spec.file_format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        writer = None
        try:
            for batch in rows:
                if not batch:
                    continue
                cols = list(zip(*batch))
                table = pa.table({name: pa.array([_plain(v) for v in col]) for name, col in zip(columns, cols)})
                if writer is None:
                    writer = pq.ParquetWriter(out, table.schema)
                elif table.schema != writer.schema:
                    table = table.cast(writer.schema)
                writer.write_table(table)
                n += len(batch)
            if writer is None:
                writer = pq.ParquetWriter(out, pa.schema([(c, pa.null()) for c in columns]))
        except (pa.ArrowException, ValueError, TypeError) as exc:
            raise wrong_spec(f"the result cannot be written as Parquet: {exc}", key="file_format") from None
        finally:
            if writer is not None:
                writer.close()
        return n
    target: Any = gzip.GzipFile(fileobj=out, mode="wb") if spec.compression == "gzip" else out
    text = io.TextIOWrapper(target, encoding="utf-8", newline="")
    writer_csv = csv.writer(text, delimiter=spec.delimiter, quotechar=spec.quote or '"',
                            escapechar=spec.escape, quoting=csv.QUOTE_MINIMAL)
    if spec.header:
        writer_csv.writerow(columns)
    for batch in rows:
        writer_csv.writerows([_cell(v) for v in r] for r in batch)
        n += len(batch)
    text.flush()
    text.detach()
    if target is not out:
        target.close()
    return n


def _plain(v: Any) -> Any:
    return sorted(v) if isinstance(v, (set, frozenset)) else v


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, (list, tuple, set, frozenset)):
        import json

        return json.dumps(sorted(v) if isinstance(v, (set, frozenset)) else list(v), default=str)
    return v


def spool(directory: str) -> tempfile._TemporaryFileWrapper[bytes]:
    """A temporary file under the data dir (exports are written there first)."""
    os.makedirs(directory, exist_ok=True)
    return tempfile.NamedTemporaryFile(dir=directory, prefix=".export-", delete=True)
