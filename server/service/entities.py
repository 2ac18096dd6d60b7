"""Items and users of the recommender-style data plane (API.md §3.4, seed 001 and its users
mirror): property schemas and entities of the caller's database, on engine.entities.

The database is the one the token selects (CM's "current" database, the `db` claim); a
caller whose token selects none may name one (`database`, gRPC and embedded use), checked
against its org like every database reference. Reads need the database RUNNING or BACKUP,
writes RUNNING (databases.check_queryable).

Frontend tokens read items freely but users only as their own end user (the one fixed at
login, `~me` in paths); they never write (policy table). Writes with wait=False are
validated here, then applied by a background task (server.service.tasks) whose status
and error can be read back.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import engine
from engine import EntityPage as Page, EntityTable, IdType, Property, ValueType
from server import policy
from server.service.principal import Principal
from server.service import databases, tasks
from server.service.context import ServiceContext
from server.service.errors import InvalidParameter, ResourceNotFound, Unauthorized, from_engine

KINDS = ("item", "user")
TABLES = {"item": databases.ITEMS_TABLE, "user": databases.USERS_TABLE}
ME = "~me"

LIST_PROPERTIES = "PropertyService.ListProperties"
GET_PROPERTY = "PropertyService.GetProperty"
CREATE_PROPERTY = "PropertyService.CreateProperty"
DELETE_PROPERTY = "PropertyService.DeleteProperty"
GET_ENTITY = "EntityService.GetEntity"
PUT_ENTITY = "EntityService.PutEntity"
PATCH_ENTITY = "EntityService.PatchEntity"
DELETE_ENTITY = "EntityService.DeleteEntity"
BULK_PUT = "EntityService.BulkPut"
BULK_PATCH = "EntityService.BulkPatch"
BULK_DELETE = "EntityService.BulkDelete"
BULK_WRITE = "EntityService.BulkWrite"
LIST_BY_IDS = "EntityService.ListByIds"
SCAN = "EntityService.ScanEntities"


@dataclass(frozen=True)
class Target:
    """The entity table a call works on, and the database it belongs to."""

    db: databases.Database
    table: EntityTable


@dataclass(frozen=True)
class Schema:
    """What a typed face (gRPC) needs to pack an entity: its id type and the value type of
    each property, by declared name."""

    id_type: IdType
    properties: dict[str, ValueType]


def _kind(kind: Any) -> str:
    if kind not in KINDS:
        raise InvalidParameter("kind must be 'item' or 'user'", data={"key": "kind"})
    return str(kind)


def target(ctx: ServiceContext, principal: Principal, kind: str, *, writes: bool,
           database: Optional[str] = None) -> Target:
    """The table of `kind` in the caller's database (policy already checked).

    Raises Unauthorized when no database is selected, ResourceNotFound for a database
    outside the caller's org or scope, IncorrectState when it cannot serve now."""
    ref = principal.database_id or database
    if ref is None:
        raise Unauthorized("this token selects no database: log in with db_id or db_name",
                           name="NO_DATABASE_SELECTED")
    if principal.database_id is not None and database is not None:
        if databases.load(ctx, principal, database).id != principal.database_id:
            raise databases._not_found(database)
    db = databases.load(ctx, principal, ref)
    if db.state in databases.GONE:
        raise databases._not_found(ref)
    databases.check_queryable(db, writes=writes)
    try:
        holder = databases.ensure_entity_tables(ctx, db)
        return Target(db, EntityTable.open(holder, TABLES[_kind(kind)]))
    except engine.EngineError as exc:
        raise from_engine(exc) from exc


def _engine_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except engine.EngineError as exc:
        raise from_engine(exc) from exc


# --- properties ---------------------------------------------------------------------------

@policy.checked(LIST_PROPERTIES)
def list_properties(ctx: ServiceContext, principal: Principal, kind: str, *,
                    database: Optional[str] = None) -> list[Property]:
    return target(ctx, principal, kind, writes=False, database=database).table.properties()


def schema(ctx: ServiceContext, principal: Optional[Principal], kind: str, *, method: str,
           database: Optional[str] = None) -> Schema:
    """The id type and property value types of `kind`'s table, for answering the call
    `method` (GET_ENTITY, LIST_BY_IDS, SCAN; its policy row is checked here too: the
    schema is never shown to a caller who may not make that call)."""
    policy.check(principal, method)
    assert principal is not None
    t = target(ctx, principal, kind, writes=False, database=database)
    return Schema(t.table.id_type, {p.name: p.value_type for p in t.table.properties()})


@policy.checked(GET_PROPERTY)
def get_property(ctx: ServiceContext, principal: Principal, kind: str, name: str, *,
                 database: Optional[str] = None) -> Property:
    t = target(ctx, principal, kind, writes=False, database=database)
    return _engine_call(t.table.property, name)


@policy.checked(CREATE_PROPERTY)
def create_property(ctx: ServiceContext, principal: Principal, kind: str, *, property_name: Any,
                    value_type: Any, repeated: Any = False, indexed: Any = False,
                    database: Optional[str] = None) -> Property:
    """Declare a property (names are case-insensitive; `indexed` is for users only)."""
    t = target(ctx, principal, kind, writes=True, database=database)
    if kind == "item" and indexed not in (False, None):
        raise InvalidParameter("indexed is a user-property option", name="WRONG_DATA_TYPE", data={"key": "indexed"})
    return _engine_call(t.table.create_property, property_name, value_type,
                        repeated=False if repeated is None else repeated, indexed=bool(indexed))


@policy.checked(DELETE_PROPERTY)
def delete_property(ctx: ServiceContext, principal: Principal, kind: str, name: str, *,
                    database: Optional[str] = None) -> None:
    """Drop a property and all its values."""
    t = target(ctx, principal, kind, writes=True, database=database)
    _engine_call(t.table.delete_property, name)


# --- entities -------------------------------------------------------------------------------

def _own_user(principal: Principal, kind: str, entity_id: Any) -> Any:
    """`~me` resolved to the token's end user; a frontend token reads no other user."""
    if kind == "user" and (entity_id == ME or principal.role == policy.FRONTEND):
        if principal.end_user is None:
            raise ResourceNotFound("this token has no end user (log in with frontend_user_id)",
                                   name="USER_NOT_FOUND", data={"type": "user", "key": str(entity_id)[:64]})
        if entity_id == ME:
            return principal.end_user
        return entity_id
    if entity_id == ME:
        raise ResourceNotFound(f"{ME} names an end user, not an item", name="ITEM_NOT_FOUND",
                               data={"type": "item", "key": ME})
    return entity_id


def _frontend_filter(principal: Principal, kind: str, table: EntityTable,
                     found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A frontend token sees only its own end user among users."""
    if kind != "user" or principal.role != policy.FRONTEND:
        return found
    return [u for u in found if principal.end_user is not None
            and table.id_type.key(u[table.id_field]) == principal.end_user]


@policy.checked(GET_ENTITY)
def get_entity(ctx: ServiceContext, principal: Principal, kind: str, entity_id: Any, *,
               properties: Optional[Sequence[str]] = None, database: Optional[str] = None) -> dict[str, Any]:
    """One entity: {<kind>_id, set properties}. Raises ResourceNotFound (ITEM_NOT_FOUND)."""
    entity_id = _own_user(principal, kind, entity_id)
    t = target(ctx, principal, kind, writes=False, database=database)
    found = _engine_call(t.table.get, entity_id, properties)
    if not _frontend_filter(principal, kind, t.table, [found]):
        raise ResourceNotFound(f"the user {str(entity_id)[:64]} does not exist", name="USER_NOT_FOUND",
                               data={"type": "user", "key": str(entity_id)[:64]})
    return found


@policy.checked(LIST_BY_IDS)
def list_entities(ctx: ServiceContext, principal: Principal, kind: str, ids: Any, *,
                  properties: Optional[Sequence[str]] = None, database: Optional[str] = None) -> list[dict[str, Any]]:
    """The entities among `ids` that exist (no error for missing ones)."""
    if not isinstance(ids, list):
        raise InvalidParameter(f"{kind}s_id must be a list of ids", name="WRONG_DATA_TYPE",
                               data={"key": f"{kind}s_id"})
    ids = [_own_user(principal, kind, i) if i == ME else i for i in ids]
    t = target(ctx, principal, kind, writes=False, database=database)
    return _frontend_filter(principal, kind, t.table, _engine_call(t.table.get_many, ids, properties))


@policy.checked(SCAN)
def scan_entities(ctx: ServiceContext, principal: Principal, kind: str, *, filters: Sequence[Any] = (),
                  cursor: Optional[str] = None, amt: Any = None, properties: Optional[Sequence[str]] = None,
                  database: Optional[str] = None) -> Page:
    """A page of entities matching every filter (cursor pagination)."""
    t = target(ctx, principal, kind, writes=False, database=database)
    return _engine_call(t.table.scan, filters, cursor=cursor, amt=amt, properties=properties)


def _write(ctx: ServiceContext, principal: Principal, kind: str, method: str, name: str, *, wait: bool,
           database: Optional[str], validate: Callable[[EntityTable], Any],
           apply: Callable[[EntityTable], Any]) -> Any:
    """Run a write now (returns None), or (wait=False) validate it now and hand it to a
    background task (returned) — so a bad request still gets its error at once, never a
    silent failure."""
    policy.check(principal, method)
    t = target(ctx, principal, kind, writes=True, database=database)
    if wait:
        _engine_call(apply, t.table)
        return None
    _engine_call(validate, t.table)

    def job() -> None:
        db = databases.load(ctx, principal, t.db.id)
        databases.check_queryable(db, writes=True)
        _engine_call(apply, t.table)

    return tasks.start(ctx, principal, t.db.id, name, job)


@policy.checked(PUT_ENTITY)
def put_entity(ctx: ServiceContext, principal: Principal, kind: str, entity_id: Any,
               values: Any, *, wait: bool = True, database: Optional[str] = None) -> Any:
    """Create or replace one entity's values. Returns None, or the task when not waiting."""
    entity = _entity(kind, entity_id, values)
    return _put(ctx, principal, kind, [entity], None, wait=wait, database=database, method=PUT_ENTITY)


@policy.checked(PATCH_ENTITY)
def patch_entity(ctx: ServiceContext, principal: Principal, kind: str, entity_id: Any, values: Any, *,
                 create_if_missing: bool = False, database: Optional[str] = None) -> dict[str, bool]:
    """Update some of one entity's values: {<kind>_created, <kind>_modified}."""
    entity = _entity(kind, entity_id, values)
    t = target(ctx, principal, kind, writes=True, database=database)
    table = t.table
    key = _engine_call(table.id_type.key, entity_id)
    before = _engine_call(table.get_many, [key], keys_checked=True)
    created = _engine_call(table.patch, [entity], create_if_missing=create_if_missing)[0]
    after = _engine_call(table.get_many, [key], keys_checked=True)
    modified = not created and _normal(before) != _normal(after)
    return {f"{kind}_created": created, f"{kind}_modified": modified}


def _normal(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entities with their lists as sets: a set-backed field may reorder."""
    return [{k: (sorted(map(repr, v)) if isinstance(v, list) else v) for k, v in e.items()} for e in found]


def _entity(kind: str, entity_id: Any, values: Any) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise InvalidParameter(f"{kind} must be an object of property values", name="WRONG_DATA_TYPE",
                               data={"key": kind})
    if f"{kind}_id" in values:
        raise InvalidParameter(f"give the {kind} id in the path, not in the body", name="WRONG_DATA_TYPE",
                               data={"key": f"{kind}_id"})
    return {f"{kind}_id": entity_id, **values}


@policy.checked(BULK_PUT)
def put_entities(ctx: ServiceContext, principal: Principal, kind: str, entities: Any,
                 m2m: Any = None, *, wait: bool = True, database: Optional[str] = None) -> Any:
    """Create or replace many entities, all or nothing."""
    return _put(ctx, principal, kind, entities, m2m, wait=wait, database=database, method=BULK_PUT)


def _put(ctx: ServiceContext, principal: Principal, kind: str, entities: Any, m2m: Any, *, wait: bool,
         database: Optional[str], method: str) -> Any:
    _check_m2m(kind, m2m)
    return _write(ctx, principal, kind, method, f"{kind}s_put", wait=wait, database=database,
                  validate=lambda table: table.validate(entities, m2m, patch=False),
                  apply=lambda table: table.put(entities, m2m))


@policy.checked(BULK_PATCH)
def patch_entities(ctx: ServiceContext, principal: Principal, kind: str, entities: Any,
                   m2m: Any = None, *, create_if_missing: bool = False, wait: bool = True,
                   database: Optional[str] = None) -> Any:
    """Update many entities' given values, all or nothing (ITEM_NOT_FOUND for a missing
    one unless create_if_missing)."""
    _check_m2m(kind, m2m)
    return _write(ctx, principal, kind, BULK_PATCH, f"{kind}s_patch", wait=wait, database=database,
                  validate=lambda table: table.validate(entities, m2m, patch=True),
                  apply=lambda table: table.patch(entities, m2m, create_if_missing=create_if_missing))


@policy.checked(DELETE_ENTITY)
def delete_entity(ctx: ServiceContext, principal: Principal, kind: str, entity_id: Any, *,
                  database: Optional[str] = None) -> None:
    """Delete one entity's values (and the entity). Unknown ids are not an error."""
    t = target(ctx, principal, kind, writes=True, database=database)
    _engine_call(t.table.delete, [entity_id])


@policy.checked(BULK_DELETE)
def delete_entities(ctx: ServiceContext, principal: Principal, kind: str, ids: Any, *,
                    database: Optional[str] = None) -> int:
    """Delete many entities; returns how many existed."""
    if not isinstance(ids, list):
        raise InvalidParameter(f"{kind}s_id must be a list of ids", name="WRONG_DATA_TYPE",
                               data={"key": f"{kind}s_id"})
    t = target(ctx, principal, kind, writes=True, database=database)
    return int(_engine_call(t.table.delete, ids))


@policy.checked(BULK_WRITE)
def write_chunk(ctx: ServiceContext, principal: Principal, kind: str, entities: Any, *, patch: bool,
                create_if_missing: bool = False, database: Optional[str] = None) -> int:
    """One chunk of a streamed bulk write (gRPC BulkWrite): a put, or a patch, of
    `entities`, committed now and all or nothing, exactly as put_entities /
    patch_entities with wait=True. Returns how many entities it wrote."""
    if not isinstance(entities, list):
        raise InvalidParameter(f"{kind}s must be a list", name="WRONG_DATA_TYPE", data={"key": f"{kind}s"})

    def apply(table: EntityTable) -> Any:
        if patch:
            return table.patch(entities, create_if_missing=create_if_missing)
        return table.put(entities)

    _write(ctx, principal, kind, BULK_WRITE, f"{kind}s_{'patch' if patch else 'put'}", wait=True, database=database,
           validate=lambda table: table.validate(entities, patch=patch), apply=apply)
    return len(entities)


def _check_m2m(kind: str, m2m: Any) -> None:
    if m2m is not None and not isinstance(m2m, list):
        raise InvalidParameter(f"{kind}s_m2m must be a list", name="WRONG_DATA_TYPE", data={"key": f"{kind}s_m2m"})
