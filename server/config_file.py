"""Server settings from defaults < TOML file < ROARBASE_* environment < command-line flags.

The TOML file holds the ServerSettings and ServiceConfig fields at the top level and one
table per sub-config:

    host = "127.0.0.1"          # ServerSettings fields
    grpc_port = 20101
    data_dir = "var/data"       # ServiceConfig fields
    fsync = true
    [limits]                    # Limits
    max_databases_per_org = 64
    [tokens]                    # TokenSettings
    [passwords]                 # PasswordHashing
    [bootstrap]                 # BootstrapSettings: org_name, root_email, root_name

Environment: ROARBASE_<FIELD> for the top-level fields and the bootstrap table
(ROARBASE_GRPC_PORT, ROARBASE_DATA_DIR, ROARBASE_ROOT_EMAIL, ROARBASE_ROOT_PASSWORD), and
ROARBASE_<TABLE>_<FIELD> for the others (ROARBASE_LIMITS_QUERY_TIMEOUT_SECONDS). Other
ROARBASE_* variables (ROARBASE_TOKEN, ROARBASE_CONFIG, ...) belong to other commands and
are left alone.

The bootstrap root password is accepted from the environment only: a config file is the
kind of thing that gets committed or copied around (SECURITY.md: no secrets in files or
argv).
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from typing import Any, Mapping, Optional

from server.service.config import BootstrapSettings, Limits, PasswordHashing, ServiceConfig, TokenSettings
from server.service.errors import InvalidParameter
from server.settings import ServerSettings

ENV_PREFIX = "ROARBASE_"
DEFAULT_DATA_DIR = os.path.join("var", "data")

# table name -> the dataclass it builds; "" is the top level (server + service fields).
SECTIONS: Mapping[str, type] = {"limits": Limits, "tokens": TokenSettings, "passwords": PasswordHashing,
                                "bootstrap": BootstrapSettings}
_TOP: tuple[type, ...] = (ServerSettings, ServiceConfig)
_NOT_TOP = frozenset({"service", *SECTIONS})       # ServerSettings.service / ServiceConfig's tables
_FILE_FORBIDDEN = {("bootstrap", "root_password")}


def _fields(cls: type) -> dict[str, Any]:
    """Field name -> resolved type, for the settable fields of a settings dataclass."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init and f.name not in _NOT_TOP}


def _top_fields() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cls in _TOP:
        out.update(_fields(cls))
    return out


def _env_name(section: str, name: str) -> str:
    prefix = "" if section in ("", "bootstrap") else section.upper() + "_"
    return ENV_PREFIX + prefix + name.upper()


def _coerce(value: Any, kind: Any, where: str) -> Any:
    """A TOML value or an environment string as the field's type."""
    optional = typing.get_origin(kind) is typing.Union and type(None) in typing.get_args(kind)
    if optional:
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
        if isinstance(value, str) and value == "":
            return None
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
            return False
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif kind is str:
        if isinstance(value, str):
            return value
    raise InvalidParameter(f"{where}: expected {getattr(kind, '__name__', kind)}, got {value!r}",
                           name="INVALID_SETTING", data={"key": where})


def read_toml(path: str) -> dict[str, Any]:
    """The settings of a TOML file as {section: {field: value}} ("" = top level), checked
    against the known fields. Raises InvalidParameter for an unreadable file or an
    unknown, mistyped or forbidden key."""
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as exc:
        raise InvalidParameter(f"cannot read config file {path}: {exc.strerror}", name="INVALID_CONFIG",
                               data={"key": path}) from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidParameter(f"config file {path} is not valid TOML: {exc}", name="INVALID_CONFIG",
                               data={"key": path}) from None
    out: dict[str, dict[str, Any]] = {"": {}}
    top = _top_fields()
    for key, value in doc.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise InvalidParameter(f"{path}: [{key}] must be a table", name="INVALID_CONFIG",
                                       data={"key": key})
            kinds = _fields(SECTIONS[key])
            table: dict[str, Any] = {}
            for name, v in value.items():
                where = f"{path}: {key}.{name}"
                if (key, name) in _FILE_FORBIDDEN:
                    raise InvalidParameter(f"{where}: not allowed in a file; set ROARBASE_ROOT_PASSWORD instead",
                                           name="INVALID_CONFIG", data={"key": f"{key}.{name}"})
                if name not in kinds:
                    raise InvalidParameter(f"{where}: unknown setting", name="INVALID_CONFIG",
                                           data={"key": f"{key}.{name}"})
                table[name] = _coerce(v, kinds[name], where)
            out[key] = table
        elif key in top:
            out[""][key] = _coerce(value, top[key], f"{path}: {key}")
        else:
            raise InvalidParameter(f"{path}: unknown setting {key!r}", name="INVALID_CONFIG", data={"key": key})
    return out


def read_env(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The settings given as ROARBASE_* environment variables, same shape as read_toml."""
    out: dict[str, dict[str, Any]] = {}
    for section, kinds in [("", _top_fields())] + [(s, _fields(c)) for s, c in SECTIONS.items()]:
        for name, kind in kinds.items():
            var = _env_name(section, name)
            if var in env:
                out.setdefault(section, {})[name] = _coerce(env[var], kind, var)
    return out


def build(layers: list[Mapping[str, Mapping[str, Any]]]) -> ServerSettings:
    """ServerSettings from layers of {section: {field: value}}, later layers winning.

    Raises InvalidParameter for a value the settings refuse (a port out of range, a
    non-loopback host without allow_remote, ...).
    """
    merged: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for section, values in layer.items():
            merged.setdefault(section, {}).update(values)
    top = merged.get("", {})
    top.setdefault("data_dir", DEFAULT_DATA_DIR)
    server_names = set(_fields(ServerSettings))
    service_kwargs = {k: v for k, v in top.items() if k not in server_names}
    tables = {s: cls(**merged.get(s, {})) for s, cls in SECTIONS.items()}
    try:
        service = ServiceConfig(**service_kwargs, **tables)
        return ServerSettings(service, **{k: v for k, v in top.items() if k in server_names})
    except TypeError as exc:   # a bad combination the dataclasses' own checks did not catch
        raise InvalidParameter(f"invalid settings: {exc}", name="INVALID_SETTING") from None


def load(*, config_path: Optional[str], env: Mapping[str, str], flags: Mapping[str, Any]) -> ServerSettings:
    """defaults < TOML (config_path) < environment < flags (top-level fields; None = unset)."""
    layers: list[Mapping[str, Mapping[str, Any]]] = []
    if config_path:
        layers.append(read_toml(config_path))
    layers.append(read_env(env))
    layers.append({"": {k: v for k, v in flags.items() if v is not None}})
    return build(layers)
