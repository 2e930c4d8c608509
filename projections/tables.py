"""The read-model tables. Alembic migrations create them; projections fill them.

Ids are stored as text so the same rows compare equal on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()

ID = sa.String(36)
NAME = sa.String(200)


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


trainees = sa.Table(
    "rm_trainees",
    metadata,
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
    # The regime the trainee is measured against (recorded at enrollment; see R1-R14).
    sa.Column("standard_id", NAME),
    sa.Column("policy_id", NAME),
    sa.Column("credited_prior_months", sa.Float, nullable=False),
    sa.Column("completion_exam_unmet", sa.JSON, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("last_position", sa.BigInteger, nullable=False),
    # The latest business date given to a fact on the record, to flag back-dated events.
    sa.Column("latest_fact_on", sa.Date),
    sa.Index("rm_trainees_listing", "base_id", "specialty", "cohort"),
)

tutor_assignments = sa.Table(
    "rm_tutor_assignments",
    metadata,
    sa.Column("trainee_id", ID, primary_key=True),
    sa.Column("event_version", sa.Integer, primary_key=True),
    sa.Column("tutor_id", NAME, nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("department", NAME),
    sa.Column("assigned_on", sa.Date, nullable=False),
)

rotations = sa.Table(
    "rm_rotations",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("trainee_id", ID, nullable=False, index=True),
    sa.Column("department", NAME, nullable=False),
    sa.Column("stage", sa.Integer, nullable=False),
    sa.Column("start_on", sa.Date, nullable=False),
    sa.Column("end_on", sa.Date, nullable=False),
    sa.Column("tutor_id", NAME),
    sa.Column("resident_duty", sa.Boolean, nullable=False),
    sa.Column("completed_on", sa.Date),
)

rotation_entries = sa.Table(
    "rm_rotation_entries",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("trainee_id", ID, nullable=False, index=True),
    sa.Column("rotation_id", ID, nullable=False, index=True),
    sa.Column("event_version", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("occurred_on", sa.Date, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("recorded_at", _when(), nullable=False),
    sa.Column("late", sa.Boolean, nullable=False),
    sa.Column("signed_by", NAME),
    sa.Column("signed_at", _when()),
    sa.Column("retracted", sa.Boolean, nullable=False),
    sa.Column("retraction_reason", sa.Text),
)

assessments = sa.Table(
    "rm_assessments",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("trainee_id", ID, nullable=False, index=True),
    sa.Column("event_version", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("occurred_on", sa.Date, nullable=False),
    sa.Column("assessor_id", NAME),
    sa.Column("rotation_id", ID),
    sa.Column("overall", sa.Integer),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("ratings", sa.JSON),
)

# Facts that certificates depend on but that no handbook page shows.
academic_records = sa.Table(
    "rm_academic_records",
    metadata,
    sa.Column("trainee_id", ID, primary_key=True),
    sa.Column("event_version", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("occurred_on", sa.Date, nullable=False),
    sa.Column("passed", sa.Boolean),
    sa.Column("detail", sa.JSON, nullable=False),
)

certificates = sa.Table(
    "rm_certificates",
    metadata,
    sa.Column("trainee_id", ID, primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("number", sa.String(64)),
    sa.Column("granted_on", sa.Date),
    sa.Column("unmet", sa.JSON, nullable=False),
    sa.Column("revocation_reason", sa.Text),
)

audit_events = sa.Table(
    "rm_audit_events",
    metadata,
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("event_id", ID, nullable=False, unique=True),
    sa.Column("originator_id", ID, nullable=False),
    sa.Column("trainee_id", ID),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("occurred_on", sa.Date),
    sa.Column("recorded_at", _when(), nullable=False),
    sa.Column("actor", NAME),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    # Business time against recorded time: days between the two in the service's zone,
    # recorded after the timely window, or dated before a fact already on the record.
    sa.Column("lag_days", sa.Integer),
    sa.Column("late", sa.Boolean, nullable=False),
    sa.Column("backdated", sa.Boolean, nullable=False),
    # A retraction or correction names the event it corrects, and that event lists them.
    sa.Column("corrects_position", sa.BigInteger),
    sa.Column("corrected_by", sa.JSON, nullable=False),
    sa.Index("rm_audit_events_by_trainee", "trainee_id", "position"),
)

# Trainees whose summary (projections.summary) is due: a rebuild defers the summaries to
# its end, and whichever projector batch runs next refreshes any it finds here, so a
# rebuild that was interrupted never leaves a summary stale. Empty once caught up.
summaries_due = sa.Table(
    "rm_summaries_due",
    metadata,
    sa.Column("trainee_id", ID, primary_key=True),
)

# Every table a rebuild empties and refills.
READ_MODEL_TABLES = (
    trainees,
    tutor_assignments,
    rotations,
    rotation_entries,
    assessments,
    academic_records,
    certificates,
    audit_events,
    summaries_due,
)


def all_rows_query(table: sa.Table) -> sa.Select[Any]:
    """Every row of a table in a stable order, for comparing read models."""
    return sa.select(table).order_by(*table.primary_key.columns)
