"""`python -m ext` (what `make run` runs until the engine lands): the bitmap core at work.

Builds a bitmap index of one million generated records (one Bitmap per attribute value),
answers a few segment queries with set algebra, writes every bitmap to a temporary
directory in the portable Roaring format, reads it back, and checks the answers against
numpy. Everything printed is measured on this run.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from ext import Bitmap


def _ms(t0: float) -> str:
    return f"{(time.perf_counter() - t0) * 1e3:8.1f} ms"


def build_index(values: np.ndarray, ids: np.ndarray) -> dict[int, Bitmap]:
    """One Bitmap per distinct value: a stable sort groups the ids, no per-record loop."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    sorted_ids = ids[order]
    bounds = np.flatnonzero(np.diff(sorted_values)) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [len(values)]))
    return {
        int(sorted_values[s]): Bitmap(sorted_ids[s:e]) for s, e in zip(starts, ends)
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ext", description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    n = args.records
    rng = np.random.default_rng(args.seed)

    print(f"roarbase bitmap core demo: {n:,} records, seed {args.seed}")
    t0 = time.perf_counter()
    ids = np.arange(n, dtype=np.uint64)
    hobby = np.minimum(rng.zipf(1.3, n) - 1, 499)          # 500 values, Zipf-skewed
    region = rng.integers(0, 50, n)
    age = np.clip(rng.normal(42, 15, n), 18, 90).astype(np.int64)
    print(f"  generate attributes            {_ms(t0)}")

    t0 = time.perf_counter()
    hobbies = build_index(hobby, ids)
    regions = build_index(region, ids)
    ages = build_index(age, ids)
    print(f"  build {len(hobbies) + len(regions) + len(ages):4d} bitmaps              {_ms(t0)}")

    t0 = time.perf_counter()
    top_hobby = max(hobbies, key=lambda h: len(hobbies[h]))
    segment = hobbies[top_hobby] & regions[3]
    thirties = Bitmap.union(*(ages[a] for a in range(30, 40) if a in ages))
    answer = segment.intersection_cardinality(thirties)
    print(f"  query: hobby={top_hobby} AND region=3 AND age 30-39 -> {answer:,} records {_ms(t0)}")

    expected = int(np.count_nonzero((hobby == top_hobby) & (region == 3) & (age >= 30) & (age < 40)))
    if answer != expected:
        print(f"  MISMATCH: numpy says {expected:,}")
        return 1

    with tempfile.TemporaryDirectory(prefix="roarbase-demo-") as tmp:
        t0 = time.perf_counter()
        total = 0
        for name, index in (("hobby", hobbies), ("region", regions), ("age", ages)):
            for value, bm in index.items():
                bm.run_optimize()
                data = bm.serialize()
                total += len(data)
                with open(os.path.join(tmp, f"{name}-{value}.roaring"), "wb") as f:
                    f.write(data)
        print(f"  serialize to {tmp}  {total / 2**20:6.2f} MiB {_ms(t0)}")

        t0 = time.perf_counter()
        with open(os.path.join(tmp, f"hobby-{top_hobby}.roaring"), "rb") as f:
            reloaded = Bitmap.deserialize(f.read())
        with open(os.path.join(tmp, "region-3.roaring"), "rb") as f:
            reloaded &= Bitmap.deserialize(f.read())
        again = reloaded.intersection_cardinality(thirties)
        print(f"  reload + re-query -> {again:,} records           {_ms(t0)}")
    raw = n * 3 * 8
    print(f"  bitmaps {total / 2**20:.2f} MiB vs {raw / 2**20:.2f} MiB of raw 64-bit columns")
    print("  answers match numpy: yes" if again == expected else "  reloaded answer differs!")
    return 0 if again == expected else 1


if __name__ == "__main__":
    raise SystemExit(main())
