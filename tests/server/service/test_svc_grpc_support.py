"""What the gRPC face needs from the service layer beyond the /v1 routes: an entity table's
schema (to type values), one BulkWrite chunk, a watchable task (its own policy row, and a
change notification when it finishes)."""
from __future__ import annotations

import threading

import pytest

from server.service import databases as dbs
from server.service import entities, tasks
from server.service.errors import Forbidden, InvalidParameter, ResourceAlreadyExists, ResourceNotFound
from svc_testlib import member, other_org


@pytest.fixture
def db(svc, root):
    d = dbs.create_database(svc, root, name="shop", item_id_type="uint64", user_id_type="bytes16")
    entities.create_property(svc, root, "item", property_name="Price", value_type="float32", database=d.id)
    entities.create_property(svc, root, "item", property_name="tags", value_type="uint8", repeated=True,
                             database=d.id)
    return d


def test_schema_types_ids_and_properties(svc, root, db) -> None:
    got = entities.schema(svc, root, "item", method=entities.GET_ENTITY, database=db.id)
    assert (got.id_type.name, got.id_type.kind.family) == ("uint64", "uint")
    assert {n: (vt.name, vt.repeated) for n, vt in got.properties.items()} == \
        {"Price": ("float32", False), "tags": ("uint8", True)}
    users = entities.schema(svc, root, "user", method=entities.GET_ENTITY, database=db.id)
    assert (users.id_type.kind.family, users.properties) == ("bytes", {})


def test_schema_obeys_the_operation_it_answers(svc, root, db) -> None:
    """The schema is shown only to a caller who may make the call it serves."""
    frontend = member(svc, root, "frontend")
    assert entities.schema(svc, frontend, "item", method=entities.GET_ENTITY, database=db.id).properties
    with pytest.raises(Forbidden):
        entities.schema(svc, frontend, "item", method=entities.SCAN, database=db.id)
    with pytest.raises(ResourceNotFound):
        entities.schema(svc, other_org(svc).root, "item", method=entities.GET_ENTITY, database=db.id)


def test_write_chunk_puts_and_patches_all_or_nothing(svc, root, db) -> None:
    put = [{"item_id": 1, "Price": 1.5, "tags": [1, 2]}, {"item_id": 2, "price": 2.5}]
    assert entities.write_chunk(svc, root, "item", put, patch=False, database=db.id) == 2
    assert entities.write_chunk(svc, root, "item", [{"item_id": 1, "tags": [3]}], patch=True, database=db.id) == 1
    got = entities.list_entities(svc, root, "item", [1, 2], database=db.id)
    assert got == [{"item_id": 1, "Price": 1.5, "tags": [3]}, {"item_id": 2, "Price": 2.5}]
    # A bad chunk writes nothing of itself.
    with pytest.raises(ResourceAlreadyExists) as dup:
        entities.write_chunk(svc, root, "item", [{"item_id": 3}, {"item_id": 3}], patch=False, database=db.id)
    assert dup.value.name == "DUPLICATED_ITEM_ID"
    with pytest.raises(ResourceNotFound) as missing:
        entities.write_chunk(svc, root, "item", [{"item_id": 1, "Price": 9.0}, {"item_id": 4, "Price": 1.0}],
                             patch=True, database=db.id)
    assert missing.value.name == "ITEM_NOT_FOUND"
    assert entities.list_entities(svc, root, "item", [1, 3, 4], database=db.id) == \
        [{"item_id": 1, "Price": 1.5, "tags": [3]}]
    assert entities.write_chunk(svc, root, "item", [{"item_id": 4, "Price": 1.0}], patch=True,
                                create_if_missing=True, database=db.id) == 1
    with pytest.raises(InvalidParameter):
        entities.write_chunk(svc, root, "item", {"item_id": 5}, patch=False, database=db.id)


def test_write_chunk_is_the_bulk_write_row(svc, root, db) -> None:
    with pytest.raises(Forbidden):
        entities.write_chunk(svc, member(svc, root, "frontend"), "item", [{"item_id": 1}], patch=False,
                             database=db.id)
    assert entities.write_chunk(svc, member(svc, root, "backend"), "item", [{"item_id": 1}], patch=False,
                                database=db.id) == 1


def test_a_finished_task_notifies_watchers(svc, root, db) -> None:
    release = threading.Event()
    task = tasks.start(svc, root, db.id, "items_put", lambda: release.wait(30))
    seen = svc.version
    assert tasks.get_task(svc, root, task.id, watch=True).status == tasks.RUNNING
    with svc.changed:
        release.set()
        assert svc.changed.wait_for(lambda: svc.version != seen, timeout=30)
    assert tasks.get_task(svc, root, task.id).status == tasks.COMPLETED


def test_watching_a_task_is_checked_like_reading_it(svc, root, db) -> None:
    task = tasks.start(svc, root, db.id, "items_put", lambda: None)
    with pytest.raises(Forbidden):
        tasks.get_task(svc, member(svc, root, "frontend"), task.id, watch=True)
    with pytest.raises(ResourceNotFound):
        tasks.get_task(svc, other_org(svc).root, task.id, watch=True)


def test_a_synchronous_bulk_write_answers_none(svc, root, db) -> None:
    """Both faces read "None" as "committed" and anything else as the background task: a
    synchronous bulk patch once answered the patch's per-entity flags, which the faces
    took for a task (HTTP 500, gRPC INTERNAL)."""
    assert entities.put_entities(svc, root, "item", [{"item_id": 1}], database=db.id) is None
    assert entities.patch_entities(svc, root, "item", [{"item_id": 1, "Price": 2.0}, {"item_id": 2}],
                                   create_if_missing=True, database=db.id) is None
    task = entities.patch_entities(svc, root, "item", [{"item_id": 2, "Price": 3.0}], wait=False, database=db.id)
    assert isinstance(task, tasks.Task) and task.name == "items_patch"


def test_a_tracked_task_reporting_progress_notifies_watchers(svc, root, db) -> None:
    release = threading.Event()
    task = tasks.start(svc, root, db.id, "items_put", lambda: release.wait(30))
    seen = svc.version
    tasks.Tracker(svc, task.id, threading.Event()).report("batch 1", {"rows_read": 10})
    assert svc.version != seen
    got = tasks.get_task(svc, root, task.id, watch=True)
    assert (got.status, got.progress, got.details) == (tasks.RUNNING, "batch 1", {"rows_read": 10})
    release.set()
