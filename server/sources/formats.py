"""Readers: a source's files as batches of records, in bounded memory.

Each file (an uploaded file, a sandbox file, an S3 object, or a member of a zip) is read
as a stream: CSV/TSV with the stdlib csv module (header, delimiter, quote and escape
options), JSON Lines one line at a time, Parquet one row group at a time (pyarrow's
iter_batches). gzip is decompressed on the fly; zip needs a seekable file and yields
each regular member in name order. A batch holds at most `batch_rows` records and about
MAX_BATCH_BYTES of text, whatever the file's size.

Row numbers are 1-based record numbers within a file (a CSV header and blank lines do
not count; `line` adds the physical line for text formats). A malformed record — a CSV
row with the wrong number of fields, a JSON line that is not an object — is left out of
its batch and reported as a RowError; an undecodable byte or a damaged Parquet file
stops the read with WRONG_DATA_TYPE (nothing after it can be trusted).
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Iterator, Optional, cast

from server.sources.errors import wrong_spec
from server.sources.spec import FileSpec

MAX_BATCH_BYTES = 16 << 20
GZIP_MAGIC, ZIP_MAGIC, PARQUET_MAGIC = b"\x1f\x8b", b"PK\x03\x04", b"PAR1"
_MISSING: Any = object()


@dataclass(frozen=True)
class RowError:
    """A record that was not imported: where it is and why."""

    row: int
    column: Optional[str]
    message: str
    file: str = ""
    line: Optional[int] = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"row": self.row, "column": self.column, "message": self.message}
        if self.file:
            out["file"] = self.file
        if self.line is not None:
            out["line"] = self.line
        return out


@dataclass
class Batch:
    """Records of one file: `rows` are lists (CSV, Parquet: aligned with `columns`) or
    dicts (JSON Lines); `numbers[i]` is rows[i]'s row number."""

    file: str
    columns: list[str]
    rows: list[Any]
    numbers: list[int]
    errors: list[RowError] = field(default_factory=list)
    by_name: bool = False            # rows are dicts

    def __len__(self) -> int:
        return len(self.rows)

    def getter(self, column: str) -> Optional[Callable[[Any], Any]]:
        """row -> the value of `column` (a dotted path reaches into JSON objects); None
        when a tabular file has no such column."""
        if self.by_name:
            return lambda row: lookup(row, column)
        try:
            i = self.columns.index(column)
        except ValueError:
            return None
        return lambda row: row[i] if i < len(row) else None


def lookup(obj: Any, path: str) -> Any:
    """A JSON record's value at `path`: the key itself, else a dotted path into nested
    objects; None when absent."""
    if not isinstance(obj, dict):
        return None
    if path in obj:
        return obj[path]
    head, dot, rest = path.partition(".")
    if dot and isinstance(obj.get(head), dict):
        return lookup(obj[head], rest)
    return None


class Counting(io.RawIOBase):
    """A read-only stream that counts the bytes read through it (progress in bytes)."""

    def __init__(self, raw: BinaryIO, on_read: Optional[Callable[[int], None]] = None) -> None:
        self.raw = raw
        self.count = 0
        self.on_read = on_read

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return bool(self.raw.seekable())

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        return int(self.raw.seek(pos, whence))

    def tell(self) -> int:
        return int(self.raw.tell())

    def readinto(self, b: Any) -> int:
        data = self.raw.read(len(b))
        n = len(data)
        b[:n] = data
        self.count += n
        if self.on_read is not None and n:
            self.on_read(n)
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


# --- opening: compression -------------------------------------------------------------------

def _sniff(stream: io.BufferedReader) -> bytes:
    return stream.peek(4)[:4]


def expand(name: str, stream: BinaryIO, spec: FileSpec) -> Iterator[tuple[str, BinaryIO]]:
    """(display name, decompressed stream) of each file inside one stored object: itself,
    its gzip content, or each regular member of a zip (sorted by name)."""
    # BufferedReader wraps any readable binary stream; typeshed only admits RawIOBase.
    buffered: io.BufferedReader = (stream if isinstance(stream, io.BufferedReader)
                                   else io.BufferedReader(cast(io.RawIOBase, stream), 1 << 16))
    comp = spec.compression
    if comp == "auto":
        head = _sniff(buffered)
        comp = "gzip" if head[:2] == GZIP_MAGIC else "zip" if head == ZIP_MAGIC else "none"
    if comp == "none":
        yield name, buffered
    elif comp == "gzip":
        yield name, gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[misc]
    else:
        if not buffered.seekable():
            raise wrong_spec("a zip archive needs random access to the file", key="options.compression")
        try:
            archive = zipfile.ZipFile(buffered)
        except (zipfile.BadZipFile, OSError) as exc:
            raise wrong_spec(f"{name} is not a readable zip archive: {exc}", key="options.compression") from None
        with archive:
            members = sorted((i for i in archive.infolist() if not i.is_dir()
                              and not i.filename.startswith("__MACOSX/")), key=lambda i: i.filename)
            if not members:
                raise wrong_spec(f"the zip archive {name} holds no file", key="options.compression")
            for info in members:
                try:
                    with archive.open(info) as member:
                        yield f"{name}!{info.filename}", member  # type: ignore[misc]
                except (zipfile.BadZipFile, RuntimeError, NotImplementedError) as exc:
                    raise wrong_spec(f"cannot read {info.filename} in {name}: {exc}",
                                     key="options.compression") from None


# --- records --------------------------------------------------------------------------------

def batches(name: str, stream: BinaryIO, spec: FileSpec, batch_rows: int, *,
            limit: Optional[int] = None) -> Iterator[Batch]:
    """Every record of one (decompressed) file, `batch_rows` at a time; at most `limit`
    records (a preview)."""
    reader = {"csv": _csv_batches, "tsv": _csv_batches, "jsonl": _jsonl_batches,
              "parquet": _parquet_batches}[spec.file_format]
    try:
        yield from reader(name, stream, spec, batch_rows, limit)
    except UnicodeDecodeError as exc:
        raise wrong_spec(f"{name} is not valid {spec.encoding} text ({exc.reason} at byte {exc.start} of a "
                         "block)", key="options.encoding") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise wrong_spec(f"{name}: damaged or truncated compressed data ({exc})", key="options.compression") from None


def _text(stream: BinaryIO, spec: FileSpec) -> io.TextIOWrapper:
    enc = "utf-8-sig" if spec.encoding.lower().replace("_", "-") in ("utf-8", "utf8") else spec.encoding
    return io.TextIOWrapper(stream, encoding=enc, newline="")


def _csv_batches(name: str, stream: BinaryIO, spec: FileSpec, batch_rows: int,
                 limit: Optional[int]) -> Iterator[Batch]:
    text = _text(stream, spec)
    kw: dict[str, Any] = {"delimiter": spec.delimiter, "strict": False}
    if spec.quote:
        kw["quotechar"] = spec.quote
    else:
        kw["quoting"] = csv.QUOTE_NONE
    if spec.escape:
        kw["escapechar"] = spec.escape
        kw["doublequote"] = spec.quote != "" and spec.escape == spec.quote
    reader = csv.reader(text, **kw)
    columns = list(spec.columns) if spec.columns else None
    if spec.header:
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise wrong_spec(f"{name}: unreadable header row ({exc})", key="options") from None
        if header is None:
            return
        header = [h.strip() for h in header]
        if columns is None:
            columns = header
        if len(set(columns)) != len(columns) or any(not c for c in columns):
            raise wrong_spec(f"{name}: the header row must name every column once", key="options.header")
    assert columns is not None
    width = len(columns)
    rows: list[list[str]] = []
    numbers: list[int] = []
    errors: list[RowError] = []
    size = 0
    n = 0
    while limit is None or n < limit:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            n += 1
            errors.append(RowError(n, None, f"malformed CSV: {exc}", name, reader.line_num))
            continue
        if not row:
            continue                          # a blank line
        n += 1
        if len(row) != width:
            errors.append(RowError(n, None, f"expected {width} fields, got {len(row)}", name, reader.line_num))
        else:
            rows.append(row)
            numbers.append(n)
            size += sum(map(len, row))
        if len(rows) >= batch_rows or size >= MAX_BATCH_BYTES or len(errors) >= batch_rows:
            yield Batch(name, columns, rows, numbers, errors)
            rows, numbers, errors, size = [], [], [], 0
    if rows or errors:
        yield Batch(name, columns, rows, numbers, errors)


def _jsonl_batches(name: str, stream: BinaryIO, spec: FileSpec, batch_rows: int,
                   limit: Optional[int]) -> Iterator[Batch]:
    text = _text(stream, spec)
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    errors: list[RowError] = []
    seen: dict[str, None] = {}
    size = 0
    n = 0
    for line_no, line in enumerate(text, 1):
        if limit is not None and n >= limit:
            break
        if not line.strip():
            continue
        n += 1
        try:
            doc = json.loads(line, parse_constant=_no_constant)
        except ValueError as exc:
            errors.append(RowError(n, None, f"not JSON: {exc}", name, line_no))
            continue
        if not isinstance(doc, dict):
            errors.append(RowError(n, None, "each line must be a JSON object", name, line_no))
            continue
        if len(seen) < 1024:
            seen.update(dict.fromkeys(doc))
        rows.append(doc)
        numbers.append(n)
        size += len(line)
        if len(rows) >= batch_rows or size >= MAX_BATCH_BYTES or len(errors) >= batch_rows:
            yield Batch(name, list(seen), rows, numbers, errors, by_name=True)
            rows, numbers, errors, size = [], [], [], 0
    if rows or errors:
        yield Batch(name, list(seen), rows, numbers, errors, by_name=True)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parquet_available() -> bool:
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def _parquet_batches(name: str, stream: BinaryIO, spec: FileSpec, batch_rows: int,
                     limit: Optional[int]) -> Iterator[Batch]:
    if not parquet_available():
        raise wrong_spec("this server has no Parquet support (install pyarrow)", key="file_format")
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not stream.seekable():
        raise wrong_spec("a Parquet file needs random access", key="file_format")
    try:
        pf = pq.ParquetFile(stream)
        n = 0
        for rb in pf.iter_batches(batch_size=batch_rows):
            table = pa.Table.from_batches([rb])
            while any(pa.types.is_struct(f.type) for f in table.schema):
                table = table.flatten()         # nested columns as "customer.age"
            if limit is not None:
                table = table.slice(0, max(0, limit - n))
            cols = table.to_pydict()
            names = list(cols)
            rows = [list(r) for r in zip(*cols.values())] if names else []
            numbers = list(range(n + 1, n + 1 + len(rows)))
            n += len(rows)
            yield Batch(name, names, rows, numbers)
            if limit is not None and n >= limit:
                return
    except (pa.ArrowException, OSError) as exc:
        raise wrong_spec(f"{name} is not a readable Parquet file: {exc}", key="file_format") from None
