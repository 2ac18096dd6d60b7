"""The gRPC access log survives a stream wrapper closed after its call ended.

When a client cancels a server stream while grpc awaits a write, grpc stops iterating
the handler's async generator without closing it; the access log's wrapper stays
suspended at its yield and is closed (GeneratorExit) only when collected — after grpc
has released the call's core object. The wrapper then wrote its access line with
context.peer(), which dereferenced the released call: the server died with SIGSEGV
(seen once in a loaded test run, during the ListByIds that followed an unfinished
ScanEntities; reproduced in under a minute by tests/server/grpc/test_grpc_stress.py).

late_close_server.py makes that order deterministic: the wrapper is left at its yield,
the call ends, and the wrapper is closed only after grpc's done callbacks have run.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import grpc

from childenv import child_env

SERVER = Path(__file__).with_name("late_close_server.py")


def test_a_stream_closed_after_its_call_ended_is_logged_as_cancelled() -> None:
    proc = subprocess.Popen([sys.executable, str(SERVER)], env=child_env(PYTHONUNBUFFERED="1"),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    answers: list[object] = []
    try:
        assert proc.stdout is not None and proc.stdin is not None and proc.stderr is not None
        port = int(proc.stdout.readline())
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                answers.append(list(channel.unary_stream("/t.T/Stream")(b"", timeout=30)))
                answers.append(channel.unary_unary("/t.T/Close")(b"", timeout=30))
                answers.append(channel.unary_unary("/t.T/Ping")(b"", timeout=30))
        except grpc.RpcError as exc:        # the server died: its exit code and stderr say how
            answers.append(exc)
        proc.stdin.close()
        code = proc.wait(timeout=30)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    assert code == 0, f"the server exited with {code}:\n{err}"
    assert answers == [[b"one"], b"closed", b"pong"]
    lines = [json.loads(ln) for ln in err.splitlines() if ln.startswith("{")]
    inner = [ln for ln in lines if ln.get("logger") == "roarbase.access" and ln.get("route") == "/t.T/Inner"]
    assert len(inner) == 1, err
    assert (inner[0]["status"], inner[0]["code"], inner[0]["client"]) == ("CANCELLED", "RequestTimeout", "127.0.0.1")
