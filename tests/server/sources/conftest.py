"""tests/server/sources: connections and sources — readers and path safety as units, the
routes in process (tests/server/http's InProcess), and the S3 protocol against moto's
standalone server on 127.0.0.1 (a real HTTP endpoint boto3 talks to)."""
import pytest
from src_testlib import MotoS3, SourcesWeb


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """The HTTP app over a service whose LOCAL sandbox is a temp directory."""
    app = SourcesWeb(tmp_path_factory.mktemp("src") / "data", tmp_path_factory.mktemp("sandbox"))
    yield app
    app.close()


@pytest.fixture(scope="module")
def s3():
    """moto's S3 on 127.0.0.1 with IAM authentication enforced: only the generated access
    key (allowed s3:*) is accepted."""
    server = MotoS3()
    yield server
    server.close()
