"""An export while writers keep writing (readers never see a half-applied write; the
document is one instant).

Three writers run through different doors — SQL through the service (which looks at the
database state), the engine directly (as a background task would: only the engine's
write barrier stops it) and the entity service — each writing record k = 1, 2, 3, ...
and retrying a refused k. A reader keeps querying. During an export every write must be
refused with IncorrectState (no other error), every read answered, and the document must
hold, per writer, exactly the writes acknowledged before that writer's first refusal:
nothing acknowledged earlier is missing, nothing later (or never acknowledged) is in it.
Afterwards the writers go on. The test waits on counters, never on time.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from server.service import databases, entities, query, transfers
from svc_testlib import root_of, start

WAIT = 120.0          # a bound on waiting for the other threads, never reached when all is well


@pytest.fixture
def env(tmp_path):
    ctx = start(tmp_path / "data")
    yield ctx, root_of(ctx)
    ctx.close()


@dataclass
class Writer:
    name: str
    write: Callable[[int], None]
    acked: list[int] = field(default_factory=list)
    refusals: list[int] = field(default_factory=list)      # len(acked) at each refusal
    failures: list[BaseException] = field(default_factory=list)


class Board:
    """The writers' and reader's progress, under one condition."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.stop = threading.Event()
        self.reads = 0

    def wait(self, ok: Callable[[], bool]) -> None:
        with self.cond:
            assert self.cond.wait_for(ok, timeout=WAIT), "the other threads made no progress"

    def run(self, w: Writer) -> None:
        k = 1
        while not self.stop.is_set():
            try:
                w.write(k)
            except Exception as exc:
                with self.cond:
                    if getattr(exc, "code", None) == "IncorrectState":
                        w.refusals.append(len(w.acked))
                    else:
                        w.failures.append(exc)
                        self.stop.set()
                    self.cond.notify_all()
                continue
            with self.cond:
                w.acked.append(k)
                self.cond.notify_all()
            k += 1


def _document(export: transfers.Export, board: Board, writers: list[Writer]) -> list[dict[str, Any]]:
    chunks = export.chunks()
    first = next(chunks)
    # Every writer is refused at least twice and the reader answered while the export is
    # open: the writes really raced it.
    refused = {w.name: len(w.refusals) for w in writers}
    reads = board.reads
    board.wait(lambda: all(len(w.refusals) >= refused[w.name] + 2 for w in writers) and board.reads >= reads + 2
               or board.stop.is_set())
    text = (first + b"".join(chunks)).decode()
    return [json.loads(line) for line in text.splitlines()]


def test_an_export_is_one_instant_while_writers_are_refused_and_readers_answered(env):
    ctx, root = env
    db = databases.create_database(ctx, root, name="busy")
    query.sql(ctx, root, db.id, "CREATE TABLE a (_id ID, v INT); CREATE TABLE c (_id ID, v INT)")
    entities.create_property(ctx, root, "item", property_name="n", value_type="int", database=db.id)
    holder = ctx.engine(db.id)
    writers = [
        Writer("a", lambda k: query.sql(ctx, root, db.id, f"INSERT INTO a (_id, v) VALUES ({k}, {k})")),
        Writer("c", lambda k: holder.index("c").set(k, "v", k)),
        Writer("item", lambda k: entities.put_entities(ctx, root, "item", [{"item_id": k, "n": k}], database=db.id)),
    ]
    board = Board()
    read_failures: list[BaseException] = []

    def reader() -> None:
        while not board.stop.is_set():
            try:
                query.sql(ctx, root, db.id, "SELECT COUNT(*) FROM a")
            except Exception as exc:  # pragma: no cover - reported below
                read_failures.append(exc)
                board.stop.set()
            with board.cond:
                board.reads += 1
                board.cond.notify_all()

    threads = [threading.Thread(target=board.run, args=(w,)) for w in writers] + [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    try:
        for round_ in range(2):
            board.wait(lambda: all(len(w.acked) >= 10 * (round_ + 1) for w in writers) or board.stop.is_set())
            before = {w.name: len(w.refusals) for w in writers}
            lines = _document(transfers.start_export(ctx, root, db.id, fmt="ndjson"), board, writers)
            assert not board.stop.is_set()
            assert databases.get_database(ctx, root, db.id).state == "RUNNING"
            got = {"a": set(), "c": set(), "item": set()}
            for rec in lines[1:]:
                if rec["kind"] == "row":
                    k, v = rec["values"]
                    assert k == v
                    got[rec["table"]].add(k)
                else:
                    assert rec["item"]["item_id"] == rec["item"]["n"]
                    got["item"].add(rec["item"]["item_id"])
            with board.cond:
                for w in writers:
                    first_refusal = w.refusals[before[w.name]]
                    assert got[w.name] == set(w.acked[:first_refusal]), w.name
            # and the writers go on afterwards
            done = {w.name: len(w.acked) for w in writers}
            board.wait(lambda: all(len(w.acked) >= done[w.name] + 3 for w in writers) or board.stop.is_set())
    finally:
        board.stop.set()
        for t in threads:
            t.join()
    assert not read_failures
    assert not [f for w in writers for f in w.failures]
