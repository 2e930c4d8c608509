"""A whole "5+3" record, one command per step, for the replay tests: enrollment, tutors,
rotations with entries signed and one retracted, Mini-CEX / DOPS and departure exams, a
licence, the completion exam, all four certificates and a revocation. Against the
compact `programme medicine` standard (tests/data/regulations), so every certificate
moves from NOT_ELIGIBLE through ELIGIBLE to GRANTED along the way."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from domain import commands as c
from service.bootstrap import Services
from service.principals import system
from tests.history import enroll
from tests.scenarios import ENROLLED_ON, ROTATIONS, SPECIALTY


@dataclass
class Rich:
    trainee_id: uuid.UUID
    steps: list[tuple[str, Callable[[], object]]] = field(default_factory=list)
    rotations: list[uuid.UUID] = field(default_factory=list)
    # (entry, its rotation, the tutor who signs it), in the order they are recorded
    entries: list[tuple[uuid.UUID, uuid.UUID, str]] = field(default_factory=list)
    retracted: uuid.UUID | None = None


def rich_history(services: Services) -> Rich:
    """The steps, not yet run: each one records exactly one event."""
    run = services.records.execute
    rich = Rich(uuid.uuid4())
    t = rich.trainee_id

    def step(name: str, work: Callable[[], object]) -> None:
        rich.steps.append((name, work))

    def command(name: str, cmd: object, actor: str) -> None:
        step(name, lambda: run(cmd, system(actor)))

    step("enroll", lambda: enroll(services, trainee_id=t, national_id="P-REPLAY-0001",
                                  specialty=SPECIALTY, enrolled_on=ENROLLED_ON, cohort=2023))
    command("first tutor", c.AssignTutor(t, "dr-first", "FIRST_TUTOR", ENROLLED_ON), "school")
    command("rotating tutor", c.AssignTutor(t, "dr-ward", "ROTATING_TUTOR", ENROLLED_ON,
                                            department="ward"), "base")
    for department, stage, start, end, duty, entries, assessments in ROTATIONS:
        rotation, tutor = uuid.uuid4(), f"dr-{department}"
        rich.rotations.append(rotation)
        command(f"schedule {department}", c.ScheduleRotation(
            t, rotation, department, stage, start, end, tutor, duty), "base")
        for kind, count in entries.items():
            for n in range(count):
                entry = uuid.uuid4()
                rich.entries.append((entry, rotation, tutor))
                command(f"record {kind} {n}", c.RecordRotationEntry(
                    t, entry, rotation, kind, start.replace(day=2 + n), f"{kind.lower()} {n}"),
                    "trainee")
                command(f"sign {kind} {n}", c.SignRotationEntry(t, entry, tutor), tutor)
        if department == "ward" and stage == 1:
            wrong = rich.retracted = uuid.uuid4()
            command("record a wrong entry", c.RecordRotationEntry(
                t, wrong, rotation, "CASE", start.replace(day=9), "wrong patient"), "trainee")
            command("retract it", c.RetractRotationEntry(t, wrong, "recorded on the wrong "
                                                         "trainee"), "trainee")
        for kind in assessments:
            rated = kind in ("MINI_CEX", "DOPS")
            command(f"{kind} in {department}", c.RecordAssessment(
                t, uuid.uuid4(), kind, start.replace(day=20), "dr-assessor", rotation,
                overall=7 if rated else None, passed=None if rated else True,
                ratings={"medicalInterview": 7} if kind == "MINI_CEX" else None),
                "dr-assessor")
        command(f"complete {department}", c.CompleteRotation(t, rotation, end), "base")
    for kind in ("PRE_JOB_TRAINING", "STAGE"):
        command(kind, c.RecordAssessment(t, uuid.uuid4(), kind, date(2025, 3, 1),
                                         "dr-assessor", None, passed=True), "dr-assessor")
    command("licence", c.GrantLicence(t, "L-110000", date(2025, 9, 1)), "registrar")
    command("completion exam", c.RecordAssessment(
        t, uuid.uuid4(), "COMPLETION_EXAM", date(2026, 7, 1),
        ratings={"theory": True, "clinicalSkills": True}), "examiner")
    command("residency certificate", c.IssueResidencyCertificate(t, "R-2026-1",
                                                                 date(2026, 8, 1)), "commission")
    command("coursework", c.RecordCoursework(t, "Medical statistics", True,
                                             date(2025, 1, 10)), "school")
    command("defense", c.RecordThesisDefense(t, date(2026, 5, 20), True,
                                             ["prof-a", "prof-b"]), "school")
    command("clinical competence", c.RecordAssessment(
        t, uuid.uuid4(), "CLINICAL_COMPETENCE", date(2026, 5, 10), passed=True), "school")
    command("case analysis", c.RecordPublication(t, uuid.uuid4(), "CASE_ANALYSIS",
                                                 "A rare case", date(2026, 3, 1)), "school")
    command("diploma", c.IssueDiploma(t, "D-2026-1", date(2026, 8, 2)), "school")
    command("degree", c.AwardDegree(t, "M-2026-1", date(2026, 8, 2)), "degree committee")
    command("revoke the diploma", c.RevokeCertificate(t, "DIPLOMA", date(2026, 9, 1),
                                                      "issued in error"), "school")
    return rich
