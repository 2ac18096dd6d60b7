"""A source's `connection_table_params`, validated into a FileSpec: the file format and its
options, and where the data is (LOCAL: an upload or a sandbox path; S3/GCS: bucket and key
or prefix).

    {"file_format": "CSV", "bucket": "b", "key": "users.csv.gz",
     "options": {"compression": "gzip", "delimiter": ";", "quote": "\\"", "escape": "\\\\",
                 "header": true}}

Formats (case-insensitive): CSV, TSV, JSONL (also NDJSON, JSON), PARQUET. Options:
compression (none, gzip, zip; absent: detected from the first bytes), delimiter (one
character; TSV: tab), quote (one character, or "" for none), escape (one character),
header (true: the first row names the columns; false: give `columns`), columns,
encoding (a Python codec name, default utf-8; a BOM is skipped), list_delimiter (how a
CSV cell holds a list: split on this character; default: the cell is a JSON array).
Anything else is refused (WRONG_DATA_TYPE), so a typo never silently changes a parse.
"""
from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from server.sources.errors import wrong_spec

FORMATS = {"CSV": "csv", "TSV": "tsv", "JSONL": "jsonl", "NDJSON": "jsonl", "JSON": "jsonl",
           "JSON_LINES": "jsonl", "PARQUET": "parquet"}
EXPORT_FORMATS = ("csv", "parquet")
COMPRESSIONS = {"none": "none", "": "none", "gzip": "gzip", "gz": "gzip", "zip": "zip", "auto": "auto"}
OPTIONS = frozenset({"compression", "delimiter", "quote", "escape", "header", "columns", "encoding",
                     "list_delimiter"})
LOCATION = frozenset({"bucket", "key", "prefix", "path"})
PARAMS = frozenset({"file_format", "options", "url"}) | LOCATION
MAX_KEY = 1024


@dataclass(frozen=True)
class FileSpec:
    """How to read (or write) a source's data, and where it is."""

    file_format: str                  # csv tsv jsonl parquet
    compression: str = "auto"         # none gzip zip auto
    delimiter: str = ","
    quote: str = '"'
    escape: Optional[str] = None
    header: bool = True
    columns: Optional[tuple[str, ...]] = None
    encoding: str = "utf-8"
    list_delimiter: Optional[str] = None
    bucket: Optional[str] = None
    key: Optional[str] = None
    prefix: Optional[str] = None
    path: Optional[str] = None


def _char(value: Any, what: str, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str) or len(value) > 1 or (not value and not empty_ok) or value in "\r\n" and value:
        raise wrong_spec(f"options.{what} must be a single character (not a line break)", key=f"options.{what}")
    return value


def _text(value: Any, what: str, *, limit: int = MAX_KEY) -> str:
    if not isinstance(value, str) or not value or len(value) > limit or "\x00" in value:
        raise wrong_spec(f"{what} must be non-empty text of at most {limit} characters", key=what)
    return value


def parse(params: Mapping[str, Any], *, connection: str, export: bool = False) -> FileSpec:
    """The FileSpec of validated connection_table_params for a LOCAL, S3 or GCS source.

    Raises WrongData (WRONG_DATA_TYPE, status wrong_specification) naming the bad key."""
    unknown = sorted(set(params) - PARAMS)
    if unknown:
        raise wrong_spec(f"unknown connection_table_params {', '.join(map(repr, unknown))}; known: "
                         f"{', '.join(sorted(PARAMS))}", key=unknown[0])
    fmt_name = params.get("file_format")
    if not isinstance(fmt_name, str) or fmt_name.upper() not in FORMATS:
        raise wrong_spec(f"file_format must be one of {', '.join(sorted(FORMATS))}; got {str(fmt_name)[:40]!r}",
                         key="file_format")
    fmt = FORMATS[fmt_name.upper()]
    if export and fmt not in EXPORT_FORMATS:
        raise wrong_spec("an analytics_report is written as CSV or PARQUET", key="file_format")
    options = params.get("options") or {}
    if not isinstance(options, Mapping):
        raise wrong_spec("options must be an object", key="options")
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise wrong_spec(f"unknown options {', '.join(map(repr, unknown))}; known: {', '.join(sorted(OPTIONS))}",
                         key=f"options.{unknown[0]}")
    kw: dict[str, Any] = {"file_format": fmt}
    comp = options.get("compression")
    if comp is not None:
        if not isinstance(comp, str) or comp.lower() not in COMPRESSIONS:
            raise wrong_spec("options.compression must be none, gzip or zip", key="options.compression")
        kw["compression"] = COMPRESSIONS[comp.lower()]
    if export:
        kw["compression"] = kw.get("compression", "none")
        if kw["compression"] not in ("none", "gzip") or (fmt == "parquet" and kw["compression"] != "none"):
            raise wrong_spec("an export is written uncompressed (CSV may be gzip)", key="options.compression")
    if fmt == "parquet" and kw.get("compression", "auto") not in ("auto", "none"):
        raise wrong_spec("Parquet compresses inside the file: give no options.compression", key="options.compression")
    if fmt == "tsv":
        kw["delimiter"] = "\t"
    if "delimiter" in options:
        kw["delimiter"] = _char(options["delimiter"], "delimiter")
    if "quote" in options:
        kw["quote"] = _char(options["quote"], "quote", empty_ok=True)
    if "escape" in options and options["escape"] is not None:
        kw["escape"] = _char(options["escape"], "escape")
    if "header" in options:
        if not isinstance(options["header"], bool):
            raise wrong_spec("options.header must be true or false", key="options.header")
        kw["header"] = options["header"]
    if "columns" in options:
        cols = options["columns"]
        if not isinstance(cols, list) or not cols or not all(isinstance(c, str) and c for c in cols) \
                or len(set(cols)) != len(cols):
            raise wrong_spec("options.columns must be a list of distinct column names", key="options.columns")
        kw["columns"] = tuple(cols)
    if fmt in ("csv", "tsv") and not kw.get("header", True) and "columns" not in kw and not export:
        raise wrong_spec("a CSV without a header row needs options.columns", key="options.columns")
    if "encoding" in options:
        enc = options["encoding"]
        try:
            if not isinstance(enc, str):
                raise LookupError
            codecs.lookup(enc)
        except LookupError:
            raise wrong_spec(f"unknown options.encoding {str(enc)[:40]!r}", key="options.encoding") from None
        kw["encoding"] = enc
    if "list_delimiter" in options:
        kw["list_delimiter"] = _char(options["list_delimiter"], "list_delimiter")
    if kw.get("delimiter", ",") == kw.get("quote", '"'):
        raise wrong_spec("options.delimiter and options.quote must differ", key="options.delimiter")
    kw.update(_location(params, connection))
    return FileSpec(**kw)


def _location(params: Mapping[str, Any], connection: str) -> dict[str, Any]:
    if connection == "LOCAL":
        for field in ("bucket", "key", "prefix"):
            if field in params:
                raise wrong_spec(f"{field} belongs to S3/GCS sources; a LOCAL source is uploaded to its url or "
                                 "read from the sandbox `path`", key=field)
        return {"path": _text(params["path"], "path")} if params.get("path") is not None else {}
    if "path" in params:
        raise wrong_spec("path belongs to LOCAL sources; give bucket and key (or prefix)", key="path")
    out = {"bucket": _text(params.get("bucket"), "bucket", limit=255)}
    key, prefix = params.get("key"), params.get("prefix")
    if (key is None) == (prefix is None):
        raise wrong_spec("give exactly one of key (one object) or prefix (every object under it)", key="key")
    if key is not None:
        out["key"] = _text(key, "key")
    else:
        if not isinstance(prefix, str) or len(prefix) > MAX_KEY or "\x00" in prefix:
            raise wrong_spec("prefix must be text of at most 1024 characters", key="prefix")
        out["prefix"] = prefix
    return out
