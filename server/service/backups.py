"""Online backups of a database and restoring one into a new database (docs/backup.md).

A backup is a gzip'd tar archive:

    engine/...               an engine snapshot of the database's directory (engine.snapshots:
                             one consistent instant across its tables, taken while writes go
                             on — they pause only while the snapshot's hard links are made)
    roarbase-backup.json     written last: format, version, the database's settings, its
                             sources as an export document carries them (sources.exported),
                             and every file's size and SHA-256

Taking one changes nothing (no state change: reads and writes continue). Restoring checks
every member (regular files under engine/ only, sizes and SHA-256 as listed, then
engine.check over the files' own checksums) before the new database exists, then creates
it (CREATING), moves the files in (engine.restore_snapshot) and opens it (RUNNING).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import uuid
from typing import Any, Iterator, Optional

import engine
from server import policy
from server.service.principal import Principal
from server.service import databases, export_doc, sources
from server.service.context import ServiceContext
from server.service.errors import InvalidParameter, ServiceError
from server.service.transfers import add_sources, tmp_dir

BACKUP = "DatabaseService.BackupDatabase"
RESTORE = "DatabaseService.RestoreDatabase"
MANIFEST = "roarbase-backup.json"
FORMAT = "roarbase.backup"
VERSION = 1
ENGINE_PREFIX = "engine/"
_READ = 1 << 20


class _Buffer(io.RawIOBase):
    """A write-only file that keeps what tarfile writes until it is drained."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self.parts)
        self.parts = []
        return out


class Backup:
    """A backup being streamed; `chunks()` gives the archive's bytes and removes the
    snapshot when done (or `close()`)."""

    def __init__(self, ctx: ServiceContext, db: databases.Database, snapshot: str, info: engine.SnapshotInfo) -> None:
        self.ctx, self.db, self.snapshot, self.info = ctx, db, snapshot, info
        self.bytes = 0                                           # archive bytes produced
        self.done = 0                                            # file bytes archived
        self.total = info.linked_bytes + info.copied_bytes + 4096  # file bytes in all (+ the manifest)

    def _files(self) -> list[tuple[str, str]]:
        out = []
        for root, dirs, names in os.walk(self.snapshot):
            dirs.sort()
            for n in sorted(names):
                full = os.path.join(root, n)
                out.append((ENGINE_PREFIX + os.path.relpath(full, self.snapshot).replace(os.sep, "/"), full))
        return out

    def chunks(self) -> Iterator[bytes]:
        try:
            buf = _Buffer()
            listed = []
            with tarfile.open(fileobj=buf, mode="w|gz") as tar:
                for name, full in self._files():
                    digest = hashlib.sha256()
                    size = os.path.getsize(full)
                    info = tarfile.TarInfo(name)
                    info.size, info.mode, info.mtime = size, 0o600, int(self.ctx.now())
                    with open(full, "rb") as f:
                        tar.addfile(info, _Hashing(f, digest))
                    listed.append({"path": name, "size": size, "sha256": digest.hexdigest()})
                    self.done += size
                    out = buf.drain()
                    if out:
                        self.bytes += len(out)
                        yield out
                db = self.db
                manifest = json.dumps({
                    "format": FORMAT, "version": VERSION, "created_at": export_doc.rfc3339_now(self.ctx.now()),
                    "database": {"name": db.name, "description": db.description, "item_id_type": db.item_id_type,
                                 "user_id_type": db.user_id_type, "session_id_type": db.session_id_type,
                                 "metadata": db.metadata, "core_config": db.core_config,
                                 "database_options": db.database_options},
                    "sources": sources.exported(self.ctx, db.id), "snapshot": self.info.to_dict(),
                    "files": listed}, indent=1).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mode, info.mtime = len(manifest), 0o600, int(self.ctx.now())
                tar.addfile(info, io.BytesIO(manifest))
            out = buf.drain()
            self.bytes += len(out)
            self.done = self.total
            yield out
        finally:
            self.close()

    def close(self) -> None:
        shutil.rmtree(self.snapshot, ignore_errors=True)


class _Hashing:
    def __init__(self, f: Any, digest: Any) -> None:
        self.f, self.digest = f, digest

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.digest.update(data)
        return data


@policy.checked(BACKUP)
def start_backup(ctx: ServiceContext, principal: Principal, database_id: str) -> Backup:
    """Snapshot a database (RUNNING or BACKUP) for a backup. Raises ResourceNotFound,
    IncorrectState, StorageFull/StorageFailed (nothing is left behind)."""
    db = databases.load(ctx, principal, database_id)
    if db.state in databases.GONE:
        raise databases._not_found(database_id)
    databases.check_queryable(db, writes=False)
    holder = ctx.engine(db.id)
    path = os.path.join(tmp_dir(ctx), f"backup-{uuid.uuid4().hex}")
    info = holder.snapshot(path)
    return Backup(ctx, db, path, info)


def _bad(message: str) -> InvalidParameter:
    return InvalidParameter(f"not a valid roarbase backup: {message}", name="INVALID_BACKUP")


def _member_path(name: str) -> Optional[str]:
    """The relative path of an engine/ member, or None for one a backup never holds."""
    if not name.startswith(ENGINE_PREFIX):
        return None
    rel = name[len(ENGINE_PREFIX):]
    parts = rel.split("/")
    if not rel or any(p in ("", ".", "..") for p in parts) or "\\" in rel or "\x00" in rel:
        return None
    return os.path.join(*parts)


@policy.checked(RESTORE)
def restore_backup(ctx: ServiceContext, principal: Principal, path: str, *, name: str,
                   description: Optional[str] = None) -> databases.Database:
    """A new database named `name` holding what the backup archive at `path` holds.

    Raises InvalidParameter (INVALID_BACKUP: nothing created), ResourceAlreadyExists
    (DUPLICATED_DB_NAME), ResourceLimitExceeded, Unauthorized/Forbidden."""
    staging = os.path.join(tmp_dir(ctx), f"restore-{uuid.uuid4().hex}")
    try:
        manifest = _unpack(path, staging)
        settings = manifest.get("database") or {}
        raw_sources = manifest.get("sources") or []
        try:
            if not isinstance(raw_sources, list):
                raise InvalidParameter("sources must be a list")
            records = [sources.check_exported(r) for r in raw_sources]
        except ServiceError as exc:
            raise _bad(f"its sources: {exc.message}") from None
        db = databases.create_database(
            ctx, principal, name=name, description=settings.get("description", "") if description is None
            else description, item_id_type=settings.get("item_id_type"), user_id_type=settings.get("user_id_type"),
            session_id_type=settings.get("session_id_type"), metadata=settings.get("metadata") or {},
            core_config=settings.get("core_config") or {}, database_options=settings.get("database_options") or {},
            provision=False)
        try:
            engine.restore_snapshot(os.path.join(staging, "engine"), ctx.engine_path(db.id), fileio=ctx.fileio,
                                    fsync=ctx.config.fsync)
            with ctx.store.transaction() as st:
                add_sources(ctx, st, db, records)
        except Exception as exc:
            databases.set_state(ctx, db.id, databases.PROVISIONING)
            return databases.set_state(ctx, db.id, databases.FAILED, reason=f"restoring the backup failed: {exc}")
        return databases.provision_database(ctx, db.id)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _unpack(path: str, staging: str) -> dict[str, Any]:
    """Extract and verify an archive into staging/engine; returns its manifest."""
    os.makedirs(os.path.join(staging, "engine"))
    seen: dict[str, tuple[int, str]] = {}
    manifest: Optional[dict[str, Any]] = None
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            for member in tar:
                if member.name == MANIFEST and member.isfile():
                    if member.size > 64 << 20:
                        raise _bad("the manifest is too large")
                    f = tar.extractfile(member)
                    assert f is not None
                    try:
                        manifest = json.loads(f.read())
                    except ValueError:
                        raise _bad("the manifest is not JSON") from None
                    continue
                if member.isdir() and member.name.rstrip("/") + "/" == ENGINE_PREFIX:
                    continue
                rel = _member_path(member.name)
                if rel is None or not (member.isfile() or member.isdir()):
                    raise _bad(f"unexpected member {member.name[:80]!r}")
                dest = os.path.join(staging, "engine", rel)
                if member.isdir():
                    os.makedirs(dest, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                src = tar.extractfile(member)
                assert src is not None
                digest = hashlib.sha256()
                with open(dest, "xb") as out:
                    while True:
                        block = src.read(_READ)
                        if not block:
                            break
                        digest.update(block)
                        out.write(block)
                seen[member.name] = (member.size, digest.hexdigest())
    except (tarfile.TarError, OSError, EOFError) as exc:
        if isinstance(exc, FileExistsError):
            raise _bad("a file is listed twice") from None
        raise _bad(f"the archive is damaged ({type(exc).__name__}: {exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise _bad(f"no {MANIFEST} of format {FORMAT!r} version {VERSION}")
    listed: dict[Any, tuple[Any, Any]] = {f.get("path"): (f.get("size"), f.get("sha256"))
                                          for f in manifest.get("files") or [] if isinstance(f, dict)}
    if listed != seen:
        missing = sorted(set(listed) ^ set(seen)) or sorted(k for k in seen if seen[k] != listed.get(k))
        raise _bad(f"the files differ from the manifest ({', '.join(missing[:3])})")
    try:
        engine.read_snapshot_info(os.path.join(staging, "engine"))
    except engine.DataCorruptedError as exc:
        raise _bad(exc.message) from None
    report = engine.check(os.path.join(staging, "engine"))
    if not report.ok:
        raise _bad("; ".join(str(f) for f in report.findings if f.severity == "error")[:500])
    return manifest


__all__ = ["start_backup", "restore_backup", "Backup", "BACKUP", "RESTORE"]
