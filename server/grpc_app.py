"""The gRPC face: every method of the roarbase.v1 services as a thin adapter over server/service/.

`build_server(runtime)` returns a grpc.aio server (not started, no port: serve.py binds and
starts it) with one handler per method of `server.methods.method_descriptors()`, plus
grpc.health.v1 (SERVING for "" and every service) and server reflection.

Every call goes through one wrapper (`_Handler`), which, in order:
1. refuses a method without a row in the policy table (default deny, SECURITY.md §2);
2. authenticates non-public methods from `authorization: Bearer <jwt>` or `x-api-key`
   metadata before any other work (the service functions then check the policy row with
   the principal themselves);
3. runs the adapter: unpack the request -> `runtime.run(service function)` on the worker
   pool -> pack the answer (a client-streaming adapter, BulkWrite, is handed the request
   stream and runs one service call per message). The client's deadline becomes the `Call` the engine checks
   between shards; a cancelled call sets `Call.cancel` (RELIABILITY R12);
4. maps any exception through server.errors.to_grpc_status: the unified code's status,
   the roarbase-* trailing metadata and a google.rpc.Status with an ErrorInfo. Unexpected
   exceptions are answered InternalServerError with a request id and logged with it.

Message size: grpcio refuses a received message above limits.max_payload_bytes itself
(RESOURCE_EXHAUSTED, which from_grpc names PayloadTooLarge); sent messages are kept under
the same cap by splitting SQL row batches and PqlStream results.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
from typing import Any, AsyncIterator, Awaitable, Callable, NoReturn, Optional, Union, cast

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from server import errors, grpc_access, grpc_values as values, methods, policy, telemetry
from server.service import tokens
from server.service.principal import Principal
from server.pb.roarbase.v1 import (
    account_pb2,
    auth_pb2,
    database_pb2,
    entity_pb2,
    invite_pb2,
    org_pb2,
    query_pb2,
    role_pb2,
    task_pb2,
)
from server.runtime import Call, Runtime
from server.service import (
    accounts,
    backups,
    cluster_members,
    databases,
    entities,
    invites,
    orgs,
    query,
    roles,
    service_properties,
    tasks,
    transfers,
)
from server.service.context import ServiceContext
from server.error_table import ServerError
from server.service.errors import Forbidden, InvalidParameter, MissingParameter, PayloadTooLarge, Unauthorized, \
    as_server_error

log = logging.getLogger("roarbase.grpc")

# Room left under the transport cap for the envelope around split payloads (oneof tags,
# lengths, call_index, last).
_ENVELOPE_BYTES = 64
# How often WatchDatabase looks at the state-change counter while nothing changes.
_WATCH_POLL_SECONDS = 0.05
_TERMINAL_STATES = frozenset({databases.RUNNING, databases.DELETED, databases.FAILED, databases.FROZEN})

Unary = Callable[["Rpc", Any], Awaitable[Message]]
Streaming = Callable[["Rpc", Any], AsyncIterator[Message]]
ClientStreaming = Callable[["Rpc", AsyncIterator[Any]], Awaitable[Message]]
_ADAPTERS: dict[str, Union[Unary, Streaming, ClientStreaming]] = {}


def _adapter(service: str, method: str) -> Callable[[Any], Any]:
    def register(fn: Any) -> Any:
        _ADAPTERS[f"/{policy.PACKAGE}.{service}/{method}"] = fn
        return fn
    return register


class Rpc:
    """One call as an adapter sees it: the runtime, the verified principal (None for public
    methods), the client's deadline and cancel event, and the message budget."""

    def __init__(self, runtime: Runtime, call: Call) -> None:
        self.runtime = runtime
        self.ctx: ServiceContext = runtime.ctx
        self.call = call
        self.principal: Optional[Principal] = None
        self.address = "?"  # the client's host, what unauthenticated work is charged to
        self.max_bytes = max(1, runtime.ctx.config.limits.max_payload_bytes - _ENVELOPE_BYTES)

    async def run(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """fn(*args, **kwargs) on the worker pool, under this call's deadline and cancel."""
        return await self.runtime.run(fn, *args, call=self.call, **kwargs)

    def query_limits(self) -> dict[str, Any]:
        """The timeout/cancel keywords of the query service functions."""
        return {"timeout": self.call.remaining(), "cancel": self.call.cancel}

    def database_id(self, given: str, key: str = "database_id") -> str:
        """A request's database id; empty means the database of the token's `db` claim."""
        ident = given or (self.principal.database_id if self.principal is not None else None)
        if not ident:
            raise MissingParameter(f"{key} is required (or a token bound to a database)", data={"key": key})
        return ident


def _credentials(metadata: Any) -> tuple[Optional[str], Optional[str]]:
    """(bearer token, API key) from the invocation metadata."""
    bearer = api_key = None
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str) and value:
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("invalid or revoked token")
            bearer = token.strip()
        elif key == "x-api-key" and isinstance(value, str) and value:
            api_key = value
    return bearer, api_key


def _peer_host(peer: str) -> str:
    """The host part of grpc's peer string ("ipv4:127.0.0.1:5000", "ipv6:[::1]:5000")."""
    kind, _, rest = (peer or "").partition(":")
    if kind == "ipv6" and rest.startswith("["):
        return rest[1:].partition("]")[0]
    return rest.rpartition(":")[0] or rest or "?"


class _Handler:
    """The wrapper every method runs in (see the module docstring)."""

    def __init__(self, runtime: Runtime, path: str, adapter: Union[Unary, Streaming, ClientStreaming]) -> None:
        self.runtime = runtime
        self.path = path
        self.rule = policy.rule(policy.operation(path))
        self.adapter = adapter

    async def _start(self, context: grpc.aio.ServicerContext, request: Any) -> Rpc:
        rpc = Rpc(self.runtime, Call(context.time_remaining()))
        rpc.address = _peer_host(context.peer())
        if self.rule is None:
            raise Forbidden(name="NO_POLICY")
        if self.rule.public:
            # No org to charge before the body is checked (Login, RefreshToken): charge the
            # caller's address, as the HTTP face does, so password guessing is throttled.
            self.runtime.rate.take("address:" + rpc.address)
        else:
            bearer, api_key = _credentials(context.invocation_metadata())
            rpc.principal = self.runtime.cached_principal(bearer=bearer, api_key=api_key) \
                or await rpc.run(self.runtime.principal, bearer=bearer, api_key=api_key, address=rpc.address)
        if isinstance(request, _Malformed):  # after authentication, as the HTTP face reads bodies
            raise ServerError("InvalidBody", f"the request is not a well-formed message for {self.path}"
                                     f" ({request.reason})")
        return rpc

    async def _fail(self, context: grpc.aio.ServicerContext, exc: Exception) -> NoReturn:
        info = telemetry.current_request()   # begun by the access interceptor
        request_id = info.request_id if info is not None else telemetry.new_request_id()
        err = as_server_error(exc)
        telemetry.note_error(err.code, err.name)
        if err.code == "InternalServerError":
            log.error("%s failed (request %s)", self.path, request_id, exc_info=exc)
        else:
            log.debug("%s: %s %s (request %s)", self.path, err.code, err.name, request_id)
        code, message, metadata = errors.to_grpc_status(err, request_id=request_id)
        await context.abort(code, message, (*metadata, (telemetry.REQUEST_ID_HEADER, request_id)))
        raise AssertionError("context.abort returned")  # it always raises

    async def unary(self, request: Any, context: grpc.aio.ServicerContext) -> Message:
        try:
            rpc = await self._start(context, request)
            # _method_handler chose this behaviour by the method's kind, which is the adapter's too.
            return await cast(Unary, self.adapter)(rpc, request)
        except Exception as exc:  # every failure is answered by the error table
            failure = exc
        await self._fail(context, failure)

    async def client_stream(self, requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> Message:
        # Authenticated before the first request message is read; a malformed message in
        # the stream arrives as _Malformed, for the adapter to refuse.
        try:
            rpc = await self._start(context, None)
            return await cast(ClientStreaming, self.adapter)(rpc, requests)
        except Exception as exc:  # every failure is answered by the error table
            failure = exc
        await self._fail(context, failure)

    async def stream(self, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Message]:
        try:
            rpc = await self._start(context, request)
            async for message in cast(Streaming, self.adapter)(rpc, request):
                yield message
            return
        except Exception as exc:  # every failure is answered by the error table
            failure = exc
        await self._fail(context, failure)


class _Malformed:
    """What the request deserializer hands over for bytes that are not the method's
    message: the handler answers InvalidBody (INVALID_ARGUMENT) for it, where an exception
    from the deserializer itself would reach the client as UNKNOWN."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _lenient(parse: Callable[[bytes], Message]) -> Callable[[bytes], Any]:
    def deserialize(raw: bytes) -> Any:
        try:
            return parse(raw)
        except (DecodeError, RecursionError, ValueError) as exc:
            return _Malformed(type(exc).__name__)
    return deserialize


def _method_handler(runtime: Runtime, path: str, method: MethodDescriptor) -> grpc.RpcMethodHandler:
    adapter = _ADAPTERS.get(path)
    if adapter is None or (method.client_streaming and method.server_streaming):
        raise RuntimeError(f"no gRPC adapter for {path}: every method of the protos needs one")
    handler = _Handler(runtime, path, adapter)
    request = message_factory.GetMessageClass(method.input_type)
    response = message_factory.GetMessageClass(method.output_type)
    make = grpc.unary_stream_rpc_method_handler if method.server_streaming else grpc.unary_unary_rpc_method_handler
    behaviour: Callable[..., Any] = handler.stream if method.server_streaming else handler.unary
    if method.client_streaming:
        make, behaviour = grpc.stream_unary_rpc_method_handler, handler.client_stream
    return make(behaviour, request_deserializer=_lenient(request.FromString),
                response_serializer=response.SerializeToString)


class _Health(health_pb2_grpc.HealthServicer):
    """grpc.health.v1: SERVING for "" and each roarbase.v1 service while the server runs.
    Unauthenticated: it reveals only that."""

    def __init__(self, services: frozenset[str]) -> None:
        self.services = services | {""}

    def _status(self, service: str) -> int:
        return health_pb2.HealthCheckResponse.SERVING if service in self.services \
            else health_pb2.HealthCheckResponse.SERVICE_UNKNOWN

    async def Check(self, request: health_pb2.HealthCheckRequest,  # the proto's name
                    context: grpc.aio.ServicerContext) -> health_pb2.HealthCheckResponse:
        if request.service not in self.services:
            await context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        return health_pb2.HealthCheckResponse(status=self._status(request.service))

    async def Watch(self, request: health_pb2.HealthCheckRequest,  # the proto's name
                    context: grpc.aio.ServicerContext) -> AsyncIterator[health_pb2.HealthCheckResponse]:
        yield health_pb2.HealthCheckResponse(status=self._status(request.service))
        # The status never changes while the server runs: hold the stream open until the
        # client leaves or the server stops (both cancel this task).
        await asyncio.get_running_loop().create_future()


def build_server(runtime: Runtime) -> grpc.aio.Server:
    """The gRPC server of one process: every roarbase.v1 method, health and reflection.

    Not started and without ports: the caller adds them (serve.py). Raises RuntimeError
    when a method of the protos has no adapter here (a programming error, caught by tests).
    """
    limit = runtime.ctx.config.limits.max_payload_bytes
    # grpc.so_reuseport=0: grpcio sets SO_REUSEPORT by default, which lets a second server
    # bind the same port and silently take half the connections; a clash must fail start-up.
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", limit),
                                      ("grpc.max_send_message_length", limit),
                                      ("grpc.so_reuseport", 0)],
                             interceptors=[grpc_access.AccessInterceptor()])
    by_service: dict[str, dict[str, grpc.RpcMethodHandler]] = {}
    for path, method in methods.method_descriptors().items():
        by_service.setdefault(method.containing_service.full_name, {})[method.name] = \
            _method_handler(runtime, path, method)
    server.add_generic_rpc_handlers(tuple(grpc.method_handlers_generic_handler(name, handlers)
                                          for name, handlers in by_service.items()))
    health_pb2_grpc.add_HealthServicer_to_server(_Health(frozenset(by_service)), server)
    reflection.enable_server_reflection(
        (*by_service, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), server)
    return server


# -- AuthService -------------------------------------------------------------------------

def _login_response(ctx: ServiceContext, pair: tokens.TokenPair) -> auth_pb2.LoginResponse:
    out = auth_pb2.LoginResponse(token=pair.token, refresh_token=pair.refresh_token, expires_in=pair.expires_in,
                                 role=pair.role, org_id=pair.org_id)
    if pair.database_id:
        # The token was just issued: its principal sees exactly the database it is bound to.
        principal = tokens.verify_access_token(ctx, pair.token)
        out.database.CopyFrom(values.database(databases.load(ctx, principal, pair.database_id)))
    return out


def _database_ref(req: Any) -> Optional[str]:
    which = req.WhichOneof("database")
    return getattr(req, which) if which else None


def _login(ctx: ServiceContext, req: auth_pb2.LoginRequest) -> auth_pb2.LoginResponse:
    which = req.WhichOneof("principal")
    # A frontend login names the end user (and session) the token acts for; the ids are
    # checked against the database's user_id_type / session_id_type.
    pair = tokens.login(ctx, password=req.password, email=req.email if which == "email" else None,
                      name=req.name if which == "name" else None, database=_database_ref(req),
                      end_user=req.frontend_user_id or None, session=req.frontend_session_id or None)
    return _login_response(ctx, pair)


@_adapter("AuthService", "Login")
async def _auth_login(rpc: Rpc, req: auth_pb2.LoginRequest) -> auth_pb2.LoginResponse:
    return await rpc.runtime.run_login(_login, rpc.ctx, req, address=rpc.address,
                                       account=req.email or req.name)


def _refresh(ctx: ServiceContext, req: auth_pb2.RefreshTokenRequest) -> auth_pb2.LoginResponse:
    return _login_response(ctx, tokens.refresh(ctx, req.refresh_token, database=_database_ref(req)))


@_adapter("AuthService", "RefreshToken")
async def _auth_refresh(rpc: Rpc, req: auth_pb2.RefreshTokenRequest) -> auth_pb2.LoginResponse:
    return await rpc.runtime.run_login(_refresh, rpc.ctx, req, address=rpc.address)


def _create_api_key(ctx: ServiceContext, principal: Optional[Principal],
                    req: auth_pb2.CreateApiKeyRequest) -> auth_pb2.CreateApiKeyResponse:
    expires_in = None
    if req.HasField("expires_at"):
        expires_in = math.ceil(values.seconds(req.expires_at) - ctx.now())
        if expires_in < 1:
            raise InvalidParameter("expires_at must be in the future", data={"key": "expires_at"})
    account_id = req.account_id or (principal.account_id if principal is not None else "")
    created = tokens.create_api_key(ctx, principal, account_id=account_id, expires_in_seconds=expires_in,
                                  label=req.label)
    return auth_pb2.CreateApiKeyResponse(api_key=values.api_key(created.api_key), key=created.key)


@_adapter("AuthService", "CreateApiKey")
async def _auth_create_api_key(rpc: Rpc, req: auth_pb2.CreateApiKeyRequest) -> auth_pb2.CreateApiKeyResponse:
    return await rpc.run(_create_api_key, rpc.ctx, rpc.principal, req)


@_adapter("AuthService", "RevokeApiKey")
async def _auth_revoke_api_key(rpc: Rpc, req: auth_pb2.RevokeApiKeyRequest) -> auth_pb2.RevokeApiKeyResponse:
    await rpc.run(tokens.revoke_api_key, rpc.ctx, rpc.principal, req.id)
    return auth_pb2.RevokeApiKeyResponse()


@_adapter("AuthService", "ListApiKeys")
async def _auth_list_api_keys(rpc: Rpc, req: auth_pb2.ListApiKeysRequest) -> auth_pb2.ListApiKeysResponse:
    page = await rpc.run(tokens.list_api_keys, rpc.ctx, rpc.principal, account_id=req.account_id or None, **_page(req))
    return auth_pb2.ListApiKeysResponse(next=page.next, resources=[values.api_key(k) for k in page.resources])


# -- OrgService --------------------------------------------------------------------------

@_adapter("OrgService", "GetOrg")
async def _org_get(rpc: Rpc, req: org_pb2.GetOrgRequest) -> org_pb2.Org:
    if req.id:
        return values.org(await rpc.run(orgs.get_org, rpc.ctx, rpc.principal, req.id))
    return values.org(await rpc.run(orgs.get_current_org, rpc.ctx, rpc.principal))


def _optional(req: Message, *names: str) -> dict[str, Any]:
    """The `optional` fields a request sets, by name."""
    return {name: getattr(req, name) for name in names if req.HasField(name)}


@_adapter("OrgService", "UpdateOrg")
async def _org_update(rpc: Rpc, req: org_pb2.UpdateOrgRequest) -> org_pb2.Org:
    changes = _optional(req, "name", "company_name", "address")
    if req.HasField("tech_contact_emali"):
        changes["tech_contact_email"] = req.tech_contact_emali
    if req.HasField("billing_contact_emali"):
        changes["billing_contact_email"] = req.billing_contact_emali
    if req.HasField("metadata_json"):
        changes["metadata"] = values.json_object(req.metadata_json, "metadata_json") or {}
    assert rpc.principal is not None
    org_id = req.id or rpc.principal.org_id
    return values.org(await rpc.run(orgs.update_org, rpc.ctx, rpc.principal, org_id, preserve=req.preserve,
                                    **changes))


@_adapter("OrgService", "GetServiceProperty")
async def _org_property(rpc: Rpc, req: org_pb2.GetServicePropertyRequest) -> org_pb2.ServiceProperty:
    prop = await rpc.run(service_properties.get_service_property, rpc.ctx, rpc.principal, req.property)
    return values.service_property(prop)


# -- AccountService ----------------------------------------------------------------------

_KIND_NAMES = {account_pb2.ACCOUNT_KIND_UNSPECIFIED: accounts.INDIVIDUAL,
               account_pb2.ACCOUNT_KIND_INDIVIDUAL: accounts.INDIVIDUAL,
               account_pb2.ACCOUNT_KIND_SERVICE: accounts.SERVICE}
_STATUS_NAMES = {account_pb2.ACCOUNT_STATUS_ACTIVE: accounts.ACTIVE,
                 account_pb2.ACCOUNT_STATUS_DEACTIVATED: accounts.DEACTIVATED}


def _page(req: Any) -> dict[str, Any]:
    """A list request's paging: limit 0 means the server's default."""
    return {"limit": req.limit or None, "next_token": req.next or None}


@_adapter("AccountService", "CreateAccount")
async def _account_create(rpc: Rpc, req: account_pb2.CreateAccountRequest) -> account_pb2.Account:
    fields: dict[str, Any] = {"kind": _KIND_NAMES.get(req.kind, req.kind), "email": req.email or None,
                              "name": req.name or None, "firstname": req.firstname, "lastname": req.lastname,
                              "password": req.password or None}
    if req.role:
        fields["role"] = req.role
    return values.account(await rpc.run(accounts.create_account, rpc.ctx, rpc.principal, **fields))


@_adapter("AccountService", "GetAccount")
async def _account_get(rpc: Rpc, req: account_pb2.GetAccountRequest) -> account_pb2.Account:
    return values.account(await rpc.run(accounts.get_account, rpc.ctx, rpc.principal, req.id))


@_adapter("AccountService", "GetCurrentAccount")
async def _account_current(rpc: Rpc, req: account_pb2.GetCurrentAccountRequest) -> account_pb2.Account:
    return values.account(await rpc.run(accounts.get_current_account, rpc.ctx, rpc.principal))


@_adapter("AccountService", "UpdateAccount")
async def _account_update(rpc: Rpc, req: account_pb2.UpdateAccountRequest) -> account_pb2.Account:
    changes = _optional(req, "firstname", "lastname")
    if req.HasField("acl"):
        changes["acl"] = list(req.acl.values)
    if req.HasField("status"):
        changes["status"] = _STATUS_NAMES.get(req.status, req.status)
    return values.account(await rpc.run(accounts.update_account, rpc.ctx, rpc.principal, req.id, **changes))


@_adapter("AccountService", "ListAccounts")
async def _account_list(rpc: Rpc, req: account_pb2.ListAccountsRequest) -> account_pb2.ListAccountsResponse:
    page = await rpc.run(accounts.list_accounts, rpc.ctx, rpc.principal, **_page(req))
    return account_pb2.ListAccountsResponse(next=page.next, resources=[values.account(a) for a in page.resources])


@_adapter("AccountService", "AddAccountRoles")
async def _account_add_roles(rpc: Rpc, req: account_pb2.AddAccountRolesRequest) -> account_pb2.AccountRoles:
    got = await rpc.run(accounts.add_account_roles, rpc.ctx, rpc.principal, req.id, list(req.rolenames))
    return account_pb2.AccountRoles(user_id=got.user_id, org_id=got.org_id, rolenames=list(got.rolenames))


@_adapter("AccountService", "MoveAccountOrg")
async def _account_move(rpc: Rpc, req: account_pb2.MoveAccountOrgRequest) -> account_pb2.Account:
    return values.account(await rpc.run(invites.move_account_org, rpc.ctx, rpc.principal, req.id, req.invite_id))


@_adapter("AccountService", "DeleteAccount")
async def _account_delete(rpc: Rpc, req: account_pb2.DeleteAccountRequest) -> account_pb2.DeleteAccountResponse:
    await rpc.run(accounts.delete_account, rpc.ctx, rpc.principal, req.id)
    return account_pb2.DeleteAccountResponse()


# -- RoleService -------------------------------------------------------------------------

@_adapter("RoleService", "CreateRole")
async def _role_create(rpc: Rpc, req: role_pb2.CreateRoleRequest) -> role_pb2.Role:
    return values.role(await rpc.run(roles.create_role, rpc.ctx, rpc.principal, req.rolename, list(req.acl)))


@_adapter("RoleService", "GetRole")
async def _role_get(rpc: Rpc, req: role_pb2.GetRoleRequest) -> role_pb2.Role:
    return values.role(await rpc.run(roles.get_role, rpc.ctx, rpc.principal, req.rolename))


@_adapter("RoleService", "ListRoles")
async def _role_list(rpc: Rpc, req: role_pb2.ListRolesRequest) -> role_pb2.ListRolesResponse:
    page = await rpc.run(roles.list_roles, rpc.ctx, rpc.principal, **_page(req))
    return role_pb2.ListRolesResponse(next=page.next, resources=[values.role(r) for r in page.resources])


@_adapter("RoleService", "UpdateRole")
async def _role_update(rpc: Rpc, req: role_pb2.UpdateRoleRequest) -> role_pb2.Role:
    return values.role(await rpc.run(roles.update_role, rpc.ctx, rpc.principal, req.rolename, list(req.acl)))


@_adapter("RoleService", "DeleteRole")
async def _role_delete(rpc: Rpc, req: role_pb2.DeleteRoleRequest) -> role_pb2.DeleteRoleResponse:
    await rpc.run(roles.delete_role, rpc.ctx, rpc.principal, req.rolename)
    return role_pb2.DeleteRoleResponse()


# -- InviteService -----------------------------------------------------------------------

@_adapter("InviteService", "CreateInvite")
async def _invite_create(rpc: Rpc, req: invite_pb2.CreateInviteRequest) -> invite_pb2.Invite:
    return values.invite(await rpc.run(invites.create_invite, rpc.ctx, rpc.principal, email=req.email))


@_adapter("InviteService", "GetInvite")
async def _invite_get(rpc: Rpc, req: invite_pb2.GetInviteRequest) -> invite_pb2.Invite:
    return values.invite(await rpc.run(invites.get_invite, rpc.ctx, rpc.principal, req.id))


@_adapter("InviteService", "ListInvites")
async def _invite_list(rpc: Rpc, req: invite_pb2.ListInvitesRequest) -> invite_pb2.ListInvitesResponse:
    page = await rpc.run(invites.list_invites, rpc.ctx, rpc.principal, **_page(req))
    return invite_pb2.ListInvitesResponse(next=page.next, resources=[values.invite(i) for i in page.resources])


@_adapter("InviteService", "UpdateInvite")
async def _invite_update(rpc: Rpc, req: invite_pb2.UpdateInviteRequest) -> invite_pb2.Invite:
    accepted = req.accepted if req.HasField("accepted") else None
    return values.invite(await rpc.run(invites.update_invite, rpc.ctx, rpc.principal, req.id, accepted=accepted))


# -- DatabaseService ---------------------------------------------------------------------

@_adapter("DatabaseService", "CreateDatabase")
async def _database_create(rpc: Rpc, req: database_pb2.CreateDatabaseRequest) -> database_pb2.Database:
    db = await rpc.run(
        databases.create_database, rpc.ctx, rpc.principal, name=req.name, description=req.description,
        item_id_type=req.item_id_type or None, user_id_type=req.user_id_type or None,
        session_id_type=req.session_id_type or None,
        database_options=values.json_object(req.database_options_json, "database_options_json"),
        core_config=values.json_object(req.core_config_json, "core_config_json"),
        metadata=values.json_object(req.metadata_json, "metadata_json"))
    return values.database(db)


@_adapter("DatabaseService", "GetDatabase")
async def _database_get(rpc: Rpc, req: database_pb2.GetDatabaseRequest) -> database_pb2.Database:
    return values.database(await rpc.run(databases.get_database, rpc.ctx, rpc.principal,
                                         rpc.database_id(req.id, "id")))


@_adapter("DatabaseService", "ListDatabases")
async def _database_list(rpc: Rpc, req: database_pb2.ListDatabasesRequest) -> database_pb2.ListDatabasesResponse:
    page = await rpc.run(databases.list_databases, rpc.ctx, rpc.principal, **_page(req))
    return database_pb2.ListDatabasesResponse(next=page.next, resources=[values.database(d) for d in page.resources])


@_adapter("DatabaseService", "UpdateDatabase")
async def _database_update(rpc: Rpc, req: database_pb2.UpdateDatabaseRequest) -> database_pb2.Database:
    changes = _optional(req, "name", "owned_by", "description")
    if req.HasField("core_config_json"):
        changes["core_config"] = values.json_object(req.core_config_json, "core_config_json") or {}
    if req.HasField("metadata_json"):
        changes["metadata"] = values.json_object(req.metadata_json, "metadata_json") or {}
    db = await rpc.run(databases.update_database, rpc.ctx, rpc.principal, rpc.database_id(req.id, "id"),
                       preserve=req.preserve, **changes)
    return values.database(db)


_background: set[asyncio.Future[Any]] = set()


def _deprovisioned(task: asyncio.Future[Any]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        # The database stays DELETING; the next start's recovery finishes the deletion.
        log.error("deprovisioning a deleted database failed", exc_info=task.exception())


@_adapter("DatabaseService", "DeleteDatabase")
async def _database_delete(rpc: Rpc, req: database_pb2.DeleteDatabaseRequest) -> database_pb2.Database:
    db = await rpc.run(databases.delete_database, rpc.ctx, rpc.principal, rpc.database_id(req.id, "id"))
    # FB's 202 semantics: answer with the DELETING resource, remove the files afterwards
    # (not bound to this call's deadline or cancellation).
    # Straight onto the pool, past admission control: a busy server must not leave the
    # database DELETING until the next restart.
    task = asyncio.ensure_future(asyncio.get_running_loop().run_in_executor(
        rpc.runtime.pool, databases.deprovision_database, rpc.ctx, db.id))
    _background.add(task)
    task.add_done_callback(_deprovisioned)
    return values.database(db)


def _membership(m: Any) -> database_pb2.ClusterMembership:
    return database_pb2.ClusterMembership(
        database_id=m.database_id, worker=m.worker, epoch=m.epoch, workers=m.workers,
        moved=[database_pb2.ShardRef(table=t, shard=s) for t, s in m.moved])


@_adapter("DatabaseService", "AddClusterWorker")
async def _cluster_add_worker(rpc: Rpc, req: database_pb2.ClusterWorkerRequest) -> database_pb2.ClusterMembership:
    return _membership(await rpc.run(cluster_members.add_worker, rpc.ctx, rpc.principal,
                                     rpc.database_id(req.id, "id"), req.name))


@_adapter("DatabaseService", "RemoveClusterWorker")
async def _cluster_remove_worker(rpc: Rpc, req: database_pb2.ClusterWorkerRequest) -> database_pb2.ClusterMembership:
    return _membership(await rpc.run(cluster_members.remove_worker, rpc.ctx, rpc.principal,
                                     rpc.database_id(req.id, "id"), req.name))


@_adapter("DatabaseService", "RebalanceCluster")
async def _cluster_rebalance(rpc: Rpc, req: database_pb2.RebalanceClusterRequest) -> database_pb2.ClusterMembership:
    return _membership(await rpc.run(cluster_members.rebalance, rpc.ctx, rpc.principal,
                                     rpc.database_id(req.id, "id")))


@_adapter("DatabaseService", "WatchDatabase")
async def _database_watch(rpc: Rpc, req: database_pb2.WatchDatabaseRequest) -> AsyncIterator[database_pb2.Database]:
    ident = rpc.database_id(req.id, "id")
    sent: Optional[str] = None
    while True:
        seen = rpc.ctx.version
        db = await rpc.run(databases.wait_for_change, rpc.ctx, rpc.principal, ident, known_state=None, timeout=0)
        if db.state != sent:
            yield values.database(db)
            sent = db.state
        if db.state in _TERMINAL_STATES:
            return
        # Wait on the event loop, not on a worker: a watcher must not hold a thread.
        while rpc.ctx.version == seen:
            await asyncio.sleep(_WATCH_POLL_SECONDS)


# -- DatabaseService: export, import, backup, restore --------------------------------------

async def _stream_chunks(rpc: Rpc, chunks: Any, make: Callable[[bytes], Message]) -> AsyncIterator[Message]:
    """A worker-side byte generator as messages under the cap; the generator is closed
    (its export or backup released) however the call ends."""
    loop = asyncio.get_running_loop()
    try:
        while True:
            # Straight onto the pool, past admission: a started stream must not be cut by a
            # busy server.
            data = await loop.run_in_executor(rpc.runtime.pool, next, chunks, None)
            if data is None:
                return
            for i in range(0, len(data), rpc.max_bytes):
                yield make(data[i:i + rpc.max_bytes])
    finally:
        await loop.run_in_executor(rpc.runtime.pool, chunks.close)


async def _spool(rpc: Rpc, requests: AsyncIterator[Any], first: Callable[[Any], None]) -> str:
    """Write a client stream's `data` to a spool file (limits.max_import_bytes); `first`
    sees the first message. Returns the file's path (the caller removes it)."""
    limit = rpc.ctx.config.limits.max_import_bytes
    path, f = transfers.new_spool(rpc.ctx)
    try:
        size, seen = 0, False
        with f:
            async for msg in requests:
                if isinstance(msg, _Malformed):
                    raise ServerError("InvalidBody", f"a chunk is not a well-formed message ({msg.reason})")
                if not seen:
                    first(msg)
                    seen = True
                size += len(msg.data)
                if size > limit:
                    raise PayloadTooLarge(f"the stream is larger than {limit} bytes", data={"limit": limit})
                f.write(msg.data)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(path)
        raise
    return path


@_adapter("DatabaseService", "ExportDatabase")
async def _database_export(rpc: Rpc, req: database_pb2.ExportDatabaseRequest) -> AsyncIterator[database_pb2.ExportChunk]:
    fmt = "json" if req.format == database_pb2.EXPORT_FORMAT_JSON else "ndjson"
    export = await rpc.run(transfers.start_export, rpc.ctx, rpc.principal, rpc.database_id(req.id, "id"), fmt=fmt,
                           gzip=req.gzip)
    async for message in _stream_chunks(rpc, export.chunks(), lambda data: database_pb2.ExportChunk(
            data=data, records_done=export.done, records_total=export.total)):
        yield message


@_adapter("DatabaseService", "ImportDatabase")
async def _database_import(rpc: Rpc, requests: AsyncIterator[database_pb2.ImportChunk]
                           ) -> database_pb2.ImportDatabaseResponse:
    ident: list[str] = []
    path = await _spool(rpc, requests, lambda msg: ident.append(msg.id))
    try:
        result = await rpc.runtime.run(transfers.import_database, rpc.ctx, rpc.principal,
                                       rpc.database_id(ident[0] if ident else "", "id"), path)
    finally:
        with contextlib.suppress(OSError):
            os.remove(path)
    return database_pb2.ImportDatabaseResponse(
        items=result.items, users=result.users, rows=result.rows, properties_created=result.properties_created,
        tables_created=result.tables_created, columns_created=result.columns_created,
        connections_missing=result.connections_missing, seconds=result.seconds)


@_adapter("DatabaseService", "BackupDatabase")
async def _database_backup(rpc: Rpc, req: database_pb2.BackupDatabaseRequest) -> AsyncIterator[database_pb2.BackupChunk]:
    backup = await rpc.run(backups.start_backup, rpc.ctx, rpc.principal, rpc.database_id(req.id, "id"))
    async for message in _stream_chunks(rpc, backup.chunks(), lambda data: database_pb2.BackupChunk(
            data=data, bytes_done=backup.done, bytes_total=backup.total)):
        yield message


@_adapter("DatabaseService", "RestoreDatabase")
async def _database_restore(rpc: Rpc, requests: AsyncIterator[database_pb2.RestoreChunk]) -> database_pb2.Database:
    first: list[database_pb2.RestoreChunk] = []
    path = await _spool(rpc, requests, first.append)
    try:
        if not first or not first[0].name:
            raise MissingParameter("name is required (in the first message)", data={"key": "name"})
        db = await rpc.runtime.run(backups.restore_backup, rpc.ctx, rpc.principal, path, name=first[0].name,
                                   description=first[0].description or None)
    finally:
        with contextlib.suppress(OSError):
            os.remove(path)
    return values.database(db)


# -- QueryService ------------------------------------------------------------------------

def _sql_messages(batches: Any, converters: list[values.Converter], max_bytes: int
                  ) -> Optional[list[query_pb2.SqlResponse]]:
    """The next engine batch of rows as messages under the cap; None when rows are done."""
    batch = next(batches, None)
    if batch is None:
        return None
    try:
        return list(values.sql_batches(batch, converters, max_bytes))
    except values.RowTooLarge as exc:
        raise PayloadTooLarge(f"a result row takes {exc.size} bytes, more than the message limit",
                              name="ROW_TOO_LARGE") from None


@_adapter("QueryService", "Sql")
async def _query_sql(rpc: Rpc, req: query_pb2.SqlRequest) -> AsyncIterator[query_pb2.SqlResponse]:
    started = time.perf_counter()
    answer = await rpc.run(query.sql, rpc.ctx, rpc.principal, rpc.database_id(req.database_id), req.sql,
                           **rpc.query_limits())
    last = answer.last
    yield values.sql_header(last.schema)
    converters = [values.converter(t) for _, t in last.schema]
    batches = answer.batches()
    rows = 0
    while (messages := await rpc.run(_sql_messages, batches, converters, rpc.max_bytes)) is not None:
        for message in messages:
            rows += len(message.rows.rows)
            yield message
    stats = query_pb2.SqlStats(row_count=rows, execution_time_us=int((time.perf_counter() - started) * 1e6),
                               warnings=[*answer.warnings, *last.warnings], query_plan=last.plan or "")
    if answer.rows_affected is not None:
        stats.rows_affected = answer.rows_affected
    yield query_pb2.SqlResponse(stats=stats)


def _pql_results(answer: query.PqlAnswer) -> list[query_pb2.PqlResult]:
    return [values.pql_result(r) for r in answer.results]


def _pql_response(answer: query.PqlAnswer, max_bytes: int) -> query_pb2.PqlResponse:
    out = query_pb2.PqlResponse(results=_pql_results(answer),
                                execution_time_us=int(answer.execution_time * 1e6))
    if out.ByteSize() > max_bytes:
        raise PayloadTooLarge(f"the results take {out.ByteSize()} bytes, more than the message limit; use PqlStream",
                              name="RESULT_TOO_LARGE")
    return out


@_adapter("QueryService", "Pql")
async def _query_pql(rpc: Rpc, req: query_pb2.PqlRequest) -> query_pb2.PqlResponse:
    # One trip to the worker pool for the query and the packing: each hop costs a thread
    # wake-up and an event-loop turn, a large share of a small query's round trip.
    return await rpc.run(_run_pql, rpc.ctx, rpc.principal, rpc.database_id(req.database_id), req.table,
                         req.statement, rpc.max_bytes, **rpc.query_limits())


def _run_pql(ctx: ServiceContext, principal: Optional[Principal], database_id: str, table: str, statement: str,
             max_bytes: int, **limits: Any) -> query_pb2.PqlResponse:
    answer = query.pql(ctx, principal, database_id, table=table, statement=statement, **limits)
    return _pql_response(answer, max_bytes)


def _pql_parts(answer: query.PqlAnswer, max_bytes: int) -> list[query_pb2.PqlStreamResponse]:
    out: list[query_pb2.PqlStreamResponse] = []
    for index, result in enumerate(_pql_results(answer)):
        try:
            parts = values.split_result(result, max_bytes)
        except values.RowTooLarge as exc:
            raise PayloadTooLarge(f"one element of result {index} takes {exc.size} bytes, more than the message "
                                  "limit", name="ROW_TOO_LARGE") from None
        out.extend(query_pb2.PqlStreamResponse(result=query_pb2.PqlResultPart(
            call_index=index, result=part, last=n == len(parts) - 1)) for n, part in enumerate(parts))
    return out


@_adapter("QueryService", "PqlStream")
async def _query_pql_stream(rpc: Rpc, req: query_pb2.PqlRequest) -> AsyncIterator[query_pb2.PqlStreamResponse]:
    started = time.perf_counter()
    answer = await rpc.run(query.pql, rpc.ctx, rpc.principal, rpc.database_id(req.database_id), table=req.table,
                           statement=req.statement, **rpc.query_limits())
    for message in await rpc.run(_pql_parts, answer, rpc.max_bytes):
        yield message
    yield query_pb2.PqlStreamResponse(stats=query_pb2.PqlStats(
        execution_time_us=int((time.perf_counter() - started) * 1e6)))


# -- PropertyService / EntityService / TaskService ---------------------------------------
# The recommender-style data plane (entity.proto, task.proto). Requests are unpacked and
# answers packed on the worker, in the same job as the service call: a bulk write's
# entities are CPU work the event loop must not do.

_ENTITY_KINDS = {entity_pb2.ENTITY_KIND_ITEM: "item", entity_pb2.ENTITY_KIND_USER: "user"}


def _kind(req: Any) -> str:
    if req.kind == entity_pb2.ENTITY_KIND_UNSPECIFIED:
        raise MissingParameter("kind is required: ENTITY_KIND_ITEM or ENTITY_KIND_USER", data={"key": "kind"})
    kind = _ENTITY_KINDS.get(req.kind)
    if kind is None:
        raise InvalidParameter(f"unknown kind {req.kind}", data={"key": "kind"})
    return kind


def _db(req: Any) -> Optional[str]:
    """A request's database_id for the service layer: None (the token's database) when empty."""
    return req.database_id or None


def _wait(req: Any) -> bool:
    return req.wait_for_completion if req.HasField("wait_for_completion") else True


def _written(task: Optional[tasks.Task]) -> entity_pb2.WriteResponse:
    return entity_pb2.WriteResponse(task=values.task(task)) if task is not None else entity_pb2.WriteResponse()


def _capped(msg: Message, max_bytes: int, hint: str) -> Message:
    if msg.ByteSize() > max_bytes:
        raise PayloadTooLarge(f"the answer takes {msg.ByteSize()} bytes, more than the message limit; {hint}",
                              name="RESULT_TOO_LARGE")
    return msg


@_adapter("PropertyService", "ListProperties")
async def _property_list(rpc: Rpc, req: entity_pb2.ListPropertiesRequest) -> entity_pb2.ListPropertiesResponse:
    props = await rpc.run(entities.list_properties, rpc.ctx, rpc.principal, _kind(req), database=_db(req))
    return entity_pb2.ListPropertiesResponse(properties=[values.entity_property(p) for p in props])


@_adapter("PropertyService", "GetProperty")
async def _property_get(rpc: Rpc, req: entity_pb2.GetPropertyRequest) -> entity_pb2.Property:
    prop = await rpc.run(entities.get_property, rpc.ctx, rpc.principal, _kind(req), req.property_name,
                         database=_db(req))
    return values.entity_property(prop)


@_adapter("PropertyService", "CreateProperty")
async def _property_create(rpc: Rpc, req: entity_pb2.CreatePropertyRequest) -> entity_pb2.Property:
    prop = await rpc.run(entities.create_property, rpc.ctx, rpc.principal, _kind(req),
                         property_name=req.property_name, value_type=req.value_type, repeated=req.repeated,
                         indexed=req.indexed, database=_db(req))
    return values.entity_property(prop)


@_adapter("PropertyService", "DeleteProperty")
async def _property_delete(rpc: Rpc, req: entity_pb2.DeletePropertyRequest) -> entity_pb2.DeletePropertyResponse:
    await rpc.run(entities.delete_property, rpc.ctx, rpc.principal, _kind(req), req.property_name,
                  database=_db(req))
    return entity_pb2.DeletePropertyResponse()


def _get_entity(ctx: ServiceContext, principal: Optional[Principal], kind: str,
                req: entity_pb2.GetEntityRequest) -> entity_pb2.Entity:
    # The schema first: a property created after it is typed by its value, never wrongly.
    schema = entities.schema(ctx, principal, kind, method=entities.GET_ENTITY, database=_db(req))
    found = entities.get_entity(ctx, principal, kind, values.plain(req.id), properties=list(req.properties) or None,
                                database=_db(req))
    return values.entity_out(found, f"{kind}_id", schema)


@_adapter("EntityService", "GetEntity")
async def _entity_get(rpc: Rpc, req: entity_pb2.GetEntityRequest) -> entity_pb2.Entity:
    return await rpc.run(_get_entity, rpc.ctx, rpc.principal, _kind(req), req)


def _put_entity(ctx: ServiceContext, principal: Optional[Principal], kind: str,
                req: entity_pb2.PutEntityRequest) -> entity_pb2.WriteResponse:
    given = values.entity_in(req.entity, f"{kind}_id")
    ident = given.pop(f"{kind}_id")
    return _written(entities.put_entity(ctx, principal, kind, ident, given, wait=_wait(req), database=_db(req)))


@_adapter("EntityService", "PutEntity")
async def _entity_put(rpc: Rpc, req: entity_pb2.PutEntityRequest) -> entity_pb2.WriteResponse:
    return await rpc.run(_put_entity, rpc.ctx, rpc.principal, _kind(req), req)


def _patch_entity(ctx: ServiceContext, principal: Optional[Principal], kind: str,
                  req: entity_pb2.PatchEntityRequest) -> entity_pb2.PatchEntityResponse:
    given = values.entity_in(req.entity, f"{kind}_id")
    ident = given.pop(f"{kind}_id")
    out = entities.patch_entity(ctx, principal, kind, ident, given, create_if_missing=req.create_if_missing,
                                database=_db(req))
    return entity_pb2.PatchEntityResponse(created=out[f"{kind}_created"], modified=out[f"{kind}_modified"])


@_adapter("EntityService", "PatchEntity")
async def _entity_patch(rpc: Rpc, req: entity_pb2.PatchEntityRequest) -> entity_pb2.PatchEntityResponse:
    return await rpc.run(_patch_entity, rpc.ctx, rpc.principal, _kind(req), req)


@_adapter("EntityService", "DeleteEntity")
async def _entity_delete(rpc: Rpc, req: entity_pb2.DeleteEntityRequest) -> entity_pb2.DeleteEntityResponse:
    await rpc.run(entities.delete_entity, rpc.ctx, rpc.principal, _kind(req), values.plain(req.id),
                  database=_db(req))
    return entity_pb2.DeleteEntityResponse()


def _bulk_put(ctx: ServiceContext, principal: Optional[Principal], kind: str,
              req: entity_pb2.BulkPutRequest) -> entity_pb2.WriteResponse:
    given = [values.entity_in(e, f"{kind}_id") for e in req.entities]
    return _written(entities.put_entities(ctx, principal, kind, given, wait=_wait(req), database=_db(req)))


@_adapter("EntityService", "BulkPut")
async def _entity_bulk_put(rpc: Rpc, req: entity_pb2.BulkPutRequest) -> entity_pb2.WriteResponse:
    return await rpc.run(_bulk_put, rpc.ctx, rpc.principal, _kind(req), req)


def _bulk_patch(ctx: ServiceContext, principal: Optional[Principal], kind: str,
                req: entity_pb2.BulkPatchRequest) -> entity_pb2.WriteResponse:
    given = [values.entity_in(e, f"{kind}_id") for e in req.entities]
    return _written(entities.patch_entities(ctx, principal, kind, given, create_if_missing=req.create_if_missing,
                                            wait=_wait(req), database=_db(req)))


@_adapter("EntityService", "BulkPatch")
async def _entity_bulk_patch(rpc: Rpc, req: entity_pb2.BulkPatchRequest) -> entity_pb2.WriteResponse:
    return await rpc.run(_bulk_patch, rpc.ctx, rpc.principal, _kind(req), req)


@_adapter("EntityService", "BulkDelete")
async def _entity_bulk_delete(rpc: Rpc, req: entity_pb2.BulkDeleteRequest) -> entity_pb2.BulkDeleteResponse:
    deleted = await rpc.run(entities.delete_entities, rpc.ctx, rpc.principal, _kind(req),
                            [values.plain(i) for i in req.ids], database=_db(req))
    return entity_pb2.BulkDeleteResponse(deleted=deleted)


_WRITE_MODES = {entity_pb2.WRITE_MODE_PUT: False, entity_pb2.WRITE_MODE_PATCH: True}


def _write_chunk(ctx: ServiceContext, principal: Optional[Principal], req: entity_pb2.BulkWriteRequest) -> int:
    kind = _kind(req)
    if req.mode == entity_pb2.WRITE_MODE_UNSPECIFIED:
        raise MissingParameter("mode is required: WRITE_MODE_PUT or WRITE_MODE_PATCH", data={"key": "mode"})
    if req.mode not in _WRITE_MODES:
        raise InvalidParameter(f"unknown mode {req.mode}", data={"key": "mode"})
    given = [values.entity_in(e, f"{kind}_id") for e in req.entities]
    return entities.write_chunk(ctx, principal, kind, given, patch=_WRITE_MODES[req.mode],
                                create_if_missing=req.create_if_missing, database=_db(req))


@_adapter("EntityService", "BulkWrite")
async def _entity_bulk_write(rpc: Rpc, requests: AsyncIterator[entity_pb2.BulkWriteRequest]
                             ) -> entity_pb2.BulkWriteResponse:
    # One chunk at a time: the next message is read only once this one is committed, so
    # a fast client is held back by gRPC flow control, not buffered here.
    chunks = written = 0
    async for req in requests:
        try:
            if isinstance(req, _Malformed):
                raise ServerError("InvalidBody", "a chunk is not a well-formed BulkWriteRequest "
                                         f"({req.reason})")
            written += await rpc.run(_write_chunk, rpc.ctx, rpc.principal, req)
        except ServerError as exc:
            # The earlier chunks stay committed: say how far the stream got.
            exc.details.update(chunk=chunks, committed_chunks=chunks, committed_entities=written)
            raise
        chunks += 1
    return entity_pb2.BulkWriteResponse(chunks=chunks, entities=written)


def _list_by_ids(ctx: ServiceContext, principal: Optional[Principal], kind: str, req: entity_pb2.ListByIdsRequest,
                 max_bytes: int) -> entity_pb2.ListByIdsResponse:
    schema = entities.schema(ctx, principal, kind, method=entities.LIST_BY_IDS, database=_db(req))
    found = entities.list_entities(ctx, principal, kind, [values.plain(i) for i in req.ids],
                                   properties=list(req.properties) or None, database=_db(req))
    out = entity_pb2.ListByIdsResponse(entities=[values.entity_out(e, f"{kind}_id", schema) for e in found])
    return _capped(out, max_bytes, "ask for fewer ids or properties")


@_adapter("EntityService", "ListByIds")
async def _entity_list(rpc: Rpc, req: entity_pb2.ListByIdsRequest) -> entity_pb2.ListByIdsResponse:
    return await rpc.run(_list_by_ids, rpc.ctx, rpc.principal, _kind(req), req, rpc.max_bytes)


def _scan_page(ctx: ServiceContext, principal: Optional[Principal], kind: str, req: entity_pb2.ScanEntitiesRequest,
               filters: list[dict[str, Any]], cursor: Optional[str], max_bytes: int) -> entity_pb2.ScanEntitiesResponse:
    schema = entities.schema(ctx, principal, kind, method=entities.SCAN, database=_db(req))
    page = entities.scan_entities(ctx, principal, kind, filters=filters, cursor=cursor, amt=req.page_size or None,
                                  properties=list(req.properties) or None, database=_db(req))
    out = entity_pb2.ScanEntitiesResponse(entities=[values.entity_out(e, f"{kind}_id", schema) for e in page.entities],
                                          has_next=page.has_next, next_cursor=page.next_cursor)
    return _capped(out, max_bytes, "use a smaller page_size")


@_adapter("EntityService", "ScanEntities")
async def _entity_scan(rpc: Rpc, req: entity_pb2.ScanEntitiesRequest) -> AsyncIterator[entity_pb2.ScanEntitiesResponse]:
    # Page by page, each from its own snapshot and under the call's deadline; the next page
    # is read only once the previous one is handed to gRPC.
    kind = _kind(req)
    filters = [values.filter_in(f) for f in req.filters]
    cursor, pages = req.cursor or None, 0
    while True:
        page = await rpc.run(_scan_page, rpc.ctx, rpc.principal, kind, req, filters, cursor, rpc.max_bytes)
        yield page
        pages += 1
        if not page.has_next or pages == req.max_pages:
            return
        cursor = page.next_cursor


@_adapter("TaskService", "ListTasks")
async def _task_list(rpc: Rpc, req: task_pb2.ListTasksRequest) -> task_pb2.ListTasksResponse:
    if not req.name:
        raise MissingParameter("name is required (e.g. items_put)", data={"key": "name"})
    page = req.page or 1
    found, has_next = await rpc.run(tasks.recents, rpc.ctx, rpc.principal, req.name, page=page, amt=req.amt or 50,
                                    database=_db(req))
    # next_page is a uint32: the last page it can name has no next one (0, has_next false)
    return task_pb2.ListTasksResponse(tasks=[values.task(t) for t in found], has_next=has_next,
                                      next_page=page + 1 if page < 2**32 - 1 else 0)


@_adapter("TaskService", "GetTask")
async def _task_get(rpc: Rpc, req: task_pb2.GetTaskRequest) -> task_pb2.Task:
    return values.task(await rpc.run(tasks.get_task, rpc.ctx, rpc.principal, req.task_id))


_TASK_DONE = frozenset({tasks.COMPLETED, tasks.FAILED})


@_adapter("TaskService", "WatchTask")
async def _task_watch(rpc: Rpc, req: task_pb2.WatchTaskRequest) -> AsyncIterator[task_pb2.Task]:
    sent: Optional[tuple[str, str]] = None
    while True:
        seen = rpc.ctx.version
        task = await rpc.run(tasks.get_task, rpc.ctx, rpc.principal, req.task_id, watch=True)
        if (task.status, task.progress) != sent:
            yield values.task(task)
            sent = (task.status, task.progress)
        if task.status in _TASK_DONE:
            return
        # As WatchDatabase: wait on the event loop for the change counter a finished task
        # bumps (tasks.finish), re-reading the task only then; the call's deadline cancels
        # this wait.
        while rpc.ctx.version == seen:
            await asyncio.sleep(_WATCH_POLL_SECONDS)
