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
from engine.sql.where import ID_COLUMN


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
    rows = [(idx.name, "string" if idx.definition.options.keys else "id", idx.definition.options.description)
            for idx in holder.indexes()]
    return SqlResult.of_rows([("name", "string"), ("_id", "string"), ("description", "string")], rows)


def show_columns(holder: Any, s: ast.ShowColumns) -> SqlResult:
    idx = table(holder, s.table)
    rows = [(ID_COLUMN, "string" if idx.definition.options.keys else "id", "")]
    for fd in idx.definition.fields.values():
        rows.append((fd.name, sql_type_of(fd.options), column_ddl(fd.name, fd.options)))
    return SqlResult.of_rows([("name", "string"), ("type", "string"), ("definition", "string")], rows)


def show_create(holder: Any, s: ast.ShowCreate) -> SqlResult:
    idx = table(holder, s.table)
    cols = [f"{ID_COLUMN} {'string' if idx.definition.options.keys else 'id'}"]
    cols += [column_ddl(fd.name, fd.options) for fd in idx.definition.fields.values()]
    ddl = f"create table {idx.name} ({', '.join(cols)})"
    if idx.definition.options.description:
        ddl += " comment '" + idx.definition.options.description.replace("'", "''") + "'"
    return SqlResult.of_rows([("ddl", "string")], [(ddl + ";",)])
