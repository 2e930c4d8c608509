"""Appoints a tutor to a trainee (first tutor, or a department's rotating tutor)."""

from __future__ import annotations

from datetime import date

import strawberry

from api.errors import parse_id
from api.mutations._command import run_command
from api.types import CommandResult, Info, TutorRole
from domain import commands as c


async def assign_tutor(
    info: Info,
    trainee_id: strawberry.ID,
    tutor_id: strawberry.ID,
    role: TutorRole,
    assigned_on: date,
    department: str | None = None,
) -> CommandResult:
    return await run_command(
        info,
        lambda: c.AssignTutor(
            trainee_id=parse_id(trainee_id, "traineeId"),
            tutor_id=str(tutor_id),
            role=role.value,
            assigned_on=assigned_on,
            department=department,
        ),
    )
