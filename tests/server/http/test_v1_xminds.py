"""The unmodified Crossing Minds client (`xminds` 0.7.0, JSON mode) against a real server on
loopback: a whole workflow (reference/xminds-client.md §11), its typed exceptions, and its
auto-refresh of an expired token."""
from __future__ import annotations

import time
import uuid

import pytest
from xminds.api.client import CrossingMindsApiClient
from xminds.api.exceptions import AuthError, DuplicatedError, NotFoundError, ServerError, WrongData

from http_testlib import ROOT_EMAIL, ROOT_PASSWORD, wire_server


def _client(srv) -> CrossingMindsApiClient:
    return CrossingMindsApiClient(serializer="json", host=srv.http_url())


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with wire_server(tmp_path_factory.mktemp("xminds") / "data") as s:
        yield s


def test_workflow(srv):
    api = _client(srv)
    assert "token" in api.login_root(ROOT_EMAIL, ROOT_PASSWORD)
    db = api.create_database("xm-shop", "the shop", item_id_type="uuid", user_id_type="uint64")
    with pytest.raises(DuplicatedError) as dup:
        api.create_database("xm-shop", "again", item_id_type="uuid", user_id_type="uint64")
    assert dup.value.data["name"] == "DUPLICATED_DB_NAME"
    reply = api.login_individual(ROOT_EMAIL, ROOT_PASSWORD, db_id=db["id"])
    assert reply["database"]["item_id_type"] == "uuid"
    assert api.status()["status"] == "ready"
    api.create_item_property("price", "float32", False)
    api.create_item_property("tags", "unicode16", True)
    api.create_item_property("title", "unicode64")
    with pytest.raises(DuplicatedError):
        api.create_item_property("PRICE", "float32")
    with pytest.raises(WrongData):
        api.create_item_property("weight", "kilograms")
    ids = [str(uuid.uuid4()) for _ in range(2500)]
    items = [{"item_id": i.upper() if n % 2 else i, "price": float(n % 100) + 0.5, "title": f"thing {n}"}
             for n, i in enumerate(ids)]
    m2m = [{"name": "tags", "array": [{"item_index": n, "value_id": f"t{n % 7}"} for n in range(len(ids))]}]
    api.create_or_replace_items_bulk(items, m2m)          # chunked by the client at 1024
    got = api.get_item(ids[3])["item"]
    assert got == {"item_id": ids[3], "price": 3.5, "title": "thing 3", "tags": ["t3"]}
    listed = api.list_items([ids[1], str(uuid.uuid4()), ids[0]])["items"]
    assert [i["item_id"] for i in listed] == [ids[1], ids[0]]
    seen, cursor = [], None
    while True:
        page = api.list_items_paginated(amt=500, cursor=cursor,
                                        filters=[{"property_name": "price", "op": "lt", "value": 10.0},
                                                 {"property_name": "tags", "op": "in", "value": ["t1", "t2"]}])
        seen += [i["item_id"] for i in page["items"]]
        if not page["has_next"]:
            break
        cursor = page["next_cursor"]
    expected = [i for n, i in enumerate(ids) if n % 100 < 10 and n % 7 in (1, 2)]
    assert seen == expected
    words = api.list_items_paginated(filters=["title:ftsearch:THING 42"], properties=["title"])["items"]
    assert words == [{"item_id": ids[42], "title": "thing 42"}]
    assert api.partial_update_item({"item_id": ids[0], "tags": ["new"]}) == {"item_created": False,
                                                                              "item_modified": True}
    api.partial_update_items_bulk([{"item_id": ids[1], "price": 99.25}, {"item_id": ids[2], "title": None}])
    assert api.get_item(ids[1])["item"]["price"] == 99.25 and "title" not in api.get_item(ids[2])["item"]
    with pytest.raises(NotFoundError) as nf:
        api.partial_update_item({"item_id": str(uuid.uuid4()), "price": 1.0})
    assert nf.value.data["name"] == "ITEM_NOT_FOUND"
    with pytest.raises(WrongData):
        api.create_or_replace_item({"item_id": ids[5], "price": "cheap"})
    api.delete_items(ids[:10])
    with pytest.raises(NotFoundError):
        api.get_item(ids[0])
    api.delete_item_property("title")
    assert "title" not in api.get_item(ids[20])["item"]
    api.create_user_property("age", "uint8", False, indexed=True)
    api.create_or_replace_users_bulk([{"user_id": 2**63 + 9, "age": 31}, {"user_id": 5, "age": 7}])
    assert api.get_user(2**63 + 9)["user"] == {"user_id": 2**63 + 9, "age": 31}
    assert [u["user_id"] for u in api.list_users_paginated()["users"]] == [2**63 + 9, 5]
    refreshed = api.login_refresh_token()
    assert refreshed["database"]["id"] == db["id"]
    assert api.get_database()["counters"] == {"item": 2490, "user": 2, "rating": 0}
    api.delete_database()
    with pytest.raises(NotFoundError):
        api.get_database()
    with pytest.raises(NotFoundError):
        _client(srv).login_individual(ROOT_EMAIL, ROOT_PASSWORD, db_id=db["id"])
    with pytest.raises(AuthError):
        _client(srv).login_individual(ROOT_EMAIL, "not-the-password")


def test_pickle_client_gets_a_json_refusal(srv):
    api = CrossingMindsApiClient(serializer="pkl", host=srv.http_url())
    with pytest.raises(ServerError):                     # the client cannot unpickle our JSON error body
        api.login_root(ROOT_EMAIL, ROOT_PASSWORD)


def test_expired_token_is_refreshed_by_the_client(tmp_path):
    with wire_server(tmp_path / "data", tokens={"access_ttl_seconds": 2, "leeway_seconds": 0}) as s:
        api = _client(s)
        api.login_individual(ROOT_EMAIL, ROOT_PASSWORD)
        db = api.create_database("short-lived-tokens", "d", item_id_type="uint32", user_id_type="uint32")
        api.login_individual(ROOT_EMAIL, ROOT_PASSWORD, db_id=db["id"])
        old = api.api.session.headers["Authorization"]
        time.sleep(3.1)                                   # past exp: the server answers 401 code 22
        assert api.get_database()["id"] == db["id"]       # refreshed with only the refresh token, retried
        assert api.api.session.headers["Authorization"] != old
