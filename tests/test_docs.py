"""The docs name every setting, endpoint and command (as datasette's test_docs does)."""

from __future__ import annotations

from pathlib import Path

from typer.main import get_command

from callquality.api.app import create_app
from callquality.cli import app as cli_app
from callquality.config import SETTINGS_HELP, Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"
README = (DOCS.parent / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    api = (DOCS / "api.md").read_text()
    for name in SETTINGS_HELP:
        assert name.upper() in api, f"{name.upper()} is not in docs/api.md"
    assert set(SETTINGS_HELP) == set(Settings.__dataclass_fields__)


def test_every_endpoint_is_documented() -> None:
    api = (DOCS / "api.md").read_text()
    app = create_app(Settings(database_url="sqlite://"))
    for path in app.openapi()["paths"]:
        assert path.rstrip("/") in api, f"{path} is not in docs/api.md"


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
