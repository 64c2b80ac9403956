"""series_rollups: a session's series done bucket by bucket at every common interval.

A session's series at any interval but 60 s recombined the participants' minute rollups, or
read every sample for intervals under a minute (seconds for a 1,000-participant hour), and
the extended series read every sample's RTT and jitter. Ingest now writes, for each interval
of SERIES_INTERVALS_S, a bucket's steps 1-3, percentiles and score-input sums once the bucket
is no longer the session's newest (or the session ends). Sessions created before this
revision keep sessions.series_rollups NULL: their series are computed when read, as before.

Revision ID: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# Frozen copy of the measures at this revision (schema.ROLLUP_MEASURES: <name>__sum and
# <name>__avg) and of the percentiles (schema.SERIES_PERCENTILES: <name>_p50, <name>_p95).
_MEASURES = (
    "audio_send_packets",
    "audio_send_lost",
    "audio_send_bitrate",
    "audio_send_jitter",
    "audio_recv_packets",
    "audio_recv_lost",
    "audio_recv_bitrate",
    "audio_recv_jitter",
    "video_send_packets",
    "video_send_lost",
    "video_send_bitrate",
    "video_send_jitter",
    "video_recv_packets",
    "video_recv_lost",
    "video_recv_bitrate",
    "video_recv_jitter",
    "audio_send_rtt",
    "video_send_rtt",
    "video_send_width",
    "video_send_height",
    "video_send_frame_rate",
    "video_recv_width",
    "video_recv_height",
    "video_recv_frame_rate",
    "video_recv_freezes",
    "video_recv_freeze_ms",
    "audio_recv_concealed",
    "audio_mos",
    "video_vq",
)
_PERCENTILES = ("audio_rtt", "video_rtt", "audio_jitter", "video_jitter")


def upgrade() -> None:
    op.create_table(
        "series_rollups",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("interval_s", sa.Integer, primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True),
        sa.Column("received_ms", sa.BigInteger, nullable=False),
        sa.Column("participants", sa.BigInteger, nullable=False),
        *(sa.Column(f"{name}__{agg}", sa.Float()) for name in _MEASURES for agg in ("sum", "avg")),
        *(sa.Column(f"{name}_{q}", sa.Float()) for name in _PERCENTILES for q in ("p50", "p95")),
        sa.Column("score_inputs", sa.Text),
        sa.Column("runs", sa.LargeBinary),
    )
    op.create_table(
        "series_rollups_pending",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("interval_s", sa.Integer, primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True),
    )
    op.add_column("sessions", sa.Column("series_rollups", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:  # SQLite rebuilds the table
        batch.drop_column("series_rollups")
    op.drop_table("series_rollups_pending")
    op.drop_table("series_rollups")
