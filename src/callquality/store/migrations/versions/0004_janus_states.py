"""The state POST /v2/ingest/janus keeps between the events of a Janus session.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "janus_states",
        sa.Column("api_key", sa.String(64), primary_key=True),
        sa.Column("janus_session_id", sa.String(32), primary_key=True),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
    )
    op.create_index("ix_janus_states_updated", "janus_states", ["updated_ms"])


def downgrade() -> None:
    op.drop_index("ix_janus_states_updated", table_name="janus_states")
    op.drop_table("janus_states")
