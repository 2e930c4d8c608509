"""Receipts of webhook changes sent with an Idempotency-Key (service.webhooks.receipts).
Trainee commands keep theirs in the event log, beside their events.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_request_receipts",
        sa.Column("receipt_id", sa.String(36), primary_key=True),
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.Column("outcome", sa.JSON, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webhook_request_receipts")
