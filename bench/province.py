"""Synthetic import files: N trainees x M events, valid against the shipped standards.

`write_cohort(out, trainees, events_each)` writes the JSON Lines format of
service.importer, streaming, one trainee after another, each with exactly `events_each`
lines. Every trainee follows one plan, made once from the training standard (internal
medicine, 2022 edition, Chongqing policy, enrolled 2023-09-01): a first tutor, pre-job
training, the standard's rotations back to back across both stages (24-hour resident
duty in stage 2), in each rotation handbook entries each recorded by the trainee and
signed by the rotation's tutor, the department's assessments (Mini-CEX and DOPS on their
forms, a departure exam) and its completion; the stage assessment after 18 months, the
licensing exam and licence after 12. When `events_each` leaves room for every minimum
count of the standard (about 1,500 events), the trainee also sits the completion exam and
receives the residency certificate; below that the entries are spread over the rotations
that fit. `python -m bench.province FILE TRAINEES EVENTS_EACH` writes such a file.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TextIO

from domain.calendar import _add_months
from domain.standards import DepartmentRequirement, TrainingStandard
from service.forms import load_forms
from service.regulations import load_regulations

SPECIALTY = "internal medicine"
JURISDICTION = "chongqing"
ENROLLED_ON = date(2023, 9, 1)
STAGE_ONE_MONTHS, RESIDENT_DUTY_MONTHS, LICENCE_AFTER_MONTHS = 18, 6, 12
PROCESS_ASSESSMENTS = ("PRE_JOB_TRAINING", "STAGE")
BASES = 20
UNIVERSITIES = ("Chongqing Medical University", "Army Medical University",
                "Chongqing University School of Medicine")
RATED_ITEMS = 3  # items rated on each Mini-CEX / DOPS form


@dataclass(frozen=True)
class _Rotation:
    department: DepartmentRequirement
    stage: int
    start: date
    end: date
    resident_duty: bool
    ends_stage_one: bool
    opens_licence: bool


def write_cohort(out: TextIO, trainees: int, events_each: int, *, first: int = 1,
                 prefix: str = "p") -> int:
    """Writes `trainees` trainees of `events_each` lines each (keys `prefix` + serial from
    `first`); returns the number of lines written."""
    plan = _Plan(events_each)
    for serial in range(first, first + trainees):
        out.write(plan.trainee(f"{prefix}{serial:06d}", serial))
    return trainees * events_each


def write_cohort_file(path: str | Path, trainees: int, events_each: int, **options: object
                      ) -> int:
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as out:
        return write_cohort(out, trainees, events_each, **options)  # type: ignore[arg-type]


class _Plan:
    """What every trainee's lines say, but for the trainee's own key, names and base."""

    def __init__(self, events: int):
        if events < 1:
            raise ValueError("a trainee has at least its enrollment")
        regulations = load_regulations()
        self.standard: TrainingStandard = regulations.standard_in_force(SPECIALTY, ENROLLED_ON)
        forms = load_forms()
        self.rated = {kind: forms[kind].rated_items[:RATED_ITEMS] for kind in ("MINI_CEX", "DOPS")}
        self.events = events
        self.rotations, self.entries, self.certified = self._fit(events)
        planned = min(3, events) if not self.rotations else self._cost(self.rotations,
                                                                          self.certified)
        self.fillers = events - planned - 2 * sum(len(kinds) for kinds in self.entries)

    # Planning, once.

    def _route(self) -> list[DepartmentRequirement]:
        """The required departments, then the cheapest electives to fill elective months."""
        departments = [d for d in self.standard.departments if d.required]
        electives = sorted((d for d in self.standard.departments if not d.required),
                           key=lambda d: 2 * sum(d.min_counts.values()) + len(d.assessments))
        months = 0.0
        for elective in electives:
            if months >= self.standard.elective_months:
                break
            departments.append(elective)
            months += elective.months
        return departments

    def _schedule(self, departments: list[DepartmentRequirement]) -> list[_Rotation]:
        rotations, months, duty, licensed = [], 0.0, 0.0, False
        for department in departments:
            start = _add_months(ENROLLED_ON, int(months))
            months += department.months
            stage = 1 if months <= STAGE_ONE_MONTHS else 2
            resident = stage == 2 and duty < RESIDENT_DUTY_MONTHS
            duty += department.months if resident else 0
            opens = not licensed and months >= LICENCE_AFTER_MONTHS
            licensed = licensed or opens
            rotations.append(_Rotation(department, stage, start,
                                       _add_months(ENROLLED_ON, int(months)), resident,
                                       stage == 1 and months == STAGE_ONE_MONTHS, opens))
        return rotations

    @staticmethod
    def _cost(rotations: list[_Rotation], certified: bool) -> int:
        """Lines besides the entries: enrollment, first tutor, pre-job training, each
        rotation's schedule, assessments and completion, stage, licence, certificate."""
        return (3 + sum(2 + len(r.department.assessments) + r.ends_stage_one
                        + 2 * r.opens_licence for r in rotations) + 2 * certified)

    def _fit(self, events: int) -> tuple[list[_Rotation], list[list[str]], bool]:
        rotations = self._schedule(self._route())
        required = [[kind for kind, count in r.department.min_counts.items()
                     for _ in range(count)] for r in rotations]
        if self._cost(rotations, True) + 2 * sum(map(len, required)) <= events:
            spare = (events - self._cost(rotations, True)) // 2 - sum(map(len, required))
            return rotations, _spread(rotations, required, spare), True
        while rotations and self._cost(rotations, False) + 2 * len(rotations) > events:
            rotations.pop()  # too few lines for every rotation: train for fewer months
        pairs = max(0, (events - self._cost(rotations, False)) // 2) if rotations else 0
        return rotations, _spread(rotations, [[] for _ in rotations], pairs), False

    # Writing, per trainee.

    def trainee(self, key: str, serial: int) -> str:
        base = f"base-{serial % BASES + 1}"
        head = f'{{"trainee":"{key}","type":"'
        lines = [
            f'{head}EnrollTrainee","name":"Trainee {serial}","nationalId":"ID-{key}",'
            '"pathway":"INTEGRATED_MASTER","degreeCategory":"CLINICAL_MEDICINE",'
            '"bachelorMajor":"clinical medicine","hasBachelorOfMedicine":true,'
            '"holdsResidencyCertificate":false,"licensedAtEnrollment":false,'
            f'"specialty":"{SPECIALTY}","jurisdiction":"{JURISDICTION}","baseId":"{base}",'
            f'"university":"{UNIVERSITIES[serial % len(UNIVERSITIES)]}",'
            f'"cohort":{ENROLLED_ON.year},"enrolledOn":"{ENROLLED_ON}","actor":"registrar"}}\n',
        ]
        add = lines.append
        if self.events >= 2:
            add(f'{head}AssignTutor","tutorId":"dr-first-{serial % 97}","role":"FIRST_TUTOR",'
                f'"assignedOn":"{ENROLLED_ON}","actor":"school"}}\n')
        if self.events >= 3:
            add(f'{head}RecordAssessment","kind":"PRE_JOB_TRAINING","occurredOn":"{ENROLLED_ON}",'
                f'"passed":true,"actor":"{base}"}}\n')
        entry = 0
        licensed_on = None
        for number, (rotation, kinds) in enumerate(zip(self.rotations, self.entries,
                                                      strict=True), 1):
            slug = rotation.department.name.replace(" ", "-")
            tutor = f"dr-{slug}-{serial % BASES + 1}"
            rotation_key = f"r{number}"
            days = (rotation.end - rotation.start).days
            add(f'{head}ScheduleRotation","rotationId":"{rotation_key}",'
                f'"department":"{rotation.department.name}","stage":{rotation.stage},'
                f'"startOn":"{rotation.start}","endOn":"{rotation.end}","tutorId":"{tutor}",'
                f'"residentDuty":{"true" if rotation.resident_duty else "false"},'
                f'"actor":"{base}"}}\n')
            for n, kind in enumerate(kinds):
                entry += 1
                on = rotation.start + timedelta(days=n * (days - 1) // max(len(kinds), 1))
                add(f'{head}RecordRotationEntry","entryId":"e{entry}","rotationId":'
                    f'"{rotation_key}","kind":"{kind}","occurredOn":"{on}",'
                    f'"description":"{kind.lower()} {n + 1} in {rotation.department.name}",'
                    f'"actor":"{key}"}}\n')
                add(f'{head}SignRotationEntry","entryId":"e{entry}","tutorId":"{tutor}",'
                    f'"actor":"{tutor}"}}\n')
            assessed_on = rotation.end - timedelta(days=3)
            for kind in rotation.department.assessments:
                add(self._assessment(head, kind, assessed_on, rotation_key, tutor))
            add(f'{head}CompleteRotation","rotationId":"{rotation_key}",'
                f'"completedOn":"{rotation.end}","actor":"{base}"}}\n')
            if rotation.ends_stage_one:
                add(f'{head}RecordAssessment","kind":"STAGE","occurredOn":"{rotation.end}",'
                    f'"passed":true,"actor":"{base}"}}\n')
            if rotation.opens_licence:
                licensed_on = rotation.end
                add(f'{head}RecordLicensingExam","sittingOn":"{licensed_on}","passed":true,'
                    f'"score":420,"actor":"registrar"}}\n')
                add(f'{head}GrantLicence","number":"L-{serial:08d}","grantedOn":"{licensed_on}",'
                    f'"actor":"registrar"}}\n')
        ended = self.rotations[-1].end if self.rotations else ENROLLED_ON
        if self.certified:
            add(f'{head}RecordAssessment","kind":"COMPLETION_EXAM","occurredOn":'
                f'"{ended + timedelta(days=14)}","ratings":{{"theory":true,"clinicalSkills":true}},'
                f'"actor":"examiner"}}\n')
            add(f'{head}IssueResidencyCertificate","number":"RC-{serial:08d}","issuedOn":'
                f'"{ended + timedelta(days=30)}","actor":"commission"}}\n')
        for n in range(self.fillers):
            add(f'{head}RecordAssessment","kind":"ANNUAL","occurredOn":'
                f'"{ENROLLED_ON + timedelta(days=365 * (1 + n % 2))}","passed":true,'
                f'"actor":"{base}"}}\n')
        return "".join(lines)

    def _assessment(self, head: str, kind: str, on: date, rotation: str, tutor: str) -> str:
        if kind in self.rated:
            ratings = ",".join(f'"{item}":7' for item in self.rated[kind])
            return (f'{head}RecordAssessment","kind":"{kind}","occurredOn":"{on}",'
                    f'"rotationId":"{rotation}","assessorId":"{tutor}","overall":7,'
                    f'"ratings":{{{ratings}}},"actor":"{tutor}"}}\n')
        return (f'{head}RecordAssessment","kind":"{kind}","occurredOn":"{on}",'
                f'"rotationId":"{rotation}","assessorId":"{tutor}","passed":true,'
                f'"actor":"{tutor}"}}\n')


def _spread(rotations: list[_Rotation], kinds: list[list[str]], spare: int) -> list[list[str]]:
    """Adds `spare` more CASE entries, shared out by each rotation's months."""
    if not rotations:
        return []
    total = sum(r.department.months for r in rotations) or 1
    shares = [int(spare * r.department.months / total) for r in rotations]
    for n in range(spare - sum(shares)):
        shares[n % len(shares)] += 1
    return [own + ["CASE"] * extra for own, extra in zip(kinds, shares, strict=True)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.province", description=__doc__)
    parser.add_argument("file")
    parser.add_argument("trainees", type=int)
    parser.add_argument("events_each", type=int)
    parser.add_argument("--prefix", default="p", help="trainee keys are PREFIX + serial")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    lines = write_cohort_file(args.file, args.trainees, args.events_each, prefix=args.prefix)
    print(f"wrote {lines:,} lines to {args.file} in {time.perf_counter() - started:.1f}s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
