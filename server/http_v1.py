"""The recommender-style /v1 face (API.md §3.1–3.4; seeds 000 and 001): CM logins and
accounts, databases, item/user properties, items/users, background tasks.

Same service layer as /v2 and gRPC; what lives here is the CM wire shape:
- bodies are JSON, or msgpack for binary clients (`application/msgpack`, with explicit
  decoder limits); the official client's pickle (`application/xminds-pkl`) is refused
  with a JSON error body and never decoded, whichever of Content-Type or Accept names it;
- a body-less request may carry `Content-Type: application/json` (the client sends it on
  every GET and DELETE), and DELETE may carry a body;
- errors are the unified envelope with the /v1 statuses (server.errors, family "v1");
- ids in paths and bodies use the database's flexible id types (engine.entities.types);
- deprecated aliases answer like their successors, plus the warning `deprecated_endpoint`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Optional

import msgpack
from starlette.requests import Request
from starlette.responses import Response

from server.service.principal import Principal
from server.error_table import ServerError
from server.http_app import JSON, MSGPACK, _accept, _credentials, _encode_for, _media_types
from server.runtime import Runtime
from server.service import cm_accounts, databases, entities, orgs, tasks
from server.service.common import json_value_problem, surrogate_free
from server.service.errors import InvalidParameter, MissingParameter, Unauthorized

PICKLE_TYPES = frozenset({"application/xminds-pkl", "application/python-pickle", "application/x-pickle"})
_MSGPACK_TYPES = frozenset({MSGPACK, "application/x-msgpack"})
MAX_DEPTH = 32                  # nesting of a request body (metadata objects, filters)
DEPRECATED = "deprecated_endpoint"


# --- bodies -------------------------------------------------------------------------------------

def refuse_pickle(headers: Any) -> None:
    """Pickle is remote code execution: never decoded, refused with a JSON error."""
    for header in ("content-type", "accept"):
        if _media_types(headers.get(header, "")) & PICKLE_TYPES:
            raise ServerError("InvalidContentType", "pickle bodies are not accepted: send application/json "
                              "(or application/msgpack)", name="UNSUPPORTED_CONTENT_TYPE")


def decode_body(raw: bytes, content_type: str, *, required: bool) -> dict[str, Any]:
    """A JSON (or msgpack) object body; {} for an empty body unless `required`."""
    media = _media_types(content_type) - {""}
    if media & PICKLE_TYPES:
        raise ServerError("InvalidContentType", "pickle bodies are not accepted", name="UNSUPPORTED_CONTENT_TYPE")
    if media and not media <= ({JSON, "text/plain"} | _MSGPACK_TYPES):
        raise ServerError("InvalidContentType", f"send {JSON} (or {MSGPACK}); got {', '.join(sorted(media))}",
                          name="UNSUPPORTED_CONTENT_TYPE")
    if not raw.strip():
        if required:
            raise ServerError("InvalidBody", "the request body must be a JSON object")
        return {}
    try:
        if media & _MSGPACK_TYPES:
            n = len(raw)
            body = msgpack.unpackb(raw, raw=False, strict_map_key=True, max_str_len=n,
                                   max_bin_len=n, max_array_len=n, max_map_len=n, max_ext_len=0)
        else:
            body = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError, msgpack.UnpackException):
        raise ServerError("InvalidBody", "the request body is not well-formed JSON (or msgpack)") from None
    if not isinstance(body, dict):
        raise ServerError("InvalidBody", "the request body must be a JSON object")
    # msgpack strings are strict UTF-8; JSON text can only hold surrogates it spells out
    unicode = bool(media & _MSGPACK_TYPES) or surrogate_free(raw)
    problem = json_value_problem(body, MAX_DEPTH, text_is_unicode=unicode)  # depth, surrogates, binary
    if problem is not None:
        raise ServerError("InvalidBody", f"the request body cannot be accepted: {problem}",
                          name="TOO_DEEP" if "nest" in problem else None)
    return body


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _only(body: dict[str, Any], allowed: frozenset[str], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The body, refused when it names a field the route does not take or lacks one of
    `required` (MissingParameter names the first missing key)."""
    unknown = sorted(set(body) - allowed - {"warnings"})
    if unknown:
        raise InvalidParameter(f"unknown fields {', '.join(map(repr, unknown))}", name="WRONG_DATA_TYPE",
                               data={"key": str(unknown[0])[:64]})
    for key in required:
        if key not in body:
            raise MissingParameter(f"{key} is required", data={"key": key})
    body.pop("warnings", None)          # echoed back by some clients; never an argument
    return body


def _bool(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidParameter(f"{key} must be true or false", name="WRONG_DATA_TYPE", data={"key": key})
    return value


def _int_param(request: Request, key: str, default: Optional[int]) -> Optional[int]:
    text = request.query_params.get(key)
    if text is None or text == "":
        return default
    text = text.strip()
    # ASCII digits only ("²".isdigit() holds), and few enough for any count or page number
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise InvalidParameter(f"{key} must be a positive integer", name="WRONG_DATA_TYPE", data={"key": key})
    return int(text)


def _m2m(groups: Any, kind: str) -> Any:
    """items_m2m rows as objects; binary clients may send [index, value] pairs."""
    if not isinstance(groups, list):
        return groups
    out = []
    for g in groups:
        if isinstance(g, dict) and isinstance(g.get("array"), list):
            rows = [{f"{kind}_index": r[0], "value_id": r[1]} if isinstance(r, list) and len(r) == 2 else r
                    for r in g["array"]]
            g = {**g, "array": rows}
        out.append(g)
    return out


# --- shapes -------------------------------------------------------------------------------------

def db_brief(db: databases.Database) -> dict[str, Any]:
    """A database as CM lists it and as logins return it."""
    return {"id": db.id_b64, "name": db.name, "description": db.description, "item_id_type": db.item_id_type,
            "user_id_type": db.user_id_type, "session_id_type": db.session_id_type}


def db_listed(db: databases.Database) -> dict[str, Any]:
    return {**db_brief(db), "status": db.cm_status}


def login_reply(login: cm_accounts.Login, *, root: bool = False) -> dict[str, Any]:
    p = login.pair
    if root:
        return {"token": p.token, "refresh_token": p.refresh_token, "org_id": p.org_id}
    out: dict[str, Any] = {"token": p.token, "refresh_token": p.refresh_token, "role": p.role, "org_id": p.org_id}
    if login.database is not None:
        out["database"] = db_brief(login.database)
    return out


# --- routes -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class V1Endpoint:
    """One /v1 method and path: its handler (a method of V1Handlers), success status, the
    policy row of the service operation it calls (None: public or several), and whether it
    is a deprecated alias."""

    method: str
    path: str
    handler: str
    status: int
    operation: Optional[str]
    deprecated: bool = False


def _entity_routes(kind: str) -> list[V1Endpoint]:
    k = kind + "s"
    one, bulk = f"/v1/{k}/{{entity_id}}", f"/v1/{k}-bulk"
    out = [
        V1Endpoint("GET", f"/v1/{k}-properties", f"list_{kind}_properties", 200, entities.LIST_PROPERTIES),
        V1Endpoint("POST", f"/v1/{k}-properties", f"create_{kind}_property", 201, entities.CREATE_PROPERTY),
        V1Endpoint("GET", f"/v1/{k}-properties/{{name}}", f"get_{kind}_property", 200, entities.GET_PROPERTY),
        V1Endpoint("DELETE", f"/v1/{k}-properties/{{name}}", f"delete_{kind}_property", 204,
                   entities.DELETE_PROPERTY),
    ]
    for path, deprecated in ((f"{one}/properties", False), (one, True)):
        out += [V1Endpoint("GET", path, f"get_{kind}", 200, entities.GET_ENTITY, deprecated),
                V1Endpoint("PUT", path, f"put_{kind}", 200, entities.PUT_ENTITY, deprecated),
                V1Endpoint("PATCH", path, f"patch_{kind}", 200, entities.PATCH_ENTITY, deprecated),
                V1Endpoint("DELETE", path, f"delete_{kind}", 204, entities.DELETE_ENTITY, deprecated)]
    for path, deprecated in ((f"{bulk}/properties", False), (bulk, True)):
        out += [V1Endpoint("GET", path, f"scan_{k}", 200, entities.SCAN, deprecated),
                V1Endpoint("PUT", path, f"put_{k}", 200, entities.BULK_PUT, deprecated),
                V1Endpoint("PATCH", path, f"patch_{k}", 200, entities.BULK_PATCH, deprecated),
                V1Endpoint("DELETE", path, f"delete_{k}", 204, entities.BULK_DELETE, deprecated)]
    out += [V1Endpoint("POST", f"{bulk}/properties/list", f"list_{k}", 200, entities.LIST_BY_IDS),
            V1Endpoint("POST", f"{bulk}/list", f"list_{k}", 200, entities.LIST_BY_IDS, True)]
    return out


V1_ENDPOINTS: tuple[V1Endpoint, ...] = (
    V1Endpoint("POST", "/v1/login/individual", "login_individual", 200, "AuthService.Login"),
    V1Endpoint("POST", "/v1/login/service", "login_service", 200, "AuthService.Login"),
    V1Endpoint("POST", "/v1/login/root", "login_root", 200, "AuthService.Login"),
    V1Endpoint("POST", "/v1/login/refresh-token", "login_refresh", 200, "AuthService.RefreshToken"),
    V1Endpoint("POST", "/v1/login/jwt", "login_jwt", 200, "AccountService.GetCurrentAccount"),
    V1Endpoint("POST", "/v1/accounts/individual", "create_individual", 201, "AccountService.CreateAccount"),
    V1Endpoint("PATCH", "/v1/accounts/individual", "update_individual", 200, "AccountService.UpdateAccount"),
    V1Endpoint("DELETE", "/v1/accounts/individual", "delete_individual", 204, "AccountService.DeleteAccount"),
    V1Endpoint("POST", "/v1/accounts/service", "create_service", 201, "AccountService.CreateAccount"),
    V1Endpoint("DELETE", "/v1/accounts/service", "delete_service", 204, "AccountService.DeleteAccount"),
    V1Endpoint("POST", "/v1/accounts/service/keys", "create_service_key", 201, "AuthService.CreateApiKey"),
    V1Endpoint("DELETE", "/v1/accounts/service/keys/{key_id}", "delete_service_key", 204,
               "AuthService.RevokeApiKey"),
    V1Endpoint("GET", "/v1/organizations/accounts", "list_org_accounts", 200, "AccountService.ListAccounts"),
    V1Endpoint("GET", "/v1/organizations/current", "get_org", 200, "OrgService.GetOrg"),
    V1Endpoint("PATCH", "/v1/organizations/current", "update_org", 200, "OrgService.UpdateOrg"),
    V1Endpoint("POST", "/v1/databases", "create_database", 201, "DatabaseService.CreateDatabase"),
    V1Endpoint("GET", "/v1/databases", "list_databases", 200, "DatabaseService.ListDatabases"),
    V1Endpoint("GET", "/v1/databases/current", "current_database", 200, "DatabaseService.GetDatabase"),
    V1Endpoint("PATCH", "/v1/databases/current", "update_database", 200, "DatabaseService.UpdateDatabase"),
    V1Endpoint("DELETE", "/v1/databases/current", "delete_database", 204, "DatabaseService.DeleteDatabase"),
    V1Endpoint("GET", "/v1/databases/current/status", "database_status", 200, "DatabaseService.GetDatabase"),
    V1Endpoint("GET", "/v1/tasks/{name}/recents", "task_recents", 200, tasks.LIST_TASKS),
    *_entity_routes("item"),
    *_entity_routes("user"),
)

_LOGIN_FIELDS = frozenset({"password", "db_id", "db_name", "frontend_user_id", "frontend_session_id"})
_DB_CREATE = frozenset({"name", "description", "item_id_type", "user_id_type", "session_id_type", "core_config",
                        "metadata", "database_options"})


class V1Handlers:
    """The endpoints of V1_ENDPOINTS over one Runtime."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.ctx = rt.ctx

    # -- plumbing ----------------------------------------------------------------------------

    def reply(self, request: Request, status: int, body: Any = None, *, deprecated: bool = False) -> Response:
        if deprecated:
            if isinstance(body, dict):
                body = {**body, "warnings": [*body.get("warnings", []), DEPRECATED]}
            elif body is None and status != 204:
                body = {"warnings": [DEPRECATED]}
        if body is None:
            return Response(status_code=status, headers={"Warning": f'299 - "{DEPRECATED}"'} if deprecated else None)
        content, media = _encode_for(_accept(request.headers), body)
        return Response(content, status, media_type=media)

    async def body(self, request: Request, *, required: bool = True) -> dict[str, Any]:
        return decode_body(await request.body(), request.headers.get("content-type", ""), required=required)

    async def authed(self, request: Request, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """fn(ctx, principal, *args, **kwargs) on a worker, for the request's bearer."""
        bearer, _ = _credentials(request, api_key=False)
        rt = self.rt
        address = request.client.host if request.client else "?"

        def job() -> Any:
            return fn(rt.ctx, rt.principal(bearer=bearer, required=True, address=address), *args, **kwargs)

        return await rt.run(job)

    async def public(self, request: Request, fn: Callable[..., Any], *args: Any, account: Any = None,
                     **kwargs: Any) -> Any:
        """A login or refresh: charged to the address, on the auth threads with failed-login
        backoff (Runtime.run_login)."""
        address = request.client.host if request.client else "?"
        self.rt.rate.take("address:" + address)
        return await self.rt.run_login(fn, self.ctx, *args, address=address, account=account, **kwargs)

    # -- login -------------------------------------------------------------------------------

    async def _login(self, request: Request, who: str, *, root: bool = False) -> Response:
        fields = frozenset({"email", "password"}) if root else _LOGIN_FIELDS | {who}
        body = _only(await self.body(request), fields, ("password",))
        login = await self.public(request, cm_accounts.login, root_only=root, account=body.get(who), **body)
        return self.reply(request, 200, login_reply(login, root=root))

    async def login_individual(self, request: Request) -> Response:
        return await self._login(request, "email")

    async def login_service(self, request: Request) -> Response:
        return await self._login(request, "name")

    async def login_root(self, request: Request) -> Response:
        return await self._login(request, "email", root=True)

    async def login_refresh(self, request: Request) -> Response:
        body = _only(await self.body(request), frozenset({"refresh_token", "db_id", "db_name"}), ("refresh_token",))
        login = await self.public(request, cm_accounts.refresh, **body)
        return self.reply(request, 200, login_reply(login))

    async def login_jwt(self, request: Request) -> Response:
        out = await self.authed(request, cm_accounts.whoami)
        if "database" in out:
            out["database"] = db_brief(out["database"])
        return self.reply(request, 200, out)

    # -- accounts and org --------------------------------------------------------------------

    async def create_individual(self, request: Request) -> Response:
        body = _only(await self.body(request), frozenset({"email", "password", "first_name", "last_name", "role",
                                                          "metadata", "email_redirect_url"}), ("email",))
        ident = await self.authed(request, cm_accounts.create_individual, **body)
        return self.reply(request, 201, {"id": ident})

    async def update_individual(self, request: Request) -> Response:
        body = _only(await self.body(request), frozenset({"email", "password", "first_name", "last_name",
                                                          "metadata"}), ("email",))
        await self.authed(request, cm_accounts.update_individual, **body)
        return self.reply(request, 200, {})

    async def delete_individual(self, request: Request) -> Response:
        body = _only(await self.body(request), frozenset({"email"}))
        await self.authed(request, cm_accounts.delete_individual, email=body.get("email"))
        return self.reply(request, 204)

    async def create_service(self, request: Request) -> Response:
        body = _only(await self.body(request), frozenset({"name", "password", "role", "metadata"}), ("name",))
        ident = await self.authed(request, cm_accounts.create_service, **body)
        return self.reply(request, 201, {"id": ident})

    async def delete_service(self, request: Request) -> Response:
        body = _only(await self.body(request), frozenset({"name"}))
        await self.authed(request, cm_accounts.delete_service, name=body.get("name"))
        return self.reply(request, 204)

    async def create_service_key(self, request: Request) -> Response:
        body = _only(await self.body(request), frozenset({"name", "expiration_timestamp", "metadata"}), ("name",))
        created = await self.authed(request, cm_accounts.create_service_key, **body)
        return self.reply(request, 201, created)

    async def delete_service_key(self, request: Request) -> Response:
        await self.authed(request, cm_accounts.delete_service_key, request.path_params["key_id"])
        return self.reply(request, 204)

    async def list_org_accounts(self, request: Request) -> Response:
        return self.reply(request, 200, await self.authed(request, cm_accounts.list_org_accounts))

    async def get_org(self, request: Request) -> Response:
        org = await self.authed(request, orgs.get_current_org)
        return self.reply(request, 200, org.to_dict())

    async def update_org(self, request: Request) -> Response:
        body = _only(await self.body(request, required=False), frozenset({"metadata", "preserve"}))
        preserve = _bool(body, "preserve", True)
        bearer, _ = _credentials(request, api_key=False)
        rt = self.rt

        def job() -> Any:
            p = rt.principal(bearer=bearer, required=True)
            assert p is not None
            kwargs = {"metadata": body["metadata"]} if "metadata" in body else {}
            return orgs.update_org(rt.ctx, p, p.org_id, preserve=preserve, **kwargs)

        org = await rt.run(job)
        return self.reply(request, 200, org.to_dict())

    # -- databases ---------------------------------------------------------------------------

    async def create_database(self, request: Request) -> Response:
        body = _only(await self.body(request), _DB_CREATE, ("name",))
        db = await self.authed(request, databases.create_database, **body)
        return self.reply(request, 201, {"id": db.id_b64})

    async def list_databases(self, request: Request) -> Response:
        page = _int_param(request, "page", 1)
        amt = _int_param(request, "amt", 10)
        found, has_next = await self.authed(request, databases.list_page, page=page, amt=amt)
        return self.reply(request, 200, {"has_next": has_next, "next_page": (page or 1) + 1,
                                         "databases": [db_listed(d) for d in found]})

    def _current(self, principal: Principal) -> str:
        if principal.database_id is None:
            raise Unauthorized("this token selects no database: log in with db_id or db_name",
                               name="NO_DATABASE_SELECTED")
        return principal.database_id

    async def current_database(self, request: Request) -> Response:
        bearer, _ = _credentials(request, api_key=False)
        rt = self.rt

        def job() -> dict[str, Any]:
            p = rt.principal(bearer=bearer, required=True)
            assert p is not None
            db = databases.get_database(rt.ctx, p, self._current(p))
            return {**db_listed(db), "org_id": db.org_id, "counters": databases.counters(rt.ctx, db),
                    "core_config": dict(db.core_config), "metadata": dict(db.metadata),
                    **({"warnings": db.warnings} if db.warnings else {})}

        return self.reply(request, 200, await rt.run(job))

    async def update_database(self, request: Request) -> Response:
        body = _only(await self.body(request, required=False), frozenset({"description", "core_config", "metadata",
                                                                          "preserve"}))
        preserve = _bool(body, "preserve", True)
        changes = {k: body[k] for k in ("description", "core_config", "metadata") if k in body}
        bearer, _ = _credentials(request, api_key=False)
        rt = self.rt

        def job() -> databases.Database:
            p = rt.principal(bearer=bearer, required=True)
            assert p is not None
            return databases.update_database(rt.ctx, p, self._current(p), preserve=preserve, **changes)

        db = await rt.run(job)
        return self.reply(request, 200, db_listed(db))

    async def delete_database(self, request: Request) -> Response:
        bearer, _ = _credentials(request, api_key=False)
        rt = self.rt

        def job() -> None:
            p = rt.principal(bearer=bearer, required=True)
            assert p is not None
            databases.delete_database(rt.ctx, p, self._current(p), wait=True)

        await rt.run(job)
        return self.reply(request, 204)

    async def database_status(self, request: Request) -> Response:
        bearer, _ = _credentials(request, api_key=False)
        rt = self.rt

        def job() -> dict[str, Any]:
            p = rt.principal(bearer=bearer, required=True)
            assert p is not None
            db = databases.get_database(rt.ctx, p, self._current(p))
            if db.cm_status is None:
                raise databases._not_found(db.id)
            return {"status": db.cm_status, **({"warnings": db.warnings} if db.warnings else {})}

        return self.reply(request, 200, await rt.run(job))

    async def task_recents(self, request: Request) -> Response:
        page = _int_param(request, "page", 1)
        amt = _int_param(request, "amt", 50)
        found, has_next = await self.authed(request, tasks.recents, request.path_params["name"], page=page, amt=amt)
        return self.reply(request, 200, {"tasks": [t.to_dict() for t in found], "has_next": has_next,
                                         "next_page": (page or 1) + 1})


def _add_entity_handlers(kind: str) -> None:
    """The properties and entity handlers of one kind (items or users mirror each other)."""
    k = kind + "s"
    ids_key, m2m_key = f"{k}_id", f"{k}_m2m"

    def path_id(request: Request) -> str:
        return request.path_params["entity_id"]

    def is_deprecated(request: Request) -> bool:
        return not request.url.path.rstrip("/").endswith("properties") and "/list" not in request.url.path

    async def list_properties(self: V1Handlers, request: Request) -> Response:
        props = await self.authed(request, entities.list_properties, kind)
        return self.reply(request, 200, {"properties": [p.to_dict(kind) for p in props]})

    async def create_property(self: V1Handlers, request: Request) -> Response:
        fields = {"property_name", "value_type", "repeated"} | ({"indexed"} if kind == "user" else set())
        body = _only(await self.body(request), frozenset(fields), ("property_name", "value_type"))
        await self.authed(request, entities.create_property, kind, **body)
        return self.reply(request, 201, {})

    async def get_property(self: V1Handlers, request: Request) -> Response:
        prop = await self.authed(request, entities.get_property, kind, request.path_params["name"])
        return self.reply(request, 200, prop.to_dict(kind))

    async def delete_property(self: V1Handlers, request: Request) -> Response:
        await self.authed(request, entities.delete_property, kind, request.path_params["name"])
        return self.reply(request, 204)

    async def get_one(self: V1Handlers, request: Request) -> Response:
        found = await self.authed(request, entities.get_entity, kind, path_id(request))
        return self.reply(request, 200, {kind: found}, deprecated=is_deprecated(request))

    async def put_one(self: V1Handlers, request: Request) -> Response:
        body = _only(await self.body(request), frozenset({kind, "wait_for_completion"}))
        wait = _bool(body, "wait_for_completion", True)
        task = await self.authed(request, entities.put_entity, kind, path_id(request), body.get(kind), wait=wait)
        return _written(self, request, task)

    async def patch_one(self: V1Handlers, request: Request) -> Response:
        body = _only(await self.body(request), frozenset({kind, "create_if_missing"}))
        out = await self.authed(request, entities.patch_entity, kind, path_id(request), body.get(kind),
                                create_if_missing=_bool(body, "create_if_missing", False))
        return self.reply(request, 200, out, deprecated=is_deprecated(request))

    async def delete_one(self: V1Handlers, request: Request) -> Response:
        await self.authed(request, entities.delete_entity, kind, path_id(request))
        return self.reply(request, 204, deprecated=is_deprecated(request))

    async def scan(self: V1Handlers, request: Request) -> Response:
        params = request.query_params
        unknown = set(params) - {"amt", "cursor", "properties", "filters"}
        if unknown:
            raise InvalidParameter(f"unknown query parameters {sorted(unknown)}", name="WRONG_DATA_TYPE",
                                   data={"key": sorted(unknown)[0][:64]})
        props = params.getlist("properties") or None
        page = await self.authed(request, entities.scan_entities, kind, filters=params.getlist("filters"),
                                 cursor=params.get("cursor") or None, amt=_int_param(request, "amt", None),
                                 properties=props)
        return self.reply(request, 200, {k: page.entities, "has_next": page.has_next,
                                         "next_cursor": page.next_cursor}, deprecated=is_deprecated(request))

    async def put_many(self: V1Handlers, request: Request) -> Response:
        body = _only(await self.body(request), frozenset({k, m2m_key, "wait_for_completion"}))
        task = await self.authed(request, entities.put_entities, kind, body.get(k), _m2m(body.get(m2m_key), kind),
                                 wait=_bool(body, "wait_for_completion", True))
        return _written(self, request, task)

    async def patch_many(self: V1Handlers, request: Request) -> Response:
        body = _only(await self.body(request), frozenset({k, m2m_key, "wait_for_completion", "create_if_missing"}))
        task = await self.authed(request, entities.patch_entities, kind, body.get(k), _m2m(body.get(m2m_key), kind),
                                 create_if_missing=_bool(body, "create_if_missing", False),
                                 wait=_bool(body, "wait_for_completion", True))
        return _written(self, request, task)

    async def delete_many(self: V1Handlers, request: Request) -> Response:
        body = _only(await self.body(request), frozenset({ids_key}))
        await self.authed(request, entities.delete_entities, kind, body.get(ids_key))
        return self.reply(request, 204, deprecated=is_deprecated(request))

    async def list_by_ids(self: V1Handlers, request: Request) -> Response:
        body = _only(await self.body(request), frozenset({ids_key, "properties"}))
        found = await self.authed(request, entities.list_entities, kind, body.get(ids_key),
                                  properties=body.get("properties"))
        return self.reply(request, 200, {k: found}, deprecated="/properties/" not in request.url.path + "/")

    def _written(self: V1Handlers, request: Request, task: Any) -> Response:
        if not isinstance(task, tasks.Task):        # done: the write returned its own result
            return self.reply(request, 200, {}, deprecated=is_deprecated(request))
        return self.reply(request, 202, {"task_id": task.id, "task_name": task.name},
                          deprecated=is_deprecated(request))

    for name, fn in ((f"list_{kind}_properties", list_properties), (f"create_{kind}_property", create_property),
                     (f"get_{kind}_property", get_property), (f"delete_{kind}_property", delete_property),
                     (f"get_{kind}", get_one), (f"put_{kind}", put_one), (f"patch_{kind}", patch_one),
                     (f"delete_{kind}", delete_one), (f"scan_{k}", scan), (f"put_{k}", put_many),
                     (f"patch_{k}", patch_many), (f"delete_{k}", delete_many), (f"list_{k}", list_by_ids)):
        setattr(V1Handlers, name, fn)


_add_entity_handlers("item")
_add_entity_handlers("user")

