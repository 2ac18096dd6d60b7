"""A shard store moved to a worker while its previous owner still holds the LOCK (a
worker on a removed node that has not exited yet): the new owner waits for it, bounded."""
from __future__ import annotations

import pytest

from engine.cluster import worker as worker_mod
from engine.errors import DirectoryInUseError
from engine.holder import Holder


def test_a_locked_store_is_opened_once_its_old_owner_lets_go(tmp_path, monkeypatch) -> None:
    w = worker_mod.ShardWorker("w0", str(tmp_path / "root"), fsync=False)
    path = w._store_path("seg", 3)
    old_owner = Holder(path, fsync=False)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:      # the old owner exits while the new one waits
        sleeps.append(seconds)
        if len(sleeps) == 3:
            old_owner.close()

    monkeypatch.setattr(worker_mod.time, "sleep", sleep)
    h = w._holder(path)
    assert len(sleeps) == 3            # it waited, and opened as soon as the lock was free
    h.close()
    w.close()


def test_a_store_still_locked_after_the_wait_is_refused(tmp_path, monkeypatch) -> None:
    w = worker_mod.ShardWorker("w0", str(tmp_path / "root"), fsync=False)
    path = w._store_path("seg", 3)
    old_owner = Holder(path, fsync=False)
    clock = [0.0]
    monkeypatch.setattr(worker_mod.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(worker_mod.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    with pytest.raises(DirectoryInUseError, match="in use by another process"):
        w._holder(path)
    assert clock[0] >= worker_mod.LOCK_WAIT_SECONDS
    old_owner.close()
    w.close()
