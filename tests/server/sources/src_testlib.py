"""Helpers for the sources tests: an in-process app with a sandbox, moto's S3 server,
waiting for runs, and data files."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Optional

import boto3
from botocore.config import Config

from http_testlib import ROOT_EMAIL, ROOT_PASSWORD, AsgiClient, InProcess, bearer, unique
from server import http_app
from server.runtime import Runtime
from server.service.bootstrap import open_service
from server.service.config import BootstrapSettings, Limits, ServiceConfig
from server.settings import ServerSettings
from http_testlib import FAST_HASH


class SourcesWeb(InProcess):
    """InProcess with sources_sandbox_dir set (and optional limits)."""

    def __init__(self, data_dir: Path, sandbox: Path, *, limits: Optional[Limits] = None) -> None:
        self.sandbox = sandbox
        config = ServiceConfig(str(data_dir), fsync=False, passwords=FAST_HASH, limits=limits or Limits(),
                               sources_sandbox_dir=str(sandbox),
                               bootstrap=BootstrapSettings(org_name="acme", root_email=ROOT_EMAIL,
                                                           root_name="rooty", root_password=ROOT_PASSWORD))
        self.ctx = open_service(config)
        self.rt = Runtime(self.ctx, ServerSettings(config, grpc_port=0, http_port=0))
        self.app = http_app.build_app(self.rt)
        self.client = AsgiClient(self.app)
        self.root = self.login(ROOT_EMAIL, ROOT_PASSWORD)

    def v1_login(self, email: str = ROOT_EMAIL, password: str = ROOT_PASSWORD, **extra: Any) -> dict[str, Any]:
        resp = self.client.post("/v1/login/individual/", json={"email": email, "password": password, **extra})
        assert resp.status_code == 200, resp.text
        return resp.json()

    def new_db(self, item_id_type: str = "uint64", user_id_type: str = "uint64") -> tuple[str, dict[str, str]]:
        """A new database and a root token scoped to it."""
        root = self.v1_login()
        resp = self.client.post("/v1/databases/", headers=bearer(root["token"]),
                                json={"name": unique("db"), "item_id_type": item_id_type,
                                      "user_id_type": user_id_type})
        assert resp.status_code == 201, resp.text
        db_id = resp.json()["id"]
        return db_id, bearer(self.v1_login(db_id=db_id)["token"])

    def props(self, h: dict[str, str], kind: str, *specs: tuple[str, str, bool]) -> None:
        for name, vt, rep in specs:
            r = self.client.post(f"/v1/{kind}s-properties/", headers=h,
                                 json={"property_name": name, "value_type": vt, "repeated": rep})
            assert r.status_code == 201, r.text

    def table(self, h: dict[str, str], connection: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.client.request("PATCH", f"/v1/connections/{connection}/tables/{name}/", headers=h, json=body)
        assert r.status_code == 200, r.text
        return r.json()

    def upload(self, table: dict[str, Any], data: bytes) -> dict[str, Any]:
        url = table["connection_table_params"]["url"]
        path = url[url.index("/v1/uploads/"):]
        r = self.client.put(path, content=data, headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 200, r.text
        return r.json()

    def run(self, h: dict[str, str], connection: str, name: str, timeout: float = 120.0,
            **body: Any) -> dict[str, Any]:
        """Start a run and wait for its end; returns the finished task."""
        r = self.client.post(f"/v1/connections/{connection}/tables/{name}/run/", headers=h, json=body)
        assert r.status_code == 202, r.text
        return self.wait(h, connection, name, timeout)

    def wait(self, h: dict[str, str], connection: str, name: str, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            r = self.client.get(f"/v1/connections/{connection}/tables/{name}/run/", headers=h)
            assert r.status_code == 200, r.text
            task = r.json()
            if task["status"] != "RUNNING":
                return task
            assert time.monotonic() < deadline, task
            time.sleep(0.02)

    def sql_rows(self, db_id: str, text: str) -> list[list[Any]]:
        r = self.client.post(f"/v2/databases/{db_id}/query/sql", content=text,
                             headers={"Content-Type": "text/plain", "Accept": "application/problem+json",
                                      **self.root.headers})
        assert r.status_code == 200, r.text
        return r.json()["data"]


class MotoS3:
    """moto's ThreadedMotoServer on 127.0.0.1:<free port> with IAM auth enforced after
    setup: the access key made here (policy s3:*) works, anything else is refused."""

    def __init__(self) -> None:
        from moto import settings as moto_settings
        from moto.core.authorization import ActionAuthenticatorMixin
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)   # no line per request
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        admin = dict(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1",
                     endpoint_url=self.endpoint)
        iam = boto3.client("iam", **admin)
        iam.create_user(UserName="importer")
        iam.put_user_policy(UserName="importer", PolicyName="s3", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="importer")["AccessKey"]
        self.key_id, self.secret = key["AccessKeyId"], key["SecretAccessKey"]
        self._settings, self._mixin = moto_settings, ActionAuthenticatorMixin
        self._old = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
        self.client = self.boto()

    def credentials(self, **over: str) -> dict[str, str]:
        return {"aws_access_key_id": self.key_id, "aws_secret_access_key": self.secret,
                "endpoint_url": self.endpoint, "region_name": "us-east-1", **over}

    def boto(self) -> Any:
        return boto3.client("s3", config=Config(request_checksum_calculation="when_required",
                                                response_checksum_validation="when_required"),
                            **self.credentials())

    def bucket(self) -> str:
        name = unique("bucket-")
        self.client.create_bucket(Bucket=name)
        return name

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=bucket, Key=key, Body=data)

    def close(self) -> None:
        self._settings.INITIAL_NO_AUTH_ACTION_COUNT = self._old
        self.server.stop()
