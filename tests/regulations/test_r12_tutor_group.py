"""R12: the tutor group - a first tutor, and a rotating responsibility tutor per rotation."""

from __future__ import annotations

from service.bootstrap import Services
from tests.api.conftest import GraphQL
from tests.callers import trainee, tutor
from tests.regulations.conftest import ASSIGN_TUTOR, ENTRY, SCHEDULE, SIGN, read, refused


def tutor_missing(gql: GraphQL, t: str) -> list[str]:
    return [r for r in read(gql, t)["handbook"]["missing"] if r.startswith("R12:")]


def test_r12_a_first_tutor_and_a_rotating_tutor_in_every_rotation(
    gql: GraphQL, services: Services
) -> None:
    """Seed 000 §3.3.2 (Chongqing): "the school has set up a guidance group composed of
    the first tutor and rotating responsibility tutor. The tutor who applied for the
    postgraduate examination is the first tutor (defense tutor). Each clinical rotating
    Department ... appoints a teacher ... as rotating responsibility tutor".

    The handbook is incomplete without a first tutor and while a rotation has no rotating
    tutor; nobody can sign that rotation's entries (a tutor not yet appointed tutors the
    trainee nowhere, so is refused access). Once the department's rotating tutor is
    appointed, they - and not the first tutor, who tutors in no department - sign its
    entries."""
    t = gql.enroll(specialty="programme medicine", enrolledOn="2023-09-01")
    rotation = gql.ok(SCHEDULE, t=t, dept="ward", stage=1, start="2023-09-01",
                      end="2025-03-01")["scheduleRotation"]["id"]
    entry = gql.ok(ENTRY, as_=trainee(t), t=t, r=rotation,
                   on="2023-09-05")["recordRotationEntry"]["id"]
    assert tutor_missing(gql, t) == [
        "R12: no first tutor assigned",
        "R12: the ward rotation from 2023-09-01 has no rotating responsibility tutor"]
    # Not yet appointed, dr-ward tutors the trainee nowhere: nobody may sign.
    nobody = refused(gql, services, SIGN, code="FORBIDDEN", as_=tutor("dr-ward"), t=t, e=entry,
                     tutor="dr-ward")
    assert nobody["message"].startswith("dr-ward (tutor) may not SignRotationEntry")

    gql.ok(ASSIGN_TUTOR, t=t, tutor="dr-first", role="FIRST_TUTOR", on="2023-09-01")
    gql.ok(ASSIGN_TUTOR, t=t, tutor="dr-ward", role="ROTATING_TUTOR", dept="ward",
           on="2023-09-01")
    assert tutor_missing(gql, t) == []
    # The first tutor tutors the trainee in no department, so signs no rotation's entries.
    first_tutor = refused(gql, services, SIGN, code="FORBIDDEN", as_=tutor("dr-first"), t=t,
                          e=entry, tutor="dr-first")
    assert first_tutor["message"] == (
        f"dr-first (tutor) does not tutor trainee {t} in ward; a tutor signs and assesses "
        "only in their own department")
    gql.ok(SIGN, as_=tutor("dr-ward"), t=t, e=entry, tutor="dr-ward")

    # A rotation's own tutor, named when it is scheduled, is the one who signs.
    own = gql.ok(SCHEDULE, t=t, dept="clinic", stage=2, start="2025-03-01", end="2025-12-01",
                 tutor="dr-clinic")["scheduleRotation"]["id"]
    procedure = gql.ok(ENTRY, as_=trainee(t), t=t, r=own, kind="PROCEDURE",
                       on="2025-03-05")["recordRotationEntry"]["id"]
    gql.ok(SIGN, as_=tutor("dr-clinic"), t=t, e=procedure, tutor="dr-clinic")
    signed = {r["department"]: [e["signedBy"] for e in r["entries"]]
              for r in read(gql, t)["handbook"]["rotations"]}
    assert signed == {"ward": ["dr-ward"], "clinic": ["dr-clinic"]}


def test_r12_a_rotating_tutor_named_by_the_departments_alias_tutors_its_rotations(
    gql: GraphQL,
) -> None:
    """Department names are matched without regard to case or alias (domain.standards):
    a rotation scheduled in "病房" is the ward rotation. A rotating tutor appointed for
    "病房" (or "Ward") must therefore be the ward rotation's tutor."""
    t = gql.enroll(specialty="programme medicine", enrolledOn="2023-09-01")
    gql.ok(ASSIGN_TUTOR, t=t, tutor="dr-ward", role="ROTATING_TUTOR", dept="病房",
           on="2023-09-01")
    gql.ok(SCHEDULE, t=t, dept="病房", stage=1, start="2023-09-01", end="2025-03-01")
    assert tutor_missing(gql, t) == ["R12: no first tutor assigned"], (
        "BUG: a ROTATING_TUTOR assigned for department '病房' (the ward's alias) is not found "
        "for the ward rotation: rotating tutors are keyed by the department text as given "
        "(Trainee.rotation_tutor, projections.summary.gather_facts), rotations by the "
        "standard's canonical name")
