"""The browser side: /collector.js, /dashboard and its static assets (no build step)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse, Response

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
