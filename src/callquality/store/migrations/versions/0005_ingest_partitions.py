"""The ingest log's partitions: lease and checkpoint of each (docs/scaling.md).

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_partitions",
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("owner", sa.String(64)),
        sa.Column("lease_until_ms", sa.BigInteger, nullable=False),
        sa.Column("checkpoint_seq", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ingest_partitions")
