"""Views: named SELECTs stored with the database (the VIEWS document beside the tables'
directories) as the canonical SQL text of the SELECT; a view is planned where it is named,
as a subquery in FROM (merged into the outer query when it only selects columns of one
table under a WHERE)."""
from __future__ import annotations

import datetime as _dt
import os
import threading
from typing import Any, Optional

from engine.errors import AlreadyExistsError, DataCorruptedError, TableNotFoundError
from engine.schema import check_name
from engine.sql import ast
from engine.storage import files

FILE = "VIEWS"
_LOCK = threading.Lock()


class ViewExistsError(AlreadyExistsError):
    name = "VIEW_EXISTS"


class ViewNotFoundError(TableNotFoundError):
    name = "VIEW_NOT_FOUND"


def _path(holder: Any) -> str:
    return os.path.join(holder.path, FILE)


def _load(holder: Any) -> dict[str, dict[str, Any]]:
    views = holder.sql_cache.get("views")
    if views is None:
        path = _path(holder)
        if holder.fileio.exists(path):
            doc = files.decode_doc(holder.fileio.read_file(path), path)
            views = doc.get("views")
            if not isinstance(views, dict) or not all(isinstance(v, dict) and isinstance(v.get("sql"), str)
                                                      for v in views.values()):
                raise DataCorruptedError("the views document is malformed", path, 0)
        else:
            views = {}
        holder.sql_cache["views"] = views
    return views


def _save(holder: Any, views: dict[str, dict[str, Any]]) -> None:
    holder.fileio.write_atomic(_path(holder), files.encode_doc({"views": views}), fsync=holder.fsync)
    holder.sql_cache["views"] = views


def views(holder: Any) -> dict[str, dict[str, Any]]:
    """name -> {"sql": text, "created_at": RFC3339}, a copy."""
    with _LOCK:
        return {k: dict(v) for k, v in _load(holder).items()}


def views_version(holder: Any) -> Any:
    """An object that changes whenever the holder's views change (the document itself:
    never mutated, replaced on every write, so it is read without the lock)."""
    doc = holder.sql_cache.get("views")
    if doc is None:
        with _LOCK:
            doc = _load(holder)
    return doc


def view_select(holder: Any, name: str) -> Optional[ast.Select]:
    """The SELECT a view stands for (None when `name` is no view)."""
    with _LOCK:
        entry = _load(holder).get(name)
    if entry is None:
        return None
    from engine.sql.parser import parse

    stmts = parse(entry["sql"])
    assert len(stmts) == 1 and isinstance(stmts[0], ast.Select)
    return stmts[0]


def create(holder: Any, name: str, select: ast.Select, *, if_not_exists: bool, replace: bool) -> None:
    check_name(name, "view")
    text = ast.select_sql(select)
    with _LOCK:
        current = _load(holder)
        if name in current and not replace:
            if if_not_exists:
                return
            raise ViewExistsError(f"view '{name}' already exists")
        if replace and name not in current:
            raise ViewNotFoundError(f"view '{name}' not found")
        if any(i.name == name for i in holder.indexes()):
            raise AlreadyExistsError(f"a table named '{name}' already exists")
        created = current.get(name, {}).get("created_at") or \
            _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        updated = dict(current)
        updated[name] = {"sql": text, "created_at": created}
        _save(holder, updated)


def drop(holder: Any, name: str, *, if_exists: bool) -> None:
    with _LOCK:
        current = _load(holder)
        if name not in current:
            if if_exists:
                return
            raise ViewNotFoundError(f"view '{name}' not found")
        updated = {k: v for k, v in current.items() if k != name}
        _save(holder, updated)


def check_no_view(holder: Any, name: str) -> None:
    """Refuse a table name that a view has."""
    with _LOCK:
        if name in _load(holder):
            raise AlreadyExistsError(f"a view named '{name}' already exists")


