"""A loopback cluster for tests: a coordinator data directory plus N in-process workers
(engine/cluster/transport.LoopbackTransport: every message pickled) over a shared root."""
from __future__ import annotations

import os
from typing import Any

import engine
from engine.cluster.coordinator import Cluster
from engine.cluster.transport import LoopbackTransport


def open_loopback_cluster(base: Any, workers: int = 3, *, coordinator: str = "coord") -> engine.Holder:
    shared = os.path.join(str(base), "shared")
    transport = LoopbackTransport(shared, [f"w{i}" for i in range(workers)], fsync=False)
    return engine.open(os.path.join(str(base), coordinator), fsync=False,
                       cluster=Cluster(transport, shared, fsync=False))
