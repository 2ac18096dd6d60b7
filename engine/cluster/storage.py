"""Where a cluster keeps its shards: a shared directory, or an S3-compatible bucket.

A cluster *root* is either a path every worker reaches (a shared file system) or a URL
`s3://bucket/prefix[?endpoint=URL]` (docs/cluster.md, "Shards on object storage"). Both
give a local directory the engine works in and the FileIO that makes it durable: the
directory itself with the plain FileIO, or a node-local cache with ObjectFileIO
(engine/cluster/objstore.py), whose fsync uploads to the bucket. boto3 is imported only
for an s3:// root.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Optional
from urllib.parse import parse_qsl, urlencode, urlsplit

from engine.errors import InvalidParameterError
from engine.storage.fileio import FileIO

SCHEME = "s3://"
ENDPOINT_ENV = "ROARBASE_RAY_S3_ENDPOINT"    # the endpoint of a non-AWS store, when the URL has none
CACHE_ENV = "ROARBASE_RAY_S3_CACHE"          # the node-local cache directory (default: under the temp dir)


def is_object_root(root: str) -> bool:
    return root.startswith(SCHEME)


def normalize(root: str) -> str:
    """A root as every process can use it: an absolute path, or the URL unchanged."""
    return root if is_object_root(root) else os.path.abspath(root)


def join(root: str, name: str) -> str:
    """The root of a sub-tree (the server gives each database its own)."""
    if not is_object_root(root):
        return os.path.join(root, name)
    head, sep, query = root.partition("?")
    return f"{head.rstrip('/')}/{name}{sep}{query}"


def parse(root: str) -> tuple[str, str, Optional[str]]:
    """(bucket, key prefix without slashes at its ends, endpoint URL or None) of an
    s3:// root. The endpoint comes from the URL's `endpoint` parameter, else from
    ROARBASE_RAY_S3_ENDPOINT; credentials never come from the URL."""
    parts = urlsplit(root)
    params = dict(parse_qsl(parts.query))
    unknown = set(params) - {"endpoint"}
    if parts.scheme != "s3" or not parts.netloc or unknown or parts.fragment:
        raise InvalidParameterError("an object-store root is s3://bucket/prefix[?endpoint=URL]"
                                    + (f" (unknown parameters {sorted(unknown)})" if unknown else ""))
    if "@" in parts.netloc:
        raise InvalidParameterError("credentials never go in an s3:// root: boto3's chain supplies them")
    endpoint = params.get("endpoint") or os.environ.get(ENDPOINT_ENV) or None
    if endpoint is not None:
        ep = urlsplit(endpoint)
        if ep.scheme not in ("http", "https") or not ep.hostname:
            raise InvalidParameterError("the object store's endpoint must be an http(s) URL")
        if ep.username is not None or ep.password is not None:
            raise InvalidParameterError("credentials never go in the endpoint URL: boto3's chain supplies them")
    return parts.netloc, parts.path.strip("/"), endpoint


def with_endpoint(root: str, endpoint: Optional[str]) -> str:
    """An s3:// root carrying `endpoint` (so worker processes on other nodes use it too);
    a path, or a URL that names its own endpoint, unchanged."""
    if not endpoint or not is_object_root(root):
        return root
    head, _, query = root.partition("?")
    params = dict(parse_qsl(query))
    params.setdefault("endpoint", endpoint)
    return f"{head}?{urlencode(params)}"


def open_root(root: str, who: str, *, cache: Optional[str] = None) -> tuple[str, FileIO]:
    """(the local directory to work in, the FileIO making it durable) for process role
    `who` (a worker's name, or "coordinator"). Raises InvalidParameterError for a bad URL
    and ObjectStoreError when the bucket cannot be reached."""
    if not is_object_root(root):
        return os.path.abspath(root), FileIO()
    from engine.cluster.objstore import ObjectFileIO, ObjectStore

    bucket, prefix, endpoint = parse(root)
    base = cache or os.environ.get(CACHE_ENV) or os.path.join(tempfile.gettempdir(), "roarbase-s3cache")
    digest = hashlib.blake2b(f"{endpoint}\x00{bucket}\x00{prefix}".encode(), digest_size=8).hexdigest()
    local = os.path.join(os.path.abspath(base), f"{bucket}-{digest}", who)
    store = ObjectStore(bucket, prefix, endpoint)
    store.check()
    return local, ObjectFileIO(store, local)
