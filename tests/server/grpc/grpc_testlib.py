"""Helpers of the gRPC wire tests: stubs over one channel, logins, error decoding, a
second org prepared before the server starts, and forged tokens.

tests/ has no __init__.py: this module's basename is unique in the tree.
"""
from __future__ import annotations

import contextlib
import itertools
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import grpc
import jwt
import pytest

import serverlib
from server.error_table import ServerError
from server.grpc_status import from_grpc
from server.pb.roarbase.v1 import (
    account_pb2,
    account_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    database_pb2_grpc,
    entity_pb2_grpc,
    invite_pb2_grpc,
    org_pb2_grpc,
    query_pb2,
    query_pb2_grpc,
    role_pb2_grpc,
    task_pb2_grpc,
)
from server.service import accounts, orgs
from server.service.bootstrap import open_service
from server.service.config import BootstrapSettings, PasswordHashing, ServiceConfig

# The bootstrap root of launch_server.py (not imported: it pulls in the whole server).
ROOT_EMAIL, ROOT_PASSWORD = "root@example.com", "root-password-1"
OTHER_EMAIL = "boss@globex.example"
MEMBER_PASSWORD = "member-password-1"
TIMEOUT = 30.0
_unique = itertools.count(1)


def unique(prefix: str) -> str:
    """A name no other test uses (the servers are shared)."""
    return f"{prefix}{next(_unique)}-{uuid.uuid4().hex[:6]}"


def prepare_other_org(data_dir: Path) -> None:
    """Before the server's first start: bootstrap the data dir as the launcher would (org
    "acme", its root) and add a second org "globex" with a root account OTHER_EMAIL —
    orgs are made only by the bootstrap and the admin path, never through the API."""
    config = ServiceConfig(str(data_dir), fsync=False,
                           passwords=PasswordHashing(time_cost=1, memory_cost_kib=8, parallelism=1),
                           bootstrap=BootstrapSettings(org_name="acme", root_email=ROOT_EMAIL, root_name="rooty",
                                                       root_password=ROOT_PASSWORD))
    with open_service(config) as ctx:
        org = orgs.create_org(ctx, name="globex")
        accounts.insert_account(ctx, org_id=org.id, kind=accounts.INDIVIDUAL, role="root", email=OTHER_EMAIL,
                                password=ROOT_PASSWORD)


@contextlib.contextmanager
def serving(data_dir: Path, **spec: Any) -> Iterator[Client]:
    """serverlib.running_server plus a channel and logged-in stubs."""
    with serverlib.running_server(data_dir, **spec) as srv, grpc.insecure_channel(srv.grpc_target) as channel:
        yield Client(srv, channel)


def md(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


@dataclass
class Failure:
    """A failed call: the gRPC status and the roarbase error rebuilt from its metadata."""

    status: grpc.StatusCode
    error: ServerError
    details: str
    trailing: tuple[Any, ...]


def failure(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Failure:
    """Call fn (draining a stream) expecting an RpcError."""
    with pytest.raises(grpc.RpcError) as info:
        result = fn(*args, **kwargs)
        if not hasattr(result, "SerializeToString"):
            list(result)
    call = info.value
    trailing = tuple(call.trailing_metadata() or ())
    return Failure(call.code(), from_grpc(call.code(), call.details() or "", trailing), call.details() or "", trailing)


def expect(fn: Callable[..., Any], *args: Any, status: grpc.StatusCode, code: str, name: Optional[str] = None,
           **kwargs: Any) -> Failure:
    """Assert a call fails with this gRPC status and roarbase code (and error_data.name)."""
    f = failure(fn, *args, **kwargs)
    assert (f.status, f.error.code) == (status, code), (f.status, f.error.code, f.details)
    if name is not None:
        assert f.error.name == name, (f.error.name, f.details)
    return f


class Client:
    """Stubs of every roarbase.v1 service over one channel to a running server."""

    def __init__(self, srv: Any, channel: grpc.Channel) -> None:
        self.srv = srv
        self.channel = channel
        self.auth = auth_pb2_grpc.AuthServiceStub(channel)
        self.orgs = org_pb2_grpc.OrgServiceStub(channel)
        self.accounts = account_pb2_grpc.AccountServiceStub(channel)
        self.roles = role_pb2_grpc.RoleServiceStub(channel)
        self.invites = invite_pb2_grpc.InviteServiceStub(channel)
        self.databases = database_pb2_grpc.DatabaseServiceStub(channel)
        self.queries = query_pb2_grpc.QueryServiceStub(channel)
        self.properties = entity_pb2_grpc.PropertyServiceStub(channel)
        self.entities = entity_pb2_grpc.EntityServiceStub(channel)
        self.tasks = task_pb2_grpc.TaskServiceStub(channel)
        self.root = self.login(ROOT_EMAIL, ROOT_PASSWORD).token

    def login(self, email: str, password: str, **fields: Any) -> auth_pb2.LoginResponse:
        return self.auth.Login(auth_pb2.LoginRequest(email=email, password=password, **fields), timeout=TIMEOUT)

    def member(self, role: str, *, token: Optional[str] = None) -> tuple[str, account_pb2.Account]:
        """A new individual account of the root's org with a built-in role: (token, account)."""
        email = f"{unique(role)}@example.com"
        acc = self.accounts.CreateAccount(account_pb2.CreateAccountRequest(
            email=email, role=role, password=MEMBER_PASSWORD), metadata=md(token or self.root), timeout=TIMEOUT)
        return self.login(email, MEMBER_PASSWORD).token, acc

    def sql(self, token: str, database_id: str, text: str, **kw: Any) -> list[query_pb2.SqlResponse]:
        return list(self.queries.Sql(query_pb2.SqlRequest(database_id=database_id, sql=text), metadata=md(token),
                                     timeout=kw.pop("timeout", TIMEOUT), **kw))

    def rows(self, token: str, database_id: str, text: str) -> list[list[Any]]:
        """A SELECT's rows as plain Python (see `plain`)."""
        return [[plain(v) for v in row.values] for m in self.sql(token, database_id, text) if m.HasField("rows")
                for row in m.rows.rows]

    def pql(self, token: str, database_id: str, table: str, statement: str) -> list[query_pb2.PqlResult]:
        return list(self.queries.Pql(query_pb2.PqlRequest(database_id=database_id, table=table, statement=statement),
                                     metadata=md(token), timeout=TIMEOUT).results)


def plain(v: Any) -> Any:
    """A Value as (kind, python value), so tests compare the kind as well as the value."""
    kind = v.WhichOneof("kind")
    if kind is None or kind == "null":
        return ("null", None)
    if kind == "list":
        return ("list", [plain(x) for x in v.list.values])
    if kind == "decimal":
        return ("decimal", (v.decimal.value, v.decimal.scale))
    if kind == "timestamp":
        return ("timestamp", v.timestamp.ToJsonString())
    return (kind, getattr(v, kind))


# -- forged tokens (R14) -------------------------------------------------------------------

def signing_key(data_dir: Path) -> tuple[str, bytes]:
    """(kid, secret) of the running server's newest signing key, read from its meta.db."""
    con = sqlite3.connect(f"file:{data_dir / 'meta.db'}?mode=ro", uri=True, timeout=10)
    try:
        kid, secret = con.execute("SELECT kid, secret FROM signing_keys ORDER BY created_at DESC, kid LIMIT 1").fetchone()
    finally:
        con.close()
    return str(kid), bytes(secret)


def forge(data_dir: Path, account_id: str, org_id: str, role: str, *, expired: bool = False,
          secret: Optional[bytes] = None, alg: str = "HS256", audience: str = "roarbase-api") -> str:
    """A token with the server's claims, varied: expired, signed with another secret, alg
    "none" (unsigned), or for another audience."""
    kid, real = signing_key(data_dir)
    now = int(time.time())
    iat = now - 7200 if expired else now
    claims = {"iss": "roarbase", "aud": audience, "sub": account_id, "org": org_id, "role": role, "iat": iat,
              "nbf": iat, "exp": iat + 900, "jti": str(uuid.uuid4())}
    if alg == "none":
        return jwt.encode(claims, None, algorithm="none", headers={"kid": kid})
    return jwt.encode(claims, secret if secret is not None else real, algorithm=alg, headers={"kid": kid})
