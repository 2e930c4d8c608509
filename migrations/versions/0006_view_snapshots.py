"""View snapshots: persisted, authenticated segments of the as-of replay (derived data).

Each row holds what the live projection's handlers changed in one trainee's read-model
rows between two versions of its stream, and the recorded times of those events, both
encrypted and bound to the trainee, the versions and the chained event hash (see
projections/view_snapshots.py). Deleting rows loses nothing but speed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "view_snapshots",
        sa.Column("trainee_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("base_version", sa.Integer, nullable=False),
        sa.Column("format", sa.String(64), nullable=False),
        sa.Column("event_hash", sa.String(64), nullable=False),
        sa.Column("timeline", sa.LargeBinary, nullable=False),
        sa.Column("delta", sa.LargeBinary, nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("view_snapshots")
