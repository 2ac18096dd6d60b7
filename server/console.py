"""The web console: the static files under server/console/, served by the HTTP face at `/`.

The console is one more client of the documented API: plain ES modules (no build step, no
third-party code, nothing fetched from elsewhere) that call /v2/auth/token, /v2/databases,
/v2/databases/{id}/query/sql|pql, /v2/queries and the operating routes /version, /ready and
/metrics (server/http_ops.py). The server holds no console state.

Session: the access and refresh tokens live in the page's memory only (a JavaScript
variable — no cookie, no localStorage), sent as `Authorization: Bearer`. Since the browser
never attaches them on its own, there is no CSRF to defend; reloading the page signs out.

Every console response carries a strict Content-Security-Policy (scripts, styles,
images and fetches from this origin only; no inline script or style, no framing, no form
posts, no plugins) and the usual hardening headers. Files are read once at startup and
served from memory with an ETag; only names in the directory's listing are served (no
path is ever built from the request).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.error_table import ServerError

STATIC_DIR = Path(__file__).resolve().parent / "console"
INDEX = "index.html"
PREFIX = "/console/"
PATHS = ("/", PREFIX + "{name}")

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

CSP = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
))

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    # Revalidate every time (a 304 when unchanged): an upgraded server never runs with a
    # stale mix of old and new modules.
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


def load_assets(directory: Path = STATIC_DIR) -> dict[str, Asset]:
    """Every servable file of the console directory (flat; known extensions only)."""
    assets = {}
    for path in sorted(directory.iterdir()):
        media = _MEDIA_TYPES.get(path.suffix)
        if media is None or not path.is_file():
            continue
        body = path.read_bytes()
        assets[path.name] = Asset(body, media, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    if INDEX not in assets:
        raise RuntimeError(f"the console's {INDEX} is missing from {directory}")
    return assets


def _not_found(path: str) -> ServerError:
    return ServerError("ResourceNotFound", f"no route for {path}", name="ROUTE_NOT_FOUND")


def _respond(request: Request, asset: Asset) -> Response:
    headers = {**SECURITY_HEADERS, "ETag": asset.etag}
    if asset.etag in {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, 200, headers=headers, media_type=asset.media_type)


def wants_html(request: Request) -> bool:
    """Whether the caller is a browser: its Accept header ranks text/html above JSON (a
    browser sends `text/html,...,*/*;q=0.8`; curl sends `*/*`, API clients JSON)."""
    best: dict[str, float] = {}
    for part in request.headers.get("accept", "").split(","):
        media, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.strip().lower()
        if media:
            best[media] = max(q, best.get(media, 0.0))
    html = best.get("text/html", 0.0)
    return html > 0 and html > best.get("application/json", 0.0)


def routes(assets: dict[str, Any] | None = None,
           api_index: Callable[[Request], Awaitable[Response]] | None = None) -> list[Route]:
    """The console's routes: GET (and HEAD) `/` and `/console/<file>`. With api_index,
    `/` is shared: a browser gets the console, any other caller api_index's answer."""
    files = load_assets() if assets is None else assets

    async def index(request: Request) -> Response:
        if api_index is None:
            return _respond(request, files[INDEX])
        response = await api_index(request) if not wants_html(request) else _respond(request, files[INDEX])
        # one URL, two answers: a cache must key them by Accept (never the JSON to a browser)
        response.headers["Vary"] = "Accept"
        return response

    async def static(request: Request) -> Response:
        asset = files.get(request.path_params["name"])
        if asset is None:
            raise _not_found(request.url.path)
        return _respond(request, asset)

    return [Route(PATHS[0], index, methods=["GET"]), Route(PATHS[1], static, methods=["GET"])]
