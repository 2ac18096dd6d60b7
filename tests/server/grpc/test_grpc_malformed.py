"""Issue 14 #12: bytes that are not the method's message answer INVALID_ARGUMENT /
InvalidBody (they used to reach clients as UNKNOWN "Unexpected DecodeError"), after the
caller is authenticated, and the server keeps serving."""
from __future__ import annotations

import grpc
import pytest

from grpc_testlib import TIMEOUT, Client, expect, md
from server.pb.roarbase.v1 import database_pb2

SC = grpc.StatusCode
GARBAGE = [b"\x0a\x02\xff\xfe", b"\xff\xff\xff\xff", b"\x0a\xff\xff\xff\xff\x0f", b"\x08" + b"\x80" * 11,
           b"\x0b", b"\x12\x05abc"]


def _raw(client: Client, path: str) -> grpc.UnaryUnaryMultiCallable:
    return client.channel.unary_unary(path, request_serializer=lambda b: b,
                                      response_deserializer=database_pb2.ListDatabasesResponse.FromString)


@pytest.mark.parametrize("raw", GARBAGE, ids=lambda b: b.hex())
def test_garbage_protobuf_is_invalid_argument(grpc_client: Client, raw: bytes) -> None:
    call = _raw(grpc_client, "/roarbase.v1.DatabaseService/ListDatabases")
    expect(call, raw, metadata=md(grpc_client.root), timeout=TIMEOUT, status=SC.INVALID_ARGUMENT,
           code="InvalidBody", name="INVALID_BODY")
    # public methods too (Login), and the server still answers well-formed calls afterwards
    expect(_raw(grpc_client, "/roarbase.v1.AuthService/Login"), raw, timeout=TIMEOUT,
           status=SC.INVALID_ARGUMENT, code="InvalidBody")
    assert grpc_client.databases.ListDatabases(database_pb2.ListDatabasesRequest(), metadata=md(grpc_client.root),
                                               timeout=TIMEOUT) is not None


def test_garbage_without_credentials_is_refused_for_the_credentials_first(grpc_client: Client) -> None:
    expect(_raw(grpc_client, "/roarbase.v1.DatabaseService/ListDatabases"), GARBAGE[0], timeout=TIMEOUT,
           status=SC.UNAUTHENTICATED, code="MissingAuthenticationToken")


def test_a_malformed_bulk_write_chunk_fails_the_stream_after_the_good_ones(grpc_client: Client) -> None:
    """A client stream gets the same answer for its bad message, with how far it got; the
    chunks before it stay committed."""
    from server.pb.roarbase.v1 import entity_pb2, value_pb2

    c, root = grpc_client, md(grpc_client.root)
    db = c.databases.CreateDatabase(database_pb2.CreateDatabaseRequest(name="malformed-chunks"), metadata=root,
                                    timeout=TIMEOUT).id
    good = entity_pb2.BulkWriteRequest(database_id=db, kind=entity_pb2.ENTITY_KIND_ITEM,
                                       mode=entity_pb2.WRITE_MODE_PUT,
                                       entities=[entity_pb2.Entity(id=value_pb2.Value(uint=1))]).SerializeToString()
    raw = c.channel.stream_unary("/roarbase.v1.EntityService/BulkWrite", request_serializer=lambda b: b,
                                 response_deserializer=entity_pb2.BulkWriteResponse.FromString)
    f = expect(raw, iter([good, GARBAGE[1]]), metadata=root, timeout=TIMEOUT, status=SC.INVALID_ARGUMENT,
               code="InvalidBody")
    assert (f.error.details["chunk"], f.error.details["committed_chunks"]) == (1, 1)
    got = c.entities.ListByIds(entity_pb2.ListByIdsRequest(database_id=db, kind=entity_pb2.ENTITY_KIND_ITEM,
                                                           ids=[value_pb2.Value(uint=1)]), metadata=root)
    assert [e.id.uint for e in got.entities] == [1]


@pytest.mark.parametrize("method, first", [
    ("ImportDatabase", lambda db: database_pb2.ImportChunk(id=db, data=b'{"format": "roarbase.export", ')),
    ("RestoreDatabase", lambda db: database_pb2.RestoreChunk(name="from-garbage", data=b"\x1f\x8b")),
])
def test_a_malformed_import_or_restore_chunk_changes_nothing(grpc_client: Client, method: str, first) -> None:
    """ImportDatabase / RestoreDatabase spool the stream before anything is applied: a bad
    message anywhere fails the call with InvalidBody and nothing is created or merged."""
    c, root = grpc_client, md(grpc_client.root)
    db = c.databases.CreateDatabase(database_pb2.CreateDatabaseRequest(name=f"malformed-{method.lower()}"),
                                    metadata=root, timeout=TIMEOUT).id
    names = {d.name for d in c.databases.ListDatabases(database_pb2.ListDatabasesRequest(), metadata=root,
                                                       timeout=TIMEOUT).resources}
    raw = c.channel.stream_unary(f"/roarbase.v1.DatabaseService/{method}", request_serializer=lambda b: b,
                                 response_deserializer=lambda b: b)
    expect(raw, iter([first(db).SerializeToString(), GARBAGE[1]]), metadata=root, timeout=TIMEOUT,
           status=SC.INVALID_ARGUMENT, code="InvalidBody")
    after = c.databases.ListDatabases(database_pb2.ListDatabasesRequest(), metadata=root, timeout=TIMEOUT).resources
    assert {d.name for d in after} == names
    got = c.databases.GetDatabase(database_pb2.GetDatabaseRequest(id=db), metadata=root, timeout=TIMEOUT)
    assert got.database_status == database_pb2.DATABASE_STATE_RUNNING       # (the list is paged: ask for it)
