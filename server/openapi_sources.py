"""The connections-and-tables part of the OpenAPI document (server/openapi.py merges it):
the routes of server/http_sources.py with seed 002's shapes (API.md §3.5)."""
from __future__ import annotations

from typing import Any

from server.openapi_v1 import _error, _obj, _op, _path, _ref

_S = {"type": "string"}
_I = {"type": "integer"}
_B = {"type": "boolean"}
_OBJ = {"type": "object"}
_KINDS = ["LOCAL", "GCS", "S3", "SALESFORCE", "SAILTHRU", "ITERABLE", "BIGQUERY", "KLAVIYO", "SENDLANE",
          "M_PARTICLE", "SEGMENT", "MOVABLE_INK", "ITERABLE_FEED", "SHOPIFY", "BRAZE"]
_RESOURCES = ["item", "user", "rating", "interaction", "user_id", "user_to_items_reco", "item_to_items_reco",
              "analytics_report"]
_STATUS = {"enum": ["available", "uploading", "wrong_credentials", "resource_not_found", "wrong_specification",
                    "unknown_error"]}
_TABLE_PROPS = {
    "resource": {"enum": _RESOURCES},
    "resource_params": {**_OBJ, "description": "columns_mapping {target: column}, whitelist_params {name}, sql "
                                               "(analytics_report), batch_size, max_errors"},
    "connection_table_params": {**_OBJ, "description": "file_format (CSV, TSV, JSONL, PARQUET), options "
                                                       "{compression, delimiter, quote, escape, header, columns, "
                                                       "encoding, list_delimiter}; S3/GCS: bucket and key or "
                                                       "prefix; LOCAL: path (sandbox) or the url made here"},
    "connection_table_metadata": _OBJ,
    "status": {**_STATUS, "description": "ignored: the status is what the server found"},
}
_TABLE = {**_TABLE_PROPS, "name": _S, "connection": {"enum": _KINDS}, "status": _STATUS,
          "created_timestamp": _I, "modified_timestamp": _I, "status_message": _S, "uploaded_bytes": _I}
_TASK = {"task_id": _S, "name": _S, "task_name": _S, "start_time": _I, "end_time": _I,
         "status": {"enum": ["RUNNING", "COMPLETED", "FAILED"]}, "progress": _S,
         "details": {**_OBJ, "description": "rows_read, rows_written, rows_skipped, bytes_read, bytes_total, "
                                            "batches, rows_per_second, errors [{row, column, message, file}]"},
         "error": _OBJ, "cancel_requested": _B}

SCHEMAS: dict[str, Any] = {
    "V1Connection": _obj(("connection", "credentials", "metadata"), {
        "connection": {"enum": _KINDS},
        "credentials": {**_OBJ, "description": "names only: every value reads back as \"***\""},
        "metadata": _OBJ}),
    "V1Connections": _obj(("connections",), {"connections": {"type": "array", "items": _ref("V1Connection")}}),
    "V1ConnectionPut": _obj(("credentials",), {
        "credentials": {**_OBJ, "description": "S3/GCS: aws_access_key_id, aws_secret_access_key, "
                                               "aws_session_token?, endpoint_url?, region_name? (\"***\" keeps "
                                               "the stored value)"},
        "metadata": _OBJ}, closed=True),
    "V1ConnectionTest": _obj((), {"credentials": _OBJ}, closed=True),
    "V1ConnectionTested": _obj(("connection", "status"), {"connection": _S, "status": _STATUS}),
    "V1TableBody": _obj((), _TABLE_PROPS, closed=True),
    "V1Table": _obj(("name", "connection", "resource", "status", "created_timestamp", "modified_timestamp"),
                    _TABLE),
    "V1TablesBrief": _obj(("tables",), {"tables": {"type": "array", "items": _obj(
        ("name", "resource", "status", "created_timestamp", "modified_timestamp"),
        {"name": _S, "resource": {"enum": _RESOURCES}, "status": _STATUS, "created_timestamp": _I,
         "modified_timestamp": _I})}}),
    "V1Tables": _obj(("has_next", "next_page", "tables"), {"has_next": _B, "next_page": _I,
                                                          "tables": {"type": "array", "items": _ref("V1Table")}}),
    "V1TablePreview": _obj(("name", "connection", "resource", "status", "preview"), {
        **_TABLE, "preview": _obj(("columns", "rows", "findings", "errors"), {
            "columns": {"type": "array", "items": _S}, "rows": {"type": "array", "items": _OBJ},
            "findings": {"type": "array", "items": _obj(("target", "column", "status"), {
                "target": _S, "column": {"type": ["string", "null"]},
                "status": {"enum": ["ok", "missing", "bad_values"]}, "rows_checked": _I, "bad_values": _I})},
            "ignored_columns": {"type": "array", "items": _S},
            "errors": {"type": "array", "items": _OBJ}, "files": _I, "bytes_total": {"type": ["integer", "null"]}})}),
    "V1Run": _obj((), {
        "batch_size": {**_I, "minimum": 1, "maximum": 100000, "default": 10000},
        "max_errors": {**_I, "minimum": 0, "default": 0, "description": "rows that may be skipped (reported); "
                                                                         "one more fails the run"}}, closed=True),
    "V1RunTask": _obj(("task_id", "name", "start_time", "status", "progress"), _TASK),
    "V1Uploaded": _obj(("name", "connection", "status", "uploaded_bytes"), {
        "name": _S, "connection": _S, "status": _STATUS, "uploaded_bytes": _I}),
}

_CONN = _path("connection", "a connection kind: LOCAL, S3, GCS, ... (seed 002's enum)")
_NAME = _path("name", "the table (source) name")
_TAG = "v1 connections and tables"


def _upload_op() -> dict[str, Any]:
    return {
        "summary": "the one-time upload url of a LOCAL table: PUT the file body (streamed; capped at "
                   "limits.max_upload_bytes); the table's url changes after each use",
        "tags": [_TAG], "security": [],
        "parameters": [_path("token", "the token of the table's connection_table_params.url")],
        "requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {
            "type": "string", "format": "binary"}}}},
        "responses": {"200": {"description": "stored", "content": {"application/json": {"schema": _ref(
            "V1Uploaded")}}}, **{str(c): _error(c) for c in (400, 404, 409, 413, 429, 500)}},
    }


def _download_op() -> dict[str, Any]:
    op = _op("the last export of a LOCAL analytics_report (CSV or Parquet bytes)", 200, None, tag=_TAG,
             params=[_CONN, _NAME])
    op["responses"]["200"]["content"] = {"application/octet-stream": {"schema": {"type": "string",
                                                                                 "format": "binary"}}}
    return op


PATHS: dict[str, dict[str, Any]] = {
    "/v1/connections": {"get": _op("the org's connections (credentials redacted)", 200, "V1Connections", tag=_TAG)},
    "/v1/connections/{connection}": {
        "get": _op("a connection (credentials redacted)", 200, "V1Connection", tag=_TAG, params=[_CONN]),
        "put": _op("create or replace a connection", 200, "V1Connection", body="V1ConnectionPut", tag=_TAG,
                   params=[_CONN]),
        "delete": _op("delete a connection", 204, None, tag=_TAG, params=[_CONN]),
    },
    "/v1/connections/{connection}/test": {"post": _op(
        "try credentials for real (the given ones, else the stored ones)", 200, "V1ConnectionTested",
        body="V1ConnectionTest", tag=_TAG, params=[_CONN])},
    "/v1/connections/{connection}/tables": {"get": _op("the connection's tables (use /v1/tables/)", 200,
                                                       "V1TablesBrief", tag=_TAG, params=[_CONN], deprecated=True)},
    "/v1/tables": {"get": _op("tables of the database, filtered (page/amt)", 200, "V1Tables", tag=_TAG, params=[
        {"name": "connection", "in": "query", "schema": {"enum": _KINDS}},
        {"name": "resource", "in": "query", "schema": {"enum": _RESOURCES}},
        {"name": "page", "in": "query", "schema": {**_I, "minimum": 1}},
        {"name": "amt", "in": "query", "schema": {**_I, "minimum": 1, "maximum": 64}}])},
    "/v1/connections/{connection}/tables/{name}": {
        "patch": _op("create a table, or shallow-merge into it", 200, "V1Table", body="V1TableBody", tag=_TAG,
                     params=[_CONN, _NAME]),
        "get": _op("a table", 200, "V1Table", tag=_TAG, params=[_CONN, _NAME]),
        "delete": _op("delete a table (its imported data stays)", 204, None, tag=_TAG, params=[_CONN, _NAME]),
    },
    "/v1/connections/{connection}/tables/{name}/test": {
        "post": _op("preview and validate the table merged with this body (nothing stored)", 200, "V1TablePreview",
                    body="V1TableBody", tag=_TAG, params=[_CONN, _NAME]),
        "get": _op("preview and validate the stored table (updates its status)", 200, "V1TablePreview", tag=_TAG,
                   params=[_CONN, _NAME]),
    },
    "/v1/connections/{connection}/tables/{name}/run": {
        "post": _op("import (or export) the table now: a background task", 202, "V1RunTask", body="V1Run",
                    tag=_TAG, params=[_CONN, _NAME]),
        "get": _op("the table's latest run, with its figures and row errors", 200, "V1RunTask", tag=_TAG,
                   params=[_CONN, _NAME]),
        "delete": _op("cancel the running import (whole batches stay)", 202, "V1RunTask", tag=_TAG,
                      params=[_CONN, _NAME]),
    },
    "/v1/connections/{connection}/tables/{name}/download": {"get": _download_op()},
    "/v1/uploads/{token}": {"put": _upload_op()},
}
# Bodies that may be empty: a test of the stored credentials or table, a run with defaults.
for _path_name, _method in (("/v1/connections/{connection}/test", "post"),
                            ("/v1/connections/{connection}/tables/{name}/test", "post"),
                            ("/v1/connections/{connection}/tables/{name}/run", "post")):
    PATHS[_path_name][_method]["requestBody"]["required"] = False
