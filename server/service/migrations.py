"""Versioned schema migrations of meta.db, applied in order by MetaStore.migrate.

Rules: a released migration never changes (add a new one); each is idempotent — IF NOT
EXISTS everywhere, and a future ALTER TABLE ADD COLUMN checks PRAGMA table_info first — so
re-running one over its own result is a no-op; no migration reads the clock, the
environment or a file. Timestamps are REAL Unix seconds; ids are canonical UUID text; JSON
columns hold JSON text.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Migration:
    """Statements to run, after adding the (table, column, declaration) `columns` that are
    missing (ALTER TABLE ADD COLUMN has no IF NOT EXISTS: table_info is checked first)."""

    version: int
    name: str
    statements: Sequence[str]
    columns: Sequence[tuple[str, str, str]] = ()

    def apply(self, conn: sqlite3.Connection) -> None:
        for table, column, decl in self.columns:
            if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
        for sql in self.statements:
            conn.execute(sql)


V1_IDENTITY = Migration(1, "identity: orgs, roles, accounts, signing keys", (
    """CREATE TABLE IF NOT EXISTS orgs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        company_name TEXT NOT NULL DEFAULT '',
        address TEXT NOT NULL DEFAULT '',
        tech_contact_email TEXT NOT NULL DEFAULT '',
        billing_contact_email TEXT NOT NULL DEFAULT '',
        org_type TEXT NOT NULL DEFAULT 'standard',
        metadata TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        updated_by TEXT NOT NULL DEFAULT '')""",
    """CREATE TABLE IF NOT EXISTS roles (
        org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        builtin INTEGER NOT NULL DEFAULT 0,
        acl TEXT NOT NULL DEFAULT '[]',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        updated_by TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (org_id, name))""",
    """CREATE TABLE IF NOT EXISTS accounts (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES orgs(id),
        kind TEXT NOT NULL CHECK (kind IN ('individual', 'service')),
        email TEXT UNIQUE COLLATE NOCASE,
        name TEXT UNIQUE COLLATE NOCASE,
        firstname TEXT NOT NULL DEFAULT '',
        lastname TEXT NOT NULL DEFAULT '',
        role TEXT NOT NULL,
        acl TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL DEFAULT 'Active' CHECK (status IN ('Active', 'Deactivated')),
        password_hash TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        updated_by TEXT NOT NULL DEFAULT '',
        CHECK (email IS NOT NULL OR name IS NOT NULL))""",
    # The org owner: exactly one root account per org.
    "CREATE UNIQUE INDEX IF NOT EXISTS accounts_one_root ON accounts (org_id) WHERE role = 'root'",
    "CREATE INDEX IF NOT EXISTS accounts_by_org ON accounts (org_id, created_at, id)",
    """CREATE TABLE IF NOT EXISTS account_roles (
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        org_id TEXT NOT NULL,
        role_name TEXT NOT NULL,
        PRIMARY KEY (account_id, role_name),
        FOREIGN KEY (org_id, role_name) REFERENCES roles (org_id, name) ON DELETE CASCADE)""",
    """CREATE TABLE IF NOT EXISTS signing_keys (
        kid TEXT PRIMARY KEY,
        secret BLOB NOT NULL,
        created_at REAL NOT NULL)""",
))

V2_DATABASES = Migration(2, "databases", (
    """CREATE TABLE IF NOT EXISTS databases (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES orgs(id),
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL,
        state_reason TEXT NOT NULL DEFAULT '',
        database_options TEXT NOT NULL DEFAULT '{}',
        item_id_type TEXT NOT NULL,
        user_id_type TEXT NOT NULL,
        session_id_type TEXT NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        core_config TEXT NOT NULL DEFAULT '{}',
        created_by TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        owned_by TEXT NOT NULL DEFAULT '',
        updated_at REAL NOT NULL,
        updated_by TEXT NOT NULL DEFAULT '',
        deleted_at REAL)""",
    # A name is taken until its database is DELETED (the tombstone keeps the row).
    "CREATE UNIQUE INDEX IF NOT EXISTS databases_live_name ON databases (org_id, name) WHERE state != 'DELETED'",
    "CREATE INDEX IF NOT EXISTS databases_by_org ON databases (org_id, created_at, id)",
))

V3_CREDENTIALS = Migration(3, "credentials: refresh tokens, API keys, access-token deny-list", (
    """CREATE TABLE IF NOT EXISTS refresh_tokens (
        id TEXT PRIMARY KEY,
        family_id TEXT NOT NULL,
        parent_id TEXT,
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        org_id TEXT NOT NULL,
        database_id TEXT,
        scope_locked INTEGER NOT NULL DEFAULT 0,
        token_hash TEXT NOT NULL UNIQUE,
        access_jti TEXT NOT NULL,
        access_exp REAL NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        revoked_at REAL,
        revoked_reason TEXT)""",
    "CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens (family_id)",
    "CREATE INDEX IF NOT EXISTS refresh_tokens_account ON refresh_tokens (account_id)",
    "CREATE INDEX IF NOT EXISTS refresh_tokens_database ON refresh_tokens (database_id)",
    """CREATE TABLE IF NOT EXISTS api_keys (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        org_id TEXT NOT NULL,
        database_id TEXT,
        label TEXT NOT NULL DEFAULT '',
        key_hash TEXT NOT NULL,
        created_at REAL NOT NULL,
        created_by TEXT NOT NULL DEFAULT '',
        expires_at REAL,
        revoked_at REAL,
        last_used_at REAL)""",
    "CREATE INDEX IF NOT EXISTS api_keys_by_org ON api_keys (org_id, created_at, id)",
    """CREATE TABLE IF NOT EXISTS revoked_jtis (
        jti TEXT PRIMARY KEY,
        expires_at REAL NOT NULL)""",
))

V4_INVITES = Migration(4, "invites", (
    """CREATE TABLE IF NOT EXISTS invites (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        email TEXT NOT NULL COLLATE NOCASE,
        role TEXT NOT NULL,
        accepted INTEGER NOT NULL DEFAULT 0,
        move_org INTEGER NOT NULL DEFAULT 0,
        accepted_by TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        created_by TEXT NOT NULL DEFAULT '',
        date_expiry REAL NOT NULL,
        updated_at REAL NOT NULL,
        updated_by TEXT NOT NULL DEFAULT '')""",
    "CREATE INDEX IF NOT EXISTS invites_by_org ON invites (org_id, created_at, id)",
    "CREATE INDEX IF NOT EXISTS invites_by_email ON invites (org_id, email)",
))

V5_DATA_PLANE = Migration(5, "data plane: CM account metadata, end-user tokens, background tasks", (
    """CREATE TABLE IF NOT EXISTS tasks (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL,
        database_id TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('RUNNING', 'COMPLETED', 'FAILED')),
        progress TEXT NOT NULL DEFAULT '',
        error TEXT,
        created_by TEXT NOT NULL DEFAULT '',
        start_time REAL NOT NULL,
        end_time REAL)""",
    "CREATE INDEX IF NOT EXISTS tasks_by_name ON tasks (database_id, name, start_time)",
), columns=(
    ("accounts", "metadata", "TEXT NOT NULL DEFAULT '{}'"),
    ("api_keys", "metadata", "TEXT NOT NULL DEFAULT '{}'"),
    ("refresh_tokens", "end_user", "TEXT"),
    ("refresh_tokens", "session", "TEXT"),
))

V6_KEY_SESSIONS = Migration(6, "sessions remember the API key they were logged in with", (
    "CREATE INDEX IF NOT EXISTS refresh_tokens_api_key ON refresh_tokens (api_key_id)",
), columns=(
    ("refresh_tokens", "api_key_id", "TEXT"),
))

V7_SOURCES = Migration(7, "connections and sources (seed 002); import progress and cancel on tasks", (
    # One connection per kind per org (the seed's path is connections/<kind>/); the
    # credentials are a Fernet token (server/service/secretbox.py), never plain JSON.
    """CREATE TABLE IF NOT EXISTS connections (
        org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        credentials BLOB NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        updated_by TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (org_id, kind))""",
    # A source ("table" in seed 002) of one database. upload_hash: SHA-256 of the LOCAL
    # source's current one-time upload token; upload_token: the token itself, encrypted
    # (it is shown again as connection_table_params.url).
    """CREATE TABLE IF NOT EXISTS sources (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL,
        database_id TEXT NOT NULL,
        connection TEXT NOT NULL,
        name TEXT NOT NULL,
        resource TEXT NOT NULL,
        resource_params TEXT NOT NULL DEFAULT '{}',
        connection_table_params TEXT NOT NULL DEFAULT '{}',
        connection_table_metadata TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL,
        status_message TEXT NOT NULL DEFAULT '',
        upload_hash TEXT UNIQUE,
        upload_token BLOB,
        uploaded_at REAL,
        uploaded_bytes INTEGER,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        updated_by TEXT NOT NULL DEFAULT '',
        UNIQUE (database_id, connection, name))""",
    "CREATE INDEX IF NOT EXISTS sources_by_database ON sources (database_id, created_at, id)",
    "CREATE INDEX IF NOT EXISTS tasks_by_source ON tasks (source_id, start_time)",
), columns=(
    ("tasks", "details", "TEXT"),
    ("tasks", "source_id", "TEXT"),
    ("tasks", "cancel_requested", "INTEGER NOT NULL DEFAULT 0"),
))

MIGRATIONS: tuple[Migration, ...] = (V1_IDENTITY, V2_DATABASES, V3_CREDENTIALS, V4_INVITES, V5_DATA_PLANE,
                                     V6_KEY_SESSIONS, V7_SOURCES)
LATEST = len(MIGRATIONS)
