"""The environment for Python child processes the tests start (servers, workers, crash
children, `python -c` scripts): pytest's `pythonpath` setting (pyproject.toml) as
PYTHONPATH, so a child imports the repository's packages and the test helpers exactly as
the tests do, with no sys.path edits of its own."""
from __future__ import annotations

import os
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pythonpath() -> list[str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        entries = tomllib.load(f)["tool"]["pytest"]["ini_options"]["pythonpath"]
    return [str(ROOT / entry) for entry in entries]


PYTHONPATH = os.pathsep.join(_pythonpath())


def child_env(**overrides: str) -> dict[str, str]:
    """os.environ with PYTHONPATH set (ahead of any inherited one) and `overrides` applied."""
    inherited = os.environ.get("PYTHONPATH")
    path = PYTHONPATH + (os.pathsep + inherited if inherited else "")
    return {**os.environ, "PYTHONPATH": path, **overrides}
