"""The /v1 part of the OpenAPI document (server/openapi.py merges it): the recommender-style
routes of server/http_v1.py, with the Crossing Minds shapes (seeds 000, 001; API.md §3.1–3.4).

Item and user routes mirror each other; entity objects carry `<kind>_id` plus one key per
declared property, so their schemas are open (additionalProperties: true).
"""
from __future__ import annotations

from typing import Any, Optional

JSON, MSGPACK = "application/json", "application/msgpack"
_S = {"type": "string"}
_I = {"type": "integer"}
_B = {"type": "boolean"}
_OBJ = {"type": "object"}
_ID = {"description": "an id of the database's item_id_type / user_id_type: a JSON number for int/uint "
                      "types, a string otherwise (bytes ids as unpadded base64url)"}
_WARN = {"type": "array", "items": _S}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: tuple[str, ...], props: dict[str, Any], *, closed: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": {**props, "warnings": _WARN}}
    if required:
        out["required"] = list(required)
    if closed:
        out["additionalProperties"] = False
    return out


def _entity(kind: str) -> dict[str, Any]:
    return {"type": "object", "required": [f"{kind}_id"], "properties": {f"{kind}_id": _ID},
            "additionalProperties": True,
            "description": f"the {kind}'s id and its set property values (repeated properties as lists)"}


def _m2m(kind: str) -> dict[str, Any]:
    row = _obj((f"{kind}_index", "value_id"), {f"{kind}_index": _I, "value_id": {}})
    return {"type": "array", "items": _obj(("name", "array"), {"name": _S, "array": {"type": "array", "items": row}})}


_LOGIN_DB = {"db_id": {**_S, "description": "the database to log in to (either id form)"}, "db_name": _S,
             "frontend_user_id": {"description": "frontend: the end user the token acts for"},
             "frontend_session_id": {"description": "frontend: the anonymous session"}}
_DB_BRIEF = {"id": _S, "name": _S, "description": _S, "item_id_type": _S, "user_id_type": _S,
             "session_id_type": _S}

SCHEMAS: dict[str, Any] = {
    "V1LoginIndividual": _obj(("email", "password"), {"email": _S, "password": _S, **_LOGIN_DB}, closed=True),
    "V1LoginService": _obj(("name", "password"), {"name": _S, "password": {
        **_S, "description": "the account's password or one of its API keys"}, **_LOGIN_DB}, closed=True),
    "V1LoginRoot": _obj(("email", "password"), {"email": _S, "password": _S}, closed=True),
    "V1Refresh": _obj(("refresh_token",), {"refresh_token": _S, "db_id": _S, "db_name": _S}, closed=True),
    "V1Login": _obj(("token", "refresh_token", "role", "org_id"), {
        "token": _S, "refresh_token": _S, "role": _S, "org_id": _S, "database": _obj(tuple(_DB_BRIEF), _DB_BRIEF)}),
    "V1LoginRootReply": _obj(("token", "refresh_token", "org_id"), {"token": _S, "refresh_token": _S, "org_id": _S}),
    "V1Whoami": _obj(("org_id", "account"), {"org_id": _S, "account": _obj(("id", "role"), {"id": _S, "role": _S}),
                                            "database": _obj(tuple(_DB_BRIEF), _DB_BRIEF),
                                            "frontend_user_id": {}, "frontend_session_id": {}}),
    "V1IndividualCreate": _obj(("email",), {"email": _S, "password": _S, "first_name": _S, "last_name": _S,
                                            "role": {"enum": ["manager", "backend", "frontend"]}, "metadata": _OBJ,
                                            "email_redirect_url": _S}, closed=True),
    "V1IndividualUpdate": _obj(("email",), {"email": _S, "password": _S, "first_name": _S, "last_name": _S,
                                            "metadata": _OBJ}, closed=True),
    "V1ByEmail": _obj(("email",), {"email": _S}, closed=True),
    "V1ServiceCreate": _obj(("name",), {"name": _S, "password": _S, "role": {"enum": ["manager", "backend",
                                                                                      "frontend"]},
                                        "metadata": _OBJ}, closed=True),
    "V1ByName": _obj(("name",), {"name": _S}, closed=True),
    "V1KeyCreate": _obj(("name",), {"name": _S, "expiration_timestamp": {"type": "number"}, "metadata": _OBJ},
                        closed=True),
    "V1Key": _obj(("id", "key", "created_timestamp", "expire_timestamp", "metadata"), {
        "id": _S, "key": {**_S, "description": "the secret: returned here only"}, "created_timestamp": {"type": "number"},
        "expire_timestamp": {"type": ["number", "null"]}, "metadata": _OBJ}),
    "V1Id": _obj(("id",), {"id": _S}),
    "V1Empty": _obj((), {}),
    "V1Accounts": _obj(("individual_accounts", "service_accounts"), {
        "individual_accounts": {"type": "array", "items": _obj(
            ("first_name", "last_name", "email", "role", "verified"),
            {"first_name": _S, "last_name": _S, "email": _S, "role": _S, "verified": _B, "metadata": _OBJ})},
        "service_accounts": {"type": "array", "items": _obj(("name", "role", "keys"), {
            "name": _S, "role": _S, "keys": {"type": "array", "items": _OBJ}, "metadata": _OBJ})}}),
    "V1OrgUpdate": _obj((), {"metadata": {**_OBJ, "description": "RFC 7396 merge patch (preserve) or replacement"},
                             "preserve": {**_B, "default": True}}, closed=True),
    "V1DatabaseCreate": _obj(("name",), {
        "name": _S, "description": _S, "item_id_type": {**_S, "default": "uint64"},
        "user_id_type": {**_S, "default": "uint64"}, "session_id_type": {**_S, "default": "uuid"},
        "core_config": _OBJ, "metadata": _OBJ, "database_options": _OBJ}, closed=True),
    "V1DatabaseListed": _obj((*_DB_BRIEF, "status"), {**_DB_BRIEF, "status": {"enum": ["pending", "ready"]}}),
    "V1Databases": _obj(("has_next", "next_page", "databases"), {
        "has_next": _B, "next_page": _I, "databases": {"type": "array", "items": _ref("V1DatabaseListed")}}),
    "V1Database": _obj((*_DB_BRIEF, "status", "org_id", "counters", "core_config", "metadata"), {
        **_DB_BRIEF, "status": {"enum": ["pending", "ready"]}, "org_id": _S,
        "counters": _obj(("item", "user", "rating"), {"item": _I, "user": _I, "rating": _I}),
        "core_config": _OBJ, "metadata": _OBJ}),
    "V1DatabaseUpdate": _obj((), {"description": _S, "core_config": _OBJ, "metadata": _OBJ,
                                  "preserve": {**_B, "default": True}}, closed=True),
    "V1Status": _obj(("status",), {"status": {"enum": ["pending", "ready"]}}),
    "V1Tasks": _obj(("tasks", "has_next", "next_page"), {
        "tasks": {"type": "array", "items": _obj(("task_id", "name", "start_time", "status", "progress"), {
            "task_id": _S, "name": _S, "start_time": _I, "end_time": _I,
            "status": {"enum": ["RUNNING", "COMPLETED", "FAILED"]}, "progress": _S,
            "error": {**_OBJ, "description": "the error envelope of a FAILED task"}})},
        "has_next": _B, "next_page": _I}),
    "V1TaskStarted": _obj(("task_id", "task_name"), {"task_id": _S, "task_name": _S}),
    "V1Property": _obj(("property_name", "value_type", "repeated"), {
        "property_name": _S, "value_type": _S, "repeated": _B, "indexed": {**_B, "description": "users only"}}),
    "V1Properties": _obj(("properties",), {"properties": {"type": "array", "items": _ref("V1Property")}}),
}
for _kind in ("item", "user"):
    _k = _kind + "s"
    _extra = {"indexed": _B} if _kind == "user" else {}
    SCHEMAS[f"V1{_kind.title()}PropertyCreate"] = _obj(("property_name", "value_type"), {
        "property_name": {**_S, "description": "1-64 of [A-Za-z0-9._-], case-insensitive"},
        "value_type": {**_S, "description": "int[N], uint[N], float[N], bool, unicode[N], text, hexN, urlsafeN, "
                                            "bytesN, uuid"},
        "repeated": {**_B, "default": False}, **_extra}, closed=True)
    SCHEMAS[f"V1{_kind.title()}"] = _entity(_kind)
    SCHEMAS[f"V1{_kind.title()}One"] = _obj((_kind,), {_kind: _ref(f"V1{_kind.title()}")})
    SCHEMAS[f"V1{_kind.title()}Put"] = _obj((_kind,), {
        _kind: {"type": "object", "additionalProperties": True, "description": "property values"},
        "wait_for_completion": {**_B, "default": True}}, closed=True)
    SCHEMAS[f"V1{_kind.title()}Patch"] = _obj((_kind,), {
        _kind: {"type": "object", "additionalProperties": True, "description": "property values (null removes)"},
        "create_if_missing": {**_B, "default": False}}, closed=True)
    SCHEMAS[f"V1{_kind.title()}Patched"] = _obj((f"{_kind}_created", f"{_kind}_modified"), {
        f"{_kind}_created": _B, f"{_kind}_modified": _B})
    SCHEMAS[f"V1{_kind.title()}sBulkPut"] = _obj((_k,), {
        _k: {"type": "array", "items": _ref(f"V1{_kind.title()}")}, f"{_k}_m2m": _m2m(_kind),
        "wait_for_completion": {**_B, "default": True}}, closed=True)
    SCHEMAS[f"V1{_kind.title()}sBulkPatch"] = _obj((_k,), {
        _k: {"type": "array", "items": _ref(f"V1{_kind.title()}")}, f"{_k}_m2m": _m2m(_kind),
        "wait_for_completion": {**_B, "default": True}, "create_if_missing": {**_B, "default": False}}, closed=True)
    SCHEMAS[f"V1{_kind.title()}sIds"] = _obj((f"{_k}_id",), {f"{_k}_id": {"type": "array", "items": _ID}},
                                              closed=True)
    SCHEMAS[f"V1{_kind.title()}sList"] = _obj((f"{_k}_id",), {f"{_k}_id": {"type": "array", "items": _ID},
                                                              "properties": {"type": "array", "items": _S}},
                                              closed=True)
    SCHEMAS[f"V1{_kind.title()}sFound"] = _obj((_k,), {_k: {"type": "array", "items": _ref(f"V1{_kind.title()}")}})
    SCHEMAS[f"V1{_kind.title()}sPage"] = _obj((_k, "has_next", "next_cursor"), {
        _k: {"type": "array", "items": _ref(f"V1{_kind.title()}")}, "has_next": _B, "next_cursor": _S})

_ERRORS = {400: "WrongData (WRONG_DATA_TYPE, UNSUPPORTED_CONTENT_TYPE, ...) or DuplicatedError (DUPLICATED_*)",
           401: "AuthError / JwtTokenExpired (error_code 22: refresh the token)",
           403: "ForbiddenError: the role may not do this",
           404: "NotFoundError (ITEM_NOT_FOUND, ITEM_PROPERTY_NOT_FOUND, DB_NOT_FOUND, ...)",
           409: "IncorrectState: the database is not RUNNING", 413: "PayloadTooLarge",
           429: "TooManyRequests; see Retry-After", 500: "ServerError (error_data.request_id names the log entry)"}


def _error(status: int) -> dict[str, Any]:
    out: dict[str, Any] = {"description": _ERRORS[status],
                           "content": {JSON: {"schema": _ref("Error")}, MSGPACK: {"schema": _ref("Error")}}}
    if status == 429:
        out["headers"] = {"Retry-After": {"schema": _I, "description": "seconds"}}
    return out


def _op(summary: str, status: int, response: Optional[str], *, body: Optional[str] = None, public: bool = False,
        params: Optional[list[dict[str, Any]]] = None, tag: str, deprecated: bool = False,
        accepted: bool = False) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "success"}
    if response is not None:
        ok["content"] = {JSON: {"schema": _ref(response)}, MSGPACK: {"schema": _ref(response)}}
    responses: dict[str, Any] = {str(status): ok}
    if accepted:
        responses["202"] = {"description": "wait_for_completion=false: accepted; follow the task",
                            "content": {JSON: {"schema": _ref("V1TaskStarted")}}}
    # public: the login routes, which answer 401 to wrong credentials and 404 to an unknown db_id
    codes = {400, 401, 404, 429, 500} | ({413} if body else set()) | (set() if public else {403, 409})
    responses.update({str(c): _error(c) for c in sorted(codes)})
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": body not in ("V1OrgUpdate", "V1DatabaseUpdate"),
                             "content": {JSON: {"schema": _ref(body)}, MSGPACK: {"schema": _ref(body)}}}
    if public:
        op["security"] = []
    if deprecated:
        op["deprecated"] = True
    return op


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": _S, "description": description}


PATHS: dict[str, dict[str, Any]] = {
    "/v1/login/individual": {"post": _op("log in with an email (optionally to a database)", 200, "V1Login",
                                         body="V1LoginIndividual", public=True, tag="v1 login")},
    "/v1/login/service": {"post": _op("log in a service account (password or API key)", 200, "V1Login",
                                      body="V1LoginService", public=True, tag="v1 login")},
    "/v1/login/root": {"post": _op("legacy: log in the org owner, no database", 200, "V1LoginRootReply",
                                   body="V1LoginRoot", public=True, tag="v1 login")},
    "/v1/login/refresh-token": {"post": _op("rotate a refresh token (keeps its database)", 200, "V1Login",
                                            body="V1Refresh", public=True, tag="v1 login")},
    "/v1/login/jwt": {"post": _op("what the token says", 200, "V1Whoami", tag="v1 login")},
    "/v1/accounts/individual": {
        "post": _op("create an individual account", 201, "V1Id", body="V1IndividualCreate", tag="v1 accounts"),
        "patch": _op("update an individual account (by email)", 200, "V1Empty", body="V1IndividualUpdate",
                     tag="v1 accounts"),
        "delete": _op("delete an individual account (by email)", 204, None, body="V1ByEmail", tag="v1 accounts"),
    },
    "/v1/accounts/service": {
        "post": _op("create a service account", 201, "V1Id", body="V1ServiceCreate", tag="v1 accounts"),
        "delete": _op("delete a service account (by name)", 204, None, body="V1ByName", tag="v1 accounts"),
    },
    "/v1/accounts/service/keys": {"post": _op("create a key of a service account", 201, "V1Key", body="V1KeyCreate",
                                              tag="v1 accounts")},
    "/v1/accounts/service/keys/{key_id}": {"delete": _op("revoke a key", 204, None, tag="v1 accounts",
                                                         params=[_path("key_id", "the key id")])},
    "/v1/organizations/accounts": {"get": _op("the org's accounts", 200, "V1Accounts", tag="v1 accounts")},
    "/v1/organizations/current": {
        "get": _op("the caller's org", 200, "Org", tag="v1 accounts"),
        "patch": _op("update the org's metadata", 200, "Org", body="V1OrgUpdate", tag="v1 accounts"),
    },
    "/v1/databases": {
        "post": _op("create a database", 201, "V1Id", body="V1DatabaseCreate", tag="v1 databases"),
        "get": _op("list databases (page/amt)", 200, "V1Databases", tag="v1 databases", params=[
            {"name": "page", "in": "query", "schema": {**_I, "minimum": 1}},
            {"name": "amt", "in": "query", "schema": {**_I, "minimum": 1, "maximum": 64}}]),
    },
    "/v1/databases/current": {
        "get": _op("the token's database, with counters", 200, "V1Database", tag="v1 databases"),
        "patch": _op("update the token's database", 200, "V1DatabaseListed", body="V1DatabaseUpdate",
                     tag="v1 databases"),
        "delete": _op("delete the token's database (waits)", 204, None, tag="v1 databases"),
    },
    "/v1/databases/current/status": {"get": _op("pending or ready", 200, "V1Status", tag="v1 databases")},
    "/v1/tasks/{name}/recents": {"get": _op("recent background tasks of one name", 200, "V1Tasks", tag="v1 tasks",
                                            params=[_path("name", "e.g. items_put, users_patch"),
                                                    {"name": "page", "in": "query", "schema": _I},
                                                    {"name": "amt", "in": "query", "schema": _I}])},
}
for _kind in ("item", "user"):
    _k, _T = _kind + "s", _kind.title()
    _tag = f"v1 {_k}"
    _eid = _path("entity_id", f"the {_kind} id (users: ~me is the token's end user)")
    _pname = _path("name", "the property name (case-insensitive)")
    PATHS[f"/v1/{_k}-properties"] = {
        "get": _op(f"{_kind}-properties", 200, "V1Properties", tag=_tag),
        "post": _op(f"declare a {_kind}-property", 201, "V1Empty", body=f"V1{_T}PropertyCreate", tag=_tag)}
    PATHS[f"/v1/{_k}-properties/{{name}}"] = {
        "get": _op(f"a {_kind}-property", 200, "V1Property", tag=_tag, params=[_pname]),
        "delete": _op(f"drop a {_kind}-property and its values", 204, None, tag=_tag, params=[_pname])}
    for path, dep in ((f"/v1/{_k}/{{entity_id}}/properties", False), (f"/v1/{_k}/{{entity_id}}", True)):
        PATHS[path] = {
            "get": _op(f"one {_kind}", 200, f"V1{_T}One", tag=_tag, params=[_eid], deprecated=dep),
            "put": _op(f"create or replace one {_kind}", 200, "V1Empty", body=f"V1{_T}Put", tag=_tag,
                       params=[_eid], deprecated=dep, accepted=True),
            "patch": _op(f"update some values of one {_kind}", 200, f"V1{_T}Patched", body=f"V1{_T}Patch",
                         tag=_tag, params=[_eid], deprecated=dep),
            "delete": _op(f"delete one {_kind}", 204, None, tag=_tag, params=[_eid], deprecated=dep)}
    for path, dep in ((f"/v1/{_k}-bulk/properties", False), (f"/v1/{_k}-bulk", True)):
        PATHS[path] = {
            "get": _op(f"a page of {_k} (filters, cursor)", 200, f"V1{_T}sPage", tag=_tag, deprecated=dep, params=[
                {"name": "amt", "in": "query", "schema": {**_I, "minimum": 1, "maximum": 500}},
                {"name": "cursor", "in": "query", "schema": _S},
                {"name": "properties", "in": "query", "schema": {"type": "array", "items": _S},
                 "style": "form", "explode": True},
                {"name": "filters", "in": "query", "schema": {"type": "array", "items": _S}, "style": "form",
                 "explode": True, "description": "property:op[:value], or a JSON object {property_name, op, value}"}]),
            "put": _op(f"create or replace {_k} (all or nothing)", 200, "V1Empty", body=f"V1{_T}sBulkPut", tag=_tag,
                       deprecated=dep, accepted=True),
            "patch": _op(f"update {_k} (all or nothing)", 200, "V1Empty", body=f"V1{_T}sBulkPatch", tag=_tag,
                         deprecated=dep, accepted=True),
            "delete": _op(f"delete {_k}", 204, None, body=f"V1{_T}sIds", tag=_tag, deprecated=dep)}
    for path, dep in ((f"/v1/{_k}-bulk/properties/list", False), (f"/v1/{_k}-bulk/list", True)):
        PATHS[path] = {"post": _op(f"{_k} by id (missing ones left out)", 200, f"V1{_T}sFound",
                                   body=f"V1{_T}sList", tag=_tag, deprecated=dep)}
