"""What every `roarbase` command module shares: the error convention (`error: <code>:
<message>` on stderr, exit status 1, never a traceback). Command groups live in their own
modules (server/cli_admin.py, server/shell.py, ...) and import this, not server/cli.py.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import click

from server.error_table import ServerError
from server.service.errors import as_server_error

F = TypeVar("F", bound=Callable[..., Any])


class CliError(click.ClickException):
    """A user-facing error: `error: <code>: <message>` on stderr, exit status 1."""

    def __init__(self, err: ServerError) -> None:
        super().__init__(err.message)
        self.err = err

    def format_message(self) -> str:
        return f"{self.err.code}: {self.err.message}"

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def handle_errors(fn: F) -> F:
    """Turn every error a command can meet into a CliError (no traceback for user errors;
    an unexpected exception becomes InternalServerError with its type and message)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except ServerError as exc:
            raise CliError(exc) from None
        except OSError as exc:   # a file or directory the user named
            raise CliError(ServerError("InvalidParameter", f"{exc.strerror or exc}"
                                       + (f": {exc.filename}" if exc.filename else ""))) from None
        except Exception as exc:
            err = as_server_error(exc)
            if err.code == "InternalServerError":
                err = ServerError("InternalServerError", f"{type(exc).__name__}: {exc}")
            raise CliError(err) from None

    return wrapper  # type: ignore[return-value]


