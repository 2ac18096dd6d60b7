"""Random databases and a battery of SQL/PQL questions for the export/import tests.

`build(ctx, root, rng, name)` makes a database holding items and users with a property of
every value type family (plain and repeated, extreme values, nulls) and SQL tables (keyed
and unkeyed, with and without existence tracking) with a column of every engine field
type: set/mutex with and without keys, bool, int over int64 and over uint64, decimals,
timestamps in every unit (one with a non-zero epoch), floats of the three widths with
random bit patterns, and time-quantum fields. Values are written through the engine with
`write_records` (stored integers), so the extremes are exactly the ones intended.

`answers(ctx, root, db_id)` asks every table a fixed list of questions (full scans and
aggregates in SQL, rows/counts/TopN/GroupBy/BSI aggregates/time ranges in PQL, entity
scans through the service) and returns comparable answers; an error is an answer too.
"""
from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import Any

import numpy as np

from engine.schema import FieldOptions, float_encode
from server.service import databases, entities, query, transfers
from server.service.errors import ServiceError

ITEM_TYPES = ["int", "int8", "int32", "uint8", "uint64", "float", "float16", "float64", "bool", "unicode",
              "unicode8", "hex16", "urlsafe12", "bytes6", "uuid"]
USER_TYPES = ["int64", "uint16", "float32", "bool", "text", "unicode32"]
ID_TYPES = ["uint64", "uint32", "int64", "uuid", "hex12", "urlsafe20", "bytes8"]
TEXT_ALPHABET = string.ascii_letters + string.digits + " _-'\"\\/é漢🙂\n\t"


def _text(rng: np.random.Generator, n: int = 8) -> str:
    return "".join(rng.choice(list(TEXT_ALPHABET), size=int(rng.integers(1, n + 1))))


def entity_value(rng: np.random.Generator, vt: str) -> Any:
    """A random value of a CM value type, extremes included."""
    m = re.fullmatch(r"(u?)int(\d*)", vt)
    if m:
        width = int(m.group(2) or 64)
        lo, hi = (0, 2**width - 1) if m.group(1) else (-(2 ** (width - 1)), 2 ** (width - 1) - 1)
        return [lo, hi, max(lo, 0), int(rng.integers(max(lo, -100), min(hi, 100) + 1))][int(rng.integers(0, 4))]
    if vt.startswith("float"):
        bits = int(vt[5:] or 32)
        dtype, udtype = {16: (np.float16, np.uint16), 32: (np.float32, np.uint32), 64: (np.float64, np.uint64)}[bits]
        while True:
            raw = int(rng.integers(0, 2**bits - 1, dtype=np.uint64))
            x = float(np.array([raw], dtype=udtype).view(dtype)[0])
            if np.isfinite(x):
                return [x, -0.0, 0.0, float(np.finfo(dtype).max), float(np.finfo(dtype).smallest_subnormal)][
                    int(rng.integers(0, 5)) if rng.random() < 0.3 else 0]
    if vt == "bool":
        return bool(rng.random() < 0.5)
    if vt.startswith("hex"):
        return "".join(rng.choice(list("0123456789ABCDEF"), size=int(rng.integers(1, int(vt[3:]) + 1))))
    if vt.startswith("urlsafe"):
        return "".join(rng.choice(list(string.ascii_letters + "._-"), size=int(rng.integers(1, int(vt[7:]) + 1))))
    if vt.startswith("bytes"):
        import base64
        raw = bytes(rng.integers(0, 256, size=int(rng.integers(1, int(vt[5:]) + 1)), dtype=np.uint8))
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    if vt == "uuid":
        import uuid
        return str(uuid.UUID(bytes=bytes(rng.integers(0, 256, 16, dtype=np.uint8))))
    width = int(vt[7:]) if vt.startswith("unicode") and vt[7:] else 40
    return _text(rng, min(width, 12))


def entity_id(rng: np.random.Generator, id_type: str, i: int) -> Any:
    if id_type.startswith(("int", "uint")):
        return i + 1 if rng.random() < 0.8 else [2**31 - 1, 2**32 - 1, 2**63 - 1, 2**64 - 1][
            {"uint32": 1, "int64": 2, "uint64": 3}.get(id_type, 0)] - i
    return entity_value(rng, {"hex12": "hex12", "urlsafe20": "urlsafe20", "bytes8": "bytes8"}.get(id_type, "uuid"))


def _column_specs() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("tags", "set", {"keys": True}), ("ids", "set", {}), ("cat", "mutex", {"keys": True}), ("num", "mutex", {}),
        ("flag", "bool", {}), ("i64", "int", {}), ("u64", "int", {"min": 0, "max": 2**64 - 1}),
        ("small", "int", {"min": -5, "max": 300}), ("d2", "decimal", {"scale": 2}), ("d9", "decimal", {"scale": 9}),
        ("ts_s", "timestamp", {"time_unit": "s"}), ("ts_ms", "timestamp", {"time_unit": "ms", "epoch": "2000-01-01"}),
        ("ts_us", "timestamp", {"time_unit": "us"}), ("ts_ns", "timestamp", {"time_unit": "ns"}),
        ("f16", "float", {"bits": 16}), ("f32", "float", {"bits": 32}), ("f64", "float", {"bits": 64}),
        ("visits", "time", {"time_quantum": "YMD", "keys": True}), ("hours", "time", {"time_quantum": "YMDH"}),
        ("seen", "time", {"time_quantum": "MD", "no_standard_view": True}),
    ]


def _stored(rng: np.random.Generator, opts: FieldOptions) -> Any:
    t = opts.type
    if t in ("int", "decimal", "timestamp"):
        lo, hi = opts.min, opts.max
        if t == "timestamp":
            per = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[opts.time_unit]
            span = min(250 * 365 * 86400 * per, 2**62)
            lo, hi = max(lo, -span), min(hi, span)
        choice = int(rng.integers(0, 6))
        if choice == 0:
            return lo
        if choice == 1:
            return hi
        if choice == 2:
            return 0 if lo <= 0 <= hi else lo
        return int(rng.integers(max(lo, -10**6), min(hi, 10**6) + 1))
    if t == "float":
        dtype, udtype = {16: (np.float16, np.uint16), 32: (np.float32, np.uint32), 64: (np.float64, np.uint64)}[opts.bits]
        while True:
            raw = int(rng.integers(0, 2**opts.bits - 1, dtype=np.uint64))
            x = float(np.array([raw], dtype=udtype).view(dtype)[0])
            if np.isfinite(x):
                return float_encode(x, opts.bits)
    if t == "bool":
        return bool(rng.random() < 0.5)
    member = (lambda: f"k{int(rng.integers(0, 6))}{_text(rng, 3)}") if opts.keys else \
        (lambda: [0, 1, 2, 7, 2**64 - 1, int(rng.integers(3, 50))][int(rng.integers(0, 6))])
    if t == "mutex":
        return member()
    if t == "set":
        return sorted({member() for _ in range(int(rng.integers(1, 4)))}, key=str)
    views: dict[str, list[Any]] = {}
    for _ in range(int(rng.integers(1, 3))):
        m = member()
        year, month, day, hour = int(rng.integers(2021, 2025)), int(rng.integers(1, 13)), int(rng.integers(1, 29)), \
            int(rng.integers(0, 24))
        stamps = {"Y": f"{year}", "M": f"{year}{month:02d}", "D": f"{year}{month:02d}{day:02d}",
                  "H": f"{year}{month:02d}{day:02d}{hour:02d}"}
        labels = ([] if opts.no_standard_view else ["standard"]) + [stamps[u] for u in opts.time_quantum]
        for label in labels:
            if m not in views.setdefault(label, []):
                views[label].append(m)
    return views


def build(ctx: Any, root: Any, rng: np.random.Generator, name: str, *, records: int = 60) -> databases.Database:
    """A random database (see the module docstring)."""
    id_types = rng.choice(ID_TYPES, size=2)
    db = databases.create_database(ctx, root, name=name, item_id_type=str(id_types[0]), user_id_type=str(id_types[1]),
                                   description="random", metadata={"seed": int(rng.integers(0, 1000))})
    for kind, types in (("item", ITEM_TYPES), ("user", USER_TYPES)):
        props = []
        for vt in types:
            repeated = vt not in ("bool",) and rng.random() < 0.3
            pname = f"{vt}{'_list' if repeated else ''}"
            entities.create_property(ctx, root, kind, property_name=pname, value_type=vt, repeated=repeated,
                                     database=db.id, **({"indexed": bool(rng.random() < 0.5)} if kind == "user" else {}))
            props.append((pname, vt, repeated))
        id_type = str(id_types[0] if kind == "item" else id_types[1])
        batch, seen = [], set()
        for i in range(records):
            ident = entity_id(rng, id_type, i)
            if str(ident) in seen:
                continue
            seen.add(str(ident))
            ent: dict[str, Any] = {f"{kind}_id": ident}
            for pname, vt, repeated in props:
                if rng.random() < 0.25:
                    continue                                   # null
                ent[pname] = [entity_value(rng, vt) for _ in range(int(rng.integers(1, 4)))] if repeated \
                    else entity_value(rng, vt)
            batch.append(ent)
        entities.put_entities(ctx, root, kind, batch, database=db.id)
    holder = ctx.engine(db.id)
    for tname, keys, track in (("facts", False, True), ("keyed", True, True), ("loose", False, False)):
        idx = holder.create_index(tname, keys=keys, track_existence=track, description=f"table {tname}",
                                  meta={"origin": "transfer_testlib"} if keys else None)
        specs = _column_specs()
        idx.create_fields([(cname, FieldOptions.make(ftype, **opts), {"note": cname} if cname == "cat" else {})
                        for cname, ftype, opts in specs])
        fds = [idx.definition.fields[c] for c, _, _ in specs]
        n = records if track else records // 2
        ids = [f"r{i}-{_text(rng, 4)}" for i in range(n)] if keys else \
            sorted({int(x) for x in rng.integers(0, 3 << 20, n)} | {0, (1 << 20) - 1, 1 << 20})
        ids = list(dict.fromkeys(ids))
        columns = {fd.name: [None if rng.random() < 0.2 else _stored(rng, fd.options) for _ in ids] for fd in fds}
        if not track:
            columns["flag"] = [True] * len(ids)               # every record holds a value
        idx.write_records(ids, columns)
    return db


# --- questions --------------------------------------------------------------------------------

SQL_TABLE_QUESTIONS = [
    "SELECT * FROM {t}",
    "SELECT COUNT(*) FROM {t}",
    "SELECT SUM(i64), MIN(i64), MAX(i64), SUM(small), MIN(u64), MAX(u64) FROM {t}",
    "SELECT MIN(d2), MAX(d2), SUM(d9), MIN(ts_ns), MAX(ts_ms), MIN(ts_s) FROM {t}",
    "SELECT MIN(f16), MAX(f32), SUM(f64) FROM {t}",
    "SELECT cat, COUNT(*) FROM {t} GROUP BY cat",
    "SELECT COUNT(*) FROM {t} WHERE small > 10 AND flag = true",
    "SELECT _id FROM {t} WHERE d2 < 0 OR f64 > 1.5",
    "SELECT _id, tags FROM {t} WHERE ts_us IS NULL",
]
PQL_TABLE_QUESTIONS = [
    "Count(All())", "Count(Row(flag=true))", "TopN(tags, n=50)", "TopN(ids, n=50)", "GroupBy(Rows(cat))",
    "GroupBy(Rows(num), Rows(flag))", "Sum(field=i64)", "Min(field=u64)", "Max(field=u64)", "Sum(field=d9)",
    "Min(field=ts_ns)", "Max(field=f32)", "Min(field=f16)", "Count(Row(small > 100))", "Count(Row(f64 < 0))",
    "Count(Row(d2 >= 0))", "Count(Row(ts_ms < '2010-01-01T00:00:00Z'))", "Rows(visits)", "Rows(hours)",
    "Count(Row(hours=7, from='2022-01-01T00:00', to='2023-06-01T00:00'))",
    "Rows(seen, from='2021-03-01T00:00', to='2024-11-01T00:00')",
    "Count(Row(visits='k1', from='2020-01-01T00:00', to='2030-01-01T00:00'))",
    "Count(Not(Row(flag=true)))",
    "Sum(Row(flag=true), field=small)",
    "Extract({all}, Rows(tags), Rows(ids), Rows(cat), Rows(num), Rows(flag), Rows(i64), Rows(u64), Rows(small), "
    "Rows(d2), Rows(d9), Rows(ts_s), Rows(ts_ms), Rows(ts_us), Rows(ts_ns), Rows(f16), Rows(f32), Rows(f64), "
    "Rows(visits), Rows(hours), Rows(seen))",
]


def _answer(fn: Any) -> Any:
    try:
        out = fn()
    except ServiceError as exc:
        return ["error", exc.code, exc.message]
    return json.loads(json.dumps(out, default=str))


def answers(ctx: Any, root: Any, db_id: str) -> dict[str, Any]:
    """Every question's answer (SQL rows sorted: the engine's row order follows record ids,
    which keyed tables assign per database)."""
    out: dict[str, Any] = {}
    for table in ("facts", "keyed", "loose"):
        for q in SQL_TABLE_QUESTIONS if table != "loose" else ():   # SQL needs existence
            text = q.format(t=table)

            def run(text: str = text) -> Any:
                d = query.sql(ctx, root, db_id, text).to_dict()
                return {"schema": d["schema"], "data": sorted(d["data"], key=lambda r: json.dumps(r, default=str))}
            out[text] = _answer(run)
        for q in PQL_TABLE_QUESTIONS:
            if table == "loose" and q.startswith(("Count(All", "Count(Not")):
                continue
            q = q.replace("{all}", "Row(flag=true)" if table == "loose" else "All()")
            out[f"{table}: {q}"] = _answer(lambda q=q: _pql(ctx, root, db_id, table, q))
    for kind in ("item", "user"):
        out[f"{kind}s"] = _answer(lambda kind=kind: _entities(ctx, root, db_id, kind))
        out[f"{kind}s count"] = _answer(
            lambda kind=kind: query.sql(ctx, root, db_id, f"SELECT COUNT(*) FROM {kind}s").to_dict()["data"])
        out[f"{kind}s properties"] = _answer(
            lambda kind=kind: sorted((p.to_dict(kind) for p in entities.list_properties(ctx, root, kind, database=db_id)),
                                     key=lambda p: p["property_name"]))
    return out


def _pql(ctx: Any, root: Any, db_id: str, table: str, q: str) -> Any:
    results = query.pql(ctx, root, db_id, table=table, statement=q).to_dict()["results"]
    if q.startswith("GroupBy") or q.startswith("TopN") or q.startswith("Rows("):
        return json.loads(json.dumps(results, default=str))
    return results


def _entities(ctx: Any, root: Any, db_id: str, kind: str) -> list[Any]:
    found: list[Any] = []
    cursor = None
    while True:
        page = entities.scan_entities(ctx, root, kind, cursor=cursor, amt=500, database=db_id)
        found.extend(page.entities)
        if not page.has_next:
            break
        cursor = page.next_cursor
    for e in found:
        for k, v in e.items():
            if isinstance(v, list):
                e[k] = sorted(v, key=lambda x: json.dumps(x))
    return sorted(found, key=lambda e: json.dumps(e[f"{kind}_id"]))


def export_to(ctx: Any, root: Any, db_id: str, path: Path, *, fmt: str = "ndjson", gzip: bool = False,
              envelope: bool = False) -> Path:
    export = transfers.start_export(ctx, root, db_id, fmt=fmt, gzip=gzip, envelope=envelope)
    with open(path, "wb") as f:
        for chunk in export.chunks():
            f.write(chunk)
    return path


def floats_bitwise(answer: Any) -> Any:
    """Answers with every float as its repr (0.0 and -0.0 differ; equality is bit-exact)."""
    if isinstance(answer, float):
        return repr(answer)
    if isinstance(answer, list):
        return [floats_bitwise(x) for x in answer]
    if isinstance(answer, dict):
        return {k: floats_bitwise(v) for k, v in answer.items()}
    return answer


__all__ = ["build", "answers", "export_to", "floats_bitwise", "entity_value"]
