"""Shared by the regulation tests (R1-R14 of DOMAIN.md): the `gql` client, the GraphQL
operations a training base and an auditor use, and a helper that checks a refusal wrote
nothing. Every test here runs on SQLite and PostgreSQL (the fixtures are parametrized)."""

from __future__ import annotations

from typing import Any

from service.bootstrap import Services
from tests.api.conftest import GraphQL, event_count, gql  # noqa: F401  (re-exported)
from tests.callers import STAFF, Caller, school_admin

# What a programme director reads: the stage, the handbook's verdict, the eligibility for
# the completion exam and the four certificates, each reason led by its rule id.
TRAINEE = """
query($t: ID!) {
  trainee(id: $t) {
    stage level
    standard { id version }
    policy { id }
    completionExam { eligible unmet }
    handbook {
      clinicalMonths creditedPriorMonths residentDutyMonths complete missing
      rotations { department tutorId entries { kind occurredOn signedBy late } }
    }
    certificates { kind state number unmet revocationReason }
  }
}"""

SCHEDULE = """
mutation($t: ID!, $dept: String!, $stage: Int!, $start: Date!, $end: Date!, $tutor: ID,
         $duty: Boolean! = false) {
  scheduleRotation(traineeId: $t, department: $dept, stage: $stage, startOn: $start,
                   endOn: $end, tutorId: $tutor, residentDuty: $duty) { id }
}"""
COMPLETE = """
mutation($t: ID!, $r: ID!, $on: Date!) {
  completeRotation(traineeId: $t, rotationId: $r, completedOn: $on) { id }
}"""
ENTRY = """
mutation($t: ID!, $r: ID!, $kind: EntryKind! = CASE, $on: Date!) {
  recordRotationEntry(traineeId: $t, rotationId: $r, kind: $kind, occurredOn: $on,
                      description: "community-acquired pneumonia") { id }
}"""
SIGN = """
mutation($t: ID!, $e: ID!, $tutor: ID!) {
  signRotationEntry(traineeId: $t, entryId: $e, tutorId: $tutor) { id }
}"""
ASSIGN_TUTOR = """
mutation($t: ID!, $tutor: ID!, $role: TutorRole!, $dept: String, $on: Date!) {
  assignTutor(traineeId: $t, tutorId: $tutor, role: $role, department: $dept,
              assignedOn: $on) { id }
}"""
ASSESSMENT = """
mutation($t: ID!, $kind: AssessmentKind!, $on: Date!, $passed: Boolean, $ratings: JSON) {
  recordAssessment(traineeId: $t, kind: $kind, occurredOn: $on, passed: $passed,
                   ratings: $ratings) { id }
}"""
GRANT_LICENCE = """
mutation($t: ID!, $on: Date!) { grantLicence(traineeId: $t, number: "L-1", grantedOn: $on) { id } }
"""
LICENSING_EXAM = """
mutation($t: ID!, $on: Date!, $passed: Boolean!) {
  recordLicensingExam(traineeId: $t, sittingOn: $on, passed: $passed) { id }
}"""
ISSUE_CERTIFICATE = """
mutation($t: ID!, $on: Date!) {
  issueResidencyCertificate(traineeId: $t, number: "R-1", issuedOn: $on) { id }
}"""
ISSUE_DIPLOMA = """
mutation($t: ID!, $on: Date!) { issueDiploma(traineeId: $t, number: "D-1", issuedOn: $on) { id } }
"""
AWARD_DEGREE = """
mutation($t: ID!, $on: Date!) { awardDegree(traineeId: $t, number: "M-1", awardedOn: $on) { id } }
"""

# The school of the trainees tests.history enrolls (so tests.scenarios too): STAFF is the
# base's administrator for them, but not their university's.
SCHOOL = school_admin("PKU")


def completion_exam(theory: bool, clinical_skills: bool) -> dict[str, bool]:
    """The ratings of a COMPLETION_EXAM sitting: its two parts, each passed or not."""
    return {"theory": theory, "clinicalSkills": clinical_skills}


def read(client: GraphQL, trainee: object) -> dict[str, Any]:
    return client.ok(TRAINEE, t=str(trainee))["trainee"]  # type: ignore[no-any-return]


def certificates(trainee: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The trainee's four certificates by kind."""
    return {c["kind"]: c for c in trainee["certificates"]}


def refused(
    client: GraphQL, services: Services, query: str, code: str = "RULES_NOT_MET",
    as_: Caller | None = STAFF, **variables: Any,
) -> dict[str, Any]:
    """Sends a command that must be refused with `code` (as the caller `as_`), and checks
    nothing was written."""
    written = event_count(services)
    error = client.error(query, as_=as_, **variables)
    assert error["extensions"]["code"] == code, error
    assert event_count(services) == written, "a refused command wrote events"
    return error  # type: ignore[no-any-return]
