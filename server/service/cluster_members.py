"""Membership of a database's Ray cluster on a running server: add a worker, remove one,
rebalance (POST/DELETE /v2/databases/{id}/cluster/workers…, DatabaseService.AddClusterWorker,
RemoveClusterWorker, RebalanceCluster; `roarbase cluster add-worker|remove-worker|rebalance`).

Each database has its own worker actors, named `<first 8 characters of its id>-<name>`; a
name given without that prefix gets it. The change runs through the database's
engine.Cluster, which moves shards one at a time, serialised with queries. Errors: a
database not on a cluster → IncorrectState (NOT_A_CLUSTER); an unknown worker →
ResourceNotFound (WORKER_NOT_FOUND); the last worker → IncorrectState (LAST_WORKER); a
name already there → ResourceAlreadyExists (WORKER_EXISTS).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from server import policy
from server.service import databases
from server.service.context import ServiceContext
from server.service.errors import IncorrectState, InvalidParameter
from server.service.principal import Principal

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class Membership:
    """A database's cluster after a change: the worker it named, the shards that moved,
    the placement epoch and every worker's shard count."""

    database_id: str
    worker: str
    moved: list[tuple[str, int]]
    epoch: int
    workers: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"database_id": self.database_id, "worker": self.worker, "epoch": self.epoch,
                "moved": [{"table": t, "shard": s} for t, s in self.moved], "workers": dict(self.workers)}


def _cluster(ctx: ServiceContext, principal: Principal, database_id: Any) -> tuple[str, Any]:
    db = databases.load(ctx, principal, database_id)
    databases.check_queryable(db, writes=True)
    cluster = getattr(databases.engine_for(ctx, db), "cluster", None)
    if cluster is None:
        raise IncorrectState(f"database {db.name} does not keep its records on a cluster (serve --ray)",
                             name="NOT_A_CLUSTER", data={"type": "database", "key": db.id})
    return db.id, cluster


def worker_name(database_id: str, name: Any) -> str:
    """The full worker name: `<id prefix>-<name>` unless `name` already has the prefix."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidParameter("a worker name is 1-64 letters, digits, '.', '_' or '-'",
                               name="INVALID_WORKER_NAME", data={"key": "name"})
    prefix = database_id[:8] + "-"
    return name if name.startswith(prefix) else prefix + name


def _done(db_id: str, worker: str, moved: list[tuple[str, int]], cluster: Any) -> Membership:
    return Membership(db_id, worker, moved, cluster.table.epoch, cluster.table.shard_counts())


@policy.checked("DatabaseService.AddClusterWorker")
def add_worker(ctx: ServiceContext, principal: Principal, database_id: Any, name: Any) -> Membership:
    """Start worker `name` and move to it the shards jump hash now gives it."""
    db_id, cluster = _cluster(ctx, principal, database_id)
    full = worker_name(db_id, name)
    return _done(db_id, full, cluster.add_worker(full), cluster)


@policy.checked("DatabaseService.RemoveClusterWorker")
def remove_worker(ctx: ServiceContext, principal: Principal, database_id: Any, name: Any) -> Membership:
    """Move worker `name`'s shards to the others, then stop it."""
    db_id, cluster = _cluster(ctx, principal, database_id)
    full = worker_name(db_id, name)
    return _done(db_id, full, cluster.remove_worker(full), cluster)


@policy.checked("DatabaseService.RebalanceCluster")
def rebalance(ctx: ServiceContext, principal: Principal, database_id: Any) -> Membership:
    """Move every shard that is not where jump hash over the current workers puts it."""
    db_id, cluster = _cluster(ctx, principal, database_id)
    return _done(db_id, "", cluster.rebalance(), cluster)
