"""How each event changes the read-model rows. One function per event type.

Handlers only write rows; per-trainee figures that depend on many rows (stage, months,
completeness, certificates) are recomputed once per batch in projections.summary.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from functools import singledispatch
from typing import Any

import sqlalchemy as sa
from eventsourcing.persistence import Notification
from sqlalchemy.orm import Session

from domain import events as e
from projections import tables as t
from projections.batch import Batch
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
    # Where the rows go (projections.batch); without one, `project` writes them at once.
    batch: Batch | None = None

    def insert(self, table: sa.Table, **row: Any) -> None:
        self._batch.insert(table, row)

    def update(self, table: sa.Table, key: Any, **values: Any) -> None:
        self._batch.update(table, key, values)

    def replace(self, table: sa.Table, **row: Any) -> None:
        self._batch.replace(table, row)

    @property
    def _batch(self) -> Batch:
        assert self.batch is not None, "handlers run inside project()"
        return self.batch


def project(ctx: Context, event: Any) -> str | None:
    """Writes the event's rows and its audit record; returns the trainee it touched.

    Given a context without a batch, the rows are written before it returns (no
    summary: that is projections.summary.refresh_trainee's); with a batch, they are
    written when the batch is (projections.batch.Batch.finish).

    Events of no trainee (the national-ID claims) stay internal: a claim's id is derived
    from the national ID, and an id that can be tested against guesses is never served.
    """
    if ctx.batch is None:
        batch = Batch(ctx.session)
        touched = project(replace(ctx, batch=batch), event)
        batch.flush()
        return touched
    trainee_id = _trainee_id(event)
    if trainee_id is not None:
        batch = ctx.batch
        latest_fact_on = batch.latest_fact_on(trainee_id)
        _audit(ctx, event, trainee_id, latest_fact_on)
        apply(event, ctx)
        if _is_a_dated_fact(event) and (
            latest_fact_on is None or event.occurred_on > latest_fact_on
        ):
            latest_fact_on = event.occurred_on
        ctx.update(
            t.trainees,
            trainee_id,
            version=event.originator_version,
            last_position=ctx.notification.id,
            latest_fact_on=latest_fact_on,
        )
        batch.touch(trainee_id)
    return trainee_id


def trainee_of(event: Any) -> str | None:
    """The trainee whose rows the event changes (None for events of no trainee)."""
    return _trainee_id(event)


def corrected_entry(event: Any) -> str | None:
    """The entry whose recording the event corrects, if it corrects one."""
    return str(event.entry_id) if isinstance(event, CORRECTIONS) else None


def _is_a_dated_fact(event: Any) -> bool:
    """Whether the person recording gave the date (the service dates the other acts)."""
    return type(event).__name__ not in e.DATED_WHEN_RECORDED


def _trainee_id(event: Any) -> str | None:
    return id_text(event.originator_id) if isinstance(event, e.TraineeEvent) else None


# An id's text, remembered: a batch writes each trainee's id into several rows of every
# event, and formatting a UUID costs more than looking it up.
id_text = functools.lru_cache(maxsize=2**16)(str)


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
        originator_id=trainee_id,
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
    entry_id = corrected_entry(event)
    return None if entry_id is None else ctx._batch.recording_position(entry_id, trainee_id)


def _note_correction(ctx: Context, corrected: int, correction: int) -> None:
    earlier = ctx._batch.corrected_by(corrected)
    ctx.update(t.audit_events, corrected, corrected_by=[*earlier, correction])


def event_data(event: Any) -> dict[str, Any]:
    """The event's own fields as JSON-ready values, without envelope or personal data."""
    return {
        name: _jsonable(value)
        for name, value in vars(event).items()
        if name not in ENVELOPE_FIELDS and name not in PERSONAL_FIELDS
    }


# Values that are JSON as they are (most of an event's fields): tested first, being cheap.
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _jsonable(value: Any) -> Any:
    if type(value) in _PLAIN:
        return value
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
        id=id_text(event.originator_id),
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
        trainee_id=id_text(event.originator_id),
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
        trainee_id=id_text(event.originator_id),
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
    ctx.update(t.rotations, event.rotation_id, completed_on=event.occurred_on)


@apply.register
def _(event: e.RotationEntryRecorded, ctx: Context) -> None:
    recorded_at = as_utc(event.timestamp)
    # "Timely" is a setting (R8): entries recorded later than that are flagged, not refused.
    recorded_on = event.timestamp.astimezone(ctx.zone).date()
    late = recorded_on - event.occurred_on > ctx.late_after
    ctx.insert(
        t.rotation_entries,
        id=event.entry_id,
        trainee_id=id_text(event.originator_id),
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
    # Its audit row is this event's: a correction later in the batch finds it here.
    ctx._batch.recorded_entry(event.entry_id, id_text(event.originator_id), ctx.notification.id)


@apply.register
def _(event: e.RotationEntrySigned, ctx: Context) -> None:
    ctx.update(t.rotation_entries, event.entry_id,
               signed_by=event.tutor_id, signed_at=as_utc(event.timestamp))


@apply.register
def _(event: e.RotationEntryRetracted, ctx: Context) -> None:
    ctx.update(t.rotation_entries, event.entry_id, retracted=True,
               retraction_reason=event.reason)


@apply.register
def _(event: e.RotationEntryCorrected, ctx: Context) -> None:
    ctx.update(
        t.rotation_entries,
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
        trainee_id=id_text(event.originator_id),
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
        trainee_id=id_text(event.originator_id),
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
    # Replaces any row of the kind; the batch's summary then writes the verdict beside it.
    ctx.replace(
        t.certificates, trainee_id=id_text(event.originator_id), kind=GRANTS[type(event)],
        state="GRANTED", number=event.number, granted_on=event.occurred_on, unmet=[],
        revocation_reason=None,
    )

