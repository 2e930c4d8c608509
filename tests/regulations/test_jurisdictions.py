"""Where provinces' regulations differ, the same history gets each province's answer."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from domain import commands as c
from service.bootstrap import Services
from service.principals import system
from tests import callers
from tests.api.conftest import ENROLL, GraphQL, enrollment
from tests.regulations.conftest import ENTRY, SCHEDULE, SIGN, certificates, read
from tests.scenarios import complete_training, enroll_programme_trainee, license_and_certify

# The answers of seed 000 (Chongqing) and seed 004 (Jilin) to the same questions.
ANSWERS: dict[str, dict[str, Any]] = {
    "chongqing": {
        # §3.4.3: holders go straight to stage 2 (R6)  | art. 4: holders may not apply (R2)
        "certificate holder": "enrolled in stage 2",
        # §3.4.1: clinical medicine only               | art. 16.1: stomatology too (R1)
        "stomatology graduate": [
            "R1: chongqing admits professional master's students in CLINICAL_MEDICINE only, "
            "not STOMATOLOGY"],
        # §3.4.1: full-time graduates                  | art. 16.1: no study mode named (R1)
        "part-time graduate": ["R1: the bachelor's degree must come from full-time study"],
        # §3.4.3: fill-in for the licensed level       | no limit (R3, R5)
        "credited prior months, unlicensed": 0,
        # §3.5: a review or case analysis              | art. 17: no publication (R10)
        "degree without a publication": ["R10: no published case_analysis or review"],
    },
    "jilin": {
        "certificate holder": [
            "R2: a holder of a residency certificate may not enroll as a professional "
            "master's student (jilin policy)"],
        "stomatology graduate": "enrolled in stage 1",
        "part-time graduate": "enrolled in stage 1",
        "credited prior months, unlicensed": 9,
        "degree without a publication": [],
    },
}


def applicant(jurisdiction: str, number: int, **changes: Any) -> dict[str, Any]:
    return enrollment(nationalId=f"11010119990101{number:04d}", jurisdiction=jurisdiction,
                      **changes)


def enrollment_answer(gql: GraphQL, applicant: dict[str, Any]) -> str | list[str]:
    body = gql(ENROLL, input=applicant)
    if body.get("errors"):
        return body["errors"][0]["extensions"]["unmet"]  # type: ignore[no-any-return]
    trainee = read(gql, body["data"]["enrollTrainee"]["traineeId"])
    return f"enrolled in stage {trainee['stage']}"


@pytest.mark.parametrize("jurisdiction", sorted(ANSWERS))
def test_chongqing_and_jilin_answer_the_same_questions_differently(
    gql: GraphQL, services: Services, jurisdiction: str
) -> None:
    """The same applicants and the same training history, under the policy of the
    trainee's jurisdiction (named at enrollment): the Chongqing paper (seed 000) and the
    Jilin measures (seed 004) disagree on certificate holders (R2/R6), stomatology
    graduates and full-time study (R1), prior training credit (R5) and the degree's
    publication (R10)."""
    j = jurisdiction
    answers = {
        "certificate holder": enrollment_answer(
            gql, applicant(j, 1, holdsResidencyCertificate=True)),
        "stomatology graduate": enrollment_answer(
            gql, applicant(j, 2, degreeCategory="STOMATOLOGY", bachelorMajor="stomatology")),
        "part-time graduate": enrollment_answer(gql, applicant(j, 3, fullTimeBachelor=False)),
        "credited prior months, unlicensed": read(gql, gql.enroll(
            **applicant(j, 4, priorTrainingMonths=9)))["handbook"]["creditedPriorMonths"],
    }
    t = enroll_programme_trainee(services, jurisdiction=jurisdiction)
    complete_training(services, t)
    license_and_certify(services, t)
    services.records.execute(
        c.RecordThesisDefense(t, date(2026, 5, 20), True, ["prof-a"]), system("u")
    )
    services.records.execute(c.RecordAssessment(
        t, uuid.uuid4(), "CLINICAL_COMPETENCE", date(2026, 5, 10), passed=True), system("u"))
    services.projector.catch_up()
    answers["degree without a publication"] = certificates(read(gql, t))["DEGREE"]["unmet"]

    assert answers == ANSWERS[jurisdiction]


def test_jiangsu_averages_completion_over_departments_with_the_threshold_in_force(
    gql: GraphQL,
) -> None:
    """Jiangsu's provincial platform (service/data/policies/jiangsu.yaml; DOMAIN.md,
    reference data): per department, signed entries over required ones capped at 100%,
    averaged over departments; the completion exam opens at an average of 80%, raised
    to 88% on 2025-02-20.

    Two trainees under programme medicine v2 (3 ward cases, 1 clinic procedure) with the
    same entries - 2 ward cases and 1 procedure: (66.7% + 100%) / 2 = 83.3% - one
    enrolled under the 2016 policy, one under the 2025 policy. Only the second is short,
    and neither is told about individual counts."""
    def trainee(national_id: str, enrolled_on: str) -> dict[str, Any]:
        t = gql.enroll(nationalId=national_id, jurisdiction="jiangsu",
                       specialty="programme medicine", enrolledOn=enrolled_on)
        for dept, stage, start, end, kind, count in (
            ("ward", 1, "2025-03-01", "2026-09-01", "CASE", 2),
            ("clinic", 2, "2026-09-01", "2027-06-01", "PROCEDURE", 1),
        ):
            rotation = gql.ok(SCHEDULE, t=t, dept=dept, stage=stage, start=start, end=end,
                              tutor=f"dr-{dept}")["scheduleRotation"]["id"]
            for n in range(count):
                entry = gql.ok(ENTRY, as_=callers.trainee(t), t=t, r=rotation, kind=kind,
                               on=f"{start[:8]}{10 + n}")["recordRotationEntry"]["id"]
                gql.ok(SIGN, as_=callers.tutor(f"dr-{dept}"), t=t, e=entry, tutor=f"dr-{dept}")
        return read(gql, t)

    eighty = trainee("110101199901010001", "2025-01-15")
    eighty_eight = trainee("110101199901010002", "2025-03-01")
    assert (eighty["standard"]["id"], eighty["policy"]["id"]) == (
        "programme medicine@2", "jiangsu@2016")
    assert (eighty_eight["standard"]["id"], eighty_eight["policy"]["id"]) == (
        "programme medicine@2", "jiangsu@2025")

    def average(t: dict[str, Any]) -> list[str]:
        return [r for r in t["handbook"]["missing"] if r.startswith("R8:") and "entries" in r]

    assert average(eighty) == []
    assert average(eighty_eight) == [
        "R8: required entries 83.3% complete on average over 2 departments; the jiangsu "
        "policy asks 88%"]
