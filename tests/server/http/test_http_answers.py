"""Issue 14 #10 and #16: HTTP answers are capped (limits.max_response_bytes, a typed
ResourceLimitExceeded RESPONSE_TOO_LARGE before a byte is sent) and a large answer is
encoded in pieces on the worker — the same bytes as a one-shot encoding — and sent piece
by piece, so the event loop is never held by one huge encode."""
from __future__ import annotations

import json

import msgpack
from hypothesis import given, settings, strategies as st

from http_testlib import InProcess, assert_envelope
from server import http_app
from server.service.config import Limits

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=600) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=700)


@settings(max_examples=25, deadline=None)
@given(JSON_VALUES)
def test_pieces_are_the_one_shot_encoding(value):
    pieces, media = http_app.encode_answer(set(), value, 1 << 30)
    assert media == http_app.JSON and b"".join(pieces) == http_app.json_bytes(value)
    pieces, media = http_app.encode_answer({"application/msgpack"}, value, 1 << 30)
    assert msgpack.unpackb(b"".join(pieces), raw=False, strict_map_key=False) == \
        msgpack.unpackb(http_app.msgpack_bytes(value), raw=False, strict_map_key=False)


def test_large_answers_are_split_and_capped(monkeypatch):
    monkeypatch.setattr(http_app, "_CHUNK_BYTES", 4096)
    rows = [[i, f"name-{i}", i * 0.5] for i in range(5000)]
    pieces, _ = http_app.encode_answer(set(), {"data": rows, "schema": {}}, 1 << 30)
    assert len(pieces) > 10 and max(map(len, pieces)) < 4096 + 16 * 1024
    assert json.loads(b"".join(pieces)) == {"data": rows, "schema": {}}


def test_sql_answers_over_the_cap_are_refused_and_under_it_arrive_whole(tmp_path):
    web = InProcess(tmp_path / "data", limits=Limits(max_response_bytes=24 << 10))
    try:
        db = web.database()
        assert web.sql(db["id"], "CREATE TABLE t (_id ID, s STRING)").status_code == 200
        values = ", ".join(f"({i}, 'value-{i:06d}')" for i in range(1, 1501))
        assert web.sql(db["id"], f"INSERT INTO t (_id, s) VALUES {values}").status_code == 200
        small = web.sql(db["id"], "SELECT _id, s FROM t WHERE _id <= 500")
        assert small.status_code == 200 and len(small.json()["data"]) == 500
        assert int(small.headers["content-length"]) == len(small.content)
        for accept in ("application/json", "application/msgpack"):
            resp = web.sql(db["id"], "SELECT _id, s FROM t", headers={"Accept": accept})
            assert resp.status_code == 400, resp.status_code
            body = json.loads(resp.content) if accept.endswith("json") else msgpack.unpackb(resp.content)
            assert body["code"] == "ResourceLimitExceeded" and body["error_data"]["name"] == "RESPONSE_TOO_LARGE"
        resp = web.client.post(f"/v2/databases/{db['id']}/query/pql", headers=web.root.headers,
                               json={"table": "t", "statement": "Extract(All(), Rows(s))"})
        assert_envelope(resp, 400, "ResourceLimitExceeded", "RESPONSE_TOO_LARGE")
    finally:
        web.close()
