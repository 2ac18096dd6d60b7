"""The CLI's stored logins (`roarbase login`): one JSON file, readable by its owner only.

    $XDG_CONFIG_HOME/roarbase/credentials.json   (default ~/.config/roarbase/credentials.json)
    {"default": "127.0.0.1:20101",
     "servers": {"127.0.0.1:20101": {"email": ..., "token": ..., "refresh_token": ...,
                                      "expires_at": <unix seconds>, "role": ..., "org_id": ...}}}

The directory is made 0700 and the file written 0600, atomically (a temp file renamed
over it), so a reader never sees half a file and nobody else ever reads a token. Tokens
are never printed or put in argv. `session(server)` hands back a Client whose access
token is refreshed (and the file updated) when it is about to expire or has expired;
once the refresh token is gone too, the error says to log in again.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Any, Optional

from server.client import Client
from server.error_table import ServerError

DEFAULT_SERVER = "127.0.0.1:20101"
# Refresh an access token this long before it expires (a command's calls then never race it).
_MARGIN_SECONDS = 30


def path() -> str:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "roarbase", "credentials.json")


def load() -> dict[str, Any]:
    """The file's content; empty when there is no file (or it is not ours to read)."""
    try:
        with open(path(), encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {"servers": {}}
    except (OSError, ValueError) as exc:
        raise ServerError("InvalidParameter", f"cannot read {path()}: {exc}; delete it and log in again",
                          name="BAD_CREDENTIALS_FILE") from None
    if not isinstance(data, dict) or not isinstance(data.get("servers"), dict):
        return {"servers": {}}
    return data


def save(data: dict[str, Any]) -> None:
    target = path()
    folder = os.path.dirname(target)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".credentials-", dir=folder)   # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def default_server() -> str:
    """ROARBASE_SERVER, else the server of the last login, else 127.0.0.1:20101."""
    return os.environ.get("ROARBASE_SERVER") or str(load().get("default") or DEFAULT_SERVER)


def remember(server: str, response: Any, *, email: Optional[str], name: Optional[str]) -> None:
    """Store a LoginResponse for `server` and make it the default server."""
    data = load()
    entry = data["servers"].get(server, {})
    entry.update(token=response.token, refresh_token=response.refresh_token,
                 expires_at=int(time.time()) + int(response.expires_in), role=response.role, org_id=response.org_id)
    if email is not None or name is not None:
        entry.update(email=email, name=name)
    data["servers"][server] = entry
    data["default"] = server
    save(data)


def forget(server: str) -> bool:
    data = load()
    gone = data["servers"].pop(server, None) is not None
    if data.get("default") == server:
        data.pop("default", None)
    save(data)
    return gone


def stored(server: str) -> Optional[dict[str, Any]]:
    entry = load()["servers"].get(server)
    return entry if isinstance(entry, dict) else None


def _login_hint(server: str, entry: Optional[dict[str, Any]]) -> str:
    who = ""
    if entry and entry.get("email"):
        who = f" --email {entry['email']}"
    elif entry and entry.get("name"):
        who = f" --name {entry['name']}"
    return f"roarbase login --server {server}{who}"


class _Refresher:
    """Client.on_token_expired for a stored login: trade the refresh token, save the pair."""

    def __init__(self, client: Client, server: str) -> None:
        self.client, self.server = client, server

    def __call__(self) -> None:
        entry = stored(self.server)
        if not entry or not entry.get("refresh_token"):
            raise ServerError("TokenExpired", f"not logged in to {self.server}: run `{_login_hint(self.server, entry)}`",
                              name="NOT_LOGGED_IN")
        self.client.refresh_token = entry["refresh_token"]
        try:
            response = self.client.refresh()
        except ServerError as exc:
            if exc.code in ("RefreshTokenExpired", "Unauthorized", "TokenExpired"):
                raise ServerError("TokenExpired", f"the login to {self.server} has expired: run"
                                  f" `{_login_hint(self.server, entry)}` again", name="LOGIN_EXPIRED") from None
            raise
        remember(self.server, response, email=None, name=None)


def session(server: str, *, timeout: float) -> Client:
    """A Client for `server` with credentials: ROARBASE_TOKEN / ROARBASE_API_KEY when set,
    else the stored login (refreshed when due). Raises ServerError (TokenExpired,
    NOT_LOGGED_IN) saying how to log in when there is neither."""
    token, key = os.environ.get("ROARBASE_TOKEN") or None, os.environ.get("ROARBASE_API_KEY") or None
    if token or key:
        return Client(server, token=token, api_key=key, timeout=timeout)
    entry = stored(server)
    if entry is None:
        raise ServerError("MissingAuthenticationToken", f"not logged in to {server}: run"
                          f" `{_login_hint(server, None)} --email EMAIL` (or set ROARBASE_TOKEN)",
                          name="NOT_LOGGED_IN")
    client = Client(server, token=entry.get("token"), timeout=timeout)
    refresher = _Refresher(client, server)
    client.on_token_expired = refresher
    try:
        if int(entry.get("expires_at", 0)) - time.time() < _MARGIN_SECONDS:
            refresher()
    except BaseException:
        client.close()
        raise
    return client
