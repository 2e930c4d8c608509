"""Records a thesis defense and its committee."""

from __future__ import annotations

from datetime import date

import strawberry

from api.errors import parse_id
from api.mutations._command import run_command
from api.types import CommandResult, Info
from domain import commands as c


async def record_thesis_defense(
    info: Info, trainee_id: strawberry.ID, defended_on: date, passed: bool, committee: list[str]
) -> CommandResult:
    return await run_command(
        info,
        lambda: c.RecordThesisDefense(
            trainee_id=parse_id(trainee_id, "traineeId"),
            defended_on=defended_on,
            passed=passed,
            committee=list(committee),
        ),
    )
