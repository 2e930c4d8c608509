"""The regulations: each trainee's regime, credited months, completion-exam eligibility
and revocations in the read models.

The write state of a trainee grew to hold every fact the rules read, so snapshots of the
old shape are dropped (they are a cache: every event stays, and trainees load by replay
until their next snapshot). The read models are emptied with their tracking record, so
the next projector run (`dualtrack serve`, `project` or `rebuild`) recomputes every
verdict under the rules.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NAME = sa.String(200)
READ_MODELS = (
    "rm_audit_events",
    "rm_certificates",
    "rm_academic_records",
    "rm_assessments",
    "rm_rotation_entries",
    "rm_rotations",
    "rm_tutor_assignments",
    "rm_trainees",
)


def _start_projections_afresh() -> None:
    for table in READ_MODELS:
        op.execute(f"DELETE FROM {table}")
    op.execute("DELETE FROM projection_tracking")
    op.execute("DELETE FROM dualtrack_snapshots")


def upgrade() -> None:
    _start_projections_afresh()
    with op.batch_alter_table("rm_trainees") as table:
        table.add_column(sa.Column("standard_id", NAME))
        table.add_column(sa.Column("policy_id", NAME))
        table.add_column(sa.Column("credited_prior_months", sa.Float, nullable=False))
        table.add_column(sa.Column("completion_exam_unmet", sa.JSON, nullable=False))
    with op.batch_alter_table("rm_certificates") as table:
        table.add_column(sa.Column("revocation_reason", sa.Text))


def downgrade() -> None:
    _start_projections_afresh()
    with op.batch_alter_table("rm_certificates") as table:
        table.drop_column("revocation_reason")
    with op.batch_alter_table("rm_trainees") as table:
        for column in ("completion_exam_unmet", "credited_prior_months", "policy_id"):
            table.drop_column(column)
        table.drop_column("standard_id")
