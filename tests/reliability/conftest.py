"""tests/reliability: RELIABILITY.md §4 R1, R2, R3, R5, R6, R7, R10 in their quick sizes.

Every test prints one summary line `Rn: key=value …` (shown with `pytest -rA`) and puts the
same figures in its assertion messages. Seeds are printed; replay with
ROARBASE_<TEST>_SEED (e.g. ROARBASE_R1_SEED=123) or ROARBASE_REL_SEED for all of them.
"""
import os
import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def scratch_root(tmp_path_factory):
    """A session scratch directory on tmpfs when available (fsync is free there), else
    under pytest's tmp_path_factory.

    For the FaultIO-driven and file-surgery tests durability is decided by FaultIO's model
    or by the bytes the test writes, not by the disk, so tmpfs changes nothing but speed.
    Tests that rely on the real disk (R1, R6's RLIMIT_FSIZE child, R10) use tmp_path."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    if base is None:
        yield tmp_path_factory.mktemp("scratch")
        return
    d = tempfile.mkdtemp(prefix="roarbase-rel-", dir=base)
    try:
        yield Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def scratch(scratch_root, request):
    """A fresh per-test directory under scratch_root."""
    d = Path(tempfile.mkdtemp(prefix=request.node.name[:40] + "-", dir=scratch_root))
    yield d
    shutil.rmtree(d, ignore_errors=True)
