"""Rate limits over gRPC: authenticated calls are charged to the caller's org, public ones
(Login) to the caller's address; an exhausted bucket answers RESOURCE_EXHAUSTED with the
unified RequestLimitExceeded code and a retry-after; another org is not charged."""
from __future__ import annotations

import grpc

from grpc_testlib import OTHER_EMAIL, ROOT_EMAIL, ROOT_PASSWORD, TIMEOUT, expect, md, prepare_other_org, serving
from server.pb.roarbase.v1 import auth_pb2, org_pb2


def test_org_and_address_buckets(tmp_path) -> None:
    prepare_other_org(tmp_path)
    # burst 6: the fixture's own root login takes one token of the address bucket
    with serving(tmp_path, settings={"rate_per_org": 0.01, "rate_burst": 6}) as c:
        other = c.login(OTHER_EMAIL, ROOT_PASSWORD).token
        for _ in range(6):
            c.orgs.GetServiceProperty(org_pb2.GetServicePropertyRequest(property="database:limits"),
                                      metadata=md(c.root), timeout=TIMEOUT)
        f = expect(c.orgs.GetServiceProperty, org_pb2.GetServicePropertyRequest(property="database:limits"),
                   metadata=md(c.root), timeout=TIMEOUT, status=grpc.StatusCode.RESOURCE_EXHAUSTED,
                   code="RequestLimitExceeded", name="RATE_LIMITED")
        assert f.error.retry_after is not None and f.error.retry_after >= 1
        # the other org has its own bucket
        c.orgs.GetServiceProperty(org_pb2.GetServicePropertyRequest(property="database:limits"),
                                  metadata=md(other), timeout=TIMEOUT)
        # logins: two were spent (the fixture's and globex's); four more pass, then the address is throttled
        for _ in range(4):
            expect(c.auth.Login, auth_pb2.LoginRequest(email=ROOT_EMAIL, password="wrong-password"),
                   timeout=TIMEOUT, status=grpc.StatusCode.UNAUTHENTICATED, code="Unauthorized")
        expect(c.auth.Login, auth_pb2.LoginRequest(email=ROOT_EMAIL, password=ROOT_PASSWORD), timeout=TIMEOUT,
               status=grpc.StatusCode.RESOURCE_EXHAUSTED, code="RequestLimitExceeded", name="RATE_LIMITED")
