"""Entity-table errors: engine errors whose `name` is the recommender API's error name
(ITEM_NOT_FOUND, DUPLICATED_USER_PROPERTY, ...) and whose `data` fills its message
templates (`type`, `key`), so the server passes both through unchanged."""
from __future__ import annotations

from typing import Any

from engine.errors import AlreadyExistsError, NotFoundError
from engine.entities.types import WrongDataType


class _Named:
    def _set(self, name: str, data: dict[str, Any]) -> None:
        self.name = name
        self.data = data


class EntityNotFound(NotFoundError, _Named):
    """ITEM_NOT_FOUND / USER_NOT_FOUND."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"the {kind} {key} does not exist")
        self._set(f"{kind.upper()}_NOT_FOUND", {"type": kind, "key": key})


class PropertyNotFound(NotFoundError, _Named):
    """ITEM_PROPERTY_NOT_FOUND / USER_PROPERTY_NOT_FOUND."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"the {kind}-property {name} does not exist")
        self._set(f"{kind.upper()}_PROPERTY_NOT_FOUND", {"type": f"{kind}-property", "key": name})


class DuplicatedProperty(AlreadyExistsError, _Named):
    """DUPLICATED_ITEM_PROPERTY / DUPLICATED_USER_PROPERTY (names are case-insensitive)."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"the {kind}-property {name} is duplicated")
        self._set(f"DUPLICATED_{kind.upper()}_PROPERTY", {"type": f"{kind}-property", "key": name})


class DuplicatedId(AlreadyExistsError, _Named):
    """DUPLICATED_ITEM_ID / DUPLICATED_USER_ID: one id twice in one bulk request."""

    def __init__(self, kind: str, key: Any) -> None:
        super().__init__(f"the {kind} {key} is duplicated")
        self._set(f"DUPLICATED_{kind.upper()}_ID", {"type": kind, "key": key})


def wrong_data(message: str, *, key: Any = None, kind: str = "") -> WrongDataType:
    """A WRONG_DATA_TYPE error; `key` names the offending property or id for clients."""
    err = WrongDataType(message)
    err.data = {k: v for k, v in (("type", kind), ("key", key)) if v not in (None, "")}
    return err


__all__ = ["EntityNotFound", "PropertyNotFound", "DuplicatedProperty", "DuplicatedId", "WrongDataType",
           "wrong_data"]
