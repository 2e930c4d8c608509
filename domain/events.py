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


class TraineeEvent(Aggregate.Event):
    occurred_on: date
    actor: str


class TraineeEnrolled(Aggregate.Created, TraineeEvent):
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

    def apply(self, trainee: Any) -> None:
        trainee.enrolled_on = self.occurred_on
        trainee.pathway = self.pathway
        trainee.licensed_at_enrollment = self.licensed_at_enrollment
        trainee.holds_residency_certificate_at_enrollment = self.holds_residency_certificate
        trainee.base_id = self.base_id
        trainee.university = self.university
        trainee.specialty = self.specialty


class TutorAssigned(TraineeEvent):
    tutor_id: str
    role: str
    department: str | None

    def apply(self, trainee: Any) -> None:
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
            "completed_on": None,
        }


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


class AssessmentRecorded(TraineeEvent):
    assessment_id: str
    kind: str
    assessor_id: str | None
    rotation_id: str | None
    overall: int | None
    passed: bool
    ratings: dict[str, Any] | None


class EthicsViolationRecorded(TraineeEvent):
    violation_id: str
    description: str
    confirmed: bool


class LicenceGranted(TraineeEvent):
    number: str

    def apply(self, trainee: Any) -> None:
        trainee.certificates["LICENCE"] = self.number


class ResidencyCertificateIssued(TraineeEvent):
    number: str

    def apply(self, trainee: Any) -> None:
        trainee.certificates["RESIDENCY_CERTIFICATE"] = self.number


class PublicationRecorded(TraineeEvent):
    publication_id: str
    kind: str
    title: str


class CourseworkRecorded(TraineeEvent):
    course: str
    passed: bool


class ThesisDefenseRecorded(TraineeEvent):
    passed: bool
    committee: list[str]


class DiplomaIssued(TraineeEvent):
    number: str

    def apply(self, trainee: Any) -> None:
        trainee.certificates["DIPLOMA"] = self.number


class DegreeAwarded(TraineeEvent):
    number: str

    def apply(self, trainee: Any) -> None:
        trainee.certificates["DEGREE"] = self.number


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
    AssessmentRecorded,
    EthicsViolationRecorded,
    LicenceGranted,
    ResidencyCertificateIssued,
    PublicationRecorded,
    CourseworkRecorded,
    ThesisDefenseRecorded,
    DiplomaIssued,
    DegreeAwarded,
)
