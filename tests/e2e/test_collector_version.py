"""collector.js says which callquality it came with: its VERSION is the package's."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest
from browser_kit import (  # noqa: F401 (fixtures)
    REPO,
    PageHost,
    chromium,
    new_page,
    open_call_page,
    page_host,
    sqlite_server,
)
from support.server import RunningServer

import callquality
from callquality.api.web import WEB_DIR

VERSION = re.compile(r"^\s*var VERSION = '([^']+)';", re.MULTILINE)


def _pyproject_version() -> str:
    with open(REPO / "pyproject.toml", "rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def test_collector_js_declares_the_packages_version() -> None:
    declared = VERSION.findall((WEB_DIR / "collector.js").read_text(encoding="utf-8"))
    assert len(declared) == 1, "collector.js must declare VERSION once"
    assert declared[0] == callquality.__version__ == _pyproject_version()


@pytest.mark.browser
def test_the_served_collector_reports_the_packages_version_in_chromium(
    sqlite_server: RunningServer, new_page: Any, page_host: PageHost  # noqa: F811
) -> None:
    page = new_page()
    open_call_page(page, page_host, f"{sqlite_server.url}/collector.js")
    assert page.evaluate("callquality.version") == callquality.__version__
