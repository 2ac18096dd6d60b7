"""Sources — seed 002's "tables" (API.md C9): what to import into (or export from) a
database, from which connection, in which format.

    PATCH  create, or shallow-merge the given top-level objects into the stored source
    GET / DELETE / list (per connection, deprecated; or filtered, page/amt)
    test   preview and validate: read the header and first rows, apply columns_mapping,
           type-check against the database's properties, report per-target findings
    run    (our addition) import now as a background task; cancel; the last run
    upload (LOCAL) the one-time url a client PUTs the file to

A source belongs to the token's database (CM's current database). Its `status` is the
seed's enum, kept honest: it is set from what the server really found — a probe after
every PATCH (LOCAL: is the file there; S3/GCS: a HEAD of the object or bucket), every test
and every run — never from the client (a `status` in a PATCH body is ignored, with a
warning). Connections other than LOCAL, S3 and GCS are stored but answer
CONNECTION_NOT_SUPPORTED and stay `unknown_error`.

Files the server keeps for a source live in <data_dir>/sources/<source id>/ (the upload,
the last LOCAL export), named by server-made ids only.
"""
from __future__ import annotations

import hashlib
import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Mapping, Optional

import engine
from server import policy
from server.service.principal import Principal
from server.service import connections, databases, imports, query, secretbox, sinks, tasks
from server.service.common import check_name, check_object, dumps, loads, new_id, page_offset
from server.service.context import ServiceContext
from server.service.errors import (
    IncorrectState,
    InvalidParameter,
    PayloadTooLarge,
    ResourceLimitExceeded,
    ResourceNotFound,
    ServiceError,
    Unauthorized,
    from_engine,
)
from server.sources import backends, paths, spec as specs
from server.sources.errors import (
    AVAILABLE,
    RESOURCE_NOT_FOUND,
    STATUSES,
    UNKNOWN_ERROR,
    UPLOADING,
    WRONG_SPECIFICATION,
    not_supported,
    resource_not_found,
    status_of,
    wrong_spec,
)

logger = logging.getLogger("roarbase.sources")

RESOURCES = ("item", "user", "rating", "interaction", "user_id", "user_to_items_reco", "item_to_items_reco",
             "analytics_report")
IMPORTS = tuple(r for r in RESOURCES if r != "analytics_report")
RESOURCE_PARAMS = frozenset({"columns_mapping", "whitelist_params", "sql", "max_errors", "batch_size"})
BODY = frozenset({"resource", "resource_params", "connection_table_params", "connection_table_metadata", "status"})
MAX_AMT = 64
UPLOAD_PATH = "/v1/uploads/"

LIST = "SourceService.ListSources"
GET = "SourceService.GetSource"
PATCH = "SourceService.PatchSource"
DELETE = "SourceService.DeleteSource"
TEST = "SourceService.TestSource"
RUN = "SourceService.RunSource"
GET_RUN = "SourceService.GetRun"
CANCEL = "SourceService.CancelRun"
DOWNLOAD = "SourceService.Download"
UPLOAD = "SourceService.Upload"


@dataclass(frozen=True)
class Source:
    id: str
    org_id: str
    database_id: str
    connection: str
    name: str
    resource: str
    resource_params: dict[str, Any]
    connection_table_params: dict[str, Any]
    connection_table_metadata: dict[str, Any]
    status: str
    status_message: str
    created_at: float
    updated_at: float
    upload_token: Optional[str] = None
    uploaded_bytes: Optional[int] = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def task_name(self) -> str:
        """The name its runs have in GET /v1/tasks/{name}/recents/."""
        return f"source:{self.connection}:{self.name}"

    def to_dict(self, base_url: str = "") -> dict[str, Any]:
        """The seed's table shape (plus status_message when there is one); a LOCAL
        import's one-time upload url is its connection_table_params.url."""
        params = dict(self.connection_table_params)
        if self.upload_token is not None:
            params["url"] = f"{base_url}{UPLOAD_PATH}{self.upload_token}"
        out: dict[str, Any] = {"name": self.name, "connection": self.connection, "resource": self.resource,
                               "resource_params": dict(self.resource_params), "connection_table_params": params,
                               "connection_table_metadata": dict(self.connection_table_metadata),
                               "status": self.status, "created_timestamp": int(self.created_at),
                               "modified_timestamp": int(self.updated_at)}
        if self.status_message:
            out["status_message"] = self.status_message
        if self.uploaded_bytes is not None:
            out["uploaded_bytes"] = self.uploaded_bytes
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out

    def brief(self) -> dict[str, Any]:
        """The deprecated per-connection list's shape."""
        return {k: v for k, v in self.to_dict().items()
                if k in ("name", "resource", "status", "created_timestamp", "modified_timestamp")}


def _source(ctx: ServiceContext, row: Any, warnings: tuple[str, ...] = ()) -> Source:
    token = secretbox.unseal(ctx, row["upload_token"]) if row["upload_token"] is not None else None
    return Source(row["id"], row["org_id"], row["database_id"], row["connection"], row["name"], row["resource"],
                  loads(row["resource_params"]), loads(row["connection_table_params"]),
                  loads(row["connection_table_metadata"]), row["status"], row["status_message"], row["created_at"],
                  row["updated_at"], token, row["uploaded_bytes"], warnings)


def _not_found(connection: str, name: Any) -> ResourceNotFound:
    return ResourceNotFound(f"the table {str(name)[:64]} of connection {connection} does not exist",
                            name="TABLE_NOT_FOUND", data={"type": "table", "key": str(name)[:64]})


def _database(ctx: ServiceContext, principal: Principal, database: Optional[str], *,
              writes: bool = False) -> databases.Database:
    """The caller's database (the token's, or `database` for a token without one)."""
    ref = principal.database_id or database
    if ref is None:
        raise Unauthorized("this token selects no database: log in with db_id or db_name",
                           name="NO_DATABASE_SELECTED")
    db = databases.load(ctx, principal, ref)
    if db.state in databases.GONE:
        raise databases._not_found(ref)
    if writes:
        databases.check_queryable(db, writes=True)
    return db


def _row(ctx: ServiceContext, db: databases.Database, connection: str, name: Any) -> Any:
    row = ctx.store.one("SELECT * FROM sources WHERE database_id = ? AND connection = ? AND name = ?",
                        (db.id, connection, name if isinstance(name, str) else ""))
    if row is None:
        raise _not_found(connection, name)
    return row


def _dir(ctx: ServiceContext, source_id: str) -> str:
    return os.path.join(ctx.config.data_dir, "sources", source_id)


def _upload_file(ctx: ServiceContext, source_id: str) -> str:
    return os.path.join(_dir(ctx, source_id), "upload")


def _export_file(ctx: ServiceContext, source_id: str) -> str:
    return os.path.join(_dir(ctx, source_id), "export")


# --- validation -----------------------------------------------------------------------------

def _check_resource(value: Any) -> str:
    if value not in RESOURCES:
        raise InvalidParameter(f"resource must be one of {', '.join(RESOURCES)}", name="WRONG_DATA_TYPE",
                               data={"type": "table", "key": "resource"})
    return str(value)


def _check_resource_params(resource: str, params: dict[str, Any]) -> None:
    unknown = sorted(set(params) - RESOURCE_PARAMS)
    if unknown:
        raise wrong_spec(f"unknown resource_params {', '.join(map(repr, unknown))}; known: "
                         f"{', '.join(sorted(RESOURCE_PARAMS))}", key=f"resource_params.{unknown[0]}")
    mapping = params.get("columns_mapping", {})
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and k and isinstance(v, str) and v
                                                for k, v in mapping.items()):
        raise wrong_spec("columns_mapping maps target names to column names (non-empty strings)",
                         key="resource_params.columns_mapping")
    wl = params.get("whitelist_params", {})
    if not isinstance(wl, dict) or set(wl) - {"name"}:
        raise wrong_spec("whitelist_params is {name}", key="resource_params.whitelist_params")
    if "name" in wl:
        check_name(wl["name"], "whitelist")
    imports.run_options({}, params)
    if resource == "analytics_report":
        text = params.get("sql")
        if not isinstance(text, str) or not text.strip():
            raise wrong_spec("an analytics_report needs resource_params.sql (a SELECT)", key="resource_params.sql")
        if query.sql_writes(text):
            raise wrong_spec("an analytics_report's sql may only read", key="resource_params.sql")
    elif "sql" in params:
        raise wrong_spec("resource_params.sql belongs to analytics_report", key="resource_params.sql")


def _file_spec(ctx: ServiceContext, connection: str, resource: str, params: Mapping[str, Any]) -> specs.FileSpec:
    spec = specs.parse({k: v for k, v in params.items() if k != "url"}, connection=connection,
                       export=resource == "analytics_report")
    if spec.path is not None:
        if ctx.config.sources_sandbox_dir is None:
            raise wrong_spec("this server has no sandbox directory: upload the file to the source's url instead "
                             "(an administrator may set sources_sandbox_dir)", key="path")
        paths.parts(spec.path)
    return spec


# --- CRUD -----------------------------------------------------------------------------------

def _check_connection(ctx: ServiceContext, principal: Principal, connection: Any) -> str:
    kind = connections.check_kind(connection)
    if kind != connections.LOCAL and ctx.store.one("SELECT 1 FROM connections WHERE org_id = ? AND kind = ?",
                                                   (principal.org_id, kind)) is None:
        raise ResourceNotFound(f"the connection {kind} does not exist: PUT it first", name="CONNECTION_NOT_FOUND",
                               data={"type": "connection", "key": kind})
    return kind


@policy.checked(GET)
def get_source(ctx: ServiceContext, principal: Principal, connection: Any, name: Any, *,
               database: Optional[str] = None) -> Source:
    kind = connections.check_kind(connection)
    return _source(ctx, _row(ctx, _database(ctx, principal, database), kind, name))


@policy.checked(PATCH)
def patch_source(ctx: ServiceContext, principal: Principal, connection: Any, name: Any,
                 body: Mapping[str, Any], *, database: Optional[str] = None) -> Source:
    """Create a source, or shallow-merge `body`'s top-level objects into the stored one.

    Raises WRONG_DATA_TYPE (bad params), CONNECTION_NOT_FOUND, LIMIT_EXCEEDED."""
    kind = _check_connection(ctx, principal, connection)
    check_name(name, "table")
    unknown = sorted(set(body) - BODY)
    if unknown:
        raise InvalidParameter(f"unknown fields {', '.join(map(repr, unknown))}", name="WRONG_DATA_TYPE",
                               data={"key": str(unknown[0])[:64]})
    db = _database(ctx, principal, database)
    warnings: list[str] = []
    if "status" in body:
        if body["status"] not in STATUSES:
            raise InvalidParameter(f"status must be one of {', '.join(STATUSES)}", name="WRONG_DATA_TYPE",
                                   data={"key": "status"})
        warnings.append("status_is_computed")
    parts = {k: check_object(body[k], k) for k in ("resource_params", "connection_table_params",
                                                   "connection_table_metadata") if body.get(k) is not None}
    ctp = parts.get("connection_table_params")
    if ctp is not None and "url" in ctp:
        ctp.pop("url")                     # made by the server; a round-tripped GET body carries it
        warnings.append("url_is_server_generated")
    now = ctx.now()
    with ctx.store.transaction() as st:
        row = st.one("SELECT * FROM sources WHERE database_id = ? AND connection = ? AND name = ?",
                     (db.id, kind, name))
        stored = {} if row is None else {"resource": row["resource"],
                                         "resource_params": loads(row["resource_params"]),
                                         "connection_table_params": loads(row["connection_table_params"]),
                                         "connection_table_metadata": loads(row["connection_table_metadata"])}
        merged = {**stored, **parts}
        if "resource" in body:
            merged["resource"] = body["resource"]
        if "resource" not in merged:
            raise InvalidParameter("a new table needs its resource", name="WRONG_DATA_TYPE",
                                   data={"type": "table", "key": "resource"})
        resource = _check_resource(merged["resource"])
        rparams = merged.get("resource_params", {})
        cparams = merged.get("connection_table_params", {})
        if kind in (connections.LOCAL, *connections.IMPLEMENTED):
            _check_resource_params(resource, rparams)
            spec = _file_spec(ctx, kind, resource, cparams)
        else:
            spec = None
        upload = kind == connections.LOCAL and resource != "analytics_report" and spec is not None \
            and spec.path is None
        if row is None:
            counted = st.one("SELECT COUNT(*) AS n FROM sources WHERE database_id = ?", (db.id,))
            assert counted is not None  # COUNT(*) always yields a row
            count = counted["n"]
            limit = ctx.config.limits.max_sources_per_database
            if count >= limit:
                raise ResourceLimitExceeded(f"the database has {count} tables; the limit is {limit}",
                                            name="LIMIT_EXCEEDED", data={"type": "table", "key": "max_sources",
                                                                         "limit": limit})
            source_id = new_id()
            st.execute("INSERT INTO sources (id, org_id, database_id, connection, name, resource, resource_params,"
                       " connection_table_params, connection_table_metadata, status, created_at, updated_at,"
                       " updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (source_id, principal.org_id, db.id, kind, name, resource, dumps(rparams), dumps(cparams),
                        dumps(merged.get("connection_table_metadata", {})), UNKNOWN_ERROR, now, now,
                        principal.account_id))
        else:
            source_id = row["id"]
            st.execute("UPDATE sources SET resource = ?, resource_params = ?, connection_table_params = ?,"
                       " connection_table_metadata = ?, updated_at = ?, updated_by = ? WHERE id = ?",
                       (resource, dumps(rparams), dumps(cparams), dumps(merged.get("connection_table_metadata", {})),
                        now, principal.account_id, source_id))
        if upload and (row is None or row["upload_hash"] is None):
            _new_token(ctx, source_id)
        elif not upload:
            st.execute("UPDATE sources SET upload_hash = NULL, upload_token = NULL WHERE id = ?", (source_id,))
    _probe(ctx, principal, source_id)
    return _source(ctx, ctx.store.one("SELECT * FROM sources WHERE id = ?", (source_id,)), tuple(warnings))


# --- in export documents (server.service.transfers) ------------------------------------------

EXPORTED = ("connection", "name", "resource", "resource_params", "connection_table_params",
            "connection_table_metadata")


def exported(ctx: ServiceContext, database_id: str) -> list[dict[str, Any]]:
    """A database's sources as an export document carries them: what a PATCH sets. No
    status (it is found again where they are imported), no upload url, no file."""
    rows = ctx.store.all("SELECT * FROM sources WHERE database_id = ? ORDER BY created_at, id", (database_id,))
    return [{"connection": r["connection"], "name": r["name"], "resource": r["resource"],
             "resource_params": loads(r["resource_params"]),
             "connection_table_params": loads(r["connection_table_params"]),
             "connection_table_metadata": loads(r["connection_table_metadata"])} for r in rows]


def check_exported(raw: Any) -> dict[str, Any]:
    """A source record of an export document, checked for what every source must be: a
    known connection kind, a table name, a resource, JSON objects. Raises InvalidParameter."""
    if not isinstance(raw, Mapping):
        raise InvalidParameter("a source is a JSON object")
    unknown = sorted(set(raw) - set(EXPORTED))
    if unknown:
        raise InvalidParameter(f"unknown field {str(unknown[0])[:64]!r} (a source has {', '.join(EXPORTED)})")
    return {"connection": connections.check_kind(raw.get("connection")), "name": check_name(raw.get("name"), "table"),
            "resource": _check_resource(raw.get("resource")),
            **{k: check_object(raw.get(k) or {}, k) for k in EXPORTED[3:]}}


def imported_row(ctx: ServiceContext, db: databases.Database, record: dict[str, Any]) -> dict[str, Any]:
    """The sources row a checked record becomes in `db`: a new id, and a status found
    without any remote call — parameters this server refuses (a sandbox path it has no
    sandbox for, ...) are wrong_specification with the reason; a LOCAL upload waits for its
    file again (resource_not_found, a fresh upload url); anything else is unknown_error
    until it is tested or run."""
    kind, resource = record["connection"], record["resource"]
    status, message, upload = UNKNOWN_ERROR, "imported from an export: test or run it to check it", False
    if kind in (connections.LOCAL, *connections.IMPLEMENTED):
        try:
            _check_resource_params(resource, record["resource_params"])
            spec = _file_spec(ctx, kind, resource, record["connection_table_params"])
        except ServiceError as exc:
            status, message = WRONG_SPECIFICATION, exc.message
        else:
            upload = kind == connections.LOCAL and resource != "analytics_report" and spec.path is None
            if upload:
                status, message = RESOURCE_NOT_FOUND, "imported from an export: upload the file again"
    now = ctx.now()
    row: dict[str, Any] = {"id": new_id(), "org_id": db.org_id, "database_id": db.id, "connection": kind,
                           "name": record["name"], "resource": resource,
                           **{k: dumps(record[k]) for k in EXPORTED[3:]},
                           "status": status, "status_message": message, "created_at": now, "updated_at": now}
    if upload:
        token = secrets.token_urlsafe(32)
        row.update(upload_hash=_hash(token), upload_token=secretbox.seal(ctx, token))
    return row


def _new_token(ctx: ServiceContext, source_id: str) -> None:
    token = secrets.token_urlsafe(32)
    ctx.store.execute("UPDATE sources SET upload_hash = ?, upload_token = ? WHERE id = ?",
                      (_hash(token), secretbox.seal(ctx, token), source_id))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _set_status(ctx: ServiceContext, source_id: str, status: str, message: str = "") -> None:
    ctx.store.execute("UPDATE sources SET status = ?, status_message = ? WHERE id = ?",
                      (status, message[:500], source_id))


@policy.checked(DELETE)
def delete_source(ctx: ServiceContext, principal: Principal, connection: Any, name: Any, *,
                  database: Optional[str] = None) -> None:
    """Forget a source (its upload and export files go too; imported data stays).
    Raises TABLE_NOT_FOUND, IncorrectState while it runs."""
    kind = connections.check_kind(connection)
    row = _row(ctx, _database(ctx, principal, database), kind, name)
    if _running(ctx, row["id"]) is not None:
        raise IncorrectState("the table is being imported: cancel the run first", name="RUN_IN_PROGRESS",
                             data={"type": "table", "key": row["name"]})
    ctx.store.execute("DELETE FROM sources WHERE id = ?", (row["id"],))
    shutil.rmtree(_dir(ctx, row["id"]), ignore_errors=True)


def _check_page(page: Any, amt: Any) -> None:
    for value, key, hi in ((page, "page", None), (amt, "amt", MAX_AMT)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (hi is not None and value > hi):
            raise InvalidParameter(f"{key} must be an integer from 1{f' to {hi}' if hi else ''}",
                                   name="WRONG_DATA_TYPE", data={"key": key})


@policy.checked(LIST)
def list_sources(ctx: ServiceContext, principal: Principal, *, connection: Any = None,
                 resource: Any = None, page: Any = 1, amt: Any = 10,
                 database: Optional[str] = None) -> tuple[list[Source], bool]:
    """The database's sources, oldest first, filtered by connection and resource:
    (page, has_next). page >= 1, 1 <= amt <= 64 (seed 002)."""
    _check_page(page, amt)
    db = _database(ctx, principal, database)
    sql, args = "SELECT * FROM sources WHERE database_id = ?", [db.id]
    if connection is not None:
        sql += " AND connection = ?"
        args.append(connections.check_kind(connection))
    if resource is not None:
        sql += " AND resource = ?"
        args.append(_check_resource(resource))
    offset = page_offset(page, amt)
    if offset is None:
        return [], False
    rows = ctx.store.all(sql + " ORDER BY created_at, id LIMIT ? OFFSET ?", (*args, amt + 1, offset))
    return [_source(ctx, r) for r in rows[:amt]], len(rows) > amt


# --- reaching the data ----------------------------------------------------------------------

@dataclass
class _Plan:
    """Everything a test or a run needs, resolved from a source's stored (or merged) form."""

    kind: str
    resource: str
    spec: specs.FileSpec
    resource_params: dict[str, Any]
    store: Any
    source_id: Optional[str]


def _plan(ctx: ServiceContext, principal: Principal, kind: str, resource: str, rparams: dict[str, Any],
          cparams: dict[str, Any], source_id: Optional[str]) -> _Plan:
    if kind not in (connections.LOCAL, *connections.IMPLEMENTED):
        raise not_supported(kind)
    _check_resource_params(resource, rparams)
    spec = _file_spec(ctx, kind, resource, cparams)
    if kind == connections.LOCAL:
        if spec.path is not None:
            store: Any = backends.LocalFile(spec.path, root=ctx.config.sources_sandbox_dir, display=spec.path)
        elif resource == "analytics_report":
            store = None
        else:
            if source_id is None:
                raise resource_not_found("nothing was uploaded yet: PATCH the table, then PUT the file to its url",
                                         key="url")
            store = backends.LocalFile(_upload_file(ctx, source_id), display="upload")
    else:
        store = connections.store_for(kind, connections.credentials_of(ctx, principal.org_id, kind), spec)
    return _Plan(kind, resource, spec, rparams, store, source_id)


def _probe(ctx: ServiceContext, principal: Principal, source_id: str) -> str:
    """Find out a stored source's status for real, record and return it."""
    row = ctx.store.one("SELECT * FROM sources WHERE id = ?", (source_id,))
    assert row is not None  # the caller found the source
    if row["status"] == UPLOADING and _running(ctx, source_id) is not None:
        return UPLOADING
    try:
        plan = _plan(ctx, principal, row["connection"], row["resource"], loads(row["resource_params"]),
                     loads(row["connection_table_params"]), source_id)
        if plan.resource == "analytics_report":
            if plan.kind != connections.LOCAL:
                plan.store.check_bucket()
        else:
            plan.store.check()
        status, message = AVAILABLE, ""
    except ServiceError as exc:
        status, message = status_of(exc), exc.message
    except Exception as exc:        # a remote library failure: unknown, and logged
        logger.warning("probing source %s failed: %s", source_id, type(exc).__name__)
        status, message = UNKNOWN_ERROR, f"probe failed: {type(exc).__name__}"
    _set_status(ctx, source_id, status, "" if status == AVAILABLE else message)
    return status


def _sink(ctx: ServiceContext, db: databases.Database, plan: _Plan, name: str) -> tuple[sinks.Sink, dict[str, str]]:
    holder = databases.ensure_entity_tables(ctx, db)
    mapping = dict(plan.resource_params.get("columns_mapping") or {})
    r = plan.resource
    try:
        if r in ("item", "user"):
            sink: sinks.Sink = sinks.EntitySink(sinks.entity_table(holder, r), plan.spec.list_delimiter)
            mapping = sink.check_targets(mapping)  # type: ignore[attr-defined]
        elif r in ("rating", "interaction"):
            sink = sinks.EventSink(holder, db, r)
        elif r == "user_id":
            sink = sinks.WhitelistSink(holder, db, (plan.resource_params.get("whitelist_params") or {}).get("name",
                                                                                                        name))
        else:
            sink = sinks.RecoSink(holder, db, r, plan.spec.list_delimiter)
    except engine.EngineError as exc:
        raise from_engine(exc) from exc
    unknown = sorted(set(mapping) - set(sink.targets())) if r not in ("item", "user") else []
    if unknown:
        raise wrong_spec(f"columns_mapping names {unknown[0]!r}; a {r} table maps {', '.join(sink.targets())}",
                         key=f"resource_params.columns_mapping.{unknown[0]}")
    return sink, mapping


@policy.checked(TEST)
def test_source(ctx: ServiceContext, principal: Principal, connection: Any, name: Any,
                body: Optional[Mapping[str, Any]] = None, *, database: Optional[str] = None) -> dict[str, Any]:
    """Preview and validate: the stored source merged with `body` (POST) or as stored
    (GET, body None). Reads the header and first rows, maps and type-checks them.

    Returns the merged table with a `preview` {columns, rows, findings, ignored_columns,
    errors}; a stored source's status is updated from what was found. Raises
    WRONG_DATA_TYPE / WRONG_CREDENTIALS (WrongData), RESOURCE_NOT_FOUND, TABLE_NOT_FOUND
    (GET of a missing table), CONNECTION_NOT_SUPPORTED."""
    kind = connections.check_kind(connection)
    db = _database(ctx, principal, database)
    try:
        row = _row(ctx, db, kind, name)
    except ResourceNotFound:
        if body is None:
            raise
        row = None
    body = dict(body or {})
    unknown = sorted(set(body) - BODY)
    if unknown:
        raise InvalidParameter(f"unknown fields {', '.join(map(repr, unknown))}", name="WRONG_DATA_TYPE",
                               data={"key": str(unknown[0])[:64]})
    merged: dict[str, Any] = {} if row is None else {
        "resource": row["resource"], "resource_params": loads(row["resource_params"]),
        "connection_table_params": loads(row["connection_table_params"]),
        "connection_table_metadata": loads(row["connection_table_metadata"])}
    for k in ("resource_params", "connection_table_params", "connection_table_metadata"):
        if body.get(k) is not None:
            merged[k] = check_object(body[k], k)
    if "resource" in body:
        merged["resource"] = body["resource"]
    resource = _check_resource(merged.get("resource"))
    cparams = {k: v for k, v in merged.get("connection_table_params", {}).items() if k != "url"}
    source_id = row["id"] if row is not None else None
    out = {"name": name, "connection": kind, "resource": resource,
           "resource_params": merged.get("resource_params", {}), "connection_table_params": cparams,
           "connection_table_metadata": merged.get("connection_table_metadata", {})}
    try:
        if kind != connections.LOCAL:
            _check_connection(ctx, principal, kind)
        plan = _plan(ctx, principal, kind, resource, merged.get("resource_params", {}), cparams, source_id)
        if resource == "analytics_report":
            answer = query.sql(ctx, principal, db.id, plan.resource_params["sql"])
            rows = [list(r) for b in answer.batches() for r in b][:imports.PREVIEW_ROWS]
            preview: dict[str, Any] = {"columns": [name for name, _ in answer.last.schema], "rows": rows,
                                       "findings": [], "ignored_columns": [], "errors": []}
            if plan.kind != connections.LOCAL:
                plan.store.check_bucket()
        else:
            sink, mapping = _sink(ctx, db, plan, str(name))
            preview = imports.preview(plan.store, plan.spec, sink, mapping)
            if any(f["status"] == "missing" and f["target"] in sink.required for f in preview["findings"]):
                raise wrong_spec("required targets are not mapped to columns: " + ", ".join(
                    f["target"] for f in preview["findings"] if f["status"] == "missing"
                    and f["target"] in sink.required), key="resource_params.columns_mapping", preview=preview)
    except ServiceError as exc:
        if source_id is not None and body == {}:
            _set_status(ctx, source_id, status_of(exc), exc.message)
        raise
    status = AVAILABLE
    if source_id is not None and not body:
        _set_status(ctx, source_id, status)
    return {**out, "status": status, "preview": preview}


# --- running --------------------------------------------------------------------------------

def _running(ctx: ServiceContext, source_id: str) -> Optional[tasks.Task]:
    row = ctx.store.one("SELECT * FROM tasks WHERE source_id = ? AND status = ? ORDER BY start_time DESC LIMIT 1",
                        (source_id, tasks.RUNNING))
    return tasks._task(row) if row is not None else None


@policy.checked(RUN)
def run_source(ctx: ServiceContext, principal: Principal, connection: Any, name: Any,
               body: Optional[Mapping[str, Any]] = None, *, database: Optional[str] = None) -> tasks.Task:
    """Start importing (or, for an analytics_report, exporting) a source now: checks the
    source and reaches its data first (errors come back at once), then runs in the
    background. body: {batch_size?, max_errors?} over the source's resource_params.

    Raises IncorrectState RUN_IN_PROGRESS, and whatever test_source raises."""
    kind = connections.check_kind(connection)
    db = _database(ctx, principal, database, writes=True)
    row = _row(ctx, db, kind, name)
    body = dict(body or {})
    unknown = sorted(set(body) - {"batch_size", "max_errors"})
    if unknown:
        raise InvalidParameter(f"unknown fields {', '.join(map(repr, unknown))}; a run takes batch_size and "
                               "max_errors", name="WRONG_DATA_TYPE", data={"key": str(unknown[0])[:64]})
    source = _source(ctx, row)
    if _running(ctx, source.id) is not None:
        raise IncorrectState("this table is being run already", name="RUN_IN_PROGRESS",
                             data={"type": "table", "key": source.name})
    batch_rows, max_errors = imports.run_options(body, source.resource_params)
    try:
        plan = _plan(ctx, principal, kind, source.resource, source.resource_params, source.connection_table_params,
                     source.id)
        if source.resource == "analytics_report":
            job = _export_job(ctx, principal, db, source, plan)
        else:
            objects = plan.store.objects()        # reachable now, or the error comes back at once
            sink, mapping = _sink(ctx, db, plan, source.name)
            job = _import_job(ctx, principal, db, source, plan, sink, mapping, batch_rows, max_errors,
                              sum(o.size or 0 for o in objects))
    except ServiceError as exc:
        _set_status(ctx, source.id, status_of(exc), exc.message)
        raise
    _set_status(ctx, source.id, UPLOADING)
    return tasks.start_tracked(ctx, principal, db.id, source.task_name, job, source_id=source.id,
                               details={"rows_read": 0, "rows_written": 0, "batch_rows": batch_rows,
                                        "max_errors": max_errors})


def _import_job(ctx: ServiceContext, principal: Principal, db: databases.Database, source: Source, plan: _Plan,
                sink: sinks.Sink, mapping: dict[str, str], batch_rows: int, max_errors: int,
                total: int) -> Any:
    def check() -> None:
        databases.check_queryable(databases.load(ctx, principal, db.id), writes=True)

    def job(tracker: tasks.Tracker) -> tuple[str, dict[str, Any]]:
        try:
            result = imports.run_import(tracker, plan.store, plan.spec, sink, mapping, batch_rows=batch_rows,
                                        max_errors=max_errors, check=check)
        except ServiceError as exc:
            status = status_of(exc) if exc.name not in ("CANCELLED", "ERROR_BUDGET_EXCEEDED") else AVAILABLE
            _set_status(ctx, source.id, status, exc.message)
            raise
        except BaseException:
            _set_status(ctx, source.id, UNKNOWN_ERROR, "the import failed unexpectedly")
            raise
        _set_status(ctx, source.id, AVAILABLE)
        return result

    return job


def _export_job(ctx: ServiceContext, principal: Principal, db: databases.Database, source: Source,
                plan: _Plan) -> Any:
    text = source.resource_params["sql"]

    def job(tracker: tasks.Tracker) -> tuple[str, dict[str, Any]]:
        started = time.monotonic()
        try:
            answer = query.sql(ctx, principal, db.id, text)
            columns = [name for name, _ in answer.last.schema]
            with imports.spool(_dir(ctx, source.id)) as tmp:
                rows = imports.write_export(answer.batches(), columns, plan.spec, tmp)  # type: ignore[arg-type]
                tmp.flush()
                size = tmp.tell()
                tmp.seek(0)
                if plan.kind == connections.LOCAL and plan.spec.path is not None:
                    writer = paths.AtomicWriter(ctx.config.sources_sandbox_dir or "", plan.spec.path)
                    try:
                        shutil.copyfileobj(tmp, writer.file, 1 << 20)
                        writer.commit()
                    finally:
                        writer.close()
                    where = plan.spec.path
                elif plan.kind == connections.LOCAL:
                    os.link(tmp.name, _export_file(ctx, source.id) + ".new")
                    os.replace(_export_file(ctx, source.id) + ".new", _export_file(ctx, source.id))
                    where = "download"
                else:
                    ext = "parquet" if plan.spec.file_format == "parquet" else "csv"
                    key = plan.spec.key or f"{plan.spec.prefix or ''}{source.name}.{ext}"
                    plan.store.write(tmp, key)
                    where = f"s3://{plan.spec.bucket}/{key}"
        except ServiceError as exc:
            _set_status(ctx, source.id, status_of(exc), exc.message)
            raise
        except BaseException:
            _set_status(ctx, source.id, UNKNOWN_ERROR, "the export failed unexpectedly")
            raise
        _set_status(ctx, source.id, AVAILABLE)
        details = {"rows_written": rows, "bytes_written": size, "written_to": where,
                   "elapsed_seconds": round(time.monotonic() - started, 3)}
        return f"{rows:,} rows exported ({size:,} bytes)", details

    return job


@policy.checked(GET_RUN)
def last_run(ctx: ServiceContext, principal: Principal, connection: Any, name: Any, *,
             database: Optional[str] = None) -> tasks.Task:
    """The source's latest run (RUNNING or finished). Raises RUN_NOT_FOUND."""
    kind = connections.check_kind(connection)
    row = _row(ctx, _database(ctx, principal, database), kind, name)
    task = ctx.store.one("SELECT * FROM tasks WHERE source_id = ? ORDER BY start_time DESC, rowid DESC LIMIT 1",
                         (row["id"],))
    if task is None:
        raise ResourceNotFound("this table was never run", name="RUN_NOT_FOUND", data={"type": "run",
                                                                                      "key": row["name"]})
    return tasks._task(task)


@policy.checked(CANCEL)
def cancel_run(ctx: ServiceContext, principal: Principal, connection: Any, name: Any, *,
               database: Optional[str] = None) -> tasks.Task:
    """Ask the running import to stop (it stops before its next batch). Raises
    IncorrectState NO_RUN_IN_PROGRESS."""
    kind = connections.check_kind(connection)
    row = _row(ctx, _database(ctx, principal, database), kind, name)
    running = _running(ctx, row["id"])
    if running is None or not tasks.cancel(ctx, running.id):
        raise IncorrectState("this table has no run in progress", name="NO_RUN_IN_PROGRESS",
                             data={"type": "table", "key": row["name"]})
    return tasks.get(ctx, running.id)


@policy.checked(DOWNLOAD)
def download(ctx: ServiceContext, principal: Principal, name: Any, *,
             database: Optional[str] = None) -> BinaryIO:
    """The last export of a LOCAL analytics_report (no sandbox path), opened for reading.
    Raises TABLE_NOT_FOUND, RESOURCE_NOT_FOUND (never exported)."""
    row = _row(ctx, _database(ctx, principal, database), connections.LOCAL, name)
    if row["resource"] != "analytics_report":
        raise InvalidParameter("only an analytics_report has a download", name="WRONG_DATA_TYPE",
                               data={"type": "table", "key": row["name"]})
    try:
        return open(_export_file(ctx, row["id"]), "rb")
    except FileNotFoundError:
        raise resource_not_found("this report was not exported yet: run it first", key="download") from None


# --- uploads --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Upload:
    """A claimed upload: where the body goes, and the cap."""

    source_id: str
    tmp_path: str
    limit: int


def begin_upload(ctx: ServiceContext, token: Any) -> Upload:
    """Claim a one-time upload url (its bearer needs nothing else). The token is spent at
    once: a second PUT to the same url is refused even while the first streams.
    Raises ResourceNotFound UPLOAD_NOT_FOUND (unknown or spent), IncorrectState (the
    table is being imported)."""
    policy.check(None, UPLOAD)
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise ResourceNotFound("unknown or spent upload url", name="UPLOAD_NOT_FOUND", data={"type": "upload"})
    with ctx.store.transaction() as st:
        row = st.one("SELECT id FROM sources WHERE upload_hash = ?", (_hash(token),))
        if row is None:
            raise ResourceNotFound("unknown or spent upload url", name="UPLOAD_NOT_FOUND", data={"type": "upload"})
        if _running(ctx, row["id"]) is not None:
            raise IncorrectState("the table is being imported: upload when the run has finished",
                                 name="RUN_IN_PROGRESS", data={"type": "table"})
        st.execute("UPDATE sources SET upload_hash = NULL, upload_token = NULL, status = ?, status_message = ''"
                   " WHERE id = ?", (UPLOADING, row["id"]))
    os.makedirs(_dir(ctx, row["id"]), exist_ok=True)
    return Upload(row["id"], os.path.join(_dir(ctx, row["id"]), f".upload-{secrets.token_hex(8)}"),
                  ctx.config.limits.max_upload_bytes)


def finish_upload(ctx: ServiceContext, upload: Upload, size: int) -> Source:
    """The body is on disk: it becomes the source's file, and a fresh url is issued."""
    os.replace(upload.tmp_path, _upload_file(ctx, upload.source_id))
    ctx.store.execute("UPDATE sources SET uploaded_at = ?, uploaded_bytes = ?, status = ?, status_message = ''"
                      " WHERE id = ?", (ctx.now(), size, AVAILABLE, upload.source_id))
    _new_token(ctx, upload.source_id)
    return _source(ctx, ctx.store.one("SELECT * FROM sources WHERE id = ?", (upload.source_id,)))


def abort_upload(ctx: ServiceContext, upload: Upload, reason: str) -> None:
    """A failed upload leaves the previous file (if any) and a fresh url."""
    try:
        os.unlink(upload.tmp_path)
    except FileNotFoundError:
        pass
    if ctx.store.one("SELECT 1 FROM sources WHERE id = ?", (upload.source_id,)) is None:
        return
    previous = os.path.exists(_upload_file(ctx, upload.source_id))
    _set_status(ctx, upload.source_id, AVAILABLE if previous else RESOURCE_NOT_FOUND, f"upload failed: {reason}")
    _new_token(ctx, upload.source_id)


def too_large(upload: Upload) -> PayloadTooLarge:
    return PayloadTooLarge(f"an upload is limited to {upload.limit} bytes", name="PAYLOAD_TOO_LARGE",
                           data={"limit": upload.limit})


def recover(ctx: ServiceContext) -> None:
    """At start: uploads and runs a stopped server left half-done. An upload in progress
    failed (its temp file goes, a fresh url is issued); sources of deleted databases go."""
    for row in ctx.store.all("SELECT id FROM sources WHERE status = ?", (UPLOADING,)):
        for name in os.listdir(_dir(ctx, row["id"])) if os.path.isdir(_dir(ctx, row["id"])) else ():
            if name.startswith(".upload-") or name.startswith(".export-"):
                os.unlink(os.path.join(_dir(ctx, row["id"]), name))
        previous = os.path.exists(_upload_file(ctx, row["id"]))
        _set_status(ctx, row["id"], AVAILABLE if previous else RESOURCE_NOT_FOUND, "interrupted by a restart")
        r = ctx.store.one("SELECT upload_hash, connection, resource, connection_table_params FROM sources"
                          " WHERE id = ?", (row["id"],))
        assert r is not None  # listed just above
        if r["upload_hash"] is None and r["connection"] == connections.LOCAL and r["resource"] != "analytics_report" \
                and "path" not in loads(r["connection_table_params"]):
            _new_token(ctx, row["id"])
    gone = ctx.store.all("SELECT s.id FROM sources s LEFT JOIN databases d ON d.id = s.database_id"
                         " WHERE d.id IS NULL OR d.state IN ('DELETING', 'DEPROVISIONING', 'DELETED')")
    for row in gone:
        ctx.store.execute("DELETE FROM sources WHERE id = ?", (row["id"],))
        shutil.rmtree(_dir(ctx, row["id"]), ignore_errors=True)

