"""moto's S3 server on 127.0.0.1 for the object-store cluster tests: a ThreadedMotoServer on
a free port, an IAM user whose key may use S3 (s3:*), and IAM auth enforced from then on
(unless enforce_iam=False: the Ray tier's processes outlive the setting), so a wrong key
is refused as by AWS. Credentials reach the code under test only through
boto3's chain (the AWS_* environment variables, as in production)."""
from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import boto3
from botocore.config import Config


class MotoServer:
    def __init__(self, *, enforce_iam: bool = True) -> None:
        from moto import settings as moto_settings
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        admin = dict(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1",
                     endpoint_url=self.endpoint)
        iam = boto3.client("iam", **admin)
        user = f"cluster-{uuid.uuid4().hex[:8]}"   # moto keeps IAM users per process, across servers
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        self.key_id, self.secret = key["AccessKeyId"], key["SecretAccessKey"]
        self._settings = moto_settings
        self._old = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
        if enforce_iam:
            moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0      # IAM enforced from here on
        self.client = boto3.client("s3", aws_access_key_id=self.key_id, aws_secret_access_key=self.secret,
                                   region_name="us-east-1", endpoint_url=self.endpoint,
                                   config=Config(request_checksum_calculation="when_required",
                                                 response_checksum_validation="when_required"))

    def env(self) -> dict[str, str]:
        """The environment boto3's credential chain reads (as a deployment sets it)."""
        return {"AWS_ACCESS_KEY_ID": self.key_id, "AWS_SECRET_ACCESS_KEY": self.secret,
                "AWS_DEFAULT_REGION": "us-east-1"}

    def bucket(self) -> str:
        name = f"rb-{uuid.uuid4().hex[:12]}"
        self.client.create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        out: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            out.extend(o["Key"] for o in page.get("Contents", ()))
        return sorted(out)

    def get(self, bucket: str, key: str) -> Any:
        return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()

    def close(self) -> None:
        self._settings.INITIAL_NO_AUTH_ACTION_COUNT = self._old
        self.server.stop()
