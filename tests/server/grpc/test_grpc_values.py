"""server.grpc_values without a server: the Value mapping's edge cases, SQL batch splitting,
PqlResult parts that merge back into the whole result, and entity values both ways."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

import engine
from grpc_testlib import plain
from engine.entities import IdType, ValueType
from server import grpc_values as v
from server.pb.roarbase.v1 import entity_pb2, query_pb2, value_pb2
from server.service.entities import Schema
from server.service.errors import InvalidParameter
from server.service.tasks import Task


@pytest.mark.parametrize("given, want", [
    (None, ("null", None)),
    (True, ("bool", True)),
    (-7, ("int", -7)),
    ((1 << 63) - 1, ("int", (1 << 63) - 1)),
    (1 << 63, ("uint", 1 << 63)),
    (1 << 64, ("text", str(1 << 64))),
    (0.5, ("float", 0.5)),
    (Decimal("-12.50"), ("decimal", (-1250, 2))),
    (Decimal("1E+3"), ("decimal", (1000, 0))),
    (Decimal("123456789012345678901234567890.1"), ("text", "123456789012345678901234567890.1")),
    (dt.datetime(2020, 1, 1, 12, 0, 0, 500000), ("timestamp", "2020-01-01T12:00:00.500Z")),
    ("é", ("text", "é")),
    (b"\x00\xff", ("raw", b"\x00\xff")),
    ([1, "a", None], ("list", [("int", 1), ("text", "a"), ("null", None)])),
])
def test_value_by_python_type(given: object, want: tuple[str, object]) -> None:
    assert plain(v.value(given)) == want


def test_column_converters() -> None:
    assert plain(v.converter("id")(5)) == ("uint", 5)
    assert plain(v.converter("int")(5)) == ("int", 5)
    assert plain(v.converter("decimal(3)")(Decimal("1.5"))) == ("decimal", (1500, 3))
    # More digits than the declared scale: the scale grows, nothing is rounded.
    assert plain(v.converter("decimal(1)")(Decimal("1.25"))) == ("decimal", (125, 2))
    assert plain(v.converter("timestamp")("2021-06-15T12:30:00Z")) == ("timestamp", "2021-06-15T12:30:00Z")
    assert plain(v.converter("timestamp")("not a time")) == ("text", "not a time")
    assert plain(v.converter("idset")([1, 2])) == ("list", [("uint", 1), ("uint", 2)])
    assert plain(v.converter("stringset")(["a"])) == ("list", [("text", "a")])
    for sql_type in ("id", "decimal(2)", "timestamp", "idset", "string", "bool"):
        assert plain(v.converter(sql_type)(None)) == ("null", None)
    col = v.sql_column("price", "decimal(2)")
    assert (col.base_type, plain(col.type_info["scale"])) == ("decimal", ("int", 2))
    assert not v.sql_column("n", "int").type_info


def test_sql_batches_stay_under_the_cap() -> None:
    convert = [v.converter("id"), v.converter("string")]
    rows = [(k, "x" * 100) for k in range(100)]
    batches = list(v.sql_batches(rows, convert, 1000))
    assert len(batches) > 1 and all(b.ByteSize() <= 1000 for b in batches)
    assert [r.values[0].uint for b in batches for r in b.rows.rows] == list(range(100))
    with pytest.raises(v.RowTooLarge):
        list(v.sql_batches([(1, "x" * 2000)], convert, 1000))


def test_pql_messages_follow_the_result_type() -> None:
    assert v.pql_result(engine.Pairs([], [])).WhichOneof("result") == "pairs"
    assert v.pql_result(engine.GroupCounts([])).WhichOneof("result") == "group_counts"
    assert v.pql_result(engine.DistinctValues([])).WhichOneof("result") == "values"
    assert v.pql_result(engine.Nil()).WhichOneof("result") is None
    assert v.pql_result(engine.Count(0)).WhichOneof("result") == "count"
    assert v.pql_result(engine.Bool(False)).WhichOneof("result") == "changed"
    with pytest.raises(TypeError):
        v.pql_result({"columns": [1]})        # a JSON shape is not a result


UTC = dt.timezone.utc


@pytest.mark.parametrize("vc,want", [
    (engine.ValCount(None, 0), ("null", None)),
    (engine.ValCount(Decimal(0), 0, "decimal"), ("null", None)),          # Sum of nothing
    (engine.ValCount(-7, 2), ("int", -7)),
    (engine.ValCount(Decimal("1.50"), 1, "decimal"), ("decimal", (150, 2))),
    (engine.ValCount(2.5, 1, "float"), ("float", 2.5)),
    (engine.ValCount(0.0, 1, "float"), ("int", 0)),                       # as the JSON form reads
    (engine.ValCount(dt.datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC), 1, "timestamp"),
     ("timestamp", "2024-01-02T03:04:05.500Z")),
    (engine.ValCount(dt.datetime(1, 1, 1, tzinfo=UTC), 1, "timestamp"), ("int", 0)),
])
def test_val_count_value_follows_the_field_type(vc: engine.ValCount, want: tuple[str, object]) -> None:
    packed = v.pql_result(vc).val_count
    assert (plain(packed.value), packed.count) == (want, vc.count)


def _merged(parts: list[query_pb2.PqlResult]) -> query_pb2.PqlResult:
    out = query_pb2.PqlResult()
    for p in parts:
        out.MergeFrom(p)
    return out


def test_split_results_merge_back() -> None:
    table = v.pql_result(engine.ExtractedTable([{"name": "n", "type": "int64"}, {"name": "s", "type": "[]string"}],
                                               list(range(200)), [[k, ["a" * 20]] for k in range(200)]))
    parts = v.split_result(table, 1000)
    assert len(parts) > 2 and all(p.ByteSize() <= 1000 for p in parts)
    assert len(parts[0].extracted_table.fields) == 2 and not any(p.extracted_table.fields for p in parts[1:])
    assert _merged(parts) == table
    groups = v.pql_result(engine.GroupCounts([{"group": [{"field": "f", "rowKey": f"k{i}"}], "count": i}
                                              for i in range(300)]))
    assert _merged(v.split_result(groups, 500)) == groups
    small = v.pql_result(engine.Count(7))
    assert v.split_result(small, 500) == [small]
    with pytest.raises(v.RowTooLarge):
        v.split_result(v.pql_result(engine.RowIdentifiers([1, 2], ["k" * 600, "x"])), 500)


def test_plain_reads_every_kind() -> None:
    lst = value_pb2.Value(list=value_pb2.ValueList(values=[value_pb2.Value(uint=1 << 63), value_pb2.Value()]))
    assert [v.plain(x) for x in (value_pb2.Value(), value_pb2.Value(null=0), value_pb2.Value(int=-3),
                                 value_pb2.Value(uint=(1 << 64) - 1), value_pb2.Value(float=0.5),
                                 value_pb2.Value(bool=False), value_pb2.Value(text=""), value_pb2.Value(raw=b"\0"),
                                 lst, value_pb2.Value(decimal=value_pb2.Decimal(value=-125, scale=2)))] == \
        [None, None, -3, (1 << 64) - 1, 0.5, False, "", b"\0", [1 << 63, None], Decimal("-1.25")]
    ts = value_pb2.Value(timestamp={"seconds": 86400})
    assert v.plain(ts) == dt.datetime(1970, 1, 2, tzinfo=dt.timezone.utc)


def test_entities_in() -> None:
    e = entity_pb2.Entity(id=value_pb2.Value(uint=5))
    e.properties["a"].int = 1
    e.properties["gone"].null = 0
    assert v.entity_in(e, "item_id") == {"item_id": 5, "a": 1, "gone": None}
    e.properties["item_id"].int = 6
    with pytest.raises(InvalidParameter):
        v.entity_in(e, "item_id")
    f = entity_pb2.Filter(property_name="p", op="in", value=value_pb2.Value(
        list=value_pb2.ValueList(values=[value_pb2.Value(text="a")])))
    assert v.filter_in(f) == {"property_name": "p", "op": "in", "value": ["a"]}
    assert v.filter_in(entity_pb2.Filter(property_name="p", op="notempty")) == {"property_name": "p", "op": "notempty"}


@pytest.mark.parametrize("stored, family, want", [
    (5, "uint", ("uint", 5)), ((1 << 64) - 1, "uint", ("uint", (1 << 64) - 1)), (5, "int", ("int", 5)),
    (-5, "uint", ("int", -5)), ("AAE", "bytes", ("raw", b"\x00\x01")), ("not base64!", "bytes", ("text", "not base64!")), ("A B", "bytes", ("text", "A B")),
    (9.99, "float", ("float", 9.99)), (True, "bool", ("bool", True)), ("x", "uuid", ("text", "x")),
])
def test_typed_follows_the_family(stored: object, family: str, want: tuple[str, object]) -> None:
    assert plain(v.typed(stored, family)) == want


def test_entity_out_types_by_schema() -> None:
    schema = Schema(IdType.parse("bytes8"), {"n": ValueType.parse("uint16"), "tags": ValueType.parse("int8", True)})
    got = v.entity_out({"user_id": "AQ", "n": 3, "tags": [1, -2], "new": 4}, "user_id", schema)
    assert plain(got.id) == ("raw", b"\x01")
    assert {k: plain(x) for k, x in got.properties.items()} == {
        "n": ("uint", 3), "tags": ("list", [("int", 1), ("int", -2)]), "new": ("int", 4)}


def test_task_message() -> None:
    failed = Task("t1", "d1", "items_put", "FAILED", "", {"code": "ResourceNotFound", "message": "gone",
                                                          "error_code": 60, "error_name": "NotFoundError",
                                                          "error_data": {"name": "ITEM_NOT_FOUND", "key": "3"}},
                  100.0, 101.5)
    t = v.task(failed)
    assert (t.task_id, t.database_id, t.status, t.end_time.seconds, t.end_time.nanos) == \
        ("t1", "d1", 3, 101, 500_000_000)
    assert (t.error.code, t.error.error_code, t.error.error_data_json) == \
        ("ResourceNotFound", 60, '{"key":"3","name":"ITEM_NOT_FOUND"}')
    running = v.task(Task("t2", "d1", "items_put", "RUNNING", "", None, 100.0, None))
    assert (running.status, running.HasField("end_time"), running.HasField("error"), running.details_json) == \
        (1, False, False, "")
    run = v.task(Task("t3", "d1", "source_run", "RUNNING", "batch 2", None, 100.0, None, {"rows_read": 5}, True))
    assert (run.details_json, run.cancel_requested) == ('{"rows_read":5}', True)
