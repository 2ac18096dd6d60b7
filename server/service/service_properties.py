"""Service properties (GET /v2/service-properties/{property}): configuration-backed and
honest — every number is read from the same config.limits object the server enforces."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server import policy
from server.service.principal import Principal
from server.service.context import ServiceContext
from server.service.errors import ResourceNotFound

DATABASE_SHAPES, DATABASE_LIMITS, SOURCE_LIMITS = "database:shapes", "database:limits", "source:limits"
CLUSTER_PLACEMENT = "cluster:placement"
PROPERTIES = (DATABASE_SHAPES, DATABASE_LIMITS, SOURCE_LIMITS, CLUSTER_PLACEMENT)


@dataclass(frozen=True)
class ServiceProperty:
    org_id: str
    property: str
    value: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"org_id": self.org_id, "property": self.property, "value": dict(self.value)}


def _value(ctx: ServiceContext, org_id: str, prop: str) -> dict[str, Any]:
    cfg, limits = ctx.config, ctx.config.limits
    if prop == DATABASE_SHAPES:
        shape = {"name": cfg.shape_name, "cpus": cfg.shape_cpus, "memory_gb": cfg.shape_memory_gb}
        return {"shapes": [shape], "query_base_url": cfg.query_base_url}
    if prop == DATABASE_LIMITS:
        used = ctx.store.one("SELECT COUNT(*) AS n FROM databases WHERE org_id = ? AND state != 'DELETED'",
                             (org_id,))
        return {"max_databases_per_org": limits.max_databases_per_org,
                "databases_in_org": int(used["n"]) if used is not None else 0,
                "max_query_bytes": limits.max_query_bytes,
                "query_timeout_seconds": limits.query_timeout_seconds,
                "max_payload_bytes": limits.max_payload_bytes,
                "max_import_bytes": limits.max_import_bytes,
                "max_page_size": limits.max_page_size,
                "default_page_size": limits.default_page_size,
                **ctx.server_limits}
    if prop == CLUSTER_PLACEMENT:
        return _placement(ctx, org_id)
    return {"max_sources_per_database": limits.max_sources_per_database,
            "max_payload_bytes": limits.max_payload_bytes,
            "max_upload_bytes": limits.max_upload_bytes,
            "local_sandbox": cfg.sources_sandbox_dir is not None,
            "connections_supported": ["LOCAL", "S3", "GCS"]}


def _placement(ctx: ServiceContext, org_id: str) -> dict[str, Any]:
    """Where the shards of the org's open databases on a Ray cluster are: each worker and
    its shard count, and each table's shard → worker (roarbase cluster status has more)."""
    ours = {r["id"] for r in ctx.store.all("SELECT id FROM databases WHERE org_id = ? AND state != 'DELETED'",
                                           (org_id,))}
    out = []
    for db_id, cluster in ctx.open_clusters().items():
        if db_id not in ours:
            continue
        table = cluster.table
        doc = table.to_dict()
        out.append({"database_id": db_id, "epoch": table.epoch, "workers": table.shard_counts(),
                    "owners": {ix: {str(s): w for s, w in shards.items()} for ix, shards in doc["owners"].items()}})
    return {"ray": ctx.config.ray_address is not None, "databases": out}


@policy.checked("OrgService.GetServiceProperty")
def get_service_property(ctx: ServiceContext, principal: Principal, prop: Any) -> ServiceProperty:
    """One property for the caller's org. Raises ResourceNotFound for an unknown name."""
    if prop not in PROPERTIES:
        raise ResourceNotFound(f"unknown service property; known: {', '.join(PROPERTIES)}",
                               name="PROPERTY_NOT_FOUND", data={"type": "service_property", "key": str(prop)[:64]})
    return ServiceProperty(principal.org_id, prop, _value(ctx, principal.org_id, prop))
