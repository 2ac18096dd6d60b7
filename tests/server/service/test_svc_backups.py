"""Online backups (server/service/backups.py): taken while writes continue, consistent
(one instant across tables), restorable into a new database that answers the same; a
damaged or tampered archive is refused before any database exists."""
from __future__ import annotations

import io
import json
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from server.service import backups, databases, query
from server.service.errors import InvalidParameter, ResourceAlreadyExists
from svc_testlib import root_of, start
from transfer_testlib import answers, build, floats_bitwise


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    ctx = start(tmp_path_factory.mktemp("backups") / "data")
    yield ctx, root_of(ctx)
    ctx.close()


def _backup(ctx, root, db_id, path: Path) -> Path:
    with open(path, "wb") as f:
        for chunk in backups.start_backup(ctx, root, db_id).chunks():
            f.write(chunk)
    return path


def test_restore_into_a_new_database_answers_the_same(env, tmp_path):
    ctx, root = env
    src = build(ctx, root, np.random.default_rng(3), "bsrc", records=30)
    path = _backup(ctx, root, src.id, tmp_path / "b.tar.gz")
    assert databases.get_database(ctx, root, src.id).state == "RUNNING"
    new = backups.restore_backup(ctx, root, str(path), name="brestored")
    assert new.state == "RUNNING" and new.item_id_type == src.item_id_type and new.metadata == src.metadata
    assert floats_bitwise(answers(ctx, root, new.id)) == floats_bitwise(answers(ctx, root, src.id))
    with pytest.raises(ResourceAlreadyExists):
        backups.restore_backup(ctx, root, str(path), name="brestored")
    leftovers = list((Path(ctx.config.data_dir) / "tmp").iterdir())
    assert leftovers == []


def test_a_backup_is_one_instant_while_writes_continue(env, tmp_path):
    """A writer inserts record k into table a, then into table b, over and over; any
    instant has count(b) <= count(a) <= count(b) + 1, and so must every backup."""
    ctx, root = env
    db = databases.create_database(ctx, root, name="busy")
    query.sql(ctx, root, db.id, "CREATE TABLE a (_id ID, v INT); CREATE TABLE b (_id ID, v INT)")
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        k = 0
        try:
            while not stop.is_set():
                for t in ("a", "b"):
                    query.sql(ctx, root, db.id, f"INSERT INTO {t} (_id, v) VALUES ({k}, {k})")
                k += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    seen = []
    try:
        for i in range(6):
            path = _backup(ctx, root, db.id, tmp_path / f"busy{i}.tar.gz")
            new = backups.restore_backup(ctx, root, str(path), name=f"busy{i}")
            a, b = (query.sql(ctx, root, new.id, f"SELECT COUNT(*) FROM {x}").to_dict()["data"][0][0] for x in "ab")
            seen.append((a, b))
            assert b <= a <= b + 1, seen
    finally:
        stop.set()
        t.join()
    assert not errors and seen[-1][0] > 0


def _rewrite(src: Path, dest: Path, edit) -> Path:
    """Copy an archive member by member through edit(name, data) -> (name, data) | None."""
    with tarfile.open(src) as tin, tarfile.open(dest, "w:gz") as tout:
        for m in tin:
            data = tin.extractfile(m).read() if m.isfile() else b""
            out = edit(m.name, data)
            if out is None:
                continue
            info = tarfile.TarInfo(out[0])
            info.size = len(out[1])
            tout.addfile(info, io.BytesIO(out[1]))
    return dest


@pytest.mark.parametrize("what", ["flipped byte", "tampered manifest", "traversal", "missing file", "not gzip",
                                  "no manifest"])
def test_a_damaged_archive_is_refused_and_nothing_is_created(env, tmp_path, what):
    ctx, root = env
    db = databases.create_database(ctx, root, name=f"dmg{abs(hash(what)) % 10000}")
    query.sql(ctx, root, db.id, "CREATE TABLE t (_id ID, v INT); INSERT INTO t (_id, v) VALUES (1, 1)")
    ctx.engine(db.id).checkpoint()                      # fragments on disk, not only in the log
    good = _backup(ctx, root, db.id, tmp_path / "good.tar.gz")

    def edit(name, data):
        if what == "flipped byte" and name.endswith(".frag"):
            return name, data[:20] + bytes([data[20] ^ 1]) + data[21:]
        if what == "tampered manifest" and name == "roarbase-backup.json":
            doc = json.loads(data)
            doc["files"][0]["sha256"] = "0" * 64
            return name, json.dumps(doc).encode()
        if what == "traversal" and name.startswith("engine/t/"):
            return "engine/../../escape", data
        if what == "missing file" and name.endswith("SCHEMA"):
            return None
        if what == "no manifest" and name == "roarbase-backup.json":
            return None
        return name, data

    bad = tmp_path / "bad.tar.gz"
    if what == "not gzip":
        bad.write_bytes(b"definitely not an archive")
    else:
        _rewrite(good, bad, edit)
    count = len(databases.list_databases(ctx, root, limit=64).resources)
    with pytest.raises(InvalidParameter) as info:
        backups.restore_backup(ctx, root, str(bad), name="never")
    assert info.value.name == "INVALID_BACKUP"
    assert len(databases.list_databases(ctx, root, limit=64).resources) == count
    assert not (Path(ctx.config.data_dir).parent / "escape").exists()
