"""Minute rollups of samples (per participant and per session); sessions.rollup_origin_ms.

Sessions that exist before this revision keep rollup_origin_ms NULL: their stats are computed
from the samples alone, as before. Sessions created from now on have rollups from their first
sample (docs/performance.md).

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen copy of the rollup columns at this revision (schema.ROLLUP_MEASURES).
_COLUMNS = (
    ("audio_send_packets_sum", sa.BigInteger),
    ("audio_send_lost_sum", sa.BigInteger),
    ("audio_send_bitrate_wsum", sa.Float),
    ("audio_send_bitrate_w", sa.BigInteger),
    ("audio_send_jitter_sum", sa.Float),
    ("audio_send_jitter_n", sa.BigInteger),
    ("audio_recv_packets_sum", sa.BigInteger),
    ("audio_recv_lost_sum", sa.BigInteger),
    ("audio_recv_bitrate_wsum", sa.Float),
    ("audio_recv_bitrate_w", sa.BigInteger),
    ("audio_recv_jitter_sum", sa.Float),
    ("audio_recv_jitter_n", sa.BigInteger),
    ("video_send_packets_sum", sa.BigInteger),
    ("video_send_lost_sum", sa.BigInteger),
    ("video_send_bitrate_wsum", sa.Float),
    ("video_send_bitrate_w", sa.BigInteger),
    ("video_send_jitter_sum", sa.Float),
    ("video_send_jitter_n", sa.BigInteger),
    ("video_recv_packets_sum", sa.BigInteger),
    ("video_recv_lost_sum", sa.BigInteger),
    ("video_recv_bitrate_wsum", sa.Float),
    ("video_recv_bitrate_w", sa.BigInteger),
    ("video_recv_jitter_sum", sa.Float),
    ("video_recv_jitter_n", sa.BigInteger),
    ("audio_send_rtt_sum", sa.Float),
    ("audio_send_rtt_n", sa.BigInteger),
    ("video_send_rtt_sum", sa.Float),
    ("video_send_rtt_n", sa.BigInteger),
    ("video_send_width_max", sa.BigInteger),
    ("video_send_height_max", sa.BigInteger),
    ("video_send_frame_rate_sum", sa.Float),
    ("video_send_frame_rate_n", sa.BigInteger),
    ("video_recv_width_max", sa.BigInteger),
    ("video_recv_height_max", sa.BigInteger),
    ("video_recv_frame_rate_sum", sa.Float),
    ("video_recv_frame_rate_n", sa.BigInteger),
    ("video_recv_freezes_sum", sa.BigInteger),
    ("video_recv_freeze_ms_sum", sa.Float),
    ("audio_recv_concealed_sum", sa.Float),
    ("audio_recv_concealed_n", sa.BigInteger),
    ("audio_mos_sum", sa.Float),
    ("audio_mos_n", sa.BigInteger),
    ("video_vq_sum", sa.Float),
    ("video_vq_n", sa.BigInteger),
)

# ... and of the measures of session_rollups (<name>__sum, <name>__avg).
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


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("rollup_origin_ms", sa.BigInteger))
    op.create_table(
        "sample_rollups",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("participant_id", sa.String(200), primary_key=True),
        sa.Column("peer_connection_id", sa.String(200), primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True),
        sa.Column("received_ms", sa.BigInteger, nullable=False),
        *(sa.Column(name, type_()) for name, type_ in _COLUMNS),
    )
    op.create_table(
        "session_rollups",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True),
        sa.Column("received_ms", sa.BigInteger, nullable=False),
        sa.Column("participants", sa.BigInteger, nullable=False),
        *(
            sa.Column(f"{name}__{agg}", sa.Float)
            for name in _MEASURES
            for agg in ("sum", "avg")
        ),
    )


def downgrade() -> None:
    op.drop_table("session_rollups")
    op.drop_table("sample_rollups")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("rollup_origin_ms")
