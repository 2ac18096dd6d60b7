"""Where a source's bytes live: LOCAL files (an upload spooled under the data dir, or a
file of the administrator's sandbox directory) and S3-compatible object stores through
boto3 (AWS S3, GCS's XML API with HMAC keys, MinIO, moto, ...).

The S3 store uses only the connection's own credentials (boto3's names:
aws_access_key_id, aws_secret_access_key, optional aws_session_token, endpoint_url,
region_name) — never the server's environment or instance profile. botocore retries
throttling and 5xx with exponential backoff (standard mode, RETRY_ATTEMPTS); a stream cut
mid-object is resumed from the byte it stopped at with a Range request, with backoff.
Remote errors become typed errors carrying the table status they mean
(server/sources/errors.py); their messages name the remote error code only.
"""
from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Mapping, Optional

from server.sources import paths
from server.sources.errors import remote_unavailable, resource_not_found, wrong_credentials, wrong_spec
from server.sources.spec import FileSpec

GCS_ENDPOINT = "https://storage.googleapis.com"
CREDENTIAL_KEYS = frozenset({"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "endpoint_url",
                             "region_name"})
RETRY_ATTEMPTS = 5
RESUME_ATTEMPTS = 5
RANGE_BLOCK = 1 << 20
_AUTH_CODES = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken",
                         "ExpiredToken", "AuthorizationHeaderMalformed", "InvalidSecurity", "403",
                         "Forbidden", "Unauthorized", "401", "AllAccessDisabled", "InvalidClientTokenId"})
_MISSING_CODES = frozenset({"NoSuchBucket", "NoSuchKey", "404", "NotFound", "NoSuchObject"})


@dataclass(frozen=True)
class StoredObject:
    """One stored file: its name (S3 key, file name) and size in bytes (None: unknown)."""

    name: str
    size: Optional[int]


# --- LOCAL ----------------------------------------------------------------------------------

class LocalFile:
    """A regular file the server reads: an upload under the data dir (`path` absolute,
    made by the server) or a sandbox file (`root` + the user's relative `path`, opened
    with paths.open_read: no escape, no symlinks)."""

    def __init__(self, path: str, *, root: Optional[str] = None, display: Optional[str] = None) -> None:
        self.path, self.root = path, root
        self.display = display or path

    def _open(self) -> BinaryIO:
        if self.root is not None:
            return paths.open_read(self.root, self.path)
        try:
            return open(self.path, "rb")
        except FileNotFoundError:
            raise resource_not_found("nothing was uploaded to this source yet: PUT the file to its url",
                                     key="url") from None

    def objects(self) -> list[StoredObject]:
        with self._open() as f:
            return [StoredObject(self.display, os.fstat(f.fileno()).st_size)]

    def open(self, obj: StoredObject, *, seekable: bool = False) -> BinaryIO:
        return self._open()

    def check(self) -> None:
        self.objects()


# --- S3 / GCS -------------------------------------------------------------------------------

def check_credentials(credentials: Mapping[str, Any], kind: str) -> dict[str, str]:
    """The credentials of an S3/GCS connection, checked for shape (not validity)."""
    unknown = sorted(set(credentials) - CREDENTIAL_KEYS)
    if unknown:
        raise wrong_spec(f"unknown credentials {', '.join(map(repr, unknown))} for {kind}; use boto3's names: "
                         f"{', '.join(sorted(CREDENTIAL_KEYS))}", key=f"credentials.{unknown[0]}")
    for key in ("aws_access_key_id", "aws_secret_access_key"):
        if not isinstance(credentials.get(key), str) or not credentials[key]:
            raise wrong_spec(f"{kind} credentials need {key}", key=f"credentials.{key}")
    for key in CREDENTIAL_KEYS:
        if key in credentials and (not isinstance(credentials[key], str) or len(credentials[key]) > 4096):
            raise wrong_spec(f"credentials.{key} must be text", key=f"credentials.{key}")
    url = credentials.get("endpoint_url")
    if url is not None and not (url.startswith("http://") or url.startswith("https://")):
        raise wrong_spec("credentials.endpoint_url must be an http(s) URL", key="credentials.endpoint_url")
    return {k: str(v) for k, v in credentials.items()}


def _client(credentials: Mapping[str, str], kind: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": RETRY_ATTEMPTS, "mode": "standard"}, connect_timeout=10,
                    read_timeout=60, signature_version="s3v4",
                    # GCS's XML API and older S3-compatible stores reject the checksum
                    # headers newer botocore adds by default.
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required")
    session = boto3.session.Session(
        aws_access_key_id=credentials["aws_access_key_id"],
        aws_secret_access_key=credentials["aws_secret_access_key"],
        aws_session_token=credentials.get("aws_session_token") or None,
        region_name=credentials.get("region_name") or ("auto" if kind == "GCS" else "us-east-1"))
    endpoint = credentials.get("endpoint_url") or (GCS_ENDPOINT if kind == "GCS" else None)
    return session.client("s3", endpoint_url=endpoint, config=config)


def map_error(exc: BaseException, *, bucket: Optional[str] = None, key: Optional[str] = None) -> Exception:
    """The typed error of a boto3/botocore failure (never its message: it may quote a
    request)."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

    where = f"s3://{bucket}/{key or ''}" if bucket else "the object store"
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
        code = str(err.get("Code", "")) or str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        if code in _AUTH_CODES:
            return wrong_credentials(f"{where} refused the connection's credentials ({code})", remote_code=code)
        if code in _MISSING_CODES:
            what = "bucket" if code == "NoSuchBucket" or (key is None and bucket) else "key"
            return resource_not_found(f"{where} does not exist ({code})", key=what, remote_code=code)
        return remote_unavailable(f"{where} answered {code or 'an error'}")
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return wrong_credentials("the connection has no usable credentials")
    if isinstance(exc, BotoCoreError):
        return remote_unavailable(f"cannot reach {where}: {type(exc).__name__}")
    return remote_unavailable(f"reading {where} failed: {type(exc).__name__}")


class S3Store:
    """The objects of one S3/GCS source: `key`, or every object under `prefix`."""

    def __init__(self, credentials: Mapping[str, str], kind: str, spec: Optional[FileSpec] = None, *,
                 client: Any = None) -> None:
        self.kind = kind
        self.spec = spec
        self.client = client if client is not None else _client(credentials, kind)

    def _call(self, fn: Callable[..., Any], *, key: Optional[str] = None, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise map_error(exc, bucket=kwargs.get("Bucket"), key=key) from None

    def check_connection(self) -> None:
        """Whether the store accepts the credentials (lists the buckets they see)."""
        self._call(self.client.list_buckets)

    def check_bucket(self) -> None:
        """Whether the source's bucket is there (an export's destination)."""
        assert self.spec is not None
        self._call(self.client.head_bucket, Bucket=self.spec.bucket)

    def check(self) -> None:
        """Whether the source's bucket and object(s) are there and readable."""
        self.objects()

    def objects(self) -> list[StoredObject]:
        spec = self.spec
        assert spec is not None and spec.bucket is not None
        self._call(self.client.head_bucket, Bucket=spec.bucket)     # a HEAD 404 cannot tell bucket from key
        if spec.key is not None:
            head = self._call(self.client.head_object, key=spec.key, Bucket=spec.bucket, Key=spec.key)
            return [StoredObject(spec.key, int(head.get("ContentLength", 0)))]
        out = []
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=spec.bucket, Prefix=spec.prefix or "")
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            for page in pages:
                for item in page.get("Contents", ()):
                    if item["Key"].endswith("/") and not item.get("Size"):
                        continue                    # a "folder" marker
                    out.append(StoredObject(item["Key"], int(item.get("Size", 0))))
        except (ClientError, BotoCoreError) as exc:
            raise map_error(exc, bucket=spec.bucket, key=spec.prefix) from None
        if not out:
            raise resource_not_found(f"no object under s3://{spec.bucket}/{spec.prefix}", key="prefix")
        return sorted(out, key=lambda o: o.name)

    def open(self, obj: StoredObject, *, seekable: bool = False) -> BinaryIO:
        assert self.spec is not None and self.spec.bucket is not None
        if seekable:
            raw: io.RawIOBase = _RangeReader(self, self.spec.bucket, obj.name, obj.size or 0)
            return io.BufferedReader(raw, RANGE_BLOCK)
        return _ResumingStream(self, self.spec.bucket, obj.name)  # type: ignore[return-value]

    def write(self, fileobj: BinaryIO, key: str) -> None:
        assert self.spec is not None and self.spec.bucket is not None
        self._call(self.client.upload_fileobj, key=key, Fileobj=fileobj, Bucket=self.spec.bucket, Key=key)


class _ResumingStream(io.RawIOBase):
    """An object's body read front to back; a connection cut mid-body is resumed with a
    Range request from the first byte not yet delivered (RESUME_ATTEMPTS, backoff)."""

    def __init__(self, store: S3Store, bucket: str, key: str) -> None:
        self.store, self.bucket, self.key = store, bucket, key
        self.pos = 0
        self.body: Any = None
        self.failures = 0

    def readable(self) -> bool:
        return True

    def _open(self) -> None:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key}
        if self.pos:
            kwargs["Range"] = f"bytes={self.pos}-"
        self.body = self.store._call(self.store.client.get_object, key=self.key, **kwargs)["Body"]

    def readinto(self, b: Any) -> int:
        from botocore.exceptions import BotoCoreError
        from urllib3.exceptions import HTTPError

        while True:
            if self.body is None:
                self._open()
            try:
                data = self.body.read(len(b))
            except (BotoCoreError, HTTPError, OSError) as exc:
                self.failures += 1
                self.body = None
                if self.failures > RESUME_ATTEMPTS:
                    raise map_error(exc, bucket=self.bucket, key=self.key) from None
                time.sleep(min(8.0, 0.25 * 2 ** self.failures))
                continue
            n = len(data)
            b[:n] = data
            self.pos += n
            return n

    def close(self) -> None:
        if self.body is not None:
            self.body.close()
            self.body = None
        super().close()


class _RangeReader(io.RawIOBase):
    """Random access to an object by Range requests (Parquet footers, zip directories)."""

    def __init__(self, store: S3Store, bucket: str, key: str, size: int) -> None:
        self.store, self.bucket, self.key, self.size = store, bucket, key, size
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + pos)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, b: Any) -> int:
        if self.pos >= self.size or not len(b):
            return 0
        end = min(self.pos + len(b), self.size) - 1
        for attempt in range(RESUME_ATTEMPTS + 1):
            resp = self.store._call(self.store.client.get_object, key=self.key, Bucket=self.bucket, Key=self.key,
                                    Range=f"bytes={self.pos}-{end}")
            try:
                data = resp["Body"].read()
                break
            except Exception as exc:   # a cut body: ask again, with backoff
                if attempt == RESUME_ATTEMPTS:
                    raise map_error(exc, bucket=self.bucket, key=self.key) from None
                time.sleep(min(8.0, 0.25 * 2 ** (attempt + 1)))
        n = len(data)
        b[:n] = data
        self.pos += n
        return n
