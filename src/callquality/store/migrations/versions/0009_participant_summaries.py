"""participant_summaries: one row per participant of a session, for fleet analytics.

Ingest marks a row dirty; service/summaries.py recomputes it from the samples. Sessions from
before this revision have no rows until a report of theirs arrives (docs/metrics.md, "Fleet
analytics").

Revision ID: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Frozen copy of schema.SUMMARY_DIMENSIONS at this revision.
_DIMENSIONS = (
    "browser",
    "browser_version",
    "os",
    "device",
    "sdk",
    "sdk_version",
    "connection",
    "turn_transport",
    "network",
    "country",
    "asn",
    "codec_audio",
    "codec_video",
)


def upgrade() -> None:
    op.create_table(
        "participant_summaries",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("participant_id", sa.String(200), primary_key=True),
        sa.Column("api_key", sa.String(64), nullable=False),
        sa.Column("room_id", sa.String(200), nullable=False),
        sa.Column("dirty", sa.Integer, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("start_ms", sa.BigInteger),
        sa.Column("end_ms", sa.BigInteger),
        sa.Column("day", sa.Integer),
        sa.Column("hour", sa.Integer),
        sa.Column("measured_ms", sa.BigInteger),
        sa.Column("audio_scored_ms", sa.BigInteger),
        sa.Column("audio_poor_ms", sa.BigInteger),
        sa.Column("video_scored_ms", sa.BigInteger),
        sa.Column("video_poor_ms", sa.BigInteger),
        sa.Column("audio_poor", sa.Integer),
        sa.Column("video_poor", sa.Integer),
        sa.Column("audio_mos_mean", sa.Float),
        sa.Column("audio_mos_p5", sa.Float),
        sa.Column("video_vq_mean", sa.Float),
        sa.Column("video_vq_p5", sa.Float),
        sa.Column("loss_pct_p50", sa.Float),
        sa.Column("loss_pct_p95", sa.Float),
        sa.Column("rtt_ms_p50", sa.Float),
        sa.Column("rtt_ms_p95", sa.Float),
        sa.Column("jitter_ms_p50", sa.Float),
        sa.Column("jitter_ms_p95", sa.Float),
        sa.Column("freeze_ms", sa.Float),
        sa.Column("likely_cause", sa.String(32)),
        sa.Column("audio_cause", sa.String(32)),
        sa.Column("video_cause", sa.String(32)),
        *(sa.Column(name, sa.String(200)) for name in _DIMENSIONS),
    )
    op.create_index(
        "ix_participant_summaries_key_day", "participant_summaries", ["api_key", "day"]
    )
    op.create_index(
        "ix_participant_summaries_dirty", "participant_summaries", ["dirty", "api_key"]
    )


def downgrade() -> None:
    op.drop_table("participant_summaries")
