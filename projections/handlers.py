"""How each event changes the read-model rows. One function per event type.

Handlers only write rows; per-trainee figures that depend on many rows (stage, months,
completeness, certificates) are recomputed once per batch in projections.summary.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import singledispatch
from typing import Any

import sqlalchemy as sa
from eventsourcing.persistence import Notification
from sqlalchemy.orm import Session

from domain import events as e
from projections import tables as t
from service.records import event_id

# Personal fields stay in the encrypted event store: never copied into the audit trail,
# whose rows feed registries, webhooks and the NATS relay (a registry with the
# personal_data scope is given them from the events, by TraineeRecords.personal_fields).
PERSONAL_FIELDS = frozenset({"national_id", "name"})
ENVELOPE_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic", "actor", "occurred_on"}
)


@dataclass(frozen=True)
class Context:
    session: Session
    notification: Notification
    late_after: timedelta
    zone: tzinfo
    # The event's chained hash (integrity.hashing.event_hash), hex, as the ledger holds it.
    event_hash: str

    def execute(self, statement: Any) -> None:
        self.session.execute(statement)

    def insert(self, table: sa.Table, **row: Any) -> None:
        self.session.execute(_insert_into(table), row)

    def update(self, statement: Updating, key: Any, **values: Any) -> None:
        self.session.execute(statement.statement, statement.params(key, values))


@functools.cache
def _insert_into(table: sa.Table) -> sa.Insert:
    return table.insert()


@dataclass(frozen=True)
class Updating:
    """An UPDATE of some columns of the row whose `key` column matches, built once.

    Handlers run once per event; building and caching a statement per call costs more
    than running it, so each handler's statement is made at import and given its values
    as parameters.
    """

    statement: sa.Update

    @classmethod
    def of(cls, table: sa.Table, key: str, *columns: str) -> Updating:
        return cls(
            table.update()
            .where(table.c[key] == sa.bindparam("row_key"))
            .values({name: sa.bindparam(f"new_{name}") for name in columns})
        )

    @staticmethod
    def params(key: Any, values: dict[str, Any]) -> dict[str, Any]:
        return {"row_key": key, **{f"new_{name}": value for name, value in values.items()}}


TRAINEE_REACHED = Updating.of(t.trainees, "id", "version", "last_position", "latest_fact_on")
LATEST_FACT_ON = sa.select(t.trainees.c.latest_fact_on).where(
    t.trainees.c.id == sa.bindparam("trainee_id")
)
ROTATION_COMPLETED = Updating.of(t.rotations, "id", "completed_on")
ENTRY_SIGNED = Updating.of(t.rotation_entries, "id", "signed_by", "signed_at")
ENTRY_RETRACTED = Updating.of(t.rotation_entries, "id", "retracted", "retraction_reason")
ENTRY_CORRECTED = Updating.of(
    t.rotation_entries, "id", "kind", "occurred_on", "description", "signed_by", "signed_at"
)
AUDIT_CORRECTED_BY = Updating.of(t.audit_events, "position", "corrected_by")


def project(ctx: Context, event: Any) -> str | None:
    """Writes the event's rows and its audit record; returns the trainee it touched.

    Events of no trainee (the national-ID claims) stay internal: a claim's id is derived
    from the national ID, and an id that can be tested against guesses is never served.
    """
    trainee_id = _trainee_id(event)
    if trainee_id is not None:
        latest_fact_on = ctx.session.execute(LATEST_FACT_ON, {"trainee_id": trainee_id}).scalar()
        _audit(ctx, event, trainee_id, latest_fact_on)
        apply(event, ctx)
        if _is_a_dated_fact(event) and (
            latest_fact_on is None or event.occurred_on > latest_fact_on
        ):
            latest_fact_on = event.occurred_on
        ctx.update(
            TRAINEE_REACHED,
            trainee_id,
            version=event.originator_version,
            last_position=ctx.notification.id,
            latest_fact_on=latest_fact_on,
        )
    return trainee_id


def _is_a_dated_fact(event: Any) -> bool:
    """Whether the person recording gave the date (the service dates the other acts)."""
    return type(event).__name__ not in e.DATED_WHEN_RECORDED


def _trainee_id(event: Any) -> str | None:
    return str(event.originator_id) if isinstance(event, e.TraineeEvent) else None


def _audit(ctx: Context, event: Any, trainee_id: str, latest_fact_on: Any) -> None:
    """`latest_fact_on` is the latest date given to a fact already on the record: an event
    dated before it is back-dated (recorded into a past others may have relied on)."""
    n = ctx.notification
    occurred_on = getattr(event, "occurred_on", None)
    lag_days = None
    if occurred_on is not None:
        lag_days = (event.timestamp.astimezone(ctx.zone).date() - occurred_on).days
    corrects = _corrected_position(ctx, event, trainee_id)
    ctx.insert(
        t.audit_events,
        position=n.id,
        event_id=str(event_id(event.originator_id, event.originator_version)),
        originator_id=str(event.originator_id),
        trainee_id=trainee_id,
        type=type(event).__name__,
        version=event.originator_version,
        occurred_on=occurred_on,
        recorded_at=as_utc(event.timestamp),
        actor=getattr(event, "actor", None),
        data=event_data(event),
        hash=ctx.event_hash,
        lag_days=lag_days,
        late=lag_days is not None and lag_days > ctx.late_after.days,
        backdated=_is_a_dated_fact(event)
        and latest_fact_on is not None
        and occurred_on < latest_fact_on,
        corrects_position=corrects,
        corrected_by=[],
    )
    if corrects is not None:
        _note_correction(ctx, corrects, n.id)


# Events that correct an earlier one, and the entry whose recording they correct.
CORRECTIONS = (e.RotationEntryRetracted, e.RotationEntryCorrected)


def _corrected_position(ctx: Context, event: Any, trainee_id: str) -> int | None:
    if not isinstance(event, CORRECTIONS):
        return None
    recorded = (
        sa.select(t.audit_events.c.position)
        .join(
            t.rotation_entries,
            sa.and_(
                t.rotation_entries.c.trainee_id == t.audit_events.c.trainee_id,
                t.rotation_entries.c.event_version == t.audit_events.c.version,
            ),
        )
        .where(t.rotation_entries.c.id == event.entry_id, t.audit_events.c.trainee_id == trainee_id)
    )
    return ctx.session.execute(recorded).scalar()


def _note_correction(ctx: Context, corrected: int, correction: int) -> None:
    row = t.audit_events.c
    earlier = ctx.session.execute(
        sa.select(row.corrected_by).where(row.position == corrected)
    ).scalar()
    ctx.update(AUDIT_CORRECTED_BY, corrected, corrected_by=[*(earlier or []), correction])


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
    ctx.insert(
        t.trainees,
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


@apply.register
def _(event: e.TutorAssigned, ctx: Context) -> None:
    ctx.insert(
        t.tutor_assignments,
        trainee_id=str(event.originator_id),
        event_version=event.originator_version,
        tutor_id=event.tutor_id,
        role=event.role,
        department=event.department,
        assigned_on=event.occurred_on,
    )


@apply.register
def _(event: e.RotationScheduled, ctx: Context) -> None:
    ctx.insert(
        t.rotations,
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


@apply.register
def _(event: e.RotationCompleted, ctx: Context) -> None:
    ctx.update(ROTATION_COMPLETED, event.rotation_id, completed_on=event.occurred_on)


@apply.register
def _(event: e.RotationEntryRecorded, ctx: Context) -> None:
    recorded_at = as_utc(event.timestamp)
    # "Timely" is a setting (R8): entries recorded later than that are flagged, not refused.
    recorded_on = event.timestamp.astimezone(ctx.zone).date()
    late = recorded_on - event.occurred_on > ctx.late_after
    ctx.insert(
        t.rotation_entries,
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


@apply.register
def _(event: e.RotationEntrySigned, ctx: Context) -> None:
    ctx.update(
        ENTRY_SIGNED, event.entry_id, signed_by=event.tutor_id, signed_at=as_utc(event.timestamp)
    )


@apply.register
def _(event: e.RotationEntryRetracted, ctx: Context) -> None:
    ctx.update(ENTRY_RETRACTED, event.entry_id, retracted=True, retraction_reason=event.reason)


@apply.register
def _(event: e.RotationEntryCorrected, ctx: Context) -> None:
    ctx.update(
        ENTRY_CORRECTED,
        event.entry_id,
        kind=event.kind,
        occurred_on=event.entry_occurred_on,
        description=event.description,
        signed_by=None,
        signed_at=None,
    )


@apply.register
def _(event: e.AssessmentRecorded, ctx: Context) -> None:
    ctx.insert(
        t.assessments,
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


@apply.register(e.EthicsViolationRecorded)
@apply.register(e.LicensingExamRecorded)
@apply.register(e.NationalExamRecorded)
@apply.register(e.CertificateRevoked)
@apply.register(e.PublicationRecorded)
@apply.register(e.CourseworkRecorded)
@apply.register(e.ThesisDefenseRecorded)
def _(event: Any, ctx: Context) -> None:
    data = event_data(event)
    ctx.insert(
        t.academic_records,
        trainee_id=str(event.originator_id),
        event_version=event.originator_version,
        kind=type(event).__name__,
        occurred_on=event.occurred_on,
        passed=data.pop("passed", None),
        detail=data,
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
    ctx.insert(
        t.certificates,
        **key, state="GRANTED", number=event.number, granted_on=event.occurred_on, unmet=[]
    )

