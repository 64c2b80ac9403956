"""The ingest log's processors alive, so that one holding no partition yet gets its share
(docs/scaling.md).

Revision ID: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_processors",
        sa.Column("owner", sa.String(64), primary_key=True),
        sa.Column("seen_until_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ingest_processors")
