"""Summaries due: the trainees whose per-trainee summary a rebuild has deferred (see
projections.tables.summaries_due). Empty whenever the read models are caught up.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rm_summaries_due",
        sa.Column("trainee_id", sa.String(36), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("rm_summaries_due")
