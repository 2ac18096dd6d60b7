"""The error table (server.error_table) and its mappings: unified codes to HTTP and gRPC
status (server.errors, server.grpc_status), and the envelope (server.service.errors)."""
import inspect
import json

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

import engine.errors as E
from server.error_table import FORBIDDEN, TABLE, ServerError
from server.errors import STATUS_DETAILS_KEY, http_status, to_grpc, to_grpc_status, to_http
from server.grpc_status import (
    MD_CODE,
    MD_ERROR_CODE,
    MD_ERROR_DATA,
    MD_ERROR_NAME,
    MD_RETRY_AFTER,
    from_grpc,
    status_code,
)
from server.service.errors import Forbidden, as_server_error, envelope

SC = grpc.StatusCode

# API.md §6 transcribed independently (code: /v2, /v1, gRPC, CM error_name, CM error_code),
# plus StorageFull (RELIABILITY.md R6) and DataCorrupted (R5).
EXPECTED = {
    "InvalidParameter": (400, 400, SC.INVALID_ARGUMENT, "WrongData", 40),
    "MissingParameter": (400, 400, SC.INVALID_ARGUMENT, "WrongData", 40),
    "InvalidBody": (400, 400, SC.INVALID_ARGUMENT, "WrongData", 40),
    "InvalidContentType": (400, 400, SC.INVALID_ARGUMENT, "WrongData", 40),
    "ResourceLimitExceeded": (400, 400, SC.RESOURCE_EXHAUSTED, "WrongData", 40),
    "ResourceThroughputExceeded": (400, 429, SC.RESOURCE_EXHAUSTED, "TooManyRequests", 2),
    "RelatedResourceNotFound": (400, 404, SC.FAILED_PRECONDITION, "NotFoundError", 60),
    "BadRequest": (400, 400, SC.INVALID_ARGUMENT, "WrongData", 40),
    "Unauthorized": (401, 401, SC.UNAUTHENTICATED, "AuthError", 21),
    "MissingAuthenticationToken": (401, 401, SC.UNAUTHENTICATED, "AuthError", 21),
    "TokenExpired": (401, 401, SC.UNAUTHENTICATED, "JwtTokenExpired", 22),
    "RefreshTokenExpired": (401, 401, SC.UNAUTHENTICATED, "RefreshTokenExpired", 28),
    "ResourceNotFound": (404, 404, SC.NOT_FOUND, "NotFoundError", 60),
    "MethodNotAllowed": (405, 405, SC.UNIMPLEMENTED, "MethodNotAllowed", 70),
    "RequestTimeout": (408, 408, SC.DEADLINE_EXCEEDED, "ServerUnavailable", 1),
    "ResourceAlreadyExists": (409, 400, SC.ALREADY_EXISTS, "DuplicatedError", 42),
    "IncorrectState": (409, 409, SC.FAILED_PRECONDITION, "IncorrectState", 80),
    "PayloadTooLarge": (413, 413, SC.RESOURCE_EXHAUSTED, "WrongData", 40),
    "QueryExecutionError": (422, 422, SC.INVALID_ARGUMENT, "WrongData", 40),
    "RequestLimitExceeded": (429, 429, SC.RESOURCE_EXHAUSTED, "TooManyRequests", 2),
    "InternalServerError": (500, 500, SC.INTERNAL, "ServerError", 0),
    "ServiceUnavailable": (503, 503, SC.UNAVAILABLE, "ServerUnavailable", 1),
    "StorageFull": (507, 507, SC.RESOURCE_EXHAUSTED, "ServerUnavailable", 1),
    "DataCorrupted": (500, 500, SC.DATA_LOSS, "ServerError", 0),
}

ENGINE_ERRORS = sorted((cls for _, cls in inspect.getmembers(E, inspect.isclass)
                        if issubclass(cls, E.EngineError)), key=lambda c: c.__name__)


def test_the_engine_has_error_classes() -> None:
    assert len(ENGINE_ERRORS) > 20 and E.EngineError in ENGINE_ERRORS


def test_table_is_api_md_section_6() -> None:
    got = {code: (s.http_v2, s.http_v1, status_code(s), s.error_name, s.error_code) for code, s in TABLE.items()}
    assert got == EXPECTED


@pytest.mark.parametrize("code", sorted(TABLE))
def test_every_code_has_both_statuses(code: str) -> None:
    spec = TABLE[code]
    assert spec.code == code
    assert isinstance(spec.http_v2, int) and 400 <= spec.http_v2 <= 599
    assert isinstance(spec.http_v1, int) and 400 <= spec.http_v1 <= 599
    assert isinstance(status_code(spec), grpc.StatusCode) and status_code(spec) is not SC.OK
    assert spec.error_name and isinstance(spec.error_code, int)
    assert spec.default_name and spec.default_name == spec.default_name.upper()


@pytest.mark.parametrize("cls", ENGINE_ERRORS, ids=lambda c: c.__name__)
def test_every_engine_error_maps_to_a_defined_code(cls: type) -> None:
    assert cls.code in TABLE, f"engine.errors.{cls.__name__}.code = {cls.code!r} has no row in server.error_table.TABLE"
    exc = cls("boom")
    err = as_server_error(exc)
    assert (err.code, err.name, err.message) == (exc.code, exc.name, exc.message)
    body = envelope(exc)
    assert set(body) == {"code", "message", "error_code", "error_name", "error_data"}
    assert body["code"] == cls.code and body["error_data"]["name"] == cls.name
    assert (body["error_name"], body["error_code"]) == EXPECTED[cls.code][3:]
    json.dumps(body)
    status, message, md = to_grpc(exc)
    assert status is EXPECTED[cls.code][2] and message == exc.message
    assert dict(md)[MD_CODE] == cls.code


def test_engine_codes_the_brief_names() -> None:
    for code in ("InvalidParameter", "ResourceNotFound", "ResourceAlreadyExists", "IncorrectState", "BadRequest",
                 "QueryExecutionError", "ResourceLimitExceeded", "RequestTimeout", "DataCorrupted", "StorageFull",
                 "ServiceUnavailable", "InternalServerError"):
        assert code in {cls.code for cls in ENGINE_ERRORS}, code


def test_envelope_is_the_unified_superset() -> None:
    err = ServerError("ResourceAlreadyExists", "the database x is duplicated", name="DUPLICATED_DB_NAME",
                      details={"type": "database", "key": "x"})
    assert envelope(err) == {"code": "ResourceAlreadyExists", "message": "the database x is duplicated",
                             "error_code": 42, "error_name": "DuplicatedError",
                             "error_data": {"name": "DUPLICATED_DB_NAME", "type": "database", "key": "x"}}
    assert http_status(err, "v2") == 409 and http_status(err, "v1") == 400


def test_default_name_and_request_id() -> None:
    body = envelope(ServerError("PayloadTooLarge", "too big"), request_id="req-1")
    assert body["error_data"] == {"name": "PAYLOAD_TOO_LARGE", "request_id": "req-1"}


def test_query_errors_carry_their_position() -> None:
    syn = E.QuerySyntaxError("unexpected token", line=2, column=7, expected=("RPAR", "COMMA"))
    data = envelope(syn)["error_data"]
    assert data == {"name": "QUERY_SYNTAX_ERROR", "line": 2, "column": 7, "expected": ["RPAR", "COMMA"]}
    assert http_status(syn) == 400
    exe = E.ColumnNotFoundError("no column z", line=1, column=8)
    assert envelope(exe)["error_data"] == {"name": "COLUMN_NOT_FOUND", "line": 1, "column": 8}
    assert http_status(exe) == 422 and to_grpc(exe)[0] is SC.INVALID_ARGUMENT
    assert envelope(E.QueryExecutionError("bad"))["error_data"] == {"name": "QUERY_EXECUTION_ERROR"}


def test_storage_errors() -> None:
    full = E.StorageFullError("no space left on device")
    assert (http_status(full), http_status(full, "v1"), to_grpc(full)[0]) == (507, 507, SC.RESOURCE_EXHAUSTED)
    bad = E.DataCorruptedError("checksum mismatch", path="seg/0.log", offset=4096)
    assert (http_status(bad), to_grpc(bad)[0]) == (500, SC.DATA_LOSS)
    assert envelope(bad)["code"] == "DataCorrupted"
    failed = E.StorageFailedError("fsync failed")
    assert (http_status(failed), to_grpc(failed)[0]) == (503, SC.UNAVAILABLE)


def test_unexpected_exceptions_leak_nothing() -> None:
    exc = RuntimeError("/secret/path/data.log: stack details")
    body = envelope(exc, request_id="r9")
    assert body == {"code": "InternalServerError", "message": "internal server error", "error_code": 0,
                    "error_name": "ServerError", "error_data": {"name": "INTERNAL", "request_id": "r9"}}
    status, message, md = to_grpc(exc)
    assert status is SC.INTERNAL and "secret" not in message and "secret" not in str(md)
    assert http_status(exc) == 500


def test_unknown_code_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        ServerError("NoSuchCode", "x")
    with pytest.raises(ValueError):
        http_status(ServerError("ResourceNotFound", "x"), "v3")


def test_forbidden_is_the_authorization_variant() -> None:
    err = Forbidden()
    assert err.spec is FORBIDDEN
    assert (http_status(err, "v2"), http_status(err, "v1")) == (401, 403)
    body = envelope(err)
    assert (body["code"], body["error_name"], body["error_code"]) == ("Unauthorized", "ForbiddenError", 50)
    assert body["message"] == "User is not authorized to perform this operation."
    status, _, _ = to_grpc(err)
    assert status is SC.PERMISSION_DENIED
    authn = ServerError("Unauthorized", "Authorization failed")
    assert (http_status(authn, "v1"), to_grpc(authn)[0]) == (401, SC.UNAUTHENTICATED)


def test_to_http_sets_retry_after() -> None:
    limited = ServerError("RequestLimitExceeded", "API rate limit exceeded.", retry_after=3)
    status, body, headers = to_http(limited, "v1")
    assert (status, headers, body["code"]) == (429, {"Retry-After": "3"}, "RequestLimitExceeded")
    assert to_http(ServerError("ResourceNotFound", "gone"))[2] == {}


def test_grpc_metadata_is_printable_ascii() -> None:
    err = ServerError("InvalidParameter", "naïve \x7f value", details={"key": "clé\x7f\n", "n": 3})
    _, message, md = to_grpc(err, request_id="r1")
    assert message == "naïve \x7f value"
    for key, value in md:
        assert key == key.lower() and not key.endswith("-bin")
        assert all(0x20 <= ord(ch) <= 0x7E for ch in value), (key, value)
    assert json.loads(dict(md)[MD_ERROR_DATA]) == {"name": "INVALID_PARAMETER", "key": "clé\x7f\n", "n": 3,
                                                    "request_id": "r1"}
    assert (dict(md)[MD_ERROR_NAME], dict(md)[MD_ERROR_CODE]) == ("WrongData", "40")


@pytest.mark.parametrize("err", [
    ServerError("ResourceAlreadyExists", "dup", name="DUPLICATED_DB_NAME", details={"type": "database", "key": "x"}),
    ServerError("RequestLimitExceeded", "slow down", retry_after=2),
    Forbidden(),
    ServerError("Unauthorized", "Authorization failed"),
], ids=lambda e: e.code)
def test_from_grpc_rebuilds_the_error(err: ServerError) -> None:
    status, message, md = to_grpc(err)
    back = from_grpc(status, message, md)
    assert type(back) is ServerError   # a client has the table, not the service's classes
    assert (back.code, back.name, back.message, back.details, back.retry_after, back.spec, back.forbidden) == \
        (err.code, err.name, err.message, err.details, err.retry_after, err.spec, err.forbidden)


def test_from_grpc_without_roarbase_metadata() -> None:
    big = from_grpc(SC.RESOURCE_EXHAUSTED, "Received message larger than max (2097157 vs. 1048576)", None)
    assert big.code == "PayloadTooLarge"
    assert from_grpc(SC.RESOURCE_EXHAUSTED, "Concurrent RPC limit exceeded!", ()).code == "RequestLimitExceeded"
    assert from_grpc(SC.UNAVAILABLE, "failed to connect", ()).code == "ServiceUnavailable"
    assert from_grpc(SC.DEADLINE_EXCEEDED, "Deadline Exceeded", ()).code == "RequestTimeout"
    assert from_grpc(SC.UNKNOWN, "?", [(MD_CODE, "NoSuchCode"), (MD_ERROR_DATA, "{not json")]).code == \
        "InternalServerError"
    assert from_grpc(SC.RESOURCE_EXHAUSTED, "x", [(MD_RETRY_AFTER, "soon")]).retry_after is None


def test_grpc_error_crosses_the_wire() -> None:
    """A real loopback call: the metadata to_grpc builds is legal and from_grpc reads it back."""
    from concurrent import futures

    from server.pb.roarbase.v1 import query_pb2, query_pb2_grpc

    sent = E.QuerySyntaxError("unexpected ')' — naïve", line=1, column=9, expected=("NAME",))

    class Query(query_pb2_grpc.QueryServiceServicer):
        def Sql(self, request, context):  # the proto's method name
            yield query_pb2.SqlResponse(header=query_pb2.SqlSchema())
            status, message, md = to_grpc(sent, request_id="r-7")
            context.set_trailing_metadata(md)
            context.abort(status, message)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    query_pb2_grpc.add_QueryServiceServicer_to_server(Query(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stream = query_pb2_grpc.QueryServiceStub(channel).Sql(query_pb2.SqlRequest(sql="SELECT ("), timeout=10)
            assert next(stream).HasField("header")
            with pytest.raises(grpc.RpcError) as info:
                next(stream)
            call = info.value
            got = from_grpc(call.code(), call.details(), call.trailing_metadata())
    finally:
        server.stop(None)
    assert call.code() is SC.INVALID_ARGUMENT
    assert (got.code, got.name, got.message) == ("BadRequest", "QUERY_SYNTAX_ERROR", sent.message)
    assert got.details == {"line": 1, "column": 9, "expected": ["NAME"], "request_id": "r-7"}


def test_retry_behaviour() -> None:
    """FeatureBase's "retry with backoff" rows, plus the two server-side transient failures."""
    assert {code for code, spec in TABLE.items() if spec.retry} == {
        "ResourceThroughputExceeded", "RequestTimeout", "IncorrectState", "RequestLimitExceeded",
        "InternalServerError", "ServiceUnavailable", "StorageFull"}
    assert not FORBIDDEN.retry


def _details(md: tuple) -> status_pb2.Status:
    key, raw = md[-1]
    assert key == STATUS_DETAILS_KEY and isinstance(raw, bytes)
    return status_pb2.Status.FromString(raw)


def test_grpc_status_detail_carries_error_info_and_retry_info() -> None:
    err = ServerError("RequestLimitExceeded", "slow down", name="RATE_LIMITED", retry_after=3)
    code, message, md = to_grpc_status(err, request_id="r2")
    assert (code, message, md[:-1]) == to_grpc(err, request_id="r2")
    status = _details(md)
    assert (status.code, status.message) == (SC.RESOURCE_EXHAUSTED.value[0], "slow down")
    info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
    assert len(status.details) == 2 and status.details[0].Unpack(info) and status.details[1].Unpack(retry)
    assert (info.reason, info.domain) == ("RequestLimitExceeded", "roarbase")
    assert (info.metadata["error_name"], info.metadata["error_code"]) == ("TooManyRequests", "2")
    assert json.loads(info.metadata["error_data"]) == {"name": "RATE_LIMITED", "request_id": "r2"}
    assert retry.retry_delay.seconds == 3
    back = from_grpc(code, message, md)
    assert (back.code, back.name, back.retry_after) == ("RequestLimitExceeded", "RATE_LIMITED", 3)


def test_grpc_status_detail_without_retry_and_for_internal_errors() -> None:
    _, _, md = to_grpc_status(Forbidden())
    status = _details(md)
    info = error_details_pb2.ErrorInfo()
    assert status.code == SC.PERMISSION_DENIED.value[0] and len(status.details) == 1 and status.details[0].Unpack(info)
    assert (info.reason, info.metadata["error_name"], info.metadata["error_code"]) == ("Unauthorized", "ForbiddenError",
                                                                                        "50")
    _, message, md = to_grpc_status(RuntimeError("/secret/path"))
    status = _details(md)
    assert "secret" not in message and b"secret" not in md[-1][1]
    assert status.details[0].Unpack(info) and info.reason == "InternalServerError"
