"""session_rollups_pending: the minutes whose session rollup is rewritten later.

Ingest rewrote a session's minute rollup (steps 2 and 3 of the stats query, from all of the
minute's participant rows) on every request that touched it: twelve times a minute for a
participant reporting every 5 s. Now the newest minute of a session is only marked pending
here, rewritten once a later minute arrives, and computed at read time meanwhile
(docs/performance.md). Existing rows of session_rollups stay valid: every minute written
before this revision was rewritten by the request that last touched it.

Revision ID: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_rollups_pending",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True),
    )


def downgrade() -> None:
    # Before this revision session_rollups held every minute: rewrite the pending ones first.
    from callquality.store.rollups import refresh_minutes

    conn = op.get_bind()
    pending: dict[str, set[int]] = {}
    for session_id, bucket in conn.execute(
        sa.text("SELECT session_id, bucket FROM session_rollups_pending")
    ):
        pending.setdefault(session_id, set()).add(int(bucket))
    refresh_minutes(conn, pending)
    op.drop_table("session_rollups_pending")
