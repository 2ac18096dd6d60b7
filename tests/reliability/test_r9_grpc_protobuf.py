"""R9, the gRPC face (issue 14): Hypothesis-generated protobuf for every method.

For every method of the roarbase.v1 services (read from the generated descriptors, as the
server reads them: server/methods.py) Hypothesis builds request messages from the input
message's descriptor — every field type, enums with numbers outside the enum, nested and
repeated messages, maps, Struct/Value/Timestamp. A wild message takes any value of the
field's type; a tame one takes strings only from a pool of names that exist (a real
database id, its table and fields, valid PQL and SQL, JSON), enum values by their names
and small numbers, so the call gets past validation and look-ups to the work behind them.
Each message is then sent as it is, with random unknown fields appended (numbers drawn
partly from the message's own, so a known field arrives with the wrong wire type or
invalid UTF-8), cut short, or replaced by random bytes; a client-streaming method gets
one to three such messages. All calls are authenticated as root.

Every answer must be typed: OK or a status whose trailing metadata carries the unified
code (`roarbase-code`), never UNKNOWN, INTERNAL or DATA_LOSS, and nothing logged as an
internal error; the server stays up and its RSS growth bounded. Generation is
derandomized (the same cases each run); ROARBASE_R9_PROTO_EXAMPLES sets the examples per
method (quick 32; 400 under `-m slow`, the size that found the SIGSEGV).
"""
from __future__ import annotations

import os
import time
from typing import Any, Callable

import grpc
import httpx
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

import server_rel as sr
from rel_common import report
from server import methods
from server.grpc_status import MD_CODE

pytestmark = pytest.mark.reliability

RSS_BOUND_MIB = 256
BAD = {"UNKNOWN", "INTERNAL", "DATA_LOSS"}
TIMEOUT = 30.0
MAX_DEPTH = 3
STREAM_READ = 16       # responses read from a server stream before the call is cancelled
FD = FieldDescriptor
INT_RANGES = {
    FD.TYPE_INT32: (-2**31, 2**31 - 1), FD.TYPE_SINT32: (-2**31, 2**31 - 1), FD.TYPE_SFIXED32: (-2**31, 2**31 - 1),
    FD.TYPE_INT64: (-2**63, 2**63 - 1), FD.TYPE_SINT64: (-2**63, 2**63 - 1), FD.TYPE_SFIXED64: (-2**63, 2**63 - 1),
    FD.TYPE_UINT32: (0, 2**32 - 1), FD.TYPE_FIXED32: (0, 2**32 - 1),
    FD.TYPE_UINT64: (0, 2**64 - 1), FD.TYPE_FIXED64: (0, 2**64 - 1),
}


def _scalar(field: FieldDescriptor, names: list[str], tame: bool) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind in INT_RANGES:
        lo, hi = INT_RANGES[kind]
        small = st.integers(max(lo, -3), 100)
        return small if tame else st.sampled_from(sorted({lo, hi, 0, 1, max(lo, -1), 2**31 - 1})) \
            | st.integers(lo, hi) | small
    if kind == FD.TYPE_BOOL:
        return st.booleans()
    if kind in (FD.TYPE_FLOAT, FD.TYPE_DOUBLE):
        return st.floats(width=32 if kind == FD.TYPE_FLOAT else 64)
    if kind == FD.TYPE_STRING:
        return st.sampled_from(names) if tame else st.sampled_from(names) | st.text(max_size=40)
    if kind == FD.TYPE_BYTES:
        return st.binary(max_size=64)
    if kind == FD.TYPE_ENUM:   # proto3 enums are open: any int32 may arrive
        known = st.sampled_from([v.number for v in field.enum_type.values])
        return known if tame else known | st.integers(-2**31, 2**31 - 1)
    raise AssertionError(f"unhandled field type {kind} of {field.full_name}")


def _value(field: FieldDescriptor, names: list[str], depth: int, tame: bool) -> st.SearchStrategy[Any]:
    if field.type == FD.TYPE_MESSAGE:
        return messages(field.message_type, names, depth + 1, tame)
    return _scalar(field, names, tame)


@st.composite
def messages(draw: Callable[..., Any], desc: Descriptor, names: list[str], depth: int = 0,
             tame: bool = False) -> Message:
    """A message of `desc` with a random subset of its fields set to random values; tame:
    strings from `names`, enums by their names, small numbers — so the call gets past
    validation and look-ups to the work behind them."""
    msg = message_factory.GetMessageClass(desc)()
    for field in desc.fields:
        nested = field.type == FD.TYPE_MESSAGE
        if (nested and depth >= MAX_DEPTH) or not draw(st.booleans()):
            continue
        target = getattr(msg, field.name)
        if nested and field.message_type.GetOptions().map_entry:
            key_f, value_f = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
            for key in draw(st.lists(_scalar(key_f, names, tame), max_size=3)):
                value = draw(_value(value_f, names, depth, tame))
                if value_f.type == FD.TYPE_MESSAGE:
                    target[key].CopyFrom(value)
                else:
                    target[key] = value
        elif field.is_repeated:
            values = draw(st.lists(_value(field, names, depth, tame), max_size=3))
            if nested:
                for value in values:
                    target.add().CopyFrom(value)
            else:
                target.extend(values)
        elif nested:
            target.CopyFrom(draw(_value(field, names, depth, tame)))
            target.SetInParent()
        else:
            setattr(msg, field.name, draw(_value(field, names, depth, tame)))
    return msg


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


@st.composite
def unknown_fields(draw: Callable[..., Any], numbers: list[int]) -> bytes:
    """Well-framed fields of random numbers and wire types; a number of the message's own
    makes a known field arrive with the wrong type or bad contents. Lengths may lie and
    groups may not close."""
    out = bytearray()
    number_st = (st.sampled_from(numbers) | st.integers(1, 2**29 - 1)) if numbers else st.integers(1, 2**29 - 1)
    for number, wire in draw(st.lists(st.tuples(number_st, st.sampled_from([0, 1, 2, 3, 4, 5])), min_size=1,
                                      max_size=4)):
        out += _varint(number << 3 | wire)
        if wire == 0:
            out += _varint(draw(st.integers(0, 2**64 - 1)))
        elif wire in (1, 5):
            out += draw(st.binary(min_size=8 if wire == 1 else 4, max_size=8 if wire == 1 else 4))
        elif wire == 2:
            data = draw(st.binary(max_size=32))
            out += _varint(len(data) + draw(st.sampled_from([0, 0, 0, 1, 2**31]))) + data
    return bytes(out)


@st.composite
def payloads(draw: Callable[..., Any], desc: Descriptor, names: list[str]) -> tuple[str, bytes]:
    """(variant, bytes): a generated message (tame or wild) as it is, with unknown fields,
    cut short, or random bytes."""
    variant = draw(st.sampled_from(["tame", "wild", "unknown_fields", "truncated", "random"]))
    raw = draw(messages(desc, names, tame=variant == "tame")).SerializeToString()
    if variant == "unknown_fields":
        raw += draw(unknown_fields([f.number for f in desc.fields]))
    elif variant == "truncated":
        raw = raw[:draw(st.integers(0, len(raw) - 1))] if raw else b"\x0a"
    elif variant == "random":
        raw = draw(st.binary(min_size=1, max_size=128))
    return variant, raw


def _call(channel: grpc.Channel, path: str, method: MethodDescriptor, raws: list[bytes],
          md: tuple[tuple[str, str], ...]) -> tuple[str, bool]:
    """(status name, whether a non-OK answer carries the unified code)."""
    identity = dict(request_serializer=lambda b: b, response_deserializer=lambda b: b)
    try:
        if method.client_streaming:
            channel.stream_unary(path, **identity)(iter(raws), metadata=md, timeout=TIMEOUT)
        elif method.server_streaming:
            stream = channel.unary_stream(path, **identity)(raws[0], metadata=md, timeout=TIMEOUT)
            # a watch sends the current state and then waits for changes: one answer is enough
            limit = 1 if method.name.startswith("Watch") else STREAM_READ
            for n, _ in enumerate(stream, 1):
                if n >= limit:
                    stream.cancel()
                    break
        else:
            channel.unary_unary(path, **identity)(raws[0], metadata=md, timeout=TIMEOUT)
        return "OK", True
    except grpc.RpcError as exc:
        # (a stream this side cancels raises nothing: the loop above has left it)
        return exc.code().name, any(k == MD_CODE for k, _ in exc.trailing_metadata() or ())


def _run(examples: int, tmp_path: Any) -> None:
    srv = sr.serverlib.start_server(tmp_path / "data", settings={
        "auth_failure_burst": 1_000_000, "login_free_failures": 1_000_000,
        "login_free_failures_per_address": 1_000_000, "rate_per_org": 1e9, "rate_burst": 1_000_000})
    outcomes: dict[str, int] = {}
    variants: dict[str, int] = {}
    bad: dict[str, str] = {}      # the first of each method and status
    started = time.monotonic()
    by_path = methods.method_descriptors()
    # Deletes last: a generated DeleteDatabase may hit the pool's database, which the other
    # methods' look-ups need.
    order = sorted(by_path, key=lambda p: by_path[p].name.startswith("Delete"))
    try:
        rss0 = sr.rss_mib(srv.proc.pid)
        with httpx.Client(timeout=60) as http:
            root = sr.login(http, srv)
            ident = sr.database(http, srv, root, "fuzz", "CREATE TABLE t (_id ID, f INT, s STRING)")
            assert sr.sql(http, srv, root, ident, "INSERT INTO t (_id, f, s) VALUES (1, 2, 'x')").status_code == 200
        names = [ident, "fuzz", "t", "f", "s", srv.org_id, "Count(All())", "Row(f=2)", "Set(2, f=3)",
                 "SELECT * FROM t", "SELECT COUNT(*) FROM t", "item", "user", "", "{}", '{"a": [1, {"b": null}]}',
                 "new@example.com", "int", "uint8", "text", "manager", "backend", "items_put"]
        md = (("authorization", root["Authorization"]),)
        with grpc.insecure_channel(srv.grpc_target) as channel:
            for path in order:
                method = by_path[path]

                @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
                @given(cases=st.lists(payloads(method.input_type, names), min_size=1,
                                      max_size=3 if method.client_streaming else 1))
                def one(cases: list[tuple[str, bytes]]) -> None:
                    status, typed = _call(channel, path, method, [raw for _, raw in cases], md)
                    outcomes[status] = outcomes.get(status, 0) + 1
                    for variant, _ in cases:
                        variants[variant] = variants.get(variant, 0) + 1
                    if status in BAD or not typed:
                        bad.setdefault(f"{path} {status}", f"{path}: {status} (typed={typed}) for "
                                       + ", ".join(f"{v} {raw[:300]!r}" for v, raw in cases))

                one()
                if srv.proc.poll() is not None:
                    break
            exited = srv.proc.poll()
            if exited is None:
                channel.unary_unary("/grpc.health.v1.Health/Check", request_serializer=lambda b: b,
                                    response_deserializer=lambda b: b)(b"", timeout=TIMEOUT)
                rss1 = sr.rss_mib(srv.proc.pid)
    finally:
        code = sr.stop(srv)
    logged = srv.stderr_lines
    assert exited is None, f"the server exited ({exited}) during {path}:\n" + "".join(logged[-60:])
    internal = [i for i, line in enumerate(logged) if " failed (request " in line]   # with their tracebacks
    report("R9-proto", methods=len(by_path), cases=sum(outcomes.values()), bad=len(bad),
           internal_logged=len(internal), seconds=round(time.monotonic() - started, 1),
           rss_growth_mib=round(rss1 - rss0, 1), variants=dict(sorted(variants.items())),
           outcomes=dict(sorted(outcomes.items())))
    assert code == 0
    assert not bad, "\n".join(bad.values()) + "\n" + "".join(logged[i] for j in internal[:3] for i in range(j, j + 40)
                                                        if i < len(logged))
    assert not internal, "".join(logged[internal[0]:internal[0] + 40])
    assert rss1 - rss0 < RSS_BOUND_MIB


def test_r9_grpc_protobuf_quick(tmp_path):
    _run(int(os.environ.get("ROARBASE_R9_PROTO_EXAMPLES", "32")), tmp_path)


@pytest.mark.slow
def test_r9_grpc_protobuf_full(tmp_path):
    _run(int(os.environ.get("ROARBASE_R9_PROTO_EXAMPLES", "400")), tmp_path)
