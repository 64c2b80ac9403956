"""score_input_rollups: each minute's sums of the score inputs, per session.

The extended series averages every measured sample's score inputs per bucket; it parsed the
score_inputs JSON of every sample of the session (720,000 for a 1,000-participant hour, ten
seconds and more). Ingest now adds each sample's inputs to its minute's sums here (one row
per session and minute), and a bucket of whole minutes reads one row per minute instead.
Sessions created before this revision keep sessions.input_rollups NULL: their means come
from the samples, as before.

Revision ID: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "score_input_rollups",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True),
        sa.Column("received_ms", sa.BigInteger, nullable=False),
        sa.Column("sums", sa.Text, nullable=False),
    )
    op.add_column("sessions", sa.Column("input_rollups", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:  # SQLite rebuilds the table
        batch.drop_column("input_rollups")
    op.drop_table("score_input_rollups")
