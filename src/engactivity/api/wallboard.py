"""The wallboard: one static page, served by the API process, that reads the public API.

``GET /`` and ``GET /wallboard`` answer the page; its script, style sheet and the
vendored chart library are under ``/wallboard/static/``. The files ship inside the
package (``engactivity/wallboard/``), so there is no build step. None of these routes
is part of the OpenAPI description: they are not API. All are open: the page holds no
data, and its API calls carry the key typed into it.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from engactivity import __version__
from engactivity.api.access.routes import add_route, mount
from engactivity.auth.access import OPEN

WALLBOARD_DIR = Path(str(files("engactivity") / "wallboard"))
"""The page and its static files, inside the installed package."""

STATIC_PREFIX = "/wallboard/static"

# The page loads only its own files and talks only to this origin. uPlot positions
# its elements through the CSSOM (element.style), which 'self' style sources allow.
_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _page() -> bytes:
    html = (WALLBOARD_DIR / "index.html").read_text(encoding="utf-8")
    # Bust browser caches of the static files when the package version changes.
    return html.replace("{{version}}", __version__).encode()


def install_wallboard(app: FastAPI) -> None:
    """Serve the wallboard page at ``/`` and ``/wallboard``, its files under /wallboard/static."""
    page = _page()

    async def wallboard_page() -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)

    for path in ("/", "/wallboard", "/wallboard/"):
        add_route(
            app,
            path,
            wallboard_page,
            access=OPEN,
            methods=["GET"],
            include_in_schema=False,
            response_class=Response,
        )
    static = StaticFiles(directory=WALLBOARD_DIR)
    mount(app, STATIC_PREFIX, static, access=OPEN, name="wallboard-static")
