"""Shard stores on an S3-compatible object store (engine/cluster/objstore.py), against moto's
S3 server on 127.0.0.1 with IAM enforced (credentials only through boto3's chain).

- A loopback cluster over s3:// answers as an embedded database given the same random
  writes; after every worker's local cache is wiped and the workers restarted, and again
  on "fresh nodes" (a new, empty cache directory), every acknowledged write is there.
- Crash points: the k-th object-store request of a workload (writes, imports, two
  checkpoints) fails — before it reaches the bucket, or after (the answer lost) — and the
  process dies there; a new process recovering from the bucket alone has exactly the
  acknowledged writes (plus, at most, the one in flight), and keeps working.
- A gap or overlap between a file's objects is DataCorruptedError naming the object; a
  missing bucket, refused credentials and bad URLs are typed errors without secrets.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import engine
from engine.cluster import storage
from engine.cluster.coordinator import Cluster
from engine.cluster.objstore import ObjectFileIO, ObjectStore
from engine.cluster.transport import LoopbackTransport
from engine.errors import DataCorruptedError, ObjectStoreError, StorageFailedError
from childenv import child_env
from engine_testlib import dump_index
from moto_s3 import MotoServer

SHARD = 1 << 20
QUERIES = ['Count(Row(tag="t1"))', 'TopN(tag, n=5)', 'Rows(tag)', 'Sum(field=age)', 'Count(Row(age > 40))',
           'Count(All())', 'GroupBy(Rows(color), Rows(tag))', 'Row(tag="t3")', 'Min(field=age)']


@pytest.fixture(scope="module")
def moto():
    server = MotoServer()
    yield server
    server.close()


@pytest.fixture
def s3(moto, monkeypatch, tmp_path):
    """A fresh bucket; boto3's chain finds the credentials in the environment, the cluster
    its endpoint in ROARBASE_RAY_S3_ENDPOINT and its caches under tmp_path/cache."""
    for k, v in moto.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv(storage.ENDPOINT_ENV, moto.endpoint)
    monkeypatch.setenv(storage.CACHE_ENV, str(tmp_path / "cache"))
    return moto.bucket()


class FaultyStore:
    """An ObjectStore whose k-th mutating request (PUT or DELETE) fails — before reaching
    the bucket, or after it (the reply lost) — and every request after it too: the
    process is dead from there on (with once=True, only that request fails)."""

    def __init__(self, real: ObjectStore, fail_at: int, after: bool, *, once: bool = False) -> None:
        self.real, self.fail_at, self.after, self.once = real, fail_at, after, once
        self.mutating = 0
        self.kinds: list[str] = []           # each mutating request's method, in order
        self.dead = False

    def __getattr__(self, name):     # key(), url(), prefix… of the real store
        return getattr(self.real, name)

    def _mutate(self, fn, *args):
        if self.dead:
            raise ObjectStoreError("the process is dead")
        self.mutating += 1
        self.kinds.append(fn.__name__)
        if self.mutating == self.fail_at:
            self.dead = not self.once
            if self.after:
                fn(*args)
            raise ObjectStoreError(f"injected failure at request {self.mutating}")
        return fn(*args)

    def put(self, key, data):
        return self._mutate(self.real.put, key, data)

    def delete(self, key):
        return self._mutate(self.real.delete, key)

    def delete_many(self, keys):
        return self._mutate(self.real.delete_many, keys)

    def get(self, key):
        if self.dead:
            raise ObjectStoreError("the process is dead")
        return self.real.get(key)

    def list(self, prefix):
        if self.dead:
            raise ObjectStoreError("the process is dead")
        return self.real.list(prefix)


# --- a loopback cluster over s3:// against an embedded database ------------------------------------

def _schema(db):
    ix = db.create_index("p")
    ix.create_field("tag", "set", keys=True)
    ix.create_field("color", "mutex", keys=True)
    ix.create_field("age", "int", min=0, max=150)


def _random_writes(dbs, rng, n):
    """The same random Set/Clear/import writes on every database."""
    for _ in range(n):
        kind = rng.integers(0, 4)
        cols = (rng.integers(0, 5, 6) * SHARD + rng.integers(0, 400, 6)).astype(np.uint64)
        for db in dbs:
            ix = db.index("p")
            if kind == 0:
                db.query("p", " ".join(f'Set({c}, tag="t{c % 7}")' for c in cols[:3]))
            elif kind == 1:
                db.query("p", f'Clear({cols[0]}, tag="t{cols[0] % 7}") Set({cols[1]}, age={cols[1] % 150})')
            elif kind == 2:
                ix.import_values("tag", cols, [f"t{c % 5}" for c in cols])
            else:
                ix.import_values("color", cols, [("red", "green", "blue")[c % 3] for c in cols])
                ix.import_values("age", cols, [int(c % 100) for c in cols])


def _answers(db):
    return [db.query("p", q) for q in QUERIES] + [db.sql("SELECT color, COUNT(*) FROM p GROUP BY color").rows]


def test_a_cluster_over_s3_keeps_every_acknowledged_write(s3, moto, tmp_path, open_db, monkeypatch):
    root = f"s3://{s3}/db1"
    local = open_db(tmp_path / "local")
    transport = LoopbackTransport(root, ["w0", "w1", "w2"], fsync=False)     # fsync forced on for s3://
    cluster = engine.open(str(tmp_path / "coord"), fsync=False, cluster=Cluster(transport, root, fsync=False))
    try:
        rng = np.random.default_rng(20)
        for db in (local, cluster):
            _schema(db)
        _random_writes([local, cluster], rng, 25)
        expected = _answers(local)
        assert _answers(cluster) == expected
        keys = moto.keys(s3, "db1/")
        assert "db1/placement.json/@00000000000000000000" in keys
        assert any("/wal-" in k for k in keys) and all("/@" in k for k in keys)

        # every local cache wiped: the workers rebuild their shards from the bucket
        shutil.rmtree(tmp_path / "cache")
        for name in transport.workers():
            transport.restart(name)
        assert _answers(cluster) == expected
        # the workers "moved" to fresh nodes: a new, empty cache directory
        monkeypatch.setenv(storage.CACHE_ENV, str(tmp_path / "node2"))
        for name in transport.workers():
            transport.restart(name)
        assert _answers(cluster) == expected
        assert os.path.isdir(tmp_path / "node2")

        # more writes after the move, a checkpointing close of every worker, and a restart
        _random_writes([local, cluster], rng, 10)
        for name in transport.workers():
            transport.worker(name).close()                     # checkpoint: snapshot files uploaded
            transport.restart(name)
        assert _answers(cluster) == _answers(local)
        assert any(k.endswith(".frag/@00000000000000000000") for k in moto.keys(s3, "db1/"))

        # shards moving between workers go through the bucket (old owner checkpoints and
        # closes, new owner rebuilds its cache from the objects)
        moved = cluster.cluster.add_worker("w3")
        counts = cluster.cluster.table.shard_counts()
        busiest = max((w for w in counts if w != "w3"), key=lambda w: counts[w])
        gone = cluster.cluster.remove_worker(busiest)
        assert moved and gone
        assert _answers(cluster) == _answers(local)
        assert not cluster.cluster.table.shards_of(busiest)

        # an object-store failure during a write: a typed error, not acknowledged, and the
        # worker restarted from the bucket has exactly the acknowledged writes
        owner = cluster.cluster.table.owner("p", 2)
        fio = transport.worker(owner).fileio
        assert isinstance(fio, ObjectFileIO)
        fio.store = FaultyStore(fio.store, 1, after=False)      # type: ignore[assignment]
        with pytest.raises(StorageFailedError):
            cluster.query("p", f'Set({2 * SHARD + 7}, tag="lost")')
        transport.restart(owner)
        assert cluster.query("p", 'Count(Row(tag="lost"))') == [0]
        assert _answers(cluster) == _answers(local)

        # a dropped index leaves nothing in the bucket (it would come back with a new one)
        cluster.drop_index("p")
        assert moto.keys(s3, "db1/shards/") == []
    finally:
        cluster.close()


# --- crash points ---------------------------------------------------------------------------------

def _crash_workload(db, acked, inflight):
    """Deterministic writes, each appended to `acked` once it returned; the one running
    when a failure stops the run is left in inflight[0]. Model ops: (set|clear, col, row)
    and ("import", cols, rows)."""
    rng = np.random.default_rng(7)
    steps = [("create",)]
    steps += [("set", int(c), int(r)) for c, r in zip(rng.integers(0, 2 * SHARD, 4), rng.integers(0, 3, 4))]
    steps += [("import", rng.integers(0, 3 * SHARD, 40).tolist(), rng.integers(0, 3, 40).tolist())]
    steps += [("checkpoint",)]
    steps += [("clear", c, r) for (_, c, r) in steps[1:3]]
    steps += [("set", int(c), 5) for c in rng.integers(0, 3 * SHARD, 3)]
    steps += [("set", 100 + i, 4) for i in range(20)]        # enough commits for the log's objects to merge
    steps += [("checkpoint",), ("set", 12, 1)]
    for step in steps:
        inflight[:] = [step]
        if step[0] == "create":
            db.create_index("i").create_field("f")
        elif step[0] == "checkpoint":
            db.checkpoint()
        elif step[0] == "import":
            db.index("i").import_values("f", step[1], step[2])
        elif step[0] == "set":
            db.index("i").set(step[1], "f", step[2])
        else:
            db.index("i").clear(step[1], "f", step[2])
        acked.append(step)
    inflight[:] = []


def _model(steps):
    rows: dict[int, set[int]] = {}
    for step in steps:
        if step[0] == "set":
            rows.setdefault(step[2], set()).add(step[1])
        elif step[0] == "clear":
            rows.get(step[2], set()).discard(step[1])
        elif step[0] == "import":
            for c, r in zip(step[1], step[2]):
                rows.setdefault(r, set()).add(c)
    return {r: frozenset(c) for r, c in rows.items() if c}


def _recovered(store: ObjectStore, cache: str):
    """The field's rows as a new process with an empty cache recovers them from the bucket."""
    fio = ObjectFileIO(store, cache)
    path = os.path.join(cache, "db")
    fio.refresh(path)
    db = engine.open(path, fileio=fio)
    if "i" not in [ix.name for ix in db.indexes()]:
        return db, None
    rows: dict[int, set[int]] = {}
    for (name, _view, _shard, row), cols in dump_index(db.index("i")).items():
        if name == "f":
            rows.setdefault(row, set()).update(cols)
    return db, {r: frozenset(c) for r, c in rows.items()}


@pytest.mark.parametrize("full", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["sample", "every"])
def test_a_failure_at_any_object_store_request_loses_no_acknowledged_write(s3, moto, tmp_path, full):
    real = ObjectStore(s3, "", moto.endpoint)
    # a clean run: how many mutating requests the workload makes
    probe = FaultyStore(ObjectStore(s3, "probe", client=real.client), 0, after=False)
    fio = ObjectFileIO(probe, str(tmp_path / "probe"))           # type: ignore[arg-type]
    acked: list = []
    with engine.open(str(tmp_path / "probe" / "db"), fileio=fio) as db:
        _crash_workload(db, acked, [])
        total = probe.mutating                 # (the closing checkpoint's requests not counted)
    assert total > 40 and len(acked) == 34
    outcomes = {"acked": 0, "acked+inflight": 0}
    merges = {i + 1 for i, kind in enumerate(probe.kinds[:total]) if kind == "delete_many"}
    # quick: every eighth request and the merges' PUTs and DELETEs, alternating before/after;
    # full: every request, both ways
    points = [(k, after) for k in range(1, total + 1) for after in (False, True)] if full else \
        [(k, k % 2 == 0) for k in sorted(set(range(1, total + 1, 8)) | merges | {m - 1 for m in merges})]
    merges_hit = any(k in merges or k + 1 in merges for k, _ in points)    # the merge's DELETE or its PUT
    for k, after in points:
        prefix = f"k{k}{'a' if after else 'b'}"
        store = FaultyStore(ObjectStore(s3, prefix, client=real.client), k, after)
        cache = tmp_path / prefix
        fio = ObjectFileIO(store, str(cache))              # type: ignore[arg-type]
        acked, inflight = [], []
        db = engine.open(str(cache / "db"), fileio=fio)
        with pytest.raises((StorageFailedError, OSError)):
            _crash_workload(db, acked, inflight)
        try:
            db.close(checkpoint=False)                     # the process dies: files dropped
        except Exception:
            pass
        bucket = ObjectStore(s3, prefix, client=real.client)
        again, got = _recovered(bucket, str(tmp_path / f"{prefix}-recovered"))
        try:
            if not acked:                                  # the create itself failed
                assert got in (None, {}), (k, after)
                continue
            assert got is not None, (k, after)
            if got == _model(acked):
                outcomes["acked"] += 1
            else:
                assert got == _model(acked + inflight), (k, after, inflight)
                outcomes["acked+inflight"] += 1
            # the recovered store keeps working: a write, a checkpoint, another recovery
            again.index("i").set(3 * SHARD + 1, "f", 9)
            again.checkpoint()
        finally:
            again.close()
        again, got2 = _recovered(bucket, str(tmp_path / f"{prefix}-twice"))
        again.close()
        assert got2 == {**got, 9: frozenset({3 * SHARD + 1})}, (k, after)
    # both outcomes occur (a lost reply after a durable PUT keeps the unacknowledged write),
    # and failures hit merges of the log's objects
    assert outcomes["acked"] > 0 and outcomes["acked+inflight"] > 0, outcomes
    assert merges_hit, "no crash point fell in a merge"


def test_an_index_create_that_failed_in_the_bucket_can_be_retried(s3, moto, tmp_path):
    store = ObjectStore(s3, "r", moto.endpoint)
    faulty = FaultyStore(store, 2, after=False, once=True)     # the new index's log, while SCHEMA is up
    fio = ObjectFileIO(faulty, str(tmp_path / "c1"))             # type: ignore[arg-type]
    db = engine.open(str(tmp_path / "c1" / "db"), fileio=fio)
    with pytest.raises(StorageFailedError):
        db.create_index("i")
    assert "i" not in [ix.name for ix in db.indexes()]
    ix = db.create_index("i")                                    # the retry starts over and succeeds
    ix.create_field("f")
    ix.set(5, "f", 1)
    db.close(checkpoint=False)
    again, got = _recovered(store, str(tmp_path / "c2"))
    again.close()
    assert got == {1: frozenset({5})}


# --- damaged object layouts and typed errors ------------------------------------------------------------

def _wal_objects(moto, bucket, prefix):
    return [k for k in moto.keys(bucket, prefix) if "/wal-" in k]


def test_a_gap_or_overlap_between_objects_is_a_typed_error_naming_the_object(s3, moto, tmp_path):
    store = ObjectStore(s3, "g", moto.endpoint)
    fio = ObjectFileIO(store, str(tmp_path / "c1"))
    with engine.open(str(tmp_path / "c1" / "db"), fileio=fio) as db:
        ix = db.create_index("i")
        ix.create_field("f")
        for c in range(40):
            ix.set(c, "f", 1)
        objs = _wal_objects(moto, s3, "g/")
        assert len(objs) >= 3                 # merged, but more than one object
        db.close(checkpoint=False)
    # a covered duplicate with the same bytes (a merge cut short) is cleaned up
    first = objs[0]
    data = moto.get(s3, first)
    dup = first[:-20] + f"{5:020d}"
    moto.client.put_object(Bucket=s3, Key=dup, Body=data[5:9])
    again = ObjectFileIO(store, str(tmp_path / "c2"))
    again.refresh(str(tmp_path / "c2" / "db"))
    assert dup not in moto.keys(s3, "g/")
    db = engine.open(str(tmp_path / "c2" / "db"), fileio=again)
    assert db.query("i", "Count(Row(f=1))") == [40]
    db.close(checkpoint=False)               # the log's objects stay as they are
    # a covered object with other bytes is an overlap
    moto.client.put_object(Bucket=s3, Key=dup, Body=b"XXXX")
    with pytest.raises(DataCorruptedError) as err:
        ObjectFileIO(store, str(tmp_path / "c3")).refresh(str(tmp_path / "c3" / "db"))
    assert f"s3://{s3}/{dup}" in str(err.value) and "overlap" in str(err.value)
    moto.client.delete_object(Bucket=s3, Key=dup)
    # an object reaching past the next one's start is an overlap
    second = objs[1]
    end = int(second[-20:])
    over = first[:-20] + f"{end - 2:020d}"
    moto.client.put_object(Bucket=s3, Key=over, Body=b"0123456789")
    with pytest.raises(DataCorruptedError) as err:
        ObjectFileIO(store, str(tmp_path / "c4")).refresh(str(tmp_path / "c4" / "db"))
    assert "overlap" in str(err.value)
    moto.client.delete_object(Bucket=s3, Key=over)
    # a missing object in the middle is a gap, naming the object after it
    moto.client.delete_object(Bucket=s3, Key=second)
    with pytest.raises(DataCorruptedError) as err:
        ObjectFileIO(store, str(tmp_path / "c5")).refresh(str(tmp_path / "c5" / "db"))
    assert "gap" in str(err.value) and f"s3://{s3}/{objs[2]}" in str(err.value)
    assert err.value.code == "DataCorrupted"
    # a foreign object under the prefix is not silently ignored
    moto.client.put_object(Bucket=s3, Key="g/db/README.txt", Body=b"hello")
    with pytest.raises(DataCorruptedError, match="README"):
        ObjectFileIO(store, str(tmp_path / "c6")).refresh(str(tmp_path / "c6" / "db"))


def test_a_missing_bucket_or_refused_credentials_fail_clearly_at_open(s3, moto, tmp_path, monkeypatch):
    with pytest.raises(ObjectStoreError, match="does not exist") as err:
        LoopbackTransport("s3://no-such-bucket-here/x", ["w0"])
    assert err.value.code == "ServiceUnavailable" and err.value.name == "OBJECT_STORE_FAILED"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000")          # a key IAM does not know
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-123")
    with pytest.raises(ObjectStoreError, match="access denied") as err:
        Cluster(LoopbackTransport(str(tmp_path / "plain"), ["w0"]), f"s3://{s3}/x")
    assert "not-the-secret-123" not in str(err.value) and moto.secret not in str(err.value)


def test_embedded_and_shared_directory_clusters_never_import_boto3(tmp_path):
    script = (
        "import os, sys, engine\n"
        "d = sys.argv[1]\n"
        "with engine.open(os.path.join(d, 'e')) as db:\n"
        "    db.create_index('x').create_field('f'); db.index('x').set(1, 'f', 1)\n"
        "t = engine.LoopbackTransport(os.path.join(d, 's'), ['w0'])\n"
        "with engine.open(os.path.join(d, 'c'), cluster=engine.Cluster(t, os.path.join(d, 's'))) as db:\n"
        "    db.create_index('x').create_field('f'); db.index('x').set(1, 'f', 1)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'ray')"
        " or m == 'engine.cluster.objstore'))\n")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=child_env(), capture_output=True,
                         text=True, timeout=120, cwd=str(Path(__file__).resolve().parents[2]))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_object_store_roots_are_parsed_strictly():
    assert storage.parse("s3://b/a/b/?endpoint=http://127.0.0.1:9000") == ("b", "a/b", "http://127.0.0.1:9000")
    assert storage.join("s3://b/p?endpoint=http://h:1", "db") == "s3://b/p/db?endpoint=http://h:1"
    assert storage.with_endpoint("s3://b/p", "http://h:1") == "s3://b/p?endpoint=http%3A%2F%2Fh%3A1"
    assert storage.parse(storage.with_endpoint("s3://b/p", "http://h:1"))[2] == "http://h:1"
    assert storage.normalize("rel/dir") == os.path.abspath("rel/dir")
    for bad in ("s3://", "s3://b/p?region=x", "s3://key:secret@b/p", "s3://b/p?endpoint=ftp://h",
                "s3://b/p?endpoint=http://user:pw@h:1"):
        with pytest.raises(engine.InvalidParameterError):
            storage.parse(bad)
