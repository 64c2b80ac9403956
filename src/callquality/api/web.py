"""The browser side: /collector.js, /dashboard, /docs and their static assets (no build step).

Every page runs from files of this package only (uPlot and Swagger UI are vendored under
``web/vendor/``), so all of them work on a machine without internet.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from callquality.domain.errors import NotFound

router = APIRouter(include_in_schema=False)

WEB_DIR = Path(str(files("callquality.web")))
_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
# The dashboard runs only its own scripts; uPlot sets element styles from script, hence
# 'unsafe-inline' for styles. Data is rendered with textContent, never as HTML.
_DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
_NO_SNIFF = {"X-Content-Type-Options": "nosniff"}
# Swagger UI, vendored from swagger-ui-dist (web/vendor/swagger-ui/README.md). Relative
# URLs, as the dashboard's: they resolve from /docs, also behind a path prefix.
_SWAGGER_UI = "static/vendor/swagger-ui"


def _asset(relative: str, cache_s: int, extra: dict[str, str] | None = None) -> Response:
    path = (WEB_DIR / relative).resolve()
    media_type = _MEDIA_TYPES.get(path.suffix)
    if media_type is None or not path.is_relative_to(WEB_DIR.resolve()) or not path.is_file():
        raise NotFound(f"no asset {relative!r}")
    headers = {"Cache-Control": f"public, max-age={cache_s}", **_NO_SNIFF, **(extra or {})}
    return FileResponse(path, media_type=media_type, headers=headers)


@router.api_route("/collector.js", methods=["GET", "HEAD"])
def collector_js() -> Response:
    """The browser collector; load it with one <script> tag (docs/collector.md)."""
    # Short cache: sites load it from here, and a fix should reach them within minutes.
    return _asset("collector.js", 300, {"Cross-Origin-Resource-Policy": "cross-origin"})


@router.api_route("/dashboard", methods=["GET", "HEAD"])
def dashboard() -> Response:
    """The dashboard page (a single page; the session view is #/sessions/{id})."""
    return _asset(
        "dashboard.html",
        0,
        {"Content-Security-Policy": _DASHBOARD_CSP, "Referrer-Policy": "no-referrer"},
    )


@router.api_route("/dashboard/", methods=["GET", "HEAD"])
def dashboard_slash() -> Response:
    """/dashboard/ is /dashboard."""
    return RedirectResponse("../dashboard", status_code=308)


@router.api_route("/static/{path:path}", methods=["GET", "HEAD"])
def static_asset(path: str) -> Response:
    """The dashboard's scripts, styles and the vendored uPlot."""
    return _asset(path, 300)


@router.api_route("/", methods=["GET", "HEAD"])
def root() -> Response:
    """/ is the dashboard (a person who opens the server's address lands there)."""
    return RedirectResponse("dashboard", status_code=307)


@cache
def _docs_page() -> tuple[bytes, str]:
    """The /docs page and its Content-Security-Policy (built once)."""
    page = get_swagger_ui_html(
        openapi_url="openapi.json",
        title="callquality API",
        swagger_js_url=f"{_SWAGGER_UI}/swagger-ui-bundle.js",
        swagger_css_url=f"{_SWAGGER_UI}/swagger-ui.css",
        swagger_favicon_url=f"{_SWAGGER_UI}/favicon-32x32.png",
    )
    body = bytes(page.body)
    # The page starts Swagger UI from one inline script; the policy allows exactly that script
    # by its hash (CSP Level 2 §4.2.4), and otherwise the dashboard's: own files only.
    # Swagger UI sets element styles and draws data: SVG icons, as uPlot does.
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in re.findall(rb"<script>(.*?)</script>", body, re.DOTALL)
    )
    csp = _DASHBOARD_CSP.replace("script-src 'self'", f"script-src 'self' {hashes}")
    return body, csp


@router.api_route("/docs", methods=["GET", "HEAD"])
def docs() -> Response:
    """The API documentation: Swagger UI over /openapi.json, from vendored files."""
    body, csp = _docs_page()
    return HTMLResponse(
        body,
        headers={
            "Cache-Control": "public, max-age=0",
            "Content-Security-Policy": csp,
            "Referrer-Policy": "no-referrer",
            **_NO_SNIFF,
        },
    )
