"""Logs and metrics of one server process (STYLE.md: one module owns both).

Logging uses the standard `logging` module under the "roarbase" logger:

- roarbase.access: one line per HTTP request and gRPC call (`access()`), with method,
  route template, status, unified error code, duration, response bytes, principal id,
  org id and request id;
- roarbase.auth: credentials that did not verify (`auth_failure()`);
- roarbase.slow: queries slower than `slow_query_seconds`, their text cut to
  SLOW_TEXT_CHARS (`slow_query()`);
- roarbase.http / roarbase.grpc: every 500 with its traceback;
- roarbase.server: the startup summary.

`configure_logging(level, fmt, file)` (the CLI's --log-level/--log-format/--log-file)
installs one handler for roarbase and uvicorn: text (`ts LEVEL logger message k=v ...`) or
JSON (one object per line). What an event carries goes in `extra={"fields": {...}}`. No
call site passes a secret, and the formatter still scrubs anything shaped like one
(JWTs, API keys, `password=...`) from the final line, tracebacks included (SECURITY.md).

Which request a line belongs to travels in a context variable (`begin_request`), set by
the HTTP guard and the gRPC interceptor; Runtime copies the context onto its worker
threads, so authentication there records the principal on the same RequestInfo.

Metrics are prometheus-client objects in one process-wide registry (`METRICS`), plus a
per-Runtime collector for state read at scrape time (open databases, admission queue);
`exposition(runtime)` is the text GET /metrics serves.
"""
from __future__ import annotations

import contextvars
import datetime as _dt
import json
import logging
import logging.handlers
import re
import secrets
import sys
from dataclasses import dataclass
from typing import Any, Iterator, Optional

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from server.settings import LOG_FORMATS, LOG_LEVELS

SLOW_TEXT_CHARS = 500
REQUEST_ID_HEADER = "x-request-id"

server_log = logging.getLogger("roarbase.server")
access_log = logging.getLogger("roarbase.access")
auth_log = logging.getLogger("roarbase.auth")
slow_log = logging.getLogger("roarbase.slow")


# -- which request a line belongs to -------------------------------------------------------

@dataclass
class RequestInfo:
    """One request as the logs see it; the principal is filled in once it is verified."""

    request_id: str
    principal_id: Optional[str] = None
    org_id: Optional[str] = None
    error: Optional[tuple[str, str]] = None     # (unified code, finer name) of a failed call
    sent_bytes: int = 0


_current: contextvars.ContextVar[Optional[RequestInfo]] = contextvars.ContextVar("roarbase_request", default=None)


def new_request_id() -> str:
    return secrets.token_hex(8)


def begin_request(request_id: Optional[str] = None) -> RequestInfo:
    """A RequestInfo for the current task (the HTTP guard, the gRPC interceptor)."""
    info = RequestInfo(request_id or new_request_id())
    _current.set(info)
    return info


def current_request() -> Optional[RequestInfo]:
    return _current.get()


def note_error(code: str, name: str) -> None:
    """Record the unified code a call failed with (the gRPC face's error path)."""
    info = _current.get()
    if info is not None:
        info.error = (code, name)


def note_principal(principal: Any) -> None:
    """Record the verified caller on the current request (called by Runtime)."""
    info = _current.get()
    if info is not None and principal is not None:
        info.principal_id = principal.account_id
        info.org_id = principal.org_id


# -- formatting ------------------------------------------------------------------------------

# Shapes of secrets, scrubbed from every formatted line whatever put them there: JWTs
# (base64url JSON starts "eyJ"), API keys (rbk_<32 hex>_<secret>), and `key=value` /
# `"key": "value"` pairs whose key names a credential.
_SCRUB = (
    (re.compile(r"eyJ[A-Za-z0-9_-]{6,}(?:\.[A-Za-z0-9_-]*){0,2}"), "[token]"),
    (re.compile(r"rbk_[0-9a-fA-F]{8,}_[A-Za-z0-9_-]+"), "[api-key]"),
    (re.compile(r"(?i)((?:password|passwd|secret|refresh_token|api[_-]?key|authorization|credentials?)"
                r"[\"']?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&}]+)"), r"\1[redacted]"),
)


def scrub(text: str) -> str:
    """`text` with anything shaped like a secret replaced."""
    for pattern, replacement in _SCRUB:
        text = pattern.sub(replacement, text)
    return text


def _ts(created: float) -> str:
    t = _dt.datetime.fromtimestamp(created, _dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return dict(fields) if isinstance(fields, dict) else {}


def _text_value(v: Any) -> str:
    s = "-" if v is None else str(v)
    return json.dumps(s) if (not s or any(c in s for c in ' "=\n\t')) else s


class TextFormatter(logging.Formatter):
    """`2024-05-01T10:00:00.123Z INFO roarbase.access message k=v k=v` (+ traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_ts(record.created), record.levelname, record.name, record.getMessage()]
        parts += [f"{k}={_text_value(v)}" for k, v in _fields(record).items()]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return scrub(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the event's fields, and exc (the
    traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": _ts(record.created), "level": record.levelname.lower(),
                               "logger": record.name, "msg": record.getMessage()}
        for k, v in _fields(record).items():
            out.setdefault(k, v)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return scrub(json.dumps(out, default=str, ensure_ascii=False))


_handler: Optional[logging.Handler] = None


def configure_logging(level: str = "info", fmt: str = "text", file: Optional[str] = None) -> None:
    """Send roarbase's (and uvicorn's) logs to `file` (appended; reopened when rotated
    away) or stderr, in `fmt`, at `level` and above. Replaces an earlier configuration."""
    global _handler
    if level not in LOG_LEVELS or fmt not in LOG_FORMATS:
        raise ValueError(f"log level must be one of {LOG_LEVELS} and format one of {LOG_FORMATS}")
    handler: logging.Handler = (logging.handlers.WatchedFileHandler(file, encoding="utf-8") if file
                                else logging.StreamHandler(sys.stderr))
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    for name in ("roarbase", "uvicorn"):
        logger = logging.getLogger(name)
        if _handler is not None:
            logger.removeHandler(_handler)
        logger.addHandler(handler)
        logger.propagate = False
    logging.getLogger("roarbase").setLevel(level.upper())
    logging.getLogger("uvicorn").setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))
    if _handler is not None:
        _handler.close()
    _handler = handler


# -- events ------------------------------------------------------------------------------------

def access(face: str, method: str, route: str, status: Any, code: str, seconds: float, size: int,
           info: Optional[RequestInfo], *, address: str = "", error_name: str = "", quiet: bool = False) -> None:
    """The access line of one request or call, and its metrics. status: the HTTP status or
    the gRPC status name; code: the unified error code ("" on success) and error_name its
    finer name. quiet: a probe (health, metrics), logged at DEBUG."""
    fields = {"face": face, "method": method, "route": route, "status": status, "code": code or None,
              "duration_ms": round(seconds * 1000, 3), "bytes": size,
              "principal": info.principal_id if info else None, "org": info.org_id if info else None,
              "request_id": info.request_id if info else None, "client": address or None}
    if error_name:
        fields["error"] = error_name
    level = logging.WARNING if code in ("InternalServerError", "DataCorrupted") else \
        logging.DEBUG if quiet else logging.INFO
    access_log.log(level, "%s %s %s", method, route, status, extra={"fields": fields})
    if code == "RequestLimitExceeded":
        limited(error_name or code)
    if face == "http":
        METRICS.http_requests.labels(method, route, str(status)).inc()
        METRICS.http_seconds.labels(method, route).observe(seconds)
    else:
        METRICS.grpc_calls.labels(route, str(status)).inc()
        METRICS.grpc_seconds.labels(route).observe(seconds)


def limited(name: str) -> None:
    """A request refused by a rate limit or admission control (its error name)."""
    METRICS.rate_limited.labels(name.lower()).inc()


def auth_failure(reason: str, *, address: str) -> None:
    """Credentials that did not verify (never the credential itself)."""
    info = _current.get()
    auth_log.warning("authentication failed: %s", reason,
                     extra={"fields": {"reason": reason, "client": address,
                                       "request_id": info.request_id if info else None}})
    METRICS.auth_failures.labels(reason.lower()).inc()


def query_done(language: str, writes: bool, seconds: float, text: str, database_id: str, *,
               threshold: float, rows: Optional[int] = None) -> None:
    """A query ran: count it, and log it when it took `threshold` seconds or longer."""
    METRICS.queries.labels(language, "write" if writes else "read").inc()
    METRICS.query_seconds.labels(language).observe(seconds)
    if writes and rows:
        METRICS.ingest_rows.inc(rows)
    if seconds >= threshold:
        info = _current.get()
        shown = " ".join(text.split())
        if len(shown) > SLOW_TEXT_CHARS:
            shown = shown[:SLOW_TEXT_CHARS] + f"… ({len(text)} chars)"
        slow_log.warning("slow %s query: %.3f s", language, seconds, extra={"fields": {
            "language": language, "duration_ms": round(seconds * 1000, 3), "database": database_id,
            "text": shown, "principal": info.principal_id if info else None,
            "request_id": info.request_id if info else None}})


def wal_appended(size: int, fsync_seconds: Optional[float]) -> None:
    """The engine's WAL hook: a frame of `size` bytes, fsynced in that many seconds."""
    METRICS.wal_bytes.inc(size)
    if fsync_seconds is not None:
        METRICS.wal_fsync_seconds.observe(fsync_seconds)


# -- metrics -----------------------------------------------------------------------------------

_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_FSYNC = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


disable_created_metrics()   # the *_created series double the exposition for nothing a scraper uses


class _Metrics:
    """The process-wide instruments (one server per process; counters only ever grow)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self.http_requests = Counter("roarbase_http_requests", "HTTP requests answered",
                                     ["method", "route", "status"], registry=r)
        self.http_seconds = Histogram("roarbase_http_request_duration_seconds", "HTTP request latency",
                                      ["method", "route"], buckets=_LATENCY, registry=r)
        self.grpc_calls = Counter("roarbase_grpc_calls", "gRPC calls answered", ["method", "code"], registry=r)
        self.grpc_seconds = Histogram("roarbase_grpc_call_duration_seconds", "gRPC call latency", ["method"],
                                      buckets=_LATENCY, registry=r)
        self.queries = Counter("roarbase_queries", "SQL and PQL requests run", ["language", "kind"], registry=r)
        self.query_seconds = Histogram("roarbase_query_duration_seconds", "query execution time", ["language"],
                                       buckets=_LATENCY, registry=r)
        self.ingest_rows = Counter("roarbase_ingest_rows", "records written by SQL write statements", registry=r)
        self.wal_bytes = Counter("roarbase_wal_bytes", "bytes appended to write-ahead logs", registry=r)
        self.wal_fsync_seconds = Histogram("roarbase_wal_fsync_duration_seconds", "write-ahead log fsync latency",
                                           buckets=_FSYNC, registry=r)
        self.rate_limited = Counter("roarbase_rate_limited_requests", "requests refused by a rate limit or "
                                    "admission control", ["reason"], registry=r)
        self.auth_failures = Counter("roarbase_auth_failures", "credentials that did not verify", ["reason"],
                                     registry=r)


METRICS = _Metrics()


class _RuntimeCollector:
    """State of one Runtime, read at scrape time."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        rt = self.runtime
        yield GaugeMetricFamily("roarbase_open_databases", "databases whose engine is open",
                                value=len(rt.ctx.open_engines()))
        yield GaugeMetricFamily("roarbase_requests_in_progress", "service calls admitted and not finished",
                                value=rt.inflight)
        yield GaugeMetricFamily("roarbase_admission_queue_depth", "admitted calls waiting for a worker",
                                value=max(0, rt.inflight - rt.settings.workers))
        yield GaugeMetricFamily("roarbase_admission_capacity", "calls admitted at most (workers + max_pending)",
                                value=rt.settings.workers + rt.settings.max_pending)
        yield GaugeMetricFamily("roarbase_ready", "1 once meta.db and the databases are open", value=int(rt.ready))
        shards = GaugeMetricFamily("roarbase_cluster_shards", "shards a cluster worker holds, per database "
                                   "(its placement table)", labels=["database", "worker"])
        epochs = GaugeMetricFamily("roarbase_cluster_placement_epoch", "placement table changes, per database",
                                   labels=["database"])
        moves = CounterMetricFamily("roarbase_cluster_shard_moves", "shards moved between cluster workers "
                                    "(membership changes and rebalances) since the database was opened",
                                    labels=["database"])
        for db_id, cluster in rt.ctx.open_clusters().items():
            table = cluster.table
            epochs.add_metric([db_id], table.epoch)
            moves.add_metric([db_id], cluster.moves)
            for worker, n in table.shard_counts().items():
                shards.add_metric([db_id, worker], n)
        yield shards
        yield epochs
        yield moves


def runtime_registry(runtime: Any) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(_RuntimeCollector(runtime))
    return registry


def exposition(runtime_metrics: CollectorRegistry) -> bytes:
    """The Prometheus text of the process instruments and one Runtime's state."""
    return generate_latest(METRICS.registry) + generate_latest(runtime_metrics)

