"""The schema, in SQLAlchemy Core. Alembic migrations (store/migrations) create it.

Every table but ``api_keys`` carries ``session_id`` in its primary key, so that a distributed
PostgreSQL (Citus) can shard them all by ``session_id`` (docs/scaling.md).
"""

from __future__ import annotations

from dataclasses import fields

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from callquality.ingest.sample import DirectionStats

metadata = MetaData()

KINDS = ("audio", "video")
DIRECTIONS = ("send", "recv")
_STRING_FIELDS = {"quality_limitation_reason"}
_INT_FIELDS = {"packets", "packets_lost", "width", "height", "freeze_count"}
STAT_FIELDS = tuple(f.name for f in fields(DirectionStats))


def stat_column(kind: str, direction: str, field: str) -> str:
    """The samples column of one field of one kind and direction: ``audio_send_rtt_ms``."""
    return f"{kind}_{direction}_{field}"


def _stat_columns() -> list[Column[object]]:
    columns: list[Column[object]] = []
    for kind in KINDS:
        for direction in DIRECTIONS:
            for name in STAT_FIELDS:
                kind_type = (
                    String(32)
                    if name in _STRING_FIELDS
                    else BigInteger()
                    if name in _INT_FIELDS
                    else Float()
                )
                columns.append(Column(stat_column(kind, direction, name), kind_type))
    return columns


api_keys = Table(
    "api_keys",
    metadata,
    Column("api_key", String(64), primary_key=True),
    Column("secret", String(128), nullable=False),
    Column("name", String(200)),
    Column("created_ms", BigInteger, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("api_key", String(64), nullable=False),
    Column("room_id", String(200), nullable=False),
    Column("custom_room_id", String(200)),
    Column("start_ms", BigInteger, nullable=False),
    Column("last_report_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger),  # set by POST /v2/sessions/end; NULL while open
    Index("ix_sessions_key_start", "api_key", "start_ms"),
    Index("ix_sessions_key_room", "api_key", "room_id", "start_ms"),
)

participants = Table(
    "participants",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("participant_id", String(200), primary_key=True),
    Column("api_key", String(64), nullable=False),
    Column("name", String(200)),
)

participant_intervals = Table(
    "participant_intervals",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("participant_id", String(200), primary_key=True),
    Column("start_ms", BigInteger, primary_key=True),
    Column("end_ms", BigInteger, nullable=False),
)

# The previous cumulative counters of one (participant, peer connection), for raw reports.
stream_states = Table(
    "stream_states",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("participant_id", String(200), primary_key=True),
    Column("peer_connection_id", String(200), primary_key=True),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("state", Text, nullable=False),
)

# One row per accepted item: the idempotency ledger and the per-interval measurements.
# A raw report that only sets the baseline (the first of a stream) has a row with NULL stats.
samples = Table(
    "samples",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("participant_id", String(200), primary_key=True),
    Column("peer_connection_id", String(200), primary_key=True),
    Column("timestamp_ms", BigInteger, primary_key=True),
    Column("received_ms", BigInteger, nullable=False),
    Column("interval_ms", Integer),
    Column("codec_audio", String(32)),
    Column("codec_video", String(32)),
    Column("audio_mos", Float),
    Column("video_vq", Float),
    Column("score_inputs", Text),
    *_stat_columns(),
    Index("ix_samples_received", "received_ms"),
)
