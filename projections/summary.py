"""Per-trainee figures that depend on the whole record: months, stage, completeness,
certificate verdicts. Recomputed from the read-model rows once per projected batch,
with the same rules (domain.rules) the commands are decided by."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from domain import rules
from domain.errors import InvalidCommand
from domain.facts import RotationFacts, TrainingFacts, add_assessment, note_earliest
from domain.regulations import Regime
from domain.values import CertificateKind
from projections import tables as t

# Finds the regime a trainee row was enrolled under.
RegimeOf = Callable[[Any], Regime]


def gather_facts(session: Session, trainee: Any) -> TrainingFacts:
    trainee_id = trainee["id"]
    facts = TrainingFacts(
        pathway=trainee["pathway"],
        degree_category=trainee["degree_category"],
        licensed_at_enrollment=trainee["licensed_at_enrollment"],
        holds_residency_certificate_at_enrollment=trainee["holds_residency_certificate"],
        prior_training_months=trainee["prior_training_months"],
    )
    rotating_tutors: dict[str, str] = {}
    for tutor in _rows(session, t.tutor_assignments, trainee_id, "event_version"):
        if tutor["role"] == "FIRST_TUTOR":
            facts.first_tutor_id = tutor["tutor_id"]
        elif tutor["role"] == "ROTATING_TUTOR" and tutor["department"]:
            rotating_tutors[tutor["department"]] = tutor["tutor_id"]
    rotations = {
        row["id"]: RotationFacts(
            id=row["id"],
            department=row["department"],
            stage=row["stage"],
            start_on=row["start_on"],
            completed_on=row["completed_on"],
            resident_duty=row["resident_duty"],
            tutor_id=row["tutor_id"] or rotating_tutors.get(row["department"]),
        )
        for row in _rows(session, t.rotations, trainee_id, "start_on", "id")
    }
    facts.rotations = list(rotations.values())
    _add_entry_counts(session, trainee_id, rotations)
    for assessment in _rows(session, t.assessments, trainee_id, "event_version"):
        add_assessment(facts, rotations.get(assessment["rotation_id"]), assessment["kind"],
                       assessment["passed"], assessment["occurred_on"])
    for record in _rows(session, t.academic_records, trainee_id, "event_version"):
        _add_academic(facts, record)
    for certificate in _rows(session, t.certificates, trainee_id, "kind"):
        if certificate["number"] is not None:
            facts.granted[certificate["kind"]] = (certificate["number"], certificate["granted_on"])
    return facts


def refresh_trainee(session: Session, trainee_id: str, regime_of: RegimeOf) -> None:
    trainee = session.execute(
        sa.select(t.trainees).where(t.trainees.c.id == trainee_id)
    ).mappings().first()
    if trainee is None:
        return
    facts = gather_facts(session, trainee)
    try:
        regime = regime_of(trainee)
    except (InvalidCommand, LookupError) as error:
        # A record the shipped regulations cannot measure is reported, never skipped.
        _unmeasurable(session, trainee_id, facts, f"R8: cannot be measured: {error}")
        return
    missing = rules.handbook_missing(facts, regime)
    session.execute(
        t.trainees.update()
        .where(t.trainees.c.id == trainee_id)
        .values(
            stage=rules.training_stage(facts, regime),
            clinical_months=rules.clinical_months(facts),
            resident_duty_months=rules.resident_duty_months(facts),
            credited_prior_months=rules.credited_prior_months(facts, regime.policy),
            handbook_complete=not missing,
            handbook_missing=missing,
            completion_exam_unmet=rules.completion_exam_unmet(facts, regime),
        )
    )
    _write_certificates(
        session, trainee_id, facts,
        {kind: rules.certificate_state(kind.value, facts, regime) for kind in CertificateKind},
    )


def _unmeasurable(session: Session, trainee_id: str, facts: TrainingFacts, reason: str) -> None:
    session.execute(
        t.trainees.update()
        .where(t.trainees.c.id == trainee_id)
        .values(handbook_complete=False, handbook_missing=[reason], completion_exam_unmet=[reason])
    )
    _write_certificates(
        session, trainee_id, facts, {kind: ("NOT_ELIGIBLE", [reason]) for kind in CertificateKind}
    )


def _write_certificates(
    session: Session,
    trainee_id: str,
    facts: TrainingFacts,
    verdicts: dict[CertificateKind, tuple[str, list[str]]],
) -> None:
    for kind, (state, unmet) in verdicts.items():
        number, granted_on = facts.granted.get(kind.value, (None, None))
        key = {"trainee_id": trainee_id, "kind": kind.value}
        session.execute(t.certificates.delete().filter_by(**key))
        session.execute(
            t.certificates.insert().values(
                **key, state=state, number=number, granted_on=granted_on, unmet=unmet,
                revocation_reason=facts.revoked.get(kind.value),
            )
        )


def _add_entry_counts(
    session: Session, trainee_id: str, rotations: dict[str, RotationFacts]
) -> None:
    entries = t.rotation_entries
    signed = entries.c.signed_by.is_not(None)
    counts = session.execute(
        sa.select(entries.c.rotation_id, entries.c.kind, signed.label("signed"), sa.func.count())
        .where(entries.c.trainee_id == trainee_id, entries.c.retracted.is_(False))
        .group_by(entries.c.rotation_id, entries.c.kind, signed)
    )
    for rotation_id, kind, is_signed, count in counts:
        rotation = rotations[rotation_id]
        if is_signed:
            rotation.signed_counts[kind] = rotation.signed_counts.get(kind, 0) + count
        else:
            rotation.unsigned_entries += count


def _rows(session: Session, table: sa.Table, trainee_id: str, *order: str) -> list[Any]:
    statement = (
        sa.select(table)
        .where(table.c.trainee_id == trainee_id)
        .order_by(*(table.c[column] for column in order))
    )
    return list(session.execute(statement).mappings())


def _add_academic(facts: TrainingFacts, record: Any) -> None:
    detail, kind, on = record["detail"], record["kind"], record["occurred_on"]
    if kind == "EthicsViolationRecorded" and detail.get("confirmed"):
        facts.confirmed_ethics_violations += 1
    elif kind == "ThesisDefenseRecorded" and record["passed"]:
        earlier = facts.thesis_defense_passed_on
        facts.thesis_defense_passed_on = min(earlier or on, on)
    elif kind == "PublicationRecorded":
        note_earliest(facts.publication_kinds, str(detail.get("kind", "")).upper(), on)
    elif kind == "CourseworkRecorded":
        dated = facts.coursework_passed if record["passed"] else facts.coursework_failed
        note_earliest(dated, detail.get("course", ""), on)
    elif kind == "NationalExamRecorded" and record["passed"]:
        note_earliest(facts.national_exams_passed, detail["exam"], on)
    elif kind == "CertificateRevoked":
        facts.revoked[detail["kind"]] = detail["reason"]
