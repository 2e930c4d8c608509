"""Per-trainee figures that depend on the whole record: months, stage, completeness,
certificate verdicts. Recomputed from the read-model rows once per projected batch."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from domain import rules
from domain.calendar import months_between
from domain.values import CertificateKind
from projections import tables as t


def gather_facts(session: Session, trainee_id: str) -> rules.TrainingFacts | None:
    trainee = session.execute(
        sa.select(t.trainees).where(t.trainees.c.id == trainee_id)
    ).mappings().first()
    if trainee is None:
        return None
    facts = rules.TrainingFacts(
        pathway=trainee["pathway"],
        licensed_at_enrollment=trainee["licensed_at_enrollment"],
        holds_residency_certificate_at_enrollment=trainee["holds_residency_certificate"],
        credited_prior_months=trainee["prior_training_months"],
    )
    for rotation in _rows(session, t.rotations, trainee_id):
        if rotation["completed_on"] is None:
            continue
        months = months_between(rotation["start_on"], rotation["completed_on"])
        facts.clinical_months += months
        if rotation["resident_duty"]:
            facts.resident_duty_months += months
    facts.clinical_months = round(facts.clinical_months, 4)
    facts.resident_duty_months = round(facts.resident_duty_months, 4)
    facts.unsigned_entries = session.execute(
        sa.select(sa.func.count()).where(
            t.rotation_entries.c.trainee_id == trainee_id,
            t.rotation_entries.c.signed_by.is_(None),
            t.rotation_entries.c.retracted.is_(False),
        )
    ).scalar_one()
    for assessment in _rows(session, t.assessments, trainee_id):
        if assessment["passed"]:
            facts.passed_assessment_kinds.add(assessment["kind"])
        else:
            facts.failed_assessment_kinds.add(assessment["kind"])
    for record in _rows(session, t.academic_records, trainee_id):
        _add_academic(facts, record)
    for certificate in _rows(session, t.certificates, trainee_id):
        if certificate["state"] == "GRANTED":
            facts.granted[certificate["kind"]] = (certificate["number"], certificate["granted_on"])
    return facts


def refresh_trainee(session: Session, trainee_id: str) -> None:
    facts = gather_facts(session, trainee_id)
    if facts is None:
        return
    missing = rules.handbook_missing(facts)
    session.execute(
        t.trainees.update()
        .where(t.trainees.c.id == trainee_id)
        .values(
            stage=rules.training_stage(facts),
            clinical_months=facts.clinical_months,
            resident_duty_months=facts.resident_duty_months,
            handbook_complete=not missing,
            handbook_missing=missing,
        )
    )
    for kind in CertificateKind:
        state, unmet = rules.certificate_state(kind.value, facts)
        number, granted_on = facts.granted.get(kind.value, (None, None))
        key = {"trainee_id": trainee_id, "kind": kind.value}
        session.execute(t.certificates.delete().filter_by(**key))
        session.execute(
            t.certificates.insert().values(
                **key, state=state, number=number, granted_on=granted_on, unmet=unmet
            )
        )


def _rows(session: Session, table: sa.Table, trainee_id: str) -> list[Any]:
    return list(
        session.execute(sa.select(table).where(table.c.trainee_id == trainee_id)).mappings()
    )


def _add_academic(facts: rules.TrainingFacts, record: Any) -> None:
    detail = record["detail"]
    if record["kind"] == "EthicsViolationRecorded" and detail.get("confirmed"):
        facts.confirmed_ethics_violations += 1
    elif record["kind"] == "ThesisDefenseRecorded" and record["passed"]:
        facts.thesis_defense_passed = True
    elif record["kind"] == "PublicationRecorded":
        facts.publication_kinds.add(str(detail.get("kind", "")).upper())
    elif record["kind"] == "CourseworkRecorded":
        target = facts.coursework_passed if record["passed"] else facts.coursework_failed
        target.add(detail.get("course", ""))
