"""Trainee histories written through the application, shared by the tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from domain import commands as c
from service.bootstrap import Services
from service.principals import system
from service.records import Outcome

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
    return services.records.enroll(c.EnrollTrainee(**fields), system("registrar")).trainee_id  # type: ignore[arg-type]


def realistic(services: Services) -> History:
    records = services.records
    history = History(enroll(services))
    t = history.trainee_id
    records.execute(c.AssignTutor(t, "dr-zhao", "FIRST_TUTOR", date(2024, 9, 1)),
                    system("registrar"))
    months = [(date(2024, 9, 1), date(2025, 3, 1)), (date(2025, 3, 1), date(2025, 9, 1)),
              (date(2025, 9, 1), date(2026, 3, 1))]
    for n, (start, end) in enumerate(months):
        rotation = uuid.uuid4()
        history.rotations.append(rotation)
        records.execute(c.ScheduleRotation(t, rotation, DEPARTMENTS[n], 1 + (n == 2), start, end,
                                           tutor_id=f"dr-{n}", resident_duty=n == 2),
                        system("base"))
        for day in (3, 4):
            entry = uuid.uuid4()
            history.entries.append(entry)
            records.execute(c.RecordRotationEntry(t, entry, rotation, "CASE",
                                                  start.replace(day=day), "a case"), system("li"))
            records.execute(c.SignRotationEntry(t, entry, f"dr-{n}"), system(f"dr-{n}"))
        records.execute(c.RecordAssessment(t, uuid.uuid4(), "MINI_CEX", start.replace(day=10),
                                           f"dr-{n}", rotation, overall=6,
                                           ratings={"medicalInterview": 6}), system(f"dr-{n}"))
        records.execute(c.CompleteRotation(t, rotation, end), system("base"))
    records.execute(c.RetractRotationEntry(t, history.entries[0], "wrong patient"), system("li"))
    records.execute(c.GrantLicence(t, "110000", date(2025, 10, 1)), system("registrar"))
    records.execute(c.RecordCoursework(t, "Medical statistics", True, date(2025, 1, 10)),
                    system("school"))
    records.execute(c.RecordPublication(t, uuid.uuid4(), "CASE_ANALYSIS", "A case",
                                        date(2026, 1, 5)), system("school"))
    records.execute(c.RecordEthicsViolation(t, uuid.uuid4(), date(2026, 2, 1),
                                            "falsified a record", True), system("base"))
    return history


def as_system(services: Services) -> Callable[[object, str], Outcome]:
    """`records.execute` for tests that build a record directly, each step as the system
    in the name of `actor` (access control is tested through the API)."""
    return lambda command, actor: services.records.execute(command, system(actor))
