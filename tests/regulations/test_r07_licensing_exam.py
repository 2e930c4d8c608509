"""R7: a clinical master without a licence may sit the licensing exam after one year."""

from __future__ import annotations

from service.bootstrap import Services
from tests.api.conftest import GraphQL
from tests.regulations.conftest import (
    COMPLETE,
    GRANT_LICENCE,
    LICENSING_EXAM,
    SCHEDULE,
    certificates,
    read,
    refused,
)


def enroll_with_ward_months(gql: GraphQL, *ends: str, **changes: object) -> str:
    """A trainee enrolled 2023-09-01 with consecutive completed ward rotations."""
    t = gql.enroll(specialty="programme medicine", enrolledOn="2023-09-01", **changes)
    start = "2023-09-01"
    for end in ends:
        rotation = gql.ok(SCHEDULE, t=t, dept="ward", stage=1, start=start, end=end,
                          tutor="dr-ward")["scheduleRotation"]["id"]
        gql.ok(COMPLETE, t=t, r=rotation, on=end)
        start = end
    return t


def test_r7_the_licensing_exam_opens_after_twelve_months_of_clinical_training(
    gql: GraphQL, services: Services
) -> None:
    """Seed 000 §3.2: "after one year's clinical training in the tertiary and first-class
    affiliated hospitals of the school, the clinical master who has not obtained the
    license of a licensed doctor is allowed to apply for the qualification examination
    of a licensed doctor".

    After 6 months both a sitting and the licence are refused, naming the months done,
    and nothing is written; after 12 months both are accepted (an ethics violation does
    not stop the licence either, see R13). A trainee licensed at enrollment has no exam
    to sit."""
    t = enroll_with_ward_months(gql, "2024-03-01")
    too_early = [
        "R7: the licensing exam is open after 12 months of clinical training; 6 completed"]
    sitting = refused(gql, services, LICENSING_EXAM, t=t, on="2024-03-10", passed=True)
    assert sitting["extensions"]["unmet"] == too_early
    assert sitting["message"].startswith("cannot sit the licensing exam")
    licence = refused(gql, services, GRANT_LICENCE, t=t, on="2024-04-01")
    assert licence["extensions"]["unmet"] == too_early
    assert certificates(read(gql, t))["LICENCE"]["unmet"] == too_early

    rotation = gql.ok(SCHEDULE, t=t, dept="ward", stage=1, start="2024-03-01", end="2024-09-01",
                      tutor="dr-ward")["scheduleRotation"]["id"]
    gql.ok(COMPLETE, t=t, r=rotation, on="2024-09-01")
    assert certificates(read(gql, t))["LICENCE"]["state"] == "ELIGIBLE"
    gql.ok(LICENSING_EXAM, t=t, on="2024-09-20", passed=True)
    gql.ok(GRANT_LICENCE, t=t, on="2024-12-01")
    licence_status = certificates(read(gql, t))["LICENCE"]
    assert (licence_status["state"], licence_status["number"]) == ("GRANTED", "L-1")

    licensed = gql.enroll(nationalId="110101199901015678", licensedAtEnrollment=True)
    assert certificates(read(gql, licensed))["LICENCE"]["state"] == "GRANTED"
    no_exam = refused(gql, services, LICENSING_EXAM, code="CONFLICT", t=licensed,
                      on="2025-10-01", passed=True)
    assert no_exam["message"] == "the trainee already held a licence at enrollment"


def test_r7_a_trainee_who_holds_a_licence_has_no_licensing_exam_to_sit(gql: GraphQL) -> None:
    """R7 opens the exam to a clinical master "who has not obtained the license". Once a
    licence is granted, a further sitting must be refused like one by a trainee licensed
    at enrollment; otherwise it counts the licensed trainee again as a candidate in the
    R14 licence-exam pass rates (seed 003, task 12)."""
    t = enroll_with_ward_months(gql, "2024-09-01")
    gql.ok(GRANT_LICENCE, t=t, on="2024-12-01")
    body = gql(LICENSING_EXAM, t=t, on="2025-09-20", passed=False)
    assert body.get("errors"), (
        "BUG: recordLicensingExam is accepted for a trainee whose licence was granted "
        "(Trainee._check_not_licensed only looks at licensedAtEnrollment); the sitting "
        "then counts in R14's licence figures")
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"


def test_r7_a_sitting_dated_within_the_first_year_is_refused(gql: GraphQL) -> None:
    """R7 is "after one year's clinical training": a sitting (or a licence) dated before
    the twelfth month was completed contradicts it, even when the twelve months are on
    the record by the time the sitting is entered."""
    t = enroll_with_ward_months(gql, "2024-09-01")  # 12 months, completed 2024-09-01
    body = gql(LICENSING_EXAM, t=t, on="2024-01-15", passed=True)
    assert body.get("errors"), (
        "BUG: a licensing-exam sitting dated 2024-01-15 is accepted although the trainee's "
        "only rotation (2023-09-01..2024-09-01) was not completed on that day; R7 is checked "
        "against the months recorded now, not those completed by sittingOn (likewise "
        "grantLicence's grantedOn)")
    assert body["errors"][0]["extensions"]["code"] == "RULES_NOT_MET"
