"""Schedules a rotation through one clinical department."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import strawberry

from api.errors import parse_id
from api.mutations._command import run_command
from api.types import CommandResult, Info
from domain import commands as c


async def schedule_rotation(
    info: Info,
    trainee_id: strawberry.ID,
    department: str,
    stage: int,
    start_on: date,
    end_on: date,
    tutor_id: strawberry.ID | None = None,
    resident_duty: bool = False,
) -> CommandResult:
    return await run_command(
        info,
        lambda: c.ScheduleRotation(
            trainee_id=parse_id(trainee_id, "traineeId"),
            rotation_id=uuid4(),
            department=department,
            stage=stage,
            start_on=start_on,
            end_on=end_on,
            tutor_id=None if tutor_id is None else str(tutor_id),
            resident_duty=resident_duty,
        ),
    )
