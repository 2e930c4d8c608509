"""R4: two stages of clinical training, then the end of clinical training."""

from __future__ import annotations

from service.bootstrap import Services
from tests.api.conftest import GraphQL
from tests.regulations.conftest import COMPLETE, SCHEDULE, read, refused


def test_r4_stage_one_then_stage_two_with_six_months_resident_duty(
    gql: GraphQL, services: Services
) -> None:
    """Seed 000 §3.4.3: "The first stage of clinical rotation is one and a half years
    after enrollment ... The second stage is the directional training of clinical
    competence in the Department for one and a half years, requiring students to serve
    as 24-hour resident for not less than 6 months, with a total time of not less than
    33 months" (seed 002 also asks 33 months of clinical rotation).

    The stage follows the completed rotations: 1 until 18 months are done, 2 after, and
    3 (clinical training complete) only once 33 months include 6 months of 24-hour
    resident duty. Resident duty belongs to stage 2: a stage-1 rotation with it is refused."""
    t = gql.enroll(specialty="programme medicine", enrolledOn="2023-03-01")

    def rotation(dept: str, stage: int, start: str, end: str, duty: bool = False) -> dict:
        rotation_id = gql.ok(SCHEDULE, t=t, dept=dept, stage=stage, start=start, end=end,
                             tutor=f"dr-{dept}", duty=duty)["scheduleRotation"]["id"]
        assert read(gql, t)["stage"] == (1 if stage == 1 else 2), "scheduling is not training"
        gql.ok(COMPLETE, t=t, r=rotation_id, on=end)
        return read(gql, t)

    duty_in_stage_one = refused(gql, services, SCHEDULE, code="BAD_USER_INPUT", t=t, dept="ward",
                                stage=1, start="2023-03-01", end="2024-09-01", duty=True)
    assert duty_in_stage_one["message"] == "R4: 24-hour resident duty belongs to stage 2"
    assert read(gql, t)["stage"] == 1

    after_ward = rotation("ward", 1, "2023-03-01", "2024-09-01")
    assert (after_ward["stage"], after_ward["handbook"]["clinicalMonths"]) == (2, 18)

    rotation("clinic", 2, "2024-09-01", "2025-06-01")
    no_duty = rotation("ward", 2, "2025-06-01", "2025-12-01")
    assert no_duty["handbook"]["clinicalMonths"] == 33
    assert no_duty["stage"] == 2, "33 months without resident duty do not end clinical training"
    assert [r for r in no_duty["handbook"]["missing"] if r.startswith("R4:")] == [
        "R4: 0 of 6 months as 24-hour resident in stage 2"]

    done = rotation("ward", 2, "2025-12-01", "2026-06-01", duty=True)
    assert done["handbook"]["residentDutyMonths"] == 6
    assert done["stage"] == 3
    assert not [r for r in done["handbook"]["missing"] if r.startswith("R4:")]
