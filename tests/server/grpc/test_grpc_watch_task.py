"""TaskService.WatchTask against a server whose background tasks wait at a gate (a FIFO,
launch_server's task_gate) until the test lets them go: the stream is seen RUNNING while a
task is held, then COMPLETED or FAILED once it runs — no sleeps, no timing guesses."""
from __future__ import annotations

import contextlib
import errno
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import grpc
import pytest

from grpc_testlib import TIMEOUT, Client, expect, md, serving, unique
from server.pb.roarbase.v1 import database_pb2, entity_pb2 as pb, task_pb2, value_pb2

SC = grpc.StatusCode
ITEM = pb.ENTITY_KIND_ITEM
RUNNING, COMPLETED, FAILED = task_pb2.TASK_STATUS_RUNNING, task_pb2.TASK_STATUS_COMPLETED, task_pb2.TASK_STATUS_FAILED


@dataclass
class Gated:
    c: Client
    fifo: Path


def _release_waiting(fifo: Path) -> None:
    """Let go every task waiting at the gate, without blocking when none is."""
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno == errno.ENXIO:   # no reader: nobody waits
                return
            raise
        with contextlib.closing(os.fdopen(fd, "wb")) as gate:
            gate.write(b"x")


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gated]:
    data_dir = tmp_path_factory.mktemp("grpc-watch-task")
    fifo = data_dir.parent / f"{data_dir.name}.gate"
    os.mkfifo(fifo)
    with serving(data_dir, task_gate=str(fifo)) as c:
        try:
            yield Gated(c, fifo)
        finally:
            _release_waiting(fifo)   # a failed test must not leave the server unable to stop


def release(g: Gated) -> None:
    """Let the task at the gate run. Fails (instead of hanging) when no task comes."""
    opened = threading.Event()

    def write() -> None:
        with open(g.fifo, "wb") as gate:   # blocks until the held task opens the gate
            opened.set()
            gate.write(b"x")

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    writer.join(TIMEOUT)
    if not opened.is_set():
        fd = os.open(g.fifo, os.O_RDONLY | os.O_NONBLOCK)   # unblock our own writer
        writer.join(TIMEOUT)
        os.close(fd)
        pytest.fail("no background task was waiting at the gate")


def _db(c: Client) -> str:
    db = c.databases.CreateDatabase(database_pb2.CreateDatabaseRequest(name=unique("watch")), metadata=md(c.root),
                                    timeout=TIMEOUT).id
    c.properties.CreateProperty(pb.CreatePropertyRequest(database_id=db, kind=ITEM, property_name="n",
                                                         value_type="uint8"), metadata=md(c.root))
    return db


def _put_later(c: Client, db: str, *ids: int) -> task_pb2.Task:
    entities = []
    for i in ids:
        e = pb.Entity(id=value_pb2.Value(uint=i))
        e.properties["n"].uint = i
        entities.append(e)
    return c.entities.BulkPut(pb.BulkPutRequest(database_id=db, kind=ITEM, entities=entities,
                                                wait_for_completion=False), metadata=md(c.root)).task


def _present(c: Client, db: str, *ids: int) -> list[int]:
    got = c.entities.ListByIds(pb.ListByIdsRequest(database_id=db, kind=ITEM,
                                                   ids=[value_pb2.Value(uint=i) for i in ids]), metadata=md(c.root))
    return [e.id.uint for e in got.entities]


def _watch(c: Client, task_id: str, **kw: Any) -> Any:
    return c.tasks.WatchTask(task_pb2.WatchTaskRequest(task_id=task_id), metadata=md(c.root),
                             timeout=kw.pop("timeout", TIMEOUT))


def test_watch_follows_a_write_to_completed(gated: Gated) -> None:
    c = gated.c
    db = _db(c)
    task = _put_later(c, db, 1, 2)
    assert task.status == RUNNING
    stream = _watch(c, task.task_id)
    first = next(stream)
    assert (first.task_id, first.status, first.HasField("end_time")) == (task.task_id, RUNNING, False)
    assert _present(c, db, 1, 2) == []          # held at the gate: nothing applied yet
    release(gated)
    rest = list(stream)
    assert [(t.status, t.progress, t.HasField("end_time"), t.HasField("error")) for t in rest] == \
        [(COMPLETED, "done", True, False)]
    assert _present(c, db, 1, 2) == [1, 2]


def test_watch_reports_a_failed_task(gated: Gated) -> None:
    """The write was valid when sent; its property is gone when it runs: the task FAILS with
    the error a synchronous write would have answered, and writes nothing."""
    c = gated.c
    db = _db(c)
    task = _put_later(c, db, 3)
    stream = _watch(c, task.task_id)
    assert next(stream).status == RUNNING
    c.properties.DeleteProperty(pb.DeletePropertyRequest(database_id=db, kind=ITEM, property_name="n"),
                                metadata=md(c.root))
    release(gated)
    (last,) = list(stream)
    assert (last.status, last.error.code, last.error.error_name, last.error.error_code) == \
        (FAILED, "InvalidParameter", "WrongData", 40)
    assert '"name":"WRONG_DATA_TYPE"' in last.error.error_data_json and '"key":"n"' in last.error.error_data_json
    assert _present(c, db, 3) == []


def test_watch_ends_at_the_deadline(gated: Gated) -> None:
    c = gated.c
    db = _db(c)
    task = _put_later(c, db, 4)
    expect(lambda: list(_watch(c, task.task_id, timeout=0.5)), status=SC.DEADLINE_EXCEEDED, code="RequestTimeout")
    release(gated)
    assert [t.status for t in _watch(c, task.task_id)][-1] == COMPLETED
    assert _present(c, db, 4) == [4]
