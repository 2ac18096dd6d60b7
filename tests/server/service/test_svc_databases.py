"""databases: create/list/get/update/delete, the state machine (API.md §3.3), engine
directories, tombstones, limits, org isolation and database-scoped principals."""
import os
import threading
import time

import pytest

from server.service import databases as dbs, tokens
from server.service.databases import (
    BACKUP, CREATING, DELETED, DELETING, DEPROVISIONING, FAILED, FROZEN, PROVISIONING, RESTORING, RUNNING, STATES,
    TRANSITIONS,
)
from server.service.errors import (
    IncorrectState,
    InvalidParameter,
    MissingParameter,
    RelatedResourceNotFound,
    ResourceAlreadyExists,
    ResourceLimitExceeded,
    ResourceNotFound,
)
from server.service.config import Limits
from svc_testlib import ROOT_EMAIL, ROOT_PASSWORD, login, member, other_org, root_of, start


def test_create_provisions_an_engine_directory(svc, root, clock):
    db = dbs.create_database(svc, root, name="shop", description="d", database_options={"shape": "local"},
                             metadata={"k": 1})
    assert db.state == RUNNING and db.cm_status == "ready" and db.warnings == []
    assert (db.item_id_type, db.user_id_type, db.session_id_type) == ("uint64", "uint64", "uuid")
    assert db.created_by == db.owned_by == db.updated_by == root.account_id and db.created_at == clock.now
    assert os.path.isdir(svc.engine_path(db.id)) and db.id in svc.open_engines()
    assert os.path.dirname(svc.engine_path(db.id)) == os.path.join(svc.config.data_dir, "databases")
    d = db.to_dict()
    assert d["database_status"] == "RUNNING" and d["database_options"] == {"shape": "local"}
    assert d["metadata"] == {"k": 1} and d["id"] == db.id


def test_create_with_cm_id_types(svc, root):
    db = dbs.create_database(svc, root, name="cm", item_id_type="uuid", user_id_type="urlsafe64",
                             session_id_type="hex10")
    assert (db.item_id_type, db.user_id_type, db.session_id_type) == ("uuid", "urlsafe64", "hex10")
    for bad in ("uint128", "hex0", "bytes65", "float", "", 7):
        with pytest.raises(InvalidParameter) as e:
            dbs.create_database(svc, root, name="bad", item_id_type=bad)
        assert e.value.name == "WRONG_DATA_TYPE"


def test_create_errors(svc, root):
    dbs.create_database(svc, root, name="taken")
    with pytest.raises(ResourceAlreadyExists) as e:
        dbs.create_database(svc, root, name="taken")
    assert e.value.name == "DUPLICATED_DB_NAME" and e.value.data == {"type": "database", "key": "taken"}
    for bad in ("with space", "x" * 65, "current", "..", "a/b"):
        with pytest.raises(InvalidParameter) as e:
            dbs.create_database(svc, root, name=bad)
        assert e.value.name == "INVALID_NAME"
    with pytest.raises(MissingParameter):
        dbs.create_database(svc, root, name="")
    with pytest.raises(InvalidParameter):
        dbs.create_database(svc, root, name="opts", database_options=["not", "an", "object"])
    other = other_org(svc)
    dbs.create_database(svc, other.root, name="taken")  # names are per org


def test_database_limit_per_org(tmp_path, clock):
    ctx = start(tmp_path / "data", clock, limits=Limits(max_databases_per_org=2))
    try:
        root = root_of(ctx)
        a = dbs.create_database(ctx, root, name="a")
        dbs.create_database(ctx, root, name="b")
        with pytest.raises(ResourceLimitExceeded) as e:
            dbs.create_database(ctx, root, name="c")
        assert e.value.data["limit"] == 2
        dbs.delete_database(ctx, root, a.id, wait=True)  # a deleted one frees its slot
        dbs.create_database(ctx, root, name="c")
        other = other_org(ctx)
        dbs.create_database(ctx, other.root, name="a")  # the limit is per org
    finally:
        ctx.close()


def test_get_by_either_id_form_and_name(svc, root):
    db = dbs.create_database(svc, root, name="shop")
    assert dbs.get_database(svc, root, db.id) == db
    assert dbs.get_database(svc, root, db.id.upper()) == db
    assert dbs.get_database(svc, root, db.id_b64) == db and len(db.id_b64) == 22
    assert dbs.get_database_by_name(svc, root, "shop") == db
    for missing in ("00000000-0000-4000-8000-000000000000", "AAAAAAAAAAAAAAAAAAAAAA", "nope", ""):
        with pytest.raises(ResourceNotFound):
            dbs.get_database(svc, root, missing)
    with pytest.raises(ResourceNotFound):
        dbs.get_database_by_name(svc, root, "nope")


def test_other_orgs_databases_answer_like_missing_ones(svc, root):
    other = other_org(svc)
    theirs = dbs.create_database(svc, other.root, name="secret")
    missing = "00000000-0000-4000-8000-000000000000"
    for ref in (theirs.id, missing):
        errors = []
        for call in (lambda r: dbs.get_database(svc, root, r),
                     lambda r: dbs.update_database(svc, root, r, description="x"),
                     lambda r: dbs.delete_database(svc, root, r),
                     lambda r: dbs.wait_for_change(svc, root, r, known_state=None, timeout=0)):
            with pytest.raises(ResourceNotFound) as e:
                call(ref)
            errors.append((e.value.code, e.value.name, e.value.message))
        assert errors == [("ResourceNotFound", "DB_NOT_FOUND", "database not found")] * 4
    with pytest.raises(ResourceNotFound):
        dbs.get_database_by_name(svc, root, "secret")
    assert dbs.list_databases(svc, root).resources == []
    assert dbs.get_database(svc, other.root, theirs.id).state == RUNNING


def test_database_scoped_principal_sees_only_its_database(svc, root):
    a = dbs.create_database(svc, root, name="a")
    b = dbs.create_database(svc, root, name="b")
    scoped = login(svc, ROOT_PASSWORD, email=ROOT_EMAIL, database="a")
    assert dbs.get_database(svc, scoped, a.id).id == a.id
    with pytest.raises(ResourceNotFound):
        dbs.get_database(svc, scoped, b.id)
    assert [d.id for d in dbs.list_databases(svc, scoped).resources] == [a.id]


def test_list_pages_and_tombstones(svc, root, clock):
    made = []
    for i in range(5):
        clock.advance(1)
        made.append(dbs.create_database(svc, root, name=f"d{i}").id)
    page = dbs.list_databases(svc, root, limit=2)
    seen = [d.id for d in page.resources]
    while page.next:
        page = dbs.list_databases(svc, root, limit=2, next_token=page.next)
        seen += [d.id for d in page.resources]
    assert seen == made
    dbs.delete_database(svc, root, made[0], wait=True)
    assert [d.id for d in dbs.list_databases(svc, root).resources] == made[1:]
    with_deleted = dbs.list_databases(svc, root, include_deleted=True).resources
    assert [d.state for d in with_deleted] == [DELETED] + [RUNNING] * 4
    assert dbs.get_database(svc, root, made[0]).state == DELETED  # the tombstone answers for a while
    clock.advance(svc.config.tombstone_days * 86400 + 1)
    with pytest.raises(ResourceNotFound):
        dbs.get_database(svc, root, made[0])
    assert len(dbs.list_databases(svc, root, include_deleted=True).resources) == 4
    assert dbs.purge_tombstones(svc) == 1
    assert svc.store.one("SELECT COUNT(*) AS n FROM databases")["n"] == 4


def test_update(svc, root, clock):
    db = dbs.create_database(svc, root, name="a", metadata={"x": 1, "y": 2})
    dbs.create_database(svc, root, name="b")
    manager = member(svc, root, "manager")
    clock.advance(3)
    db2 = dbs.update_database(svc, manager, db.id, name="a2", description="new", owned_by=manager.account_id,
                              core_config={"k": "v"}, metadata={"y": None, "z": 3})
    assert (db2.name, db2.description, db2.owned_by, db2.core_config, db2.metadata) == (
        "a2", "new", manager.account_id, {"k": "v"}, {"x": 1, "z": 3})
    assert db2.updated_by == manager.account_id and db2.updated_at == clock.now
    assert dbs.update_database(svc, root, db.id, metadata={"only": 1}, preserve=False).metadata == {"only": 1}
    assert dbs.update_database(svc, root, db.id, name="a2").name == "a2"  # its own name is fine
    with pytest.raises(ResourceAlreadyExists):
        dbs.update_database(svc, root, db.id, name="b")
    with pytest.raises(RelatedResourceNotFound):
        dbs.update_database(svc, root, db.id, owned_by=other_org(svc).root.account_id)
    with pytest.raises(InvalidParameter):
        dbs.update_database(svc, root, db.id, name="bad name")
    dbs.delete_database(svc, root, db.id)
    with pytest.raises(IncorrectState):
        dbs.update_database(svc, root, db.id, description="too late")


def test_delete_is_asynchronous_by_default(svc, root):
    db = dbs.create_database(svc, root, name="a")
    deleting = dbs.delete_database(svc, root, db.id)
    assert deleting.state == DELETING and deleting.cm_status is None
    assert os.path.isdir(svc.engine_path(db.id))  # files go in the deprovisioning step
    with pytest.raises(IncorrectState):
        dbs.delete_database(svc, root, db.id)
    dbs.create_database(svc, root, name="b")
    with pytest.raises(ResourceAlreadyExists):
        dbs.create_database(svc, root, name="a")  # still taken while deleting
    gone = dbs.deprovision_database(svc, db.id)
    assert gone.state == DELETED and gone.deleted_at is not None
    assert not os.path.exists(svc.engine_path(db.id)) and db.id not in svc.open_engines()
    with pytest.raises(ResourceNotFound):
        dbs.delete_database(svc, root, db.id)
    assert dbs.create_database(svc, root, name="a").id != db.id  # the name is free again
    with pytest.raises(IncorrectState):
        svc.engine(db.id)  # never re-created behind the deletion's back


@pytest.mark.parametrize("state", [BACKUP, RESTORING])
def test_delete_refused_while_backup_or_restore_runs(svc, root, state):
    db = dbs.create_database(svc, root, name="a")
    dbs.set_state(svc, db.id, state)
    with pytest.raises(IncorrectState) as e:
        dbs.delete_database(svc, root, db.id)
    assert e.value.data["state"] == state


def test_state_machine_transitions(svc, root):
    assert set(TRANSITIONS) == set(STATES)
    db = dbs.create_database(svc, root, name="a", provision=False)
    assert db.state == CREATING and db.cm_status == "pending"
    with pytest.raises(IncorrectState):
        dbs.set_state(svc, db.id, RUNNING)  # CREATING cannot skip PROVISIONING
    assert dbs.provision_database(svc, db.id).state == RUNNING
    with pytest.raises(IncorrectState):
        dbs.provision_database(svc, db.id)
    assert dbs.set_state(svc, db.id, BACKUP).state == BACKUP
    assert dbs.set_state(svc, db.id, RUNNING).state == RUNNING
    assert dbs.set_state(svc, db.id, RESTORING).state == RESTORING
    frozen = dbs.set_state(svc, db.id, FROZEN, reason="revert failed")
    assert frozen.state_reason == "revert failed" and frozen.warnings == ["database_frozen"]
    with pytest.raises(IncorrectState):
        dbs.set_state(svc, db.id, RUNNING)
    with pytest.raises(IncorrectState):
        dbs.set_state(svc, db.id, DELETING, expect=RUNNING)
    with pytest.raises(InvalidParameter):
        dbs.set_state(svc, db.id, "EXPLODED")
    assert dbs.delete_database(svc, root, db.id, wait=True).state == DELETED
    with pytest.raises(IncorrectState):
        dbs.set_state(svc, db.id, RUNNING)  # DELETED is terminal


def test_every_transition_in_the_table_is_allowed_and_no_other(svc, root):
    for src in STATES:
        for dst in STATES:
            db = dbs.create_database(svc, root, name=f"t-{src}-{dst}".lower(), provision=False)
            svc.store.execute("UPDATE databases SET state = ? WHERE id = ?", (src, db.id))
            if dst in TRANSITIONS[src]:
                assert dbs.set_state(svc, db.id, dst).state == dst
            else:
                with pytest.raises(IncorrectState):
                    dbs.set_state(svc, db.id, dst)
            svc.store.execute("UPDATE databases SET state = 'DELETED', deleted_at = 0 WHERE id = ?", (db.id,))


def test_provisioning_failure_marks_failed(svc, root):
    db = dbs.create_database(svc, root, name="a", provision=False)
    with open(svc.engine_path(db.id), "w") as f:  # a file where the directory must go
        f.write("x")
    failed = dbs.provision_database(svc, db.id)
    assert failed.state == FAILED and "provisioning failed" in failed.state_reason
    assert failed.warnings == ["database_failed"] and failed.cm_status == "pending"
    os.remove(svc.engine_path(db.id))
    assert dbs.delete_database(svc, root, db.id, wait=True).state == DELETED


def test_watch_wakes_on_a_state_change(svc, root):
    db = dbs.create_database(svc, root, name="a", provision=False)
    assert dbs.wait_for_change(svc, root, db.id, known_state=None, timeout=5).state == CREATING
    assert dbs.wait_for_change(svc, root, db.id, known_state=CREATING, timeout=0.01).state == CREATING
    seen = []

    def watch():
        state = CREATING
        while state not in (RUNNING, FAILED):
            state = dbs.wait_for_change(svc, root, db.id, known_state=state, timeout=10).state
            seen.append(state)

    t = threading.Thread(target=watch)
    t.start()
    time.sleep(0.05)
    dbs.provision_database(svc, db.id)
    t.join(10)
    assert not t.is_alive() and seen[-1] == RUNNING
    assert set(seen) <= {PROVISIONING, RUNNING}


def test_recovery_after_a_restart(tmp_path, clock):
    ctx = start(tmp_path / "data", clock)
    root = root_of(ctx)
    ids = {s: dbs.create_database(ctx, root, name=s.lower(), provision=False).id
           for s in (CREATING, PROVISIONING, BACKUP, RESTORING, DELETING, DEPROVISIONING)}
    for state, ident in ids.items():
        ctx.store.execute("UPDATE databases SET state = ? WHERE id = ?", (state, ident))
    os.makedirs(ctx.engine_path(ids[DELETING]))
    ctx.close()
    ctx = start(tmp_path / "data", clock)
    try:
        root = root_of(ctx)
        got = {s: dbs.get_database(ctx, root, ident).state for s, ident in ids.items()}
        # RESTORING without a complete restore point: the import had changed nothing yet
        # (tests/server/service/test_svc_transfer_*.py and tests/reliability cover the rest).
        assert got == {CREATING: RUNNING, PROVISIONING: RUNNING, BACKUP: RUNNING, RESTORING: RUNNING,
                       DELETING: DELETED, DEPROVISIONING: DELETED}
        assert not os.path.exists(ctx.engine_path(ids[DELETING]))
    finally:
        ctx.close()


def test_data_survives_a_restart(tmp_path, clock):
    from server.service import query
    ctx = start(tmp_path / "data", clock)
    root = root_of(ctx)
    db = dbs.create_database(ctx, root, name="keep")
    query.sql(ctx, root, db.id, "CREATE TABLE t (_id ID, n INT)")
    query.sql(ctx, root, db.id, "INSERT INTO t (_id, n) VALUES (1, 10), (2, 20)")
    ctx.close()
    ctx = start(tmp_path / "data", clock)
    try:
        root = root_of(ctx)
        assert query.sql(ctx, root, db.id, "SELECT SUM(n) FROM t").last.rows == [(30,)]
    finally:
        ctx.close()


def test_deleting_revokes_scoped_tokens_only(svc, root):
    db = dbs.create_database(svc, root, name="a")
    pair = tokens.login(svc, email=ROOT_EMAIL, password=ROOT_PASSWORD, database=db.id)
    dbs.delete_database(svc, root, db.id)
    rows = svc.store.all("SELECT revoked_reason FROM refresh_tokens WHERE database_id = ?", (db.id,))
    assert [r["revoked_reason"] for r in rows] == ["database_deleted"]
    assert pair.database_id == db.id
