"""roarbase's benchmark harness: dataset generator, the 14 queries, peers and the runner.

Run from the repository root, never installed: `python -m bench.gen`, `python -m bench.run`.
See bench/README.md, and PERFORMANCE.md for what is measured and why.
"""
