"""analytics_daily: daily pre-aggregates of participant_summaries (service/rollups.py).

Existing summaries are marked dirty (``in_rollups`` 0), so the next refresh counts them in.

Revision ID: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_POOR = sa.text("audio_poor_ms > 0 OR video_poor_ms > 0")


def upgrade() -> None:
    op.create_table(
        "analytics_daily",
        sa.Column("api_key", sa.String(64), primary_key=True),
        sa.Column("day", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("dimension", sa.String(16), primary_key=True),
        sa.Column("value", sa.String(200), primary_key=True),
        sa.Column("sessions", sa.BigInteger, nullable=False),
        sa.Column("measured_ms", sa.BigInteger, nullable=False),
        sa.Column("poor", sa.BigInteger, nullable=False),
        sa.Column("poor_ms", sa.BigInteger, nullable=False),
        sa.Column("scored_ms", sa.BigInteger, nullable=False),
        sa.Column("audio_mos", sa.LargeBinary, nullable=False),
        sa.Column("video_vq", sa.LargeBinary, nullable=False),
        sa.Column("causes", sa.Text, nullable=False),
    )
    op.add_column(
        "participant_summaries",
        sa.Column("in_rollups", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index(
        "ix_participant_summaries_poor", "participant_summaries", ["api_key", "day"],
        sqlite_where=_POOR, postgresql_where=_POOR,
    )
    op.execute("UPDATE participant_summaries SET dirty = dirty + 1 WHERE start_ms IS NOT NULL")


def downgrade() -> None:
    op.drop_index("ix_participant_summaries_poor", "participant_summaries")
    with op.batch_alter_table("participant_summaries") as batch:
        batch.drop_column("in_rollups")
    op.drop_table("analytics_daily")
