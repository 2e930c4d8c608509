"""Records a course result."""

from __future__ import annotations

from datetime import date

import strawberry

from api.errors import parse_id
from api.mutations._command import run_command
from api.types import CommandResult, Info
from domain import commands as c


async def record_coursework(
    info: Info, trainee_id: strawberry.ID, course: str, passed: bool, completed_on: date
) -> CommandResult:
    return await run_command(
        info,
        lambda: c.RecordCoursework(
            trainee_id=parse_id(trainee_id, "traineeId"),
            course=course,
            passed=passed,
            completed_on=completed_on,
        ),
    )
