"""Servers for the events tests: a database of their own (no other server's delivery worker
shares it), loopback receivers allowed, a fast sweep."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import fresh_pg_database  # the suite's conftest (tests/conftest.py)
from support.server import RunningServer, serve

from callquality.config import Settings

FAST = {"webhook_allow_private_urls": True, "events_sweep_s": 0.3, "webhook_poll_s": 0.05}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def events_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[str]:
    """A fresh database of each backend for one test module."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('events') / 'cq.db'}"
        return
    with fresh_pg_database("cq_events") as url:
        yield url


@pytest.fixture(scope="module")
def events_server(events_db: str) -> Iterator[RunningServer]:
    """A real server on a loopback port with its delivery worker and sweep running."""
    with serve(Settings(database_url=events_db, **FAST)) as running:  # type: ignore[arg-type]
        yield running




ROOT = Path(__file__).resolve().parents[2]
