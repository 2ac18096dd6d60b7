"""A child process that runs PQL requests for tests that must survive a hang or a crash.

Run as a script: `python pql_worker.py <data dir>`. It opens the data directory, prints
{"ready": rss_kib}, then for each JSON line {"index": …, "query": …} on stdin prints one
JSON line describing the outcome:

    {"kind": "ok", "result": …}                         the results (JSON-safe form)
    {"kind": "error", "type": "QueryExecutionError", "query_error": true,
     "line": 1, "column": 5, "message": "…"}            an engine.EngineError
    {"kind": "exception", "type": "KeyError", "message": "…", "where": "engine/extract.py:42"}
                                                         anything else
each with "parse_s" (wall time to parse the text), "total_s" (wall time of parse + lower +
execute), "cpu_s" (the process's CPU time for the same) and "rss_kib" (resident set size after
the request).

The parent (WorkerPool below) kills the child when a request does not answer in time: a
hung thread pool cannot be recovered inside one process.
"""
from __future__ import annotations

import json
import selectors
import subprocess
import sys
import time
import traceback
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

from childenv import child_env

_ROOT = str(Path(__file__).resolve().parents[3])


def _rss_kib() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _jsonable(x: Any) -> Any:
    if isinstance(x, Decimal):
        return {"decimal": str(x)}
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    for fr in reversed(frames):
        if "/engine/" in fr.filename or "/ext/" in fr.filename:
            rel = fr.filename.split(_ROOT + "/", 1)[-1]
            return f"{rel}:{fr.lineno}"
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"


def main(path: str) -> None:
    import engine
    from engine.pql import parser as parser_module

    db = engine.open(path, fsync=False)
    out = sys.stdout
    out.write(json.dumps({"ready": _rss_kib()}) + "\n")
    out.flush()
    for line in sys.stdin:
        req = json.loads(line)
        text = req["query"]
        # The parse alone first, timed; the request then finds the tree in the parser's
        # cache of recent texts, so request time = parse + the rest (no parse counted twice).
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            parser_module.parse(text)
        except Exception:
            pass
        parse_s, parse_cpu = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            res: dict[str, Any] = {"kind": "ok", "result": _jsonable(db.query(req["index"], text))}
        except engine.EngineError as exc:
            res = {"kind": "error", "type": type(exc).__name__, "query_error": isinstance(exc, engine.QueryError),
                   "line": getattr(exc, "line", None), "column": getattr(exc, "column", None),
                   "message": str(exc)[:300], "where": _where(exc)}
        except Exception as exc:  # the point of the exercise: report, do not die
            res = {"kind": "exception", "type": type(exc).__name__, "message": str(exc)[:300],
                   "where": _where(exc)}
        res["cpu_s"] = parse_cpu + time.process_time() - c0
        res["total_s"] = parse_s + time.perf_counter() - t0
        res["parse_s"] = parse_s
        res["rss_kib"] = _rss_kib()
        out.write(json.dumps(res) + "\n")
        out.flush()


class Worker:
    """One worker process over a data directory (which it must have to itself)."""

    def __init__(self, path: str, startup_timeout: float = 60.0) -> None:
        self.stderr_path = path.rstrip("/") + ".worker-stderr"
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen([sys.executable, __file__, path], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr, text=True,
                                     encoding="utf-8", cwd=_ROOT, env=child_env())
        self._sel = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        first = self._read(startup_timeout)
        if first is None or "ready" not in first:
            self.kill()
            raise RuntimeError(f"PQL worker did not start: {first!r}")
        self.rss_start = first["ready"]

    def _read(self, timeout: float) -> Optional[dict[str, Any]]:
        assert self.proc.stdout is not None
        if not self._sel.select(timeout):
            return None
        line = self.proc.stdout.readline()
        if not line:
            return {"kind": "crash", "returncode": self.proc.poll()}
        return json.loads(line)

    def send(self, index: str, query: str) -> bool:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps({"index": index, "query": query}) + "\n")
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def receive(self, timeout: float) -> dict[str, Any]:
        """The outcome of the request sent last; {"kind": "hang"} (and the worker is gone)
        when it does not answer within `timeout` seconds."""
        res = self._read(max(timeout, 0.0))
        if res is None:
            self.kill()
            return {"kind": "hang"}
        return res

    def ask(self, index: str, query: str, timeout: float) -> dict[str, Any]:
        if not self.send(index, query):
            return {"kind": "crash", "returncode": self.proc.poll()}
        return self.receive(timeout)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self._stderr.close()
        self._sel.close()

    def stderr_tail(self, n: int = 2000) -> str:
        with open(self.stderr_path, errors="replace") as f:
            return f.read()[-n:]

    def close(self) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        self.kill()


if __name__ == "__main__":
    main(sys.argv[1])
