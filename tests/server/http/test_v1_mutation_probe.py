"""An adversarial probe of the /v1 face (issue 14, "the probe's attacks as regression
tests"): valid requests of every kind, randomly mutated — keys dropped or added, values
swapped for hostile ones (null, huge and negative numbers, empty and NUL text, deep
nesting, wrong containers), truncated JSON, odd path ids and query parameters — must
each get a typed answer: never a 5xx, and every 4xx in the CM error envelope.

The generator is seeded: a failure names the seed and the request to replay."""
from __future__ import annotations

import json
import random
from typing import Any

import pytest

from http_testlib import ROOT_EMAIL, ROOT_PASSWORD, bearer, unique

REQUESTS_PER_SEED = 700
HOSTILE = [None, True, False, 0, -1, 1.5, -0.0, 2**63, 2**64, -2**63 - 1, 10**30, 1e308, "", "x", "\u0000",
           "\U0001F600", "a" * 5000, [], [None], [1, "a"], {}, {"a": None}, [[[]]], {"": {"": {}}}, "1e3",
           " 12 ", "01", "-0", "\u00b2"]
PROPERTIES = (("price", "float32", False), ("tags", "unicode16", True), ("title", "unicode", False),
              ("stock", "uint16", False), ("n", "int8", False), ("flag", "bool", False), ("ids", "uint64", True))


@pytest.fixture(scope="module")
def target(web):
    """A database (uint64 items, urlsafe32 users) with properties of every kind, and a
    token bound to it."""
    c = web.client
    root = c.post("/v1/login/individual/", json={"email": ROOT_EMAIL, "password": ROOT_PASSWORD}).json()
    r = c.post("/v1/databases/", headers=bearer(root["token"]),
               json={"name": unique("probe"), "description": "d", "item_id_type": "uint64",
                     "user_id_type": "urlsafe32"})
    assert r.status_code == 201, r.text
    db = r.json()["id"]
    token = c.post("/v1/login/individual/",
                   json={"email": ROOT_EMAIL, "password": ROOT_PASSWORD, "db_id": db}).json()["token"]
    for kind in ("items", "users"):
        for name, vt, rep in PROPERTIES:
            r = c.post(f"/v1/{kind}-properties/", headers=bearer(token),
                       json={"property_name": name, "value_type": vt, "repeated": rep})
            assert r.status_code == 201, r.text
    return db, bearer(token)


def _entity(kind: str, i: int) -> dict[str, Any]:
    ident: Any = i if kind == "items" else f"u{i}"
    return {f"{kind[:-1]}_id": ident, "price": 1.5, "tags": ["a", "b c"], "title": "Red shoes", "stock": 3,
            "n": -4, "flag": True, "ids": [1, 2]}


def _templates(db: str) -> list[tuple[str, str, Any, Any]]:
    out: list[tuple[str, str, Any, Any]] = []
    for kind in ("items", "users"):
        one, k = ("1" if kind == "items" else "u1"), kind[:-1]
        values = {p: v for p, v in _entity(kind, 1).items() if not p.endswith("_id")}
        out += [
            ("PUT", f"/v1/{kind}/{one}/", {k: values}, None),
            ("PATCH", f"/v1/{kind}/{one}/", {k: {"price": 2.5}, "create_if_missing": True}, None),
            ("GET", f"/v1/{kind}/{one}/", None, {"properties": "price"}),
            ("DELETE", f"/v1/{kind}/{one}/", None, None),
            ("PUT", f"/v1/{kind}-bulk/", {kind: [_entity(kind, i) for i in range(1, 5)],
                                          f"{kind}_m2m": [{"name": "tags", "array": [{f"{k}_index": 0,
                                                                                     "value_id": "z"}]}]}, None),
            ("PATCH", f"/v1/{kind}-bulk/", {kind: [_entity(kind, i) for i in range(1, 3)],
                                            "create_if_missing": True, "wait_for_completion": True}, None),
            ("GET", f"/v1/{kind}-bulk/", None, {"amt": "10", "cursor": "", "filters": "price:gt:1",
                                                "properties": "price"}),
            ("GET", f"/v1/{kind}-bulk/", None, {"filters": "tags:in:a,b", "amt": "3"}),
            ("GET", f"/v1/{kind}-bulk/", None, {"filters": "title:ftsearch:red shoes", "amt": "3"}),
            ("GET", f"/v1/{kind}-bulk/", None, {"filters": "ids:notin:1,2", "amt": "3"}),
            ("POST", f"/v1/{kind}-bulk/list/", {"ids": [1, 2] if kind == "items" else ["u1", "u2"],
                                                "properties": ["price"]}, None),
            ("DELETE", f"/v1/{kind}-bulk/", {"ids": [1] if kind == "items" else ["u1"]}, None),
            ("POST", f"/v1/{kind}-properties/", {"property_name": "x", "value_type": "int32", "repeated": False},
             None),
            ("GET", f"/v1/{kind}-properties/price/", None, None),
            ("DELETE", f"/v1/{kind}-properties/x/", None, None),
            ("GET", f"/v1/{kind}-properties/", None, {"amt": "5", "page": "1"}),
        ]
    return out + [
        ("GET", "/v1/databases/", None, {"amt": "5", "page": "1"}),
        ("GET", "/v1/databases/current/", None, None),
        ("GET", "/v1/databases/current/status/", None, None),
        ("PATCH", "/v1/databases/current/", {"description": "x", "metadata": {"a": 1}}, None),
        ("POST", "/v1/databases/", {"name": "q", "description": "d", "item_id_type": "uint32",
                                    "user_id_type": "uuid"}, None),
        ("GET", "/v1/tasks/x/recents/", None, {"amt": "5", "page": "1"}),
        ("PUT", "/v1/connections/c1", {"connection_type": "local", "params": {}}, None),
        ("GET", "/v1/connections/", None, None),
        ("POST", "/v1/accounts/service/", {"name": "svc", "password": "password-123456", "role": "backend"}, None),
        ("POST", "/v1/accounts/individual/", {"email": "x@y.z", "password": "password-123456", "role": "backend",
                                              "first_name": "a", "last_name": "b"}, None),
        ("POST", "/v1/accounts/service/keys/", {"name": "svc", "expiration_timestamp": 2000000000}, None),
        ("PATCH", "/v1/organizations/current/", {"metadata": {"a": 1}, "preserve": False}, None),
        ("POST", "/v1/login/refresh-token/", {"refresh_token": "abc"}, None),
        ("POST", "/v1/login/individual/", {"email": "a@b.c", "password": "x", "db_id": db}, None),
    ]


def _mutate(rnd: random.Random, v: Any, depth: int = 0) -> Any:
    if rnd.random() < 0.25 or depth > 4:
        return rnd.choice(HOSTILE)
    if isinstance(v, dict):
        v = dict(v)
        op = rnd.random()
        if v and op < 0.3:
            v.pop(rnd.choice(list(v)))
        elif op < 0.45:
            v[rnd.choice(["extra", "item_id", "user_id", "properties", "ids", "amt", "warnings"])] = \
                rnd.choice(HOSTILE)
        elif v:
            k = rnd.choice(list(v))
            v[k] = _mutate(rnd, v[k], depth + 1)
        return v
    if isinstance(v, list):
        v = list(v)
        if v and rnd.random() < 0.5:
            i = rnd.randrange(len(v))
            v[i] = _mutate(rnd, v[i], depth + 1)
        else:
            v.append(_mutate(rnd, v[0] if v else None, depth + 1))
        return v
    return rnd.choice(HOSTILE)


@pytest.mark.parametrize("seed", range(4))
def test_mutated_v1_requests_get_typed_answers(web, target, seed):
    db, headers = target
    rnd = random.Random(seed)
    templates = _templates(db)
    for _ in range(REQUESTS_PER_SEED):
        method, path, body, params = rnd.choice(templates)
        if body is not None and rnd.random() < 0.9:
            body = _mutate(rnd, body)
        if params is not None and rnd.random() < 0.7:
            params = {k: (str(rnd.choice(HOSTILE)) if rnd.random() < 0.5 else
                          v[: rnd.randrange(len(v) + 1)] + rnd.choice([":", ",", "::", "", "%", "\\", ":eq:"]))
                      for k, v in params.items()}
        if rnd.random() < 0.1:
            path = path.replace("1", rnd.choice(["%00", "-1", "18446744073709551616", "abc", "%F0%9F%98%80",
                                                 "1.0", ""]), 1)
        kw: dict[str, Any] = {"headers": dict(headers), "params": params}
        if body is not None:
            text = json.dumps(body)
            kw["content"] = text[: rnd.randrange(1, 50)] if rnd.random() < 0.05 else text
            kw["headers"]["content-type"] = "application/json"
        r = web.client.request(method, path, **kw)
        replay = (seed, method, path, kw.get("content", "")[:300], params)
        assert r.status_code < 500, (replay, r.text[:300])
        if r.status_code >= 400 and r.status_code not in (404, 405):
            envelope = r.json()
            assert {"code", "message", "error_code", "error_name", "error_data"} <= set(envelope), (replay, envelope)
