"""The event store, the projection tracking table, and the first read models.

The event-store tables match what eventsourcing-sqlalchemy 1.0 defines for an
application named DualTrack; the library is told not to create tables itself.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy_utils.types.uuid import UUIDType

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ID = sa.String(36)
NAME = sa.String(200)


def upgrade() -> None:
    op.create_table(
        "dualtrack_events",
        sa.Column("id", SEQUENCE, primary_key=True, autoincrement=True),
        sa.Column("originator_id", UUIDType(), nullable=False),
        sa.Column("originator_version", SEQUENCE, nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
    )
    op.create_index(
        "dualtrack_events_aggregate_idx",
        "dualtrack_events",
        ["originator_id", "originator_version"],
        unique=True,
    )
    op.create_table(
        "dualtrack_snapshots",
        sa.Column("originator_id", UUIDType(), primary_key=True),
        sa.Column("originator_version", SEQUENCE, primary_key=True),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "projection_tracking",
        sa.Column("application_name", sa.String(32), primary_key=True),
        sa.Column("notification_id", SEQUENCE),
    )
    _read_models()


def _read_models() -> None:
    when = sa.DateTime(timezone=True)
    op.create_table(
        "rm_trainees",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", NAME, nullable=False),
        sa.Column("pathway", sa.String(32), nullable=False),
        sa.Column("degree_category", sa.String(32), nullable=False),
        sa.Column("bachelor_major", NAME, nullable=False),
        sa.Column("licensed_at_enrollment", sa.Boolean, nullable=False),
        sa.Column("holds_residency_certificate", sa.Boolean, nullable=False),
        sa.Column("prior_training_months", sa.Float, nullable=False),
        sa.Column("specialty", NAME, nullable=False),
        sa.Column("base_id", NAME, nullable=False),
        sa.Column("university", NAME, nullable=False),
        sa.Column("cohort", sa.Integer, nullable=False),
        sa.Column("enrolled_on", sa.Date, nullable=False),
        sa.Column("stage", sa.Integer, nullable=False),
        sa.Column("clinical_months", sa.Float, nullable=False),
        sa.Column("resident_duty_months", sa.Float, nullable=False),
        sa.Column("handbook_complete", sa.Boolean, nullable=False),
        sa.Column("handbook_missing", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("last_position", sa.BigInteger, nullable=False),
    )
    op.create_index("rm_trainees_listing", "rm_trainees", ["base_id", "specialty", "cohort"])
    op.create_table(
        "rm_tutor_assignments",
        sa.Column("trainee_id", ID, primary_key=True),
        sa.Column("event_version", sa.Integer, primary_key=True),
        sa.Column("tutor_id", NAME, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("department", NAME),
        sa.Column("assigned_on", sa.Date, nullable=False),
    )
    op.create_table(
        "rm_rotations",
        sa.Column("id", ID, primary_key=True),
        sa.Column("trainee_id", ID, nullable=False),
        sa.Column("department", NAME, nullable=False),
        sa.Column("stage", sa.Integer, nullable=False),
        sa.Column("start_on", sa.Date, nullable=False),
        sa.Column("end_on", sa.Date, nullable=False),
        sa.Column("tutor_id", NAME),
        sa.Column("resident_duty", sa.Boolean, nullable=False),
        sa.Column("completed_on", sa.Date),
    )
    op.create_index("ix_rm_rotations_trainee_id", "rm_rotations", ["trainee_id"])
    op.create_table(
        "rm_rotation_entries",
        sa.Column("id", ID, primary_key=True),
        sa.Column("trainee_id", ID, nullable=False),
        sa.Column("rotation_id", ID, nullable=False),
        sa.Column("event_version", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("recorded_at", when, nullable=False),
        sa.Column("late", sa.Boolean, nullable=False),
        sa.Column("signed_by", NAME),
        sa.Column("signed_at", when),
        sa.Column("retracted", sa.Boolean, nullable=False),
        sa.Column("retraction_reason", sa.Text),
    )
    op.create_index("ix_rm_rotation_entries_trainee_id", "rm_rotation_entries", ["trainee_id"])
    op.create_index("ix_rm_rotation_entries_rotation_id", "rm_rotation_entries", ["rotation_id"])
    op.create_table(
        "rm_assessments",
        sa.Column("id", ID, primary_key=True),
        sa.Column("trainee_id", ID, nullable=False),
        sa.Column("event_version", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("assessor_id", NAME),
        sa.Column("rotation_id", ID),
        sa.Column("overall", sa.Integer),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("ratings", sa.JSON),
    )
    op.create_index("ix_rm_assessments_trainee_id", "rm_assessments", ["trainee_id"])
    op.create_table(
        "rm_academic_records",
        sa.Column("trainee_id", ID, primary_key=True),
        sa.Column("event_version", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("passed", sa.Boolean),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_table(
        "rm_certificates",
        sa.Column("trainee_id", ID, primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("number", sa.String(64)),
        sa.Column("granted_on", sa.Date),
        sa.Column("unmet", sa.JSON, nullable=False),
    )
    op.create_table(
        "rm_audit_events",
        sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("event_id", ID, nullable=False, unique=True),
        sa.Column("originator_id", ID, nullable=False),
        sa.Column("trainee_id", ID),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("occurred_on", sa.Date),
        sa.Column("recorded_at", when, nullable=False),
        sa.Column("actor", NAME),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index(
        "rm_audit_events_by_trainee", "rm_audit_events", ["trainee_id", "position"]
    )


def downgrade() -> None:
    for table in (
        "rm_audit_events",
        "rm_certificates",
        "rm_academic_records",
        "rm_assessments",
        "rm_rotation_entries",
        "rm_rotations",
        "rm_tutor_assignments",
        "rm_trainees",
        "projection_tracking",
        "dualtrack_snapshots",
        "dualtrack_events",
    ):
        op.drop_table(table)
