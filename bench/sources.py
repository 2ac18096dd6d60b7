"""Import throughput of sources (issue 12): an N-row CSV and Parquet file imported as
items from LOCAL (the sandbox) and from S3 (moto's server on 127.0.0.1), each in a fresh
process (rows/s and peak RSS), against DuckDB's read_csv / read_parquet into a table in
the same run.

    python -m bench.sources --n 1000000 [--resource item|rating] [--cases local-csv,s3-parquet,...]

Writes nothing but its table on stdout (paste it into bench/results/). The import runs
the real service path (spec, reader, mapper, sink, engine commit per batch) synchronously,
without HTTP.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

CASES = ("local-csv", "local-parquet", "s3-csv", "s3-parquet")


def generate(path: str, n: int, resource_kind: str) -> tuple[str, str]:
    """<path>/data.csv and data.parquet with the same n rows."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    csv_path, pq_path = os.path.join(path, "data.csv"), os.path.join(path, "data.parquet")
    rng = random.Random(42)
    chunk = 200_000
    writer = None
    with open(csv_path, "wb") as f:
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            if resource_kind == "item":
                cols = {"item_id": list(range(start + 1, start + m + 1)),
                        "price": [round(rng.uniform(0, 500), 2) for _ in range(m)],
                        "stock": [rng.randint(0, 5000) for _ in range(m)],
                        "brand": [f"brand-{rng.randint(0, 200)}" for _ in range(m)]}
            else:
                cols = {"user_id": [rng.randint(1, max(1, n // 20)) for _ in range(m)],
                        "item_id": [rng.randint(1, 50_000) for _ in range(m)],
                        "rating": [float(rng.randint(1, 10)) for _ in range(m)],
                        "timestamp": [1_700_000_000.0 + start + i for i in range(m)]}
            table = pa.table(cols)
            opts = pacsv.WriteOptions(include_header=start == 0)
            pacsv.write_csv(table, f, opts)
            if writer is None:
                writer = pq.ParquetWriter(pq_path, table.schema)
            writer.write_table(table, row_group_size=100_000)
    assert writer is not None
    writer.close()
    return csv_path, pq_path


def child(args: argparse.Namespace) -> None:
    """One import in this (fresh) process; prints {seconds, rows, peak_rss_mib}."""
    from server.service import databases, entities, imports, sources
    from server.service.bootstrap import open_service
    from server.service.config import BootstrapSettings, PasswordHashing, ServiceConfig
    from server.service import tokens

    data = tempfile.mkdtemp(prefix="bench-src-")
    try:
        cfg = ServiceConfig(data, fsync=False, sources_sandbox_dir=os.path.dirname(args.file),
                            passwords=PasswordHashing(time_cost=1, memory_cost_kib=8, parallelism=1),
                            bootstrap=BootstrapSettings(root_password="bench-password-1"))
        ctx = open_service(cfg)
        root = tokens.owner_principal(ctx)
        db = databases.create_database(ctx, root, name="bench")
        if args.resource == "item":
            for name, vt in (("price", "float64"), ("stock", "int32"), ("brand", "unicode32")):
                entities.create_property(ctx, root, "item", property_name=name, value_type=vt, database=db.id)
        fmt = "PARQUET" if args.file.endswith(".parquet") else "CSV"
        params: dict[str, Any] = {"file_format": fmt}
        if args.endpoint:
            from server.service import connections

            connections.put_connection(ctx, root, "S3", credentials={
                "aws_access_key_id": "bench", "aws_secret_access_key": "bench", "endpoint_url": args.endpoint})
            kind = "S3"
            params.update(bucket="bench", key=os.path.basename(args.file))
        else:
            kind = "LOCAL"
            params["path"] = os.path.basename(args.file)
        src = sources.patch_source(ctx, root, kind, "t", {"resource": args.resource,
                                                          "connection_table_params": params}, database=db.id)
        plan = sources._plan(ctx, root, kind, src.resource, src.resource_params, src.connection_table_params, src.id)
        sink, mapping = sources._sink(ctx, db, plan, "t")

        class Tracker:
            cancelled = False

            def report(self, *a: Any) -> None:
                pass

        started = time.perf_counter()
        _, details = imports.run_import(Tracker(), plan.store, plan.spec, sink, mapping,  # type: ignore[arg-type]
                                        batch_rows=args.batch, max_errors=0, check=lambda: None)
        seconds = time.perf_counter() - started
        ctx.close()
        print(json.dumps({"seconds": seconds, "rows": details["rows_written"],
                          "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    finally:
        shutil.rmtree(data, ignore_errors=True)


def duckdb_times(csv_path: str, pq_path: str) -> dict[str, float]:
    import duckdb

    out = {}
    for name, fn in (("csv", f"read_csv('{csv_path}')"), ("parquet", f"read_parquet('{pq_path}')")):
        con = duckdb.connect()
        started = time.perf_counter()
        con.execute(f"CREATE TABLE t AS SELECT * FROM {fn}")
        out[name] = time.perf_counter() - started
        con.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--resource", choices=("item", "rating"), default="item")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    ap.add_argument("--endpoint", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    work = tempfile.mkdtemp(prefix="bench-sources-")
    server = None
    try:
        csv_path, pq_path = generate(work, args.n, args.resource)
        sizes = {p: os.path.getsize(p) for p in (csv_path, pq_path)}
        duck = duckdb_times(csv_path, pq_path)
        cases = [c for c in args.cases.split(",") if c]
        endpoint = None
        if any(c.startswith("s3") for c in cases):
            import boto3
            from moto.server import ThreadedMotoServer

            import logging

            logging.getLogger("werkzeug").setLevel(logging.WARNING)
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
            s3 = boto3.client("s3", aws_access_key_id="bench", aws_secret_access_key="bench",
                              region_name="us-east-1", endpoint_url=endpoint)
            s3.create_bucket(Bucket="bench")
            for p in (csv_path, pq_path):
                s3.upload_file(p, "bench", os.path.basename(p))
        print(f"n={args.n:,} resource={args.resource} batch={args.batch:,}; CSV {sizes[csv_path] / 2**20:.1f} MiB, "
              f"Parquet {sizes[pq_path] / 2**20:.1f} MiB")
        print("| case | seconds | rows/s | peak RSS MiB | DuckDB seconds | ratio |")
        print("| --- | --- | --- | --- | --- | --- |")
        for case in cases:
            where, fmt = case.split("-")
            path = csv_path if fmt == "csv" else pq_path
            cmd = [sys.executable, "-m", "bench.sources", "--child", "--file", path, "--resource", args.resource,
                   "--batch", str(args.batch)]
            if where == "s3":
                cmd += ["--endpoint", endpoint or ""]
            out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
            d = duck[fmt]
            print(f"| {case} | {out['seconds']:.2f} | {out['rows'] / out['seconds']:,.0f} | "
                  f"{out['peak_rss_mib']:.0f} | {d:.2f} | {out['seconds'] / d:.1f}x |", flush=True)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
