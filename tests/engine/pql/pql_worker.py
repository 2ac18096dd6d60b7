"""A child process that runs PQL requests for tests that must survive a hang or a crash
(the machinery is tests/engine/query_worker.py's).

Run as a script: `python pql_worker.py <data dir>`. It opens the data directory, then for
each JSON line {"index": …, "query": …} on stdin answers with one JSON line; an "ok" answer
is {"kind": "ok", "result": …}, the results in JSON-safe form (a Decimal is {"decimal": "…"}).
"""
from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any

from query_worker import WorkerProcess, serve


def _jsonable(x: Any) -> Any:
    if isinstance(x, Decimal):
        return {"decimal": str(x)}
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def main(path: str) -> None:
    import engine
    from engine.pql import parser as parser_module

    db = engine.open(path, fsync=False)
    serve(lambda req: req["query"], parser_module.parse,
          lambda req, text: {"kind": "ok", "result": _jsonable(db.query(req["index"], text))})


class Worker(WorkerProcess):
    """One PQL worker process over a data directory (which it must have to itself)."""

    def __init__(self, path: str, startup_timeout: float = 60.0) -> None:
        super().__init__(__file__, path, language="PQL", startup_timeout=startup_timeout)

    def send(self, index: str, query: str) -> bool:
        return self.send_request({"index": index, "query": query})

    def ask(self, index: str, query: str, timeout: float) -> dict[str, Any]:
        return self.request({"index": index, "query": query}, timeout)


if __name__ == "__main__":
    main(sys.argv[1])
