"""R11: the master's degree by equivalent education (同等学力申请)."""

from __future__ import annotations

from service.bootstrap import Services
from tests.api.conftest import GraphQL
from tests.regulations.conftest import (
    AWARD_DEGREE,
    ISSUE_DIPLOMA,
    SCHOOL,
    certificates,
    read,
    refused,
)
from tests.scenarios import complete_training, enroll_programme_trainee, license_and_certify

COURSEWORK = """
mutation($t: ID!, $passed: Boolean!) { recordCoursework(traineeId: $t,
    course: "Medical statistics", passed: $passed, completedOn: "2025-01-10") { id } }"""
NATIONAL_EXAM = """
mutation($t: ID!, $exam: NationalExam!, $passed: Boolean!) { recordNationalExam(
    traineeId: $t, exam: $exam, sittingOn: "2025-05-18", passed: $passed) { id } }"""
DEFENSE = """
mutation($t: ID!) { recordThesisDefense(traineeId: $t, defendedOn: "2026-09-20", passed: true,
                    committee: ["prof-a", "prof-b"]) { id } }"""


def degree_unmet(gql: GraphQL, t: str) -> list[str]:
    return certificates(read(gql, t))["DEGREE"]["unmet"]  # type: ignore[no-any-return]


def test_r11_a_resident_earns_the_degree_by_equivalent_education(
    gql: GraphQL, services: Services
) -> None:
    """Seed 004 art. 17 (Jilin): 1. 完成由学位授予单位组织的课程学习，成绩考核合格;
    2. 参加同等学力人员申请硕士学位外国语水平全国统一考试及...学科综合水平全国统一考试，
    成绩合格; 3. 取得《医师资格证书》和《住院医师规范化培训合格证书》; 4. 通过学位授予单位
    组织的学位论文答辩 - coursework passed, the national foreign-language and subject exams
    passed, licence and residency certificate held, thesis defended. Art. 16.3: the degree
    category must correspond to the residency specialty.

    Each condition is named until it is met, a failed sitting or course does not count,
    and the degree is then awarded; a diploma is for enrolled students only."""
    trainee = enroll_programme_trainee(services, pathway="EQUIVALENT_DEGREE", jurisdiction="jilin")
    complete_training(services, trainee)
    services.projector.catch_up()
    t = str(trainee)
    refusal = refused(gql, services, AWARD_DEGREE, as_=SCHOOL, t=t, on="2026-10-01")
    assert refusal["extensions"]["unmet"] == degree_unmet(gql, t) == [
        "R11: thesis defense not passed",
        "R11: no coursework passed",
        "R11: national FOREIGN_LANGUAGE exam not passed",
        "R11: national SUBJECT_COMPREHENSIVE exam not passed",
        "R11: no licence held",
        "R11: no residency certificate held"]

    license_and_certify(services, trainee)
    services.projector.catch_up()
    gql.ok(COURSEWORK, as_=SCHOOL, t=t, passed=False)
    gql.ok(NATIONAL_EXAM, as_=SCHOOL, t=t, exam="FOREIGN_LANGUAGE", passed=False)
    gql.ok(NATIONAL_EXAM, as_=SCHOOL, t=t, exam="SUBJECT_COMPREHENSIVE", passed=True)
    assert degree_unmet(gql, t) == [
        "R11: thesis defense not passed",
        "R11: coursework 'Medical statistics' not passed",
        "R11: no coursework passed",
        "R11: national FOREIGN_LANGUAGE exam not passed"]

    gql.ok(COURSEWORK, as_=SCHOOL, t=t, passed=True)
    gql.ok(NATIONAL_EXAM, as_=SCHOOL, t=t, exam="FOREIGN_LANGUAGE", passed=True)
    gql.ok(DEFENSE, as_=SCHOOL, t=t)
    assert certificates(read(gql, t))["DEGREE"]["state"] == "ELIGIBLE"
    gql.ok(AWARD_DEGREE, as_=SCHOOL, t=t, on="2026-10-01")
    assert certificates(read(gql, t))["DEGREE"]["state"] == "GRANTED"
    no_diploma = refused(gql, services, ISSUE_DIPLOMA, code="CONFLICT", as_=SCHOOL, t=t,
                         on="2026-10-01")
    assert no_diploma["message"] == (
        "a diploma is issued only to enrolled students, not EQUIVALENT_DEGREE")


def test_r11_the_degree_category_must_match_the_residency_specialty(
    gql: GraphQL, services: Services
) -> None:
    """Seed 004 art. 16.3: 申请的专业学位类别应与住院医师规范化招收专业相对应. A
    stomatology applicant training in a clinical-medicine specialty is told so. The
    national exams belong to this pathway: an enrolled student has none to record."""
    t = gql.enroll(pathway="EQUIVALENT_DEGREE", jurisdiction="jilin",
                   specialty="programme medicine", degreeCategory="STOMATOLOGY",
                   bachelorMajor="stomatology")
    assert degree_unmet(gql, t)[-1] == (
        "R11: degree category STOMATOLOGY does not match the residency specialty programme "
        "medicine (CLINICAL_MEDICINE)")

    student = gql.enroll(nationalId="110101199901015678")
    wrong_pathway = refused(gql, services, NATIONAL_EXAM, code="CONFLICT", t=student,
                            exam="FOREIGN_LANGUAGE", passed=True)
    assert "belongs to the EQUIVALENT_DEGREE pathway (R11)" in wrong_pathway["message"]
