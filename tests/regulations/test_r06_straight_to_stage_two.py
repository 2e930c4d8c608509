"""R6: a residency-certificate holder goes straight to specialist training (stage 2)."""

from __future__ import annotations

from uuid import UUID

from service.bootstrap import Services
from tests.api.conftest import GraphQL
from tests.regulations.conftest import SCHEDULE, read, refused
from tests.scenarios import complete_training


def test_r6_a_certificate_holder_trains_fifteen_months_in_stage_two(
    gql: GraphQL, services: Services
) -> None:
    """Seed 000 §3.4.3 (Chongqing): "Students who have obtained the certificate of
    resident standardization training are directly transferred to specialist training
    (i.e. the second stage of standardization training)".

    Such a student starts in stage 2; a stage-1 rotation is refused and nothing is
    written; they owe the 33 months less the 18 of stage 1, i.e. 15 months, still with
    6 months of 24-hour resident duty, and are not measured against the stage-1
    department rotation table they completed in their earlier residency."""
    t = gql.enroll(specialty="programme medicine", enrolledOn="2023-09-01",
                   holdsResidencyCertificate=True)
    trainee = read(gql, t)
    assert trainee["stage"] == 2
    assert [r for r in trainee["handbook"]["missing"] if r.startswith("R4:")] == [
        "R4: 0 of 15 months of clinical training completed (including 0 credited prior "
        "months, R5)",
        "R4: 0 of 6 months as 24-hour resident in stage 2"]

    stage_one = refused(gql, services, SCHEDULE, t=t, dept="ward", stage=1,
                        start="2023-09-01", end="2025-03-01", tutor="dr-ward")
    assert stage_one["extensions"]["unmet"] == [
        "R6: a residency-certificate holder trains in stage 2 only"]

    # 9 months in the clinic, then 6 in the ward as 24-hour resident: 15 months.
    complete_training(services, UUID(t), stage_one=False)
    services.projector.catch_up()
    trained = read(gql, t)
    assert trained["handbook"]["clinicalMonths"] == 15
    assert trained["stage"] == 3
    assert trained["handbook"]["missing"] == []
    assert trained["handbook"]["complete"] is True
