"""CREATE / ALTER / DROP TABLE and the SHOW statements."""
from __future__ import annotations

from typing import Any

from engine.errors import (
    AlreadyExistsError,
    IndexNotFoundError,
    InvalidOptionError,
    NotFoundError,
    TableNotFoundError,
    TypeMismatchError,
)
from engine.schema import FieldOptions, check_name
from engine.sql import ast
from engine.sql.result import SqlResult
from engine.sql.types import column_ddl, field_options, sql_type_of

ID_COLUMN = "_id"


def table(holder: Any, name: str) -> Any:
    try:
        return holder.index(name)
    except IndexNotFoundError:
        raise TableNotFoundError(f"table '{name}' not found") from None


def create_table(holder: Any, s: ast.CreateTable) -> SqlResult:
    if not s.columns or s.columns[0].name != ID_COLUMN:
        raise TypeMismatchError("the first column must be _id ID or _id STRING")
    id_type = s.columns[0].type.name
    if id_type not in ("ID", "STRING"):
        raise TypeMismatchError("_id must be ID or STRING")
    if s.columns[0].words or s.columns[0].type.arg is not None:
        raise InvalidOptionError("_id takes no constraints")
    names = [c.name for c in s.columns]
    if len(set(names)) != len(names):
        raise TypeMismatchError("duplicate column names")
    opts = [(c.name, field_options(c)) for c in s.columns[1:]]     # validate before creating
    from engine.sql.views import check_no_view

    check_no_view(holder, s.name)
    try:
        idx = holder.create_index(s.name, keys=id_type == "STRING", description=s.comment)
    except AlreadyExistsError:
        if s.if_not_exists:
            return SqlResult.of_rows([], [], rows_affected=0)
        raise
    try:
        idx.create_fields([(check_name(name, "field"), FieldOptions.make(**o), {}) for name, o in opts])
    except BaseException:
        holder.drop_index(s.name)
        raise
    return SqlResult.of_rows([], [], rows_affected=0)


def alter_add(holder: Any, s: ast.AlterAdd) -> SqlResult:
    idx = table(holder, s.table)
    if s.column.name == ID_COLUMN:
        raise TypeMismatchError("_id cannot be added")
    idx.create_field(s.column.name, **field_options(s.column))
    return SqlResult.of_rows([], [], rows_affected=0)


def alter_drop(holder: Any, s: ast.AlterDrop) -> SqlResult:
    idx = table(holder, s.table)
    if s.column == ID_COLUMN:
        raise TypeMismatchError("_id cannot be dropped")
    idx.drop_field(s.column)
    return SqlResult.of_rows([], [], rows_affected=0)


def drop_table(holder: Any, s: ast.DropTable) -> SqlResult:
    try:
        holder.drop_index(s.name)
    except NotFoundError:
        if not s.if_exists:
            raise TableNotFoundError(f"table '{s.name}' not found") from None
    return SqlResult.of_rows([], [], rows_affected=0)


def show_tables(holder: Any) -> SqlResult:
    """FeatureBase's columns: _id, name, owner, updated_by, created_at, keys, description
    (roarbase records no owner or creation time: empty and NULL)."""
    rows = [(idx.name, idx.name, "", "", None, bool(idx.definition.options.keys),
             idx.definition.options.description) for idx in holder.indexes()]
    return SqlResult.of_rows([("_id", "string"), ("name", "string"), ("owner", "string"),
                              ("updated_by", "string"), ("created_at", "timestamp"), ("keys", "bool"),
                              ("description", "string")], rows)


_COLUMNS_SCHEMA = [("_id", "string"), ("name", "string"), ("type", "string"), ("internal_type", "string"),
                   ("created_at", "timestamp"), ("keys", "bool"), ("cache_type", "string"), ("cache_size", "int"),
                   ("scale", "int"), ("min", "int"), ("max", "int"), ("timeunit", "string"), ("epoch", "int"),
                   ("timequantum", "string"), ("ttl", "int")]


def show_columns(holder: Any, s: ast.ShowColumns) -> SqlResult:
    """SHOW COLUMNS FROM t / DESCRIBE t, with FeatureBase's columns: _id (the name), name,
    type (the SQL type), internal_type (the engine's field type), created_at (NULL), keys,
    cache_type, cache_size, scale, min, max, timeunit, epoch, timequantum, ttl (NULL where
    the type has no such option)."""
    idx = table(holder, s.table)
    keyed = bool(idx.definition.options.keys)
    id_type = "string" if keyed else "id"
    rows = [(ID_COLUMN, ID_COLUMN, id_type, id_type, None, keyed, None, None, None, None, None, None, None, None,
             None)]
    for fd in idx.definition.fields.values():
        o = fd.options
        ranked = o.type in ("set", "mutex")
        internal = f"float{o.bits}" if o.type == "float" else o.type
        rows.append((fd.name, fd.name, sql_type_of(o), internal, None, bool(o.keys),
                     o.cache_type if ranked else None, o.cache_size if ranked else None,
                     o.scale if o.type == "decimal" else None,
                     o.from_stored(o.min) if o.type == "int" else None,
                     o.from_stored(o.max) if o.type == "int" else None,
                     o.time_unit if o.type == "timestamp" else None,
                     o.epoch if o.type == "timestamp" else None,
                     o.time_quantum if o.type == "time" else None,
                     o.ttl if o.type == "time" else None))
    return SqlResult.of_rows(list(_COLUMNS_SCHEMA), rows)


def show_views(holder: Any) -> SqlResult:
    """_id, name, statement: each view and the SELECT it stands for (in canonical form)."""
    from engine.sql import views

    rows = [(name, name, v["sql"]) for name, v in sorted(views.views(holder).items())]
    return SqlResult.of_rows([("_id", "string"), ("name", "string"), ("statement", "string")], rows)


def show_databases(holder: Any) -> SqlResult:
    """The database this SQL runs in: one row (a server lists its databases in its API)."""
    import os

    name = os.path.basename(holder.path.rstrip(os.sep))
    return SqlResult.of_rows([("_id", "string"), ("name", "string"), ("tables", "int")],
                             [(name, name, len(holder.indexes()))])


def show_create(holder: Any, s: ast.ShowCreate) -> SqlResult:
    idx = table(holder, s.table)
    cols = [f"{ID_COLUMN} {'string' if idx.definition.options.keys else 'id'}"]
    cols += [column_ddl(fd.name, fd.options) for fd in idx.definition.fields.values()]
    ddl = f"create table {idx.name} ({', '.join(cols)})"
    if idx.definition.options.description:
        ddl += " comment '" + idx.definition.options.description.replace("'", "''") + "'"
    return SqlResult.of_rows([("ddl", "string")], [(ddl + ";",)])
