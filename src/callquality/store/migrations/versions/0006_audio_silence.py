"""Samples: silent concealment and the share of received audio that carried no speech.

``<kind>_<direction>_silent_concealed_ratio`` (silentConcealedSamples / totalSamplesReceived)
and ``<kind>_<direction>_muted_ratio`` (the share of received samples on streams whose sender
was muted or silent) tell a muted or DTX interval from a broken one; only the received audio
ones are filled (the columns follow domain.sample.DirectionStats, one per kind and
direction). Existing rows keep NULL: unknown, as for any field a source did not report.

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_COLUMNS = tuple(
    f"{kind}_{direction}_{field}"
    for kind in ("audio", "video")
    for direction in ("send", "recv")
    for field in ("silent_concealed_ratio", "muted_ratio")
)


def upgrade() -> None:
    with op.batch_alter_table("samples") as batch:
        for name in _COLUMNS:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("samples") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)
