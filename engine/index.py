"""An index (FeatureBase's table): its schema, committed state, log and snapshots.

One writer at a time (a lock around transactions), any number of readers (they take the
current IndexState and never lock). Commit order: encode the change set → append it to
the log → fsync → apply to a new state → publish. A failure before the fsync returned
leaves the published state and the key maps as they were.

On disk, under <data>/<index>/ (format.md documents every byte):
  SCHEMA                     index options and field definitions
  MANIFEST                   the log sequence number the snapshot files include
  frag/<field id>/<view>/<shard>.frag
  keys/columns.keys, keys/<field id>.keys
  wal-<first seq>.log        frames after the manifest's sequence number
"""
from __future__ import annotations

import builtins                          # the class defines a method named set
import contextlib
import dataclasses
import os
import threading
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from engine.errors import (
    ClosedError,
    DataCorruptedError,
    EngineError,
    StorageFullError,
    FieldExistsError,
    FieldNotFoundError,
    StorageFailedError,
)
from engine.keys import KeyMap
from engine.schema import (
    BSI_VIEW,
    STANDARD_VIEW,
    FieldDef,
    FieldOptions,
    IndexDef,
    check_meta,
    check_name,
)
from engine.state import Fragment, IndexState
from engine.storage import files, manifest
from engine.storage.manifest import FileEntry, Manifest
from engine.storage.fileio import FileIO
from engine.storage.wal import FULL_ERRNOS, WalWriter, read_wal
from engine.txn import BSI_BIT0_ROW, COLUMN_KEYS, EXISTS_ID, Transaction, apply_changes, decode_frame
from ext import BaseBitmap, CorruptDataError, FrozenBitmap


class Index:
    """An embedded index. Create through Holder.create_index; use the methods below."""

    def __init__(self, holder: Any, path: str, definition: IndexDef) -> None:
        self.holder = holder
        self.fileio: FileIO = holder.fileio
        self.path = path
        self.definition = definition
        self.name = definition.name
        self._state = IndexState(0, {})
        self.column_keys = KeyMap(0)
        self._row_keys: dict[int, KeyMap] = {fd.id: KeyMap(1) for fd in definition.fields.values() if fd.options.keys}
        self._lock = threading.RLock()
        self._wal: WalWriter | None = None
        self._dirty: set[tuple[int, str, int]] = set()
        # The snapshot files the MANIFEST on disk names, and files no MANIFEST names that
        # the next checkpoint removes (writer-only state, like _dirty).
        self._frag_files: dict[manifest.FragKey, FileEntry] = {}
        self._key_files: dict[int, FileEntry] = {}
        self._obsolete: set[str] = set()
        self._closed = False
        self._by_id: dict[int, FieldDef] = {fd.id: fd for fd in definition.fields.values()}
        self._failed: str | None = None          # set after a storage failure: read-only
        self._failure_unreported = False         # a failure no caller has been told about yet
        self.last_checkpoint_error: Exception | None = None
        self.last_commit_bytes = 0

    # --- opening and recovery ---------------------------------------------------------------

    @classmethod
    def create(cls, holder: Any, path: str, definition: IndexDef) -> "Index":
        fio = holder.fileio
        fio.makedirs(path)
        fio.fsync_dir(os.path.dirname(path))
        idx = cls(holder, path, definition)
        idx._write_schema()
        fio.write_atomic(os.path.join(path, "MANIFEST"), files.encode_doc(Manifest(2, 0, 1).to_doc()),
                         fsync=holder.fsync)
        idx._wal = WalWriter.create(fio, idx._wal_path(1), 1, holder.fsync)     # last: nothing left open on failure
        return idx

    @classmethod
    def open(cls, holder: Any, path: str) -> "Index":
        fio = holder.fileio
        definition = IndexDef.from_dict(files.decode_doc(fio.read_file(os.path.join(path, "SCHEMA")),
                                                         os.path.join(path, "SCHEMA")))
        idx = cls(holder, path, definition)
        idx._recover()
        return idx

    def _recover(self) -> None:
        fio = self.fileio
        m = manifest.read(fio, self.path)
        live = {EXISTS_ID} | set(self._by_id)
        spaces = {COLUMN_KEYS} | {fid for fid, fd in self._by_id.items() if fd.options.keys}
        if m.version == 2:
            # Exactly the files the manifest names (a dropped field's are skipped: SCHEMA
            # is written before its files are removed); every other snapshot file is left
            # by an interrupted checkpoint or drop and goes at the next checkpoint.
            self._frag_files = {k: e for k, e in m.frags.items() if k[0] in live}
            self._key_files = {k: e for k, e in m.keys.items() if k in spaces}
            self._obsolete = manifest.snapshot_files(fio, self.path) - manifest.named_paths(
                Manifest(2, m.seq, None, self._frag_files, self._key_files))

            def load(rel: str, entry: FileEntry, decode: Callable[[bytes, str], Any]) -> Any:
                return manifest.load(fio, self.path, rel, entry, decode)
        else:
            # Version 1 (or no MANIFEST): the files are found by listing; recorded with
            # their sizes and checksums so the next checkpoint names them in version 2.
            # Without a MANIFEST nothing was checkpointed, or the log (checked below to
            # start at 1) still holds every commit: no snapshot file is needed.
            legacy_frags, legacy_keys = manifest.legacy_files(fio, self.path) if m.version == 1 else ({}, {})
            found: dict[str, FileEntry] = {}

            def load(rel: str, entry: FileEntry, decode: Callable[[bytes, str], Any]) -> Any:
                path = os.path.join(self.path, rel)
                data = fio.read_file(path)
                found[rel] = FileEntry(None, len(data), manifest.sealed_crc(data))
                return decode(data, path)

            unknown = FileEntry(None, 0, 0)
            self._frag_files = {k: unknown for k in legacy_frags if k[0] in live}
            self._key_files = {k: unknown for k in legacy_keys if k in spaces}
            self._obsolete = set() if m.version == 1 else manifest.snapshot_files(fio, self.path)
        fields: dict[int, dict[str, dict[int, Fragment]]] = {}
        for (fid, view, shard), entry in self._frag_files.items():
            rows = load(manifest.frag_path(fid, view, shard, entry.seq), entry, files.decode_fragment)
            if rows:
                fields.setdefault(fid, {}).setdefault(view, {})[shard] = Fragment(rows)
        for space, entry in self._key_files.items():
            keys, next_id = load(manifest.keys_path(space, entry.seq), entry, files.decode_keys)
            if space == COLUMN_KEYS:
                self.column_keys = KeyMap(0, keys, next_id)
            else:
                self._row_keys[space] = KeyMap(1, keys, next_id)
        if m.version != 2:
            self._frag_files = {k: found[manifest.frag_path(*k, None)] for k in self._frag_files}
            self._key_files = {k: found[manifest.keys_path(k, None)] for k in self._key_files}
        state = IndexState(m.seq, fields)
        # Replay every log frame after the manifest's sequence number, in order.
        logs = sorted((int(n[4:-4], 16), n) for n in fio.listdir(self.path)
                      if n.startswith("wal-") and n.endswith(".log"))
        manifest_path = os.path.join(self.path, "MANIFEST")
        if m.wal is not None and manifest.wal_name(m.wal) not in {n for _, n in logs}:
            raise DataCorruptedError(f"write-ahead log named by MANIFEST is missing (commits after {m.seq} "
                                     f"would be lost)", os.path.join(self.path, manifest.wal_name(m.wal)), 0)
        last_path, last_size, next_seq = None, 0, m.seq + 1
        last_end_seq = -1                 # sequence number the last log's next frame would carry
        first_log = True
        for i, (first, name) in enumerate(logs):
            lpath = os.path.join(self.path, name)
            contents = read_wal(fio, lpath)
            if contents.first_seq < 0:
                fio.remove(lpath)         # its header never became durable: nothing committed
                continue
            if first_log and contents.first_seq > m.seq + 1:
                # The frames between the snapshot and this log are gone: a MANIFEST (or the
                # files it named) older than the log, or no MANIFEST at all.
                what = "MANIFEST is missing" if m.version == 0 else f"MANIFEST's seq {m.seq} is older than the log"
                raise DataCorruptedError(f"{what}: the log starts at {contents.first_seq}, so commits "
                                         f"{m.seq + 1}..{contents.first_seq - 1} are not on disk", manifest_path, 0)
            first_log = False
            if contents.torn_bytes and i != len(logs) - 1:
                raise DataCorruptedError("damaged frame in an older log file", lpath, contents.valid_end)
            for fseq, payload in contents.records:
                if fseq <= state.seq:
                    continue
                if fseq != state.seq + 1:
                    raise DataCorruptedError(f"log sequence gap before {fseq}", lpath, 0)
                try:
                    new_keys, changes = decode_frame(payload)
                except (ValueError, TypeError, KeyError, CorruptDataError) as exc:
                    raise DataCorruptedError(f"undecodable log frame {fseq}: {exc}", lpath, 0) from None
                self._apply_keys(new_keys)
                state = apply_changes(state, fseq, [c for c in changes if c[0] in live], self._dirty)
            if contents.torn_bytes:
                fio.truncate(lpath, contents.valid_end)     # cut the torn tail back
            if i != len(logs) - 1 and contents.first_seq + len(contents.records) <= m.seq + 1:
                self._obsolete.add(name)  # every frame is in the snapshot (a checkpoint cut short)
            last_path, last_size = lpath, contents.valid_end
            last_end_seq = contents.first_seq + len(contents.records)
            next_seq = max(next_seq, state.seq + 1)
        self._state = state
        if last_path is not None and last_size > 0 and last_end_seq == next_seq:
            self._wal = WalWriter(fio, last_path, next_seq, last_size, self.holder.fsync)
        else:
            # Frames must continue the numbering in their file's header, so a log that
            # does not end exactly at next_seq (e.g. a checkpoint's new log whose header
            # was written but never used) is not appended to.
            self._wal = WalWriter.create(fio, self._wal_path(next_seq), next_seq, self.holder.fsync)

    def _apply_keys(self, new_keys: list[Any]) -> None:
        for space, keys, ids in new_keys:
            if space == COLUMN_KEYS:
                self.column_keys.apply(zip(keys, ids))
            else:
                fd = self._field_by_id(space)
                if fd is not None:
                    self.row_keys(fd).apply(zip(keys, ids))

    def _wal_path(self, first_seq: int) -> str:
        return os.path.join(self.path, f"wal-{first_seq:016x}.log")

    def _write_schema(self, definition: IndexDef | None = None) -> None:
        doc = (definition or self.definition).to_dict()
        with self._storage("writing the schema"):
            self.fileio.write_atomic(os.path.join(self.path, "SCHEMA"), files.encode_doc(doc), fsync=self.holder.fsync)

    # --- schema -------------------------------------------------------------------------------

    def create_field(self, name: str, type: str = "set", *, meta: dict[str, Any] | None = None,
                     **options: Any) -> "Field":
        """Add a field (FeatureBase field types and options; see engine.schema). `meta` is
        opaque JSON kept with the field's definition (schema.check_meta)."""
        check_name(name, "field")
        return self.create_fields([(name, FieldOptions.make(type, **options), meta)])[0]

    def create_fields(self, specs: Sequence[tuple[str, FieldOptions, dict[str, Any] | None]]) -> list["Field"]:
        """Add several fields (name, validated FieldOptions, meta) with one schema write: a
        wide CREATE TABLE would otherwise rewrite the schema once per column."""
        checked = [(check_name(name, "field"), opts, check_meta(meta, "field")) for name, opts, meta in specs]
        with self._writing():
            self.holder.check_writes_allowed()
            fields = dict(self.definition.fields)
            next_id = self.definition.next_field_id
            made = []
            for name, opts, meta in checked:
                if name in fields:          # also a name given twice
                    raise FieldExistsError(f"field {name} already exists in index {self.name}")
                fd = fields[name] = FieldDef(name, next_id, opts, meta=meta)
                next_id += 1
                made.append(fd)
            self._publish_schema(dataclasses.replace(self.definition, fields=fields, next_field_id=next_id))
            return [Field(self, fd) for fd in made]

    def field(self, name: str) -> "Field":
        fd = self.definition.fields.get(name)
        if fd is None:
            raise FieldNotFoundError(f"field {name} not found in index {self.name}")
        return Field(self, fd)

    def fields(self) -> list["Field"]:
        return [Field(self, fd) for fd in self.definition.fields.values()]

    def drop_field(self, name: str) -> None:
        """Remove a field and its data. Its id is never reused, so log frames that still
        mention it are ignored on replay."""
        with self._writing():
            self.holder.check_writes_allowed()
            fd = self.definition.fields.get(name)
            if fd is None:
                raise FieldNotFoundError(f"field {name} not found in index {self.name}")
            fields = {n: f for n, f in self.definition.fields.items() if n != name}
            self._publish_schema(dataclasses.replace(self.definition, fields=fields))
            state_fields = dict(self._state.fields)
            state_fields.pop(fd.id, None)
            self._state = IndexState(self._state.seq, state_fields)
            self._dirty = {d for d in self._dirty if d[0] != fd.id}
            # SCHEMA no longer names the field, so the MANIFEST's entries for its files are
            # skipped on open; they leave the next MANIFEST too.
            self._frag_files = {k: e for k, e in self._frag_files.items() if k[0] != fd.id}
            key_file = self._key_files.pop(fd.id, None)
            self.fileio.rmtree(os.path.join(self.path, "frag", str(fd.id)))
            if key_file is not None:
                self.fileio.remove(os.path.join(self.path, manifest.keys_path(fd.id, key_file.seq)))

    def adopt_definition(self, definition: IndexDef) -> None:
        """Take another copy's schema as it is, field ids included (a cluster shard store
        following the coordinator's): fields it no longer has are dropped with their data."""
        with self._writing():
            keep = {fd.id for fd in definition.fields.values()}
            for fd in list(self.definition.fields.values()):
                if fd.id not in keep:
                    self.drop_field(fd.name)
            self._publish_schema(definition)

    def _publish_schema(self, definition: IndexDef) -> None:
        """Make `definition` durable, then current. Readers hold no lock, so nothing they
        can reach is ever mutated: the definition, its field dict, the id map and the key
        map table are replaced by new objects (copy on write; schema changes are rare)."""
        self._write_schema(definition)
        by_id = {fd.id: fd for fd in definition.fields.values()}
        old_keys = self._row_keys
        row_keys = {fid: old_keys[fid] if fid in old_keys else KeyMap(1) for fid, fd in by_id.items() if fd.options.keys}
        # A reader finds a field by name, then by id (or in the key map table): publish the
        # id-keyed tables first when fields are added and last when they are removed, so a
        # name a reader can see always resolves.
        growing = len(by_id) >= len(self._by_id)
        if growing:
            self._by_id, self._row_keys = by_id, row_keys
        self.definition = definition
        if not growing:
            self._by_id, self._row_keys = by_id, row_keys

    def _field_by_id(self, fid: int) -> FieldDef | None:
        return self._by_id.get(fid)

    def fields_by_id(self) -> dict[int, FieldDef]:
        """Field definitions by id (a new dict after every schema change; never mutated)."""
        return self._by_id

    def row_keys(self, fd: FieldDef) -> KeyMap:
        """The key map of a keyed field. A field this index no longer holds (a reader's
        stale definition) gets an empty map; the shared table is never added to here."""
        km = self._row_keys.get(fd.id)
        return KeyMap(1) if km is None else km

    def bit_depth(self, fd: FieldDef, tx: Transaction | None = None) -> int:
        """Bit planes in use by a BSI field (grows on demand, derived from the data)."""
        rows: set[int] = set()
        for frag in self._state.views(fd.id).get(BSI_VIEW, {}).values():
            rows.update(frag.rows)
        if tx is not None:
            rows.update(tx.changed_rows(fd.id, BSI_VIEW))
        return max((r - BSI_BIT0_ROW + 1 for r in rows if r >= BSI_BIT0_ROW), default=0)

    # --- reads ----------------------------------------------------------------------------

    def snapshot(self) -> IndexState:
        """The current committed state; stays consistent however long it is used. (On a
        cluster coordinator: the catalog's view of the workers' shards.)"""
        self._check_open()
        if self.holder.cluster is not None:
            return self.holder.cluster.state(self)
        return self._state

    def _fd(self, field: str | FieldDef) -> FieldDef:
        if isinstance(field, FieldDef):
            return field
        fd = self.definition.fields.get(field)
        if fd is None:
            raise FieldNotFoundError(f"field {field} not found in index {self.name}")
        return fd

    # --- writes -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        with self._lock:
            self._check_open()
            reason = self._failed or (self._wal.failed if self._wal is not None else None)
            if reason:
                self._failure_unreported = False
                raise StorageFailedError(f"index {self.name} is read-only after a storage failure "
                                         f"({reason}); reopen the database to recover")
            yield

    @contextlib.contextmanager
    def _storage(self, what: str) -> Iterator[None]:
        """Map OS errors of snapshot/schema I/O to typed errors. A failure that may have
        lost data (an fsync, EIO) makes the index read-only until it is reopened."""
        try:
            yield
        except StorageFullError:
            raise
        except StorageFailedError as exc:
            self._failed = f"{what}: {exc.message}"
            raise
        except OSError as exc:
            if exc.errno in FULL_ERRNOS:
                raise StorageFullError(f"disk full while {what}: {exc.strerror or exc}") from exc
            self._failed = f"{what} failed: {exc}"
            raise StorageFailedError(f"{what} failed; index {self.name} is read-only until reopened: {exc}") \
                from exc

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Group writes into one atomic, durable commit (used by PQL write lists)."""
        with self._writing():
            self.holder.check_writes_allowed()
            tx = Transaction(self, self._state)
            try:
                yield tx
            except BaseException:
                self._rollback_keys(tx)
                raise
            self._commit(tx)

    def _commit(self, tx: Transaction) -> None:
        if tx.empty:
            return
        if tx.changes and self.holder.cluster is not None:
            # Record data lives on the workers: only routed writes reach it (coordinator.py).
            raise self.holder.cluster.refuse("this write")
        try:
            payload = tx.encode()
            assert self._wal is not None
            seq = self._wal.append(payload)
        except BaseException:
            self._rollback_keys(tx)
            raise
        changes = [(fid, view, row, _frozen(add), _frozen(rem)) for (fid, view, row), (add, rem) in tx.changes.items()]
        self._state = apply_changes(self._state, seq, changes, self._dirty)
        self.last_commit_bytes = len(payload)
        if self._wal.size >= self.holder.checkpoint_bytes:
            # The commit is already durable and visible: a failed checkpoint must not turn
            # it into an error. The log still holds everything; the failure is recorded
            # (and, if it may have lost data, the index stops accepting writes).
            try:
                self.checkpoint()
                self.last_checkpoint_error = None
            except EngineError as exc:
                self.last_checkpoint_error = exc
                self._failure_unreported = self._failed is not None

    def _rollback_keys(self, tx: Transaction) -> None:
        for space, pairs in tx.new_keys.items():
            if space == COLUMN_KEYS:
                self.column_keys.rollback(pairs)
            else:
                fd = self._field_by_id(space)
                if fd is not None:
                    self.row_keys(fd).rollback(pairs)

    def _check_writable(self) -> None:
        with self._writing():
            pass

    def set(self, column: Any, field: str, value: Any, timestamp: Any = None) -> bool:
        """Set field=value for one record; True if anything changed."""
        self._check_writable()
        if self.holder.cluster is not None:
            return self.holder.cluster.set(self, column, self._fd(field), value, timestamp)
        with self.transaction() as tx:
            return tx.set(column, self._fd(field), value, timestamp)

    def clear(self, column: Any, field: str, value: Any = None) -> bool:
        """Clear field=value for one record (BSI fields: null the value)."""
        self._check_writable()
        if self.holder.cluster is not None:
            return self.holder.cluster.clear(self, column, self._fd(field), value)
        with self.transaction() as tx:
            return tx.clear(column, self._fd(field), value)

    def clear_row(self, field: str, value: Any) -> bool:
        self._check_writable()
        if self.holder.cluster is not None:
            return self.holder.cluster.clear_row(self, self._fd(field), value)
        with self.transaction() as tx:
            return tx.clear_row(self._fd(field), value)

    def store(self, field: str, value: Any, columns: Any) -> bool:
        """Make row `value` of `field` hold exactly `columns` (a bitmap or ids/keys)."""
        self._check_writable()
        if self.holder.cluster is not None:
            with self.transaction() as tx:         # new record keys only
                cols = self._columns_bitmap(tx, columns, create=True)
            return self.holder.cluster.store(self, self._fd(field), value, cols)
        with self.transaction() as tx:
            return tx.store(self._fd(field), value, self._columns_bitmap(tx, columns, create=True))

    def delete(self, columns: Any) -> bool:
        """Delete records (all their values and their existence); True if any existed."""
        self._check_writable()
        with self.transaction() as tx:
            cols = self._columns_bitmap(tx, columns if isinstance(columns, (list, tuple, BaseBitmap, np.ndarray))
                                        else [columns], create=False)
            if self.holder.cluster is None:
                return tx.delete(cols)
        return self.holder.cluster.delete(self, cols)

    def _columns_bitmap(self, tx: Transaction, columns: Any, create: bool) -> BaseBitmap:
        if isinstance(columns, BaseBitmap):
            return columns
        ids = [tx.column_id(c, create) for c in columns]
        return FrozenBitmap([i for i in ids if i is not None])

    def import_values(self, field: str, columns: Any, values: Any = None, *, timestamps: Any = None,
                      clear: bool = False, progress: Callable[[int, int], None] | None = None) -> int:
        """Columnar bulk import into one field; atomic and durable when it returns.
        See engine.ingest.import_values for the accepted inputs."""
        self._check_writable()
        if self.holder.cluster is not None:
            return self.holder.cluster.import_values(self, self._fd(field), columns, values, timestamps=timestamps,
                                                     clear=clear)
        from engine.ingest import import_values

        return import_values(self, self._fd(field), columns, values, timestamps=timestamps,
                             clear=clear, progress=progress)

    def import_records(self, columns: Any, data: dict[str, Any], *,
                       progress: Callable[[int, int], None] | None = None) -> int:
        """A multi-field record batch: data maps field name -> values aligned with
        columns (None entries skipped); all fields commit together or not at all."""
        self._check_writable()
        from engine.ingest import import_records

        return import_records(self, columns, {name: (self._fd(name), vals) for name, vals in data.items()},
                              progress=progress)

    def write_records(self, records: Any, columns: dict[str, Any], *,
                      progress: Callable[[int, int], None] | None = None) -> int:
        """Upsert whole records (the inverse of engine.records.iter_records); atomic and
        durable when it returns. See engine.ingest.write_records."""
        self._check_writable()
        from engine.ingest import write_records

        return write_records(self, records, columns, progress=progress)

    # --- snapshots ------------------------------------------------------------------------------

    def checkpoint(self) -> None:
        """Write every changed fragment and key map under a new name, start the next log,
        write the MANIFEST naming them, then remove the files it no longer names. Nothing
        the old MANIFEST names changes before the new one is durable, so a crash at any
        point leaves one complete snapshot and the log frames after it."""
        with self._writing(), self._storage("checkpoint"):
            fio, fsync = self.fileio, self.holder.fsync
            state = self._state
            seq = state.seq
            frag_files, key_files = dict(self._frag_files), dict(self._key_files)
            obsolete = set(self._obsolete)
            touched: set[str] = set()
            for key in sorted(self._dirty):
                old = frag_files.get(key)
                if old is not None and old.seq == seq:
                    continue              # already written at this seq: the same content
                if old is not None:
                    del frag_files[key]
                    obsolete.add(manifest.frag_path(*key, old.seq))
                frag = state.fragment(*key)
                if frag is not None and frag.rows:
                    rel = manifest.frag_path(*key, seq)
                    frag_files[key] = self._write_new(rel, files.encode_fragment(sorted(frag.rows.items())), touched)
                    obsolete.discard(rel)
            maps = [(COLUMN_KEYS, self.column_keys)] + list(self._row_keys.items())
            for space, km in maps:
                old = key_files.get(space)
                if km.dirty and (old is None or old.seq != seq):
                    if old is not None:
                        obsolete.add(manifest.keys_path(space, old.seq))
                    rel = manifest.keys_path(space, seq)
                    key_files[space] = self._write_new(rel, files.encode_keys(km.items(), km.next_id), touched)
                    obsolete.discard(rel)
            if fsync:
                for d in sorted(touched):
                    fio.fsync_dir(d)
            old_wal = self._wal
            assert old_wal is not None
            wal = old_wal
            if old_wal.path != self._wal_path(seq + 1):
                wal = WalWriter.create(fio, self._wal_path(seq + 1), seq + 1, fsync)
                if fsync:
                    fio.fsync_dir(self.path)
            try:
                doc = Manifest(2, seq, seq + 1, frag_files, key_files).to_doc()
                fio.write_atomic(os.path.join(self.path, "MANIFEST"), files.encode_doc(doc), fsync=fsync)
            except BaseException:
                if wal is not old_wal:
                    # Not removed here: the MANIFEST may have been renamed into place before
                    # the failure (a failed directory fsync). Unused, it is harmless to
                    # recovery, and the next successful checkpoint removes it.
                    wal.close()
                    self._obsolete.add(os.path.basename(wal.path))
                raise
            # The new snapshot is durable: switch to it, then remove what it replaced.
            self._frag_files, self._key_files = frag_files, key_files
            for _, km in maps:
                km.dirty = False
            self._dirty.clear()
            if wal is not old_wal:
                self._wal = wal
                old_wal.close()
                obsolete.add(os.path.basename(old_wal.path))
            obsolete.discard(os.path.basename(wal.path))
            self._obsolete = obsolete
            dirs = set()
            for rel in sorted(obsolete):
                fio.remove(os.path.join(self.path, rel))
                dirs.add(os.path.dirname(os.path.join(self.path, rel)))
            self._obsolete = set()
            if fsync:
                for d in sorted(dirs):
                    fio.fsync_dir(d)

    def _write_new(self, rel: str, data: bytes, touched: builtins.set[str]) -> FileEntry:
        """Write a snapshot file under a name no MANIFEST names yet (a leftover of an
        interrupted checkpoint is replaced); its directory entry is made durable by the
        caller's directory fsyncs (`touched`)."""
        fio = self.fileio
        path = os.path.join(self.path, rel)
        d = os.path.dirname(path)
        if not fio.isdir(d):
            missing = []
            while not fio.isdir(d):
                missing.append(d)
                d = os.path.dirname(d)
            for sub in reversed(missing):
                fio.makedirs(sub)
                touched.add(os.path.dirname(sub))
        fio.remove(path)
        f = fio.open_append(path)
        try:
            fio.write(f, data)
            if self.holder.fsync:
                fio.fsync(f)
        finally:
            fio.close(f)
        touched.add(os.path.dirname(path))
        return FileEntry(seq=self._state.seq, size=len(data), crc=manifest.sealed_crc(data))

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(f"index {self.name} is closed")

    def close(self, checkpoint: bool = True) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                if checkpoint and self._wal is not None and not self._wal.failed and not self._failed \
                        and self._dirty:
                    self.checkpoint()
            finally:
                if self._wal is not None:
                    self._wal.close()
                self._closed = True
            if self._failed and self._failure_unreported:
                self._failure_unreported = False
                # Report a failure that no later write saw (e.g. a checkpoint after the last
                # commit): acknowledged data is in the log, but the snapshot is not durable.
                raise StorageFailedError(f"index {self.name} had a storage failure ({self._failed}); "
                                         f"reopen to recover from the log")


def _frozen(bm: BaseBitmap) -> FrozenBitmap | None:
    if not bm:
        return None
    return bm if isinstance(bm, FrozenBitmap) else bm.freeze()


class Field:
    """A handle on one field: its definition plus convenience reads of committed data."""

    def __init__(self, index: Index, fd: FieldDef) -> None:
        self.index = index
        self.definition = fd

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def type(self) -> str:
        return self.definition.options.type

    @property
    def options(self) -> FieldOptions:
        return self.definition.options

    @property
    def meta(self) -> dict[str, Any]:
        """The opaque metadata given at creation (a copy)."""
        return dict(self.definition.meta)

    def __repr__(self) -> str:
        return f"Field({self.index.name}.{self.name}, {self.type})"

    def row(self, value: Any, view: str = STANDARD_VIEW) -> FrozenBitmap:
        """Records holding `value` (a row id, key or bool) in the committed state."""
        tx = Transaction(self.index, self.index.snapshot())
        row = tx.row_id(self.definition, value, create=False)
        if row is None:
            return FrozenBitmap()
        return self.index.snapshot().row(self.definition.id, view, row).freeze()

    def value(self, column: Any) -> Any:
        """A BSI field's value for one record (None when null)."""
        tx = Transaction(self.index, self.index.snapshot())
        c = tx.column_id(column, create=False)
        if c is None:
            return None
        stored = tx.bsi_get(self.definition, c)
        return None if stored is None else self.options.from_stored(stored)

    def rows(self) -> list[Any]:
        """Row ids (or keys, for keyed fields) that hold any record, in id order."""
        ids = self.index.snapshot().row_ids(self.definition.id, STANDARD_VIEW)
        if self.options.keys:
            return self.index.row_keys(self.definition).keys_for(ids)
        if self.type == "bool":
            return [bool(i) for i in ids]
        return ids

