"""Database export and import (API.md §3.6; seed 003 made transactional).

Export (`start_export`): the database moves RUNNING -> BACKUP (reads go on, writes answer
IncorrectState: the state machine for the service's own paths, Holder.block_writes for
everything else), one consistent read view of every table is streamed as an export
document (export_doc), and the database returns to RUNNING when the stream is closed —
finished, failed or abandoned. Memory is one batch of records.

Import (`import_database`), a merge with revert:
1. the document (spooled to a file by the face) is read twice. First pass: the header is
   checked against the target (property schemas unioned: a type clash is
   PROPERTY_TYPE_CONFLICT; SQL columns likewise COLUMN_TYPE_CONFLICT) and every record is
   checked against the union. Any problem: 400 listing the first ones, nothing changed.
2. RUNNING -> RESTORING, writes held, and a restore point taken (restore_points: an engine
   snapshot of hard links plus the metadata rows) — copy-on-write, so it costs links, not
   a copy of the data.
3. Second pass: missing properties, tables and columns are created; entities are upserted
   with PATCH semantics (create_if_missing, a repeated list replaced, null removes a
   value); SQL rows are upserted by `_id` (engine write_records: each given column
   replaced); the database's metadata is merged (RFC 7396) and its description filled when
   empty; sources it lacks are added (sources.imported_row). Batches commit as they go:
   atomicity comes from the restore point.
4. Success: RESTORING -> RUNNING (the commit point), the restore point is dropped. Any
   failure: the restore point is put back (files and rows), RUNNING, and the error is
   answered with error_data.reverted = true. If putting it back fails too, the database is
   FROZEN with both reasons in state_reason.

A process stopped in step 2 or 3 leaves RESTORING and the restore point: `recover_import`
(run at start) restores it, so the database is exactly as before the import; stopped after
step 4's state change, the merge stands and the leftover restore point is dropped. Either
unchanged or fully merged, never in between.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generator, Iterator, Optional, cast

import msgpack

import engine
from engine import EntityTable, FieldDef, IdType, IndexDef, ValueType, WrongDataType, count_records, iter_records
from server import policy
from server.service.principal import Principal
from server.error_table import ServerError
from server.service import connections, databases, export_doc, restore_points, sources
from server.service.common import json_value_problem, merge_patch
from server.service.context import ServiceContext
from server.service.errors import BY_CODE, InternalServerError, InvalidParameter, ServiceError, from_engine
from server.service.export_doc import (
    ID_COLUMN,
    Column,
    DocumentError,
    Problems,
    Sink,
    Table,
    WrongValue,
    dumps,
)

log = logging.getLogger("roarbase.transfers")

EXPORT = "DatabaseService.ExportDatabase"
IMPORT = "DatabaseService.ImportDatabase"
ENTITY_TABLES = {"item": databases.ITEMS_TABLE, "user": databases.USERS_TABLE}
ENTITY_BATCH = 10_000
ROW_BATCH = 1 << 13             # records checked, converted and written per batch on import
RECORD_BATCH = 1 << 13          # records read per engine batch on export
ENVELOPE_VERSION = "roarbase-export-1"
PIECES_SCHEMA = {"migration": 1, "semantic": "MAJOR_0_MINOR_0_PATCH_1"}

Progress = Optional[Callable[[str, int, int], None]]


def _check_database(ctx: ServiceContext, principal: Principal, database_id: str) -> databases.Database:
    db = databases.load(ctx, principal, database_id)
    if db.state in databases.GONE:
        raise databases._not_found(database_id)
    return db


def tmp_dir(ctx: ServiceContext) -> str:
    """Where uploads are spooled (same file system as the data: a 64 GiB import must not
    fill /tmp)."""
    path = os.path.join(ctx.config.data_dir, "tmp")
    os.makedirs(path, exist_ok=True)
    return path


def new_spool(ctx: ServiceContext, suffix: str = "") -> tuple[str, Any]:
    """A new spool file (path, open binary file) under tmp_dir; the caller removes it."""
    fd, path = tempfile.mkstemp(prefix="import-", suffix=suffix, dir=tmp_dir(ctx))
    return path, os.fdopen(fd, "wb")


# --- the header ---------------------------------------------------------------------------------

def _entity_props(definition: IndexDef) -> list[tuple[str, ValueType, bool, FieldDef]]:
    """(display name, value type, indexed, field) of an entity table's properties, from a
    definition (a read view's copy, not the live table)."""
    out = []
    for fd in sorted(definition.fields.values(), key=lambda f: f.id):
        m = fd.meta
        if "property" in m:
            out.append((m["property"], ValueType.parse(m["value_type"], bool(m.get("repeated"))),
                        bool(m.get("indexed")), fd))
    return out


def _is_entity(definition: Optional[IndexDef], kind: str) -> bool:
    meta = definition.meta.get("entity") if definition is not None else None
    return isinstance(meta, dict) and meta.get("kind") == kind


def _connections_used(ctx: ServiceContext, db: databases.Database,
                      sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The org's connections the database's sources use, as GET shows them: the kind,
    credential names with "***" for every value, metadata. The credentials themselves never
    travel (an import into another org lists what has to be PUT there); LOCAL is built in."""
    kinds = sorted({s["connection"] for s in sources if isinstance(s.get("connection"), str)} - {connections.LOCAL})
    found = [connections.find(ctx, db.org_id, kind) for kind in kinds]
    return [c.to_dict() for c in found if c is not None]


# --- export -----------------------------------------------------------------------------------------

@dataclass
class ExportCounts:
    items: int = 0
    users: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    bytes: int = 0


class Export:
    """An export in progress: the database is BACKUP with writes held until close().
    Iterate `chunks()` for the document's bytes (each ~1 MiB or less)."""

    def __init__(self, ctx: ServiceContext, db: databases.Database, holder: engine.Holder,
                 stack: contextlib.ExitStack, *, fmt: str, gzip: bool, envelope: bool,
                 progress: Progress = None) -> None:
        self.ctx, self.db, self.holder, self._stack = ctx, db, holder, stack
        self.fmt, self.gzip, self.envelope, self.progress = fmt, gzip, envelope, progress
        self.view = holder.read_view()
        self.counts = ExportCounts()
        self._closed = False
        self._done = 0
        self.total = self._count()

    @property
    def media_type(self) -> str:
        if self.envelope or self.fmt == "json" and not self.gzip:
            return "application/json"
        if self.gzip:
            return "application/gzip"
        return "application/x-ndjson"

    def _count(self) -> int:
        total = 0
        for name, (_idx, definition, state) in self.view.items():
            n = count_records(definition, state)
            if name == databases.ITEMS_TABLE and _is_entity(definition, "item"):
                self.counts.items = n
            elif name == databases.USERS_TABLE and _is_entity(definition, "user"):
                self.counts.users = n
            else:
                self.counts.rows[name] = n
            total += n
        return total

    def _tables(self) -> list[tuple[Table, Any, IndexDef, Any]]:
        out = []
        for name, (idx, definition, state) in sorted(self.view.items()):
            if name in (databases.ITEMS_TABLE, databases.USERS_TABLE) and \
                    (_is_entity(definition, "item") or _is_entity(definition, "user")):
                continue
            o = definition.options
            table = Table(name, o.keys, o.track_existence, o.description, dict(definition.meta),
                          [export_doc.column_from_field(fd) for fd in definition.fields.values()])
            out.append((table, idx, definition, state))
        return out

    def header(self) -> dict[str, Any]:
        db = self.db
        props: dict[str, list[dict[str, Any]]] = {}
        for kind, name in ENTITY_TABLES.items():
            entry = self.view.get(name)
            found = _entity_props(entry[1]) if entry is not None and _is_entity(entry[1], kind) else []
            props[kind] = [{"property_name": n, "value_type": vt.name, "repeated": vt.repeated,
                            **({"indexed": indexed} if kind == "user" else {})} for n, vt, indexed, _ in found]
        srcs = sources.exported(self.ctx, db.id)
        return {"format": export_doc.FORMAT, "version": export_doc.VERSION,
                "exported_at": export_doc.rfc3339_now(self.ctx.now()),
                "database": {"name": db.name, "description": db.description, "item_id_type": db.item_id_type,
                             "user_id_type": db.user_id_type, "session_id_type": db.session_id_type,
                             "metadata": dict(db.metadata)},
                "items_properties": props["item"], "users_properties": props["user"],
                "sql_tables": [t.header() for t, *_ in self._tables()],
                "connections": _connections_used(self.ctx, db, srcs), "sources": srcs,
                "counts": {"items": self.counts.items, "users": self.counts.users, "rows": dict(self.counts.rows)}}

    def _entities(self, kind: str) -> Iterator[dict[str, Any]]:
        entry = self.view.get(ENTITY_TABLES[kind])
        if entry is None or not _is_entity(entry[1], kind):
            return
        idx, definition, state = entry
        id_type = IdType.parse(definition.meta["entity"]["id_type"])
        id_field = f"{kind}_id"
        props = _entity_props(definition)
        render = [(name, fd.name, _entity_value(vt, fd)) for name, vt, _, fd in props]
        for rb in iter_records(idx, definition, state, fields=[fd.name for *_, fd in props], batch=RECORD_BATCH):
            keys = rb.keys or []
            cols = [(name, rb.columns[fname], fn) for name, fname, fn in render]
            for i, key in enumerate(keys):
                # An entity table's records are keyed; passed as given (the type allows a None).
                ent: dict[str, Any] = {id_field: id_type.value(cast(str, key))}
                for name, col, fn in cols:
                    v = col[i]
                    if v is not None:
                        ent[name] = fn(v)
                yield ent
            self._progress(len(keys))

    def _rows(self, table: Table, idx: Any, definition: IndexDef, state: Any,
              prefix: Optional[bytes] = None) -> Iterator[bytes]:
        """The table's rows as text, a batch at a time: one NDJSON line per row (prefix +
        [_id, v1, ...] + "}\n"), or without a prefix the rows as JSON array items joined by
        commas. Values are converted column by column."""
        names = [c.name for c in table.columns]
        encoders = [export_doc.to_document(c.options) for c in table.columns]
        encode = export_doc.fast_dumps
        for rb in iter_records(idx, definition, state, fields=names, batch=RECORD_BATCH):
            ids = rb.keys if rb.keys is not None else rb.ids.tolist()
            cols: list[Any] = [ids]
            for name, enc in zip(names, encoders):
                col = rb.columns[name]
                cols.append(col if enc is None else [None if v is None else enc(v) for v in col])
            if prefix is None:
                # One call for the batch: orjson's result keeps its whole working buffer
                # (kilobytes), so a list of one result per row would hold far more than the text.
                yield encode(list(zip(*cols)))[1:-1]
            else:
                yield b"".join([prefix + encode(row) + b"}\n" for row in zip(*cols)])
            self._progress(len(ids))

    @property
    def done(self) -> int:
        """Records written so far."""
        return self._done

    def _progress(self, n: int) -> None:
        self._done += n
        if self.progress:
            self.progress("export", self._done, self.total)

    def _document(self) -> Iterator[str | bytes]:
        """The document's text, piece by piece."""
        header = self.header()
        tables = self._tables()
        if self.fmt == "ndjson" or self.envelope:
            yield dumps(header) + "\n"
            encode = export_doc.fast_dumps
            for kind in ("item", "user"):
                prefix = ('{"kind":"' + kind + '","' + kind + '":').encode()
                for ent in self._entities(kind):
                    yield prefix + encode(ent) + b"}\n"
            for table, idx, definition, state in tables:
                prefix = ('{"kind":"row","table":' + dumps(table.name) + ',"values":').encode()
                yield from self._rows(table, idx, definition, state, prefix)
            return
        head = dict(header)
        del head["sql_tables"]
        yield dumps(head)[:-1]
        for kind in ("item", "user"):
            yield f',"{kind}s":['
            first = True
            for ent in self._entities(kind):
                yield dumps(ent) if first else "," + dumps(ent)
                first = False
            yield "]"
        yield ',"sql_tables":['
        for n, (table, idx, definition, state) in enumerate(tables):
            yield ("," if n else "") + dumps(table.header())[:-1] + ',"rows":['
            first = True
            for text in self._rows(table, idx, definition, state):
                yield text if first else b"," + text
                first = False
            yield "]}"
        yield "]}"

    def chunks(self) -> Generator[bytes, None, None]:
        """The document's bytes; the export is closed (RUNNING again) when they end."""
        try:
            sink = Sink(gzip_level=6 if (self.gzip or self.envelope) else None)
            inner = self._inner(sink)
            if self.envelope:
                yield from _envelope(inner)
            else:
                yield from inner
        finally:
            self.close()

    def _inner(self, sink: Sink) -> Iterator[bytes]:
        for piece in self._document():
            out = sink.write(piece)
            if out:
                self.counts.bytes += len(out)
                yield out
        out = sink.finish()
        self.counts.bytes += len(out)
        if out:
            yield out

    def close(self) -> None:
        """Release the writes and return to RUNNING (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._stack.close()
        finally:
            databases.set_state(self.ctx, self.db.id, databases.RUNNING, expect=databases.BACKUP)


_BYTE_TEXT = [str(i) for i in range(256)]


def _envelope(inner: Iterator[bytes]) -> Iterator[bytes]:
    """The Pieces ExportedDatabase around gzip'd NDJSON (reference/pieces-client.md §4):
    string version, the 15 required lists empty, the document's bytes as the `raw` int
    lists of `values.iterable` entries "roarbase.export+gzip.0", ".1", ..."""
    lists = ",".join(f'"{name}":[]' for name in export_doc.PIECES_LISTS)
    schema = json.dumps(PIECES_SCHEMA, separators=(",", ":"))
    yield (f'{{"version":"{ENVELOPE_VERSION}",{lists},"schema":{schema},"values":{{"iterable":[').encode()
    n = 0
    for data in inner:
        if not data:
            continue
        entry = (f'{"," if n else ""}{{"id":"roarbase.export+gzip.{n}","schema":{schema},"raw":['
                 + ",".join([_BYTE_TEXT[b] for b in data]) + "]}")
        yield entry.encode()
        n += 1
    yield b"]}}"


@policy.checked(EXPORT)
def start_export(ctx: ServiceContext, principal: Principal, database_id: str, *, fmt: str = "json",
                 gzip: bool = False, envelope: bool = False, progress: Progress = None) -> Export:
    """Begin exporting a database (BACKUP until the Export is closed).

    Args:
        fmt: "json" (one document) or "ndjson" (header line, then a record per line).
        gzip: compress the document. envelope: wrap it for the Pieces client (gzip'd
            NDJSON inside; fmt and gzip are then ignored).
    Raises ResourceNotFound, IncorrectState (not RUNNING: an export or import is running,
    or the database is not serving), Unauthorized/Forbidden.
    """
    if fmt not in ("json", "ndjson"):
        raise InvalidParameter("format must be json or ndjson", data={"key": "format"})
    db = _check_database(ctx, principal, database_id)
    databases.check_queryable(db, writes=True)
    db = databases.set_state(ctx, db.id, databases.BACKUP, expect=databases.RUNNING, reason="export in progress")
    stack = contextlib.ExitStack()
    try:
        holder = ctx.engine(db.id)
        stack.enter_context(holder.block_writes("the database is being exported (BACKUP)"))
        return Export(ctx, db, holder, stack, fmt=fmt, gzip=gzip, envelope=envelope, progress=progress)
    except BaseException:
        stack.close()
        databases.set_state(ctx, db.id, databases.RUNNING, expect=databases.BACKUP)
        raise


def _entity_value(vt: ValueType, fd: FieldDef) -> Callable[[Any], Any]:
    if vt.repeated:
        return lambda v: [vt.from_key(k) for k in v]
    if fd.options.is_bsi:
        return fd.options.from_stored
    return lambda v: v


# --- import: the plan -------------------------------------------------------------------------------

@dataclass
class EntityPlan:
    kind: str
    id_type: IdType
    props: dict[str, tuple[str, ValueType]]             # lower-case name -> (name, type): the union
    create: list[tuple[str, ValueType, bool]]            # declared by the document, missing in the target
    usable: bool                                         # the target's table is an entity table or absent


@dataclass
class TablePlan:
    table: Table
    exists: bool
    new_columns: list[Column]
    decode_id: Callable[[Any], Any]
    decoders: list[Callable[[Any], Any]]                 # one value at a time, explaining refusals
    fast: list[Callable[[Any], list[Any]]]               # a whole column at once (export_doc.fast_column)


@dataclass
class Plan:
    entities: dict[str, EntityPlan]
    tables: dict[str, TablePlan]
    order: list[str]                                     # table names by position in the document
    database: dict[str, Any]
    sources: list[dict[str, Any]]                        # checked records (sources.check_exported)
    counts: dict[str, Any]
    fingerprint: str
    seen: set[str] = field(default_factory=set)          # kinds / tables that have records
    connections: list[str] = field(default_factory=list)  # connection kinds the document's sources use


def plan_import(ctx: ServiceContext, db: databases.Database, holder: engine.Holder, header: Any,
                problems: Problems) -> Plan:
    """Check a document's header against the target database and work out the merge."""
    view = {name: definition for name, (_i, definition, _s) in holder.read_view().items()}
    plan = Plan({}, {}, [], {}, [], {}, "")
    if not isinstance(header, dict):
        problems.add("header", "must be a JSON object")
        return plan
    unusable = json_value_problem(header)      # a lone surrogate no SQLite column or file takes
    if unusable:
        problems.add("header", unusable)
        return plan
    unknown = sorted(set(header) - export_doc.HEADER_KEYS)
    if unknown:
        problems.add("header", f"unknown key {unknown[0]!r}")
    if header.get("format") != export_doc.FORMAT:
        problems.add("format", f"must be {export_doc.FORMAT!r}")
    if str(header.get("version")) != export_doc.VERSION:
        problems.add("version", f"this server reads version {export_doc.VERSION!r} documents")
    database = header.get("database") or {}
    if not isinstance(database, dict) or set(database) - export_doc.DATABASE_KEYS:
        problems.add("database", f"must be an object with {', '.join(sorted(export_doc.DATABASE_KEYS))}")
    else:
        if not isinstance(database.get("metadata", {}), dict):
            problems.add("database.metadata", "must be an object")
        elif not isinstance(database.get("description", ""), str):
            problems.add("database.description", "must be text")
        else:
            plan.database = database
    fingerprint: dict[str, Any] = {}
    for kind, table_name in ENTITY_TABLES.items():
        target = view.get(table_name)
        fingerprint[table_name] = target.to_dict() if target is not None else None
        usable = target is None or _is_entity(target, kind)
        id_type = IdType.parse(db.item_id_type if kind == "item" else db.user_id_type)
        existing = {n.lower(): (n, vt) for n, vt, _i, _f in _entity_props(target)} if usable and target else {}
        ep = EntityPlan(kind, id_type, dict(existing), [], usable)
        declared = export_doc.check_properties(header.get(f"{kind}s_properties"), kind, problems)
        if declared and not usable:
            problems.add(f"{kind}s_properties", f"table {table_name} exists and is not an {kind} table",
                         "TABLE_CONFLICT")
        for name, vt, indexed in declared:
            have = existing.get(name.lower())
            if have is None:
                ep.props[name.lower()] = (name, vt)
                ep.create.append((name, vt, indexed))
            elif have[1].kind != vt.kind or have[1].repeated != vt.repeated:
                problems.add(f"{kind}s_properties.{name}",
                             f"{kind} property {name} is {_type_text(have[1])} here and {_type_text(vt)} in the "
                             f"document", "PROPERTY_TYPE_CONFLICT")
        plan.entities[kind] = ep
    raw_tables = header.get("sql_tables") or []
    if not isinstance(raw_tables, list):
        problems.add("sql_tables", "must be a list")
        raw_tables = []
    for i, raw in enumerate(raw_tables):
        where = f"sql_tables[{i}]"
        table = export_doc.check_table(raw, where, problems)
        if table is None:
            plan.order.append("")
            continue
        plan.order.append(table.name)
        if table.name in plan.tables:
            problems.add(where, f"table {table.name} is listed twice")
            continue
        held = {databases.ITEMS_TABLE: "item", databases.USERS_TABLE: "user"}.get(table.name)
        if held is not None and (_is_entity(view.get(table.name), held) or plan.entities[held].create):
            problems.add(where, f"{table.name} is the {held} table here, not a SQL table", "TABLE_CONFLICT")
            continue
        plan.tables[table.name] = _plan_table(table, view.get(table.name), where, problems)
        target = view.get(table.name)
        fingerprint[table.name] = target.to_dict() if target is not None else None
    plan.sources = _check_sources(ctx, db, header.get("sources"), problems)
    plan.connections = _check_connections(header.get("connections"), problems)
    counts = header.get("counts") or {}
    plan.counts = counts if isinstance(counts, dict) else {}
    plan.fingerprint = json.dumps(fingerprint, sort_keys=True, default=str)
    return plan


def _check_sources(ctx: ServiceContext, db: databases.Database, raw: Any, problems: Problems) -> list[dict[str, Any]]:
    """The document's sources, each checked as any source is; the ones the target lacks
    (by connection and name) must fit under limits.max_sources_per_database."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.add("sources", "must be a list of objects")
        return []
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for i, r in enumerate(raw):
        try:
            rec = sources.check_exported(r)
        except ServiceError as exc:
            problems.add(f"sources[{i}]", exc.message)
            continue
        key = (rec["connection"], rec["name"])
        if key in seen:
            problems.add(f"sources[{i}]", f"the source {key[1]} of connection {key[0]} is listed twice")
            continue
        seen.add(key)
        out.append(rec)
    have = {(r["connection"], r["name"]) for r in
            ctx.store.all("SELECT connection, name FROM sources WHERE database_id = ?", (db.id,))}
    limit = ctx.config.limits.max_sources_per_database
    if len(have | seen) > limit:
        problems.add("sources", f"the database would have {len(have | seen)} sources; the limit is {limit}",
                     "LIMIT_EXCEEDED")
    return out


def _check_connections(raw: Any, problems: Problems) -> list[str]:
    """The kinds of a document's `connections` (as export writes them). A credential value
    other than "***" is refused: credentials never travel in a document, so an import
    never stores one — they are PUT to the connection."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.add("connections", "must be a list of objects")
        return []
    kinds = []
    for i, c in enumerate(raw):
        where = f"connections[{i}]"
        if not isinstance(c, dict) or set(c) - {"connection", "credentials", "metadata"}:
            problems.add(where, "must be an object with connection, credentials and metadata")
            continue
        kind = c.get("connection")
        if not isinstance(kind, str) or kind.upper() not in connections.KINDS or kind.upper() == connections.LOCAL:
            problems.add(f"{where}.connection", f"must be one of {', '.join(connections.KINDS[1:])}")
            continue
        creds = c.get("credentials", {})
        if not isinstance(creds, dict) or any(v != connections.REDACTED for v in creds.values()):
            problems.add(f"{where}.credentials", "credentials never travel in an export document (every value "
                         f"must be \"{connections.REDACTED}\"): PUT the connection with its credentials instead")
            continue
        if not isinstance(c.get("metadata", {}), dict):
            problems.add(f"{where}.metadata", "must be an object")
            continue
        kinds.append(kind.upper())
    return kinds


def _type_text(vt: ValueType) -> str:
    return f"{'repeated ' if vt.repeated else ''}{vt.name}"


def _plan_table(table: Table, target: Optional[IndexDef], where: str, problems: Problems) -> TablePlan:
    decoders = []
    fast = []
    new_columns = []
    if target is not None and (target.options.keys, target.options.track_existence) != \
            (table.keys, table.track_existence):
        problems.add(where, f"table {table.name} has keys={target.options.keys}, track_existence="
                            f"{target.options.track_existence} here and keys={table.keys}, track_existence="
                            f"{table.track_existence} in the document", "TABLE_CONFLICT")
    for col in table.columns:
        have = target.fields.get(col.name) if target is not None else None
        if have is None:
            new_columns.append(col)
            fd = FieldDef(col.name, 0, col.options, meta=col.meta)
        else:
            fd = have
            if not export_doc.same_values(have.options, col.options):
                problems.add(f"{where}.{col.name}", f"column {col.name} is {export_doc.sql_type_of(have.options)} "
                             f"here and {col.sql_type} in the document (or their units differ)",
                             "COLUMN_TYPE_CONFLICT")
        decoders.append(export_doc.from_document(fd))
        fast.append(export_doc.fast_column(fd))
    return TablePlan(table, target is not None, new_columns, export_doc.record_id(table.keys), decoders, fast)


# --- import: the records ----------------------------------------------------------------------------

@dataclass
class Decoded:
    kind: str                        # "item", "user" or "row"
    table: str                       # the table (rows)
    key: Any                         # canonical id / record key (duplicate detection)
    payload: Any                     # the entity (as given) or the decoded row values


def decode_record(plan: Plan, obj: Any, where: str) -> Decoded:
    """Check one record line against the plan; raises WrongValue (with the reason)."""
    if not isinstance(obj, dict):
        raise WrongValue("a record is a JSON object")
    kind = obj.get("kind")
    if kind in ("item", "user"):
        if set(obj) != {"kind", kind} or not isinstance(obj[kind], dict):
            raise WrongValue(f"an {kind} record is {{\"kind\": \"{kind}\", \"{kind}\": {{...}}}}")
        ep = plan.entities[kind]
        if not ep.usable:
            raise WrongValue(f"table {ENTITY_TABLES[kind]} is not an {kind} table here")
        ent = obj[kind]
        id_field = f"{kind}_id"
        if id_field not in ent:
            raise WrongValue(f"the {kind} has no {id_field}")
        try:
            key = ep.id_type.key(ent[id_field])
        except WrongDataType as exc:
            raise WrongValue(f"{id_field}: {exc.message}") from None
        for name, value in ent.items():
            if name == id_field:
                continue
            prop = ep.props.get(name.lower()) if isinstance(name, str) else None
            if prop is None:
                raise WrongValue(f"{kind} {str(key)[:40]}: unknown property {str(name)[:64]!r}")
            if value is None:
                continue
            vt = prop[1]
            try:
                if vt.repeated:
                    if not isinstance(value, list):
                        raise WrongDataType(f"expected a list of {vt.name}")
                    for v in value:
                        vt.check(v)
                else:
                    vt.check(value)
            except WrongDataType as exc:
                raise WrongValue(f"{kind} {str(key)[:40]}, property {prop[0]}: {exc.message}") from None
        return Decoded(kind, "", key, ent)
    if kind == "row":
        if set(obj) - {"kind", "table", "values", "table_index"}:
            raise WrongValue("a row record is {\"kind\": \"row\", \"table\": ..., \"values\": [...]}")
        name = obj.get("table")
        if name is None and isinstance(obj.get("table_index"), int) and 0 <= obj["table_index"] < len(plan.order):
            name = plan.order[obj["table_index"]]
        tp = plan.tables.get(name) if isinstance(name, str) else None
        if tp is None:
            raise WrongValue(f"table {str(name)[:64]!r} is not in the header's sql_tables")
        values = obj.get("values")
        if not isinstance(values, list) or len(values) != len(tp.decoders) + 1:
            raise WrongValue(f"table {name}: values must be a list of {len(tp.decoders) + 1} (_id first)")
        rid = tp.decode_id(values[0])
        out = [rid]
        for col, dec, v in zip(tp.table.columns, tp.decoders, values[1:]):
            try:
                out.append(dec(v))
            except WrongValue as exc:
                raise WrongValue(f"table {name}, _id {str(rid)[:40]}, column {col.name}: {exc}") from None
        return Decoded("row", name, rid, out)
    raise WrongValue(f"unknown record kind {str(kind)[:20]!r}")


def _groups(batch: list[tuple[int, Any, str]]) -> Iterator[tuple[Optional[str], list[tuple[int, Any, str]]]]:
    """Runs of consecutive row records of one table (name), and of everything else (None)."""
    tables = [o.get("table") if type(o) is dict and o.get("kind") == "row" else None for _n, o, _l in batch]
    start = 0
    for i in range(1, len(batch) + 1):
        if i == len(batch) or tables[i] != tables[start]:
            table = tables[start]
            yield (table if isinstance(table, str) else None), batch[start:i]
            start = i


def _exact(run: list[tuple[int, Any, str]]) -> list[tuple[int, Any]]:
    """The records of a run re-read exactly (see export_doc.iter_ndjson)."""
    return [(n, export_doc.exact(n, line)) for n, _obj, line in run]


_ROW_KEYS = frozenset({"kind", "table", "values", "table_index"})


def _fast_rows(plan: Plan, table: str, run: list[tuple[int, Any, str]], suspect: bool
               ) -> Optional[tuple[list[Any], dict[str, list[Any]]]]:
    """(ids, columns) of a run of rows of one table, checked and converted column by column,
    or None when a value needs the record-by-record check (which explains it)."""
    tp = plan.tables.get(table)
    if tp is None or suspect:
        return None
    width = len(tp.decoders) + 1
    rows = []
    for _line, obj, _text in run:
        values = obj.get("values")
        if not obj.keys() <= _ROW_KEYS or type(values) is not list or len(values) != width:
            return None
        rows.append(values)
    columns = list(zip(*rows))
    ids = list(columns[0])
    if tp.table.keys:
        if not all(type(v) is str and v for v in ids):
            return None
    elif not all(type(v) is int for v in ids) or min(ids) < 0 or max(ids) > export_doc.UINT64_MAX:
        return None
    try:
        out = {col.name: fast(values) for col, fast, values in zip(tp.table.columns, tp.fast, columns[1:])}
    except export_doc.Slow:
        return None
    return ids, out


class Checked:
    """What the first pass found good, kept for the second in a spool file (msgpack, our own
    file): runs of rows already converted column by column ("rows", table, ids, columns),
    and other records as parsed ("records", [[line, obj], ...]) — so the document is
    parsed and converted once."""

    def __init__(self, ctx: ServiceContext, cleanup: list[str]) -> None:
        self.path, self._f = new_spool(ctx, ".checked")
        cleanup.append(self.path)
        self.count = 0

    def rows(self, table: str, ids: list[Any], columns: dict[str, list[Any]]) -> None:
        self._f.write(msgpack.packb(["rows", table, ids, columns], use_bin_type=True))

    def records(self, run: list[tuple[int, Any]]) -> None:
        self._f.write(msgpack.packb(["records", run], use_bin_type=True))

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()

    def __iter__(self) -> Iterator[list[Any]]:
        with open(self.path, "rb") as f:
            yield from msgpack.Unpacker(f, raw=False, strict_map_key=False, max_buffer_size=1 << 31)


def validate_records(plan: Plan, doc_path: str, problems: Problems, progress: Progress = None,
                     checked: Optional[Checked] = None) -> int:
    """The first pass: every record checked (what is good goes to `checked`); returns how
    many there are."""
    try:
        return _validate(plan, doc_path, problems, progress, checked)
    finally:
        if checked is not None:
            checked.close()


def _validate(plan: Plan, doc_path: str, problems: Problems, progress: Progress, checked: Optional[Checked]) -> int:
    n = 0
    total = _total(plan)
    for batch, suspect in export_doc.iter_ndjson(doc_path, batch=ROW_BATCH):
        for table, run in _groups(batch):
            fast = _fast_rows(plan, table, run, suspect) if table is not None else None
            if fast is not None and len(set(fast[0])) == len(fast[0]):
                plan.seen.add("row:" + str(table))
                n += len(run)
                if checked is not None and not problems:
                    checked.rows(str(table), *fast)
                continue
            records = _exact(run)
            for line, obj in records:
                try:
                    d = decode_record(plan, obj, f"line {line}")
                    plan.seen.add(d.kind if d.kind != "row" else "row:" + d.table)
                except WrongValue as exc:
                    problems.add(f"line {line}", str(exc), "WRONG_DATA_TYPE")
                    if problems.full:
                        return n
                n += 1
            if checked is not None and not problems:
                checked.records(records)
        if progress:
            progress("validate", n, max(n, total))
    if progress:
        progress("validate", n, max(n, total))
    return n


def _total(plan: Plan) -> int:
    c = plan.counts
    try:
        return int(c.get("items", 0)) + int(c.get("users", 0)) + sum(int(v) for v in (c.get("rows") or {}).values())
    except (TypeError, ValueError, AttributeError):
        return 0


# --- import: applying -----------------------------------------------------------------------------

@dataclass
class ImportResult:
    items: int = 0
    users: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    properties_created: list[str] = field(default_factory=list)
    tables_created: list[str] = field(default_factory=list)
    columns_created: list[str] = field(default_factory=list)
    # Connections the document's sources use that the target's org lacks: credentials do
    # not travel, so they must be PUT before those sources can run.
    connections_missing: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"items": self.items, "users": self.users, "rows": dict(self.rows),
                "properties_created": list(self.properties_created), "tables_created": list(self.tables_created),
                "columns_created": list(self.columns_created), "connections_missing": list(self.connections_missing),
                "seconds": round(self.seconds, 3)}


def _apply_schema(ctx: ServiceContext, db: databases.Database, holder: engine.Holder, plan: Plan,
                  result: ImportResult) -> None:
    needs = [k for k, ep in plan.entities.items() if ep.create or k in plan.seen]
    if needs:
        databases.ensure_entity_tables(ctx, db)
    for kind in needs:
        table = EntityTable.open(holder, ENTITY_TABLES[kind])
        for name, vt, indexed in plan.entities[kind].create:
            table.create_property(name, vt.name, repeated=vt.repeated, indexed=indexed and kind == "user")
            result.properties_created.append(f"{kind}:{name}")
    for name, tp in plan.tables.items():
        t = tp.table
        if not tp.exists:
            holder.create_index(name, keys=t.keys, track_existence=t.track_existence, description=t.description,
                                meta=t.meta or None)
            result.tables_created.append(name)
        if tp.new_columns:
            holder.index(name).create_fields([(c.name, c.options, c.meta) for c in tp.new_columns])
            if tp.exists:
                result.columns_created.extend(f"{name}.{c.name}" for c in tp.new_columns)


def _apply_meta(ctx: ServiceContext, db: databases.Database, plan: Plan) -> None:
    changes: dict[str, Any] = {}
    metadata = plan.database.get("metadata")
    if metadata:
        changes["metadata"] = json.dumps(merge_patch(db.metadata, metadata), separators=(",", ":"), sort_keys=True)
    description = plan.database.get("description")
    if description and not db.description:
        changes["description"] = description
    with ctx.store.transaction() as st:
        if changes:
            st.execute(f"UPDATE databases SET {', '.join(f'{k} = ?' for k in changes)}, updated_at = ? WHERE id = ?",
                       (*changes.values(), ctx.now(), db.id))
        add_sources(ctx, st, db, plan.sources)


def add_sources(ctx: ServiceContext, st: Any, db: databases.Database, records: list[dict[str, Any]]) -> int:
    """Checked source records (sources.check_exported) the database lacks — by connection
    and name — added (sources.imported_row); the database's own are kept. Returns how many."""
    added = 0
    for rec in records:
        if st.one("SELECT 1 FROM sources WHERE database_id = ? AND connection = ? AND name = ?",
                  (db.id, rec["connection"], rec["name"])):
            continue
        row = sources.imported_row(ctx, db, rec)
        st.execute(f"INSERT INTO sources ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                   tuple(row.values()))
        added += 1
    return added


class _Batcher:
    """Consecutive records of one kind/table, written when the batch is full, the kind or
    table changes, or an id repeats (a later line wins, so it goes in the next batch)."""

    def __init__(self, holder: engine.Holder, plan: Plan, result: ImportResult, progress: Progress,
                 total: int) -> None:
        self.holder, self.plan, self.result, self.progress, self.total = holder, plan, result, progress, total
        self.kind: Optional[str] = None
        self.table = ""
        self.keys: set[Any] = set()
        self.items: list[Any] = []
        self.done = 0

    def add(self, d: Decoded) -> None:
        limit = ROW_BATCH if d.kind == "row" else ENTITY_BATCH
        if (d.kind, d.table) != (self.kind, self.table) or d.key in self.keys or len(self.items) >= limit:
            self.flush()
            self.kind, self.table = d.kind, d.table
        self.keys.add(d.key)
        self.items.append(d.payload)

    def write_rows(self, table: str, ids: list[Any], columns: dict[str, list[Any]]) -> None:
        """A run of rows already checked and converted column by column."""
        self.holder.index(table).write_records(ids, columns)
        self.result.rows[table] = self.result.rows.get(table, 0) + len(ids)
        self.done += len(ids)
        if self.progress:
            self.progress("apply", self.done, self.total)

    def flush(self) -> None:
        if not self.items:
            return
        if self.kind in ("item", "user"):
            table = EntityTable.open(self.holder, ENTITY_TABLES[self.kind])
            table.patch(self.items, create_if_missing=True)
            if self.kind == "item":
                self.result.items += len(self.items)
            else:
                self.result.users += len(self.items)
        else:
            tp = self.plan.tables[self.table]
            names = [c.name for c in tp.table.columns]
            ids = [r[0] for r in self.items]
            cols = {n: [r[j + 1] for r in self.items] for j, n in enumerate(names)}
            self.holder.index(self.table).write_records(ids, cols)
            self.result.rows[self.table] = self.result.rows.get(self.table, 0) + len(self.items)
        self.done += len(self.items)
        if self.progress:
            self.progress("apply", self.done, self.total)
        self.items, self.keys = [], set()


def _apply_records(holder: engine.Holder, plan: Plan, checked: Checked, result: ImportResult,
                   progress: Progress, total: int) -> None:
    batcher = _Batcher(holder, plan, result, progress, total)
    for entry in checked:
        if entry[0] == "rows":
            batcher.flush()
            _kind, table, ids, columns = entry
            for start in range(0, len(ids), ROW_BATCH):
                batcher.write_rows(table, ids[start:start + ROW_BATCH],
                                   {k: v[start:start + ROW_BATCH] for k, v in columns.items()})
            continue
        for line, obj in entry[1]:
            batcher.add(decode_record(plan, obj, f"line {line}"))
    batcher.flush()


# --- import: the whole operation ---------------------------------------------------------------------

def _normalize(ctx: ServiceContext, path: str, cleanup: list[str]) -> Optional[str]:
    """The NDJSON (maybe gzip) form of an uploaded document, or None for a Pieces
    envelope without a roarbase document (an empty merge)."""
    if os.path.getsize(path) == 0:
        raise DocumentError("the request body is empty: send an export document")
    kind = export_doc.sniff(path)
    if kind == "pieces":
        extracted = _extract_envelope(ctx, path, cleanup)
        if extracted is None:
            return None
        path, kind = extracted, export_doc.sniff(extracted)
        if kind == "pieces":
            raise DocumentError("an envelope inside an envelope")
    if kind == "json":
        out, f = new_spool(ctx, ".ndjson")
        cleanup.append(out)
        with f:
            export_doc.json_to_ndjson(path, f)
        return out
    return path


def _extract_envelope(ctx: ServiceContext, path: str, cleanup: list[str]) -> Optional[str]:
    """The roarbase document carried by a Pieces envelope's `values.iterable` entries
    ("roarbase.export[+gzip]" or ".N" parts in order), spooled; None when there is none."""
    import ijson

    out, f = new_spool(ctx, ".doc")
    cleanup.append(out)
    expected = 0
    found = False
    with f, export_doc.reading(), export_doc.open_binary(path) as src:
        try:
            for entry in ijson.items(src, "values.iterable.item"):
                if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                    raise DocumentError("each values.iterable entry needs a string id")
                ident = entry["id"]
                m = re.fullmatch(r"roarbase\.export(\+gzip)?(?:\.(\d+))?", ident)
                if m is None:
                    continue                                  # a Pieces entry of its own: ignored
                part = int(m.group(2)) if m.group(2) is not None else expected
                if part != expected:
                    raise DocumentError(f"envelope part {ident} is out of order (expected part {expected})")
                expected += 1
                raw = entry.get("raw")
                if not isinstance(raw, list):
                    raise DocumentError(f"envelope part {ident} has no raw bytes")
                try:
                    f.write(bytes(raw))
                except (TypeError, ValueError):
                    raise DocumentError(f"envelope part {ident}: raw must hold integers 0..255") from None
                found = True
        except ijson.JSONError as exc:
            raise DocumentError(f"the envelope is not well-formed JSON: {exc}") from None
    return out if found else None


@policy.checked(IMPORT)
def import_database(ctx: ServiceContext, principal: Principal, database_id: str, path: str, *,
                    progress: Progress = None) -> ImportResult:
    """Merge the export document in `path` (JSON, NDJSON, gzip of either, or a Pieces
    envelope) into a database; see the module docstring. The file is not removed.

    Raises InvalidParameter/InvalidBody (the document; nothing changed), ResourceNotFound,
    IncorrectState (not RUNNING), Unauthorized/Forbidden, or the error that stopped the merge
    with error_data.reverted (true: the database is as before; false: it is FROZEN).
    """
    started = time.monotonic()
    db = _check_database(ctx, principal, database_id)
    databases.check_queryable(db, writes=True)
    cleanup: list[str] = []
    try:
        doc = _normalize(ctx, path, cleanup)
        if doc is None:
            return ImportResult()
        header = export_doc.read_ndjson_header(doc)
        holder = ctx.engine(db.id)
        problems = Problems()
        plan = plan_import(ctx, db, holder, header, problems)
        problems.raise_if_any()
        checked = Checked(ctx, cleanup)
        validate_records(plan, doc, problems, progress, checked)
        problems.raise_if_any()
        return _merge(ctx, db, holder, plan, header, doc, checked, progress, started, cleanup)
    finally:
        for p in cleanup:
            with contextlib.suppress(OSError):
                os.remove(p)


def _merge(ctx: ServiceContext, db: databases.Database, holder: engine.Holder, plan: Plan, header: dict[str, Any],
           doc: str, checked: Checked, progress: Progress, started: float, cleanup: list[str]) -> ImportResult:
    db = databases.set_state(ctx, db.id, databases.RESTORING, expect=databases.RUNNING, reason="import in progress")
    result = ImportResult()
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(holder.block_writes("an import is being applied (RESTORING)",
                                                   allow_current_thread=True))
            again = Problems()
            fresh = plan_import(ctx, db, holder, header, again)
            if fresh.fingerprint != plan.fingerprint:      # the schema moved since the first pass
                if not again:
                    checked = Checked(ctx, cleanup)
                    validate_records(fresh, doc, again, None, checked)
                again.raise_if_any()
                fresh.seen |= plan.seen
                plan = fresh
            restore_points.create(ctx, db.id, holder)
        except BaseException as exc:
            # Nothing of the database changed: drop what the restore point left, serve again.
            if isinstance(exc, Exception):
                with contextlib.suppress(Exception):
                    restore_points.discard(ctx, db.id)
                held.close()
                databases.set_state(ctx, db.id, databases.RUNNING, expect=databases.RESTORING)
                if isinstance(exc, ServerError) and exc.code == "InvalidParameter":
                    raise
                raise _failed(exc, reverted=True) from exc
            raise
        try:
            _apply_schema(ctx, db, holder, plan, result)
            _apply_meta(ctx, db, plan)
            _apply_records(holder, plan, checked, result, progress, _total(plan))
            databases.set_state(ctx, db.id, databases.RUNNING, expect=databases.RESTORING)   # the commit point
        except Exception as exc:
            _revert(ctx, db, exc)
            raise _failed(exc, reverted=True) from exc
    with contextlib.suppress(Exception):          # a leftover is dropped at the next start
        restore_points.discard(ctx, db.id)
    used = (set(plan.connections) | {r["connection"] for r in plan.sources}) - {connections.LOCAL}
    result.connections_missing = sorted(k for k in used if connections.find(ctx, db.org_id, k) is None)
    result.seconds = time.monotonic() - started
    return result


def _revert(ctx: ServiceContext, db: databases.Database, cause: BaseException) -> None:
    """Put the restore point back and serve again; FROZEN (and raise) when that fails."""
    try:
        restore_points.restore(ctx, db.id)
        databases.set_state(ctx, db.id, databases.RUNNING, expect=databases.RESTORING)
    except Exception as exc:
        log.error("database %s: reverting a failed import failed", db.id, exc_info=exc)
        reason = f"an import failed ({_describe(cause)}) and restoring the state before it failed too " \
                 f"({_describe(exc)}); the restore point is kept in {restore_points.path(ctx, db.id)}"
        with contextlib.suppress(Exception):
            databases.set_state(ctx, db.id, databases.FROZEN, reason=reason[:2000])
        raise _failed(cause, reverted=False, reason=reason) from exc
    with contextlib.suppress(Exception):
        restore_points.discard(ctx, db.id)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, (ServerError, engine.EngineError)):
        return f"{exc.code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def _failed(exc: BaseException, *, reverted: bool, reason: str = "") -> ServiceError:
    """The error an import answers: the cause's code when it has one (a validation error
    found late, StorageFull, ...), else InternalServerError, with error_data.reverted."""
    if isinstance(exc, engine.EngineError):
        err: ServerError = from_engine(exc)
    elif isinstance(exc, ServerError):
        err = exc
    else:
        err = InternalServerError(f"the import failed: {type(exc).__name__}")
    prefix = "the import failed and was reverted: " if reverted else "the import failed and could not be reverted: "
    cls = BY_CODE.get(err.code, ServiceError)
    return cls(prefix + err.message + (f" ({reason})" if reason else ""), name=err.name, code=err.code,
               data={**err.details, "reverted": reverted, **({"frozen": True} if not reverted else {})})


# --- recovery at start --------------------------------------------------------------------------

def recover_import(ctx: ServiceContext, database_id: str) -> databases.Database:
    """A database left RESTORING by a stopped process: put its restore point back (RUNNING,
    exactly as before the import) or, without a complete one (the import had not changed
    anything yet), just serve again. FROZEN when the restore fails."""
    if not restore_points.complete(ctx, database_id):
        with contextlib.suppress(Exception):
            restore_points.discard(ctx, database_id)
        return databases.set_state(ctx, database_id, databases.RUNNING,
                                   reason="import interrupted before it changed anything")
    try:
        restore_points.restore(ctx, database_id)
    except Exception as exc:
        log.error("database %s: restoring after an interrupted import failed", database_id, exc_info=exc)
        return databases.set_state(ctx, database_id, databases.FROZEN,
                                   reason=f"an import was interrupted and restoring the state before it failed: "
                                          f"{_describe(exc)}"[:2000])
    db = databases.set_state(ctx, database_id, databases.RUNNING,
                             reason="import interrupted by a restart; the database was restored")
    with contextlib.suppress(Exception):
        restore_points.discard(ctx, database_id)
    return db


def discard_leftovers(ctx: ServiceContext) -> list[str]:
    """Restore points no import needs any more (the database is not RESTORING or FROZEN:
    its import finished), and spool files of imports a stopped process left. Returns the
    database ids whose restore point was dropped."""
    dropped = []
    for ident in restore_points.leftovers(ctx):
        row = ctx.store.one("SELECT state FROM databases WHERE id = ?", (ident,))
        if row is None or row["state"] not in (databases.RESTORING, databases.FROZEN):
            with contextlib.suppress(Exception):
                restore_points.discard(ctx, ident)
                dropped.append(ident)
    spool = os.path.join(ctx.config.data_dir, "tmp")
    if os.path.isdir(spool):
        for name in os.listdir(spool):
            if name.startswith("import-"):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(spool, name))
    return dropped


__all__ = ["start_export", "Export", "import_database", "ImportResult", "recover_import", "discard_leftovers",
           "new_spool", "tmp_dir", "EXPORT", "IMPORT", "ID_COLUMN"]
