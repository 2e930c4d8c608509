"""R10: the degree of an integrated student, and the four certificates in one."""

from __future__ import annotations

import uuid
from datetime import date

from domain import commands as c
from service.bootstrap import Services
from service.principals import system
from tests.api.conftest import GraphQL
from tests.regulations.conftest import (
    ASSESSMENT,
    AWARD_DEGREE,
    ISSUE_DIPLOMA,
    SCHOOL,
    certificates,
    read,
    refused,
)
from tests.scenarios import (
    complete_training,
    degree_work,
    enroll_programme_trainee,
    license_and_certify,
)

DEFENSE = """
mutation($t: ID!) { recordThesisDefense(traineeId: $t, defendedOn: "2026-05-20", passed: true,
                    committee: ["prof-a", "prof-b"]) { id } }"""
PUBLICATION = """
mutation($t: ID!, $kind: String!) { recordPublication(traineeId: $t, kind: $kind,
                    title: "A rare case", publishedOn: "2026-03-01") { id } }"""


def certified(services: Services, **changes: object) -> uuid.UUID:
    """Handbook complete, licence, completion exam passed, residency certificate."""
    t = enroll_programme_trainee(services, **changes)
    complete_training(services, t)
    license_and_certify(services, t)
    services.projector.catch_up()
    return t


def test_r10_defense_clinical_competence_and_a_review_or_case_analysis_earn_the_degree(
    gql: GraphQL, services: Services
) -> None:
    """Seed 000 §3.5 (Chongqing): "Before graduation, clinical masters not only have to
    defend their dissertations, but also have to pass strict clinical competence
    assessment ... clinical master can apply for a degree only by publishing a review or
    case analysis"; §6: the four certificates are the licence, the residency certificate,
    the diploma and the degree.

    The degree is refused listing the defense, the clinical competence assessment and
    the publication; a research article is not a publication of the kind Chongqing
    accepts. With a case analysis the degree is awarded and all four certificates are
    held."""
    t = str(certified(services))
    missing = refused(gql, services, AWARD_DEGREE, as_=SCHOOL, t=t, on="2026-07-01")
    assert missing["extensions"]["unmet"] == [
        "R10: thesis defense not passed",
        "R10: clinical competence assessment not passed",
        "R10: no published case_analysis or review"]
    diploma = refused(gql, services, ISSUE_DIPLOMA, as_=SCHOOL, t=t, on="2026-07-01")
    assert diploma["extensions"]["unmet"] == ["R10: thesis defense not passed"]

    gql.ok(DEFENSE, as_=SCHOOL, t=t)
    gql.ok(ASSESSMENT, t=t, kind="CLINICAL_COMPETENCE", on="2026-05-10", passed=True)
    gql.ok(PUBLICATION, as_=SCHOOL, t=t, kind="ARTICLE")
    article_only = refused(gql, services, AWARD_DEGREE, as_=SCHOOL, t=t, on="2026-07-01")
    assert article_only["extensions"]["unmet"] == ["R10: no published case_analysis or review"]

    gql.ok(PUBLICATION, as_=SCHOOL, t=t, kind="CASE_ANALYSIS")
    gql.ok(ISSUE_DIPLOMA, as_=SCHOOL, t=t, on="2026-07-01")
    gql.ok(AWARD_DEGREE, as_=SCHOOL, t=t, on="2026-07-01")
    assert {kind: c["state"] for kind, c in certificates(read(gql, t)).items()} == {
        "LICENCE": "GRANTED", "RESIDENCY_CERTIFICATE": "GRANTED", "DIPLOMA": "GRANTED",
        "DEGREE": "GRANTED"}


def test_r10_jilin_sets_no_publication_condition(gql: GraphQL, services: Services) -> None:
    """Seed 004 arts. 15-17 (Jilin) name no publication among the degree's conditions, so
    the Jilin policy awards the degree on the defense and clinical competence alone."""
    t = certified(services, jurisdiction="jilin")
    services.records.execute(
        c.RecordThesisDefense(t, date(2026, 5, 20), True, ["prof-a"]), system("school"))
    services.records.execute(c.RecordAssessment(
        t, uuid.uuid4(), "CLINICAL_COMPETENCE", date(2026, 5, 10), passed=True), system("school"))
    services.projector.catch_up()
    assert certificates(read(gql, t))["DEGREE"] == {
        "kind": "DEGREE", "state": "ELIGIBLE", "number": None, "unmet": [],
        "revocationReason": None}
    gql.ok(AWARD_DEGREE, as_=SCHOOL, t=str(t), on="2026-07-01")


def test_r10_a_degree_cannot_be_dated_before_the_work_that_earns_it(
    gql: GraphQL, services: Services
) -> None:
    """A certificate is judged as the record stood on its own date: a degree dated before
    the defense, the clinical competence assessment or the publication is refused, so
    the record cannot be backdated quietly (seed 000 §3.5)."""
    t = certified(services)
    degree_work(services, t)  # defense 2026-05-20, competence 2026-05-10, case 2026-03-01
    services.projector.catch_up()
    early = refused(gql, services, AWARD_DEGREE, as_=SCHOOL, t=str(t), on="2026-05-15")
    assert early["extensions"]["unmet"] == ["R10: thesis defense not passed"]
    gql.ok(AWARD_DEGREE, as_=SCHOOL, t=str(t), on="2026-05-21")
