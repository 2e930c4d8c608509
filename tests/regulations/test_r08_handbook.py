"""R8: the registration and assessment handbooks, kept timely and truthfully."""

from __future__ import annotations

from service.bootstrap import Services
from tests.api.conftest import GraphQL
from tests.callers import trainee, tutor
from tests.regulations.conftest import ASSIGN_TUTOR, ENTRY, SCHEDULE, SIGN, read, refused
from tests.scenarios import complete_training, enroll_programme_trainee


def test_r8_the_handbook_names_what_the_standard_still_asks(
    gql: GraphQL, services: Services
) -> None:
    """Seed 004 art. 13 (Jilin): 医学硕士专业学位研究生在临床轮转期间要及时、如实填写住培
    登记手册及考核手册 - entries are filled in timely and truthfully, and the handbooks are
    the required evidence for completion-exam eligibility; each entry is signed by the
    rotating tutor of its department (seed 000 §3.3.2).

    A rotation in a department the trainee's standard does not have is refused, naming
    the standard's departments. Only the rotation's tutor may sign its entries, not
    another tutor of the trainee in that department. The handbook lists, by department,
    the months, signed entries and assessments still missing, and entries awaiting a
    signature. An entry recorded more than 14 days after it happened (the deployment's
    setting) is flagged late, not refused."""
    # Enrolled 2026-09-01, so the programme medicine standard v2 applies: 3 ward cases.
    t = gql.enroll(specialty="programme medicine", enrolledOn="2026-09-01")
    unknown = refused(gql, services, SCHEDULE, code="BAD_USER_INPUT", t=t, dept="cardiology",
                      stage=1, start="2026-09-01", end="2028-03-01", tutor="dr-ward")
    assert unknown["message"] == (
        "department 'cardiology' is not in the programme medicine@2 standard; its departments "
        "are ward, clinic")

    # The standard's alias names the same department.
    ward = gql.ok(SCHEDULE, t=t, dept="病房", stage=1, start="2026-09-01", end="2028-03-01",
                  tutor="dr-ward")["scheduleRotation"]["id"]
    late, timely = (
        gql.ok(ENTRY, as_=trainee(t), t=t, r=ward, on=on)["recordRotationEntry"]["id"]
        for on in ("2026-09-02", "2026-11-20"))
    gql.ok(SIGN, as_=tutor("dr-ward"), t=t, e=late, tutor="dr-ward")
    # Another ward tutor of the trainee, but not this rotation's: the rotation's own tutor
    # signs its entries.
    gql.ok(ASSIGN_TUTOR, t=t, tutor="dr-other", role="ROTATING_TUTOR", dept="ward",
           on="2026-09-01")
    not_the_tutor = refused(gql, services, SIGN, code="BAD_USER_INPUT", as_=tutor("dr-other"),
                            t=t, e=timely, tutor="dr-other")
    assert not_the_tutor["message"] == (
        "R8: dr-other is not the tutor of the ward rotation (its tutor is dr-ward); only that "
        "tutor may sign its entries")

    handbook = read(gql, t)["handbook"]
    [rotation] = handbook["rotations"]
    assert rotation["department"] == "ward"
    assert [(e["occurredOn"], e["signedBy"], e["late"]) for e in rotation["entries"]] == [
        ("2026-09-02", "dr-ward", True), ("2026-11-20", None, False)]
    assert handbook["complete"] is False
    assert [r for r in handbook["missing"] if not r.startswith("R4:")] == [
        "R8: 1 rotation entry awaits the signature of its rotation's tutor",
        "R8: ward: 0 of 18 months completed",
        "R8: ward: no passed MINI_CEX assessment",
        "R8: ward: no passed DEPARTURE_EXAM assessment",
        "R8: ward: 1 of 3 signed CASE entries",
        "R8: clinic: 0 of 9 months completed",
        "R8: clinic: no passed DOPS assessment",
        "R8: clinic: 0 of 1 signed PROCEDURE entries",
        "R12: no first tutor assigned",
    ]


def test_r8_late_entries_are_flagged_but_do_not_block_a_complete_handbook(
    gql: GraphQL, services: Services
) -> None:
    """R8 (DOMAIN.md): what "timely" means is a setting, and late entries are flagged
    rather than refused. A trainee whose every entry was recorded years late (the
    builders write them today, 2026-11-22) still has a complete handbook."""
    t = enroll_programme_trainee(services)
    complete_training(services, t)
    services.projector.catch_up()
    handbook = read(gql, t)["handbook"]
    entries = [e for r in handbook["rotations"] for e in r["entries"]]
    assert len(entries) == 4 and all(e["late"] and e["signedBy"] for e in entries)
    assert (handbook["complete"], handbook["missing"]) == (True, [])
