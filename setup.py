"""Build the one compiled extension, ext._roaring. All metadata lives in pyproject.toml.

DEBUG=1 builds with -O0 -g (for gdb/valgrind); the default is -O3.
"""
import os
import platform

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("DEBUG", "") not in ("", "0")

if DEBUG:
    cflags = ["-O0", "-g3", "-UNDEBUG"]
else:
    cflags = ["-O3"]
    # Hardware popcount/ctz make bitset containers several times faster; every x86-64
    # CPU since 2008 has them. Other architectures get their own builtins from -O3.
    if platform.machine() in ("x86_64", "AMD64"):
        cflags += ["-mpopcnt", "-mbmi"]
cflags += ["-Wno-unused-function", "-Wno-unreachable-code"]

extensions = [
    Extension(
        "ext._roaring",
        sources=["ext/_roaring.pyx"],
        extra_compile_args=cflags,
        # the .pxi fragments and the C headers (ext/*.h) are compiled into _roaring.c: a
        # change to any of them rebuilds it (#include "x.h" finds them next to _roaring.c)
        depends=[os.path.join("ext", f) for f in os.listdir("ext") if f.endswith((".pxi", ".pxd", ".h"))],
    )
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": 3,
            "embedsignature": True,
            "binding": True,
            "cdivision": True,
        },
        gdb_debug=DEBUG,
        annotate=os.environ.get("ANNOTATE", "") not in ("", "0"),
    ),
)
