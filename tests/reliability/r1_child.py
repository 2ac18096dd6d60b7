"""R1's child process: import batches with unique record ids until killed.

    python r1_child.py <data dir> <first batch> <batch size> <checkpoint bytes>

Prints `ready` once the data directory is open, then for every batch b `begin b` before
the import and `ack b` after import_records returned (so only acknowledged batches have an
ack line). Batch b holds records b*size .. (b+1)*size-1 in field f (row = id % 7) and in
keyed field k (key "b<b % 50>"), committed together as one import.
"""
import sys

import numpy as np

import engine


def main() -> None:
    path, first, size, ckpt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    db = engine.open(path, checkpoint_bytes=ckpt)
    try:
        idx = db.index("imp")
    except engine.IndexNotFoundError:
        idx = db.create_index("imp")
        idx.create_field("f")
        idx.create_field("k", keys=True)
    print("ready", flush=True)
    b = first
    while True:
        cols = np.arange(b * size, (b + 1) * size, dtype=np.uint64)
        print(f"begin {b}", flush=True)
        idx.import_records(cols, {"f": cols % 7, "k": np.full(size, f"b{b % 50}", dtype=object)})
        print(f"ack {b}", flush=True)
        b += 1


if __name__ == "__main__":
    main()
