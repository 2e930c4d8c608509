"""What callers ask of a trainee's record, in the imperative.

Commands carry the ids of the things they create, chosen by the caller (the service
layer), so that a retried command produces the same events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class Provenance:
    """Who issued a command, when it was recorded, and the business date of "today"."""

    actor: str
    recorded_at: datetime
    today: date


@dataclass(frozen=True)
class EnrollTrainee:
    trainee_id: UUID
    name: str
    national_id: str
    pathway: str
    degree_category: str
    bachelor_major: str
    has_bachelor_of_medicine: bool
    holds_residency_certificate: bool
    licensed_at_enrollment: bool
    specialty: str
    base_id: str
    university: str
    cohort: int
    enrolled_on: date
    prior_training_months: float = 0.0
    full_time_bachelor: bool = True
    # The policy's jurisdiction; None means the deployment's (DUALTRACK_JURISDICTION).
    jurisdiction: str | None = None


@dataclass(frozen=True)
class AssignTutor:
    trainee_id: UUID
    tutor_id: str
    role: str
    assigned_on: date
    department: str | None = None


@dataclass(frozen=True)
class ScheduleRotation:
    trainee_id: UUID
    rotation_id: UUID
    department: str
    stage: int
    start_on: date
    end_on: date
    tutor_id: str | None = None
    resident_duty: bool = False


@dataclass(frozen=True)
class CompleteRotation:
    trainee_id: UUID
    rotation_id: UUID
    completed_on: date


@dataclass(frozen=True)
class RecordRotationEntry:
    trainee_id: UUID
    entry_id: UUID
    rotation_id: UUID
    kind: str
    occurred_on: date
    description: str


@dataclass(frozen=True)
class SignRotationEntry:
    trainee_id: UUID
    entry_id: UUID
    tutor_id: str


@dataclass(frozen=True)
class RetractRotationEntry:
    trainee_id: UUID
    entry_id: UUID
    reason: str


@dataclass(frozen=True)
class CorrectRotationEntry:
    """Replaces an entry's whole content, saying why; the recorded entry stays on record."""

    trainee_id: UUID
    entry_id: UUID
    kind: str
    occurred_on: date
    description: str
    reason: str


@dataclass(frozen=True)
class RecordAssessment:
    trainee_id: UUID
    assessment_id: UUID
    kind: str
    occurred_on: date
    assessor_id: str | None = None
    rotation_id: UUID | None = None
    overall: int | None = None
    passed: bool | None = None
    ratings: dict[str, Any] | None = None


@dataclass(frozen=True)
class RecordEthicsViolation:
    trainee_id: UUID
    violation_id: UUID
    occurred_on: date
    description: str
    confirmed: bool


@dataclass(frozen=True)
class GrantLicence:
    trainee_id: UUID
    number: str
    granted_on: date


@dataclass(frozen=True)
class IssueResidencyCertificate:
    trainee_id: UUID
    number: str
    issued_on: date


@dataclass(frozen=True)
class RecordPublication:
    trainee_id: UUID
    publication_id: UUID
    kind: str
    title: str
    published_on: date


@dataclass(frozen=True)
class RecordCoursework:
    trainee_id: UUID
    course: str
    passed: bool
    completed_on: date


@dataclass(frozen=True)
class RecordThesisDefense:
    trainee_id: UUID
    defended_on: date
    passed: bool
    committee: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IssueDiploma:
    trainee_id: UUID
    number: str
    issued_on: date


@dataclass(frozen=True)
class AwardDegree:
    trainee_id: UUID
    number: str
    awarded_on: date


@dataclass(frozen=True)
class RecordLicensingExam:
    trainee_id: UUID
    sitting_on: date
    passed: bool
    score: int | None = None


@dataclass(frozen=True)
class RecordNationalExam:
    trainee_id: UUID
    exam: str
    sitting_on: date
    passed: bool


@dataclass(frozen=True)
class RevokeCertificate:
    trainee_id: UUID
    kind: str
    revoked_on: date
    reason: str
