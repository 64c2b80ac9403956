"""Servers for the events tests (import the ``*_fixture`` names to use ``events_db`` and
``events_server``): a database of their own (no other server's delivery worker
shares it), loopback receivers allowed, a fast sweep."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import fresh_pg_database
from support.server import RunningServer, serve

from callquality.config import Settings

FAST = {"webhook_allow_private_urls": True, "events_sweep_s": 0.3, "webhook_poll_s": 0.05}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"], name="events_db")
def events_db_fixture(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[str]:
    """A fresh database of each backend for one test module."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('events') / 'cq.db'}"
        return
    with fresh_pg_database("cq_events") as url:
        yield url


@pytest.fixture(scope="module", name="events_server")
def events_server_fixture(events_db: str) -> Iterator[RunningServer]:
    """A real server on a loopback port with its delivery worker and sweep running."""
    with serve(Settings(database_url=events_db, **FAST)) as running:  # type: ignore[arg-type]
        yield running



