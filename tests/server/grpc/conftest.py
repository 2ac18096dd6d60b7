"""tests/server/grpc: the gRPC face against a real server subprocess.

`grpc_client` is one server shared by the functional test modules (session scope: starting
a server costs about a second); the R12/R13/R14 modules start their own, configured for
them. The data dir holds a second org ("globex") made before the first start.
"""
from __future__ import annotations

from typing import Iterator

import pytest

from grpc_testlib import Client, prepare_other_org, serving


@pytest.fixture(scope="session")
def grpc_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    data_dir = tmp_path_factory.mktemp("grpc-shared")
    prepare_other_org(data_dir)
    with serving(data_dir) as client:
        yield client
