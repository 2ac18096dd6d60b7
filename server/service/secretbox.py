"""Encryption at rest of connection credentials (SECURITY.md: secrets never stored, logged
or returned in clear): Fernet (AES-128-CBC + HMAC-SHA256, from the `cryptography`
package) with one key per data dir.

The key comes from config.connections_key (ROARBASE_CONNECTIONS_KEY), else from the key
file <data_dir>/connections.key, created with mode 0600 on first use (O_EXCL: two
processes never write two different keys). Losing the key makes the stored credentials
unreadable — the connections must then be PUT again; nothing else is lost.
"""
from __future__ import annotations

import json
import os
import stat
import threading
import weakref
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from server.service.context import ServiceContext
from server.service.errors import InternalServerError, InvalidParameter

KEY_FILE = "connections.key"
_lock = threading.Lock()
_cache: "weakref.WeakKeyDictionary[ServiceContext, Fernet]" = weakref.WeakKeyDictionary()


def _key_file(ctx: ServiceContext) -> bytes:
    path = os.path.join(ctx.config.data_dir, KEY_FILE)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_IMODE(mode) & 0o077:
                raise InternalServerError(f"{path} is readable by other users: chmod 600 it",
                                          name="KEY_FILE_PERMISSIONS")
            return os.read(fd, 4096).strip()
        finally:
            os.close(fd)
    key = Fernet.generate_key()
    try:
        os.write(fd, key + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


def box(ctx: ServiceContext) -> Fernet:
    """The data dir's Fernet (made, with its key file if needed, on first use)."""
    with _lock:
        cached = _cache.get(ctx)
        if cached is not None:
            return cached
        raw = ctx.config.connections_key.encode() if ctx.config.connections_key else _key_file(ctx)
        try:
            fernet = Fernet(raw)
        except (ValueError, TypeError):
            raise InvalidParameter("connections_key must be a Fernet key (urlsafe base64 of 32 bytes)",
                                   name="INVALID_SETTING", data={"key": "connections_key"}) from None
        _cache[ctx] = fernet
        return fernet


def seal(ctx: ServiceContext, value: Any) -> bytes:
    """A JSON value, encrypted."""
    return box(ctx).encrypt(json.dumps(value, separators=(",", ":"), sort_keys=True).encode())


def unseal(ctx: ServiceContext, token: bytes) -> Any:
    """The JSON value of seal(); InternalServerError when the key changed since."""
    try:
        return json.loads(box(ctx).decrypt(bytes(token)))
    except InvalidToken:
        raise InternalServerError("stored credentials cannot be decrypted with this server's connections key: "
                                  "PUT the connection again", name="CREDENTIALS_UNREADABLE") from None
