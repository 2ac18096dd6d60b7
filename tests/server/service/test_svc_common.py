"""Shared pieces: ids in both forms, names, JSON merge patch, error mapping."""
import uuid

import engine
import pytest

from server import error_table, errors as server_errors
from server import ids
from server.service import common
from server.service import errors as E


def test_ids_in_both_forms():
    u = str(uuid.uuid4())
    b = common.id_b64(u)
    assert len(b) == 22 and "=" not in b
    assert ids.parse_id(b) == ids.parse_id(u) == ids.parse_id(u.upper()) == u
    for bad in (None, 7, "", "x" * 22 + "!", "not-a-uuid-not-a-uuid-not-a-uuid-xx", u[:-1], "A" * 21):
        assert ids.parse_id(bad) is None


def test_names():
    assert common.check_name("a.b_c-1", "database") == "a.b_c-1"
    for bad in ("current", "CURRENT", "..", "a b", "é", "x" * 65, 5):
        with pytest.raises(E.InvalidParameter):
            common.check_name(bad, "database")


def test_merge_patch_rfc7396_examples():
    assert common.merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert common.merge_patch({"a": "b"}, {"b": "c"}) == {"a": "b", "b": "c"}
    assert common.merge_patch({"a": "b"}, {"a": None}) == {}
    assert common.merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert common.merge_patch({"e": None}, {"a": 1}) == {"e": None, "a": 1}
    assert common.merge_patch([1, 2], {"a": {"bb": {"ccc": None}}}) == {"a": {"bb": {}}}
    assert common.merge_patch({"a": "foo"}, "bar") == "bar"


def test_service_errors_are_server_errors_with_unified_codes():
    for cls in E.BY_CODE.values():
        err = cls("m", name="FINE", data={"type": "t", "key": "k"})
        assert isinstance(err, error_table.ServerError) and err.code in error_table.TABLE
        body = E.envelope(err)
        assert body["code"] == cls.code and body["error_data"] == {"name": "FINE", "type": "t", "key": "k"}
    assert server_errors.http_status(E.ResourceAlreadyExists("x"), "v2") == 409
    assert server_errors.http_status(E.ResourceAlreadyExists("x"), "v1") == 400
    assert server_errors.http_status(E.Forbidden("x"), "v1") == 403
    assert server_errors.http_status(E.Unauthorized("x"), "v1") == 401
    assert server_errors.http_status(E.InviteExpired("x"), "v2") == 409
    assert E.InviteExpired("x").name == "INVITE_EXPIRED" and E.ResourceNotFound("x").to_dict()["code"] == \
        "ResourceNotFound"


@pytest.mark.parametrize("exc,cls,code", [
    (engine.QuerySyntaxError("bad", 2, 3, ("NAME",)), E.BadRequest, "BadRequest"),
    (engine.QueryExecutionError("no field"), E.QueryExecutionError, "QueryExecutionError"),
    (engine.IndexNotFoundError("no index"), E.ResourceNotFound, "ResourceNotFound"),
    (engine.QueryCancelledError("late"), E.RequestTimeout, "RequestTimeout"),
    (engine.ClosedError("closed"), E.IncorrectState, "IncorrectState"),
    (engine.QueryLimitError("big"), E.ResourceLimitExceeded, "ResourceLimitExceeded"),
    (engine.DataCorruptedError("crc", "f", 8), E.DataCorrupted, "DataCorrupted"),
    (engine.StorageFullError("full"), E.StorageFull, "StorageFull"),
])
def test_engine_errors_map_by_code(exc, cls, code):
    err = E.from_engine(exc)
    assert type(err) is cls and err.code == code and err.name == exc.name and err.__cause__ is exc
    if isinstance(exc, engine.QuerySyntaxError):
        assert err.data == {"line": 2, "column": 3, "expected": ["NAME"]}
