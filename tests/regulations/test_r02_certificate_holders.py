"""R2: a holder of a residency certificate and the professional master's programme."""

from __future__ import annotations

from service.bootstrap import Services
from tests.api.conftest import ENROLL, GraphQL, enrollment
from tests.regulations.conftest import SCHEDULE, certificates, read, refused

HOLDER = {"holdsResidencyCertificate": True, "specialty": "programme medicine"}


def test_r2_a_certificate_holder_may_not_enroll_as_a_professional_master_in_jilin(
    gql: GraphQL, services: Services
) -> None:
    """Seed 004 art. 4 (Jilin): 已经获得住院医师规范化培训合格证书人员原则上不得报考医学
    硕士专业学位研究生 - a holder of the residency certificate may not apply for the
    professional master's. The Jilin policy refuses the enrollment and writes nothing;
    the same person may still apply for the degree by equivalent education (arts. 16-17).

    Seed 000 §3.4.3 (Chongqing) instead sends such a student straight to stage 2 (R6), so
    Chongqing enrolls them; and §3.2: enrolled students are registered into residency
    training without a separate entrance test, so rotations can be scheduled at once."""
    refusal = refused(gql, services, ENROLL, input=enrollment(jurisdiction="jilin", **HOLDER))
    assert refusal["extensions"]["unmet"] == [
        "R2: a holder of a residency certificate may not enroll as a professional master's "
        "student (jilin policy)"]

    equivalent = gql.enroll(jurisdiction="jilin", pathway="EQUIVALENT_DEGREE", **HOLDER)
    assert read(gql, equivalent)["policy"]["id"] == "jilin@2017"

    student = gql.enroll(nationalId="110101199901015678", jurisdiction="chongqing", **HOLDER)
    trainee = read(gql, student)
    assert (trainee["policy"]["id"], trainee["stage"]) == ("chongqing@2015", 2)
    held = certificates(trainee)["RESIDENCY_CERTIFICATE"]
    assert (held["state"], held["unmet"]) == ("GRANTED", [])
    assert gql.ok(SCHEDULE, t=student, dept="clinic", stage=2, start="2025-09-01",
                  end="2026-06-01", tutor="dr-clinic")
