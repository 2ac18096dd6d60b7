"""`python -m engine` (what `make run` runs): the embedded database end to end.

Creates a durable data directory, bulk-imports generated records into every kind of field,
answers segmentation queries in PQL, closes, reopens (recovery from the files on disk) and
checks that the answers are the same and match numpy. Everything printed is measured.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

import engine
from engine.pql import parse


def _timed(label: str, fn):
    t0 = time.perf_counter()
    out = fn()
    print(f"  {label:<58} {(time.perf_counter() - t0) * 1e3:9.1f} ms")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine", description=__doc__)
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", default=None, help="default: a temporary directory")
    args = parser.parse_args(argv)
    n, rng = args.records, np.random.default_rng(args.seed)
    ids = np.arange(n, dtype=np.uint64)
    hobby = np.array([f"hobby_{i:03d}" for i in range(100)])[np.minimum(rng.zipf(1.3, n) - 1, 99)]
    region = np.array([f"region_{i:02d}" for i in range(20)])[rng.integers(0, 20, n)]
    age = np.clip(rng.normal(42, 15, n), 18, 90).astype(np.int64)
    income = np.round(rng.lognormal(10.5, 0.8, n)).astype(np.int64).clip(0, 1_000_000)
    active = rng.random(n) < 0.6

    tmp = None if args.data_dir else tempfile.TemporaryDirectory(prefix="roarbase-")
    path = args.data_dir or tmp.name  # type: ignore[union-attr]
    print(f"roarbase engine demo: {n:,} records in {path}")
    queries = [
        'Count(Row(hobbies="hobby_000"))',
        "Count(Intersect(Row(30 <= age <= 40), Row(income > 50000), Row(active=true)))",
        'TopN(hobbies, Row(region="region_03"), n=3)',
        "Sum(Row(active=true), field=income)",
        'GroupBy(Rows(region), filter=Row(age > 80), limit=3)',
    ]
    with engine.open(path) as db:
        seg = db.create_index("seg")
        seg.create_field("hobbies", "set", keys=True)
        seg.create_field("region", "mutex", keys=True)
        seg.create_field("age", "int", min=0, max=150)
        seg.create_field("income", "int", min=0, max=1_000_000)
        seg.create_field("active", "bool")
        _timed("import 5 fields (durable, fsync'd)", lambda: seg.import_records(
            ids, {"hobbies": hobby, "region": region, "age": age, "income": income, "active": active}))
        _timed("compile the PQL grammar (once per process)", lambda: parse("All()"))
        first = [_timed(q, lambda q=q: db.query("seg", q)[0]) for q in queries]
    with engine.open(path) as db:
        again = [_timed("after reopen: " + q[:44], lambda q=q: db.query("seg", q)[0]) for q in queries]
    expected = [int((hobby == "hobby_000").sum()),
                int(((age >= 30) & (age <= 40) & (income > 50000) & active).sum())]
    print(f"  answers: {first[0]:,} and {first[1]:,} records; top hobbies in region_03: "
          + ", ".join(f"{p['key']}={p['count']}" for p in first[2]))
    ok = first == again and first[:2] == expected
    print("  same answers after reopen and equal to numpy: " + ("yes" if ok else "NO"))
    if tmp is not None:
        tmp.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
