"""Databases: each one an engine data directory of its own (`<data_dir>/databases/<id>/`,
named by the server-made UUID, never by the user's name), with FB's state machine
(API.md §3.3):

    CREATING -> PROVISIONING -> RUNNING            (any -> FAILED on a provisioning error)
    RUNNING <-> BACKUP          export: reads allowed, writes IncorrectState
    RUNNING -> RESTORING -> RUNNING | FROZEN       import; FROZEN if the revert failed
    DELETE: DELETING -> DEPROVISIONING -> DELETED  tombstone kept config.tombstone_days

Only RUNNING answers queries (BACKUP reads too); every other state raises IncorrectState.
Lookups are keyed by (org, id): another org's database answers ResourceNotFound exactly
like a missing one, and a principal scoped to one database sees only that one.
"""
from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, Optional

import engine
from engine import EntityTable
from server import policy
from server.service import tokens
from server.service.principal import Principal
from server.ids import parse_id
from server.service.common import Page, page_offset, check_name, check_object, check_text, dumps, id_b64, iso, loads, \
    merge_patch, new_id, paginate
from server.service.context import ServiceContext
from server.service.errors import (
    IncorrectState,
    InvalidParameter,
    RelatedResourceNotFound,
    ResourceAlreadyExists,
    ResourceLimitExceeded,
    ResourceNotFound,
)

CREATING, PROVISIONING, RUNNING = "CREATING", "PROVISIONING", "RUNNING"
BACKUP, RESTORING, FAILED, FROZEN = "BACKUP", "RESTORING", "FAILED", "FROZEN"
DELETING, DEPROVISIONING, DELETED = "DELETING", "DEPROVISIONING", "DELETED"
STATES = (CREATING, PROVISIONING, RUNNING, RESTORING, BACKUP, DELETING, DEPROVISIONING, DELETED, FAILED, FROZEN)

TRANSITIONS: Mapping[str, frozenset[str]] = MappingProxyType({
    CREATING: frozenset({PROVISIONING, FAILED, DELETING}),
    PROVISIONING: frozenset({RUNNING, FAILED}),
    RUNNING: frozenset({BACKUP, RESTORING, DELETING, FAILED}),
    BACKUP: frozenset({RUNNING, FAILED}),
    RESTORING: frozenset({RUNNING, FROZEN, FAILED}),
    FAILED: frozenset({DELETING}),
    FROZEN: frozenset({DELETING}),
    DELETING: frozenset({DEPROVISIONING}),
    DEPROVISIONING: frozenset({DELETED, FAILED}),
    DELETED: frozenset(),
})
READABLE = frozenset({RUNNING, BACKUP})
WRITABLE = frozenset({RUNNING})
GONE = frozenset({DELETING, DEPROVISIONING, DELETED})

DEFAULT_ID_TYPE = "uint64"
DEFAULT_SESSION_ID_TYPE = "uuid"
# CM flexible ids (reference/crossing-minds-api.md §1); N is 1..64.
ID_TYPE_RE = re.compile(r"(u?int(8|16|32|64)|uuid|(hex|urlsafe|bytes)([1-9]|[1-5][0-9]|6[0-4]))\Z")


@dataclass(frozen=True)
class Database:
    id: str
    org_id: str
    name: str
    description: str
    state: str
    state_reason: str
    item_id_type: str
    user_id_type: str
    session_id_type: str
    created_by: str
    created_at: float
    owned_by: str
    updated_at: float
    updated_by: str
    deleted_at: Optional[float] = None
    database_options: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    core_config: dict[str, Any] = field(default_factory=dict)

    @property
    def cm_status(self) -> Optional[str]:
        """The CM status (API.md C3): ready, pending, or None (gone: 404 on /v1)."""
        if self.state in GONE:
            return None
        return "ready" if self.state == RUNNING else "pending"

    @property
    def warnings(self) -> list[str]:
        return {FAILED: ["database_failed"], FROZEN: ["database_frozen"]}.get(self.state, [])

    @property
    def id_b64(self) -> str:
        """The /v1 form of the id (unpadded base64url of the UUID's bytes)."""
        return id_b64(self.id)

    def to_dict(self) -> dict[str, Any]:
        """FB's Database shape (v2) with the CM fields of the union body (C10)."""
        return {"id": self.id, "name": self.name, "database_status": self.state,
                "database_options": dict(self.database_options), "org_id": self.org_id,
                "created_by": self.created_by, "created_at": iso(self.created_at), "owned_by": self.owned_by,
                "updated_at": iso(self.updated_at), "updated_by": self.updated_by,
                "item_id_type": self.item_id_type, "user_id_type": self.user_id_type,
                "session_id_type": self.session_id_type, "description": self.description,
                "metadata": dict(self.metadata), "core_config": dict(self.core_config)}


def _database(row: Any) -> Database:
    return Database(row["id"], row["org_id"], row["name"], row["description"], row["state"], row["state_reason"],
                    row["item_id_type"], row["user_id_type"], row["session_id_type"], row["created_by"],
                    row["created_at"], row["owned_by"], row["updated_at"], row["updated_by"], row["deleted_at"],
                    loads(row["database_options"]), loads(row["metadata"]), loads(row["core_config"]))


def _not_found(ref: Any) -> ResourceNotFound:
    return ResourceNotFound("database not found", name="DB_NOT_FOUND",
                            data={"type": "database", "key": str(ref)[:64]})


def _tombstone_expired(ctx: ServiceContext, db: Database) -> bool:
    return db.state == DELETED and ctx.now() - (db.deleted_at or 0.0) > ctx.config.tombstone_days * 86400


def load(ctx: ServiceContext, principal: Principal, database_id: Any) -> Database:
    """A database the principal may see (its org; its scope if the token has one), by id
    in either form (UUID or base64url) or by the name of a live database of the org (an
    id wins when a name happens to read as one). No policy check: callers make theirs.

    Raises ResourceNotFound — for a missing id or name, another org's id, an id outside
    the principal's database scope and a tombstone past its retention alike.
    """
    ident = parse_id(database_id)
    row = None
    if ident is not None:
        row = ctx.store.one("SELECT * FROM databases WHERE id = ? AND org_id = ?", (ident, principal.org_id))
    if row is None and isinstance(database_id, str) and database_id:
        row = ctx.store.one(f"SELECT * FROM databases WHERE name = ? AND org_id = ? AND state != '{DELETED}'",
                            (database_id, principal.org_id))
    if row is None or (principal.database_id is not None and principal.database_id != row["id"]):
        raise _not_found(database_id)
    db = _database(row)
    if _tombstone_expired(ctx, db):
        raise _not_found(database_id)
    return db


def _get(ctx: ServiceContext, database_id: str) -> Database:
    row = ctx.store.one("SELECT * FROM databases WHERE id = ?", (database_id,))
    if row is None:
        raise _not_found(database_id)
    return _database(row)


def check_id_type(value: Any, what: str) -> str:
    if not isinstance(value, str) or not ID_TYPE_RE.match(value):
        raise InvalidParameter(f"{what} must be one of int8..int64, uint8..uint64, uuid, hexN, urlsafeN, bytesN"
                               " (N = 1..64)", name="WRONG_DATA_TYPE", data={"type": "database", "key": what})
    return value


@policy.checked("DatabaseService.CreateDatabase")
def create_database(ctx: ServiceContext, principal: Principal, *, name: Any, description: Any = "",
                    database_options: Any = None, item_id_type: Any = None, user_id_type: Any = None,
                    session_id_type: Any = None, metadata: Any = None, core_config: Any = None,
                    provision: bool = True) -> Database:
    """Create a database in the caller's org (API.md C10 union body; absent id types
    default to uint64/uint64/uuid; database_options stored verbatim).

    With provision (default) the engine directory is made before returning and the
    result is RUNNING (or FAILED); without, it is CREATING and provision_database()
    finishes it (WatchDatabase shows the steps).

    Raises:
        InvalidParameter: bad name (INVALID_NAME) or id type (WRONG_DATA_TYPE), bad fields.
        ResourceAlreadyExists: DUPLICATED_DB_NAME. ResourceLimitExceeded: the org holds
        limits.max_databases_per_org databases already.
    """
    db_name = check_name(name, "database")
    check_text(description, "description", max_len=4096)
    types = [check_id_type(v if v is not None else default, what) for v, default, what in (
        (item_id_type, DEFAULT_ID_TYPE, "item_id_type"), (user_id_type, DEFAULT_ID_TYPE, "user_id_type"),
        (session_id_type, DEFAULT_SESSION_ID_TYPE, "session_id_type"))]
    options = check_object(database_options if database_options is not None else {}, "database_options")
    meta = check_object(metadata if metadata is not None else {}, "metadata")
    core = check_object(core_config if core_config is not None else {}, "core_config")
    database_id, now = new_id(), ctx.now()
    with ctx.store.transaction() as st:
        if st.one(f"SELECT 1 FROM databases WHERE org_id = ? AND name = ? AND state != '{DELETED}'",
                  (principal.org_id, db_name)):
            raise ResourceAlreadyExists(f"database {db_name} already exists", name="DUPLICATED_DB_NAME",
                                        data={"type": "database", "key": db_name})
        counted = st.one(f"SELECT COUNT(*) AS n FROM databases WHERE org_id = ? AND state != '{DELETED}'",
                         (principal.org_id,))
        assert counted is not None  # COUNT(*) always yields a row
        live = counted["n"]
        limit = ctx.config.limits.max_databases_per_org
        if live >= limit:
            raise ResourceLimitExceeded(f"the org has {live} databases; the limit is {limit}",
                                        data={"type": "database", "key": "max_databases_per_org", "limit": limit})
        st.execute(
            "INSERT INTO databases (id, org_id, name, description, state, database_options, item_id_type,"
            " user_id_type, session_id_type, metadata, core_config, created_by, created_at, owned_by, updated_at,"
            " updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (database_id, principal.org_id, db_name, description, CREATING, dumps(options), *types, dumps(meta),
             dumps(core), principal.account_id, now, principal.account_id, now, principal.account_id))
    ctx.notify()
    if provision:
        return provision_database(ctx, database_id)
    return _get(ctx, database_id)


def set_state(ctx: ServiceContext, database_id: str, new_state: str, *, reason: str = "",
              expect: Optional[str] = None) -> Database:
    """Move a database along the state machine (TRANSITIONS) and wake watchers. For the
    service's own steps (provisioning, export/import, deletion): no principal.

    Raises IncorrectState for a transition the machine does not have (or when the state is
    not `expect`), ResourceNotFound for an unknown id.
    """
    if new_state not in TRANSITIONS:
        raise InvalidParameter(f"unknown database state {new_state!r}")
    with ctx.store.transaction() as st:
        db = _get(ctx, database_id)
        if (expect is not None and db.state != expect) or new_state not in TRANSITIONS[db.state]:
            raise IncorrectState(f"database {db.name} is {db.state}; it cannot become {new_state}",
                                 data={"type": "database", "key": db.id, "state": db.state})
        now = ctx.now()
        st.execute("UPDATE databases SET state = ?, state_reason = ?, updated_at = ?,"
                   " deleted_at = CASE WHEN ? = 'DELETED' THEN ? ELSE deleted_at END WHERE id = ?",
                   (new_state, reason, now, new_state, now, database_id))
    ctx.notify()
    return _get(ctx, database_id)


def provision_database(ctx: ServiceContext, database_id: str) -> Database:
    """CREATING -> PROVISIONING -> RUNNING: open (creating) the engine directory. An error
    leaves the database FAILED with the reason (the error is not raised: the resource says
    what happened)."""
    db = _get(ctx, database_id)
    if db.state == CREATING:
        set_state(ctx, database_id, PROVISIONING)
    elif db.state != PROVISIONING:
        raise IncorrectState(f"database {db.name} is {db.state}; only CREATING databases are provisioned",
                             data={"type": "database", "key": db.id, "state": db.state})
    try:
        ctx.engine(database_id)
    except (engine.EngineError, OSError) as exc:
        return set_state(ctx, database_id, FAILED, reason=f"provisioning failed: {exc}")
    return set_state(ctx, database_id, RUNNING)


ITEMS_TABLE, USERS_TABLE = "items", "users"


def ensure_entity_tables(ctx: ServiceContext, db: Database) -> engine.Holder:
    """The database's engine, with its `items` and `users` entity tables (keyed by the
    database's item_id_type / user_id_type) created if missing. They are made on the first
    use of the /v1 data plane, so a database used only through SQL/PQL keeps just the
    tables its users made."""
    holder = ctx.engine(db.id)
    for name, kind, id_type in ((ITEMS_TABLE, "item", db.item_id_type), (USERS_TABLE, "user", db.user_id_type)):
        try:
            holder.index(name)
        except engine.IndexNotFoundError:
            try:
                EntityTable.create(holder, name, kind=kind, id_type=id_type)
            except engine.IndexExistsError:   # made concurrently
                pass
    return holder


def counters(ctx: ServiceContext, db: Database) -> dict[str, int]:
    """CM's counters: how many items, users and ratings the database holds (0 for a
    table that does not exist)."""
    try:
        holder = ctx.engine(db.id)
    except IncorrectState:       # off line for a moment (being restored)
        return {"item": 0, "user": 0, "rating": 0}
    out = {}
    for key, name in (("item", ITEMS_TABLE), ("user", USERS_TABLE), ("rating", "ratings")):
        try:
            out[key] = holder.query(name, "Count(All())")[0]
        except (engine.IndexNotFoundError, engine.ExistenceNotTrackedError):
            out[key] = 0
    return out


@policy.checked("DatabaseService.GetDatabase")
def get_database(ctx: ServiceContext, principal: Principal, database_id: str) -> Database:
    """A database of the caller's org by id (UUID or base64url). Deleted ones are shown
    (state DELETED) until their tombstone expires. Raises ResourceNotFound."""
    return load(ctx, principal, database_id)


@policy.checked("DatabaseService.GetDatabase")
def get_database_by_name(ctx: ServiceContext, principal: Principal, name: str) -> Database:
    """A live (not DELETED) database of the caller's org by name (CM's db_name)."""
    row = ctx.store.one(f"SELECT id FROM databases WHERE org_id = ? AND name = ? AND state != '{DELETED}'",
                        (principal.org_id, name if isinstance(name, str) else ""))
    if row is None:
        raise _not_found(name)
    return load(ctx, principal, row["id"])


@policy.checked("DatabaseService.ListDatabases")
def list_databases(ctx: ServiceContext, principal: Principal, *, limit: Optional[int] = None,
                   next_token: Optional[str] = None, include_deleted: bool = False) -> Page[Database]:
    """The caller's org's databases, oldest first ({next, resources}); DELETED ones only
    with include_deleted (and only until their tombstone expires)."""
    sql = "SELECT * FROM databases WHERE org_id = ?"
    params: list[Any] = [principal.org_id]
    if principal.database_id is not None:
        sql += " AND id = ?"
        params.append(principal.database_id)
    if include_deleted:
        sql += f" AND (state != '{DELETED}' OR deleted_at >= ?)"
        params.append(ctx.now() - ctx.config.tombstone_days * 86400)
    else:
        sql += f" AND state != '{DELETED}'"
    rows, nxt = paginate(ctx, sql, params, limit=limit, next_token=next_token)
    return Page([_database(r) for r in rows], nxt)


@policy.checked("DatabaseService.ListDatabases")
def list_page(ctx: ServiceContext, principal: Principal, *, page: Any = 1,
              amt: Any = 10) -> tuple[list[Database], bool]:
    """CM's page/amt listing of the org's live databases (oldest first): (page, has_next).
    page >= 1, 1 <= amt <= 64 (seed 000)."""
    for value, key, hi in ((page, "page", None), (amt, "amt", 64)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (hi is not None and value > hi):
            raise InvalidParameter(f"{key} must be an integer from 1{f' to {hi}' if hi else ''}",
                                   name="WRONG_DATA_TYPE", data={"key": key})
    offset = page_offset(page, amt)
    if offset is None:
        return [], False
    sql, params = f"SELECT * FROM databases WHERE org_id = ? AND state NOT IN {tuple(sorted(GONE))!r}", \
        [principal.org_id]
    if principal.database_id is not None:
        sql += " AND id = ?"
        params.append(principal.database_id)
    rows = ctx.store.all(sql + " ORDER BY created_at, id LIMIT ? OFFSET ?", (*params, amt + 1, offset))
    return [_database(r) for r in rows[:amt]], len(rows) > amt


_UNSET: Any = object()


@policy.checked("DatabaseService.UpdateDatabase")
def update_database(ctx: ServiceContext, principal: Principal, database_id: str, *, name: Any = _UNSET,
                    owned_by: Any = _UNSET, description: Any = _UNSET, core_config: Any = _UNSET,
                    metadata: Any = _UNSET, preserve: bool = True) -> Database:
    """Change a database's name, owner, description, core_config or metadata (with
    preserve, metadata is an RFC 7396 merge patch; without, a replacement).

    Raises:
        ResourceNotFound. ResourceAlreadyExists (DUPLICATED_DB_NAME).
        RelatedResourceNotFound: owned_by is not an account of the org.
        IncorrectState: the database is being deleted or gone.
    """
    changes: dict[str, Any] = {}
    if name is not _UNSET:
        changes["name"] = check_name(name, "database")
    if description is not _UNSET:
        changes["description"] = check_text(description, "description", max_len=4096)
    if core_config is not _UNSET:
        changes["core_config"] = dumps(check_object(core_config, "core_config"))
    with ctx.store.transaction() as st:
        db = load(ctx, principal, database_id)
        if db.state in GONE:
            raise IncorrectState(f"database {db.name} is {db.state}",
                                 data={"type": "database", "key": db.id, "state": db.state})
        if owned_by is not _UNSET:
            owner = parse_id(owned_by)
            if owner is None or not st.one("SELECT 1 FROM accounts WHERE id = ? AND org_id = ?",
                                           (owner, principal.org_id)):
                raise RelatedResourceNotFound("owned_by is not an account of the org", name="ACCOUNT_NOT_FOUND",
                                              data={"type": "account", "key": str(owned_by)[:64]})
            changes["owned_by"] = owner
        if "name" in changes and changes["name"] != db.name and st.one(
                f"SELECT 1 FROM databases WHERE org_id = ? AND name = ? AND state != '{DELETED}'",
                (principal.org_id, changes["name"])):
            raise ResourceAlreadyExists(f"database {changes['name']} already exists", name="DUPLICATED_DB_NAME",
                                        data={"type": "database", "key": changes["name"]})
        if metadata is not _UNSET:
            patch = check_object(metadata, "metadata")
            changes["metadata"] = dumps(merge_patch(db.metadata, patch) if preserve else patch)
        changes.update(updated_at=ctx.now(), updated_by=principal.account_id)
        assignments = ", ".join(f"{k} = ?" for k in changes)
        st.execute(f"UPDATE databases SET {assignments} WHERE id = ?", (*changes.values(), db.id))
    return _get(ctx, db.id)


DELETABLE = frozenset(s for s, targets in TRANSITIONS.items() if DELETING in targets)


@policy.checked("DatabaseService.DeleteDatabase")
def delete_database(ctx: ServiceContext, principal: Principal, database_id: str, *,
                    wait: bool = False) -> Database:
    """Start deleting a database: DELETING at once, and every token and API key scoped to
    it is revoked. The files go in deprovision_database(), run here with `wait` (v1 waits,
    then 204) or by the caller in the background (v2 answers 202 with this resource).

    Raises:
        ResourceNotFound: unknown here, or already DELETED.
        IncorrectState: BACKUP/RESTORING/PROVISIONING in progress, or already deleting.
    """
    db = load(ctx, principal, database_id)
    if db.state == DELETED:
        raise _not_found(database_id)
    if db.state not in DELETABLE:
        raise IncorrectState(f"database {db.name} is {db.state}; it cannot be deleted now",
                             data={"type": "database", "key": db.id, "state": db.state})
    with ctx.store.transaction() as st:
        db = set_state(ctx, db.id, DELETING, expect=db.state)
        st.execute("UPDATE databases SET updated_by = ? WHERE id = ?", (principal.account_id, db.id))
        tokens.revoke_database_tokens(ctx, db.id)
    if wait:
        return deprovision_database(ctx, db.id)
    return _get(ctx, db.id)


def deprovision_database(ctx: ServiceContext, database_id: str) -> Database:
    """DELETING -> DEPROVISIONING -> DELETED: close the engine, remove its directory, keep
    the row as a tombstone. A removal error leaves it FAILED (deletable again)."""
    db = _get(ctx, database_id)
    if db.state == DELETING:
        set_state(ctx, database_id, DEPROVISIONING)
    elif db.state != DEPROVISIONING:
        raise IncorrectState(f"database {db.name} is {db.state}; only DELETING databases are deprovisioned",
                             data={"type": "database", "key": db.id, "state": db.state})
    try:
        ctx.close_engine(database_id, retire=True)
        shutil.rmtree(ctx.engine_path(database_id), ignore_errors=False)
    except FileNotFoundError:
        pass
    except (engine.EngineError, OSError) as exc:
        return set_state(ctx, database_id, FAILED, reason=f"deprovisioning failed: {exc}")
    try:
        from server.service import restore_points

        restore_points.discard(ctx, database_id)      # a FROZEN database's restore point
    except (engine.EngineError, OSError) as exc:
        return set_state(ctx, database_id, FAILED, reason=f"deprovisioning failed: {exc}")
    return set_state(ctx, database_id, DELETED)


@policy.checked("DatabaseService.WatchDatabase")
def wait_for_change(ctx: ServiceContext, principal: Principal, database_id: str, *,
                    known_state: Optional[str], timeout: float) -> Database:
    """WatchDatabase's step: the database as soon as its state differs from known_state
    (at once when it already does, or known_state is None), or after timeout seconds of
    wall time. Loop until RUNNING or a terminal state (DELETED, FAILED, FROZEN)."""
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        with ctx.changed:
            seen = ctx.version
        # Never hold `changed` while reading the store: a writer may notify from inside
        # a transaction, holding the store's lock.
        db = load(ctx, principal, database_id)
        remaining = deadline - time.monotonic()
        if known_state is None or db.state != known_state or remaining <= 0:
            return db
        with ctx.changed:
            ctx.changed.wait_for(lambda: ctx.version != seen, timeout=remaining)


def check_queryable(db: Database, *, writes: bool) -> None:
    """Raise IncorrectState unless the database answers this query now: RUNNING, or
    BACKUP for a read."""
    if db.state not in (WRITABLE if writes else READABLE):
        what = "written" if writes else "queried"
        raise IncorrectState(f"database {db.name} is {db.state}; it cannot be {what} now",
                             name="DATABASE_NOT_RUNNING",
                             data={"type": "database", "key": db.id, "state": db.state})


def recover(ctx: ServiceContext) -> list[Database]:
    """At start: finish what a stopped server left half-done. Provisioning resumes,
    deletion resumes, an interrupted export returns to RUNNING, an interrupted import is
    reverted from its restore point (transfers.recover_import: RUNNING exactly as before
    it, or FROZEN if that fails). Returns the databases it touched."""
    touched = []
    for row in ctx.store.all("SELECT id, state FROM databases WHERE state IN (?, ?, ?, ?, ?, ?)",
                             (CREATING, PROVISIONING, BACKUP, RESTORING, DELETING, DEPROVISIONING)):
        ident, state = row["id"], row["state"]
        if state in (CREATING, PROVISIONING):
            touched.append(provision_database(ctx, ident))
        elif state == BACKUP:
            touched.append(set_state(ctx, ident, RUNNING, reason="export interrupted by a restart"))
        elif state == RESTORING:
            # An import's restore point is durable: put it back (unchanged, RUNNING), or
            # serve again when the import had not changed anything yet.
            from server.service import transfers

            touched.append(transfers.recover_import(ctx, ident))
        else:
            touched.append(deprovision_database(ctx, ident))
    from server.service import transfers

    transfers.discard_leftovers(ctx)
    return touched


def purge_tombstones(ctx: ServiceContext) -> int:
    """Forget DELETED databases whose tombstone expired; returns how many."""
    cutoff = ctx.now() - ctx.config.tombstone_days * 86400
    cur = ctx.store.execute(f"DELETE FROM databases WHERE state = '{DELETED}' AND deleted_at < ?", (cutoff,))
    return int(cur.rowcount)


def engine_for(ctx: ServiceContext, db: Database) -> engine.Holder:
    """The open engine of a database that passed check_queryable."""
    return ctx.engine(db.id)

