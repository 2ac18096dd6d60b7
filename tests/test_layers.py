"""Imports point down only: server -> engine -> ext (DESIGN.md, "Layers")."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# package -> top-level project packages it must never import
FORBIDDEN = {
    "ext": {"engine", "server", "bench", "tests"},
    "engine": {"server", "bench", "tests", "grpc", "starlette", "fastapi", "jwt", "click"},
    "server": {"bench", "tests"},
}


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _modules() -> list[tuple[str, pathlib.Path]]:
    out = []
    for pkg in FORBIDDEN:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if "pb" not in path.relative_to(ROOT).parts:  # generated protobuf code
                out.append((pkg, path))
    return out


@pytest.mark.parametrize("pkg,path", _modules(), ids=lambda v: str(v) if isinstance(v, str) else v.name)
def test_imports_point_down(pkg: str, path: pathlib.Path) -> None:
    bad = _imports(path) & FORBIDDEN[pkg]
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}: layers must point down only"


def test_cython_sources_import_nothing_from_the_project() -> None:
    for path in (ROOT / "ext").glob("*.p*"):
        if path.suffix in (".pyx", ".pxi", ".pxd"):
            text = path.read_text()
            for pkg in ("engine", "server", "bench"):
                assert f"import {pkg}" not in text and f"from {pkg}" not in text, path
