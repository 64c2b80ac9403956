"""/collector.js, /dashboard and the static assets over HTTP; CORS for the collector."""

from __future__ import annotations

from support.server import RunningServer

from callquality.api.web import WEB_DIR


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
    for name in ("collector.js", "dashboard.html", "dashboard.js", "dashboard.css",
                 "vendor/uplot/uPlot.iife.min.js", "vendor/uplot/uPlot.min.css",
                 "vendor/uplot/LICENSE"):
        assert (WEB_DIR / name).is_file(), name
