"""Retention (CONTRACT.md: Storage): samples older than RETENTION_DAYS are purged."""

from __future__ import annotations

from sqlalchemy import Engine

from callquality.config import Settings
from callquality.service.summaries import purge_before, refresh_in
from callquality.store import sample_partitions
from callquality.store.db import is_postgres, write_transaction
from callquality.store.janus import purge_janus_states_before
from callquality.store.writes import purge_samples_before

PURGE_EVERY_S = 3600
# A Janus session with a peer connection sends media statistics every few seconds; one not
# heard of for a day is gone without its "destroyed" event (a Janus that died).
JANUS_STATE_TTL_MS = 86_400_000


def purge_expired(engine: Engine, settings: Settings, now_ms: int) -> int:
    """Purge samples received more than RETENTION_DAYS ago (returns how many), summaries
    of participant-sessions ended more than SUMMARY_RETENTION_DAYS ago, and the states of
    Janus sessions silent for a day. Dirty summaries are refreshed first, while their
    samples are still there."""
    cutoff = now_ms - settings.retention_days * 86_400_000
    with write_transaction(engine) as conn:
        refresh_in(conn, None, now_ms)
        purge_before(conn, now_ms - settings.summary_retention_days * 86_400_000)
        purge_janus_states_before(conn, now_ms - JANUS_STATE_TTL_MS)
        purged = purge_samples_before(conn, cutoff)
    if not is_postgres(engine):
        return purged
    # PostgreSQL: the day partitions of the days ahead, and the expired ones dropped whole.
    with write_transaction(engine) as conn:
        sample_partitions.ensure(conn, now_ms)
    return purged + sample_partitions.drop_expired(engine, cutoff)
