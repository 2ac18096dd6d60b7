"""service properties: the numbers the server enforces, from the one config object."""
import pytest

from server.service import databases, service_properties
from server.service.config import Limits
from server.service.errors import ResourceNotFound
from svc_testlib import member, root_of, start


def test_properties_report_the_config(tmp_path, clock):
    limits = Limits(max_databases_per_org=3, max_payload_bytes=1234, max_sources_per_database=5, max_page_size=50)
    ctx = start(tmp_path / "data", clock, limits=limits, shape_cpus=2, shape_memory_gb=4.0,
                query_base_url="http://127.0.0.1:10101")
    try:
        root = root_of(ctx)
        databases.create_database(ctx, root, name="one")
        shapes = service_properties.get_service_property(ctx, root, "database:shapes")
        assert shapes.to_dict() == {"org_id": root.org_id, "property": "database:shapes", "value": {
            "shapes": [{"name": "local", "cpus": 2, "memory_gb": 4.0}], "query_base_url": "http://127.0.0.1:10101"}}
        lim = service_properties.get_service_property(ctx, root, "database:limits").value
        assert lim["max_databases_per_org"] == 3 and lim["databases_in_org"] == 1
        assert lim["max_payload_bytes"] == 1234 and lim["max_page_size"] == 50
        assert lim["max_query_bytes"] == limits.max_query_bytes
        src = service_properties.get_service_property(ctx, root, "source:limits").value
        assert src == {"max_sources_per_database": 5, "max_payload_bytes": 1234, "max_upload_bytes": 16 << 30,
                       "local_sandbox": False, "connections_supported": ["LOCAL", "S3", "GCS"]}
        for role in ("manager", "backend", "frontend"):
            service_properties.get_service_property(ctx, member(ctx, root, role), "database:limits")
        with pytest.raises(ResourceNotFound):
            service_properties.get_service_property(ctx, root, "database:secrets")
    finally:
        ctx.close()
