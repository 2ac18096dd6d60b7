"""Resource ids as clients may write them (API.md C4): the canonical lower-case UUID, or
the unpadded base64url of its 16 bytes. Shared by the service layer and the client SDK."""
from __future__ import annotations

import base64
import binascii
import re
import uuid
from typing import Any, Optional


def parse_id(value: Any) -> Optional[str]:
    """The canonical (lower-case UUID) form of an id given as a UUID or as the unpadded
    base64url of its 16 bytes (API.md C4); None when it is neither."""
    if not isinstance(value, str):
        return None
    if len(value) == 22 and re.fullmatch(r"[A-Za-z0-9_-]{22}", value):
        try:
            return str(uuid.UUID(bytes=base64.urlsafe_b64decode(value + "==")))
        except (binascii.Error, ValueError):
            return None
    if len(value) != 36:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
