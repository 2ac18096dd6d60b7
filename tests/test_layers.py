"""Imports point down only: server -> engine -> ext (DESIGN.md, "Layers"; docs/architecture.md).

Two kinds of check, both read the source with `ast` (nothing is imported):
- packages: a top-level package never imports one above it (ext ↛ engine ↛ server).
- contracts: the finer rules of docs/architecture.md, over dotted module names. A
  contract marked `transitive` follows the project's own imports (module-level and
  function-level alike), so a rule cannot be dodged through a helper module.
Known leaks are listed in ALLOWED with the reason they stay; the list only shrinks (an
entry that no longer matches a real import fails too).
"""
from __future__ import annotations

import ast
import functools
import pathlib
import re
from dataclasses import dataclass

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("ext", "engine", "server", "bench")
# package -> top-level packages it must never import
FORBIDDEN = {
    "ext": {"engine", "server", "bench", "tests"},
    "engine": {"server", "bench", "tests", "grpc", "starlette", "fastapi", "jwt", "click"},
    "server": {"bench", "tests"},
}


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.lru_cache(maxsize=None)
def _sources() -> dict[str, pathlib.Path]:
    """Every project Python module by dotted name (generated protobuf code left out)."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if "pb" not in path.relative_to(ROOT).parts:
                out[_module_name(path)] = path
    return out


def _is_module(name: str) -> bool:
    return name in _sources() or (ROOT / pathlib.Path(*name.split("."))).with_suffix(".pyx").exists()


@functools.lru_cache(maxsize=None)
def _imports(module: str) -> frozenset[str]:
    """The dotted names a module imports: `from a.b import c` is `a.b.c` when c is a
    module, else `a.b`; relative imports are resolved."""
    path = _sources()[module]
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                names.add(sub if _is_module(sub) else base)
    return frozenset(names)


def _under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@dataclass(frozen=True)
class Contract:
    """Modules matching `source` (a regex over dotted names) import nothing `forbidden` says."""

    name: str
    source: str
    forbidden: object        # (imported dotted name) -> bool
    transitive: bool = False


ENGINE_PUBLIC = ("engine", "engine.errors")


def _facade_names() -> frozenset[str]:
    """engine.X for every X of the facade's __all__ that is a module (engine.q)."""
    tree = ast.parse((ROOT / "engine" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
            return frozenset(f"engine.{e.value}" for e in node.value.elts  # type: ignore[attr-defined]
                             if _is_module(f"engine.{e.value}"))
    return frozenset()

TRANSPORT = ("grpc", "grpc_health", "grpc_reflection", "google.rpc", "starlette", "uvicorn",
             "server.grpc_app", "server.grpc_access", "server.grpc_values", "server.grpc_status",
             "server.http_app", "server.http_conn", "server.http_ops", "server.http_sources",
             "server.http_transfer", "server.http_v1", "server.console", "server.serve", "server.errors",
             "server.pb")
QUERY_LAYERS = ("engine.pql", "engine.sql", "engine.executor", "engine.query", "engine.plan", "engine.lowering",
                "engine.groupby", "engine.shardexec", "engine.shardtasks")

CONTRACTS = (
    # The server reaches the engine through its facade and its error types only.
    Contract("server -> facade", r"server(\..*)?",
             lambda n: (_under(n, "engine") and n not in ENGINE_PUBLIC) or _under(n, "ext")),
    # The service layer is transport-neutral: no gRPC, no HTTP, not even through a helper.
    Contract("service -/-> transport", r"server\.service(\..*)?", lambda n: _under(n, *TRANSPORT),
             transitive=True),
    # The client SDK talks gRPC; it needs neither the engine nor the service layer.
    Contract("client -/-> engine, service", r"server\.client",
             lambda n: _under(n, "engine", "ext", "server.service"), transitive=True),
    # Benchmarks measure what users get: the facade, engine.errors and ext's public names.
    Contract("bench -/-> engine internals", r"bench(\..*)?",
             lambda n: _under(n, "engine") and n not in ENGINE_PUBLIC and n not in _facade_names()
             or _under(n, "ext") and n != "ext"),
    # Hashing and JWTs (auth) and the policy table do not lean on each other: the caller
    # (Principal) and the token operations live in the service layer.
    Contract("auth -/- policy", r"server\.(auth|policy)", lambda n: n in ("server.auth", "server.policy"),
             transitive=True),
    # Parsers produce syntax trees; they do not run them.
    Contract("parsers -/-> executor", r"engine\.(pql\.parser|pql\.ast|sql\.parser|sql\.ast)",
             lambda n: _under(n, "engine.executor", "engine.query", "engine.sql.execute", "engine.sql.run",
                              "engine.shardexec", "engine.holder")),
    # Storage keeps bytes durable; it knows nothing of queries.
    Contract("storage -/-> query layers", r"engine\.storage(\..*)?", lambda n: _under(n, *QUERY_LAYERS)),
)

# (contract, importing module, imported module) -> why it stays. Only shrinks.
_PRELOAD = "preload, not use"
ALLOWED: dict[tuple[str, str, str], str] = {
    # Imported only to load them before a long run starts (so one run uses one version of
    # the code); the peer calls the facade alone.
    ('bench -/-> engine internals', 'bench.peers.roarbase_peer', 'engine.ingest'): _PRELOAD,
    ('bench -/-> engine internals', 'bench.peers.roarbase_peer', 'engine.query'): _PRELOAD,
    ('bench -/-> engine internals', 'bench.peers.roarbase_peer', 'engine.sql.execute'): _PRELOAD,
}


def _violations(contract: Contract) -> set[tuple[str, str, str]]:
    """(contract, module, forbidden import) for every breach; a transitive breach is
    reported where the path first crosses the line (the allowed module that makes the
    forbidden import)."""
    out = set()
    for module in _sources():
        if not re.fullmatch(contract.source, module):
            continue
        todo, seen = [module], {module}
        while todo:
            cur = todo.pop()
            for name in _imports(cur):
                if contract.forbidden(name):  # type: ignore[operator]
                    out.add((contract.name, cur, name))
                elif contract.transitive and name in _sources() and name not in seen:
                    seen.add(name)
                    todo.append(name)
    return out


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.name)
def test_contract(contract: Contract) -> None:
    found = _violations(contract)
    allowed = {k for k in ALLOWED if k[0] == contract.name}
    new = sorted(found - allowed)
    assert not new, "imports against the layering (docs/architecture.md):\n" + "\n".join(
        f"  {m} imports {n}" for _, m, n in new)
    stale = sorted(allowed - found)
    assert not stale, f"ALLOWED entries that no longer happen, remove them: {stale}"


def test_contracts_see_real_imports() -> None:
    """The checker resolves submodule imports and relative imports (else it passes by
    seeing nothing)."""
    assert "engine.errors" in _imports("engine")
    assert "server.service.errors" in _imports("server.service.common")
    assert "engine.pql.parser" in _imports("engine.sql.parser")
    assert any(re.fullmatch(c.source, m) for c in CONTRACTS for m in _sources() if c.name.startswith("storage"))
    assert any(re.fullmatch(c.source, m) for c in CONTRACTS for m in _sources() if c.name.startswith("parsers"))


def _modules() -> list[tuple[str, pathlib.Path]]:
    return [(name.split(".")[0], path) for name, path in _sources().items() if name.split(".")[0] in FORBIDDEN]


@pytest.mark.parametrize("pkg,path", _modules(), ids=lambda v: str(v) if isinstance(v, str) else v.name)
def test_imports_point_down(pkg: str, path: pathlib.Path) -> None:
    bad = {n.split(".")[0] for n in _imports(_module_name(path))} & FORBIDDEN[pkg]
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}: layers must point down only"


def test_cython_sources_import_nothing_from_the_project() -> None:
    for path in (ROOT / "ext").glob("*.p*"):
        if path.suffix in (".pyx", ".pxi", ".pxd"):
            text = path.read_text()
            for pkg in ("engine", "server", "bench"):
                assert f"import {pkg}" not in text and f"from {pkg}" not in text, path
