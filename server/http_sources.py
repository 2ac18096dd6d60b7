"""The connections-and-tables routes of the /v1 face (seed 002, API.md §3.5): connections,
sources ("tables"), previews, runs and the LOCAL upload url. Same conventions as
server/http_v1.py (JSON or msgpack bodies, CM error envelope with /v1 statuses, trailing
slash optional, deprecated aliases add the warning `deprecated_endpoint`).

`PUT /v1/uploads/{token}` is the one route whose body is not JSON: the file itself,
streamed to disk in chunks and capped at limits.max_upload_bytes (BODY_LIMITS lifts the
face's usual body cap for it). The one-time token in the path is its credential.
"""
from __future__ import annotations

import os
from typing import Any, Iterator

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from server.http_v1 import V1Endpoint, V1Handlers, _int_param, _only
from server.service import connections, sources
from server.service.errors import InvalidParameter, PayloadTooLarge, RequestTimeout

UPLOAD_PREFIX = "/v1/uploads/"
_T = "/v1/connections/{connection}/tables/{name}"
CHUNK = 1 << 20

SOURCE_ENDPOINTS: tuple[V1Endpoint, ...] = (
    V1Endpoint("GET", "/v1/connections", "list_connections", 200, connections.LIST),
    V1Endpoint("GET", "/v1/connections/{connection}", "get_connection", 200, connections.GET),
    V1Endpoint("PUT", "/v1/connections/{connection}", "put_connection", 200, connections.PUT),
    V1Endpoint("DELETE", "/v1/connections/{connection}", "delete_connection", 204, connections.DELETE),
    V1Endpoint("POST", "/v1/connections/{connection}/test", "test_connection", 200, connections.TEST),
    V1Endpoint("GET", "/v1/connections/{connection}/tables", "list_connection_tables", 200, sources.LIST, True),
    V1Endpoint("GET", "/v1/tables", "list_tables", 200, sources.LIST),
    V1Endpoint("PATCH", _T, "patch_table", 200, sources.PATCH),
    V1Endpoint("GET", _T, "get_table", 200, sources.GET),
    V1Endpoint("DELETE", _T, "delete_table", 204, sources.DELETE),
    V1Endpoint("POST", _T + "/test", "test_table", 200, sources.TEST),
    V1Endpoint("GET", _T + "/test", "test_stored_table", 200, sources.TEST),
    V1Endpoint("POST", _T + "/run", "run_table", 202, sources.RUN),
    V1Endpoint("GET", _T + "/run", "get_run", 200, sources.GET_RUN),
    V1Endpoint("DELETE", _T + "/run", "cancel_run", 202, sources.CANCEL),
    V1Endpoint("GET", _T + "/download", "download", 200, sources.DOWNLOAD),
    V1Endpoint("PUT", UPLOAD_PREFIX + "{token}", "upload", 200, sources.UPLOAD),
)


def body_limits(max_upload_bytes: int) -> tuple[tuple[str, int], ...]:
    """(path prefix, body cap) pairs that replace the face's usual cap."""
    return ((UPLOAD_PREFIX, max_upload_bytes),)


_TABLE_BODY = frozenset(sources.BODY)


class SourceHandlers(V1Handlers):
    """The endpoints of SOURCE_ENDPOINTS."""

    def _base(self, request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def _table(self, request: Request, source: sources.Source) -> dict[str, Any]:
        return source.to_dict(self._base(request))

    # -- connections -------------------------------------------------------------------

    async def list_connections(self, request: Request) -> Response:
        found = await self.authed(request, connections.list_connections)
        return self.reply(request, 200, {"connections": [c.to_dict() for c in found]})

    async def get_connection(self, request: Request) -> Response:
        conn = await self.authed(request, connections.get_connection, request.path_params["connection"])
        return self.reply(request, 200, conn.to_dict())

    async def put_connection(self, request: Request) -> Response:
        body = _only(await self.body(request), frozenset({"credentials", "metadata"}))
        conn = await self.authed(request, connections.put_connection, request.path_params["connection"],
                                 credentials=body.get("credentials"), metadata=body.get("metadata"))
        return self.reply(request, 200, conn.to_dict())

    async def delete_connection(self, request: Request) -> Response:
        await self.authed(request, connections.delete_connection, request.path_params["connection"])
        return self.reply(request, 204)

    async def test_connection(self, request: Request) -> Response:
        body = _only(await self.body(request, required=False), frozenset({"credentials"}))
        out = await self.authed(request, connections.test_connection, request.path_params["connection"],
                                credentials=body.get("credentials"))
        return self.reply(request, 200, out)

    # -- tables ------------------------------------------------------------------------

    async def list_connection_tables(self, request: Request) -> Response:
        kind = request.path_params["connection"]
        found, page = [], 1
        while True:
            part, more = await self.authed(request, sources.list_sources, connection=kind, page=page,
                                           amt=sources.MAX_AMT)
            found += part
            if not more:
                break
            page += 1
        return self.reply(request, 200, {"tables": [s.brief() for s in found]}, deprecated=True)

    async def list_tables(self, request: Request) -> Response:
        params = request.query_params
        unknown = set(params) - {"connection", "resource", "page", "amt"}
        if unknown:
            raise InvalidParameter(f"unknown query parameters {sorted(unknown)}", name="WRONG_DATA_TYPE",
                                   data={"key": sorted(unknown)[0][:64]})
        page = _int_param(request, "page", 1)
        found, has_next = await self.authed(request, sources.list_sources, connection=params.get("connection"),
                                            resource=params.get("resource"), page=page,
                                            amt=_int_param(request, "amt", 10))
        return self.reply(request, 200, {"has_next": has_next, "next_page": (page or 1) + 1,
                                         "tables": [self._table(request, s) for s in found]})

    async def patch_table(self, request: Request) -> Response:
        body = _only(await self.body(request), _TABLE_BODY)
        p = request.path_params
        source = await self.authed(request, sources.patch_source, p["connection"], p["name"], body)
        return self.reply(request, 200, self._table(request, source))

    async def get_table(self, request: Request) -> Response:
        p = request.path_params
        source = await self.authed(request, sources.get_source, p["connection"], p["name"])
        return self.reply(request, 200, self._table(request, source))

    async def delete_table(self, request: Request) -> Response:
        p = request.path_params
        await self.authed(request, sources.delete_source, p["connection"], p["name"])
        return self.reply(request, 204)

    async def test_table(self, request: Request) -> Response:
        body = _only(await self.body(request, required=False), _TABLE_BODY)
        p = request.path_params
        return self.reply(request, 200, await self.authed(request, sources.test_source, p["connection"], p["name"],
                                                          body))

    async def test_stored_table(self, request: Request) -> Response:
        p = request.path_params
        return self.reply(request, 200, await self.authed(request, sources.test_source, p["connection"], p["name"]))

    async def run_table(self, request: Request) -> Response:
        body = _only(await self.body(request, required=False), frozenset({"batch_size", "max_errors"}))
        p = request.path_params
        task = await self.authed(request, sources.run_source, p["connection"], p["name"], body)
        return self.reply(request, 202, {**task.to_dict(), "task_name": task.name})

    async def get_run(self, request: Request) -> Response:
        p = request.path_params
        task = await self.authed(request, sources.last_run, p["connection"], p["name"])
        return self.reply(request, 200, task.to_dict())

    async def cancel_run(self, request: Request) -> Response:
        p = request.path_params
        task = await self.authed(request, sources.cancel_run, p["connection"], p["name"])
        return self.reply(request, 202, task.to_dict())

    async def download(self, request: Request) -> Response:
        p = request.path_params
        if connections.check_kind(p["connection"]) != connections.LOCAL:
            raise InvalidParameter("only LOCAL reports are downloaded; others are written to their bucket",
                                   name="WRONG_DATA_TYPE", data={"type": "connection", "key": p["connection"]})
        f = await self.authed(request, sources.download, p["name"])

        def chunks() -> Iterator[bytes]:
            with f:
                while block := f.read(CHUNK):
                    yield block

        size = os.fstat(f.fileno()).st_size
        return StreamingResponse(chunks(), 200, media_type="application/octet-stream",
                                 headers={"Content-Length": str(size)})

    # -- the one-time upload url ---------------------------------------------------------

    async def upload(self, request: Request) -> Response:
        """Stream the request body to disk; the token is spent when the upload starts."""
        self.rt.rate.take("address:" + (request.client.host if request.client else "?"))
        limit = self.ctx.config.limits.max_upload_bytes
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise PayloadTooLarge(f"an upload is limited to {limit} bytes", name="PAYLOAD_TOO_LARGE",
                                  data={"limit": limit})
        up = await self.rt.run(sources.begin_upload, self.ctx, request.path_params["token"])
        size = 0
        try:
            with open(up.tmp_path, "wb") as f:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > up.limit:
                        raise sources.too_large(up)
                    f.write(chunk)
                await self.rt.run(_sync, f)
            source = await self.rt.run(sources.finish_upload, self.ctx, up, size)
        except ClientDisconnect:
            await self.rt.run(sources.abort_upload, self.ctx, up, "the client went away")
            raise RequestTimeout("the client went away before the upload finished", name="UPLOAD_INCOMPLETE") \
                from None
        except BaseException as exc:
            await self.rt.run(sources.abort_upload, self.ctx, up, getattr(exc, "message", type(exc).__name__))
            raise
        return self.reply(request, 200, {"name": source.name, "connection": source.connection,
                                         "status": source.status, "uploaded_bytes": size})


def _sync(f: Any) -> None:
    f.flush()
    os.fsync(f.fileno())
