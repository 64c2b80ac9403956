"""Events (the outbox), webhook endpoints and their deliveries, alert rules and states.

Revision ID: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _partial(name: str, table: str, column: str) -> None:
    where = sa.text(f"{column} = 1")
    op.create_index(name, table, [column], sqlite_where=where, postgresql_where=where)


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                  primary_key=True, autoincrement=True),
        sa.Column("event_key", sa.String(600), nullable=False, unique=True),
        sa.Column("api_key", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(64)),
        sa.Column("participant_id", sa.String(200)),
        sa.Column("webhook_type", sa.String(40), nullable=False),
        sa.Column("occurred_ms", sa.BigInteger, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("endpoint_ids", sa.Text),
        sa.Column("undispatched", sa.Integer),
        sa.Column("watch", sa.Integer),
        sa.Column("span_start_ms", sa.BigInteger),
    )
    _partial("ix_events_undispatched", "events", "undispatched")
    _partial("ix_events_watch", "events", "watch")
    op.create_index("ix_events_session", "events", ["session_id", "webhook_type"])
    op.create_index("ix_events_created", "events", ["created_ms"])

    op.create_table(
        "webhook_endpoints",
        sa.Column("endpoint_id", sa.String(40), primary_key=True),
        sa.Column("api_key", sa.String(64), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("webhook_types", sa.Text, nullable=False),
        sa.Column("description", sa.String(500)),
        sa.Column("enabled", sa.Integer, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until_ms", sa.BigInteger),
        sa.Column("blocked_until_ms", sa.BigInteger),
    )
    op.create_index("ix_webhook_endpoints_key", "webhook_endpoints", ["api_key"])

    op.create_table(
        "webhook_deliveries",
        sa.Column("endpoint_id", sa.String(40), primary_key=True),
        sa.Column("event_id", sa.BigInteger, primary_key=True),
        sa.Column("api_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("next_attempt_ms", sa.BigInteger),
        sa.Column("first_attempt_ms", sa.BigInteger),
        sa.Column("last_attempt_ms", sa.BigInteger),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.String(500)),
        sa.Column("delivered_ms", sa.BigInteger),
    )
    op.create_index(
        "ix_webhook_deliveries_queue", "webhook_deliveries", ["endpoint_id", "status", "event_id"]
    )
    op.create_index("ix_webhook_deliveries_created", "webhook_deliveries", ["created_ms"])

    op.create_table(
        "alert_rules",
        sa.Column("rule_id", sa.String(40), primary_key=True),
        sa.Column("api_key", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("metric", sa.String(40), nullable=False),
        sa.Column("operator", sa.String(4), nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("window_s", sa.Integer, nullable=False),
        sa.Column("hysteresis", sa.Float, nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("room_id", sa.String(200)),
        sa.Column("participant_id", sa.String(200)),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("endpoint_ids", sa.Text, nullable=False),
        sa.Column("enabled", sa.Integer, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_alert_rules_key", "alert_rules", ["api_key"])

    op.create_table(
        "alert_states",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("participant_id", sa.String(200), primary_key=True),
        sa.Column("rule_id", sa.String(40), primary_key=True),
        sa.Column("api_key", sa.String(64), nullable=False),
        sa.Column("firing", sa.Integer, nullable=False),
        sa.Column("fired_count", sa.Integer, nullable=False),
        sa.Column("fired_ms", sa.BigInteger),
        sa.Column("resolved_ms", sa.BigInteger),
        sa.Column("value", sa.Float),
        sa.Column("judged_ms", sa.BigInteger),
    )
    _partial("ix_alert_states_firing", "alert_states", "firing")


def downgrade() -> None:
    for table in ("alert_states", "alert_rules", "webhook_deliveries", "webhook_endpoints",
                  "events"):
        op.drop_table(table)
