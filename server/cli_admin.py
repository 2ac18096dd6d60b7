"""Administration from the command line, against a running server over gRPC:

    roarbase login [--server HOST:PORT] --email EMAIL      (or --name NAME for a service account)
    roarbase logout
    roarbase db list | create NAME | show DB | delete DB
    roarbase user list | create --email E [--role R] | role USER ROLE | delete USER
    roarbase key create --account NAME_OR_ID [--label L] | list | revoke KEY_ID
    roarbase root-reset --data-dir DIR                   (offline: the server must be stopped)

Credentials: ROARBASE_TOKEN / ROARBASE_API_KEY when set, else the login stored by
`roarbase login` (server/credentials.py), refreshed as it expires. The server is
--server, else ROARBASE_SERVER, else the one of the last login, else 127.0.0.1:20101.
Databases are named by name or id, accounts by email, name or id.
"""
from __future__ import annotations

import json
import os
import secrets
import sys
from typing import Any, Callable, Optional, TypeVar

import click
from google.protobuf.json_format import MessageToDict

from server import credentials
from server.cli_support import handle_errors
from server.client import Client
from server.error_table import ServerError
from server.pb.roarbase.v1 import account_pb2, database_pb2
from server.ids import parse_id

F = TypeVar("F", bound=Callable[..., Any])
_STATES = {v.number: v.name.removeprefix("DATABASE_STATE_") for v in database_pb2.DatabaseState.DESCRIPTOR.values}


def _server_options(fn: F) -> F:
    fn = click.option("--timeout", type=float, default=30.0, show_default=True,
                      help="Deadline of each call, in seconds.")(fn)
    fn = click.option("--server", help="The server's gRPC address HOST:PORT (default: ROARBASE_SERVER, the last"
                                       " login's server, or 127.0.0.1:20101).")(fn)
    return fn


def _format_option(fn: F) -> F:
    return click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table",
                        show_default=True)(fn)


def _client(server: Optional[str], timeout: float) -> tuple[Client, str]:
    target = server or credentials.default_server()
    return credentials.session(target, timeout=timeout), target


def _ts(msg: Any, field: str) -> str:
    if not msg.HasField(field):
        return ""
    return getattr(msg, field).ToDatetime().strftime("%Y-%m-%dT%H:%M:%SZ")


def _show(headers: list[str], rows: list[list[Any]], fmt: str, messages: list[Any]) -> None:
    if fmt == "json":
        click.echo(json.dumps([MessageToDict(m, preserving_proto_field_name=True) for m in messages], indent=2))
        return
    from server.cli import _render_table

    click.echo(_render_table(headers, rows))


def _password(password_stdin: bool, *, prompt: str = "Password", confirm: bool = False) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    env = os.environ.get("ROARBASE_PASSWORD")
    if env:
        return env
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True))


# -- login / logout ---------------------------------------------------------------------------

@click.command()
@_server_options
@click.option("--email", help="Account email.")
@click.option("--name", help="Service account name (its password is an API key).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@handle_errors
def login(server: Optional[str], timeout: float, email: Optional[str], name: Optional[str],
          password_stdin: bool) -> None:
    """Log in to a server and keep the tokens in ~/.config/roarbase/credentials.json (0600).

    Later commands (db, user, key, query --server, shell --server) use them and refresh
    the access token when it expires. The password comes from ROARBASE_PASSWORD, stdin
    (--password-stdin) or a prompt; it is never stored.
    """
    if bool(email) == bool(name):
        raise click.UsageError("give exactly one of --email and --name")
    target = server or credentials.default_server()
    with Client(target, timeout=timeout) as client:
        response = client.login(email, _password(password_stdin), name=name)
    credentials.remember(target, response, email=email, name=name)
    click.echo(f"logged in to {target} as {email or name} ({response.role}); credentials in {credentials.path()}")


@click.command()
@click.option("--server", help="The server to forget (default: the last login's).")
@handle_errors
def logout(server: Optional[str]) -> None:
    """Forget the stored login of a server (the tokens are deleted from the file)."""
    target = server or credentials.default_server()
    click.echo(f"logged out of {target}" if credentials.forget(target) else f"not logged in to {target}")


# -- databases ----------------------------------------------------------------------------------

@click.group()
def db() -> None:
    """List, create, show and delete databases."""


def _db_rows(dbs: list[Any]) -> list[list[Any]]:
    return [[d.name, d.id, _STATES.get(d.database_status, str(d.database_status)), _ts(d, "created_at"),
             d.description] for d in dbs]


_DB_HEADERS = ["name", "id", "state", "created", "description"]


@db.command("list")
@_server_options
@_format_option
@handle_errors
def db_list(server: Optional[str], timeout: float, fmt: str) -> None:
    """The org's databases."""
    client, _ = _client(server, timeout)
    with client:
        dbs = client.list_databases()
    _show(_DB_HEADERS, _db_rows(dbs), fmt, dbs)


@db.command("create")
@_server_options
@_format_option
@click.option("--description", default="", help="What the database holds.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait until it is RUNNING.")
@click.argument("name")
@handle_errors
def db_create(server: Optional[str], timeout: float, fmt: str, description: str, wait: bool, name: str) -> None:
    """Create a database NAME."""
    client, _ = _client(server, timeout)
    with client:
        created = client.create_database(name, description=description)
        if wait:
            created = client.wait_running(created.id, timeout=timeout)
    _show(_DB_HEADERS, _db_rows([created]), fmt, [created])


@db.command("show")
@_server_options
@click.argument("database")
@handle_errors
def db_show(server: Optional[str], timeout: float, database: str) -> None:
    """Every field of a database (by name or id), as JSON."""
    client, _ = _client(server, timeout)
    with client:
        found = client.get_database(database)
    click.echo(json.dumps(MessageToDict(found, preserving_proto_field_name=True), indent=2))


@db.command("delete")
@_server_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.argument("database")
@handle_errors
def db_delete(server: Optional[str], timeout: float, yes: bool, database: str) -> None:
    """Delete a database (by name or id) and its data."""
    client, _ = _client(server, timeout)
    with client:
        found = client.get_database(database)
        if not yes:
            click.confirm(f"delete database {found.name} ({found.id}) and all its data?", abort=True, err=True)
        client.delete_database(found.id)
    click.echo(f"deleted database {found.name} ({found.id})")


# -- users ---------------------------------------------------------------------------------------

@click.group()
def user() -> None:
    """List, create, change the role of, and delete accounts."""


def _account_label(a: Any) -> str:
    return a.username   # the email of a person, the name of a service account


def _find_account(client: Client, ref: str) -> Any:
    """An account by id, email or name."""
    ident = parse_id(ref)
    for a in client.list_accounts():
        if a.id == ident or (ref and ref == a.username):
            return a
    raise ServerError("ResourceNotFound", f"no account {ref!r} in the org (`roarbase user list` shows them)",
                      name="ACCOUNT_NOT_FOUND")


_KINDS = {account_pb2.ACCOUNT_KIND_INDIVIDUAL: "individual", account_pb2.ACCOUNT_KIND_SERVICE: "service"}
_USER_HEADERS = ["account", "id", "kind", "roles", "status"]


def _user_rows(accounts: list[Any]) -> list[list[Any]]:
    return [[_account_label(a), a.id, _KINDS.get(a.kind, "?"), ", ".join(a.roles),
             account_pb2.AccountStatus.Name(a.status).removeprefix("ACCOUNT_STATUS_").lower()] for a in accounts]


@user.command("list")
@_server_options
@_format_option
@handle_errors
def user_list(server: Optional[str], timeout: float, fmt: str) -> None:
    """The org's accounts."""
    client, _ = _client(server, timeout)
    with client:
        accounts = client.list_accounts()
    _show(_USER_HEADERS, _user_rows(accounts), fmt, accounts)


@user.command("create")
@_server_options
@_format_option
@click.option("--email", help="An individual account's email (it logs in with a password).")
@click.option("--name", help="A service account's name (it logs in with API keys: `roarbase key create`).")
@click.option("--role", default="backend", show_default=True,
              help="Built-in role: manager, backend or frontend (or a custom role).")
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of stdin.")
@handle_errors
def user_create(server: Optional[str], timeout: float, fmt: str, email: Optional[str], name: Optional[str],
                role: str, password_stdin: bool) -> None:
    """Create an account. An individual's password comes from ROARBASE_PASSWORD, stdin or a
    prompt (asked twice)."""
    if bool(email) == bool(name):
        raise click.UsageError("give exactly one of --email (a person) and --name (a service account)")
    fields: dict[str, Any] = {"role": role}
    if email:
        fields.update(kind=account_pb2.ACCOUNT_KIND_INDIVIDUAL, email=email,
                      password=_password(password_stdin, prompt="New password", confirm=True))
    else:
        fields.update(kind=account_pb2.ACCOUNT_KIND_SERVICE, name=name)
    client, _ = _client(server, timeout)
    with client:
        created = client.create_account(**fields)
    _show(_USER_HEADERS, _user_rows([created]), fmt, [created])


@user.command("role")
@_server_options
@click.argument("account")
@click.argument("role")
@handle_errors
def user_role(server: Optional[str], timeout: float, account: str, role: str) -> None:
    """Give ACCOUNT (email, name or id) a ROLE: a built-in one replaces its role, a custom
    one is added. Only the org owner (root) may."""
    client, _ = _client(server, timeout)
    with client:
        target = _find_account(client, account)
        got = client.add_account_roles(target.id, [role])
    click.echo(f"{_account_label(target)}: roles {', '.join(got.rolenames)}")


@user.command("delete")
@_server_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.argument("account")
@handle_errors
def user_delete(server: Optional[str], timeout: float, yes: bool, account: str) -> None:
    """Delete ACCOUNT (email, name or id), its tokens and API keys."""
    client, _ = _client(server, timeout)
    with client:
        target = _find_account(client, account)
        if not yes:
            click.confirm(f"delete account {_account_label(target)} ({target.id})?", abort=True, err=True)
        client.delete_account(target.id)
    click.echo(f"deleted account {_account_label(target)}")


# -- API keys ---------------------------------------------------------------------------------------

@click.group()
def key() -> None:
    """Create, list and revoke API keys of service accounts."""


@key.command("create")
@_server_options
@click.option("--account", required=True, help="The service account (name or id).")
@click.option("--label", default="", help="A label to recognise the key by.")
@handle_errors
def key_create(server: Optional[str], timeout: float, account: str, label: str) -> None:
    """Create an API key and print it once (the server keeps only a hash)."""
    client, _ = _client(server, timeout)
    with client:
        target = _find_account(client, account)
        from server.pb.roarbase.v1 import auth_pb2

        created = client.call("AuthService", "CreateApiKey", auth_pb2.CreateApiKeyRequest(account_id=target.id,
                                                                                        label=label))
    click.echo(created.key)
    click.echo(f"(key {created.api_key.id} of {_account_label(target)}: shown only this once; send it as"
               " x-api-key, or as the password of `roarbase login --name`)", err=True)


@key.command("list")
@_server_options
@_format_option
@click.option("--account", help="Only this service account's keys (name or id).")
@handle_errors
def key_list(server: Optional[str], timeout: float, fmt: str, account: Optional[str]) -> None:
    """The org's API keys (never their secrets)."""
    client, _ = _client(server, timeout)
    with client:
        names = {a.id: _account_label(a) for a in client.list_accounts()}
        owner = _find_account(client, account).id if account else ""
        keys = client.list_api_keys(owner)
    rows = [[k.id, names.get(k.account_id, k.account_id), k.label, _ts(k, "created_at"), _ts(k, "expires_at"),
             _ts(k, "last_used_at"), "revoked" if k.revoked else "active"] for k in keys]
    _show(["id", "account", "label", "created", "expires", "last used", "state"], rows, fmt, keys)


@key.command("revoke")
@_server_options
@click.argument("key_id")
@handle_errors
def key_revoke(server: Optional[str], timeout: float, key_id: str) -> None:
    """Revoke an API key by its id: it stops working at once."""
    client, _ = _client(server, timeout)
    with client:
        client.revoke_api_key(key_id)
    click.echo(f"revoked key {key_id}")


# -- root-reset ---------------------------------------------------------------------------------------

@click.command("root-reset")
@click.option("--data-dir", help="The data dir (default ROARBASE_DATA_DIR or var/data).")
@click.option("--config", "config_path", envvar="ROARBASE_CONFIG", type=click.Path(dir_okay=False),
              help="TOML settings (for its data_dir and password hashing).")
@click.option("--email", help="The root account to reset (default: the first org's).")
@handle_errors
def root_reset(data_dir: Optional[str], config_path: Optional[str], email: Optional[str]) -> None:
    """Set a new, generated password for a root account and print it once.

    Works on the data dir itself, with the server stopped (whoever can write the files
    owns the data anyway). The account's refresh tokens and sessions are revoked.
    """
    from server import auth, config_file
    from server.service import tokens
    from server.cli import _Opened
    from server.service.bootstrap import open_service

    settings = config_file.load(config_path=config_path, env=os.environ, flags={"data_dir": data_dir})
    service = settings.service
    if not os.path.isfile(service.meta_path):
        raise ServerError("ResourceNotFound", f"no roarbase data directory at {service.data_dir}",
                          name="DATA_DIR_NOT_FOUND")
    with _Opened(service.data_dir, lambda: open_service(service)) as ctx:
        query = "SELECT a.id, a.email FROM accounts a JOIN orgs o ON o.id = a.org_id WHERE a.role = 'root'"
        params: tuple[Any, ...] = ()
        if email:
            query += " AND a.email = ?"
            params = (email,)
        row = ctx.store.one(query + " ORDER BY o.created_at, o.id LIMIT 1", params)
        if row is None:
            raise ServerError("ResourceNotFound", f"no root account {email or ''} in {service.data_dir}".replace("  ", " "),
                              name="ACCOUNT_NOT_FOUND")
        password = secrets.token_urlsafe(18)
        with ctx.store.transaction() as st:
            st.execute("UPDATE accounts SET password_hash = ?, status = 'Active', updated_at = ? WHERE id = ?",
                       (auth.hash_password(ctx, password), ctx.now(), row["id"]))
            tokens.revoke_account_tokens(ctx, row["id"], "root_reset")
    click.echo(f"new password for {row['email']}: {password}")
    click.echo("(shown only this once; its refresh tokens were revoked)", err=True)


# -- demo ----------------------------------------------------------------------------------------------

@click.command()
@click.option("--data-dir", help="The data dir (default ROARBASE_DATA_DIR or var/data); made when missing.")
@click.option("--config", "config_path", envvar="ROARBASE_CONFIG", type=click.Path(dir_okay=False),
              help="TOML settings (for its data_dir).")
@click.option("--seg/--no-seg", default=True, show_default=True,
              help='Also the "demo" database (table seg, 100,000 generated records).')
@handle_errors
def demo(data_dir: Optional[str], config_path: Optional[str], seg: bool) -> None:
    """Load the sample databases the documentation's examples run against.

    docs-pql (indexes people, orders, bare: docs/pql.md) and docs-sql (tables people,
    cities, empty: docs/sql.md), and with --seg the "demo" database of `serve --demo`.
    Works on the data dir with the server stopped; databases already loaded are left alone.
    """
    from server import config_file, samples
    from server import demo as demo_mod
    from server.cli import _Opened
    from server.service.bootstrap import open_service

    service = config_file.load(config_path=config_path, env=os.environ, flags={"data_dir": data_dir}).service
    with _Opened(service.data_dir, lambda: open_service(service)) as ctx:
        boot = ctx.bootstrap
        if boot is not None:
            click.echo(f"created {os.path.abspath(service.data_dir)} with the root account {boot.email}")
            if boot.password is not None:
                click.echo(f"  password: {boot.password}  (generated; shown only this once)")
        for name in samples.DATASETS:
            ident, loaded = samples.ensure(ctx, name)
            click.echo(f"{name}: {'loaded' if loaded else 'already loaded'} ({ident})")
        if seg:
            made = demo_mod.ensure_demo(ctx)
            click.echo(f"{demo_mod.DATABASE}: {'loaded' if made.created else 'already loaded'} ({made.database_id})")
    click.echo("try: roarbase shell -d docs-sql   or   roarbase query -d docs-pql -t people 'Count(Row(color=1))'")


# -- cluster membership (the `cluster` group is server/cli.py's) ------------------------------

def _membership(m: Any, fmt: str, what: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(MessageToDict(m, preserving_proto_field_name=True, always_print_fields_with_no_presence=True),
                              indent=2))
        return
    click.echo(f"{what}; {len(m.moved)} shard(s) moved, placement epoch {m.epoch}")
    from server.cli import _render_table

    click.echo(_render_table(["worker", "shards"], [[w, n] for w, n in sorted(m.workers.items())]))


@click.command("add-worker")
@_server_options
@_format_option
@click.option("-d", "--database", required=True, help="The database (name or id).")
@click.argument("name")
@handle_errors
def cluster_add_worker(server: Optional[str], timeout: float, fmt: str, database: str, name: str) -> None:
    """Add worker NAME to a database's Ray cluster; the shards jump hash gives it move onto it."""
    client, _ = _client(server, timeout)
    with client:
        got = client.add_cluster_worker(client.database_id(database), name)
    _membership(got, fmt, f"added worker {got.worker}")


@click.command("remove-worker")
@_server_options
@_format_option
@click.option("-d", "--database", required=True, help="The database (name or id).")
@click.argument("name")
@handle_errors
def cluster_remove_worker(server: Optional[str], timeout: float, fmt: str, database: str, name: str) -> None:
    """Move worker NAME's shards to the database's other workers, then stop it."""
    client, _ = _client(server, timeout)
    with client:
        got = client.remove_cluster_worker(client.database_id(database), name)
    _membership(got, fmt, f"removed worker {got.worker}")


@click.command("rebalance")
@_server_options
@_format_option
@click.option("-d", "--database", required=True, help="The database (name or id).")
@handle_errors
def cluster_rebalance(server: Optional[str], timeout: float, fmt: str, database: str) -> None:
    """Move every shard of a database that is not where jump hash over its workers puts it."""
    client, _ = _client(server, timeout)
    with client:
        got = client.rebalance_cluster(client.database_id(database))
    _membership(got, fmt, "rebalanced")


def server_placement(server: Optional[str], timeout: float) -> dict[str, Any]:
    """The running server's cluster:placement property (for `roarbase cluster status`)."""
    client, _ = _client(server, timeout)
    with client:
        prop = client.service_property("cluster:placement")
    return dict(json.loads(prop.cluster_placement_json))


def register(main: click.Group) -> None:
    """Add these commands to the `roarbase` group."""
    for command in (login, logout, db, user, key, root_reset, demo):
        main.add_command(command)
    cluster = main.commands["cluster"]
    assert isinstance(cluster, click.Group)
    for command in (cluster_add_worker, cluster_remove_worker, cluster_rebalance):
        cluster.add_command(command)
