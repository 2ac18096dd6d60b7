"""The OpenAPI 3.1 document of the HTTP face (served at GET /openapi.json).

Hand-maintained next to server/http_app.py: tests/server/http checks that every route of
the app is here with its methods and nothing else is, and that the answers the routes
really give carry the properties their schemas require. Shapes follow the service layer's
`to_dict()`s (FeatureBase Cloud v2 shapes plus the recommender-style fields, API.md §3).
"""
from __future__ import annotations

import copy
from typing import Any, Optional

from server import openapi_ops, openapi_sources, openapi_transfer, openapi_v1

JSON, MSGPACK, TEXT = "application/json", "application/msgpack", "text/plain"

_S = {"type": "string"}
_SN = {"type": ["string", "null"]}
_I = {"type": "integer"}
_B = {"type": "boolean"}
_OBJ = {"type": "object"}
_STRS = {"type": "array", "items": _S}
_TIME = {"type": ["string", "null"], "format": "date-time"}


def _obj(required: tuple[str, ...], props: dict[str, Any], *, closed: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    if closed:
        out["additionalProperties"] = False
    return out


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list_of(name: str) -> dict[str, Any]:
    return _obj(("next", "resources"), {"next": {**_S, "description": "page token; empty on the last page"},
                                        "resources": {"type": "array", "items": _ref(name)}})


SCHEMAS: dict[str, Any] = {
    "Error": _obj(("code", "message", "error_code", "error_name", "error_data"), {
        "code": {**_S, "description": "the unified (FeatureBase) code, e.g. ResourceNotFound"},
        "message": _S,
        "error_code": {**_I, "description": "the recommender-style error number"},
        "error_name": {**_S, "description": "the recommender-style error class, e.g. NotFoundError"},
        "error_data": _ref("ErrorData"),
    }),
    "ErrorData": _obj(("name",), {"name": {**_S, "description": "the fine-grained reason"},
                                  "request_id": {**_S, "description": "also the x-request-id header; quote it "
                                                 "to find the request in the server log"},
                                  "type": _S, "key": _S, "line": _I, "column": _I,
                                  "expected": {**_STRS, "description": "what the parser expected, in words"}}),
    "TokenRequest": _obj(("password",), {"email": _S, "name": _S, "password": _S,
                                         "database": {**_S, "description": "scope the tokens to a database"}},
                         closed=True),
    "RefreshRequest": _obj(("refresh_token",), {"refresh_token": _S, "database": _S}, closed=True),
    "LogoutRequest": _obj(("refresh_token",), {"refresh_token": _S}, closed=True),
    "Revoked": _obj(("revoked",), {"revoked": _I}),
    "TokenPair": _obj(("token", "refresh_token", "expires_in", "token_type", "role", "org_id", "account_id"), {
        "token": _S, "refresh_token": _S, "expires_in": _I, "token_type": _S, "role": _S, "org_id": _S,
        "account_id": _S, "database": _obj(("id",), {"id": _S}),
    }),
    "ApiKeyCreate": _obj(("account_id",), {"account_id": _S, "database": _SN, "label": _S,
                                           "expires_in_seconds": {"type": ["integer", "null"], "minimum": 1}},
                         closed=True),
    "ApiKey": _obj(("id", "account_id", "org_id", "database_id", "label", "created_at", "created_by",
                    "expires_at", "revoked", "last_used_at"), {
        "id": _S, "account_id": _S, "org_id": _S, "database_id": _SN, "label": _S, "created_at": _TIME,
        "created_by": _S, "expires_at": _TIME, "revoked": _B, "last_used_at": _TIME,
    }),
    "CreatedApiKey": {"allOf": [_ref("ApiKey"), _obj(("key",), {"key": {
        **_S, "description": "the secret; returned here only, send it as X-API-Key"}})]},
    "Org": _obj(("id", "name", "company_name", "address", "tech_contact_emali", "billing_contact_emali",
                 "org_type", "created_at", "updated_at", "updated_by", "metadata"), {
        "id": _S, "name": _S, "company_name": _S, "address": _S, "tech_contact_emali": _S,
        "billing_contact_emali": _S, "org_type": _S, "created_at": _TIME, "updated_at": _TIME,
        "updated_by": _S, "metadata": _OBJ,
    }),
    "OrgUpdate": _obj((), {
        "name": _S, "company_name": _S, "address": _S, "tech_contact_email": _S, "tech_contact_emali": _S,
        "billing_contact_email": _S, "billing_contact_emali": _S,
        "metadata": {**_OBJ, "description": "RFC 7396 merge patch (preserve true) or replacement"},
        "preserve": {**_B, "default": True},
    }, closed=True),
    "ServiceProperty": _obj(("org_id", "property", "value"), {"org_id": _S, "property": _S, "value": _OBJ}),
    "Empty": _obj((), {}, closed=True),
    "ClusterWorker": _obj(("name",), {"name": {**_S, "description": "the worker's name (the database id's first "
                                                                   "8 characters and '-' are prepended if missing)"}},
                          closed=True),
    "ClusterMembership": _obj(("database_id", "worker", "epoch", "moved", "workers"), {
        "database_id": _S, "worker": _S, "epoch": _I,
        "moved": {"type": "array", "items": _obj(("table", "shard"), {"table": _S, "shard": _I})},
        "workers": {"type": "object", "additionalProperties": _I, "description": "worker -> shards it holds"},
    }),
    "User": _obj(("id", "org_id", "org_name", "idp_id", "username", "firstname", "lastname", "status", "acl",
                  "roles", "primary_email", "created_at", "updated_at", "updated_by", "kind", "name", "email",
                  "role"), {
        "id": _S, "org_id": _S, "org_name": _S, "idp_id": _S, "username": _S, "firstname": _S, "lastname": _S,
        "status": {"enum": ["Active", "Deactivated"]}, "acl": _STRS, "roles": _STRS, "primary_email": _S,
        "created_at": _TIME, "updated_at": _TIME, "updated_by": _S, "kind": {"enum": ["individual", "service"]},
        "name": _SN, "email": _SN, "role": {"enum": ["root", "manager", "backend", "frontend"]},
    }),
    "UserCreate": _obj((), {
        "kind": {"enum": ["individual", "service"], "default": "individual"}, "email": _S,
        "name": {**_S, "description": "login name; required for a service account"}, "firstname": _S,
        "lastname": _S, "role": {"enum": ["manager", "backend", "frontend"], "default": "backend"},
        "password": _S, "acl": _STRS,
    }, closed=True),
    "UserUpdate": _obj((), {"email": _SN, "name": _SN, "firstname": _S, "lastname": _S, "password": _S,
                            "acl": _STRS, "status": {"enum": ["Active", "Deactivated"]}}, closed=True),
    "RoleNames": _obj(("rolenames",), {"rolenames": _STRS}, closed=True),
    "UserRoles": _obj(("user_id", "org_id", "rolenames"), {"user_id": _S, "org_id": _S, "rolenames": _STRS}),
    "MoveOrg": _obj(("invite_id",), {"invite_id": _S}, closed=True),
    "Invite": _obj(("id", "org_id", "org_name", "email", "accepted", "move_org", "created_at", "date_expiry",
                    "updated_at", "updated_by", "role"), {
        "id": _S, "org_id": _S, "org_name": _S, "email": _S, "accepted": _B, "move_org": _B,
        "created_at": _TIME, "date_expiry": _TIME, "updated_at": _TIME, "updated_by": _S, "role": _S,
    }),
    "InviteCreate": _obj(("email",), {"email": _S, "role": {"enum": ["manager", "backend", "frontend"],
                                                            "default": "backend"}}, closed=True),
    "InviteUpdate": _obj(("accepted",), {"accepted": _B}, closed=True),
    "InviteAccept": _obj(("email", "password"), {"email": _S, "password": _S, "name": _SN, "firstname": _S,
                                                 "lastname": _S}, closed=True),
    "Role": _obj(("rolename", "org_id", "acl", "builtin", "created_at", "updated_at", "updated_by"), {
        "rolename": _S, "org_id": _S, "acl": _STRS, "builtin": _B, "created_at": _TIME, "updated_at": _TIME,
        "updated_by": _SN,
    }),
    "RoleCreate": _obj(("rolename", "acl"), {"rolename": _S, "acl": _STRS}, closed=True),
    "RoleUpdate": _obj(("acl",), {"acl": _STRS}, closed=True),
    "Database": _obj(("id", "name", "database_status", "database_options", "org_id", "created_by", "created_at",
                      "owned_by", "updated_at", "updated_by", "item_id_type", "user_id_type", "session_id_type",
                      "description", "metadata", "core_config"), {
        "id": _S, "name": _S,
        "database_status": {"enum": ["CREATING", "PROVISIONING", "RUNNING", "RESTORING", "BACKUP", "DELETING",
                                     "DEPROVISIONING", "DELETED", "FAILED", "FROZEN"]},
        "database_options": _OBJ, "org_id": _S, "created_by": _S, "created_at": _TIME, "owned_by": _S,
        "updated_at": _TIME, "updated_by": _S, "item_id_type": _S, "user_id_type": _S, "session_id_type": _S,
        "description": _S, "metadata": _OBJ, "core_config": _OBJ,
    }),
    "DatabaseCreate": _obj(("name",), {
        "name": _S, "description": _S, "database_options": {**_OBJ, "description": "stored verbatim"},
        "item_id_type": {**_S, "default": "uint64"}, "user_id_type": {**_S, "default": "uint64"},
        "session_id_type": {**_S, "default": "uuid"}, "metadata": _OBJ, "core_config": _OBJ,
    }, closed=True),
    "DatabaseUpdate": _obj((), {"name": _S, "owned_by": _S, "description": _S, "core_config": _OBJ,
                                "metadata": _OBJ, "preserve": {**_B, "default": True}}, closed=True),
    "SqlField": _obj(("name", "type", "base-type", "type-info"), {
        "name": _S, "type": _S, "base-type": _S, "type-info": {"type": ["object", "null"]}}),
    "SqlResult": _obj(("schema", "data", "warnings", "execution-time", "rows-affected"), {
        "schema": _obj(("fields",), {"fields": {"type": "array", "items": _ref("SqlField")}}),
        "data": {"type": "array", "items": {"type": "array"}},
        "warnings": _STRS,
        "execution-time": {**_I, "description": "microseconds"},
        "rows-affected": _I,
        "query-plan": {"description": "EXPLAIN's plan"},
    }),
    "SqlError": _obj(("error", "code", "error_data", "execution-time"), {
        "error": {**_S, "description": "the message (all the featurebase client reads)"},
        "code": {**_S, "description": "the unified code, as in Error"},
        "error_data": {**_ref("ErrorData")}, "execution-time": _I}),
    "PqlRequest": _obj(("statement", "table"), {"statement": _S, "table": _S}, closed=True),
    "PqlResult": _obj(("results",), {"results": {"type": "array", "description": "one per call, Pilosa shapes"}}),
    "QueryRecord": _obj(("id", "database_id", "account_id", "language", "table", "statement", "started_at",
                         "status", "error_code", "duration_ms"), {
        "id": _S, "database_id": _S, "account_id": _S, "language": {"enum": ["sql", "pql"]},
        "table": {**_SN, "description": "the PQL request's table"},
        "statement": {**_S, "description": "the text, cut to 2000 characters"},
        "started_at": {**_S, "format": "date-time"},
        "status": {"enum": ["running", "ok", "cancelled", "error"],
                   "description": "cancelled: the caller went away or its deadline passed"},
        "error_code": {**_SN, "description": "the unified error code of a query that failed"},
        "duration_ms": {"type": ["number", "null"], "description": "null while running"},
        "elapsed_ms": {"type": "number", "description": "running queries: the time so far"},
    }),
}
for _name in ("ApiKey", "User", "Invite", "Role", "Database", "QueryRecord"):
    SCHEMAS[_name + "List"] = _list_of(_name)

_ERROR_TEXT = {
    400: "InvalidParameter / MissingParameter / InvalidBody / InvalidContentType / ResourceLimitExceeded / "
         "RelatedResourceNotFound / BadRequest",
    401: "Unauthorized / MissingAuthenticationToken / TokenExpired / RefreshTokenExpired",
    404: "ResourceNotFound (another org's ids answer the same)",
    408: "RequestTimeout (the query deadline passed)",
    409: "ResourceAlreadyExists / IncorrectState",
    413: "PayloadTooLarge (limits.max_payload_bytes, or a query over limits.max_query_bytes)",
    422: "QueryExecutionError",
    429: "RequestLimitExceeded (per-org rate or server busy); see Retry-After",
    500: "InternalServerError (error_data.request_id names the log entry)",
}


def _error(status: int) -> dict[str, Any]:
    out: dict[str, Any] = {"description": _ERROR_TEXT[status],
                           "content": {JSON: {"schema": _ref("Error")}, MSGPACK: {"schema": _ref("Error")}}}
    if status == 429:
        out["headers"] = {"Retry-After": {"schema": _I, "description": "seconds"}}
    return out


def _content(schema: dict[str, Any]) -> dict[str, Any]:
    return {JSON: {"schema": schema}, MSGPACK: {"schema": schema}}


_PAGE_PARAMS = [
    {"name": "next", "in": "query", "schema": _S, "description": "the page token of the previous page"},
    {"name": "limit", "in": "query", "schema": {**_I, "minimum": 1}, "description": "page size (capped)"},
]


def _op(summary: str, status: int, response: Optional[str], *, body: Optional[str] = None,
        errors: tuple[int, ...] = (), public: bool = False, api_key: bool = False,
        params: Optional[list[dict[str, Any]]] = None, tag: str) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    ok: dict[str, Any] = {"description": "success"}
    if response is not None:
        ok["content"] = _content(_ref(response))
    responses[str(status)] = ok
    codes = set(errors) | {429, 500}
    if body is not None:
        codes |= {400, 413}
    if any(p["in"] == "query" for p in params or ()):   # a bad page token or limit
        codes.add(400)
    if not public:
        codes.add(401)
    for code in sorted(codes):
        responses[str(code)] = _error(code)
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": True, "content": _content(_ref(body))}
    if public:
        op["security"] = []
    elif api_key:
        op["security"] = [{"bearer": []}, {"apiKey": []}]
    return op


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": _S, "description": description}


_DB_ID = _path_param("database_id", "the database id (UUID or its base64url form)")
_USER_ID = _path_param("user_id", "the account id")
_INVITE_ID = _path_param("invite_id", "the invite id")
_ROLE = _path_param("rolename", "the role name")


def _sql_op(summary: str, *, compat: bool, database: bool = True) -> dict[str, Any]:
    note = (" Without credentials only when the server listens on loopback and open_loopback_sql is on"
            " (the featurebase client's paths)." if compat else "")
    return {
        "summary": summary,
        "description": "SQL text in, FeatureBase's JSON out. A statement that fails answers 200 with "
                       "{error, execution-time} (the featurebase client's contract) unless the request sends "
                       "Accept: application/problem+json, which gets the error envelope with 400/404/409/422."
                       + note,
        "tags": ["query"],
        "parameters": [_DB_ID] if database else [],
        "security": ([{}, {"bearer": []}, {"apiKey": []}] if compat else [{"bearer": []}, {"apiKey": []}]),
        "requestBody": {"required": True, "content": {TEXT: {"schema": _S}}},
        "responses": {
            "200": {"description": "the result, or a statement's error",
                    "content": {JSON: {"schema": {"oneOf": [_ref("SqlResult"), _ref("SqlError")]}},
                                MSGPACK: {"schema": {"oneOf": [_ref("SqlResult"), _ref("SqlError")]}},
                                "application/problem+json": {"schema": _ref("SqlResult")}}},
            **{str(c): _error(c) for c in (400, 401, 404, 408, 409, 413, 422, 429, 500)},
        },
    }


PATHS: dict[str, dict[str, Any]] = {
    "/openapi.json": {"get": {"summary": "this document", "tags": ["meta"], "security": [],
                              "responses": {"200": {"description": "OpenAPI 3.1", "content": {JSON: {"schema": _OBJ}}}}}},
    "/v2/auth/token": {"post": _op("log in (email or name, password)", 200, "TokenPair", body="TokenRequest",
                                   errors=(401, 404), public=True, tag="auth")},
    "/v2/auth/refresh": {"post": _op("rotate a refresh token", 200, "TokenPair", body="RefreshRequest",
                                     errors=(401, 404), public=True, tag="auth")},
    "/v2/auth/logout": {"post": _op("revoke a refresh token's family", 200, "Revoked", body="LogoutRequest",
                                    public=True, tag="auth")},
    "/v2/api-keys": {
        "post": _op("create an API key for a service account", 201, "CreatedApiKey", body="ApiKeyCreate",
                    errors=(404,), tag="auth"),
        "get": _op("list API keys", 200, "ApiKeyList", tag="auth",
                   params=[*_PAGE_PARAMS, {"name": "account_id", "in": "query", "schema": _S}]),
    },
    "/v2/api-keys/{key_id}": {"delete": _op("revoke an API key", 200, "ApiKey", errors=(404,), tag="auth",
                                            params=[_path_param("key_id", "the key id")])},
    "/v2/orgs/{org_id}": {
        "get": _op("the caller's org", 200, "Org", errors=(404,), tag="orgs",
                   params=[_path_param("org_id", "the org id")]),
        "put": _op("update the caller's org", 202, "Org", body="OrgUpdate", errors=(404,), tag="orgs",
                   params=[_path_param("org_id", "the org id")]),
    },
    "/v2/service-properties/{property}": {"get": _op(
        "a service property", 200, "ServiceProperty", errors=(404,), tag="orgs",
        params=[{**_path_param("property", "the property"),
                 "schema": {"enum": ["database:shapes", "database:limits", "source:limits",
                                              "cluster:placement"]}}])},
    "/v2/users": {
        "post": _op("create an account", 201, "User", body="UserCreate", errors=(409,), tag="users"),
        "get": _op("list the org's accounts", 200, "UserList", tag="users", params=_PAGE_PARAMS),
    },
    "/v2/users/current": {"get": _op("the caller's account", 200, "User", tag="users")},
    "/v2/users/{user_id}": {
        "get": _op("an account", 200, "User", errors=(404,), tag="users", params=[_USER_ID]),
        "put": _op("update an account", 202, "User", body="UserUpdate", errors=(404, 409), tag="users",
                   params=[_USER_ID]),
        "delete": _op("delete an account", 204, None, errors=(404,), tag="users", params=[_USER_ID]),
    },
    "/v2/users/{user_id}/roles": {"post": _op("give an account roles", 201, "UserRoles", body="RoleNames",
                                              errors=(404,), tag="users", params=[_USER_ID])},
    "/v2/users/{user_id}/action/invite": {"post": _op(
        "accept another org's invite and move there", 202, "User", body="MoveOrg", errors=(404, 409),
        tag="users", params=[_USER_ID])},
    "/v2/invites": {
        "post": _op("invite an email", 201, "Invite", body="InviteCreate", errors=(409,), tag="invites"),
        "get": _op("list invites", 200, "InviteList", tag="invites", params=_PAGE_PARAMS),
    },
    "/v2/invites/{invite_id}": {
        "get": _op("an invite", 200, "Invite", errors=(404,), tag="invites", params=[_INVITE_ID]),
        "put": _op("mark an invite accepted", 202, "Invite", body="InviteUpdate", errors=(404, 409),
                   tag="invites", params=[_INVITE_ID]),
        "delete": _op("delete an invite", 204, None, errors=(404,), tag="invites", params=[_INVITE_ID]),
    },
    "/v2/invites/{invite_id}/action/accept": {"post": _op(
        "accept an invite as a newcomer (creates the account)", 201, "User", body="InviteAccept",
        errors=(404, 409), public=True, tag="invites", params=[_INVITE_ID])},
    "/v2/roles": {
        "post": _op("create a custom role", 201, "Role", body="RoleCreate", errors=(409,), tag="roles"),
        "get": _op("list roles", 200, "RoleList", tag="roles", params=_PAGE_PARAMS),
    },
    "/v2/roles/{rolename}": {
        "get": _op("a role", 200, "Role", errors=(404,), tag="roles", params=[_ROLE]),
        "put": _op("replace a custom role's ACL", 202, "Role", body="RoleUpdate", errors=(404,), tag="roles",
                   params=[_ROLE]),
        "delete": _op("delete a custom role", 202, None, errors=(404,), tag="roles", params=[_ROLE]),
    },
    "/v2/databases": {
        "post": _op("create a database", 201, "Database", body="DatabaseCreate", errors=(409,), tag="databases"),
        "get": _op("list databases", 200, "DatabaseList", tag="databases",
                   params=[*_PAGE_PARAMS, {"name": "include_deleted", "in": "query", "schema": _B}]),
    },
    "/v2/databases/{database_id}": {
        "get": _op("a database", 200, "Database", errors=(404,), tag="databases", params=[_DB_ID]),
        "put": _op("update a database", 202, "Database", body="DatabaseUpdate", errors=(404, 409),
                   tag="databases", params=[_DB_ID]),
        "delete": _op("delete a database (DELETING now, DELETED when its files are gone)", 202, "Database",
                      errors=(404, 409), tag="databases", params=[_DB_ID]),
    },
    "/v2/databases/{database_id}/cluster/workers": {"post": _op(
        "add a worker to the database's Ray cluster; the shards jump hash gives it move onto it", 200,
        "ClusterMembership", body="ClusterWorker", errors=(404, 409), tag="databases", params=[_DB_ID])},
    "/v2/databases/{database_id}/cluster/workers/{worker}": {"delete": _op(
        "move a worker's shards to the other workers, then stop it", 200, "ClusterMembership",
        errors=(404, 409), tag="databases", params=[_DB_ID, _path_param("worker", "the worker's name")])},
    "/v2/databases/{database_id}/cluster/action/rebalance": {"post": _op(
        "move every shard that is not where jump hash over the current workers puts it", 200,
        "ClusterMembership", body="Empty", errors=(404, 409), tag="databases", params=[_DB_ID])},
    "/v2/databases/{database_id}/query/sql": {"post": _sql_op("SQL against a database", compat=False)},
    "/v2/databases/{database_id}/query/pql": {"post": _op(
        "PQL against a table of a database", 200, "PqlResult", body="PqlRequest", errors=(404, 408, 409, 422),
        api_key=True, tag="query", params=[_DB_ID])},
    "/v2/queries": {"get": _op(
        "the org's recent queries (running ones too), newest first; kept in memory, the last 512 of the server",
        200, "QueryRecordList", errors=(404,), tag="query",
        params=[*_PAGE_PARAMS, {"name": "database_id", "in": "query", "schema": _S,
                                "description": "only this database's queries"}])},
    "/databases/{database_id}/query/sql": {"post": _sql_op("SQL against a database (featurebase client path)",
                                                           compat=True)},
    "/sql": {"post": _sql_op("FeatureBase-compatible SQL (the compat database)", compat=True, database=False)},
}


PATHS.update(openapi_v1.PATHS)
PATHS.update(openapi_ops.PATHS)
SCHEMAS.update(openapi_v1.SCHEMAS)
PATHS.update(openapi_transfer.PATHS)
SCHEMAS.update(openapi_transfer.SCHEMAS)
PATHS.update(openapi_sources.PATHS)
SCHEMAS.update(openapi_sources.SCHEMAS)


def document() -> dict[str, Any]:
    """The whole OpenAPI document (a fresh copy)."""
    return copy.deepcopy({
        "openapi": "3.1.0",
        "info": {"title": "roarbase HTTP API", "version": "2.0.0",
                 "description": "FeatureBase-Cloud-style management and query (/v2), the recommender-style "
                                "data plane (/v1: logins, databases, item and user properties and entities) "
                                "and the FeatureBase-compatible SQL paths. Errors use one envelope; see "
                                "components.schemas.Error (/v1 answers Crossing Minds' statuses)."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                **openapi_transfer.SECURITY_SCHEMES,
            },
        },
    })
