"""Peers: the systems measured side by side, and the one registry that names them.

A peer loads a generated data dir once, then answers the queries of bench.queries in
their canonical answer form. To add a peer (e.g. "roarbase-api", "roarbase-pql",
"roarbase-sql"), write a module with a class that satisfies `Peer` and add a factory to
PEERS; the runner, the memory probe and the report pick it up by name.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bench.queries import Answer, Query


@dataclass(frozen=True)
class LoadStats:
    """What loading cost a peer: wall time, what it ingested, and peer-specific extras."""

    seconds: float
    items: int  # rows or edges ingested
    item_unit: str  # "rows" or "edges"
    details: dict[str, str] = field(default_factory=dict)


class Peer(Protocol):
    """One system under measurement; a fresh instance per process."""

    name: str

    def load(self, data_dir: Path) -> LoadStats:
        """Ingest the data dir written by bench.gen; called once."""
        ...

    def run(self, query: Query) -> Answer:
        """Answer one query in the canonical form of its kind (bench.queries)."""
        ...

    def close(self) -> None:
        """Release everything load() acquired."""
        ...


def _duckdb() -> Peer:
    from bench.peers.duckdb_peer import DuckDBPeer
    return DuckDBPeer()


def _floor() -> Peer:
    from bench.peers.floor import FloorPeer
    return FloorPeer()


def _roarbase_api() -> Peer:
    from bench.peers.roarbase_peer import RoarbaseAPIPeer
    return RoarbaseAPIPeer()


def _roarbase_pql() -> Peer:
    from bench.peers.roarbase_peer import RoarbasePQLPeer
    return RoarbasePQLPeer()


def _roarbase_sql() -> Peer:
    from bench.peers.roarbase_peer import RoarbaseSQLPeer
    return RoarbaseSQLPeer()


def _roarbase_grpc() -> Peer:
    from bench.peers.grpc_peer import RoarbaseGrpcPeer
    return RoarbaseGrpcPeer()


def _polars() -> Peer:
    from bench.peers.polars_peer import PolarsPeer
    return PolarsPeer()


def _clickhouse() -> Peer:
    from bench.peers.chdb_peer import ChdbPeer
    return ChdbPeer()


# Factories import lazily, so a run pays only for the peers it asks for.
PEERS: dict[str, Callable[[], Peer]] = {
    "duckdb": _duckdb,
    "polars": _polars,
    "clickhouse": _clickhouse,
    "floor": _floor,
    "roarbase-api": _roarbase_api,
    "roarbase-pql": _roarbase_pql,
    "roarbase-sql": _roarbase_sql,
    "roarbase-grpc": _roarbase_grpc,  # opt-in (--peers ...,roarbase-grpc): starts a server process
}
