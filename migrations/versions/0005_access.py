"""Access control: a trainee's write state now knows every tutor and the departments
they tutor in, so snapshots of the old shape are dropped (a cache: every event stays, and
trainees load by replay until their next snapshot).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM dualtrack_snapshots")


def downgrade() -> None:
    op.execute("DELETE FROM dualtrack_snapshots")
