"""The outbox costs ingest one statement on a request that starts something, and none on
the others (counted on the database connection, both backends)."""

from __future__ import annotations

import re
import time
from typing import Any

import sqlalchemy as sa
from servers import events_db_fixture  # noqa: F401 (fixture)

from callquality.config import Settings
from callquality.domain.sample import DirectionStats, MediaStats, Sample
from callquality.ingest.items import IngestItem
from callquality.service.ingest import ingest
from callquality.store.db import create_store_engine, migrate, write_transaction
from callquality.store.keys import create_api_key

EVENTS = re.compile(r"\bevents\b", re.I)


def _item(i: int, participant: str, ts: int) -> IngestItem:
    audio = MediaStats(recv=DirectionStats(packets=250, packets_lost=0, jitter_ms=5.0))
    return IngestItem(index=i, room_id="cost-room", participant_id=participant,
                      timestamp_ms=ts, sample=Sample(5000, audio=audio, codec_audio="opus"))


def test_the_outbox_is_one_statement_when_a_request_starts_something_else_none(
    events_db: str,
) -> None:
    engine = create_store_engine(events_db)
    migrate(engine)
    with write_transaction(engine) as conn:
        api_key, _ = create_api_key(conn, name="cost", now_ms=0)
    statements: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def note(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    now = int(time.time() * 1000)
    settings = Settings(database_url=events_db)
    ingest(engine, settings, api_key, [_item(0, "alice", now - 5000),
                                       _item(1, "bob", now - 5000)], now)
    first = [s for s in statements if EVENTS.search(s)]
    assert len(first) == 1 and first[0].lstrip().upper().startswith("INSERT INTO EVENTS")
    with engine.connect() as conn:
        kinds = [r[0] for r in conn.execute(sa.text(
            "SELECT webhook_type FROM events ORDER BY event_id"))]
    assert kinds == ["session-started", "participant-joined", "participant-joined"]
    statements.clear()
    ingest(engine, settings, api_key, [_item(0, "alice", now), _item(1, "bob", now)], now)
    assert [s for s in statements if EVENTS.search(s)] == []  # nothing started: no statement
    engine.dispose()
