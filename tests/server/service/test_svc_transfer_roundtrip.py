"""Export -> import into an empty database answers every question the same.

Random databases (transfer_testlib.build: every field and property type, keyed and
unkeyed tables, nulls and extreme values) are exported in each form — JSON, NDJSON, gzip
of both, the Pieces envelope — and imported into a new empty database; a battery of SQL
and PQL questions and entity scans must get the same answers, floats compared bit for bit.
The document's values are also checked against the engine's stored integers directly.
"""
from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from engine.records import iter_records
from engine.schema import float_decode
from server.service import databases, transfers
from svc_testlib import root_of, start
from transfer_testlib import answers, build, export_to, floats_bitwise

FORMS = [("json", False, False), ("ndjson", False, False), ("ndjson", True, False), ("json", True, False),
         ("json", False, True)]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    ctx = start(tmp_path_factory.mktemp("roundtrip") / "data")
    yield ctx, root_of(ctx)
    ctx.close()


@pytest.mark.parametrize("seed, forms", [(1, FORMS), (2, FORMS[2:3]),
                                         pytest.param(3, FORMS, marks=pytest.mark.slow)])
def test_round_trip_in_every_form_answers_the_same(env, tmp_path, seed, forms):
    ctx, root = env
    rng = np.random.default_rng(seed)
    src = build(ctx, root, rng, f"src{seed}")
    expected = floats_bitwise(answers(ctx, root, src.id))
    assert [k for k, v in expected.items() if isinstance(v, list) and v[:1] == ["error"]] == []
    for fmt, gz, envelope in forms:
        path = export_to(ctx, root, src.id, tmp_path / f"doc-{fmt}-{gz}-{envelope}", fmt=fmt, gzip=gz,
                         envelope=envelope)
        dst = databases.create_database(ctx, root, name=f"dst{seed}-{fmt}-{int(gz)}-{int(envelope)}",
                                        item_id_type=src.item_id_type, user_id_type=src.user_id_type)
        result = transfers.import_database(ctx, root, dst.id, str(path))
        assert result.rows == {"facts": 60, "keyed": 60, "loose": 30} or sum(result.rows.values()) > 100
        got = floats_bitwise(answers(ctx, root, dst.id))
        diff = [k for k in expected if expected[k] != got.get(k)]
        assert not diff, (fmt, gz, envelope, diff[:3], [(expected[k], got.get(k)) for k in diff[:1]])
        db = databases.get_database(ctx, root, dst.id)
        assert db.state == "RUNNING" and db.metadata == src.metadata and db.description == "random"
        # the imported database exports the same document again (apart from its name and time)
        again = export_to(ctx, root, dst.id, tmp_path / "again.ndjson", fmt="ndjson")
        first = export_to(ctx, root, src.id, tmp_path / "first.ndjson", fmt="ndjson")
        assert _records(again) == _records(first)


def _records(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    del header["exported_at"], header["database"]["name"]
    rows = sorted(lines[1:])
    return header, rows


def test_document_values_are_the_stored_integers_exactly(env, tmp_path):
    """Every value of the NDJSON document against the engine's stored integers: int64 and
    uint64 extremes as JSON integers, decimals as exact text at the scale, timestamps as
    integers of the column's unit since the Unix epoch, floats as the text of the same
    bits (-0.0 included)."""
    ctx, root = env
    db = build(ctx, root, np.random.default_rng(9), "exact")
    path = export_to(ctx, root, db.id, tmp_path / "doc.ndjson.gz", fmt="ndjson", gzip=True)
    with gzip.open(path, "rt", encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    header = lines[0]
    table = next(t for t in header["sql_tables"] if t["name"] == "facts")
    names = [c["name"] for c in table["columns"]]
    doc_rows = {r["values"][0]: dict(zip(names, r["values"])) for r in lines[1:]
                if r["kind"] == "row" and r["table"] == "facts"}
    holder = ctx.engine(db.id)
    idx, definition, state = holder.read_view()["facts"]
    checked = 0
    for rb in iter_records(idx, definition, state):
        for i, rid in enumerate(rb.ids.tolist()):
            row = doc_rows[rid]
            for name, col in rb.columns.items():
                stored, value = col[i], row[name]
                opts = definition.fields[name].options
                if stored is None:
                    assert value is None
                    continue
                if opts.type == "int":
                    assert type(value) is int and value == stored
                elif opts.type == "decimal":
                    whole, _, frac = value.lstrip("-").partition(".")
                    assert len(frac) == opts.scale and int(value.replace(".", "")) == stored
                elif opts.type == "timestamp":
                    per = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[opts.time_unit]
                    assert type(value) is int and value == stored + opts.epoch * per
                elif opts.type == "float":
                    assert repr(value) == repr(float_decode(stored, opts.bits))
                else:
                    assert value == stored
                checked += 1
    assert checked > 500
    assert max(r["u64"] for r in doc_rows.values() if r["u64"] is not None) == 2**64 - 1
