"""`roarbase source ...`: connections and sources of a running server, over its HTTP /v1
face (docs/sources.md). Registered on the main group by server/cli.py.

    roarbase source create NAME -r item -f CSV [--file data.csv] [--map price=cost] ...
    roarbase source upload NAME data.csv       PUT the file to the table's one-time url
    roarbase source preview NAME               header, first rows, per-column findings
    roarbase source run NAME                   import with a progress bar (Ctrl-C cancels)
    roarbase source status NAME | list | delete NAME
    roarbase source connect S3 --credentials-file creds.json   (or - for stdin)

Credentials: --email with the password from ROARBASE_PASSWORD, --password-stdin or a
prompt; or ROARBASE_TOKEN (a /v1 token logged in to the database). Connection secrets come
from a file or stdin, never from argv.
"""
from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, BinaryIO, Optional

import click

from server.error_table import ServerError

DEFAULT_URL = "http://127.0.0.1:10101"


class Api:
    """A tiny /v1 client (stdlib urllib): JSON in and out, errors as ServerError."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url.rstrip("/"), token

    @classmethod
    def login(cls, url: str, *, email: Optional[str], password: Any, database: str) -> "Api":
        token = os.environ.get("ROARBASE_TOKEN")
        if token and not email:
            return cls(url, token)
        if not email:
            raise click.UsageError("give --email (password from ROARBASE_PASSWORD or a prompt) or set ROARBASE_TOKEN")
        body = {"email": email, "password": password()}
        body["db_id" if len(database) == 22 and database.replace("-", "").replace("_", "").isalnum()
             else "db_name"] = database
        out = cls(url, "").call("POST", "/v1/login/individual/", body)
        return cls(url, out["token"])

    def call(self, method: str, path: str, body: Any = None, *, data: Optional[BinaryIO] = None,
             length: int = 0, raw: bool = False) -> Any:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload: Any = None
        if data is not None:
            payload, headers["Content-Type"], headers["Content-Length"] = data, "application/octet-stream", str(length)
        elif body is not None:
            payload, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        req = urllib.request.Request(self.url + path, data=payload, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=600) as resp:
                content = resp.read()
        except urllib.error.HTTPError as exc:
            try:
                err = json.loads(exc.read())
            except ValueError:
                raise ServerError("InternalServerError", f"HTTP {exc.code} from the server") from None
            raise ServerError(err.get("code", "InternalServerError"), err.get("message", ""),
                              name=err.get("error_data", {}).get("name")) from None
        except urllib.error.URLError as exc:
            raise ServerError("ServiceUnavailable", f"cannot reach {self.url}: {exc.reason}") from None
        if raw:
            return content
        return json.loads(content) if content else None


def _table_path(connection: str, name: str) -> str:
    return f"/v1/connections/{urllib.parse.quote(connection)}/tables/{urllib.parse.quote(name)}/"


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {v!r}", param_hint=what)
        out[key] = value
    return out


def _option_value(text: str) -> Any:
    """An --option value: JSON when it parses (true, 3, ["a"]), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


@click.group("source")
@click.option("--url", envvar="ROARBASE_URL", default=DEFAULT_URL, show_default=True,
              help="The server's HTTP address (also ROARBASE_URL).")
@click.option("-d", "--database", envvar="ROARBASE_DATABASE", required=True, help="Database name or id.")
@click.option("--email", envvar="ROARBASE_EMAIL", help="Log in as this account.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_context
def source(ctx: click.Context, url: str, database: str, email: Optional[str], password_stdin: bool) -> None:
    """Connections and import sources ("tables") of a database on a running server."""
    from server.cli import _password_reader

    reader = _password_reader(password_stdin)
    ctx.obj = lambda: Api.login(url, email=email, password=reader, database=database)


def _api(ctx: click.Context) -> Api:
    api = ctx.obj()
    ctx.obj = lambda: api
    return api


def _print_table(t: dict[str, Any]) -> None:
    click.echo(f"{t['connection']}/{t['name']}: {t['resource']}, status {t['status']}"
               + (f" ({t['status_message']})" if t.get("status_message") else ""))
    params = dict(t.get("connection_table_params", {}))
    if "url" in params:
        click.echo(f"  upload url: {params.pop('url')}")
    click.echo(f"  connection_table_params: {json.dumps(params)}")
    if t.get("resource_params"):
        click.echo(f"  resource_params: {json.dumps(t['resource_params'])}")


def _upload(api: Api, table: dict[str, Any], path: str, progress: bool) -> dict[str, Any]:
    url = table["connection_table_params"].get("url")
    if not url:
        raise click.UsageError(f"{table['name']} takes no upload (not a LOCAL import without a sandbox path)")
    size = os.path.getsize(path)
    with open(path, "rb") as f, click.progressbar(length=max(size, 1), label=f"uploading {os.path.basename(path)}",
                                                  file=sys.stderr, hidden=not progress) as bar:
        class Reader:
            def read(self, n: int = -1) -> bytes:
                block = f.read(n if n and n > 0 else 1 << 20)
                bar.update(len(block))
                return block

        return api.call("PUT", urllib.parse.urlsplit(url).path, data=Reader(), length=size)  # type: ignore[arg-type]


@source.command()
@click.argument("name")
@click.option("-c", "--connection", default="LOCAL", show_default=True, help="LOCAL, S3, GCS, ...")
@click.option("-r", "--resource", required=True, help="item, user, rating, interaction, user_id, "
                                                      "user_to_items_reco, item_to_items_reco, analytics_report")
@click.option("-f", "--format", "file_format", default="CSV", show_default=True, help="CSV, TSV, JSONL, PARQUET")
@click.option("-o", "--option", "options", multiple=True, help="A format option, KEY=VALUE (delimiter=;).")
@click.option("-m", "--map", "mapping", multiple=True, help="columns_mapping entry TARGET=COLUMN.")
@click.option("--bucket", help="S3/GCS bucket.")
@click.option("--key", help="S3/GCS object key.")
@click.option("--prefix", help="S3/GCS prefix (every object under it).")
@click.option("--path", help="LOCAL: a file of the server's sandbox directory.")
@click.option("--sql", help="analytics_report: the SELECT to export.")
@click.option("--file", "file_path", type=click.Path(exists=True, dir_okay=False), help="LOCAL: upload this file.")
@click.option("--progress/--no-progress", default=True)
@click.pass_context
def create(ctx: click.Context, name: str, connection: str, resource: str, file_format: str, options: tuple[str, ...],
           mapping: tuple[str, ...], bucket: Optional[str], key: Optional[str], prefix: Optional[str],
           path: Optional[str], sql: Optional[str], file_path: Optional[str], progress: bool) -> None:
    """Create (or update) a table; with --file, upload it too."""
    from server.cli import _handle_errors

    @_handle_errors
    def go() -> None:
        api = _api(ctx)
        params: dict[str, Any] = {"file_format": file_format,
                                  "options": {k: _option_value(v) for k, v in _pairs(options, "--option").items()}}
        params.update({k: v for k, v in (("bucket", bucket), ("key", key), ("prefix", prefix), ("path", path))
                       if v is not None})
        rparams: dict[str, Any] = {"columns_mapping": _pairs(mapping, "--map")}
        if sql:
            rparams["sql"] = sql
        table = api.call("PATCH", _table_path(connection, name), {"resource": resource,
                                                                   "connection_table_params": params,
                                                                   "resource_params": rparams})
        if file_path:
            _upload(api, table, file_path, progress)
            table = api.call("GET", _table_path(connection, name))
        _print_table(table)

    go()


@source.command()
@click.argument("name")
@click.argument("file_path", type=click.Path(exists=True, dir_okay=False))
@click.option("-c", "--connection", default="LOCAL", show_default=True)
@click.option("--progress/--no-progress", default=True)
@click.pass_context
def upload(ctx: click.Context, name: str, file_path: str, connection: str, progress: bool) -> None:
    """Upload a file to a LOCAL table (its one-time url)."""
    from server.cli import _handle_errors

    @_handle_errors
    def go() -> None:
        api = _api(ctx)
        out = _upload(api, api.call("GET", _table_path(connection, name)), file_path, progress)
        click.echo(f"uploaded {out['uploaded_bytes']:,} bytes; status {out['status']}")

    go()


@source.command()
@click.argument("name")
@click.option("-c", "--connection", default="LOCAL", show_default=True)
@click.pass_context
def preview(ctx: click.Context, name: str, connection: str) -> None:
    """Read the header and first rows, map and type-check them."""
    from server.cli import _handle_errors, _render_table

    @_handle_errors
    def go() -> None:
        out = _api(ctx).call("GET", _table_path(connection, name) + "test/")
        p = out["preview"]
        click.echo(f"status {out['status']}; columns: {', '.join(p['columns'])}")
        for f in p["findings"]:
            click.echo(f"  {f['target']:<20} <- {str(f['column']):<20} {f['status']}"
                       + (f" ({f['bad_values']} bad)" if f.get("bad_values") else ""))
        if p.get("ignored_columns"):
            click.echo(f"  ignored: {', '.join(p['ignored_columns'])}")
        for e in p["errors"]:
            click.echo(f"  row {e['row']}{', column ' + e['column'] if e.get('column') else ''}: {e['message']}")
        if p["rows"]:
            headers = list(p["rows"][0])
            click.echo(_render_table(headers, [[r.get(h) for h in headers] for r in p["rows"]]))

    go()


@source.command()
@click.argument("name")
@click.option("-c", "--connection", default="LOCAL", show_default=True)
@click.option("--max-errors", type=int, help="Rows that may be skipped (reported); default the table's, else 0.")
@click.option("--batch-size", type=int, help="Rows per atomic batch (default 10,000).")
@click.option("--wait/--no-wait", default=True, help="Follow the run until it ends.")
@click.option("--progress/--no-progress", default=True)
@click.pass_context
def run(ctx: click.Context, name: str, connection: str, max_errors: Optional[int], batch_size: Optional[int],
        wait: bool, progress: bool) -> None:
    """Import the table now; follows it with a progress bar (Ctrl-C cancels the run)."""
    from server.cli import _handle_errors

    @_handle_errors
    def go() -> None:
        api = _api(ctx)
        body = {k: v for k, v in (("max_errors", max_errors), ("batch_size", batch_size)) if v is not None}
        task = api.call("POST", _table_path(connection, name) + "run/", body)
        if not wait:
            click.echo(f"started task {task['task_id']} ({task['name']})")
            return
        task = _follow(api, connection, name, progress)
        d = task.get("details") or {}
        for e in d.get("errors", [])[:20]:
            click.echo(f"  row {e['row']}{', column ' + e['column'] if e.get('column') else ''}"
                       f"{' of ' + e['file'] if e.get('file') else ''}: {e['message']}", err=True)
        if task["status"] != "COMPLETED":
            err = task.get("error") or {}
            raise ServerError(err.get("code", "InternalServerError"),
                              f"{err.get('message', 'the run failed')} ({task['progress']})")
        click.echo(task["progress"])

    go()


def _follow(api: Api, connection: str, name: str, progress: bool) -> dict[str, Any]:
    path = _table_path(connection, name) + "run/"
    task = api.call("GET", path)
    total = (task.get("details") or {}).get("bytes_total") or 0
    with click.progressbar(length=max(total, 1), label=f"importing {name}", file=sys.stderr,
                           hidden=not progress, show_pos=False) as bar:
        shown = 0
        try:
            while task["status"] == "RUNNING":
                time.sleep(0.5)
                task = api.call("GET", path)
                d = task.get("details") or {}
                if d.get("bytes_total") and not total:
                    total = bar.length = d["bytes_total"]
                now = min(d.get("bytes_read", 0), bar.length)
                bar.update(now - shown)
                shown = now
        except KeyboardInterrupt:
            click.echo("\ncancelling (whole batches stay written) ...", err=True)
            api.call("DELETE", path)
            while task["status"] == "RUNNING":
                time.sleep(0.5)
                task = api.call("GET", path)
        if task["status"] == "COMPLETED":
            assert bar.length is not None  # given above
            bar.update(bar.length - shown)
    return task


@source.command()
@click.argument("name")
@click.option("-c", "--connection", default="LOCAL", show_default=True)
@click.pass_context
def status(ctx: click.Context, name: str, connection: str) -> None:
    """The table and its latest run."""
    from server.cli import _handle_errors

    @_handle_errors
    def go() -> None:
        api = _api(ctx)
        _print_table(api.call("GET", _table_path(connection, name)))
        try:
            task = api.call("GET", _table_path(connection, name) + "run/")
        except ServerError as exc:
            if exc.name != "RUN_NOT_FOUND":
                raise
            click.echo("  never run")
            return
        click.echo(f"  last run: {task['status']}: {task['progress']}")

    go()


@source.command("list")
@click.option("-c", "--connection", help="Only this connection's tables.")
@click.option("-r", "--resource", help="Only tables of this resource.")
@click.pass_context
def list_(ctx: click.Context, connection: Optional[str], resource: Optional[str]) -> None:
    """The database's tables."""
    from server.cli import _handle_errors, _render_table

    @_handle_errors
    def go() -> None:
        api, page, rows = _api(ctx), 1, []
        while True:
            q = urllib.parse.urlencode({k: v for k, v in (("connection", connection), ("resource", resource),
                                                          ("page", page), ("amt", 64)) if v is not None})
            out = api.call("GET", f"/v1/tables/?{q}")
            rows += [[t["connection"], t["name"], t["resource"], t["status"]] for t in out["tables"]]
            if not out["has_next"]:
                break
            page += 1
        click.echo(_render_table(["connection", "name", "resource", "status"], rows))

    go()


@source.command()
@click.argument("name")
@click.option("-c", "--connection", default="LOCAL", show_default=True)
@click.pass_context
def delete(ctx: click.Context, name: str, connection: str) -> None:
    """Delete a table (the data it imported stays)."""
    from server.cli import _handle_errors

    @_handle_errors
    def go() -> None:
        _api(ctx).call("DELETE", _table_path(connection, name))
        click.echo(f"deleted {connection}/{name}")

    go()


@source.command()
@click.argument("kind")
@click.option("--credentials-file", type=click.File("r"), required=True,
              help="A JSON object of credentials (boto3 names for S3/GCS); '-' reads stdin.")
@click.pass_context
def connect(ctx: click.Context, kind: str, credentials_file: Any) -> None:
    """Create or replace a connection, then test it (secrets never in argv)."""
    from server.cli import _handle_errors

    @_handle_errors
    def go() -> None:
        try:
            creds = json.load(credentials_file)
        except ValueError:
            raise ServerError("InvalidParameter", "the credentials file is not JSON") from None
        api = _api(ctx)
        out = api.call("PUT", f"/v1/connections/{urllib.parse.quote(kind)}/", {"credentials": creds})
        click.echo(f"{out['connection']}: credentials {', '.join(out['credentials'])} stored (encrypted)")
        if kind.upper() in ("S3", "GCS"):
            api.call("POST", f"/v1/connections/{urllib.parse.quote(kind)}/test/", {})
            click.echo("tested: the store accepts them")

    go()
