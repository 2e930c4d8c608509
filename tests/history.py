"""Trainee histories written through the application, shared by the tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

from domain import commands as c
from service.bootstrap import Services

DEPARTMENTS = ("cardiology", "nephrology", "respiratory medicine")


@dataclass
class History:
    trainee_id: uuid.UUID
    rotations: list[uuid.UUID] = field(default_factory=list)
    entries: list[uuid.UUID] = field(default_factory=list)


def enroll(
    services: Services, national_id: str = "110101199901011234", **changes: object
) -> uuid.UUID:
    fields: dict[str, object] = dict(
        trainee_id=uuid.uuid4(), name="Li Lei", national_id=national_id,
        pathway="INTEGRATED_MASTER", degree_category="CLINICAL_MEDICINE",
        bachelor_major="clinical medicine", has_bachelor_of_medicine=True,
        holds_residency_certificate=False, licensed_at_enrollment=False,
        specialty="internal medicine", base_id="base-1", university="PKU",
        cohort=2024, enrolled_on=date(2024, 9, 1),
    )
    fields.update(changes)
    return services.records.enroll(c.EnrollTrainee(**fields), "registrar").trainee_id  # type: ignore[arg-type]


def realistic(services: Services) -> History:
    records = services.records
    history = History(enroll(services))
    t = history.trainee_id
    records.execute(c.AssignTutor(t, "dr-zhao", "FIRST_TUTOR", date(2024, 9, 1)), "registrar")
    months = [(date(2024, 9, 1), date(2025, 3, 1)), (date(2025, 3, 1), date(2025, 9, 1)),
              (date(2025, 9, 1), date(2026, 3, 1))]
    for n, (start, end) in enumerate(months):
        rotation = uuid.uuid4()
        history.rotations.append(rotation)
        records.execute(c.ScheduleRotation(t, rotation, DEPARTMENTS[n], 1 + (n == 2), start, end,
                                           tutor_id=f"dr-{n}", resident_duty=n == 2), "base")
        for day in (3, 4):
            entry = uuid.uuid4()
            history.entries.append(entry)
            records.execute(c.RecordRotationEntry(t, entry, rotation, "CASE",
                                                  start.replace(day=day), "a case"), "li")
            records.execute(c.SignRotationEntry(t, entry, f"dr-{n}"), f"dr-{n}")
        records.execute(c.RecordAssessment(t, uuid.uuid4(), "MINI_CEX", start.replace(day=10),
                                           f"dr-{n}", rotation, overall=6,
                                           ratings={"medicalInterview": 6}), f"dr-{n}")
        records.execute(c.CompleteRotation(t, rotation, end), "base")
    records.execute(c.RetractRotationEntry(t, history.entries[0], "wrong patient"), "li")
    records.execute(c.GrantLicence(t, "110000", date(2025, 10, 1)), "registrar")
    records.execute(c.RecordCoursework(t, "Medical statistics", True, date(2025, 1, 10)), "school")
    records.execute(c.RecordPublication(t, uuid.uuid4(), "CASE_ANALYSIS", "A case",
                                        date(2026, 1, 5)), "school")
    records.execute(c.RecordEthicsViolation(t, uuid.uuid4(), date(2026, 2, 1),
                                            "falsified a record", True), "base")
    return history
