"""Connections (seed 002, API.md §3.5): one per kind per org, holding the credentials a
source uses to reach its data.

Credentials are encrypted at rest (secretbox) and never returned in clear: every value
reads back as "***" — a deliberate deviation from the seed's example. A PUT that sends
"***" for a key keeps the stored value, so a read-modify-write round trip works.

Kinds: LOCAL is built in (no record, no credentials). S3 and GCS are implemented (boto3
names: aws_access_key_id, aws_secret_access_key, optional aws_session_token,
endpoint_url, region_name; GCS defaults endpoint_url to its XML API). The seed's other
kinds are stored and listed so CRUD round-trips, but testing or using them answers
WrongData CONNECTION_NOT_SUPPORTED: nothing pretends a remote call happened.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from server import policy
from server.service.principal import Principal
from server.service import secretbox
from server.service.common import check_object, dumps, loads
from server.service.context import ServiceContext
from server.service.errors import InvalidParameter, ResourceNotFound
from server.sources import backends
from server.sources.errors import not_supported, wrong_spec

LOCAL = "LOCAL"
IMPLEMENTED = ("S3", "GCS")
STORED_ONLY = ("SALESFORCE", "SAILTHRU", "ITERABLE", "BIGQUERY", "KLAVIYO", "SENDLANE", "M_PARTICLE", "SEGMENT",
               "MOVABLE_INK", "ITERABLE_FEED", "SHOPIFY", "BRAZE")
KINDS = (LOCAL, *IMPLEMENTED, *STORED_ONLY)
REDACTED = "***"
MAX_CREDENTIALS_BYTES = 16 << 10

LIST = "ConnectionService.ListConnections"
GET = "ConnectionService.GetConnection"
PUT = "ConnectionService.PutConnection"
DELETE = "ConnectionService.DeleteConnection"
TEST = "ConnectionService.TestConnection"


@dataclass(frozen=True)
class Connection:
    """A connection as callers see it: credential names, never values."""

    org_id: str
    kind: str
    credential_keys: tuple[str, ...]
    metadata: dict[str, Any]
    created_at: float
    updated_at: float

    def to_dict(self) -> dict[str, Any]:
        """The seed's shape, credentials redacted."""
        return {"connection": self.kind, "credentials": {k: REDACTED for k in self.credential_keys},
                "metadata": dict(self.metadata)}


def check_kind(value: Any) -> str:
    """A connection kind of the seed's enum (any case; returned upper-case). Raises
    WrongData WRONG_DATA_TYPE otherwise, as the seed says."""
    if isinstance(value, str) and value.upper() in KINDS:
        return value.upper()
    raise InvalidParameter(f"unknown connection {str(value)[:40]!r}; one of {', '.join(KINDS)}",
                           name="WRONG_DATA_TYPE", data={"type": "connection", "key": str(value)[:40]})


def _not_found(kind: str) -> ResourceNotFound:
    return ResourceNotFound(f"the connection {kind} does not exist: PUT it first", name="CONNECTION_NOT_FOUND",
                            data={"type": "connection", "key": kind})


def _local(org_id: str) -> Connection:
    return Connection(org_id, LOCAL, (), {}, 0.0, 0.0)


def _row(ctx: ServiceContext, org_id: str, kind: str) -> Any:
    return ctx.store.one("SELECT * FROM connections WHERE org_id = ? AND kind = ?", (org_id, kind))


def _connection(ctx: ServiceContext, row: Any) -> Connection:
    creds = secretbox.unseal(ctx, row["credentials"])
    return Connection(row["org_id"], row["kind"], tuple(sorted(creds)), loads(row["metadata"]), row["created_at"],
                      row["updated_at"])


def check_credentials(kind: str, credentials: Any) -> dict[str, Any]:
    """The credentials of a PUT, checked for shape: S3/GCS take boto3's names (two are
    required); the stored-only kinds any object of text values."""
    if not isinstance(credentials, Mapping):
        raise wrong_spec("credentials must be an object", key="credentials")
    if kind in IMPLEMENTED:
        return backends.check_credentials(credentials, kind)
    creds = check_object(credentials, "credentials")
    if len(dumps(creds)) > MAX_CREDENTIALS_BYTES:
        raise wrong_spec(f"credentials are limited to {MAX_CREDENTIALS_BYTES} bytes", key="credentials")
    return creds


@policy.checked(LIST)
def list_connections(ctx: ServiceContext, principal: Principal) -> list[Connection]:
    """The org's stored connections, by kind (LOCAL is built in and not listed)."""
    rows = ctx.store.all("SELECT * FROM connections WHERE org_id = ? ORDER BY kind", (principal.org_id,))
    return [_connection(ctx, r) for r in rows]


@policy.checked(GET)
def get_connection(ctx: ServiceContext, principal: Principal, kind: Any) -> Connection:
    """One connection (LOCAL: the built-in one). Raises WRONG_DATA_TYPE for a kind outside
    the seed's enum, CONNECTION_NOT_FOUND for one never PUT."""
    kind = check_kind(kind)
    if kind == LOCAL:
        return _local(principal.org_id)
    row = _row(ctx, principal.org_id, kind)
    if row is None:
        raise _not_found(kind)
    return _connection(ctx, row)


@policy.checked(PUT)
def put_connection(ctx: ServiceContext, principal: Principal, kind: Any, *, credentials: Any,
                   metadata: Any = None) -> Connection:
    """Create or replace a connection. A credential sent as "***" keeps its stored value."""
    kind = check_kind(kind)
    if kind == LOCAL:
        raise InvalidParameter("LOCAL is built in: it has no credentials to store", name="WRONG_DATA_TYPE",
                               data={"type": "connection", "key": LOCAL})
    meta = check_object(metadata if metadata is not None else {}, "metadata")
    now = ctx.now()
    with ctx.store.transaction() as st:
        row = _row(ctx, principal.org_id, kind)
        if isinstance(credentials, Mapping) and row is not None:
            stored = secretbox.unseal(ctx, row["credentials"])
            credentials = {k: (stored[k] if v == REDACTED and k in stored else v) for k, v in credentials.items()}
        if isinstance(credentials, Mapping) and any(v == REDACTED for v in credentials.values()):
            raise wrong_spec("a credential is \"***\" but there is no stored value to keep", key="credentials")
        sealed = secretbox.seal(ctx, check_credentials(kind, credentials))
        if row is None:
            st.execute("INSERT INTO connections (org_id, kind, credentials, metadata, created_at, updated_at,"
                       " updated_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (principal.org_id, kind, sealed, dumps(meta), now, now, principal.account_id))
        else:
            st.execute("UPDATE connections SET credentials = ?, metadata = ?, updated_at = ?, updated_by = ?"
                       " WHERE org_id = ? AND kind = ?", (sealed, dumps(meta), now, principal.account_id,
                                                           principal.org_id, kind))
    return _connection(ctx, _row(ctx, principal.org_id, kind))


@policy.checked(DELETE)
def delete_connection(ctx: ServiceContext, principal: Principal, kind: Any) -> None:
    """Forget a connection and its credentials (its sources stay, and answer
    CONNECTION_NOT_FOUND until it is PUT again)."""
    kind = check_kind(kind)
    if kind == LOCAL:
        raise InvalidParameter("LOCAL is built in and cannot be deleted", name="WRONG_DATA_TYPE",
                               data={"type": "connection", "key": LOCAL})
    cur = ctx.store.execute("DELETE FROM connections WHERE org_id = ? AND kind = ?", (principal.org_id, kind))
    if not cur.rowcount:
        raise _not_found(kind)


def find(ctx: ServiceContext, org_id: str, kind: str) -> Optional[Connection]:
    """An org's stored connection (credentials redacted), or None; for services that
    already checked the caller (export/import)."""
    row = _row(ctx, org_id, kind)
    return _connection(ctx, row) if row is not None else None


def credentials_of(ctx: ServiceContext, org_id: str, kind: str) -> dict[str, Any]:
    """The decrypted credentials of an org's connection, for the sources service only.
    Raises CONNECTION_NOT_FOUND."""
    if kind == LOCAL:
        return {}
    row = _row(ctx, org_id, kind)
    if row is None:
        raise _not_found(kind)
    return dict(secretbox.unseal(ctx, row["credentials"]))


def store_for(kind: str, credentials: Mapping[str, Any], spec: Any = None) -> backends.S3Store:
    """The object store of an implemented remote kind. Raises CONNECTION_NOT_SUPPORTED."""
    if kind not in IMPLEMENTED:
        raise not_supported(kind)
    return backends.S3Store(backends.check_credentials(credentials, kind), kind, spec)


@policy.checked(TEST)
def test_connection(ctx: ServiceContext, principal: Principal, kind: Any, *,
                    credentials: Any = None) -> dict[str, Any]:
    """Try credentials for real: the given ones, else the stored ones. S3/GCS list the
    buckets they see; LOCAL always works. Raises WRONG_CREDENTIALS (WrongData),
    CONNECTION_NOT_SUPPORTED, CONNECTION_NOT_FOUND, REMOTE_UNAVAILABLE."""
    kind = check_kind(kind)
    if kind == LOCAL:
        return {"connection": LOCAL, "status": "available"}
    if kind not in IMPLEMENTED:
        raise not_supported(kind)
    if credentials is None:
        credentials = credentials_of(ctx, principal.org_id, kind)
    elif isinstance(credentials, Mapping) and any(v == REDACTED for v in credentials.values()):
        stored = credentials_of(ctx, principal.org_id, kind)
        credentials = {k: (stored.get(k, v) if v == REDACTED else v) for k, v in credentials.items()}
    store_for(kind, check_credentials(kind, credentials)).check_connection()
    return {"connection": kind, "status": "available"}
