"""Fuzzing ext.Bitmap.deserialize with corrupted portable serializations.

The fuzz driver (fuzz_driver.py) runs in a subprocess: a segfault or abort fails this test
with the signal and the input being loaded at the time, instead of killing pytest. The full
size (60,000 inputs, five times the quick run's) is marked slow.
Reproduce a failure with: ROARBASE_FUZZ_SEED=<seed> python tests/ext/fuzz_driver.py
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from childenv import child_env

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DRIVER = HERE / "fuzz_driver.py"
TIMEOUT_S = float(os.environ.get("ROARBASE_FUZZ_TIMEOUT", "240"))


def _run_driver(tmp_path: Path, *extra: str, expect_signal: bool = False) -> subprocess.CompletedProcess:
    last = tmp_path / "last_input.bin"
    try:
        proc = subprocess.run([sys.executable, str(DRIVER), "--last-input", str(last), *extra],
                              cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        pytest.fail(f"fuzz driver timed out after {TIMEOUT_S:.0f}s (a hang?)\n{out[-3000:]}\n"
                    f"last input: {_last_input(last)}")
    if proc.returncode < 0 and not expect_signal:
        sig = signal.Signals(-proc.returncode).name
        pytest.fail(f"fuzz driver killed by {sig}\nstdout:\n{proc.stdout[-3000:]}\n"
                    f"stderr:\n{proc.stderr[-4000:]}\nlast input (reproducer): {_last_input(last)}")
    return proc


def _last_input(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return "<none>"
    return f"{len(data)} bytes: {data[:256].hex()}{'...' if len(data) > 256 else ''}"


@pytest.mark.reliability
@pytest.mark.parametrize("extra", [pytest.param((), id="quick"),
                                   pytest.param(("--inputs", "60000"), id="full", marks=pytest.mark.slow)])
def test_fuzz_deserialize(tmp_path, extra):
    proc = _run_driver(tmp_path, *extra)
    lines = proc.stdout.strip().splitlines()
    summary = next((ln for ln in reversed(lines) if ln.startswith("fuzz summary:")), None)
    print(lines[0] if lines else "<no output>")
    print(summary)
    assert summary is not None, f"no summary line (exit {proc.returncode})\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    fields = dict(kv.split("=", 1) for kv in summary.split(":", 1)[1].split())
    assert proc.returncode == 0, f"{summary}\n" + "\n".join(ln for ln in lines if ln.startswith(("FAIL", "...")))
    assert int(fields["inputs"]) >= 10_000, summary
    # the corpus must exercise both outcomes substantially
    assert int(fields["loaded"]) >= 300 and int(fields["rejected"]) >= 2000, summary


@pytest.mark.reliability
def test_fuzz_driver_detects_bugs(tmp_path):
    """The driver is not vacuous: a loader that accepts truncated data and raises a wrong
    exception type must be reported as failing."""
    proc = _run_driver(tmp_path, "--inputs", "1500", "--seed", "7", "--inject", "bugs")
    assert "fuzz seed=7 inputs=1500" in proc.stdout
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "but must be rejected" in proc.stdout and "KeyError" in proc.stdout, proc.stdout[-2000:]


@pytest.mark.reliability
def test_fuzz_driver_reports_crash(tmp_path):
    """A crash in the subprocess surfaces as a signal, with the input being loaded."""
    proc = _run_driver(tmp_path, "--inputs", "200", "--seed", "3", "--inject", "segv", expect_signal=True)
    assert proc.returncode == -signal.SIGSEGV
    assert "Fatal Python error: Segmentation fault" in proc.stderr  # faulthandler's traceback
    assert _last_input(tmp_path / "last_input.bin") != "<none>"
