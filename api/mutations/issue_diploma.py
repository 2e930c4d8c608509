"""Records the graduation diploma."""

from __future__ import annotations

from datetime import date

import strawberry

from api.errors import parse_id
from api.mutations._command import run_command
from api.types import CommandResult, Info
from domain import commands as c


async def issue_diploma(
    info: Info, trainee_id: strawberry.ID, number: str, issued_on: date
) -> CommandResult:
    return await run_command(
        info,
        lambda: c.IssueDiploma(
            trainee_id=parse_id(trainee_id, "traineeId"), number=number, issued_on=issued_on
        ),
    )
