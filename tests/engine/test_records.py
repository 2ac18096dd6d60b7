"""engine.records.iter_records: every record's value of every field, exactly, in batches.

The expectation is built independently: values written are remembered in plain Python
dicts (a model), converted to stored integers with FieldOptions.to_stored, and compared
with what the reader gives, across shards and batch boundaries."""
from __future__ import annotations

import numpy as np
import pytest

from engine.records import count_records, iter_records
from engine.schema import float_encode

SHARD = 1 << 20


def _read_all(idx, batch):
    view = idx.holder.read_view()[idx.name]
    _, definition, state = view
    out = {}
    n = 0
    for rb in iter_records(idx, definition, state, batch=batch):
        assert len(rb) <= batch
        assert list(rb.ids) == sorted(rb.ids)
        n += len(rb)
        for i, rid in enumerate(rb.ids.tolist()):
            key = rb.keys[i] if rb.keys is not None else rid
            out[key] = {name: col[i] for name, col in rb.columns.items() if col[i] is not None}
    assert n == count_records(definition, state) == len(out)
    return out


@pytest.mark.parametrize("batch", [7, 1 << 16])
def test_every_field_type_round_trips_exactly(db, batch):
    rng = np.random.default_rng(5)
    idx = db.create_index("t")
    idx.create_field("s", "set")
    idx.create_field("sk", "set", keys=True)
    idx.create_field("m", "mutex", keys=True)
    idx.create_field("b", "bool")
    idx.create_field("i", "int", min=-(2**63), max=2**63 - 1)
    idx.create_field("u", "int", min=0, max=2**64 - 1)
    idx.create_field("d", "decimal", scale=3)
    idx.create_field("ts", "timestamp", time_unit="ns")
    idx.create_field("f16", "float", bits=16)
    idx.create_field("f64", "float", bits=64)
    idx.create_field("tq", "time", time_quantum="YM")
    cols = sorted({int(c) for c in rng.integers(0, 3 * SHARD, 300)} | {0, SHARD - 1, SHARD, 3 * SHARD - 1})
    model: dict[int, dict] = {c: {} for c in cols}
    writes: dict[str, tuple[list, list]] = {}

    def put(name, c, value, stored=None):
        writes.setdefault(name, ([], []))
        writes[name][0].append(c)
        writes[name][1].append(value)
        model[c][name] = value if stored is None else stored

    for c in cols:
        for name, members in (("s", sorted({int(x) for x in rng.integers(0, 50, 3)})),
                              ("sk", sorted({f"k{int(x)}" for x in rng.integers(0, 9, 2)}))):
            for v in members:
                writes.setdefault(name, ([], []))
                writes[name][0].append(c)
                writes[name][1].append(v)
            model[c][name] = members
        if rng.random() < 0.7:
            put("m", c, f"m{c % 4}")
        put("b", c, bool(c % 2))
        put("i", c, [-(2**63), 2**63 - 1, 0, -1, int(rng.integers(-1000, 1000))][int(rng.integers(0, 5))])
        put("u", c, [0, 2**64 - 1, 2**63, int(rng.integers(0, 2**62))][int(rng.integers(0, 4))])
        if rng.random() < 0.5:
            d = f"{int(rng.integers(-10**9, 10**9))}.{int(rng.integers(0, 1000)):03d}"
            put("d", c, d, idx.field("d").options.to_stored(d))
        ts = int(rng.integers(-10**18, 10**18))
        put("ts", c, np.datetime64(ts, "ns"), ts)
        x16 = float(np.array([int(rng.integers(0, 2**16))], dtype=np.uint16).view(np.float16)[0])
        if np.isfinite(x16):
            put("f16", c, x16, float_encode(x16, 16))
        x64 = float(np.array([int(rng.integers(0, 2**63))], dtype=np.uint64).view(np.float64)[0])
        if np.isfinite(x64):
            put("f64", c, x64, float_encode(x64, 64))
        if rng.random() < 0.3:
            model[c]["tq"] = {"standard": [2, 9], "2023": [9], "202303": [9], "2024": [2], "202401": [2]}
    for name, (cs, vs) in writes.items():
        if name == "ts":
            vs = np.array(vs, dtype="datetime64[ns]")
        elif name in ("f16", "f64"):
            vs = np.array(vs, dtype=np.float64)
        elif name in ("i", "u"):
            vs = np.array(vs, dtype=object)
        idx.import_values(name, np.array(cs, dtype=np.uint64), vs)
    tq = [c for c in cols if "tq" in model[c]]
    idx.import_values("tq", tq, [9] * len(tq), timestamps=["2023-03-04T05:06:07Z"] * len(tq))
    idx.import_values("tq", tq, [2] * len(tq), timestamps=["2024-01-01T00:00:00Z"] * len(tq))
    for c in cols:
        model[c] = {k: v for k, v in model[c].items() if v != []}
    got = _read_all(idx, batch)
    # Keyed set members come in row-id order (first-seen), not text order.
    for rec in got.values():
        if "sk" in rec:
            assert rec["sk"] == sorted(rec["sk"], key=idx.row_keys(idx.field("sk").definition).id)
            rec["sk"] = sorted(rec["sk"])
    assert got == model


def test_keyed_index_and_untracked_existence(db):
    keyed = db.create_index("k", keys=True)
    keyed.create_field("v", "int")
    keyed.set("alpha", "v", 5)
    keyed.set("beta", "v", -5)
    keyed.delete(["alpha"])
    assert _read_all(keyed, 10) == {"beta": {"v": -5}}
    loose = db.create_index("loose", track_existence=False)
    loose.create_field("f", "set")
    loose.create_field("n", "int")
    loose.set(3, "f", 1)
    loose.set(SHARD + 4, "n", 8)
    assert _read_all(loose, 10) == {3: {"f": [1]}, SHARD + 4: {"n": 8}}


def _copy_into(src, dst, batch):
    _, definition, state = src.holder.read_view()[src.name]
    for rb in iter_records(src, definition, state, batch=batch):
        dst.write_records(rb.keys if rb.keys is not None else rb.ids, rb.columns)


def test_write_records_is_the_inverse_of_iter_records(db, open_db, tmp_path):
    """A whole index read with iter_records and written with write_records into an index of
    the same schema holds the same bits, keys aside (ids of keys are assigned afresh)."""
    test_every_field_type_round_trips_exactly(db, 1 << 16)
    src = db.index("t")
    other = open_db(tmp_path / "other")
    dst = other.create_index("t")
    dst.create_fields([(fd.name, fd.options, fd.meta) for fd in src.definition.fields.values()])
    _copy_into(src, dst, 50)
    assert _read_all(dst, 1 << 16) == _read_all(src, 1 << 16)
    from engine_testlib import dump_index
    assert dump_index(dst) == dump_index(src)       # unkeyed: the very same bits


def test_write_records_replaces_given_fields_only(db):
    idx = db.create_index("t", keys=True)
    idx.create_field("s", "set", keys=True)
    idx.create_field("n", "int")
    idx.create_field("m", "mutex")
    idx.create_field("q", "time", time_quantum="Y")
    idx.write_records(["a", "b"], {"s": [["x", "y"], ["z"]], "n": [5, 6], "m": [1, 2],
                                   "q": [{"standard": [1], "2023": [1]}, None]})
    idx.write_records(["a", "c"], {"s": [["y"], None], "n": [None, 7], "q": [{"2024": [3]}, None]})
    assert _read_all(idx, 10) == {
        "a": {"s": ["y"], "m": 1, "q": {"2024": [3]}},
        "b": {"s": ["z"], "n": 6, "m": 2},
        "c": {"n": 7},
    }


@pytest.mark.parametrize("columns, message", [
    ({"n": [2**63]}, "out of range"),
    ({"n": [True]}, "integers"),
    ({"s": [[-1]]}, "bad member"),
    ({"s": [5]}, "members are a list"),
    ({"q": [{"20231": [1]}]}, "no view"),
    ({"q": [{"standard": [1]}]}, "no view"),
    ({"b": [1]}, "true or false"),
])
def test_write_records_refuses_bad_values_and_writes_nothing(db, columns, message):
    idx = db.create_index("t")
    idx.create_field("n", "int")
    idx.create_field("s", "set")
    idx.create_field("b", "bool")
    idx.create_field("q", "time", time_quantum="YM", no_standard_view=True)
    with pytest.raises(Exception, match=message):
        idx.write_records([1], columns)
    assert _read_all(idx, 10) == {}
    with pytest.raises(Exception, match="twice"):
        idx.write_records([1, 1], {"n": [1, 2]})


def test_a_view_read_while_a_writer_commits_is_the_state_at_the_view(db):
    """Readers never iterate what a writer mutates: a read view iterated in small batches
    while a writer keeps committing (new records, new keys, a mutex overwritten in place)
    gives exactly the state at the view's instant. Each commit k adds record r{k} (a=k,
    keyed set value v{k}, float k/3), overwrites r{k//2}'s mutex with m{k} and sets the
    counter record's c=k, so the state after commit K is known from K alone. The reader
    waits for three more commits after every batch (no timing assumed)."""
    import threading

    idx = db.create_index("t", keys=True)
    idx.create_field("a", "int", min=0, max=10**9)
    idx.create_field("sk", "set", keys=True)
    idx.create_field("m", "mutex", keys=True)
    idx.create_field("f", "float", bits=64)
    idx.create_field("c", "int", min=0, max=10**9)
    fds = {n: idx.definition.fields[n] for n in ("a", "sk", "m", "f", "c")}
    commits = [0]
    cond = threading.Condition()
    stop = threading.Event()
    failures: list[BaseException] = []

    def commit(k: int) -> None:
        with idx.transaction() as tx:
            tx.set(f"r{k}", fds["a"], k)
            tx.set(f"r{k}", fds["sk"], f"v{k}")
            tx.set(f"r{k}", fds["f"], k / 3)
            if k // 2 >= 1:
                tx.set(f"r{k // 2}", fds["m"], f"m{k}")
            tx.set("counter", fds["c"], k)

    def expected(top: int) -> dict:
        out: dict = {"counter": {"c": top}}
        for j in range(1, top + 1):
            rec = {"a": j, "sk": [f"v{j}"], "f": float_encode(j / 3, 64)}   # stored integers
            last = max((k for k in (2 * j, 2 * j + 1) if k <= top), default=None)
            if last is not None:
                rec["m"] = f"m{last}"
            out[f"r{j}"] = rec
        return out

    def writer(k: int) -> None:
        try:
            while not stop.is_set():
                k += 1
                commit(k)
                with cond:
                    commits[0] = k
                    cond.notify_all()
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)
            with cond:
                cond.notify_all()

    for k in range(1, 40):
        commit(k)
    commits[0] = 39
    t = threading.Thread(target=writer, args=(39,))
    t.start()
    try:
        for _ in range(5):
            _, definition, state = db.read_view()["t"]
            got: dict = {}
            for rb in iter_records(idx, definition, state, batch=7):
                for i, key in enumerate(rb.keys):
                    got[key] = {n: col[i] for n, col in rb.columns.items() if col[i] is not None}
                with cond:
                    seen = commits[0]
                    assert cond.wait_for(lambda: commits[0] >= seen + 3 or failures, timeout=60)
            assert not failures
            top = got["counter"]["c"]
            assert got == expected(top)
            assert commits[0] > top          # the writer went on while the view was read
    finally:
        stop.set()
        t.join()
    assert not failures
