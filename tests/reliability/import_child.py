"""The SIGKILL test's child: import the world's document into its target and be killed.

    python import_child.py <data dir> <document> <kill at op> [<fsync 0|1>]

Opens the service on the data dir with a FileIO that sends this process SIGKILL just before
its k-th mutating file operation of the import (0: never), then imports. Prints `ops N`
(the import's mutating operations) when the import finishes — the parent's dry run uses
that to pick kill points uniformly over the whole import.
"""
import os
import signal
import sys

import import_testlib as T

from engine.storage.fileio import FileIO


class KillingIO(FileIO):
    """Counts mutating operations once armed; SIGKILLs the process at the chosen one."""

    def __init__(self, kill_at: int) -> None:
        self.kill_at = kill_at
        self.armed = False
        self.ops = 0

    def _tick(self) -> None:
        if self.armed:
            self.ops += 1
            if self.ops == self.kill_at:
                os.kill(os.getpid(), signal.SIGKILL)


for _name in ("makedirs", "open_append", "write", "fsync", "truncate", "rename", "link", "remove", "rmtree",
              "fsync_dir", "write_atomic"):
    def _wrap(name: str):
        base = getattr(FileIO, name)

        def op(self, *args, **kwargs):
            if name != "write_atomic":          # made of the primitives: counted through them
                self._tick()
            return base(self, *args, **kwargs)
        return op
    setattr(KillingIO, _name, _wrap(_name))


def main() -> None:
    data, doc, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    fsync = len(sys.argv) > 4 and sys.argv[4] == "1"
    T.transfers.ENTITY_BATCH, T.transfers.ROW_BATCH = 4, 1     # many small commits
    fio = KillingIO(kill_at)
    ctx = T.open_ctx(data, fsync=fsync, fileio=fio)
    root = T.root_of(ctx)
    db = T.databases.get_database_by_name(ctx, root, T.TARGET)
    fio.armed = True
    T.transfers.import_database(ctx, root, db.id, doc)
    print(f"ops {fio.ops}", flush=True)
    ctx.close()


if __name__ == "__main__":
    main()
