"""Per participant of a session: what it runs on, where from, and how it is connected.

One row per (session, participant), written by ingest when an item carries a ``client``
object, the server resolves the client's address (GeoIP), or a raw report has a selected
candidate pair. The client's IP address itself is never stored (docs/api.md, "Client info").

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
        "participant_clients",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("participant_id", sa.String(200), primary_key=True),
        sa.Column("api_key", sa.String(64), nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("browser_name", sa.String(64)),
        sa.Column("browser_version", sa.String(64)),
        sa.Column("os_name", sa.String(64)),
        sa.Column("os_version", sa.String(64)),
        sa.Column("device_type", sa.String(32)),
        sa.Column("device_model", sa.String(128)),
        sa.Column("sdk_name", sa.String(64)),
        sa.Column("sdk_version", sa.String(64)),
        sa.Column("app_name", sa.String(128)),
        sa.Column("app_version", sa.String(64)),
        sa.Column("country", sa.String(8)),
        sa.Column("city", sa.String(128)),
        sa.Column("region", sa.String(128)),
        sa.Column("asn", sa.String(16)),
        sa.Column("org", sa.String(200)),
        sa.Column("candidate_type", sa.String(16)),
        sa.Column("protocol", sa.String(8)),
        sa.Column("relay_protocol", sa.String(8)),
        sa.Column("network_type", sa.String(32)),
    )


def downgrade() -> None:
    op.drop_table("participant_clients")
