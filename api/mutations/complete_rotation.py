"""Records that a rotation was completed."""

from __future__ import annotations

from datetime import date

import strawberry

from api.errors import parse_id
from api.mutations._command import run_command
from api.types import CommandResult, Info
from domain import commands as c


async def complete_rotation(
    info: Info, trainee_id: strawberry.ID, rotation_id: strawberry.ID, completed_on: date
) -> CommandResult:
    return await run_command(
        info,
        lambda: c.CompleteRotation(
            trainee_id=parse_id(trainee_id, "traineeId"),
            rotation_id=parse_id(rotation_id, "rotationId"),
            completed_on=completed_on,
        ),
    )
