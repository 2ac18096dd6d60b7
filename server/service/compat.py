"""The FeatureBase-compatible query path, `POST /sql`: SQL against one configured database
(API.md §4: `compat_database`, default "default"), which is created on first use.

Who runs it: a caller with a token or API key runs it in their own org (a token scoped to
a database runs it there); without credentials — allowed only when the HTTP listener is
on loopback (the featurebase client sends none over plain HTTP) — it runs as the
bootstrap org acting with the backend role (query read/write, nothing else).
"""
from __future__ import annotations

import threading
from typing import Optional

from server import policy
from server.service.principal import Principal
from server.service import databases, query, tokens
from server.service.context import ServiceContext
from server.service.errors import ResourceAlreadyExists, ResourceNotFound

_create_lock = threading.Lock()


def compat_database(ctx: ServiceContext, principal: Principal, name: str) -> str:
    """The id of the compat database of the principal's org (or of its token's database),
    creating it when it is missing and someone with the right to create it asked: the
    caller, or the org owner on the unauthenticated loopback path."""
    if principal.database_id:
        return principal.database_id
    row = ctx.store.one(f"SELECT id FROM databases WHERE org_id = ? AND name = ? AND state != '{databases.DELETED}'",
                        (principal.org_id, name))
    if row is not None:
        return str(row["id"])
    creator: Optional[Principal] = principal
    if principal.via == "owner":
        creator = tokens.owner_principal(ctx)
    if not policy.allowed(creator, "DatabaseService.CreateDatabase"):
        raise ResourceNotFound(f"database {name} not found", data={"type": "database", "key": name})
    with _create_lock:
        try:
            return databases.create_database(ctx, creator, name=name,
                                             description="FeatureBase-compatible /sql database").id
        except ResourceAlreadyExists:
            return databases.get_database_by_name(ctx, creator, name).id


def sql(ctx: ServiceContext, principal: Optional[Principal], text: object, *, database_name: str,
        timeout: Optional[float] = None, cancel: Optional[threading.Event] = None) -> query.SqlAnswer:
    """Run SQL on the compat path. `principal` None means the caller is anonymous on
    loopback (the face decides that is allowed)."""
    caller = principal if principal is not None else tokens.owner_principal(ctx, acting_as=policy.BACKEND)
    policy.check(caller, "QueryService.Sql")
    database_id = compat_database(ctx, caller, database_name)
    return query.sql(ctx, caller, database_id, text, timeout=timeout, cancel=cancel)
