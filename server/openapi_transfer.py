"""The export/import part of the OpenAPI document (server/openapi.py merges it): the routes of
server/http_transfer.py (API.md §3.6, seed 003; the document format is in
server/service/export_doc.py and docs/backup.md)."""
from __future__ import annotations

from typing import Any

JSON, MSGPACK, NDJSON, GZIP = "application/json", "application/msgpack", "application/x-ndjson", "application/gzip"
_S = {"type": "string"}
_I = {"type": "integer"}
_B = {"type": "boolean"}
_OBJ = {"type": "object"}
_LIST = {"type": "array", "items": _OBJ}
_INTS = {"type": "array", "items": _I}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


SECURITY_SCHEMES: dict[str, Any] = {
    "applicationId": {"type": "apiKey", "in": "header", "name": "X-Application-ID",
                      "description": "an API key (as X-API-Key), the Pieces client's credential; "
                                     "on /database/* and /v1/database/* only"},
}

_HEADER_PROPS = {
    "format": {"const": "roarbase.export"}, "version": {"const": "1"}, "exported_at": _S,
    "database": {"type": "object", "properties": {"name": _S, "description": _S, "item_id_type": _S,
                                                  "user_id_type": _S, "session_id_type": _S, "metadata": _OBJ}},
    "items_properties": _LIST, "users_properties": _LIST,
    "sql_tables": {"type": "array", "items": {
        "type": "object", "required": ["name", "columns"],
        "properties": {"name": _S, "keys": _B, "track_existence": _B, "description": _S, "meta": _OBJ,
                       "columns": _LIST, "rows": {"type": "array", "items": {"type": "array"}}}}},
    "connections": _LIST, "sources": _LIST, "counts": _OBJ,
}

SCHEMAS: dict[str, Any] = {
    "ExportDocument": {
        "type": "object", "required": ["format", "version"],
        "description": "the roarbase export document, JSON form (API.md §3.6; docs/backup.md). The NDJSON form "
                       "has the same header on its first line, then one {kind: item|user|row, ...} per line.",
        "properties": {**_HEADER_PROPS, "items": _LIST, "users": _LIST},
    },
    "PiecesExportedDatabase": {
        "type": "object", "required": ["version", "values"],
        "description": "the pieces-os-client ExportedDatabase envelope: string version, its 15 integer lists "
                       "(empty), and the gzip'd NDJSON export document as the bytes of values.iterable entries "
                       "roarbase.export+gzip.0, .1, ...",
        "properties": {"version": _S, "values": {"type": "object", "required": ["iterable"], "properties": {
            "iterable": {"type": "array", "items": {"type": "object", "required": ["id", "raw"],
                                                    "properties": {"id": _S, "raw": _INTS, "schema": _OBJ}}}}},
            "schema": _OBJ, **{k: _INTS for k in ("analyses", "applications", "assets", "codeAnalyses", "files",
                                                   "formatMetrics", "formats", "fragments", "imageAnalyses",
                                                   "models", "ocrAnalyses", "persons", "sensitives", "tags",
                                                   "websites")}},
    },
}

_ERRORS = {400: "the document is not valid (nothing changed); error_data.problems lists the first problems "
                "(PROPERTY_TYPE_CONFLICT, COLUMN_TYPE_CONFLICT, WRONG_DATA_TYPE, ...)",
           401: "no or bad credentials", 404: "no such database", 409: "IncorrectState: the database is not "
           "RUNNING (an export or import is in progress)", 413: "PayloadTooLarge (limits.max_import_bytes)",
           429: "RequestLimitExceeded; see Retry-After",
           500: "the merge failed: error_data.reverted says whether the database is as before (true) or "
                "FROZEN (false)", 507: "StorageFull: the disk filled while merging (reverted)"}


def _error(status: int) -> dict[str, Any]:
    out: dict[str, Any] = {"description": _ERRORS[status],
                           "content": {JSON: {"schema": _ref("Error")}, MSGPACK: {"schema": _ref("Error")}}}
    if status == 429:
        out["headers"] = {"Retry-After": {"schema": _I, "description": "seconds"}}
    return out


_DB_ID = {"name": "database_id", "in": "path", "required": True, "schema": _S,
          "description": "the database id (UUID or its base64url form)"}
_EXPORT_PARAMS = [
    {"name": "format", "in": "query", "schema": {"enum": ["json", "ndjson"]},
     "description": "json (default) or ndjson (also chosen by Accept: application/x-ndjson)"},
    {"name": "gzip", "in": "query", "schema": _B, "description": "gzip the document (application/gzip)"},
]
_ENVELOPE = {"name": "envelope", "in": "query", "schema": _B,
             "description": "wrap a JSON export in the Pieces envelope (default true on these paths)"}


def _export(summary: str, *, pieces: bool) -> dict[str, Any]:
    doc = {"oneOf": [_ref("PiecesExportedDatabase"), _ref("ExportDocument")]} if pieces else _ref("ExportDocument")
    return {
        "summary": summary, "tags": ["export"],
        "parameters": ([] if pieces else [_DB_ID]) + _EXPORT_PARAMS + ([_ENVELOPE] if pieces else []),
        "security": [{"bearer": []}, {"applicationId": []}] if pieces else [{"bearer": []}],
        "description": "The database is BACKUP while the document streams (reads answered, writes 409).",
        "responses": {"200": {"description": "the export document, streamed",
                              "content": {JSON: {"schema": doc}, NDJSON: {"schema": _S}, GZIP: {"schema": _S}}},
                      **{str(c): _error(c) for c in (400, 401, 404, 409, 429, 500)}},
    }


def _import(summary: str, *, pieces: bool) -> dict[str, Any]:
    doc = {"oneOf": [_ref("PiecesExportedDatabase"), _ref("ExportDocument")]}
    return {
        "summary": summary, "tags": ["export"],
        "parameters": [] if pieces else [_DB_ID],
        "security": [{"bearer": []}, {"applicationId": []}] if pieces else [{"bearer": []}],
        "description": "Merge an export document (JSON, NDJSON, gzip of either, or a Pieces envelope): "
                       "everything is checked first; then RESTORING, a copy-on-write restore point, the merge "
                       "(properties unioned, entities patched with create_if_missing, rows upserted by _id), "
                       "RUNNING. Any failure restores the state before the import.",
        "requestBody": {"required": True, "content": {JSON: {"schema": doc}, NDJSON: {"schema": _S},
                                                      GZIP: {"schema": _S}}},
        "responses": {"204": {"description": "merged"},
                      **{str(c): _error(c) for c in (400, 401, 404, 409, 413, 429, 500, 507)}},
    }


PATHS: dict[str, dict[str, Any]] = {
    "/v2/databases/{database_id}/export": {"get": _export("export a database", pieces=False)},
    "/v2/databases/{database_id}/import": {"post": _import("merge an export document into a database",
                                                           pieces=False)},
    "/v1/database/export": {"get": _export("export the token's database", pieces=True)},
    "/v1/database/import": {"post": _import("merge into the token's database", pieces=True)},
    "/database/export": {"get": _export("export the token's database (Pieces client path)", pieces=True)},
    "/database/import": {"post": _import("merge into the token's database (Pieces client path)", pieces=True)},
}
