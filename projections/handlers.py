"""How each event changes the read-model rows. One function per event type.

Handlers only write rows; per-trainee figures that depend on many rows (stage, months,
completeness, certificates) are recomputed once per batch in projections.summary.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import singledispatch
from typing import Any

from eventsourcing.persistence import Notification
from sqlalchemy.orm import Session

from domain import events as e
from projections import tables as t
from service.records import event_id

# Personal fields that stay in the (encrypted, in time) event store and are never
# copied into read models or the audit trail.
PERSONAL_FIELDS = frozenset({"national_id"})
ENVELOPE_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic", "actor", "occurred_on"}
)


@dataclass(frozen=True)
class Context:
    session: Session
    notification: Notification
    late_after: timedelta
    zone: tzinfo

    def execute(self, statement: Any) -> None:
        self.session.execute(statement)


def project(ctx: Context, event: Any) -> str | None:
    """Writes the event's rows and its audit record; returns the trainee it touched.

    Events of no trainee (the national-ID claims) stay internal: a claim's id is derived
    from the national ID, and an id that can be tested against guesses is never served.
    """
    trainee_id = _trainee_id(event)
    if trainee_id is not None:
        _audit(ctx, event, trainee_id)
        apply(event, ctx)
        ctx.execute(
            t.trainees.update()
            .where(t.trainees.c.id == trainee_id)
            .values(version=event.originator_version, last_position=ctx.notification.id)
        )
    return trainee_id


def _trainee_id(event: Any) -> str | None:
    return str(event.originator_id) if isinstance(event, e.TraineeEvent) else None


def _audit(ctx: Context, event: Any, trainee_id: str) -> None:
    n = ctx.notification
    ctx.execute(
        t.audit_events.insert().values(
            position=n.id,
            event_id=str(event_id(event.originator_id, event.originator_version)),
            originator_id=str(event.originator_id),
            trainee_id=trainee_id,
            type=type(event).__name__,
            version=event.originator_version,
            occurred_on=getattr(event, "occurred_on", None),
            recorded_at=as_utc(event.timestamp),
            actor=getattr(event, "actor", None),
            data=event_data(event),
            hash=hashlib.sha256(n.topic.encode() + b"\n" + n.state).hexdigest(),
        )
    )


def event_data(event: Any) -> dict[str, Any]:
    """The event's own fields as JSON-ready values, without envelope or personal data."""
    return {
        name: _jsonable(value)
        for name, value in vars(event).items()
        if name not in ENVELOPE_FIELDS and name not in PERSONAL_FIELDS
    }


def _jsonable(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def as_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


@singledispatch
def apply(event: Any, ctx: Context) -> None:
    """Events without rows of their own only appear in the audit trail."""


@apply.register
def _(event: e.TraineeEnrolled, ctx: Context) -> None:
    ctx.execute(
        t.trainees.insert().values(
            id=str(event.originator_id),
            name=event.name,
            pathway=event.pathway,
            degree_category=event.degree_category,
            bachelor_major=event.bachelor_major,
            licensed_at_enrollment=event.licensed_at_enrollment,
            holds_residency_certificate=event.holds_residency_certificate,
            prior_training_months=event.prior_training_months,
            specialty=event.specialty,
            base_id=event.base_id,
            university=event.university,
            cohort=event.cohort,
            enrolled_on=event.occurred_on,
            stage=1,
            clinical_months=0.0,
            resident_duty_months=0.0,
            handbook_complete=False,
            handbook_missing=[],
            standard_id=event.standard_id,
            policy_id=event.policy_id,
            credited_prior_months=0.0,
            completion_exam_unmet=[],
            version=event.originator_version,
            last_position=ctx.notification.id,
        )
    )


@apply.register
def _(event: e.TutorAssigned, ctx: Context) -> None:
    ctx.execute(
        t.tutor_assignments.insert().values(
            trainee_id=str(event.originator_id),
            event_version=event.originator_version,
            tutor_id=event.tutor_id,
            role=event.role,
            department=event.department,
            assigned_on=event.occurred_on,
        )
    )


@apply.register
def _(event: e.RotationScheduled, ctx: Context) -> None:
    ctx.execute(
        t.rotations.insert().values(
            id=event.rotation_id,
            trainee_id=str(event.originator_id),
            department=event.department,
            stage=event.stage,
            start_on=event.start_on,
            end_on=event.end_on,
            tutor_id=event.tutor_id,
            resident_duty=event.resident_duty,
            completed_on=None,
        )
    )


@apply.register
def _(event: e.RotationCompleted, ctx: Context) -> None:
    ctx.execute(
        t.rotations.update()
        .where(t.rotations.c.id == event.rotation_id)
        .values(completed_on=event.occurred_on)
    )


@apply.register
def _(event: e.RotationEntryRecorded, ctx: Context) -> None:
    recorded_at = as_utc(event.timestamp)
    # "Timely" is a setting (R8): entries recorded later than that are flagged, not refused.
    recorded_on = event.timestamp.astimezone(ctx.zone).date()
    late = recorded_on - event.occurred_on > ctx.late_after
    ctx.execute(
        t.rotation_entries.insert().values(
            id=event.entry_id,
            trainee_id=str(event.originator_id),
            rotation_id=event.rotation_id,
            event_version=event.originator_version,
            kind=event.kind,
            occurred_on=event.occurred_on,
            description=event.description,
            recorded_at=recorded_at,
            late=late,
            signed_by=None,
            signed_at=None,
            retracted=False,
            retraction_reason=None,
        )
    )


@apply.register
def _(event: e.RotationEntrySigned, ctx: Context) -> None:
    ctx.execute(
        t.rotation_entries.update()
        .where(t.rotation_entries.c.id == event.entry_id)
        .values(signed_by=event.tutor_id, signed_at=as_utc(event.timestamp))
    )


@apply.register
def _(event: e.RotationEntryRetracted, ctx: Context) -> None:
    ctx.execute(
        t.rotation_entries.update()
        .where(t.rotation_entries.c.id == event.entry_id)
        .values(retracted=True, retraction_reason=event.reason)
    )


@apply.register
def _(event: e.AssessmentRecorded, ctx: Context) -> None:
    ctx.execute(
        t.assessments.insert().values(
            id=event.assessment_id,
            trainee_id=str(event.originator_id),
            event_version=event.originator_version,
            kind=event.kind,
            occurred_on=event.occurred_on,
            assessor_id=event.assessor_id,
            rotation_id=event.rotation_id,
            overall=event.overall,
            passed=event.passed,
            ratings=event.ratings,
        )
    )


@apply.register(e.EthicsViolationRecorded)
@apply.register(e.LicensingExamRecorded)
@apply.register(e.NationalExamRecorded)
@apply.register(e.CertificateRevoked)
@apply.register(e.PublicationRecorded)
@apply.register(e.CourseworkRecorded)
@apply.register(e.ThesisDefenseRecorded)
def _(event: Any, ctx: Context) -> None:
    data = event_data(event)
    ctx.execute(
        t.academic_records.insert().values(
            trainee_id=str(event.originator_id),
            event_version=event.originator_version,
            kind=type(event).__name__,
            occurred_on=event.occurred_on,
            passed=data.pop("passed", None),
            detail=data,
        )
    )


GRANTS = {
    e.LicenceGranted: "LICENCE",
    e.ResidencyCertificateIssued: "RESIDENCY_CERTIFICATE",
    e.DiplomaIssued: "DIPLOMA",
    e.DegreeAwarded: "DEGREE",
}


@apply.register(e.LicenceGranted)
@apply.register(e.ResidencyCertificateIssued)
@apply.register(e.DiplomaIssued)
@apply.register(e.DegreeAwarded)
def _(event: Any, ctx: Context) -> None:
    key = {"trainee_id": str(event.originator_id), "kind": GRANTS[type(event)]}
    ctx.execute(t.certificates.delete().filter_by(**key))
    ctx.execute(
        t.certificates.insert().values(
            **key, state="GRANTED", number=event.number, granted_on=event.occurred_on, unmet=[]
        )
    )

