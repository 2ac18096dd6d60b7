"""The service configuration: one frozen object, built by the CLI (defaults < TOML < env <
flags) and handed in. Nothing in the service layer reads the environment or a file itself.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Optional

from engine import MAX_QUERY_BYTES as ENGINE_MAX_QUERY_BYTES
from server.service.errors import InvalidParameter

MAX_LEEWAY_SECONDS = 30


@dataclass(frozen=True)
class Limits:
    """Every limit the server enforces; service properties report exactly these numbers.

    Enforced here: max_databases_per_org (databases.create_database), max_query_bytes and
    query_timeout_seconds (query), max_page_size/default_page_size (every list).
    Enforced by the faces on this same object: max_payload_bytes (HTTP body, gRPC message;
    except database imports, which stream up to max_import_bytes to a spool file),
    max_response_bytes (an HTTP answer; gRPC answers are split under max_payload_bytes).
    Enforced by the sources service: max_sources_per_database, max_upload_bytes (one
    LOCAL upload, counted while it streams to disk).
    """

    max_databases_per_org: int = 64
    max_query_bytes: int = ENGINE_MAX_QUERY_BYTES
    query_timeout_seconds: float = 60.0
    max_payload_bytes: int = 16 << 20
    max_import_bytes: int = 64 << 30
    max_response_bytes: int = 256 << 20
    max_sources_per_database: int = 16
    max_upload_bytes: int = 16 << 30
    max_page_size: int = 64
    default_page_size: int = 20

    def __post_init__(self) -> None:
        for name in ("max_databases_per_org", "max_query_bytes", "max_payload_bytes", "max_import_bytes",
                     "max_response_bytes", "max_sources_per_database", "max_upload_bytes", "max_page_size",
                     "default_page_size"):
            if getattr(self, name) < 1:
                raise InvalidParameter(f"limits.{name} must be at least 1")
        if self.max_query_bytes > ENGINE_MAX_QUERY_BYTES:
            raise InvalidParameter(f"limits.max_query_bytes cannot exceed the engine's {ENGINE_MAX_QUERY_BYTES}")
        if self.default_page_size > self.max_page_size:
            raise InvalidParameter("limits.default_page_size cannot exceed limits.max_page_size")
        if self.query_timeout_seconds <= 0:
            raise InvalidParameter("limits.query_timeout_seconds must be positive")


@dataclass(frozen=True)
class TokenSettings:
    """Access tokens (JWT, HS256 with the per-server secret) and refresh tokens."""

    issuer: str = "roarbase"
    audience: str = "roarbase-api"
    access_ttl_seconds: int = 15 * 60
    refresh_ttl_seconds: int = 30 * 24 * 3600
    leeway_seconds: int = 10

    def __post_init__(self) -> None:
        if not self.issuer or not self.audience:
            raise InvalidParameter("tokens.issuer and tokens.audience must be set")
        if self.access_ttl_seconds < 1 or self.refresh_ttl_seconds < self.access_ttl_seconds:
            raise InvalidParameter("token lifetimes: access >= 1 s and refresh >= access")
        if not 0 <= self.leeway_seconds <= MAX_LEEWAY_SECONDS:
            raise InvalidParameter(f"tokens.leeway_seconds must be within 0..{MAX_LEEWAY_SECONDS}")


@dataclass(frozen=True)
class PasswordHashing:
    """argon2id parameters (argon2-cffi's defaults are RFC 9106's low-memory profile)."""

    time_cost: int = 3
    memory_cost_kib: int = 64 * 1024
    parallelism: int = 4
    min_password_length: int = 8


@dataclass(frozen=True)
class BootstrapSettings:
    """The org and root account created on the first start on an empty data dir.

    root_password None: a password is generated and handed back once (BootstrapResult).
    """

    org_name: str = "default"
    root_email: str = "root@localhost"
    root_name: str = "root"
    root_password: Optional[str] = field(default=None, repr=False)  # never in logs


def _memory_gb() -> float:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30), 1)
    except (ValueError, OSError, AttributeError):
        return 0.0


@dataclass(frozen=True)
class ServiceConfig:
    """Everything the service layer is told. `data_dir` holds meta.db and databases/<id>/."""

    data_dir: str
    limits: Limits = field(default_factory=Limits)
    tokens: TokenSettings = field(default_factory=TokenSettings)
    passwords: PasswordHashing = field(default_factory=PasswordHashing)
    bootstrap: BootstrapSettings = field(default_factory=BootstrapSettings)
    invite_ttl_seconds: int = 7 * 24 * 3600
    tombstone_days: float = 7.0
    # Power-loss durability for meta.db (SQLite synchronous=FULL) and the engines (fsync on
    # every commit). False keeps both safe against a process kill only (tests, dev).
    fsync: bool = True
    shape_name: str = "local"
    shape_cpus: int = field(default_factory=lambda: os.cpu_count() or 1)
    shape_memory_gb: float = field(default_factory=_memory_gb)
    query_base_url: str = ""
    # BULK INSERT ... INPUT 'FILE' reads a file on the server: refused unless the path is
    # absolute and inside this directory (None: refused always).
    sql_file_dir: Optional[str] = None
    # A query that runs this long or longer is logged (roarbase.slow) with its text cut short.
    slow_query_seconds: float = 1.0
    # LOCAL sources may read (and analytics_report exports write) files under this
    # directory, by relative paths that can never leave it (None: uploads only).
    sources_sandbox_dir: Optional[str] = None
    # The Fernet key (urlsafe base64 of 32 bytes) encrypting connection credentials at
    # rest. None: the key file <data_dir>/connections.key, made (mode 0600) on first start.
    connections_key: Optional[str] = field(default=None, repr=False)
    # Scale-out (docs/cluster.md): the Ray cluster every database's records live on (None:
    # in-process, the default), the storage every Ray node reaches (shard logs and
    # snapshots; default <data_dir>/cluster, which only a one-machine cluster can share)
    # and how many worker actors each database gets.
    ray_address: Optional[str] = None
    ray_root: Optional[str] = None
    ray_workers: int = 2
    # The endpoint of an S3-compatible store (MinIO, Ceph, …) when ray_root is s3://…;
    # None: AWS. Credentials come from boto3's chain on every node, never from settings.
    ray_s3_endpoint: Optional[str] = None
    # Automatic membership: keep this many worker actors on every alive Ray node (0: off),
    # checking the nodes every ray_poll_seconds; a node missing ray_node_grace polls in a row
    # loses its workers (their shards move to the others).
    ray_workers_per_node: int = 0
    ray_poll_seconds: float = 2.0
    ray_node_grace: int = 3

    def __post_init__(self) -> None:
        if not self.data_dir:
            raise InvalidParameter("data_dir must be set")
        if self.invite_ttl_seconds < 1:
            raise InvalidParameter("invite_ttl_seconds must be at least 1")
        if self.tombstone_days < 0:
            raise InvalidParameter("tombstone_days cannot be negative")
        if self.slow_query_seconds < 0:
            raise InvalidParameter("slow_query_seconds cannot be negative")
        if self.ray_workers < 1:
            raise InvalidParameter("ray_workers must be at least 1")
        if self.ray_workers_per_node < 0:
            raise InvalidParameter("ray_workers_per_node cannot be negative")
        if self.ray_poll_seconds <= 0:
            raise InvalidParameter("ray_poll_seconds must be positive")
        if self.ray_node_grace < 1:
            raise InvalidParameter("ray_node_grace must be at least 1")

    @property
    def meta_path(self) -> str:
        return os.path.join(self.data_dir, "meta.db")

    @property
    def databases_dir(self) -> str:
        return os.path.join(self.data_dir, "databases")

    @property
    def cluster_root(self) -> str:
        return self.ray_root or os.path.join(self.data_dir, "cluster")
