"""The sweep reads every watched event and looks at them whole sessions at a time: with
more watched events than one chunk, every idle session still ends, each one's participants
leaving before it ends (both backends)."""

from __future__ import annotations

import time

import sqlalchemy as sa
from servers import events_db_fixture  # noqa: F401 (fixture)

from callquality.config import Settings
from callquality.domain.sample import DirectionStats, MediaStats, Sample
from callquality.ingest.items import IngestItem
from callquality.service import sweep
from callquality.service.ingest import ingest
from callquality.store.db import create_store_engine, migrate, write_transaction
from callquality.store.keys import create_api_key


def _item(i: int, room: str, participant: str, ts: int) -> IngestItem:
    audio = MediaStats(recv=DirectionStats(packets=250, packets_lost=0, jitter_ms=5.0))
    return IngestItem(index=i, room_id=room, participant_id=participant, timestamp_ms=ts,
                      sample=Sample(5000, audio=audio, codec_audio="opus"))


def test_every_idle_session_ends_when_the_watched_events_span_several_chunks(
    events_db: str,
) -> None:
    engine = create_store_engine(events_db)
    migrate(engine)
    with write_transaction(engine) as conn:
        api_key, _ = create_api_key(conn, name="chunks", now_ms=0)
    settings = Settings(database_url=events_db)
    now = int(time.time() * 1000)
    rooms = [f"chunk-room-{n}" for n in range(6)]
    sessions = []
    for room in rooms:  # 6 sessions of 3 participants: 24 watched events
        items = [_item(i, room, f"p{i}", now - 10_000) for i in range(3)]
        sessions += ingest(engine, settings, api_key, items, now).session_ids
    later = now + (settings.idle_timeout_s + 60) * 1000
    # Chunks of about 5 events: whole sessions (4 events each) of 8, 8 and 8.
    written = sweep.run(engine, settings, later, batch=5)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT session_id, webhook_type FROM events WHERE session_id IN "
            "(SELECT session_id FROM sessions WHERE room_id LIKE 'chunk-room-%') "
            "ORDER BY event_id")).all()
        still = conn.execute(sa.text(
            "SELECT count(*) FROM events WHERE watch = 1 AND session_id IN "
            "(SELECT session_id FROM sessions WHERE room_id LIKE 'chunk-room-%')")).scalar()
    engine.dispose()
    assert written == 6 * 4  # 3 participant-left and 1 session-ended per session
    assert still == 0
    for session_id in sessions:
        kinds = [k for s, k in rows if s == session_id]
        assert kinds == ["session-started", *["participant-joined"] * 3,
                         *["participant-left"] * 3, "session-ended"], kinds
