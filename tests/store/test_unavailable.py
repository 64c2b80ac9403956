"""Database errors that mean 'unavailable' become StoreUnavailable (503), at the store's edge."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event, exc

from callquality.domain.errors import StoreUnavailable
from callquality.store.db import create_store_engine, migrate, wrap_errors, write_transaction


@pytest.mark.parametrize(
    "error",
    [
        exc.OperationalError("SELECT 1", {}, Exception("connection refused")),
        exc.InterfaceError("SELECT 1", {}, Exception("the connection is closed")),
        exc.TimeoutError("QueuePool limit of size 10 overflow 20 reached"),
        exc.DisconnectionError("server closed the connection"),
    ],
    ids=["operational", "interface", "pool-timeout", "disconnection"],
)
def test_unreachable_database_errors_become_store_unavailable(error: Exception) -> None:
    with pytest.raises(StoreUnavailable) as caught, wrap_errors():
        raise error
    assert caught.value.retry_after_s >= 1


def test_an_integrity_error_is_not_unavailability() -> None:
    with pytest.raises(exc.IntegrityError), wrap_errors():
        raise exc.IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))


def test_a_locked_sqlite_database_is_store_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "cq.db"
    engine = create_store_engine(f"sqlite:///{path}")
    migrate(engine)

    @event.listens_for(engine, "connect")
    def _short_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=50")  # after the engine's own 30 s

    engine.dispose()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with pytest.raises(StoreUnavailable), write_transaction(engine) as conn:
            conn.execute(sa.text("SELECT 1"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()
