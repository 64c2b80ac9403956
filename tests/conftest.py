"""Fixtures shared by every test: databases (SQLite always, PostgreSQL too) and servers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from support.server import RunningServer, serve

from callquality.config import Settings
from callquality.store.db import create_store_engine, migrate

# The shared test data: CALLQUALITY_SHARED, else the shared/ folder beside the checkout.
# Every test reads fixtures through FIXTURES (or fixture_path), never a path of its own.
SHARED = Path(
    os.environ.get("CALLQUALITY_SHARED", Path(__file__).resolve().parents[2] / "shared")
).resolve()
FIXTURES = SHARED / "fixtures"
PG_ADMIN_URL = os.environ.get("TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def fixture_path(name: str) -> Path:
    path = FIXTURES / name
    assert path.exists(), f"missing shared fixture {path}"
    return path


@contextmanager
def fresh_pg_database(prefix: str = "cq_test") -> Iterator[str]:
    """A new, empty PostgreSQL database (its URL), dropped when the block ends."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def migrated_pg_engine(prefix: str) -> Iterator[sa.Engine]:
    """An engine on a new PostgreSQL database at the newest revision, dropped at the end."""
    with fresh_pg_database(prefix) as url:
        engine = create_store_engine(url)
        migrate(engine)
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The database URL of each backend: every server test runs on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'cq.db'}"
    url: str = request.getfixturevalue("pg_database")
    return url


@pytest.fixture(scope="session")
def server(backend: str) -> Iterator[RunningServer]:
    """A real server on a loopback port, one per backend for the whole run."""
    with serve(Settings(database_url=backend)) as running:
        yield running


@pytest.fixture(params=["sqlite", "postgresql"])
def own_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningServer]:
    """A server on a database of its own, for a test that purges (retention is global)."""
    if request.param == "sqlite":
        with serve(Settings(database_url=f"sqlite:///{tmp_path / 'own.db'}")) as running:
            yield running
        return
    with fresh_pg_database("cq_own") as url, serve(Settings(database_url=url)) as running:
        yield running
