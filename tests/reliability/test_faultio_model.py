"""The harness itself: FaultIO's power-loss model and fault injection do what R2/R6/R7 rely on."""
from __future__ import annotations

import errno
import os

import pytest

from faultio import FaultIO, SimulatedCrash, image_digest, materialize

pytestmark = pytest.mark.reliability


def _fresh(tmp_path, name="d"):  # type: ignore[no-untyped-def]
    root = str(tmp_path / name)
    os.makedirs(root)
    return root, FaultIO(root)


def test_unsynced_writes_are_dropped_and_torn_at_sector_boundaries(tmp_path):
    root, io = _fresh(tmp_path)
    p = os.path.join(root, "f")
    f = io.open_append(p)
    io.write(f, b"a" * 100)
    io.fsync(f)
    io.write(f, b"b" * 1500)                   # unsynced: file bytes 100..1600
    io.close(f)
    assert io.crash_image("drop")["f"] == b"a" * 100
    assert io.crash_image("keep")["f"] == b"a" * 100 + b"b" * 1500
    assert io.crash_image("torn")["f"] == b"a" * 100 + b"b" * (1536 - 100)    # cut at 3 * 512
    assert io.crash_image("zerofill")["f"] == b"a" * 100 + bytes(1500)
    assert io.model_matches_disk() == []


def test_created_file_vanishes_unless_fsynced_and_renames_need_a_directory_fsync(tmp_path):
    root, io = _fresh(tmp_path)
    g = io.open_append(os.path.join(root, "synced"))
    io.write(g, b"y")
    io.fsync(g)                                # makes its content and its directory entry durable
    io.close(g)
    f = io.open_append(os.path.join(root, "never-synced"))
    io.write(f, b"x")
    io.close(f)
    io.rename(os.path.join(root, "synced"), os.path.join(root, "renamed"))
    drop = io.crash_image("drop")
    assert drop == {"synced": b"y"}            # never-synced vanished, the rename was undone
    assert io.crash_image("metakept") == {"never-synced": b"", "renamed": b"y"}
    # Directory operations become durable in order (a journal): fsyncing a file created
    # later also makes the earlier entries durable.
    h = io.open_append(os.path.join(root, "later"))
    io.fsync(h)
    io.close(h)
    assert io.crash_image("drop") == {"never-synced": b"", "renamed": b"y", "later": b""}
    io.remove(os.path.join(root, "later"))
    assert "later" in io.crash_image("drop")
    io.fsync_dir(root)
    assert io.crash_image("drop") == {"never-synced": b"", "renamed": b"y"}
    assert io.model_matches_disk() == []


def test_crash_at_k_stops_all_io_and_closes_handles(tmp_path):
    root = str(tmp_path / "d")
    os.makedirs(root)
    io = FaultIO(root, crash_at=3)
    f = io.open_append(os.path.join(root, "f"))          # op 1
    io.write(f, b"1")                                      # op 2
    with pytest.raises(SimulatedCrash):
        io.fsync(f)                                        # op 3: the power goes first
    assert f.closed and io.open_handles() == []
    with pytest.raises(SimulatedCrash):
        io.read_file(os.path.join(root, "f"))
    image = io.crash_image("drop")
    assert image == {}                                     # the file was never fsynced
    out = str(tmp_path / "img")
    materialize(io.crash_image("keep"), out)
    assert os.listdir(out) == ["f"] and image_digest(io.crash_image("keep")) != image_digest(image)


def test_enospc_at_kth_write_is_sticky_and_partial(tmp_path):
    root = str(tmp_path / "d")
    os.makedirs(root)
    io = FaultIO(root, full_at_write=2, full_errno=errno.EFBIG, partial=True)
    f = io.open_append(os.path.join(root, "f"))
    io.write(f, b"ok")
    for _ in range(2):
        with pytest.raises(OSError) as ei:
            io.write(f, b"abcd")
        assert ei.value.errno == errno.EFBIG
    io.clear_faults()
    io.write(f, b"!")
    io.close(f)
    with open(os.path.join(root, "f"), "rb") as fh:
        assert fh.read() == b"okabab!"                    # two half-written attempts, then the good write
    assert io.model_matches_disk() == []
    assert [o.error for o in io.faults_injected] == ["EFBIG after 2 bytes"] * 2


def test_eio_at_kth_fsync_makes_nothing_durable(tmp_path):
    root = str(tmp_path / "d")
    os.makedirs(root)
    io = FaultIO(root, eio_at_fsync=2)
    f = io.open_append(os.path.join(root, "f"))
    io.write(f, b"one")
    io.fsync(f)
    io.write(f, b"two")
    with pytest.raises(OSError) as ei:
        io.fsync(f)
    assert ei.value.errno == errno.EIO
    io.close(f)
    assert io.crash_image("drop")["f"] == b"one"          # fsyncgate: the pages may be gone
    assert io.crash_image("keep")["f"] == b"onetwo"       # ...or still in the page cache
    assert [(o.kind, o.mut) for o in io.mutating_ops()] == [("open", 1), ("write", 2), ("fsync", 3),
                                                             ("write", 4), ("fsync", 5)]
