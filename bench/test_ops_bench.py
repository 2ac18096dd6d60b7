"""pytest-benchmark suite of the bitmap-core building blocks: ext.Bitmap vs pyroaring.

The same ops, inputs and answer checks as `python -m bench.ops` (bench/ops.py), one
benchmark per op and library, grouped per op so each group shows ours next to pyroaring.
It lives under bench/, so the default `pytest` run (testpaths = tests/) never collects it.

    .venv/bin/python -m pytest bench/test_ops_bench.py --benchmark-autosave
    .venv/bin/python -m pytest bench/test_ops_bench.py --benchmark-compare
    .venv/bin/python -m pytest bench/test_ops_bench.py -k "and_card and ours"
"""
from __future__ import annotations

import functools

import pytest

from bench import ops

# Short runs per benchmark: the suite has ~230 (about 2 minutes in all). These marker
# values take precedence over --benchmark-max-time / --benchmark-min-rounds on the
# command line; edit them here for longer runs.
pytestmark = pytest.mark.benchmark(max_time=0.25, min_rounds=5, disable_gc=True,
                                   warmup=True, warmup_iterations=1)

FRESH_ROUNDS = 20      # rounds for ops that need a fresh bitmap per call (update)


@functools.cache
def _cases() -> list[ops.Case]:
    data = ops.make_data()
    return ops.build_cases(data, ops.build(data))


CASES = _cases()
_verified: set[str] = set()


@pytest.mark.parametrize("peer", ops.PEERS)
@pytest.mark.parametrize("case", CASES, ids=[c.slug for c in CASES])
def test_op(benchmark, case: ops.Case, peer: str) -> None:
    if case.key not in _verified:          # both libraries must give the same answer
        ops.verify(case)
        _verified.add(case.key)
    side = case.sides[peer]
    benchmark.group = case.key
    benchmark.extra_info["peer"] = peer
    fn = ops.compile_once(side)
    if side.fresh is None:
        benchmark(fn)
    else:
        benchmark.pedantic(fn, setup=lambda: ((side.fresh(),), {}), rounds=FRESH_ROUNDS,
                           iterations=1, warmup_rounds=1)
