"""Issue 14 #7 and #14 over gRPC: failed logins back off (RESOURCE_EXHAUSTED
RequestLimitExceeded LOGIN_THROTTLED with retry-after), and invalid bearer tokens are
charged to the peer address (AUTH_FAILURES_LIMITED). The backoff base is 600 s here, so
"still blocked" never depends on how fast the machine is."""
from __future__ import annotations

import grpc

from grpc_testlib import ROOT_EMAIL, ROOT_PASSWORD, TIMEOUT, expect, md, serving
from server.pb.roarbase.v1 import auth_pb2, database_pb2

SC = grpc.StatusCode


def test_grpc_login_and_token_throttling(tmp_path) -> None:
    settings = {"login_free_failures": 2, "login_backoff_base_seconds": 600, "login_backoff_cap_seconds": 600,
                "auth_failure_burst": 5, "auth_failure_rate": 0.001}
    with serving(tmp_path / "data", settings=settings) as c:
        wrong = auth_pb2.LoginRequest(email=ROOT_EMAIL, password="wrong-password")
        for _ in range(3):
            expect(c.auth.Login, wrong, timeout=TIMEOUT, status=SC.UNAUTHENTICATED, code="Unauthorized")
        f = expect(c.auth.Login, auth_pb2.LoginRequest(email=ROOT_EMAIL, password=ROOT_PASSWORD), timeout=TIMEOUT,
                   status=SC.RESOURCE_EXHAUSTED, code="RequestLimitExceeded", name="LOGIN_THROTTLED")
        assert 500 <= f.error.retry_after <= 600
        for _ in range(5):
            expect(c.databases.ListDatabases, database_pb2.ListDatabasesRequest(), metadata=md("not-a-jwt"),
                   timeout=TIMEOUT, status=SC.UNAUTHENTICATED, code="Unauthorized")
        expect(c.databases.ListDatabases, database_pb2.ListDatabasesRequest(), metadata=md("not-a-jwt"),
               timeout=TIMEOUT, status=SC.RESOURCE_EXHAUSTED, code="RequestLimitExceeded",
               name="AUTH_FAILURES_LIMITED")
        # the token issued before the attack still works from the same address
        c.databases.ListDatabases(database_pb2.ListDatabasesRequest(), metadata=md(c.root), timeout=TIMEOUT)
