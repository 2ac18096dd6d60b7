"""`roarbase shell`: an interactive SQL/PQL console on a data dir or a server.

    roarbase shell -d demo                        (the data dir: ROARBASE_DATA_DIR or var/data)
    roarbase shell --server 127.0.0.1:20101 -d demo   (`roarbase login` first, or ROARBASE_TOKEN)

SQL statements end with `;` and may span lines; in PQL mode (`\\pql TABLE`) a request runs
when its parentheses close. Backslash commands: \\d [TABLE] (columns), \\dt (tables),
\\c DATABASE, \\sql, \\pql [TABLE], \\timing, \\format table|csv|json, \\maxrows N, \\? and
\\q. History is kept in ~/.local/share/roarbase/shell_history (XDG_DATA_HOME honoured);
Tab completes keywords, PQL calls, tables and fields. With stdin not a terminal the shell
reads statements from it without prompting (scripts, tests).
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from typing import Any, Callable, Iterable, Iterator, Optional

import click

from server.cli_support import handle_errors
from server.error_text import PQL_CALLS
from server.error_table import ServerError

SQL_KEYWORDS = (
    "SELECT", "FROM", "WHERE", "GROUP", "BY", "ORDER", "HAVING", "LIMIT", "OFFSET", "DISTINCT", "TOP", "AS", "AND",
    "OR", "NOT", "IN", "LIKE", "BETWEEN", "IS", "NULL", "TRUE", "FALSE", "ASC", "DESC", "COUNT", "SUM", "AVG", "MIN",
    "MAX", "PERCENTILE", "CREATE", "TABLE", "ALTER", "DROP", "SHOW", "TABLES", "COLUMNS", "INSERT", "INTO", "VALUES",
    "REPLACE", "BULK", "MAP", "WITH", "FORMAT", "INPUT", "DELETE", "EXPLAIN", "CAST", "CASE", "WHEN", "THEN", "ELSE",
    "END", "SETCONTAINS", "SETCONTAINSANY", "SETCONTAINSALL", "SETEXCLUDES", "RANGEQ", "ID", "STRING", "IDSET",
    "STRINGSET", "IDSETQ", "STRINGSETQ", "INT", "DECIMAL", "BOOL", "TIMESTAMP",
)
HELP = """\
  statements   SQL ends with ';' (several lines are fine); PQL runs when its parentheses close
  \\sql         SQL mode (the default)
  \\pql TABLE   PQL mode against TABLE
  \\dt          the tables
  \\d [TABLE]   the columns of TABLE (or of every table)
  \\c DATABASE  use another database
  \\timing      show how long each statement took (on/off)
  \\format F    output as table, csv or json
  \\maxrows N   rows a table shows before '… N more rows' (0: all)
  \\q           quit (also Ctrl-D)"""


def history_path() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "roarbase", "shell_history")


def complete_sql(text: str) -> bool:
    """Whether SQL text is a whole statement: it ends with ';' outside quotes."""
    quote = None
    last = ""
    for c in text:
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"`":
            quote = c
        if not c.isspace():
            last = c if not quote else ""
    return quote is None and last == ";"


def complete_pql(text: str) -> bool:
    """Whether PQL text is a whole request: its parentheses balance (and it says something)."""
    depth, quote = 0, None
    for c in text:
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
    return quote is None and depth <= 0 and bool(text.strip())


class Shell:
    """The console's state and commands, independent of the terminal (tests drive it).

    target: a server.cli LocalTarget or RemoteTarget; out: where results go (click.echo).
    """

    def __init__(self, target: Any, database: str, *, fmt: str = "table", max_rows: int = 100,
                 out: Callable[[str], None] = click.echo) -> None:
        self.target = target
        self.database_name = database
        self.database = target.database_id(database)
        self.mode = "sql"
        self.table: Optional[str] = None
        self.fmt = fmt
        self.max_rows = max_rows
        self.timing = False
        self.out = out
        self._schema: Optional[dict[str, list[str]]] = None

    # -- schema, for \d and completion ----------------------------------------------------

    def schema(self) -> dict[str, list[str]]:
        """table -> column names (cached until a statement changes the schema)."""
        if self._schema is None:
            tables = [str(r[0]) for r in self.target.sql(self.database, "SHOW TABLES").rows]
            self._schema = {t: [str(r[0]) for r in self.target.sql(self.database, f'SHOW COLUMNS FROM "{t}"').rows]
                            for t in tables}
        return self._schema

    def words(self) -> list[str]:
        schema = self.schema()
        names = sorted({*schema, *(c for cols in schema.values() for c in cols)})
        return [*(PQL_CALLS if self.mode == "pql" else SQL_KEYWORDS), *names]

    @property
    def prompt(self) -> str:
        return f"{self.database_name}:{self.table}(pql)> " if self.mode == "pql" else f"{self.database_name}> "

    def complete(self, text: str) -> bool:
        stripped = text.strip()
        if stripped.startswith("\\"):
            return True
        return complete_pql(text) if self.mode == "pql" else complete_sql(text)

    # -- one input ----------------------------------------------------------------------------

    def run(self, text: str) -> bool:
        """Run one statement or backslash command; False when the user asked to quit."""
        stripped = text.strip()
        if not stripped:
            return True
        if stripped.startswith("\\"):
            return self.command(stripped)
        started = time.perf_counter()
        try:
            if self.mode == "pql":
                from server.cli import _print_pql

                results = self.target.pql(self.database, self.table, stripped)
                self._echo(lambda: _print_pql(results, self.fmt, max_rows=self.max_rows))
            else:
                from server.cli import _print_sql

                result = self.target.sql(self.database, stripped)
                self._echo(lambda: _print_sql(result, self.fmt, text=stripped, max_rows=self.max_rows))
                if not result.schema or stripped.split(None, 1)[0].upper() in ("CREATE", "ALTER", "DROP"):
                    self._schema = None
        except ServerError as exc:
            self.out(f"error: {exc.code}: {exc.message}")
        except Exception as exc:   # an engine error on a data dir
            from server.service.errors import as_server_error

            err = as_server_error(exc)
            self.out(f"error: {err.code}: {getattr(exc, 'message', None) or err.message}")
        if self.timing:
            self.out(f"time: {(time.perf_counter() - started) * 1000:.1f} ms")
        return True

    def _echo(self, render: Callable[[], None]) -> None:
        """Run a server.cli printer, sending what it prints to self.out."""
        if self.out is click.echo:
            render()
            return
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            render()
        self.out(buf.getvalue().rstrip("\n"))

    def command(self, line: str) -> bool:
        name, _, arg = line[1:].partition(" ")
        arg = arg.strip().rstrip(";")
        if name in ("q", "quit"):
            return False
        if name in ("?", "h", "help"):
            self.out(HELP)
        elif name == "sql":
            self.mode = "sql"
        elif name == "pql":
            table = arg or self.table
            if not table:
                self.out("\\pql needs a table: \\pql TABLE (\\dt lists them)")
            else:
                self.mode, self.table = "pql", table
        elif name == "dt":
            from server.cli import _render_table

            self.out(_render_table(["table"], [[t] for t in self.schema()]))
        elif name == "d":
            tables = [arg] if arg else list(self.schema())
            for t in tables:
                self.run_describe(t)
        elif name == "c":
            if not arg:
                self.out("\\c needs a database name")
            else:
                try:
                    self.database, self.database_name, self._schema = self.target.database_id(arg), arg, None
                except ServerError as exc:
                    self.out(f"error: {exc.code}: {exc.message}")
        elif name == "timing":
            self.timing = not self.timing if not arg else arg.lower() in ("on", "true", "1")
            self.out(f"timing {'on' if self.timing else 'off'}")
        elif name == "format":
            if arg not in ("table", "csv", "json"):
                self.out("\\format takes table, csv or json")
            else:
                self.fmt = arg
        elif name == "maxrows":
            if not arg.isdigit():
                self.out("\\maxrows takes a number (0: all rows)")
            else:
                self.max_rows = int(arg)
        else:
            self.out(f"unknown command \\{name} (\\? lists them)")
        return True

    def run_describe(self, table: str) -> None:
        from server.cli import _render_table

        try:
            rows = self.target.sql(self.database, f'SHOW COLUMNS FROM "{table}"').rows
        except ServerError as exc:
            self.out(f"error: {exc.code}: {exc.message}")
            return
        self.out(f"table {table}")
        self.out(_render_table(["column", "type"], [[r[0], r[1]] for r in rows]))


# -- the terminal -------------------------------------------------------------------------------

def statements(lines: Iterable[str], shell: Shell) -> Iterator[str]:
    """Whole statements from input lines (for stdin that is not a terminal)."""
    buf: list[str] = []
    for line in lines:
        if not buf and line.strip().startswith("\\"):
            yield line.strip()
            continue
        buf.append(line.rstrip("\n"))
        text = "\n".join(buf)
        if shell.complete(text):
            yield text
            buf = []
    if any(b.strip() for b in buf):
        yield "\n".join(buf)


def session(shell: Shell, **prompt_args: Any) -> Any:
    """A prompt_toolkit PromptSession for the shell: history, completion, and Enter that
    runs a whole statement but starts a new line inside an unfinished one."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import Completer, Completion
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.key_binding import KeyBindings

    class _Words(Completer):
        def get_completions(self, document: Any, complete_event: Any) -> Iterator[Completion]:
            word = document.get_word_before_cursor(WORD=False)
            if not word:
                return
            try:
                candidates = shell.words()
            except Exception:   # completion must never break the prompt
                return
            for cand in candidates:
                if cand.lower().startswith(word.lower()) and cand != word:
                    yield Completion(cand, start_position=-len(word))

    keys = KeyBindings()

    @keys.add("enter")
    def _enter(event: Any) -> None:
        buffer = event.current_buffer
        if shell.complete(buffer.text) or not buffer.text.strip():
            buffer.validate_and_handle()
        else:
            buffer.insert_text("\n")

    history: Any = InMemoryHistory()
    if "input" not in prompt_args:
        try:
            os.makedirs(os.path.dirname(history_path()), exist_ok=True)
            history = FileHistory(history_path())
        except OSError:
            pass
    return PromptSession(history=history, completer=_Words(), key_bindings=keys, multiline=True,
                         complete_while_typing=False, **prompt_args)


def interact(shell: Shell, prompt_session: Any) -> None:
    while True:
        try:
            text = prompt_session.prompt(shell.prompt)
        except KeyboardInterrupt:
            continue
        except EOFError:
            return
        if not shell.run(text):
            return


@click.command("shell")
@click.option("--data-dir", help="Work on this data dir directly (default ROARBASE_DATA_DIR or var/data).")
@click.option("--server", envvar="ROARBASE_SERVER", help="A server's gRPC address HOST:PORT instead.")
@click.option("--config", "config_path", envvar="ROARBASE_CONFIG", type=click.Path(dir_okay=False),
              help="TOML settings (for a data dir).")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Deadline of each call to a server.")
@click.option("-d", "--database", envvar="ROARBASE_DATABASE", required=True, help="Database name or id.")
@click.option("--pql", "pql_table", metavar="TABLE", help="Start in PQL mode against TABLE.")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.option("--max-rows", type=int, default=100, envvar="ROARBASE_MAX_ROWS", show_default=True,
              help="Rows a table shows before '… N more rows' (0: all).")
@handle_errors
def shell_command(data_dir: Optional[str], server: Optional[str], config_path: Optional[str], timeout: float,
                  database: str, pql_table: Optional[str], fmt: str, max_rows: int) -> None:
    """An interactive SQL/PQL console (\\? for its commands)."""
    from server.cli import _connect

    target = _connect(data_dir=data_dir, server=server, config_path=config_path, timeout=timeout)
    try:
        shell = Shell(target, database, fmt=fmt, max_rows=max_rows)
        if pql_table:
            shell.command(f"\\pql {pql_table}")
        if not sys.stdin.isatty():
            for text in statements(sys.stdin, shell):
                if not shell.run(text):
                    break
            return
        click.echo(f"roarbase shell on {database} — \\? for help, \\q to quit")
        interact(shell, session(shell))
    finally:
        target.close()


def register(main: click.Group) -> None:
    main.add_command(shell_command)
