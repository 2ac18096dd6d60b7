"""Join benchmark: SQL joins through roarbase and DuckDB, same data, same run.

`python -m bench.joins --n 1000000 [--rounds 5]` builds two tables in both databases:

    items   N/10 records: price INT 0..9999 (uniform), category STRING (50 values, Zipf-ish)
    ratings N records:    itemid INT (an item, uniform), userid ID (N/20 users, skewed),
                          stars INT 1..5, device STRING (3 values)

itemid is an INT holding item ids (FeatureBase models a reference to another table as an int
field holding its record ids, `foreignIndex`): roarbase filters it by a table lookup of the
matching ids, linear in the records whatever the number of items matched.

and times the queries below (median ms over the rounds, after one warm-up whose answers must
agree). The semi-joins filter ratings by a predicate on items — `items ⋈ ratings` where
items contributes only its _id — which roarbase plans as a row filter on ratings (no join);
the last query needs a column of items for every rating: a lookup join (the matching
ratings stream, items' records are read by _id per batch). Writes
bench/results/<date>-joins-n<N>.md.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import duckdb
import numpy as np
import pyarrow as pa

import engine

QUERIES: list[tuple[str, str, str]] = [
    ("semi_count", "semi-join count",
     "SELECT COUNT(*) FROM ratings r JOIN items i ON r.itemid = i._id WHERE i.price > 9000"),
    ("semi_sum", "semi-join SUM",
     "SELECT SUM(r.stars) FROM ratings r JOIN items i ON r.itemid = i._id WHERE i.category IN ('c1', 'c2')"),
    ("semi_topn", "semi-join TopN",
     "SELECT r.userid, COUNT(*) AS c FROM ratings r JOIN items i ON r.itemid = i._id WHERE i.category = 'c7' "
     "GROUP BY r.userid ORDER BY c DESC, r.userid LIMIT 10"),
    ("semi_groupby", "semi-join GroupBy",
     "SELECT r.stars, r.device, COUNT(*) FROM ratings r JOIN items i ON r.itemid = i._id WHERE i.price > 5000 "
     "GROUP BY r.stars, r.device"),
    ("semi_two_sided", "semi-join, both filtered",
     "SELECT COUNT(*) FROM ratings r JOIN items i ON r.itemid = i._id WHERE i.price < 1000 AND r.stars >= 4"),
    ("lookup_groupby", "lookup join GroupBy (items' column per rating)",
     "SELECT i.category, COUNT(*) FROM ratings r JOIN items i ON r.itemid = i._id WHERE r.stars = 5 "
     "AND r.device = 'tv' GROUP BY i.category"),
]


def generate(n: int, seed: int = 7) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    n_items, n_users = max(n // 10, 1), max(n // 20, 1)
    weights = 1.0 / np.arange(1, 51) ** 0.8
    cats = rng.choice(50, size=n_items, p=weights / weights.sum())
    users = np.minimum((rng.pareto(1.2, size=n) * n_users / 50).astype(np.int64), n_users - 1)
    return {
        "items": {"_id": np.arange(n_items, dtype=np.int64), "price": rng.integers(0, 10000, n_items),
                  "category": np.array([f"c{c}" for c in cats], dtype=object)},
        "ratings": {"_id": np.arange(n, dtype=np.int64), "itemid": rng.integers(0, n_items, n),
                    "userid": users, "stars": rng.integers(1, 6, n),
                    "device": np.array(["phone", "web", "tv"], dtype=object)[rng.choice(3, size=n, p=[.6, .3, .1])]},
    }


def load_roarbase(data: dict[str, dict[str, np.ndarray]], path: str) -> Any:
    db = engine.open(path)
    n_items = len(data["items"]["_id"])
    items = db.create_index("items")
    items.create_field("price", type="int", min=0, max=9999)
    items.create_field("category", type="mutex", keys=True)
    ratings = db.create_index("ratings")
    ratings.create_field("itemid", type="int", min=0, max=max(n_items - 1, 0))
    ratings.create_field("userid", type="mutex")
    ratings.create_field("stars", type="int", min=1, max=5)
    ratings.create_field("device", type="mutex", keys=True)
    for name, idx in (("items", items), ("ratings", ratings)):
        cols = data[name]
        for field, values in cols.items():
            if field != "_id":
                idx.import_values(field, cols["_id"], values if values.dtype != object else list(values))
    return db


def load_duckdb(data: dict[str, dict[str, np.ndarray]]) -> Any:
    con = duckdb.connect()
    con.execute("SET threads = 2")
    for name, cols in data.items():
        table = pa.table({k: (pa.array(list(v), pa.string()) if v.dtype == object else pa.array(v))
                          for k, v in cols.items()})
        con.register("src", table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM src")
        con.unregister("src")
    return con


def _canon(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    out = []
    for r in rows:
        out.append(tuple(int(v) if hasattr(v, "__int__") and not isinstance(v, (str, bool)) else v for v in r))
    return sorted(out, key=repr)


def _time(fn: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    answer = fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.joins", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="ratings (default 1M; items are N/10)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("bench") / "results")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    data = generate(args.n)
    path = tempfile.mkdtemp(prefix="roarbase-joins-")
    try:
        db = load_roarbase(data, path)
        con = load_duckdb(data)
        print(f"loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        rows = []
        bad = []
        for key, title, text in QUERIES:
            ms_r, ans_r = _time(lambda: db.sql(text).rows, args.rounds)
            ms_d, ans_d = _time(lambda: con.execute(text).fetchall(), args.rounds)
            ok = _canon(ans_r) == _canon(ans_d)
            if not ok:
                bad.append((key, ans_r[:5], ans_d[:5]))
            ops = [line.strip().split(" ")[0] for line in db.sql("EXPLAIN " + text).plan.split("\n")]
            how = "hash join" if "HashJoin" in ops else "lookup join" if "LookupJoin" in ops else "semi-join"
            rows.append((key, title, ms_d, ms_r, ms_r / ms_d, how, len(ans_r)))
            print(f"{key:16} duckdb {ms_d:9.2f} ms  roarbase-sql {ms_r:9.2f} ms  ratio {ms_r / ms_d:6.3f}  {how}",
                  file=sys.stderr)
        db.close()
        con.close()
    finally:
        shutil.rmtree(path, ignore_errors=True)
    if bad:
        for key, r, d in bad:
            print(f"ANSWERS DIFFER on {key}: roarbase {r} … duckdb {d} …", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    day = _dt.date.today().isoformat()
    out = args.out / f"{day}-joins-n{args.n}.md"
    lines = [f"# Join benchmark at N = {args.n:,} ratings, {max(args.n // 10, 1):,} items ({day})", "",
             f"- command: `python -m bench.joins --n {args.n} --rounds {args.rounds}`",
             f"- machine: {os.cpu_count()} cores, {platform.platform()}; load average "
             f"{os.getloadavg()[0]:.2f} at the end",
             f"- versions: python {platform.python_version()}, duckdb {duckdb.__version__}, numpy {np.__version__}",
             "- median ms over the rounds after one warm-up; both answers compared (equal)", "",
             "| query | what | plan | duckdb ms | roarbase-sql ms | roarbase / duckdb | rows |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: |"]
    for key, title, ms_d, ms_r, ratio, how, n_rows in rows:
        lines.append(f"| {key} | {title} | {how} | {ms_d:.2f} | {ms_r:.2f} | {ratio:.3f} | {n_rows} |")
    semi = [r[4] for r in rows if r[5] == "semi-join"]
    lines += ["", f"Geometric mean roarbase / duckdb over the semi-joins: "
                  f"{statistics.geometric_mean(semi):.3f} (target ≤ 1)."]
    out.write_text("\n".join(lines) + "\n")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
