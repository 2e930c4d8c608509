"""R3 (two levels) and R5 (the "fill-in" method for prior training time)."""

from __future__ import annotations

from tests.api.conftest import GraphQL
from tests.regulations.conftest import read


def time_missing(trainee: dict) -> list[str]:
    return [reason for reason in trainee["handbook"]["missing"] if reason.startswith("R4:")]


def test_r3_r5_prior_training_counts_for_the_levels_the_policy_credits(gql: GraphQL) -> None:
    """Seed 000 §3.4.3: students "are divided into two levels" by "whether [they] have
    obtained the certificate of licensed physician" (R3), and "for non-graduate students,
    we adopt the 'fill-in' training method, that is, accurately record the clinical
    rotation time ... and add up the previous training time" (R5).

    Chongqing credits prior training to the licensed level only (the fill-in is for
    those already working as physicians); Jilin's measures (seed 004) set no such limit.
    20 prior months credited put a trainee past the 18 months of stage 1 (R4)."""
    def enroll(number: int, **changes: object) -> dict:
        return read(gql, gql.enroll(nationalId=f"11010119990101{number:04d}",
                                    priorTrainingMonths=20, **changes))

    chongqing_unlicensed = enroll(1)
    chongqing_licensed = enroll(2, licensedAtEnrollment=True)
    jilin_unlicensed = enroll(3, jurisdiction="jilin")

    assert [t["level"] for t in (chongqing_unlicensed, chongqing_licensed, jilin_unlicensed)] == [
        1, 2, 1]
    assert chongqing_unlicensed["handbook"]["creditedPriorMonths"] == 0
    assert chongqing_unlicensed["stage"] == 1
    assert time_missing(chongqing_unlicensed) == [
        "R4: 0 of 33 months of clinical training completed (including 0 credited prior "
        "months, R5)",
        "R4: 0 of 6 months as 24-hour resident in stage 2"]
    for credited in (chongqing_licensed, jilin_unlicensed):
        assert credited["handbook"]["creditedPriorMonths"] == 20
        assert credited["handbook"]["clinicalMonths"] == 0
        assert credited["stage"] == 2
        assert time_missing(credited)[0] == (
            "R4: 20 of 33 months of clinical training completed (including 20 credited "
            "prior months, R5)")
