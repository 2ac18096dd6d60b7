"""tests/ext: the Cython roaring core (ext._roaring) tested against pyroaring.

The implementation under test is ext._roaring; set ROARBASE_EXT_IMPL=pyroaring-shim to run
the suite against a pyroaring-backed stand-in instead (only to check the tests themselves).
ROARBASE_EXT_EXAMPLES sets hypothesis' max_examples (default 40), ROARBASE_FUZZ_SEED /
ROARBASE_FUZZ_INPUTS drive test_fuzz.py.
"""
import sys
from pathlib import Path

# `import ext` must find the repository's ext package (not a namespace package made of
# tests/ext) even when pytest is started as `pytest` rather than `python -m pytest`.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
