"""Retention (CONTRACT.md: Storage): samples older than RETENTION_DAYS are purged."""

from __future__ import annotations

from sqlalchemy import Engine

from callquality.config import Settings
from callquality.store.db import write_transaction
from callquality.store.writes import purge_samples_before

PURGE_EVERY_S = 3600


def purge_expired(engine: Engine, settings: Settings, now_ms: int) -> int:
    """Delete samples received more than RETENTION_DAYS ago; returns how many."""
    cutoff = now_ms - settings.retention_days * 86_400_000
    with write_transaction(engine) as conn:
        return purge_samples_before(conn, cutoff)
