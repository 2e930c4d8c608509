"""Closed vocabularies of the record, as named in the GraphQL contract."""

from __future__ import annotations

from enum import StrEnum


class Pathway(StrEnum):
    INTEGRATED_MASTER = "INTEGRATED_MASTER"
    RESIDENT_ONLY = "RESIDENT_ONLY"
    EQUIVALENT_DEGREE = "EQUIVALENT_DEGREE"


class DegreeCategory(StrEnum):
    CLINICAL_MEDICINE = "CLINICAL_MEDICINE"
    STOMATOLOGY = "STOMATOLOGY"
    TCM = "TCM"
    INTEGRATED_TCM_WESTERN = "INTEGRATED_TCM_WESTERN"


class CertificateKind(StrEnum):
    LICENCE = "LICENCE"
    RESIDENCY_CERTIFICATE = "RESIDENCY_CERTIFICATE"
    DIPLOMA = "DIPLOMA"
    DEGREE = "DEGREE"


class CertificateState(StrEnum):
    NOT_ELIGIBLE = "NOT_ELIGIBLE"
    ELIGIBLE = "ELIGIBLE"
    GRANTED = "GRANTED"
    REVOKED = "REVOKED"


class TutorRole(StrEnum):
    FIRST_TUTOR = "FIRST_TUTOR"
    ROTATING_TUTOR = "ROTATING_TUTOR"
    SCHOOL_TUTOR = "SCHOOL_TUTOR"
    HOSPITAL_TUTOR = "HOSPITAL_TUTOR"


class EntryKind(StrEnum):
    CASE = "CASE"
    PROCEDURE = "PROCEDURE"
    DUTY_SHIFT = "DUTY_SHIFT"
    TEACHING_ROUND = "TEACHING_ROUND"
    LECTURE = "LECTURE"
    OTHER = "OTHER"


class AssessmentKind(StrEnum):
    PRE_JOB_TRAINING = "PRE_JOB_TRAINING"
    MINI_CEX = "MINI_CEX"
    DOPS = "DOPS"
    RECORD_WRITING = "RECORD_WRITING"
    DEPARTURE_EXAM = "DEPARTURE_EXAM"
    STAGE = "STAGE"
    ANNUAL = "ANNUAL"
    COMPLETION_EXAM = "COMPLETION_EXAM"
    CLINICAL_COMPETENCE = "CLINICAL_COMPETENCE"


class NationalExam(StrEnum):
    """The national exams of an equivalent-degree applicant (R11, seed 004 art. 17.2)."""

    FOREIGN_LANGUAGE = "FOREIGN_LANGUAGE"
    SUBJECT_COMPREHENSIVE = "SUBJECT_COMPREHENSIVE"


# Assessments observed in one department's rotation must say which rotation.
ROTATION_BOUND_ASSESSMENTS = frozenset(
    {AssessmentKind.MINI_CEX, AssessmentKind.DOPS, AssessmentKind.DEPARTURE_EXAM}
)
