"""Scale-out: an index's shards held by workers, queries fanned out by a coordinator.

Nothing here imports Ray: engine/cluster/ray_backend.py does, and only when a Ray cluster
is configured. See docs/cluster.md.
"""
