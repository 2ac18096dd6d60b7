"""Database export and import over HTTP (API.md §3.6; seed 003), registered by
http_app.build_app:

    GET  /v2/databases/{id}/export    POST /v2/databases/{id}/import
    GET  /v1/database/export          POST /v1/database/import       (the token's database)
    GET  /database/export             POST /database/import          (the Pieces client's paths)

Export streams (StreamingResponse, one worker hop per ~1 MiB chunk, memory bounded):
`Accept: application/x-ndjson` or `?format=ndjson` gives NDJSON, `?gzip=true` gzip (as
application/gzip). On /database/* and /v1/database/* a JSON export is the Pieces envelope
(reference/pieces-client.md: string version, the 15 lists, the gzip'd NDJSON document as
`values.iterable[*].raw`) unless `?envelope=false`.

Import streams the body to a spool file (up to limits.max_import_bytes, not the general
body cap), then merges it (transfers.import_database) and answers 204. Bodies are sniffed:
JSON or NDJSON, gzip or not, or a Pieces envelope. The Pieces paths also take
`X-Application-ID: <API key>` (the client's only configurable credential); every path
takes `Authorization: Bearer`.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any, AsyncIterator, Optional

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from server.http_app import Endpoint, _accept, _credentials
from server.runtime import Runtime
from server.service import transfers
from server.service.errors import InvalidParameter, PayloadTooLarge, Unauthorized

NDJSON = "application/x-ndjson"
_DB = "/v2/databases/{database_id}"
TRANSFER_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", _DB + "/export", "export_v2", 200, transfers.EXPORT),
    Endpoint("POST", _DB + "/import", "import_v2", 204, transfers.IMPORT),
    Endpoint("GET", "/v1/database/export", "export_current", 200, transfers.EXPORT),
    Endpoint("POST", "/v1/database/import", "import_current", 204, transfers.IMPORT),
    Endpoint("GET", "/database/export", "export_current", 200, transfers.EXPORT),
    Endpoint("POST", "/database/import", "import_current", 204, transfers.IMPORT),
)
IMPORT_PATHS = ("/database/import", "/v1/database/import")


def is_import_path(path: str) -> bool:
    """Whether a request path is an import (its body may reach limits.max_import_bytes)."""
    return path in IMPORT_PATHS or (path.startswith("/v2/databases/") and path.endswith("/import"))


def _flag(request: Request, name: str, default: bool) -> bool:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    if value.lower() not in ("true", "false", "1", "0"):
        raise InvalidParameter(f"{name} must be true or false", data={"key": name})
    return value.lower() in ("true", "1")


class TransferHandlers:
    """The handlers of TRANSFER_ENDPOINTS over one Runtime."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.ctx = rt.ctx

    def _creds(self, request: Request) -> tuple[Optional[str], Optional[str]]:
        bearer, _ = _credentials(request, api_key=False)
        key = None
        if not request.url.path.startswith("/v2/"):
            key = request.headers.get("x-application-id") or None
        return bearer, key

    def _database(self, request: Request, principal: Any) -> str:
        ident = request.path_params.get("database_id")
        if ident:
            return str(ident)
        if principal.database_id is None:
            raise Unauthorized("this token selects no database: log in with a database (or use an API key bound "
                               "to one)", name="NO_DATABASE_SELECTED")
        return str(principal.database_id)

    # -- export --------------------------------------------------------------------------------

    async def export_v2(self, request: Request) -> Response:
        return await self._export(request, pieces=False)

    async def export_current(self, request: Request) -> Response:
        return await self._export(request, pieces=True)

    async def _export(self, request: Request, *, pieces: bool) -> Response:
        bearer, key = self._creds(request)
        fmt = request.query_params.get("format") or ("ndjson" if NDJSON in _accept(request.headers) else "json")
        gzip = _flag(request, "gzip", False)
        envelope = _flag(request, "envelope", pieces) and fmt == "json" and not gzip
        rt = self.rt

        def start() -> transfers.Export:
            principal = rt.principal(bearer=bearer, api_key=key, required=True)
            return transfers.start_export(rt.ctx, principal, self._database(request, principal), fmt=fmt, gzip=gzip,
                                          envelope=envelope)

        export = await rt.run(start)
        chunks = export.chunks()
        loop = asyncio.get_running_loop()

        async def body() -> AsyncIterator[bytes]:
            try:
                while True:
                    # Straight onto the pool, past admission: a busy server must not cut an
                    # export it has started.
                    chunk = await loop.run_in_executor(rt.pool, next, chunks, None)
                    if chunk is None:
                        return
                    yield chunk
            finally:
                await loop.run_in_executor(rt.pool, chunks.close)   # back to RUNNING

        media = export.media_type
        name = f"{export.db.name}.{'ndjson' if fmt == 'ndjson' else 'json'}{'.gz' if gzip else ''}"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'} if not pieces or not envelope else {}
        return StreamingResponse(body(), media_type=media, headers=headers)

    # -- import --------------------------------------------------------------------------------

    async def import_v2(self, request: Request) -> Response:
        return await self._import(request)

    async def import_current(self, request: Request) -> Response:
        return await self._import(request)

    async def _import(self, request: Request) -> Response:
        bearer, key = self._creds(request)
        rt = self.rt
        # Who is asking, before a byte of the body is read.
        principal = rt.cached_principal(bearer=bearer, api_key=key) or \
            await rt.run(rt.principal, bearer=bearer, api_key=key, required=True)
        assert principal is not None
        database_id = self._database(request, principal)
        limit = rt.ctx.config.limits.max_import_bytes
        path, f = transfers.new_spool(rt.ctx)
        try:
            size = 0
            with f:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise PayloadTooLarge(f"the import is larger than {limit} bytes", data={"limit": limit})
                    f.write(chunk)
            await rt.run(transfers.import_database, rt.ctx, principal, database_id, path)
        finally:
            with contextlib.suppress(OSError):
                os.remove(path)
        return Response(status_code=204)
