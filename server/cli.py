"""`roarbase`: serve, query, import, check, token, version (docs/cli.md).

Settings for `serve` come from defaults < TOML (--config / ROARBASE_CONFIG) < ROARBASE_*
environment < flags (server/config_file.py). `query`, `import` and `token` work either on a
data dir directly (the embedded engine, acting as the root account of the data dir's first
org — whoever can read the files has the data anyway) or against a running server over
gRPC (`--server host:port`). A data dir held by a running server is locked: those commands
then say to use --server.

Secrets never travel in argv (SECURITY.md): passwords come from ROARBASE_PASSWORD, stdin
(--password-stdin) or a hidden prompt; tokens and API keys from ROARBASE_TOKEN and
ROARBASE_API_KEY. Errors are printed as `error: <unified code>: <message>` on stderr with
exit status 1, never as a traceback.
"""
from __future__ import annotations

import base64
import csv
import datetime as _dt
import fcntl
import io
import json
import os
import re
import sqlite3
import sys
from decimal import Decimal
from importlib import metadata
from typing import Any, Callable, Iterable, Iterator, Optional, TypeVar

import click

from server import config_file
from server.cli_support import CliError, handle_errors as _handle_errors  # noqa: F401 (re-exported)
from server.client import Client, SqlResult, pql_result, rfc3339
from server.error_table import ServerError
from server.service.errors import ServiceUnavailable

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("table", "json", "csv")
# A PQL call's result for printing: its kind (engine.Result.kind, the same name as the
# PqlResult member a server answers with) and its FeatureBase JSON form.
KindedResult = tuple[str, Any]
# Rows a table output shows before "… N more rows" (--max-rows, ROARBASE_MAX_ROWS).
DEFAULT_MAX_ROWS = 100
# Inline data per BULK INSERT statement: under the engine's 96 KiB statement cap (and the
# server's default limits.max_query_bytes) with room for the statement around it.
IMPORT_CHUNK_BYTES = 64 * 1024
_PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")


def _version() -> str:
    try:
        return metadata.version("roarbase")
    except metadata.PackageNotFoundError:
        return "unknown (not installed: run `make` or `pip install -e .`)"


def _prog() -> str:
    """How the user started us, to print commands they can paste."""
    name = os.path.basename(sys.argv[0]) if sys.argv else ""
    if name == "roarbase":
        return "roarbase"
    return f"{os.path.relpath(sys.executable)} -m server.cli"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """roarbase: a bitmap-indexed analytics database."""


# -- serve -------------------------------------------------------------------------------

@main.command()
@click.option("--config", "config_path", envvar="ROARBASE_CONFIG", type=click.Path(dir_okay=False),
              help="TOML settings file (also ROARBASE_CONFIG).")
@click.option("--data-dir", help=f"Data directory (default {config_file.DEFAULT_DATA_DIR}, or ROARBASE_DATA_DIR).")
@click.option("--host", help="Address both listeners bind (default 127.0.0.1).")
@click.option("--grpc-port", type=int, help="gRPC port (default 20101; 0 picks a free one).")
@click.option("--http-port", type=int, help="HTTP port (default 10101; 0 picks a free one).")
@click.option("--allow-remote/--loopback-only", default=None,
              help="Allow binding a non-loopback address (no TLS: put a TLS proxy in front).")
@click.option("--workers", type=int, help="Threads running service calls.")
@click.option("--demo", is_flag=True, help='Create the "demo" database with a generated table on first start.')
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              help="Log this level and above (default info).")
@click.option("--log-format", type=click.Choice(["text", "json"]), help="Log lines as text (default) or JSON objects.")
@click.option("--log-file", type=click.Path(dir_okay=False), help="Append logs to this file (default stderr).")
@click.option("--ray", "ray_address", metavar="ADDRESS",
              help="Keep every database's records on this Ray cluster (ray start --head prints it; "
                   "docs/cluster.md). Needs the ray extra.")
@click.option("--ray-root", type=click.Path(file_okay=False),
              help="Storage every Ray node reaches, for the shards' logs and snapshots: a shared directory or "
                   "s3://bucket/prefix (default <data-dir>/cluster).")
@click.option("--ray-workers", type=int, help="Worker actors per database (default 2).")
@click.option("--ray-s3-endpoint", metavar="URL",
              help="Endpoint of an S3-compatible store for an s3:// --ray-root (default AWS); credentials come "
                   "from boto3's chain (AWS_* environment, profile, instance role).")
@click.option("--ray-workers-per-node", type=int,
              help="Also keep this many worker actors per database on every alive Ray node, following nodes as "
                   "they join and leave (default 0: off).")
@_handle_errors
def serve(config_path: Optional[str], data_dir: Optional[str], host: Optional[str], grpc_port: Optional[int],
          http_port: Optional[int], allow_remote: Optional[bool], workers: Optional[int], demo: bool,
          log_level: Optional[str], log_format: Optional[str], log_file: Optional[str], ray_address: Optional[str],
          ray_root: Optional[str], ray_workers: Optional[int], ray_s3_endpoint: Optional[str],
          ray_workers_per_node: Optional[int]) -> None:
    """Run the server (gRPC and HTTP) until SIGINT/SIGTERM."""
    from server import demo as demo_mod
    from server import serve as serve_mod
    from server import telemetry
    from server.service.bootstrap import open_service

    settings = config_file.load(config_path=config_path, env=os.environ, flags={
        "data_dir": data_dir, "host": host, "grpc_port": grpc_port, "http_port": http_port,
        "allow_remote": allow_remote, "workers": workers, "log_level": log_level, "log_format": log_format,
        "log_file": log_file, "ray_address": ray_address, "ray_root": ray_root, "ray_workers": ray_workers,
        "ray_s3_endpoint": ray_s3_endpoint, "ray_workers_per_node": ray_workers_per_node})
    telemetry.configure_logging(settings.log_level, settings.log_format, settings.log_file)
    data = os.path.abspath(settings.service.data_dir)
    # Bootstrap (and the demo load) before listening: generated credentials are printed
    # even if a port then fails to bind, since they are shown only this once.
    with _Opened(settings.service.data_dir, lambda: open_service(settings.service)) as ctx:
        boot = ctx.bootstrap
        if boot is not None:
            click.echo(f'First start on {data}: created org "{ctx.config.bootstrap.org_name}" and its root account.')
            click.echo(f"  email:    {boot.email}")
            if boot.password is not None:
                click.echo(f"  password: {boot.password}")
                click.echo("  (generated; shown only this once. Set ROARBASE_ROOT_PASSWORD before the first start"
                           " to choose it.)")
            else:
                click.echo("  password: the one in ROARBASE_ROOT_PASSWORD")
        demo_db = demo_mod.ensure_demo(ctx) if demo else None
        root_email = _root_email(ctx)

    def ready(s: Any) -> None:
        click.echo(f"roarbase {_version()} serving {data}")
        click.echo(f"  gRPC  {s.host}:{s.grpc_port}")
        click.echo(f"  HTTP  http://{s.host}:{s.http_port}")
        click.echo(f"  Web console  {_console_url(s.host, s.http_port)}  (sign in as {root_email})")
        if demo_db is not None:
            click.echo(demo_mod.instructions(demo_db, prog=_prog(), host=s.host, grpc_port=s.grpc_port,
                                             http_port=s.http_port, email=root_email))
        click.echo("Stop with Ctrl-C (SIGINT) or SIGTERM.")
        sys.stdout.flush()

    try:
        serve_mod.run(settings, on_ready=ready)
    except (OSError, RuntimeError) as exc:   # a listener could not bind (grpcio raises RuntimeError)
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ServerError("ServiceUnavailable", f"cannot listen on {settings.host} (gRPC port {settings.grpc_port},"
                          f" HTTP port {settings.http_port}): {reason}", name="BIND_FAILED") from None


@main.group()
def cluster() -> None:
    """Scale-out on a Ray cluster (docs/cluster.md)."""


@cluster.command("status")
@click.option("--ray", "ray_address", metavar="ADDRESS", envvar="ROARBASE_RAY_ADDRESS",
              help="Ask the Ray cluster (as given to serve --ray) for its nodes and every worker's own report. "
                   "Without it: ask the running server (--server, your login) where its databases' shards are.")
@click.option("--server", help="The server's gRPC address HOST:PORT (without --ray; default: ROARBASE_SERVER, the "
                               "last login's server, or 127.0.0.1:20101).")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Deadline of the call, in seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_handle_errors
def cluster_status(ray_address: Optional[str], server: Optional[str], timeout: float, as_json: bool) -> None:
    """The Ray nodes and each roarbase worker (its process and the shards it holds), or,
    without --ray, each database's workers and shards as the running server places them."""
    if ray_address is None:
        _server_cluster_status(server, timeout, as_json)
        return
    import engine

    try:
        report = engine.cluster_status(ray_address)
    except ImportError:
        raise ServerError("InvalidParameter", "the cluster commands need the ray extra: pip install 'roarbase[ray]'",
                          name="RAY_NOT_INSTALLED") from None
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True, default=str))
        return
    click.echo(f"Ray nodes ({len(report['nodes'])}):")
    for n in report["nodes"]:
        click.echo(f"  {n['address']:<16} {'alive' if n['alive'] else 'DEAD':<6} cpus={n['cpus']:g}  {n['node_id'][:12]}")
    click.echo(f"roarbase workers ({len(report['workers'])}):")
    for name, w in sorted(report["workers"].items()):
        if "error" in w:
            click.echo(f"  {name}: unavailable ({w['error']})")
            continue
        held = ", ".join(f"{ix}: {len(s)} shards {s}" for ix, s in sorted(w["shards"].items())) or "no shards"
        click.echo(f"  {name}: pid {w['pid']}, loaded in {w['load_seconds'] * 1000:.0f} ms; {held}")


def _server_cluster_status(server: Optional[str], timeout: float, as_json: bool) -> None:
    from server.cli_admin import server_placement

    report = server_placement(server, timeout)
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    if not report["databases"]:
        click.echo("no open database keeps its records on a cluster" + ("" if report["ray"] else
                                                                          " (the server runs without --ray)"))
    for d in report["databases"]:
        click.echo(f"database {d['database_id']} (placement epoch {d['epoch']}): {len(d['workers'])} workers")
        for worker, n in sorted(d["workers"].items()):
            tables = {ix: sorted(int(s) for s, w in shards.items() if w == worker) for ix, shards in d["owners"].items()}
            held = ", ".join(f"{ix}: {s}" for ix, s in sorted(tables.items()) if s) or "no shards"
            click.echo(f"  {worker}: {n} shards; {held}")


def _console_url(host: str, port: int) -> str:
    """The console's address; a wildcard bind is reached through loopback."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}/"


def _root_email(ctx: Any) -> str:
    row = ctx.store.one("SELECT a.email FROM accounts a JOIN orgs o ON o.id = a.org_id WHERE a.role = 'root'"
                        " AND a.status = 'Active' ORDER BY o.created_at, o.id LIMIT 1")
    return str(row["email"]) if row is not None and row["email"] else ctx.config.bootstrap.root_email


class _Opened:
    """open_service as a context manager whose DATA_DIR_IN_USE error says what to do."""

    def __init__(self, data_dir: str, opener: Callable[[], Any]) -> None:
        self.data_dir, self.opener = data_dir, opener
        self.ctx: Any = None

    def __enter__(self) -> Any:
        try:
            self.ctx = self.opener()
        except ServiceUnavailable as exc:
            if exc.name == "DATA_DIR_IN_USE":
                raise ServiceUnavailable(
                    f"data directory {self.data_dir} is in use by a running server: stop it, or talk to it with"
                    " --server HOST:PORT (its gRPC address, e.g. 127.0.0.1:20101)", name="DATA_DIR_IN_USE") from None
            raise
        return self.ctx

    def __exit__(self, *exc: Any) -> None:
        self.ctx.close()


# -- targets: a data dir or a server -----------------------------------------------------

class LocalTarget:
    """The embedded engine on a data dir, through the service layer, as the data dir's
    owner (the root account of its first org)."""

    def __init__(self, service_config: Any) -> None:
        from server.service import tokens
        from server.service.bootstrap import open_service

        self.config = service_config
        if not os.path.isfile(service_config.meta_path):
            raise ServerError("ResourceNotFound", f"no roarbase data directory at {service_config.data_dir}"
                              " (`roarbase serve --data-dir DIR` creates one), or use --server HOST:PORT",
                              name="DATA_DIR_NOT_FOUND")
        self._cm = _Opened(service_config.data_dir, lambda: open_service(service_config))
        self.ctx = self._cm.__enter__()
        try:
            self.owner = tokens.owner_principal(self.ctx)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._cm.__exit__()

    def database_id(self, ref: str) -> str:
        from server.service import databases
        from server.ids import parse_id

        return parse_id(ref) or databases.get_database_by_name(self.ctx, self.owner, ref).id

    def sql(self, database_id: str, text: str) -> SqlResult:
        from server.service import query

        answer = query.sql(self.ctx, self.owner, database_id, text)
        rows = [r for batch in answer.batches() for r in batch]
        return SqlResult(list(answer.last.schema), rows, answer.rows_affected,
                         int(answer.execution_time * 1e6), [*answer.warnings, *answer.last.warnings],
                         answer.last.plan or "")

    def pql(self, database_id: str, table: str, statement: str) -> list[KindedResult]:
        from server.service import query

        answer = query.pql(self.ctx, self.owner, database_id, table=table, statement=statement)
        return [(r.kind, r.to_json()) for r in answer.results]

    def login(self, *, email: Optional[str], name: Optional[str], password: str,
              database: Optional[str]) -> dict[str, Any]:
        from server.service import tokens

        return tokens.login(self.ctx, password=password, email=email, name=name, database=database).to_dict()


class RemoteTarget:
    """A server, over gRPC."""

    def __init__(self, target: str, *, email: Optional[str], password: Callable[[], str],
                 timeout: float) -> None:
        from server import credentials

        token, key = os.environ.get("ROARBASE_TOKEN") or None, os.environ.get("ROARBASE_API_KEY") or None
        if not email and not token and not key and credentials.stored(target) is not None:
            self.client = credentials.session(target, timeout=timeout)   # `roarbase login`'s, refreshed when due
        else:
            self.client = Client(target, token=token, api_key=key, timeout=timeout)
        if email:
            try:
                self.client.login(email, password())
            except BaseException:
                self.client.close()
                raise

    def close(self) -> None:
        self.client.close()

    def database_id(self, ref: str) -> str:
        return self.client.database_id(ref)

    def sql(self, database_id: str, text: str) -> SqlResult:
        return self.client.sql(text, database=database_id)

    def pql(self, database_id: str, table: str, statement: str) -> list[KindedResult]:
        return [(r.WhichOneof("result") or "nil", pql_result(r))
                for r in self.client.pql_raw(statement, table=table, database=database_id).results]

    def login(self, *, email: Optional[str], name: Optional[str], password: str,
              database: Optional[str]) -> dict[str, Any]:
        resp = self.client.login(email, password, name=name, database=database)
        out: dict[str, Any] = {"token": resp.token, "refresh_token": resp.refresh_token,
                               "expires_in": resp.expires_in, "token_type": "Bearer", "role": resp.role,
                               "org_id": resp.org_id}
        if resp.HasField("database"):
            out["database"] = {"id": resp.database.id, "name": resp.database.name}
        return out


def _target_options(fn: F) -> F:
    """--data-dir / --server / --config / --timeout, shared by query, import and token."""
    for decorator in reversed([
        click.option("--data-dir", help="Work on this data dir directly (default ROARBASE_DATA_DIR or "
                                        f"{config_file.DEFAULT_DATA_DIR}); it must not be in use by a server."),
        click.option("--server", envvar="ROARBASE_SERVER",
                     help="Talk to a server's gRPC listener instead, HOST:PORT (also ROARBASE_SERVER)."),
        click.option("--config", "config_path", envvar="ROARBASE_CONFIG", type=click.Path(dir_okay=False),
                     help="TOML settings (for a data dir: the same file the server uses)."),
        click.option("--timeout", type=float, default=60.0, show_default=True,
                     help="Deadline of each call to a server, in seconds."),
    ]):
        fn = decorator(fn)
    return fn


def _password_reader(password_stdin: bool) -> Callable[[], str]:
    def read() -> str:
        if password_stdin:
            return sys.stdin.readline().rstrip("\r\n")
        env = os.environ.get("ROARBASE_PASSWORD")
        if env:
            return env
        return str(click.prompt("Password", hide_input=True, err=True))

    return read


def _connect(*, data_dir: Optional[str], server: Optional[str], config_path: Optional[str], timeout: float,
             email: Optional[str] = None, password_stdin: bool = False) -> Any:
    if server:
        if data_dir:
            raise click.UsageError("give either --data-dir or --server, not both")
        return RemoteTarget(server, email=email, password=_password_reader(password_stdin), timeout=timeout)
    settings = config_file.load(config_path=config_path, env=os.environ, flags={"data_dir": data_dir})
    return LocalTarget(settings.service)


# -- output ------------------------------------------------------------------------------

def _jsonable(v: Any) -> Any:
    if isinstance(v, Decimal):
        # A JSON number when a double holds it exactly, else the exact digits as a string.
        f = float(v)
        return f if Decimal(repr(f)) == v else str(v)
    if isinstance(v, _dt.datetime):
        return rfc3339(v)
    if isinstance(v, bytes):
        return base64.b64encode(v).decode("ascii")
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _cell(v: Any, *, csv_mode: bool) -> str:
    """A value as table or CSV text. Sets join with '|' in CSV, as BULK INSERT reads them."""
    if v is None:
        return "" if csv_mode else "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        parts = [_cell(x, csv_mode=csv_mode) for x in v]
        return "|".join(parts) if csv_mode else "[" + ", ".join(parts) + "]"
    if isinstance(v, _dt.datetime):
        return rfc3339(v)
    if isinstance(v, dict):
        return json.dumps(_jsonable(v), separators=(",", ":"))
    return str(v)


def _render_table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[_cell(v, csv_mode=False) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [any(row[i] is not None for row in rows)
               and all(isinstance(row[i], (int, float, Decimal)) and not isinstance(row[i], bool)
                       for row in rows if row[i] is not None) for i in range(len(headers))]

    def line(values: list[str]) -> str:
        return " | ".join(v.rjust(w) if num else v.ljust(w)
                          for v, w, num in zip(values, widths, numeric)).rstrip()

    out = [line(headers), "-+-".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells)
    return "\n".join(out)


def _render_csv(headers: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(headers)
    w.writerows([_cell(v, csv_mode=True) for v in row] for row in rows)
    return buf.getvalue().rstrip("\n")


def _tabular(kind: str, result: Any) -> tuple[list[str], list[list[Any]]]:
    """A PQL result (its kind, and its FeatureBase JSON form) as headers and rows."""
    if kind == "row":
        if result.get("keys"):
            return ["_id"], [[k] for k in result["keys"]]
        return ["_id"], [[c] for c in result["columns"]]
    if kind == "extracted_table":
        names = [f["name"] for f in result["fields"]]
        return ["_id", *names], [[c["column"], *c["rows"]] for c in result["columns"]]
    if kind == "row_identifiers":
        values = result["keys"] if result.get("keys") is not None and result.get("rows") is None else result["rows"]
        return ["row"], [[v] for v in values or []]
    if kind == "signed_row":                                  # Distinct on an int field
        return ["value"], [[-v] for v in reversed(result["neg"]["columns"])] + [[v] for v in result["pos"]["columns"]]
    if kind == "val_count":
        value = result["decimalValue"] if result["decimalValue"] is not None else (
            result["timestampValue"] if result["timestampValue"] != "0001-01-01T00:00:00Z" else
            (result["floatValue"] if result["floatValue"] else result["value"]))
        return ["value", "count"], [[value if result["count"] else None, result["count"]]]
    if kind == "pair":                                        # MinRow/MaxRow
        return ["key" if result["key"] else "id", "count"], [[result["key"] or result["id"], result["count"]]]
    if kind in ("group_counts", "pairs", "values") and not result:
        return ["value"], []                                  # nothing to name the columns after
    if kind == "group_counts":
        fields = [g["field"] for g in result[0]["group"]]
        extra = [k for k in ("sum", "aggregate") if k in result[0]]
        rows = [[next(v for k, v in g.items() if k != "field") for g in grp["group"]] + [grp["count"]]
                + [grp.get(k) for k in extra] for grp in result]
        return [*fields, "count", *extra], rows
    if kind == "pairs":
        keyed = any(p.get("key") for p in result)
        return ["key" if keyed else "id", "count"], [[p["key"] if keyed else p["id"], p["count"]] for p in result]
    if kind == "values":
        return ["value"], [[v] for v in result]
    return ["result"], [[result]]


def _split_top(text: str) -> list[tuple[str, int]]:
    """Words and punctuation of SQL text at parenthesis depth 0 with their offsets;
    quoted text and anything in parentheses is skipped."""
    out: list[tuple[str, int]] = []
    depth, i, n = 0, 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"`":
            end = text.find(c, i + 1)
            while end != -1 and end + 1 < n and text[end + 1] == c:   # a doubled quote
                end = text.find(c, end + 2)
            i = n if end == -1 else end + 1
            continue
        if c == "-" and text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end == -1 else end
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif depth == 0 and (c.isalpha() or c == "_"):
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            out.append((text[i:j].lower(), i))
            i = j
            continue
        elif depth == 0 and c == ",":
            out.append((",", i))
        i += 1
    return out


def select_headers(text: str, columns: list[str]) -> list[str]:
    """Headers for a SELECT's columns: the result's names, except that an unnamed column
    (an unaliased expression, which FeatureBase names "") shows its text from the SELECT
    list, e.g. `count(*)`. Falls back to the names when the list cannot be matched."""
    if all(columns):
        return columns
    words = _split_top(text)
    starts = [k for k, (w, _) in enumerate(words) if w == "select"]
    if not starts:
        return columns
    k = starts[-1]
    start = words[k][1] + len("select")
    end = next((off for w, off in words[k + 1:] if w == "from"), len(text))
    cuts = [off for w, off in words[k + 1:] if w == "," and start < off < end]
    items, prev = [], start
    for cut in [*cuts, end]:
        items.append(" ".join(text[prev:cut].split()).rstrip(";"))
        prev = cut + 1
    if items:
        first = items[0]
        for prefix in ("distinct ",):
            if first.lower().startswith(prefix):
                first = first[len(prefix):]
        if first.lower().startswith("top"):
            first = first[first.find(")") + 1:].strip()
        items[0] = first
    if len(items) != len(columns) or any(i == "*" for i in items):
        return columns
    return [name or item for name, item in zip(columns, items)]


def _more(hidden: int) -> str:
    return f"… {hidden:,} more row{'s' if hidden != 1 else ''} (--max-rows 0 shows all)"


def _print_sql(result: SqlResult, fmt: str, *, text: str = "", max_rows: int = 0) -> None:
    if fmt == "json":
        doc: dict[str, Any] = {"schema": {"fields": [{"name": n, "type": t} for n, t in result.schema]},
                               "data": _jsonable([list(r) for r in result.rows])}
        if result.rows_affected is not None:
            doc["rows-affected"] = result.rows_affected
        if result.warnings:
            doc["warnings"] = result.warnings
        click.echo(json.dumps(doc, indent=2))
        return
    if not result.schema:
        click.echo(f"{result.rows_affected or 0} rows affected" if fmt == "table" else "rows_affected\n"
                   f"{result.rows_affected or 0}")
        return
    total = len(result.rows)
    shown = result.rows[:max_rows] if fmt == "table" and max_rows else result.rows
    rows = [list(r) for r in shown]
    headers = select_headers(text, result.columns) if fmt == "table" else result.columns
    click.echo(_render_table(headers, rows) if fmt == "table" else _render_csv(result.columns, rows))
    if fmt == "table":
        if total > len(rows):
            click.echo(_more(total - len(rows)))
        click.echo(f"({total:,} row{'s' if total != 1 else ''})")
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)


def _print_pql(results: list[KindedResult], fmt: str, *, max_rows: int = 0) -> None:
    if fmt == "json":
        click.echo(json.dumps({"results": _jsonable([r for _, r in results])}, indent=2))
        return
    blocks = []
    for kind, r in results:
        if kind in ("count", "changed") and fmt == "table":
            blocks.append(_cell(r, csv_mode=False))
            continue
        headers, rows = _tabular(kind, r)
        if fmt == "table" and max_rows and len(rows) > max_rows:
            blocks.append(_render_table(headers, rows[:max_rows]) + "\n" + _more(len(rows) - max_rows))
            continue
        blocks.append(_render_table(headers, rows) if fmt == "table" else _render_csv(headers, rows))
    click.echo("\n\n".join(blocks))


# -- query -------------------------------------------------------------------------------

@main.command()
@_target_options
@click.option("-d", "--database", envvar="ROARBASE_DATABASE", required=True,
              help="Database name or id (also ROARBASE_DATABASE).")
@click.option("-t", "--table", help="Table (index) the PQL calls run against; not used with --sql.")
@click.option("--sql", "is_sql", is_flag=True, help="The text is SQL (default: PQL).")
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--email", help="Log in to the server as this account (password: ROARBASE_PASSWORD or a prompt).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option("--max-rows", type=int, default=DEFAULT_MAX_ROWS, envvar="ROARBASE_MAX_ROWS", show_default=True,
              help="Rows a table shows, then '… N more rows' (0: all; csv and json are never cut).")
@click.argument("text")
@_handle_errors
def query(data_dir: Optional[str], server: Optional[str], config_path: Optional[str], timeout: float,
          database: str, table: Optional[str], is_sql: bool, fmt: str, email: Optional[str],
          password_stdin: bool, max_rows: int, text: str) -> None:
    """Run PQL (or SQL with --sql) against a database. TEXT '-' reads it from stdin."""
    if text == "-":
        text = sys.stdin.read()
    if not is_sql and not table:
        raise click.UsageError("PQL needs --table (or pass --sql for SQL)")
    target = _connect(data_dir=data_dir, server=server, config_path=config_path, timeout=timeout, email=email,
                      password_stdin=password_stdin)
    try:
        db = target.database_id(database)
        if is_sql:
            _print_sql(target.sql(db, text), fmt, text=text, max_rows=max_rows)
        else:
            _print_pql(target.pql(db, table, text), fmt, max_rows=max_rows)
    finally:
        target.close()


# -- import ------------------------------------------------------------------------------

def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _map_type(sql_type: str) -> str:
    """The BULK INSERT MAP type that reads a column of this (SHOW COLUMNS) type: the
    column type itself, except that the time-quantum sets read as plain sets."""
    t = sql_type.upper()
    return t[:-1] if t in ("IDSETQ", "STRINGSETQ") else t


def _jsonpath(name: str) -> str:
    path = f"$.{name}" if _PLAIN_NAME.match(name) else "$['" + name + "']"
    return "'" + path.replace("'", "''") + "'"


def _bulk(table: str, names: list[str], maps: list[str], data: str, fmt: str, rows: int, replace: bool) -> str:
    verb = "REPLACE" if replace else "INSERT"
    extra = " ALLOW_MISSING_VALUES" if fmt == "NDJSON" else ""
    return (f"BULK {verb} INTO {_quote(table)} ({', '.join(_quote(n) for n in names)})"
            f" MAP ({', '.join(maps)}) FROM x'{data.replace(chr(39), chr(39) * 2)}'"
            f" WITH FORMAT '{fmt}' INPUT 'STREAM' BATCHSIZE {max(1, rows)}{extra}")


def _check_names(names: Iterable[str], types: dict[str, str], table: str) -> None:
    unknown = sorted(set(names) - set(types))
    if unknown:
        raise ServerError("InvalidParameter", f"table {table} has no column {', '.join(unknown)}"
                          f" (its columns: {', '.join(types)})", name="COLUMN_NOT_FOUND")
    if "_id" not in names:
        raise ServerError("InvalidParameter", "the input has no _id column", name="MISSING_ID")


class _Lines:
    """The text lines of a file, counting the bytes read (progress for CSV and NDJSON)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.total = os.path.getsize(path)
        self.done = 0

    def __iter__(self) -> Iterator[str]:
        with open(self.path, "rb") as f:
            for raw in f:
                self.done += len(raw)
                yield raw.decode("utf-8")


def _csv_chunks(lines: _Lines, table: str, types: dict[str, str], replace: bool) -> Iterator[tuple[str, int]]:
    reader = csv.reader(iter(lines))
    header = next(reader, None)
    if not header:
        return
    header = [h.strip() for h in header]
    _check_names(header, types, table)
    maps = [f"{i} {_map_type(types[n])}" for i, n in enumerate(header)]
    buf, rows = io.StringIO(), 0
    writer = csv.writer(buf, lineterminator="\n")
    for row in reader:
        if not row:
            continue
        writer.writerow(row)
        rows += 1
        if buf.tell() >= IMPORT_CHUNK_BYTES:
            yield _bulk(table, header, maps, buf.getvalue(), "CSV", rows, replace), rows
            buf.seek(0)
            buf.truncate()
            rows = 0
    if rows:
        yield _bulk(table, header, maps, buf.getvalue(), "CSV", rows, replace), rows


def _ndjson_statement(records: list[tuple[dict[str, Any], str]], table: str, types: dict[str, str],
                      replace: bool) -> str:
    names = sorted({k for rec, _ in records for k in rec}, key=lambda n: (n != "_id", n))
    _check_names(names, types, table)
    maps = [f"{_jsonpath(n)} {_map_type(types[n])}" for n in names]
    return _bulk(table, names, maps, "\n".join(line for _, line in records), "NDJSON", len(records), replace)


def _json_default(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, _dt.datetime):
        return rfc3339(v)
    if isinstance(v, _dt.date):
        return v.isoformat()
    raise TypeError(f"cannot import a {type(v).__name__} value")


def _record_chunks(records: Iterable[dict[str, Any]], table: str, types: dict[str, str],
                   replace: bool) -> Iterator[tuple[str, int]]:
    batch: list[tuple[dict[str, Any], str]] = []
    size = 0
    for rec in records:
        line = json.dumps(rec, separators=(",", ":"), default=_json_default, ensure_ascii=False)
        batch.append((rec, line))
        size += len(line) + 1
        if size >= IMPORT_CHUNK_BYTES:
            yield _ndjson_statement(batch, table, types, replace), len(batch)
            batch, size = [], 0
    if batch:
        yield _ndjson_statement(batch, table, types, replace), len(batch)


def _ndjson_records(lines: _Lines) -> Iterator[dict[str, Any]]:
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            raise ServerError("InvalidBody", f"line {n} is not JSON", name="INVALID_NDJSON") from None
        if not isinstance(rec, dict):
            raise ServerError("InvalidBody", f"line {n} is not a JSON object", name="INVALID_NDJSON")
        yield rec


def _parquet_records(path: str, progress: list[int]) -> Iterator[dict[str, Any]]:
    for batch in _parquet_file(path).iter_batches(batch_size=4096):
        for rec in batch.to_pylist():
            progress[0] += 1
            yield rec


def _parquet_file(path: str) -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ServerError("InvalidParameter", "reading Parquet needs pyarrow (pip install pyarrow)",
                          name="PARQUET_UNSUPPORTED") from None
    return pq.ParquetFile(path)


def _guess_format(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    formats = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson", ".parquet": "parquet", ".pq": "parquet"}
    if ext not in formats:
        raise click.UsageError(f"cannot tell the format of {path} from its extension: pass --format")
    return formats[ext]


@main.command("import")
@_target_options
@click.option("-d", "--database", envvar="ROARBASE_DATABASE", required=True, help="Database name or id.")
@click.option("-t", "--table", help="The table to import into (it must exist: CREATE TABLE first). Without it, "
                                    "the files are export documents merged into the database (`roarbase export`).")
@click.option("--format", "fmt", type=click.Choice(["csv", "ndjson", "parquet"]),
              help="Input format (default: from the file extension).")
@click.option("--replace", is_flag=True, help="Replace the records' set columns instead of adding to them.")
@click.option("--email", help="Log in to the server as this account.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on stderr.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@_handle_errors
def import_(data_dir: Optional[str], server: Optional[str], config_path: Optional[str], timeout: float,
            database: str, table: Optional[str], fmt: Optional[str], replace: bool, email: Optional[str],
            password_stdin: bool, progress: bool, paths: tuple[str, ...]) -> None:
    """Import a CSV (with a header row), NDJSON or Parquet file into a table (--table), or
    merge export documents into a database (no --table; docs/backup.md).

    With --table, columns are matched by name (CSV header, JSON keys, Parquet columns);
    `_id` is required. The file is sent as a sequence of BULK INSERT statements of about
    64 KiB, each committed atomically: if one fails, the ones before it stay written.
    An export document is merged all-or-nothing (reverted on any failure).
    """
    if table is None:
        from server.cli_transfer import DEFAULT_TIMEOUT, import_documents

        import_documents(data_dir, server, config_path, max(timeout, DEFAULT_TIMEOUT), email, password_stdin,
                         progress, database, paths)
        return
    if len(paths) != 1:
        raise click.UsageError("--table imports one file")
    path = paths[0]
    fmt = fmt or _guess_format(path)
    target = _connect(data_dir=data_dir, server=server, config_path=config_path, timeout=timeout, email=email,
                      password_stdin=password_stdin)
    try:
        db = target.database_id(database)
        shown = target.sql(db, f"SHOW COLUMNS FROM {_quote(table)}")
        name_at, type_at = shown.columns.index("name"), shown.columns.index("type")
        types = {str(r[name_at]): str(r[type_at]) for r in shown.rows}
        done_rows = [0]
        if fmt == "parquet":
            total = _parquet_file(path).metadata.num_rows
            chunks = _record_chunks(_parquet_records(path, done_rows), table, types, replace)
            position: Callable[[], int] = lambda: done_rows[0]  # noqa: E731
        else:
            lines = _Lines(path)
            total = lines.total
            chunks = (_csv_chunks(lines, table, types, replace) if fmt == "csv" else
                      _record_chunks(_ndjson_records(lines), table, types, replace))
            position = lambda: lines.done  # noqa: E731
        imported = 0
        with click.progressbar(length=max(total, 1), label=f"importing {os.path.basename(path)}", file=sys.stderr,
                               hidden=not progress) as bar:
            shown = 0
            try:
                for statement, rows in chunks:
                    result = target.sql(db, statement)
                    imported += result.rows_affected if result.rows_affected is not None else rows
                    now = position()
                    bar.update(now - shown)
                    shown = now
            except ServerError as exc:
                if imported:
                    exc.message = f"{exc.message} (after {imported:,} records were imported)"
                raise
            bar.update(max(total, 1) - shown)
        click.echo(f"imported {imported:,} records into {database}.{table}")
    finally:
        target.close()



# -- check -------------------------------------------------------------------------------

@main.command()
@click.option("--data-dir", help=f"The data dir (default ROARBASE_DATA_DIR or {config_file.DEFAULT_DATA_DIR}).")
@click.option("--config", "config_path", envvar="ROARBASE_CONFIG", type=click.Path(dir_okay=False),
              help="TOML settings (for its data_dir).")
@_handle_errors
def check(data_dir: Optional[str], config_path: Optional[str]) -> None:
    """Verify a data dir's files (read-only: nothing is repaired). Exit status 1 when an
    error is found. The server must be stopped: a live server's files are moving."""
    import engine

    root = config_file.load(config_path=config_path, env=os.environ, flags={"data_dir": data_dir}).service
    if not os.path.isfile(root.meta_path):
        raise ServerError("ResourceNotFound", f"no roarbase data directory at {root.data_dir}",
                          name="DATA_DIR_NOT_FOUND")
    fd = os.open(os.path.join(root.data_dir, "server.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)   # the lock ServiceContext holds
        except OSError:
            raise ServiceUnavailable(f"data directory {root.data_dir} is in use by a running server: stop it"
                                     " first", name="DATA_DIR_IN_USE") from None
        errors = 0
        names, meta_problems = _meta_check(root.meta_path)
        click.echo(f"meta.db: {'ok' if not meta_problems else 'ERROR'}")
        for problem in meta_problems:
            click.echo(f"  error: {problem}")
        errors += len(meta_problems)
        dirs = sorted(os.listdir(root.databases_dir)) if os.path.isdir(root.databases_dir) else []
        for ident in dirs:
            path = os.path.join(root.databases_dir, ident)
            if not os.path.isdir(path):
                continue
            report = engine.check(path)
            label = f"database {names.get(ident, '(not in meta.db)')} ({ident})"
            bad = [f for f in report.findings if f.severity == "error"]
            click.echo(f"{label}: {report.files_checked} files, {'ok' if report.ok else 'ERROR'}")
            for finding in report.findings:
                click.echo(f"  {finding}")
            errors += len(bad)
        if errors:
            raise ServerError("DataCorrupted", f"{errors} error{'s' if errors != 1 else ''} found in {root.data_dir}")
        click.echo(f"{root.data_dir}: ok")
    finally:
        os.close(fd)


def _meta_check(path: str) -> tuple[dict[str, str], list[str]]:
    """(database id -> name, problems) from meta.db, opened read-only: its header (what
    integrity_check does not look at), then SQLite's integrity check."""
    from server.service.store import header_problem

    problem = header_problem(path)
    if problem is not None:
        return {}, [problem]
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return {}, [f"cannot open: {exc}"]
    try:
        problems = [str(r[0]) for r in con.execute("PRAGMA integrity_check") if r[0] != "ok"]
        names = {str(i): str(n) for i, n in con.execute("SELECT id, name FROM databases")}
        return names, problems
    except sqlite3.Error as exc:
        return {}, [str(exc)]
    finally:
        con.close()


# -- token -------------------------------------------------------------------------------

@main.command()
@_target_options
@click.option("--email", help="Account email (individual accounts).")
@click.option("--name", help="Service account name (its password is an API key).")
@click.option("-d", "--database", help="Bind the token to this database (name or id).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole answer (with the refresh token) as JSON.")
@_handle_errors
def token(data_dir: Optional[str], server: Optional[str], config_path: Optional[str], timeout: float,
          email: Optional[str], name: Optional[str], database: Optional[str], password_stdin: bool,
          as_json: bool) -> None:
    """Log in and print an access token (for ROARBASE_TOKEN, or `authorization: Bearer`).

    The password comes from ROARBASE_PASSWORD, stdin (--password-stdin) or a prompt.
    """
    if bool(email) == bool(name):
        raise click.UsageError("give exactly one of --email and --name")
    target = _connect(data_dir=data_dir, server=server, config_path=config_path, timeout=timeout)
    try:
        pair = target.login(email=email, name=name, password=_password_reader(password_stdin)(),
                            database=database)
    finally:
        target.close()
    click.echo(json.dumps(pair, indent=2) if as_json else pair["token"])


# -- version -----------------------------------------------------------------------------

@main.command()
def version() -> None:
    """Print the roarbase version."""
    click.echo(f"roarbase {_version()} (Python {sys.version.split()[0]})")


def _register() -> None:
    """Command groups kept in their own modules."""
    from server import cli_admin, cli_transfer, shell
    from server.cli_sources import source

    main.add_command(source)
    cli_admin.register(main)
    cli_transfer.register(main)      # export, import of documents, backup, restore
    shell.register(main)


_register()

if __name__ == "__main__":
    main()
