"""Shard stores on an S3-compatible object store: a FileIO whose durability is the bucket.

The engine keeps working in a node-local *cache* directory (reads, mmap-free decoding,
the LOCK flock all stay local); what it makes durable goes to the bucket before the call
that makes it durable returns, so the engine's rule "acknowledged after fsync" holds for
the bucket:

- A file is a run of objects `<prefix>/<path>/@<offset:020d>`, each holding the bytes
  from that offset to the next object's. fsync uploads the bytes written since the last
  upload (PUT is atomic per object) — as a new object, or, once the file has MERGE_AT
  objects, merged with the smaller objects before it into one that replaces the first of
  them (a write-ahead log of n commits stays O(log n) objects); a snapshot file, written
  once, is one object at @0.
- A whole file put in place (write_atomic's rename, a link) is one object at @0,
  replacing the previous version atomically. Files of scratch names (`*.tmp`, the `.creating-`/`.dropped-`
  directories of engine/holder.py) are never uploaded: they become durable by the rename
  that gives them their final name. A renamed directory uploads SCHEMA first and MANIFEST
  last, the order in which an index directory is valid at every step (a crash leaves an
  index that recovers empty, which is what a create that was never acknowledged had).
- truncate and remove delete objects from the highest offset down and rewrite the one
  object cut in two, so a crash between two requests always leaves a prefix of the file.
- refresh() (before a store is opened) rebuilds the cache from the bucket: a file's
  objects must be contiguous from offset 0 — a gap or an overlap is DataCorruptedError
  naming the object, never skipped (an object wholly inside the one before it, which a
  crash during a merge leaves, is deleted once its bytes are checked to be the same). Cached files whose bytes match the objects (size and
  each object's MD5 ETag) are kept, others downloaded, files the bucket lacks removed.

The bucket is written by one process per store (the placement table's owner); this FileIO
remembers which objects each file has, from refresh() and its own writes.
"""
from __future__ import annotations

import bisect
import errno
import hashlib
import os
import re
import threading
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterator, Optional

from engine.errors import DataCorruptedError, ObjectStoreError
from engine.holder import CREATING, DROPPED
from engine.storage.fileio import FileIO

_SEGMENT_RE = re.compile(r"^(.+)/@(\d{20})$")
MERGE_AT = 16                     # objects a file may have before fsync merges its tail
_FIRST = ("SCHEMA",)              # uploaded first / deleted first in a directory rename
_LAST = ("MANIFEST",)             # uploaded last


@dataclass(frozen=True)
class Segment:
    offset: int
    size: int
    etag: str = ""

    @property
    def end(self) -> int:
        return self.offset + self.size


class ObjectStore:
    """One bucket and key prefix through boto3 (credentials from boto3's own chain:
    environment, profile, instance role). Every failure is ObjectStoreError naming the
    request and the object, never a credential."""

    def __init__(self, bucket: str, prefix: str, endpoint: Optional[str] = None, *, client: Any = None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        # Checksums only when the API requires them: S3-compatible stores (MinIO, Ceph,
        # moto) differ in the newer flexible-checksum headers.
        # A session of its own: credentials are resolved now, not cached from whenever
        # boto3's default session first looked.
        self.client = client or boto3.session.Session().client("s3", endpoint_url=endpoint, config=Config(
            retries={"max_attempts": 5, "mode": "standard"}, request_checksum_calculation="when_required",
            response_checksum_validation="when_required"))

    def key(self, rel: str, offset: int) -> str:
        return f"{self.prefix}/{rel}/@{offset:020d}" if self.prefix else f"{rel}/@{offset:020d}"

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def rel_prefix(self, rel: str) -> str:
        return f"{self.prefix}/{rel}/" if self.prefix else f"{rel}/"

    def _fail(self, what: str, key: str, exc: Exception) -> ObjectStoreError:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(exc, "response") else None
        detail = code or type(exc).__name__
        return ObjectStoreError(f"object store {what} of {self.url(key)} failed: {detail}")

    def check(self) -> None:
        """The bucket exists and these credentials may use it (a clear error at open)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", "")) if hasattr(exc, "response") \
                else ""
            reason = {"404": "does not exist", "NoSuchBucket": "does not exist",
                      "403": "is not accessible with these credentials (access denied)",
                      "AccessDenied": "is not accessible with these credentials (access denied)"}.get(
                code, f"cannot be reached ({code or type(exc).__name__})")
            raise ObjectStoreError(f"bucket {self.bucket} {reason}") from None

    def put(self, key: str, data: bytes) -> str:
        """Store one object; its ETag."""
        try:
            return str(self.client.put_object(Bucket=self.bucket, Key=key, Body=data).get("ETag", "")).strip('"')
        except Exception as exc:
            raise self._fail("PUT", key, exc) from None

    def get(self, key: str) -> bytes:
        try:
            return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except Exception as exc:
            raise self._fail("GET", key, exc) from None

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            raise self._fail("DELETE", key, exc) from None

    def delete_many(self, keys: list[str]) -> None:
        """Delete up to 1000 objects in one request (in no particular order)."""
        try:
            reply = self.client.delete_objects(Bucket=self.bucket, Delete={
                "Objects": [{"Key": k} for k in keys], "Quiet": True})
        except Exception as exc:
            raise self._fail("DELETE", keys[0], exc) from None
        for err in reply.get("Errors", ()):
            raise ObjectStoreError(f"object store DELETE of {self.url(err.get('Key', ''))} failed: "
                                   f"{err.get('Code', 'error')}")

    def list(self, key_prefix: str) -> Iterator[tuple[str, int, str]]:
        """(key, size, ETag) of every object under key_prefix."""
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=key_prefix)
            for page in pages:
                for o in page.get("Contents", ()):
                    yield o["Key"], int(o["Size"]), str(o.get("ETag", "")).strip('"')
        except Exception as exc:
            raise self._fail("LIST", key_prefix, exc) from None


def _io_error(exc: ObjectStoreError) -> OSError:
    """Object-store failures inside a FileIO primitive are I/O errors to the engine, which
    then applies its own rules (a failed fsync makes the index read-only until reopened;
    nothing is acknowledged)."""
    return OSError(errno.EIO, exc.message)


class ObjectFileIO(FileIO):
    """FileIO over a local cache directory whose durable copy is an object store (see the
    module docstring). Paths outside the cache directory are plain local files."""

    def __init__(self, store: ObjectStore, cache_root: str) -> None:
        self.store = store
        self.root = os.path.abspath(cache_root)
        os.makedirs(self.root, exist_ok=True)
        self._segs: dict[str, list[Segment]] = {}   # cache-relative path -> its objects, by offset
        self._lock = threading.Lock()
        self.requests = 0                             # object-store requests made (tests, benchmarks)

    # --- names -------------------------------------------------------------------------------------

    def _rel(self, path: str) -> Optional[str]:
        """The cache-relative path ("/"-separated) of a path under the cache root."""
        p = os.path.abspath(path)
        if p == self.root or not p.startswith(self.root + os.sep):
            return None
        return os.path.relpath(p, self.root).replace(os.sep, "/")

    def _remote(self, path: str) -> Optional[str]:
        """The relative path of a file the bucket holds; None for local-only files."""
        rel = self._rel(path)
        if rel is None:
            return None
        parts = rel.split("/")
        if parts[-1].endswith(".tmp") or parts[-1] == "LOCK" or \
                any(p.startswith((CREATING, DROPPED)) for p in parts):
            return None
        return rel

    def _local(self, rel: str) -> str:
        return os.path.join(self.root, *rel.split("/"))

    def _known_under(self, rel: str) -> list[str]:
        with self._lock:
            return [f for f in self._segs if f == rel or f.startswith(rel + "/")]

    # --- bucket operations ---------------------------------------------------------------------------

    def _call(self, fn: Any, *args: Any) -> Any:
        self.requests += 1
        try:
            return fn(*args)
        except ObjectStoreError as exc:
            raise _io_error(exc) from None

    def _upload_whole(self, rel: str) -> None:
        """Make the cached file `rel` the bucket's copy: one object at @0, replacing the
        previous version atomically. A previous version of several objects (never one the
        engine replaces whole) is first cut to its first object, so a crash between the
        two can leave that prefix — damaged, which its checksum reports — but no mix of
        old and new bytes."""
        with open(self._local(rel), "rb") as f:
            data = f.read()
        while len(self._segs.get(rel, [])) > 1:
            segs = self._segs[rel]
            self._call(self.store.delete, self.store.key(rel, segs[-1].offset))
            with self._lock:
                self._segs[rel] = segs[:-1]
        etag = self._call(self.store.put, self.store.key(rel, 0), data)
        with self._lock:
            self._segs[rel] = [Segment(0, len(data), etag)]

    def _delete_file(self, rel: str) -> None:
        """Delete a file's objects, highest offset first (a crash leaves a prefix)."""
        while True:
            with self._lock:
                segs = self._segs.get(rel)
                if not segs:
                    self._segs.pop(rel, None)
                    return
                seg = segs[-1]
            self._call(self.store.delete, self.store.key(rel, seg.offset))
            with self._lock:
                self._segs[rel] = segs[:-1]

    # --- FileIO primitives ------------------------------------------------------------------------------

    def fsync(self, f: BinaryIO) -> None:
        path = str(f.name)
        rel = self._remote(path)
        if rel is None:
            if self._rel(path) is None:
                super().fsync(f)          # not in the cache: an ordinary local file
            return                        # scratch: durable when renamed into place
        size = os.fstat(f.fileno()).st_size
        segs = self._segs.get(rel, [])
        end = segs[-1].end if segs else 0
        if size < end:
            raise OSError(errno.EIO, f"{path} is shorter ({size}) than its {end} bytes in the object store")
        if size == end:
            return
        # Past MERGE_AT objects, merge the tail (binary-counter rule: each object larger
        # than all after it), so a log of n commits is O(log n) objects to download at
        # recovery, each byte uploaded O(log n) times, and a commit costs one PUT (plus,
        # every ~MERGE_AT commits, one batched DELETE). The merged object overwrites the
        # key of the first one it covers.
        j, merged = len(segs), size - end
        while len(segs) >= MERGE_AT and j > 0 and segs[j - 1].size <= merged:
            j -= 1
            merged += segs[j].size
        start = segs[j].offset if j < len(segs) else end
        with open(path, "rb") as r:
            r.seek(start)
            data = r.read(size - start)
        etag = self._call(self.store.put, self.store.key(rel, start), data)
        with self._lock:
            self._segs[rel] = segs[:j] + [Segment(start, len(data), etag)]
        # Now covered duplicates, in any order (refresh() deletes any a crash leaves).
        if segs[j + 1:]:
            self._call(self.store.delete_many, [self.store.key(rel, seg.offset) for seg in segs[j + 1:]])

    def truncate(self, path: str, length: int) -> None:
        super().truncate(path, length)
        rel = self._remote(path)
        if rel is None:
            return
        while True:
            with self._lock:
                segs = self._segs.get(rel, [])
            if not segs or segs[-1].end <= length:
                return
            seg = segs[-1]
            if seg.offset >= length:
                self._call(self.store.delete, self.store.key(rel, seg.offset))
                with self._lock:
                    self._segs[rel] = segs[:-1]
                continue
            # The object cut in two: rewritten with the kept bytes (same key, atomic).
            with open(path, "rb") as r:
                r.seek(seg.offset)
                data = r.read(length - seg.offset)
            etag = self._call(self.store.put, self.store.key(rel, seg.offset), data)
            with self._lock:
                self._segs[rel] = segs[:-1] + [Segment(seg.offset, len(data), etag)]
            return

    def rename(self, src: str, dst: str) -> None:
        super().rename(src, dst)
        rs, rd = self._remote(src), self._remote(dst)
        if not os.path.isdir(dst):
            if rd is not None:
                self._upload_whole(rd)
            if rs is not None:
                self._delete_file(rs)
            return
        subs = sorted((os.path.relpath(os.path.join(d, n), dst).replace(os.sep, "/")
                       for d, _, names in os.walk(dst) for n in names), key=_upload_order)
        if rd is not None:
            try:
                for sub in subs:
                    if self._remote(os.path.join(dst, sub)) is not None:
                        self._upload_whole(f"{rd}/{sub}")
            except OSError:
                if rs is None:
                    # A scratch directory (an index being created) goes back to its name,
                    # so the caller's retry starts over; what reached the bucket is
                    # replaced by it (or, after a crash, recovers as an empty index).
                    super().rename(dst, src)
                raise
        if rs is not None:
            for rel in sorted(self._known_under(rs), key=lambda r: _upload_order(r.rsplit("/", 1)[-1])):
                self._delete_file(rel)

    def link(self, src: str, dst: str) -> None:
        super().link(src, dst)
        rd = self._remote(dst)
        if rd is not None:
            self._upload_whole(rd)

    def remove(self, path: str) -> None:
        rel = self._remote(path)
        if rel is not None:
            self._delete_file(rel)
        super().remove(path)

    def rmtree(self, path: str) -> None:
        """Local tree and every object under it, known to this process or not (a dropped
        index's stores on other workers included)."""
        rel = self._remote(path)
        if rel is not None:
            found: dict[str, list[int]] = {}
            for key, _, _ in self._listing(rel):
                file_rel, offset = self._parse_key(key)
                found.setdefault(file_rel, []).append(offset)
            for file_rel in sorted(found, key=lambda r: _upload_order(r.rsplit("/", 1)[-1])):
                for offset in sorted(found[file_rel], reverse=True):
                    self._call(self.store.delete, self.store.key(file_rel, offset))
            with self._lock:
                for f in [f for f in self._segs if f == rel or f.startswith(rel + "/")]:
                    del self._segs[f]
        super().rmtree(path)

    def fsync_dir(self, path: str) -> None:
        if self._rel(path) is None and os.path.abspath(path) != self.root:
            super().fsync_dir(path)
        # Under the cache every directory operation reached the bucket when it was made.

    # --- the cache ---------------------------------------------------------------------------------------

    def _listing(self, rel: str) -> Iterator[tuple[str, int, str]]:
        self.requests += 1
        try:
            yield from self.store.list(self.store.rel_prefix(rel))
        except ObjectStoreError as exc:
            raise _io_error(exc) from None

    def _parse_key(self, key: str) -> tuple[str, int]:
        base = self.store.prefix
        m = _SEGMENT_RE.match(key[len(base) + 1:] if base else key)
        if m is None or (base and not key.startswith(base + "/")):
            raise DataCorruptedError("object is not a roarbase file segment (<path>/@<20-digit offset>)",
                                     self.store.url(key), 0)
        return m.group(1), int(m.group(2))

    def refresh(self, path: str) -> None:
        """Rebuild the cached file or directory tree at `path` from the bucket (module
        docstring). Raises DataCorruptedError for a gap or overlap between a file's objects
        and ObjectStoreError when the bucket fails."""
        rel = self._rel(path)
        if rel is None:
            return
        files: dict[str, list[tuple[str, Segment]]] = {}
        self.requests += 1
        listing = list(self.store.list(self.store.rel_prefix(rel)))
        for key, size, etag in listing:
            file_rel, offset = self._parse_key(key)
            bisect.insort(files.setdefault(file_rel, []), (key, Segment(offset, size, etag)),
                          key=lambda kv: kv[1].offset)
        chains: dict[str, list[tuple[str, Segment]]] = {}
        covered: dict[str, list[tuple[str, Segment]]] = {}
        for file_rel, segs in files.items():
            chain = chains[file_rel] = []
            expected = 0
            for key, seg in segs:
                if seg.offset == expected:
                    chain.append((key, seg))
                    expected = seg.end
                elif seg.offset < expected and seg.end <= expected:
                    # Inside the object before it: left by a tail merge cut short (fsync);
                    # checked to hold the same bytes below, then deleted.
                    covered.setdefault(file_rel, []).append((key, seg))
                else:
                    what = "a gap" if seg.offset > expected else "an overlap"
                    raise DataCorruptedError(f"{what} in the object store's segments of {file_rel}: the object "
                                             f"at offset {seg.offset} should start at {expected}",
                                             self.store.url(key), seg.offset)
        for file_rel, chain in chains.items():
            local = self._local(file_rel)
            if not _matches(local, [s for _, s in chain]):
                os.makedirs(os.path.dirname(local), exist_ok=True)
                tmp = local + ".fetch"
                with open(tmp, "wb") as out:
                    for key, _ in chain:
                        self.requests += 1
                        out.write(self.store.get(key))
                os.replace(tmp, local)
            for key, seg in reversed(covered.get(file_rel, [])):
                self.requests += 2
                with open(local, "rb") as f:
                    f.seek(seg.offset)
                    if f.read(seg.size) != self.store.get(key):
                        raise DataCorruptedError(f"an overlap in the object store's segments of {file_rel}: the "
                                                 f"object at offset {seg.offset} differs from the bytes covering it",
                                                 self.store.url(key), seg.offset)
                self.store.delete(key)
        files = chains
        # Cached files the bucket does not have were never durable: gone, and directories
        # left empty with them (an index directory without files would read as damaged).
        root = self._local(rel)
        if os.path.isdir(root):
            for d, subdirs, names in os.walk(root, topdown=False):
                for n in names:
                    p = os.path.join(d, n)
                    r = self._rel(p)
                    if r is not None and r not in files and n != "LOCK":
                        os.remove(p)
                if d != root and not os.listdir(d):
                    os.rmdir(d)
        elif os.path.exists(root) and rel not in files:
            os.remove(root)
        with self._lock:
            for known in [k for k in self._segs if k == rel or k.startswith(rel + "/")]:
                del self._segs[known]
            for file_rel, segs in files.items():
                self._segs[file_rel] = [seg for _, seg in segs]


def _upload_order(name: str) -> tuple[int, str]:
    base = name.rsplit("/", 1)[-1]
    return (0 if base in _FIRST else 2 if base in _LAST else 1, name)


def _matches(path: str, segs: list[Segment]) -> bool:
    """Does the cached file hold exactly these objects' bytes? (Size, then each object's
    MD5 against its ETag; an ETag that is not an MD5 — multipart, some encryption — does
    not match, and the file is downloaded again.)"""
    try:
        if os.path.getsize(path) != (segs[-1].end if segs else 0):
            return False
        with open(path, "rb") as f:
            for seg in segs:
                if hashlib.md5(f.read(seg.size), usedforsecurity=False).hexdigest() != seg.etag:
                    return False
        return True
    except OSError:
        return False
