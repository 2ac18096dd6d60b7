"""A small world for the import fault tests: a target database with items, users and a SQL
table, and an export document of another database that merges into it (new properties, a
new table, new columns, overlapping ids, nulls), plus a compact battery of answers.

Shared by test_import_faults.py (in-process, FaultIO) and test_import_kill9.py (a child
process killed with SIGKILL), whose child is import_child.py.
"""
from __future__ import annotations

import json
import os
import shutil
from typing import Any, Optional

from server.service import databases, entities, query, transfers
from server.service.bootstrap import open_service
from server.service.config import BootstrapSettings, PasswordHashing, ServiceConfig
from server.service.context import ServiceContext

ROOT_EMAIL, ROOT_PASSWORD = "root@example.com", "root-password-1"
TARGET = "target"


def config(data_dir: str, *, fsync: bool) -> ServiceConfig:
    return ServiceConfig(data_dir, fsync=fsync, passwords=PasswordHashing(time_cost=1, memory_cost_kib=8, parallelism=1),
                         bootstrap=BootstrapSettings(org_name="acme", root_email=ROOT_EMAIL, root_name="rooty",
                                                     root_password=ROOT_PASSWORD))


def open_ctx(data_dir: str, *, fsync: bool, fileio: Optional[Any] = None) -> ServiceContext:
    return open_service(config(data_dir, fsync=fsync), fileio=fileio)


def root_of(ctx: ServiceContext) -> Any:
    from server.service import tokens

    pair = tokens.login(ctx, email=ROOT_EMAIL, password=ROOT_PASSWORD)
    return tokens.verify_access_token(ctx, pair.token)


def prepare(base: str, *, fsync: bool = True, items: int = 12) -> str:
    """Make the world in `base` (data dir `base/data`); returns the document's path."""
    data = os.path.join(base, "data")
    ctx = open_ctx(data, fsync=fsync)
    try:
        root = root_of(ctx)
        tgt = databases.create_database(ctx, root, name=TARGET, metadata={"keep": 1})
        src = databases.create_database(ctx, root, name="source", metadata={"added": True})
        for db, props in ((tgt, [("price", "float32", False), ("tags", "unicode", True)]),
                          (src, [("PRICE", "float32", False), ("tags", "unicode", True), ("stock", "uint16", False)])):
            for name, vt, rep in props:
                entities.create_property(ctx, root, "item", property_name=name, value_type=vt, repeated=rep,
                                         database=db.id)
        entities.put_entities(ctx, root, "item", [{"item_id": i, "price": i / 4, "tags": [f"t{i % 3}"]}
                                                  for i in range(1, items + 1)], database=tgt.id)
        entities.put_entities(ctx, root, "item", [{"item_id": i, "PRICE": i * 1.5, "stock": i, "tags": ["new"]}
                                                  for i in range(items // 2, items + items // 2)], database=src.id)
        entities.create_property(ctx, root, "user", property_name="age", value_type="int8", database=src.id)
        entities.put_entities(ctx, root, "user", [{"user_id": u, "age": u % 100} for u in range(1, 6)],
                              database=src.id)
        query.sql(ctx, root, tgt.id, "CREATE TABLE t (_id ID, n INT, s STRINGSET); "
                                     "INSERT INTO t (_id, n, s) VALUES (1, 1, ['a']), (2, 2, ['b']), (3, 3, ['c'])")
        query.sql(ctx, root, src.id, "CREATE TABLE t (_id ID, n INT, s STRINGSET, d DECIMAL(2)); "
                                     "INSERT INTO t (_id, n, s, d) VALUES (2, 20, ['x', 'y'], 1.5), (4, 40, ['z'], null);"
                                     "CREATE TABLE extra (_id STRING, v INT); INSERT INTO extra (_id, v) VALUES "
                                     "('a', 1), ('b', 2)")
        doc = os.path.join(base, "doc.ndjson")
        export = transfers.start_export(ctx, root, src.id, fmt="ndjson")
        with open(doc, "wb") as f:
            for chunk in export.chunks():
                f.write(chunk)
        return doc
    finally:
        ctx.close()


def answers(ctx: ServiceContext, root: Any) -> str:
    """The target's content as one canonical JSON text ("byte-for-byte in query answers")."""
    db = databases.get_database_by_name(ctx, root, TARGET)
    out: dict[str, Any] = {"state": db.state, "metadata": db.metadata}
    for kind in ("item", "user"):
        try:
            out[kind] = entities.scan_entities(ctx, root, kind, amt=500, database=db.id).entities
            out[kind + "_props"] = [p.to_dict(kind) for p in entities.list_properties(ctx, root, kind, database=db.id)]
        except Exception as exc:  # an error is an answer too
            out[kind] = repr(exc)
    for text in ("SHOW TABLES", "SELECT * FROM t", "SELECT * FROM extra", "SELECT SUM(n), COUNT(*) FROM t"):
        try:
            d = query.sql(ctx, root, db.id, text).to_dict()
            rows = d["data"]
            if text == "SHOW TABLES":
                rows = [[r[0]] for r in rows]      # names only (SHOW TABLES also reports creation times)
            out[text] = [d["schema"], sorted(rows, key=lambda r: json.dumps(r, default=str))]
        except Exception as exc:
            out[text] = getattr(exc, "code", type(exc).__name__)
    return json.dumps(out, sort_keys=True, default=str)


def reference(base: str, doc: str, *, fsync: bool = True) -> tuple[str, str]:
    """(answers before, answers after a clean import), computed on a copy."""
    work = base + "-reference"
    shutil.copytree(os.path.join(base, "data"), work)
    try:
        ctx = open_ctx(work, fsync=fsync)
        try:
            root = root_of(ctx)
            before = answers(ctx, root)
            db = databases.get_database_by_name(ctx, root, TARGET)
            transfers.import_database(ctx, root, db.id, doc)
            return before, answers(ctx, root)
        finally:
            ctx.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
