"""What the PQL and SQL worker processes share (pql/pql_worker.py, sql/sql_worker.py): the
child's request loop and the parent's handle on the child.

A worker runs query texts in a child process for the tests that must survive a hang or a
crash (R8 fuzzing, the shard-pool tests): the parent kills the child when a request does
not answer in time, since a hung thread pool cannot be recovered inside one process. The
protocol is one JSON line per request and per answer; the first line from the child is
{"ready": rss_kib}. Each answer is one of

    {"kind": "ok", …}                                   the language's own fields
    {"kind": "error", "type": "QueryExecutionError", "query_error": true,
     "line": 1, "column": 5, "message": "…", "where": "engine/x.py:42"}   an engine.EngineError
    {"kind": "exception", "type": "KeyError", "message": "…", "where": "engine/x.py:42"}
                                                        anything else
with "parse_s" (wall time to parse the text alone), "total_s" (wall time of parse and
execution), "cpu_s" (the process's CPU time for the same) and "rss_kib" (resident set size
after the request). The parent sees {"kind": "hang"} when no answer came in time and
{"kind": "crash", …} when the child died.
"""
from __future__ import annotations

import json
import selectors
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Optional

from childenv import child_env

ROOT = str(Path(__file__).resolve().parents[2])


def rss_kib() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def where(exc: BaseException) -> str:
    """The innermost engine or ext frame of the exception's traceback, repository-relative."""
    frames = traceback.extract_tb(exc.__traceback__)
    for fr in reversed(frames):
        if "/engine/" in fr.filename or "/ext/" in fr.filename:
            rel = fr.filename.split(ROOT + "/", 1)[-1]
            return f"{rel}:{fr.lineno}"
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"


def serve(text_of: Callable[[dict[str, Any]], str], parse: Callable[[str], Any],
          run: Callable[[dict[str, Any], str], dict[str, Any]],
          after: Optional[Callable[[dict[str, Any]], dict[str, Any]]] = None) -> None:
    """The child's loop over stdin: text_of(request) is the query text, parse(text) the
    language's parser alone (timed on its own; the run then finds the tree in the parser's
    cache of recent texts when it keeps them), run(request, text) the "ok"
    answer; after(answer), when given, sees every answer and returns the one to send."""
    import engine

    out = sys.stdout
    out.write(json.dumps({"ready": rss_kib()}) + "\n")
    out.flush()
    for line in sys.stdin:
        req = json.loads(line)
        text = text_of(req)
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            parse(text)
        except Exception:
            pass
        parse_s, parse_cpu = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            res = run(req, text)
        except engine.EngineError as exc:
            res = {"kind": "error", "type": type(exc).__name__, "query_error": isinstance(exc, engine.QueryError),
                   "line": getattr(exc, "line", None), "column": getattr(exc, "column", None),
                   "message": str(exc)[:300], "where": where(exc)}
        except Exception as exc:  # the point of the exercise: report, do not die
            res = {"kind": "exception", "type": type(exc).__name__, "message": str(exc)[:300],
                   "where": where(exc)}
        res["cpu_s"] = parse_cpu + time.process_time() - c0
        res["total_s"] = parse_s + time.perf_counter() - t0
        res["parse_s"] = parse_s
        res["rss_kib"] = rss_kib()
        if after is not None:
            res = after(res)
        out.write(json.dumps(res) + "\n")
        out.flush()


class WorkerProcess:
    """One worker process (`python <script> <args…>`) over a data directory, which it must
    have to itself. Its stderr goes to `<data dir>.worker-stderr`."""

    def __init__(self, script: str, path: str, *args: str, language: str, startup_timeout: float = 60.0) -> None:
        self.stderr_path = path.rstrip("/") + ".worker-stderr"
        self._stderr = open(self.stderr_path, "w")
        # lone surrogates (fuzzed text) must survive the pipes in both directions
        self.proc = subprocess.Popen([sys.executable, script, path, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr, text=True,
                                     encoding="utf-8", errors="surrogatepass", cwd=ROOT,
                                     env=child_env(PYTHONIOENCODING="utf-8:surrogatepass"))
        self._sel = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        first = self._read(startup_timeout)
        if first is None or "ready" not in first:
            self.kill()
            raise RuntimeError(f"{language} worker did not start: {first!r} {self.stderr_tail()}")
        self.rss_start = first["ready"]

    def _read(self, timeout: float) -> Optional[dict[str, Any]]:
        assert self.proc.stdout is not None
        if not self._sel.select(timeout):
            return None
        line = self.proc.stdout.readline()
        if not line:
            return {"kind": "crash", "returncode": self.proc.poll(), "message": self.stderr_tail(500)}
        return json.loads(line)

    def send_request(self, req: dict[str, Any]) -> bool:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(req) + "\n")
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

    def request(self, req: dict[str, Any], timeout: float) -> dict[str, Any]:
        if not self.send_request(req):
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
