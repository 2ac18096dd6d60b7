"""The `make run` demo: a database "demo" holding a small generated segmentation table.

`roarbase serve --demo` calls ensure_demo() before it starts listening. The first start
creates the database (in the bootstrap org, owned by its root account), a SQL table `seg`
and DEMO_RECORDS generated records; later starts find it loaded and leave it alone. The
database's metadata records that the load finished, so a start interrupted halfway reloads
the table instead of serving half of it.

The data follows the shape of the benchmark dataset (PERFORMANCE.md) at a small scale, but
is generated here: the server must not import bench/ (tests/test_layers.py).
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

import numpy as np

from server.service import databases, tokens
from server.service.context import ServiceContext
from server.service.errors import ResourceNotFound

DATABASE = "demo"
TABLE = "seg"
DEMO_RECORDS = 100_000
SEED = 7
_MARKER = "roarbase_demo"

_EDUCATION = ["none", "high_school", "some_college", "associate", "bachelor", "master", "doctorate",
              "professional"]
_EDUCATION_P = [0.05, 0.25, 0.20, 0.10, 0.22, 0.12, 0.03, 0.03]
_HOBBIES = [f"hobby_{i:02d}" for i in range(50)]
_REGIONS = [f"region_{i:02d}" for i in range(20)]
_EVENTS = ["view", "search", "cart", "purchase"]
_EVENTS_P = [0.5, 0.3, 0.15, 0.05]
_SEEN_FROM = np.datetime64("2024-01-01T00:00:00", "s")
_SEEN_SPAN = 365 * 24 * 3600

CREATE_TABLE = (f"CREATE TABLE {TABLE} (_id ID, hobbies STRINGSET, education STRING, region STRING, active BOOL,"
                " age INT MIN 0 MAX 150, income INT MIN 0 MAX 1000000, last_seen TIMESTAMP,"
                " events STRINGSETQ TIMEQUANTUM 'YMD')")


@dataclass(frozen=True)
class Demo:
    """The demo database: its id, its record count, and whether this start loaded it."""

    database_id: str
    records: int
    created: bool


def _generate(n: int, seed: int) -> dict[str, Any]:
    """Columns for records 0..n-1; `hobbies` as flattened (record, key) pairs."""
    rng = np.random.default_rng(seed)
    ids = np.arange(n, dtype=np.uint64)
    ranks = np.arange(1, len(_HOBBIES) + 1)
    hobby_p = 1.0 / ranks ** 1.1
    per_record = rng.integers(0, 4, n)                  # 0-3 hobbies
    hobby_cols = np.repeat(ids, per_record)
    hobby_vals = np.array(_HOBBIES)[rng.choice(len(_HOBBIES), len(hobby_cols), p=hobby_p / hobby_p.sum())]
    region_p = 1.0 / (np.arange(len(_REGIONS)) + 5)
    income = np.round(rng.lognormal(10.8, 0.75, n)).clip(0, 1_000_000).astype(np.int64)
    has_income = rng.random(n) >= 0.1                   # 10% without an income
    seen = _SEEN_FROM + (np.sqrt(rng.random(n)) * _SEEN_SPAN).astype("timedelta64[s]")
    # what a record did and when (a time field: one view per year, month and day)
    per_record_events = rng.integers(0, 4, n)
    event_cols = np.repeat(ids, per_record_events)
    event_vals = np.array(_EVENTS)[rng.choice(len(_EVENTS), len(event_cols), p=_EVENTS_P)]
    event_times = _SEEN_FROM + (np.sqrt(rng.random(len(event_cols))) * _SEEN_SPAN).astype("timedelta64[s]")
    return {
        "ids": ids,
        "hobbies": (hobby_cols, hobby_vals),
        "education": np.array(_EDUCATION)[rng.choice(len(_EDUCATION), n, p=_EDUCATION_P)],
        "region": np.array(_REGIONS)[rng.choice(len(_REGIONS), n, p=region_p / region_p.sum())],
        "active": rng.random(n) < 0.6,
        "age": np.clip(np.round(rng.normal(42, 15, n)), 18, 90).astype(np.int64),
        "income": (ids[has_income], income[has_income]),
        "last_seen": seen,
        "events": (event_cols, event_vals, event_times),
    }


def _load(holder: Any, n: int, seed: int) -> None:
    if any(idx.name == TABLE for idx in holder.indexes()):
        holder.sql(f"DROP TABLE {TABLE}")     # a load interrupted before it finished
    holder.sql(CREATE_TABLE)
    seg = holder.index(TABLE)
    cols = _generate(n, seed)
    ids = cols.pop("ids")
    for name, values in cols.items():
        if isinstance(values, tuple) and len(values) == 3:
            seg.import_values(name, values[0], values[1], timestamps=values[2])
        elif isinstance(values, tuple):
            seg.import_values(name, values[0], values[1])
        else:
            seg.import_values(name, ids, values)


def ensure_demo(ctx: ServiceContext, *, records: int = DEMO_RECORDS, seed: int = SEED) -> Demo:
    """The demo database, created and loaded if this data dir does not have it yet.

    Runs as the bootstrap org's root account. Raises ServiceUnavailable when the store has
    no org (open_service bootstraps one first).
    """
    owner = tokens.owner_principal(ctx)
    try:
        db = databases.get_database_by_name(ctx, owner, DATABASE)
    except ResourceNotFound:
        db = databases.create_database(ctx, owner, name=DATABASE,
                                       description=f"generated segmentation demo: table {TABLE}")
    done = db.metadata.get(_MARKER)
    if isinstance(done, dict) and done.get("loaded"):
        return Demo(db.id, int(done.get("records", 0)), created=False)
    _load(databases.engine_for(ctx, db), records, seed)
    databases.update_database(ctx, owner, db.id, metadata={_MARKER: {"loaded": True, "records": records}},
                              preserve=True)
    return Demo(db.id, records, created=True)


def instructions(demo: Demo, *, prog: str, host: str, grpc_port: int, http_port: int, email: str) -> str:
    """How to query the demo: the CLI, grpcurl and curl, each getting a token first."""
    grpc_target = f"{host}:{grpc_port}"
    http = f"http://{host}:{http_port}"
    pql = 'Count(Intersect(Row(hobbies="hobby_01"), Row(education="bachelor"), Row(active=true)))'
    sql = "SELECT region, COUNT(*) FROM seg GROUP BY region ORDER BY COUNT(*) DESC LIMIT 5"
    grpc_body = '{"database_id": "%s", "table": "%s", "statement": "Count(Row(region=\\"region_00\\"))"}' % (
        demo.database_id, TABLE)
    login_body = '{"email": "%s", "password": "\'"$ROARBASE_PASSWORD"\'"}' % email
    lines = [
        f'Demo database "{DATABASE}" (id {demo.database_id}): table {TABLE}, {demo.records:,} generated records',
        "  (fields hobbies, education, region, active, age, income, last_seen, events).",
        "Put the root password in ROARBASE_PASSWORD, then:",
        "  CLI:",
        f"    export ROARBASE_TOKEN=$({prog} token --server {grpc_target} --email {shlex.quote(email)})",
        f"    {prog} query --server {grpc_target} -d {DATABASE} -t {TABLE} {shlex.quote(pql)}",
        f"    {prog} query --server {grpc_target} -d {DATABASE} --sql {shlex.quote(sql)}",
        "  grpcurl:",
        f"    grpcurl -plaintext -H \"authorization: Bearer $ROARBASE_TOKEN\" -d {shlex.quote(grpc_body)} \\",
        f"      {grpc_target} roarbase.v1.QueryService/Pql",
        "  curl:",
        f"    TOKEN=$(curl -s {http}/v2/auth/token -H 'Content-Type: application/json' \\",
        f"      -d '{login_body}' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"token\"])')",
        f"    curl -s {http}/v2/databases/{demo.database_id}/query/sql -H \"Authorization: Bearer $TOKEN\" \\",
        f"      -H 'Content-Type: text/plain' --data {shlex.quote('SELECT COUNT(*) FROM seg WHERE active = true')}",
    ]
    return "\n".join(lines)
