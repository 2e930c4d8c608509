"""Records a sitting of the national licensing exam (R7; its results feed R14)."""

from __future__ import annotations

from datetime import date

import strawberry

from api.errors import parse_id
from api.mutations._command import run_command
from api.types import CommandResult, Info
from domain import commands as c


async def record_licensing_exam(
    info: Info, trainee_id: strawberry.ID, sitting_on: date, passed: bool, score: int | None = None
) -> CommandResult:
    return await run_command(
        info,
        lambda: c.RecordLicensingExam(
            trainee_id=parse_id(trainee_id, "traineeId"),
            sitting_on=sitting_on,
            passed=passed,
            score=score,
        ),
    )
