"""R1: who may enroll as an integrated professional master's student."""

from __future__ import annotations

from service.bootstrap import Services
from tests.api.conftest import ENROLL, GraphQL, enrollment
from tests.regulations.conftest import read, refused

NOT_CLINICAL = (
    "R1: a CLINICAL_MEDICINE master's needs a bachelor's in clinical medicine / 临床医学; "
    "got 'nursing'"
)
PART_TIME = "R1: the bachelor's degree must come from full-time study"
NO_BACHELOR_OF_MEDICINE = "R1: a bachelor of medicine degree is required"


def test_r1_enrollment_needs_a_full_time_bachelor_of_medicine_in_clinical_medicine(
    gql: GraphQL, services: Services
) -> None:
    """Seed 000 §3.4.1 (Chongqing): applicants must be "full-time national education
    series undergraduate graduates" whose "undergraduate majors should be clinical
    medicine" and who "obtain bachelor's degree" (of medicine; seed 004 art. 16.1).

    Under the Chongqing policy each missing condition is named, the refusal writes
    nothing, and a stomatology graduate is refused: Chongqing admits clinical medicine
    only. An applicant who meets every condition is enrolled."""
    wrong_major = refused(gql, services, ENROLL, input=enrollment(bachelorMajor="nursing"))
    assert wrong_major["extensions"]["unmet"] == [NOT_CLINICAL]
    part_time = refused(gql, services, ENROLL, input=enrollment(fullTimeBachelor=False))
    assert part_time["extensions"]["unmet"] == [PART_TIME]
    no_degree = refused(gql, services, ENROLL, input=enrollment(hasBachelorOfMedicine=False))
    assert no_degree["extensions"]["unmet"] == [NO_BACHELOR_OF_MEDICINE]

    everything = refused(gql, services, ENROLL, input=enrollment(
        bachelorMajor="nursing", fullTimeBachelor=False, hasBachelorOfMedicine=False))
    assert everything["extensions"]["unmet"] == [NOT_CLINICAL, PART_TIME, NO_BACHELOR_OF_MEDICINE]
    assert everything["message"].startswith("cannot enroll this trainee: R1:")

    stomatology = refused(gql, services, ENROLL, input=enrollment(
        degreeCategory="STOMATOLOGY", bachelorMajor="stomatology"))
    assert stomatology["extensions"]["unmet"] == [
        "R1: chongqing admits professional master's students in CLINICAL_MEDICINE only, "
        "not STOMATOLOGY"]

    # The major is matched as a name: case and the Chinese name both count.
    admitted = gql.enroll(bachelorMajor="临床医学")
    assert read(gql, admitted)["policy"]["id"] == "chongqing@2015"
    assert gql.enroll(nationalId="110101199901019999", bachelorMajor="Clinical Medicine")


def test_r1_jilin_admits_stomatology_graduates(gql: GraphQL) -> None:
    """Seed 004 art. 16.1 (Jilin): 临床医学类、口腔医学类、中医学类或中西医结合类本科毕业生
    并获得医学学士学位 - stomatology graduates with a bachelor of medicine may apply; a
    bachelor of medicine is still required."""
    admitted = gql.enroll(jurisdiction="jilin", degreeCategory="STOMATOLOGY",
                          bachelorMajor="口腔医学")
    assert read(gql, admitted)["policy"]["id"] == "jilin@2017"
    refusal = gql.error(ENROLL, input=enrollment(
        nationalId="110101199901019999", jurisdiction="jilin", hasBachelorOfMedicine=False))
    assert refusal["extensions"]["unmet"] == [NO_BACHELOR_OF_MEDICINE]
