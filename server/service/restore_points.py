"""Restore points: what an import reverts to (API.md §3.6 "revert-on-failure").

A restore point of a database is `<data_dir>/restore/<database id>/`:

    engine/      an engine snapshot of its directory (engine.snapshots: hard links, logs
                 copied to their last commit — copy-on-write, not a replay)
    meta.json    its metadata rows: the databases row, and its rows of the meta.db tables
                 listed in META_TABLES when they exist (connections, sources)

meta.json is written last (atomically): a restore point without it is incomplete — it was
being taken when the process stopped, nothing had been changed yet, and it is discarded.
Restoring puts the engine directory back (engine.restore_snapshot, idempotent) and then
the rows (one meta.db transaction), so after a crash during a restore, restoring again
finishes it. All file work goes through ctx.fileio (fault-injection seam).
"""
from __future__ import annotations

import base64
import json
import os
from typing import Any

import engine
from server.service.context import ServiceContext

META_FILE = "meta.json"
ENGINE_DIR = "engine"
# Database-scoped meta.db tables whose rows belong to the restore point (when the table
# exists and has a database_id column).
META_TABLES = ("connections", "sources")
# Columns of the databases row an import may change, hence what a restore puts back.
DATABASE_COLUMNS = ("description", "metadata", "core_config", "database_options", "updated_at", "updated_by")


def root(ctx: ServiceContext) -> str:
    return os.path.join(ctx.config.data_dir, "restore")


def path(ctx: ServiceContext, database_id: str) -> str:
    return os.path.join(root(ctx), database_id)


def complete(ctx: ServiceContext, database_id: str) -> bool:
    return ctx.fileio.exists(os.path.join(path(ctx, database_id), META_FILE))


def meta_tables(ctx: ServiceContext) -> list[str]:
    """The META_TABLES present in meta.db (they come with later migrations)."""
    out = []
    for name in META_TABLES:
        if ctx.store.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)) is None:
            continue
        cols = {r["name"] for r in ctx.store.all(f"PRAGMA table_info({name})")}
        if "database_id" in cols:
            out.append(name)
    return out


def _cell(v: Any) -> Any:
    """A SQLite value as JSON (BLOBs tagged as base64)."""
    return {"$blob": base64.b64encode(v).decode("ascii")} if isinstance(v, (bytes, memoryview)) else v


def _uncell(v: Any) -> Any:
    return base64.b64decode(v["$blob"]) if isinstance(v, dict) and set(v) == {"$blob"} else v


def _meta_rows(ctx: ServiceContext, database_id: str) -> dict[str, Any]:
    row = ctx.store.one("SELECT * FROM databases WHERE id = ?", (database_id,))
    if row is None:
        raise engine.NotFoundError(f"database {database_id} has no row")
    tables = {name: [{k: _cell(v) for k, v in dict(r).items()}
                     for r in ctx.store.all(f"SELECT * FROM {name} WHERE database_id = ?", (database_id,))]
              for name in meta_tables(ctx)}
    return {"database": {c: row[c] for c in DATABASE_COLUMNS}, "tables": tables}


def create(ctx: ServiceContext, database_id: str, holder: engine.Holder) -> str:
    """Take the restore point of a database whose writes are held (Holder.block_writes).
    A leftover (incomplete) one is replaced. Raises StorageFull/StorageFailed engine
    errors; nothing of the database changes either way."""
    fio = ctx.fileio
    where = path(ctx, database_id)
    discard(ctx, database_id)
    fio.makedirs(where)
    if ctx.config.fsync:                      # both new entries durable: restore/ and restore/<id>/
        fio.fsync_dir(ctx.config.data_dir)
        fio.fsync_dir(root(ctx))
    holder.snapshot(os.path.join(where, ENGINE_DIR))
    doc = _meta_rows(ctx, database_id)
    fio.write_atomic(os.path.join(where, META_FILE), engine.encode_doc({"meta": json.dumps(doc)}),
                     fsync=ctx.config.fsync)
    return where


def restore(ctx: ServiceContext, database_id: str) -> None:
    """Put the database back as its restore point has it: the engine directory (with the
    engine closed and kept closed meanwhile), then its meta.db rows. Raises when the
    restore point is incomplete or the restore fails (the caller freezes the database)."""
    fio = ctx.fileio
    where = path(ctx, database_id)
    meta_path = os.path.join(where, META_FILE)
    doc = json.loads(engine.decode_doc(fio.read_file(meta_path), meta_path)["meta"])
    with ctx.offline(database_id, "being restored") as data_dir:
        engine.restore_snapshot(os.path.join(where, ENGINE_DIR), data_dir, fileio=fio, fsync=ctx.config.fsync)
    with ctx.store.transaction() as st:
        db = doc["database"]
        st.execute(f"UPDATE databases SET {', '.join(f'{c} = ?' for c in db)} WHERE id = ?",
                   (*db.values(), database_id))
        for name, rows in doc["tables"].items():
            st.execute(f"DELETE FROM {name} WHERE database_id = ?", (database_id,))
            for r in rows:
                st.execute(f"INSERT INTO {name} ({', '.join(r)}) VALUES ({', '.join('?' for _ in r)})",
                           tuple(_uncell(v) for v in r.values()))


def discard(ctx: ServiceContext, database_id: str) -> None:
    """Remove a database's restore point (complete or not); missing is fine. meta.json goes
    first, so a crash part-way leaves an incomplete restore point, never a damaged
    complete one."""
    fio = ctx.fileio
    where = path(ctx, database_id)
    if not fio.exists(where):
        return
    if fio.exists(os.path.join(where, META_FILE)):
        fio.remove(os.path.join(where, META_FILE))
        if ctx.config.fsync:
            fio.fsync_dir(where)
    engine.remove_snapshot(os.path.join(where, ENGINE_DIR), fio)
    fio.rmtree(where)


def leftovers(ctx: ServiceContext) -> list[str]:
    """Database ids that have a restore point directory (complete or not)."""
    fio = ctx.fileio
    return [n for n in fio.listdir(root(ctx)) if fio.isdir(os.path.join(root(ctx), n))]

