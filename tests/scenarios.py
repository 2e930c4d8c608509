"""Trainee histories against the compact `programme medicine` standard
(tests/data/regulations), written through the application as a training base would.

`complete_training` leaves a trainee whose handbook is complete under the Chongqing
policy: 33 months (18 in stage 1, 6 of stage 2 as 24-hour resident), every department's
months, signed entries and assessments, a first tutor, and the process assessments.
"""

from __future__ import annotations

import uuid
from datetime import date

from domain import commands as c
from service.bootstrap import Services
from service.principals import system
from tests.history import as_system, enroll

SPECIALTY = "programme medicine"
ENROLLED_ON = date(2023, 9, 1)
# (department, stage, start, end, resident duty, entries by kind, assessments passed there)
ROTATIONS = (
    ("ward", 1, date(2023, 9, 1), date(2025, 3, 1), False, {"CASE": 3},
     ("MINI_CEX", "DEPARTURE_EXAM")),
    ("clinic", 2, date(2025, 3, 1), date(2025, 12, 1), False, {"PROCEDURE": 1},
     ("DOPS", "DEPARTURE_EXAM")),
    ("ward", 2, date(2025, 12, 1), date(2026, 6, 1), True, {}, ()),
)


def enroll_programme_trainee(services: Services, **changes: object) -> uuid.UUID:
    fields: dict[str, object] = dict(
        national_id=f"P{uuid.uuid4().hex[:17]}", specialty=SPECIALTY, enrolled_on=ENROLLED_ON,
        cohort=2023,
    )
    fields.update(changes)
    return enroll(services, **fields)  # type: ignore[arg-type]


def complete_training(services: Services, trainee: uuid.UUID, *, stage_one: bool = True) -> None:
    """Everything the handbook asks; `stage_one=False` skips the stage-1 rotation (R6)."""
    run = as_system(services)
    run(c.AssignTutor(trainee, "dr-first", "FIRST_TUTOR", ENROLLED_ON), "school")
    for department, stage, start, end, duty, entries, assessments in ROTATIONS:
        if stage == 1 and not stage_one:
            continue
        rotation, tutor = uuid.uuid4(), f"dr-{department}"
        run(c.ScheduleRotation(trainee, rotation, department, stage, start, end, tutor, duty),
            "base")
        for kind, count in entries.items():
            for n in range(count):
                entry = uuid.uuid4()
                run(c.RecordRotationEntry(trainee, entry, rotation, kind,
                                          start.replace(day=2 + n), f"{kind.lower()} {n}"),
                    "trainee")
                run(c.SignRotationEntry(trainee, entry, tutor), tutor)
        for kind in assessments:
            record_assessment(services, trainee, kind, start.replace(day=20), rotation)
        run(c.CompleteRotation(trainee, rotation, end), "base")
    for kind in ("PRE_JOB_TRAINING", "STAGE"):
        record_assessment(services, trainee, kind, date(2025, 3, 1))


def record_assessment(
    services: Services, trainee: uuid.UUID, kind: str, on: date,
    rotation: uuid.UUID | None = None, passed: bool = True,
) -> None:
    rated = kind in ("MINI_CEX", "DOPS")
    services.records.execute(
        c.RecordAssessment(trainee, uuid.uuid4(), kind, on, "dr-assessor", rotation,
                           overall=(7 if passed else 2) if rated else None,
                           passed=None if rated else passed),
        system("dr-assessor"),
    )


def license_and_certify(services: Services, trainee: uuid.UUID) -> None:
    """Licence (R7), completion exam (R9) and residency certificate, in that order."""
    run = as_system(services)
    run(c.GrantLicence(trainee, "L-110000", date(2025, 9, 1)), "registrar")
    run(c.RecordAssessment(trainee, uuid.uuid4(), "COMPLETION_EXAM", date(2026, 7, 1),
                           ratings={"theory": True, "clinicalSkills": True}), "examiner")
    run(c.IssueResidencyCertificate(trainee, "R-2026-1", date(2026, 8, 1)), "commission")


def degree_work(services: Services, trainee: uuid.UUID) -> None:
    """R10: defense, clinical competence and a case analysis."""
    run = as_system(services)
    run(c.RecordThesisDefense(trainee, date(2026, 5, 20), True, ["prof-a", "prof-b"]), "school")
    run(c.RecordAssessment(trainee, uuid.uuid4(), "CLINICAL_COMPETENCE", date(2026, 5, 10),
                           passed=True), "school")
    run(c.RecordPublication(trainee, uuid.uuid4(), "CASE_ANALYSIS", "A rare case",
                            date(2026, 3, 1)), "school")
