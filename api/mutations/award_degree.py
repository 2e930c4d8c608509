"""Records the master's degree."""

from __future__ import annotations

from datetime import date

import strawberry

from api.errors import parse_id
from api.mutations._command import run_command
from api.types import CommandResult, Info
from domain import commands as c


async def award_degree(
    info: Info, trainee_id: strawberry.ID, number: str, awarded_on: date
) -> CommandResult:
    return await run_command(
        info,
        lambda: c.AwardDegree(
            trainee_id=parse_id(trainee_id, "traineeId"), number=number, awarded_on=awarded_on
        ),
    )
