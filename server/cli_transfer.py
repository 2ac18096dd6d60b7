"""`roarbase export`, `import` (of export documents), `backup` and `restore` (docs/backup.md).

Like the other commands they work on a data dir directly (the embedded service, as the
owner) or against a server over gRPC (`--server`): ExportDatabase / ImportDatabase /
BackupDatabase / RestoreDatabase stream the bytes, so memory stays bounded both ways.
Progress bars go to stderr (--no-progress hides them).

    roarbase export  -d DB -o DB.ndjson.gz       (format from the extension: .json[.gz] is JSON)
    roarbase import  -d DB DB.ndjson.gz [more...] (each file merged in turn; see docs/backup.md)
    roarbase backup  -d DB -o DB.backup.tar.gz    (online: writes go on)
    roarbase restore DB.backup.tar.gz --name NEW
"""
from __future__ import annotations

import functools
import os
import sys
from typing import Any, Callable, Iterator, Optional

import click

from server import config_file
from server.error_table import ServerError

CHUNK = 1 << 20
DEFAULT_TIMEOUT = 24 * 3600.0


# server.cli imports this module to register the commands, so its helpers are looked up
# when a command runs, not at import time.

def _handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from server.cli import _handle_errors as handle

        return handle(fn)(*args, **kwargs)

    return wrapper


def _local(target: Any) -> bool:
    from server.cli import LocalTarget

    return isinstance(target, LocalTarget)


def _options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for decorator in reversed([
        click.option("--data-dir", help="Work on this data dir directly (default ROARBASE_DATA_DIR or "
                                        f"{config_file.DEFAULT_DATA_DIR}); it must not be in use by a server."),
        click.option("--server", envvar="ROARBASE_SERVER",
                     help="Talk to a server's gRPC listener instead, HOST:PORT (also ROARBASE_SERVER)."),
        click.option("--config", "config_path", envvar="ROARBASE_CONFIG", type=click.Path(dir_okay=False),
                     help="TOML settings (for a data dir: the same file the server uses)."),
        click.option("--timeout", type=float, default=DEFAULT_TIMEOUT, show_default=True,
                     help="Deadline of the whole transfer, in seconds."),
        click.option("--email", help="Log in to the server as this account (password: ROARBASE_PASSWORD or a prompt)."),
        click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin."),
        click.option("--progress/--no-progress", default=True, help="Show progress bars on stderr."),
    ]):
        fn = decorator(fn)
    return fn


def _target(data_dir: Optional[str], server: Optional[str], config_path: Optional[str], timeout: float,
            email: Optional[str], password_stdin: bool) -> Any:
    from server.cli import _connect

    return _connect(data_dir=data_dir, server=server, config_path=config_path, timeout=timeout, email=email,
                    password_stdin=password_stdin)


def _file_chunks(path: str, bar: Any) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while True:
            data = f.read(CHUNK)
            if not data:
                return
            bar.update(len(data))
            yield data


def _bar(progress: bool, length: int, label: str) -> Any:
    return click.progressbar(length=max(length, 1), label=label, file=sys.stderr, hidden=not progress)


class _Phases:
    """import_database's progress(phase, done, total) as one bar per phase."""

    def __init__(self, progress: bool, name: str) -> None:
        self.progress, self.name = progress, name
        self.bar: Any = None
        self.phase = ""
        self.shown = 0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self.phase:
            self.close()
            label = {"validate": "checking", "apply": "merging"}.get(phase, phase)
            self.bar = _bar(self.progress, total, f"{label} {self.name}").__enter__()
            self.phase, self.shown = phase, 0
        if total > self.bar.length:
            self.bar.length = total
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@click.command("export")
@_options
@click.option("-d", "--database", envvar="ROARBASE_DATABASE", required=True, help="Database name or id.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True),
              help="The file to write (.ndjson, .ndjson.gz, .json, .json.gz).")
@click.option("--format", "fmt", type=click.Choice(["ndjson", "json"]), help="Default: from the extension.")
@click.option("--gzip/--no-gzip", "gzip_", default=None, help="Default: when the name ends in .gz.")
@_handle_errors
def export_(data_dir: Optional[str], server: Optional[str], config_path: Optional[str], timeout: float,
            email: Optional[str], password_stdin: bool, progress: bool, database: str, output: str,
            fmt: Optional[str], gzip_: Optional[bool]) -> None:
    """Export a database to a file (the roarbase export document). The database is BACKUP
    meanwhile: reads are answered, writes refused."""
    gz = output.endswith(".gz") if gzip_ is None else gzip_
    base = output[:-3] if output.endswith(".gz") else output
    fmt = fmt or ("json" if base.endswith(".json") else "ndjson")
    target = _target(data_dir, server, config_path, timeout, email, password_stdin)
    tmp = output + ".part"
    try:
        db = target.database_id(database)
        written = 0
        with open(tmp, "wb") as out:
            if _local(target):
                from server.service import transfers

                export = transfers.start_export(target.ctx, target.owner, db, fmt=fmt, gzip=gz)
                with _bar(progress, export.total, f"exporting {database}") as bar:
                    shown = 0
                    for data in export.chunks():
                        out.write(data)
                        written += len(data)
                        bar.update(export.done - shown)
                        shown = export.done
                records = export.total
            else:
                records = 0
                bar = None
                shown = 0
                for chunk in target.client.export_database(db, json_form=fmt == "json", gzip=gz, timeout=timeout):
                    if bar is None:
                        bar = _bar(progress, chunk.records_total, f"exporting {database}").__enter__()
                    out.write(chunk.data)
                    written += len(chunk.data)
                    bar.update(chunk.records_done - shown)
                    shown, records = chunk.records_done, chunk.records_total
                if bar is not None:
                    bar.__exit__(None, None, None)
        os.replace(tmp, output)
        click.echo(f"exported {records:,} records of {database} to {output} ({written:,} bytes)")
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
        target.close()


def import_documents(data_dir: Optional[str], server: Optional[str], config_path: Optional[str], timeout: float,
                     email: Optional[str], password_stdin: bool, progress: bool, database: str,
                     paths: tuple[str, ...]) -> None:
    """`roarbase import -d DB FILE...` without --table: merge export documents, one after
    the other (each all-or-nothing)."""
    target = _target(data_dir, server, config_path, timeout, email, password_stdin)
    try:
        db = target.database_id(database)
        for path in paths:
            name = os.path.basename(path)
            if _local(target):
                from server.service import transfers

                phases = _Phases(progress, name)
                try:
                    result = transfers.import_database(target.ctx, target.owner, db, path, progress=phases)
                finally:
                    phases.close()
                items, users, rows = result.items, result.users, sum(result.rows.values())
                missing = result.connections_missing
            else:
                with _bar(progress, os.path.getsize(path), f"sending {name}") as bar:
                    resp = target.client.import_database(db, _file_chunks(path, bar), timeout=timeout)
                items, users, rows = resp.items, resp.users, sum(resp.rows.values())
                missing = list(resp.connections_missing)
            click.echo(f"merged {name} into {database}: {items:,} items, {users:,} users, {rows:,} rows")
            if missing:
                click.echo(f"  the imported sources use connections this org lacks: {', '.join(missing)} (credentials "
                           "never travel: PUT /v1/connections/{KIND}/ with them, see docs/sources.md)", err=True)
    except ServerError as exc:
        problems = (exc.details or {}).get("problems") or []
        for p in problems[1:]:
            click.echo(f"  {p.get('where')}: {p.get('message')}", err=True)
        raise
    finally:
        target.close()


@click.command("backup")
@_options
@click.option("-d", "--database", envvar="ROARBASE_DATABASE", required=True, help="Database name or id.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True),
              help="The archive to write (a gzip'd tar, e.g. DB.backup.tar.gz).")
@_handle_errors
def backup(data_dir: Optional[str], server: Optional[str], config_path: Optional[str], timeout: float,
           email: Optional[str], password_stdin: bool, progress: bool, database: str, output: str) -> None:
    """Back up a database while it keeps serving (an engine snapshot: writes pause only while
    it is linked). Restore it with `roarbase restore`."""
    target = _target(data_dir, server, config_path, timeout, email, password_stdin)
    tmp = output + ".part"
    try:
        db = target.database_id(database)
        written = 0
        with open(tmp, "wb") as out:
            if _local(target):
                from server.service import backups

                job = backups.start_backup(target.ctx, target.owner, db)
                with _bar(progress, job.total, f"backing up {database}") as bar:
                    for data in job.chunks():
                        out.write(data)
                        written += len(data)
                        bar.update(job.done - bar.pos)
            else:
                bar = None
                for chunk in target.client.backup_database(db, timeout=timeout):
                    if bar is None:
                        bar = _bar(progress, chunk.bytes_total, f"backing up {database}").__enter__()
                    out.write(chunk.data)
                    written += len(chunk.data)
                    bar.update(chunk.bytes_done - bar.pos)
                if bar is not None:
                    bar.__exit__(None, None, None)
        os.replace(tmp, output)
        click.echo(f"backed up {database} to {output} ({written:,} bytes)")
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
        target.close()


@click.command("restore")
@_options
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", required=True, help="The new database's name.")
@click.option("--description", help="Its description (default: the backed-up database's).")
@_handle_errors
def restore(data_dir: Optional[str], server: Optional[str], config_path: Optional[str], timeout: float,
            email: Optional[str], password_stdin: bool, progress: bool, archive: str, name: str,
            description: Optional[str]) -> None:
    """Create a new database from a backup archive (every file is verified first)."""
    target = _target(data_dir, server, config_path, timeout, email, password_stdin)
    try:
        if _local(target):
            from server.service import backups

            db = backups.restore_backup(target.ctx, target.owner, archive, name=name, description=description)
            ident, state = db.id, db.state
        else:
            with _bar(progress, os.path.getsize(archive), f"sending {os.path.basename(archive)}") as bar:
                resp = target.client.restore_database(name, _file_chunks(archive, bar), description=description or "",
                                                      timeout=timeout)
            from server.pb.roarbase.v1 import database_pb2

            ident, state = resp.id, database_pb2.DatabaseState.Name(resp.database_status).removeprefix(
                "DATABASE_STATE_")
        click.echo(f"restored {os.path.basename(archive)} as database {name} ({ident}): {state}")
    finally:
        target.close()


def register(group: click.Group) -> None:
    """Add export, backup and restore to the `roarbase` group (import is cli.py's, which
    hands documents here)."""
    for command in (export_, backup, restore):
        group.add_command(command)


__all__ = ["register", "import_documents", "export_", "backup", "restore"]
