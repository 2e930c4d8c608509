"""Everything that can happen to a trainee's record, in the past tense.

Each event carries the business date it happened on (`occurred_on`), who recorded it
(`actor`) and, through the library's `timestamp`, when it was recorded. `apply` only
evolves the write state that decisions need; display lives in the projections.

Versioning: bump `class_version` and add an `upcast_vN_vN+1` static method when a
field changes, so that stored events keep loading.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate

from domain.facts import note_earliest


class TraineeEvent(Aggregate.Event):
    occurred_on: date
    actor: str


# Acts whose business date is the day they were recorded (the service dates them, not the
# person recording), so they cannot be back-dated and do not date the record's facts.
DATED_WHEN_RECORDED = frozenset(
    {"RotationScheduled", "RotationEntrySigned", "RotationEntryRetracted", "RotationEntryCorrected"}
)


class TraineeEnrolled(Aggregate.Created, TraineeEvent):
    """v2 records the standard and policy the trainee is measured against (R1-R14)."""

    class_version = 2
    name: str
    national_id: str
    pathway: str
    degree_category: str
    bachelor_major: str
    has_bachelor_of_medicine: bool
    holds_residency_certificate: bool
    licensed_at_enrollment: bool
    prior_training_months: float
    specialty: str
    base_id: str
    university: str
    cohort: int
    full_time_bachelor: bool
    # Ids of the versions in force at enrollment; None on records enrolled before
    # versions were recorded, which are measured against those in force on their date.
    standard_id: str | None
    policy_id: str | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["full_time_bachelor"] = True
        state["standard_id"] = None
        state["policy_id"] = None

    def apply(self, trainee: Any) -> None:
        trainee.enrolled_on = self.occurred_on
        trainee.pathway = self.pathway
        trainee.degree_category = self.degree_category
        trainee.licensed_at_enrollment = self.licensed_at_enrollment
        trainee.holds_residency_certificate_at_enrollment = self.holds_residency_certificate
        trainee.prior_training_months = self.prior_training_months
        trainee.base_id = self.base_id
        trainee.university = self.university
        trainee.specialty = self.specialty
        trainee.standard_id = self.standard_id
        trainee.policy_id = self.policy_id


def _tutors_in(trainee: Any, tutor_id: str, department: str | None) -> None:
    departments = trainee.tutors.setdefault(tutor_id, [])
    if department not in departments:
        departments.append(department)


class TutorAssigned(TraineeEvent):
    tutor_id: str
    role: str
    department: str | None

    def apply(self, trainee: Any) -> None:
        _tutors_in(trainee, self.tutor_id, self.department)
        if self.role == "FIRST_TUTOR":
            trainee.first_tutor_id = self.tutor_id
        elif self.role == "ROTATING_TUTOR" and self.department:
            trainee.rotating_tutors[self.department] = self.tutor_id


class RotationScheduled(TraineeEvent):
    rotation_id: str
    department: str
    stage: int
    start_on: date
    end_on: date
    tutor_id: str | None
    resident_duty: bool

    def apply(self, trainee: Any) -> None:
        trainee.rotations[self.rotation_id] = {
            "department": self.department,
            "start_on": self.start_on,
            "end_on": self.end_on,
            "tutor_id": self.tutor_id,
            "stage": self.stage,
            "resident_duty": self.resident_duty,
            "completed_on": None,
        }
        if self.tutor_id:
            _tutors_in(trainee, self.tutor_id, self.department)


class RotationCompleted(TraineeEvent):
    rotation_id: str

    def apply(self, trainee: Any) -> None:
        trainee.rotations[self.rotation_id]["completed_on"] = self.occurred_on


class RotationEntryRecorded(TraineeEvent):
    entry_id: str
    rotation_id: str
    kind: str
    description: str

    def apply(self, trainee: Any) -> None:
        trainee.entries[self.entry_id] = {
            "rotation_id": self.rotation_id,
            "kind": self.kind,
            "signed_by": None,
            "retracted": False,
        }


class RotationEntrySigned(TraineeEvent):
    entry_id: str
    tutor_id: str

    def apply(self, trainee: Any) -> None:
        trainee.entries[self.entry_id]["signed_by"] = self.tutor_id


class RotationEntryRetracted(TraineeEvent):
    entry_id: str
    reason: str

    def apply(self, trainee: Any) -> None:
        trainee.entries[self.entry_id]["retracted"] = True


class RotationEntryCorrected(TraineeEvent):
    """A new version of an entry's content. The tutor signed the old content, so the
    signature no longer holds; the corrected entry waits for signing again."""

    entry_id: str
    kind: str
    entry_occurred_on: date
    description: str
    reason: str

    def apply(self, trainee: Any) -> None:
        entry = trainee.entries[self.entry_id]
        entry["kind"] = self.kind
        entry["signed_by"] = None


class AssessmentRecorded(TraineeEvent):
    assessment_id: str
    kind: str
    assessor_id: str | None
    rotation_id: str | None
    overall: int | None
    passed: bool
    ratings: dict[str, Any] | None

    def apply(self, trainee: Any) -> None:
        trainee.assessments.append([self.kind, self.rotation_id, self.passed, self.occurred_on])


class EthicsViolationRecorded(TraineeEvent):
    """Permanent (R13): no event retracts it."""

    violation_id: str
    description: str
    confirmed: bool

    def apply(self, trainee: Any) -> None:
        if self.confirmed:
            trainee.confirmed_ethics_violations += 1


class LicenceGranted(TraineeEvent):
    number: str

    def apply(self, trainee: Any) -> None:
        trainee.certificates["LICENCE"] = [self.number, self.occurred_on]


class ResidencyCertificateIssued(TraineeEvent):
    number: str

    def apply(self, trainee: Any) -> None:
        trainee.certificates["RESIDENCY_CERTIFICATE"] = [self.number, self.occurred_on]


class PublicationRecorded(TraineeEvent):
    publication_id: str
    kind: str
    title: str

    def apply(self, trainee: Any) -> None:
        note_earliest(trainee.publication_kinds, self.kind.upper(), self.occurred_on)


class CourseworkRecorded(TraineeEvent):
    course: str
    passed: bool

    def apply(self, trainee: Any) -> None:
        # A course failed and passed later counts as passed, from the day it was passed.
        dated = trainee.coursework_passed if self.passed else trainee.coursework_failed
        note_earliest(dated, self.course, self.occurred_on)


class ThesisDefenseRecorded(TraineeEvent):
    passed: bool
    committee: list[str]

    def apply(self, trainee: Any) -> None:
        if self.passed:
            earlier = trainee.thesis_defense_passed_on
            trainee.thesis_defense_passed_on = min(earlier or self.occurred_on, self.occurred_on)


class LicensingExamRecorded(TraineeEvent):
    """A sitting of the national licensing exam (R7); its results feed R14."""

    passed: bool
    score: int | None

    def apply(self, trainee: Any) -> None:
        trainee.licensing_exam_passed = trainee.licensing_exam_passed or self.passed


class NationalExamRecorded(TraineeEvent):
    """The national foreign-language or subject exam of an equivalent-degree applicant (R11)."""

    exam: str
    passed: bool

    def apply(self, trainee: Any) -> None:
        if self.passed:
            note_earliest(trainee.national_exams_passed, self.exam, self.occurred_on)


class CertificateRevoked(TraineeEvent):
    kind: str
    reason: str

    def apply(self, trainee: Any) -> None:
        trainee.revoked[self.kind] = self.reason


class DiplomaIssued(TraineeEvent):
    number: str

    def apply(self, trainee: Any) -> None:
        trainee.certificates["DIPLOMA"] = [self.number, self.occurred_on]


class DegreeAwarded(TraineeEvent):
    number: str

    def apply(self, trainee: Any) -> None:
        trainee.certificates["DEGREE"] = [self.number, self.occurred_on]


class NationalIdClaimed(Aggregate.Created):
    """Marks a national ID as taken, so one person cannot be enrolled twice.

    The claim's id is derived from a digest of the national ID; the claim itself
    holds only the trainee it points to.
    """

    trainee_id: str


EVENT_TYPES: tuple[type[Aggregate.Event], ...] = (
    TraineeEnrolled,
    TutorAssigned,
    RotationScheduled,
    RotationCompleted,
    RotationEntryRecorded,
    RotationEntrySigned,
    RotationEntryRetracted,
    RotationEntryCorrected,
    AssessmentRecorded,
    EthicsViolationRecorded,
    LicenceGranted,
    ResidencyCertificateIssued,
    PublicationRecorded,
    CourseworkRecorded,
    ThesisDefenseRecorded,
    DiplomaIssued,
    DegreeAwarded,
    LicensingExamRecorded,
    NationalExamRecorded,
    CertificateRevoked,
)
