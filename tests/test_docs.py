"""The docs name every setting, endpoint and command (as datasette's test_docs does)."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from typer.main import get_command

from callquality.api.app import create_app
from callquality.cli import app as cli_app
from callquality.config import SETTINGS, Settings, settings_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs"
README = (DOCS.parent / "README.md").read_text()


def test_the_settings_table_is_the_settings() -> None:
    api = (DOCS / "api.md").read_text()
    block = api.split("<!-- settings:start -->\n", 1)[1].split("<!-- settings:end -->", 1)[0]
    assert block == settings_markdown(), "run `callquality settings --markdown` into docs/api.md"
    assert [s.name for s in SETTINGS] == [f.name for f in fields(Settings)]


def test_every_endpoint_is_documented_with_its_method() -> None:
    api = (DOCS / "api.md").read_text()
    app = create_app(Settings(database_url="sqlite://"))
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            entry = f"`{method.upper()} {path}"
            assert re.search(re.escape(entry) + r"[`?\s]", api), f"{entry}` is not in docs/api.md"


def test_every_command_is_documented() -> None:
    command = get_command(cli_app)
    text = README + (DOCS / "api.md").read_text()
    for name in command.commands:  # type: ignore[attr-defined]
        assert f"callquality {name}" in text, f"`callquality {name}` is not documented"


def test_docs_links_resolve() -> None:
    import re

    for doc in [*DOCS.glob("*.md"), DOCS.parent / "README.md"]:
        for target in re.findall(r"\]\(([^)#:]+\.(?:md|png))\)", doc.read_text()):
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"
