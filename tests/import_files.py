"""Import files for the tests: trainees as lines of service.importer's JSON Lines format,
against the compact `programme medicine` standard (tests/data/regulations)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Line = dict[str, Any]


def enrollment(key: str, national_id: str | None = None, **changes: Any) -> Line:
    line: Line = {
        "type": "EnrollTrainee", "trainee": key, "name": f"Trainee {key}",
        "nationalId": national_id or f"ID-{key}", "pathway": "INTEGRATED_MASTER",
        "degreeCategory": "CLINICAL_MEDICINE", "bachelorMajor": "clinical medicine",
        "hasBachelorOfMedicine": True, "holdsResidencyCertificate": False,
        "licensedAtEnrollment": False, "specialty": "programme medicine", "baseId": "base-1",
        "university": "PKU", "cohort": 2023, "enrolledOn": "2023-09-01",
    }
    line.update(changes)
    return line


def short_trainee(key: str, national_id: str | None = None) -> list[Line]:
    """Enrolled, one rotation, two entries (one signed): five lines."""
    return [
        enrollment(key, national_id),
        {"type": "ScheduleRotation", "trainee": key, "rotationId": "r1", "department": "ward",
         "stage": 1, "startOn": "2023-09-01", "endOn": "2025-03-01", "tutorId": "dr-ward"},
        {"type": "RecordRotationEntry", "trainee": key, "entryId": "e1", "rotationId": "r1",
         "kind": "CASE", "occurredOn": "2023-09-04", "description": "a case",
         "actor": f"resident-{key}"},
        {"type": "SignRotationEntry", "trainee": key, "entryId": "e1", "tutorId": "dr-ward",
         "actor": "dr-ward"},
        {"type": "RecordRotationEntry", "trainee": key, "rotationId": "r1", "kind": "LECTURE",
         "occurredOn": "2023-09-05", "description": "a lecture"},
    ]


def certified_trainee(key: str) -> list[Line]:
    """Everything the programme standard asks, a licence, the completion exam and the
    residency certificate (tests/scenarios.py, as an import file)."""
    lines = [enrollment(key),
             {"type": "AssignTutor", "trainee": key, "tutorId": "dr-first", "role": "FIRST_TUTOR",
              "assignedOn": "2023-09-01"},
             {"type": "RecordAssessment", "trainee": key, "kind": "PRE_JOB_TRAINING",
              "occurredOn": "2023-09-01", "passed": True}]
    plan = (("r1", "ward", 1, "2023-09-01", "2025-03-01", False, ["CASE"] * 3,
             ["MINI_CEX", "DEPARTURE_EXAM"]),
            ("r2", "clinic", 2, "2025-03-01", "2025-12-01", False, ["PROCEDURE"],
             ["DOPS", "DEPARTURE_EXAM"]),
            ("r3", "ward", 2, "2025-12-01", "2026-06-01", True, [], []))
    for rotation, department, stage, start, end, duty, kinds, assessments in plan:
        tutor = f"dr-{department}"
        lines.append({"type": "ScheduleRotation", "trainee": key, "rotationId": rotation,
                      "department": department, "stage": stage, "startOn": start,
                      "endOn": end, "tutorId": tutor, "residentDuty": duty})
        for n, kind in enumerate(kinds):
            entry = f"{rotation}-e{n}"
            lines.append({"type": "RecordRotationEntry", "trainee": key, "entryId": entry,
                          "rotationId": rotation, "kind": kind,
                          "occurredOn": start[:8] + f"{2 + n:02d}", "description": f"{kind} {n}"})
            lines.append({"type": "SignRotationEntry", "trainee": key, "entryId": entry,
                          "tutorId": tutor, "actor": tutor})
        for kind in assessments:
            rated = {"overall": 7} if kind in ("MINI_CEX", "DOPS") else {"passed": True}
            lines.append({"type": "RecordAssessment", "trainee": key, "kind": kind,
                          "occurredOn": start[:8] + "20", "rotationId": rotation,
                          "assessorId": tutor, **rated})
        lines.append({"type": "CompleteRotation", "trainee": key, "rotationId": rotation,
                      "completedOn": end})
        if rotation == "r1":
            lines.append({"type": "RecordAssessment", "trainee": key, "kind": "STAGE",
                          "occurredOn": end, "passed": True})
    lines += [
        {"type": "GrantLicence", "trainee": key, "number": "L-1", "grantedOn": "2025-09-01"},
        {"type": "RecordAssessment", "trainee": key, "kind": "COMPLETION_EXAM",
         "occurredOn": "2026-07-01", "ratings": {"theory": True, "clinicalSkills": True}},
        {"type": "IssueResidencyCertificate", "trainee": key, "number": "R-2026-1",
         "issuedOn": "2026-08-01", "actor": "commission"},
    ]
    return lines


def write(path: Path, *items: Line | str) -> Path:
    """Writes lines (dicts as JSON, strings as they are) and returns the path."""
    with path.open("w", encoding="utf-8") as out:
        for item in items:
            out.write((item if isinstance(item, str) else json.dumps(item)) + "\n")
    return path
