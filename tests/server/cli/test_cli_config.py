"""server/config_file.py: defaults < TOML < ROARBASE_* environment < flags."""
from pathlib import Path

import pytest

from server import config_file
from server.error_table import ServerError
from server.settings import DEFAULT_GRPC_PORT


def _toml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "roarbase.toml"
    path.write_text(text)
    return str(path)


def test_defaults() -> None:
    s = config_file.load(config_path=None, env={}, flags={})
    assert (s.host, s.grpc_port, s.http_port) == ("127.0.0.1", DEFAULT_GRPC_PORT, 10101)
    assert s.service.data_dir == config_file.DEFAULT_DATA_DIR
    assert s.service.bootstrap.root_password is None


def test_each_layer_overrides_the_one_below(tmp_path: Path) -> None:
    path = _toml(tmp_path, """
grpc_port = 1111
http_port = 2222
workers = 3
data_dir = "from-toml"
[limits]
max_databases_per_org = 5
query_timeout_seconds = 9
[bootstrap]
root_email = "toml@example.com"
""")
    env = {"ROARBASE_HTTP_PORT": "3333", "ROARBASE_DATA_DIR": "from-env", "ROARBASE_LIMITS_QUERY_TIMEOUT_SECONDS": "7.5",
           "ROARBASE_ROOT_PASSWORD": "from-env-pw", "ROARBASE_FSYNC": "false", "ROARBASE_TOKEN": "not-a-setting"}
    s = config_file.load(config_path=path, env=env, flags={"data_dir": "from-flag", "grpc_port": None})
    assert s.grpc_port == 1111                       # TOML, no env, flag unset
    assert s.http_port == 3333                       # env beats TOML
    assert s.workers == 3
    assert s.service.data_dir == "from-flag"         # flag beats env
    assert s.service.limits.max_databases_per_org == 5
    assert s.service.limits.query_timeout_seconds == 7.5
    assert s.service.fsync is False
    assert s.service.bootstrap.root_email == "toml@example.com"
    assert s.service.bootstrap.root_password == "from-env-pw"
    assert config_file.load(config_path=path, env={}, flags={"http_port": 0}).http_port == 0


@pytest.mark.parametrize("text, words", [
    ("nope = 1\n", "unknown setting 'nope'"),
    ("[limits]\nnope = 1\n", "limits.nope: unknown setting"),
    ("grpc_port = 'x'\n", "expected int"),
    ("[bootstrap]\nroot_password = 'secret-pass'\n", "not allowed in a file"),
    ("limits = 3\n", "must be a table"),
    ("grpc_port = \n", "not valid TOML"),
])
def test_bad_files_are_refused_with_the_key(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ServerError) as info:
        config_file.load(config_path=_toml(tmp_path, text), env={}, flags={})
    assert info.value.code == "InvalidParameter"
    assert words in info.value.message


def test_bad_env_values_and_settings_are_refused() -> None:
    with pytest.raises(ServerError, match="ROARBASE_GRPC_PORT: expected int"):
        config_file.load(config_path=None, env={"ROARBASE_GRPC_PORT": "many"}, flags={})
    with pytest.raises(ServerError, match="not a loopback address"):
        config_file.load(config_path=None, env={"ROARBASE_HOST": "0.0.0.0"}, flags={})
    remote = config_file.load(config_path=None, env={"ROARBASE_HOST": "0.0.0.0", "ROARBASE_ALLOW_REMOTE": "yes"},
                              flags={})
    assert remote.allow_remote and remote.host == "0.0.0.0"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ServerError, match="cannot read config file"):
        config_file.load(config_path=str(tmp_path / "absent.toml"), env={}, flags={})


def test_optional_string_from_env_can_be_unset() -> None:
    s = config_file.load(config_path=None, env={"ROARBASE_SQL_FILE_DIR": ""}, flags={})
    assert s.service.sql_file_dir is None
    assert config_file.load(config_path=None, env={"ROARBASE_SQL_FILE_DIR": "/srv/in"},
                            flags={}).service.sql_file_dir == "/srv/in"


def test_automatic_membership_settings(tmp_path: Path) -> None:
    path = _toml(tmp_path, "ray_workers_per_node = 2\nray_node_grace = 5\n")
    s = config_file.load(config_path=path, env={"ROARBASE_RAY_POLL_SECONDS": "0.5"},
                         flags={"ray_workers_per_node": None})
    assert (s.service.ray_workers_per_node, s.service.ray_poll_seconds, s.service.ray_node_grace) == (2, 0.5, 5)
    s = config_file.load(config_path=None, env={"ROARBASE_RAY_WORKERS_PER_NODE": "3"}, flags={"ray_workers_per_node": 1})
    assert s.service.ray_workers_per_node == 1                     # the flag wins
    assert config_file.load(config_path=None, env={}, flags={}).service.ray_workers_per_node == 0   # off by default
    for env in ({"ROARBASE_RAY_WORKERS_PER_NODE": "-1"}, {"ROARBASE_RAY_NODE_GRACE": "0"},
                {"ROARBASE_RAY_POLL_SECONDS": "0"}):
        with pytest.raises(ServerError):
            config_file.load(config_path=None, env=env, flags={})
