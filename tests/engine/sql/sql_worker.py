"""A child process that runs SQL texts for the R8 fuzz test, so that a hang or a crash is
recorded instead of stopping the run (the machinery is tests/engine/query_worker.py's).

Run as a script: `python sql_worker.py <data dir> <bulk data dir>`. It opens the data
directory (a copy of the SQL fixture), then for each JSON line {"text": …} on stdin runs
db.sql_all(text) (materialising every result's rows) and answers with one JSON line; an
"ok" answer is {"kind": "ok", "rows": n}, n the rows of the last result. Every answer also
has "rebuilt": true when the statement damaged the fixture — dropped a table or a column,
emptied people — and the worker rebuilt it, so that later strings still reach execution.

"{data}" in a text is replaced by the bulk data directory.
"""
from __future__ import annotations

import sys
from typing import Any

from query_worker import WorkerProcess, rss_kib, serve, where


def main(path: str, data_dir: str) -> None:
    import engine
    from engine.sql import parser as parser_module
    from sql_fixture import build

    db = engine.open(path, fsync=False)
    people_columns = db.sql("SHOW COLUMNS FROM people").rows

    def damaged() -> bool:
        names = {i.name for i in db.indexes()}
        if not {"people", "cities", "empty"} <= names or len(names) > 12:
            return True
        if db.sql("SHOW COLUMNS FROM people").rows != people_columns:
            return True
        return db.sql("SELECT COUNT(*) FROM people").rows[0][0] < 4

    def run(req: dict[str, Any], text: str) -> dict[str, Any]:
        n = 0
        for r in db.sql_all(text):
            n = len(r.rows)
        return {"kind": "ok", "rows": n}

    def rebuild(res: dict[str, Any]) -> dict[str, Any]:
        res["rebuilt"] = False
        try:
            if damaged():
                for idx in db.indexes():
                    db.drop_index(idx.name)
                build(db)
                res["rebuilt"] = True
        except Exception as exc:  # a fixture that cannot be checked or rebuilt is a finding too
            res = {"kind": "exception", "type": type(exc).__name__, "message": f"rebuilding the fixture: {exc}"[:300],
                   "where": where(exc), "cpu_s": res["cpu_s"], "total_s": res["total_s"], "parse_s": res["parse_s"],
                   "rss_kib": rss_kib(), "rebuilt": False}
        return res

    serve(lambda req: req["text"].replace("{data}", data_dir), parser_module.parse, run, rebuild)


class Worker(WorkerProcess):
    """One SQL worker process over a data directory (which it must have to itself)."""

    def __init__(self, path: str, data_dir: str, startup_timeout: float = 60.0) -> None:
        super().__init__(__file__, path, data_dir, language="SQL", startup_timeout=startup_timeout)

    def ask(self, text: str, timeout: float) -> dict[str, Any]:
        """The outcome; {"kind": "hang"} (and the worker is gone) when it does not answer
        within `timeout` seconds."""
        return self.request({"text": text}, timeout)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
