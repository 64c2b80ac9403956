"""/collector.js, /dashboard and the static assets over HTTP; CORS for the collector."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from support.server import RunningServer

from callquality.api.web import WEB_DIR

# `import ... from './x.js'` and `import './x.js'` in the dashboard's modules.
IMPORT = re.compile(r"""^\s*import\b[^'"]*?['"]([^'"]+)['"]""", re.MULTILINE)


def test_collector_js_is_served_as_javascript_to_any_site(server: RunningServer) -> None:
    with server.client() as client:
        answer = client.get("/collector.js")
        head = client.head("/collector.js")
    assert answer.status_code == 200 and head.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert answer.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "api.monitor = monitor" in answer.text


def test_the_dashboard_page_runs_only_its_own_scripts(server: RunningServer) -> None:
    with server.client() as client:
        page = client.get("/dashboard")
        slash = client.get("/dashboard/", follow_redirects=False)
        uplot = client.get("/static/vendor/uplot/uPlot.iife.min.js")
        css = client.get("/static/dashboard.css")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert slash.status_code == 308 and slash.headers["location"] == "../dashboard"
    assert uplot.status_code == 200 and "uPlot" in uplot.text
    assert css.headers["content-type"].startswith("text/css")


def test_the_dashboard_page_loads_its_entry_module_after_uplot(server: RunningServer) -> None:
    with server.client() as client:
        page = client.get("/dashboard").text
    uplot = page.index('src="static/vendor/uplot/uPlot.iife.min.js" defer')
    entry = page.index('<script type="module" src="static/dashboard/main.js">')
    assert uplot < entry  # deferred and module scripts run in document order: uPlot first
    assert "dashboard.js" not in page


def test_every_dashboard_module_and_what_it_imports_is_served_as_javascript(
    server: RunningServer,
) -> None:
    """Walk the import graph from main.js over HTTP, as the browser does: every module
    resolves, is text/javascript (browsers refuse a module of another MIME type) and nosniff."""
    seen: set[str] = set()
    todo = ["dashboard/main.js"]
    with server.client() as client:
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            answer = client.get(f"/static/{name}")
            assert answer.status_code == 200, name
            assert answer.headers["content-type"].startswith("text/javascript"), name
            assert answer.headers["x-content-type-options"] == "nosniff", name
            for spec in IMPORT.findall(answer.text):
                assert spec.startswith("./") or spec.startswith("../"), (name, spec)
                target = PurePosixPath(name).parent / spec
                parts: list[str] = []
                for part in target.parts:
                    if part == "..":
                        parts.pop()
                    elif part != ".":
                        parts.append(part)
                todo.append("/".join(parts))
    on_disk = {p.relative_to(WEB_DIR).as_posix() for p in (WEB_DIR / "dashboard").rglob("*.js")}
    assert seen == on_disk  # no module left unreachable from the entry point
    assert len(seen) >= 8


def test_static_paths_stay_inside_the_web_folder(server: RunningServer) -> None:
    with server.client() as client:
        for path in ("/static/../api/web.py", "/static/..%2Fapi%2Fweb.py", "/static/__init__.py",
                     "/static/nothing.js", "/static/"):
            answer = client.get(path)
            assert answer.status_code == 404, path
            assert answer.json()["statusCode"] == 404


def test_cors_lets_a_site_post_stats_with_its_token(server: RunningServer) -> None:
    with server.client() as client:
        preflight = client.options(
            "/v2/stats",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        post = client.post("/v2/stats", json=[], headers={"Origin": "https://app.example"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert post.status_code == 401  # no token; the error is still readable cross-origin
    assert post.headers["access-control-allow-origin"] == "*"
    assert "retry-after" in post.headers["access-control-expose-headers"].lower()


def test_the_web_assets_ship_in_the_package() -> None:
    for name in ("collector.js", "dashboard.html", "dashboard/main.js", "dashboard/api.js",
                 "dashboard/router.js", "dashboard/charts.js", "dashboard/views/session.js",
                 "dashboard/views/sessions.js", "dashboard.css",
                 "vendor/uplot/uPlot.iife.min.js", "vendor/uplot/uPlot.min.css",
                 "vendor/uplot/LICENSE"):
        assert (WEB_DIR / name).is_file(), name
