"""R9, the HTTP face (issue 14): schemathesis against the server's own /openapi.json.

A real server on loopback; every operation of the document gets generated requests —
valid ones (positive) and ones that break the schema (negative: wrong types, missing
fields, bad path and query values) — once as root (the admin principal, so the
authenticated routes run their bodies; the /v1 routes get a token scoped to a database)
and once without credentials. Every answer must be typed: never a 5xx, a status the
document lists for that operation, a content type it lists, a body its schema accepts; the server stays up and its RSS bounded.

Generation is derandomized (the same cases each run). ROARBASE_R9_OPENAPI_EXAMPLES sets
the examples per operation and mode (quick 3, half that without credentials; 25 under
`-m slow`).
"""
from __future__ import annotations

import os
import time
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

import server_rel as sr
from rel_common import report

pytestmark = pytest.mark.reliability

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
RSS_BOUND_MIB = 256
# Skipped for root only: with the database-scoped token it deletes the database that token
# selects (the /v1 routes' target), which ends the rest of the run's /v1 coverage. It is
# still sent without credentials.
SELF_DESTRUCTIVE = {("DELETE", "/v1/databases/current")}


def _wants_database(path: str) -> bool:
    """The recommender-style face and the Pieces import act on the token's database."""
    return path.startswith(("/v1/", "/database/"))


def _run(examples: int, tmp_path: Any) -> None:
    srv = sr.serverlib.start_server(tmp_path / "data", settings={
        "auth_failure_burst": 1_000_000, "login_free_failures": 1_000_000,
        "login_free_failures_per_address": 1_000_000, "rate_per_org": 1e9, "rate_burst": 1_000_000})
    failures: dict[str, str] = {}     # the first of each operation and kind of failure
    statuses: dict[str, int] = {}
    started = time.monotonic()
    try:
        rss0 = sr.rss_mib(srv.proc.pid)
        with httpx.Client(timeout=60) as http:
            root = sr.login(http, srv)
            ident = sr.database(http, srv, root, "fuzz", "CREATE TABLE t (_id ID, f INT)")
            resp = http.post(srv.http_url("/v1/login/individual"),
                             json={"email": sr.ROOT_EMAIL, "password": sr.ROOT_PASSWORD, "db_id": ident})
            assert resp.status_code == 200, resp.text
            root_db = {"Authorization": f"Bearer {resp.json()['token']}"}
        schema = schemathesis.openapi.from_url(srv.http_url("/openapi.json"), timeout=60)
        operations = [op.ok() for op in schema.get_all_operations()]
        passes = [("root", GenerationMode.POSITIVE, examples), ("root", GenerationMode.NEGATIVE, examples),
                  ("anonymous", GenerationMode.POSITIVE, max(1, examples // 2))]
        with requests.Session() as session:
            for principal, mode, n in passes:
                for op in operations:
                    if principal == "root" and (op.method.upper(), op.path) in SELF_DESTRUCTIVE:
                        continue
                    headers = {} if principal == "anonymous" else root_db if _wants_database(op.path) else root
                    _fuzz(op, mode, n, srv.http_url(), session, headers, principal, statuses, failures)
        with httpx.Client(timeout=60) as http:
            alive = http.get(srv.http_url("/health")).status_code
        rss1 = sr.rss_mib(srv.proc.pid)
    finally:
        code = sr.stop(srv)
    report("R9-openapi", operations=len(operations), cases=sum(statuses.values()),
           server_errors=sum(n for k, n in statuses.items() if int(k.split("/")[1]) >= 500),
           failures=len(failures), seconds=round(time.monotonic() - started, 1),
           rss_growth_mib=round(rss1 - rss0, 1), statuses=dict(sorted(statuses.items())))
    assert code == 0 and alive == 200
    assert not failures, "\n\n".join(list(failures.values())[:30])
    assert rss1 - rss0 < RSS_BOUND_MIB


def _fuzz(op: Any, mode: GenerationMode, examples: int, base: str, session: requests.Session,
          headers: dict[str, str], principal: str, statuses: dict[str, int], failures: dict[str, str]) -> None:
    """`examples` generated requests to one operation; every answer checked against CHECKS."""
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(generation_mode=mode))
    def one(case: schemathesis.Case) -> None:
        resp = case.call(base_url=base, session=session, headers=headers, timeout=60)
        key = f"{principal}/{resp.status_code}"
        statuses[key] = statuses.get(key, 0) + 1
        try:
            case.validate_response(resp, checks=CHECKS, headers=headers)
        except (Failure, FailureGroup) as exc:
            for f in exc.exceptions if isinstance(exc, FailureGroup) else (exc,):
                failures.setdefault(f"{op.label} {f.title}", (
                    f"{principal} {mode.value} {op.label}: {f.title}: {f.message}\n"
                    f"  sent {case.method} {resp.request.url} body={str(case.body)[:200]}\n"
                    f"  got {resp.status_code} {resp.text[:300]}"))

    try:
        one()
    except Unsatisfiable:    # nothing to break: no parameters, no body
        assert mode is GenerationMode.NEGATIVE, op.label


def test_r9_openapi_quick(tmp_path):
    _run(int(os.environ.get("ROARBASE_R9_OPENAPI_EXAMPLES", "3")), tmp_path)


@pytest.mark.slow
def test_r9_openapi_full(tmp_path):
    _run(int(os.environ.get("ROARBASE_R9_OPENAPI_EXAMPLES", "25")), tmp_path)
