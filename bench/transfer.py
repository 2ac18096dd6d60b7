"""Export and import of a whole database: roarbase's export document vs DuckDB's
EXPORT DATABASE / IMPORT DATABASE (Parquet), on the bench data, in the same run.

    python -m bench.transfer --data bench/data/n1000000 [--out bench/results/transfer-n1000000.md]

roarbase: the bench table `seg` (bench.gen's schema) in a database of a service data dir
(loaded once with the columnar import, like bench.peers.roarbase_peer), exported through
the service (server.service.transfers: BACKUP state, one read view, streamed) to NDJSON,
NDJSON+gzip and JSON, then each file imported (validated, restore point, merged) into a
new empty database. DuckDB: records.parquet in a database file, EXPORT DATABASE (FORMAT
PARQUET) and IMPORT DATABASE into a new file, 2 threads.

Every step runs in a fresh subprocess (`probe`), so its peak RSS (VmHWM) is its own; the
"resident" figure is the process's RSS with the database open before the step (what the
database costs in memory), MB/s is the document's (or Parquet directory's) size over the
step's wall time. fsync stays on, as a user runs it.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

_REPO = Path(__file__).resolve().parent.parent


def _peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --- probes (each in its own process) ------------------------------------------------------------

def _service(data_dir: str) -> Any:
    from server.service.bootstrap import open_service
    from server.service.config import BootstrapSettings, PasswordHashing, ServiceConfig

    return open_service(ServiceConfig(data_dir, passwords=PasswordHashing(time_cost=1, memory_cost_kib=8,
                                                                           parallelism=1),
                                      bootstrap=BootstrapSettings(root_password="bench-password-1")))


def probe_load(work: str, data: str) -> dict[str, Any]:
    from server.service import tokens
    from server.service import databases
    from bench.gen import read_schema
    from bench.peers.roarbase_peer import INDEX, _field_options, _RoarbasePeer
    import pyarrow.parquet as pq

    ctx = _service(work)
    try:
        root = tokens.owner_principal(ctx)
        db = databases.create_database(ctx, root, name="bench")
        holder = ctx.engine(db.id)
        schema = read_schema(Path(data))
        idx = holder.create_index(INDEX)
        for field, spec in schema["fields"].items():
            idx.create_field(field, **_field_options(spec))
        started = time.perf_counter()
        for field, spec in schema["fields"].items():
            table = pq.read_table(Path(data) / "edges" / f"{field}.parquet",
                                  read_dictionary=["value"] if spec.get("keys") else None)
            _RoarbasePeer._import(idx, spec, field, table)
        holder.checkpoint()
        return {"database": db.id, "load_seconds": time.perf_counter() - started}
    finally:
        ctx.close()


def probe_export(work: str, out: str, fmt: str, gzip: bool) -> dict[str, Any]:
    from server.service import tokens
    from server.service import databases, transfers

    base = _rss()
    ctx = _service(work)
    try:
        root = tokens.owner_principal(ctx)
        db = databases.get_database_by_name(ctx, root, "bench")
        ctx.engine(db.id)                                   # open it: the resident size
        resident = _rss() - base
        started = time.perf_counter()
        export = transfers.start_export(ctx, root, db.id, fmt=fmt, gzip=gzip)
        with open(out, "wb") as f:
            for chunk in export.chunks():
                f.write(chunk)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "bytes": os.path.getsize(out), "records": export.total,
                "resident": resident, "peak_rss": _peak_rss(), "baseline_rss": base}
    finally:
        ctx.close()


def probe_import(work: str, doc: str, name: str) -> dict[str, Any]:
    from server.service import tokens
    from server.service import databases, transfers

    base = _rss()
    ctx = _service(work)
    try:
        root = tokens.owner_principal(ctx)
        db = databases.create_database(ctx, root, name=name)
        started = time.perf_counter()
        result = transfers.import_database(ctx, root, db.id, doc)
        seconds = time.perf_counter() - started
        rows = sum(result.rows.values())
        resident = _rss() - base
        count = ctx.engine(db.id).query("seg", "Count(All())")[0]
        return {"seconds": seconds, "bytes": os.path.getsize(doc), "records": rows, "check_count": count,
                "resident": resident, "peak_rss": _peak_rss(), "baseline_rss": base}
    finally:
        ctx.close()


def probe_duckdb_load(dbfile: str, data: str) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect(dbfile)
    con.execute("SET threads TO 2")
    started = time.perf_counter()
    con.execute(f"CREATE TABLE seg AS SELECT * FROM read_parquet('{Path(data) / 'records.parquet'}')")
    con.execute("CHECKPOINT")
    con.close()
    return {"load_seconds": time.perf_counter() - started}


def probe_duckdb_export(dbfile: str, out: str) -> dict[str, Any]:
    import duckdb

    base = _rss()
    con = duckdb.connect(dbfile, read_only=True)
    con.execute("SET threads TO 2")
    con.execute("SELECT count(*) FROM seg").fetchall()
    resident = _rss() - base
    started = time.perf_counter()
    con.execute(f"EXPORT DATABASE '{out}' (FORMAT PARQUET)")
    seconds = time.perf_counter() - started
    counted = con.execute("SELECT count(*) FROM seg").fetchone()
    assert counted is not None  # count(*) always yields a row
    records = counted[0]
    con.close()
    return {"seconds": seconds, "bytes": _size(Path(out)), "records": records, "resident": resident,
            "peak_rss": _peak_rss(), "baseline_rss": base}


def probe_duckdb_import(dbfile: str, src: str) -> dict[str, Any]:
    import duckdb

    base = _rss()
    con = duckdb.connect(dbfile)
    con.execute("SET threads TO 2")
    started = time.perf_counter()
    con.execute(f"IMPORT DATABASE '{src}'")
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - started
    counted = con.execute("SELECT count(*) FROM seg").fetchone()
    assert counted is not None  # count(*) always yields a row
    records = counted[0]
    resident = _rss() - base
    con.close()
    return {"seconds": seconds, "bytes": _size(Path(src)), "records": records, "resident": resident,
            "peak_rss": _peak_rss(), "baseline_rss": base}


PROBES: dict[str, Callable[..., dict[str, Any]]] = {
    "load": probe_load, "export": probe_export, "import": probe_import, "duckdb_load": probe_duckdb_load,
    "duckdb_export": probe_duckdb_export, "duckdb_import": probe_duckdb_import}


def _run_probe(name: str, *args: Any) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "bench.transfer", "probe", name, *map(str, args)], cwd=_REPO,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"probe {name} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the run ----------------------------------------------------------------------------------------

def run(data: Path, out: Path | None) -> str:
    schema = json.loads((data / "schema.json").read_text())
    n = schema["n"]
    scratch = Path(tempfile.mkdtemp(prefix="roarbase-transfer-", dir=os.environ.get("ROARBASE_BENCH_TMP")))
    rows: list[tuple[str, dict[str, Any]]] = []
    try:
        work = scratch / "service"
        _run_probe("load", work, data)
        for label, fmt, gz, fname in (("roarbase export NDJSON", "ndjson", False, "doc.ndjson"),
                                      ("roarbase export NDJSON+gzip", "ndjson", True, "doc.ndjson.gz"),
                                      ("roarbase export JSON", "json", False, "doc.json")):
            rows.append((label, _run_probe("export", work, scratch / fname, fmt, str(gz))))
        for i, (label, fname) in enumerate((("roarbase import NDJSON", "doc.ndjson"),
                                            ("roarbase import NDJSON+gzip", "doc.ndjson.gz"),
                                            ("roarbase import JSON", "doc.json"))):
            rows.append((label, _run_probe("import", work, scratch / fname, f"copy{i}")))
        duck = scratch / "duck.db"
        _run_probe("duckdb_load", duck, data)
        rows.append(("DuckDB EXPORT DATABASE (Parquet)", _run_probe("duckdb_export", duck, scratch / "duckexp")))
        rows.append(("DuckDB IMPORT DATABASE (Parquet)", _run_probe("duckdb_import", scratch / "duck2.db",
                                                                    scratch / "duckexp")))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    lines = [f"# Export / import, n={n:,} records (bench data)", "",
             f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, fsync on; each step in a fresh process. "
             "MB/s = document (or Parquet directory) bytes / wall time; resident = RSS the open database adds; "
             "peak = the process's VmHWM (interpreter included).", "",
             "| step | seconds | records/s | size (MB) | MB/s | resident (MB) | peak RSS (MB) | "
             "peak above baseline (MB) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for label, r in rows:
        mb = r["bytes"] / 1e6
        lines.append(f"| {label} | {r['seconds']:.2f} | {r['records'] / r['seconds']:,.0f} | {mb:,.1f} | "
                     f"{mb / r['seconds']:,.1f} | {r['resident'] / 1e6:,.0f} | {r['peak_rss'] / 1e6:,.0f} | "
                     f"{(r['peak_rss'] - r['baseline_rss']) / 1e6:,.0f} |")
    load = os.getloadavg()
    lines += ["", f"Load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min). "
              "baseline = the process's RSS before it opened anything (interpreter and libraries)."]
    text = "\n".join(lines) + "\n"
    if out is not None:
        out.write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "probe":
        name, *given = argv[1:]
        probe_args: list[Any] = given
        if name == "export":
            probe_args[-1] = probe_args[-1] == "True"
        print(json.dumps(PROBES[name](*probe_args)))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.transfer", description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    print(run(args.data, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
