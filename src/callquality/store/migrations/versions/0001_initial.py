"""Initial schema: api keys, sessions, participants, intervals, stream states, samples.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copy of the sample fields at this revision (later revisions add columns explicitly).
_FIELDS = (
    ("packets", sa.BigInteger),
    ("packets_lost", sa.BigInteger),
    ("bitrate_bps", sa.Float),
    ("rtt_ms", sa.Float),
    ("jitter_ms", sa.Float),
    ("width", sa.BigInteger),
    ("height", sa.BigInteger),
    ("frame_rate", sa.Float),
    ("freeze_count", sa.BigInteger),
    ("freeze_duration_ms", sa.Float),
    ("concealed_ratio", sa.Float),
    ("quality_limitation_reason", lambda: sa.String(32)),
    ("available_outgoing_bitrate_bps", sa.Float),
)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("api_key", sa.String(64), primary_key=True),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("api_key", sa.String(64), nullable=False),
        sa.Column("room_id", sa.String(200), nullable=False),
        sa.Column("custom_room_id", sa.String(200)),
        sa.Column("start_ms", sa.BigInteger, nullable=False),
        sa.Column("last_report_ms", sa.BigInteger, nullable=False),
        sa.Column("end_ms", sa.BigInteger),
    )
    op.create_index("ix_sessions_key_start", "sessions", ["api_key", "start_ms"])
    op.create_index("ix_sessions_key_room", "sessions", ["api_key", "room_id", "start_ms"])
    op.create_table(
        "participants",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("participant_id", sa.String(200), primary_key=True),
        sa.Column("api_key", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200)),
    )
    op.create_table(
        "participant_intervals",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("participant_id", sa.String(200), primary_key=True),
        sa.Column("start_ms", sa.BigInteger, primary_key=True),
        sa.Column("end_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "stream_states",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("participant_id", sa.String(200), primary_key=True),
        sa.Column("peer_connection_id", sa.String(200), primary_key=True),
        sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
    )
    stat_columns = [
        sa.Column(f"{kind}_{direction}_{name}", type_())
        for kind in ("audio", "video")
        for direction in ("send", "recv")
        for name, type_ in _FIELDS
    ]
    op.create_table(
        "samples",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("participant_id", sa.String(200), primary_key=True),
        sa.Column("peer_connection_id", sa.String(200), primary_key=True),
        sa.Column("timestamp_ms", sa.BigInteger, primary_key=True),
        sa.Column("received_ms", sa.BigInteger, nullable=False),
        sa.Column("interval_ms", sa.Integer),
        sa.Column("codec_audio", sa.String(32)),
        sa.Column("codec_video", sa.String(32)),
        sa.Column("audio_mos", sa.Float),
        sa.Column("video_vq", sa.Float),
        sa.Column("score_inputs", sa.Text),
        *stat_columns,
    )
    op.create_index("ix_samples_received", "samples", ["received_ms"])


def downgrade() -> None:
    for table in (
        "samples",
        "stream_states",
        "participant_intervals",
        "participants",
        "sessions",
        "api_keys",
    ):
        op.drop_table(table)
