"""R14: quality figures per training base and specialty, and the enrollment-cut warnings."""

from __future__ import annotations

import uuid
from datetime import date

from domain import commands as c
from service.bootstrap import Services
from service.principals import system
from tests.api.conftest import GraphQL
from tests.callers import base_admin
from tests.history import as_system
from tests.regulations.conftest import ASSESSMENT, LICENSING_EXAM, completion_exam
from tests.scenarios import enroll_programme_trainee, record_assessment

ENROLLED_ON = date(2021, 9, 1)
# (department, stage, start, end, signed entries, assessments passed there); the stage-2
# clinic rotation is all 24-hour resident duty.
ROTATIONS = (
    ("ward", 1, ENROLLED_ON, date(2023, 3, 1), {"CASE": 2}, ("MINI_CEX", "DEPARTURE_EXAM")),
    ("clinic", 2, date(2023, 3, 1), date(2024, 6, 1), {"PROCEDURE": 1}, ("DOPS",)),
)
FIGURES = """
query($base: ID, $specialty: String, $year: Int) {
  qualityFigures(baseId: $base, specialty: $specialty, year: $year) {
    baseId specialty year completionCandidates completionPassRate
    completionTheoryCandidates completionTheoryPassRate licenceCandidates licencePassRate
    warnings
  }
}"""
UNIVERSITIES = """
query($university: String, $year: Int) {
  universityFigures(university: $university, year: $year) {
    university year licenceCandidates licencePassRate warnings
  }
}"""
THEORY_CUT = (
    "R14: completion-exam theory pass rate in the bottom 5% of programme medicine bases in "
    "2025-2026: enrollment cut (seed 003, task 12)")
LICENCE_CUT = (
    "R14: licence-exam pass rate under 50% in 2024-2026 (0%, 33%, 0%): enrollment cut "
    "(seed 003, task 12)")


def first_year_done(services: Services, base: str, university: str) -> uuid.UUID:
    """Enrolled 2021-09-01 without a licence; 12 months of ward rotation by 2022-09-01."""
    t = enroll_programme_trainee(services, base_id=base, university=university,
                                 enrolled_on=ENROLLED_ON, cohort=2021)
    ward = uuid.uuid4()
    services.records.execute(c.ScheduleRotation(t, ward, "ward", 1, ENROLLED_ON,
                                                date(2022, 9, 1), "dr-ward"), system("base"))
    services.records.execute(c.CompleteRotation(t, ward, date(2022, 9, 1)), system("base"))
    return t


def trained(services: Services, base: str) -> uuid.UUID:
    """Handbook complete by 2024-06-01 (18 ward months, 15 clinic months of 24-hour duty),
    licensed in 2022: eligible for the completion exam (R9) from then on."""
    t = enroll_programme_trainee(services, base_id=base, university="Univ Mid",
                                 enrolled_on=ENROLLED_ON, cohort=2021)
    run = as_system(services)
    run(c.AssignTutor(t, "dr-first", "FIRST_TUTOR", ENROLLED_ON), "school")
    for department, stage, start, end, entries, assessments in ROTATIONS:
        rotation, tutor = uuid.uuid4(), f"dr-{department}"
        run(c.ScheduleRotation(t, rotation, department, stage, start, end, tutor, stage == 2),
            "base")
        for kind, count in entries.items():
            for n in range(count):
                entry = uuid.uuid4()
                run(c.RecordRotationEntry(t, entry, rotation, kind, start.replace(day=2 + n),
                                          kind.lower()), "trainee")
                run(c.SignRotationEntry(t, entry, tutor), tutor)
        for kind in assessments:
            record_assessment(services, t, kind, start.replace(day=20), rotation)
        run(c.CompleteRotation(t, rotation, end), "base")
    run(c.GrantLicence(t, f"L-{t.hex[:6]}", date(2022, 12, 1)), "registrar")
    for kind in ("PRE_JOB_TRAINING", "STAGE"):
        record_assessment(services, t, kind, date(2023, 3, 1))
    return t


def figure_rows(gql: GraphQL, **filters: object) -> list[tuple]:
    return [
        (f["baseId"], f["year"], f["completionCandidates"], f["completionPassRate"],
         f["completionTheoryCandidates"], f["completionTheoryPassRate"],
         f["licenceCandidates"], f["licencePassRate"], f["warnings"])
        for f in gql.ok(FIGURES, **filters)["qualityFigures"]
    ]


def test_r14_pass_rates_per_base_and_university_and_the_enrollment_cut_warnings(
    gql: GraphQL, services: Services
) -> None:
    """Seed 003 (Chongqing, 渝府办发〔2020〕138号, task 12): 对医师资格...考试通过率连续3年
    低于50%的高校予以减招 ... 将住培结业考核通过率...作为住培基地质量评估的核心指标，对住培
    结业理论考核通过率连续2年排名全国后5%位次的专业基地予以减招 - completion-exam and
    licence-exam pass rates are the core quality figures; a university whose licence pass
    rate is under 50% three years running, and a specialty base whose completion-exam
    theory pass rate ranks in the bottom 5% two years running, face enrollment cuts.

    A candidate is a trainee who sat in the year and passes if any sitting that year
    passed. Here three programme-medicine bases are ranked against each other (fewer than
    20 peers: the bottom 5% is the lowest rate, ties included): base-A is lowest in 2025
    and 2026 and is warned; base-B, lowest only in 2026, is not. Univ Low's licence rate
    is 0%, 33%, 0% in 2024-2026 and it is warned; Univ Two, under 50% in one year, is not."""
    # trainee -> base, completion-exam sittings (year, theory passed, clinical skills passed)
    completion = {
        "A1": ("base-A", [(2025, False, True), (2026, False, True)]),
        "B1": ("base-B", [(2025, True, True)]),
        "B2": ("base-B", [(2026, False, True)]),
        "C1": ("base-C", [(2025, True, False), (2026, True, True)]),
    }
    # trainee -> base, university, licensing-exam sittings (date, passed)
    licensing = {
        "L1": ("base-A", "Univ Low", [("2024-09-20", False), ("2025-09-20", False),
                                      ("2026-09-20", False)]),
        "L2": ("base-B", "Univ Low", [("2024-09-20", False), ("2025-09-20", True)]),
        "L3": ("base-C", "Univ Low", [("2025-09-20", False), ("2026-09-20", False)]),
        "L4": ("base-C", "Univ Two", [("2025-09-20", False), ("2026-03-20", False),
                                      ("2026-09-20", True)]),
    }
    for base, sittings in completion.values():
        t = str(trained(services, base))
        for year, theory, skills in sittings:
            gql.ok(ASSESSMENT, as_=base_admin(base), t=t, kind="COMPLETION_EXAM",
                   on=f"{year}-07-01", ratings=completion_exam(theory, skills))
    for base, university, sittings in licensing.values():
        t = str(first_year_done(services, base, university))
        for on, passed in sittings:
            gql.ok(LICENSING_EXAM, as_=base_admin(base), t=t, on=on, passed=passed)

    # base, year, completion (candidates, rate), theory (candidates, rate), licence, warnings
    assert figure_rows(gql) == [
        ("base-A", 2024, 0, None, 0, None, 1, 0.0, []),
        ("base-A", 2025, 1, 0.0, 1, 0.0, 1, 0.0, []),
        ("base-A", 2026, 1, 0.0, 1, 0.0, 1, 0.0, [THEORY_CUT]),
        ("base-B", 2024, 0, None, 0, None, 1, 0.0, []),
        ("base-B", 2025, 1, 1.0, 1, 1.0, 1, 1.0, []),
        ("base-B", 2026, 1, 0.0, 1, 0.0, 0, None, []),
        ("base-C", 2025, 1, 0.0, 1, 1.0, 2, 0.0, []),
        ("base-C", 2026, 1, 1.0, 1, 1.0, 2, 0.5, []),
    ]
    assert {f["specialty"] for f in gql.ok(FIGURES)["qualityFigures"]} == {"programme medicine"}

    # Filters select figures; the ranking behind a warning still compares every base.
    assert figure_rows(gql, base="base-A", year=2026) == [
        ("base-A", 2026, 1, 0.0, 1, 0.0, 1, 0.0, [THEORY_CUT])]
    assert [row[0] for row in figure_rows(gql, specialty="programme medicine", year=2026)] == [
        "base-A", "base-B", "base-C"]
    assert figure_rows(gql, specialty="internal medicine") == []

    universities = gql.ok(UNIVERSITIES, university="Univ Low")["universityFigures"]
    assert [(u["year"], u["licenceCandidates"], u["licencePassRate"], u["warnings"])
            for u in universities] == [
        (2024, 2, 0.0, []), (2025, 3, 1 / 3, []), (2026, 2, 0.0, [LICENCE_CUT])]
    in_2026 = gql.ok(UNIVERSITIES, year=2026)["universityFigures"]
    assert [(u["university"], u["licenceCandidates"], u["licencePassRate"], u["warnings"])
            for u in in_2026] == [("Univ Low", 2, 0.0, [LICENCE_CUT]), ("Univ Two", 1, 1.0, [])]
