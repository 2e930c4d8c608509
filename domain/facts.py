"""Plain facts about one trainee: everything the rules read, nothing they do not.

The same facts are gathered by replaying the trainee's events (`Trainee.facts()`) and
from the read model (projections.summary); both must give the same verdicts, and a
property test holds them to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

# A name (an assessment kind, a course, ...) and the business date it first held.
Dated = dict[str, date]


def note_earliest(dated: Dated, name: str, day: date) -> None:
    dated[name] = min(dated.get(name, day), day)


@dataclass
class RotationFacts:
    id: str
    department: str
    stage: int
    start_on: date
    completed_on: date | None
    resident_duty: bool
    # The rotation's own tutor, else the department's rotating tutor (R12).
    tutor_id: str | None
    # Signed, unretracted entries by entry kind (R8).
    signed_counts: dict[str, int] = field(default_factory=dict)
    unsigned_entries: int = 0
    passed_assessments: Dated = field(default_factory=dict)


@dataclass
class TrainingFacts:
    pathway: str
    degree_category: str
    licensed_at_enrollment: bool
    holds_residency_certificate_at_enrollment: bool
    prior_training_months: float = 0.0
    first_tutor_id: str | None = None
    rotations: list[RotationFacts] = field(default_factory=list)
    passed_assessment_kinds: Dated = field(default_factory=dict)
    failed_assessment_kinds: Dated = field(default_factory=dict)
    confirmed_ethics_violations: int = 0
    thesis_defense_passed_on: date | None = None
    publication_kinds: Dated = field(default_factory=dict)
    coursework_passed: Dated = field(default_factory=dict)
    coursework_failed: Dated = field(default_factory=dict)
    national_exams_passed: Dated = field(default_factory=dict)
    granted: dict[str, tuple[str, date]] = field(default_factory=dict)
    revoked: dict[str, str] = field(default_factory=dict)

    @property
    def thesis_defense_passed(self) -> bool:
        return self.thesis_defense_passed_on is not None

    @property
    def holds_licence(self) -> bool:
        return self.licensed_at_enrollment or self._holds("LICENCE")

    @property
    def holds_residency_certificate(self) -> bool:
        return self.holds_residency_certificate_at_enrollment or self._holds(
            "RESIDENCY_CERTIFICATE"
        )

    def _holds(self, kind: str) -> bool:
        return kind in self.granted and kind not in self.revoked

    def as_of(self, day: date) -> TrainingFacts:
        """The facts as they stood on a business date, for a command dated then: a rotation
        completed later counts only up to that day; a pass, a publication or a certificate
        dated later does not count. Failures, unsigned entries and ethics violations are
        all kept, so these facts never meet a condition the current ones do not."""

        def until(dated: Dated) -> Dated:
            return {name: on for name, on in dated.items() if on <= day}

        defended = self.thesis_defense_passed_on
        return replace(
            self,
            rotations=[
                replace(r, passed_assessments=until(r.passed_assessments),
                        completed_on=_completed_by(r, day))
                for r in self.rotations
            ],
            passed_assessment_kinds=until(self.passed_assessment_kinds),
            thesis_defense_passed_on=defended if defended and defended <= day else None,
            publication_kinds=until(self.publication_kinds),
            coursework_passed=until(self.coursework_passed),
            national_exams_passed=until(self.national_exams_passed),
            granted={k: v for k, v in self.granted.items() if v[1] <= day},
        )


def _completed_by(rotation: RotationFacts, day: date) -> date | None:
    """A rotation completed after `day` had, on `day`, been trained up to that day."""
    if rotation.completed_on is None or rotation.completed_on <= day:
        return rotation.completed_on
    return day if rotation.start_on < day else None


def facts_of(trainee: Any) -> TrainingFacts:
    """The facts of a trainee aggregate's write state (domain.trainee.Trainee)."""
    rotations = {
        rotation_id: RotationFacts(
            id=rotation_id,
            department=r["department"],
            stage=r["stage"],
            start_on=r["start_on"],
            completed_on=r["completed_on"],
            resident_duty=r["resident_duty"],
            tutor_id=trainee.rotation_tutor(r),
        )
        for rotation_id, r in trainee.rotations.items()
    }
    for entry in trainee.entries.values():
        if entry["retracted"]:
            continue
        rotation = rotations[entry["rotation_id"]]
        if entry["signed_by"] is None:
            rotation.unsigned_entries += 1
        else:
            counts = rotation.signed_counts
            counts[entry["kind"]] = counts.get(entry["kind"], 0) + 1
    facts = TrainingFacts(
        pathway=trainee.pathway,
        degree_category=trainee.degree_category,
        licensed_at_enrollment=trainee.licensed_at_enrollment,
        holds_residency_certificate_at_enrollment=trainee.holds_residency_certificate_at_enrollment,
        prior_training_months=trainee.prior_training_months,
        first_tutor_id=trainee.first_tutor_id,
        rotations=sorted(rotations.values(), key=lambda r: (r.start_on, r.id)),
        confirmed_ethics_violations=trainee.confirmed_ethics_violations,
        thesis_defense_passed_on=trainee.thesis_defense_passed_on,
        publication_kinds=dict(trainee.publication_kinds),
        coursework_passed=dict(trainee.coursework_passed),
        coursework_failed=dict(trainee.coursework_failed),
        national_exams_passed=dict(trainee.national_exams_passed),
        granted={kind: (number, on) for kind, (number, on) in trainee.certificates.items()},
        revoked=dict(trainee.revoked),
    )
    for kind, rotation_id, passed, on in trainee.assessments:
        add_assessment(facts, rotations.get(rotation_id), kind, passed, on)
    return facts


def add_assessment(
    facts: TrainingFacts, rotation: RotationFacts | None, kind: str, passed: bool, on: date
) -> None:
    note_earliest(facts.passed_assessment_kinds if passed else facts.failed_assessment_kinds,
                  kind, on)
    if passed and rotation is not None:
        note_earliest(rotation.passed_assessments, kind, on)
