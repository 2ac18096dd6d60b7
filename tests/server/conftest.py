"""tests/server: the server layer (wire contract, error table, later services and faces).

tests/ has no __init__.py, so module basenames must be unique across the tests tree.
"""
import sys
from pathlib import Path

# `import server` must find the repository's server package, never a namespace package made
# of tests/server, even when pytest is started as `pytest` rather than `python -m pytest`.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
