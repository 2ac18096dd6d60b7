"""Extract reads the values of the records it returns per fragment: by intersecting the
fragment's rows when it has few, from its record-ordered copy when it has many
(engine.state.FEW_ROWS). Both ways, against a plain-Python model, on fields with few and
with thousands of distinct values, records spread over three shards."""
from __future__ import annotations

import random

import pytest

from engine import state as engine_state

SHARD = 1 << 20
FIELDS = {  # name: (type, keyed, distinct values)
    "few": ("set", False, 5),
    "many": ("set", False, 3000),
    "kmany": ("set", True, 2000),
    "mx": ("mutex", False, 4000),
    "kmx": ("mutex", True, 40),
    "flag": ("bool", False, 2),
}


@pytest.mark.parametrize("few_rows", [engine_state.FEW_ROWS, 0])
@pytest.mark.parametrize("seed", range(3))
def test_extract_matches_the_model(db, monkeypatch, seed, few_rows):
    monkeypatch.setattr(engine_state, "FEW_ROWS", few_rows)
    rng = random.Random(seed)
    idx = db.create_index("t")
    records = sorted(rng.sample(range(3 * SHARD), 6000))
    model: dict[str, dict[int, object]] = {}
    for name, (ftype, keyed, distinct) in FIELDS.items():
        idx.create_field(name, type=ftype, **({"keys": True} if keyed else {}))
        label = (lambda v: f"k{v}") if keyed else (lambda v: v)
        cols, vals = [], []
        values: dict[int, object] = {}
        for c in records:
            if rng.random() < 0.2:
                continue
            if ftype == "set":
                vs = sorted(rng.sample(range(distinct), rng.randint(1, 3)))
                cols += [c] * len(vs)
                vals += [label(v) for v in vs]
                values[c] = [label(v) for v in vs]
            elif ftype == "bool":
                b = rng.random() < 0.5
                cols.append(c)
                vals.append(b)
                values[c] = b
            else:
                v = rng.randrange(distinct)
                cols.append(c)
                vals.append(label(v))
                values[c] = label(v)
        idx.import_values(name, cols, vals)
        model[name] = values
    # keyed set rows are listed in row-id order: the order the import met the keys
    order = {}
    for name, (_, keyed, _) in FIELDS.items():
        if keyed:
            km = idx.row_keys(idx.definition.fields[name])
            order[name] = {k: i for k, i in km.items_snapshot()}
    for _ in range(5):
        chosen = sorted(rng.sample(records, rng.randint(1, 40)))
        names = rng.sample(sorted(FIELDS), 3)
        pql = f"Extract(ConstRow(columns=[{','.join(map(str, chosen))}]), {', '.join(f'Rows({n})' for n in names)})"
        got = db.query("t", pql)[0]
        expected = []
        for c in chosen:
            row = []
            for n in names:
                v = model[n].get(c)
                if FIELDS[n][0] == "set":
                    v = sorted(v or [], key=(lambda k, n=n: order[n][k]) if n in order else None)
                row.append(v)
            expected.append({"column": c, "rows": row})
        assert got["columns"] == expected, pql
