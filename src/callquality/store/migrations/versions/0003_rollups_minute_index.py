"""Index sample_rollups by (session, minute).

Ingest recomputes the session_rollups rows of the minutes a request touched from the
sample_rollups rows of those minutes; without this index that read went through the
primary key's session prefix and scanned all of the session's participant-minutes (60,000
for a 1,000-participant hour), on every request of a large session.

Revision ID: 0003
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_sample_rollups_minute", "sample_rollups", ["session_id", "bucket"])


def downgrade() -> None:
    op.drop_index("ix_sample_rollups_minute", table_name="sample_rollups")
