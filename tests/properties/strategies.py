"""Random but valid trainee histories against the compact `programme medicine` standard.

A history is a `Plan`: who enrolls (a `Profile`) and a sequence of `Step`s, each of which
becomes one or more commands when played (tests.properties.play). Steps are valid as
input (dates inside enrollment..today, known vocabularies); whether the record lets them
through is the domain's business, and a refusal is part of the history.

Half of the histories start from the complete training of tests.scenarios (its
rotations, entries and assessments, sometimes perturbed) followed by the certificates in
the order a training base would record them; the rest rotate at random. Extra steps
(failures, ethics violations, revocations, late entries, ...) are mixed into both.
"""

from __future__ import annotations

import calendar
import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from domain import rules
from domain.values import CertificateKind, NationalExam, Pathway
from service.regulations import load_regulations
from tests.scenarios import ENROLLED_ON, ROTATIONS

T = TypeVar("T")

TODAY = date(2026, 11, 22)  # the business date of tests.conftest's FixedClock
EARLIEST = date(2023, 1, 1)
REGULATIONS = load_regulations(Path(__file__).parents[1] / "data" / "regulations")
JURISDICTIONS = ("chongqing", "jilin", "jiangsu")
DEPARTMENTS = ("ward", "clinic")
# Other names a command may give a department by (the standard's aliases, another case).
SPELLINGS = {"ward": ("Ward", "病房"), "clinic": ("CLINIC", "门诊")}
CANONICAL = {name: d for d in DEPARTMENTS for name in (d, *SPELLINGS[d])}
ENTRY_KINDS = ("CASE", "PROCEDURE", "OTHER")
ROTATION_ASSESSMENTS = ("MINI_CEX", "DOPS", "DEPARTURE_EXAM")
FREE_ASSESSMENTS = ("PRE_JOB_TRAINING", "STAGE", "ANNUAL", "RECORD_WRITING",
                    "CLINICAL_COMPETENCE")
PUBLICATION_KINDS = ("CASE_ANALYSIS", "REVIEW", "ARTICLE", "ABSTRACT")
CERTIFICATE_KINDS = tuple(kind.value for kind in CertificateKind)
NATIONAL_EXAMS = tuple(exam.value for exam in NationalExam)
# The steps that ask for a certificate (see tests.properties.play).
GRANT_STEPS = ("grant_licence", "issue_residency", "issue_diploma", "award_degree")

# Hypothesis runs each property against one database per test (the fixtures are
# function-scoped), so every example enrolls a trainee of its own; runs are derandomized.
# A history takes ~0.1 s to play, so shrinking a failure can take minutes: it is off
# unless DUALTRACK_PROPERTY_SHRINK=1 (the unshrunk history is printed either way).
# DUALTRACK_PROPERTY_EXAMPLES runs more histories than CI's 30 (a soak).
SHRINK = os.environ.get("DUALTRACK_PROPERTY_SHRINK") == "1"
HISTORIES = settings(
    max_examples=int(os.environ.get("DUALTRACK_PROPERTY_EXAMPLES", "30")),
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if SHRINK else [])],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Profile:
    pathway: str
    jurisdiction: str
    degree_category: str
    licensed: bool
    holds_certificate: bool
    prior_months: float
    enrolled_on: date


@dataclass(frozen=True)
class Entry:
    kind: str
    signed: bool  # by the rotation's tutor (or by nobody, if it has none)
    retracted: bool


@dataclass(frozen=True)
class Rotation:
    department: str
    stage: int
    start_on: date
    end_on: date
    resident_duty: bool
    tutor: str  # "own" (on the rotation), "department" (a ROTATING_TUTOR), "none"
    completed_on: date | None
    entries: tuple[Entry, ...] = ()
    assessments: tuple[tuple[str, bool], ...] = ()  # (kind, passed)


@dataclass(frozen=True)
class Step:
    """`op` names what is done (see tests.properties.play.Player), `arg` its details."""

    op: str
    on: date
    arg: Any = None


@dataclass(frozen=True)
class Plan:
    profile: Profile
    steps: tuple[Step, ...]
    # Project after every n-th accepted command, as the API does with n=1; 0: at the end.
    catch_up_every: int


def add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def may_enroll(profile: Profile) -> bool:
    """R1/R2 as the policy in force says (certificate holders, majors)."""
    policy = REGULATIONS.policy_in_force(profile.jurisdiction, profile.enrolled_on)
    applicant = rules.Applicant(
        pathway=profile.pathway, degree_category=profile.degree_category,
        bachelor_major="clinical medicine", has_bachelor_of_medicine=True,
        full_time_bachelor=True, holds_residency_certificate=profile.holds_certificate,
    )
    return not rules.enrollment_unmet(applicant, policy)


def happy_steps(profile: Profile, on: date = date(2026, 9, 1)) -> list[Step]:
    """The certificates and degree work, in the order a training base records them."""
    steps = [
        Step("grant_licence", on),
        Step("completion_exam", on, (True, True)),
        Step("issue_residency", on),
        Step("defense", on, True),
        Step("assessment", on, ("CLINICAL_COMPETENCE", True)),
        Step("publication", on, "CASE_ANALYSIS"),
        Step("issue_diploma", on),
    ]
    if profile.pathway == Pathway.EQUIVALENT_DEGREE:
        steps += [Step("coursework", on, ("Medical statistics", True))]
        steps += [Step("national_exam", on, (exam, True)) for exam in NATIONAL_EXAMS]
    return [*steps, Step("award_degree", on)]


def complete_plan(profile: Profile) -> Plan:
    """tests.scenarios.complete_training and the certificates, unperturbed."""
    steps = [Step("first_tutor", profile.enrolled_on)]
    for department, stage, start, end, duty, entries, assessments in ROTATIONS:
        if stage == 1 and profile.holds_certificate:
            continue  # R6, as complete_training(stage_one=False)
        steps.append(Step("rotation", start, Rotation(
            department, stage, start, end, duty, "own", end,
            tuple(Entry(kind, True, False) for kind, n in entries.items() for _ in range(n)),
            tuple((kind, True) for kind in assessments),
        )))
    steps += [Step("assessment", date(2025, 3, 1), (kind, True))
              for kind in ("PRE_JOB_TRAINING", "STAGE")]
    return Plan(profile, tuple(steps + happy_steps(profile)), catch_up_every=1)


# Strategies.


def mostly(perturbed: bool, usual: T, other: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """`usual`, or, in a perturbed history, one time in four something else."""
    if not perturbed:
        return st.just(usual)
    return st.integers(0, 3).flatmap(lambda n: other if n == 0 else st.just(usual))


def days_between(start: date, end: date) -> st.SearchStrategy[date]:
    return st.integers(0, (end - start).days).map(lambda n: start + timedelta(days=n))


@st.composite
def profiles(draw: st.DrawFn, complete: bool) -> Profile:
    pathway = draw(st.sampled_from([p.value for p in Pathway]))
    if complete:
        enrolled_on = draw(st.sampled_from([ENROLLED_ON, EARLIEST]))
    else:  # 2025 and later: version 2 of the standard, Jiangsu's 88% gate
        enrolled_on = draw(st.sampled_from(
            [EARLIEST, ENROLLED_ON, date(2024, 3, 1), date(2025, 3, 1), date(2026, 1, 15)]))
    category = "CLINICAL_MEDICINE"
    if pathway != Pathway.INTEGRATED_MASTER:
        category = draw(mostly(True, category, st.just("STOMATOLOGY")))
    profile = Profile(
        pathway=pathway,
        jurisdiction=draw(st.sampled_from(JURISDICTIONS)),
        degree_category=category,
        licensed=draw(st.booleans()),
        holds_certificate=draw(mostly(True, False, st.just(True))),
        prior_months=draw(st.sampled_from([0.0, 6.0, 12.5, 24.0])),
        enrolled_on=enrolled_on,
    )
    if not may_enroll(profile):
        profile = Profile(**{**vars(profile), "holds_certificate": False})
    return profile


def entries() -> st.SearchStrategy[Entry]:
    return st.builds(
        Entry,
        kind=st.sampled_from(ENTRY_KINDS),
        signed=mostly(True, True, st.just(False)),
        retracted=mostly(True, False, st.just(True)),
    )


@st.composite
def rotations(draw: st.DrawFn, start: date) -> Rotation:
    """One rotation from `start`; its department sometimes named by an alias."""
    end = add_months(start, draw(st.sampled_from([1, 3, 6, 9, 12, 18])))
    stage = draw(st.sampled_from([1, 2]))
    department = draw(st.sampled_from(DEPARTMENTS))
    return Rotation(
        department=draw(mostly(True, department, st.sampled_from(SPELLINGS[department]))),
        stage=stage,
        start_on=start,
        end_on=end,
        resident_duty=stage == 2 and draw(st.booleans()),
        tutor=draw(st.sampled_from(["own", "own", "department", "none"])),
        completed_on=min(end, TODAY) if draw(mostly(True, True, st.just(False))) else None,
        entries=tuple(draw(st.lists(entries(), max_size=4))),
        assessments=tuple(draw(st.lists(
            st.tuples(st.sampled_from(ROTATION_ASSESSMENTS), mostly(True, True, st.just(False))),
            max_size=3))),
    )


@st.composite
def random_rotations(draw: st.DrawFn, start: date) -> list[Step]:
    """Consecutive rotations from enrollment, some left open, some ending after today;
    a rotation left open is sometimes completed later, on any day after its start."""
    steps, late, cursor = [], [], start
    for _ in range(draw(st.integers(0, 5))):
        cursor += timedelta(days=draw(st.sampled_from([0, 0, 10])))
        if cursor >= TODAY:
            break
        rotation = draw(rotations(cursor))
        steps.append(Step("rotation", cursor, rotation))
        if rotation.completed_on is None and draw(st.booleans()):
            on = draw(days_between(cursor + timedelta(days=1), TODAY))
            late.append(Step("complete", on, sum(s.arg.completed_on is None for s in steps) - 1))
        cursor = rotation.end_on
    return steps + late


@st.composite
def perturbed_complete_steps(draw: st.DrawFn, profile: Profile) -> list[Step]:
    """complete_plan's steps, each part changed or dropped once in a while."""
    perturbed = draw(st.booleans())
    steps = []
    for step in complete_plan(profile).steps:
        if step.op == "rotation":
            r = step.arg
            step = Step("rotation", step.on, Rotation(
                r.department, r.stage, r.start_on, r.end_on, r.resident_duty,
                draw(mostly(perturbed, "own", st.sampled_from(["department", "none"]))),
                draw(mostly(perturbed, r.completed_on, st.none())),
                tuple(Entry(e.kind, draw(mostly(perturbed, True, st.just(False))),
                            draw(mostly(perturbed, False, st.just(True))))
                      for e in r.entries),
                tuple((kind, draw(mostly(perturbed, True, st.just(False))))
                      for kind, _ in r.assessments),
            ))
        elif not draw(mostly(perturbed, True, st.just(False))):
            continue
        steps.append(step)
    return steps


def extra_steps(profile: Profile) -> st.SearchStrategy[Step]:
    """One step of anything a record may see, on a day between enrollment and today."""
    on = days_between(profile.enrolled_on, TODAY)
    index = st.integers(0, 7)
    passed = st.booleans()

    def step(op: str, arg: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[Step]:
        return st.builds(Step, st.just(op), on, st.none() if arg is None else arg)

    return st.one_of(
        step("assessment", st.tuples(st.sampled_from(FREE_ASSESSMENTS), passed)),
        step("rotation_assessment", st.tuples(
            st.none() | index, st.sampled_from(ROTATION_ASSESSMENTS), passed)),
        step("completion_exam", st.tuples(passed, passed)),
        step("entry", st.tuples(index, entries())),
        days_between(profile.enrolled_on, TODAY - timedelta(days=1)).flatmap(
            lambda day: st.builds(Step, st.just("rotation"), st.just(day), rotations(day))),
        step("complete", index),
        step("sign", st.tuples(index, st.booleans())),
        step("retract", index),
        step("first_tutor"),
        step("rotating_tutor", st.sampled_from(sorted(CANONICAL))),
        step("ethics", st.booleans()),
        step("defense", passed),
        step("publication", st.sampled_from(PUBLICATION_KINDS)),
        step("coursework", st.tuples(st.sampled_from(["Medical statistics", "Ethics"]), passed)),
        step("national_exam", st.tuples(st.sampled_from(NATIONAL_EXAMS), passed)),
        step("licensing_exam", passed),
        st.builds(Step, st.sampled_from(GRANT_STEPS), on),
        st.builds(Step, st.just("revoke"), st.just(TODAY) | on,
                  st.sampled_from(CERTIFICATE_KINDS)),
    )


def interleave(draw: st.DrawFn, steps: list[Step], extras: list[Step]) -> list[Step]:
    for extra in extras:
        steps.insert(draw(st.integers(0, len(steps))), extra)
    return steps


@st.composite
def histories(draw: st.DrawFn) -> Plan:
    complete = draw(st.booleans())
    profile = draw(profiles(complete))
    if complete:
        steps = draw(perturbed_complete_steps(profile))
    else:
        steps = draw(random_rotations(profile.enrolled_on))
        if draw(st.booleans()):
            steps += happy_steps(profile, TODAY)
    if draw(mostly(True, False, st.just(True))):  # a certificate found to be ill-gotten
        steps.append(Step("revoke", TODAY, draw(st.sampled_from(CERTIFICATE_KINDS))))
    extras = [draw(extra_steps(profile)) for _ in range(draw(st.integers(0, 10)))]
    steps = interleave(draw, steps, extras)
    return Plan(profile, tuple(steps), draw(st.sampled_from([1, 1, 3, 0])))
