"""Synthetic trainees, built through the real domain so every event is a valid one."""

from __future__ import annotations

import itertools
import uuid
from datetime import date

from domain import commands as c
from domain.trainee import NationalIdClaim, Trainee
from service.principals import system
from service.records import TraineeRecords

ROTATION_START, ROTATION_END = date(2025, 1, 1), date(2025, 12, 31)
# Serials no other part of a run uses: each trainee a benchmark makes has its own national ID.
_serials = itertools.count(10**8)


def fresh_serial() -> int:
    return next(_serials)


def enroll_command(serial: int) -> c.EnrollTrainee:
    return c.EnrollTrainee(
        trainee_id=uuid.uuid4(), name=f"Trainee {serial}", national_id=f"BENCH{serial:012d}",
        pathway="INTEGRATED_MASTER", degree_category="CLINICAL_MEDICINE",
        bachelor_major="clinical medicine", has_bachelor_of_medicine=True,
        holds_residency_certificate=False, licensed_at_enrollment=False,
        specialty="internal medicine", base_id=f"base-{serial % 7}", university="Bench U",
        cohort=2024, enrolled_on=date(2024, 9, 1),
    )


def trainee_with_entries(
    records: TraineeRecords, serial: int, entries: int
) -> tuple[Trainee, NationalIdClaim, uuid.UUID]:
    """A trainee with one year-long rotation and `entries` handbook entries, unsaved."""
    prov = records.provenance(system("bench"))
    command = enroll_command(serial)
    regime = records.regulations.at_enrollment(
        command.specialty, records.settings.jurisdiction, command.enrolled_on
    )
    trainee = Trainee.enroll(command, regime, prov)
    claim = NationalIdClaim.claim(
        records.national_id_claim_id(command.national_id), trainee.id, prov
    )
    rotation_id = uuid.uuid4()
    trainee.decide_schedule_rotation(
        c.ScheduleRotation(trainee.id, rotation_id, "cardiology", 1, ROTATION_START,
                           ROTATION_END, tutor_id="dr-bench"),
        regime,
        prov,
    )
    for n in range(entries):
        trainee.decide_record_entry(
            c.RecordRotationEntry(trainee.id, uuid.uuid4(), rotation_id, "CASE",
                                  date(2025, 1 + n % 12, 1 + n % 28), f"bench case {n}"),
            prov,
        )
    return trainee, claim, rotation_id


def entry_command(trainee_id: uuid.UUID, rotation_id: uuid.UUID, n: int) -> c.RecordRotationEntry:
    return c.RecordRotationEntry(
        trainee_id, uuid.uuid4(), rotation_id, "CASE", date(2025, 1 + n % 12, 1 + n % 28),
        f"bench case {n}",
    )
