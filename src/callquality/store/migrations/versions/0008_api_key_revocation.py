"""api_keys.revoked_ms: a revoked key's tokens are refused (401) by every API process.

Indexed so that the newest revocation, which every authenticator reads on each request to
know whether its cached secrets still hold (api/auth.py), is one index probe.

Revision ID: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("revoked_ms", sa.BigInteger))
    op.create_index("ix_api_keys_revoked", "api_keys", ["revoked_ms"])


def downgrade() -> None:
    op.drop_index("ix_api_keys_revoked", table_name="api_keys")
    op.drop_column("api_keys", "revoked_ms")
