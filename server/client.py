"""A Python client for the roarbase gRPC API (package roarbase.v1).

    with Client("127.0.0.1:20101") as c:
        c.login("root@localhost", password)
        db = c.database_id("demo")
        print(c.sql("SELECT COUNT(*) FROM seg", database=db).rows)
        print(c.pql('Count(Row(region="region_00"))', table="seg", database=db))

        c.create_property("price", "float32", database=db)          # items (kind="user": users)
        c.put_entities([{"item_id": 1, "price": 9.99}], database=db)
        for page in c.scan(filters=[{"property_name": "price", "op": "lt", "value": 10}], database=db):
            print(page.entities)                                      # [{"item_id": 1, "price": 9.99}]

Errors come back as server.error_table.ServerError (`forbidden` set for the authorization
variant of Unauthorized), rebuilt from the status and trailing metadata by
server.grpc_status.from_grpc, so `exc.code` is the unified code of API.md §6 whichever face
raised it.

Items and users travel as the dicts the /v1 JSON face uses ({"item_id": 1, "price": 9.99};
bytes ids and values as `bytes`), converted to and from the typed Values of entity.proto.

Every call has a deadline (`timeout`, 10 s by default, per call overridable). A call is
retried, with exponential backoff, only when it failed with UNAVAILABLE *and* repeating it
cannot change anything: Get*/List* methods, and SQL/PQL whose statement only reads (told
by its words — SQL statements starting SELECT/SHOW/DESCRIBE/EXPLAIN, PQL without a write
call —, and only after such a failure, so the happy path never looks). Writes, logins and
anything half-streamed are never retried.
"""
from __future__ import annotations

import datetime as _dt
import random
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence, TypeVar

import grpc

from server.error_table import ServerError
from server.grpc_status import from_grpc
from server.pb.roarbase.v1 import (
    account_pb2,
    account_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    database_pb2,
    database_pb2_grpc,
    entity_pb2,
    entity_pb2_grpc,
    invite_pb2_grpc,
    org_pb2,
    org_pb2_grpc,
    query_pb2,
    query_pb2_grpc,
    role_pb2_grpc,
    task_pb2,
    task_pb2_grpc,
    value_pb2,
)
from server.ids import parse_id

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 3
_BACKOFF_BASE = 0.05
_BACKOFF_CAP = 2.0
# A long result stream (SQL rows) may take longer than a unary call; grpc's own message
# cap of 4 MiB would refuse a big PQL result.
_CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 64 << 20)]

_STUBS: dict[str, Callable[[grpc.Channel], Any]] = {
    "AccountService": account_pb2_grpc.AccountServiceStub,
    "AuthService": auth_pb2_grpc.AuthServiceStub,
    "DatabaseService": database_pb2_grpc.DatabaseServiceStub,
    "EntityService": entity_pb2_grpc.EntityServiceStub,
    "InviteService": invite_pb2_grpc.InviteServiceStub,
    "OrgService": org_pb2_grpc.OrgServiceStub,
    "PropertyService": entity_pb2_grpc.PropertyServiceStub,
    "QueryService": query_pb2_grpc.QueryServiceStub,
    "RoleService": role_pb2_grpc.RoleServiceStub,
    "TaskService": task_pb2_grpc.TaskServiceStub,
}


# -- values ------------------------------------------------------------------------------

def value(v: value_pb2.Value) -> Any:
    """A Value as Python: int, float, bool, str, bytes, list, Decimal, UTC datetime, None."""
    kind = v.WhichOneof("kind")
    if kind is None or kind == "null":
        return None
    if kind == "list":
        return [value(x) for x in v.list.values]
    if kind == "decimal":
        return Decimal(v.decimal.value).scaleb(-v.decimal.scale)
    if kind == "timestamp":
        return v.timestamp.ToDatetime(tzinfo=_dt.timezone.utc)
    return getattr(v, kind)


def to_value(x: Any) -> value_pb2.Value:
    """A Python value as a Value: None -> null, int -> `int` (`uint` from 2^63 on), float,
    bool, str -> `text`, bytes -> `raw`, list/tuple -> `list`, Decimal, datetime."""
    if x is None:
        return value_pb2.Value(null=0)
    if isinstance(x, bool):
        return value_pb2.Value(bool=x)
    if isinstance(x, int):
        return value_pb2.Value(uint=x) if x >= 1 << 63 else value_pb2.Value(int=x)
    if isinstance(x, float):
        return value_pb2.Value(float=x)
    if isinstance(x, str):
        return value_pb2.Value(text=x)
    if isinstance(x, (bytes, bytearray)):
        return value_pb2.Value(raw=bytes(x))
    if isinstance(x, (list, tuple)):
        return value_pb2.Value(list=value_pb2.ValueList(values=[to_value(v) for v in x]))
    if isinstance(x, Decimal):
        exponent = x.as_tuple().exponent
        scale = max(0, -exponent) if isinstance(exponent, int) else 0
        return value_pb2.Value(decimal=value_pb2.Decimal(value=int(x.scaleb(scale)), scale=scale))
    if isinstance(x, _dt.datetime):
        out = value_pb2.Value()
        out.timestamp.FromDatetime(x if x.tzinfo is None else x.astimezone(_dt.timezone.utc))
        return out
    raise TypeError(f"no Value for a {type(x).__name__}")


def rfc3339(t: _dt.datetime) -> str:
    """engine.results.rfc3339 for the client side, which imports no engine (the CLI uses it too)."""
    t = t.astimezone(_dt.timezone.utc) if t.tzinfo else t
    s = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        s += f".{t.microsecond:06d}".rstrip("0")
    return s + "Z"


def _pql_value(v: value_pb2.Value) -> Any:
    """A Value inside a PQL result: as value(), but timestamps as RFC 3339 text, the form
    the engine's PQL results use."""
    out = value(v)
    if isinstance(out, _dt.datetime):
        return rfc3339(out)
    if isinstance(out, list):
        return [rfc3339(x) if isinstance(x, _dt.datetime) else x for x in out]
    return out


def _val_count(vc: query_pb2.ValCount) -> dict[str, Any]:
    """FeatureBase's ValCount, as the engine returns it in-process (engine/results.py)."""
    out: dict[str, Any] = {"value": 0, "floatValue": 0.0, "decimalValue": None,
                           "timestampValue": "0001-01-01T00:00:00Z", "count": vc.count}
    kind = vc.value.WhichOneof("kind")
    v = value(vc.value)
    if kind == "decimal":
        out["decimalValue"] = v
    elif kind == "timestamp":
        out["timestampValue"] = rfc3339(v)
    elif kind == "float":
        out["floatValue"] = v
    elif v is not None:
        out["value"] = int(v)
    return out


def _pair(p: query_pb2.Pair) -> dict[str, Any]:
    return {"id": p.id, "key": p.key, "count": p.count}


def _field_row(fr: query_pb2.FieldRow) -> dict[str, Any]:
    kind = fr.WhichOneof("row")
    if kind == "row_key":
        return {"field": fr.field, "rowKey": fr.row_key}
    if kind == "value":
        return {"field": fr.field, "value": _pql_value(fr.value)}
    return {"field": fr.field, "rowID": fr.row_id}


def _group(g: query_pb2.GroupCount) -> dict[str, Any]:
    out: dict[str, Any] = {"group": [_field_row(fr) for fr in g.group], "count": g.count}
    if g.HasField("sum"):
        out["sum"] = value(g.sum)
    if g.HasField("aggregate"):
        out["aggregate"] = g.aggregate
    return out


def pql_result(r: query_pb2.PqlResult) -> Any:
    """A PqlResult in the FeatureBase JSON shapes the engine returns in-process
    (engine/results.py): counts as int, rows as {"columns"} / {"columns": [], "keys"}, ..."""
    kind = r.WhichOneof("result")
    if kind is None:
        return None
    if kind == "row":
        if r.row.keys:
            return {"columns": [], "keys": list(r.row.keys)}
        return {"columns": list(r.row.columns)}
    if kind in ("count", "changed"):
        return getattr(r, kind)
    if kind == "pairs":
        return [_pair(p) for p in r.pairs.pairs]
    if kind == "pair":
        return _pair(r.pair)
    if kind == "val_count":
        return _val_count(r.val_count)
    if kind == "group_counts":
        return [_group(g) for g in r.group_counts.groups]
    if kind == "row_identifiers":
        ri = r.row_identifiers
        return {"rows": None, "keys": list(ri.keys)} if ri.keys else {"rows": list(ri.rows)}
    if kind == "signed_row":
        return {"neg": {"columns": [value(v) for v in r.signed_row.neg]},
                "pos": {"columns": [value(v) for v in r.signed_row.pos]}}
    if kind == "extracted_table":
        t = r.extracted_table
        return {"fields": [{"name": f.name, "type": f.type} for f in t.fields],
                "columns": [{"column": value(c.column), "rows": [_pql_value(v) for v in c.rows]}
                            for c in t.columns]}
    return [_pql_value(v) for v in r.values.values]


# -- items and users ---------------------------------------------------------------------

_KINDS = {"item": entity_pb2.ENTITY_KIND_ITEM, "user": entity_pb2.ENTITY_KIND_USER}


def _kind(kind: str) -> entity_pb2.EntityKind:
    try:
        return _KINDS[kind]
    except KeyError:
        raise ValueError(f"kind is 'item' or 'user', not {kind!r}") from None


def entity_message(entity: dict[str, Any], kind: str) -> entity_pb2.Entity:
    """{"item_id": 1, "price": 9.99} as an Entity (the id under "<kind>_id")."""
    id_key = f"{kind}_id"
    if id_key not in entity:
        raise ValueError(f"an {kind} needs its {id_key}")
    out = entity_pb2.Entity(id=to_value(entity[id_key]))
    for name, v in entity.items():
        if name != id_key:
            out.properties[name].CopyFrom(to_value(v))
    return out


def entity_dict(e: entity_pb2.Entity, kind: str) -> dict[str, Any]:
    """An Entity as {"<kind>_id": id, property: value, ...}."""
    return {f"{kind}_id": value(e.id), **{name: value(v) for name, v in e.properties.items()}}


def _filter(f: Any) -> entity_pb2.Filter:
    """A filter as the /v1 JSON object {property_name, op, value?} or a (name, op[, value])
    tuple."""
    if isinstance(f, dict):
        name, op, given = f.get("property_name", ""), f.get("op", ""), f.get("value", ...)
    else:
        name, op, *rest = f
        given = rest[0] if rest else ...
    out = entity_pb2.Filter(property_name=name, op=op)
    if given is not ...:
        out.value.CopyFrom(to_value(given))
    return out


@dataclass
class ScanPage:
    """One page of a scan: its entities (dicts), and the cursor to resume after it."""

    entities: list[dict[str, Any]]
    has_next: bool
    next_cursor: str


# -- results -----------------------------------------------------------------------------

@dataclass
class SqlResult:
    """A whole SQL result: columns as (name, type) pairs and rows as tuples (NULL: None)."""

    schema: list[tuple[str, str]]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    rows_affected: Optional[int] = None
    execution_time_us: int = 0
    warnings: list[str] = field(default_factory=list)
    query_plan: str = ""

    @property
    def columns(self) -> list[str]:
        return [name for name, _ in self.schema]


class SqlStream:
    """A SQL result being read: `schema` is known at once, `batches()` yields lists of
    rows as they arrive, and the stats fields are filled once the stream ended."""

    def __init__(self, responses: Iterator[query_pb2.SqlResponse], header: query_pb2.SqlSchema) -> None:
        self._responses = responses
        self.schema = [(f.name, f.type) for f in header.fields]
        self.rows_affected: Optional[int] = None
        self.execution_time_us = 0
        self.warnings: list[str] = []
        self.query_plan = ""
        self.done = False

    def batches(self) -> Iterator[list[tuple[Any, ...]]]:
        """Row batches in result order. Raises ServerError if the stream fails midway."""
        try:
            for msg in self._responses:
                kind = msg.WhichOneof("kind")
                if kind == "rows":
                    yield [tuple(value(v) for v in row.values) for row in msg.rows.rows]
                elif kind == "stats":
                    st = msg.stats
                    self.rows_affected = st.rows_affected if st.HasField("rows_affected") else None
                    self.execution_time_us = st.execution_time_us
                    self.warnings = list(st.warnings)
                    self.query_plan = st.query_plan
        except grpc.RpcError as exc:
            raise _error(exc) from None
        self.done = True

    def result(self) -> SqlResult:
        """Read the rest of the stream into a SqlResult."""
        rows = [r for batch in self.batches() for r in batch]
        return SqlResult(self.schema, rows, self.rows_affected, self.execution_time_us, self.warnings,
                         self.query_plan)


def _error(exc: grpc.RpcError, target: str = "") -> ServerError:
    call: Any = exc
    details = call.details() or ""
    if call.code() == grpc.StatusCode.UNAVAILABLE and target and not call.trailing_metadata():
        # grpcio's own connection failures: say what to do, not what the transport saw.
        if "http1.x" in details or "HTTP status" in details:
            return ServerError("ServiceUnavailable", f"{target} answers HTTP/1.1, not gRPC: that is the server's HTTP"
                               " port; the client needs its gRPC port (20101 by default, printed at start-up)",
                               name="NOT_GRPC_PORT")
        if "failed to connect" in details or "Connection refused" in details:
            return ServerError("ServiceUnavailable", f"no roarbase server answers at {target}: is it running, and is"
                               f" that its gRPC port? ({details})", name="SERVER_UNREACHABLE")
    return from_grpc(call.code(), details, call.trailing_metadata())


# -- the client --------------------------------------------------------------------------

class Client:
    """A connection to one roarbase server.

    Args:
        target: "host:port" of the gRPC listener.
        token: an access token (sent as `authorization: Bearer`); login() sets one.
        api_key: an API key (sent as `x-api-key`) for the query methods, instead of a token.
        timeout: the default deadline of each call, in seconds.
        retries: how often a safe call is repeated after UNAVAILABLE (0: never).
        channel: an existing channel to use instead of opening one (closed with the client).
    """

    def __init__(self, target: str, *, token: Optional[str] = None, api_key: Optional[str] = None,
                 timeout: float = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES,
                 channel: Optional[grpc.Channel] = None) -> None:
        self.target = target
        self.token = token
        self.api_key = api_key
        self.refresh_token: Optional[str] = None
        self.timeout = timeout
        self.retries = retries
        # Called (no arguments) when a call fails with TokenExpired: it should set a fresh
        # self.token (e.g. refresh()); the call is then made once more. Raising stops it.
        self.on_token_expired: Optional[Callable[[], None]] = None
        self._channel = channel or grpc.insecure_channel(target, options=_CHANNEL_OPTIONS)
        self._stubs: dict[str, Any] = {}
        self._closed = False

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def channel(self) -> grpc.Channel:
        """The underlying channel (for services this client has no methods for, e.g.
        grpc.health.v1)."""
        return self._channel

    def close(self) -> None:
        self._closed = True
        self._channel.close()

    # -- plumbing --------------------------------------------------------------------------

    def _metadata(self) -> list[tuple[str, str]]:
        md = []
        if self.token:
            md.append(("authorization", f"Bearer {self.token}"))
        if self.api_key:
            md.append(("x-api-key", self.api_key))
        return md

    def _stub(self, service: str) -> Any:
        if self._closed:   # grpcio crashes the process when a stub is made on a closed channel
            raise ValueError("the client is closed")
        stub = self._stubs.get(service)
        if stub is None:
            stub = self._stubs[service] = _STUBS[service](self._channel)
        return stub

    def _retrying(self, attempt: Callable[[], T], safe: Callable[[], bool]) -> T:
        """Run attempt(); on UNAVAILABLE repeat it (backoff with jitter) while safe()."""
        tries = 0
        refreshed = False
        while True:
            try:
                return attempt()
            except grpc.RpcError as exc:
                call: Any = exc
                if call.code() == grpc.StatusCode.UNAUTHENTICATED and not refreshed and self.on_token_expired:
                    err = _error(exc, self.target)
                    if err.code != "TokenExpired":
                        raise err from None
                    refreshed = True
                    self.on_token_expired()
                    continue
                if call.code() != grpc.StatusCode.UNAVAILABLE or tries >= self.retries or not safe():
                    raise _error(exc, self.target) from None
            delay = min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** tries)
            time.sleep(delay * (0.5 + random.random() / 2))
            tries += 1

    def call(self, service: str, method: str, request: Any, *, read: bool = False,
             timeout: Optional[float] = None) -> Any:
        """One unary call with the client's credentials and deadline; `read=True` allows
        retrying it after UNAVAILABLE (only for calls that change nothing).

        Raises ServerError (with the unified `code`) when the call fails.
        """
        fn = getattr(self._stub(service), method)
        deadline = self.timeout if timeout is None else timeout
        return self._retrying(lambda: fn(request, timeout=deadline, metadata=self._metadata()), lambda: read)

    # -- auth ------------------------------------------------------------------------------

    def login(self, email: Optional[str] = None, password: str = "", *, name: Optional[str] = None,
              database: Optional[str] = None, frontend_user_id: Optional[str] = None,
              frontend_session_id: Optional[str] = None) -> auth_pb2.LoginResponse:
        """Log in by email (or a service account's `name`) and keep the tokens for the
        calls that follow. `database`: an id (either form) or a name to bind the token to;
        `frontend_user_id` / `frontend_session_id` (with a database): the end user a
        frontend token acts for. Raises ServerError Unauthorized on wrong credentials."""
        req = auth_pb2.LoginRequest(password=password, frontend_user_id=frontend_user_id or "",
                                    frontend_session_id=frontend_session_id or "")
        if name is not None:
            req.name = name
        else:
            req.email = email or ""
        if database:
            if parse_id(database) is not None:
                req.db_id = database
            else:
                req.db_name = database
        resp = self.call("AuthService", "Login", req)
        self.token, self.refresh_token = resp.token, resp.refresh_token
        return resp

    def refresh(self, database: Optional[str] = None) -> auth_pb2.LoginResponse:
        """Trade the kept refresh token for new tokens (it works once)."""
        req = auth_pb2.RefreshTokenRequest(refresh_token=self.refresh_token or "")
        if database:
            if parse_id(database) is not None:
                req.db_id = database
            else:
                req.db_name = database
        resp = self.call("AuthService", "RefreshToken", req)
        self.token, self.refresh_token = resp.token, resp.refresh_token
        return resp

    def create_api_key(self, account_id: str = "") -> auth_pb2.CreateApiKeyResponse:
        return self.call("AuthService", "CreateApiKey", auth_pb2.CreateApiKeyRequest(account_id=account_id))

    def revoke_api_key(self, key_id: str) -> None:
        self.call("AuthService", "RevokeApiKey", auth_pb2.RevokeApiKeyRequest(id=key_id))

    def list_api_keys(self, account_id: str = "") -> list[auth_pb2.ApiKey]:
        """Every API key of the org (or of one service account), all pages."""
        return self._pages("AuthService", "ListApiKeys",
                           lambda token: auth_pb2.ListApiKeysRequest(account_id=account_id, next=token))

    # -- accounts --------------------------------------------------------------------------

    def create_account(self, **fields: Any) -> account_pb2.Account:
        """Create an account (fields of CreateAccountRequest: kind, email, name, role, password, ...)."""
        return self.call("AccountService", "CreateAccount", account_pb2.CreateAccountRequest(**fields))

    def list_accounts(self) -> list[account_pb2.Account]:
        """Every account of the org (all pages)."""
        return self._pages("AccountService", "ListAccounts", lambda token: account_pb2.ListAccountsRequest(next=token))

    def current_account(self) -> account_pb2.Account:
        return self.call("AccountService", "GetCurrentAccount", account_pb2.GetCurrentAccountRequest(), read=True)

    def add_account_roles(self, account_id: str, rolenames: list[str]) -> account_pb2.AccountRoles:
        return self.call("AccountService", "AddAccountRoles",
                         account_pb2.AddAccountRolesRequest(id=account_id, rolenames=rolenames))

    def delete_account(self, account_id: str) -> None:
        self.call("AccountService", "DeleteAccount", account_pb2.DeleteAccountRequest(id=account_id))

    def _pages(self, service: str, method: str, request: Callable[[str], Any]) -> list[Any]:
        out: list[Any] = []
        token = ""
        while True:
            page = self.call(service, method, request(token), read=True)
            out.extend(page.resources)
            token = page.next
            if not token:
                return out

    # -- org -------------------------------------------------------------------------------

    def get_org(self, org_id: str = "") -> org_pb2.Org:
        return self.call("OrgService", "GetOrg", org_pb2.GetOrgRequest(id=org_id), read=True)

    # -- databases -------------------------------------------------------------------------

    def create_database(self, name: str, **fields: Any) -> database_pb2.Database:
        """Create a database (fields: description, item_id_type, ..., as in
        CreateDatabaseRequest). The returned resource may still be CREATING: see
        wait_running()."""
        return self.call("DatabaseService", "CreateDatabase", database_pb2.CreateDatabaseRequest(name=name, **fields))

    def get_database(self, database_id: str = "") -> database_pb2.Database:
        return self.call("DatabaseService", "GetDatabase", database_pb2.GetDatabaseRequest(id=database_id),
                         read=True)

    def list_databases(self) -> list[database_pb2.Database]:
        """Every database of the org (all pages)."""
        return self._pages("DatabaseService", "ListDatabases", lambda token: database_pb2.ListDatabasesRequest(next=token))

    def update_database(self, database_id: str, **fields: Any) -> database_pb2.Database:
        return self.call("DatabaseService", "UpdateDatabase",
                         database_pb2.UpdateDatabaseRequest(id=database_id, **fields))

    def delete_database(self, database_id: str) -> database_pb2.Database:
        return self.call("DatabaseService", "DeleteDatabase", database_pb2.DeleteDatabaseRequest(id=database_id))

    def watch_database(self, database_id: str, *, timeout: Optional[float] = None) -> Iterator[database_pb2.Database]:
        """The database's state changes until it is RUNNING or terminal."""
        stream = self._stub("DatabaseService").WatchDatabase(
            database_pb2.WatchDatabaseRequest(id=database_id), timeout=timeout or self.timeout,
            metadata=self._metadata())
        try:
            yield from stream
        except grpc.RpcError as exc:
            raise _error(exc) from None

    def wait_running(self, database_id: str, *, timeout: Optional[float] = None) -> database_pb2.Database:
        """Follow the database until its state settles; returns the last state seen."""
        last = None
        for last in self.watch_database(database_id, timeout=timeout):
            pass
        return last if last is not None else self.get_database(database_id)

    # -- export, import, backup, restore -------------------------------------------------------

    def export_database(self, database_id: str = "", *, json_form: bool = False, gzip: bool = False,
                        timeout: Optional[float] = None) -> Iterator[database_pb2.ExportChunk]:
        """The export document's chunks (`data`, plus records_done/records_total for
        progress). The database is BACKUP until the stream ends. Never retried."""
        fmt = database_pb2.EXPORT_FORMAT_JSON if json_form else database_pb2.EXPORT_FORMAT_NDJSON
        stream = self._stub("DatabaseService").ExportDatabase(
            database_pb2.ExportDatabaseRequest(id=database_id, format=fmt, gzip=gzip),
            timeout=timeout or self.timeout, metadata=self._metadata())
        try:
            yield from stream
        except grpc.RpcError as exc:
            raise _error(exc) from None

    def import_database(self, database_id: str, chunks: Iterator[bytes], *,
                        timeout: Optional[float] = None) -> database_pb2.ImportDatabaseResponse:
        """Merge an export document (its bytes, in chunks under the server's message cap)
        into a database. Never retried: an import is not idempotent in time."""
        def messages() -> Iterator[database_pb2.ImportChunk]:
            first = True
            for data in chunks:
                yield database_pb2.ImportChunk(id=database_id if first else "", data=data)
                first = False
            if first:
                yield database_pb2.ImportChunk(id=database_id)
        try:
            return self._stub("DatabaseService").ImportDatabase(messages(), timeout=timeout or self.timeout,
                                                                metadata=self._metadata())
        except grpc.RpcError as exc:
            raise _error(exc) from None

    def backup_database(self, database_id: str = "", *,
                        timeout: Optional[float] = None) -> Iterator[database_pb2.BackupChunk]:
        """An online backup's chunks (`data`: the bytes of a gzip'd tar; bytes_done and
        bytes_total for progress)."""
        stream = self._stub("DatabaseService").BackupDatabase(
            database_pb2.BackupDatabaseRequest(id=database_id), timeout=timeout or self.timeout,
            metadata=self._metadata())
        try:
            for message in stream:
                yield message
        except grpc.RpcError as exc:
            raise _error(exc) from None

    def restore_database(self, name: str, chunks: Iterator[bytes], *, description: str = "",
                         timeout: Optional[float] = None) -> database_pb2.Database:
        """A new database `name` from a backup archive's bytes."""
        def messages() -> Iterator[database_pb2.RestoreChunk]:
            first = True
            for data in chunks:
                yield database_pb2.RestoreChunk(name=name if first else "", description=description if first else "",
                                                data=data)
                first = False
            if first:
                yield database_pb2.RestoreChunk(name=name, description=description)
        try:
            return self._stub("DatabaseService").RestoreDatabase(messages(), timeout=timeout or self.timeout,
                                                                 metadata=self._metadata())
        except grpc.RpcError as exc:
            raise _error(exc) from None

    def service_property(self, name: str) -> org_pb2.ServiceProperty:
        return self.call("OrgService", "GetServiceProperty", org_pb2.GetServicePropertyRequest(property=name),
                         read=True)

    def add_cluster_worker(self, database_id: str, name: str) -> database_pb2.ClusterMembership:
        """Add worker `name` to the database's cluster; its shards move onto it."""
        return self.call("DatabaseService", "AddClusterWorker",
                         database_pb2.ClusterWorkerRequest(id=database_id, name=name))

    def remove_cluster_worker(self, database_id: str, name: str) -> database_pb2.ClusterMembership:
        """Move worker `name`'s shards to the others and stop it."""
        return self.call("DatabaseService", "RemoveClusterWorker",
                         database_pb2.ClusterWorkerRequest(id=database_id, name=name))

    def rebalance_cluster(self, database_id: str) -> database_pb2.ClusterMembership:
        return self.call("DatabaseService", "RebalanceCluster", database_pb2.RebalanceClusterRequest(id=database_id))

    def database_id(self, ref: str) -> str:
        """The id of a database named by id (returned as is) or by name.
        Raises ServerError ResourceNotFound when the org has no such database."""
        ident = parse_id(ref)
        if ident is not None:
            return ident
        return self.get_database(ref).id   # the server resolves names within the caller's org

    # -- properties ------------------------------------------------------------------------
    # `kind` is "item" or "user"; `database` an id (empty: the token's database).

    def list_properties(self, *, kind: str = "item", database: str = "") -> list[entity_pb2.Property]:
        return list(self.call("PropertyService", "ListProperties", entity_pb2.ListPropertiesRequest(
            database_id=database, kind=_kind(kind)), read=True).properties)

    def get_property(self, name: str, *, kind: str = "item", database: str = "") -> entity_pb2.Property:
        return self.call("PropertyService", "GetProperty", entity_pb2.GetPropertyRequest(
            database_id=database, kind=_kind(kind), property_name=name), read=True)

    def create_property(self, name: str, value_type: str, *, kind: str = "item", repeated: bool = False,
                        indexed: bool = False, database: str = "") -> entity_pb2.Property:
        return self.call("PropertyService", "CreateProperty", entity_pb2.CreatePropertyRequest(
            database_id=database, kind=_kind(kind), property_name=name, value_type=value_type, repeated=repeated,
            indexed=indexed))

    def delete_property(self, name: str, *, kind: str = "item", database: str = "") -> None:
        self.call("PropertyService", "DeleteProperty", entity_pb2.DeletePropertyRequest(
            database_id=database, kind=_kind(kind), property_name=name))

    # -- items and users -------------------------------------------------------------------
    # Entities are dicts {"item_id": ..., property: value}; writes with wait=False return the
    # background task applying them (see watch_task), synchronous ones None.

    def get_entity(self, entity_id: Any, *, kind: str = "item", properties: Optional[Sequence[str]] = None,
                   database: str = "") -> dict[str, Any]:
        """One entity. Raises ServerError ResourceNotFound (ITEM_NOT_FOUND)."""
        got = self.call("EntityService", "GetEntity", entity_pb2.GetEntityRequest(
            database_id=database, kind=_kind(kind), id=to_value(entity_id), properties=list(properties or ())),
            read=True)
        return entity_dict(got, kind)

    def list_entities(self, ids: Iterable[Any], *, kind: str = "item", properties: Optional[Sequence[str]] = None,
                      database: str = "") -> list[dict[str, Any]]:
        """The entities among `ids` that exist, in the order asked."""
        got = self.call("EntityService", "ListByIds", entity_pb2.ListByIdsRequest(
            database_id=database, kind=_kind(kind), ids=[to_value(i) for i in ids],
            properties=list(properties or ())), read=True)
        return [entity_dict(e, kind) for e in got.entities]

    def put_entity(self, entity: dict[str, Any], *, kind: str = "item", wait: bool = True,
                   database: str = "") -> Optional[task_pb2.Task]:
        """Create or replace one entity."""
        got = self.call("EntityService", "PutEntity", entity_pb2.PutEntityRequest(
            database_id=database, kind=_kind(kind), entity=entity_message(entity, kind), wait_for_completion=wait))
        return got.task if got.HasField("task") else None

    def patch_entity(self, entity: dict[str, Any], *, kind: str = "item", create_if_missing: bool = False,
                     database: str = "") -> entity_pb2.PatchEntityResponse:
        """Change the given values of one entity (None removes one): {created, modified}."""
        return self.call("EntityService", "PatchEntity", entity_pb2.PatchEntityRequest(
            database_id=database, kind=_kind(kind), entity=entity_message(entity, kind),
            create_if_missing=create_if_missing))

    def delete_entity(self, entity_id: Any, *, kind: str = "item", database: str = "") -> None:
        self.call("EntityService", "DeleteEntity", entity_pb2.DeleteEntityRequest(
            database_id=database, kind=_kind(kind), id=to_value(entity_id)))

    def put_entities(self, entities: Iterable[dict[str, Any]], *, kind: str = "item", wait: bool = True,
                     database: str = "") -> Optional[task_pb2.Task]:
        """Create or replace many entities, all or nothing."""
        got = self.call("EntityService", "BulkPut", entity_pb2.BulkPutRequest(
            database_id=database, kind=_kind(kind), entities=[entity_message(e, kind) for e in entities],
            wait_for_completion=wait))
        return got.task if got.HasField("task") else None

    def patch_entities(self, entities: Iterable[dict[str, Any]], *, kind: str = "item",
                       create_if_missing: bool = False, wait: bool = True,
                       database: str = "") -> Optional[task_pb2.Task]:
        """Change the given values of many entities, all or nothing."""
        got = self.call("EntityService", "BulkPatch", entity_pb2.BulkPatchRequest(
            database_id=database, kind=_kind(kind), entities=[entity_message(e, kind) for e in entities],
            create_if_missing=create_if_missing, wait_for_completion=wait))
        return got.task if got.HasField("task") else None

    def delete_entities(self, ids: Iterable[Any], *, kind: str = "item", database: str = "") -> int:
        """Delete many entities; returns how many existed."""
        return self.call("EntityService", "BulkDelete", entity_pb2.BulkDeleteRequest(
            database_id=database, kind=_kind(kind), ids=[to_value(i) for i in ids])).deleted

    def bulk_write(self, chunks: Iterable[Iterable[dict[str, Any]]], *, kind: str = "item", mode: str = "put",
                   create_if_missing: bool = False, database: str = "",
                   timeout: Optional[float] = None) -> entity_pb2.BulkWriteResponse:
        """Stream chunks of entities (mode "put" or "patch"), each committed on its own; the
        chunks are read lazily, so an unbounded generator streams in constant memory.
        Returns {chunks, entities}. On a bad chunk raises its ServerError, whose details
        give `chunk`, `committed_chunks` and `committed_entities`: the chunks before it
        stay committed. `timeout` bounds the whole stream (default: none)."""
        modes = {"put": entity_pb2.WRITE_MODE_PUT, "patch": entity_pb2.WRITE_MODE_PATCH}
        if mode not in modes:
            raise ValueError(f"mode is 'put' or 'patch', not {mode!r}")
        requests = (entity_pb2.BulkWriteRequest(database_id=database, kind=_kind(kind), mode=modes[mode],
                                                create_if_missing=create_if_missing,
                                                entities=[entity_message(e, kind) for e in chunk])
                    for chunk in chunks)
        try:
            return self._stub("EntityService").BulkWrite(requests, timeout=timeout, metadata=self._metadata())
        except grpc.RpcError as exc:
            raise _error(exc) from None

    def scan(self, *, kind: str = "item", filters: Iterable[Any] = (), properties: Optional[Sequence[str]] = None,
             page_size: int = 0, cursor: str = "", max_pages: int = 0, database: str = "",
             timeout: Optional[float] = None) -> Iterator[ScanPage]:
        """The entities matching every filter, page by page (page_size 0: 300). Filters are
        /v1 JSON objects {"property_name", "op", "value"} or (name, op[, value]) tuples.
        Resume a scan with the `next_cursor` of the last page read; max_pages 1 is one page
        (the /v1 GET). `timeout` bounds the whole stream (default: the client's)."""
        req = entity_pb2.ScanEntitiesRequest(database_id=database, kind=_kind(kind),
                                             filters=[_filter(f) for f in filters],
                                             properties=list(properties or ()), page_size=page_size, cursor=cursor,
                                             max_pages=max_pages)
        stream = self._stub("EntityService").ScanEntities(req, timeout=timeout or self.timeout,
                                                          metadata=self._metadata())
        try:
            for page in stream:
                yield ScanPage([entity_dict(e, kind) for e in page.entities], page.has_next, page.next_cursor)
        except grpc.RpcError as exc:
            raise _error(exc) from None

    # -- tasks -----------------------------------------------------------------------------

    def get_task(self, task_id: str) -> task_pb2.Task:
        return self.call("TaskService", "GetTask", task_pb2.GetTaskRequest(task_id=task_id), read=True)

    def list_tasks(self, name: str, *, page: int = 1, amt: int = 50, database: str = "") -> task_pb2.ListTasksResponse:
        """One page of a database's tasks named `name` ("items_put", ...), newest first."""
        return self.call("TaskService", "ListTasks", task_pb2.ListTasksRequest(
            database_id=database, name=name, page=page, amt=amt), read=True)

    def watch_task(self, task_id: str, *, timeout: Optional[float] = None) -> Iterator[task_pb2.Task]:
        """The task's states until it is COMPLETED or FAILED."""
        stream = self._stub("TaskService").WatchTask(task_pb2.WatchTaskRequest(task_id=task_id),
                                                     timeout=timeout or self.timeout, metadata=self._metadata())
        try:
            yield from stream
        except grpc.RpcError as exc:
            raise _error(exc) from None

    def wait_task(self, task_id: str, *, timeout: Optional[float] = None) -> task_pb2.Task:
        """Follow a task until it finishes; returns its last state (check `status` and
        `error`: a FAILED task is not raised)."""
        last = None
        for last in self.watch_task(task_id, timeout=timeout):
            pass
        return last if last is not None else self.get_task(task_id)

    # -- queries ---------------------------------------------------------------------------

    def sql_stream(self, sql: str, *, database: str = "", timeout: Optional[float] = None) -> SqlStream:
        """Start a SQL statement; the returned stream has the schema, rows follow lazily.
        `database`: an id (empty: the token's database)."""
        fn = self._stub("QueryService").Sql
        req = query_pb2.SqlRequest(database_id=database, sql=sql)
        deadline = self.timeout if timeout is None else timeout

        def attempt() -> SqlStream:
            responses = fn(req, timeout=deadline, metadata=self._metadata())
            first = next(responses, None)   # the header, or the error of the whole call
            if first is None or first.WhichOneof("kind") != "header":
                raise ServerError("InternalServerError", "the SQL stream did not start with a header")
            return SqlStream(responses, first.header)

        return self._retrying(attempt, lambda: _reads_sql(sql))

    def sql(self, sql: str, *, database: str = "", timeout: Optional[float] = None) -> SqlResult:
        """Run a SQL statement and collect its result."""
        return self.sql_stream(sql, database=database, timeout=timeout).result()

    def pql(self, statement: str, *, table: str, database: str = "", timeout: Optional[float] = None) -> list[Any]:
        """Run PQL against a table; one result per call, in FeatureBase's JSON shapes."""
        return [pql_result(r) for r in self.pql_raw(statement, table=table, database=database,
                                                     timeout=timeout).results]

    def pql_raw(self, statement: str, *, table: str, database: str = "",
                timeout: Optional[float] = None) -> query_pb2.PqlResponse:
        """Run PQL and return the PqlResponse message as it came."""
        fn = self._stub("QueryService").Pql
        req = query_pb2.PqlRequest(database_id=database, table=table, statement=statement)
        deadline = self.timeout if timeout is None else timeout
        return self._retrying(lambda: fn(req, timeout=deadline, metadata=self._metadata()),
                              lambda: _reads_pql(statement))


# What the engine treats as reads (engine.statements): SQL statements starting with these
# words, and PQL without these calls. The client classifies text by its words alone, so it
# needs no parser; anything it cannot tell is a write, never retried (tests check it agrees
# with the engine).
_SQL_READ_WORDS = frozenset({"SELECT", "SHOW", "DESCRIBE", "EXPLAIN"})
PQL_WRITE_CALLS = frozenset({"Set", "SetBit", "Clear", "ClearRow", "Store", "Delete"})
_SQL_LEXEME = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|--[^\n]*|;|[A-Za-z_]\w*|\S""",
                         re.S)
_PQL_LEXEME = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|#[^\n]*|[A-Za-z_]\w*(?=\s*\()|\S""", re.S)


def _reads_sql(text: str) -> bool:
    """Whether every ';'-separated statement only reads (by its first word)."""
    firsts: list[str] = []
    start = True
    for lexeme in _SQL_LEXEME.findall(text):
        if lexeme.startswith("--"):
            continue
        if lexeme == ";":
            start = True
        elif start:
            firsts.append(lexeme.upper())
            start = False
    return bool(firsts) and all(word in _SQL_READ_WORDS for word in firsts)


def _reads_pql(text: str) -> bool:
    """Whether a PQL request calls no write, nested calls included."""
    return bool(text.strip()) and not any(lexeme in PQL_WRITE_CALLS for lexeme in _PQL_LEXEME.findall(text))
