"""score_input_rollups: each minute's sums of the score inputs, per session.

The extended series averages every measured sample's score inputs per bucket; it parsed the
score_inputs JSON of every sample of the session (720,000 for a 1,000-participant hour, ten
seconds and more). Ingest now adds each sample's inputs to its minute's sums here, and a
bucket of whole minutes reads a few rows per minute instead. Sessions ingested before this
revision have no rows here: their means come from the samples, as before
(sessions.score_rollups_from_ms says from when a session has them).

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "score_input_rollups",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("received_ms", sa.BigInteger, nullable=False),
        sa.Column("total", sa.Float, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.add_column("sessions", sa.Column("input_rollups", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:  # SQLite rebuilds the table
        batch.drop_column("input_rollups")
    op.drop_table("score_input_rollups")
