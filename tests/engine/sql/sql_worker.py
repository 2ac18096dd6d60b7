"""A child process that runs SQL texts for the R8 fuzz test, so that a hang or a crash is
recorded instead of stopping the run.

Run as a script: `python sql_worker.py <data dir> <bulk data dir>`. It opens the data
directory (a copy of the SQL fixture), prints {"ready": rss_kib}, then for each JSON line
{"text": …} on stdin runs db.sql_all(text) (materialising every result's rows) and prints
one JSON line:

    {"kind": "ok", "rows": n}                          n = rows of the last result
    {"kind": "error", "type": "TypeMismatchError", "query_error": true,
     "line": 0, "column": 0, "message": "…"}          an engine.EngineError
    {"kind": "exception", "type": "KeyError", "message": "…", "where": "engine/sql/x.py:42"}
                                                        anything else
each with "parse_s" (wall time of the parse alone), "total_s" (wall time of parse and
execution), "cpu_s" (the process's CPU time for the same), "rss_kib" and "rebuilt" (true when
the statement damaged the fixture — dropped a table or a column, emptied people — and the
worker rebuilt it, so that later strings still reach execution).

"{data}" in a text is replaced by the bulk data directory.
"""
from __future__ import annotations

import json
import selectors
import subprocess
import sys
import time
import traceback
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


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    for fr in reversed(frames):
        if "/engine/" in fr.filename or "/ext/" in fr.filename:
            rel = fr.filename.split(_ROOT + "/", 1)[-1]
            return f"{rel}:{fr.lineno}"
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"


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

    out = sys.stdout
    out.write(json.dumps({"ready": _rss_kib()}) + "\n")
    out.flush()
    for line in sys.stdin:
        text = json.loads(line)["text"].replace("{data}", data_dir)
        # The parse alone first, timed; the statement then finds the tree in the parser's
        # cache of recent texts (short texts), so request time ≈ parse + the rest.
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            parser_module.parse(text)
        except Exception:
            pass
        parse_s, parse_cpu = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            results = db.sql_all(text)
            n = 0
            for r in results:
                n = len(r.rows)
            res: dict[str, Any] = {"kind": "ok", "rows": n}
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
        res["rebuilt"] = False
        try:
            if damaged():
                for idx in db.indexes():
                    db.drop_index(idx.name)
                build(db)
                res["rebuilt"] = True
        except Exception as exc:  # a fixture that cannot be checked or rebuilt is a finding too
            res = {"kind": "exception", "type": type(exc).__name__, "message": f"rebuilding the fixture: {exc}"[:300],
                   "where": _where(exc), "cpu_s": res["cpu_s"], "total_s": res["total_s"], "parse_s": parse_s,
                   "rss_kib": _rss_kib(), "rebuilt": False}
        out.write(json.dumps(res) + "\n")
        out.flush()


class Worker:
    """One worker process over a data directory (which it must have to itself)."""

    def __init__(self, path: str, data_dir: str, startup_timeout: float = 60.0) -> None:
        self.stderr_path = path.rstrip("/") + ".worker-stderr"
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen([sys.executable, __file__, path, data_dir], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr, text=True,
                                     encoding="utf-8", errors="surrogatepass", cwd=_ROOT,
                                     env=child_env(PYTHONIOENCODING="utf-8:surrogatepass"))
        self._sel = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        first = self._read(startup_timeout)
        if first is None or "ready" not in first:
            self.kill()
            raise RuntimeError(f"SQL worker did not start: {first!r} {self.stderr_tail()}")
        self.rss_start = first["ready"]

    def _read(self, timeout: float) -> Optional[dict[str, Any]]:
        assert self.proc.stdout is not None
        if not self._sel.select(timeout):
            return None
        line = self.proc.stdout.readline()
        if not line:
            return {"kind": "crash", "returncode": self.proc.poll(), "message": self.stderr_tail(500)}
        return json.loads(line)

    def ask(self, text: str, timeout: float) -> dict[str, Any]:
        """The outcome; {"kind": "hang"} (and the worker is gone) when it does not answer
        within `timeout` seconds."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps({"text": text}) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return {"kind": "crash", "returncode": self.proc.poll()}
        res = self._read(timeout)
        if res is None:
            self.kill()
            return {"kind": "hang"}
        return res

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
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
    main(sys.argv[1], sys.argv[2])
