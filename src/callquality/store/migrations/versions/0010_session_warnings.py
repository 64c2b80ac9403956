"""An imported session's warnings (docs/dumps.md).

Revision ID: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_warnings",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("warnings", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("session_warnings")
