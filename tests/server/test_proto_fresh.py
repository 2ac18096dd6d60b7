"""The committed generated code in server/pb/ is exactly what `make proto` produces now.

The protoc command is taken from the Makefile itself (`make -n proto`), so the test and the
target cannot drift apart; only the output root differs (PROTO_OUT=<temp dir>).
"""
import re
import shlex
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GENERATED = Path("server/pb/roarbase/v1")
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def _protoc_command(out: Path) -> list[str]:
    dry = subprocess.run(["make", "-s", "-n", "proto", f"PROTO_OUT={out}", f"PY={sys.executable}"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    lines = [line for line in dry.stdout.splitlines() if "grpc_tools.protoc" in line]
    assert len(lines) == 1, f"expected one protoc line in `make -n proto`, got:\n{dry.stdout}"
    return shlex.split(lines[0])


def _generated(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / GENERATED).iterdir())
            if p.is_file() and p.name.endswith(SUFFIXES)}


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    cmd = _protoc_command(tmp_path)
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    fresh = _generated(tmp_path)
    committed = _generated(ROOT)
    assert fresh, "protoc produced nothing"
    stale = sorted(name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name))
    assert not stale, f"server/pb is stale (differs: {', '.join(stale)}): run make proto"


def test_every_proto_has_its_generated_modules() -> None:
    protos = sorted(p.stem for p in (ROOT / "proto/roarbase/v1").glob("*.proto"))
    assert protos
    have = set(_generated(ROOT))
    missing = [f"{stem}{suffix}" for stem in protos for suffix in SUFFIXES if f"{stem}{suffix}" not in have]
    assert not missing, f"missing generated files {missing}: run make proto"


def test_proto_dir_holds_only_proto_files() -> None:
    others = [str(p.relative_to(ROOT)) for p in (ROOT / "proto").rglob("*") if p.is_file() and p.suffix != ".proto"]
    assert not others, f"proto/ holds only .proto files (STYLE.md), found {others}"


def test_grpcio_tools_is_the_pinned_version() -> None:
    """Generated code embeds the tool's versions: regenerating with another one is not fresh."""
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    pins = [m.group(1) for dep in dev if (m := re.fullmatch(r"grpcio-tools==(\S+)", dep.replace(" ", "")))]
    assert pins, "pyproject.toml's dev extra must pin grpcio-tools==<version>"
    assert metadata.version("grpcio-tools") == pins[0], "reinstall the dev extra (make) to get the pinned grpcio-tools"
