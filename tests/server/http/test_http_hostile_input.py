"""Issue 14, findings 1 and 11: hostile input that used to answer 500 (or worse, was
stored and then broke the org) must get a typed 400 and change nothing.

- a msgpack/JSON body nesting deeper than MAX_JSON_DEPTH (985 levels of metadata used to
  create the database, answer 500, and break every later list of the org);
- a lone surrogate ("\\ud800") in any JSON string, on every body route (including the
  unauthenticated POST /v2/auth/refresh);
- a `next` page token that decodes to deeply nested JSON, on every list route;
- a NUL byte in a BULK INSERT file path.
"""
from __future__ import annotations

import base64
import re
import uuid

import msgpack
import pytest

from http_testlib import assert_envelope, unique
from server import http_app, policy
from server.service.common import MAX_JSON_DEPTH

SQL_HANDLERS = {"sql", "sql_compat_database", "sql_compat"}
BODY_ENDPOINTS = [ep for ep in http_app.ENDPOINTS if ep.method in ("POST", "PUT") and ep.handler not in SQL_HANDLERS]
LIST_ENDPOINTS = [ep for ep in http_app.ENDPOINTS if ep.method == "GET" and ep.handler.startswith("list_")]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


def _nested(depth: int) -> dict:
    root: dict = {}
    cur = root
    for _ in range(depth - 1):
        cur["a"] = {}
        cur = cur["a"]
    return root


def _names(web) -> set[str]:
    resp = web.client.get("/v2/databases?limit=64", headers=web.root.headers)
    assert resp.status_code == 200, resp.text
    return {d["name"] for d in resp.json()["resources"]}


@pytest.mark.parametrize("codec", ["msgpack", "json"])
def test_deep_metadata_is_refused_before_anything_is_written(web, codec):
    name = unique("deep-")
    body = {"name": name, "metadata": _nested(985)}
    if codec == "msgpack":
        kw = {"content": msgpack.packb(body), "headers": {**web.root.headers, "Content-Type": "application/msgpack"}}
    else:
        kw = {"content": ("{\"name\": \"%s\", \"metadata\": " % name + "{\"a\": " * 984 + "{}" + "}" * 985)
              .encode(), "headers": {**web.root.headers, "Content-Type": "application/json"}}
    assert_envelope(web.client.post("/v2/databases", **kw), 400, "InvalidBody", "INVALID_BODY")
    assert name not in _names(web)  # not created, and the org's list still answers


def test_metadata_at_the_depth_limit_is_accepted_and_one_more_is_not(web):
    ok = web.database(metadata=_nested(MAX_JSON_DEPTH - 1))  # the body object itself is one level
    assert ok["metadata"] == _nested(MAX_JSON_DEPTH - 1)
    resp = web.client.post("/v2/databases", headers=web.root.headers,
                           json={"name": unique("deep-"), "metadata": _nested(MAX_JSON_DEPTH)})
    assert_envelope(resp, 400, "InvalidBody")
    # the update path too (a merge patch must not deepen stored metadata past the limit)
    resp = web.client.put(f"/v2/databases/{ok['id']}", headers=web.root.headers,
                          json={"metadata": _nested(MAX_JSON_DEPTH)})
    assert_envelope(resp, 400, "InvalidBody")
    assert web.client.get(f"/v2/databases/{ok['id']}", headers=web.root.headers).json()["metadata"] == \
        _nested(MAX_JSON_DEPTH - 1)


def test_service_layer_refuses_deep_metadata_from_any_face(web):
    """gRPC bodies reach the service without parse_object: check_object guards them."""
    from server.service import databases
    from server.service.errors import InvalidParameter

    principal = web.rt.principal(bearer=web.root.token)
    with pytest.raises(InvalidParameter) as info:
        databases.create_database(web.ctx, principal, name=unique("deep-"), metadata=_nested(MAX_JSON_DEPTH + 1))
    assert info.value.name == "INVALID_JSON_VALUE"


@pytest.mark.parametrize("ep", BODY_ENDPOINTS, ids=lambda ep: f"{ep.method} {ep.path}")
def test_lone_surrogate_in_any_json_string_is_400(web, ep):
    public = ep.operation is None or policy.POLICY[ep.operation].public
    headers = {"Content-Type": "application/json", **({} if public else web.root.headers)}
    for raw in (b'{"refresh_token": "\\ud800"}', b'{"\\udfff": 1}', b'{"name": ["x", {"y": "a\\ud800b"}]}'):
        resp = web.client.request(ep.method, _concrete(ep.path), content=raw, headers=headers)
        assert_envelope(resp, 400, "InvalidBody", "INVALID_BODY")


@pytest.mark.parametrize("ep", LIST_ENDPOINTS, ids=lambda ep: f"{ep.method} {ep.path}")
def test_nested_page_token_is_invalid_parameter(web, ep):
    tokens = [base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode().rstrip("="),
              base64.urlsafe_b64encode(b'[1.0, "\\ud800"]').decode().rstrip("="),
              "A" * 10_000]
    for token in tokens:
        resp = web.client.get(f"{ep.path}?next={token}", headers=web.root.headers)
        assert_envelope(resp, 400, "InvalidParameter", "INVALID_PAGE_TOKEN")


def test_nul_byte_in_bulk_insert_path_is_400(web):
    db = web.database()
    assert web.sql(db["id"], "CREATE TABLE t (_id ID, n INT)").status_code == 200
    resp = web.sql(db["id"], "BULK INSERT INTO t (_id, n) MAP (0 ID, 1 INT) FROM '/tmp/a\x00b'"
                   " WITH FORMAT 'CSV' INPUT 'FILE'", headers={"Accept": "application/problem+json"})
    assert_envelope(resp, 400, "InvalidParameter", "INVALID_PATH")
