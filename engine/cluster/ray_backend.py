"""The Ray transport: each worker is a long-lived Ray actor holding many shards.

Imported only when a Ray cluster is configured (`roarbase serve --ray ADDRESS`, or
engine.open(path, cluster=Cluster(RayTransport(...), root))); needs the `ray` extra.

Each worker is a *named, detached* actor (`roarbase-worker-<name>` in the namespace):
it outlives the coordinator that created it, a restarted coordinator finds it by name,
and Ray restarts it when its process dies (max_restarts=-1), on any node with room —
its ShardWorker reopens its shards from the shared storage before taking a message.
A call that was running when the actor died is retried by Ray on the restarted actor
(max_task_retries=-1); every message is a read or an idempotent write, so a retry never
changes an answer. A worker that is not back within `timeout` seconds raises
WorkerUnavailableError (ServiceUnavailable).
"""
from __future__ import annotations

import os
import pickle
from typing import Any, Optional, Sequence, Union, cast

import ray
from ray.exceptions import ActorUnschedulableError, GetTimeoutError, RayActorError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from engine.cluster import storage
from engine.cluster.transport import Call, Transport
from engine.errors import InvalidParameterError, WorkerUnavailableError

ACTOR_PREFIX = "roarbase-worker-"
NAMESPACE = "roarbase"


@ray.remote
class ShardActor:
    """A ShardWorker in a Ray actor process."""

    def __init__(self, name: str, root: str, fsync: bool) -> None:
        from engine.cluster.worker import ShardWorker

        self._worker = ShardWorker(name, root, fsync=fsync)

    def handle(self, message: bytes) -> bytes:
        """One pickled (method, args) in, the pickled envelope out. Messages are pickled
        with the standard pickle, as by the loopback transport, not Ray's cloudpickle
        (it refuses the Bitmap types' reduce), so both transports carry the same bytes."""
        method, args = pickle.loads(message)
        return pickle.dumps(self._worker.handle(method, *args), protocol=pickle.HIGHEST_PROTOCOL)

    def pid(self) -> int:
        return os.getpid()

    def node_id(self) -> str:
        """The Ray node this actor runs on."""
        return str(ray.get_runtime_context().get_node_id())


class RayTransport(Transport):
    """Workers as Ray actors.

    Args:
        root: the shared storage every node reaches (a shared filesystem path, or an
            s3://bucket/prefix[?endpoint=URL] object store: engine/cluster/storage.py).
        workers: how many workers (named w0, w1, …) or their names. Existing actors of
            those names are reused, not recreated.
        address: the Ray cluster (`ray start --head` prints it); None: an already
            initialised Ray, or a local one.
        num_cpus: CPUs each worker actor reserves (1 spreads workers one per core/node).
        timeout: seconds a fan-out may wait, restarts included.
    """

    def __init__(self, root: str, workers: Union[int, Sequence[str]] = 2, *, address: Optional[str] = None,
                 namespace: str = NAMESPACE, fsync: bool = True, num_cpus: float = 1.0, timeout: float = 60.0,
                 max_concurrency: int = 8) -> None:
        if not ray.is_initialized():
            ray.init(address=address, namespace=namespace, logging_level="ERROR",  # type: ignore[arg-type]
                     log_to_driver=False)                          # (ray takes level names too)
        self.root = storage.normalize(root)
        self.namespace = namespace
        self.timeout = timeout
        self.names = [f"w{i}" for i in range(workers)] if isinstance(workers, int) else list(workers)
        self._options = dict(namespace=namespace, lifetime="detached", get_if_exists=True, max_restarts=-1,
                             max_task_retries=-1, max_concurrency=max_concurrency, num_cpus=num_cpus,
                             scheduling_strategy="SPREAD")
        self._fsync = fsync
        self._handles = {n: self._actor(n) for n in self.names}

    def _actor(self, name: str, node: Optional[str] = None) -> Any:
        options: dict[str, Any] = dict(self._options)
        if node is not None:
            # Hard affinity: soft=True let Ray start some actors on the head node instead.
            # When the node dies the actor cannot restart (ActorUnschedulableError): the
            # membership watcher moves its shards to live workers (at once when a query
            # meets it, Cluster._recover).
            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=False)
        return ShardActor.options(name=ACTOR_PREFIX + name, **options).remote(  # type: ignore[attr-defined]
            name, self.root, self._fsync)

    def workers(self) -> list[str]:
        return list(self.names)

    def call_many(self, calls: list[Call]) -> list[tuple[str, Any]]:
        refs = [self._handles[name].handle.remote(pickle.dumps((method, args), protocol=pickle.HIGHEST_PROTOCOL))
                for name, method, args in calls]
        try:
            return [pickle.loads(b) for b in ray.get(refs, timeout=self.timeout)]
        except GetTimeoutError:
            for r in refs:
                ray.cancel(r)
            raise WorkerUnavailableError(f"cluster workers did not answer within {self.timeout:g} s") from None
        except (RayActorError, ActorUnschedulableError) as exc:
            err = WorkerUnavailableError(f"a cluster worker is gone: {exc}")
            err.lost = self._unschedulable(calls, refs)
            raise err from None

    @staticmethod
    def _unschedulable(calls: list[Call], refs: list[Any]) -> list[str]:
        """The workers of a failed fan-out whose actor can never run again (pinned to a
        node that is gone): the membership watcher moves their shards at once."""
        lost = []
        for (name, _, _), ref in zip(calls, refs):
            try:
                ray.get(ref, timeout=0)
            except ActorUnschedulableError:
                lost.append(name)
            except Exception:     # answered, pending, or failed another way: not known lost
                pass
        return lost

    def add_worker(self, name: str, *, node: Optional[str] = None) -> None:
        if name not in self._handles:
            self._handles[name] = self._actor(name, node)
            self.names.append(name)

    def remove_worker(self, name: str) -> None:
        handle = self._handles.pop(name)
        self.names.remove(name)
        try:
            ray.kill(handle, no_restart=True)
        except (RayActorError, ValueError) as exc:      # already gone with its node
            raise WorkerUnavailableError(f"worker {name} is gone: {exc}") from None

    def pids(self) -> dict[str, int]:
        """Each worker actor's process id (for operators and the failure tests)."""
        return dict(zip(self.names, ray.get([self._handles[n].pid.remote() for n in self.names],
                                            timeout=self.timeout)))

    def node_ids(self) -> dict[str, str]:
        """The Ray node each worker actor runs on (for operators and the membership tests)."""
        return dict(zip(self.names, ray.get([self._handles[n].node_id.remote() for n in self.names],
                                            timeout=self.timeout)))

    def stop_workers(self) -> None:
        """End the worker actors for good (they are detached: nothing else stops them).
        Their shards stay on the shared storage; new actors of the same names reload them."""
        for h in self._handles.values():
            ray.kill(h, no_restart=True)


def alive_nodes() -> set[str]:
    """The ids of the Ray nodes alive now."""
    return {n["NodeID"] for n in ray.nodes() if n["Alive"]}


def ray_nodes() -> dict[str, bool]:
    """Every node Ray knows → alive (the membership watcher's node source). Ray marks a
    node dead after its own health checks fail, and a dead node id never comes back."""
    return {n["NodeID"]: bool(n["Alive"]) for n in ray.nodes()}


def open_on_ray(path: str, root: str, *, address: Optional[str] = None, workers: int = 2, prefix: str = "",
                fsync: bool = True, num_cpus: float = 0.0, timeout: float = 60.0, per_node: int = 0,
                poll_seconds: float = 2.0, grace: int = 3) -> Any:
    """engine.open(path) as a coordinator whose records live on `workers` Ray actors
    (named `roarbase-worker-<prefix>w<i>`) over the shared storage `root`. More workers
    than the placement table lists are added (shards move onto them); fewer are refused.
    num_cpus=0: the actors reserve no CPU, so many databases can share small nodes.
    per_node > 0: also keep that many workers on each alive Ray node, polled every
    `poll_seconds`; a node's workers go after it has been missing `grace` polls in a row
    (engine/cluster/membership.py)."""
    import engine
    from engine.cluster.coordinator import Cluster
    from engine.cluster.membership import MembershipWatcher, pinned_node

    storage.open_root(root, "coordinator")      # a bad root or bucket fails here, before any actor is made
    cluster = Cluster(RayTransport(root, [f"{prefix}w{i}" for i in range(workers)], address=address, fsync=fsync,
                                   num_cpus=num_cpus, timeout=timeout), root, fsync=fsync, check_workers=False)
    try:
        for name in cluster.table.workers:      # node workers of an earlier run: found by name
            if name not in cluster.transport.workers() and pinned_node(prefix, name) is not None:
                cluster.transport.add_worker(name)
        if cluster.missing_workers():
            raise InvalidParameterError(f"the placement table in {root} has shards on workers "
                                        f"{cluster.missing_workers()} that this server does not start (fewer "
                                        f"workers than before: move their shards off with remove_worker first)")
        for name in cluster.transport.workers():
            if name not in cluster.table.workers:      # more workers than last time: rebalance onto them
                cluster.add_worker(name)
        if per_node:
            watcher = MembershipWatcher(cluster, ray_nodes, per_node=per_node, grace=grace,
                                        interval=poll_seconds, prefix=prefix)
            watcher.poll()                             # this run's nodes have workers before the first query
            cluster.watcher = watcher.start()
    except BaseException:
        cluster.close()
        raise
    return engine.open(path, fsync=fsync, cluster=cluster)


def cluster_status(address: Optional[str] = None, *, namespace: str = NAMESPACE) -> dict[str, Any]:
    """The Ray nodes and every roarbase worker actor of the namespace with the shards it
    holds (read-only: nothing is started)."""
    if not ray.is_initialized():
        ray.init(address=address, namespace=namespace, logging_level="ERROR",  # type: ignore[arg-type]
                 log_to_driver=False)                          # (ray takes level names too)
    nodes = [{"node_id": n["NodeID"], "address": n["NodeManagerAddress"], "alive": n["Alive"],
              "cpus": n.get("Resources", {}).get("CPU", 0)} for n in ray.nodes()]
    names = sorted(a["name"] if isinstance(a, dict) else a
                   for a in ray.util.list_named_actors(all_namespaces=True)
                   if (a.get("namespace") == namespace if isinstance(a, dict) else True))
    workers: dict[str, Any] = {}
    for name in (n for n in names if n.startswith(ACTOR_PREFIX)):
        try:
            handle = ray.get_actor(name, namespace=namespace)
            reply = cast(bytes, ray.get(handle.handle.remote(pickle.dumps(("status", ()))), timeout=30))
            kind, value = pickle.loads(reply)
            workers[name] = value if kind == "ok" else {"error": str(value)}
        except Exception as exc:   # a dead or restarting actor is reported, not fatal
            workers[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return {"namespace": namespace, "nodes": nodes, "workers": workers}
