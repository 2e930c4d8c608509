"""A trainee is measured against the standard version in force at enrollment, for good."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import httpx

from api.app import create_app
from service import bootstrap
from service.bootstrap import Services
from service.clock import FixedClock
from service.settings import Settings
from tests.api.conftest import GraphQL
from tests.callers import trainee, tutor
from tests.conftest import PROGRAMME_REGULATIONS
from tests.regulations.conftest import ENTRY, SCHEDULE, SIGN, read, refused

# Published after the first trainees enrolled, but in force from 2021: it asks 4 ward
# cases (version 1 asks 2) and adds a theatre rotation.
VERSION_1B = """\
specialty: programme medicine
versions:
  - version: "1b"
    effective_from: 2021-01-01
    degree_category: CLINICAL_MEDICINE
    total_months: 33
    illustrative: true
    source: invented for dualtrack's tests; published after version 1's trainees enrolled
    default_assessments: [MINI_CEX, DEPARTURE_EXAM]
    departments:
      - name: ward
        months: 18
        min_counts: {CASE: 4}
      - name: clinic
        months: 9
        min_counts: {PROCEDURE: 1}
        assessments: [DOPS]
      - name: theatre
        months: 3
        assessments: []
"""


def with_two_ward_cases(gql: GraphQL, national_id: str, enrolled_on: str) -> str:
    t = gql.enroll(nationalId=national_id, specialty="programme medicine", enrolledOn=enrolled_on)
    ward = gql.ok(SCHEDULE, t=t, dept="ward", stage=1, start=enrolled_on, end="2025-09-01",
                  tutor="dr-ward")["scheduleRotation"]["id"]
    for day in ("10", "11"):
        entry = gql.ok(ENTRY, as_=trainee(t), t=t, r=ward,
                       on=f"2024-02-{day}")["recordRotationEntry"]["id"]
        gql.ok(SIGN, as_=tutor("dr-ward"), t=t, e=entry, tutor="dr-ward")
    return t


def ward_and_theatre(trainee: dict) -> list[str]:
    return [r for r in trainee["handbook"]["missing"]
            if r.startswith(("R8: ward", "R8: theatre"))]


def test_a_trainee_keeps_the_standard_in_force_at_enrollment_after_a_new_version(
    gql: GraphQL, services: Services, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    """DOMAIN.md ("what the seeds do not give"): the training standard is versioned data,
    and a trainee is measured against the version in force at enrollment. Programme
    medicine v1 (from 2020-01-01) asks 2 ward cases, v2 (from 2025-01-01) asks 3.

    A trainee enrolled 2023-09-01 is on v1. The service is restarted with version 1b
    published, in force from 2021-01-01, and its read models rebuilt from the log: that
    trainee's standard and verdict are unchanged, and commands are still decided by v1,
    while a new enrollment dated 2024-01-01 gets version 1b."""
    first = with_two_ward_cases(gql, "110101199901010001", "2023-09-01")
    before = read(gql, first)
    assert before["standard"]["id"] == "programme medicine@1"
    assert ward_and_theatre(before) == [
        "R8: ward: 0 of 18 months completed", "R8: ward: no passed MINI_CEX assessment",
        "R8: ward: no passed DEPARTURE_EXAM assessment"]

    regulations = tmp_path / "regulations"
    (regulations / "standards").mkdir(parents=True)
    shutil.copy(PROGRAMME_REGULATIONS / "standards" / "programme_medicine.yaml",
                regulations / "standards")
    (regulations / "standards" / "programme_medicine_1b.yaml").write_text(
        textwrap.dedent(VERSION_1B), encoding="utf-8")
    restarted = bootstrap.build(
        Settings(database_url=settings.database_url, regulations_dir=str(regulations),
                 signing_key_file=settings.signing_key_file,
                 cipher_key_file=settings.cipher_key_file,
                 token_secret=settings.token_secret),
        clock=clock)
    try:
        restarted.projector.rebuild()
        after_restart = GraphQL(httpx.ASGITransport(app=create_app(restarted)), restarted.settings)
        after = read(after_restart, first)
        assert after["standard"] == before["standard"]
        assert after["handbook"] == before["handbook"]
        assert after["completionExam"] == before["completionExam"]
        theatre = refused(after_restart, services, SCHEDULE, code="BAD_USER_INPUT", t=first,
                          dept="theatre", stage=2, start="2025-09-01", end="2025-12-01")
        assert theatre["message"] == (
            "department 'theatre' is not in the programme medicine@1 standard; its departments "
            "are ward, clinic")

        second = with_two_ward_cases(after_restart, "110101199901010002", "2024-01-01")
        newer = read(after_restart, second)
        assert newer["standard"]["id"] == "programme medicine@1b"
        assert ward_and_theatre(newer) == [
            "R8: ward: 0 of 18 months completed", "R8: ward: no passed MINI_CEX assessment",
            "R8: ward: no passed DEPARTURE_EXAM assessment",
            "R8: ward: 2 of 4 signed CASE entries", "R8: theatre: 0 of 3 months completed"]
        assert after_restart.ok(SCHEDULE, t=second, dept="theatre", stage=2, start="2025-09-01",
                                end="2025-12-01")
    finally:
        restarted.close()
