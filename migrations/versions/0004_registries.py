"""Registries: durable positions of the log's consumers (the NATS relay) and webhooks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # One row per consumer that keeps its own place in the log (e.g. the NATS relay):
    # the last position it has handed on, moved forward only after the hand-off succeeded.
    op.create_table(
        "consumer_positions",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("position", SEQUENCE, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    _webhooks()


def _webhooks() -> None:
    """Webhook endpoints, their cursors, and their delivery log (see service/webhooks)."""
    # An endpoint: where to POST, what to send, and its cursor: the position up to which
    # every event of the log has been handed to its delivery log (or did not match).
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("types", sa.JSON, nullable=False),
        sa.Column("base_id", sa.String(200)),
        sa.Column("description", sa.String(500)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("position", SEQUENCE, nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(200), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
    )
    # Who registered, paused, resumed, removed or redelivered, and when.
    op.create_table(
        "webhook_endpoint_changes",
        sa.Column("id", SEQUENCE, primary_key=True, autoincrement=True),
        sa.Column(
            "endpoint_id", sa.String(36), sa.ForeignKey("webhook_endpoints.id"), nullable=False
        ),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.String(500)),
    )
    op.create_index(
        "webhook_endpoint_changes_by_endpoint", "webhook_endpoint_changes", ["endpoint_id", "id"]
    )
    # One row per (endpoint, matching event): PENDING until the receiver answered 2xx
    # (DELIVERED) or the retry window ran out (DEAD).
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", SEQUENCE, primary_key=True, autoincrement=True),
        sa.Column(
            "endpoint_id", sa.String(36), sa.ForeignKey("webhook_endpoints.id"), nullable=False
        ),
        sa.Column("position", SEQUENCE, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("trainee_id", sa.String(36)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.String(500)),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("dead_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("endpoint_id", "position", name="webhook_deliveries_once"),
    )
    op.create_index(
        "webhook_deliveries_queue",
        "webhook_deliveries",
        ["endpoint_id", "state", "trainee_id", "position"],
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoint_changes")
    op.drop_table("webhook_endpoints")
    op.drop_table("consumer_positions")
