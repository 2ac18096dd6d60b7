"""Damaged documents: an export in every form (NDJSON, JSON, gzip of each, the Pieces
envelope) with one seeded mutation — cut short, a bit flipped, bytes inserted, deleted or
repeated, invalid UTF-8, a NUL, a number beyond float range — is either merged (the
mutation left a valid document) or refused with a 400-class typed error, and a refusal
changes nothing: the database's complete state (its export, records in order) is the
same, it is RUNNING and no restore point is left. Never an untyped error (a 500).

Found and fixed with it: invalid UTF-8 in NDJSON (UnicodeDecodeError), a JSON number
beyond float range (ValueError from the NDJSON rewrite). 120 cases by default,
1,370 with `-m slow`."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest

from server.service import databases, restore_points, transfers
from server.service.errors import ServiceError
from svc_testlib import root_of, start
from transfer_testlib import build, export_to

FORMS = {"ndjson": {}, "ndjson.gz": {"gzip": True}, "json": {"fmt": "json"},
         "json.gz": {"fmt": "json", "gzip": True}, "envelope": {"fmt": "json", "envelope": True}}
INSERTS = [b"\xff\xfe", b"\x00", b"{", b"]", b"\n", b'"', b"1e999", b"-", b"9" * 30, b"\xc3\x28", b"\\ud800"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    ctx = start(tmp / "data")
    root = root_of(ctx)
    src = build(ctx, root, np.random.default_rng(3), "fuzzsrc", records=15)
    docs = {name: export_to(ctx, root, src.id, tmp / f"doc.{name}", **kw).read_bytes() for name, kw in FORMS.items()}
    dst = databases.create_database(ctx, root, name="fuzzdst", item_id_type=src.item_id_type,
                                    user_id_type=src.user_id_type)
    transfers.import_database(ctx, root, dst.id, str(tmp / "doc.ndjson"))
    yield ctx, root, dst, docs, tmp
    ctx.close()


def _state(ctx, root, db_id: str, tmp) -> list:
    lines = export_to(ctx, root, db_id, tmp / "state.ndjson").read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    del header["exported_at"]
    return [header, *lines[1:]]


def _mutate(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    out = bytearray(data)
    how = rng.choice(["truncate", "flip", "insert", "delete", "nul", "repeat"])
    p = rng.randrange(len(out))
    if how == "truncate":
        del out[p:]
    elif how == "flip":
        out[p] ^= 1 << rng.randrange(8)
    elif how == "insert":
        out[p:p] = rng.choice(INSERTS)
    elif how == "delete":
        del out[p:p + rng.randrange(1, 20)]
    elif how == "nul":
        out[p] = 0
    else:
        out[p:p] = out[p:p + 50]
    return f"{how}@{p}", bytes(out)


@pytest.mark.parametrize("block", [pytest.param(b, marks=pytest.mark.slow) if b else b for b in range(6)])
def test_a_damaged_document_is_merged_or_refused_with_nothing_changed(world, block):
    ctx, root, dst, docs, tmp = world
    rng = random.Random(1000 + block)
    state = _state(ctx, root, dst.id, tmp)
    merged = refused = 0
    for _ in range(250 if block else 120):
        form = rng.choice(sorted(docs))
        how, data = _mutate(rng, docs[form])
        path = tmp / "damaged"
        path.write_bytes(data)
        try:
            transfers.import_database(ctx, root, dst.id, str(path))
        except ServiceError as exc:
            assert exc.code in ("InvalidBody", "InvalidParameter"), (form, how, exc.code, exc.message)
            assert _state(ctx, root, dst.id, tmp) == state, (form, how, "changed by a refused import")
            refused += 1
        else:
            state = _state(ctx, root, dst.id, tmp)      # a harmless mutation: the new baseline
            merged += 1
        assert databases.get_database(ctx, root, dst.id).state == "RUNNING"
        assert not restore_points.leftovers(ctx)
    assert refused > merged > 0
