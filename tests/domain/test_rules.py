"""The rules in domain/rules.py, each reason led by its rule id (no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from domain import rules
from domain.calendar import months_between
from domain.facts import RotationFacts, TrainingFacts
from domain.policies import DEPARTMENT_AVERAGE, LICENSED_LEVEL_ONLY, Policy
from domain.regulations import Regime
from domain.standards import DepartmentRequirement, TrainingStandard
from service.forms import FormFileError, parse_form

STANDARD = TrainingStandard(
    specialty="test medicine", version="1", effective_from=date(2020, 1, 1),
    degree_category="CLINICAL_MEDICINE", total_months=33, elective_months=1,
    departments=(
        DepartmentRequirement("ward", months=2, min_counts={"CASE": 4},
                              assessments=("MINI_CEX",)),
        DepartmentRequirement("clinic", months=1, min_counts={"CASE": 2, "PROCEDURE": 2}),
        DepartmentRequirement("imaging", months=1, required=False),
    ),
)
POLICY = Policy(jurisdiction="test", version="1", effective_from=date(2020, 1, 1),
                degree_publication_kinds=frozenset({"REVIEW", "CASE_ANALYSIS"}))
REGIME = Regime(STANDARD, POLICY)
DAY = date(2026, 1, 1)


def facts(**changes: object) -> TrainingFacts:
    base: dict[str, object] = dict(
        pathway="INTEGRATED_MASTER", degree_category="CLINICAL_MEDICINE",
        licensed_at_enrollment=False, holds_residency_certificate_at_enrollment=False,
    )
    base.update(changes)
    return TrainingFacts(**base)  # type: ignore[arg-type]


def rotation(department: str, months: int, start: date = date(2020, 1, 1), **changes: object
             ) -> RotationFacts:
    index = start.month - 1 + months
    end = date(start.year + index // 12, index % 12 + 1, 1)
    fields: dict[str, object] = dict(id=f"{department}-{start}", department=department, stage=1,
                                     start_on=start, completed_on=end, resident_duty=False,
                                     tutor_id="dr-a")
    fields.update(changes)
    return RotationFacts(**fields)  # type: ignore[arg-type]


def test_months_are_counted_in_calendar_months() -> None:
    assert months_between(date(2025, 3, 1), date(2025, 6, 1)) == 3.0
    # A month from the last day of January ends on the last day of February.
    assert months_between(date(2025, 1, 31), date(2025, 2, 28)) == 1.0
    assert months_between(date(2025, 3, 1), date(2025, 3, 16)) == round(15 / 31, 4)
    assert months_between(date(2025, 6, 1), date(2025, 3, 1)) == 0.0


def test_r4_stages_r5_credited_months_and_r6_certificate_holders() -> None:
    assert rules.training_stage(facts(rotations=[rotation("ward", 17)]), REGIME) == 1
    credited = facts(rotations=[rotation("ward", 12)], prior_training_months=6)
    assert rules.training_stage(credited, REGIME) == 2
    only_licensed = Regime(STANDARD, replace(POLICY, prior_training_credit=LICENSED_LEVEL_ONLY))
    assert rules.credited_prior_months(credited, only_licensed.policy) == 0.0
    assert rules.credited_prior_months(replace(credited, licensed_at_enrollment=True),
                                       only_licensed.policy) == 6.0
    done = [rotation("ward", 27), rotation("clinic", 6, date(2022, 4, 1), resident_duty=True)]
    assert rules.training_stage(facts(rotations=done), REGIME) == 3
    assert rules.training_stage(facts(rotations=done[:1]), REGIME) == 2
    holder = facts(holds_residency_certificate_at_enrollment=True)
    assert rules.training_stage(holder, REGIME) == 2
    assert "R4: 0 of 15 months" in rules.training_time_missing(holder, REGIME)[0]


def test_r8_departments_every_requirement() -> None:
    ward = rotation("ward", 2, signed_counts={"CASE": 3}, passed_assessments={"MINI_CEX": DAY})
    missing = rules.department_missing(facts(rotations=[ward]), REGIME)
    assert missing == [
        "R8: ward: 3 of 4 signed CASE entries",
        "R8: clinic: 0 of 1 months completed",
        "R8: clinic: 0 of 2 signed CASE entries",
        "R8: clinic: 0 of 2 signed PROCEDURE entries",
        "R8: 0 of 1 elective months completed",
    ]


def test_r8_departments_by_average_as_a_provincial_platform_computes_it() -> None:
    average = Regime(STANDARD, replace(POLICY, completion_method=DEPARTMENT_AVERAGE,
                                       completion_threshold_percent=80))
    ward = rotation("ward", 2, signed_counts={"CASE": 9}, passed_assessments={"MINI_CEX": DAY})
    clinic = rotation("clinic", 1, date(2020, 3, 1), signed_counts={"CASE": 2, "PROCEDURE": 1})
    imaging = rotation("imaging", 1, date(2020, 4, 1), passed_assessments={})
    # ward 100% (capped), clinic 75%: 87.5% on average, over the 80% asked.
    assert rules.department_missing(facts(rotations=[ward, clinic, imaging]), average) == []
    strict = Regime(STANDARD, replace(average.policy, completion_threshold_percent=88))
    assert rules.department_missing(facts(rotations=[ward, clinic, imaging]), strict) == [
        "R8: required entries 87.5% complete on average over 2 departments; the test policy "
        "asks 88%"]


def test_certificate_states_explain_themselves_by_rule_id() -> None:
    def state(kind: str, f: TrainingFacts) -> tuple[str, list[str]]:
        return rules.certificate_state(kind, f, REGIME)

    assert state("LICENCE", facts())[1][0].startswith("R7:")
    assert state("LICENCE", facts(rotations=[rotation("ward", 12)])) == ("ELIGIBLE", [])
    assert state("LICENCE", facts(licensed_at_enrollment=True)) == ("GRANTED", [])
    residency = state("RESIDENCY_CERTIFICATE", facts())[1]
    assert "R9: no licence held" in residency and "R9: completion exam not passed" in residency
    assert state("DEGREE", facts(confirmed_ethics_violations=1))[1][0].startswith("R13:")
    equivalent = state("DEGREE", facts(pathway="EQUIVALENT_DEGREE", degree_category="TCM"))[1]
    assert {reason.split(":")[0] for reason in equivalent} == {"R11"}
    assert any("degree category TCM does not match" in r for r in equivalent)
    complete = facts(thesis_defense_passed_on=DAY,
                     passed_assessment_kinds={"CLINICAL_COMPETENCE": DAY},
                     publication_kinds={"REVIEW": DAY})
    assert state("DEGREE", complete) == ("ELIGIBLE", [])
    assert state("DEGREE", replace(complete, publication_kinds={}))[1] == [
        "R10: no published case_analysis or review"]
    assert all(r.startswith("R10:") for r in state("DEGREE", facts())[1])
    revoked = replace(complete, granted={"DEGREE": ("D1", date(2026, 7, 1))},
                      revoked={"DEGREE": "plagiarised thesis"})
    assert state("DEGREE", revoked) == ("REVOKED", [])
    # As of a day before the defense, the degree was not yet earned.
    assert rules.certificate_unmet("DEGREE", complete.as_of(date(2025, 12, 31)), REGIME) == [
        "R10: thesis defense not passed", "R10: clinical competence assessment not passed",
        "R10: no published case_analysis or review"]


def test_r1_and_r2_read_the_policy() -> None:
    applicant = rules.Applicant(
        pathway="INTEGRATED_MASTER", degree_category="CLINICAL_MEDICINE",
        bachelor_major="Clinical Medicine", has_bachelor_of_medicine=True,
        full_time_bachelor=True, holds_residency_certificate=True)
    policy = replace(POLICY, bachelor_majors={"CLINICAL_MEDICINE": ("clinical medicine",)})
    assert rules.enrollment_unmet(applicant, policy) == [
        "R2: a holder of a residency certificate may not enroll as a professional master's "
        "student (test policy)"]
    assert rules.enrollment_unmet(
        applicant, replace(policy, certificate_holders_may_enroll=True)) == []
    stomatologist = replace(applicant, degree_category="STOMATOLOGY", bachelor_major="x",
                            holds_residency_certificate=False, full_time_bachelor=False)
    assert [r.split(":")[0] for r in rules.enrollment_unmet(stomatologist, policy)] == [
        "R1", "R1"]


def test_a_malformed_form_file_is_named_with_its_field() -> None:
    with pytest.raises(FormFileError, match="bad.yaml: the form is missing field 'scale'"):
        parse_form("bad.yaml", {"form_id": "X", "name": "X", "rated_items": ["a"]})
