"""The webhook tables (created by migration 0004). Times are stored in UTC."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("secret", sa.String(200), nullable=False),
    sa.Column("types", sa.JSON, nullable=False),
    sa.Column("base_id", sa.String(200)),
    sa.Column("description", sa.String(500)),
    sa.Column("state", sa.String(16), nullable=False),
    # The cursor: every event up to this position has been handed to the delivery log
    # (or did not match). It moves in the transaction that records the outcome.
    sa.Column("position", SEQUENCE, nullable=False),
    sa.Column("registered_at", _when(), nullable=False),
    sa.Column("registered_by", sa.String(200), nullable=False),
    sa.Column("changed_at", _when(), nullable=False),
    sa.Column("changed_by", sa.String(200), nullable=False),
)

changes = sa.Table(
    "webhook_endpoint_changes",
    metadata,
    sa.Column("id", SEQUENCE, primary_key=True, autoincrement=True),
    sa.Column("endpoint_id", sa.String(36), sa.ForeignKey("webhook_endpoints.id"),
              nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", _when(), nullable=False),
    sa.Column("detail", sa.String(500)),
)

deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", SEQUENCE, primary_key=True, autoincrement=True),
    sa.Column("endpoint_id", sa.String(36), sa.ForeignKey("webhook_endpoints.id"),
              nullable=False),
    sa.Column("position", SEQUENCE, nullable=False),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("trainee_id", sa.String(36)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("enqueued_at", _when(), nullable=False),
    sa.Column("first_attempt_at", _when()),
    sa.Column("last_attempt_at", _when()),
    sa.Column("next_attempt_at", _when()),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.String(500)),
    sa.Column("delivered_at", _when()),
    sa.Column("dead_at", _when()),
    sa.UniqueConstraint("endpoint_id", "position", name="webhook_deliveries_once"),
)

# Endpoint states.
ACTIVE, PAUSED, REMOVED = "ACTIVE", "PAUSED", "REMOVED"
# Delivery states.
PENDING, DELIVERED, DEAD = "PENDING", "DELIVERED", "DEAD"

# Receipts of webhook changes sent with an Idempotency-Key (service.webhooks.receipts).
receipts = sa.Table(
    "webhook_request_receipts",
    metadata,
    sa.Column("receipt_id", sa.String(36), primary_key=True),
    sa.Column("request_digest", sa.String(64), nullable=False),
    sa.Column("outcome", sa.JSON, nullable=False),
    sa.Column("recorded_at", _when(), nullable=False),
)
