"""tests/ext: the Cython roaring core (ext._roaring) tested against pyroaring.

The implementation under test is ext._roaring; set ROARBASE_EXT_IMPL=pyroaring-shim to run
the suite against a pyroaring-backed stand-in instead (only to check the tests themselves).
ROARBASE_EXT_EXAMPLES sets hypothesis' max_examples (default 40), ROARBASE_FUZZ_SEED /
ROARBASE_FUZZ_INPUTS drive test_fuzz.py.
"""
