"""Per-trainee figures that depend on the whole record: months, stage, completeness,
certificate verdicts. Recomputed from the read-model rows once per projected batch,
with the same rules (domain.rules) the commands are decided by.

The facts of every trainee a batch touched are gathered together, one query per table
(WHERE trainee_id IN ...), so a batch costs the same few statements however many
trainees it touched; only the certificate rows whose verdict changed are rewritten.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from domain import rules
from domain.errors import InvalidCommand
from domain.facts import RotationFacts, TrainingFacts, add_assessment, note_earliest
from domain.regulations import Regime
from domain.values import CertificateKind
from projections import bulk
from projections import tables as t

# Finds the regime a trainee row was enrolled under.
RegimeOf = Callable[[Any], Regime]
Row = dict[str, Any]
KEY = ("trainee_id", "kind")  # of a certificate row


@dataclass
class Gathered:
    """One trainee's facts, and its certificate rows as they are stored."""

    facts: TrainingFacts
    certificates: dict[str, Row] = field(default_factory=dict)


@dataclass(frozen=True)
class Summary:
    trainee_id: str
    values: Row  # the columns of its rm_trainees row the summary sets
    certificates: list[Row]  # one row per certificate kind
    stored_certificates: dict[str, Row]


def gather_facts(session: Session, trainee: Any) -> TrainingFacts:
    return gather(session, [trainee])[trainee["id"]].facts


def refresh_trainee(session: Session, trainee_id: str, regime_of: RegimeOf) -> None:
    trainee = session.execute(
        sa.select(t.trainees).where(t.trainees.c.id == trainee_id)
    ).mappings().first()
    if trainee is None:
        return
    summaries = summarise(session, [trainee], regime_of)
    bulk.update(session, t.trainees, {trainee_id: summaries[0].values})
    write_certificates(session, summaries)


def summarise(
    session: Session, trainees: Sequence[Mapping[str, Any]], regime_of: RegimeOf,
    known: Mapping[str, TrainingFacts] | None = None,
) -> list[Summary]:
    """Computes, without writing, the summary of each trainee row given. The facts of
    trainees in `known` (projections.shadows) are not gathered from rows again."""
    known = known or {}
    gathered = gather(session, [trainee for trainee in trainees if trainee["id"] not in known])
    stored = _certificates(session, [i for i in (trainee["id"] for trainee in trainees)
                                     if i in known])
    for trainee_id in stored:
        gathered[trainee_id] = Gathered(known[trainee_id], stored[trainee_id])
    return [_summary(trainee, gathered[trainee["id"]], regime_of) for trainee in trainees]


def write_certificates(session: Session, summaries: Sequence[Summary]) -> None:
    """Puts in place the certificate rows that differ from the stored ones."""
    changed: dict[tuple[str, str], Row] = {}
    added: list[Row] = []
    for found in summaries:
        for row in found.certificates:
            stored = found.stored_certificates.get(row["kind"])
            if stored is None:
                added.append(row)
            elif stored != row:
                changed[(row["trainee_id"], row["kind"])] = {
                    name: value for name, value in row.items() if name not in KEY
                }
    bulk.update(session, t.certificates, changed)
    bulk.insert(session, t.certificates, added)


def _summary(trainee: Mapping[str, Any], gathered: Gathered, regime_of: RegimeOf) -> Summary:
    trainee_id, facts = trainee["id"], gathered.facts
    try:
        regime = regime_of(trainee)
    except (InvalidCommand, LookupError) as error:
        # A record the shipped regulations cannot measure is reported, never skipped.
        reason = f"R8: cannot be measured: {error}"
        values = {"handbook_complete": False, "handbook_missing": [reason],
                  "completion_exam_unmet": [reason]}
        verdicts = {kind: ("NOT_ELIGIBLE", [reason]) for kind in CertificateKind}
    else:
        missing = rules.handbook_missing(facts, regime)
        values = {
            "stage": rules.training_stage(facts, regime),
            "clinical_months": rules.clinical_months(facts),
            "resident_duty_months": rules.resident_duty_months(facts),
            "credited_prior_months": rules.credited_prior_months(facts, regime.policy),
            "handbook_complete": not missing,
            "handbook_missing": missing,
            "completion_exam_unmet": rules.completion_exam_unmet(facts, regime, missing),
        }
        verdicts = {kind: rules.certificate_state(kind.value, facts, regime, missing)
                    for kind in CertificateKind}
    certificates = []
    for kind, (state, unmet) in verdicts.items():
        number, granted_on = facts.granted.get(kind.value, (None, None))
        certificates.append({
            "trainee_id": trainee_id, "kind": kind.value, "state": state, "number": number,
            "granted_on": granted_on, "unmet": unmet,
            "revocation_reason": facts.revoked.get(kind.value),
        })
    return Summary(trainee_id, values, certificates, gathered.certificates)


def gather(session: Session, trainees: Sequence[Mapping[str, Any]]) -> dict[str, Gathered]:
    """The facts of each trainee row given, read with one query per table."""
    found = {
        trainee["id"]: Gathered(TrainingFacts(
            pathway=trainee["pathway"],
            degree_category=trainee["degree_category"],
            licensed_at_enrollment=trainee["licensed_at_enrollment"],
            holds_residency_certificate_at_enrollment=trainee["holds_residency_certificate"],
            prior_training_months=trainee["prior_training_months"],
        ))
        for trainee in trainees
    }
    if not found:
        return found
    ids = list(found)
    rotating_tutors: dict[str, dict[str, str]] = {i: {} for i in ids}
    for tutor in _rows(session, t.tutor_assignments, ids, "event_version"):
        facts = found[tutor["trainee_id"]].facts
        if tutor["role"] == "FIRST_TUTOR":
            facts.first_tutor_id = tutor["tutor_id"]
        elif tutor["role"] == "ROTATING_TUTOR" and tutor["department"]:
            rotating_tutors[tutor["trainee_id"]][tutor["department"]] = tutor["tutor_id"]
    rotations: dict[str, dict[str, RotationFacts]] = {i: {} for i in ids}
    for row in _rows(session, t.rotations, ids, "start_on", "id"):
        trainee_id = row["trainee_id"]
        rotations[trainee_id][row["id"]] = RotationFacts(
            id=row["id"],
            department=row["department"],
            stage=row["stage"],
            start_on=row["start_on"],
            completed_on=row["completed_on"],
            resident_duty=row["resident_duty"],
            tutor_id=row["tutor_id"] or rotating_tutors[trainee_id].get(row["department"]),
        )
    for trainee_id, gathered in found.items():
        gathered.facts.rotations = list(rotations[trainee_id].values())
    _add_entry_counts(session, ids, rotations)
    for assessment in _rows(session, t.assessments, ids, "event_version"):
        trainee_id = assessment["trainee_id"]
        rotation = rotations[trainee_id].get(assessment["rotation_id"])
        add_assessment(found[trainee_id].facts, rotation, assessment["kind"],
                       assessment["passed"], assessment["occurred_on"])
    for record in _rows(session, t.academic_records, ids, "event_version"):
        _add_academic(found[record["trainee_id"]].facts, record)
    for certificate in _rows(session, t.certificates, ids, "kind"):
        gathered = found[certificate["trainee_id"]]
        gathered.certificates[certificate["kind"]] = certificate
        if certificate["number"] is not None:
            gathered.facts.granted[certificate["kind"]] = (
                certificate["number"], certificate["granted_on"]
            )
    return found


def _certificates(session: Session, ids: Sequence[str]) -> dict[str, dict[str, Row]]:
    """The stored certificate rows of each trainee, by kind."""
    found: dict[str, dict[str, Row]] = {i: {} for i in ids}
    if ids:
        for certificate in _rows(session, t.certificates, ids, "kind"):
            found[certificate["trainee_id"]][certificate["kind"]] = certificate
    return found


def _add_entry_counts(
    session: Session, ids: Sequence[str], rotations: dict[str, dict[str, RotationFacts]]
) -> None:
    # Grouped by plain columns (signatures counted with count(signed_by)), so the
    # database aggregates a long record's entries in index order, without hashing.
    entries = t.rotation_entries.c
    counts = session.execute(
        sa.select(entries.trainee_id, entries.rotation_id, entries.kind, sa.func.count(),
                  sa.func.count(entries.signed_by))
        .where(entries.trainee_id.in_(ids), entries.retracted.is_(False))
        .group_by(entries.trainee_id, entries.rotation_id, entries.kind)
    )
    for trainee_id, rotation_id, kind, total, signed in counts:
        rotation = rotations[trainee_id][rotation_id]
        if signed:
            rotation.signed_counts[kind] = rotation.signed_counts.get(kind, 0) + signed
        rotation.unsigned_entries += total - signed


def _rows(session: Session, table: sa.Table, ids: Sequence[str], *order: str) -> list[Row]:
    """The rows of these trainees, each trainee's in the given order."""
    statement = (
        sa.select(table)
        .where(table.c.trainee_id.in_(ids))
        .order_by(table.c.trainee_id, *(table.c[column] for column in order))
    )
    return [dict(row) for row in session.execute(statement).mappings()]


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
