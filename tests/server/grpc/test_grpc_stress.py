"""Concurrent clients run the items/users workflow of test_items_and_users_workflow on one
database of a real server: bulk writes, filtered scans left unfinished after their first
page (the client cancels the stream), ListByIds of [11, 999, 12], deletes, background
user puts, single puts. The server must answer every call and exit cleanly.

Before the access log read the peer at the start of a call (test_grpc_access_late_close.py)
this killed the server with SIGSEGV within about 130 calls: an unfinished scan's access
wrapper was closed after grpc had released the call. A bounded number of calls, not a
duration: the run is the same on a fast or a loaded machine (about 8 s here, server start
included; it crashed the server in each of 3 runs before the fix).
"""
from __future__ import annotations

import random
import threading
from pathlib import Path

import serverlib
from server.client import Client

CLIENTS = 4
CALLS_EACH = 120
FILTERS = [{"property_name": "price", "op": "gte", "value": 5.5}, ("tags", "notin", ["zz"])]


def _workflow(target: str, email: str, password: str, ident: str, seed: int, done: list[int]) -> None:
    rnd = random.Random(seed)
    with Client(target, timeout=60) as c:
        c.login(email, password)
        for _ in range(CALLS_EACH):
            op = rnd.random()
            if op < 0.2:
                got = c.bulk_write(([{"item_id": k * 10 + j, "price": float(j), "tags": ["a"]} for j in range(1, 11)]
                                    for k in range(1, 3)), database=ident)
                assert (got.chunks, got.entities) == (2, 20)
            elif op < 0.45:
                pages = c.scan(filters=FILTERS, page_size=7, max_pages=1 + rnd.randrange(2), database=ident)
                next(pages, None)
                pages.close()          # unfinished: the client cancels the stream
            elif op < 0.7:
                found = c.list_entities([11, 999, 12], properties=["price"], database=ident)
                assert [e["item_id"] for e in found] in ([], [11], [12], [11, 12])
            elif op < 0.8:
                assert c.delete_entities([11, 12, 999], database=ident) in (0, 1, 2)
            elif op < 0.9:
                c.put_entities([{"user_id": b"\x01\x02", "age": 30}, {"user_id": b"\x03", "age": 40}],
                               kind="user", wait=False, database=ident)
            else:
                c.put_entity({"item_id": 11, "price": 1.0, "tags": ["b"]}, database=ident)
            done[seed] += 1


def test_concurrent_item_workflows_keep_the_server_up(tmp_path: Path) -> None:
    with serverlib.running_server(tmp_path / "data") as srv:     # asserts a clean exit (0)
        with Client(srv.grpc_target, timeout=60) as c:
            c.login(srv.root_email, srv.root_password)
            ident = c.create_database("stress", user_id_type="bytes8").id
            c.wait_running(ident)
            c.create_property("price", "float32", database=ident)
            c.create_property("tags", "unicode16", repeated=True, database=ident)
            c.create_property("age", "uint8", kind="user", database=ident)
        done = [0] * CLIENTS
        errors: list[BaseException] = []

        def run(seed: int) -> None:
            try:
                _workflow(srv.grpc_target, srv.root_email, srv.root_password, ident, seed, done)
            except BaseException as exc:   # reported below with the server's log
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert srv.proc.poll() is None, "the server died:\n" + "".join(srv.stderr_lines)[-4000:]
        assert not errors, f"{errors[0]!r}\n" + "".join(srv.stderr_lines)[-4000:]
        assert done == [CALLS_EACH] * CLIENTS
