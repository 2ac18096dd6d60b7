"""The hand-written C of ext/ compiles cleanly with -Wall -Wextra -Werror.

The headers are compiled into Cython's generated _roaring.c, whose own code needs warnings
off, so they are checked here instead: each header alone, under the flags setup.py uses
(optimised, DEBUG=1, and the portable build other architectures get), in a translation
unit that takes the address of every function its .pxd declares — so a declared function
the header lacks fails too, and no static function counts as unused.
"""
from __future__ import annotations

import platform
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

EXT = Path(__file__).resolve().parents[2] / "ext"
CC = shutil.which("cc")
X86 = platform.machine() in ("x86_64", "AMD64")

# (header, the .pxd or .pxi declaring it)
HEADERS = [("containers.h", "containers_c.pxd"), ("pylong.h", "bitmap.pxi")]
BUILDS = {
    "release": ["-O3", *(["-mpopcnt", "-mbmi"] if X86 else [])],
    "debug": ["-O0", "-g3", "-UNDEBUG"],
    "portable": ["-O3", "-DRBK_NO_SIMD"],
}


def declared_functions(header: str, declarer: str) -> list[str]:
    """C names of the functions declared in declarer's `cdef extern from "header":` block."""
    text = (EXT / declarer).read_text()
    block = re.search(rf'^cdef extern from "{re.escape(header)}":\n((?:[ \t]+.*\n|\n)+)', text, re.M)
    assert block, f"{declarer} has no extern block for {header}"
    names = []
    for line in block.group(1).splitlines():
        # `type name(` or `type name "c_name"(` at the start of a declaration
        m = re.match(r'\s+[\w ]+?[\s*](\w+)\s*(?:"(\w+)")?\(', line)
        if m:
            names.append(m.group(2) or m.group(1))
    return names


def test_every_header_is_declared() -> None:
    assert sorted(p.name for p in EXT.glob("*.h")) == sorted(h for h, _ in HEADERS)
    assert len(declared_functions("containers.h", "containers_c.pxd")) > 20


@pytest.mark.skipif(CC is None, reason="no C compiler (cc) on PATH")
@pytest.mark.parametrize("build", sorted(BUILDS))
@pytest.mark.parametrize("header,declarer", HEADERS)
def test_compiles_without_warnings(tmp_path: Path, header: str, declarer: str, build: str) -> None:
    uses = "".join(f"__typeof__({f})* const use_{f} = {f};\n" for f in declared_functions(header, declarer))
    unit = tmp_path / "unit.c"
    unit.write_text(f'#include "{header}"\n{uses}')
    assert CC is not None                   # (skipped above otherwise)
    cmd = [CC, "-Wall", "-Wextra", "-Werror", *BUILDS[build],
           "-isystem", sysconfig.get_paths()["include"], "-I", str(EXT),
           "-c", str(unit), "-o", str(tmp_path / "unit.o")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stderr}"
