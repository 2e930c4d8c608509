"""A trainee's record kept through GraphQL, as a portal keeps it."""

from __future__ import annotations

from service.bootstrap import Services
from tests.api.conftest import GraphQL, event_count
from tests.callers import trainee as own
from tests.callers import tutor

SCHEDULE = """
mutation($t: ID!, $dept: String!, $start: Date!, $end: Date!, $tutor: ID) {
  scheduleRotation(traineeId: $t, department: $dept, stage: 1, startOn: $start, endOn: $end,
                   tutorId: $tutor) { id position }
}"""
ENTRY = """
mutation($t: ID!, $r: ID!, $on: Date!) {
  recordRotationEntry(traineeId: $t, rotationId: $r, kind: CASE, occurredOn: $on,
                      description: "community-acquired pneumonia") { id position }
}"""
SIGN = """
mutation($t: ID!, $e: ID!, $tutor: ID!) {
  signRotationEntry(traineeId: $t, entryId: $e, tutorId: $tutor) { id }
}"""
HANDBOOK = """
query($t: ID!) {
  trainee(id: $t) {
    id name stage version enrolledOn pathway
    tutors { tutorId role department assignedOn }
    handbook {
      clinicalMonths creditedPriorMonths residentDutyMonths complete missing
      rotations { id department completed tutorId
                  entries { id kind occurredOn signedBy late retracted } }
      assessments { kind overall passed ratings rotationId }
    }
    certificates { kind state number grantedOn unmet }
    auditTrail(first: 50) { items { type actor occurredOn recordedAt version } hasMore }
  }
}"""


def test_enrollment_is_readable_as_soon_as_the_mutation_returns(gql: GraphQL) -> None:
    trainee_id = gql.enroll()
    trainee = gql.ok(HANDBOOK, t=trainee_id)["trainee"]
    assert trainee["name"] == "Li Lei"
    assert trainee["stage"] == 1
    assert trainee["enrolledOn"] == "2025-09-01"
    assert [c["kind"] for c in trainee["certificates"]] == [
        "LICENCE", "RESIDENCY_CERTIFICATE", "DIPLOMA", "DEGREE"]
    assert trainee["auditTrail"]["items"][0]["type"] == "TraineeEnrolled"
    assert trainee["auditTrail"]["items"][0]["actor"] == "staff-1"


def test_a_rotation_kept_end_to_end(gql: GraphQL, services: Services) -> None:
    # Jilin's policy credits prior training at every level (R5), so 9 + 3 months open R7.
    t = gql.enroll(priorTrainingMonths=9, jurisdiction="jilin")
    gql.ok("""mutation($t: ID!) { assignTutor(traineeId: $t, tutorId: "dr-wang",
           role: ROTATING_TUTOR, department: "cardiology", assignedOn: "2025-09-01") { id } }""",
           t=t)
    rotation = gql.ok(SCHEDULE, t=t, dept="cardiology", start="2025-09-01",
                      end="2025-12-01")["scheduleRotation"]["id"]
    first = gql.ok(ENTRY, as_=own(t), t=t, r=rotation,
                   on="2025-09-10")["recordRotationEntry"]["id"]
    second = gql.ok(ENTRY, as_=own(t), t=t, r=rotation,
                    on="2025-09-11")["recordRotationEntry"]["id"]

    # A hospital tutor of the same department may sign in their own name, but R8 keeps
    # the rotation's entries for the rotation's tutor.
    gql.ok("""mutation($t: ID!) { assignTutor(traineeId: $t, tutorId: "dr-li",
           role: HOSPITAL_TUTOR, department: "cardiology", assignedOn: "2025-09-01") { id } }""",
           t=t)
    wrong = gql.error(SIGN, as_=tutor("dr-li"), t=t, e=first, tutor="dr-li")
    assert wrong["extensions"]["code"] == "BAD_USER_INPUT"
    assert "dr-li is not the tutor" in wrong["message"]
    forged = gql.error(SIGN, as_=tutor("dr-li"), t=t, e=first, tutor="dr-wang")
    assert forged["extensions"]["code"] == "FORBIDDEN"
    gql.ok(SIGN, as_=tutor("dr-wang"), t=t, e=first, tutor="dr-wang")
    again = gql.error(SIGN, as_=tutor("dr-wang"), t=t, e=first, tutor="dr-wang")
    assert again["extensions"]["code"] == "CONFLICT"
    gql.ok("""mutation($t: ID!, $e: ID!) { retractRotationEntry(traineeId: $t, entryId: $e,
           reason: "duplicate") { id } }""", t=t, e=second)

    gql.ok("""mutation($t: ID!, $r: ID!) { recordAssessment(traineeId: $t, kind: MINI_CEX,
           occurredOn: "2025-10-01", assessorId: "dr-wang", rotationId: $r, overall: 7,
           ratings: {medicalInterview: 7, clinicalJudgment: 6}) { id } }""",
           as_=tutor("dr-wang"), t=t, r=rotation)
    off_scale = gql.error("""mutation($t: ID!, $r: ID!) { recordAssessment(traineeId: $t,
           kind: MINI_CEX, occurredOn: "2025-10-01", rotationId: $r, overall: 7,
           ratings: {medicalInterview: 10}) { id } }""", t=t, r=rotation)
    assert off_scale["extensions"]["code"] == "BAD_USER_INPUT"
    assert "outside the form's scale 1-9" in off_scale["message"]

    too_early = gql.error("""mutation($t: ID!) { grantLicence(traineeId: $t, number: "110000",
           grantedOn: "2025-11-01") { id } }""", t=t)
    assert too_early["extensions"]["code"] == "RULES_NOT_MET"
    assert too_early["extensions"]["unmet"] == [
        "R7: the licensing exam is open after 12 months of clinical training; 9 completed"]
    gql.ok("""mutation($t: ID!, $r: ID!) { completeRotation(traineeId: $t, rotationId: $r,
           completedOn: "2025-12-01") { id } }""", t=t, r=rotation)
    gql.ok("""mutation($t: ID!) { grantLicence(traineeId: $t, number: "110000",
           grantedOn: "2026-08-01") { id } }""", t=t)
    written = event_count(services)
    second_licence = gql.error("""mutation($t: ID!) { grantLicence(traineeId: $t,
           number: "110001", grantedOn: "2026-08-02") { id } }""", t=t)
    assert second_licence["extensions"]["code"] == "CONFLICT"
    assert event_count(services) == written

    trainee = gql.ok(HANDBOOK, t=t)["trainee"]
    handbook = trainee["handbook"]
    assert handbook["clinicalMonths"] == 3.0
    [kept] = handbook["rotations"]
    assert kept["completed"] is True
    assert [(e["signedBy"], e["retracted"]) for e in kept["entries"]] == [
        ("dr-wang", False), (None, True)]
    assert handbook["assessments"][0]["ratings"] == {"medicalInterview": 7, "clinicalJudgment": 6}
    assert handbook["assessments"][0]["passed"] is True
    licence = trainee["certificates"][0]
    assert (licence["state"], licence["number"], licence["grantedOn"]) == (
        "GRANTED", "110000", "2026-08-01")
    assert any(reason.startswith("R4:") for reason in handbook["missing"])


def test_unknown_things_are_named(gql: GraphQL, services: Services) -> None:
    t = gql.enroll()
    written = event_count(services)
    missing = gql.error(ENTRY, as_=own(t), t=t, r="00000000-0000-0000-0000-000000000000",
                        on="2025-09-10")
    assert missing["extensions"]["code"] == "NOT_FOUND"
    assert "has no rotation" in missing["message"]
    malformed = gql.error(ENTRY, as_=own(t), t=t, r="not-an-id", on="2025-09-10")
    assert malformed["extensions"]["code"] == "BAD_USER_INPUT"
    assert "rotationId" in malformed["message"]
    nobody = gql.error(ENTRY, t="11111111-1111-1111-1111-111111111111",
                       r="00000000-0000-0000-0000-000000000000", on="2025-09-10")
    assert nobody["extensions"]["code"] == "NOT_FOUND"
    assert event_count(services) == written
    assert gql.ok("{ trainee(id: \"11111111-1111-1111-1111-111111111111\") { id } }") == {
        "trainee": None}


def test_bad_dates_and_duplicates_are_refused_with_nothing_written(
    gql: GraphQL, services: Services
) -> None:
    t = gql.enroll()
    written = event_count(services)
    backwards = gql.error(SCHEDULE, t=t, dept="cardiology", start="2025-12-01", end="2025-09-01")
    assert backwards["extensions"]["code"] == "BAD_USER_INPUT"
    assert "must be after startOn" in backwards["message"]
    duplicate = gql.error(
        "mutation($i: EnrollTraineeInput!) { enrollTrainee(input: $i) { id } }",
        i=__import__("tests.api.conftest", fromlist=["enrollment"]).enrollment(),
    )
    assert duplicate["extensions"]["code"] == "CONFLICT"
    invalid = gql.error("{ trainee(id: 5) { nosuchfield } }")
    assert invalid["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    impossible = gql.error(SCHEDULE, t=t, dept="cardiology", start="2025-13-45", end="2026-01-01")
    assert impossible["extensions"]["code"] == "BAD_USER_INPUT"
    assert "2025-13-45" in impossible["message"]
    assert event_count(services) == written
