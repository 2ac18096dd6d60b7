"""meta.db: versioned migrations (from empty, from every older version, idempotent, refusing a
newer file, atomic per step), the data-dir lock, and the config's validation."""
import sqlite3

import pytest

from server.service import migrations
from server.service.config import Limits, ServiceConfig, TokenSettings
from server.service.context import ServiceContext
from server.service.errors import IncorrectState, InternalServerError, InvalidParameter, ServiceUnavailable
from server.service.migrations import LATEST, MIGRATIONS, Migration
from server.service.store import MetaStore
from svc_testlib import ROOT_EMAIL, ROOT_PASSWORD, login, make_config, start

TABLES = {"schema_version", "orgs", "roles", "accounts", "account_roles", "signing_keys", "databases",
          "refresh_tokens", "api_keys", "revoked_jtis", "invites", "tasks", "connections", "sources"}


def _tables(path):
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


def _schema(path):
    conn = sqlite3.connect(path)
    try:
        return sorted(conn.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))
    finally:
        conn.close()


def test_migrations_are_numbered_in_order():
    assert [m.version for m in MIGRATIONS] == list(range(1, LATEST + 1))
    assert LATEST >= 2


def test_migrate_an_empty_file(tmp_path):
    store = MetaStore(str(tmp_path / "meta.db"))
    assert store.version() == 0
    assert store.migrate() == LATEST
    assert _tables(tmp_path / "meta.db") == TABLES
    rows = store.all("SELECT version, name FROM schema_version ORDER BY version")
    assert [(r["version"], r["name"]) for r in rows] == [(m.version, m.name) for m in MIGRATIONS]
    store.close()


def test_migrate_twice_changes_nothing(tmp_path):
    store = MetaStore(str(tmp_path / "meta.db"))
    store.migrate()
    before = _schema(tmp_path / "meta.db")
    assert store.migrate() == LATEST
    assert _schema(tmp_path / "meta.db") == before
    assert store.one("SELECT COUNT(*) AS n FROM schema_version")["n"] == LATEST
    store.close()


@pytest.mark.parametrize("m", MIGRATIONS, ids=lambda m: f"v{m.version}")
def test_each_migration_is_idempotent(tmp_path, m):
    store = MetaStore(str(tmp_path / "meta.db"))
    store.migrate(target=m.version)
    before = _schema(tmp_path / "meta.db")
    with store.transaction():
        m.apply(store._conn)  # re-running a step over its own result is a no-op
    assert _schema(tmp_path / "meta.db") == before
    store.close()


@pytest.mark.parametrize("old", range(0, LATEST), ids=lambda v: f"from-v{v}")
def test_upgrade_from_every_older_version_keeps_data(tmp_path, old):
    """A meta.db left at schema `old` opens with today's server: migrated to LATEST, then
    bootstrapped, and the root can log in."""
    data = tmp_path / "data"
    data.mkdir()
    store = MetaStore(str(data / "meta.db"))
    store.migrate(target=old)
    assert store.version() == old
    store.close()
    ctx = start(data)
    try:
        assert ctx.store.version() == LATEST
        assert _tables(data / "meta.db") == TABLES
        assert login(ctx, ROOT_PASSWORD, email=ROOT_EMAIL).role == "root"
    finally:
        ctx.close()


@pytest.mark.parametrize("old", range(1, LATEST), ids=lambda v: f"v{v}")
def test_rows_written_at_an_older_version_survive(tmp_path, old):
    data = tmp_path / "data"
    data.mkdir()
    store = MetaStore(str(data / "meta.db"))
    store.migrate(target=old)
    store.execute("INSERT INTO orgs (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)",
                  ("00000000-0000-4000-8000-000000000001", "legacy", 1.0, 1.0))
    store.execute("INSERT INTO accounts (id, org_id, kind, email, role, created_at, updated_at)"
                  " VALUES (?, ?, 'individual', ?, 'root', 1.0, 1.0)",
                  ("00000000-0000-4000-8000-000000000002", "00000000-0000-4000-8000-000000000001", "old@x.io"))
    store.close()
    ctx = start(data)
    try:
        assert ctx.store.version() == LATEST
        assert ctx.bootstrap is None  # an org exists: no second bootstrap
        row = ctx.store.one("SELECT name FROM orgs")
        assert row["name"] == "legacy"
        assert ctx.store.one("SELECT email FROM accounts")["email"] == "old@x.io"
    finally:
        ctx.close()


def test_a_newer_file_is_refused_and_left_alone(tmp_path):
    store = MetaStore(str(tmp_path / "meta.db"))
    store.migrate()
    store.execute("INSERT INTO schema_version (version, name, applied_at) VALUES (?, 'future', 0)", (LATEST + 1,))
    before = _schema(tmp_path / "meta.db")
    with pytest.raises(IncorrectState) as e:
        store.migrate()
    assert e.value.name == "SCHEMA_TOO_NEW"
    assert _schema(tmp_path / "meta.db") == before
    store.close()


def test_a_failing_migration_leaves_the_previous_version(tmp_path):
    broken = (*MIGRATIONS, Migration(LATEST + 1, "broken", ("CREATE TABLE extra (x INTEGER)", "SELECT * FROM nope")))
    store = MetaStore(str(tmp_path / "meta.db"))
    with pytest.raises(sqlite3.OperationalError):
        store.migrate(broken)
    assert store.version() == LATEST
    assert "extra" not in _tables(tmp_path / "meta.db")  # the step's first statement rolled back too
    store.close()


def test_misnumbered_migrations_are_a_bug(tmp_path):
    store = MetaStore(str(tmp_path / "meta.db"))
    with pytest.raises(InternalServerError):
        store.migrate((MIGRATIONS[1],))
    store.close()


def test_transactions_roll_back_and_nest(tmp_path):
    store = MetaStore(str(tmp_path / "meta.db"))
    store.migrate()
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.execute("INSERT INTO orgs (id, name, created_at, updated_at) VALUES ('a', 'a', 0, 0)")
            with store.transaction():
                store.execute("INSERT INTO orgs (id, name, created_at, updated_at) VALUES ('b', 'b', 0, 0)")
            raise RuntimeError
    assert store.all("SELECT * FROM orgs") == []
    with store.transaction():
        with store.transaction():
            store.execute("INSERT INTO orgs (id, name, created_at, updated_at) VALUES ('c', 'c', 0, 0)")
    assert [r["id"] for r in store.all("SELECT id FROM orgs")] == ["c"]
    store.close()


def test_first_start_creates_the_layout(tmp_path):
    data = tmp_path / "fresh" / "data"
    ctx = start(data)
    try:
        assert (data / "meta.db").is_file()
        assert (data / "databases").is_dir()
        assert ctx.store.version() == migrations.LATEST
    finally:
        ctx.close()


def test_one_server_per_data_dir(tmp_path):
    ctx = start(tmp_path / "data")
    try:
        with pytest.raises(ServiceUnavailable) as e:
            ServiceContext(make_config(tmp_path / "data"))
        assert e.value.name == "DATA_DIR_IN_USE"
    finally:
        ctx.close()
    start(tmp_path / "data").close()  # released on close


def test_config_validation():
    with pytest.raises(InvalidParameter):
        ServiceConfig("")
    with pytest.raises(InvalidParameter):
        Limits(max_databases_per_org=0)
    with pytest.raises(InvalidParameter):
        Limits(max_query_bytes=(1 << 20) + 1)  # above the engine's own cap
    with pytest.raises(InvalidParameter):
        Limits(default_page_size=100, max_page_size=10)
    with pytest.raises(InvalidParameter):
        Limits(query_timeout_seconds=0)
    with pytest.raises(InvalidParameter):
        TokenSettings(leeway_seconds=31)
    with pytest.raises(InvalidParameter):
        TokenSettings(access_ttl_seconds=600, refresh_ttl_seconds=60)
    with pytest.raises(InvalidParameter):
        TokenSettings(audience="")
    with pytest.raises(InvalidParameter):
        ServiceConfig("x", invite_ttl_seconds=0)
    with pytest.raises(InvalidParameter):
        ServiceConfig("x", tombstone_days=-1)
    cfg = ServiceConfig("x")
    assert cfg.meta_path.endswith("meta.db") and cfg.databases_dir.endswith("databases")
    assert cfg.shape_cpus >= 1


@pytest.mark.parametrize("fsync,level", [(True, 2), (False, 1)])
def test_durability_follows_the_config(tmp_path, fsync, level):
    store = MetaStore(str(tmp_path / "meta.db"), fsync=fsync)
    assert store.one("PRAGMA synchronous")[0] == level  # FULL / NORMAL
    assert store.one("PRAGMA journal_mode")[0] == "wal"
    assert store.one("PRAGMA foreign_keys")[0] == 1
    store.close()
