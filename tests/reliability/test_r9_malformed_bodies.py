"""R9 (RELIABILITY.md §4): malformed binary bodies over gRPC and HTTP — random bytes,
truncated protobuf, Hypothesis-generated protobuf, msgpack with declared lengths of 2^32,
deeply nested maps, non-string keys, lone surrogates. Every answer is a typed error with a
code (never INTERNAL/UNKNOWN/500, never a crash), and the server's RSS stays bounded.

Quick size by default; ROARBASE_R9_CASES scales it (full: 5,000). Seeds are printed.
"""
from __future__ import annotations

import os
import random

import grpc
import httpx
import msgpack
from hypothesis import HealthCheck, given, settings, strategies as st

import server_rel as sr
from rel_common import report, seed_for
from server.grpc_status import from_grpc
from server.pb.roarbase.v1 import auth_pb2, database_pb2, query_pb2

CASES = int(os.environ.get("ROARBASE_R9_CASES", "150"))
RSS_BOUND_MIB = 256
GRPC_METHODS = {
    "/roarbase.v1.AuthService/Login": auth_pb2.LoginRequest(email="a@b.c", password="x" * 12),
    "/roarbase.v1.DatabaseService/ListDatabases": database_pb2.ListDatabasesRequest(),
    "/roarbase.v1.DatabaseService/CreateDatabase": database_pb2.CreateDatabaseRequest(name="r9"),
    "/roarbase.v1.QueryService/Pql": query_pb2.PqlRequest(database_id="x", table="t", statement="Count(All())"),
}
HTTP_ROUTES = [("POST", "/v2/auth/token"), ("POST", "/v2/databases"), ("POST", "/v2/users"),
               ("PUT", "/v2/orgs/{org}"), ("POST", "/v2/auth/refresh"), ("POST", "/v2/roles")]
BAD_GRPC = {"INTERNAL", "UNKNOWN", "DATA_LOSS"}


def _msgpack_bombs(rng: random.Random) -> list[bytes]:
    deep = b"\x81\xa1a" * 5000 + b"\xc0"                  # {a: {a: … nil}} 5,000 deep
    return [b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff", b"\xdb\xff\xff\xff\xff" + b"x" * 10,
            b"\xc6\xff\xff\xff\xff", deep, msgpack.packb({1: 2}), msgpack.packb({b"k": b"\x00"}),
            msgpack.packb({"name": msgpack.ExtType(5, b"x")}), msgpack.packb({"name": "\ud800"[:0] + "ok", "x": [[[[]]]] * 3}),
            bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))]


def _json_bombs(rng: random.Random) -> list[bytes]:
    return [b"[" * 100_000, b'{"a":' * 50_000, b'{"name": "\\ud800"}', b'{"name": 1e999999}',
            b'{"\\u0000": 1}', b"\xef\xbb\xbf{}", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))]


def test_r9_malformed_bodies(tmp_path):
    seed = seed_for("r9")
    rng = random.Random(seed)
    outcomes: dict[str, int] = {}
    bad: list[str] = []
    srv = sr.serverlib.start_server(tmp_path / "data", settings={"auth_failure_burst": 100_000,
                                                                 "login_free_failures_per_address": 100_000})
    try:
        rss0 = sr.rss_mib(srv.proc.pid)
        with httpx.Client(timeout=60) as http, grpc.insecure_channel(srv.grpc_target) as channel:
            headers = sr.login(http, srv)
            token = headers["Authorization"].split(" ", 1)[1]
            md = (("authorization", f"Bearer {token}"),)

            def grpc_case(path: str, raw: bytes) -> None:
                call = channel.unary_unary(path, request_serializer=lambda b: b, response_deserializer=lambda b: b)
                try:
                    call(raw, metadata=md, timeout=60)
                    outcomes["grpc:ok"] = outcomes.get("grpc:ok", 0) + 1
                except grpc.RpcError as exc:
                    code = exc.code().name
                    err = from_grpc(exc.code(), exc.details() or "", exc.trailing_metadata())
                    outcomes[f"grpc:{err.code}"] = outcomes.get(f"grpc:{err.code}", 0) + 1
                    if code in BAD_GRPC:
                        bad.append(f"{path} {raw[:40]!r}: {code} {exc.details()}")

            def http_case(method: str, path: str, raw: bytes, media: str) -> None:
                path = path.replace("{org}", srv.org_id)
                resp = http.request(method, srv.http_url(path), content=raw,
                                    headers={**headers, "Content-Type": media})
                key = f"http:{resp.status_code}"
                outcomes[key] = outcomes.get(key, 0) + 1
                if resp.status_code >= 500:
                    bad.append(f"{method} {path} {media} {raw[:40]!r}: {resp.status_code} {resp.text[:200]}")

            for path, msg in GRPC_METHODS.items():
                good = msg.SerializeToString()
                for cut in range(1, len(good)):
                    grpc_case(path, good[:cut])                      # truncated
                for _ in range(CASES // 10):
                    raw = bytearray(good)
                    for _ in range(rng.randrange(1, 4)):             # flipped bytes
                        if raw:
                            raw[rng.randrange(len(raw))] = rng.randrange(256)
                    grpc_case(path, bytes(raw))
                    grpc_case(path, bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80))))
                grpc_case(path, b"\x0a\xff\xff\xff\xff\x0f" + b"x" * 16)   # a length bomb
                grpc_case(path, b"\x0a\x02\xff\xfe")

            @settings(max_examples=max(20, CASES // 3), deadline=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(st.lists(st.tuples(st.integers(1, 40), st.sampled_from([0, 1, 2, 5]),
                                      st.binary(max_size=24) | st.integers(0, 2**64 - 1)), max_size=8),
                   st.sampled_from(sorted(GRPC_METHODS)))
            def generated(fields, path):
                out = bytearray()
                for number, wire, value in fields:   # well-framed protobuf of random fields and types
                    out += bytes([(number << 3 | wire) & 0x7F | (0x80 if number >= 16 else 0)])
                    if number >= 16:
                        out += bytes([number >> 4])
                    if wire == 0:
                        v = value if isinstance(value, int) else len(value)
                        while v >= 0x80:
                            out.append(v & 0x7F | 0x80)
                            v >>= 7
                        out.append(v)
                    elif wire == 2:
                        data = value if isinstance(value, bytes) else str(value).encode()
                        out += bytes([len(data)]) + data
                    else:
                        out += (value if isinstance(value, bytes) else b"").ljust(8 if wire == 1 else 4, b"\0")[:8 if wire == 1 else 4]
                grpc_case(path, bytes(out))

            generated()
            for method, path in HTTP_ROUTES:
                for raw in _msgpack_bombs(rng):
                    http_case(method, path, raw, "application/msgpack")
                for raw in _json_bombs(rng):
                    http_case(method, path, raw, "application/json")
            rss1 = sr.rss_mib(srv.proc.pid)
    finally:
        code = sr.stop(srv)
    cases = sum(outcomes.values())
    report("R9", cases=cases, clean_pct=round(100 * (cases - len(bad)) / max(1, cases), 2), bad=len(bad),
           rss_growth_mib=round(rss1 - rss0, 1), seed=seed, outcomes=outcomes)
    assert code == 0
    assert not bad, "\n".join(bad[:20])
    assert rss1 - rss0 < RSS_BOUND_MIB
